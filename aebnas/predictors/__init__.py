"""Accuracy predictors acc(architecture, budget): the Predictor contract and registry, XGBoost ensemble,
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
from aebnas.predictors.botorch_models import accuracy_model, macs_model, objective_model
from aebnas.predictors.features import (
    BUDGET_COLUMN,
    CurveRows,
    budget_column,
    budget_features,
    curve_rows,
    feature_names,
    shared_budget_grid,
)
from aebnas.predictors.metrics import cross_validate, learning_curve, ranking_metrics

__all__ = [
    "BUDGET_COLUMN",
    "PREDICTORS",
    "CurveRows",
    "GaussianProcess",
    "MLPPredictor",
    "Predictor",
    "WarmStartPredictor",
    "XGBoostEnsemble",
    "accuracy_model",
    "budget_column",
    "budget_features",
    "check_metadata",
    "create_predictor",
    "cross_validate",
    "curve_rows",
    "feature_names",
    "learning_curve",
    "load_predictor",
    "macs_model",
    "objective_model",
    "ranking_metrics",
    "schema_metadata",
    "shared_budget_grid",
    "warm_start",
]
