"""Random search: uniform samples of the space, each at a random budget of its feasible range."""

from __future__ import annotations

from aebnas.engine.proposer import random_proposals
from aebnas.engine.strategies._base import STRATEGIES, Strategy


@STRATEGIES.register("random")
class RandomSearch(Strategy):
    name = "random"

    def propose(self, search, n, context):
        proposals = random_proposals(search.space, n, context.rng, context.exclude, search.ref_macs)
        return [(p, "random") for p in proposals]
