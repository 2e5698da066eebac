"""Every cache key, in one place: a key is ``cache.config_hash`` of the payload of what its artefact declares it
depends on.

=====================  ==============================================================================================
artefact (cache kind)  its payload
=====================  ==============================================================================================
original               data (``DATA``), model (architecture and its options), train recipe (``TRAIN``), seed; for a
                       scenario that swaps labels (SURE's confusion) the swapped classes and the forget set too.
                       Also the classifier of the generation pipelines (one classifier per data, model, recipe, seed)
retrain                the original's + the forget set
iterative              the original's + the scenario (``SCENARIO`` but its name) with the round + the method
eval (a reference      the forget set, the scenario, the eval options the evaluation reads (``REFERENCE_EVAL``), amp
model's evaluation)    and the weights' SHA-256 (the model-based attacks add their own, ``unlearn_bench.attacks``)
ddpm_original          data, the task's UNet, diffusion and DDPM recipe (``DDPM_ORIGINAL``), amp, seed
ddpm_retrain           the DDPM original's + the forget set
eval (SD)              the original pipeline (``sd_pipeline_key``), prompts, sampling options, seed
runs                   the run's references' + scenario + method (``method_key``) + the eval options its pipeline reads
                       (``Pipeline.eval_options``, an attack's only when enabled); the runner adds the method's code
                       (``runner.code_key``)
=====================  ==============================================================================================

A field is in a key because a declaration here names it: a field added to a schema is in no key until it is declared,
and tests/test_keys.py fails until every field of the data, train, scenario and eval schemas is declared keyed or not
(``Declared.unkeyed``, with the reason), and pins the keys of fixed configs. A field added after keys were in use goes
in ``Declared.later``: in the key only away from its default, so what was cached before it keeps its key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig, OmegaConf

from unlearn_bench.attacks import ATTACKS
from unlearn_bench.generation.sd.config import TINY
from unlearn_bench.models import model_options, resolve_model_name

if TYPE_CHECKING:
    from unlearn_bench.data.task import Task


@dataclass(frozen=True)
class Declared:
    """What of a config node an artefact depends on: ``keyed`` fields always in its key; ``later`` fields (added after
    keys were in use) in it only away from the value given; ``unkeyed`` fields, never (with why, for the reader)."""

    keyed: tuple[str, ...]
    later: Mapping[str, Any] = field(default_factory=dict)
    unkeyed: Mapping[str, str] = field(default_factory=dict)

    def pick(self, node: DictConfig | Mapping) -> dict:
        values = OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else dict(node)
        return {**{k: values[k] for k in self.keyed},
                **{k: values[k] for k, default in self.later.items() if values[k] != default}}

    def fields(self) -> set[str]:
        return {*self.keyed, *self.later, *self.unkeyed}


DATA = Declared(
    ("name", "num_classes", "in_chans", "img_size", "mean", "std", "val_ratio", "default_model", "train_dir",
     "test_dir", "resize", "n_train", "n_test"),
    later={"train_subset": None},
    unkeyed={"root": "where the files are read from, not what they hold",
             "verify_files": "whether their MD5 sums are checked, not what they hold"})
TRAIN = Declared(
    ("name", "epochs", "batch_size", "lr", "momentum", "weight_decay", "nesterov", "schedule", "milestones", "gamma",
     "warmup_epochs", "crop_padding", "hflip", "label_smoothing", "amp"),
    unkeyed=dict.fromkeys(("channels_last", "compile"), "how the same computation is executed"))
SCENARIO = Declared(("name", "kind", "ratio", "size", "class_index", "classes", "subclass"),
                    later={"rounds": None, "round": None})
# The eval options a reference model's evaluation reads (the original's and Retrain's, shared by every method).
REFERENCE_EVAL = Declared(
    ("batch_size", "mia", "shift", "metrics", "save_arrays"),
    unkeyed={"every_epoch": "evaluates the method's epochs, not the references (in a run's key)",
             **{name: "a model-based attack: keyed by the attack's own payload (in a run's key when enabled)"
                for name in ATTACKS}})
# The method config: every field of the method's own ``Config`` (its hyper-parameters) but the tuning metadata.
METHOD = Declared((), later={"weights": None, "fidelity": "paper"},
                  unkeyed={"tuned": "how a tuned preset's values were chosen: the same values are the same run"})
DDPM_ORIGINAL = ("unet", "diffusion", "train")  # of the generation task's config


def forget_sha(task: Task) -> str:
    return hashlib.sha256(task.forget_idx.tobytes()).hexdigest()


def data_key(cfg: DictConfig) -> dict:
    return DATA.pick(cfg.data)


def scenario_key(cfg: DictConfig) -> dict:
    return SCENARIO.pick(cfg.scenario)


def method_key(method_cfg: DictConfig) -> dict:
    """The method config that determines the unlearned model: a tuned preset and the same values given as overrides
    are one run."""
    method = {k: v for k, v in OmegaConf.to_container(method_cfg, resolve=True).items()
              if k not in METHOD.unkeyed and not (k in METHOD.later and v == METHOD.later[k])}
    if method.get("weights") is not None:  # {1: 0}, {"1": 0.0} and any key order are one computation
        method["weights"] = {str(k): float(v) for k, v in sorted(method["weights"].items(), key=lambda kv: int(kv[0]))}
    return method


def model_key(cfg: DictConfig) -> dict:
    name = resolve_model_name(cfg)
    return {"name": name, **model_options(cfg.model, name)}


def original_key(cfg: DictConfig, task: Task) -> dict:
    """The original's payload: no scenario (every forget set shares it), but for SURE's confusion task, whose original
    learns D_f with swapped labels."""
    payload = {"data": data_key(cfg), "model": model_key(cfg), "train": TRAIN.pick(cfg.train), "seed": cfg.seed}
    if task.confused_classes:
        payload["swapped_labels"] = {"classes": task.confused_classes, "forget_idx_sha256": forget_sha(task)}
    return payload


def retrain_key(cfg: DictConfig, task: Task) -> dict:
    return {**original_key(cfg, task), "forget_idx_sha256": forget_sha(task)}


def round_key(cfg: DictConfig, task: Task, round_k: int) -> dict:
    """The method's model after round ``round_k`` of a scenario that chains rounds (without the scenario's name, which
    holds this run's round: every run of the sweep must find the same key)."""
    scenario = {k: v for k, v in scenario_key(cfg).items() if k != "name"}
    return {**original_key(cfg, task), "scenario": {**scenario, "round": round_k}, "method": method_key(cfg.method)}


def reference_eval_key(cfg: DictConfig, task: Task) -> dict:
    """What determines a classifier reference model's evaluation besides its weights (``weights_sha256``)."""
    return {"forget_idx_sha256": forget_sha(task), "scenario": scenario_key(cfg),
            "eval": REFERENCE_EVAL.pick(cfg.eval), "amp": cfg.train.amp}


def run_eval_key(cfg: DictConfig, options: Iterable[str]) -> dict:
    """The eval ``options`` a run's pipeline reads, a model-based attack's only when it is enabled: a new eval option,
    or a new attack left off, reruns nothing."""
    values = OmegaConf.to_container(cfg.eval, resolve=True)
    return {k: values[k] for k in options if not (k in ATTACKS and not values[k]["enabled"])}


def isolation_keyed(payload: dict, cfg: DictConfig) -> dict:
    """A run under ``method_isolation=process`` computes the same model but is its own record, so it shows that the
    method ran with only its declared splits (unset in-process, so earlier runs keep their keys)."""
    return payload if cfg.method_isolation == "none" else {**payload, "method_isolation": cfg.method_isolation}


def classification_run_key(cfg: DictConfig, task: Task, eval_options: Iterable[str]) -> dict:
    return isolation_keyed({**retrain_key(cfg, task), "scenario": scenario_key(cfg), "method": method_key(cfg.method),
                            "eval": run_eval_key(cfg, eval_options)}, cfg)


# --- the generation task (class-conditional DDPMs) ------------------------------------------------------------------


def ddpm_original_key(cfg: DictConfig) -> dict:
    task = OmegaConf.to_container(cfg.task, resolve=True)
    return {"data": data_key(cfg), **{k: task[k] for k in DDPM_ORIGINAL}, "amp": cfg.train.amp, "seed": cfg.seed}


def ddpm_retrain_key(cfg: DictConfig, task: Task) -> dict:
    return {**ddpm_original_key(cfg), "forget_idx_sha256": forget_sha(task)}


def generation_samples_key(cfg: DictConfig) -> dict:
    """What the generation metrics read besides the models: the sampling and metric options."""
    return {k: OmegaConf.to_container(cfg.task[k], resolve=True) for k in ("sampling", "metrics")}


def ddpm_eval_key(cfg: DictConfig, task: Task, classifier_sha256: str) -> dict:
    """What determines a reference DDPM's evaluation besides its weights (``weights_sha256``)."""
    return {"classifier_sha256": classifier_sha256, "forget_idx_sha256": forget_sha(task),
            **generation_samples_key(cfg), "seed": cfg.seed}


def ddpm_run_key(cfg: DictConfig, task: Task, eval_options: Iterable[str]) -> dict:
    return isolation_keyed({**ddpm_retrain_key(cfg, task), "task": "generation", "classifier": original_key(cfg, task),
                            "scenario": scenario_key(cfg), "method": method_key(cfg.method),
                            **generation_samples_key(cfg), "eval": run_eval_key(cfg, eval_options)}, cfg)


# --- the generation_sd task (Stable Diffusion) ----------------------------------------------------------------------


def sd_pipeline_key(cfg: DictConfig) -> dict:
    """What identifies the original SD pipeline: the tiny config and seed, or the local folder with the sizes and
    modification times of its files."""
    if cfg.task.pipeline == TINY:
        return {"tiny": OmegaConf.to_container(cfg.task.tiny, resolve=True), "seed": cfg.seed}
    root = Path(cfg.task.pipeline).resolve()
    files = {str(p.relative_to(root)): [p.stat().st_size, int(p.stat().st_mtime)]
             for p in sorted(root.rglob("*")) if p.is_file()}
    return {"path": str(root), "files": files}


def sd_data_key(cfg: DictConfig, pipeline: dict, forget: list[str], retain: list[str]) -> dict:
    """D_f and D_r generated by the original ``pipeline`` (``sd_pipeline_key``) from the ``forget`` / ``retain``
    prompts."""
    sampling = cfg.task.sampling
    return {"kind": "sd_data", "pipeline": pipeline, "forget": forget, "retain": retain,
            "per_prompt": cfg.task.data.num_per_prompt, "steps": sampling.steps, "scale": sampling.guidance_scale,
            "seed": cfg.seed}


def sd_eval_images_key(cfg: DictConfig, pipeline: dict, prompts: list[str]) -> dict:
    """The original pipeline's evaluation images of ``prompts``."""
    return {"kind": "sd_eval_images", "pipeline": pipeline, "prompts": prompts,
            "sampling": OmegaConf.to_container(cfg.task.sampling, resolve=True), "seed": cfg.seed}


def sd_run_key(cfg: DictConfig, pipeline: dict, eval_options: Iterable[str]) -> dict:
    """Every option of the SD task is read by its pipeline; the scenario only for class forgetting."""
    return {"task": "generation_sd", "pipeline": pipeline, "task_cfg": OmegaConf.to_container(cfg.task, resolve=True),
            "seed": cfg.seed, "scenario": scenario_key(cfg) if cfg.task.concept == "class" else None,
            "method": method_key(cfg.method), "data": cfg.data.name, "eval": run_eval_key(cfg, eval_options)}
