"""Tests of the predictor rows: MACs-budget features on a hand example, fixed width, and curve rows."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aebnas.engine.evaluation.thresholds import TradeoffCurve
from aebnas.exceptions import AebnasError
from aebnas.predictors.features import (
    MACS_BUDGET_COLUMN,
    macs_budget_column,
    macs_budget_feature_names,
    macs_budget_features,
    curve_rows,
    feature_names,
    shared_macs_grid,
)
from aebnas.search_space.architecture import Architecture, ExitSpec
from aebnas.search_space.layers import PaperModule
from aebnas.search_space.macs import PathCosts, path_costs
from aebnas.search_space.space import SearchSpace

class StandInCurve:
    """Any object with ``accuracy_at`` serves as a curve (:class:`aebnas.predictors.Curve`): a numpy step curve."""

    def __init__(self, accuracy, avg_macs) -> None:
        self.accuracy, self.avg_macs = np.asarray(accuracy, dtype=np.float64), np.asarray(avg_macs, dtype=np.float64)

    def accuracy_at(self, macs_budget):
        index = np.searchsorted(self.avg_macs, macs_budget, side="right") - 1
        return np.where(index >= 0, self.accuracy[np.clip(index, 0, None)], np.nan)


def make_curve(paths, low: float, high: float, points: int = 12):
    """A Pareto curve from the cheapest path to the final one, accuracy rising from low to high."""
    macs = torch.linspace(float(paths[0]), float(paths[-1]), points, dtype=torch.float64)
    accuracy = torch.linspace(low, high, points, dtype=torch.float64)
    exits = len(paths)
    return TradeoffCurve(torch.zeros(points, exits - 1), accuracy, macs, torch.full((points, exits), 1.0 / exits))


@pytest.fixture(scope="module")
def space() -> SearchSpace:
    return SearchSpace("extended", (1, 8, 8), 10)


@pytest.fixture(scope="module")
def archs(space):
    return space.sample_many(6, rng=0)


def test_width_is_fixed_and_named(space, archs):
    names = feature_names(space)
    assert names[: len(space.feature_names())] == space.feature_names()
    assert len(macs_budget_feature_names(space)) == 4 + len(space.positions)
    assert len(set(names)) == len(names)
    for count in (1, 3, 6):
        costs = [path_costs(a, space.input_shape, space.num_classes) for a in archs[:count]]
        X, got = macs_budget_features(space, archs[:count], costs, [c.paths[-1] * 0.5 for c in costs])
        assert X.shape == (count, len(names)) and got == names
        assert np.isfinite(X).all()
    assert names[macs_budget_column(names)] == MACS_BUDGET_COLUMN


def test_budget_features_on_a_hand_example(space):
    # exits after stages 1 and 3 of the positions (1, 2, 3); hand-made path costs
    arch = Architecture(space.backbone, (ExitSpec(1, (PaperModule(),)), ExitSpec(3, (PaperModule(),))),
                        space.backbone_options)
    costs = PathCosts(stages=(), branches=(), head=0, paths=(100, 400, 1000))
    names = feature_names(space)
    X, _ = macs_budget_features(space, [arch, arch, arch], [costs] * 3, [250.0, 50.0, 2000.0])
    col = {n: X[:, names.index(n)] for n in macs_budget_feature_names(space)}
    np.testing.assert_allclose(col["log10_macs_budget"], np.log10([250, 50, 2000]))
    np.testing.assert_allclose(col["macs_budget_over_final"], [0.25, 0.05, 2.0])
    np.testing.assert_allclose(col["macs_budget_rel_range"], [150 / 900, 0.0, 1.0])  # clipped below and above
    np.testing.assert_allclose(col["macs_budget_share_exits"], [1 / 3, 0.0, 1.0])
    np.testing.assert_allclose(col["macs_budget_over_pos1_path"], [2.5, 0.5, 20.0])
    np.testing.assert_allclose(col["macs_budget_over_pos2_path"], [0.0, 0.0, 0.0])  # no exit there
    np.testing.assert_allclose(col["macs_budget_over_pos3_path"], [0.625, 0.125, 5.0])
    # the architecture part is the space's own encoding
    np.testing.assert_array_equal(X[:, : len(space.feature_names())], np.repeat(space.encode([arch]), 3, axis=0))


def test_budget_features_rejects_bad_input(space, archs):
    with pytest.raises(AebnasError, match="budgets"):
        macs_budget_features(space, archs[:2], None, [1.0])
    with pytest.raises(AebnasError, match="positive"):
        macs_budget_features(space, archs[:1], None, [0.0])


@pytest.mark.parametrize("stand_in", [False, True])
def test_curve_rows_relative_grid(space, archs, stand_in):
    costs = [path_costs(a, space.input_shape, space.num_classes) for a in archs]
    curves = [make_curve(c.paths, 0.3 + 0.05 * i, 0.8 + 0.02 * i) for i, c in enumerate(costs)]
    if stand_in:
        curves = [StandInCurve(c.accuracy.numpy(), c.avg_macs.numpy()) for c in curves]
    rows = curve_rows(space, archs, costs, curves, num_macs_budgets=5)
    X, y, groups, macs_budgets = rows  # unpacks as a tuple
    assert X.shape == (len(archs) * 5, len(feature_names(space)))
    np.testing.assert_array_equal(groups, np.repeat(np.arange(len(archs)), 5))
    for i, (c, curve) in enumerate(zip(costs, curves)):
        mine = macs_budgets[groups == i]
        np.testing.assert_allclose(mine, np.linspace(c.paths[0], c.paths[-1], 5))
        np.testing.assert_allclose(y[groups == i], np.asarray(curve.accuracy_at(mine)))
        assert y[groups == i][-1] == pytest.approx(float(curve.accuracy[-1]))  # the full network
    np.testing.assert_allclose(X[:, rows.names.index("macs_budget_rel_range")], np.tile(np.linspace(0, 1, 5), len(archs)))


def test_curve_rows_shared_grid(space, archs):
    costs = [path_costs(a, space.input_shape, space.num_classes) for a in archs]
    curves = [make_curve(c.paths, 0.3, 0.8) for c in costs]
    grid = shared_macs_grid(costs, 6)
    rows = curve_rows(space, archs, costs, curves, num_macs_budgets=6, grid="shared")
    assert set(np.round(rows.macs_budgets, 6)) <= set(np.round(grid, 6))
    for i, c in enumerate(costs):
        mine = rows.macs_budgets[rows.groups == i]
        np.testing.assert_allclose(mine, grid[grid >= c.paths[0]])
        # above its final path a network keeps its full accuracy
        above = mine > c.paths[-1]
        assert np.all(rows.y[rows.groups == i][above] == pytest.approx(0.8))
    # explicit budgets; a budget below every curve gives no row
    rows = curve_rows(space, archs, costs, curves, grid=[1.0, max(c.paths[-1] for c in costs)])
    np.testing.assert_array_equal(rows.groups, np.arange(len(archs)))


def test_shared_grid_capped_at_max_budget(space, archs):
    costs = [path_costs(a, space.input_shape, space.num_classes) for a in archs]
    curves = [make_curve(c.paths, 0.3, 0.8) for c in costs]
    low = min(min(c.paths) for c in costs)
    cap = low + 0.5 * (max(c.paths[-1] for c in costs) - low)
    grid = shared_macs_grid(costs, 5, max_macs_budget=cap)
    np.testing.assert_allclose(grid, np.linspace(low, cap, 5))
    rows = curve_rows(space, archs, costs, curves, num_macs_budgets=5, grid="shared", max_macs_budget=cap)
    assert rows.macs_budgets.max() == pytest.approx(cap)
    with pytest.raises(AebnasError, match="not above the cheapest path"):
        shared_macs_grid(costs, 5, max_macs_budget=low)


def test_curve_rows_drop_budgets_below_the_curve(space, archs):
    costs = [path_costs(a, space.input_shape, space.num_classes) for a in archs[:2]]
    # a curve starting above the cheapest path: the lowest budgets have no accuracy
    curves = [StandInCurve(torch.tensor([0.5, 0.7], dtype=torch.float64),
                           torch.tensor([c.paths[-1] * 0.9, c.paths[-1]], dtype=torch.float64)) for c in costs]
    rows = curve_rows(space, archs[:2], costs, curves, num_macs_budgets=8)
    assert np.isfinite(rows.y).all()
    assert all(1 <= (rows.groups == i).sum() < 8 for i in range(2))
    with pytest.raises(AebnasError, match="grid"):
        curve_rows(space, archs[:2], costs, curves, grid="nope")
    with pytest.raises(AebnasError, match="curves"):
        curve_rows(space, archs[:2], costs, curves[:1])
