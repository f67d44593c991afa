"""Executors that train trials for the search loop: ``local`` (in-process, the default), ``process`` (a
pool of local processes) and ``dask`` (a Dask distributed cluster; dask is imported only when used)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aebnas.engine.executors._base import EXECUTORS, Executor
from aebnas.engine.executors._local import LocalExecutor  # registered in this order: local, process, dask
from aebnas.engine.executors._process import ProcessExecutor  # noqa: I001
from aebnas.engine.executors._dask import DaskExecutor
from aebnas.exceptions import AebnasError

if TYPE_CHECKING:
    from aebnas.engine.search import Search

__all__ = ["EXECUTORS", "DaskExecutor", "Executor", "LocalExecutor", "ProcessExecutor", "check_executor_options",
           "create_executor"]


def check_executor_options(name: str, workers: int | None = None, scheduler: Any = None) -> None:
    """Raises a clear AebnasError if ``name``, ``workers`` and ``scheduler`` do not go together."""
    EXECUTORS.get(name)  # an unknown name: a clear error listing the registered ones
    if workers is not None and workers < 1:
        raise AebnasError(f"workers must be >= 1; got {workers}")
    if scheduler is not None and name != "dask":
        raise AebnasError(f"a scheduler address is for the dask executor; got executor {name!r} "
                          "(use --executor dask --scheduler ADDRESS)")
    if scheduler is not None and workers is not None:
        raise AebnasError("give the dask executor either a scheduler (an existing cluster) or a number of "
                          "workers (a LocalCluster on this machine), not both")
    if name == "local" and workers not in (None, 1):
        raise AebnasError("the local executor trains one trial at a time in this process; for several "
                          "workers use --executor process or --executor dask")


def create_executor(name: str, search: "Search", workers: int | None = None, scheduler: Any = None) -> Executor:
    """The executor ``name`` for ``search``: ``local`` (batches of ``batch_size`` in this process),
    ``process`` (``workers`` local processes) or ``dask`` (a LocalCluster of ``workers`` processes, or
    the cluster at ``scheduler``: an address, a Cluster object or a Client). Process and Dask workers
    receive the search's data and frozen backbone once each. Close it after use (or use ``with``)."""
    check_executor_options(name, workers, scheduler)
    if name == "local":
        return LocalExecutor(search.runner, capacity=search.config.batch_size)
    if name == "process":
        return ProcessExecutor(search.runner, workers)
    if name == "dask":
        return DaskExecutor(search.runner, scheduler, workers)
    return EXECUTORS.get(name)(search.runner)  # an executor registered elsewhere: built from the runner
