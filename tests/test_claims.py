"""Claim verdicts on made-up per-seed Avg. Gaps: a claim holds only where the seeds' intervals separate it."""

import pandas as pd

from unlearn_bench.claims import best_of, salun_ratio_trend, shift_resilience, unlink_close_to_retrain


def rows(gaps: dict[str, list[float]], **columns: dict[str, list[float]]) -> pd.DataFrame:
    out = [{"method": m, "seed": s, "avg_gap": g, **{c: v[m][s] for c, v in columns.items()}}
           for m, values in gaps.items() for s, g in enumerate(values)]
    return pd.DataFrame(out)


def test_best_of_holds_only_when_the_candidate_is_lowest_and_separated():
    separated = rows({"salun": [1.0, 1.1, 0.9], "rl": [3.0, 3.2, 2.8], "ft": [5.0, 5.0, 5.1]})
    measured, verdict = best_of(separated, "salun", ("rl", "ft"))
    assert verdict == "holds" and measured.startswith("salun 1.00")
    overlapping = rows({"salun": [1.0, 2.0, 3.0], "rl": [2.0, 2.5, 3.0]})
    assert best_of(overlapping, "salun", ("rl",))[1].startswith("not separated: lowest mean, but the interval "
                                                                 "overlaps rl")
    beaten = rows({"salun": [3.0, 3.1, 2.9], "rl": [1.0, 1.1, 0.9]})
    assert best_of(beaten, "salun", ("rl",))[1] == "fails: rl is lower"
    assert best_of(rows({"rl": [1.0]}), "salun", ("rl",))[1] == "not testable here"


def test_ratio_trend_needs_salun_lowest_at_every_ratio():
    tables = {"random10": rows({"salun": [1.0, 1.0], "rl": [2.0, 2.0]}),
              "random50": rows({"salun": [4.0, 4.0], "rl": [3.0, 3.0]})}
    claim = salun_ratio_trend(tables, ["random10", "random50"])
    assert claim.verdict == "fails: salun is not the lowest at random50"
    assert "random50: rl 3.00, salun 4.00" in claim.measured


def test_shift_resilience_compares_the_moves_of_ua_and_ta():
    clean = rows({"ft": [1.0, 1.0]}, UA={"ft": [10.0, 10.0]}, TA={"ft": [80.0, 80.0]})
    shifted = rows({"ft": [1.0, 1.0]}, UA={"ft": [11.0, 11.0]}, TA={"ft": [70.0, 70.0]})
    claim = shift_resilience({"classwise": clean, "classwise_gn1": shifted}, "classwise", ["classwise_gn1"])
    assert claim.verdict == "holds" and "UA 1.00, TA 10.00" in claim.measured and "|" not in claim.rule
    wrecked = rows({"ft": [1.0, 1.0], "retrain": [0.0, 0.0]}, UA={"ft": [10.0, 10.0], "retrain": [9.0, 9.0]},
                   TA={"ft": [10.0, 10.0], "retrain": [12.0, 12.0]})
    clean_with_retrain = pd.concat([clean, rows({"retrain": [0.0, 0.0]}, UA={"retrain": [9.0, 9.0]},
                                                TA={"retrain": [81.0, 81.0]})])
    claim = shift_resilience({"classwise": clean_with_retrain, "classwise_et1": wrecked}, "classwise",
                             ["classwise_et1"])
    assert claim.verdict == "not testable here" and "left out, Retrain's TA falls from 81.0 to 12.0" in claim.measured


def test_unlink_is_compared_with_the_best_method_that_trains():
    table = rows({"unlink": [1.0, 1.1, 0.9], "edit_only": [0.1, 0.1, 0.1], "rl": [3.0, 3.1, 2.9],
                  "original": [9.0, 9.0, 9.0]},
                 training_free={"unlink": [True] * 3, "edit_only": [True] * 3, "rl": [False] * 3,
                                "original": [False] * 3},
                 data_access={"unlink": ["forget"] * 3, "edit_only": ["forget"] * 3, "rl": ["forget,retain"] * 3,
                              "original": ["D"] * 3})
    claim = unlink_close_to_retrain({"classwise": table}, "classwise")
    assert "best trained rl" in claim.measured  # a closer method that trains nothing is not the yardstick
    assert claim.verdict == "holds: not separated from the best trained method"  # unlink is even below rl
