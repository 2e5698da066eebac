"""What the command line can select, found without importing torch: the option files of each config group (the
package's ``conf/``, the user's config folder, plugins' config folders) and the methods plugins registered. Used by
``--help`` and to refuse a misspelt option with the nearest names before Hydra composes anything."""

from __future__ import annotations

import difflib
import textwrap
from collections.abc import Sequence
from pathlib import Path

from unlearn_bench import plugins
from unlearn_bench.conf_local import conf_local_dir
from unlearn_bench.config import CONF_DIR
from unlearn_bench.errors import ConfigError
from unlearn_bench.generation.config import TASKS

# The groups a user picks an option of, with what each holds (conf/<group>/<option>.yaml).
GROUPS = {
    "method": "the unlearning method, or a preset: digits/<method>, fmnist/<setting>/<method>, generation/<method>",
    "data": "the dataset",
    "scenario": "which examples to forget",
    "model": "the architecture (auto: the dataset's default)",
    "train": "the recipe of the original and Retrain (default: the dataset's)",
    "eval": "which metrics and attacks (deep: every attack)",
    "experiment": "a paper table or figure, run with -m (its methods x seeds)",
    "tune": "a hyper-parameter search against Retrain, run with -m",
    "task": f"the pipeline: {' | '.join(TASKS)} (DDPMs and Stable Diffusion for the generation tasks)",
    "logger": "none | wandb",
}
HIDDEN = ("base_",)  # schema entries stored for composition, not meant to be picked


def config_dirs() -> list[Path]:
    """Where options are found, in Hydra's order: the package's conf/, the user's folder, plugins' folders."""
    return [CONF_DIR, conf_local_dir(), *(Path(p.conf_dir) for p in plugins.LOADED.values() if p.conf_dir)]


def group_options(group: str) -> list[str]:
    """Every option of ``group``: YAML files (with sub-folders: ``digits/salun``) and entries a registered plugin
    stored in Hydra's ConfigStore (a method with no YAML file)."""
    from hydra.core.config_store import ConfigStore

    found = set()
    for root in config_dirs():
        folder = root / group
        if folder.is_dir():
            found |= {p.relative_to(folder).with_suffix("").as_posix() for p in folder.rglob("*.yaml")}
    stored = ConfigStore.instance().repo
    for part in group.split("/"):
        stored = stored.get(part, {}) if isinstance(stored, dict) else {}
    found |= {name.removesuffix(".yaml") for name, node in stored.items() if not isinstance(node, dict)}
    return sorted(o for o in found if not o.split("/")[-1].startswith(HIDDEN))


def check_group_overrides(overrides: Sequence[str]) -> None:
    """ConfigError naming a ``group=option`` override whose option does not exist, with the nearest names (Hydra
    would list every option of the group)."""
    for override in plugins.parsed_overrides([o for o in overrides if "=" in o]):
        group = override.key_or_group
        if group not in GROUPS or override.is_delete():
            continue
        values = list(override.sweep_string_iterator()) if override.is_sweep_override() else [override.value()]
        options = group_options(group)
        for value in values:
            if value is None or str(value) == "null" or str(value) in options:
                continue
            near = difflib.get_close_matches(str(value), options, n=4, cutoff=0.5)
            hint = f"did you mean {', '.join(near)}? " if near else ""
            raise ConfigError(f"{group}={value} is not an option of {group}; {hint}"
                              f"(`python -m unlearn_bench --help` lists them)")


def usage() -> str:
    """``python -m unlearn_bench --help``: what the command does, examples, and the options a user can pick."""
    lines = [
        "python -m unlearn_bench [-m] [group=option ...] [key=value ...]",
        "",
        "Trains the original model and Retrain (cached), runs one unlearning method, evaluates it against Retrain and",
        "writes its record and table (exit 0 done, 1 the run failed, 2 bad input).",
        "",
        "Examples:",
        "  python -m unlearn_bench method=digits/salun scenario=classwise        # a method that forgets, on digits",
        "  python -m unlearn_bench -m method=digits/ft,digits/ga,digits/salun scenario=classwise seed=0,1,2",
        "  python -m unlearn_bench experiment=salun_table1_cpu -m                  # a paper table's CPU stand-in",
        "  python -m unlearn_bench plugins=[examples/my_method.py] method=my_ft    # your own method",
        "  python -m unlearn_bench.bench method=<name>                              # the Fashion-MNIST benchmark",
        "  python -m unlearn_bench --list                                           # what is registered, from where",
        "  python -m unlearn_bench method=salun --cfg job                           # the composed config",
        "",
        "Options (conf/<group>/<option>.yaml):",
    ]
    for group, about in GROUPS.items():
        options = group_options(group)
        top = [o for o in options if "/" not in o]
        folders = sorted({o.split("/")[0] for o in options if "/" in o})
        lines.append(f"  {group}: {about}")
        presets = f"; presets in {', '.join(f + '/' for f in folders)}" if folders else ""
        lines.append(textwrap.fill(f"{', '.join(top)}{presets}", width=118, initial_indent="    ",
                                   subsequent_indent="    "))
    lines += ["", "Settings: key=value for any key of the composed config (--cfg job shows them);",
              "+group.key=value is refused unless the key exists. Hydra's own flags: --hydra-help."]
    return "\n".join(lines)
