"""Random search: uniform samples of the space, each at a random MACs budget of its feasible range."""

from __future__ import annotations

from aebnas.engine.search.strategies._base import STRATEGIES, ProposalBatch, ProposalContext, Strategy
from aebnas.engine.search.strategies.proposals import random_proposals


@STRATEGIES.register("random")
class RandomSearch(Strategy):
    """Uniform random architectures of the space at random feasible MACs budgets (no settings)."""

    name = "random"

    def propose(self, context: ProposalContext, n: int) -> ProposalBatch:
        return ProposalBatch(tuple(random_proposals(context.space, n, context.rng, set(context.exclude),
                                                    context.ref_macs, self.name)))
