"""Hand-made trade-off curves for tests of the front and of confirmation."""

import math

import torch

from aebnas.engine.evaluation import TradeoffCurve


def curve(points):
    """A curve of (avg MACs, accuracy) points, one early exit."""
    macs = torch.tensor([m for m, _ in points], dtype=torch.float64)
    acc = torch.tensor([a for _, a in points], dtype=torch.float64)
    thresholds = torch.tensor([[0.5]] * (len(points) - 1) + [[math.inf]])
    return TradeoffCurve(thresholds, acc, macs, torch.full((len(points), 2), 0.5, dtype=torch.float64))
