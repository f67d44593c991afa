"""In-process execution (the default): jobs run one at a time in the driver, when collected, so every
finished trial is stored before the next one starts."""

from __future__ import annotations

from aebnas.engine.execution._base import EXECUTORS, Executor
from aebnas.engine.execution.jobs import TrialJob
from aebnas.engine.execution.runner import TrialRunner
from aebnas.exceptions import AebnasError


@EXECUTORS.register("local")
class LocalExecutor(Executor):
    """Runs queued jobs in this process with the search's runner (sharing its data and backbone), in
    whole batches of the search's ``batch_size``."""

    name = "local"
    asynchronous = False

    def __init__(self, workers: int | None = None) -> None:
        if workers not in (None, 1):
            raise AebnasError("the local executor trains one trial at a time in this process; for several "
                              "workers use --executor process or --executor dask")
        self.runner: TrialRunner | None = None
        self._capacity = 1
        self._queue: dict[int, TrialJob] = {}

    @property
    def capacity(self) -> int:
        return self._capacity

    def start(self, runner: TrialRunner, batch_size: int) -> None:
        self.runner, self._capacity = runner, batch_size

    def submit(self, job: TrialJob) -> int:
        self._queue[job.number] = job
        return job.number

    def wait(self, handles):
        number = next(h for h in handles if h in self._queue)
        return [(number, self.runner.run(self._queue.pop(number)))]
