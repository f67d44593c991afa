"""BoTorch models over predictor rows for the acquisition: predicted accuracy from a fitted predictor,
and minus the budget read exactly from its column (no model), joined in a ``ModelList``.

All models take ``batch_shape x q x d`` inputs in the predictor's feature space (the rows of
:func:`aebnas.predictors.features.budget_features`) and give one output each.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from botorch.models.deterministic import GenericDeterministicModel
from botorch.models.ensemble import EnsembleModel
from botorch.models.model import Model, ModelList
from botorch.posteriors import Posterior
from torch import Tensor

from aebnas.exceptions import AebnasError
from aebnas.predictors._base import Predictor
from aebnas.predictors._gp import GaussianProcess
from aebnas.predictors._mlp import MLPPredictor
from aebnas.predictors._warm import WarmStartPredictor
from aebnas.predictors._xgboost import XGBoostEnsemble


class XGBoostEnsembleModel(EnsembleModel):
    """The boosters of a fitted :class:`XGBoostEnsemble` as a BoTorch ``EnsembleModel``: each booster
    is one ensemble member (not differentiable: use with ``optimize_acqf_discrete``)."""

    _num_outputs = 1

    def __init__(self, predictor: XGBoostEnsemble) -> None:
        super().__init__()
        self.predictor = predictor

    def forward(self, X: Tensor) -> Tensor:
        """`batch_shape x q x d` -> `batch_shape x members x q x 1`."""
        flat = X.detach().reshape(-1, X.shape[-1]).cpu().numpy()
        values = torch.as_tensor(self.predictor.predict_members(flat), dtype=X.dtype, device=X.device)
        return values.reshape(-1, *X.shape[:-1]).movedim(0, -2).unsqueeze(-1)


class MLPEnsembleModel(EnsembleModel):
    """The networks of a fitted :class:`MLPPredictor` as a BoTorch ``EnsembleModel`` (differentiable)."""

    _num_outputs = 1

    def __init__(self, predictor: MLPPredictor) -> None:
        super().__init__()
        self.predictor = predictor

    def forward(self, X: Tensor) -> Tensor:
        """`batch_shape x q x d` -> `batch_shape x members x q x 1`."""
        return self.predictor.forward_members(X).unsqueeze(-1)


class AugmentedInputModel(Model):
    """``inner`` evaluated on inputs with the warm-start source's mean prediction appended
    (`batch_shape x q x d` -> `batch_shape x q x (d + 1)`); not differentiable in X."""

    def __init__(self, inner: Model, predictor: WarmStartPredictor) -> None:
        super().__init__()
        self.inner = inner
        self.predictor = predictor

    @property
    def num_outputs(self) -> int:
        return self.inner.num_outputs

    @property
    def batch_shape(self) -> torch.Size:
        return self.inner.batch_shape

    def _augment(self, X: Tensor) -> Tensor:
        flat = X.detach().reshape(-1, X.shape[-1]).cpu().numpy()
        source = torch.as_tensor(self.predictor.source.predict(flat)[0], dtype=X.dtype, device=X.device)
        return torch.cat([X, source.reshape(*X.shape[:-1], 1)], dim=-1)

    def posterior(self, X: Tensor, output_indices: list[int] | None = None, observation_noise: Any = False,
                  posterior_transform: Any = None, **kwargs: Any) -> Posterior:
        return self.inner.posterior(self._augment(X), output_indices=output_indices,
                                    observation_noise=observation_noise, posterior_transform=posterior_transform,
                                    **kwargs)


def accuracy_model(predictor: Predictor) -> Model:
    """A BoTorch model of a fitted predictor's accuracy (one output) on `batch_shape x q x d` rows:
    XGBoost and MLP as ``EnsembleModel``s over their members, the GP as its fitted ``SingleTaskGP``
    (whose input transform drops the constant columns, so it takes full-width rows), a warm-started
    predictor as its base model on inputs with the source prediction appended."""
    if not predictor.is_fitted:
        raise AebnasError(f"{type(predictor).__name__} is not fitted; call fit() first")
    if isinstance(predictor, XGBoostEnsemble):
        return XGBoostEnsembleModel(predictor)
    if isinstance(predictor, MLPPredictor):
        return MLPEnsembleModel(predictor)
    if isinstance(predictor, GaussianProcess):
        return predictor.model_
    if isinstance(predictor, WarmStartPredictor):
        return AugmentedInputModel(accuracy_model(predictor.base), predictor)
    raise AebnasError(f"no BoTorch adapter for predictor kind {predictor.kind!r}")


def macs_model(column_index: int, log10: bool = True, scale: float = 1.0) -> GenericDeterministicModel:
    """Minus the budget, exactly: `batch_shape x q x d` -> `batch_shape x q x 1`.

    Args:
        column_index: the budget column of the rows; by default the ``log10_budget`` feature
            (:func:`aebnas.predictors.features.budget_column`), so the output is ``-10 ** x / scale``.
        log10: False when the column holds the budget itself (output ``-x / scale``).
        scale: MACs per unit of the objective (e.g. 1e6 for millions); the reference point of the
            hypervolume is in the same units.
    """
    if log10:
        return GenericDeterministicModel(lambda X: -(10.0 ** X[..., column_index : column_index + 1]) / scale, 1)
    return GenericDeterministicModel(lambda X: -X[..., column_index : column_index + 1] / scale, 1)


def objective_model(predictor: Predictor, budget_column: int, log10: bool = True, scale: float = 1.0) -> ModelList:
    """``ModelList(accuracy, -budget)``: the two objectives (both maximised) the proposer's qLogNEHVI
    works on, over `batch_shape x q x d` rows."""
    return ModelList(accuracy_model(predictor), macs_model(budget_column, log10=log10, scale=scale))


def as_tensor(X: np.ndarray) -> Tensor:
    """`n x d` rows as the float64 tensor the models take."""
    return torch.as_tensor(np.asarray(X, dtype=np.float64))
