"""The paper-vs-repo options of RL / SalUn (layout, relabel), BE (keep_shadow_unit) and Unlink-dagger's random
forgetting variant (middle layer, beta), and the presets that set them."""

from __future__ import annotations

import copy
import re

import pytest
import torch
from torch import nn

from tests.conftest import compose_config
from unlearn_bench.data.loader import to_float
from unlearn_bench.data.task import make_task
from unlearn_bench.errors import ConfigError
from unlearn_bench.evaluation import evaluate
from unlearn_bench.methods import DataView, create_method, method_class
from unlearn_bench.methods.common import relabel_passes
from unlearn_bench.methods.unlink import dagger_basis, forget_batches, middle_layer, resolve_layers, weight_layers
from unlearn_bench.models import create_model


@pytest.fixture(scope="module")
def cfg():
    return compose_config(["data=fake", "scenario=random10", "eval.batch_size=256"])


@pytest.fixture(scope="module")
def task(cfg):
    return make_task(cfg.data, cfg.scenario, cfg.train, 0, "cpu")


def view(task, cfg, needs=("forget", "retain", "val"), seed=0):
    return DataView.from_task(task, frozenset(needs), cfg.train, torch.Generator().manual_seed(seed), progress=False)


def model_for(cfg, task, num_classes=None):
    torch.manual_seed(0)
    return create_model(cfg.data.default_model, num_classes or task.num_classes, cfg.data.in_chans,
                        cfg.data.img_size, task.mean, task.std).eval()


def collect(passes):
    return [[(x.clone(), y.clone()) for x, y in p.batches()] for p in passes]


class Recorder(nn.Module):
    """Logits of zeros; remembers the targets each objective was called with (through a CE hook)."""

    def __init__(self, k):
        super().__init__()
        self.k = k
        self.w = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return torch.zeros(len(x), self.k) + self.w


def test_passes_layout_runs_forget_then_retain_with_fixed_other_labels(task, cfg):
    data = view(task, cfg)
    fx, fy = task.split("forget")
    rx, _ = task.split("retain")
    passes = relabel_passes(data, 16, 1.0, "passes", "fixed")
    assert len(passes) == 2
    epoch1, epoch2 = collect(passes), collect(passes)
    forget_labels_1 = torch.cat([y for _, y in epoch1[0]])
    assert len(forget_labels_1) == len(fx) and sum(len(y) for _, y in epoch1[1]) == len(rx)
    # fixed: the same relabelled set every epoch (order aside), never the true label
    match = {tuple(x.flatten()[:8].tolist()): int(y) for b in epoch1[0] for x, y in zip(*b)}
    again = {tuple(x.flatten()[:8].tolist()): int(y) for b in epoch2[0] for x, y in zip(*b)}
    assert match == again
    true = {tuple(x.flatten()[:8].tolist()): int(y)
            for b in data.batches(fx, fy, 16, shuffle=False, augment=False)() for x, y in zip(*b)}
    assert all(match[key] != true[key] for key in match)


def test_mixed_layout_is_one_shuffled_loader_over_both_sets(task, cfg):
    data = view(task, cfg)
    fx, _ = task.split("forget")
    rx, _ = task.split("retain")
    passes = relabel_passes(data, 16, 1.0, "mixed", "fixed")
    assert len(passes) == 1
    labels = torch.cat([y for _, y in collect(passes)[0]])
    assert len(labels) == len(fx) + len(rx)
    assert int((labels < 0).sum()) == len(fx)  # D_f rows marked, spread over the batches
    per_batch = [int((y < 0).sum()) for _, y in collect(passes)[0]]
    assert sum(1 for n in per_batch if 0 < n < 16) >= 2  # batches mix D_f and D_r rows


def test_mixed_objective_weights_retain_rows_by_alpha(task, cfg):
    data = view(task, cfg)
    model = model_for(cfg, task)
    x, y = next(iter(relabel_passes(data, 64, 0.3, "mixed", "fixed")[0].batches()))
    loss = relabel_passes(data, 64, 0.3, "mixed", "fixed")[0].objective(model, (x, y))
    is_forget = y < 0
    target = torch.where(is_forget, -y - 1, y)
    per = nn.functional.cross_entropy(model(x), target, reduction="none")
    expected = (torch.where(is_forget, 1.0, 0.3) * per).mean()
    assert is_forget.any() and (~is_forget).any()
    assert torch.allclose(loss, expected)


def test_per_batch_relabel_redraws_and_may_hit_the_true_label(task, cfg):
    data = view(task, cfg)
    model = Recorder(task.num_classes)
    seen = []
    original = nn.functional.cross_entropy

    def spy(logits, target, *args, **kwargs):
        seen.append(target.clone())
        return original(logits, target, *args, **kwargs)

    passes = relabel_passes(data, 1000, 1.0, "passes", "per_batch")
    (x, y), = list(passes[0].batches())
    nn.functional.cross_entropy = spy
    try:
        for _ in range(5):
            passes[0].objective(model, (x, y))
    finally:
        nn.functional.cross_entropy = original
    draws = torch.stack(seen)
    assert not all(torch.equal(draws[0], d) for d in draws[1:])  # fresh labels every batch
    assert bool((draws == y).any())  # randint(0, K) includes the true label
    assert set(draws.unique().tolist()) == set(range(task.num_classes))


def test_bad_option_names_are_refused():
    rl = compose_config(["data=fake", "method=rl", "method.layout=shuffled"]).method
    with pytest.raises(ConfigError, match="layout"):
        method_class("rl").check_config(rl, 4)
    rl = compose_config(["data=fake", "method=rl", "method.relabel=sometimes"]).method
    with pytest.raises(ConfigError, match="relabel"):
        method_class("rl").check_config(rl, 4)


@pytest.mark.parametrize("method", ["rl", "salun", "salun_soft", "rl_ms"])
def test_fidelity_official_relabels_per_batch_and_is_in_the_run_key(method):
    from unlearn_bench.keys import method_key
    from unlearn_bench.methods.common import relabel_of

    paper = compose_config(["data=fake", f"method={method}"]).method
    official = compose_config(["data=fake", f"method={method}", "method.fidelity=official"]).method
    assert relabel_of(paper) == "fixed" and relabel_of(official) == "per_batch"
    assert "fidelity" not in method_key(paper)  # earlier runs keep their keys
    assert method_key(official)["fidelity"] == "official"
    assert method_class(method).official


@pytest.mark.parametrize("method,option,against", [("rl", "relabel", "fixed"), ("salun", "relabel", "fixed"),
                                                    ("be", "keep_shadow_unit", "false")])
def test_an_option_set_against_fidelity_official_is_refused(method, option, against):
    """Official mode must not silently override what the user set (it did: relabel=fixed ran per batch)."""
    for value in (against, "null"):
        cfg = compose_config(["data=fake", f"method={method}", "method.fidelity=official",
                              f"method.{option}={value}"]).method
        if value == against:
            with pytest.raises(ConfigError, match=rf"method\.{option}={against} contradicts method\.fidelity="
                                                  r"official, whose code .* \(.*SalUn repo .*\.py:\d+"):
                method_class(method).check_config(cfg, 4)
        else:
            method_class(method).check_config(cfg, 4)
    paper = compose_config(["data=fake", f"method={method}", f"method.{option}={against}"]).method
    method_class(method).check_config(paper, 4)  # the paper mode takes either value


def test_an_explicit_relabel_wins_over_the_paper_default():
    from unlearn_bench.methods.common import relabel_of

    cfg = compose_config(["data=fake", "method=rl", "method.relabel=per_batch"]).method
    assert relabel_of(cfg) == "per_batch"
    official = compose_config(["data=fake", "method=rl", "method.relabel=per_batch", "method.fidelity=official"])
    assert relabel_of(official.method) == "per_batch"


def test_bad_fidelity_is_refused_naming_the_key():
    from unlearn_bench.methods.base import check_fidelity

    with pytest.raises(ConfigError, match=r"method\.fidelity='repo' is not supported; allowed: paper, official"):
        check_fidelity(compose_config(["data=fake", "method=rl", "method.fidelity=repo"]).method)


@pytest.mark.parametrize("method", ["rl", "salun", "salun_soft", "rl_ms"])
def test_mixed_layout_trains_every_rl_family_method(task, cfg, method):
    mcfg = compose_config(["data=fake", f"method={method}", "method.layout=mixed", "method.relabel=per_batch",
                           "method.epochs=1", "method.batch_size=64"]).method
    model = model_for(cfg, task)
    before = copy.deepcopy(model.state_dict())
    out = create_method(mcfg).unlearn(model, view(task, cfg))
    assert any(not torch.equal(before[k], v) for k, v in out.state_dict().items())


def test_be_keeps_or_drops_the_shadow_unit_and_evaluation_copes(task, cfg):
    evaluated = {}
    for keep in (False, True):
        mcfg = compose_config(["data=fake", "method=be", f"method.keep_shadow_unit={str(keep).lower()}",
                               "method.lr=0.05", "method.epochs=5"]).method
        out = create_method(mcfg).unlearn(model_for(cfg, task), view(task, cfg, needs=("forget",)))
        fx, _ = task.split("forget")
        with torch.no_grad():
            logits = out(fx)
        assert logits.shape[1] == task.num_classes + keep
        metrics, arrays = evaluate(out, task, cfg.eval)
        assert arrays["forget_logits"].shape[1] == task.num_classes + keep
        assert all(0.0 <= metrics[m] <= 100.0 for m in ("UA", "RA", "TA", "MIA"))
        if keep:  # accuracy is the argmax over K+1: a D_f image predicted as the shadow class is forgotten
            shadow = (logits.argmax(1) == task.num_classes).float().mean().item() * 100
            assert shadow > 0 and metrics["UA"] >= shadow - 1e-6
        evaluated[keep] = metrics
    assert evaluated[False] != evaluated[True]


@pytest.mark.parametrize("fidelity,outputs", [("paper", 0), ("official", 1)])
def test_be_shadow_unit_left_null_follows_the_fidelity(task, cfg, fidelity, outputs):
    mcfg = compose_config(["data=fake", "method=be", f"method.fidelity={fidelity}", "method.epochs=1"]).method
    out = create_method(mcfg).unlearn(model_for(cfg, task), view(task, cfg, needs=("forget",)))
    with torch.no_grad():
        assert out(task.split("forget")[0]).shape[1] == task.num_classes + outputs


def test_unlink_middle_layer_and_registration_order(task, cfg):
    model = model_for(cfg, task)
    names = weight_layers(model)
    assert middle_layer(model) == names[len(names) // 2]
    assert resolve_layers(model, ["last", names[0], "middle"]) == [names[0], names[len(names) // 2], names[-1]]
    with pytest.raises(ConfigError, match="middle"):
        resolve_layers(model, ["net.nope"])


def run_dagger(task, cfg, beta):
    mcfg = compose_config(["data=fake", "method=unlink_dagger_random", f"method.beta={beta}"]).method
    model = model_for(cfg, task)
    before = {n: m.weight.detach().clone() for n, m in model.named_modules() if n in weight_layers(model)}
    out = create_method(mcfg).unlearn(model, view(task, cfg))
    after = {n: m.weight.detach().clone() for n, m in out.named_modules() if n in before}
    return before, after, middle_layer(out)


def test_unlink_dagger_random_edits_only_the_middle_layer_and_beta_sets_what_is_removed(task, cfg):
    before, after, middle = run_dagger(task, cfg, 0.3)
    changed = [n for n in before if not torch.equal(before[n], after[n])]
    assert changed == [middle]
    counts, edits = {}, {}
    for beta in (0.05, 0.3, 0.9):
        mcfg = compose_config(["data=fake", "method=unlink_dagger_random", f"method.beta={beta}"]).method
        model, data = model_for(cfg, task), view(task, cfg)
        basis, eta = dagger_basis(model, middle, data, forget_batches(data, mcfg.n_shot, mcfg.batch_size), mcfg)
        counts[beta] = basis.shape[1]
        assert bool((eta > 0).all() and (eta <= 1).all())
        _, after_beta, _ = run_dagger(task, cfg, beta)
        edits[beta] = after_beta[middle]
    assert 0 < counts[0.05] < counts[0.3] < counts[0.9]  # a larger beta keeps more small-sigma directions
    assert not torch.equal(edits[0.05], edits[0.9])


def test_unlink_dagger_random_removes_rayleigh_weighted_small_singular_directions(task, cfg):
    """The edit is W U diag(eta) U^T with U = the forget features' singular vectors below beta (orthonormal) and
    eta = min(1, R(u)): every removed direction lies in that span."""
    from unlearn_bench.methods.unlink import below_beta, layer_gram, singular_vectors

    mcfg = compose_config(["data=fake", "method=unlink_dagger_random", "method.beta=0.3"]).method
    model = model_for(cfg, task)
    data = view(task, cfg)
    name = middle_layer(model)
    layer = dict(model.named_modules())[name]
    gram, _ = layer_gram(model, name, forget_batches(data, mcfg.n_shot, mcfg.batch_size))
    u, sigma = singular_vectors(gram)
    kept = u[:, below_beta(sigma, 0.3, True)]
    w0 = layer.weight.detach().reshape(len(layer.weight), -1).double().clone()
    create_method(mcfg).unlearn(model, view(task, cfg))
    w1 = layer.weight.detach().reshape(len(layer.weight), -1).double()
    removed = w0 - w1
    outside = removed - removed @ kept @ kept.t()
    assert float(removed.norm()) > 0 and float(outside.norm()) < 1e-4 * float(removed.norm())


def sweep_methods(experiment):
    from tests.test_config import sweep_values
    return sweep_values(experiment)["method"]


@pytest.mark.parametrize("experiment", ["salun_tablea4", "salun_tablea4_cpu", "salun_tablea8", "salun_tablea8_cpu"])
def test_cifar100_and_tiny_imagenet_presets_use_the_mixed_layout(experiment):
    for method in sweep_methods(experiment):
        if method in ("rl", "salun", "salun_soft", "rl_ms"):
            pytest.fail(f"{experiment} sweeps {method} with the CIFAR-10 layout")
        if method.endswith("_mixed"):
            assert compose_config([f"method={method}"]).method.layout == "mixed"


@pytest.mark.parametrize("experiment", ["unlink_table10", "unlink_table10_cpu"])
def test_unlink_table10_runs_the_random_forgetting_variant(experiment):
    assert "unlink_dagger_random" in sweep_methods(experiment)
    method = compose_config(["method=unlink_dagger_random"]).method
    assert list(method.layers) == ["middle"] and method.beta is not None and method.name == "unlink_dagger"


def test_sure_table1_trains_with_sures_recipe():
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from unlearn_bench.compose import register_configs
    from unlearn_bench.config import CONF_DIR

    register_configs()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        train = compose("config", overrides=["experiment=sure_table1"]).train
        cpu = compose("config", overrides=["experiment=sure_table1_cpu"]).train
    assert (train.epochs, train.lr, train.weight_decay, list(train.milestones)) == (150, 0.01, 5e-4, [80, 150])
    assert train.crop_padding == 0 and not train.hflip
    assert cpu.name == "digits"


OFFICIAL_RUNS = {  # method -> overrides that keep its run small on the fake data
    "jit": ["method.n_draws=2", "method.lr=0.01", "method.sigma=0.1", "method.batch_size=4"],
    "rl": ["method.epochs=1"], "salun": ["method.epochs=1"], "scrub": ["method.epochs=6", "method.lr=0.05"],
    "be": ["method.lr=0.05", "method.epochs=1"], "iu": ["method.n_samples=8"], "forget_vector": ["method.epochs=1"],
}  # bs: its rounding of the FGSM image rarely moves an argmax on this data (the next test checks the image)


@pytest.mark.parametrize("method", sorted(OFFICIAL_RUNS))
def test_fidelity_official_runs_cites_its_sources_and_changes_the_result(cfg, method):
    """Every departure names the file and line it follows; the official mode trains and differs from the paper's
    (same seed and data; for SCRUB only once an epoch passes the code's first decay, epoch 6)."""
    assert all(re.search(r"\.(py|ipynb)[:)]|\.py:\d+|\.ipynb", line) for line in method_class(method).official)
    outputs = {}
    augmenting = compose_config(["data=fake", "scenario=random10", "train.hflip=true"])  # IU's official gradients
    task = make_task(augmenting.data, augmenting.scenario, augmenting.train, 0, "cpu")  # see the augmentation
    for fidelity in ("paper", "official"):
        mcfg = compose_config(["data=fake", f"method={method}", f"method.fidelity={fidelity}",
                               *OFFICIAL_RUNS[method]]).method
        model = create_method(mcfg).unlearn(model_for(cfg, task),
                                            view(task, augmenting, needs=method_class(method).needs))
        x = task.split("test")[0][:32]
        outputs[fidelity] = model(to_float(x)).detach()
    assert torch.isfinite(outputs["official"]).all()
    assert not torch.equal(outputs["paper"], outputs["official"])


def test_bs_official_rounds_the_fgsm_image_to_the_8_bit_grid(task):
    from unlearn_bench.methods.boundary import fgsm_nearest_label

    seen = []
    torch.manual_seed(0)
    linear = nn.Sequential(nn.Flatten(), nn.LazyLinear(task.num_classes))
    x, y = to_float(task.split("forget")[0][:8]), task.split("forget")[1][:8]
    linear(x)

    def spy(inputs):
        seen.append(inputs.detach())
        return linear(inputs)

    for discretize in (False, True):
        fgsm_nearest_label(spy, x, y, 0.1003, discretize)
    on_grid = [torch.allclose(image * 255, (image * 255).round(), atol=1e-4) for image in seen[1::2]]
    assert on_grid == [False, True]  # boundary_sh.py:35-36: round(255 x) / 255


def test_scrub_official_learning_rate_follows_the_code_step_decay():
    from unlearn_bench.methods.scrub import official_lr_factor

    # util.py:22-30 written out: epoch e (from 1) gets 0.1 ** #{m in (5, 8, 9): e > m}
    expected = [0.1 ** sum(e > m for m in (5, 8, 9)) for e in range(1, 11)]
    assert [official_lr_factor(e) for e in range(10)] == pytest.approx(expected)
