"""Accuracy predictors acc(architecture, MACs budget): the Predictor contract and registry, XGBoost ensemble,
Gaussian process, MLP baseline, warm start across datasets, feature rows, metrics, BoTorch adapters."""

from aebnas.predictors._base import (
    PREDICTORS,
    Predictor,
    check_metadata,
    create_predictor,
    load_predictor,
    schema_metadata,
)
from aebnas.predictors._gp import GaussianProcess
from aebnas.predictors._mlp import MLPPredictor
from aebnas.predictors._warm import WarmStartPredictor, warm_start
from aebnas.predictors._xgboost import XGBoostEnsemble
from aebnas.predictors.botorch_models import macs_model, objective_model
from aebnas.predictors.features import (
    MACS_BUDGET_COLUMN,
    Curve,
    CurveRows,
    curve_rows,
    feature_names,
    macs_budget_column,
    macs_budget_features,
    shared_macs_grid,
)
from aebnas.predictors.metrics import cross_validate, learning_curve, ranking_metrics


def list_predictors() -> list[str]:
    """Names of the registered predictor kinds."""
    return PREDICTORS.names()


__all__ = [
    "MACS_BUDGET_COLUMN",
    "PREDICTORS",
    "Curve",
    "CurveRows",
    "GaussianProcess",
    "MLPPredictor",
    "Predictor",
    "WarmStartPredictor",
    "XGBoostEnsemble",
    "macs_budget_column",
    "macs_budget_features",
    "check_metadata",
    "create_predictor",
    "cross_validate",
    "curve_rows",
    "feature_names",
    "learning_curve",
    "list_predictors",
    "load_predictor",
    "macs_model",
    "objective_model",
    "ranking_metrics",
    "schema_metadata",
    "shared_macs_grid",
    "warm_start",
]
