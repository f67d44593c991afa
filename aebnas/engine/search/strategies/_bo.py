"""The default strategy: a random initial design, then qLogNEHVI (or qNEHVI) proposals over a discrete
pool of (architecture, MACs budget) pairs, with accuracy from the run's predictor and exact MACs."""

from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np
import torch
from botorch.acquisition.multi_objective.logei import qLogNoisyExpectedHypervolumeImprovement
from botorch.acquisition.multi_objective.monte_carlo import qNoisyExpectedHypervolumeImprovement
from botorch.optim import optimize_acqf_discrete

from aebnas.engine.search.records import Prediction
from aebnas.engine.search.strategies._base import STRATEGIES, InitialDesignStrategy, ProposalBatch, ProposalContext
from aebnas.engine.search.strategies.proposals import Proposal, feasible_macs_budgets
from aebnas.exceptions import AebnasError
from aebnas.predictors import Predictor, macs_budget_column, macs_budget_features, objective_model
from aebnas.registry import Registry
from aebnas.search_space import Architecture, SearchSpace

ACQUISITIONS: Registry[type] = Registry("acquisition")
"""BoTorch multi-objective acquisition classes by name."""
ACQUISITIONS.register("qlognehvi")(qLogNoisyExpectedHypervolumeImprovement)
ACQUISITIONS.register("qnehvi")(qNoisyExpectedHypervolumeImprovement)


@STRATEGIES.register("bo")
class BayesianOptimisation(InitialDesignStrategy):
    """qLogNEHVI (or qNEHVI) over a discrete pool: a large random sample of the space plus mutations of
    the current front, each at a few MACs budgets; accuracy from the run's fitted predictor, MACs exact.
    Proposals are chosen one at a time, earlier picks and trials still training being pending points.

    Args:
        acquisition: ``qlognehvi`` (default) or ``qnehvi``.
        pool_size: random architectures in the pool (plus mutations of the front).
        min_accuracy: optional constraint on predicted accuracy, in [0, 1) (NACHOS-style).
        mutations_per_front: mutations of each front architecture added to the pool.
        max_baseline: most observed rows the acquisition's baseline keeps (a random subset beyond).
    """

    name = "bo"

    def __init__(self, acquisition: str = "qlognehvi", pool_size: int = 500, min_accuracy: float | None = None,
                 mutations_per_front: int = 10, max_baseline: int = 64) -> None:
        ACQUISITIONS.get(acquisition)
        for setting, value, low in (("pool_size", pool_size, 1), ("mutations_per_front", mutations_per_front, 0),
                                    ("max_baseline", max_baseline, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise AebnasError(f"bo: {setting} must be an integer >= {low}; got {value!r}")
        if min_accuracy is not None and not 0 <= min_accuracy < 1:
            raise AebnasError(f"bo: min_accuracy must be in [0, 1); got {min_accuracy}")
        self.acquisition = acquisition
        self.pool_size = pool_size
        self.min_accuracy = min_accuracy
        self.mutations_per_front = mutations_per_front
        self.max_baseline = max_baseline

    def propose_more(self, context: ProposalContext, n: int, exclude: frozenset[str],
                     initial: list[Proposal]) -> ProposalBatch:
        pending = [Proposal(t.arch, t.macs_budget) for t in context.pending] + initial
        predictor, X = context.fit_predictor()
        front = [t.arch for t in context.complete if t.number in context.front_trials]
        proposals = self.select(context.space, predictor, n, X, front, set(exclude), pending, context.ref_accuracy,
                                context.ref_macs, context.proposal_seed)
        return ProposalBatch(tuple(proposals), predictor)

    def pool(self, space: SearchSpace, front: Sequence[Architecture], exclude: set[str], rng: np.random.Generator,
             max_macs: float | None) -> tuple[list[Architecture], list[float]]:
        """(architecture, MACs budget) pairs of the candidate pool, deduplicated against ``exclude`` ids."""
        archs = space.sample_many(self.pool_size, rng, exclude)
        seen = exclude | {a.id for a in archs}
        for parent in front:
            for _ in range(self.mutations_per_front):
                child = space.mutate(parent, rng)
                if child.id not in seen:
                    seen.add(child.id)
                    archs.append(child)
        pairs = [(a, b) for a in archs for b in feasible_macs_budgets(space.costs(a), max_macs)]
        return [a for a, _ in pairs], [b for _, b in pairs]

    def select(self, space: SearchSpace, predictor: Predictor, n: int, baseline_X: np.ndarray,
               front: Sequence[Architecture], exclude: set[str], pending: Sequence[Proposal], ref_accuracy: float,
               ref_macs: float, seed: int) -> list[Proposal]:
        """``n`` proposals of distinct new architectures from the pool, by the acquisition on ``predictor``
        (fitted on the `m x d` ``baseline_X`` rows) with reference point (``ref_accuracy``, ``ref_macs``);
        MACs budgets never above ``ref_macs``."""
        rng = np.random.default_rng(seed)
        torch.manual_seed(seed)
        archs, macs_budgets = self.pool(space, front, exclude, rng, ref_macs)
        if not archs:
            return []
        X_pool, names = macs_budget_features(space, archs, None, macs_budgets)
        torch.manual_seed(seed)  # the acquisition's Monte Carlo samples depend on the seed only
        choices = torch.as_tensor(X_pool, dtype=torch.float64)
        model = objective_model(predictor, macs_budget_column(names))
        if len(baseline_X) > self.max_baseline:
            baseline_X = baseline_X[rng.choice(len(baseline_X), self.max_baseline, replace=False)]
        X_pending = [self._features(space, p) for p in pending]
        constraints = None
        if self.min_accuracy is not None:
            constraints = [lambda Z, m=self.min_accuracy: m - Z[..., 0]]
        acqf = ACQUISITIONS.get(self.acquisition)(
            model=model, ref_point=[ref_accuracy, -ref_macs],
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
            mean, std = predictor.predict(X_pool[row:row + 1])
            proposals.append(Proposal(archs[row], float(macs_budgets[row]), self.name,
                                      Prediction(float(mean[0]), float(std[0]))))
            X_pending.append(choices[row:row + 1])
            available &= torch.as_tensor(ids != archs[row].id)
        return proposals

    @staticmethod
    def _features(space: SearchSpace, proposal: Proposal) -> torch.Tensor:
        X, _ = macs_budget_features(space, [proposal.arch], None, [proposal.macs_budget])
        return torch.as_tensor(X, dtype=torch.float64)
