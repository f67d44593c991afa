"""Proposal strategies, one module each: ``bo`` (qLogNEHVI, the default), and the baselines ``random``,
``nsga2`` (NSGA-II on true evaluations) and ``paper`` (the AEBNAS paper's MLP surrogates + NSGA-II)."""

from aebnas.engine.strategies._base import STRATEGIES, InitialDesignStrategy, ProposalContext, Strategy
from aebnas.engine.strategies import _bo, _random, _nsga2, _paper  # noqa: F401  (registers them, in this order)
from aebnas.engine.strategies._paper import paper_grid_curve

__all__ = ["STRATEGIES", "InitialDesignStrategy", "ProposalContext", "Strategy", "paper_grid_curve"]
