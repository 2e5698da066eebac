"""The attack registry and eval=deep (unlearn_bench/attacks/) through the runner on digits: the known answers
(Retrain against itself scores as equal, the original against Retrain as different), reference scores computed once
per seed and reused by every method, KLoM on the challenge's cached Retrain population, and bad config values
refused before any training."""

import copy

import numpy as np
import pytest
import torch

import unlearn_bench.attacks as attacks
from tests.conftest import compose_config
from unlearn_bench.attacks import klom, relearn
from unlearn_bench.cache import ModelCache
from unlearn_bench.errors import ConfigError, DatasetNotFoundError
from unlearn_bench.keys import REFERENCE_EVAL
from unlearn_bench.runner import run, validate
from unlearn_bench.training import DivergedError

N, STEPS = 3, relearn.RELEARN_BUDGETS["cheap"].steps
DEEP = ("relearn", "representation", "klom")  # the attacks eval=deep enables, each scoring the three models
SETUP = ["data=digits", "scenario=classwise", "eval=deep", f"eval.klom.num_models={N}", "eval.relearn.budget=cheap",
         "train.epochs=3", "progress=false", "device=cpu", "train.amp=false"]


def test_eval_deep_enables_every_attack_and_its_values_have_sources(tmp_path):
    cfg = compose_config(["eval=deep", f"cache_dir={tmp_path}"])
    assert list(attacks.ATTACKS) == ["ulira", "challenge", "relearn", "representation", "klom"]
    assert [a.name for a in attacks.enabled_attacks(cfg)] == list(DEEP)
    assert not attacks.enabled_attacks(compose_config([f"cache_dir={tmp_path}"]))
    from tests.test_citations import ROOT, unsourced_lines

    assert not unsourced_lines((ROOT / "conf" / "eval" / "deep.yaml").read_text())


@pytest.mark.parametrize("override, message", [
    ("eval.relearn.budget=huge", r"eval\.relearn\.budget='huge' is not supported; allowed: paper, cheap"),
    ("eval.relearn.k_shot=0", r"eval\.relearn\.k_shot=0 must be >= 1"),
    ("eval.representation.knn_k=0", r"eval\.representation\.knn_k=0 must be >= 1"),
    ("eval.klom.num_models=1", r"eval\.klom\.num_models=1 must be >= 2"),
    ("scenario=iterative", r"eval\.klom re-runs the method"),
])
def test_bad_attack_values_are_refused_before_training(tmp_path, override, message):
    with pytest.raises(ConfigError, match=message):
        validate(compose_config(["eval=deep", "method=ga", override, f"cache_dir={tmp_path}"]))


def test_reference_evaluation_does_not_depend_on_the_attack_config(tmp_path):
    default = REFERENCE_EVAL.pick(compose_config([f"cache_dir={tmp_path}"]).eval)
    deep = compose_config(["eval=deep", "eval.klom.num_models=5", f"cache_dir={tmp_path}"])
    assert REFERENCE_EVAL.pick(deep.eval) == default


@pytest.mark.parametrize("budget, points", [(relearn.RelearnBudget("sgd", 0.5, 8, eval_every=1, steps=30),
                                              list(range(31))),
                                           (relearn.RelearnBudget("adam", 0.05, 8, eval_every=7, steps=30,
                                                                  cosine=True), [0, 7, 14, 21, 28, 30])])
def test_relearn_curve_leaves_the_model_alone_and_logs_its_measurement_steps(budget, points):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2))
    before = copy.deepcopy(model.state_dict())
    x = torch.zeros(8, 1, 2, 2, dtype=torch.uint8)
    x[4:] = 255
    y = torch.tensor([0] * 4 + [1] * 4)
    batches = iter([(x.float() / 255, y)] * 30)
    curve, at = relearn.relearn_curve(model, batches, 30, budget, x, y.numpy(), 8, False)
    assert at.tolist() == points and len(curve) == len(points) and curve[-1] == 100.0  # separable clusters learnt
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_few_shot_relearning_keeps_the_batch_norm_statistics_it_was_asked_to_keep():
    """Fine-tuning on examples of one class (the k-shot attack) replaced the running statistics with that class's,
    and a model that knew the class lost it without learning anything (lr 0 here)."""
    torch.manual_seed(0)
    norm, head = torch.nn.BatchNorm1d(1), torch.nn.Linear(1, 2)
    with torch.no_grad():  # class 0 at x = +1, class 1 at x = -1; statistics of both; logits (z, -z)
        norm.running_mean.zero_(), norm.running_var.fill_(1.0)
        head.weight.copy_(torch.tensor([[1.0], [-1.0]])), head.bias.zero_()
    model = torch.nn.Sequential(norm, head)
    forget_x = 1.0 + 0.3 * torch.randn(200, 1)
    forget_y = torch.zeros(200, dtype=torch.long)
    budget = relearn.RelearnBudget("sgd", 0.0, 10, eval_every=10, steps=50)
    shots = [(forget_x[:10], forget_y[:10])] * 50
    kept, _ = relearn.relearn_curve(model, iter(shots), 50, budget, forget_x, forget_y.numpy(), 64, False,
                                    keep_norm_statistics=True)
    replaced, _ = relearn.relearn_curve(model, iter(shots), 50, budget, forget_x, forget_y.numpy(), 64, False)
    assert kept[0] == replaced[0] > 99 and np.all(kept == kept[0])
    assert replaced[-1] < 80  # the class's own statistics centre it on 0: a coin flip


def test_the_paper_budget_is_100_epochs_of_the_fine_tuned_set():
    paper = relearn.RELEARN_BUDGETS["paper"]
    assert paper.steps_for(3600) == 100 * 29 and paper.steps_for(10) == 100  # ceil(3600 / 128) = 29 batches


def test_weight_distance_is_zero_to_itself_and_the_l2_norm_of_a_shift():
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    shifted = copy.deepcopy(model)
    with torch.no_grad():
        shifted.weight += 1.0  # 6 entries moved by 1: distance sqrt(6)
    assert relearn.weight_distance_to_original(model, model) == 0.0
    assert relearn.weight_distance_to_original(shifted, model) == pytest.approx(np.sqrt(6))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Retrain, then FT, on one seed and cache, recording which roles each attack scored and every cache lookup."""
    root = tmp_path_factory.mktemp("deep")
    scored, lookups = [], []
    real_load_or_build = ModelCache.load_or_build

    def load_or_build(self, kind, *args, **kwargs):
        model, meta = real_load_or_build(self, kind, *args, **kwargs)
        lookups.append((kind, meta["cached"]))
        return model, meta

    records, calls = {}, {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ModelCache, "load_or_build", load_or_build)
        for attack in (attacks.ATTACKS[name] for name in DEEP):
            def score(ctx, role, references, real=attack.score, name=attack.name):
                scored.append((name, role))
                return real(ctx, role, references)
            patch.setattr(attack, "score", score)
        for method, overrides in (("retrain", []), ("ft", ["method=digits/ft", "method.epochs=1"])):
            scored.clear()
            lookups.clear()
            cfg = compose_config([*SETUP, f"method={method}", *overrides, f"cache_dir={root / 'cache'}"])
            records[method] = run(cfg, output_dir=root / method)
            calls[method] = (list(scored), list(lookups))
    arrays = {m: dict(np.load(root / m / "arrays.npz")) for m in records}
    return root, records, arrays, calls


def assert_known_answers(retrain, cka_below=0.95):
    """The known answers of a ``method=retrain`` record of a class-wise forget set under eval=deep (the original's
    CKA with Retrain on D_f must be below ``cka_below``)."""
    assert retrain.status == "ok"
    # Retrain against itself: the same features, zero weight distance, the reference's own KLoM and relearning.
    assert retrain.metrics["CKA_f"] == pytest.approx(1.0) and retrain.metrics["CKA_test"] == pytest.approx(1.0)
    assert retrain.original_metrics["W_dist_original"] == 0.0 and "W_dist_retrain" not in retrain.metrics
    for key in ("KLoM_f", "KLoM_test", "Relearn_Dr", "Relearn_Df", "Relearn_Df_AUC", "kNN_f", "W_dist_original"):
        assert retrain.gaps[key] == 0.0, key
    # The original against Retrain (class-wise forgetting: the original still knows the class).
    original = retrain.original_metrics
    assert original["CKA_f"] < cka_below and retrain.metrics["W_dist_original"] > 0
    # N = 3 models per side: the reference's 20 bins leave Retrain against Retrain at several nats already.
    assert original["KLoM_f"] > retrain.metrics["KLoM_f"]
    assert original["Relearn_Df"] > retrain.metrics["Relearn_Df"] + 30
    assert original["Relearn_Dr_AUC"] > retrain.metrics["Relearn_Dr_AUC"] + 30
    assert all(retrain.metrics[k] >= 0 for k in ("Relearn_s", "Representation_s", "KLoM_s"))


def test_retrain_scores_as_retrain_and_the_original_as_different(runs):
    _, records, _, _ = runs
    assert_known_answers(records["retrain"])


@pytest.mark.slow
def test_known_answers_on_fashion_mnist(tmp_path):
    # 1000 images and small batches: an original that has learnt the forgotten class in a CPU minute.
    cfg = compose_config(["data=fashion_mnist", "data.train_subset=1000", *SETUP[1:], "train.epochs=5",
                          "train.batch_size=32", "method=retrain", f"cache_dir={tmp_path / 'cache'}"])
    try:
        record = run(cfg, output_dir=tmp_path / "retrain")
    except DatasetNotFoundError:
        pytest.skip("Fashion-MNIST files not found")
    # Fashion-MNIST's forgotten T-shirts look like the shirts and pullovers Retrain learns: its features of D_f stay
    # close to the original's (CKA ~0.99), so CKA separates the two less than on digits; the other metrics do.
    assert_known_answers(record, cka_below=0.9999)


def test_reference_scores_are_computed_once_and_reused_by_the_next_method(runs):
    root, records, _, calls = runs
    retrain_scored, _ = calls["retrain"]
    ft_scored, ft_lookups = calls["ft"]
    # Retrain's run scores the two references (its own score is Retrain's); FT's only scores itself.
    assert sorted(retrain_scored) == sorted((a, r) for a in DEEP for r in ("retrain", "original"))
    assert sorted(ft_scored) == sorted((a, "unlearned") for a in DEEP)
    for key in ("CKA_f", "KLoM_f", "Relearn_Df", "W_dist_original"):
        assert records["ft"].retrain_metrics[key] == records["retrain"].metrics[key]
        assert records["ft"].original_metrics[key] == records["retrain"].original_metrics[key]
    # KLoM's Retrain population is the challenge's (index 0 = the run's Retrain): built once, by the first run; the
    # next method reads the population's margins from the cached reference score without loading the models.
    assert [c for k, c in calls["retrain"][1] if k == "challenge_retrain"] == [False] * (N - 1)
    assert not [k for k, _ in ft_lookups if k == "challenge_retrain"]
    assert len(list((root / "cache" / "challenge_retrain").glob("*.pt"))) == N - 1
    # KLoM's N - 1 further originals: trained once by the first run, loaded by the next method's population.
    assert [c for k, c in calls["retrain"][1] if k == "klom_original"][:N - 1] == [False] * (N - 1)
    assert {c for k, c in ft_lookups if k == "klom_original"} == {True}
    assert len(list((root / "cache" / "klom_original").glob("*.pt"))) == N - 1


def test_relearning_curves_and_costs_are_recorded(runs):
    root, records, arrays, _ = runs
    for prefix in ("", "original_", "retrain_"):
        for curve in ("relearn_dr_curve", "relearn_df_curve"):
            assert arrays["ft"][prefix + curve].shape == (STEPS + 1,)
    for steps in ("relearn_dr_steps", "relearn_df_steps"):  # budget=cheap: measured after every step
        np.testing.assert_array_equal(arrays["ft"][steps], np.arange(STEPS + 1))
    assert arrays["ft"]["klom_f"].shape == (records["ft"].forget_size,)
    np.testing.assert_allclose(arrays["ft"]["retrain_relearn_df_curve"], arrays["retrain"]["relearn_df_curve"])
    assert records["ft"].metrics["Relearn_Df"] == pytest.approx(float(arrays["ft"]["relearn_df_curve"][-1]))
    from unlearn_bench.report import cli as report

    assert report.main([str(root), "--metrics", "deep", "--reference", "none"]) == 0


def test_a_diverging_klom_population_gives_nan_not_a_failed_run(runs, monkeypatch):
    root, _, _, _ = runs

    def diverge(*args, **kwargs):
        raise DivergedError("loss became NaN")

    monkeypatch.setattr(klom, "population_unlearned", diverge)
    cfg = compose_config([*SETUP, "method=digits/ga", "method.epochs=1", f"cache_dir={root / 'cache'}"])
    record = run(cfg, output_dir=root / "ga")
    assert record.status == "ok"
    assert np.isnan(record.metrics["KLoM_f"]) and not np.isnan(record.retrain_metrics["KLoM_f"])
    assert np.isfinite(record.metrics["CKA_f"]) and np.isfinite(record.metrics["Relearn_Df"])
