"""K models of one small convolutional family run as one network of grouped convolutions (unlearn_bench/ensemble.py).

``torch.func.vmap`` over a small CNN on a CPU thread is slower than training the models one by one: its batching rules
for max pooling and BatchNorm reshape and reduce the stacked tensors in extra kernels at every call. Here the K models'
layers are written out once as plain batched operators instead, 1.06-2.2x faster than vmap and about as fast as
sequential training on one CPU thread (results/bench/ensemble_cpu.md):

* spatial activations are ``(B, K*C, H, W)``, model k's channels in block k: a convolution with ``groups=K`` and the
  K weight tensors concatenated applies each model's weights to its own block; BatchNorm over the K*C channels
  normalises each model's channels with their own batch statistics and running statistics (BatchNorm is
  per-channel, so this is exactly K separate BatchNorms); ReLU and pooling are per channel;
* ``Flatten`` turns them into ``(K, B, F)`` (model k's features in their own (C, H, W) order) and a ``Linear`` layer
  is one ``baddbmm`` over the K stacked weights.

Activations are channels_last (oneDNN's pooling and BatchNorm are several times slower on the contiguous layout) and
so are the gradients handed back through reshapes and global pooling; a ReLU that a max pooling follows runs after it,
on a quarter of the elements. The forward is built from the model's own layers (their stride, padding, momentum,
eps), for the families listed in ``_NETS`` whose ``forward`` is ``fc(features(x))`` with only the layer types below;
any other model returns None and the ensemble uses vmap. It is a training forward: BatchNorm uses batch statistics
and updates the running ones.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from unlearn_bench.models import Classifier
from unlearn_bench.models.lenet import LeNet5
from unlearn_bench.models.small_cnn import SmallCNN

__all__ = ["StackedLogits", "stacked_logits"]

Tensors = dict[str, torch.Tensor]
# (stacked parameters, stacked buffers, pixels K x B x C x H x W) -> logits K x B x classes
StackedLogits = Callable[[Tensors, Tensors, torch.Tensor], torch.Tensor]
_Layer = Callable[[Tensors, Tensors, torch.Tensor, int], torch.Tensor]

_NETS = (SmallCNN, LeNet5)  # forward(x) = fc(features(x)), features a (nested) Sequential


def _conv(m: nn.Conv2d, name: str, p: Tensors, b: Tensors, x: torch.Tensor, k: int) -> torch.Tensor:
    bias = p.get(f"{name}.bias")
    return F.conv2d(x, p[f"{name}.weight"].flatten(0, 1), None if bias is None else bias.flatten(), m.stride,
                    m.padding, m.dilation, groups=k)


def _batch_norm(m: nn.BatchNorm2d, name: str, p: Tensors, b: Tensors, x: torch.Tensor, k: int) -> torch.Tensor:
    b[f"{name}.num_batches_tracked"].add_(1)
    # The flat views share storage with the stacked K x C buffers, which batch_norm updates in place.
    return F.batch_norm(x, b[f"{name}.running_mean"].view(-1), b[f"{name}.running_var"].view(-1),
                        p[f"{name}.weight"].flatten(), p[f"{name}.bias"].flatten(), True, m.momentum, m.eps)


def _max_pool(m: nn.MaxPool2d, name: str, p: Tensors, b: Tensors, x: torch.Tensor, k: int) -> torch.Tensor:
    return F.max_pool2d(x, m.kernel_size, m.stride, m.padding, m.dilation, m.ceil_mode)


class _ChannelsLastGrad(torch.autograd.Function):
    """Identity whose backward hands on the gradient in channels_last, the activations' layout: a reshape's or a
    pooling's gradient arrives contiguous, and oneDNN's pooling, ReLU and BatchNorm backward run several times slower
    on mixed layouts than on one."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return grad.contiguous(memory_format=torch.channels_last)


def _global_pool(m: nn.AdaptiveAvgPool2d, name: str, p: Tensors, b: Tensors, x: torch.Tensor, k: int) -> torch.Tensor:
    return F.adaptive_avg_pool2d(_ChannelsLastGrad.apply(x), 1)


def _relu(m: nn.ReLU, name: str, p: Tensors, b: Tensors, x: torch.Tensor, k: int) -> torch.Tensor:
    return F.relu(x)


def _flatten(m: nn.Flatten, name: str, p: Tensors, b: Tensors, x: torch.Tensor, k: int) -> torch.Tensor:
    return _ChannelsLastGrad.apply(x).reshape(x.shape[0], k, -1).transpose(0, 1)  # B x K*C x H x W -> K x B x C*H*W


def _linear(m: nn.Linear, name: str, p: Tensors, b: Tensors, x: torch.Tensor, k: int) -> torch.Tensor:
    weight = p[f"{name}.weight"].transpose(1, 2)
    bias = p.get(f"{name}.bias")
    return torch.bmm(x, weight) if bias is None else torch.baddbmm(bias.unsqueeze(1), x, weight)


def _layer(module: nn.Module, name: str) -> _Layer | None:
    """The stacked form of one layer, or None when it is not a layer this module writes out exactly."""
    if isinstance(module, nn.Conv2d) and module.groups == 1 and module.padding_mode == "zeros":
        fn = _conv
    elif (isinstance(module, nn.BatchNorm2d) and module.affine and module.track_running_stats
          and module.momentum is not None):
        fn = _batch_norm
    elif isinstance(module, nn.MaxPool2d) and not module.return_indices:
        fn = _max_pool
    elif isinstance(module, nn.AdaptiveAvgPool2d) and module.output_size in (1, (1, 1)):
        fn = _global_pool
    elif isinstance(module, nn.ReLU):
        fn = _relu
    elif isinstance(module, nn.Flatten) and module.start_dim == 1 and module.end_dim == -1:
        fn = _flatten
    elif isinstance(module, nn.Linear):
        fn = _linear
    else:
        return None
    return functools.partial(fn, module, name)


def _pool_before_relu(layers: list[tuple[str, nn.Module]]) -> list[tuple[str, nn.Module]]:
    """``layers`` with every ReLU that a max pooling follows moved after it: the same values and gradients (max
    commutes with a monotone map, and the element it picks gets a zero ReLU gradient exactly when all do), on a
    tensor a quarter the size."""
    out = list(layers)
    for i in range(len(out) - 1):
        if isinstance(out[i][1], nn.ReLU) and isinstance(out[i + 1][1], nn.MaxPool2d):
            out[i], out[i + 1] = out[i + 1], out[i]
    return out


def stacked_logits(model: nn.Module) -> StackedLogits | None:
    """The grouped-convolution training forward of K models shaped as ``model`` (module docstring), or None when
    ``model`` is not one of the families it is written for (the caller then vectorises with vmap)."""
    if type(model) is not Classifier or type(model.net) not in _NETS:
        return None
    named = [(f"net.features.{n}", m) for n, m in model.net.features.named_modules() if not any(m.children())]
    layers = [_layer(m, name) for name, m in _pool_before_relu([*named, ("net.fc", model.net.fc)])]
    if any(layer is None for layer in layers):
        return None

    def logits(p: Tensors, b: Tensors, x: torch.Tensor) -> torch.Tensor:
        k, batch = x.shape[:2]
        x = (x - b["normalize.mean"]) / b["normalize.std"]  # K x B x C x H x W over K x 1 x C x 1 x 1
        x = x.transpose(0, 1).reshape(batch, -1, *x.shape[3:]).contiguous(memory_format=torch.channels_last)
        for layer in layers:
            x = layer(p, b, x, k)
        return x

    return logits
