"""Proposal strategies, one module each: ``bo`` (qLogNEHVI, the default) and ``random``."""

from aebnas.engine.strategies._base import STRATEGIES, ProposalContext, Strategy
from aebnas.engine.strategies import _bo, _random  # noqa: F401  (registers them)

__all__ = ["STRATEGIES", "ProposalContext", "Strategy"]
