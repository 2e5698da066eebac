"""The committed Fashion-MNIST benchmark: one claim's verdict and p-values recomputed from its per-seed CSV by a
paired test written out here, independently of unlearn_bench.stats / claims."""

import itertools
import json
from pathlib import Path

import pandas as pd
import pytest

from unlearn_bench.benchmark import SHIFTED, on_edge, preset_sha, write_report

RESULTS = Path(__file__).resolve().parents[1] / "results" / "fmnist"
BASELINES = ("ft", "rl", "ga", "iu", "l1_sparse", "bs", "be")  # SalUn Table 1's baselines


def exact_sign_flip(differences: list[float]) -> float:
    """Two-sided: the share of the 2^n sign assignments whose |sum| reaches the observed |sum|."""
    observed = abs(sum(differences))
    hits = 0
    for signs in itertools.product((1, -1), repeat=len(differences)):
        hits += abs(sum(s * d for s, d in zip(signs, differences))) >= observed - 1e-9 * sum(map(abs, differences))
    return hits / 2 ** len(differences)


def test_salun_random10_verdict_and_p_values_follow_from_the_committed_csv():
    seeds = pd.read_csv(RESULTS / "seeds" / "random10.csv")
    claims = pd.read_csv(RESULTS / "claims.csv")
    row = claims[(claims["paper"] == "SalUn") & (claims["setting"] == "random10")].iloc[0]
    ok = seeds[seeds["status"] == "ok"]
    gap = {m: dict(zip(g["seed"], g["avg_gap"])) for m, g in ok.groupby("method")}
    raw = {}
    for other in BASELINES:
        shared = sorted(set(gap["salun"]) & set(gap[other]))
        d = [gap["salun"][s] - gap[other][s] for s in shared]
        raw[other] = (sum(d) / len(d), exact_sign_flip(d))
    # Holm by hand: the i-th smallest p times (m - i + 1), running maximum, capped at 1
    order = sorted(raw, key=lambda m: raw[m][1])
    adjusted, running = {}, 0.0
    for i, m in enumerate(order):
        running = max(running, min(1.0, (len(order) - i) * raw[m][1]))
        adjusted[m] = running
    wins = sum(raw[m][0] < 0 and adjusted[m] < 0.05 for m in BASELINES)
    losses = sum(raw[m][0] > 0 and adjusted[m] < 0.05 for m in BASELINES)
    verdict = "not reproduced" if losses else "reproduced" if wins == len(BASELINES) else "inconclusive"
    assert row["verdict"] == verdict
    committed = {c["other"]: c for c in json.loads(row["comparisons"])}
    for m in BASELINES:
        assert committed[m]["p"] == pytest.approx(raw[m][1], abs=1e-12)
        assert committed[m]["p_holm"] == pytest.approx(adjusted[m], abs=1e-12)
        assert committed[m]["diff"] == pytest.approx(raw[m][0], abs=1e-9)


def test_the_report_stage_remakes_the_committed_tables_and_claims_from_the_csvs_alone(tmp_path):
    import shutil

    for folder in ("seeds", "tuning"):
        shutil.copytree(RESULTS / folder, tmp_path / folder)
    write_report(tmp_path)
    for name in ["claims.csv", "claims.md", "overview.md", "tuning.md",
                 *(f"{p.stem}.md" for p in (RESULTS / "seeds").glob("*.csv"))]:
        assert (tmp_path / name).read_text() == (RESULTS / name).read_text(), name


def test_every_committed_row_comes_from_the_committed_preset():
    for path in (RESULTS / "seeds").glob("*.csv"):
        rows = pd.read_csv(path).dropna(subset=["preset_sha"])
        setting = SHIFTED.get(path.stem, (path.stem,))[0]
        stale = [(r.method, r.seed) for r in rows.itertuples() if r.preset_sha != preset_sha(setting, r.method)]
        assert not stale, f"{path.name}: rows of another preset {stale}"


def test_a_value_on_the_edge_of_its_range_is_marked():
    from optuna.distributions import IntUniformDistribution, LogUniformDistribution, UniformDistribution

    lr = LogUniformDistribution(1e-4, 1e-1)
    assert on_edge(1.2e-4, lr) and not on_edge(3e-3, lr)  # log position 0.03 vs 0.47
    assert on_edge(0.88, UniformDistribution(0.1, 0.9)) and not on_edge(0.5, UniformDistribution(0, 1))
    assert on_edge(1, IntUniformDistribution(1, 11)) and not on_edge(2, IntUniformDistribution(1, 11))
