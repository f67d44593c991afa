"""In-process execution (the default): jobs run one at a time in the driver, when collected, so every
finished trial is stored before the next one starts."""

from __future__ import annotations

from aebnas.engine.executors._base import EXECUTORS, Executor
from aebnas.engine.worker import TrialJob, TrialRunner


@EXECUTORS.register("local")
class LocalExecutor(Executor):
    """Runs queued jobs in this process with ``runner`` (sharing the search's data and backbone)."""

    name = "local"
    asynchronous = False

    def __init__(self, runner: TrialRunner, capacity: int = 1) -> None:
        self.runner = runner
        self.capacity = capacity
        self._queue: dict[int, TrialJob] = {}

    def submit(self, job: TrialJob) -> int:
        self._queue[job.number] = job
        return job.number

    def wait(self, handles):
        number = next(h for h in handles if h in self._queue)
        return [(number, self.runner.run(self._queue.pop(number)))]
