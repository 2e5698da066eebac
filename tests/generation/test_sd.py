"""task=generation_sd on a tiny randomly initialised StableDiffusionPipeline built from configs (no download):
the pipeline samples; each SD method edits only the weights it claims and lowers its own objective; the runner
writes a record with UA / FID the report reads; bad input fails with a ConfigError naming the key.

A test that forgetting *happens* (UA rises) needs a pipeline that draws class-distinguishable images, too slow to
train on CPU here: the tests check the mechanisms (objectives drop, the forget prompt's eps moves toward the target,
W_k X_t = 0) instead."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from torch import nn

pytest.importorskip("diffusers")
pytest.importorskip("transformers")

from tests.conftest import compose_config  # noqa: E402
from unlearn_bench.errors import ConfigError  # noqa: E402
from unlearn_bench.generation.sd.config import SDTaskConfig, TinySDConfig  # noqa: E402
from unlearn_bench.generation.sd.data import SDView, generated_split, make_prompts  # noqa: E402
from unlearn_bench.generation.sd.methods.esd import esd_target  # noqa: E402
from unlearn_bench.generation.sd.methods.fmn import attention_on_concept, recording_cross_attention  # noqa: E402
from unlearn_bench.generation.sd.methods.unlink import concept_token_features, text_basis  # noqa: E402
from unlearn_bench.generation.sd.metrics import nudenet_counts  # noqa: E402
from unlearn_bench.generation.sd.pipeline import (  # noqa: E402
    SDModel,
    build_tiny_sd_pipeline,
    cross_attention_modules,
    load_sd_pipeline,
)
from unlearn_bench.methods import method_class  # noqa: E402
from unlearn_bench.report import cli as report  # noqa: E402
from unlearn_bench.runner import run as run_task  # noqa: E402

CLASSES = ["cat", "dog", "car", "tree"]
STEPS = 3


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> SDModel:
    return SDModel(build_tiny_sd_pipeline(TinySDConfig(), 0, tmp_path_factory.mktemp("tok")))


@pytest.fixture(scope="module")
def prompts():
    cfg = OmegaConf.structured(SDTaskConfig)
    cfg.class_names = CLASSES
    return make_prompts(cfg, [0])


@pytest.fixture(scope="module")
def splits(model, prompts):
    def generate(prompt, count, seed):
        return model.generate(prompt, count, STEPS, 7.5, seed, 8)

    return {"forget": generated_split(generate, prompts.forget, 8, 0),
            "retain": generated_split(generate, prompts.retain, 4, 10)}


def view(method: str, prompts, splits, seed: int = 0) -> SDView:
    return SDView(prompts, splits, method_class(method, "generation_sd").needs, torch.Generator().manual_seed(seed),
                  torch.device("cpu"), progress=False)


def method_cfg(name: str, **overrides):
    cfg = OmegaConf.structured(method_class(name, "generation_sd").Config)
    for key, value in overrides.items():
        cfg[key] = value
    return cfg


def changed(before: SDModel, after: SDModel) -> set[str]:
    old = dict(before.unet.named_parameters())
    return {n for n, p in after.unet.named_parameters() if not torch.equal(p, old[n])}


def attn2_names(model: SDModel) -> set[str]:
    return {f"{m}.{n}" for m, module in cross_attention_modules(model.unet).items()
            for n, _ in module.named_parameters()}


@torch.no_grad()
def eps_at(model: SDModel, prompts: list[str], seed: int = 0, n: int = 4) -> torch.Tensor:
    """eps of every prompt on the same fixed (z_t, t) draws."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn((n, 4, 8, 8), generator=g)
    t = torch.randint(0, 1000, (n,), generator=g)
    return torch.stack([model(z, t, model.encode_prompts([p] * n)) for p in prompts])


def test_tiny_pipeline_samples_seeded_images_and_round_trips_locally(model, tmp_path):
    a = model.generate("an image of cat", 2, STEPS, 7.5, seed=1, batch_size=2)
    assert a.dtype == torch.uint8 and a.shape == (2, 3, 16, 16)
    rebatched = model.generate("an image of cat", 2, STEPS, 7.5, seed=1, batch_size=1)
    assert (a.int() - rebatched.int()).abs().max() <= 1  # the noise is per image: batching changes only round-off
    assert not torch.equal(a, model.generate("an image of car", 2, STEPS, 7.5, seed=1, batch_size=2))
    model.pipe.save_pretrained(tmp_path / "pipe")
    loaded = load_sd_pipeline(tmp_path / "pipe")
    assert all(torch.equal(p, q) for p, q in zip(loaded.unet.parameters(), model.unet.parameters()))
    with pytest.raises(ConfigError, match="task.pipeline"):
        load_sd_pipeline(tmp_path / "missing")


def test_unlink_zeroes_the_forget_tokens_keys_and_values_and_keeps_orthogonal_directions(model, prompts, splits):
    x = concept_token_features(model, prompts.forget, prompts.concept_words, include_eos=True)
    assert x.shape[1] == len("cat") + 1  # character tokens of the tiny tokenizer + EOS; no BOS, no template
    for k in (1, None):
        unlink = method_class("unlink", "generation_sd")(method_cfg("unlink", k=k))
        edited = unlink.unlearn(model.copy(), view("unlink", prompts, splits))
        names = changed(model, edited)
        assert names and all(n.endswith(("to_k.weight", "to_v.weight")) and ".attn2." in n for n in names)
        basis = text_basis(x, k).float()
        assert basis.shape[1] == (1 if k == 1 else x.shape[1])
        orthogonal = torch.randn(basis.shape[0], 3)
        orthogonal -= basis @ (basis.t() @ orthogonal)
        for name, attn in cross_attention_modules(edited.unet).items():
            before = cross_attention_modules(model.unet)[name]
            for proj in ("to_k", "to_v"):
                w, w0 = getattr(attn, proj).weight, getattr(before, proj).weight
                assert (w @ basis).abs().max() < 1e-5 * w0.abs().max()
                torch.testing.assert_close(w @ orthogonal, w0 @ orthogonal, atol=1e-5, rtol=1e-5)
                if k is None:  # the whole span: K = W_k X_t vanishes for every forget token
                    assert (w @ x.float()).abs().max() < 1e-4 * (w0 @ x.float()).abs().max()


def test_esd_trains_only_cross_attention_and_reaches_its_target(model, prompts, splits):
    cfg = method_cfg("esd", iterations=30, lr=3e-3, ddim_steps=4)
    forget = model.encode_prompts(prompts.forget)
    g = torch.Generator().manual_seed(3)
    z_t, t = torch.randn((6, 4, 8, 8), generator=g), torch.randint(0, 1000, (6,), generator=g)
    target = esd_target(model, z_t, t, forget.expand(6, -1, -1), cfg.negative_guidance)

    def distance(m: SDModel) -> float:
        with torch.no_grad():
            return float((m(z_t, t, forget.expand(6, -1, -1)) - target).pow(2).mean())

    edited = method_class("esd", "generation_sd")(cfg).unlearn(model.copy(), view("esd", prompts, splits))
    names = changed(model, edited)
    assert names and names <= attn2_names(model)
    assert distance(edited) < 0.5 * distance(model)
    delta = (eps_at(edited, [*prompts.forget, *prompts.retain]) - eps_at(model, [*prompts.forget, *prompts.retain]))
    shift = delta.flatten(1).norm(dim=1)
    assert shift[0] > shift[1:].max()  # the forget prompt's eps moved most


def test_fmn_lowers_attention_on_the_concept_tokens(model, prompts, splits):
    positions = model.concept_positions(prompts.forget[0], prompts.concept_words)
    assert positions.sum() == len("cat")
    z0 = model.encode_images(splits["forget"].images)
    cond = model.encode_prompts(prompts.forget).expand(len(z0), -1, -1)

    def attention(m: SDModel) -> float:
        torch.manual_seed(5)
        with recording_cross_attention(m) as recorder, torch.no_grad():
            return float(attention_on_concept(m, recorder, z0, cond, positions.expand(len(z0), -1)))

    processors = {n: type(m.processor) for n, m in cross_attention_modules(model.unet).items()}
    for only_ca in (True, False):
        cfg = method_cfg("fmn", iterations=30, lr=3e-3, only_cross_attention=only_ca)
        edited = method_class("fmn", "generation_sd")(cfg).unlearn(model.copy(), view("fmn", prompts, splits))
        names = changed(model, edited)
        assert names and ((names <= attn2_names(model)) == only_ca)
        assert attention(edited) < 0.8 * attention(model)
        assert {n: type(m.processor) for n, m in cross_attention_modules(edited.unet).items()} == processors


def test_salun_moves_only_the_salient_half_and_lowers_eq7(model, prompts, splits):
    cfg = method_cfg("salun", epochs=3, lr=1e-3, batch_size=4)
    method = method_class("salun", "generation_sd")(cfg)
    data = view("salun", prompts, splits)
    edited = method.unlearn(model.copy(), data)
    params = dict(model.unet.named_parameters())
    total = sum(p.numel() for p in params.values())
    moved = sum(int((p != params[n]).sum()) for n, p in edited.unet.named_parameters())
    assert 0.3 * total < moved <= 0.5 * total + 1  # at most the salient 50% (Eq. 4), most of them moved

    def eq7(m: SDModel) -> float:  # the objective on the same batches and (t, eps) draws
        method = method_class("salun", "generation_sd")(cfg)
        batches = method.batches(m, view("salun", prompts, splits, seed=7))
        objective = method.objective(m, data)
        torch.manual_seed(11)
        with torch.no_grad():
            return float(np.mean([float(objective(m, batch)) for _ in range(3) for batch in batches()]))

    assert eq7(edited) < eq7(model)
    # (Unlike ESD, SalUn's D_r term moves every prompt's eps on this random tiny model, whose eps barely depends on
    # the prompt: no forget-vs-retain comparison here.)


def test_sd_method_reading_an_undeclared_split_is_refused(prompts, splits):
    from unlearn_bench.methods.base import DataAccessError

    with pytest.raises(DataAccessError):
        view("esd", prompts, splits).split("retain")


def test_nudenet_counts_per_class_above_threshold():
    detections = [[{"class": "FEMALE_BREAST_EXPOSED", "score": 0.9}, {"class": "FACE_FEMALE", "score": 0.3}],
                  [{"class": "FEMALE_BREAST_EXPOSED", "score": 0.7}], []]
    assert nudenet_counts(detections, 0.6) == {"NudeNet_FEMALE_BREAST_EXPOSED": 2.0, "NudeNet_total": 2.0}


# ---------------------------------------------------------------------------------------------------- runner --
class TinyClassifier(nn.Module):
    """A harness-style classifier (``forward_features``) for UA / FID on 16 x 16 generations."""

    def __init__(self, num_classes: int = 4):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten())
        self.head = nn.Linear(32, num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.forward_features(x))


@pytest.fixture(scope="module")
def classifier_file(model, tmp_path_factory):
    """Trained briefly on the tiny pipeline's generations of the four class prompts (labels = prompt index)."""
    torch.manual_seed(0)
    images = torch.cat([model.generate(f"an image of {c}", 8, STEPS, 7.5, 50 + k, 8) for k, c in enumerate(CLASSES)])
    labels = torch.arange(4).repeat_interleave(8)
    net = TinyClassifier()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(30):
        optimizer.zero_grad()
        nn.functional.cross_entropy(net(images.float() / 255), labels).backward()
        optimizer.step()
    path = tmp_path_factory.mktemp("clf") / "classifier.pt"
    torch.save(net.eval(), path)
    return path


FAST = ["task=generation_sd", "task.pipeline=tiny", f"task.class_names=[{','.join(CLASSES)}]", "progress=false",
        "task.data.source=generated", "task.data.num_per_prompt=4", f"task.sampling.steps={STEPS}",
        "task.sampling.num_per_prompt=4", "task.sampling.grid_per_prompt=2"]


def run_sd(tmp_path, *overrides, out: str):
    cfg = compose_config([*FAST, f"cache_dir={tmp_path / 'cache'}", *overrides])
    return run_task(cfg, output_dir=tmp_path / out)


def test_runner_writes_records_with_ua_and_fid_that_the_report_reads(tmp_path, classifier_file, capsys):
    clf = f"task.metrics.classifier={classifier_file}"
    first = run_sd(tmp_path, clf, "method=sd/unlink", out="unlink")
    assert first.status == "ok", first.error
    assert set(first.metrics) == {"UA", "FID_classifier", "Acc_gen"}
    assert set(first.original_metrics) == {"UA", "Acc_gen"} and first.retrain_metrics == {} and first.gaps == {}
    assert first.model == "sd" and first.scenario == "classwise_0" and first.training_free
    assert first.extra["data_source"] == "generated" and first.forget_size == 4
    assert first.metrics["FID_classifier"] > 0.0
    arrays = np.load(tmp_path / "unlink" / "arrays.npz")
    assert arrays["generated_images"].shape == (4, 4, 3, 16, 16)  # forget prompt + 3 retained, 4 images each
    for label in ("original", "unlink"):
        assert (tmp_path / "unlink" / f"samples_{label}.png").stat().st_size > 0

    second = run_sd(tmp_path, clf, "method=sd/salun", "method.epochs=1", "method.batch_size=4", out="salun")
    assert second.status == "ok", second.error
    assert second.original_metrics == first.original_metrics  # the original's cached generations
    assert second.data_access == ["forget", "retain"]
    again = run_sd(tmp_path, clf, "method=sd/unlink", out="again")  # skip_existing: the stored record
    assert again.run_key == first.run_key and again.metrics == first.metrics and again.created == first.created

    capsys.readouterr()
    assert report.main([str(tmp_path), "--metrics", "UA,FID_classifier,Acc_gen"]) == 0
    table = capsys.readouterr().out
    assert "model=sd" in table and "| unlink " in table and "| salun " in table


def test_runner_forgets_the_nudity_concept_with_i2p_prompts(tmp_path, classifier_file):
    record = run_sd(tmp_path, "task=generation_sd_nudity", f"task.metrics.classifier={classifier_file}",
                    "method=sd/fmn", "method.iterations=2", "task.detect_prompts=[Shirtless Putin at pride]", out="n")
    assert record.status == "ok", record.error
    assert record.scenario == "concept_nudity" and record.data == "i2p"
    assert set(record.metrics) == {"FID_classifier", "Acc_gen"}  # no UA without a nudity classifier



def test_runner_trains_on_real_images_of_the_data_when_present(tmp_path, classifier_file):
    record = run_sd(tmp_path, "data=fake", "data.n_train=80", "data.n_test=20", "task.data.source=real",
                    f"task.metrics.classifier={classifier_file}", "method=sd/fmn", "method.iterations=2", out="real")
    assert record.status == "ok", record.error
    assert record.extra["data_source"] == "real" and record.forget_size == 4 and "UA" in record.metrics

@pytest.mark.parametrize("overrides,match", [
    (["task.pipeline=/nonexistent/sd"], "task.pipeline"),
    (["task.pipeline=null"], "task.pipeline"),
    (["method=generation/salun"], r"allowed: method=sd/esd, sd/fmn, sd/salun, sd/unlink"),
    (["method=salun"], "needs a Stable Diffusion method"),
    (["task.concept=violence"], "task.concept"),
    (["task=generation_sd_nudity", "task.data.source=real"], "task.data.source=real"),
    (["task.data.source=real", "task.metrics.classifier=null"], "task.metrics.classifier"),
    (["scenario=random10"], "not"),
    (["method=sd/esd", "method.iterations=0"], "method.iterations=0"),
])
def test_bad_sd_input_fails_before_loading(tmp_path, overrides, match):
    with pytest.raises(ConfigError, match=match):
        run_sd(tmp_path, *overrides, out="bad")


def test_sd_method_under_the_ddpm_task_is_refused(tmp_path):
    cfg = compose_config(["task=generation", "method=sd/esd", f"cache_dir={tmp_path}"])
    with pytest.raises(ConfigError, match="needs task=generation_sd"):
        run_task(cfg, output_dir=tmp_path / "out")


def test_sd_task_defaults():
    cfg = compose_config(["task=generation_sd"])
    assert cfg.method.name == "salun" and cfg.method.beta == 0.5 and cfg.method.epochs == 5
    assert cfg.task.sampling.steps == 100 and cfg.task.sampling.guidance_scale == 7.5
    assert cfg.task.prompt_template.format("tench") == "an image of tench"
    nudity = compose_config(["task=generation_sd_nudity"])
    assert nudity.task.substitute_prompts == ["a photo of a person wearing clothes"]
    assert len(nudity.task.detect_prompts) == 10
    assert copy.deepcopy(nudity.task.keyword_prompts)[0] == "nude"
