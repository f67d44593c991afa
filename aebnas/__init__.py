"""aebnas: surrogate-accelerated, hardware-aware NAS for early-exit networks.

The public API, importable from here; each name is imported when first used, so that ``import aebnas``
(and the command line's ``--help``) loads no torch, BoTorch or XGBoost:

* searching: ``Search``, ``SearchConfig``, ``Trial``, ``TrialState``, ``ConfirmedCandidate``; strategies
  ``BayesianOptimisation``, ``NSGA2``, ``PaperMethod``, ``create_strategy`` / ``list_strategies``;
  executors ``create_executor`` / ``list_executors``; benchmark tables ``load_table``;
* one network: ``Architecture``, ``ExitSpec``, ``SearchSpace``, ``build``, ``path_costs``,
  ``train_candidate``, ``TrainConfig``; registries ``list_backbones``, ``list_presets``;
* data: ``load_dataset``, ``list_datasets``; predictors: ``create_predictor``, ``list_predictors``,
  ``load_predictor``;
* deployment: ``export_run`` (a run's network as ONNX or TorchScript segments with a manifest) and
  ``load_runtime`` (real early exit on an export; an ONNX one needs no torch).
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_PUBLIC = {
    "aebnas.engine.search": ("ConfirmedCandidate", "Search", "SearchConfig", "Trial", "TrialState", "create_strategy",
                             "list_strategies"),
    "aebnas.engine.search.strategies": ("BayesianOptimisation", "FixedDesign", "NSGA2", "PaperMethod"),
    "aebnas.engine.execution": ("create_executor", "list_executors"),
    "aebnas.engine.tables": ("load_table",),
    "aebnas.engine.evaluation": ("TrainConfig", "train_candidate"),
    "aebnas.search_space": ("Architecture", "ExitSpec", "SearchSpace", "build", "path_costs", "list_backbones",
                            "list_presets"),
    "aebnas.datasets": ("list_datasets", "load_dataset"),
    "aebnas.predictors": ("create_predictor", "list_predictors", "load_predictor"),
    "aebnas.engine.export": ("export_run",),
    "aebnas.runtime": ("load_runtime",),
}
_MODULE_OF = {name: module for module, names in _PUBLIC.items() for name in names}

__all__ = sorted(_MODULE_OF) + ["__version__"]


def __getattr__(name: str):
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'aebnas' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # imported once
    return value


def __dir__() -> list[str]:
    return __all__
