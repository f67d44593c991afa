"""The search stage: settings, the run store and its records, proposal strategies, the loop with
ask/tell, the predictors it fits, confirmation of the best candidates, the front and the report."""

from aebnas.engine.search.config import SearchConfig
from aebnas.engine.search.front import FrontPoint, hypervolume, pareto_front
from aebnas.engine.search.loop import Search
from aebnas.engine.search.records import ConfirmedCandidate, Prediction, Trial, TrialMetrics, TrialState
from aebnas.engine.search.store import STORE_FILE, RunStore
from aebnas.engine.search.strategies import STRATEGIES, Strategy, create_strategy, list_strategies

__all__ = ["STORE_FILE", "STRATEGIES", "ConfirmedCandidate", "FrontPoint", "Prediction", "RunStore", "Search",
           "SearchConfig", "Strategy", "Trial", "TrialMetrics", "TrialState", "create_strategy", "hypervolume",
           "list_strategies", "pareto_front"]
