"""Image-generation unlearning (``task=generation``): class-conditional DDPM with classifier-free guidance,
generation unlearning methods, UA/FID metrics and sample grids (SalUn §3, §5, §6.1)."""
