"""Encoded splits and losses shared by the SD methods: latents z_0 of the images and the text embeddings of their
prompts, computed once (the VAE and the text encoder are frozen), then drawn in batches."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from unlearn_bench.generation.sd.data import PromptImages, shuffled_batches
from unlearn_bench.generation.sd.pipeline import SDModel
from unlearn_bench.training import Batches


@dataclass
class EncodedSplit:
    """z_0 (N x 4 x h x w), per-image prompt ids and the prompts' embeddings (P x L x d), on the model's device."""

    latents: torch.Tensor
    prompt_ids: torch.Tensor
    embeddings: torch.Tensor

    def __len__(self) -> int:
        return len(self.latents)

    def batches(self, batch_size: int, generator: torch.Generator,
                extra: torch.Tensor | None = None) -> Batches:
        """``(z_0, c)`` batches (``(z_0, c, extra[i])`` with per-image ``extra`` rows, e.g. the c' embedding ids),
        reshuffled every epoch."""
        index_batches = shuffled_batches(len(self), batch_size, generator)

        def epoch() -> Iterable[tuple[torch.Tensor, ...]]:
            for idx in index_batches():
                idx = idx.to(self.latents.device)
                out = (self.latents[idx], self.embeddings[self.prompt_ids[idx]])
                yield out if extra is None else (*out, extra[idx])

        return epoch


def encode_split(model: SDModel, split: PromptImages) -> EncodedSplit:
    return EncodedSplit(model.encode_images(split.images), split.prompt_ids.to(model.device),
                        model.encode_prompts(split.prompts))


def denoising_mse(model: SDModel, z0: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
    """l_MSE (SalUn Eq. 2 in latent space): ||eps - eps_theta(z_t | c)||^2 at a random t (mean over elements)."""
    z_t, t, noise = model.noised(z0)
    return F.mse_loss(model(z_t, t, cond).float(), noise.float())
