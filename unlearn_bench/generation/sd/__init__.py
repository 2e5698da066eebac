"""Stable Diffusion unlearning (``task=generation_sd``): class forgetting with "an image of [class]" prompts
(SalUn Table 2, Imagenette) and concept forgetting with I2P prompts (SalUn §6.2, Unlink Table 18); methods ESD-x,
FMN, SalUn and Unlink (``method=sd/<name>``)."""
