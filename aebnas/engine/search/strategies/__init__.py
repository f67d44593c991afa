"""Proposal strategies, one module each: ``bo`` (qLogNEHVI, the default), and the baselines ``random``,
``nsga2`` (NSGA-II on true evaluations), ``paper`` (the AEBNAS paper's MLP surrogates + NSGA-II), and
``fixed`` (a given list of architectures)."""

from aebnas.engine.search.strategies._base import (STRATEGIES, InitialDesignStrategy, ProposalBatch, ProposalContext,
                                                   Strategy, create_strategy, list_strategies)
from aebnas.engine.search.strategies._bo import ACQUISITIONS, BayesianOptimisation  # registered in this order
from aebnas.engine.search.strategies._random import RandomSearch  # noqa: I001
from aebnas.engine.search.strategies._nsga2 import NSGA2
from aebnas.engine.search.strategies._paper import PaperMethod
from aebnas.engine.search.strategies._fixed import FixedDesign
from aebnas.engine.search.strategies.proposals import Proposal

__all__ = ["ACQUISITIONS", "NSGA2", "STRATEGIES", "BayesianOptimisation", "FixedDesign", "InitialDesignStrategy",
           "PaperMethod", "Proposal", "ProposalBatch", "ProposalContext", "RandomSearch", "Strategy",
           "create_strategy", "list_strategies"]
