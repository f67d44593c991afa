"""The accuracy-vs-average-MACs front of a run: Pareto points over every trial's trade-off curve and
their hypervolume."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

import torch
from botorch.utils.multi_objective.hypervolume import Hypervolume
from botorch.utils.multi_objective.pareto import is_non_dominated

from aebnas.engine.evaluation import TradeoffCurve

LabelledCurve = tuple[int, str, TradeoffCurve]
"""A trained network's validation curve with its trial number and architecture id."""


@dataclass(frozen=True)
class FrontPoint:
    """One operating point: trial ``trial_number``'s network with ``thresholds`` reaches ``accuracy``
    at ``avg_macs`` average MACs (on the split its curve was measured on)."""

    trial_number: int
    arch_id: str
    avg_macs: float
    accuracy: float
    thresholds: tuple[float, ...]

    def to_dict(self) -> dict:
        return {"trial": self.trial_number, "arch_id": self.arch_id, "avg_macs": self.avg_macs,
                "accuracy": self.accuracy,
                "thresholds": [t if math.isfinite(t) else str(t) for t in self.thresholds]}  # strict JSON


def curve_points(curves: Iterable[LabelledCurve], max_macs: float | None = None) -> list[FrontPoint]:
    """Every point of every curve (with avg MACs <= ``max_macs`` if given)."""
    points = []
    for number, arch_id, curve in curves:
        for acc, macs, thresholds in zip(curve.accuracy.tolist(), curve.avg_macs.tolist(), curve.thresholds.tolist()):
            if max_macs is None or macs <= max_macs:
                points.append(FrontPoint(number, arch_id, float(macs), float(acc), tuple(thresholds)))
    return points


def pareto_front(points: Sequence[FrontPoint]) -> list[FrontPoint]:
    """Non-dominated points (fewer MACs, higher accuracy), sorted by avg MACs."""
    if not points:
        return []
    y = torch.tensor([[p.accuracy, -p.avg_macs] for p in points], dtype=torch.float64)
    keep = is_non_dominated(y, deduplicate=True)
    return sorted((p for p, k in zip(points, keep.tolist()) if k), key=lambda p: (p.avg_macs, -p.accuracy))


def hypervolume(points: Sequence[FrontPoint], ref_macs: float, ref_accuracy: float = 0.0) -> float:
    """Area dominated by ``points`` in (accuracy, 1 - avg_macs / ref_macs) above the reference
    (``ref_accuracy``, ``ref_macs``): in [0, 1 - ref_accuracy]; points beyond the reference add nothing."""
    inside = [p for p in points if p.avg_macs < ref_macs and p.accuracy > ref_accuracy]
    if not inside:
        return 0.0
    y = torch.tensor([[p.accuracy, 1.0 - p.avg_macs / ref_macs] for p in inside], dtype=torch.float64)
    return float(Hypervolume(torch.tensor([ref_accuracy, 0.0], dtype=torch.float64)).compute(y[is_non_dominated(y)]))
