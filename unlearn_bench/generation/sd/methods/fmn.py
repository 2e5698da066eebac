"""FMN, Forget-Me-Not "attention re-steering" (Zhang, Wang, Xu, Wang, Shi, "Forget-Me-Not: Learning to Forget in
Text-to-Image Diffusion Models", arXiv 2303.17591, 2023), a baseline of SalUn (Fan, Liu, Zhang, Wong, Wei, Liu, "SalUn:
Empowering Machine Unlearning via Gradient-based Weight Saliency in Both Image Classification and Generation", ICLR
2024, Table 2).

On images of the concept (D_f, noised latents z_t at random t, conditioned on their prompt), minimise the norm of
the cross-attention maps onto the concept's token positions, over every attn2 layer: loss = ||cat_l A_l[..., concept
tokens]||_2 (the FMN repo's ``AttnController.loss``: the Frobenius norm, not squared). Attention probabilities are
recorded by an attention processor installed on the attn2 layers for the duration of the unlearning.
Defaults from the FMN repo (train_attn.py / configs/attn.yaml): 35 steps, lr 2e-6, batch 1, gradients clipped to
norm 1, the whole UNet optimised (``only_optimize_ca: false``; ``only_cross_attention=true`` trains the attn2
weights only). Concept tokens: the tokens of the concept words (the forgotten class name, or
``task.concept_words``) in each prompt; the EOS token is not included unless ``include_eos`` (FMN's ``use_pooler``
option). FMN's optimiser is AdamW (weight decay 1e-2); Adam without decay here (the harness's loop)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn

from unlearn_bench.generation.sd.config import SDMethodConfig
from unlearn_bench.generation.sd.data import SDView
from unlearn_bench.generation.sd.methods.base import TrainedSDMethod, cross_attention_parameters
from unlearn_bench.generation.sd.methods.common import encode_split
from unlearn_bench.generation.sd.pipeline import SDModel, cross_attention_modules
from unlearn_bench.methods.base import register_method
from unlearn_bench.training import Batches, Objective


class AttentionRecorder:
    """Collects, per cross-attention call, the attention probabilities onto the masked token positions."""

    def __init__(self) -> None:
        self.positions: torch.Tensor | None = None  # B x L bool
        self.maps: list[torch.Tensor] = []

    def record(self, probs: torch.Tensor, heads: int) -> None:
        if self.positions is None:
            return
        batch = len(self.positions)
        probs = probs.view(batch, heads, probs.shape[1], probs.shape[2])  # head_to_batch_dim: index b * H + h
        self.maps.append(probs * self.positions[:, None, None, :].to(probs.dtype))

    def loss(self) -> torch.Tensor:
        return torch.sqrt(sum(m.pow(2).sum() for m in self.maps))


class RecordingCrossAttnProcessor:
    """diffusers' plain ``AttnProcessor`` for a cross-attention layer (no spatial / group norm), which also hands
    the attention probabilities to an ``AttentionRecorder``."""

    def __init__(self, recorder: AttentionRecorder):
        self.recorder = recorder

    def __call__(self, attn: nn.Module, hidden_states: torch.Tensor, encoder_hidden_states: torch.Tensor | None = None,
                 attention_mask: torch.Tensor | None = None, temb: torch.Tensor | None = None, *args, **kwargs
                 ) -> torch.Tensor:
        if encoder_hidden_states is None or hidden_states.ndim != 3:
            raise ValueError("RecordingCrossAttnProcessor expects a cross-attention layer on B x N x C tokens")
        residual = hidden_states
        batch, length = encoder_hidden_states.shape[:2]
        attention_mask = attn.prepare_attention_mask(attention_mask, length, batch)
        query = attn.head_to_batch_dim(attn.to_q(hidden_states))
        if attn.norm_cross:
            encoder_hidden_states = attn.norm_encoder_hidden_states(encoder_hidden_states)
        key = attn.head_to_batch_dim(attn.to_k(encoder_hidden_states))
        value = attn.head_to_batch_dim(attn.to_v(encoder_hidden_states))
        probs = attn.get_attention_scores(query, key, attention_mask)
        self.recorder.record(probs, attn.heads)
        out = attn.to_out[1](attn.to_out[0](attn.batch_to_head_dim(torch.bmm(probs, value))))
        if attn.residual_connection:
            out = out + residual
        return out / attn.rescale_output_factor


@contextmanager
def recording_cross_attention(model: SDModel) -> Iterator[AttentionRecorder]:
    """Install recording processors on every attn2 layer; the previous processors come back on exit."""
    recorder = AttentionRecorder()
    modules = cross_attention_modules(model.unet)
    previous = {name: m.processor for name, m in modules.items()}
    for m in modules.values():
        m.set_processor(RecordingCrossAttnProcessor(recorder))
    try:
        yield recorder
    finally:
        for name, m in modules.items():
            m.set_processor(previous[name])


def attention_on_concept(model: SDModel, recorder: AttentionRecorder, z0: torch.Tensor, cond: torch.Tensor,
                         positions: torch.Tensor) -> torch.Tensor:
    """FMN's loss on one batch: noise z_0 at random t, run the UNet conditioned on the prompts, norm of the
    recorded attention onto the concept positions."""
    z_t, t, _ = model.noised(z0)
    recorder.positions, recorder.maps = positions, []
    try:
        model(z_t, t, cond)
        return recorder.loss()
    finally:
        recorder.positions, recorder.maps = None, []


def concept_mask_rows(model: SDModel, prompts: list[str], words: list[str], include_eos: bool) -> torch.Tensor:
    """One concept-position mask (L) per prompt (P x L)."""
    return torch.stack([model.concept_positions(p, words, include_eos) for p in prompts])


@register_method
class SDFMN(TrainedSDMethod):
    name = "fmn"
    needs = frozenset({"forget"})

    @dataclass
    class Config(SDMethodConfig):
        name: str = "fmn"
        iterations: int = 35
        lr: float = 2e-6
        batch_size: int = 1
        grad_clip: float | None = 1.0
        only_cross_attention: bool = False
        include_eos: bool = False

    def parameters(self, model: SDModel) -> list[nn.Parameter] | None:
        return cross_attention_parameters(model) if self.cfg.only_cross_attention else None

    def batches(self, model: SDModel, data: SDView) -> Batches:
        forget = data.split("forget")
        masks = concept_mask_rows(model, forget.prompts, data.prompts.concept_words, self.cfg.include_eos)
        encoded = encode_split(model, forget)
        return encoded.batches(self.cfg.batch_size, data.generator, extra=masks.to(model.device)[encoded.prompt_ids])

    def objective(self, model: SDModel, data: SDView) -> Objective:
        def objective(net: SDModel, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
            with recording_cross_attention(net) as recorder:
                return attention_on_concept(net, recorder, *batch)

        return objective
