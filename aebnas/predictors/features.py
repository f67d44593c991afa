"""Predictor rows: an architecture's encoding plus where an average-MACs budget sits in its feasible
range, and the rows one trained candidate's trade-off curve gives. (Here a *MACs budget* is an average
number of MACs per sample; the search's ``budget`` is a number of trained candidates.)

A predictor learns ``acc(architecture, macs_budget)``: the best validation accuracy of the network with
thresholds tuned to ``avg_macs <= macs_budget``. One row = (architecture, MACs budget). The MACs-budget
features are

* ``log10_macs_budget``: the absolute MACs budget (log10). The one raw MACs-budget column: the BoTorch
  MACs objective reads it back exactly (``-10 ** x``, see :func:`aebnas.predictors.botorch_models.macs_model`).
* ``macs_budget_over_final``: MACs budget / cost of the final exit (the whole network).
* ``macs_budget_rel_range``: ``(macs_budget - cheapest path) / (final - cheapest)`` clipped to [0, 1],
  where the MACs budget sits in the network's feasible range.
* ``macs_budget_share_exits``: share of the network's exits whose path cost is <= the MACs budget.
* ``macs_budget_over_pos{p}_path`` per backbone position ``p`` of the space: MACs budget / cost of leaving
  at the exit at ``p`` (0 when the network has no exit there).

so the width is fixed per space: ``len(space.feature_names()) + 4 + len(space.positions)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator, Protocol, Sequence

import numpy as np

from aebnas.exceptions import AebnasError
from aebnas.search_space.architecture import Architecture
from aebnas.search_space.macs import PathCosts

MACS_BUDGET_COLUMN = "log10_macs_budget"
"""Name of the feature holding the absolute MACs budget (log10)."""

GRIDS = ("relative", "shared")


def macs_budget_feature_names(space) -> list[str]:
    """Names of the MACs-budget columns appended after the space's encoding."""
    return [MACS_BUDGET_COLUMN, "macs_budget_over_final", "macs_budget_rel_range", "macs_budget_share_exits"] + [
        f"macs_budget_over_pos{p}_path" for p in space.positions
    ]


def feature_names(space) -> list[str]:
    """Names of every predictor column: ``space.feature_names()`` then :func:`macs_budget_feature_names`."""
    return list(space.feature_names()) + macs_budget_feature_names(space)


def macs_budget_column(names: Sequence[str]) -> int:
    """Index of the absolute MACs-budget column (:data:`MACS_BUDGET_COLUMN`) in ``names``."""
    try:
        return list(names).index(MACS_BUDGET_COLUMN)
    except ValueError:
        raise AebnasError(f"feature names hold no {MACS_BUDGET_COLUMN!r} column; build rows with macs_budget_features") from None


def _costs_for(space, archs: Sequence[Architecture], costs: Sequence[PathCosts] | None) -> list[PathCosts]:
    if costs is None:
        return [space.costs(a) for a in archs]
    costs = list(costs)
    if len(costs) != len(archs):
        raise AebnasError(f"{len(costs)} path costs for {len(archs)} architectures; expected one per architecture")
    return costs


def _macs_budget_block(space, archs: Sequence[Architecture], costs: Sequence[PathCosts], macs_budgets: np.ndarray) -> np.ndarray:
    """`n x (4 + positions)` MACs-budget features (see the module docstring)."""
    slot = {p: j for j, p in enumerate(space.positions)}
    out = np.zeros((len(archs), 4 + len(slot)))
    for i, (arch, cost, macs_budget) in enumerate(zip(archs, costs, macs_budgets)):
        paths = np.asarray(cost.paths, dtype=np.float64)
        cheapest, final = paths.min(), paths[-1]
        span = final - cheapest
        out[i, 0] = math.log10(macs_budget)
        out[i, 1] = macs_budget / final
        out[i, 2] = np.clip((macs_budget - cheapest) / span, 0.0, 1.0) if span > 0 else 1.0
        out[i, 3] = float(np.mean(paths <= macs_budget))
        for k, position in enumerate(arch.positions):
            out[i, 4 + slot[position]] = macs_budget / paths[k]
    return out


def macs_budget_features(
    space,
    archs: Sequence[Architecture],
    costs: Sequence[PathCosts] | None,
    macs_budgets: Sequence[float] | np.ndarray,
) -> tuple[np.ndarray, list[str]]:
    """Predictor rows for (architecture, MACs budget) pairs.

    Args:
        space: the SearchSpace the architectures belong to.
        archs: `n` architectures (repeats are encoded once).
        costs: `n` exact path costs of ``archs`` (None: computed).
        macs_budgets: `n` average-MACs budgets (> 0).
    Returns:
        `n x d` float64 features and their `d` names (:func:`feature_names`).
    """
    macs_budgets = np.asarray(macs_budgets, dtype=np.float64).reshape(-1)
    if len(macs_budgets) != len(archs):
        raise AebnasError(f"{len(macs_budgets)} MACs budgets for {len(archs)} architectures; expected one per architecture")
    if len(macs_budgets) and not np.all(macs_budgets > 0):
        raise AebnasError("MACs budgets must be positive average-MACs values")
    costs = _costs_for(space, archs, costs)
    first: dict[str, int] = {}
    index = np.array([first.setdefault(a.id, len(first)) for a in archs], dtype=np.int64)
    unique = [None] * len(first)
    for arch in archs:
        unique[first[arch.id]] = arch
    encoded = space.encode(unique) if unique else np.zeros((0, len(space.feature_names())))
    X = np.hstack([encoded[index], _macs_budget_block(space, archs, costs, macs_budgets)])
    return X, feature_names(space)


def shared_macs_grid(costs: Sequence[PathCosts], num_macs_budgets: int = 8, max_macs_budget: float | None = None) -> np.ndarray:
    """`num_macs_budgets` absolute MACs budgets evenly spaced from the cheapest path of any network to the
    most expensive final exit, or to ``max_macs_budget`` if lower (a search never asks about MACs budgets
    above its reference MACs: the target, or the backbone alone): a grid on which every network is
    compared at the same MACs budgets."""
    if num_macs_budgets < 2:
        raise AebnasError(f"num_macs_budgets must be >= 2, got {num_macs_budgets}")
    low = min(min(c.paths) for c in costs)
    high = max(c.paths[-1] for c in costs)
    if max_macs_budget is not None:
        if max_macs_budget <= low:
            raise AebnasError(f"max_macs_budget {max_macs_budget:,.0f} MACs is not above the cheapest path of these "
                              f"networks ({low:,.0f} MACs); allowed: a budget above it")
        high = min(high, max_macs_budget)
    return np.linspace(low, high, num_macs_budgets)


@dataclass(frozen=True)
class CurveRows:
    """Training rows from trained candidates' trade-off curves. Unpacks as ``X, y, groups, macs_budgets``.

    Attributes:
        X: `n x d` features (:func:`macs_budget_features`).
        y: `n` accuracy of the row's network at the row's MACs budget (its curve's ``accuracy_at``).
        groups: `n` index of the row's architecture in the list given (for grouped CV).
        macs_budgets: `n` absolute average-MACs budgets.
        names: `d` feature names.
    """

    X: np.ndarray
    y: np.ndarray
    groups: np.ndarray
    macs_budgets: np.ndarray
    names: list[str]

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter((self.X, self.y, self.groups, self.macs_budgets))

    def __len__(self) -> int:
        return len(self.y)


class Curve(Protocol):
    """A trained network's accuracy-vs-average-MACs step curve (``TradeoffCurve`` of the engine is one)."""

    def accuracy_at(self, macs_budget):
        """`b` best accuracy with ``avg_macs <= macs_budget`` for `b` MACs budgets (NaN below the cheapest point)."""


def curve_rows(
    space,
    archs: Sequence[Architecture],
    costs: Sequence[PathCosts] | None,
    curves: Sequence[Curve],
    num_macs_budgets: int = 8,
    grid: str | Sequence[float] | np.ndarray = "relative",
    max_macs_budget: float | None = None,
) -> CurveRows:
    """Rows ``(architecture, MACs budget) -> accuracy`` from each trained candidate's trade-off curve.

    ``grid="relative"`` (default, for training): each network gets ``num_macs_budgets`` MACs budgets evenly
    spaced over its own feasible range [cheapest path, final path], both ends included. Every network
    then gives the same number of rows and its whole curve at the same resolution, whatever its range; a
    shared absolute grid would give a network whose first exit sits late one or two rows (or none)
    and over-weight networks with wide ranges. The absolute position of each row is in the features.

    ``grid="shared"`` (:func:`shared_macs_grid` of these networks, up to ``max_macs_budget`` if given) or
    an explicit `b` array of absolute MACs budgets: rows at the same MACs budgets for every network, each
    keeping those at or above its cheapest curve point (above its final path the accuracy stays at the
    full network's). Rows that share a MACs budget give the fixed-budget ranking metrics of
    :mod:`aebnas.predictors.metrics`.

    Rows where the curve gives no accuracy (a MACs budget below its cheapest point) are dropped.

    Args:
        curves: `n` curves of ``archs`` on the validation split (:class:`Curve`).
    """
    if len(curves) != len(archs):
        raise AebnasError(f"{len(curves)} curves for {len(archs)} architectures; expected one per architecture")
    if isinstance(grid, str) and grid not in GRIDS:
        raise AebnasError(f"unknown MACs-budget grid {grid!r}; allowed: {', '.join(GRIDS)} or an array of MACs budgets")
    if isinstance(grid, str) and num_macs_budgets < 2:
        raise AebnasError(f"num_macs_budgets must be >= 2, got {num_macs_budgets}")
    costs = _costs_for(space, archs, costs)
    shared = shared_macs_grid(costs, num_macs_budgets, max_macs_budget) if isinstance(grid, str) and grid == "shared" else None
    if not isinstance(grid, str):
        shared = np.asarray(grid, dtype=np.float64).reshape(-1)
    row_archs, row_costs, macs_budgets, accuracy, groups = [], [], [], [], []
    for i, (arch, cost, curve) in enumerate(zip(archs, costs, curves)):
        paths = np.asarray(cost.paths, dtype=np.float64)
        if shared is None:
            grid_i = np.linspace(paths.min(), paths[-1], num_macs_budgets)
        else:
            grid_i = shared[shared >= paths.min()]
        # tolerate float rounding at the ends: a MACs budget equal to a path cost reaches that point
        acc = np.asarray(curve.accuracy_at(grid_i * (1 + 1e-12)), dtype=np.float64).reshape(-1)
        keep = np.isfinite(acc)
        for b, a in zip(grid_i[keep], acc[keep]):
            row_archs.append(arch)
            row_costs.append(cost)
            macs_budgets.append(b)
            accuracy.append(a)
            groups.append(i)
    macs_budgets = np.asarray(macs_budgets, dtype=np.float64)
    X, names = macs_budget_features(space, row_archs, row_costs, macs_budgets)
    return CurveRows(X, np.asarray(accuracy, dtype=np.float64), np.asarray(groups, dtype=np.int64), macs_budgets, names)
