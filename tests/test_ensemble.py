"""Vectorised training of many small models (unlearn_bench/ensemble.py) against sequential training."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from torch.func import stack_module_state

from unlearn_bench.cache import ModelCache
from unlearn_bench.config import TrainConfig
from unlearn_bench.data.loader import iterate_batches
from unlearn_bench.ensemble import EnsembleJob, build_cached, fit_ensemble, stacked_losses
from unlearn_bench.models import create_model
from unlearn_bench.models.small_cnn import SmallCNN
from unlearn_bench.runtime import seed_everything
from unlearn_bench.stacked import stacked_logits
from unlearn_bench.training import DivergedError, train_from_scratch


def _recipe(**kw) -> TrainConfig:
    base = dict(name="t", epochs=2, batch_size=16, lr=0.05, momentum=0.9, weight_decay=5e-4, schedule="cosine",
                amp=False, nesterov=False, label_smoothing=0.0)
    return OmegaConf.structured(TrainConfig(**{**base, **kw}))


_SIDE = {"small_cnn": 8, "lenet5": 16}  # lenet5's two 5x5 convolutions and poolings need 16 px


def _data(n: int = 70, seed: int = 0, side: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 4, (n,), generator=g)
    x = (torch.rand(n, 1, side, side, generator=g) * 80 + y[:, None, None, None] * 40).to(torch.uint8)
    return x, y


def _model(name: str = "small_cnn") -> torch.nn.Module:
    return create_model(name, 4, 1, _SIDE[name], [0.5], [0.25], width=4 if name == "small_cnn" else 6)


def _jobs(x, y, sizes, crop=0, name="small_cnn"):
    """(initial model, batch source) per size: model k sees the first sizes[k] examples in its own order."""
    out = []
    for k, n in enumerate(sizes):
        generator = seed_everything(100 + k)
        model = _model(name)
        out.append((model, lambda n=n, g=generator: iterate_batches(x[:n], y[:n], 16, True, crop, False, g)))
    return out


@pytest.mark.parametrize("name,path", [("small_cnn", "grouped"), ("lenet5", "grouped"), ("small_cnn", "vmap"),
                                       ("lenet5", "vmap")])
@pytest.mark.parametrize("kw", [{}, {"nesterov": True, "label_smoothing": 0.1, "schedule": "multistep",
                                     "milestones": [1]}])
def test_vectorised_equals_sequential(kw, name, path):
    """Same initial weights and batches: the K models after vectorised training (either path) equal those trained one
    by one (up to float summation order), with subsets of different sizes (a different number of steps and a ragged
    last batch) and BatchNorm running statistics (small_cnn)."""
    x, y = _data(side=_SIDE[name])
    recipe = _recipe(**kw)
    sizes = [70, 64, 70, 37]
    sequential = [train_from_scratch(m, s, recipe, "seq", progress=False)
                  for m, s in _jobs(x, y, sizes, crop=1, name=name)]
    prepared = _jobs(x, y, sizes, crop=1, name=name)
    vectorised = fit_ensemble([m for m, _ in prepared], [s for _, s in prepared], recipe, path=path)
    for a, b in zip(sequential, vectorised):
        assert not b.training
        for (key, pa), pb in zip(a.state_dict().items(), b.state_dict().values()):
            torch.testing.assert_close(pb, pa, rtol=1e-4, atol=1e-5, msg=key)
    # Not a vacuous comparison: the models moved from their initial weights and differ from each other.
    init = _jobs(x, y, sizes, name=name)[0][0]
    assert not torch.allclose(init.net.fc.weight, vectorised[0].net.fc.weight, atol=1e-3)
    assert not torch.allclose(vectorised[0].net.fc.weight, vectorised[2].net.fc.weight, atol=1e-3)


@pytest.mark.parametrize("name", ["small_cnn", "lenet5"])
def test_grouped_forward_is_each_models_forward(name):
    """The grouped network's logits are each model's own training-mode forward on its own batch, and its BatchNorm
    running statistics (updated in place through flat views of the K x C buffers) are each model's."""
    models = [_model(name) for _ in range(3)]
    params, buffers = stack_module_state(models)
    params = {n: p.detach().contiguous() for n, p in params.items()}
    buffers = {n: b.contiguous() for n, b in buffers.items()}
    x = torch.rand(3, 5, 1, _SIDE[name], _SIDE[name])
    logits = stacked_logits(models[0])(params, buffers, x)
    for k, model in enumerate(models):
        torch.testing.assert_close(logits[k], model.train()(x[k]), rtol=1e-4, atol=1e-5)
        for n, b in model.named_buffers():
            torch.testing.assert_close(buffers[n][k], b, msg=n)
    assert not torch.allclose(logits[0], logits[1])


def test_path_is_picked_by_family():
    """small_cnn and lenet5 run grouped; any other architecture (or a subclass, whose forward may differ) vmap."""
    assert stacked_losses(_model("small_cnn"), 0.0)[0] == "grouped"
    assert stacked_losses(_model("lenet5"), 0.0)[0] == "grouped"
    assert stacked_losses(_model("lenet5"), 0.0, path="vmap")[0] == "vmap"
    resnet = create_model("resnet18", 4, 1, 8, [0.5], [0.25])
    assert stacked_losses(resnet, 0.0)[0] == "vmap"
    with pytest.raises(ValueError, match="grouped"):
        stacked_losses(resnet, 0.0, path="grouped")

    class Other(SmallCNN):
        def forward(self, x):
            return super().forward(x) * 2

    other = _model()
    other.net.__class__ = Other
    assert stacked_losses(other, 0.0)[0] == "vmap"


def test_divergence_is_reported():
    x, y = _data()
    (m, s), = _jobs(x, y, [70])
    with torch.no_grad():
        m.net.fc.weight.fill_(float("nan"))
    with pytest.raises(DivergedError):
        fit_ensemble([m], [s], _recipe(epochs=1))


def test_build_cached_uses_the_sequential_keys(tmp_path):
    """Models built vectorised are stored under the payload's key: load_or_build then loads them (no build), with the
    weights sequential training gives; already cached ones are not trained again."""
    x, y = _data()
    recipe = _recipe(epochs=1)
    cache = ModelCache(tmp_path)

    def job(k):
        def prepare():
            generator = seed_everything(100 + k)
            return _model(), lambda: iterate_batches(x, y, 16, True, 0, False, generator)
        return EnsembleJob("t", {"k": k}, prepare)

    assert build_cached(cache, [job(0), job(1)], _model, recipe) == 2
    assert build_cached(cache, [job(0), job(1), job(2)], _model, recipe) == 1

    def must_not_build():
        raise AssertionError("should be cached")

    loaded, meta = cache.load_or_build("t", {"k": 1}, _model(), must_not_build)
    assert meta["cached"]
    model, source = job(1).prepare()
    reference = train_from_scratch(model, source, recipe, "seq", progress=False)
    for pa, pb in zip(reference.state_dict().values(), loaded.state_dict().values()):
        torch.testing.assert_close(pb, pa, rtol=1e-4, atol=1e-5)


def _digits(tmp_path, extra):
    from tests.conftest import compose_config
    from unlearn_bench.data.task import make_task
    from unlearn_bench.runtime import prepare_model

    cfg = compose_config(["data=digits", "train.epochs=1", "train.batch_size=256", "progress=false", "device=cpu",
                          "train.amp=false",
                          f"cache_dir={tmp_path}", *extra])
    task = make_task(cfg.data, cfg.scenario, cfg.train, cfg.seed, "cpu")

    def new_model():
        return prepare_model(create_model("small_cnn", task.num_classes, 1, 8, task.mean, task.std,
                                          width=cfg.model.width), torch.device("cpu"), None)
    return cfg, task, new_model


def _cached_states(root, kind):
    return {p.stem: torch.load(p, weights_only=True) for p in sorted((root / kind).glob("*.pt"))}


def _assert_same_states(a, b):
    """Equal up to float summation order, which drifts over the ~20 steps of a digits epoch (width 32: single
    elements of a BatchNorm running mean seen 0.03 apart), so each tensor is compared as a whole: relative L2 distance
    under 2%. Two different models (another seed, subset or order) are ~100% apart, which the last assertion checks so
    that the tolerance cannot hide a wrong seed."""
    assert a.keys() == b.keys() and a
    for key in a:
        for name in a[key]:
            if a[key][name].is_floating_point():
                distance = (b[key][name] - a[key][name]).norm() / a[key][name].norm().clamp_min(1e-6)
                assert distance < 0.02, f"{key} {name}: relative distance {distance:.4f}"
    first, second = list(a)[:2]
    for name in ("net.features.0.0.weight", "net.fc.weight"):
        assert (a[first][name] - b[second][name]).norm() / a[first][name].norm() > 0.2


def test_ulira_shadows_vectorised_match_the_sequential_ones(tmp_path, monkeypatch):
    """eval.ulira.ensemble=true stores the shadow originals and retrained models under the sequential keys with the
    weights the sequential loop trains (different half sizes: ragged steps), so the loop trains none itself."""

    import unlearn_bench.attacks.ulira as ulira
    from unlearn_bench.attacks.common import Stream, derive_seed

    states = {}
    for flag in (False, True):
        cfg, task, new_model = _digits(tmp_path / str(flag), ["eval=ulira", "eval.ulira.num_shadows=4",
                                                             f"eval.ulira.ensemble={str(flag).lower()}"])
        keep = ulira.keep_matrix(4, len(task.train_y), derive_seed(cfg.seed, 0, Stream.ULIRA_KEEP))
        assert len(set(keep.sum(1))) > 1  # halves of different sizes
        if flag:  # every shadow model comes from the vectorised passes: the sequential training is never called
            monkeypatch.setattr(ulira, "train_from_scratch", lambda *a, **k: pytest.fail("trained sequentially"))
        model = new_model()
        ulira.ulira_attack(cfg, task, {"run": 0}, new_model, model.eval(), model)  # through the real attack
        states[flag] = {kind: _cached_states(tmp_path / str(flag), kind) for kind in ("ulira_original",
                                                                                     "ulira_retrain")}
        assert all(len(v) == int(np.any(keep[:, task.forget_idx], 1).sum()) for v in states[flag].values())
    for kind in states[False]:
        _assert_same_states(states[False][kind], states[True][kind])


def test_challenge_population_vectorised_matches_the_sequential_one(tmp_path):
    import unlearn_bench.attacks.challenge as challenge

    states = {}
    for flag in (False, True):
        cfg, task, new_model = _digits(tmp_path / str(flag), ["eval=challenge", "eval.challenge.num_models=3",
                                                             "method=retrain",
                                                             f"eval.challenge.ensemble={str(flag).lower()}"])
        original = new_model()
        seed_everything(0)
        if flag:
            challenge.build_retrain_population(cfg, task, {"run": 0}, new_model, original, 3, 0)
        else:
            challenge.challenge_evaluation(cfg, task, {"run": 0}, new_model, original.eval(), original)
        states[flag] = _cached_states(tmp_path / str(flag), "challenge_retrain")
        assert len(states[flag]) == 2
    _assert_same_states(states[False], states[True])


@pytest.mark.parametrize("ensemble", [False, True])
def test_klom_builds_its_populations_vectorised_when_asked(monkeypatch, ensemble):
    """eval.klom.ensemble=true trains the missing originals 1 .. N-1 and the population's missing Retrains in
    vectorised passes (with KLoM's own size and seed) before reading them; the runs of the method (and of Retrain
    on each original) are never vectorised."""
    from types import SimpleNamespace

    import unlearn_bench.attacks.klom as attacks
    from tests.conftest import compose_config

    cfg = compose_config(["method=salun", "eval=deep", "eval.klom.num_models=3", "eval.klom.seed=7",
                          f"eval.klom.ensemble={str(ensemble).lower()}"])
    events = []
    monkeypatch.setattr(attacks, "_original_job", lambda ctx, i: i)
    monkeypatch.setattr(attacks, "ModelCache", lambda root: None)
    monkeypatch.setattr(attacks, "build_cached", lambda cache, jobs, *a, **k: events.append(("originals", jobs)))
    monkeypatch.setattr(attacks, "build_retrain_population", lambda *a: events.append(("built", a[-2:])))
    monkeypatch.setattr(attacks, "population_retrain", lambda *a: events.append(("read", a[6])) or (None, ""))
    monkeypatch.setattr(attacks, "population_original", lambda ctx, i: i)
    monkeypatch.setattr(attacks, "population_unlearned", lambda *a: events.append((a[1].name, a[4])))
    monkeypatch.setattr(attacks, "_margins", lambda *a: {"forget": np.zeros(2), "test": np.zeros(3)})
    ctx = SimpleNamespace(cfg=cfg, task=None, retrain_payload={}, fresh_model=None, original=None, retrain=None,
                          progress=False, batch_size=8)
    klom = attacks.KLoM()
    retrain_scores = klom.score(ctx, "retrain", {})
    klom.score(ctx, "method", {"retrain": retrain_scores})
    originals = [("originals", [1, 2])] if ensemble else []
    built = [("built", (3, 7))] if ensemble else []
    assert events == [*originals, *built, ("read", 0), ("read", 1), ("read", 2),
                      ("retrain", 0), ("retrain", 1), ("retrain", 2),
                      *originals, ("salun", 0), ("salun", 1), ("salun", 2)]


@pytest.mark.parametrize("vectorised", [False, True])
def test_one_host_sync_per_epoch(monkeypatch, vectorised):
    """The training loops read a tensor back to the host once per epoch (the divergence check), never per step:
    on CUDA a per-step ``.item()`` stalls the queue."""
    x, y = _data()
    recipe = _recipe(epochs=3)
    prepared = _jobs(x, y, [70, 64])
    calls = []
    for name in ("item", "tolist", "__bool__", "__float__"):
        original = getattr(torch.Tensor, name)
        monkeypatch.setattr(torch.Tensor, name, lambda self, *a, _o=original, _n=name, **k: (calls.append(_n),
                                                                                             _o(self, *a, **k))[1])
    if vectorised:
        fit_ensemble([m for m, _ in prepared], [s for _, s in prepared], recipe)
    else:
        train_from_scratch(*prepared[0], recipe, "seq", progress=False)
    steps_per_epoch = 5
    assert 0 < len(calls) <= recipe.epochs < recipe.epochs * steps_per_epoch, calls
