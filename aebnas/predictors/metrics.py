"""How well a predictor ranks architectures it has not seen: grouped cross-validation (rows of one
architecture never on both sides), learning curves, and the ranking / error / calibration metrics.

Metrics of held-out rows (mean and std predicted, truth ``y``):

* ``tau_at_macs_budget`` (the headline): Kendall tau (scipy's tau-b) between predicted and true accuracy
  among the held-out architectures *at one absolute MACs budget*, averaged over the MACs budgets that at
  least 3 held-out architectures share. This is the comparison the search makes (which network is
  better at this average MACs) without the MACs-budget effect that inflates a tau over all rows. It
  needs rows at shared MACs budgets: build evaluation rows with ``curve_rows(..., grid="shared")`` (or
  an explicit array of MACs budgets) and pass them as ``eval_rows``; a model can still be trained on the
  default relative grid. NaN when no MACs budget is shared by 3 held-out architectures.
* ``tau_at_grid``: the same at each position of the relative grid (the k-th highest MACs budget of
  every architecture, so position 0 is the full network): defined on relative-grid rows too; within a
  position the absolute MACs budgets still differ between architectures.
* ``tau_all``, ``spearman_all``: over all held-out rows (inflated by the MACs-budget effect, reported
  beside the headline). ``spearman_at_macs_budget``: Spearman rho at shared MACs budgets.
* ``top_recall_at_macs_budget``: at each shared MACs budget, the share of the true top 10% (at least
  one architecture) that the predicted top 10% holds, averaged over the MACs budgets held by at least
  10 held-out architectures: what the search needs, finding the best few, where a tau over all
  architectures weighs every swap among poor ones as much. NaN when no MACs budget has 10.
* ``rmse``, and ``calibration``: share of held-out truths inside predicted mean +- 2 std.

``cross_validate`` pools the out-of-fold predictions (each architecture predicted by the model that
did not see it) and computes the metrics once over the pool, so a MACs budget's tau ranks every
architecture, not the few of one fold.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence, Union

import numpy as np
from scipy.stats import kendalltau, spearmanr
from sklearn.model_selection import GroupKFold

from aebnas.exceptions import AebnasError
from aebnas.predictors._base import Predictor, create_predictor

PredictorFactory = Union[str, Callable[[], Predictor]]
Rows = Sequence[np.ndarray]  # (X, y, groups, macs_budgets), e.g. a CurveRows

MIN_ARCHS_PER_MACS_BUDGET = 3
TOP_SHARE, MIN_ARCHS_FOR_TOP = 0.1, 10


def _make(factory: PredictorFactory) -> Predictor:
    return create_predictor(factory) if isinstance(factory, str) else factory()


def _rank_corr(fn, a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(fn(a, b)[0])


def grid_positions(groups: np.ndarray, macs_budgets: np.ndarray) -> np.ndarray:
    """`n` position of each row among its architecture's MACs budgets, counted from the highest (0 = the
    largest, the full network on a relative grid)."""
    groups, macs_budgets = np.asarray(groups), np.asarray(macs_budgets, dtype=np.float64)
    positions = np.empty(len(groups), dtype=np.int64)
    for g in np.unique(groups):
        rows = np.flatnonzero(groups == g)
        positions[rows[np.argsort(-macs_budgets[rows], kind="stable")]] = np.arange(len(rows))
    return positions


def _at_keys(y: np.ndarray, mean: np.ndarray, groups: np.ndarray, keys: np.ndarray, fn) -> float:
    """Mean rank correlation within rows sharing a key, over keys held by >= 3 architectures."""
    values = []
    for key in np.unique(keys):
        rows = np.flatnonzero(keys == key)
        if len(np.unique(groups[rows])) >= MIN_ARCHS_PER_MACS_BUDGET:
            value = _rank_corr(fn, y[rows], mean[rows])
            if np.isfinite(value):
                values.append(value)
    return float(np.mean(values)) if values else float("nan")


def _top_recall(y: np.ndarray, mean: np.ndarray) -> float:
    """Share of the predicted top ``TOP_SHARE`` of `n` rows (k of them) that is truly in the top k (ties
    with the k-th best truth count in)."""
    k = max(1, int(np.ceil(TOP_SHARE * len(y))))
    true_top = y >= np.sort(y)[-k]
    return float(true_top[np.argsort(-mean, kind="stable")[:k]].mean())


def _top_recall_at_keys(y: np.ndarray, mean: np.ndarray, keys: np.ndarray) -> float:
    values = [_top_recall(y[rows], mean[rows]) for key in np.unique(keys)
              if len(rows := np.flatnonzero(keys == key)) >= MIN_ARCHS_FOR_TOP]
    return float(np.mean(values)) if values else float("nan")


def ranking_metrics(y: np.ndarray, mean: np.ndarray, std: np.ndarray, groups: np.ndarray,
                    macs_budgets: np.ndarray) -> dict[str, float]:
    """The metrics of the module docstring for `n` held-out rows."""
    y, mean, std = (np.asarray(a, dtype=np.float64).reshape(-1) for a in (y, mean, std))
    groups, macs_budgets = np.asarray(groups).reshape(-1), np.asarray(macs_budgets, dtype=np.float64).reshape(-1)
    return {
        "tau_at_macs_budget": _at_keys(y, mean, groups, macs_budgets, kendalltau),
        "tau_at_grid": _at_keys(y, mean, groups, grid_positions(groups, macs_budgets), kendalltau),
        "tau_all": _rank_corr(kendalltau, y, mean),
        "spearman_at_macs_budget": _at_keys(y, mean, groups, macs_budgets, spearmanr),
        "spearman_all": _rank_corr(spearmanr, y, mean),
        "top_recall_at_macs_budget": _top_recall_at_keys(y, mean, macs_budgets),
        "rmse": float(np.sqrt(np.mean((y - mean) ** 2))) if len(y) else float("nan"),
        "calibration": float(np.mean(np.abs(y - mean) <= 2 * std)) if len(y) else float("nan"),
        "num_rows": int(len(y)),
        "num_architectures": int(len(np.unique(groups))),
    }


def _check_rows(X, y, groups, macs_budgets) -> tuple[np.ndarray, ...]:
    X = np.asarray(X, dtype=np.float64)
    y, groups = np.asarray(y, dtype=np.float64).reshape(-1), np.asarray(groups).reshape(-1)
    macs_budgets = np.asarray(macs_budgets, dtype=np.float64).reshape(-1)
    if not (len(X) == len(y) == len(groups) == len(macs_budgets)):
        raise AebnasError(
            f"rows disagree in length: X {len(X)}, y {len(y)}, groups {len(groups)}, macs_budgets {len(macs_budgets)}"
        )
    return X, y, groups, macs_budgets


def group_folds(groups: np.ndarray, folds: int = 5, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train rows, test rows) index pairs of a grouped, shuffled K-fold split (sklearn
    ``GroupKFold``): every row of an architecture lands on the same side."""
    groups = np.asarray(groups).reshape(-1)
    num_groups = len(np.unique(groups))
    if folds < 2 or num_groups < folds:
        raise AebnasError(
            f"grouped CV needs 2 <= folds <= architectures; got {folds} folds, {num_groups} architectures"
        )
    splitter = GroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros((len(groups), 1)), groups=groups))


def cross_validate(
    predictor_factory: PredictorFactory,
    X: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    macs_budgets: np.ndarray,
    folds: int = 5,
    seed: int = 0,
    eval_rows: Rows | None = None,
) -> dict[str, Any]:
    """Grouped K-fold CV of a predictor; the metrics of the module docstring over the pooled
    out-of-fold predictions.

    Args:
        predictor_factory: a registered predictor name or a callable returning a new unfitted predictor.
        X, y, groups, macs_budgets: `n x d` rows, `n` truths, `n` architecture ids, `n` absolute MACs budgets
            (e.g. ``curve_rows(...)``); training rows of each fold.
        eval_rows: optional ``(X, y, groups, macs_budgets)`` of the same architectures (same group ids)
            on which held-out architectures are scored instead of their training rows, e.g.
            ``curve_rows(..., grid="shared")`` for the fixed-MACs-budget headline.
    Returns:
        the metrics, plus ``folds`` and ``fold_sizes`` (held-out architectures per fold).
    """
    X, y, groups, macs_budgets = _check_rows(X, y, groups, macs_budgets)
    Xe, ye, ge, be = _check_rows(*eval_rows) if eval_rows is not None else (X, y, groups, macs_budgets)
    missing = np.setdiff1d(np.unique(ge), np.unique(groups))
    if len(missing):
        raise AebnasError(f"eval_rows hold architectures {missing.tolist()[:5]} absent from the training rows")
    mean, std = np.full(len(ye), np.nan), np.full(len(ye), np.nan)
    sizes = []
    for train, test in group_folds(groups, folds, seed):
        held_out = np.isin(ge, groups[test])
        sizes.append(int(len(np.unique(groups[test]))))
        if not held_out.any():
            continue
        predictor = _make(predictor_factory).fit(X[train], y[train], groups[train])
        mean[held_out], std[held_out] = predictor.predict(Xe[held_out])
    scored = np.isfinite(mean)
    metrics = ranking_metrics(ye[scored], mean[scored], std[scored], ge[scored], be[scored])
    return {**metrics, "folds": folds, "fold_sizes": sizes}


def learning_curve(
    predictor_factory: PredictorFactory,
    X: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    macs_budgets: np.ndarray,
    sizes: Sequence[int] = (10, 20, 30),
    test_size: int | None = None,
    repeats: int = 3,
    seed: int = 0,
    eval_rows: Rows | None = None,
) -> list[dict[str, Any]]:
    """Metrics vs the number of trained architectures: in each of ``repeats`` shuffles, ``test_size``
    architectures are held out (default: all beyond ``max(sizes)``) and the predictor is trained on
    the first ``n`` of the others for each ``n`` in ``sizes`` (nested subsets), scored on the held-out
    ones (on their ``eval_rows`` when given). Returns one dict per size: the metrics averaged over
    the repeats (NaNs ignored), with ``num_trained``."""
    X, y, groups, macs_budgets = _check_rows(X, y, groups, macs_budgets)
    Xe, ye, ge, be = _check_rows(*eval_rows) if eval_rows is not None else (X, y, groups, macs_budgets)
    unique = np.unique(groups)
    sizes = sorted(int(s) for s in sizes)
    test_size = len(unique) - sizes[-1] if test_size is None else test_size
    if test_size < MIN_ARCHS_PER_MACS_BUDGET or sizes[0] < 2 or sizes[-1] + test_size > len(unique):
        raise AebnasError(
            f"learning curve needs sizes >= 2 and >= {MIN_ARCHS_PER_MACS_BUDGET} held-out architectures: "
            f"{len(unique)} architectures, sizes {sizes}, test_size {test_size}"
        )
    rng = np.random.default_rng(seed)
    results: dict[int, list[dict[str, float]]] = {n: [] for n in sizes}
    for _ in range(repeats):
        order = rng.permutation(unique)
        test, pool = order[:test_size], order[test_size:]
        held_out = np.isin(ge, test)
        for n in sizes:
            train = np.isin(groups, pool[:n])
            predictor = _make(predictor_factory).fit(X[train], y[train], groups[train])
            mean, std = predictor.predict(Xe[held_out])
            results[n].append(ranking_metrics(ye[held_out], mean, std, ge[held_out], be[held_out]))
    curve = []
    for n in sizes:
        runs = results[n]
        averaged = {}
        for key in runs[0]:
            values = np.array([r[key] for r in runs], dtype=np.float64)
            averaged[key] = float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")
        curve.append({"num_trained": n, **averaged})
    return curve
