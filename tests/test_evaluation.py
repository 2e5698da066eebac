"""Evaluation shifts (Forget Vector §4): Gaussian noise and PGD on the evaluated sets."""

import pytest
import torch

from tests.conftest import compose_config
from unlearn_bench.config import ShiftConfig
from unlearn_bench.evaluation import predict
from unlearn_bench.results import load_records
from unlearn_bench.runner import run


class Pixels(torch.nn.Module):
    """'Logits' = the input pixels: shows exactly what the model was fed."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)


class Centred(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x - 0.5


def test_gaussian_shift_adds_seeded_clipped_noise_of_the_given_std():
    x = torch.full((500, 1, 4, 4), 128, dtype=torch.uint8)
    shift = ShiftConfig(kind="gaussian", sigma=0.08)
    seen = torch.from_numpy(predict(Pixels(), x, 64, shift=shift))
    assert abs((seen - 128 / 255).std().item() - 0.08) < 0.005
    torch.testing.assert_close(seen, torch.from_numpy(predict(Pixels(), x, 64, shift=shift)))  # same for every model
    wide = torch.from_numpy(predict(Pixels(), x, 64, shift=ShiftConfig(kind="gaussian", sigma=2.0)))
    assert wide.min() == 0.0 and wide.max() == 1.0  # clipped to the pixel range


def test_pgd_stays_in_the_eps_ball_and_raises_the_loss():
    torch.manual_seed(0)
    model = torch.nn.Sequential(Centred(), torch.nn.Flatten(), torch.nn.Linear(16, 3))
    with torch.no_grad():
        model[2].weight.mul_(50)  # sensitive enough that an 8/255 ball contains other decisions
    x = torch.randint(60, 200, (64, 1, 4, 4), dtype=torch.uint8)
    y = model(x.float() / 255).argmax(1)  # labels the model gets right
    shift = ShiftConfig(kind="pgd", eps=8 / 255, steps=7, step_size=2 / 255)
    adv = torch.from_numpy(predict(model, x, 32, y=y, shift=shift))
    clean = torch.from_numpy(predict(model, x, 32))
    loss = torch.nn.functional.cross_entropy
    # random start alone: loss 0.20 -> 0.20, 6% flipped; the 7 ascent steps: -> 1.1, 53% flipped
    assert loss(adv, y) > loss(clean, y) + 0.5 and (adv.argmax(1) != y).float().mean() > 0.3
    fed = torch.from_numpy(predict(Pixels(), x, 32, y=torch.zeros(64, dtype=torch.long),
                                   shift=ShiftConfig(kind="pgd", eps=8 / 255, steps=0)))  # random start only
    assert (fed - x.flatten(1).float() / 255).abs().max() <= 8 / 255 + 1e-6


def test_shifted_runs_get_their_own_table(tmp_path):
    common = ["data=fake", "train.epochs=2", "method=ft", "method.epochs=1", "progress=false", f"cache_dir={tmp_path}"]
    for name in ("default", "gn2"):
        run(compose_config([*common, f"eval={name}"]), output_dir=tmp_path / name)
    frame = load_records(tmp_path)
    assert set(frame["shift"]) == {"none", "gaussian(sigma=0.2)"}
    clean, noisy = (frame[frame["shift"] == s].iloc[0] for s in ("none", "gaussian(sigma=0.2)"))
    assert clean["original_TA"] != noisy["original_TA"]  # the reference models were evaluated under the shift too


def test_unknown_shift_is_refused_before_training(tmp_path):
    cfg = compose_config(["data=fake", f"cache_dir={tmp_path}", "eval.shift.kind=blur"])
    with pytest.raises(ValueError, match="eval.shift.kind"):
        run(cfg, output_dir=tmp_path / "run")
    assert not (tmp_path / "original").exists()
