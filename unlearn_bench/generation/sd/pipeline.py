"""A Stable Diffusion pipeline as the harness sees it: ``SDModel`` = the trainable UNet eps_theta(z_t | c) plus the
frozen text encoder, VAE, tokenizer and noise schedule; loading from a local folder only, a tiny randomly
initialised pipeline built from configs, prompt encoding, forward diffusion in latent space, and CFG sampling
(the pipeline's own ``__call__``, DDIM, with seeded generators)."""

from __future__ import annotations

import copy
import json
import types
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

from unlearn_bench.errors import ConfigError
from unlearn_bench.generation.ddpm import import_diffusers
from unlearn_bench.generation.sd.config import TINY, TinySDConfig

if TYPE_CHECKING:
    from diffusers import StableDiffusionPipeline, UNet2DConditionModel

BOS, EOS = "<|startoftext|>", "<|endoftext|>"


def import_transformers() -> types.ModuleType:
    try:
        import transformers
    except ImportError as err:
        raise ConfigError("task=generation_sd needs the transformers package: pip install -e '.[generation]'") from err
    return transformers


def load_sd_pipeline(path: str | Path, device: torch.device | str = "cpu") -> StableDiffusionPipeline:
    """``StableDiffusionPipeline.from_pretrained(path, local_files_only=True)`` (never a download), safety checker
    off, progress bars off, on ``device``."""
    folder = Path(path)
    if not (folder / "model_index.json").is_file():
        raise ConfigError(f"task.pipeline={str(path)!r} is not a local StableDiffusionPipeline folder (no "
                          "model_index.json); download it beforehand (e.g. CompVis/stable-diffusion-v1-4) and give "
                          "its folder, or task.pipeline=tiny")
    import_transformers()
    diffusers = import_diffusers()
    pipe = diffusers.StableDiffusionPipeline.from_pretrained(str(folder), local_files_only=True, safety_checker=None,
                                                             requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device)


def bytes_to_unicode() -> list[str]:
    """The 256 printable characters byte-level BPE (GPT-2 / CLIP) maps the bytes 0..255 to."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    extra = [b for b in range(256) if b not in printable]
    codes = dict(zip(printable, printable)) | {b: 256 + i for i, b in enumerate(extra)}
    return [chr(codes[b]) for b in range(256)]


def write_tiny_tokenizer_files(folder: Path) -> tuple[Path, Path]:
    """vocab.json (the 256 byte characters, their ``</w>`` forms, BOS, EOS) and a merges.txt without merges:
    every word tokenises into its characters."""
    folder.mkdir(parents=True, exist_ok=True)
    chars = bytes_to_unicode()
    tokens = [*chars, *(c + "</w>" for c in chars), BOS, EOS]
    vocab, merges = folder / "vocab.json", folder / "merges.txt"
    vocab.write_text(json.dumps({t: i for i, t in enumerate(tokens)}))
    merges.write_text("#version: 0.2\n")
    return vocab, merges


def build_tiny_sd_pipeline(cfg: TinySDConfig, seed: int, tokenizer_dir: Path,
                           device: torch.device | str = "cpu") -> StableDiffusionPipeline:
    """A randomly initialised (seeded) StableDiffusionPipeline from configs only; the tokenizer files are written
    to ``tokenizer_dir``. Schedulers: SD v1's scaled-linear betas 0.00085 .. 0.012 over 1,000 steps."""
    if len(cfg.unet_channels) < 2 or len(cfg.vae_channels) < 1:
        raise ConfigError("task.tiny.unet_channels needs >= 2 levels and task.tiny.vae_channels >= 1")
    if any(c % cfg.norm_num_groups for c in [*cfg.unet_channels, *cfg.vae_channels]):
        raise ConfigError(f"task.tiny.norm_num_groups={cfg.norm_num_groups} must divide every channel count")
    transformers = import_transformers()
    diffusers = import_diffusers()
    vocab, merges = write_tiny_tokenizer_files(tokenizer_dir)
    tokenizer = transformers.CLIPTokenizer(str(vocab), str(merges), model_max_length=cfg.max_tokens)
    torch.manual_seed(seed)
    text_encoder = transformers.CLIPTextModel(transformers.CLIPTextConfig(
        vocab_size=len(tokenizer), hidden_size=cfg.text_width, intermediate_size=2 * cfg.text_width,
        num_hidden_layers=cfg.text_layers, num_attention_heads=cfg.text_heads, max_position_embeddings=cfg.max_tokens,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.eos_token_id))
    levels = len(cfg.unet_channels)
    unet = diffusers.UNet2DConditionModel(
        sample_size=cfg.latent_size, in_channels=4, out_channels=4, block_out_channels=tuple(cfg.unet_channels),
        layers_per_block=1, down_block_types=("CrossAttnDownBlock2D", *["DownBlock2D"] * (levels - 1)),
        up_block_types=(*["UpBlock2D"] * (levels - 1), "CrossAttnUpBlock2D"), cross_attention_dim=cfg.text_width,
        attention_head_dim=cfg.attention_head_dim, norm_num_groups=cfg.norm_num_groups)
    vae_levels = len(cfg.vae_channels)
    vae = diffusers.AutoencoderKL(
        in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * vae_levels,
        up_block_types=("UpDecoderBlock2D",) * vae_levels, block_out_channels=tuple(cfg.vae_channels),
        latent_channels=4, norm_num_groups=cfg.norm_num_groups, layers_per_block=1,
        sample_size=cfg.latent_size * 2 ** (vae_levels - 1))
    scheduler = diffusers.DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                        clip_sample=False, set_alpha_to_one=False, steps_offset=1)
    pipe = diffusers.StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                             scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                             requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device)


def get_pipeline(path: str, tiny: TinySDConfig, seed: int, cache_dir: str | Path,
                 device: torch.device | str) -> StableDiffusionPipeline:
    """``task.pipeline``: ``tiny`` (tokenizer files under ``<cache_dir>/sd_tiny_tokenizer``) or a local folder."""
    if path == TINY:
        return build_tiny_sd_pipeline(tiny, seed, Path(cache_dir) / "sd_tiny_tokenizer", device)
    return load_sd_pipeline(path, device)


class SDModel(nn.Module):
    """eps_theta(z_t | c) of a StableDiffusionPipeline. Only the UNet is a registered submodule (so
    ``parameters()``, ``state_dict()`` and the optimisers see only it); the text encoder, VAE and tokenizer are
    frozen and shared by every copy (``with_unet``)."""

    def __init__(self, pipe: StableDiffusionPipeline, unet: UNet2DConditionModel | None = None):
        super().__init__()
        self.unet = unet if unet is not None else pipe.unet
        self.__dict__["pipe"] = pipe  # not a submodule
        pipe.text_encoder.requires_grad_(False)
        pipe.vae.requires_grad_(False)
        diffusers = import_diffusers()
        self.__dict__["noise_scheduler"] = diffusers.DDPMScheduler.from_config(pipe.scheduler.config)
        self._embeddings: dict[str, torch.Tensor] = {}

    @property
    def device(self) -> torch.device:
        return next(self.unet.parameters()).device

    def with_unet(self, unet: UNet2DConditionModel) -> SDModel:
        return SDModel(self.pipe, unet)

    def copy(self) -> SDModel:
        """A model with a deep copy of the UNet (the frozen parts shared)."""
        return self.with_unet(copy.deepcopy(self.unet))

    def forward(self, z_t: torch.Tensor, t: torch.Tensor, embeddings: torch.Tensor) -> torch.Tensor:
        return self.unet(z_t, t, encoder_hidden_states=embeddings).sample

    # text ----------------------------------------------------------------------------------------------------
    @property
    def tokenizer(self) -> Any:
        return self.pipe.tokenizer

    def token_ids(self, prompts: Sequence[str]) -> torch.Tensor:
        """Token ids padded to the tokenizer's length, as the pipeline encodes prompts (B x L)."""
        return self.tokenizer(list(prompts), padding="max_length", max_length=self.tokenizer.model_max_length,
                              truncation=True, return_tensors="pt").input_ids

    @torch.no_grad()
    def encode_prompts(self, prompts: Sequence[str]) -> torch.Tensor:
        """Text embeddings (B x L x d, the encoder's last hidden state, as the pipeline conditions the UNet); cached
        per prompt. The null prompt "" is the unconditional embedding of CFG."""
        missing = [p for p in dict.fromkeys(prompts) if p not in self._embeddings]
        if missing:
            ids = self.token_ids(missing).to(self.device)
            for prompt, emb in zip(missing, self.pipe.text_encoder(ids)[0]):
                self._embeddings[prompt] = emb
        return torch.stack([self._embeddings[p] for p in prompts])

    def concept_positions(self, prompt: str, words: Sequence[str], include_eos: bool = False) -> torch.Tensor:
        """Bool mask (L) of the token positions of every occurrence of any of ``words`` in ``prompt`` (and of the
        first EOS with ``include_eos``); raises when no word occurs."""
        ids = self.token_ids([prompt])[0].tolist()
        mask = torch.zeros(len(ids), dtype=torch.bool)
        for word in words:
            word_ids = self.tokenizer(word, add_special_tokens=False).input_ids
            for start in range(1, len(ids) - len(word_ids) + 1):
                if word_ids and ids[start:start + len(word_ids)] == word_ids:
                    mask[start:start + len(word_ids)] = True
        if not mask.any():
            raise ConfigError(f"none of the concept words {list(words)} occurs in the prompt {prompt!r}; set "
                              "task.concept_words (concept forgetting) or check task.class_names / prompt_template")
        if include_eos:
            mask[ids.index(self.tokenizer.eos_token_id, 1)] = True
        return mask

    # images and diffusion -------------------------------------------------------------------------------------
    @property
    def image_size(self) -> int:
        return self.unet.config.sample_size * self.pipe.vae_scale_factor

    @torch.no_grad()
    def encode_images(self, images: torch.Tensor, batch_size: int = 16) -> torch.Tensor:
        """Latents z_0 = scaling_factor * E(x) (mean of the VAE posterior) of uint8 or [0, 1] images, resized to the
        pipeline's resolution."""
        vae, out = self.pipe.vae, []
        for start in range(0, len(images), batch_size):
            x = images[start:start + batch_size].to(self.device)
            x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
            if x.shape[-1] != self.image_size or x.shape[-2] != self.image_size:
                x = F.interpolate(x, size=(self.image_size, self.image_size), mode="bilinear", antialias=True,
                                  align_corners=False)
            out.append(vae.encode(x * 2 - 1).latent_dist.mean * vae.config.scaling_factor)
        return torch.cat(out)

    def noised(self, z0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Forward diffusion at uniform random timesteps: ``(z_t, t, eps)``."""
        noise = torch.randn_like(z0)
        t = torch.randint(0, self.noise_scheduler.config.num_train_timesteps, (len(z0),), device=z0.device)
        return self.noise_scheduler.add_noise(z0, noise, t), t, noise

    def guided_eps(self, z_t: torch.Tensor, t: torch.Tensor | int, cond: torch.Tensor, scale: float) -> torch.Tensor:
        """eps(z|null) + scale * (eps(z|c) - eps(z|null)) (classifier-free guidance)."""
        null = self.encode_prompts([""]).expand_as(cond)
        t = torch.as_tensor(t, device=z_t.device).expand(2 * len(z_t))
        eps_c, eps_null = self(torch.cat([z_t, z_t]), t, torch.cat([cond, null])).chunk(2)
        return eps_null + scale * (eps_c - eps_null)

    @torch.no_grad()
    def partial_ddim(self, cond: torch.Tensor, scale: float, steps: int, stop: int
                     ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(t, z_t)`` after ``stop`` guided DDIM steps (of ``steps``) from pure noise (ESD's x_t)."""
        if not 0 <= stop < steps:
            raise ValueError(f"stop={stop} must be in [0, {steps})")
        scheduler = import_diffusers().DDIMScheduler.from_config(self.pipe.scheduler.config)
        scheduler.set_timesteps(steps)
        channels, size = self.unet.config.in_channels, self.unet.config.sample_size
        z = torch.randn((len(cond), channels, size, size), device=cond.device) * scheduler.init_noise_sigma
        for index, t in enumerate(scheduler.timesteps):
            if index == stop:
                break
            z = scheduler.step(self.guided_eps(z, t, cond, scale), t, z).prev_sample
        return scheduler.timesteps[stop].to(cond.device), z

    # sampling -------------------------------------------------------------------------------------------------
    @torch.no_grad()
    def generate(self, prompt: str, count: int, steps: int, guidance_scale: float, seed: int,
                 batch_size: int) -> torch.Tensor:
        """``count`` uint8 images (count x 3 x H x W, CPU) of ``prompt``: the pipeline's own ``__call__`` (DDIM,
        CFG) with this model's UNet; image k's initial noise comes from a generator seeded with (seed, k)."""
        diffusers = import_diffusers()
        parts = dict(self.pipe.components)
        parts.update(unet=self.unet, scheduler=diffusers.DDIMScheduler.from_config(self.pipe.scheduler.config))
        pipe = type(self.pipe)(**parts, requires_safety_checker=False)
        pipe.set_progress_bar_config(disable=True)
        was_training = self.unet.training
        self.unet.eval()
        images = []
        try:
            for start in range(0, count, batch_size):
                indices = range(start, min(count, start + batch_size))
                generators = [torch.Generator().manual_seed(seed * 1_000_003 + k) for k in indices]
                out = pipe([prompt] * len(indices), num_inference_steps=steps, guidance_scale=guidance_scale,
                           generator=generators, output_type="pt", height=self.image_size, width=self.image_size)
                images.append((out.images.clamp(0, 1) * 255).round().to(torch.uint8).cpu())
        finally:
            self.unet.train(was_training)
        return torch.cat(images)


def cross_attention_modules(unet: nn.Module) -> dict[str, nn.Module]:
    """The UNet's cross-attention layers (``attn2`` of every transformer block: the text-conditioned attention)."""
    modules = {name: m for name, m in unet.named_modules() if name.endswith("attn2")}
    if not modules:
        raise ConfigError("the UNet has no cross-attention (attn2) layers")
    return modules
