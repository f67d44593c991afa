"""The proposal-strategy contract: given a run's stored trials, propose new (architecture, budget) pairs."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np

from aebnas.engine.proposer import Proposal, random_proposals
from aebnas.engine.store import Trial
from aebnas.registry import Registry

if TYPE_CHECKING:  # pragma: no cover
    from aebnas.engine.search import Search


@dataclass(frozen=True)
class ProposalContext:
    """What a strategy sees when asked: every stored trial split by state, the ids it must not repeat,
    and a generator seeded by the run seed and the number of trials so far (so a resumed run proposes
    the same as an uninterrupted one)."""

    complete: Sequence[Trial]
    pending: Sequence[Trial]
    exclude: set[str]
    rng: np.random.Generator
    num_trials: int


class Strategy(ABC):
    """Proposes candidates. Strategies keep no state between calls: everything comes from the store,
    so a run resumes wherever it stopped. ``source`` labels the trials a strategy proposes."""

    name: str

    @abstractmethod
    def propose(self, search: "Search", n: int, context: ProposalContext) -> list[tuple[Proposal, str]]:
        """Up to ``n`` (proposal, source label) pairs of new architectures."""


STRATEGIES: Registry[type[Strategy]] = Registry("strategy")


class InitialDesignStrategy(Strategy):
    """A strategy that starts from :func:`initial_design` (its trials labelled ``init``) and proposes the
    rest of each ask with :meth:`propose_more` (labelled with the strategy's name)."""

    def propose(self, search: "Search", n: int, context: ProposalContext) -> list[tuple[Proposal, str]]:
        initial = initial_design(search, n, context)
        out = [(p, "init") for p in initial]
        if n > len(initial):
            exclude = context.exclude | {p.arch.id for p in initial}
            out += [(p, self.name) for p in self.propose_more(search, n - len(initial), context, exclude, initial)]
        return out

    @abstractmethod
    def propose_more(self, search: "Search", n: int, context: ProposalContext, exclude: set[str],
                     initial: list[Proposal]) -> list[Proposal]:
        """Up to ``n`` new proposals after this ask's ``initial`` ones (never an id in ``exclude``)."""


def initial_design(search: "Search", n: int, context: ProposalContext) -> list[Proposal]:
    """The initial-design share of an ask of ``n`` (until ``initial_design`` trials exist, or while
    fewer than 2 are complete): uniform random feasible samples, the same as the ``random`` strategy's
    for the same seed and trial count, so that strategies differ only after it. (A max-min
    space-filling design was tried first: it favours extreme architectures and started lower than random
    samples on digits and Fashion-MNIST, docs/benchmarks.md.)"""
    config = search.config
    n_init = n if len(context.complete) < 2 else max(0, min(n, config.initial_design - context.num_trials))
    return random_proposals(search.space, n_init, context.rng, context.exclude, search.ref_macs) if n_init else []
