"""Parts shared by the evolutionary strategies (``nsga2`` on trained networks, NSGA-II on a predictor in
``paper`` and ``bo``'s pool): the exit-list crossover, the nearest feasible MACs budget, NSGA-II survival,
and the (architecture, MACs budget, accuracy) pairs the trained networks contribute."""

from __future__ import annotations

from typing import Sequence

import numpy as np
from pymoo.core.population import Population
from pymoo.core.problem import Problem
from pymoo.operators.survival.rank_and_crowding import RankAndCrowding

from aebnas.engine.search.records import Trial
from aebnas.engine.search.strategies.proposals import feasible_macs_budgets
from aebnas.search_space import Architecture, SearchSpace


def exit_crossover(space: SearchSpace, a: Architecture, b: Architecture, rng: np.random.Generator) -> Architecture | None:
    """Uniform crossover of two exit lists: each backbone position either parent has an exit at keeps
    one (from a parent that has it) with probability 1/2; None if the child is empty or invalid."""
    by_position: dict[int, list] = {}
    for exit_spec in a.exits + b.exits:
        by_position.setdefault(exit_spec.position, []).append(exit_spec)
    exits = [options[int(rng.integers(len(options)))] for _, options in sorted(by_position.items())
             if rng.random() < 0.5]
    if len(exits) > space.max_exits:
        exits = [exits[i] for i in sorted(rng.choice(len(exits), space.max_exits, replace=False))]
    if not exits:
        return None
    child = Architecture(space.backbone, tuple(exits), space.backbone_options)
    return child if space.is_valid(child) else None


def nearest_macs_budget(macs_budgets: Sequence[float], target: float) -> float:
    """The budget of ``budgets`` closest to ``target`` (ties: the cheaper)."""
    return float(min(macs_budgets, key=lambda b: (abs(b - target), b)))


def rank_and_crowding(F: np.ndarray, n_survive: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """NSGA-II survival on `m x 2` objectives (minimised): indices of the ``n_survive`` survivors and
    their non-dominated rank and crowding distance (pymoo's RankAndCrowding)."""
    population = Population.new("F", F, "index", np.arange(len(F)))
    survivors = RankAndCrowding().do(Problem(n_var=1, n_obj=F.shape[1]), population, n_survive=n_survive,
                                     random_state=rng)
    return survivors.get("index").astype(int), survivors.get("rank").astype(int), survivors.get("crowding")


def population_pairs(space: SearchSpace, complete: Sequence[Trial], max_macs: float) -> list[tuple[Architecture, float, float]]:
    """(architecture, MACs budget, validation accuracy) for every complete trial at every feasible MACs
    budget its curve reaches (accuracy from the trial's stored curve, MACs budgets from
    ``feasible_macs_budgets``)."""
    pairs = []
    for trial in complete:
        if trial.curve is None:
            continue
        for macs_budget in feasible_macs_budgets(space.costs(trial.arch), max_macs):
            accuracy = trial.curve.accuracy_at(macs_budget)
            if np.isfinite(accuracy):
                pairs.append((trial.arch, float(macs_budget), float(accuracy)))
    return pairs
