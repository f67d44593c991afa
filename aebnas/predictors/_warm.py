"""Warm start across datasets by stacking: a predictor fitted on dataset A (the source) gives its mean
prediction as one extra input column to a predictor fitted on dataset B over the same space."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from botorch.models.model import Model
from botorch.posteriors import Posterior
from torch import Tensor

from aebnas.exceptions import AebnasError, SchemaMismatchError
from aebnas.predictors._base import Predictor, create_predictor

SOURCE_COLUMN = "source_mean"


class WarmStartPredictor(Predictor):
    """``base`` fitted on ``[X, source.predict(X).mean]``; ``source`` stays frozen.

    Why stacking: it works for every predictor kind (trees split on the source column, a GP gives it a
    length scale, an MLP a weight) and lets the target model learn how far to trust the source,
    including a monotone re-scaling: accuracy levels differ between datasets (CIFAR-100 vs SVHN)
    while the ranking of architectures carries over. A residual model (learn ``y - source``) would
    assume equal levels; continued boosting (``xgb_model=``) would work for XGBoost only and would
    keep every source tree whatever the target data say.

    Not in ``PREDICTORS``: it needs a fitted source. Build it with :func:`warm_start`. Saving stores
    both models in one file; ``metadata["warm_start"]`` names the source (kind, dataset, space,
    rows it was fitted on).

    Args:
        source: a fitted predictor over the same feature rows (same space and feature names).
        base: the unfitted predictor to fit on the augmented rows.
    """

    kind = "warm_start"

    def __init__(self, source: Predictor, base: Predictor) -> None:
        if not source.is_fitted:
            raise AebnasError("the warm-start source predictor must be fitted")
        self.source = source
        self.base = base

    def get_params(self) -> dict[str, Any]:
        return {}  # both models travel in the state

    def augment(self, X: np.ndarray) -> np.ndarray:
        """`n x d` rows -> `n x (d + 1)` rows with the source's mean prediction appended."""
        X = self._check_source_input(X)
        return np.hstack([X, self.source.predict(X)[0][:, None]])

    def _check_source_input(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        X = X.reshape(1, -1) if X.ndim == 1 else X
        if X.shape[1] != self.source.n_features_in_:
            raise SchemaMismatchError(
                f"warm-start source was fitted on {self.source.n_features_in_} features; got rows of {X.shape[1]}"
            )
        return X

    def fit(self, X: np.ndarray, y: np.ndarray, groups: np.ndarray | None = None) -> "WarmStartPredictor":
        X, y, groups = self._check_fit_input(self._check_source_input(X), y, groups)
        self.base.fit(self.augment(X), y, groups)
        self.metadata["warm_start"] = self.source_description()
        return self

    def source_description(self) -> dict[str, Any]:
        meta = self.source.metadata
        return {"kind": self.source.kind, "method": "stacking", "column": SOURCE_COLUMN,
                **{k: meta[k] for k in ("dataset", "space", "num_rows", "num_groups", "num_trials") if k in meta}}

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        X = self._check_predict_input(X)
        return self.base.predict(self.augment(X))

    def to_botorch(self) -> "AugmentedInputModel":
        """The base model's BoTorch model on inputs with the source prediction appended."""
        self._check_fitted()
        return AugmentedInputModel(self.base.to_botorch(), self)

    def _get_state(self) -> dict[str, Any]:
        return {"source": self.source.to_dict(), "base": self.base.to_dict()}

    def _set_state(self, state: dict[str, Any]) -> None:  # pragma: no cover - _restore builds it
        raise NotImplementedError

    @classmethod
    def _restore(cls, params: dict[str, Any], state: dict[str, Any]) -> "WarmStartPredictor":
        return cls(Predictor.from_dict(state["source"]), Predictor.from_dict(state["base"]))


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


def warm_start(source: Predictor, base: str | Predictor = "xgboost", **kwargs: Any) -> WarmStartPredictor:
    """A predictor for a new dataset that stacks on ``source`` (fitted on another dataset over the same
    space). ``base``: a registered predictor name (with hyper-parameters ``kwargs``) or an unfitted
    predictor."""
    if isinstance(base, str):
        base = create_predictor(base, **kwargs)
    elif kwargs:
        raise AebnasError("hyper-parameters go with a predictor name, not with a predictor object")
    return WarmStartPredictor(source, base)
