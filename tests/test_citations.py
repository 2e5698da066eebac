"""Citations and sources: committed files cite papers by authors, title, venue and year (never an internal notes
path or a paper's number in the project's reading list), and every value line of a method or train YAML carries its
source as a trailing comment (a paper section / table / equation, an official code file, or "harness choice: <why>"),
which the recipe cards (``python -m unlearn_bench.report.cards``) read."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import tracked_text_files

ROOT = Path(__file__).resolve().parents[1]
# An internal notes path or a numbered reference to the reading list, instead of a citation.
FORBIDDEN = re.compile(r"\.\./shared|shared/spec|seed paper|seed 00\d", re.IGNORECASE)
# YAML groups whose values are hyper-parameters: the method options (top level, generation/ and sd/) and the train
# recipes. Tuned presets (written by the tuner into the user's conf_local/) and conf/method/digits/ (data presets) are
# not checked here.
YAML_GLOBS = ("conf/method/*.yaml", "conf/method/generation/*.yaml", "conf/method/sd/*.yaml", "conf/train/*.yaml")
# Bookkeeping keys, not hyper-parameters (their blocks are skipped too).
SKIPPED_KEYS = {"defaults", "name", "tuned"}
_KEY = re.compile(r"^(?P<indent>\s*)(?:-\s+)?(?P<key>[\w.\-/@]+):(?P<rest>.*)$")


def forbidden_hits(text: str) -> list[str]:
    return [f"{i}: {line.strip()[:100]}" for i, line in enumerate(text.splitlines(), 1) if FORBIDDEN.search(line)]


def test_forbidden_pattern_matches_what_it_should():
    assert forbidden_hits("see ../shared/spec/x.md")
    assert forbidden_hits("(Seed paper 001, Eq. 3)")
    assert forbidden_hits("Unlink (seed 001) Tab. 19")
    assert not forbidden_hits("seed: 0\nseeds: [0, 1, 2]\nSalUn (Fan et al., ICLR 2024), Eq. 3")


def test_no_tracked_file_cites_internal_notes():
    bad = {}
    for path in tracked_text_files(__file__):
        hits = forbidden_hits(path.read_bytes().decode("utf-8", errors="replace"))
        if hits:
            bad[str(path.relative_to(ROOT))] = hits[:3]
    assert not bad, "files citing notes paths / seed numbers instead of the papers:\n" + "\n".join(
        f"  {f}: {h}" for f, h in sorted(bad.items()))


def _trailing_comment(rest: str) -> str:
    """The trailing comment of the text after ``key:`` (a ``#`` inside quotes belongs to the value)."""
    quote = None
    for i, ch in enumerate(rest):
        if ch in "\"'" and quote in (None, ch):
            quote = None if quote else ch
        elif ch == "#" and quote is None and (i == 0 or rest[i - 1].isspace()):
            return rest[i + 1:].strip()
    return ""


def unsourced_lines(text: str) -> list[str]:
    """Value lines (``key: value``, not a bookkeeping key or inside one's block) without a trailing comment."""
    bad, skip_below = [], None
    for i, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        indent = len(line) - len(line.lstrip())
        if skip_below is not None:
            if indent > skip_below or stripped.startswith("- ") and indent == skip_below:
                continue
            skip_below = None
        m = _KEY.match(line)
        if not m:
            continue
        if m["key"] in SKIPPED_KEYS:
            skip_below = indent
            continue
        value = m["rest"].split(" #")[0].strip()
        if not value:  # a mapping's parent key: its children carry the values
            continue
        if not _trailing_comment(m["rest"]):
            bad.append(f"{i}: {stripped[:80]}")
    return bad


def test_unsourced_lines_parser():
    text = ("# header\ndefaults: [base, _self_]\nname: x\nlr: 0.1  # SalUn App. C.1\nepochs: 5\n"
            "url: 'a#b'\ntuned:\n  objective: gap\nsub:\n  k: 3  # harness choice: small\n  j: 4\n"
            "defaults2:\n  - a\n")
    assert unsourced_lines(text) == ["5: epochs: 5", "6: url: 'a#b'", "11: j: 4"]


def test_every_method_and_train_value_has_a_source():
    files = sorted({p for pattern in YAML_GLOBS for p in ROOT.glob(pattern)})
    assert files
    bad = {str(p.relative_to(ROOT)): unsourced_lines(p.read_text()) for p in files}
    bad = {f: lines for f, lines in bad.items() if lines}
    assert not bad, (f"{len(bad)} YAML files have value lines without a trailing source comment "
                     "(paper section/table/equation, official code file, or 'harness choice: <why>'):\n"
                     + "\n".join(f"  {f}: {', '.join(lines[:4])}{' ...' if len(lines) > 4 else ''}"
                                 for f, lines in sorted(bad.items())))

