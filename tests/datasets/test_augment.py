"""Tests of aebnas.datasets.augment_batch: random crop as a real shift, flips, determinism, identity."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from aebnas.datasets import DATASETS, DatasetInfo, augment_batch, list_datasets
from aebnas.exceptions import AebnasError

CROP = DatasetInfo(name="t", num_classes=2, input_shape=(3, 8, 8), crop_padding=2, horizontal_flip=False)
FLIP = DatasetInfo(name="t", num_classes=2, input_shape=(3, 8, 8), crop_padding=0, horizontal_flip=True)
BOTH = DatasetInfo(name="t", num_classes=2, input_shape=(3, 8, 8), crop_padding=2, horizontal_flip=True)
NONE = DatasetInfo(name="t", num_classes=2, input_shape=(3, 8, 8))


def batch(n: int = 64, seed: int = 0) -> torch.Tensor:
    # strictly positive random content: no shift or flip of one sample equals another view of it
    return torch.rand(n, 3, 8, 8, generator=torch.Generator().manual_seed(seed)) + 0.5


def shifted(x: torch.Tensor, dy: int, dx: int, p: int) -> torch.Tensor:
    """``C x H x W`` image whose content moved by (dy, dx), zeros filling in."""
    h, w = x.shape[-2:]
    return F.pad(x, (p, p, p, p))[:, p - dy : p - dy + h, p - dx : p - dx + w]


def matching_views(x: torch.Tensor, out: torch.Tensor, p: int, flips: bool) -> list[tuple[int, int, bool]]:
    """Every (dy, dx, flipped) with out == shift(flip?(x)) for one sample."""
    views = []
    for flipped in (False, True) if flips else (False,):
        source = x.flip(-1) if flipped else x
        for dy in range(-p, p + 1):
            for dx in range(-p, p + 1):
                if torch.equal(out, shifted(source, dy, dx, p)):
                    views.append((dy, dx, flipped))
    return views


def test_identity_when_disabled() -> None:
    x = batch()
    assert augment_batch(x, NONE, torch.Generator().manual_seed(0)) is x


def test_crop_is_a_shift_within_padding() -> None:
    x = batch(400)
    out = augment_batch(x, CROP, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.dtype == x.dtype
    offsets = set()
    for xi, oi in zip(x, out):
        views = matching_views(xi, oi, p=2, flips=False)
        assert len(views) == 1, "each output is exactly one shift of its input, never flipped"
        offsets.add(views[0][:2])
    assert len(offsets) == 25  # every offset in [-2, 2]^2 occurs: offsets are drawn per sample
    assert (out == 0).any()  # zero padding shows where content moved


def test_flip_only() -> None:
    x = batch(64)
    out = augment_batch(x, FLIP, torch.Generator().manual_seed(0))
    flipped = [torch.equal(o, xi.flip(-1)) for xi, o in zip(x, out)]
    kept = [torch.equal(o, xi) for xi, o in zip(x, out)]
    assert all(f != k for f, k in zip(flipped, kept))  # each sample flipped or untouched
    assert 10 < sum(flipped) < 54


def test_crop_and_flip() -> None:
    x = batch(200)
    out = augment_batch(x, BOTH, torch.Generator().manual_seed(1))
    views = [matching_views(xi, oi, p=2, flips=True) for xi, oi in zip(x, out)]
    assert all(len(v) == 1 for v in views)
    assert 50 < sum(v[0][2] for v in views) < 150


def test_deterministic_under_generator() -> None:
    x = batch()
    a = augment_batch(x, BOTH, torch.Generator().manual_seed(7))
    b = augment_batch(x, BOTH, torch.Generator().manual_seed(7))
    c = augment_batch(x, BOTH, torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)
    generator = torch.Generator().manual_seed(7)
    first, second = augment_batch(x, BOTH, generator), augment_batch(x, BOTH, generator)
    assert torch.equal(first, a) and not torch.equal(first, second)  # the generator advances


def test_rejects_non_batch() -> None:
    with pytest.raises(AebnasError, match="n x C x H x W"):
        augment_batch(torch.zeros(3, 8, 8), CROP, torch.Generator())


@pytest.mark.parametrize("name", list_datasets())
def test_registered_defaults(name: str) -> None:
    info = DATASETS.get(name).info
    x = torch.rand(5, *info.input_shape) + 0.5
    out = augment_batch(x, info, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.dtype == torch.float32
    if info.crop_padding == 0 and not info.horizontal_flip:
        assert out is x
    if name in ("digits", "mnist", "svhn"):  # digits change meaning when mirrored
        assert not info.horizontal_flip
