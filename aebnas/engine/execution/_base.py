"""The executor contract: the search loop submits trial jobs and collects outcomes as they finish."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Iterable

from aebnas.engine.execution.jobs import TrialJob, TrialOutcome
from aebnas.engine.execution.runner import TrialRunner
from aebnas.registry import Registry


class Executor(ABC):
    """Runs TrialJobs. Settings go to ``__init__`` (cheap: it only checks them); :meth:`start` binds the
    executor to a search's runner before its first job and starts workers. ``capacity`` is how many jobs it
    wants in flight; the search keeps it full, so with several workers none waits for a whole batch:
    proposals are made as workers free up, with the trials still training as pending points."""

    name: str
    #: whether jobs train while the driver proposes (then a proposal is made whenever a worker frees up)
    asynchronous: bool = True

    @property
    @abstractmethod
    def capacity(self) -> int:
        """Jobs it wants in flight (after :meth:`start`)."""

    @abstractmethod
    def start(self, runner: TrialRunner, batch_size: int) -> None:
        """Binds to ``runner``'s search (its data and frozen backbone are ready) and starts the workers; a
        later call for another search rebinds. ``batch_size``: the search's proposals per round."""

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
