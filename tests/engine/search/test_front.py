"""The front of a run on hand-made curves: Pareto points, hypervolume, each trial's contribution."""

import json
import math

import pytest
import torch

from aebnas.engine.evaluation import TradeoffCurve
from aebnas.engine.search.front import contributions, curve_points, hypervolume, pareto_front


def curve(points):
    """A curve of (avg MACs, accuracy) points, one early exit."""
    macs = torch.tensor([m for m, _ in points], dtype=torch.float64)
    acc = torch.tensor([a for _, a in points], dtype=torch.float64)
    thresholds = torch.tensor([[0.5]] * (len(points) - 1) + [[math.inf]])
    return TradeoffCurve(thresholds, acc, macs, torch.full((len(points), 2), 0.5, dtype=torch.float64))


CURVES = [(1, "a", curve([(10.0, 0.5), (40.0, 0.8)])), (2, "b", curve([(20.0, 0.7), (60.0, 0.9)])),
          (3, "c", curve([(30.0, 0.6)]))]


def test_pareto_front_keeps_the_non_dominated_points_by_macs():
    front = pareto_front(curve_points(CURVES))
    assert [(p.trial_number, p.avg_macs, p.accuracy) for p in front] == [
        (1, 10.0, 0.5), (2, 20.0, 0.7), (1, 40.0, 0.8), (2, 60.0, 0.9)]  # trial 3's point is dominated
    assert [p.avg_macs for p in curve_points(CURVES, max_macs=30.0)] == [10.0, 20.0, 30.0]
    assert json.loads(json.dumps(front[-1].to_dict()))["thresholds"] == ["inf"]  # strict JSON


def test_hypervolume_by_hand():
    points = pareto_front(curve_points(CURVES))
    # in (accuracy, 1 - macs / 100) above (0, 0): staircase of (0.5, .9), (0.7, .8), (0.8, .6), (0.9, .4)
    expected = 0.5 * 0.9 + (0.7 - 0.5) * 0.8 + (0.8 - 0.7) * 0.6 + (0.9 - 0.8) * 0.4
    assert hypervolume(points, ref_macs=100.0) == pytest.approx(expected)
    assert hypervolume(points, ref_macs=100.0, ref_accuracy=0.95) == 0.0  # nothing beyond the reference
    assert hypervolume([], ref_macs=100.0) == 0.0


def test_contributions_are_the_hypervolume_the_front_loses_without_each_trial():
    gained = contributions(curve_points(CURVES), 100.0)
    assert set(gained) == {1, 2}  # trial 3 has no point on the front
    # without trial 2 the front is (0.5, .9), (0.8, .6): it loses 0.2 * .8 + 0.1 * .6 + 0.1 * .4 - 0.3 * .6
    assert gained[2] == pytest.approx(0.2 * 0.8 + 0.1 * 0.6 + 0.1 * 0.4 - 0.3 * 0.6)
    # without trial 1: (0.7, .8), (0.9, .4)
    assert gained[1] == pytest.approx(0.5 * 0.1 + 0.1 * 0.2)
