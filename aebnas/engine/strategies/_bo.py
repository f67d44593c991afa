"""The default strategy: a random initial design, then qLogNEHVI (or qNEHVI) proposals over a
discrete pool, with accuracy from the run's predictor and exact MACs."""

from __future__ import annotations

from aebnas.engine.proposer import BOProposer, Proposal
from aebnas.engine.strategies._base import STRATEGIES, InitialDesignStrategy


@STRATEGIES.register("bo")
class BayesianOptimisation(InitialDesignStrategy):
    name = "bo"

    def propose_more(self, search, n, context, exclude, initial):
        config = search.config
        pending = [Proposal(t.arch, t.budget) for t in context.pending] + initial
        predictor, X = search.fit_predictor(context.complete, snapshot=True)
        front_ids = {p.trial_number for p in search.front()}
        proposer = BOProposer(
            search.space, predictor, search.ref_accuracy, search.ref_macs, config.acquisition, config.pool_size,
            min_accuracy=config.min_accuracy, max_macs=search.ref_macs,
            seed=config.seed * 100003 + context.num_trials,
        )
        front = [t.arch for t in context.complete if t.number in front_ids]
        return proposer.propose(n, X, front, exclude, pending)
