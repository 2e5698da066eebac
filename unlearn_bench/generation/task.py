"""``task=classification | generation | generation_sd``: which pipeline a composed config runs, and the checks that
a method of one task is not run under another (the method families share names: ``method=salun`` is SalUn for
classifiers, ``method=generation/salun`` SalUn for class-conditional DDPMs, ``method=sd/salun`` SalUn for Stable
Diffusion)."""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from unlearn_bench.errors import ConfigError
from unlearn_bench.generation.config import TASKS
from unlearn_bench.generation.methods import GEN_METHODS, GenMethodConfig
from unlearn_bench.generation.sd.config import SDMethodConfig
from unlearn_bench.generation.sd.methods import allowed_sd_methods
from unlearn_bench.results import RunRecord


def is_generation_method(method_cfg: DictConfig) -> bool:
    """Whether the composed ``method`` node has a generation method's schema (``conf/method/generation/``)."""
    schema = OmegaConf.get_type(method_cfg)
    return isinstance(schema, type) and issubclass(schema, GenMethodConfig)


def is_sd_method(method_cfg: DictConfig) -> bool:
    """Whether the composed ``method`` node has an SD method's schema (``conf/method/sd/``)."""
    schema = OmegaConf.get_type(method_cfg)
    return isinstance(schema, type) and issubclass(schema, SDMethodConfig)


def method_task(method_cfg: DictConfig) -> str:
    """The task a method config belongs to."""
    if is_generation_method(method_cfg):
        return "generation"
    return "generation_sd" if is_sd_method(method_cfg) else "classification"


def check_task(cfg: DictConfig) -> None:
    name = cfg.task.name
    if name not in TASKS:
        raise ConfigError(f"task.name={name!r} is not supported; allowed: {list(TASKS)}")
    family = method_task(cfg.method)
    if family == name:
        return
    kinds = {"classification": "a classification method", "generation": "a generation method",
             "generation_sd": "a Stable Diffusion method"}
    shown = {"classification": cfg.method.name, "generation": f"generation/{cfg.method.name}",
             "generation_sd": f"sd/{cfg.method.name}"}[family]
    allowed = {"classification": "a classification method (conf/method/*.yaml)",
               "generation": "method=" + ", ".join(f"generation/{m}" for m in sorted(GEN_METHODS)),
               "generation_sd": "method=" + ", ".join(allowed_sd_methods())}[name]
    if name == "classification":
        raise ConfigError(f"method={shown} is {kinds[family]} and needs task={family}; with task=classification "
                          f"choose {allowed}")
    raise ConfigError(f"task={name} needs {kinds[name]}, but method={shown} is {kinds[family]} (it needs "
                      f"task={family}); allowed: {allowed}")


def run_task(cfg: DictConfig, output_dir: str | None = None) -> RunRecord:
    """Run the pipeline ``cfg.task`` selects (the entry point's dispatch)."""
    check_task(cfg)
    if cfg.task.name == "generation":
        from unlearn_bench.generation.runner import run as run_generation

        return run_generation(cfg, output_dir)
    if cfg.task.name == "generation_sd":
        from unlearn_bench.generation.sd.runner import run as run_sd

        return run_sd(cfg, output_dir)
    from unlearn_bench.runner import run

    return run(cfg, output_dir)
