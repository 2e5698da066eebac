"""Unlink and Unlink-dagger (seed paper 001): training-free weight editing from forget-set features.

Unlink (Eq. 9-10, Algorithm 1): for each selected layer, the inputs X_f of that layer on D_f (one column
per sample for a linear layer; unfolded k x k patches, one column per position, for a convolution, App. H
Eq. 19-20) give left singular vectors U; W <- W - W U_k U_k^T removes the forget subspace from W. Class-wise
forgetting edits the last layer with the top-k vectors; random forgetting (App. F.6) keeps the vectors whose
singular value is below ``beta`` (thin SVD, non-zero values only). D_f labels are never read.

Unlink-dagger (Eq. 12-15): U_s maximises the generalised Rayleigh quotient u^T C_ff u / u^T C_rr u with
C = uncentred second moments of D_f and D_r features: Cholesky C_rr = L L^T, A = L^-1 C_ff L^-T = Q Lambda Q^T,
U_s = L^-T Q_k, eta_i = min(1, lambda_i), W <- W - W U_s diag(eta) U_s^T.

Choices where the paper is silent (``../shared/spec/seed_001_unlink.md``): features in eval mode without
augmentation; layers edited in forward order with features re-collected after each edit; biases untouched;
conv unfolding uses the layer's own padding/stride; C_rr regularised by 1e-3 * tr(C_rr)/d * I; Unlink-dagger's
u_i are used as Eq. 14 gives them (C_rr-orthonormal; ``unit_vectors=true`` normalises them, which on digits
removed too little to forget anything: the discriminative directions carry little energy); k = 2 and all of D_f
(the paper's Table 2 is closest to its Table 6 450-shot, k = 2 row); 1,024 D_r samples for Unlink-dagger.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from unlearn_bench.errors import ConfigError
from unlearn_bench.methods.base import DataView, Method, MethodConfig, register_method
from unlearn_bench.training import Batches


def last_linear(model: nn.Module) -> str:
    names = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not names:
        raise ConfigError("method=unlink needs a linear layer to edit; none found in the model")
    return names[-1]


def resolve_layers(model: nn.Module, layers: list[str]) -> list[str]:
    modules = dict(model.named_modules())
    names = [last_linear(model) if name == "last" else name for name in layers]
    for name in names:
        if not isinstance(modules.get(name), (nn.Linear, nn.Conv2d)):
            allowed = [n for n, m in modules.items() if isinstance(m, (nn.Linear, nn.Conv2d))]
            raise ConfigError(f"method.layers entry {name!r} is not a Linear/Conv2d layer; allowed: last, {allowed}")
    return names


@torch.no_grad()
def layer_inputs(model: nn.Module, layer_name: str, batches: Batches) -> torch.Tensor:
    """Columns of the layer's input features over all batches (d x m), in float64."""
    layer = dict(model.named_modules())[layer_name]
    columns = []

    def hook(module, inputs, output):
        x = inputs[0].float()
        if isinstance(module, nn.Conv2d):
            if module.groups != 1:
                raise ConfigError(f"method=unlink cannot edit grouped convolution {layer_name!r}")
            patches = F.unfold(x, module.kernel_size, module.dilation, module.padding, module.stride)
            columns.append(patches.transpose(0, 1).reshape(patches.shape[1], -1).double())
        else:
            columns.append(x.reshape(-1, x.shape[-1]).t().double())

    handle = layer.register_forward_hook(hook)
    try:
        for x, _ in batches():
            model(x)
    finally:
        handle.remove()
    return torch.cat(columns, dim=1)


@torch.no_grad()
def remove_subspace(layer: nn.Module, basis: torch.Tensor, weights: torch.Tensor | None = None) -> None:
    """W <- W - W U diag(eta) U^T on the layer's weight viewed as d_out x d_in (Eq. 10 / Eq. 15)."""
    w = layer.weight.reshape(layer.weight.shape[0], -1).double()
    scaled = basis if weights is None else basis * weights
    layer.weight.copy_((w - w @ scaled @ basis.t()).reshape(layer.weight.shape).to(layer.weight.dtype))


def forget_basis(x: torch.Tensor, k: int, beta: float | None) -> torch.Tensor:
    """Left singular vectors of X: the top k, or (beta set) those with 0 < sigma < beta."""
    eigvals, eigvecs = torch.linalg.eigh(x @ x.t())  # X X^T = U S^2 U^T: cheap when X has many columns
    sigma = eigvals.clamp_min(0).sqrt().flip(0)
    u = eigvecs.flip(1)
    if beta is None:
        return u[:, :k]
    nonzero = sigma > sigma.max() * x.shape[0] * torch.finfo(torch.float64).eps
    return u[:, nonzero & (sigma < beta)]


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
        n_shot: int | None = None  # forget samples used; None = all of D_f
        batch_size: int = 256

    def forget_batches(self, data: DataView) -> Batches:
        x, y = data.split("forget")
        if self.cfg.n_shot is not None:
            keep = torch.randperm(len(x), generator=data.generator)[:self.cfg.n_shot].to(x.device)
            x, y = x[keep], y[keep]
        return data.batches(x, y, self.cfg.batch_size, shuffle=False, augment=False)

    def basis(self, model: nn.Module, layer: str, data: DataView, forget: Batches
              ) -> tuple[torch.Tensor, torch.Tensor | None]:
        return forget_basis(layer_inputs(model, layer, forget), self.cfg.k, self.cfg.beta), None

    def unlearn(self, model: nn.Module, data: DataView) -> nn.Module:
        model.eval()
        forget = self.forget_batches(data)
        modules = dict(model.named_modules())
        for name in resolve_layers(model, list(self.cfg.layers)):
            basis, eta = self.basis(model, name, data, forget)
            remove_subspace(modules[name], basis, eta)
        return model


@register_method
class UnlinkDagger(Unlink):
    name = "unlink_dagger"
    needs = frozenset({"forget", "retain"})

    @dataclass
    class Config(Unlink.Config):
        name: str = "unlink_dagger"
        n_retain: int = 1024  # D_r samples for C_rr
        ridge: float = 1e-3  # C_rr += ridge * tr(C_rr) / d * I
        unit_vectors: bool = False  # False: Eq. 14-15 literally (C_rr-orthonormal u_i); True: unit-length u_i

    def basis(self, model: nn.Module, layer: str, data: DataView, forget: Batches
              ) -> tuple[torch.Tensor, torch.Tensor]:
        x_f = layer_inputs(model, layer, forget)
        rx, ry = data.split("retain")
        keep = torch.randperm(len(rx), generator=data.generator)[:self.cfg.n_retain].to(rx.device)
        x_r = layer_inputs(model, layer, data.batches(rx[keep], ry[keep], self.cfg.batch_size, shuffle=False,
                                                      augment=False))
        d = x_f.shape[0]
        c_ff = x_f @ x_f.t() / x_f.shape[1]
        c_rr = x_r @ x_r.t() / x_r.shape[1]
        c_rr = c_rr + self.cfg.ridge * torch.trace(c_rr) / d * torch.eye(d, dtype=c_rr.dtype, device=c_rr.device)
        chol = torch.linalg.cholesky(c_rr)
        a = torch.linalg.solve_triangular(chol, c_ff, upper=False)
        a = torch.linalg.solve_triangular(chol, a.t(), upper=False).t()  # L^-1 C_ff L^-T
        eigvals, q = torch.linalg.eigh((a + a.t()) / 2)
        eigvals, q = eigvals.flip(0)[:self.cfg.k], q.flip(1)[:, :self.cfg.k]
        u = torch.linalg.solve_triangular(chol.t(), q, upper=True)  # L^-T Q_k
        if self.cfg.unit_vectors:
            u = u / u.norm(dim=0, keepdim=True)
        return u, eigvals.clamp(max=1.0)
