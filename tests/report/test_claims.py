"""Claim verdicts on made-up per-seed rows: paired tests, symmetric verdicts, and what never pairs."""

import pandas as pd
import pytest

from unlearn_bench.report.claims import (
    INCONCLUSIVE,
    NOT_REPRODUCED,
    REPRODUCED,
    SIMILAR_MARGIN,
    best_of,
    shift_resilience,
    similar,
    top_two,
    unlink_training_free,
)

TEN = range(10)


def rows(gaps: dict[str, list[float]], status: dict[str, list[str]] | None = None, **metrics) -> pd.DataFrame:
    """Per-seed rows of one setting: method, seed, status, avg_gap (and UA/TA where given)."""
    out = []
    for method, values in gaps.items():
        for seed, gap in enumerate(values):
            row = {"method": method, "seed": seed, "avg_gap": gap,
                   "status": (status or {}).get(method, ["ok"] * len(values))[seed],
                   "data_access": "forget", "training_free": False, "rte_s": 1.0}
            row.update({k: v[method][seed] for k, v in metrics.items()})
            out.append(row)
    return pd.DataFrame(out)


def claim(kind, frame, candidate, others):
    return kind({"s": frame}, "s", candidate, others, ("P", "cite"), "where", "quote")


def test_best_of_is_reproduced_only_when_lower_than_every_other_by_the_paired_test():
    lower = rows({"a": [1.0 + 0.1 * s for s in TEN], "b": [2.0 + 0.1 * s for s in TEN],
                  "c": [1.5 + 0.1 * s + 0.01 * s for s in TEN]})
    found = claim(best_of, lower, "a", ("b", "c"))
    # a - b = -1 on every seed: only the all-plus / all-minus sign vectors reach it: p = 2/1024; Holm x2 for the
    # smaller of the two (equal here) -> 0.0039
    assert found.verdict == REPRODUCED
    assert found.comparisons[0].p == pytest.approx(2 / 1024) and found.comparisons[0].p_holm == pytest.approx(4 / 1024)
    beaten = rows({"a": [2.0] * 10, "b": [1.0 + 0.01 * s for s in TEN]})
    assert claim(best_of, beaten, "a", ("b",)).verdict == NOT_REPRODUCED


def test_three_seeds_cannot_decide_even_a_perfectly_consistent_difference():
    found = claim(best_of, rows({"a": [1.0, 1.0, 1.0], "b": [5.0, 6.0, 7.0]}), "a", ("b",))
    assert found.comparisons[0].p == pytest.approx(0.25) and found.verdict == INCONCLUSIVE


def test_a_narrow_win_and_a_narrow_loss_are_both_inconclusive():
    noise = [0.5, -0.5, 0.4, -0.6, 0.3, -0.2, 0.1, -0.3, 0.2, -0.1]
    base = [3.0] * 10
    win = rows({"a": [b + n - 0.05 for b, n in zip(base, noise)], "b": base})
    loss = rows({"a": [b + n + 0.05 for b, n in zip(base, noise)], "b": base})
    assert claim(best_of, win, "a", ("b",)).verdict == INCONCLUSIVE
    assert claim(best_of, loss, "a", ("b",)).verdict == INCONCLUSIVE


def test_top_two_allows_one_better_method_and_is_refuted_by_two():
    cand = [2.0 + 0.1 * s for s in TEN]
    two_worse_one_better = rows({"fv": cand, "x": [c + 1 for c in cand], "y": [c + 2 + 0.01 * s for s, c in
                                                                              zip(TEN, cand)],
                                 "z": [c - 1 for c in cand]})
    assert claim(top_two, two_worse_one_better, "fv", ("x", "y", "z")).verdict == REPRODUCED
    two_better = rows({"fv": cand, "x": [c - 1 for c in cand], "y": [c - 2 - 0.01 * s for s, c in zip(TEN, cand)],
                       "z": [c + 1 for c in cand]})
    assert claim(top_two, two_better, "fv", ("x", "y", "z")).verdict == NOT_REPRODUCED


def test_similar_is_non_inferiority_within_the_margin():
    other = [3.0 + 0.1 * s for s in TEN]
    close = rows({"u": [o + SIMILAR_MARGIN - 1.0 + 0.01 * s for s, o in zip(TEN, other)], "o": other})
    assert claim(similar, close, "u", ("o",)).verdict == REPRODUCED  # worse by 1, within the margin of 2
    far = rows({"u": [o + SIMILAR_MARGIN + 1.0 + 0.01 * s for s, o in zip(TEN, other)], "o": other})
    assert claim(similar, far, "u", ("o",)).verdict == NOT_REPRODUCED


def test_a_collapsed_seed_never_pairs_and_is_reported():
    status = {"a": ["collapsed"] + ["ok"] * 9}
    found = claim(best_of, rows({"a": [0.0] + [1.0] * 9, "b": [2.0 + 0.01 * s for s in TEN]}, status), "a", ("b",))
    assert found.comparisons[0].pairs == 9 and "1 collapsed" in found.measured


def test_unlink_that_reads_the_retain_set_is_not_reproduced():
    frame = rows({"unlink": [1.0] * 10, "salun": [1.0] * 10, "l1_sparse": [1.0] * 10})
    frame["training_free"] = frame["method"] == "unlink"
    assert "training-free True" in unlink_training_free({"classwise": frame}).measured
    frame.loc[frame["method"] == "unlink", "data_access"] = "forget,retain"
    assert unlink_training_free({"classwise": frame}).verdict == NOT_REPRODUCED


def test_shift_resilience_pairs_the_moves_of_ua_and_ta_by_seed():
    methods = ("retrain", "ft")
    clean = rows({m: [1.0] * 10 for m in methods}, UA={m: [10.0] * 10 for m in methods},
                 TA={m: [80.0] * 10 for m in methods})
    shifted = rows({m: [1.0] * 10 for m in methods}, UA={m: [10.5] * 10 for m in methods},
                   TA={m: [70.0 - 0.1 * s for s in TEN] for m in methods})
    found = shift_resilience({"classwise": clean, "classwise_gn1": shifted}, methods=methods)
    assert found.verdict == REPRODUCED and "|dUA| 0.50" in found.measured
    assert shift_resilience({"classwise": clean, "classwise_gn1": clean}, methods=methods).verdict == INCONCLUSIVE
