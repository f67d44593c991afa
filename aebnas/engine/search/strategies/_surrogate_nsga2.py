"""NSGA-II run on a fitted predictor instead of trained networks: pymoo's NSGA-II over (architecture,
MACs budget) individuals, minimising (-predicted accuracy, MACs budget). The paper's search proposes from
its final population; ``bo`` can add that population to its acquisition pool."""

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

from aebnas.engine.search.records import Prediction, Trial
from aebnas.engine.search.strategies.operators import (exit_crossover, nearest_macs_budget, population_pairs,
                                                       rank_and_crowding)
from aebnas.engine.search.strategies.proposals import Proposal, feasible_macs_budgets, random_proposals
from aebnas.predictors import Predictor, macs_budget_features
from aebnas.search_space import Architecture, SearchSpace

POPULATION_SIZE, GENERATIONS = 64, 40  # the paper's search's defaults


@dataclass(frozen=True)
class Individual:
    """One (architecture, MACs budget) individual of the surrogate NSGA-II."""

    arch: Architecture
    macs_budget: float

    @functools.cached_property
    def key(self) -> tuple[str, float]:
        return self.arch.id, self.macs_budget


def predict(space: SearchSpace, predictor: Predictor,
            individuals: Sequence[Individual]) -> tuple[np.ndarray, np.ndarray]:
    """The predictor's `n` means and standard deviations of the individuals' accuracy."""
    X, _ = macs_budget_features(space, [i.arch for i in individuals], None, [i.macs_budget for i in individuals])
    return predictor.predict(X)


def surrogate_front(space: SearchSpace, predictor: Predictor, complete: Sequence[Trial], max_macs: float,
                    seed: int, population_size: int, generations: int) -> list[Individual]:
    """The final population of ``generations`` generations of NSGA-II on ``predictor``'s mean, by rank then
    crowding distance (best first). The initial population holds the fittest trained (architecture, MACs
    budget) pairs of ``complete`` (true accuracy; half the population at most), then random samples;
    offspring by exit-list crossover and the space's mutation; no MACs budget above ``max_macs``."""
    rng = np.random.default_rng(seed)
    pairs = population_pairs(space, complete, max_macs)
    seeds = []
    if pairs:
        F = np.array([[-accuracy, macs_budget / max_macs] for _, macs_budget, accuracy in pairs])
        index, _, _ = rank_and_crowding(F, population_size // 2, rng)
        seeds = [Individual(pairs[i][0], pairs[i][1]) for i in index]
    algorithm = PymooNSGA2(
        pop_size=population_size, sampling=_SeededSampling(space, max_macs, seeds),
        crossover=_ExitCrossover(space, max_macs), mutation=_ArchMutation(space, max_macs),
        eliminate_duplicates=_SameIndividual(),
    )
    result = minimize(_SurrogateProblem(space, predictor, max_macs), algorithm, ("n_gen", generations), seed=seed,
                      verbose=False)
    population = result.pop
    order = sorted(range(len(population)),
                   key=lambda i: (population[i].get("rank"), -population[i].get("crowding"), i))
    return [population[i].X[0] for i in order]


def surrogate_proposals(space: SearchSpace, predictor: Predictor, complete: Sequence[Trial], n: int,
                        exclude: set[str], max_macs: float, seed: int, population_size: int, generations: int,
                        source: str) -> list[Proposal]:
    """``n`` new architectures (ids not in ``exclude``) from :func:`surrogate_front`'s final population,
    best first, each at its individual's MACs budget; random samples fill in if it holds too few."""
    population = surrogate_front(space, predictor, complete, max_macs, seed, population_size, generations)
    chosen, taken = [], set(exclude)
    for individual in population:
        if individual.arch.id not in taken:
            taken.add(individual.arch.id)
            chosen.append(individual)
            if len(chosen) == n:
                break
    proposals = []
    if chosen:
        mean, std = predict(space, predictor, chosen)
        proposals = [Proposal(c.arch, c.macs_budget, source, Prediction(float(m), float(s)))
                     for c, m, s in zip(chosen, mean, std)]
    if len(proposals) < n:
        proposals += random_proposals(space, n - len(proposals), np.random.default_rng(seed), taken, max_macs, source)
    return proposals


class _SurrogateProblem(Problem):
    """Objectives of `n x 1` object arrays of individuals: (-predicted accuracy, budget / max MACs)."""

    def __init__(self, space: SearchSpace, predictor: Predictor, max_macs: float) -> None:
        super().__init__(n_var=1, n_obj=2, vtype=object)
        self.space, self.predictor, self.max_macs = space, predictor, max_macs

    def _evaluate(self, X, out, *args, **kwargs):
        individuals = list(X[:, 0])
        mean, _ = predict(self.space, self.predictor, individuals)
        out["F"] = np.column_stack([-mean, [i.macs_budget / self.max_macs for i in individuals]])


def _macs_budgets(space: SearchSpace, arch: Architecture, max_macs: float) -> list[float]:
    return feasible_macs_budgets(space.costs(arch), max_macs)


def _column(individuals: Sequence[Individual]) -> np.ndarray:
    X = np.empty((len(individuals), 1), dtype=object)
    for i, individual in enumerate(individuals):
        X[i, 0] = individual
    return X


class _SeededSampling(Sampling):
    """The initial population: ``seeds`` first, then random architectures at random feasible budgets."""

    def __init__(self, space: SearchSpace, max_macs: float, seeds: Sequence[Individual]) -> None:
        super().__init__()
        self.space, self.max_macs, self.seeds = space, max_macs, list(seeds)

    def _do(self, problem, n_samples, *args, random_state=None, **kwargs):
        individuals = self.seeds[:n_samples]
        for p in random_proposals(self.space, n_samples - len(individuals), random_state, set(), self.max_macs):
            individuals.append(Individual(p.arch, p.macs_budget))
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
            out[0, k, 0] = Individual(child, nearest_macs_budget(macs_budgets, a.macs_budget)) if macs_budgets else a
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
                    Y[i, 0] = Individual(child, nearest_macs_budget(child_budgets, individual.macs_budget))
            else:
                others = [b for b in macs_budgets if b != individual.macs_budget]
                Y[i, 0] = Individual(individual.arch, float(others[int(rng.integers(len(others)))]))
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
