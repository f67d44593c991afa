"""The default strategy: a random initial design, then qLogNEHVI (or qNEHVI) proposals over a discrete
pool of (architecture, MACs budget) pairs, with accuracy from the run's predictor and exact MACs."""

from __future__ import annotations

import itertools
import math
import warnings
from typing import Sequence

import numpy as np
import torch
from botorch.acquisition.multi_objective.logei import qLogNoisyExpectedHypervolumeImprovement
from botorch.acquisition.multi_objective.monte_carlo import qNoisyExpectedHypervolumeImprovement
from botorch.optim import optimize_acqf_discrete
from botorch.utils.multi_objective.pareto import is_non_dominated

from aebnas.engine.search.records import Prediction
from aebnas.engine.search.strategies._base import STRATEGIES, InitialDesignStrategy, ProposalBatch, ProposalContext
from aebnas.engine.search.strategies._surrogate_nsga2 import (GENERATIONS, POPULATION_SIZE, surrogate_front,
                                                              surrogate_proposals)
from aebnas.engine.search.strategies.proposals import Proposal, feasible_macs_budgets
from aebnas.exceptions import AebnasError
from aebnas.predictors import Predictor, macs_budget_column, macs_budget_features, objective_model
from aebnas.registry import Registry
from aebnas.search_space import Architecture, SearchSpace

PAPER_SOURCE = "paper"  # the source of the paper's search's proposals in a bo run (as in a paper run)
LAZY_CHUNK = 32  # architectures per joint evaluation of the whole-curve acquisition
ACQUISITIONS: Registry[type] = Registry("acquisition")
"""BoTorch multi-objective acquisition classes by name."""
ACQUISITIONS.register("qlognehvi")(qLogNoisyExpectedHypervolumeImprovement)
ACQUISITIONS.register("qnehvi")(qNoisyExpectedHypervolumeImprovement)


@STRATEGIES.register("bo")
class BayesianOptimisation(InitialDesignStrategy):
    """qLogNEHVI (or qNEHVI) over a discrete pool: a large random sample of the space plus mutations of
    the current front (and optionally the final population of NSGA-II on the predictor's mean), each at
    a few MACs budgets; accuracy from the run's fitted predictor, MACs exact.
    Proposals are chosen one at a time, earlier picks and trials still training being pending points.

    Args:
        acquisition: ``qlognehvi`` (default) or ``qnehvi``.
        pool_size: random architectures in the pool (plus mutations of the front).
        min_accuracy: optional constraint on predicted accuracy, in [0, 1) (NACHOS-style).
        mutations_per_front: mutations of each front architecture added to the pool.
        max_baseline: most observed rows the acquisition's baseline keeps: beyond it, the rows of the
            best non-dominated layers by predicted accuracy and MACs budget (the current front first).
        whole_curve: score each architecture by the joint hypervolume improvement of its whole
            trade-off curve (its feasible MACs budgets as one q-batch: training it adds every point of
            its curve to the front; the default, measured best in docs/benchmarks.md), or (False) by
            one (architecture, MACs budget) point at a time.
        pool_generations: generations of NSGA-II on the predictor's mean (the paper's search,
            :func:`surrogate_front`, seeded with the trained front) whose final population of
            ``POPULATION_SIZE`` individuals joins the pool; 0 (default): none.
        paper_share: the share of the proposals after the initial design made by the paper's search
            (NSGA-II on the ``mlp`` predictor's mean, :func:`surrogate_proposals`; labelled ``paper``),
            the rest by the acquisition with them pending: a portfolio of the two searches (measured, not
            adopted: docs/benchmarks.md). 0 (default): none.
    """

    name = "bo"

    def __init__(self, acquisition: str = "qlognehvi", pool_size: int = 500, min_accuracy: float | None = None,
                 mutations_per_front: int = 10, max_baseline: int = 64, whole_curve: bool = True,
                 pool_generations: int = 0, paper_share: float = 0.0) -> None:
        ACQUISITIONS.get(acquisition)
        for setting, value, low in (("pool_size", pool_size, 1), ("mutations_per_front", mutations_per_front, 0),
                                    ("max_baseline", max_baseline, 1),
                                    ("pool_generations", pool_generations, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise AebnasError(f"bo: {setting} must be an integer >= {low}; got {value!r}")
        if isinstance(paper_share, bool) or not isinstance(paper_share, (int, float)) or not 0 <= paper_share <= 1:
            raise AebnasError(f"bo: paper_share must be a number in [0, 1]; got {paper_share!r}")
        if min_accuracy is not None and not 0 <= min_accuracy < 1:
            raise AebnasError(f"bo: min_accuracy must be in [0, 1); got {min_accuracy}")
        self.acquisition = acquisition
        self.pool_size = pool_size
        self.min_accuracy = min_accuracy
        self.mutations_per_front = mutations_per_front
        self.max_baseline = max_baseline
        self.whole_curve = bool(whole_curve)
        self.pool_generations = pool_generations
        self.paper_share = paper_share

    def propose_more(self, context: ProposalContext, n: int, exclude: frozenset[str],
                     initial: list[Proposal]) -> ProposalBatch:
        paper, n_paper = [], self._paper_count(context, n)
        if n_paper:
            surrogate, _ = context.fit_predictor(kind="mlp")
            paper = surrogate_proposals(context.space, surrogate, context.complete, n_paper,
                                        set(exclude), context.ref_macs, context.proposal_seed, POPULATION_SIZE,
                                        GENERATIONS, PAPER_SOURCE)
            n, exclude = n - len(paper), exclude | {p.arch.id for p in paper}
        pending = [Proposal(t.arch, t.macs_budget) for t in context.pending] + initial + paper
        predictor, X = context.fit_predictor()
        front = [t.arch for t in context.complete if t.number in context.front_trials]
        evolved = []
        if self.pool_generations and n:
            evolved = [i.arch for i in surrogate_front(context.space, predictor, context.complete, context.ref_macs,
                                                       context.proposal_seed, POPULATION_SIZE,
                                                       self.pool_generations)]
        proposals = self.select(context.space, predictor, n, X, front, set(exclude), pending, context.ref_accuracy,
                                context.ref_macs, context.proposal_seed, evolved) if n else []
        return ProposalBatch(tuple(paper + proposals), predictor)

    def _paper_count(self, context: ProposalContext, n: int) -> int:
        """How many of the next ``n`` proposals the paper's search makes: enough that its share of every
        proposal after the initial design is ``paper_share`` (rounded half up), whatever the ask size, so
        that one-at-a-time asks (batches of 1, asynchronous workers) alternate the two searches."""
        made = [t.source for t in (*context.complete, *context.pending) if t.source in (self.name, PAPER_SOURCE)]
        return min(n, max(0, math.floor(self.paper_share * (len(made) + n) + 0.5) - made.count(PAPER_SOURCE)))

    def pool(self, space: SearchSpace, front: Sequence[Architecture], exclude: set[str], rng: np.random.Generator,
             max_macs: float | None, evolved: Sequence[Architecture] = ()) -> tuple[list[Architecture], list[float]]:
        """(architecture, MACs budget) pairs of the candidate pool (random samples, mutations of ``front``,
        then ``evolved``), deduplicated against ``exclude`` ids."""
        archs = space.sample_many(self.pool_size, rng, exclude)
        seen = exclude | {a.id for a in archs}
        mutations = (space.mutate(parent, rng) for parent in front for _ in range(self.mutations_per_front))
        for arch in itertools.chain(mutations, evolved):
            if arch.id not in seen:
                seen.add(arch.id)
                archs.append(arch)
        pairs = [(a, b) for a in archs for b in feasible_macs_budgets(space.costs(a), max_macs)]
        return [a for a, _ in pairs], [b for _, b in pairs]

    def select(self, space: SearchSpace, predictor: Predictor, n: int, baseline_X: np.ndarray,
               front: Sequence[Architecture], exclude: set[str], pending: Sequence[Proposal], ref_accuracy: float,
               ref_macs: float, seed: int, evolved: Sequence[Architecture] = ()) -> list[Proposal]:
        """``n`` proposals of distinct new architectures from the pool (:meth:`pool`), by the acquisition on
        ``predictor`` (fitted on the `m x d` ``baseline_X`` rows) with reference point (``ref_accuracy``,
        ``ref_macs``); MACs budgets never above ``ref_macs``."""
        rng = np.random.default_rng(seed)
        torch.manual_seed(seed)
        archs, macs_budgets = self.pool(space, front, exclude, rng, ref_macs, evolved)
        if not archs:
            return []
        X_pool, names = macs_budget_features(space, archs, None, macs_budgets)
        torch.manual_seed(seed)  # the acquisition's Monte Carlo samples depend on the seed only
        baseline_X = self._baseline(predictor, baseline_X, macs_budget_column(names))
        constraints = None
        if self.min_accuracy is not None:
            constraints = [lambda Z, m=self.min_accuracy: m - Z[..., 0]]
        acqf = ACQUISITIONS.get(self.acquisition)(
            model=objective_model(predictor, macs_budget_column(names)), ref_point=[ref_accuracy, -ref_macs],
            X_baseline=torch.as_tensor(baseline_X, dtype=torch.float64), prune_baseline=True,
            constraints=constraints, cache_root=False,
        )
        choose = self._choose_curves if self.whole_curve else self._choose_points
        rows = choose(acqf, torch.as_tensor(X_pool, dtype=torch.float64), [a.id for a in archs], n,
                      [self._features(space, p, ref_macs) for p in pending])
        proposals = []
        for row in rows:
            mean, std = predictor.predict(X_pool[row:row + 1])
            proposals.append(Proposal(archs[row], float(macs_budgets[row]), self.name,
                                      Prediction(float(mean[0]), float(std[0]))))
        return proposals

    def _baseline(self, predictor: Predictor, X: np.ndarray, macs_column: int) -> np.ndarray:
        """At most ``max_baseline`` of the `m x d` observed rows: whole non-dominated layers of (predicted
        accuracy, -MACs budget) from the front down, so that the acquisition's baseline holds the front
        it must improve on (a random subset would drop front points and see gains that are not there)."""
        if len(X) <= self.max_baseline:
            return X
        mean, _ = predictor.predict(X)
        Y = torch.as_tensor(np.c_[mean, -X[:, macs_column]])
        remaining, keep = torch.arange(len(X)), []
        while len(keep) < self.max_baseline:
            layer = is_non_dominated(Y[remaining])
            keep += remaining[layer].tolist()
            remaining = remaining[~layer]
        return X[keep[: self.max_baseline]]

    def _choose_points(self, acqf, choices: torch.Tensor, ids: list[str], n: int,
                       X_pending: list[torch.Tensor]) -> list[int]:
        """Rows of the `N x d` pool ``choices``, one at a time by the acquisition of the single point;
        each pick's row becomes pending and its architecture leaves the pool."""
        available = torch.ones(len(ids), dtype=torch.bool)
        ids_array, rows = np.array(ids), []
        for _ in range(n):
            if not available.any():
                break
            if X_pending:
                acqf.set_X_pending(torch.cat(X_pending))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                candidate, _ = optimize_acqf_discrete(acqf, q=1, choices=choices[available], unique=True)
            row = int(torch.nonzero(available)[(choices[available] == candidate).all(dim=1)][0])
            rows.append(row)
            X_pending.append(choices[row:row + 1])
            available &= torch.as_tensor(ids_array != ids[row])
        return rows

    def _choose_curves(self, acqf, choices: torch.Tensor, ids: list[str], n: int,
                       X_pending: list[torch.Tensor]) -> list[int]:
        """Rows of the `N x d` pool ``choices`` (each architecture's feasible MACs budgets), one
        architecture at a time by the joint acquisition of all its rows (a q-batch); each pick's rows
        become pending, and its row is the one whose single point scored best before the first pick.

        Lazy greedy: a curve's hypervolume improvement is at most the sum of its points' own, so joint
        values are computed in the order of that bound, chunk by chunk, until no remaining bound can
        beat the best joint value found."""
        groups: dict[str, list[int]] = {}
        for row, arch_id in enumerate(ids):
            groups.setdefault(arch_id, []).append(row)
        members = list(groups.values())
        owner = torch.empty(len(ids), dtype=torch.long)  # row -> its architecture's index in members
        for a, rows in enumerate(members):
            owner[rows] = a
        width = max(len(m) for m in members)
        # `A x q x d`: an architecture's rows, the last repeated to a common q (a repeat adds no volume)
        curves = torch.stack([choices[m + [m[-1]] * (width - len(m))] for m in members])
        if X_pending:
            acqf.set_X_pending(torch.cat(X_pending))
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            single = torch.cat([acqf(c) for c in choices.unsqueeze(1).split(2048)]).exp()  # `N`
        # computed once: later picks only add pending points, which can only lower each gain
        bound = torch.zeros(len(members), dtype=single.dtype).index_add_(0, owner, single)
        available, rows = torch.ones(len(members), dtype=torch.bool), []
        for _ in range(min(n, len(members))):
            if rows:  # the picks so far are pending for the next
                acqf.set_X_pending(torch.cat(X_pending))
            bound[~available] = -math.inf
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                order = torch.argsort(bound, descending=True)[: int(available.sum())]
                best, best_value = -1, -math.inf
                for chunk in order.split(LAZY_CHUNK):
                    if bound[chunk[0]] <= best_value:
                        break
                    values = acqf(curves[chunk]).exp()
                    if values.max() > best_value:
                        best, best_value = int(chunk[int(values.argmax())]), float(values.max())
            pick = members[best]
            rows.append(pick[int(single[pick].argmax())])
            X_pending.append(choices[pick])
            available[best] = False
        return rows

    def _features(self, space: SearchSpace, proposal: Proposal, max_macs: float) -> torch.Tensor:
        """A pending proposal's rows: its MACs budget, or every feasible one with ``whole_curve``."""
        budgets = [proposal.macs_budget]
        if self.whole_curve:
            budgets = feasible_macs_budgets(space.costs(proposal.arch), max_macs) or budgets
        X, _ = macs_budget_features(space, [proposal.arch] * len(budgets), None, budgets)
        return torch.as_tensor(X, dtype=torch.float64)
