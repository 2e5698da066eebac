"""Shared fixtures: Hydra compose API on the repo's conf/ and a session-wide model cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from unlearn_bench.compose import compose_config  # noqa: F401 (re-exported for the tests)


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory) -> Path:
    """One cache for the whole session, so digits originals and Retrains are trained once."""
    return tmp_path_factory.mktemp("cache")
