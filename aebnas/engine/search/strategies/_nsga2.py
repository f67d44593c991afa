"""NSGA-II on true evaluations (Deb et al. 2002), steady-state: the population is rebuilt from the stored
complete trials at every ask; parents win binary tournaments on non-dominated rank and crowding distance
(pymoo); offspring are a uniform crossover of the parents' exit lists followed by one of the space's
mutations. The same initial design as ``bo`` starts it."""

from __future__ import annotations

import numpy as np

from aebnas.engine.search.strategies._base import STRATEGIES, InitialDesignStrategy, ProposalBatch, ProposalContext
from aebnas.engine.search.strategies.operators import (exit_crossover, nearest_macs_budget, population_pairs,
                                                       rank_and_crowding)
from aebnas.engine.search.strategies.proposals import Proposal, feasible_macs_budgets, random_proposals
from aebnas.exceptions import AebnasError
from aebnas.search_space import Architecture, SearchSpace


def tournament(rank: np.ndarray, crowding: np.ndarray, rng: np.random.Generator) -> int:
    """Binary tournament: the lower rank wins, then the larger crowding distance, then a coin."""
    i, j = rng.choice(len(rank), 2, replace=len(rank) < 2)
    if rank[i] != rank[j]:
        return int(i if rank[i] < rank[j] else j)
    if crowding[i] != crowding[j]:
        return int(i if crowding[i] > crowding[j] else j)
    return int(i if rng.random() < 0.5 else j)


@STRATEGIES.register("nsga2")
class NSGA2(InitialDesignStrategy):
    """Steady-state NSGA-II on trained candidates.

    Individuals are (architecture, MACs budget) pairs, the same genome and objectives as ``bo``:
    maximise the validation accuracy at the MACs budget, minimise the MACs budget. A trained network's
    tuned trade-off curve gives its exact accuracy at every MACs budget, so each complete trial enters
    the population at every MACs budget of its feasible grid (``feasible_macs_budgets``: 15/35/55/75/95%
    of its range, plus the cap) at no training cost: NSGA-II sees the same measurements as ``bo``'s
    predictor, only without a model. The ``population_size`` fittest pairs by rank and crowding survive
    (default None: twice the initial design, at least four times the batch); parents are drawn from them
    by binary tournament.

    Offspring: with probability ``crossover_prob`` a uniform crossover of two parents' exit lists, then
    one mutation of the space (up to ``max_tries`` more while the child repeats a trial or an earlier
    child). Each child is proposed at the feasible MACs budget nearest its first parent's.
    """

    name = "nsga2"

    def __init__(self, crossover_prob: float = 0.5, population_size: int | None = None, max_tries: int = 50) -> None:
        if not 0 <= crossover_prob <= 1:
            raise AebnasError(f"nsga2: crossover_prob must be in [0, 1]; got {crossover_prob}")
        if population_size is not None and (isinstance(population_size, bool) or population_size < 2):
            raise AebnasError(f"nsga2: population_size must be an integer >= 2 or None; got {population_size!r}")
        if isinstance(max_tries, bool) or not isinstance(max_tries, int) or max_tries < 1:
            raise AebnasError(f"nsga2: max_tries must be an integer >= 1; got {max_tries!r}")
        self.crossover_prob = crossover_prob
        self.population_size = population_size
        self.max_tries = max_tries

    def propose_more(self, context: ProposalContext, n: int, exclude: frozenset[str],
                     initial: list[Proposal]) -> ProposalBatch:
        pairs = population_pairs(context.space, context.complete, context.ref_macs)
        size = self.population_size or max(2 * context.initial_design, 4 * (n + len(initial)))
        return ProposalBatch(tuple(self.offspring(context.space, pairs, n, set(exclude), context.ref_macs, size,
                                                  context.rng)))

    def offspring(self, space: SearchSpace, pairs: list[tuple[Architecture, float, float]], n: int, exclude: set[str],
                  max_macs: float, population_size: int, rng: np.random.Generator) -> list[Proposal]:
        """``n`` new children of the population ``pairs`` (architecture, MACs budget, accuracy); random
        samples fill in if the population is empty or mutation keeps repeating."""
        if not pairs:
            return random_proposals(space, n, rng, exclude, max_macs, self.name)
        F = np.array([[-accuracy, macs_budget / max_macs] for _, macs_budget, accuracy in pairs])
        index, rank, crowding = rank_and_crowding(F, population_size, rng)
        seen, children = set(exclude), []
        for _ in range(self.max_tries * n):
            if len(children) == n:
                break
            first = pairs[index[tournament(rank, crowding, rng)]]
            child = first[0]
            if rng.random() < self.crossover_prob:
                second = pairs[index[tournament(rank, crowding, rng)]]
                child = exit_crossover(space, first[0], second[0], rng) or child
            child = space.mutate(child, rng)
            for _ in range(self.max_tries):
                if child.id not in seen:
                    break
                child = space.mutate(child, rng)
            macs_budgets = feasible_macs_budgets(space.costs(child), max_macs)
            if child.id in seen or not macs_budgets:
                continue
            seen.add(child.id)
            children.append(Proposal(child, nearest_macs_budget(macs_budgets, first[1]), self.name))
        if len(children) < n:
            children += random_proposals(space, n - len(children), rng, seen, max_macs, self.name)
        return children
