"""Unlink on Stable Diffusion (anonymous authors, "Unlearn in a Blink", double-blind submission on OpenReview, 2024,
§3.1 Eq. 10, App. D): training-free. X_t = the text embeddings of the forget concept (columns = tokens); U_k = its
top-k left singular vectors; every cross-attention layer's W_k and W_v (which read the text: K = W_k X_t,
V = W_v X_t) become W - W U_k U_k^T, so the forget tokens' keys and values vanish (up to the energy outside
span(U_k)) and directions orthogonal to U_k are untouched.

Choices where the paper is silent (App. D only says "we modify the weights for the key and value using the method
described in Equation (10)"):
* layers: every attn2 (cross-attention) layer of the UNet, W_k and W_v only (W_q reads image tokens);
* X_t: the embeddings (text encoder's last hidden state, what the UNet reads) of the concept words' token
  positions in every forget prompt and keyword prompt (``task.keyword_prompts``: the paper's nudity list 'nude',
  'naked', 'sexual', 'shirtless', 'breast', 'attractive female goddess'), plus each prompt's EOS token
  (``include_eos``; it summarises the prompt). BOS is excluded (identical for every prompt under CLIP's causal
  mask: removing it would hit every prompt), so are the padding tokens and the template's shared words ('an image
  of', identical across class prompts for the same reason);
* k: null = the numerical rank of X_t (every direction the concept tokens span), else the top k;
* biases (none in SD's to_k / to_v) untouched."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from unlearn_bench.errors import ConfigError
from unlearn_bench.generation.sd.config import SDMethodConfig
from unlearn_bench.generation.sd.data import SDView
from unlearn_bench.generation.sd.methods.base import SDMethod
from unlearn_bench.generation.sd.pipeline import SDModel, cross_attention_modules
from unlearn_bench.methods.base import register_method
from unlearn_bench.methods.unlink import forget_basis, remove_subspace


def concept_token_features(model: SDModel, prompts: list[str], words: list[str], include_eos: bool) -> torch.Tensor:
    """X_t: d_t x m, one column per concept token of every prompt (float64)."""
    embeddings = model.encode_prompts(prompts)
    columns = [emb[model.concept_positions(p, words, include_eos).to(emb.device)]
               for p, emb in zip(prompts, embeddings)]
    return torch.cat(columns).t().double()


def text_basis(x: torch.Tensor, k: int | None) -> torch.Tensor:
    """Top-k left singular vectors of X (k = None: as many as its numerical rank)."""
    rank = int(torch.linalg.matrix_rank(x))
    if k is not None and k < 1:
        raise ConfigError(f"method.k={k} must be >= 1 (or null: the rank of X_t)")
    return forget_basis(x @ x.t(), min(k if k is not None else rank, x.shape[0]), None)  # forget_basis takes X X^T


def unlink_cross_attention(model: SDModel, basis: torch.Tensor) -> list[str]:
    """W <- W - W U U^T on to_k and to_v of every cross-attention layer; returns the edited layers' names."""
    edited = []
    for name, attn in cross_attention_modules(model.unet).items():
        for proj in ("to_k", "to_v"):
            remove_subspace(getattr(attn, proj), basis.to(getattr(attn, proj).weight.device))
            edited.append(f"{name}.{proj}")
    return edited


@register_method
class SDUnlink(SDMethod):
    name = "unlink"
    needs = frozenset({"forget"})  # the forget prompts only (no image)
    training_free = True

    @dataclass
    class Config(SDMethodConfig):
        name: str = "unlink"
        k: int | None = None
        include_eos: bool = True
        lr: float = 1e-5  # not read: Unlink is training-free (Unlink App. D)
        batch_size: int = 8  # not read: Unlink is training-free (Unlink App. D)
        grad_clip: float | None = None  # not read: Unlink is training-free (Unlink App. D)

    def unlearn(self, model: SDModel, data: SDView) -> SDModel:
        prompts = [*data.prompts.forget, *data.prompts.keywords]
        words = [*data.prompts.concept_words, *data.prompts.keywords]
        x = concept_token_features(model, prompts, words, self.cfg.include_eos)
        unlink_cross_attention(model, text_basis(x, self.cfg.k))
        return model
