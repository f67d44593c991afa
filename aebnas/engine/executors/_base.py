"""The executor contract: the search loop submits trial jobs and collects outcomes as they finish."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Iterable

from aebnas.engine.worker import TrialJob, TrialOutcome
from aebnas.registry import Registry


class Executor(ABC):
    """Runs TrialJobs. ``capacity`` is how many jobs it wants in flight; the search keeps it full, so
    with several workers none waits for a whole batch: proposals are made as workers free up, with the
    trials still training as pending points."""

    name: str
    capacity: int
    #: whether jobs train while the driver proposes (then a proposal is made whenever a worker frees up)
    asynchronous: bool = True

    @abstractmethod
    def submit(self, job: TrialJob) -> Any:
        """Starts (or queues) ``job``; returns a handle."""

    @abstractmethod
    def wait(self, handles: Iterable[Any]) -> list[tuple[Any, TrialOutcome | BaseException]]:
        """Blocks until at least one of ``handles`` is done; returns (handle, outcome or the exception
        that ended it, e.g. a dead worker) for each finished one."""

    def close(self) -> None:
        """Releases workers."""

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


EXECUTORS: Registry[type[Executor]] = Registry("executor")
