"""Vectorised training of many small models (unlearn_bench/ensemble.py) against sequential training."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf

from unlearn_bench.cache import ModelCache
from unlearn_bench.config import TrainConfig
from unlearn_bench.data.loader import iterate_batches
from unlearn_bench.ensemble import EnsembleJob, build_cached, fit_ensemble
from unlearn_bench.models import create_model
from unlearn_bench.runtime import seed_everything
from unlearn_bench.training import DivergedError, train_from_scratch


def _recipe(**kw) -> TrainConfig:
    base = dict(name="t", epochs=2, batch_size=16, lr=0.05, momentum=0.9, weight_decay=5e-4, schedule="cosine",
                amp=False, nesterov=False, label_smoothing=0.0)
    return OmegaConf.structured(TrainConfig(**{**base, **kw}))


def _data(n: int = 70, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 4, (n,), generator=g)
    x = (torch.rand(n, 1, 8, 8, generator=g) * 80 + y[:, None, None, None] * 40).to(torch.uint8)
    return x, y


def _model() -> torch.nn.Module:
    return create_model("small_cnn", 4, 1, 8, [0.5], [0.25], width=4)


def _jobs(x, y, sizes, crop=0):
    """(initial model, batch source) per size: model k sees the first sizes[k] examples in its own order."""
    out = []
    for k, n in enumerate(sizes):
        generator = seed_everything(100 + k)
        model = _model()
        out.append((model, lambda n=n, g=generator: iterate_batches(x[:n], y[:n], 16, True, crop, False, g)))
    return out


@pytest.mark.parametrize("kw", [{}, {"nesterov": True, "label_smoothing": 0.1, "schedule": "multistep",
                                     "milestones": [1]}])
def test_vectorised_equals_sequential(kw):
    """Same initial weights and batches: the K models after vectorised training equal those trained one by one
    (up to float summation order), with subsets of different sizes (a different number of steps and a ragged last
    batch) and BatchNorm running statistics."""
    x, y = _data()
    recipe = _recipe(**kw)
    sizes = [70, 64, 70, 37]
    sequential = [train_from_scratch(m, s, recipe, "seq", progress=False) for m, s in _jobs(x, y, sizes, crop=1)]
    prepared = _jobs(x, y, sizes, crop=1)
    vectorised = fit_ensemble([m for m, _ in prepared], [s for _, s in prepared], recipe)
    for a, b in zip(sequential, vectorised):
        assert not b.training
        for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values()):
            torch.testing.assert_close(pb, pa, rtol=1e-4, atol=1e-5, msg=name)
    # Not a vacuous comparison: the models moved from their initial weights and differ from each other.
    init = _jobs(x, y, sizes)[0][0]
    assert not torch.allclose(init.net.fc.weight, vectorised[0].net.fc.weight, atol=1e-3)
    assert not torch.allclose(vectorised[0].net.fc.weight, vectorised[2].net.fc.weight, atol=1e-3)


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
