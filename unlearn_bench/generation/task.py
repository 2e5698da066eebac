"""``task=classification | generation``: which pipeline a composed config runs, and the checks that a method of
one task is not run under the other (the two method families share names: ``method=salun`` is SalUn for
classifiers, ``method=generation/salun`` SalUn for diffusion models)."""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from unlearn_bench.errors import ConfigError
from unlearn_bench.generation.config import TASKS
from unlearn_bench.generation.methods import GEN_METHODS, GenMethodConfig
from unlearn_bench.results import RunRecord


def is_generation_method(method_cfg: DictConfig) -> bool:
    """Whether the composed ``method`` node has a generation method's schema (``conf/method/generation/``)."""
    schema = OmegaConf.get_type(method_cfg)
    return isinstance(schema, type) and issubclass(schema, GenMethodConfig)


def check_task(cfg: DictConfig) -> None:
    name = cfg.task.name
    if name not in TASKS:
        raise ConfigError(f"task.name={name!r} is not supported; allowed: {list(TASKS)}")
    generation_method = is_generation_method(cfg.method)
    allowed = [f"generation/{m}" for m in sorted(GEN_METHODS)]
    if name == "classification" and generation_method:
        raise ConfigError(f"method=generation/{cfg.method.name} is a generation method and needs task=generation; "
                          "with task=classification choose a classification method (conf/method/*.yaml)")
    if name == "generation" and not generation_method:
        raise ConfigError(f"task=generation needs a generation method, but method={cfg.method.name} is a "
                          f"classification method; allowed: method={', '.join(allowed)}")


def run_task(cfg: DictConfig, output_dir: str | None = None) -> RunRecord:
    """Run the pipeline ``cfg.task`` selects (the entry point's dispatch)."""
    check_task(cfg)
    if cfg.task.name == "generation":
        from unlearn_bench.generation.runner import run as run_generation

        return run_generation(cfg, output_dir)
    from unlearn_bench.runner import run

    return run(cfg, output_dir)
