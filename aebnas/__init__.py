"""aebnas: surrogate-accelerated, hardware-aware NAS for early-exit networks."""

from aebnas.search_space import Architecture, ExitSpec, SearchSpace, build

__all__ = ["Architecture", "ExitSpec", "Search", "SearchConfig", "SearchSpace", "build"]
__version__ = "0.1.0"


def __getattr__(name: str):
    # the search pulls in BoTorch and XGBoost: import it only when asked for
    if name in ("Search", "SearchConfig"):
        from aebnas.engine import search

        return getattr(search, name)
    raise AttributeError(f"module 'aebnas' has no attribute {name!r}")
