"""Cache keys (unlearn_bench/keys.py): pinned for fixed configs, so a change that would invalidate users' caches fails
here; every schema field declared keyed or not; a run keyed on the eval options it reads only."""

import dataclasses

import pytest
import torch

from tests.conftest import compose_config
from unlearn_bench import keys
from unlearn_bench.cache import config_hash
from unlearn_bench.config import DataConfig, EvalConfig, ScenarioConfig, TrainConfig
from unlearn_bench.pipelines import Pipeline, create_pipeline
from unlearn_bench.pipelines.sd import eval_prompts
from unlearn_bench.runtime import resolve_amp, resolve_eval_batch_size

CPU = torch.device("cpu")

WEIGHTS = "0" * 64  # a reference model's weights' SHA-256, fixed
# The keys of the models and evaluations were computed with the code before keys.py (commit 750de59): they are the keys
# of the artefacts in users' caches. The run keys (without runner.code_key) are keys.py's first.
GOLDEN = {
    "digits": ([], {"original": "d43828f5b92bd492", "retrain": "daedb4514113989a",
                    "reference_eval": "7df2ae1847560fde", "run": "1a6fce077f676a16"}),
    "digits classwise ga seed 1": (["scenario=classwise", "method=ga", "seed=1"],
                                   {"original": "1281b27ac8dd5e77", "retrain": "100067d656e83787",
                                    "reference_eval": "c9862ccad5b79628", "run": "cc6f283382856455"}),
    "digits iterative": (["scenario=iterative", "method=ft", "scenario.round=2"],
                         {"original": "d43828f5b92bd492", "retrain": "ca997db01c6fc1eb",
                          "reference_eval": "eebb7066f69720bf", "iterative_round1": "04f0377490087d40",
                          "run": "237c2dc2e424f035"}),
    "digits gn1 jit": (["eval=gn1", "eval.metrics=[jit]"],
                       {"original": "d43828f5b92bd492", "retrain": "daedb4514113989a",
                        "reference_eval": "f5828f2846c8a84d", "run": "1f75eb402f37e83b"}),
    "digits confusion": (["scenario=confusion", "method=ft"],
                         {"original": "57e0b49d4c095d70", "retrain": "44d6b5b66c285fef",
                          "reference_eval": "e80c56eb51f39079", "run": "a06b88d86874d86d"}),
    "generation": (["task=generation"],
                   {"classifier": "d43828f5b92bd492", "ddpm_original": "e4cf6d38971a99c4",
                    "ddpm_retrain": "5424577c86658ae5", "ddpm_eval": "a0f627bd377034e6", "run": "fff5bb7b1352f55b"}),
    "sd tiny": (["task=generation_sd", "task.pipeline=tiny", "task.metrics.classifier=null",
                 "task.data.source=generated", "data=digits"],
                {"sd_data": "55b8351c67fbcf79", "sd_eval_images": "29b8debd194a1b7f", "run": "9a9bc202b13c0a5b"}),
}
ADVICE = ("Every user's cached {kind} would be built again (a run: run again). If that is not intended, declare the "
          "new or changed field in unlearn_bench/keys.py as `later` (in the key only away from its default, so the "
          "keys made before it hold) or `unkeyed` (with why). If it is intended, update GOLDEN here and say in the "
          "commit message which cached artefacts are built again.")


def cpu_pipeline(overrides: list[str]) -> Pipeline:
    """The validated pipeline, set up on CPU with what ``runner.start_run`` resolves there before any key is built."""
    cfg = compose_config([*overrides, "device=cpu"])
    pipeline = create_pipeline(cfg)
    cfg.train.amp, cfg.eval.batch_size = resolve_amp(None, CPU), resolve_eval_batch_size(None, CPU)
    pipeline.setup(CPU)
    return pipeline


def key_hashes(overrides: list[str]) -> dict[str, str]:
    pipeline = cpu_pipeline(overrides)
    cfg = pipeline.cfg
    found = {"run": config_hash(pipeline.run_payload())}
    if cfg.task.name == "classification":
        task = pipeline.task
        found |= {"original": keys.original_key(cfg, task), "retrain": keys.retrain_key(cfg, task),
                  "reference_eval": {**keys.reference_eval_key(cfg, task), "weights_sha256": WEIGHTS}}
        if pipeline.scenario.current_round() is not None:
            found["iterative_round1"] = keys.round_key(cfg, task, 1)
    elif cfg.task.name == "generation":
        task = pipeline.task
        found |= {"classifier": keys.original_key(cfg, task), "ddpm_original": keys.ddpm_original_key(cfg),
                  "ddpm_retrain": keys.ddpm_retrain_key(cfg, task),
                  "ddpm_eval": {**keys.ddpm_eval_key(cfg, task, WEIGHTS), "weights_sha256": WEIGHTS}}
    else:
        fingerprint, prompts = pipeline.fingerprint, pipeline.prompts
        found |= {"sd_data": keys.sd_data_key(cfg, fingerprint, prompts.forget, prompts.retain),
                  "sd_eval_images": keys.sd_eval_images_key(cfg, fingerprint, eval_prompts(prompts))}
    return {kind: key if isinstance(key, str) else config_hash(key) for kind, key in found.items()}


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_cache_keys_are_pinned(name):
    overrides, pinned = GOLDEN[name]
    found = key_hashes(overrides)
    changed = {kind: f"{pinned[kind]} -> {found[kind]}" for kind in pinned if found[kind] != pinned[kind]}
    assert not changed, f"{name}: cache keys changed: {changed}. " + ADVICE.format(kind=", ".join(changed))
    assert found.keys() == pinned.keys()


@pytest.mark.parametrize("declared,schema", [(keys.DATA, DataConfig), (keys.TRAIN, TrainConfig),
                                             (keys.SCENARIO, ScenarioConfig), (keys.REFERENCE_EVAL, EvalConfig)])
def test_every_schema_field_is_declared_keyed_or_not(declared, schema):
    fields = {f.name for f in dataclasses.fields(schema)}
    assert declared.fields() == fields, (
        f"{schema.__name__}: undeclared {sorted(fields - declared.fields())}, gone "
        f"{sorted(declared.fields() - fields)}: declare each new field in unlearn_bench/keys.py as keyed, `later` "
        "(keeps existing keys) or `unkeyed`")


def test_a_later_field_at_its_default_leaves_the_key_as_it_was():
    base = keys.data_key(compose_config([]))
    assert "train_subset" not in base
    assert keys.data_key(compose_config(["data.train_subset=500"])) == {**base, "train_subset": 500}


def run_key(*overrides: str) -> str:
    return config_hash(cpu_pipeline(list(overrides)).run_payload())


def test_a_run_is_keyed_on_the_eval_options_it_reads():
    plain = run_key()
    assert run_key("eval.klom.num_models=5") == plain  # a disabled attack's option: nothing reruns
    assert run_key("eval.klom.enabled=true") != plain
    assert run_key("eval.klom.enabled=true", "eval.klom.num_models=5") != run_key("eval.klom.enabled=true")
    assert run_key("eval.metrics=[jit]") != plain
    assert run_key("eval.every_epoch=true") != plain
    assert run_key("eval.shift.kind=gaussian") != plain
