"""What a benchmark table holds, measured: its reference point, the spread of accuracy at several
MACs budgets, the training noise of its noise subset, and its oracle front (the best any strategy
could find in it), on validation and on test."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from scipy.stats import kendalltau

from aebnas.datasets import DATASETS
from aebnas.engine.search.config import SearchConfig
from aebnas.engine.search.front import FrontPoint, LabelledCurve, curve_points, hypervolume, pareto_front
from aebnas.engine.tables import BenchmarkTable, TableSpace

#: MACs budgets `table show` describes, as shares of the backbone's own cost
SUMMARY_BUDGETS = (0.25, 0.5, 0.75, 1.0)


def table_space(table: BenchmarkTable) -> TableSpace:
    """The table's search space (its architectures only), made as a search against the table makes it."""
    base = SearchConfig(**table.training_settings).make_space(DATASETS.get(table.settings["dataset"]).info)
    return TableSpace(base, table.architectures)


def reference(table: BenchmarkTable) -> tuple[float, float]:
    """The hypervolume reference of a search against the table without a target: (backbone MACs, chance)."""
    info = DATASETS.get(table.settings["dataset"]).info
    return table_space(table).base.backbone_cost, 1.0 / info.num_classes


def labelled_curves(table: BenchmarkTable, seed: int = 0, method: str = "fine") -> list[LabelledCurve]:
    """Every architecture's validation curve as a search with ``seed`` sees it (numbered by table order)."""
    return [(i, e.arch_id, e.result(seed).curves[method].val) for i, e in enumerate(table.entries)]


def oracle_front(table: BenchmarkTable, seed: int = 0, method: str = "fine",
                 max_macs: float | None = None) -> list[FrontPoint]:
    """The validation front over the whole table: the best a search with ``seed`` could find."""
    return pareto_front(curve_points(labelled_curves(table, seed, method), max_macs))


def on_test(table: BenchmarkTable, points: Sequence[FrontPoint], seed: int = 0,
            method: str = "fine") -> list[FrontPoint]:
    """Validation front ``points`` measured on test: the same thresholds, the table's test metrics."""
    out = []
    for p in points:
        curve = table.entry(p.arch_id).result(seed).curves[method]
        i = curve.val.avg_macs.tolist().index(p.avg_macs)
        out.append(FrontPoint(p.trial_number, p.arch_id, curve.test_avg_macs[i], curve.test_accuracy[i], p.thresholds))
    return out


def test_hypervolume(table: BenchmarkTable, points: Sequence[FrontPoint], ref_macs: float, ref_accuracy: float,
                     seed: int = 0, method: str = "fine") -> float:
    """Hypervolume on test of the networks and thresholds a validation front ``points`` chose."""
    return hypervolume(on_test(table, points, seed, method), ref_macs, ref_accuracy)


@dataclass(frozen=True)
class BudgetSpread:
    """Validation accuracy of the table's architectures at one MACs budget: how many reach it, their
    quartiles and extremes, the training noise (pooled seed-to-seed std over the noise subset), and
    the Kendall tau between two trainings over the noise subset (how much training noise alone
    scrambles the ranking a predictor is scored against)."""

    share: float
    macs_budget: float
    reachable: int
    quantiles: tuple[float, float, float, float, float]
    noise_std: float
    seed_tau: float


@dataclass(frozen=True)
class TableSummary:
    """What ``aebnas table show`` prints."""

    size: int
    noise_subset: int
    seeds: int
    ref_macs: float
    ref_accuracy: float
    spreads: tuple[BudgetSpread, ...]
    oracle_hv: float
    oracle_hv_seeds: tuple[float, ...]
    oracle_test_hv: float
    oracle_front_size: int
    train_seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "spreads": [s.__dict__ for s in self.spreads]}


def noise_std(table: BenchmarkTable, macs_budget: float) -> float:
    """Pooled seed-to-seed standard deviation of validation accuracy at ``macs_budget`` over the noise
    subset (architectures whose every training reaches it); NaN without such architectures."""
    variances = []
    for entry in table.noise_entries:
        values = [r.curves["fine"].val.accuracy_at(macs_budget) for r in entry.results]
        if all(math.isfinite(v) for v in values):
            variances.append(np.var(values, ddof=1))
    return float(math.sqrt(np.mean(variances))) if variances else math.nan


def seed_tau(table: BenchmarkTable, macs_budget: float) -> float:
    """Kendall tau between two trainings' validation accuracies at ``macs_budget`` over the noise subset
    (architectures whose every training reaches it), the mean over pairs of training seeds; NaN with
    fewer than 3 such architectures."""
    values = np.array([[r.curves["fine"].val.accuracy_at(macs_budget) for r in e.results]
                       for e in table.noise_entries if len(e.results) == len(table.noise_entries[0].results)])
    values = values[np.isfinite(values).all(axis=1)] if len(values) else values
    if len(values) < 3:
        return math.nan
    taus = [kendalltau(values[:, a], values[:, b])[0] for a, b in itertools.combinations(range(values.shape[1]), 2)]
    return float(np.nanmean(taus)) if np.isfinite(taus).any() else math.nan


def summarise(table: BenchmarkTable, shares: Sequence[float] = SUMMARY_BUDGETS) -> TableSummary:
    """The table's reference point, accuracy spread and noise at ``shares`` of the backbone's MACs, and
    its oracle front (seed 0 and every seed of the noise subset)."""
    ref_macs, ref_accuracy = reference(table)
    spreads = []
    for share in shares:
        budget = share * ref_macs
        values = np.array([e.results[0].curves["fine"].val.accuracy_at(budget) for e in table.entries])
        values = values[np.isfinite(values)]
        quantiles = (tuple(float(q) for q in np.quantile(values, [0, 0.25, 0.5, 0.75, 1])) if len(values)
                     else (math.nan,) * 5)
        spreads.append(BudgetSpread(share, budget, int(len(values)), quantiles, noise_std(table, budget),
                                    seed_tau(table, budget)))
    seeds = max(len(e.results) for e in table.entries)
    fronts = [oracle_front(table, s, "fine", ref_macs) for s in range(seeds)]
    return TableSummary(
        len(table), len(table.noise_entries), seeds, ref_macs, ref_accuracy, tuple(spreads),
        hypervolume(fronts[0], ref_macs, ref_accuracy), tuple(hypervolume(f, ref_macs, ref_accuracy) for f in fronts),
        test_hypervolume(table, fronts[0], ref_macs, ref_accuracy), len(fronts[0]),
        sum(r.train_seconds for e in table.entries for r in e.results))
