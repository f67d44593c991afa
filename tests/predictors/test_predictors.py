"""Tests run over every registered predictor: ranking of held-out architectures, uncertainty,
save/load round trip with metadata and schema checks; and each kind's own behaviour."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import kendalltau

from aebnas.exceptions import AebnasError, SchemaMismatchError, UnknownNameError
from aebnas.predictors import (
    PREDICTORS,
    GaussianProcess,
    MLPPredictor,
    Predictor,
    XGBoostEnsemble,
    create_predictor,
    schema_metadata,
)
from aebnas.predictors._base import bootstrap_groups, check_metadata
from aebnas.search_space.space import SearchSpace
from tests.predictors.conftest import NAMES, fast_predictor


def test_registry_names_and_errors():
    assert {"xgboost", "gp", "mlp"} <= set(PREDICTORS.names())
    assert isinstance(create_predictor("xgboost", n_members=3), XGBoostEnsemble)
    assert isinstance(create_predictor("gp"), GaussianProcess)
    assert isinstance(create_predictor("mlp"), MLPPredictor)
    with pytest.raises(UnknownNameError, match="xgboost"):
        create_predictor("forest")


def test_hyper_parameters_are_stored_as_given(name):
    predictor = create_predictor(name)
    params = predictor.get_params()
    assert type(predictor)(**params).get_params() == params
    assert not predictor.is_fitted
    with pytest.raises(AebnasError, match="not fitted"):
        predictor.predict(np.zeros((1, 3)))


def test_ranks_held_out_architectures(name, fitted, train_test):
    _, test = train_test
    mean, std = fitted(name).predict(test.X)
    assert mean.shape == std.shape == test.y.shape
    assert kendalltau(mean, test.y)[0] > 0.8
    assert np.all(std >= 0) and std.mean() > 0  # every registered kind gives an uncertainty
    assert fitted(name).metadata["num_groups"] == 30


def test_predict_checks_the_width(name, fitted, train_test):
    _, test = train_test
    with pytest.raises(SchemaMismatchError, match="features"):
        fitted(name).predict(test.X[:, :-1])


def fresh_copy(predictor: Predictor) -> Predictor:
    """A copy whose metadata a test may change without touching the shared fitted one."""
    return Predictor.from_dict(predictor.to_dict())


def test_save_load_round_trip(name, fitted, train_test, tmp_path):
    _, test = train_test
    predictor = fresh_copy(fitted(name))
    predictor.metadata.update(schema_metadata(SearchSpace("extended"), NAMES, dataset="synthetic", num_trials=30))
    path = predictor.save(tmp_path / "predictor.json")
    json.loads(path.read_text())  # plain JSON, no pickle
    loaded = Predictor.load(path)
    assert type(loaded) is type(predictor) and loaded.get_params() == predictor.get_params()
    assert loaded.metadata["dataset"] == "synthetic" and loaded.metadata["feature_names"] == NAMES
    assert loaded.metadata["space"]["preset"] == "extended" and "xgboost" in loaded.metadata["library_versions"]
    for got, want in zip(loaded.predict(test.X), predictor.predict(test.X)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    # the kind's own class loads it too; another kind's refuses
    assert type(type(predictor).load(path)) is type(predictor)
    other = next(cls for n, cls in ((n, PREDICTORS.get(n)) for n in PREDICTORS.names()) if n != name)
    with pytest.raises(SchemaMismatchError, match="kind"):
        other.load(path)


def test_load_with_expect(name, fitted, tmp_path):
    predictor = fresh_copy(fitted(name))
    space = SearchSpace("extended")
    predictor.metadata.update(schema_metadata(space, NAMES))
    path = predictor.save(tmp_path / "p.json")
    assert Predictor.load(path, expect=schema_metadata(space, NAMES)).is_fitted
    assert Predictor.load(path, expect={"space": {"preset": "extended", "version": 1}}).is_fitted
    with pytest.raises(SchemaMismatchError, match=r"space\.preset differs: saved 'extended', expected 'paper'"):
        Predictor.load(path, expect=schema_metadata(SearchSpace("paper"), NAMES))
    with pytest.raises(SchemaMismatchError, match=r"space\.version differs: saved 1, expected 2"):
        Predictor.load(path, expect={"space": {"version": 2}})
    renamed = NAMES[:2] + ["other"] + NAMES[3:]
    with pytest.raises(SchemaMismatchError, match=r"feature_names\[2\] differs: saved 'a2', expected 'other'"):
        Predictor.load(path, expect={"feature_names": renamed})
    with pytest.raises(SchemaMismatchError, match="feature_names differs: saved 7 entries, expected 8 entries"):
        Predictor.load(path, expect={"feature_names": NAMES + ["extra"]})
    with pytest.raises(SchemaMismatchError, match="dataset differs: saved nothing"):
        Predictor.load(path, expect={"dataset": "cifar10"})


def test_load_rejects_files_that_are_not_predictors(tmp_path):
    path = tmp_path / "x.json"
    path.write_text(json.dumps({"format": "something"}))
    with pytest.raises(SchemaMismatchError, match="not a saved aebnas predictor"):
        Predictor.load(path)
    path.write_text("{not json")
    with pytest.raises(SchemaMismatchError):
        Predictor.load(path)
    with pytest.raises(AebnasError, match="no saved predictor"):
        Predictor.load(tmp_path / "missing.json")


def test_check_metadata_passes_matching_tuples_and_lists():
    check_metadata({"space": {"input_shape": [1, 8, 8]}}, {"space": {"input_shape": (1, 8, 8)}})
    with pytest.raises(SchemaMismatchError, match=r"space\.input_shape\[1\]"):
        check_metadata({"space": {"input_shape": [1, 8, 8]}}, {"space": {"input_shape": (1, 28, 28)}})


def test_bootstrap_resamples_architectures_not_rows():
    groups = np.repeat(np.arange(10), 4)
    weights = bootstrap_groups(groups, np.random.default_rng(0))
    per_group = weights.reshape(10, 4)
    assert np.all(per_group == per_group[:, :1])  # all rows of a network share its draw count
    assert per_group[:, 0].sum() == 10 and (per_group[:, 0] == 0).any()


def test_xgboost_members_differ_and_are_seeded(train_test):
    train, test = train_test
    a = fast_predictor("xgboost", seed=3).fit(train.X, train.y, train.groups)
    b = fast_predictor("xgboost", seed=3).fit(train.X, train.y, train.groups)
    members = a.predict_members(test.X)
    assert members.shape == (5, len(test.y))
    assert np.ptp(members, axis=0).max() > 0
    np.testing.assert_array_equal(members, b.predict_members(test.X))


def test_gp_drops_constant_columns(fitted, train_test):
    _, test = train_test
    gp = fitted("gp")
    constant = NAMES.index("a_const")
    assert constant not in gp.keep_ and len(gp.keep_) == len(NAMES) - 1
    changed = test.X.copy()
    changed[:, constant] = 123.0  # a column never seen to vary cannot move the prediction
    for got, want in zip(gp.predict(changed), gp.predict(test.X)):
        np.testing.assert_allclose(got, want)


def test_gp_mixed_kernel_fits(train_test):
    train, test = train_test
    gp = GaussianProcess(kernel="mixed", max_iter=40).fit(train.X, train.y, train.groups)
    assert gp.binary_[gp.keep_.index(NAMES.index("a_onehot"))]
    assert kendalltau(gp.predict(test.X)[0], test.y)[0] > 0.8
    with pytest.raises(AebnasError, match="kernel"):
        GaussianProcess(kernel="rbf").fit(train.X, train.y)


def test_fit_rejects_bad_rows(name):
    with pytest.raises(AebnasError, match="rows"):
        create_predictor(name).fit(np.zeros((4, 3)), np.zeros(5))
    with pytest.raises(AebnasError, match="finite"):
        create_predictor(name).fit(np.full((4, 3), np.nan), np.zeros(4))


def test_metadata_with_numpy_values_saves(fitted, tmp_path):
    predictor = fresh_copy(fitted("xgboost"))
    predictor.metadata["cv"] = {"tau_at_macs_budget": np.float64(0.61), "tau_all": float("nan"), "sizes": np.arange(3)}
    loaded = Predictor.load(predictor.save(tmp_path / "p.json"))
    assert loaded.metadata["cv"]["tau_at_macs_budget"] == 0.61 and loaded.metadata["cv"]["sizes"] == [0, 1, 2]
    assert np.isnan(loaded.metadata["cv"]["tau_all"])


def test_every_predictor_takes_a_seed_and_is_deterministic(name, train_test):
    train, test = train_test
    a = fast_predictor(name, seed=7).fit(train.X[:50], train.y[:50], train.groups[:50])
    b = fast_predictor(name, seed=7).fit(train.X[:50], train.y[:50], train.groups[:50])
    for got, want in zip(a.predict(test.X), b.predict(test.X)):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
