"""Batch augmentation on tensors: random crop with zero padding and random horizontal flip."""

from __future__ import annotations

import torch
from torch import Tensor

from aebnas.datasets._base import DatasetInfo
from aebnas.exceptions import AebnasError


def augment_batch(x: Tensor, info: DatasetInfo, generator: torch.Generator) -> Tensor:
    """Random-crops and flips a batch as ``info`` prescribes, vectorised over the batch.

    Crop: each sample is zero-padded by ``p = info.crop_padding`` on every side and an
    ``H x W`` window is cut at a per-sample offset, i.e. the content shifts by
    ``(dy, dx)`` in ``[-p, p]^2`` with zeros (the mean, for normalised data) filling in.
    Flip: each sample is mirrored left-right with probability 1/2 if ``info.horizontal_flip``.
    Random numbers come from ``generator`` (offsets, then flips), so the same generator
    state gives the same result.

    Args:
        x: ``n x C x H x W`` batch.
        info: the dataset's info.
        generator: source of randomness (on any device; draws are moved to ``x.device``).

    Returns:
        ``n x C x H x W`` augmented batch; ``x`` itself when both augmentations are off.
    """
    if x.dim() != 4:
        raise AebnasError(f"augment_batch needs an n x C x H x W batch; got shape {tuple(x.shape)}")
    p = int(info.crop_padding)
    if p < 0:
        raise AebnasError(f"crop_padding must be >= 0; got {p}")
    if p == 0 and not info.horizontal_flip:
        return x
    n, c, h, w = x.shape
    gen_device = generator.device
    out = x
    if p > 0:
        offsets = torch.randint(0, 2 * p + 1, (2, n), generator=generator, device=gen_device).to(x.device)
        padded = torch.nn.functional.pad(x, (p, p, p, p))  # n x C x (H+2p) x (W+2p)
        rows = offsets[0][:, None] + torch.arange(h, device=x.device)  # n x H
        cols = offsets[1][:, None] + torch.arange(w, device=x.device)  # n x W
        out = padded.gather(2, rows[:, None, :, None].expand(n, c, h, w + 2 * p))
        out = out.gather(3, cols[:, None, None, :].expand(n, c, h, w))
    if info.horizontal_flip:
        flip = torch.rand(n, generator=generator, device=gen_device).to(x.device) < 0.5
        out = torch.where(flip[:, None, None, None], out.flip(3), out)
    return out
