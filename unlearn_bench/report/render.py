"""The report's tables, their recipe cards and their comparison blocks as Markdown, CSV or LaTeX."""

from __future__ import annotations

import pandas as pd

from unlearn_bench.report.papers import Comparison, record_preset
from unlearn_bench.report.tables import GROUP_KEYS


def comparison_table(block: Comparison, fmt: str) -> pd.DataFrame:
    """The block as printed: numbers as text for md/tex, numeric columns for csv."""
    frame = block.frame
    if fmt == "csv":
        paper_data, paper_model, paper_scenario = block.setting
        return frame.assign(paper=block.paper, table=block.table, paper_data=paper_data, paper_model=paper_model,
                            paper_scenario=paper_scenario, stand_in=block.stand_in)

    def pm(mean: float, std: float) -> str:
        return f"{mean:.2f}" if pd.isna(std) else f"{mean:.2f}±{std:.2f}"

    return pd.DataFrame({
        "Method": frame["method"], "Metric": frame["metric"],
        "Ours": [pm(m, s) for m, s in zip(frame["ours_mean"], frame["ours_std"])],
        "Seeds": frame["seeds"],
        "Paper": [pm(m, s) for m, s in zip(frame["paper_mean"], frame["paper_std"])],
        "Ours − Paper": [f"{d:+.2f}" for d in frame["diff"]],
    })


def recipe_cards(frame: pd.DataFrame) -> dict[tuple, list[str]]:
    """Per table group, the recipe cards (conf/cards/<preset>.yaml, every value and its source) of the presets its
    runs were launched with."""
    return {key: [f"conf/cards/{p}.yaml" for p in sorted({p for p in map(record_preset, group["path"]) if p})]
            for key, group in frame.groupby(GROUP_KEYS, sort=True)}


def render(tables: dict[tuple, pd.DataFrame], fmt: str = "md",
           comparisons: dict[tuple, list[Comparison] | str] | None = None,
           cards: dict[tuple, list[str]] | None = None) -> str:
    """The tables (and under each, the recipe card its preset runs, then its comparison blocks or the note why
    there is none) as md, csv or tex."""
    if fmt not in ("md", "csv", "tex"):
        raise ValueError(f"--format {fmt!r} is not supported; allowed: md, csv, tex")
    comparisons = comparisons or {}
    parts = []
    for key, table in tables.items():
        title = ", ".join(f"{k}={v}" for k, v in zip(GROUP_KEYS, key))
        group_columns = dict(zip(GROUP_KEYS, key))
        if fmt == "md":
            parts.append(f"### {title}\n\n" + table.to_markdown(index=False))
        elif fmt == "csv":
            parts.append(table.assign(**group_columns).to_csv(index=False))
        else:
            parts.append(f"% {title}\n" + table.to_latex(index=False, escape=True))
        if (cards or {}).get(key):
            note = "Recipe card: " + ", ".join(cards[key]) + " (every hyper-parameter and its source)"
            parts.append(f"_{note}_" if fmt == "md" else ("# " if fmt == "csv" else "% ") + note)
        found = comparisons.get(key, [])
        if isinstance(found, str):
            parts.append(f"_{found}_" if fmt == "md" else ("# " if fmt == "csv" else "% ") + found)
            continue
        for block in found:
            shown = comparison_table(block, fmt)
            if fmt == "md":
                parts.append(f"#### {block.title}\n\n" + shown.to_markdown(index=False, disable_numparse=True))
            elif fmt == "csv":
                parts.append(shown.assign(**group_columns).to_csv(index=False))
            else:
                parts.append(f"% {block.title}\n" + shown.to_latex(index=False, escape=True))
    return "\n\n".join(parts)
