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


def test_official_mask_gradient_is_the_sum_of_per_batch_mean_gradients():
    """SalUn repo generate_mask.py:30-44, written out: per batch, the gradient of the batch-mean -CE, summed; with a
    partial last batch (32 = 12 + 12 + 8) it ranks weights differently from the gradient of the mean over D_f."""
    model, x, y = tiny_problem()
    batches = [(x[i:i + 12], y[i:i + 12]) for i in range(0, 32, 12)]
    total = [torch.zeros_like(p) for p in model.parameters()]
    for xb, yb in batches:
        model.zero_grad()
        negative_cross_entropy(model(xb), yb).backward()
        total = [t + p.grad for t, p in zip(total, model.parameters())]
    flat = torch.cat([t.abs().flatten() for t in total])
    expected = torch.zeros_like(flat, dtype=torch.bool)
    expected[torch.topk(flat, round(0.5 * flat.numel())).indices] = True
    official = saliency_mask(model, lambda: batches, negative_cross_entropy, 0.5, batch_sum=True)
    paper = saliency_mask(model, lambda: batches, negative_cross_entropy, 0.5)
    assert torch.equal(torch.cat([m.flatten() for m in official.values()]), expected)
    assert not torch.equal(torch.cat([m.flatten() for m in paper.values()]), expected)
