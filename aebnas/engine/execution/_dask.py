"""Trials on a Dask ``distributed`` cluster: an existing scheduler (by address, a Cluster object or a
Client) or a LocalCluster of worker processes. The data and the frozen backbone's weights reach each
worker once, through a worker plugin; only the driver writes the run store."""

from __future__ import annotations

import hashlib
import itertools
import uuid
from concurrent.futures import CancelledError
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from aebnas.engine.execution._base import EXECUTORS, Executor
from aebnas.engine.execution.jobs import TrialJob, TrialOutcome
from aebnas.engine.execution.runner import TrialRunner
from aebnas.engine.execution.threads import available_cores, set_torch_threads
from aebnas.engine.execution.worker import run_job
from aebnas.exceptions import AebnasError


def _distributed():
    try:
        import distributed  # noqa: PLC0415  (optional dependency, imported only when used)
    except ImportError:
        raise AebnasError("the dask executor needs dask's distributed scheduler; install it with "
                          "pip install 'aebnas[dask]' (or pip install 'dask[distributed]')") from None
    return distributed


#: Dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536, which fixes glibc's mmap threshold: every
#: activation tensor is then mmapped and page-faulted afresh, which slowed CPU training in a worker about 2x
#: (docs/benchmarks.md). Our LocalCluster's workers keep glibc's default (None unsets it).
NO_MALLOC_TRIM = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}
#: event topic under which a worker notes that it started a trial's task
STARTED = "aebnas-trial-started"
#: times a task lost with a dead worker before it started is resubmitted without counting as an attempt
REQUEUES = 3


def _run_task(function: Callable[[TrialJob], TrialOutcome], job: TrialJob, key: str,
              threads: int | dict[str, int]) -> TrialOutcome:
    """What a Dask worker runs: notes the start (so a task that was only queued on a worker that died is
    not blamed), sets torch threads, then runs ``function(job)``. ``threads``: a number, or worker
    address -> worker threads on its machine (torch threads = the machine's cores shared among them)."""
    from dask.system import CPU_COUNT  # noqa: PLC0415
    from distributed import get_worker  # noqa: PLC0415

    worker = get_worker()
    worker.log_event(STARTED, {"key": key})
    if isinstance(threads, dict):
        threads = CPU_COUNT // max(1, threads.get(worker.address, worker.state.nthreads))
    set_torch_threads(threads)
    return function(job)


@dataclass
class _Task:
    job: TrialJob
    key: str
    future: Any
    requeued: int = 0


@EXECUTORS.register("dask")
class DaskExecutor(Executor):
    """Trials as Dask tasks; ``capacity`` is the cluster's worker threads now (it follows scaling).

    The search's data and (fast mode) backbone weights go to every worker once, in a worker plugin
    (``Client.register_plugin``: the scheduler keeps one copy and gives it to each worker, also to one that
    joins or restarts later), so workers need neither the dataset files nor the run directory. Jobs of
    another search make workers read both from disk (a shared filesystem).

    Args:
        scheduler: an address (``tcp://host:8786``), a ``distributed`` Cluster (``SLURMCluster``,
            ``KubeCluster``, ...) or a Client; None starts a LocalCluster.
        workers: worker processes of the LocalCluster (default: the cores of this machine), one thread
            each, each with ``cores // workers`` torch threads. On another cluster, a worker's torch
            threads are its machine's cores shared among the worker threads the scheduler knows there.
        function: what a worker runs for a job, ``function(job) -> TrialOutcome`` (default ``run_job``);
            a wrapper can add logging, profiling or fault injection.

    A worker that dies while training (killed, out of memory) makes its trial end with ``KilledWorker``:
    the search retries or fails it per ``retries``; a trial that was only queued on that worker (it
    never started) is resubmitted here, not blamed. The LocalCluster's scheduler is told not to retry
    on its own (``allowed_failures=0``); an external scheduler retries up to its own
    ``distributed.scheduler.allowed-failures`` (default 3) before reporting it.
    """

    name = "dask"
    asynchronous = True

    def __init__(self, scheduler: Any = None, workers: int | None = None,
                 function: Callable[..., TrialOutcome] = run_job) -> None:
        distributed = _distributed()
        if scheduler is not None and workers is not None:
            raise AebnasError("give the dask executor either a scheduler (an existing cluster) or a number of "
                              "workers (a LocalCluster on this machine), not both")
        if workers is not None and workers < 1:
            raise AebnasError(f"the dask executor needs >= 1 worker; got {workers}")
        self.runner: TrialRunner | None = None
        self.function = function
        self._cluster = None
        self._own_client = not isinstance(scheduler, distributed.Client)
        self._threads: int | None = None
        if scheduler is None:
            self._threads = max(1, available_cores() // (workers or available_cores()))
            import dask  # noqa: PLC0415  (installed with distributed)

            with dask.config.set(NO_MALLOC_TRIM):
                self._cluster = distributed.LocalCluster(
                    n_workers=workers or available_cores(), threads_per_worker=1, processes=True,
                    dashboard_address=None, scheduler_kwargs={"allowed_failures": 0})
            self.client = distributed.Client(self._cluster, set_as_default=False)
        elif self._own_client:
            try:
                self.client = distributed.Client(scheduler, set_as_default=False, timeout="30s")
            except OSError as err:
                raise AebnasError(f"cannot reach the Dask scheduler at {scheduler}: {err}; start one with "
                                  "`dask scheduler` and workers with `dask worker ADDRESS`") from None
        else:
            self.client = scheduler
        self._plugin: str | None = None
        self._tasks: dict[int, _Task] = {}
        self._handles = itertools.count()

    @property
    def capacity(self) -> int:
        return max(1, sum(self.client.nthreads().values()))

    def start(self, runner: TrialRunner, batch_size: int) -> None:
        if runner is not self.runner:  # another search: its resources replace the last one's on the workers
            self._unregister_plugin()
            self.runner = runner

    def _install_runner(self, job: TrialJob) -> None:
        """Registers (once) the plugin that gives each worker a runner with this search's resources."""
        if self._plugin is not None or self.runner is None or not self.runner.serves(job):
            return
        from aebnas.engine.execution._dask_plugin import RunnerPlugin  # noqa: PLC0415  (imports distributed)

        self._plugin = "aebnas-runner-" + hashlib.sha256(repr((job.run_dir, job.settings)).encode()).hexdigest()[:12]
        self.client.register_plugin(RunnerPlugin(job, self.runner.resources()), name=self._plugin)

    def _unregister_plugin(self) -> None:
        if self._plugin is not None and self._cluster is None:
            self.client.unregister_worker_plugin(self._plugin)  # frees the workers' data and features
        self._plugin = None

    def _threads_on_host(self) -> dict[str, int]:
        """Worker address -> worker threads on its machine (all workers, as the scheduler sees them now)."""
        from distributed.comm import get_address_host  # noqa: PLC0415

        nthreads = self.client.nthreads()
        per_host: dict[str, int] = {}
        for address, n in nthreads.items():
            per_host[get_address_host(address)] = per_host.get(get_address_host(address), 0) + n
        return {address: per_host[get_address_host(address)] for address in nthreads}

    def _start(self, task: _Task) -> None:
        task.key = f"aebnas-trial-{task.job.number}-{uuid.uuid4().hex[:8]}"
        threads = self._threads or self._threads_on_host()
        task.future = self.client.submit(_run_task, self.function, task.job, task.key, threads, key=task.key,
                                         pure=False)

    def submit(self, job: TrialJob) -> int:
        job = job.on_worker_device()
        self._install_runner(job)
        task = _Task(job, "", None)
        self._start(task)
        handle = next(self._handles)
        self._tasks[handle] = task
        return handle

    def _never_started(self, task: _Task) -> bool:
        return all(msg.get("key") != task.key for _, msg in self.client.get_events(STARTED))

    def wait(self, handles: Iterable[int]) -> list[tuple[int, TrialOutcome | BaseException]]:
        distributed = _distributed()
        handles = list(handles)
        while True:
            futures = [self._tasks[h].future for h in handles]
            with self.client.as_current():  # distributed.wait uses the current client; ours is not the default
                try:
                    distributed.wait(futures, return_when="FIRST_COMPLETED")
                except CancelledError:  # cancelled ones are done: reported as their exceptions below
                    pass
            results = []
            for handle in handles:
                task = self._tasks[handle]
                if not task.future.done():
                    continue
                try:
                    outcome = task.future.result()
                except Exception as err:  # KilledWorker (a dead worker), a cancelled task, an error in the job
                    outcome = err
                task.future.release()  # the result is here: the cluster may forget it (and never recompute it)
                if (isinstance(outcome, distributed.KilledWorker) and task.requeued < REQUEUES
                        and self._never_started(task)):
                    task.requeued += 1  # it only waited on the worker that died: not this trial's fault
                    self._start(task)
                    continue
                del self._tasks[handle]
                results.append((handle, outcome))
            if results:
                return results

    def close(self) -> None:
        """Cancels trials still running (an interrupted search) and releases the cluster (a cluster or
        client passed in stays up; only this executor's tasks and worker plugin leave it)."""
        unfinished = [t.future for t in self._tasks.values() if not t.future.done()]
        if unfinished:
            self.client.cancel(unfinished)
        self._tasks.clear()
        self._unregister_plugin()
        if self._own_client:
            self.client.close()
        if self._cluster is not None:
            self._cluster.close()
