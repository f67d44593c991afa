"""Tests of warm starting a predictor for dataset B from one fitted on dataset A (stacking)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import kendalltau

from aebnas.exceptions import AebnasError, SchemaMismatchError
from aebnas.predictors import PREDICTORS, Predictor, WarmStartPredictor, load_predictor, warm_start
from tests.predictors.conftest import fast_predictor, synthetic_rows


@pytest.fixture(scope="module")
def source():
    """A predictor fitted on dataset A (40 architectures)."""
    rows = synthetic_rows(num_archs=40, seed=10)
    predictor = fast_predictor("xgboost").fit(rows.X, rows.y, rows.groups)
    predictor.metadata.update(dataset="A", space={"preset": "synthetic", "version": 1})
    return predictor


def dataset_b(seed: int = 11):
    """Dataset B: the same relation at another accuracy level (a monotone re-scaling)."""
    rows = synthetic_rows(num_archs=30, seed=seed, transform=lambda y: 0.2 + 0.6 * y ** 2)
    return rows.take(np.arange(6)), rows.take(np.arange(6, 30))


def test_warm_start_from_few_target_networks_beats_a_cold_start(source):
    train, test = dataset_b()
    cold = fast_predictor("xgboost").fit(train.X, train.y, train.groups)
    warm = warm_start(source, "xgboost", **{"n_members": 5, "n_estimators": 150, "learning_rate": 0.1})
    warm.fit(train.X, train.y, train.groups)
    tau_cold = kendalltau(cold.predict(test.X)[0], test.y)[0]
    tau_warm = kendalltau(warm.predict(test.X)[0], test.y)[0]
    assert tau_warm > tau_cold + 0.1 and tau_warm > 0.7  # measured: 0.59 cold, 0.73 warm


@pytest.mark.parametrize("base", PREDICTORS.names())
def test_warm_started_predictor_saves_loads_and_predicts(source, base, tmp_path):
    train, test = dataset_b()
    warm = warm_start(source, fast_predictor(base)).fit(train.X, train.y, train.groups)
    warm.metadata["dataset"] = "B"
    assert warm.metadata["warm_start"]["dataset"] == "A" and warm.metadata["warm_start"]["kind"] == "xgboost"
    path = warm.save(tmp_path / "warm.json")
    loaded = load_predictor(path, expect={"dataset": "B", "warm_start": {"dataset": "A"}})
    assert isinstance(loaded, WarmStartPredictor) and loaded.base.kind == base
    for got, want in zip(loaded.predict(test.X), warm.predict(test.X)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    assert loaded.predict(test.X)[1].mean() > 0
    with pytest.raises(SchemaMismatchError, match=r"warm_start\.dataset differs: saved 'A', expected 'C'"):
        Predictor.load(path, expect={"warm_start": {"dataset": "C"}})


def test_warm_start_checks_its_inputs(source):
    with pytest.raises(AebnasError, match="fitted"):
        warm_start(fast_predictor("xgboost"))
    warm = warm_start(source)
    train, _ = dataset_b()
    with pytest.raises(SchemaMismatchError, match="source"):
        warm.fit(train.X[:, :-1], train.y)
    with pytest.raises(AebnasError, match="name"):
        warm_start(source, fast_predictor("gp"), max_iter=3)
