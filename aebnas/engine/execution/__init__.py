"""Execution: where trials train. A job (the architecture and the run's trial settings), a runner that
keeps the data and frozen backbone of one search per process, and the executors ``local`` (in-process,
the default), ``process`` (a pool of local processes) and ``dask`` (a Dask distributed cluster; dask is
imported only when used)."""

from __future__ import annotations

import inspect
from typing import Any

from aebnas.engine.execution._base import EXECUTORS, Executor
from aebnas.engine.execution._local import LocalExecutor  # registered in this order: local, process, dask
from aebnas.engine.execution._process import ProcessExecutor  # noqa: I001
from aebnas.engine.execution._dask import DaskExecutor
from aebnas.engine.execution.jobs import TrialJob, TrialOutcome, TrialSettings
from aebnas.engine.execution.runner import TrialRunner, WorkerResources
from aebnas.exceptions import AebnasError

__all__ = ["EXECUTORS", "DaskExecutor", "Executor", "LocalExecutor", "ProcessExecutor", "TrialJob", "TrialOutcome",
           "TrialRunner", "TrialSettings", "WorkerResources", "create_executor", "list_executors"]


def list_executors() -> list[str]:
    """Names of the registered executors."""
    return EXECUTORS.names()


def create_executor(name: str, **options: Any) -> Executor:
    """The executor registered as ``name`` with its ``options`` (those that are None are left out):
    ``local`` (batches of the search's ``batch_size`` in this process), ``process`` (``workers`` local
    processes) or ``dask`` (a LocalCluster of ``workers`` processes, or the cluster at ``scheduler``: an
    address, a Cluster object or a Client). Pass it to ``Search.run(executor=...)``; close it after use
    (or use ``with``)."""
    cls = EXECUTORS.get(name)
    options = {k: v for k, v in options.items() if v is not None}
    accepted = set(inspect.signature(cls.__init__).parameters) - {"self"}
    if "scheduler" in options and "scheduler" not in accepted:
        raise AebnasError(f"a scheduler address is for the dask executor; got executor {name!r} "
                          "(use --executor dask --scheduler ADDRESS)")
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise AebnasError(f"executor {name!r} takes no option {', '.join(unknown)}; allowed: {', '.join(sorted(accepted))}")
    return cls(**options)
