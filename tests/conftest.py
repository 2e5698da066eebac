"""Shared fixtures: Hydra compose API on the repo's conf/ and a session-wide model cache."""

from __future__ import annotations

import gc
import types
from pathlib import Path

import pytest

from unlearn_bench.compose import compose_config  # noqa: F401 (re-exported for the tests)


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory) -> Path:
    """One cache for the whole session, so digits originals and Retrains are trained once."""
    return tmp_path_factory.mktemp("cache")


def reachable(root: object) -> list[object]:
    """Every object reachable from ``root`` through instance dicts, containers, tensors and configs: what code
    holding ``root`` can dig out of it. Classes, modules and functions are not followed (they lead to the whole
    interpreter, e.g. through a function's globals), so this is the data ``root`` carries, not what is importable."""
    stop = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.MethodType)
    seen: set[int] = set()
    found, stack = [], [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, stop):
            continue
        seen.add(id(obj))
        found.append(obj)
        stack.extend(gc.get_referents(obj))
    return found


def tracked_text_files(but: str | Path) -> list[Path]:
    """Every text file git tracks in this checkout, except ``but`` (a test file whose examples would match); skips the
    test outside a git checkout."""
    import subprocess

    root = Path(__file__).resolve().parents[1]
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    paths = [root / name for name in out.decode().split("\0") if name]
    return [p for p in paths if p.is_file() and p.resolve() != Path(but).resolve() and b"\0" not in p.read_bytes()]
