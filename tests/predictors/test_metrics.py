"""Tests of grouped cross-validation, the ranking metrics and learning curves."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from aebnas.exceptions import AebnasError
from aebnas.predictors import Predictor
from aebnas.predictors.metrics import (
    cross_validate,
    grid_positions,
    group_folds,
    learning_curve,
    ranking_metrics,
)
from tests.predictors.conftest import NAMES, fast_predictor, shared_rows, synthetic_rows

TRUTH_T = NAMES.index("macs_budget_rel_range")


class Spy(Predictor):
    """Predicts 0.3 a0 + 0.25 t (most of the truth) and records which architectures it was fitted on
    (column 0 of its rows holds the architecture id in these tests)."""

    kind = ""  # not registered
    seen: list = []

    def fit(self, X, y, groups=None):
        X, y, groups = self._check_fit_input(X, y, groups)
        self.trained_ = set(np.unique(X[:, 0]).tolist())
        Spy.seen.append(self)
        return self

    def predict(self, X):
        X = self._check_predict_input(X)
        self.predicted_ = set(np.unique(X[:, 0]).tolist())
        return X[:, 1], np.full(len(X), 0.05)

    def _get_state(self) -> dict[str, Any]:
        return {}

    def _set_state(self, state):
        pass


def test_group_folds_never_split_an_architecture():
    groups = np.repeat(np.arange(23), 4)
    tested = []
    for train, test in group_folds(groups, folds=5, seed=1):
        assert not set(groups[train]) & set(groups[test])
        assert len(train) + len(test) == len(groups)
        tested += list(np.unique(groups[test]))
    assert sorted(tested) == list(range(23))  # every architecture held out exactly once
    other = [set(groups[t]) for _, t in group_folds(groups, folds=5, seed=2)]
    assert other != [set(groups[t]) for _, t in group_folds(groups, folds=5, seed=1)]  # seeded shuffle
    with pytest.raises(AebnasError, match="folds"):
        group_folds(np.arange(3), folds=5)


def test_cross_validate_trains_without_the_held_out_architectures():
    rows = synthetic_rows(num_archs=15)
    X = rows.X.copy()
    X[:, 0] = rows.groups  # architecture id visible to the spy
    X[:, 1] = rows.y  # a perfect prediction
    Spy.seen = []
    metrics = cross_validate(Spy, X, rows.y, rows.groups, rows.macs_budgets, folds=5, seed=0)
    assert len(Spy.seen) == 5 and metrics["fold_sizes"] == [3] * 5
    for spy in Spy.seen:
        assert not spy.trained_ & spy.predicted_
        assert len(spy.trained_) == 12 and len(spy.predicted_) == 3
    assert metrics["tau_all"] == pytest.approx(1.0) and metrics["tau_at_grid"] == pytest.approx(1.0)
    assert metrics["rmse"] == pytest.approx(0.0) and metrics["calibration"] == 1.0
    assert math.isnan(metrics["tau_at_macs_budget"])  # relative-grid rows share no absolute budget


def test_ranking_metrics_at_a_budget_remove_the_budget_effect():
    # 4 networks at 2 budgets; the predictor orders networks right within a budget but puts every
    # prediction at the small budget above the large one
    groups = np.array([0, 1, 2, 3, 0, 1, 2, 3])
    macs_budgets = np.array([1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0])
    y = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8])
    mean = np.array([0.9, 1.0, 1.1, 1.2, 0.1, 0.2, 0.3, 0.4])
    m = ranking_metrics(y, mean, np.full(8, 0.1), groups, macs_budgets)
    assert m["tau_at_macs_budget"] == pytest.approx(1.0) and m["spearman_at_macs_budget"] == pytest.approx(1.0)
    assert m["tau_all"] < 0.0
    assert m["tau_at_grid"] == pytest.approx(1.0)
    assert m["calibration"] == 0.0 and m["num_architectures"] == 4
    np.testing.assert_array_equal(grid_positions(groups, macs_budgets), [1, 1, 1, 1, 0, 0, 0, 0])


def test_cross_validate_scores_held_out_networks_at_shared_budgets():
    rows = synthetic_rows(num_archs=20)
    shared = shared_rows(rows)
    metrics = cross_validate(lambda: fast_predictor("xgboost"), rows.X, rows.y, rows.groups, rows.macs_budgets,
                             folds=4, seed=0, eval_rows=(shared.X, shared.y, shared.groups, shared.macs_budgets))
    assert metrics["num_rows"] == len(shared.y) and metrics["num_architectures"] == 20
    assert metrics["tau_at_macs_budget"] > 0.5 and np.isfinite(metrics["tau_all"])
    assert 0.0 <= metrics["calibration"] <= 1.0 and metrics["rmse"] < 0.1
    by_name = cross_validate("xgboost", rows.X[:40], rows.y[:40], rows.groups[:40], rows.macs_budgets[:40], folds=2)
    assert np.isfinite(by_name["tau_all"])
    with pytest.raises(AebnasError, match="absent"):
        cross_validate("xgboost", rows.X[:40], rows.y[:40], rows.groups[:40], rows.macs_budgets[:40], folds=2,
                       eval_rows=(shared.X, shared.y, shared.groups, shared.macs_budgets))


def test_learning_curve_reports_each_size():
    rows = synthetic_rows(num_archs=24)
    shared = shared_rows(rows)
    curve = learning_curve(lambda: fast_predictor("xgboost", n_members=3, n_estimators=60), rows.X, rows.y,
                           rows.groups, rows.macs_budgets, sizes=(6, 16), repeats=2, seed=0,
                           eval_rows=(shared.X, shared.y, shared.groups, shared.macs_budgets))
    assert [c["num_trained"] for c in curve] == [6, 16]
    assert all(c["num_architectures"] == 8 for c in curve)
    assert all(np.isfinite(c["tau_at_macs_budget"]) and np.isfinite(c["rmse"]) for c in curve)
    assert curve[1]["rmse"] < curve[0]["rmse"]  # more trained networks, smaller error
    with pytest.raises(AebnasError, match="held-out"):
        learning_curve("xgboost", rows.X, rows.y, rows.groups, rows.macs_budgets, sizes=(10, 22))


def test_top_recall_counts_the_predicted_best_that_are_truly_best():
    # 20 networks at one budget (top 10% = 2): the predictor keeps the order except that it puts the
    # truly 3rd best first; 10 networks at a second budget ranked exactly; 5 at a third (too few: skipped)
    y = np.r_[np.arange(20) / 20, np.arange(10) / 10, np.arange(5) / 5]
    mean = y.copy()
    mean[17] = 2.0
    groups = np.r_[np.arange(20), np.arange(10), np.arange(5)]
    macs_budgets = np.r_[np.full(20, 1.0), np.full(10, 2.0), np.full(5, 3.0)]
    m = ranking_metrics(y, mean, np.full(35, 0.1), groups, macs_budgets)
    assert m["top_recall_at_macs_budget"] == pytest.approx((0.5 + 1.0) / 2)
    reversed_ = ranking_metrics(y, -y, np.full(35, 0.1), groups, macs_budgets)
    assert reversed_["top_recall_at_macs_budget"] == 0.0
