"""Trials in a pool of spawned worker processes on this machine: the data and the frozen backbone reach
each process once, when it starts, and a process that dies loses only the trial it was running."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor
from concurrent.futures import wait as wait_futures
from concurrent.futures.process import BrokenProcessPool
from typing import Callable, Iterable

from aebnas.engine.execution._base import EXECUTORS, Executor
from aebnas.engine.execution.jobs import TrialJob, TrialOutcome
from aebnas.engine.execution.runner import TrialRunner, WorkerResources
from aebnas.engine.execution.threads import available_cores, set_torch_threads
from aebnas.engine.execution.worker import prepare_runner, run_job
from aebnas.exceptions import AebnasError


def _start_worker(threads: int, job: TrialJob | None, resources: WorkerResources | None) -> None:
    """Initialiser of each worker process: its torch threads, and its runner for ``job``'s search,
    holding the data and backbone weights the driver sent (no files read)."""
    set_torch_threads(threads)
    if job is not None:
        prepare_runner(job, resources)


@EXECUTORS.register("process")
class ProcessExecutor(Executor):
    """``workers`` local processes (spawn context), one trial each at a time, each with
    ``cores // workers`` torch threads.

    Each worker is a one-process ``ProcessPoolExecutor``: when a process dies (killed, out of memory, a
    crash in native code) only its own trial reports the error (``BrokenProcessPool``, retried or failed
    by the search per ``retries``) and a fresh process takes its place; a shared pool would break every
    trial in flight.

    Args:
        workers: number of processes (default: the cores of this machine).
        function: what a worker runs for a job, ``function(job) -> TrialOutcome`` (default ``run_job``);
            a wrapper can add logging, profiling or fault injection. It must be importable by name.

    The search's data and (fast mode) backbone weights are sent to each process when it starts (jobs of
    another search make workers load the dataset and that run directory's cached backbone).
    """

    name = "process"
    asynchronous = True

    def __init__(self, workers: int | None = None, function: Callable[..., TrialOutcome] = run_job) -> None:
        if workers is not None and workers < 1:
            raise AebnasError(f"the process executor needs >= 1 worker; got {workers}")
        self.runner: TrialRunner | None = None
        self.workers = workers or available_cores()
        self.function = function
        self.threads = max(1, available_cores() // self.workers)
        self._pools: list[ProcessPoolExecutor | None] = [None] * self.workers
        self._slot_of: dict[Future, int] = {}
        self._initargs: tuple | None = None

    @property
    def capacity(self) -> int:
        return self.workers

    def start(self, runner: TrialRunner, batch_size: int) -> None:
        if runner is not self.runner:  # another search: its workers start afresh with its resources
            self.close()
            self.runner, self._initargs = runner, None

    def submit(self, job: TrialJob) -> Future:
        job = job.on_worker_device()
        if self._initargs is None:  # the first job: the search's backbone is trained by now
            shipped = self.runner is not None and self.runner.serves(job)
            self._initargs = (self.threads, job, self.runner.resources() if shipped else None)
        busy = [list(self._slot_of.values()).count(s) for s in range(self.capacity)]
        slot = busy.index(min(busy))
        if self._pools[slot] is None:
            self._pools[slot] = ProcessPoolExecutor(1, multiprocessing.get_context("spawn"),
                                                    initializer=_start_worker, initargs=self._initargs)
        future = self._pools[slot].submit(self.function, job)
        self._slot_of[future] = slot
        return future

    def wait(self, handles: Iterable[Future]) -> list[tuple[Future, TrialOutcome | BaseException]]:
        done, _ = wait_futures(list(handles), return_when=FIRST_COMPLETED)
        results = []
        for future in done:
            slot = self._slot_of.pop(future, None)
            error = future.exception()
            if error is None:
                results.append((future, future.result()))
                continue
            if isinstance(error, BrokenProcessPool) and slot is not None and self._pools[slot] is not None:
                self._pools[slot].shutdown(wait=False, cancel_futures=True)  # its process died: a fresh one
                self._pools[slot] = None  # starts with the next job
            results.append((future, error))
        return results

    def close(self) -> None:
        """Stops the workers; trials still running (an interrupted search) are abandoned."""
        unfinished = {slot for future, slot in self._slot_of.items() if not future.done()}
        for slot, pool in enumerate(self._pools):
            if pool is None:
                continue
            if slot in unfinished:
                for process in list((getattr(pool, "_processes", None) or {}).values()):
                    process.terminate()
            pool.shutdown(wait=slot not in unfinished, cancel_futures=True)
        self._pools = [None] * self.capacity
        self._slot_of.clear()
