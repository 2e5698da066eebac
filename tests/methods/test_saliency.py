import torch
from torch import nn

from unlearn_bench.methods.common import negative_cross_entropy
from unlearn_bench.methods.saliency import MaskedUpdate, saliency_mask
from unlearn_bench.training import sgd


def tiny_problem():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    x, y = torch.randn(32, 6), torch.randint(0, 3, (32,))
    return model, x, y


def test_mask_has_requested_sparsity_and_picks_largest_gradients():
    model, x, y = tiny_problem()
    masks = saliency_mask(model, lambda: [(x, y)], negative_cross_entropy, sparsity=0.5)
    n_total = sum(m.numel() for m in masks.values())
    n_kept = sum(int(m.sum()) for m in masks.values())
    assert n_kept == round(0.5 * n_total)
    model.zero_grad()
    negative_cross_entropy(model(x), y).backward()
    grads = torch.cat([p.grad.abs().flatten() for p in model.parameters()])
    kept = torch.cat([m.flatten() for m in masks.values()])
    assert grads[kept].min() >= grads[~kept].max()  # one global threshold on |g|


def test_masked_weights_never_move_with_momentum_and_weight_decay():
    model, x, y = tiny_problem()
    masks = saliency_mask(model, lambda: [(x, y)], negative_cross_entropy, sparsity=0.7)
    start = {n: p.detach().clone() for n, p in model.named_parameters()}
    hook = MaskedUpdate(model, masks)
    opt = sgd(model, lr=0.1, momentum=0.9, weight_decay=5e-2)
    for _ in range(20):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), (y + 1) % 3).backward()
        hook.before_step(model)
        opt.step()
        hook.after_step(model, opt)
    for n, p in model.named_parameters():
        frozen = ~masks[n]
        assert torch.equal(p[frozen], start[n][frozen])
        assert not torch.equal(p[masks[n]], start[n][masks[n]])  # salient weights did move
