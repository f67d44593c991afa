"""The run's accuracy predictors: training rows from complete trials' validation curves, fitting (with
an optional warm start from a predictor of another dataset), and the warm-start source itself."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from aebnas.engine.search.records import Trial
from aebnas.predictors import (CurveRows, Predictor, create_predictor, curve_rows, feature_names, load_predictor,
                               schema_metadata, warm_start)
from aebnas.search_space import SearchSpace
from aebnas.search_space.space import SPACE_VERSION


def load_warm_start(space: SearchSpace, path: str) -> Predictor:
    """The predictor saved at ``path``, checked to be over ``space``'s preset, version and features."""
    expect = {"space": {"preset": space.name, "version": SPACE_VERSION}, "feature_names": feature_names(space)}
    return load_predictor(path, expect=expect)


class RunPredictors:
    """Fits accuracy predictors on a run's complete trials.

    Args:
        space: the run's search space; dataset: its dataset name (predictor metadata).
        kind: the run's predictor kind; seed: the run seed (each predictor's).
        ref_macs: the largest MACs budget the search asks about (rows on the shared grid stop there).
        warm_source: a fitted predictor of another dataset to stack on (None: cold start).
    """

    def __init__(self, space: SearchSpace, dataset: str, kind: str, seed: int, ref_macs: float,
                 warm_source: Predictor | None = None) -> None:
        self.space, self.dataset, self.kind, self.seed = space, dataset, kind, seed
        self.ref_macs, self.warm_source = ref_macs, warm_source

    def rows(self, complete: Sequence[Trial], grid: str = "relative") -> CurveRows:
        """Predictor rows from complete trials' validation curves: ``grid="relative"`` for fitting,
        ``"shared"`` for fixed-budget metrics (MACs budgets up to the reference MACs, the range the
        search asks the predictor about)."""
        return curve_rows(self.space, [t.arch for t in complete], None, [t.curve for t in complete], grid=grid,
                          max_macs_budget=self.ref_macs if grid == "shared" else None)

    def new(self, kind: str | None = None, warm_start_from: Predictor | None = None) -> Predictor:
        """An unfitted predictor (default: the run's kind, stacked on the warm-start source if any)."""
        predictor = create_predictor(kind or self.kind, seed=self.seed)
        source = warm_start_from or self.warm_source
        return predictor if source is None else warm_start(source, predictor)

    def fit(self, complete: Sequence[Trial], kind: str | None = None,
            warm_start_from: Predictor | None = None) -> tuple[Predictor, np.ndarray]:
        """A predictor fitted on every complete trial's curve rows, and the `n x d` rows."""
        rows = self.rows(complete)
        predictor = self.new(kind, warm_start_from).fit(rows.X, rows.y, rows.groups)
        predictor.metadata.update(schema_metadata(self.space, rows.names, dataset=self.dataset,
                                                  num_trials=len(complete)))
        return predictor, rows.X
