"""Executors that train trials for the search loop: ``local`` (in-process, the default)."""

from aebnas.engine.executors._base import EXECUTORS, Executor
from aebnas.engine.executors._local import LocalExecutor

__all__ = ["EXECUTORS", "Executor", "LocalExecutor"]
