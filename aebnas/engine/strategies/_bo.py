"""The default strategy: a random initial design, then qLogNEHVI (or qNEHVI) proposals over a
discrete pool, with accuracy from the run's predictor and exact MACs."""

from __future__ import annotations

from aebnas.engine.proposer import BOProposer, Proposal
from aebnas.engine.strategies._base import STRATEGIES, Strategy, initial_design


@STRATEGIES.register("bo")
class BayesianOptimisation(Strategy):
    name = "bo"

    def propose(self, search, n, context):
        config = search.config
        initial = initial_design(search, n, context)
        out = [(p, "init") for p in initial]
        if n > len(initial):
            exclude = context.exclude | {p.arch.id for p in initial}
            pending = [Proposal(t.arch, t.budget) for t in context.pending] + initial
            predictor, X = search.fit_predictor(context.complete, snapshot=True)
            front_ids = {p.trial_number for p in search.front()}
            proposer = BOProposer(
                search.space, predictor, search.ref_accuracy, search.ref_macs, config.acquisition, config.pool_size,
                min_accuracy=config.min_accuracy, max_macs=search.ref_macs,
                seed=config.seed * 100003 + context.num_trials,
            )
            front = [t.arch for t in context.complete if t.number in front_ids]
            out += [(p, "bo") for p in proposer.propose(n - len(initial), X, front, exclude, pending)]
        return out
