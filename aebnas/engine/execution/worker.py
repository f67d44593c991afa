"""The entry point of executors' worker processes: one runner per search configuration and process,
created on first use and reused by every later trial of that search."""

from __future__ import annotations

from aebnas.engine.execution.jobs import TrialJob, TrialOutcome
from aebnas.engine.execution.runner import TrialRunner, WorkerResources

_RUNNERS: dict[tuple, TrialRunner] = {}


def _runner_key(job: TrialJob) -> tuple:
    return job.run_dir, job.settings, job.data_dir


def prepare_runner(job: TrialJob, resources: WorkerResources | None = None) -> TrialRunner:
    """This process's runner for ``job``'s configuration, created on first use (with ``resources``, if
    given, instead of reading the data files and the run directory's backbone)."""
    key = _runner_key(job)
    if key not in _RUNNERS:
        _RUNNERS[key] = TrialRunner(job.settings, job.run_dir, job.data_dir, job.download, resources=resources)
    return _RUNNERS[key]


def release_runner(job: TrialJob) -> None:
    """Forgets this process's runner for ``job``'s configuration (frees its data and features)."""
    _RUNNERS.pop(_runner_key(job), None)


def run_job(job: TrialJob) -> TrialOutcome:
    """Entry point for executors: runs ``job`` with this process's runner for its configuration (the
    first job of a configuration in a process pays for the features, later ones reuse them)."""
    return prepare_runner(job).run(job)
