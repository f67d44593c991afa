"""The front of a run on hand-made curves: Pareto points and hypervolume."""

import json

import pytest

from aebnas.engine.search.front import curve_points, hypervolume, pareto_front
from tests.engine.search._curves import curve

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
