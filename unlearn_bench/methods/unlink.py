"""Unlink and Unlink-dagger (anonymous authors, "Unlearn in a Blink", paper under double-blind review; the text
names no venue or year): training-free weight editing from forget-set features.

Unlink (Eq. 9-10, Algorithm 1): for each selected layer, the inputs X_f of that layer on D_f (one column per
sample for a linear layer; unfolded k x k patches, one column per position, for a convolution, App. H Eq. 19-20)
give left singular vectors U; W <- W - W U_k U_k^T removes the forget subspace from W. Class-wise forgetting edits
the last layer with the top-k vectors (§4.1, App. I); with ``beta`` set, the vectors whose singular value is below
``beta`` are used instead (App. F.6; thin SVD, non-zero values only). D_f labels are never read.

Unlink-dagger (§3.2, Eq. 12-15), C = uncentred second moments of D_f and D_r layer inputs:
- ``beta`` unset (sub-class forgetting, Table 3): U_s maximises the generalised Rayleigh quotient
  R(u) = u^T C_ff u / u^T C_rr u: Cholesky C_rr = L L^T, A = L^-1 C_ff L^-T = Q Lambda Q^T, U_s = L^-T Q_k
  (Eq. 14), eta_i = min(1, lambda_i) = min(1, R(u_i)), W <- W - W U_s diag(eta) U_s^T (Eq. 15).
- ``beta`` set (random forgetting, Table 10, App. F.6 with F.2): the paper edits "the middle layers", uses "the
  left-singular vectors corresponding to smaller singular values" (those below a threshold beta) and applies
  "only our Rayleigh-quotient extension in this setting"; how the two combine is not stated. The harness's
  reading: the left singular vectors u_i of X_f with 0 < sigma_i < beta (orthonormal), each removed with the
  Rayleigh weight eta_i = min(1, R(u_i)) of Eq. 15, i.e. W <- W - W U diag(eta) U^T.
``layers: [middle]`` names the weight layer (Linear / Conv2d) at index n // 2 of the model's n weight layers in
registration order (harness choice: the paper does not say which middle layers).

Choices where the paper is silent: features in eval mode without augmentation; the listed layers are edited in
the order of ``model.named_modules()`` (registration order), features re-collected after each edit (Algorithm 1
recomputes X_i inside its loop); biases untouched; conv unfolding uses the layer's own padding/stride; only the
d x d Gram matrix X X^T is accumulated (never X itself); C_rr regularised by ``ridge`` * tr(C_rr)/d * I;
``beta_relative`` reads beta as a fraction of the layer's largest singular value (the paper's beta is an
absolute value it does not state; singular values grow with |D_f| and the layer); Unlink-dagger's top-k u_i are
used as Eq. 14 gives them (C_rr-orthonormal; ``unit_vectors=true`` normalises them, which on digits removed too
little to forget anything: the discriminative directions carry little energy); k = 2 and all of D_f (the
paper's Table 2 is closest to its Table 6 450-shot, k = 2 row); 1,024 D_r samples for Unlink-dagger.

No official code is named by the paper: ``method.fidelity=official`` changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from unlearn_bench.errors import ConfigError
from unlearn_bench.methods.base import DataView, Method, MethodConfig, register_method
from unlearn_bench.models import classifier_head
from unlearn_bench.training import Batches

Basis = tuple[torch.Tensor, torch.Tensor | None]  # (U, eta): W <- W - W U diag(eta) U^T; eta None = all ones


def last_linear(model: nn.Module) -> str:
    """The module name of the model's classifier head (``models.classifier_head``)."""
    head = classifier_head(model)
    return next(name for name, module in model.named_modules() if module is head)


def weight_layers(model: nn.Module) -> list[str]:
    """Names of the Linear / Conv2d layers in registration order."""
    return [n for n, m in model.named_modules() if isinstance(m, (nn.Linear, nn.Conv2d))]


def middle_layer(model: nn.Module) -> str:
    """The weight layer at index n // 2 of the model's n weight layers (registration order)."""
    names = weight_layers(model)
    if not names:
        raise ConfigError("method=unlink needs a Linear/Conv2d layer to edit; none found in the model")
    return names[len(names) // 2]


def resolve_layers(model: nn.Module, layers: list[str]) -> list[str]:
    """The layers to edit, ``last`` and ``middle`` resolved, without repeats, in registration order."""
    alias = {"last": last_linear, "middle": middle_layer}
    names = {alias[name](model) if name in alias else name for name in layers}
    allowed = weight_layers(model)
    for name in names:
        if name not in allowed:
            raise ConfigError(f"method.layers entry {name!r} is not a Linear/Conv2d layer; allowed: last, middle, "
                              f"{allowed}")
    return [n for n in allowed if n in names]


@torch.no_grad()
def layer_gram(model: nn.Module, layer_name: str, batches: Batches) -> tuple[torch.Tensor, int]:
    """X X^T (d x d, float64) of the layer's input columns X over all batches, and the number of columns."""
    layer = dict(model.named_modules())[layer_name]
    state: dict[str, torch.Tensor | int] = {"gram": 0, "n": 0}

    def add(cols: torch.Tensor) -> None:
        state["gram"] = state["gram"] + cols @ cols.t()
        state["n"] += cols.shape[1]

    def hook(module, inputs, output):
        x = inputs[0].float()
        if isinstance(module, nn.Conv2d):
            if module.groups != 1:
                raise ConfigError(f"method=unlink cannot edit grouped convolution {layer_name!r}")
            patches = F.unfold(x, module.kernel_size, module.dilation, module.padding, module.stride)
            add(patches.transpose(0, 1).reshape(patches.shape[1], -1).double())
        else:
            add(x.reshape(-1, x.shape[-1]).t().double())

    handle = layer.register_forward_hook(hook)
    try:
        for x, _ in batches():
            model(x)
    finally:
        handle.remove()
    if not state["n"]:
        raise ConfigError(f"method=unlink: no features reached layer {layer_name!r}")
    return state["gram"], int(state["n"])


@torch.no_grad()
def remove_subspace(layer: nn.Module, basis: torch.Tensor, weights: torch.Tensor | None = None) -> None:
    """W <- W - W U diag(eta) U^T on the layer's weight viewed as d_out x d_in (Eq. 10 / Eq. 15)."""
    w = layer.weight.reshape(layer.weight.shape[0], -1).double()
    scaled = basis if weights is None else basis * weights
    layer.weight.copy_((w - w @ scaled @ basis.t()).reshape(layer.weight.shape).to(layer.weight.dtype))


def singular_vectors(gram: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Left singular vectors U and singular values sigma (descending) of X from its Gram X X^T = U S^2 U^T."""
    eigvals, eigvecs = torch.linalg.eigh(gram)
    return eigvecs.flip(1), eigvals.clamp_min(0).sqrt().flip(0)


def below_beta(sigma: torch.Tensor, beta: float, relative: bool) -> torch.Tensor:
    """Mask of the non-zero singular values below beta (``relative``: beta * the largest one)."""
    nonzero = sigma > sigma.max() * len(sigma) * torch.finfo(torch.float64).eps
    return nonzero & (sigma < (beta * sigma.max() if relative else beta))


def forget_basis(gram: torch.Tensor, k: int, beta: float | None, relative: bool = False) -> torch.Tensor:
    """Left singular vectors of X (given X X^T): the top k, or (beta set) those with 0 < sigma < beta."""
    u, sigma = singular_vectors(gram)
    if beta is None:
        return u[:, :k]
    return u[:, below_beta(sigma, beta, relative)]


def forget_batches(data: DataView, n_shot: int | None, batch_size: int) -> Batches:
    """D_f in a fixed order without augmentation: all of it, or ``n_shot`` examples drawn with the generator."""
    x, y = data.split("forget")
    if n_shot is not None:
        keep = torch.randperm(len(x), generator=data.generator)[:n_shot].to(x.device)
        x, y = x[keep], y[keep]
    return data.batches(x, y, batch_size, shuffle=False, augment=False)


def edit_layers(model: nn.Module, layers: list[str], basis: Callable[[str], Basis]) -> nn.Module:
    """Remove ``basis(layer)`` from each listed layer in registration order, each basis computed after the edits
    before it (Algorithm 1)."""
    modules = dict(model.named_modules())
    for name in resolve_layers(model, layers):
        remove_subspace(modules[name], *basis(name))
    return model


def unlink_basis(model: nn.Module, layer: str, forget: Batches, cfg: Unlink.Config) -> Basis:
    """Unlink (Eq. 9-10): D_f's top-k (or below-beta) left singular vectors at ``layer``, fully removed."""
    gram, _ = layer_gram(model, layer, forget)
    return forget_basis(gram, cfg.k, cfg.beta, cfg.beta_relative), None


def dagger_basis(model: nn.Module, layer: str, data: DataView, forget: Batches, cfg: UnlinkDagger.Config) -> Basis:
    """Unlink-dagger (Eq. 12-15): directions of high D_f / D_r energy ratio at ``layer``, Rayleigh-weighted."""
    gram_f, n_f = layer_gram(model, layer, forget)
    rx, ry = data.split("retain")
    keep = torch.randperm(len(rx), generator=data.generator)[:cfg.n_retain].to(rx.device)
    gram_r, n_r = layer_gram(model, layer, data.batches(rx[keep], ry[keep], cfg.batch_size, shuffle=False,
                                                         augment=False))
    d = gram_f.shape[0]
    c_ff = gram_f / n_f
    c_rr = gram_r / n_r
    c_rr = c_rr + cfg.ridge * torch.trace(c_rr) / d * torch.eye(d, dtype=c_rr.dtype, device=c_rr.device)
    if cfg.beta is not None:  # App. F.6 + F.2: small-sigma singular vectors, Rayleigh-weighted (Eq. 15)
        u, sigma = singular_vectors(gram_f)
        u = u[:, below_beta(sigma, cfg.beta, cfg.beta_relative)]
        rayleigh = ((c_ff @ u) * u).sum(0) / ((c_rr @ u) * u).sum(0)
        return u, rayleigh.clamp(max=1.0)
    chol = torch.linalg.cholesky(c_rr)
    a = torch.linalg.solve_triangular(chol, c_ff, upper=False)
    a = torch.linalg.solve_triangular(chol, a.t(), upper=False).t()  # L^-1 C_ff L^-T
    eigvals, q = torch.linalg.eigh((a + a.t()) / 2)
    eigvals, q = eigvals.flip(0)[:cfg.k], q.flip(1)[:, :cfg.k]
    u = torch.linalg.solve_triangular(chol.t(), q, upper=True)  # L^-T Q_k
    if cfg.unit_vectors:
        u = u / u.norm(dim=0, keepdim=True)
    return u, eigvals.clamp(max=1.0)


@register_method
class Unlink(Method):
    name = "unlink"
    needs = frozenset({"forget"})
    training_free = True

    @dataclass
    class Config(MethodConfig):
        name: str = "unlink"
        layers: list[str] = field(default_factory=lambda: ["last"])  # "last" = the final linear layer
        k: int = 2  # number of singular vectors (top-k selection)
        beta: float | None = None  # random forgetting: use the vectors with singular value < beta instead
        beta_relative: bool = False  # False: beta absolute (App. F.6); True: a fraction of the largest sigma
        n_shot: int | None = None  # forget samples used; None = all of D_f
        batch_size: int = 256  # harness choice: feature-collection batch (no effect on the result)

    def unlearn(self, model: nn.Module, data: DataView) -> nn.Module:
        model.eval()
        forget = forget_batches(data, self.cfg.n_shot, self.cfg.batch_size)
        return edit_layers(model, list(self.cfg.layers), lambda layer: unlink_basis(model, layer, forget, self.cfg))


@register_method
class UnlinkDagger(Method):
    name = "unlink_dagger"
    needs = frozenset({"forget", "retain"})
    training_free = True

    @dataclass
    class Config(Unlink.Config):
        name: str = "unlink_dagger"
        n_retain: int = 1024  # D_r samples for C_rr (harness choice: the paper does not state n_r)
        ridge: float = 1e-3  # C_rr += ridge * tr(C_rr) / d * I (§3.2: "if needed with regularization"; size ours)
        unit_vectors: bool = False  # False: Eq. 14-15 literally (C_rr-orthonormal u_i); True: unit-length u_i

    def unlearn(self, model: nn.Module, data: DataView) -> nn.Module:
        model.eval()
        forget = forget_batches(data, self.cfg.n_shot, self.cfg.batch_size)
        return edit_layers(model, list(self.cfg.layers),
                           lambda layer: dagger_basis(model, layer, data, forget, self.cfg))
