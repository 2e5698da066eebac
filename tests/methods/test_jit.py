"""JiT's loss (Eq. 1) in fp32 under an enclosing bf16 autocast (CPU autocast stands in for CUDA's)."""

import copy

import torch

from unlearn_bench.methods.jit import lipschitz_loss
from unlearn_bench.models import create_model


def _setup():
    torch.manual_seed(0)
    model = create_model("small_cnn", 10, 3, 32, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25), width=8).eval()
    with torch.no_grad():  # larger logits: bf16 rounding matters more
        model.net.fc.weight.mul_(20.0)
    x = torch.rand(6, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    return model, x, model.normalize.std


def _loss(model, x, std, fp32: bool, amp: bool, sigma: float = 0.01) -> torch.Tensor:
    generator = torch.Generator().manual_seed(2)  # same noise for every call
    context = torch.autocast("cpu", dtype=torch.bfloat16) if amp else torch.autocast("cpu", enabled=False)
    with context:
        return lipschitz_loss(model, x, sigma, 4, std, generator, fp32=fp32)


def test_fp32_loss_ignores_an_enclosing_bf16_autocast():
    model, x, std = _setup()
    reference = _loss(model, x, std, fp32=True, amp=False)
    assert reference.dtype == torch.float32
    torch.testing.assert_close(_loss(model, x, std, fp32=True, amp=True), reference, rtol=1e-6, atol=1e-6)
    # without the guard, bf16 rounding of the logits swamps the sigma-0.01 difference: the option is not a no-op
    autocast_loss = _loss(model, x, std, fp32=False, amp=True)
    assert (autocast_loss - reference).abs() > 0.1 * reference.abs()


def test_fp32_loss_gradients_match_plain_fp32():
    model, x, std = _setup()
    grads = []
    for amp in (False, True):
        model.zero_grad()
        _loss(model, x, std, fp32=True, amp=amp).backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None]))
    torch.testing.assert_close(grads[1], grads[0], rtol=1e-5, atol=1e-6)


def test_fit_accumulate_applies_the_sum_of_the_gradients_so_far():
    """JiT repo src/lipschitz.py:278-319, written out: zero once, then backward(); step() per batch, so step k moves
    the weights by lr times the sum of the gradients of batches 1..k (at the weights of their own step)."""
    from unlearn_bench.training import Pass, fit

    torch.manual_seed(0)
    xs = [torch.randn(4, 3) for _ in range(3)]
    model = torch.nn.Linear(3, 1, bias=False)
    expected = model.weight.detach().clone()
    running = torch.zeros_like(expected)
    for x in xs:  # loss = sum(w . x): its gradient does not depend on w, so the reference is closed-form
        running += x.sum(0, keepdim=True)
        expected -= 0.1 * running
    for accumulate, want in ((True, expected), (False, model.weight.detach() - 0.1 * sum(x.sum(0) for x in xs))):
        net = copy.deepcopy(model)
        fit(net, [Pass(lambda: [(x,) for x in xs], lambda m, b: m(b[0]).sum())], 1,
            torch.optim.SGD(net.parameters(), lr=0.1), progress=False, accumulate=accumulate)
        torch.testing.assert_close(net.weight.detach(), want)
