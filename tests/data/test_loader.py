import torch

from unlearn_bench.data.loader import iterate_batches, random_crop, random_hflip


def test_batches_cover_every_example_once_in_float_range():
    x = torch.arange(10, dtype=torch.uint8).view(10, 1, 1, 1).expand(10, 1, 4, 4).contiguous() * 25
    y = torch.arange(10)
    seen = []
    for xb, yb in iterate_batches(x, y, 3, shuffle=True, generator=torch.Generator().manual_seed(0)):
        assert xb.dtype == torch.float32 and 0.0 <= xb.min() and xb.max() <= 1.0
        torch.testing.assert_close(xb[:, 0, 0, 0] * 255 / 25, yb.float())  # image matches its label
        seen += yb.tolist()
    assert sorted(seen) == list(range(10))


def test_random_crop_is_a_shifted_window_with_zero_padding():
    x = torch.arange(1, 17, dtype=torch.uint8).view(1, 1, 4, 4).repeat(500, 1, 1, 1)
    out = random_crop(x, 2, torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    padded = torch.nn.functional.pad(x[0], (2, 2, 2, 2))
    windows = {padded[:, i:i + 4, j:j + 4].flatten().tolist() == out[k].flatten().tolist()
               for k in range(20) for i in range(5) for j in range(5)}
    assert True in windows
    # every one of the 25 offsets occurs, with roughly uniform frequency
    counts = torch.zeros(5, 5)
    for img in out:
        matches = [(i, j) for i in range(5) for j in range(5) if torch.equal(padded[:, i:i + 4, j:j + 4], img)]
        assert len(matches) == 1  # each output is exactly one window of the padded image
        counts[matches[0]] += 1
    assert counts.min() >= 8 and counts.max() <= 35  # 500 crops over 25 offsets: 20 expected each


def test_hflip_flips_about_half():
    x = torch.arange(4, dtype=torch.uint8).view(1, 1, 1, 4).repeat(2000, 1, 1, 1)
    out = random_hflip(x, torch.Generator().manual_seed(0))
    flipped = (out[:, 0, 0, 0] == 3).float().mean().item()
    assert 0.45 < flipped < 0.55
    assert all(torch.equal(o, x[0]) or torch.equal(o, x[0].flip(2)) for o in out[:50])
