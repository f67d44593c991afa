"""aebnas: surrogate-accelerated, hardware-aware NAS for early-exit networks."""

from aebnas.engine.search import Search, SearchConfig
from aebnas.search_space import Architecture, ExitSpec, SearchSpace, build

__all__ = ["Architecture", "ExitSpec", "Search", "SearchConfig", "SearchSpace", "build"]
__version__ = "0.1.0"
