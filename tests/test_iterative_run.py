"""SalUn Table A3's iterative unlearning: rounds chained through the cache, Retrain per round, cumulative D_f."""

import numpy as np
import pytest
import torch

import unlearn_bench.runner as runner
from tests.conftest import compose_config
from unlearn_bench.data.scenarios import create_scenario
from unlearn_bench.data.task import make_task
from unlearn_bench.errors import ConfigError
from unlearn_bench.methods import method_class

TINY = ["data=digits", "train.epochs=2", "model.width=8", "progress=false", "scenario=iterative",
        "scenario.rounds=3", "method=ft", "method.epochs=1"]


def run(tmp_path, cache, round_k, out):
    cfg = compose_config([*TINY, f"cache_dir={cache}", f"scenario.round={round_k}"])
    return runner.run(cfg, output_dir=tmp_path / out)


def test_each_round_sees_its_new_examples_and_retains_the_rest():
    cfg = compose_config([*TINY, "scenario.round=3"])
    task = make_task(cfg.data, cfg.scenario, cfg.train, cfg.seed, "cpu")
    n = round(0.1 * len(task.train_y))
    scenario = create_scenario(cfg.scenario)
    rounds = [task.with_forget(*scenario.round_split(len(task.train_y), cfg.seed, k)) for k in (1, 2, 3)]
    assert all(len(r.forget_idx) == n for r in rounds)
    assert len(np.unique(np.concatenate([r.forget_idx for r in rounds]))) == 3 * n  # disjoint
    np.testing.assert_array_equal(np.sort(np.concatenate([r.forget_idx for r in rounds])), task.forget_idx)
    third = rounds[2]
    assert len(third.retain_idx) == len(task.train_y) - 3 * n  # earlier rounds are in neither D_f nor D_r
    assert not np.isin(third.retain_idx, task.forget_idx).any()


def test_rounds_chain_through_the_cache_and_score_the_cumulative_forget_set(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    starts = []  # the parameters each round's unlearning starts from
    real = method_class("ft").unlearn
    monkeypatch.setattr(method_class("ft"), "unlearn", lambda self, model, view: starts.append(
        {name: p.detach().clone() for name, p in model.named_parameters()}) or real(self, model, view))
    records = [run(tmp_path, cache, k, f"r{k}") for k in (1, 2, 3)]
    assert len(starts) == 3  # each round unlearned once, none rebuilt
    n = records[0].forget_size
    assert [r.forget_size for r in records] == [n, 2 * n, 3 * n]  # scored on everything forgotten so far
    assert all(r.status == "ok" and not r.extra["retrain_cached"] for r in records)  # a Retrain per round
    assert not records[0].extra["original_cached"] and records[2].extra["original_cached"]
    # "the model of round k is the original of round k+1": round k+1 starts from round k's stored model
    stored = sorted((cache / "iterative").glob("*.pt"), key=lambda p: p.stat().st_mtime)
    assert len(stored) == 3
    for k in (1, 2):
        weights = torch.load(stored[k - 1], weights_only=True)
        assert all(torch.equal(value, weights[name]) for name, value in starts[k].items())
        assert not all(torch.equal(value, starts[0][name]) for name, value in starts[k].items())

    # Round 3 alone in a new cache builds rounds 1 and 2 first: the same model as the sweep
    alone = run(tmp_path, tmp_path / "other", 3, "alone")
    assert alone.metrics == pytest.approx(records[2].metrics)


def test_iterative_refuses_a_wrapper_method_and_a_bad_round(tmp_path):
    for wrapper in ("forget_vector", "forget_vector_compositional"):
        with pytest.raises(ConfigError, match=f"method={wrapper} returns a wrapper"):
            runner.validate(compose_config([*TINY, f"method={wrapper}", f"cache_dir={tmp_path}"]))
    with pytest.raises(ConfigError, match=r"scenario.round=4 must be in \[1, 3\]"):
        runner.validate(compose_config([*TINY, "scenario.round=4", f"cache_dir={tmp_path}"]))
    with pytest.raises(ConfigError, match="would forget all of D"):
        runner.validate(compose_config([*TINY, "scenario.ratio=0.4", f"cache_dir={tmp_path}"]))
