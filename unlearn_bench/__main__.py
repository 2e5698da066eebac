"""``python -m unlearn_bench [overrides]``: compose the config with Hydra and run it.

Exit status: 0 done (in a multirun, failed jobs are records with status ``failed``), 1 a single run failed or a
bug (with its traceback), 2 bad input (one message naming the key, no traceback).

Only light modules are imported at the top, so ``--help`` and a misspelt option answer before torch is imported;
plugins (``plugins=[...]``, ``UNLEARN_BENCH_PLUGINS``, entry points) are imported before Hydra composes."""

from __future__ import annotations

import logging
import sys
import traceback

import hydra
from hydra.errors import CompactHydraException, OverrideParseException
from omegaconf import DictConfig

from unlearn_bench.config import CONF_DIR
from unlearn_bench.console import HELD_STDERR
from unlearn_bench.errors import UserInputError

log = logging.getLogger("unlearn_bench")


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")
def main(cfg: DictConfig) -> float:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode
    from omegaconf.errors import InterpolationResolutionError, MissingMandatoryValue

    from unlearn_bench.console import HELD_STDERR  # imported here: a launcher pickles main with its globals
    from unlearn_bench.report.cli import print_run
    from unlearn_bench.runner import run
    from unlearn_bench.tune import objective

    HELD_STDERR.release()
    try:
        record = run(cfg)
    # Bad input found while the job runs: ours, a value left ??? or an interpolation that cannot be resolved.
    except (UserInputError, MissingMandatoryValue, InterpolationResolutionError) as err:
        log.error("%s: %s", type(err).__name__, err)  # one clear message, no traceback
        sys.exit(2)
    print_run(HydraConfig.get().runtime.output_dir)
    if record.status == "failed" and HydraConfig.get().mode == RunMode.RUN:
        sys.exit(1)  # a single run reports its failure; a multirun's jobs are records and the sweep goes on
    return objective(record.status, record.gaps, cfg.tune)  # returned to Hydra sweepers (tune=<method>)


def _raised_by_hydra(error: BaseException) -> bool:
    """Whether ``error`` comes from Hydra's own file handling (its job or sweep folder), not from a job's code: the
    innermost frame outside the standard library's file modules is Hydra's."""
    modules = [frame.f_globals.get("__name__", "") for frame, _ in traceback.walk_tb(error.__traceback__)]
    callers = [m for m in modules if m.split(".")[0] not in ("pathlib", "os", "shutil", "io", "tempfile", "codecs")]
    return bool(callers) and callers[-1].split(".")[0] == "hydra"


def cli() -> None:
    """The command line: ``--help`` and option typos answered first; plugins imported; then ``main`` with Hydra's
    own usage errors (unknown group option or key, wrong type, bad override syntax), which Hydra prints as one
    message and exits 1 on, mapped to exit status 2 as ours; an output folder Hydra cannot create or write (an
    OSError before any job started) is one line and exit status 2 too."""
    from unlearn_bench import options, plugins

    args = sys.argv[1:]
    overrides = [a for a in args if not a.startswith("-")]
    try:
        plugins.load_all(overrides)
        if {"--help", "-h"} & set(args):
            print(options.usage())
            return
        options.check_group_overrides(overrides)
    except UserInputError as err:
        sys.stderr.write(f"{type(err).__name__}: {err}\n")
        raise SystemExit(2) from None
    if "--list" in args:
        from unlearn_bench.catalog import render_catalog

        print(render_catalog())
        return
    from unlearn_bench.compose import register_configs
    from unlearn_bench.conf_local import quiet_missing_default

    register_configs()
    quiet_missing_default()
    HELD_STDERR.hold()
    try:
        main()
    except SystemExit as stop:
        # Hydra calls sys.exit(1) while handling the error: the error is the SystemExit's context.
        error = stop.__context__
        # (Hydra's MissingConfigException, an unknown group option, is an OSError too.)
        if (stop.code == 1 and isinstance(error, OSError) and not isinstance(error, CompactHydraException)
                and sys.stderr is HELD_STDERR and _raised_by_hydra(error)):
            sys.stderr = HELD_STDERR.real
            log.error("output folder %r cannot be created or written (%s); set hydra.run.dir (hydra.sweep.dir with "
                      "-m) to a writable folder", error.filename, error.strerror)
            raise SystemExit(2) from None
        if stop.code == 1 and isinstance(error, CompactHydraException):
            if isinstance(error, OverrideParseException) and error.override not in str(error):
                sys.stderr.write(f"(in the override {error.override!r})\n")  # Hydra's message may not name it
            raise SystemExit(2) from None
        raise
    finally:
        HELD_STDERR.release()  # no-op once released
    if "--cfg" in args or "-c" in args:
        from unlearn_bench.report.cards import sweep_summary

        if summary := sweep_summary(overrides):
            print(summary)


if __name__ == "__main__":
    cli()
