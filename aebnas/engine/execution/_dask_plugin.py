"""The Dask worker plugin that gives every worker of a cluster, including one that joins or restarts
later, a runner holding the search's data and backbone weights (imported only with dask)."""

from __future__ import annotations

from distributed import WorkerPlugin

from aebnas.engine.execution.jobs import TrialJob
from aebnas.engine.execution.runner import WorkerResources
from aebnas.engine.execution.worker import prepare_runner, release_runner


class RunnerPlugin(WorkerPlugin):
    """Prepares the runner of ``job``'s search on a worker from ``resources`` (stored once by the
    scheduler, sent once to each worker); the stage features are computed there by the first trial."""

    def __init__(self, job: TrialJob, resources: WorkerResources) -> None:
        self.job, self.resources = job, resources

    def setup(self, worker) -> None:
        prepare_runner(self.job, self.resources)

    def teardown(self, worker) -> None:
        release_runner(self.job)
