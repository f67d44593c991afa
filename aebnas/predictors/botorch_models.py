"""The two objectives of the acquisition as one BoTorch model: predicted accuracy (the predictor's own
:meth:`~aebnas.predictors.Predictor.to_botorch` model) and minus the MACs budget read exactly from its
column (no model), joined in a ``ModelList``.

Both take ``batch_shape x q x d`` inputs in the predictor's feature space (the rows of
:func:`aebnas.predictors.features.macs_budget_features`) and give one output each.
"""

from __future__ import annotations

from botorch.models.deterministic import GenericDeterministicModel
from botorch.models.model import ModelList

from aebnas.predictors._base import Predictor


def macs_model(column_index: int, log10: bool = True, scale: float = 1.0) -> GenericDeterministicModel:
    """Minus the MACs budget, exactly: `batch_shape x q x d` -> `batch_shape x q x 1`.

    Args:
        column_index: the MACs-budget column of the rows; by default the ``log10_macs_budget`` feature
            (:func:`aebnas.predictors.features.macs_budget_column`), so the output is ``-10 ** x / scale``.
        log10: False when the column holds the MACs budget itself (output ``-x / scale``).
        scale: MACs per unit of the objective (e.g. 1e6 for millions); the reference point of the
            hypervolume is in the same units.
    """
    if log10:
        return GenericDeterministicModel(lambda X: -(10.0 ** X[..., column_index : column_index + 1]) / scale, 1)
    return GenericDeterministicModel(lambda X: -X[..., column_index : column_index + 1] / scale, 1)


def objective_model(predictor: Predictor, macs_budget_column: int, log10: bool = True, scale: float = 1.0) -> ModelList:
    """``ModelList(accuracy, -MACs budget)``: the two objectives (both maximised) qLogNEHVI works on,
    over `batch_shape x q x d` rows."""
    return ModelList(predictor.to_botorch(), macs_model(macs_budget_column, log10=log10, scale=scale))
