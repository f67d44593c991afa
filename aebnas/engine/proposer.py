"""Proposals: random feasible samples, and qLogNEHVI Bayesian optimisation over a discrete pool
of (architecture, budget) pairs with predicted accuracy and exact MACs as the objectives."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from botorch.acquisition.multi_objective.logei import qLogNoisyExpectedHypervolumeImprovement
from botorch.acquisition.multi_objective.monte_carlo import qNoisyExpectedHypervolumeImprovement
from botorch.optim import optimize_acqf_discrete

from aebnas.engine.macs import PathCosts, path_costs
from aebnas.exceptions import AebnasError
from aebnas.predictors import Predictor
from aebnas.predictors.botorch_models import objective_model
from aebnas.predictors.features import budget_column, budget_features
from aebnas.search_space import Architecture, SearchSpace

ACQUISITIONS = {"qlognehvi": qLogNoisyExpectedHypervolumeImprovement, "qnehvi": qNoisyExpectedHypervolumeImprovement}
RELATIVE_BUDGETS = (0.15, 0.35, 0.55, 0.75, 0.95)


@dataclass(frozen=True)
class Proposal:
    """A proposed architecture, the average-MACs budget it is proposed for, and the predicted
    accuracy there (None for initial-design proposals)."""

    arch: Architecture
    budget: float
    predicted_mean: float | None = None
    predicted_std: float | None = None


def feasible_budgets(costs: PathCosts, max_macs: float | None, relative: Sequence[float] = RELATIVE_BUDGETS) -> list[float]:
    """Budgets spread over an architecture's feasible range [cheapest path, final path], capped at
    ``max_macs`` (which is added itself when inside the range). Empty when the cheapest path exceeds it."""
    low, high = min(costs.paths), costs.paths[-1]
    budgets = [low + r * (high - low) for r in relative]
    if max_macs is not None:
        budgets = [b for b in budgets if b <= max_macs]
        if low <= max_macs < high:
            budgets.append(float(max_macs))
    return budgets


def random_proposals(space: SearchSpace, n: int, rng: np.random.Generator, exclude: set[str],
                     max_macs: float | None) -> list[Proposal]:
    """Up to ``n`` uniformly sampled new architectures whose cheapest exit fits ``max_macs``, each at a
    random budget of its feasible range."""
    proposals = []
    for arch in space.sample_many(20 * n, rng, exclude):
        budgets = feasible_budgets(_costs(space, arch), max_macs)
        if budgets:
            proposals.append(Proposal(arch, float(budgets[int(rng.integers(len(budgets)))])))
            if len(proposals) == n:
                break
    return proposals


def _costs(space: SearchSpace, arch: Architecture) -> PathCosts:
    return path_costs(arch, space.input_shape, space.num_classes)


@dataclass
class BOProposer:
    """qLogNEHVI (or qNEHVI) over a discrete pool: a large random sample of the space plus mutations of
    the current front, each at a few budgets; accuracy from a fitted predictor, MACs exact.

    Args:
        space: the search space.
        predictor: a fitted predictor over ``budget_features`` rows.
        ref_accuracy, ref_macs: the hypervolume reference point (accuracy, average MACs).
        acquisition: ``qlognehvi`` (default) or ``qnehvi``.
        pool_size: random architectures in the pool (plus mutations of ``front``).
        min_accuracy: optional constraint on predicted accuracy (NACHOS-style).
        max_macs: budgets above it are never proposed (the target, or the backbone's own cost).
    """

    space: SearchSpace
    predictor: Predictor
    ref_accuracy: float
    ref_macs: float
    acquisition: str = "qlognehvi"
    pool_size: int = 500
    mutations_per_front: int = 10
    min_accuracy: float | None = None
    max_macs: float | None = None
    max_baseline: int = 64
    seed: int = 0

    def __post_init__(self) -> None:
        if self.acquisition not in ACQUISITIONS:
            raise AebnasError(f"unknown acquisition {self.acquisition!r}; allowed: {', '.join(ACQUISITIONS)}")

    def pool(self, front: Sequence[Architecture], exclude: set[str], rng: np.random.Generator) -> tuple[list[Architecture], list[float]]:
        """(architecture, budget) pairs of the candidate pool, deduplicated against ``exclude`` ids."""
        archs = self.space.sample_many(self.pool_size, rng, exclude)
        seen = exclude | {a.id for a in archs}
        for parent in front:
            for _ in range(self.mutations_per_front):
                child = self.space.mutate(parent, rng)
                if child.id not in seen:
                    seen.add(child.id)
                    archs.append(child)
        pairs = [(a, b) for a in archs for b in feasible_budgets(_costs(self.space, a), self.max_macs)]
        return [a for a, _ in pairs], [b for _, b in pairs]

    def propose(self, n: int, baseline_X: np.ndarray, front: Sequence[Architecture], exclude: set[str],
                pending: Sequence[Proposal] = ()) -> list[Proposal]:
        """``n`` proposals of distinct new architectures, chosen one at a time (earlier picks and
        ``pending`` proposals are pending points of the acquisition)."""
        rng = np.random.default_rng(self.seed)
        torch.manual_seed(self.seed)
        archs, budgets = self.pool(front, exclude, rng)
        if not archs:
            return []
        X_pool, names = budget_features(self.space, archs, None, budgets)
        torch.manual_seed(self.seed)  # the acquisition's Monte Carlo samples depend on the seed only
        choices = torch.as_tensor(X_pool, dtype=torch.float64)
        model = objective_model(self.predictor, budget_column(names))
        if len(baseline_X) > self.max_baseline:
            baseline_X = baseline_X[rng.choice(len(baseline_X), self.max_baseline, replace=False)]
        X_pending = [self._features(p) for p in pending]
        constraints = None
        if self.min_accuracy is not None:
            constraints = [lambda Z, m=self.min_accuracy: m - Z[..., 0]]
        acqf = ACQUISITIONS[self.acquisition](
            model=model, ref_point=[self.ref_accuracy, -self.ref_macs],
            X_baseline=torch.as_tensor(baseline_X, dtype=torch.float64), prune_baseline=True,
            constraints=constraints, cache_root=False,
        )
        available = torch.ones(len(archs), dtype=torch.bool)
        ids = np.array([a.id for a in archs])
        proposals = []
        for _ in range(n):
            if not available.any():
                break
            if X_pending:
                acqf.set_X_pending(torch.cat(X_pending))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                candidate, _ = optimize_acqf_discrete(acqf, q=1, choices=choices[available], unique=True)
            row = int(torch.nonzero(available)[(choices[available] == candidate).all(dim=1)][0])
            mean, std = self.predictor.predict(X_pool[row:row + 1])
            proposals.append(Proposal(archs[row], float(budgets[row]), float(mean[0]), float(std[0])))
            X_pending.append(choices[row:row + 1])
            available &= torch.as_tensor(ids != archs[row].id)
        return proposals

    def _features(self, proposal: Proposal) -> torch.Tensor:
        X, _ = budget_features(self.space, [proposal.arch], None, [proposal.budget])
        return torch.as_tensor(X, dtype=torch.float64)
