"""The proposal-strategy contract: given a run's stored trials, propose new (architecture, MACs budget)
pairs. Strategies are objects with their settings in ``__init__`` (as Optuna's samplers); the search
passes each ask a narrow, read-only :class:`ProposalContext` and stores whatever comes back."""

from __future__ import annotations

import inspect
import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Sequence

import numpy as np

from aebnas.engine.search.records import Trial
from aebnas.engine.search.strategies.proposals import Proposal, random_proposals
from aebnas.exceptions import AebnasError
from aebnas.predictors import Predictor
from aebnas.registry import Registry
from aebnas.search_space import SearchSpace

FitPredictor = Callable[..., tuple[Predictor, np.ndarray]]
"""``fit_predictor(kind=None)``: a predictor (the run's kind unless given, warm-started as configured)
fitted on the complete trials' curve rows, and its `n x d` training rows."""


@dataclass(frozen=True)
class ProposalContext:
    """What a strategy sees when asked.

    Attributes:
        space: the search space.
        complete, pending: the stored trials by state (pending: proposed, not yet trained).
        exclude: architecture ids it must not propose (every stored trial's).
        rng: a generator seeded by the run seed and the number of trials so far, so that a resumed run
            proposes the same as an uninterrupted one; seed: the run seed; num_trials: trials so far.
        initial_design: trials of the initial design (``SearchConfig.initial_design``).
        ref_macs, ref_accuracy: the hypervolume reference point; no MACs budget above ``ref_macs``.
        front_trials: numbers of the complete trials with a point on the validation front.
        fit_predictor: fits a predictor on ``complete`` (:data:`FitPredictor`); the strategy returns it
            in its :class:`ProposalBatch` and the search saves it.
    """

    space: SearchSpace
    complete: Sequence[Trial]
    pending: Sequence[Trial]
    exclude: frozenset[str]
    rng: np.random.Generator
    seed: int
    num_trials: int
    initial_design: int
    ref_macs: float
    ref_accuracy: float
    front_trials: frozenset[int]
    fit_predictor: FitPredictor

    @property
    def proposal_seed(self) -> int:
        """A seed for this ask's own random choices (the run seed and the trial count)."""
        return self.seed * 100003 + self.num_trials


@dataclass(frozen=True)
class ProposalBatch:
    """A strategy's answer: its proposals, and the predictor it fitted for them (saved by the search)."""

    proposals: tuple[Proposal, ...]
    predictor: Predictor | None = None


class Strategy(ABC):
    """Proposes candidates. Settings are ``__init__`` arguments, stored under the same names (as in
    scikit-learn); strategies keep no state between asks: everything comes from the context, so a run
    resumes wherever it stopped.

    ``name`` is the registry name and the label of its proposals; ``curve_method`` how the search
    searches the thresholds of its trials (``fine``, or ``grid`` for the paper's baseline)."""

    name: ClassVar[str]
    curve_method: ClassVar[str] = "fine"

    @abstractmethod
    def propose(self, context: ProposalContext, n: int) -> ProposalBatch:
        """Up to ``n`` proposals of new architectures."""

    def get_params(self) -> dict[str, Any]:
        """Settings, by the names ``__init__`` takes."""
        names = [p for p in inspect.signature(type(self).__init__).parameters if p not in ("self", "args", "kwargs")]
        return {name: getattr(self, name) for name in names}

    def to_dict(self) -> dict[str, Any]:
        """``{"name": ..., **settings}``: what a run's config stores (:func:`create_strategy` rebuilds it)."""
        return {"name": self.name, **self.get_params()}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Strategy) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(json.dumps(self.to_dict(), sort_keys=True))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_params().items())})"


STRATEGIES: Registry[type[Strategy]] = Registry("strategy")


def create_strategy(name: str, **settings: Any) -> Strategy:
    """The strategy registered as ``name`` with ``settings`` (each a name of its ``__init__``)."""
    cls = STRATEGIES.get(name)
    allowed = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    unknown = sorted(set(settings) - set(allowed))
    if unknown:
        raise AebnasError(f"strategy {name!r} has no setting {', '.join(unknown)}; "
                          f"allowed: {', '.join(allowed) or 'none'}")
    return cls(**settings)


def list_strategies() -> list[str]:
    """Names of the registered strategies."""
    return STRATEGIES.names()


class InitialDesignStrategy(Strategy):
    """A strategy that starts from :func:`initial_design` (its trials labelled ``init``) and proposes the
    rest of each ask with :meth:`propose_more` (labelled with the strategy's name)."""

    def propose(self, context: ProposalContext, n: int) -> ProposalBatch:
        initial = initial_design(context, n)
        if n <= len(initial):
            return ProposalBatch(tuple(initial))
        exclude = context.exclude | {p.arch.id for p in initial}
        more = self.propose_more(context, n - len(initial), exclude, initial)
        return ProposalBatch(tuple(initial) + more.proposals, more.predictor)

    @abstractmethod
    def propose_more(self, context: ProposalContext, n: int, exclude: frozenset[str],
                     initial: list[Proposal]) -> ProposalBatch:
        """Up to ``n`` new proposals after this ask's ``initial`` ones (never an id in ``exclude``)."""


def initial_design(context: ProposalContext, n: int) -> list[Proposal]:
    """The initial-design share of an ask of ``n`` (until ``initial_design`` trials exist, or while
    fewer than 2 are complete): uniform random feasible samples, the same as the ``random`` strategy's
    for the same seed and trial count, so that strategies differ only after it. (A max-min
    space-filling design was tried first: it favours extreme architectures and started lower than random
    samples on digits and Fashion-MNIST, docs/benchmarks.md.)"""
    n_init = n if len(context.complete) < 2 else max(0, min(n, context.initial_design - context.num_trials))
    if not n_init:
        return []
    return random_proposals(context.space, n_init, context.rng, set(context.exclude), context.ref_macs, "init")
