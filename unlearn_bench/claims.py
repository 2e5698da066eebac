"""The papers' headline claims, tested on a benchmark's sweeps: each claim is a rule over the per-seed Avg. Gaps to
Retrain (SalUn's definition) of the methods in one or more scenario tables, with a verdict that the seeds'
95% intervals back (``metrics.gap.seed_interval``). A claim that fails is a result, and so is one the seeds cannot
decide ("not separated"). Used by scripts/reproduce_fmnist.py; the rules are stated beside each verdict.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from unlearn_bench.metrics.gap import seed_interval
from unlearn_bench.tables import model_rows

# The methods each paper compares with, as run by the benchmark (its Table 1 or the baselines its claim names).
SALUN_BASELINES = ("ft", "rl", "ga", "l1_sparse")
SURE_TABLE1 = ("sure", "l1_sparse", "scrub", "rl")


@dataclass
class Claim:
    paper: str
    claim: str
    rule: str
    measured: str
    verdict: str


def per_seed(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows (method, seed) of one scenario's records with every metric and gap, the Original and Retrain included
    (``tables.model_rows``); ``method`` is the registered name."""
    rows = model_rows(frame[frame["status"] == "ok"])
    return rows.assign(method=rows["method_name"])


def interval(rows: pd.DataFrame, method: str, column: str = "avg_gap") -> tuple[float, float, float]:
    return seed_interval(rows.loc[rows["method"] == method, column].tolist())


def fmt(mean_low_high: tuple[float, float, float]) -> str:
    mean, low, high = mean_low_high
    return f"{mean:.2f} [{low:.2f}, {high:.2f}]"


def best_of(rows: pd.DataFrame, candidate: str, others: tuple[str, ...]) -> tuple[str, str]:
    """(measured, verdict) of "``candidate`` has the smallest Avg. Gap among ``others``": holds when its mean is the
    smallest and its interval lies below every other's; "not separated" when the smallest but overlapping; fails
    when another method's mean is smaller (separated or not, said)."""
    present = [m for m in (candidate, *others) if (rows["method"] == m).any()]
    if candidate not in present:
        return f"{candidate} has no run", "not testable here"
    stats = {m: interval(rows, m) for m in present}
    ranked = sorted(present, key=lambda m: stats[m][0])
    measured = "; ".join(f"{m} {fmt(stats[m])}" for m in ranked)
    _, low, high = stats[candidate]
    if ranked[0] != candidate:
        winner = ranked[0]
        separated = stats[winner][2] < low
        return measured, f"fails: {winner} is lower" + ("" if separated else " (not separated)")
    overlapping = [m for m in ranked[1:] if stats[m][1] <= high]
    if overlapping:
        return measured, f"not separated: lowest mean, but the interval overlaps {', '.join(overlapping)}"
    return measured, "holds"


def rank(rows: pd.DataFrame, method: str, pool: list[str]) -> int:
    means = {m: interval(rows, m)[0] for m in pool if (rows["method"] == m).any()}
    return sorted(means, key=means.get).index(method) + 1


def salun_smallest_gap(tables: dict[str, pd.DataFrame], scenario: str) -> Claim:
    measured, verdict = best_of(tables[scenario], "salun", SALUN_BASELINES)
    return Claim("SalUn (Fan et al., ICLR 2024)", f"SalUn has the smallest Avg. Gap to Retrain ({scenario})",
                 f"mean Avg. Gap [95% interval] over seeds; salun vs {', '.join(SALUN_BASELINES)}", measured, verdict)


def salun_ratio_trend(tables: dict[str, pd.DataFrame], ratios: list[str]) -> Claim:
    """SalUn Fig. 2a: SalUn keeps the smallest gap as the forgetting ratio grows."""
    methods = ("salun", *SALUN_BASELINES)
    present = [r for r in ratios if r in tables]
    lines, lowest = [], []
    for r in present:
        means = {m: interval(tables[r], m)[0] for m in methods if (tables[r]["method"] == m).any()}
        lines.append(f"{r}: " + ", ".join(f"{m} {v:.2f}" for m, v in sorted(means.items(), key=lambda kv: kv[1])))
        lowest.append(min(means, key=means.get) == "salun")
    verdict = ("holds" if all(lowest) else
               f"fails: salun is not the lowest at {', '.join(r for r, ok in zip(present, lowest) if not ok)}")
    return Claim("SalUn (Fan et al., ICLR 2024)", "Fig. 2a: SalUn stays closest to Retrain as the forgetting ratio "
                 "grows", "the lowest mean Avg. Gap among salun, ft, rl, ga, l1_sparse at every ratio",
                 "; ".join(lines), verdict)


def unlink_close_to_retrain(tables: dict[str, pd.DataFrame], scenario: str) -> Claim:
    rows = tables[scenario]
    free_of_training = rows.groupby("method")["training_free"].first()
    trained = sorted(m for m, free in free_of_training.items() if not free and m not in ("original", "retrain"))
    if not (rows["method"] == "unlink").any():
        return Claim("Unlink", "training-free, D_r-free and close to Retrain", "", "no unlink run",
                     "not testable here")
    access = rows.loc[rows["method"] == "unlink", ["training_free", "data_access"]].iloc[0]
    free = bool(access["training_free"]) and "retain" not in str(access["data_access"]).split(",")
    best = min(trained, key=lambda m: interval(rows, m)[0])
    unlink, top, original = interval(rows, "unlink"), interval(rows, best), interval(rows, "original")
    measured = (f"unlink {fmt(unlink)} (reads {access['data_access']}, training-free {free}); best trained {best} "
                f"{fmt(top)}; Original {fmt(original)}; unlink ranks {rank(rows, 'unlink', [*trained, 'unlink'])} "
                f"of {len(trained) + 1}")
    if not free:
        verdict = "fails: unlink read D_r or trained"
    elif unlink[1] > original[2]:
        verdict = "fails: farther from Retrain than the Original"
    elif unlink[1] <= top[2]:
        verdict = "holds: not separated from the best trained method"
    else:
        verdict = "fails: closer than the Original, but separated from (behind) the best trained method"
    return Claim("Unlink (anonymous OpenReview submission 2024)", f"training-free and D_r-free, yet close to Retrain "
                 f"({scenario})", "unlink's Avg. Gap interval overlaps the best training-based method's and lies "
                 "below the Original's", measured, verdict)


def jit_competitive(tables: dict[str, pd.DataFrame], full_class: str, random: str) -> Claim:
    ranks, lines = {}, []
    for scenario in (full_class, random):
        rows = tables[scenario]
        pool = sorted(set(rows["method"]) - {"original", "retrain"})
        if "jit" not in pool:
            return Claim("JiT (Foster et al., TMLR)", "zero-shot competitive on full-class, weaker on random", "",
                         f"no jit run on {scenario}", "not testable here")
        ranks[scenario] = (rank(rows, "jit", pool), len(pool))
        lines.append(f"{scenario}: jit {fmt(interval(rows, 'jit'))}, rank {ranks[scenario][0]} of {len(pool)}")
    median_rank = (ranks[full_class][1] + 1) / 2
    competitive = ranks[full_class][0] <= median_rank
    weaker = ranks[random][0] / ranks[random][1] > ranks[full_class][0] / ranks[full_class][1]
    verdict = ("holds" if competitive and weaker else
               "fails: " + " and ".join(w for w, ok in (("not in the better half on full-class", competitive),
                                                       ("not weaker on random", weaker)) if not ok))
    return Claim("JiT (Foster et al., TMLR)", "zero-shot (reads D_f only) yet competitive on full-class forgetting, "
                 "weaker on random forgetting", "jit's Avg. Gap rank in the better half of all methods on "
                 f"{full_class}, and a worse relative rank on {random}", "; ".join(lines), verdict)


def sure_ranking(tables: dict[str, pd.DataFrame], scenario: str) -> Claim:
    measured, verdict = best_of(tables[scenario], "sure", SURE_TABLE1[1:])
    return Claim("SURE (anonymous OpenReview submission 2024)", f"Table 1: SURE closest to Retrain among SURE, "
                 f"L1Sparse, SCRUB, RL ({scenario})", "mean Avg. Gap [95% interval]; sure vs l1_sparse, scrub, rl",
                 measured, verdict)


def forget_vector_top_two(tables: dict[str, pd.DataFrame], scenario: str) -> Claim:
    rows = tables[scenario]
    pool = sorted(set(rows["method"]) - {"original", "retrain"})
    if "forget_vector" not in pool:
        return Claim("Forget Vector (Sun et al., arXiv 2412.16780, 2024)", "top two by Avg. Gap", "",
                     "no forget_vector run", "not testable here")
    place = rank(rows, "forget_vector", pool)
    return Claim("Forget Vector (Sun et al., arXiv 2412.16780, 2024)", f"among the top two methods by Avg. Gap "
                 f"({scenario})", "forget_vector's rank by mean Avg. Gap among all methods run",
                 f"forget_vector {fmt(interval(rows, 'forget_vector'))}, rank {place} of {len(pool)}",
                 "holds" if place <= 2 else f"fails: rank {place}")


def shift_resilience(tables: dict[str, pd.DataFrame], clean: str, shifted: list[str]) -> Claim:
    """Forget Vector §4 / Fig. 2: under data shifts, unlearning (UA) moves less than generalisation (TA)."""
    lines, holds = [], []
    for name in shifted:
        if name not in tables:
            continue
        base, moved = tables[clean], tables[name]
        retrain_ta = (interval(base, "retrain", "TA")[0], interval(moved, "retrain", "TA")[0])
        if retrain_ta[1] < retrain_ta[0] / 2:  # the shift destroys the images: no model generalises under it
            lines.append(f"{name}: left out, Retrain's TA falls from {retrain_ta[0]:.1f} to {retrain_ta[1]:.1f}")
            continue
        common = sorted(set(base["method"]) & set(moved["method"]) - {"original", "retrain"})
        delta = {k: sum(abs(interval(moved, m, k)[0] - interval(base, m, k)[0]) for m in common) / len(common)
                 for k in ("UA", "TA")}
        lines.append(f"{name}: mean abs. change over {len(common)} methods, UA {delta['UA']:.2f}, TA {delta['TA']:.2f}")
        holds.append(delta["UA"] < delta["TA"])
    verdict = "not testable here" if not holds else ("holds" if all(holds) else "fails at some shift")
    return Claim("Forget Vector (Sun et al., arXiv 2412.16780, 2024)", "under forget-data shifts (GN, ET) unlearning "
                 "is resilient while generalisation is more vulnerable", "mean over methods of abs(UA(shift) - "
                 "UA(clean)) below that of TA, for each shift under which Retrain keeps half its TA",
                 "; ".join(lines), verdict)


CLAIMS: list[Callable[[dict[str, pd.DataFrame]], Claim]] = [
    lambda t: salun_smallest_gap(t, "random10"),
    lambda t: salun_smallest_gap(t, "classwise"),
    lambda t: salun_ratio_trend(t, ["random10", "random30", "random50"]),
    lambda t: unlink_close_to_retrain(t, "classwise"),
    lambda t: jit_competitive(t, "classwise", "random10"),
    lambda t: sure_ranking(t, "classwise"),
    lambda t: forget_vector_top_two(t, "random10"),
    lambda t: forget_vector_top_two(t, "classwise"),
    lambda t: shift_resilience(t, "classwise", ["classwise_gn1", "classwise_et1"]),
]


def claims_table(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per claim; a claim whose scenario has no table is "not testable here"."""
    rows = []
    for check in CLAIMS:
        try:
            rows.append(vars(check(tables)))
        except KeyError as missing:
            rows.append({"paper": "", "claim": "", "rule": "", "measured": f"no table for {missing}",
                         "verdict": "not testable here"})
    return pd.DataFrame(rows)
