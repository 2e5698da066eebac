import torch
from torch import nn

from unlearn_bench.cache import ModelCache


def build_counter():
    calls = []

    def build():
        calls.append(1)
        torch.manual_seed(len(calls))
        return nn.Linear(3, 2)

    return calls, build


def test_second_request_is_a_cache_hit(tmp_path):
    cache, (calls, build) = ModelCache(tmp_path), build_counter()
    first, meta = cache.load_or_build("original", {"a": 1}, nn.Linear(3, 2), build)
    second, meta2 = cache.load_or_build("original", {"a": 1}, nn.Linear(3, 2), build)
    assert len(calls) == 1 and not meta["cached"] and meta2["cached"]
    torch.testing.assert_close(first.weight, second.weight)
    cache.load_or_build("original", {"a": 2}, nn.Linear(3, 2), build)  # other payload, other artifact
    assert len(calls) == 2


def test_corrupt_checkpoint_is_detected_and_rebuilt(tmp_path):
    cache, (calls, build) = ModelCache(tmp_path), build_counter()
    cache.load_or_build("retrain", {"a": 1}, nn.Linear(3, 2), build)
    weights, _ = cache.paths("retrain", next(tmp_path.glob("retrain/*.pt")).stem)
    weights.write_bytes(weights.read_bytes()[:-10])  # truncated file
    _, meta = cache.load_or_build("retrain", {"a": 1}, nn.Linear(3, 2), build)
    assert len(calls) == 2 and not meta["cached"]


def test_failed_build_leaves_no_artifact(tmp_path):
    cache = ModelCache(tmp_path)

    def crash():
        raise RuntimeError("killed mid-training")

    try:
        cache.load_or_build("original", {"a": 1}, nn.Linear(3, 2), crash)
    except RuntimeError:
        pass
    assert not list(tmp_path.glob("original/*.pt")) and not list(tmp_path.glob("original/*.json"))
