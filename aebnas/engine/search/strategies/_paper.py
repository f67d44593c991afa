"""The AEBNAS paper's method as a baseline: MLP surrogates fitted on the trained candidates, pymoo's NSGA-II
run on the surrogates over (architecture, MACs budget) pairs, the best new individuals proposed; every
trial's trade-off curve comes from the paper's threshold grid {0.1, 0.2, 1}^exits only (or, with
``thresholds="fine"``, from the same fine threshold search as ``bo``'s)."""

from __future__ import annotations

from aebnas.engine.evaluation.thresholds import CURVES
from aebnas.engine.search.strategies._base import STRATEGIES, InitialDesignStrategy, ProposalBatch, ProposalContext
from aebnas.engine.search.strategies._surrogate_nsga2 import GENERATIONS, POPULATION_SIZE, surrogate_proposals
from aebnas.engine.search.strategies.proposals import Proposal
from aebnas.exceptions import AebnasError
from aebnas.predictors import PREDICTORS


@STRATEGIES.register("paper")
class PaperMethod(InitialDesignStrategy):
    """The AEBNAS paper's search as a baseline.

    After the initial design (the same as ``bo``'s), each ask fits the MLP predictor (``mlp``, a small
    deep ensemble; its mean is the surrogate) on every complete trial's curve rows, then runs pymoo's
    NSGA-II for ``generations`` generations of ``population_size`` (architecture, MACs budget)
    individuals on the surrogate: minimise (-predicted accuracy, MACs budget). The initial population holds the fittest
    trained pairs (true accuracy, by rank and crowding; half the population at most) and random samples;
    offspring by exit-list crossover and the space's mutation. The final population's untried
    architectures are proposed by rank, then crowding distance.

    Args:
        population_size, generations: of the NSGA-II run on the surrogate at each ask.
        predictor: the registered predictor kind of the surrogate (the paper's: ``mlp``).
        thresholds: how the search builds every trial's curve and tunes confirmed candidates: ``grid``
            (the paper's: its grid {0.1, 0.2, 1}^exits only,
            :func:`aebnas.engine.evaluation.thresholds.grid_curve`) or ``fine`` (``bo``'s), to compare the
            paper's search with ``bo``'s at the same thresholds.
    """

    name = "paper"
    curve_method = "grid"

    def __init__(self, population_size: int = POPULATION_SIZE, generations: int = GENERATIONS, predictor: str = "mlp",
                 thresholds: str = "grid") -> None:
        for setting, value, low in (("population_size", population_size, 4), ("generations", generations, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise AebnasError(f"paper: {setting} must be an integer >= {low}; got {value!r}")
        if thresholds not in CURVES:
            raise AebnasError(f"paper: thresholds must be one of {', '.join(CURVES.names())}; got {thresholds!r}")
        PREDICTORS.get(predictor)
        self.population_size = population_size
        self.generations = generations
        self.predictor = predictor
        self.thresholds = self.curve_method = thresholds

    def propose_more(self, context: ProposalContext, n: int, exclude: frozenset[str],
                     initial: list[Proposal]) -> ProposalBatch:
        predictor, _ = context.fit_predictor(kind=self.predictor)
        proposals = surrogate_proposals(context.space, predictor, context.complete, n, set(exclude), context.ref_macs,
                                        context.proposal_seed, self.population_size, self.generations, self.name)
        return ProposalBatch(tuple(proposals), predictor)
