"""Recipe cards: every hyper-parameter a preset runs, per job, with its value and its source.

A card (``conf/cards/<preset>.yaml``) lists, for ``experiment=<preset>``, the settings its sweep runs (data, model,
scenario), the training recipe of the original and Retrain (``train``) and each method it runs (``method``, keyed by the
option the sweep names, e.g. ``digits/salun`` or ``jit_subclass``), every key with its resolved ``value`` and its
``source``. Sources are read, not written by hand twice: the trailing comment of the YAML line that sets the value (the
preset itself, the method or train option and the options it extends), or, for a value no YAML sets, the comment of the
schema field (``unlearn_bench/config.py``, the method's ``Config``). So a card says where every number comes from, and
``tests/report/test_cards.py`` fails when a preset, an option or a default changes a value without its card, when a
value has no source, and when a card names a key that does not exist.

    python -m unlearn_bench.report.cards                 # (re)write every card
    python -m unlearn_bench.report.cards salun_table1    # one card
    python -m unlearn_bench.report.cards --check         # exit 1 listing the cards that are stale or lack a source
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import itertools
import math
import re
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, OmegaConf

from unlearn_bench.compose import register_configs
from unlearn_bench.config import CONF_DIR
from unlearn_bench.methods import method_class

CARDS_DIR = CONF_DIR / "cards"
NO_SOURCE = "MISSING SOURCE"
# Bookkeeping, not hyper-parameters: the option's own name and a tuned preset's provenance.
SKIPPED_KEYS = {"name", "tuned"}
# Sweep keys expanded into jobs: the group choices (other swept keys, such as seeds or class indices, do not change
# a recipe; swept method./train. values are listed under ``swept``).
JOB_GROUPS = ("data", "model", "scenario", "train", "method", "task")
_LINE = re.compile(r"^(?P<indent>\s*)(?:-\s+)?(?P<key>[\w.\-/@]+):(?P<rest>\s.*)?$")


def _split_comment(rest: str) -> tuple[str, str]:
    """(value, trailing comment) of the text after ``key:``; a ``#`` inside quotes is part of the value."""
    quote = None
    for i, ch in enumerate(rest):
        if ch in "\"'" and quote in (None, ch):
            quote = None if quote else ch
        elif ch == "#" and quote is None and (i == 0 or rest[i - 1].isspace()):
            return rest[:i].strip(), rest[i + 1:].strip()
    return rest.strip(), ""


@cache
def yaml_comments(path: Path) -> dict[tuple[str, ...], str]:
    """Key path -> trailing comment of its line, for every ``key: value`` line of a YAML file (nested mappings by
    indentation; keys with dots, as in sweeper params, are kept whole)."""
    stack: list[tuple[int, str]] = []
    found: dict[tuple[str, ...], str] = {}
    for line in (path.read_text().splitlines() if path.is_file() else []):
        match = _LINE.match(line)
        if not match or line.lstrip().startswith("#"):
            continue
        indent = len(match["indent"])
        while stack and stack[-1][0] >= indent:
            stack.pop()
        value, comment = _split_comment(match["rest"] or "")
        keys = (*(k for _, k in stack), match["key"])
        found[keys] = comment if value else found.get(keys, comment)
        if not value:
            stack.append((indent, match["key"]))
    return found


def _option_chain(group: str, option: str) -> list[Path]:
    """The YAML files of a group option, the option first, then the options it extends through ``defaults``."""
    path = CONF_DIR / group / f"{option}.yaml"
    if not path.is_file():
        return []
    chain = [path]
    for entry in (yaml.safe_load(path.read_text()) or {}).get("defaults", []):
        name = entry if isinstance(entry, str) else None
        if not name or name == "_self_":
            continue
        name = name.split("@")[0]
        if name.startswith("/"):
            parent_group, _, parent = name[1:].partition("/")
            chain += _option_chain(parent_group, parent) if parent_group == group else []
        else:
            chain += _option_chain(group, name)
    return chain


def _schema_comment(schema: type | None, key: str) -> str | None:
    """The comment of a dataclass field's line (trailing, else the comment lines right above it), searched along
    the class's bases; None if the schema has no such field."""
    if schema is None or not dataclasses.is_dataclass(schema):
        return None
    if key not in {f.name for f in dataclasses.fields(schema)}:
        return None
    for cls in schema.__mro__:
        if key not in getattr(cls, "__annotations__", {}):
            continue
        lines, _ = inspect.getsourcelines(cls)
        for i, line in enumerate(lines):
            if re.match(rf"^\s+{re.escape(key)}\s*:", line):
                _, comment = _split_comment(line.split(":", 1)[1])
                above = []
                for prev in reversed(lines[:i]):
                    if not prev.strip().startswith("#"):
                        break
                    above.insert(0, prev.strip().lstrip("#").strip())
                text = comment or " ".join(above)
                return f"schema default ({cls.__name__}.{key}): {text}" if text else ""
    return ""


def source_of(key: str, section: str, option_files: list[tuple[Path, tuple[str, ...]]], preset_file: Path,
              swept: dict[str, str], schema: type | None) -> str:
    """Where the value of ``<section>.<key>`` comes from: the preset's sweep line, the preset's body, the option's
    YAML chain (each file with the key path of the section inside it), then the schema field; each by its comment."""
    preset = yaml_comments(preset_file)
    dotted = f"{section}.{key}"
    if dotted in swept:
        return preset.get(("hydra", "sweeper", "params", dotted)) or NO_SOURCE
    if (*section.split("."), key) in preset:
        return preset[(*section.split("."), key)] or NO_SOURCE
    for path, prefix in option_files:
        comments = yaml_comments(path)
        if (*prefix, key) in comments:
            return comments[(*prefix, key)] or NO_SOURCE
    return _schema_comment(schema, key) or NO_SOURCE


def sweep_params(preset: str) -> dict[str, list[str]]:
    """The preset's ``hydra.sweeper.params`` as Hydra's sweeper expands them: key -> values."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    params = OmegaConf.select(OmegaConf.load(CONF_DIR / "experiment" / f"{preset}.yaml"), "hydra.sweeper.params")
    if not params:
        return {}
    parsed = OverridesParser.create().parse_overrides([f"{k}={v}" for k, v in params.items()])
    return {o.get_key_element(): list(o.sweep_string_iterator()) if o.is_sweep_override()
            else [o.get_value_element_as_str()] for o in parsed}


def sweep_summary(overrides: list[str]) -> str | None:
    """For ``experiment=<preset> --cfg job``, which shows one job: the sweep ``-m`` runs (its swept keys and values,
    and the number of jobs); None when no preset with a sweep is chosen."""
    preset = next((o.split("=", 1)[1] for o in overrides if o.lstrip("+").startswith("experiment=")), None)
    if preset is None or not (CONF_DIR / "experiment" / f"{preset}.yaml").is_file():
        return None
    params = sweep_params(preset)
    if not params:
        return None
    jobs = math.prod(len(values) for values in params.values())
    lines = [f"# experiment={preset} is a sweep: `python -m unlearn_bench -m experiment={preset}` runs {jobs} jobs, "
             "every combination of"]
    lines += [f"#   {key}: {','.join(values)}" for key, values in params.items()]
    return "\n".join(lines)


def preset_jobs(preset: str) -> Iterator[list[str]]:
    """One override list per distinct recipe of the preset's sweep: every combination of its swept group choices,
    other swept keys at their first value."""
    params = sweep_params(preset)
    expanded = [k for k in params if k in JOB_GROUPS]
    fixed = [f"{k}={v[0]}" for k, v in params.items() if k not in JOB_GROUPS]
    for combo in itertools.product(*(params[k] for k in expanded)):
        yield [*fixed, *(f"{k}={v}" for k, v in zip(expanded, combo))]


def _section(node: DictConfig, section: str, option_files: list[tuple[Path, tuple[str, ...]]], preset_file: Path,
             swept: dict[str, str]) -> dict[str, dict[str, Any]]:
    schema = OmegaConf.get_type(node)
    values = OmegaConf.to_container(node, resolve=True)
    return {key: {"value": value, "source": source_of(key, section, option_files, preset_file, swept, schema)}
            for key, value in sorted(values.items()) if key not in SKIPPED_KEYS}


def _recipe(cfg: DictConfig) -> tuple[str, str, DictConfig, list[tuple[Path, tuple[str, ...]]]] | None:
    """(section, option, node, option files) of the training recipe: ``train`` for classification, ``task.train``
    (the diffusion model's) for the generation tasks."""
    choices = cfg.hydra.runtime.choices
    if cfg.task.name == "classification":
        return "train", choices.train, cfg.train, [(p, ()) for p in _option_chain("train", choices.train)]
    if "train" not in cfg.task:
        return None
    return "task.train", choices.task, cfg.task.train, [(p, ("train",)) for p in _option_chain("task", choices.task)]


def build_card(preset: str) -> dict[str, Any]:
    """The card of ``experiment=<preset>``, composed from the configs as the sweep would run them."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from unlearn_bench.conf_local import quiet_missing_default

    register_configs()
    quiet_missing_default()
    preset_file = CONF_DIR / "experiment" / f"{preset}.yaml"
    params = sweep_params(preset)
    swept = {k: ",".join(v) for k, v in params.items() if k.startswith(("method.", "train.")) and len(v) > 1}
    header = " ".join(line.lstrip("# ").strip() for line in itertools.takewhile(
        lambda line: line.startswith("#"), preset_file.read_text().splitlines()) if "@package" not in line)
    card: dict[str, Any] = {"preset": preset, "about": header, "seeds": [], "jobs": [], "train": {}, "method": {}}
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        for job in preset_jobs(preset):
            overrides = [f"experiment={preset}", *job]
            cfg = compose("config", overrides=overrides, return_hydra_config=True)
            if cfg.task.name == "generation_sd":  # the SD presets need a local pipeline: a tiny one stands in
                cfg = compose("config", overrides=[*overrides, "task.pipeline=tiny"], return_hydra_config=True)
            choices = cfg.hydra.runtime.choices
            model = cfg.data.default_model if cfg.model.name == "auto" else cfg.model.name
            setting = {"data": cfg.data.name, "model": model, "scenario": choices.scenario}
            if setting not in card["jobs"]:
                card["jobs"].append(setting)
            method_files = [(p, ()) for p in _option_chain("method", choices.method)]
            values = _section(cfg.method, "method", method_files, preset_file, swept)
            if "fidelity" in values and cfg.task.name == "classification":
                official = method_class(cfg.method.name).official
                values["fidelity"]["official"] = list(official) or ["none implemented"]
            _add(card["method"], choices.method, setting, values)
            recipe = _recipe(cfg)
            if recipe:
                section, option, node, files = recipe
                _add(card["train"], option, setting, _section(node, section, files, preset_file, swept))
    # The seeds the sweep runs (-m): its swept ``seed`` values, else the one seed its jobs share.
    card["seeds"] = [int(seed) for seed in params["seed"]] if "seed" in params else [int(cfg.seed)]
    if swept:
        card["swept"] = {k: {"values": v, "source": yaml_comments(preset_file).get(("hydra", "sweeper", "params", k))
                             or NO_SOURCE} for k, v in sorted(swept.items())}
    return card


def _add(entries: dict[str, Any], option: str, setting: dict[str, str], values: dict[str, Any]) -> None:
    """Record an option's values; an option that resolves differently in another setting (an interpolation on
    the data set, say) gets its own entry, keyed ``option@data/model/scenario``."""
    if entries.get(option, values) == values:
        entries[option] = values
        return
    key = f"{option}@{setting['data']}/{setting['model']}/{setting['scenario']}"
    entries.setdefault(key, values)


def missing_sources(card: dict[str, Any]) -> list[str]:
    """``section.option.key`` of every entry without a source."""
    found = [f"{section}.{option}.{key}" for section in ("train", "method")
             for option, entries in card.get(section, {}).items() for key, entry in entries.items()
             if entry["source"] in (NO_SOURCE, "")]
    return found + [f"swept.{key}" for key, entry in card.get("swept", {}).items()
                    if entry["source"] in (NO_SOURCE, "")]


def card_path(preset: str) -> Path:
    return CARDS_DIR / f"{preset}.yaml"


class _Entry(dict):
    """A ``{value, source}`` pair, written on one line."""


class _CardDumper(yaml.SafeDumper):
    pass


_CardDumper.add_representer(_Entry, lambda dumper, data: dumper.represent_mapping(
    "tag:yaml.org,2002:map", data.items(), flow_style=True))


def dump_card(card: dict[str, Any]) -> str:
    """The card as YAML, one line per value (``key: {value: ..., source: ...}``)."""
    shown = {**card, **{section: {option: {k: _Entry(v) for k, v in entries.items()}
                                  for option, entries in card[section].items()} for section in ("train", "method")}}
    if "swept" in card:
        shown["swept"] = {k: _Entry(v) for k, v in card["swept"].items()}
    text = (f"# Recipe card of experiment={card['preset']}: every value its jobs run and its source.\n"
            f"# Written by `python -m unlearn_bench.report.cards {card['preset']}`; checked by "
            "tests/report/test_cards.py.\n")
    return text + yaml.dump(shown, Dumper=_CardDumper, sort_keys=False, width=10_000, allow_unicode=True)


def write_card(preset: str) -> Path:
    path = card_path(preset)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dump_card(build_card(preset)))
    return path


def presets() -> list[str]:
    return sorted(p.stem for p in (CONF_DIR / "experiment").glob("*.yaml"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("presets", nargs="*", help="preset names (default: every conf/experiment preset)")
    parser.add_argument("--check", action="store_true", help="compare with the committed cards, write nothing")
    args = parser.parse_args(argv)
    names = args.presets or presets()
    unknown = sorted(set(names) - set(presets()))
    if unknown:
        parser.error(f"unknown preset(s) {unknown}; allowed: {presets()}")
    bad = 0
    for name in names:
        if args.check:
            committed = yaml.safe_load(card_path(name).read_text()) if card_path(name).is_file() else None
            card = build_card(name)
            problems = (["stale"] if committed != card else []) + missing_sources(card)
            if problems:
                bad += 1
                print(f"{name}: {', '.join(problems)}")
        else:
            print(write_card(name))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
