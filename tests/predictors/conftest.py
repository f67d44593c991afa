"""Shared synthetic rows and fitted predictors for the predictor tests (kept small: the suite runs on
2 CPU cores)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from aebnas.predictors import PREDICTORS, create_predictor

# small, fast hyper-parameters per registered predictor; a new predictor runs with its defaults
FAST = {
    "xgboost": {"n_members": 5, "n_estimators": 150, "learning_rate": 0.1},
    "gp": {"max_iter": 60},
    "mlp": {"n_members": 3, "epochs": 60},
}
NAMES = ["a0", "a1", "a2", "a_onehot", "a_const", "macs_budget_rel_range", "log10_macs_budget"]
BUDGET_INDEX = 6


def fast_predictor(name: str, **kwargs):
    return create_predictor(name, **{**FAST.get(name, {}), **kwargs})


@dataclass
class Rows:
    """`n x 7` synthetic rows (:data:`NAMES`): 4 architecture features (two discrete, one continuous,
    one 0/1), a constant column, the budget's relative position and its log10."""

    X: np.ndarray
    y: np.ndarray
    groups: np.ndarray
    macs_budgets: np.ndarray
    arch: np.ndarray  # `archs x 4` architecture features

    def take(self, archs) -> "Rows":
        rows = np.isin(self.groups, archs)
        return Rows(self.X[rows], self.y[rows], self.groups[rows], self.macs_budgets[rows], self.arch)


def truth(arch: np.ndarray, t: np.ndarray) -> np.ndarray:
    """A clear monotone relation: better architecture features and bigger budgets -> higher accuracy."""
    return 0.3 + 0.3 * arch[:, 0] + 0.2 * arch[:, 1] ** 2 + 0.05 * arch[:, 3] + 0.25 * t


def synthetic_rows(num_archs: int = 40, per_arch: int = 5, seed: int = 0, noise: float = 0.005,
                   transform=lambda y: y) -> Rows:
    """Each architecture on a relative grid of ``per_arch`` budgets over its own feasible range."""
    rng = np.random.default_rng(seed)
    # like the space's encoding: discrete option levels, a continuous cost column, a 0/1 column
    arch = np.column_stack([rng.integers(0, 5, num_archs) / 4, rng.integers(0, 3, num_archs) / 2,
                            rng.random(num_archs), rng.integers(0, 2, num_archs)]).astype(np.float64)
    groups = np.repeat(np.arange(num_archs), per_arch)
    t = np.tile(np.linspace(0.0, 1.0, per_arch), num_archs)  # relative budget position
    return rows_at(arch, groups, low(arch[groups]) + t, rng, noise, transform)


def low(arch: np.ndarray) -> np.ndarray:
    """log10 of each architecture's cheapest path; its final path is 10x that."""
    return 4.0 + 0.5 * arch[:, 2]


def rows_at(arch, groups, log10_budget, rng, noise=0.005, transform=lambda y: y) -> Rows:
    """Rows of architectures ``groups`` at absolute budgets (above the final path: full accuracy)."""
    t = np.clip(log10_budget - low(arch[groups]), 0.0, 1.0)
    X = np.column_stack([arch[groups], np.ones(len(groups)), t, log10_budget])
    y = transform(truth(arch[groups], t)) + noise * rng.standard_normal(len(groups))
    return Rows(X, y, groups, 10.0 ** log10_budget, arch)


def shared_rows(rows: Rows, log10_grid=(4.3, 4.6, 4.9, 5.2), seed: int = 1) -> Rows:
    """The same architectures at shared absolute budgets (those at or above each one's cheapest path)."""
    archs = np.arange(len(rows.arch))
    groups = np.repeat(archs, len(log10_grid))
    macs_budgets = np.tile(np.asarray(log10_grid, dtype=np.float64), len(archs))
    feasible = macs_budgets >= low(rows.arch[groups])
    return rows_at(rows.arch, groups[feasible], macs_budgets[feasible], np.random.default_rng(seed))


@pytest.fixture(scope="session")
def rows() -> Rows:
    return synthetic_rows()


@pytest.fixture(scope="session")
def train_test(rows):
    """Rows of 30 training and 10 held-out architectures."""
    return rows.take(np.arange(30)), rows.take(np.arange(30, 40))


@pytest.fixture(scope="session")
def fitted(train_test):
    """One fitted predictor per registered name, fitted once per session."""
    train, _ = train_test
    cache = {}

    def get(name: str):
        if name not in cache:
            cache[name] = fast_predictor(name).fit(train.X, train.y, train.groups)
        return cache[name]

    return get


@pytest.fixture(params=PREDICTORS.names())
def name(request) -> str:
    return request.param
