"""No committed file names a folder of the machine that wrote it: paths in committed presets, results READMEs and
docs are relative to the repository root, so they mean the same on every checkout."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import tracked_text_files

ROOT = Path(__file__).resolve().parents[1]
# A checkout, home, temp or admin folder of a machine (Unix, macOS, Windows). Not a URL's path (``github.com/work``)
# nor a relative one (``../tmp/x``): the character before the slash must not be a word character or a dot.
# Fixed install paths that are the same on every machine are not matched, e.g. /usr/share/datasets/fashion-mnist,
# where Debian's dataset-fashion-mnist package puts the files (conf/data/fashion_mnist.yaml reads it by design).
MACHINE_PATH = re.compile(r"(?<![\w.])/(?:work|root|tmp|home/[\w.\-]+|Users/[\w.\-]+)/|\b[A-Za-z]:\\Users\\")


def machine_paths(text: str) -> list[str]:
    """``<line>: <text>`` of each line of ``text`` that holds a machine path."""
    return [f"{i}: {line.strip()[:120]}" for i, line in enumerate(text.splitlines(), 1) if MACHINE_PATH.search(line)]


@pytest.mark.parametrize("line", [
    "sweep_dir: /work/main/outputs/x", "cd /root/project", "--out /tmp/smoke.json", "hydra.searchpath=[file:///tmp/c]",
    "/home/alice/unlearn_bench/results", "/Users/bob/data", r"C:\Users\carol\unlearn_bench",
])
def test_the_pattern_finds_machine_paths(line):
    assert machine_paths(line) == [f"1: {line}"]


@pytest.mark.parametrize("line", [
    "outputs/reproduce_cpu/salun_table1_cpu", "/usr/share/datasets/fashion-mnist", "https://github.com/work/repo",
    "sweep_dir: ../../tmp/pytest-1/sweep", "#!/usr/bin/env bash", "- override /data: digits",
])
def test_the_pattern_leaves_other_paths_alone(line):
    assert machine_paths(line) == []


def test_no_tracked_file_holds_an_absolute_path_of_a_machine():
    files = tracked_text_files(__file__)
    assert len(files) > 100, "git ls-files found too few files for this test to mean anything"
    bad = [f"{p.relative_to(ROOT)}:{hit}" for p in files for hit in machine_paths(p.read_text(errors="replace"))]
    assert not bad, ("absolute paths of a machine in committed files (write them relative to the repo root):\n  "
                     + "\n  ".join(bad))
