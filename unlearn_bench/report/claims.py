"""The papers' claims, as the papers state them, tested on a benchmark's per-seed rows by paired tests.

Every method of a seed shares that seed's original, Retrain and forget set, so two methods are compared on the
per-seed differences of their Avg. Gaps to Retrain (SalUn's definition) by the exact sign-flip test
(``unlearn_bench.stats``), Holm-adjusted over the comparisons one claim makes. Verdicts are symmetric:

- ``reproduced``: every comparison the claim needs goes its way at ``ALPHA`` (adjusted);
- ``not reproduced``: a comparison goes significantly against it;
- ``inconclusive``: the seeds cannot decide, whichever mean is lower.

Three kinds of claim: *best of* ("the smallest Avg. Gap among ..."), *top two* ("among the top two methods") and
*similar* ("similar performance", "competitive with"): a non-inferiority test with the margin ``SIMILAR_MARGIN``.
Only runs with status ``ok`` pair (a collapsed, diverged or failed run never ranks); the counts are reported.
Each claim names the sentence it tests and where it stands; a verdict holds "in this regime" (a 44k-weight LeNet on
3,600 Fashion-MNIST images), not for the paper's.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from unlearn_bench.metrics.gap import GAP_METRICS
from unlearn_bench.report.tables import paired_cell
from unlearn_bench.stats import holm, paired, seed_interval

ALPHA = 0.05
# "Similar" in the papers' own use: Unlink (§4.1, Table 2) calls its Avg. Gap 0.91 and SalUn's 2.82 "similar
# performance": a difference of up to 2 points counts as similar there.
SIMILAR_MARGIN = 2.0
REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE = "reproduced", "not reproduced", "inconclusive"
NOT_RUN = "not run"  # the claim's setting has no rows yet

SALUN = ("SalUn", "Fan, Liu, Zhang, Wong, Wei, Liu, \"SalUn: Empowering Machine Unlearning via Gradient-based "
         "Weight Saliency in Both Image Classification and Generation\", ICLR 2024")
UNLINK = ("Unlink", "\"Unlearn in a Blink\" (Unlink), anonymous OpenReview submission 2024")
JIT = ("JiT", "Foster, Fogarty, Schoepf, Dugue, Öztireli, Brintrup, \"An Information Theoretic Approach to Machine "
       "Unlearning\" (JiT), TMLR")
SURE = ("SURE", "\"Selective Unlearning via Representation Erasure using Domain Adversarial Training\" (SURE), "
        "anonymous OpenReview submission 2024")
FORGET_VECTOR = ("Forget Vector", "Sun, Wang, Zhang, Jia, Liu, Liu, Liu, Yan, \"Forget Vectors at Play: Universal "
                 "Input Perturbations Driving Machine Unlearning in Image Classification\", arXiv 2412.16780, 2024")


@dataclass
class Comparison:
    """``candidate - other (- margin)`` over the paired seeds: mean, pairs, raw and Holm-adjusted p."""

    other: str
    diff: float
    pairs: int
    p: float
    p_holm: float = float("nan")

    def significant(self, sign: int) -> bool:
        return self.p_holm < ALPHA and np.sign(self.diff) == sign


@dataclass
class Claim:
    paper: tuple[str, str]  # (short name, citation): a Paper
    where: str
    quote: str
    setting: str
    rule: str
    measured: str
    verdict: str
    comparisons: list[Comparison] = field(default_factory=list)


def gaps_by_seed(rows: pd.DataFrame, method: str) -> dict[int, float]:
    """A method's Avg. Gap per seed, runs with status ``ok`` only."""
    mine = rows[(rows["method"] == method) & (rows["status"] == "ok")]
    return dict(zip(mine["seed"].astype(int), mine["avg_gap"].astype(float)))


def describe(rows: pd.DataFrame, method: str) -> str:
    """``salun 3.40 [1.37, 5.44]`` (mean [95% interval] of the ok seeds), with the seeds that were not ok."""
    values = list(gaps_by_seed(rows, method).values())
    mean, low, high = seed_interval(values)
    bad = rows[(rows["method"] == method) & (rows["status"] != "ok")]["status"].value_counts()
    note = "".join(f", {n} {status}" for status, n in bad.items())
    return f"{method} {mean:.2f} [{low:.2f}, {high:.2f}] ({len(values)} seeds{note})"


def compare(rows: pd.DataFrame, candidate: str, others: tuple[str, ...], margin: float = 0.0) -> list[Comparison]:
    """Paired tests of ``candidate - other - margin`` against each of ``others``, Holm-adjusted together."""
    mine = gaps_by_seed(rows, candidate)
    found = []
    for other in others:
        theirs = {seed: gap + margin for seed, gap in gaps_by_seed(rows, other).items()}
        found.append(Comparison(other, *paired(mine, theirs)))
    for comparison, adjusted in zip(found, holm([c.p for c in found])):
        comparison.p_holm = adjusted
    return found


def comparisons_text(found: list[Comparison], margin: float = 0.0) -> str:
    def one(c: Comparison) -> str:
        past = f" ({c.diff:+.2f} past the margin)" if margin else ""
        return f"vs {c.other}: {c.diff + margin:+.2f}{past} over {c.pairs} pairs, p={c.p:.3g}, Holm {c.p_holm:.3g}"

    return "; ".join(one(c) for c in found)


def lower_verdict(found: list[Comparison], wins_needed: int, losses_refuting: int) -> str:
    """Reproduced when at least ``wins_needed`` comparisons are significantly in the candidate's favour (diff < 0);
    not reproduced when at least ``losses_refuting`` are significantly against it; else inconclusive."""
    if not found or any(c.pairs < 2 for c in found):
        return INCONCLUSIVE
    wins = sum(c.significant(-1) for c in found)
    losses = sum(c.significant(+1) for c in found)
    if losses >= losses_refuting:
        return NOT_REPRODUCED
    return REPRODUCED if wins >= wins_needed else INCONCLUSIVE


def missing(rows: pd.DataFrame | None, methods: tuple[str, ...]) -> list[str]:
    return list(methods) if rows is None else [m for m in methods if not gaps_by_seed(rows, m)]


def untestable(rows: pd.DataFrame | None, gone: list[str]) -> tuple[str, str]:
    """(measured, verdict) of a claim whose setting or methods have no ok run."""
    if rows is None:
        return "no rows: the setting was not run", NOT_RUN
    return f"no ok run of {', '.join(gone)}", INCONCLUSIVE


Paper = tuple[str, str]  # (short name, citation)


def paired_claim(tables: dict[str, pd.DataFrame], setting: str, candidate: str, others: tuple[str, ...],
                 paper: Paper, where: str, quote: str, rule: str, wins_needed: int, losses_refuting: int,
                 margin: float = 0.0, extra: str = "") -> Claim:
    """The claim's paired comparisons of ``candidate - other - margin`` in ``setting`` and its verdict
    (``lower_verdict``); ``not run`` / ``inconclusive`` where the setting or a method has no ok run."""
    rows = tables.get(setting)
    if gone := missing(rows, (candidate, *others)):
        return Claim(paper, where, quote, setting, rule, *untestable(rows, gone))
    found = compare(rows, candidate, others, margin)
    measured = ("; ".join(describe(rows, m) for m in (candidate, *others)) + ". " + comparisons_text(found, margin)
                + (f". {extra}" if extra else ""))
    return Claim(paper, where, quote, setting, rule, measured, lower_verdict(found, wins_needed, losses_refuting),
                 found)


def best_of(tables: dict[str, pd.DataFrame], setting: str, candidate: str, others: tuple[str, ...], paper: Paper,
            where: str, quote: str) -> Claim:
    """"``candidate`` has the smallest Avg. Gap among ``others``": reproduced when it is significantly below each."""
    rule = (f"paired sign-flip test of {candidate}'s per-seed Avg. Gap against each of {', '.join(others)}, Holm "
            f"over {len(others)}; reproduced if significantly lower than all, not reproduced if any is significantly "
            "lower than it")
    return paired_claim(tables, setting, candidate, others, paper, where, quote, rule, len(others), 1)


def top_two(tables: dict[str, pd.DataFrame], setting: str, candidate: str, others: tuple[str, ...], paper: Paper,
            where: str, quote: str) -> Claim:
    """"among the top two": reproduced when the candidate is significantly below all but at most one of ``others``;
    not reproduced when two or more are significantly below it."""
    rule = (f"paired sign-flip tests of {candidate} against each of {', '.join(others)}, Holm over {len(others)}; "
            "reproduced if significantly lower than all but at most one, not reproduced if two or more are "
            "significantly lower than it")
    return paired_claim(tables, setting, candidate, others, paper, where, quote, rule, len(others) - 1, 2)


def similar(tables: dict[str, pd.DataFrame], setting: str, candidate: str, others: tuple[str, ...], paper: Paper,
            where: str, quote: str, extra: str = "") -> Claim:
    """"similar to / competitive with ``others``": non-inferiority with margin ``SIMILAR_MARGIN``: reproduced when
    ``candidate - other`` is significantly below the margin for each, not reproduced when it is significantly above
    it for one."""
    rule = (f"non-inferiority: paired sign-flip test of {candidate} - other - {SIMILAR_MARGIN:g} (the margin of "
            f"'similar') for each of {', '.join(others)}, Holm over {len(others)}; reproduced if significantly below "
            "0 for all, not reproduced if significantly above 0 for one")
    return paired_claim(tables, setting, candidate, others, paper, where, quote, rule, len(others), 1,
                        SIMILAR_MARGIN, extra)


def unlink_training_free(tables: dict[str, pd.DataFrame]) -> Claim:
    """Unlink's class-wise claim: training-free and D_r-free (from the records), and similar to SalUn, l1-sparse."""
    rows = tables.get("classwise", pd.DataFrame(columns=["method", "status", "data_access", "training_free", "rte_s"]))
    runs = rows[(rows["method"] == "unlink") & (rows["status"] == "ok")]
    reads = sorted(set(",".join(runs["data_access"].astype(str)).split(","))) if len(runs) else []
    free = bool(len(runs)) and bool(runs["training_free"].astype(bool).all()) and "retain" not in reads
    rte = {m: rows.loc[rows["method"] == m, "rte_s"].mean() for m in ("unlink", "salun", "l1_sparse")}
    extra = (f"Unlink reads {'+'.join(reads) or 'nothing'}, training-free {free}; RTE s: "
             + ", ".join(f"{m} {s:.2f}" for m, s in rte.items()))
    claim = similar(tables, "classwise", "unlink", ("salun", "l1_sparse"), UNLINK, "§4.1, Table 2 (class-wise, "
                    "ResNet-18 on CIFAR-100); abstract", "we propose a simple yet efficient training-free MU baseline "
                    "without remaining dataset [...] Our method achieves a UA of 99.24% and an RA of 97.426%, with an "
                    "average gap of 0.91 compared with the gold standard of MU. In comparison, other methods like "
                    "SalUn and ℓ1-sparse show similar performance but require much more time than our method", extra)
    if not free and claim.verdict != NOT_RUN:
        claim.verdict = NOT_REPRODUCED
    return claim


def shift_resilience(tables: dict[str, pd.DataFrame], clean: str = "classwise", shifted: str = "classwise_gn1",
                     methods: tuple[str, ...] = ("retrain", "ft", "rl", "ga")) -> Claim:
    """Forget Vector §4: under forget-data shifts UA moves less than TA. Per seed, the mean over ``methods`` of
    |UA(shift) - UA(clean)| minus that of |TA(shift) - TA(clean)|; the sign-flip test over seeds."""
    rule = (f"per seed, mean over {', '.join(methods)} of |UA(GN1) - UA(clean)| - |TA(GN1) - TA(clean)|; sign-flip "
            "test over seeds: reproduced if significantly below 0, not reproduced if significantly above")
    quote = ("We investigate the impact of forget data shifts on image classifiers post-unlearning, revealing that "
             "unlearning demonstrates resilience against these shifts (to some extent) while generalization remains "
             "more vulnerable.")
    where = "§1 contributions; §4, Fig. 2 (Retrain) and App. A, Fig. A1 (FT, RL, GA); class-wise, ResNet-18 CIFAR-10"
    if shifted not in tables or clean not in tables:
        return Claim(FORGET_VECTOR, where, quote, shifted, rule, *untestable(None, []))

    def per_seed(rows: pd.DataFrame, metric: str) -> pd.Series:
        ok = rows[rows["method"].isin(methods) & (rows["status"] == "ok")]
        return ok.set_index(["method", "seed"])[metric]

    moves = {k: (per_seed(tables[shifted], k) - per_seed(tables[clean], k)).abs().dropna() for k in ("UA", "TA")}
    both = moves["UA"].index.intersection(moves["TA"].index)
    by_seed = (moves["UA"][both] - moves["TA"][both]).groupby(level="seed")
    complete = by_seed.count() == len(methods)  # a seed counts when every method ran ok on it, clean and shifted
    d = by_seed.mean()[complete]
    found = [Comparison("0", *paired(dict(d), {s: 0.0 for s in d.index}))]
    found[0].p_holm = found[0].p
    mean_move = {k: moves[k][both].groupby(level="seed").mean()[complete].mean() for k in ("UA", "TA")}
    measured = (f"mean over {int(complete.sum())} seeds: |dUA| {mean_move['UA']:.2f}, |dTA| {mean_move['TA']:.2f}; "
                f"difference {found[0].diff:+.2f}, p={found[0].p:.3g}")
    return Claim(FORGET_VECTOR, where, quote, shifted, rule, measured, lower_verdict(found, 1, 1), found)


SALUN_TABLE1 = ("ft", "rl", "ga", "iu", "l1_sparse", "bs", "be")
SALUN_QUOTE = ("First, among all the baselines, SalUn achieves the smallest average performance gap with Retrain, as "
               "indicated by the Avg. Gap metric in both forgetting scenarios.")
FORGET_VECTOR_TABLE1 = ("ft", "rl", "ga", "neggrad_plus", "salun", "scrub")
FORGET_VECTOR_QUOTE = ("However, considering the gain in unlearning effectiveness, the Avg. Gap with Retrain shows "
                       "that the forget vector remains competitive, ranking among the top two unlearning methods.")
JIT_RANDOM = ("ft", "ssd", "scrub", "bs")  # the methods of JiT Tables 4a/4b that the benchmark runs

CLAIMS: list[Callable[[dict[str, pd.DataFrame]], Claim]] = [
    lambda t: best_of(t, "random10", "salun", SALUN_TABLE1, SALUN, "§6.2, Table 1 (random data forgetting 10%, "
                      "ResNet-18 on CIFAR-10)", SALUN_QUOTE),
    lambda t: best_of(t, "random50", "salun", SALUN_TABLE1, SALUN, "§6.2, Table 1 (random data forgetting 50%, "
                      "ResNet-18 on CIFAR-10): \"Yet, SalUn stays consistently effective.\"", SALUN_QUOTE),
    unlink_training_free,
    lambda t: similar(t, "classwise", "jit", ("bs",), JIT, "§6.1, Tables 1, 2a, 2b (full-class forgetting); GKT and "
                      "EMMN, the other baselines of the sentence, are not run here",
                      "JiT demonstrates significantly superior performance over GKT and EMMN, and is competitive with "
                      "Boundary Shrinking."),
    lambda t: similar(t, "random10", "jit", JIT_RANDOM, JIT, "§6.1, Tables 4a, 4b (random forgetting of 100 "
                      "samples, CIFAR-10); here 10% of 3,600", "JiT is able to comfortably rival existing ZS and "
                      "non-ZS SOTA methods; despite slight over-forgetting, D_r accuracy is almost unchanged"),
    lambda t: best_of(t, "classwise", "sure", ("l1_sparse", "scrub", "rl"), SURE, "§5.2, Table 1 (its scenario is not "
                      "stated; the ΔCTA row suggests class forgetting: tested on class-wise)",
                      "Our findings indicate that SURE outperforms the other three methods overall and across most "
                      "individual metrics."),
    lambda t: best_of(t, "random10", "sure", ("l1_sparse",), SURE, "§5.2, Fig. 3 (random forgetting of 1,000 "
                      "samples); here 10% of 3,600", "In the random unlearning scenario, the L1Sparse method closely "
                      "follows ours. While SURE outperforms L1Sparse overall all but one of the benchmarks, L1Sparse "
                      "achieves better RRT."),
    lambda t: top_two(t, "random10", "forget_vector", FORGET_VECTOR_TABLE1, FORGET_VECTOR, "§6.2, Table 1 (random "
                      "data forgetting 10%, ResNet-18 on CIFAR-10 and VGG-16 on ImageNet-10)", FORGET_VECTOR_QUOTE),
    lambda t: top_two(t, "classwise", "forget_vector", FORGET_VECTOR_TABLE1, FORGET_VECTOR, "§6.2, Table 1 "
                      "(class-wise forgetting, ResNet-18 on CIFAR-10 and VGG-16 on ImageNet-10)", FORGET_VECTOR_QUOTE),
    shift_resilience,
]


def claims_frame(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per claim (paper, citation, where, quote, setting, rule, measured, verdict, comparisons as JSON); a
    claim whose setting has no rows is ``not run``."""
    out = []
    for check in CLAIMS:
        claim = check(tables)
        row = asdict(claim)
        (row["paper"], row["citation"]), row["comparisons"] = claim.paper, json.dumps(row["comparisons"])
        out.append(row)
    return pd.DataFrame(out)[["paper", "setting", "verdict", "citation", "where", "quote", "rule", "measured",
                              "comparisons"]]


def claims_markdown(frame: pd.DataFrame) -> str:
    """Each claim as a short section: the quoted sentence, where it stands, the rule, what was measured, the verdict."""
    return "\n".join(f"### {r.paper}, {r.setting}: {r.verdict} in this regime\n\n> \"{r.quote}\"\n\n"
                     f"{r.citation}; {r.where}.\n\n- Rule: {r.rule}.\n- Measured: {r.measured}.\n"
                     for r in frame.itertuples())


def load_seed_tables(folder: Path) -> dict[str, pd.DataFrame]:
    """The per-seed CSVs of a benchmark (``<folder>/seeds/<setting>.csv``) by setting."""
    return {path.stem: pd.read_csv(path) for path in sorted((folder / "seeds").glob("*.csv"))}


def seed_table(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per model of a setting: mean ± std (gap to Retrain) of UA, RA, TA, MIA over its ok seeds, Avg. Gap
    with its 95% interval, the paired test against the closest model, and the seeds that were not ok."""
    ok = rows[rows["status"] == "ok"]
    label = {"original": "Original", "retrain": "Retrain"}
    per_seed = {label.get(m, m): dict(zip(g["seed"], g["avg_gap"])) for m, g in ok.groupby("method")}
    order = ["original", "retrain", *sorted(set(rows["method"]) - {"original", "retrain"},
                                            key=lambda m: (ok.loc[ok["method"] == m, "avg_gap"].mean(), m))]
    out = []
    for method in order:
        mine, every = ok[ok["method"] == method], rows[rows["method"] == method]
        row = {"Method": label.get(method, method)}
        for k in GAP_METRICS:
            row[k] = f"{mine[k].mean():.2f}±{mine[k].std(ddof=0):.2f} ({mine['gap_' + k].mean():.2f})"
        mean, low, high = seed_interval(mine["avg_gap"].tolist())
        row["Avg. Gap"], row["95% CI"] = f"{mean:.2f}", f"[{low:.2f}, {high:.2f}]"
        row["Paired vs closest"] = paired_cell(row["Method"], per_seed)
        row["RTE (s)"] = f"{every['rte_s'].mean():.1f}"
        row["Reads"] = str(every["data_access"].iloc[0])
        row["Training-free"] = "yes" if bool(every["training_free"].iloc[0]) else "no"
        row["Seeds ok"] = len(mine)
        row["Not ok"] = not_ok(every)
        out.append(row)
    return pd.DataFrame(out)


def not_ok(rows: pd.DataFrame) -> str:
    """``"2 collapsed, 1 failed"``: the runs of ``rows`` whose status is not ok, by status."""
    return ", ".join(f"{n} {status}" for status, n in rows.loc[rows["status"] != "ok", "status"].value_counts().items())
