"""The user's config folder: presets a user makes (``python -m unlearn_bench.tune`` writes tuned ones there) live
outside the package, so a tuning run never edits the installed ``conf/`` and its results are never committed by
accident.

The folder is ``$UNLEARN_BENCH_CONF_LOCAL`` when set, else ``conf_local/`` in the working directory. conf/config.yaml
puts it on Hydra's search path (``hydra.searchpath``), so ``method=tuned/<name>`` composes
``<folder>/method/tuned/<name>.yaml`` as if it were in conf/.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

CONF_LOCAL_ENV = "UNLEARN_BENCH_CONF_LOCAL"
DEFAULT_CONF_LOCAL = "conf_local"  # also the default in conf/config.yaml's hydra.searchpath


def conf_local_dir() -> Path:
    """The user's config folder (relative paths: to the working directory, as Hydra reads them)."""
    return Path(os.environ.get(CONF_LOCAL_ENV, DEFAULT_CONF_LOCAL))


def quiet_missing_default() -> None:
    """Silence Hydra's "path=conf_local is not available" warning, which it gives at every composition: the default
    folder is missing until the first preset is written, which is normal. A folder named by the environment variable
    that does not exist still warns (it is likely a typo)."""
    warnings.filterwarnings("ignore", category=UserWarning,
                            message=rf"provider=hydra\.searchpath in main, path={DEFAULT_CONF_LOCAL} is not available")
