"""Every generation method on a tiny UNet and the fake task (class 0 forgotten): each moves the model the way its
paper says, and reads only the splits it declares (the view raises on any other)."""

import copy

import pytest
import torch

from tests.generation.conftest import make_view, tiny_ddpm
from unlearn_bench.generation.ddpm import diffusion_mse, to_model_space
from unlearn_bench.generation.methods.esd import esd_target
from unlearn_bench.methods import method_class
from unlearn_bench.methods.base import DataAccessError
from unlearn_bench.models import reset_parameters

pytest.importorskip("diffusers")  # the optional extra: pip install -e '.[generation]'

FORGOTTEN, KEPT = 0, [1, 2, 3]


def run(name, fake_task, model=None, **overrides):
    method_cls = method_class(name, "generation")
    cfg = method_cls.Config(**{"iterations": 10, "batch_size": 16, "lr": 1e-3, **overrides})
    model = model if model is not None else tiny_ddpm()
    original = copy.deepcopy(model)
    torch.manual_seed(0)
    return original, method_cls(cfg).unlearn(model, make_view(fake_task, method_cls.needs))


def fixed_inputs(fake_task, split):
    """D_f (or D_r) images noised at fixed timesteps with fixed noise."""
    task, _ = fake_task
    x, c = task.split(split)
    gen = torch.Generator().manual_seed(3)
    noise = torch.randn(x.shape, generator=gen)
    t = torch.randint(10, 90, (len(x),), generator=gen)
    alphas = tiny_ddpm().scheduler.alphas_cumprod[t].view(-1, 1, 1, 1)
    return alphas.sqrt() * to_model_space(x.float() / 255) + (1 - alphas).sqrt() * noise, t, c, noise


@torch.no_grad()
def forget_mse(model, fake_task):
    x_t, t, c, noise = fixed_inputs(fake_task, "forget")
    return torch.nn.functional.mse_loss(model(x_t, t, c), noise).item()


@torch.no_grad()
def gap_to_kept_classes(model, fake_task):
    """Mean ||eps(x_t | forgotten) - eps(x_t | k)||^2 over the kept classes k on D_f (Eq. 7's first term)."""
    x_t, t, c, _ = fixed_inputs(fake_task, "forget")
    eps_c = model(x_t, t, c)
    return sum((eps_c - model(x_t, t, torch.full_like(c, k))).pow(2).mean().item() for k in KEPT) / len(KEPT)


def test_ft_and_l1_sparse_read_only_the_retain_set_and_l1_shrinks_weights(fake_task):
    original, ft = run("ft", fake_task)
    assert not torch.equal(ft.unet.conv_in.weight, original.unet.conv_in.weight)
    _, l1 = run("l1_sparse", fake_task, gamma=1e-2)
    l1_norm = lambda m: sum(p.abs().sum().item() for p in m.parameters())  # noqa: E731
    assert l1_norm(l1) < l1_norm(ft)
    assert method_class("ft", "generation").needs == frozenset({"retain"})
    assert method_class("l1_sparse", "generation").needs == frozenset({"retain"})


def test_ga_raises_the_diffusion_loss_on_the_forget_set(fake_task):
    original, unlearned = run("ga", fake_task, lr=1e-3)
    assert forget_mse(unlearned, fake_task) > forget_mse(original, fake_task) + 0.05


def test_rl_pulls_the_forgotten_class_towards_the_kept_classes(fake_task):
    original, unlearned = run("rl", fake_task, beta=1e-3)
    assert gap_to_kept_classes(unlearned, fake_task) < 0.5 * gap_to_kept_classes(original, fake_task)


def test_salun_moves_only_salient_weights_and_forgets(fake_task):
    original, unlearned = run("salun", fake_task, sparsity=0.7)
    before = torch.cat([p.flatten() for p in original.parameters()])
    after = torch.cat([p.flatten() for p in unlearned.parameters()])
    changed = int((before != after).sum())
    assert 0.05 * len(before) < changed <= round(0.3 * len(before))  # at most the 30% salient share moves
    assert gap_to_kept_classes(unlearned, fake_task) < 0.7 * gap_to_kept_classes(original, fake_task)


def test_salun_mask_follows_the_forget_set_gradient(fake_task):
    """The salient weights are those with the largest |grad l_MSE(D_f)|: the forgotten class's embedding row gets a
    gradient from D_f, the kept classes' rows none, so SalUn never moves them."""
    original, unlearned = run("salun", fake_task, sparsity=0.5)
    rows_before, rows_after = original.unet.class_embedding.weight, unlearned.unet.class_embedding.weight
    assert not torch.equal(rows_before[FORGOTTEN], rows_after[FORGOTTEN])
    torch.testing.assert_close(rows_before[KEPT], rows_after[KEPT], rtol=0, atol=0)


def test_esd_follows_the_negatively_guided_target(fake_task):
    model = tiny_ddpm()
    frozen = copy.deepcopy(model).eval()
    x_t, t, c, _ = fixed_inputs(fake_task, "forget")
    target = esd_target(frozen, x_t, t, c, 1.0)

    def distance(m):
        with torch.no_grad():
            return (m(x_t, t, c) - target).pow(2).mean().item()

    before = distance(model)
    _, unlearned = run("esd", fake_task, model=model, iterations=15, batch_size=4, ddim_steps=5)
    assert distance(unlearned) < 0.7 * before


def test_esd_reads_no_image():
    # the forgotten labels only (see test above)
    assert method_class("esd", "generation").needs == frozenset({"forget"})


def test_retrain_starts_from_scratch_and_never_sees_the_forgotten_class(fake_task):
    model = tiny_ddpm()
    torch.manual_seed(7)
    reset_parameters(model)  # an "original" whose init differs from the seed-0 re-initialisation below
    torch.manual_seed(0)
    fresh_row = reset_parameters(copy.deepcopy(model)).unet.class_embedding.weight[FORGOTTEN].clone()
    original, retrained = run("retrain", fake_task, model=model)
    row = retrained.unet.class_embedding.weight[FORGOTTEN]
    torch.testing.assert_close(row, fresh_row, rtol=0, atol=0)  # re-initialised, then no gradient: no D_f image
    assert not torch.equal(row, original.unet.class_embedding.weight[FORGOTTEN])


@pytest.mark.parametrize("name", ["ft", "rl", "ga", "salun", "esd", "l1_sparse", "retrain"])
def test_methods_cannot_read_undeclared_splits(name, fake_task):
    forbidden = {"forget", "retain"} - method_class(name, "generation").needs
    view = make_view(fake_task, method_class(name, "generation").needs)
    for split in forbidden:
        with pytest.raises(DataAccessError):
            view.split(split)
    assert method_class(name, "generation").needs <= {"forget", "retain"}


def test_retain_loss_keeps_the_kept_classes_under_rl(fake_task):
    """Eq. 7's beta term: with a large beta, RL barely changes the diffusion loss on D_r."""
    task, _ = fake_task
    x, c = task.split("retain")
    original, unlearned = run("rl", fake_task, beta=10.0, lr=3e-4)

    def retain_mse(m):
        torch.manual_seed(4)
        with torch.no_grad():
            return diffusion_mse(m, x.float() / 255, c, drop_labels=False).item()

    assert retain_mse(unlearned) < retain_mse(original) * 1.2
