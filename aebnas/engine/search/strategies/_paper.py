"""The AEBNAS paper's method as a baseline: MLP surrogates fitted on the trained candidates, pymoo's NSGA-II
run on the surrogates over (architecture, MACs budget) pairs, the best new individuals proposed; every
trial's trade-off curve comes from the paper's threshold grid {0.1, 0.2, 1}^exits only."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from pymoo.algorithms.moo.nsga2 import NSGA2 as PymooNSGA2
from pymoo.core.crossover import Crossover
from pymoo.core.duplicate import DuplicateElimination
from pymoo.core.mutation import Mutation
from pymoo.core.problem import Problem
from pymoo.core.sampling import Sampling
from pymoo.optimize import minimize

from aebnas.engine.search.records import Prediction
from aebnas.engine.search.strategies._base import STRATEGIES, InitialDesignStrategy, ProposalBatch, ProposalContext
from aebnas.engine.search.strategies._nsga2 import (exit_crossover, nearest_macs_budget, population_pairs,
                                                    rank_and_crowding)
from aebnas.engine.search.strategies.proposals import Proposal, feasible_macs_budgets, random_proposals
from aebnas.exceptions import AebnasError
from aebnas.predictors import PREDICTORS, Predictor, macs_budget_features
from aebnas.search_space import Architecture, SearchSpace


@dataclass(frozen=True)
class _Individual:
    """One (architecture, budget) individual of the surrogate NSGA-II."""

    arch: Architecture
    macs_budget: float

    @functools.cached_property
    def key(self) -> tuple[str, float]:
        return self.arch.id, self.macs_budget


class _SurrogateProblem(Problem):
    """Objectives of `n x 1` object arrays of individuals: (-predicted accuracy, budget / max MACs)."""

    def __init__(self, space: SearchSpace, predictor: Predictor, max_macs: float) -> None:
        super().__init__(n_var=1, n_obj=2, vtype=object)
        self.space, self.predictor, self.max_macs = space, predictor, max_macs

    def predict(self, individuals: Sequence[_Individual]) -> tuple[np.ndarray, np.ndarray]:
        X, _ = macs_budget_features(self.space, [i.arch for i in individuals], None, [i.macs_budget for i in individuals])
        return self.predictor.predict(X)

    def _evaluate(self, X, out, *args, **kwargs):
        individuals = list(X[:, 0])
        mean, _ = self.predict(individuals)
        out["F"] = np.column_stack([-mean, [i.macs_budget / self.max_macs for i in individuals]])


def _macs_budgets(space: SearchSpace, arch: Architecture, max_macs: float) -> list[float]:
    return feasible_macs_budgets(space.costs(arch), max_macs)


def _column(individuals: Sequence[_Individual]) -> np.ndarray:
    X = np.empty((len(individuals), 1), dtype=object)
    for i, individual in enumerate(individuals):
        X[i, 0] = individual
    return X


class _SeededSampling(Sampling):
    """The initial population: ``seeds`` first, then random architectures at random feasible budgets."""

    def __init__(self, space: SearchSpace, max_macs: float, seeds: Sequence[_Individual]) -> None:
        super().__init__()
        self.space, self.max_macs, self.seeds = space, max_macs, list(seeds)

    def _do(self, problem, n_samples, *args, random_state=None, **kwargs):
        individuals = self.seeds[:n_samples]
        for p in random_proposals(self.space, n_samples - len(individuals), random_state, set(), self.max_macs):
            individuals.append(_Individual(p.arch, p.macs_budget))
        return _column(individuals)


class _ExitCrossover(Crossover):
    """One child per pair of parents: a uniform crossover of their exit lists (the first parent if it
    fails), at the feasible budget nearest the first parent's."""

    def __init__(self, space: SearchSpace, max_macs: float, prob: float = 0.9) -> None:
        super().__init__(2, 1, prob=prob, vtype=object)
        self.space, self.max_macs = space, max_macs

    def _do(self, problem, X, *args, random_state=None, **kwargs):
        out = np.empty((1, X.shape[1], 1), dtype=object)
        for k in range(X.shape[1]):
            a, b = X[0, k, 0], X[1, k, 0]
            child = exit_crossover(self.space, a.arch, b.arch, random_state)
            macs_budgets = _macs_budgets(self.space, child, self.max_macs) if child is not None else []
            out[0, k, 0] = _Individual(child, nearest_macs_budget(macs_budgets, a.macs_budget)) if macs_budgets else a
        return out


class _ArchMutation(Mutation):
    """Half the time one mutation of the space (the budget moved to the nearest feasible one), else
    another feasible budget of the same architecture."""

    def __init__(self, space: SearchSpace, max_macs: float) -> None:
        super().__init__(prob=1.0, vtype=object)
        self.space, self.max_macs = space, max_macs

    def _do(self, problem, X, *args, random_state=None, **kwargs):
        rng = random_state
        Y = X.copy()
        for i, individual in enumerate(X[:, 0]):
            macs_budgets = _macs_budgets(self.space, individual.arch, self.max_macs)
            if rng.random() < 0.5 or len(macs_budgets) < 2:
                child = self.space.mutate(individual.arch, rng)
                child_budgets = _macs_budgets(self.space, child, self.max_macs)
                if child_budgets:
                    Y[i, 0] = _Individual(child, nearest_macs_budget(child_budgets, individual.macs_budget))
            else:
                others = [b for b in macs_budgets if b != individual.macs_budget]
                Y[i, 0] = _Individual(individual.arch, float(others[int(rng.integers(len(others)))]))
        return Y


class _SameIndividual(DuplicateElimination):
    """Duplicates: the same architecture at the same budget (a set of keys, linear time)."""

    def _do(self, pop, other, is_duplicate):
        seen = {ind.X[0].key for ind in other} if other is not None else set()
        for i, ind in enumerate(pop):
            key = ind.X[0].key
            is_duplicate[i] = key in seen
            seen.add(key)
        return is_duplicate


@STRATEGIES.register("paper")
class PaperMethod(InitialDesignStrategy):
    """The AEBNAS paper's search as a baseline.

    After the initial design (the same as ``bo``'s), each ask fits the MLP predictor (``mlp``, a small
    deep ensemble; its mean is the surrogate) on every complete trial's curve rows, then runs pymoo's
    NSGA-II for ``generations`` generations of ``population_size`` (architecture, MACs budget)
    individuals on the surrogate: minimise (-predicted accuracy, MACs budget). The initial population holds the fittest
    trained pairs (true accuracy, by rank and crowding; half the population at most) and random samples;
    offspring by exit-list crossover and the space's mutation. The final population's untried
    architectures are proposed by rank, then crowding distance.

    ``curve_method = "grid"``: the search builds every trial's curve, and tunes confirmed candidates,
    with the paper grid {0.1, 0.2, 1}^exits only (:func:`aebnas.engine.evaluation.thresholds.grid_curve`).

    Args:
        population_size, generations: of the NSGA-II run on the surrogate at each ask.
        predictor: the registered predictor kind of the surrogate (the paper's: ``mlp``).
    """

    name = "paper"
    curve_method = "grid"

    def __init__(self, population_size: int = 64, generations: int = 40, predictor: str = "mlp") -> None:
        for setting, value, low in (("population_size", population_size, 4), ("generations", generations, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise AebnasError(f"paper: {setting} must be an integer >= {low}; got {value!r}")
        PREDICTORS.get(predictor)
        self.population_size = population_size
        self.generations = generations
        self.predictor = predictor

    def propose_more(self, context: ProposalContext, n: int, exclude: frozenset[str],
                     initial: list[Proposal]) -> ProposalBatch:
        predictor, _ = context.fit_predictor(kind=self.predictor)
        proposals = self.surrogate_search(context.space, predictor, context.complete, n, set(exclude),
                                          context.ref_macs, context.proposal_seed)
        return ProposalBatch(tuple(proposals), predictor)

    def surrogate_search(self, space: SearchSpace, predictor: Predictor, complete, n: int, exclude: set[str],
                         max_macs: float, seed: int) -> list[Proposal]:
        """``n`` new architectures from the final population of NSGA-II on the surrogate."""
        rng = np.random.default_rng(seed)
        pairs = population_pairs(space, complete, max_macs)
        seeds = []
        if pairs:
            F = np.array([[-accuracy, macs_budget / max_macs] for _, macs_budget, accuracy in pairs])
            index, _, _ = rank_and_crowding(F, self.population_size // 2, rng)
            seeds = [_Individual(pairs[i][0], pairs[i][1]) for i in index]
        problem = _SurrogateProblem(space, predictor, max_macs)
        algorithm = PymooNSGA2(
            pop_size=self.population_size, sampling=_SeededSampling(space, max_macs, seeds),
            crossover=_ExitCrossover(space, max_macs), mutation=_ArchMutation(space, max_macs),
            eliminate_duplicates=_SameIndividual(),
        )
        result = minimize(problem, algorithm, ("n_gen", self.generations), seed=seed, verbose=False)
        population = result.pop
        order = sorted(range(len(population)),
                       key=lambda i: (population[i].get("rank"), -population[i].get("crowding"), i))
        chosen, taken = [], set(exclude)
        for i in order:
            individual = population[i].X[0]
            if individual.arch.id not in taken:
                taken.add(individual.arch.id)
                chosen.append(individual)
                if len(chosen) == n:
                    break
        proposals = []
        if chosen:
            mean, std = problem.predict(chosen)
            proposals = [Proposal(c.arch, c.macs_budget, self.name, Prediction(float(m), float(s)))
                         for c, m, s in zip(chosen, mean, std)]
        if len(proposals) < n:
            proposals += random_proposals(space, n - len(proposals), rng, taken, max_macs, self.name)
        return proposals
