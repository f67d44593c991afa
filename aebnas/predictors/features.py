"""Predictor rows: an architecture's encoding plus where an average-MACs budget sits in its feasible
range, and the rows one trained candidate's trade-off curve gives.

A predictor learns ``acc(architecture, budget)``: the best validation accuracy of the network with
thresholds tuned to ``avg_macs <= budget``. One row = (architecture, budget). The budget features are

* ``log10_budget``: the absolute budget (log10 MACs). The one raw budget column: the BoTorch MACs
  objective reads it back exactly (``-10 ** x``, see :func:`aebnas.predictors.botorch_models.macs_model`).
* ``budget_over_final``: budget / cost of the final exit (the whole network).
* ``budget_rel_range``: ``(budget - cheapest path) / (final - cheapest)`` clipped to [0, 1], where the
  budget sits in the network's feasible range.
* ``budget_share_exits``: share of the network's exits whose path cost is <= budget.
* ``budget_over_pos{p}_path`` per backbone position ``p`` of the space: budget / cost of leaving at the
  exit at ``p`` (0 when the network has no exit there).

so the width is fixed per space: ``len(space.feature_names()) + 4 + len(space.positions)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np

from aebnas.engine.macs import PathCosts, path_costs
from aebnas.exceptions import AebnasError
from aebnas.search_space.architecture import Architecture

BUDGET_COLUMN = "log10_budget"
"""Name of the feature holding the absolute budget (log10 MACs)."""

GRIDS = ("relative", "shared")


def budget_feature_names(space) -> list[str]:
    """Names of the budget columns appended after the space's encoding."""
    return [BUDGET_COLUMN, "budget_over_final", "budget_rel_range", "budget_share_exits"] + [
        f"budget_over_pos{p}_path" for p in space.positions
    ]


def feature_names(space) -> list[str]:
    """Names of every predictor column: ``space.feature_names()`` then :func:`budget_feature_names`."""
    return list(space.feature_names()) + budget_feature_names(space)


def budget_column(names: Sequence[str]) -> int:
    """Index of the absolute-budget column (:data:`BUDGET_COLUMN`) in ``names``."""
    try:
        return list(names).index(BUDGET_COLUMN)
    except ValueError:
        raise AebnasError(f"feature names hold no {BUDGET_COLUMN!r} column; build rows with budget_features") from None


def _costs_for(space, archs: Sequence[Architecture], costs: Sequence[PathCosts] | None) -> list[PathCosts]:
    if costs is None:
        return [path_costs(a, space.input_shape, space.num_classes) for a in archs]
    costs = list(costs)
    if len(costs) != len(archs):
        raise AebnasError(f"{len(costs)} path costs for {len(archs)} architectures; expected one per architecture")
    return costs


def _budget_block(space, archs: Sequence[Architecture], costs: Sequence[PathCosts], budgets: np.ndarray) -> np.ndarray:
    """`n x (4 + positions)` budget features (see the module docstring)."""
    slot = {p: j for j, p in enumerate(space.positions)}
    out = np.zeros((len(archs), 4 + len(slot)))
    for i, (arch, cost, budget) in enumerate(zip(archs, costs, budgets)):
        paths = np.asarray(cost.paths, dtype=np.float64)
        cheapest, final = paths.min(), paths[-1]
        span = final - cheapest
        out[i, 0] = math.log10(budget)
        out[i, 1] = budget / final
        out[i, 2] = np.clip((budget - cheapest) / span, 0.0, 1.0) if span > 0 else 1.0
        out[i, 3] = float(np.mean(paths <= budget))
        for k, position in enumerate(arch.positions):
            out[i, 4 + slot[position]] = budget / paths[k]
    return out


def budget_features(
    space,
    archs: Sequence[Architecture],
    costs: Sequence[PathCosts] | None,
    budgets: Sequence[float] | np.ndarray,
) -> tuple[np.ndarray, list[str]]:
    """Predictor rows for (architecture, budget) pairs.

    Args:
        space: the SearchSpace the architectures belong to.
        archs: `n` architectures (repeats are encoded once).
        costs: `n` exact path costs of ``archs`` (None: computed).
        budgets: `n` average-MACs budgets (> 0).
    Returns:
        `n x d` float64 features and their `d` names (:func:`feature_names`).
    """
    budgets = np.asarray(budgets, dtype=np.float64).reshape(-1)
    if len(budgets) != len(archs):
        raise AebnasError(f"{len(budgets)} budgets for {len(archs)} architectures; expected one per architecture")
    if len(budgets) and not np.all(budgets > 0):
        raise AebnasError("budgets must be positive average-MACs values")
    costs = _costs_for(space, archs, costs)
    first: dict[str, int] = {}
    index = np.array([first.setdefault(a.id, len(first)) for a in archs], dtype=np.int64)
    unique = [None] * len(first)
    for arch in archs:
        unique[first[arch.id]] = arch
    encoded = space.encode(unique) if unique else np.zeros((0, len(space.feature_names())))
    X = np.hstack([encoded[index], _budget_block(space, archs, costs, budgets)])
    return X, feature_names(space)


def shared_budget_grid(costs: Sequence[PathCosts], num_budgets: int = 8, max_budget: float | None = None) -> np.ndarray:
    """`num_budgets` absolute budgets evenly spaced from the cheapest path of any network to the most
    expensive final exit, or to ``max_budget`` if lower (a search never asks about budgets above its
    reference MACs: the target, or the backbone alone): a grid on which every network is compared at
    the same budgets."""
    if num_budgets < 2:
        raise AebnasError(f"num_budgets must be >= 2, got {num_budgets}")
    low = min(min(c.paths) for c in costs)
    high = max(c.paths[-1] for c in costs)
    if max_budget is not None:
        if max_budget <= low:
            raise AebnasError(f"max_budget {max_budget:,.0f} MACs is not above the cheapest path of these "
                              f"networks ({low:,.0f} MACs); allowed: a budget above it")
        high = min(high, max_budget)
    return np.linspace(low, high, num_budgets)


@dataclass(frozen=True)
class CurveRows:
    """Training rows from trained candidates' trade-off curves. Unpacks as ``X, y, groups, budgets``.

    Attributes:
        X: `n x d` features (:func:`budget_features`).
        y: `n` accuracy of the row's network at the row's budget (its curve's ``accuracy_at``).
        groups: `n` index of the row's architecture in the list given (for grouped CV).
        budgets: `n` absolute average-MACs budgets.
        names: `d` feature names.
    """

    X: np.ndarray
    y: np.ndarray
    groups: np.ndarray
    budgets: np.ndarray
    names: list[str]

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter((self.X, self.y, self.groups, self.budgets))

    def __len__(self) -> int:
        return len(self.y)


def curve_rows(
    space,
    archs: Sequence[Architecture],
    costs: Sequence[PathCosts] | None,
    curves: Sequence,
    num_budgets: int = 8,
    grid: str | Sequence[float] | np.ndarray = "relative",
    max_budget: float | None = None,
) -> CurveRows:
    """Rows ``(architecture, budget) -> accuracy`` from each trained candidate's trade-off curve.

    ``grid="relative"`` (default, for training): each network gets ``num_budgets`` budgets evenly spaced
    over its own feasible range [cheapest path, final path], both ends included. Every network then
    gives the same number of rows and its whole curve at the same resolution, whatever its range; a
    shared absolute grid would give a network whose first exit sits late one or two rows (or none)
    and over-weight networks with wide ranges. The absolute position of each row is in the features.

    ``grid="shared"`` (:func:`shared_budget_grid` of these networks, up to ``max_budget`` if given) or
    an explicit `b` array of absolute budgets: rows at the same budgets for every network, each keeping
    the budgets at or above its cheapest curve point (above its final path the accuracy stays at the
    full network's). Rows that share a budget give the fixed-budget ranking metrics of
    :mod:`aebnas.predictors.metrics`.

    Rows where the curve gives no accuracy (a budget below its cheapest point) are dropped.

    Args:
        curves: `n` TradeoffCurve-like objects (``accuracy_at(budget)`` or ``accuracy``/``avg_macs``
            sorted by MACs) of ``archs`` on the validation split.
    """
    if len(curves) != len(archs):
        raise AebnasError(f"{len(curves)} curves for {len(archs)} architectures; expected one per architecture")
    if isinstance(grid, str) and grid not in GRIDS:
        raise AebnasError(f"unknown budget grid {grid!r}; allowed: {', '.join(GRIDS)} or an array of budgets")
    if isinstance(grid, str) and num_budgets < 2:
        raise AebnasError(f"num_budgets must be >= 2, got {num_budgets}")
    costs = _costs_for(space, archs, costs)
    shared = shared_budget_grid(costs, num_budgets, max_budget) if isinstance(grid, str) and grid == "shared" else None
    if not isinstance(grid, str):
        shared = np.asarray(grid, dtype=np.float64).reshape(-1)
    row_archs, row_costs, budgets, accuracy, groups = [], [], [], [], []
    for i, (arch, cost, curve) in enumerate(zip(archs, costs, curves)):
        paths = np.asarray(cost.paths, dtype=np.float64)
        if shared is None:
            grid_i = np.linspace(paths.min(), paths[-1], num_budgets)
        else:
            grid_i = shared[shared >= paths.min()]
        acc = _accuracy_at(curve, grid_i)
        keep = np.isfinite(acc)
        for b, a in zip(grid_i[keep], acc[keep]):
            row_archs.append(arch)
            row_costs.append(cost)
            budgets.append(b)
            accuracy.append(a)
            groups.append(i)
    budgets = np.asarray(budgets, dtype=np.float64)
    X, names = budget_features(space, row_archs, row_costs, budgets)
    return CurveRows(X, np.asarray(accuracy, dtype=np.float64), np.asarray(groups, dtype=np.int64), budgets, names)


def _accuracy_at(curve, budgets: np.ndarray) -> np.ndarray:
    """`b` best accuracy with avg MACs <= each budget (NaN below the cheapest point), from any object
    with ``accuracy`` and ``avg_macs`` (`k`, sorted by MACs, accuracy increasing)."""
    avg_macs = np.asarray(curve.avg_macs, dtype=np.float64).reshape(-1)
    accuracy = np.asarray(curve.accuracy, dtype=np.float64).reshape(-1)
    # tolerate float rounding at the ends: a budget equal to a path cost reaches that point
    index = np.searchsorted(avg_macs, budgets * (1 + 1e-12), side="right") - 1
    return np.where(index >= 0, accuracy[np.clip(index, 0, None)], np.nan)
