"""What every strategy proposes and shares: (architecture, MACs budget) proposals, the feasible MACs
budgets of an architecture, uniform random proposals, and the random initial design."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from aebnas.engine.search.records import Prediction
from aebnas.search_space import Architecture, PathCosts, SearchSpace

RELATIVE_MACS_BUDGETS = (0.15, 0.35, 0.55, 0.75, 0.95)


@dataclass(frozen=True)
class Proposal:
    """A proposed architecture, the average-MACs budget it is proposed for, the label of what proposed
    it (``init``, or the strategy's name), and the predicted accuracy there (None without a predictor)."""

    arch: Architecture
    macs_budget: float
    source: str = ""
    predicted: Prediction | None = None


def feasible_macs_budgets(costs: PathCosts, max_macs: float | None,
                          relative: Sequence[float] = RELATIVE_MACS_BUDGETS) -> list[float]:
    """MACs budgets spread over an architecture's feasible range [cheapest path, final path], capped at
    ``max_macs`` (which is added itself when inside the range). Empty when the cheapest path exceeds it."""
    low, high = min(costs.paths), costs.paths[-1]
    budgets = [low + r * (high - low) for r in relative]
    if max_macs is not None:
        budgets = [b for b in budgets if b <= max_macs]
        if low <= max_macs < high:
            budgets.append(float(max_macs))
    return budgets


def random_proposals(space: SearchSpace, n: int, rng: np.random.Generator, exclude: set[str],
                     max_macs: float | None, source: str = "random") -> list[Proposal]:
    """Up to ``n`` uniformly sampled new architectures whose cheapest exit fits ``max_macs``, each at a
    random MACs budget of its feasible range."""
    proposals = []
    for arch in space.sample_many(20 * n, rng, exclude):
        budgets = feasible_macs_budgets(space.costs(arch), max_macs)
        if budgets:
            proposals.append(Proposal(arch, float(budgets[int(rng.integers(len(budgets)))]), source))
            if len(proposals) == n:
                break
    return proposals
