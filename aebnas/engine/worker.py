"""Evaluating one trial anywhere (in the driver, a process pool, a Dask worker): a picklable job, its
outcome, and a runner that loads the data and the frozen backbone once per process and reuses them."""

from __future__ import annotations

import dataclasses
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from aebnas.datasets import DatasetSplits, load_dataset
from aebnas.engine.candidate import train_candidate
from aebnas.engine.fast import FrozenBackbone, backbone_key, data_tag
from aebnas.engine.outputs import CandidateOutputs
from aebnas.exceptions import TrainingError
from aebnas.search_space import Architecture
from aebnas.search_space.backbones import BACKBONES


@dataclass(frozen=True)
class TrialJob:
    """Everything a worker needs to train one trial: no store access, plain data only."""

    number: int
    arch_json: str
    settings: dict[str, Any]
    run_dir: str
    data_dir: str | None = None
    download: bool = False


@dataclass
class TrialOutcome:
    """What a worker sends back: cached exit outputs and trained weights (branches only in fast mode),
    or the error of a failed training."""

    number: int
    outputs: CandidateOutputs | None
    weights: dict[str, Tensor] | None
    train_seconds: float
    error: str | None = None


@dataclass(frozen=True)
class WorkerResources:
    """What the driver sends to each worker once, so that a worker needs neither the dataset files nor the
    run directory: the loaded splits and, in fast mode, the frozen backbone's trained weights with its
    content hash (a worker recomputes the stage features from them, once: they are far larger than the
    weights)."""

    data: DatasetSplits
    backbone_key: str | None = None
    backbone_state: dict[str, Tensor] | None = None

    @classmethod
    def from_runner(cls, runner: "TrialRunner") -> "WorkerResources":
        """The runner's data and (fast mode) its backbone, trained here first if not yet."""
        if runner.config.mode != "fast":
            return cls(runner.data)
        backbone = runner.backbone()
        state = {k: v.detach().cpu() for k, v in backbone.model.state_dict().items()}
        return cls(runner.data, backbone.key, state)


class TrialRunner:
    """Trains trials of one search configuration; the dataset and the frozen backbone are prepared on
    first use and kept, so a worker pays for them once, not once per candidate."""

    def __init__(self, settings: dict[str, Any], run_dir: str | Path, data_dir: str | None = None,
                 download: bool = False, data: DatasetSplits | None = None,
                 backbone: FrozenBackbone | None = None, resources: WorkerResources | None = None) -> None:
        from aebnas.engine.search import SearchConfig  # noqa: PLC0415  (search imports this module)

        self.config = SearchConfig(**settings)
        self.run_dir = Path(run_dir)
        self._data_dir, self._download = data_dir, download
        if data is None and resources is not None and resources.data.info.name == self.config.dataset:
            data = resources.data
        self._data, self._backbone = data, backbone
        self._shipped = resources

    @property
    def data(self) -> DatasetSplits:
        if self._data is None:
            c = self.config
            self._data = load_dataset(c.dataset, self._data_dir, self._download, c.val_size, c.seed, c.max_train)
        return self._data

    def backbone(self, progress: bool = False) -> FrozenBackbone:
        """The run's frozen backbone: trained once and cached by content hash under RUN_DIR/backbones (on a
        worker: from the weights the driver sent, if they are this configuration's)."""
        if self._backbone is None:
            from aebnas.search_space import SearchSpace  # noqa: PLC0415

            c = self.config
            space = SearchSpace.for_dataset(self.data.info, c.space, backbone=c.backbone,
                                            backbone_options=c.backbone_options, max_exits=c.max_exits)
            config = self.config.train_config(c.backbone_epochs, progress=progress)
            shipped = self._shipped
            key = backbone_key(self.data, space.backbone, BACKBONES.get(space.backbone).canonical_options(
                space.backbone_options), config, data_tag(self.data))
            if shipped is not None and shipped.backbone_state is not None and shipped.backbone_key == key:
                # weights sent by the driver: loaded through the same content-hash cache, from a private
                # temporary folder (a worker never writes to the run directory)
                with tempfile.TemporaryDirectory(prefix="aebnas-backbone-") as folder:
                    torch.save(shipped.backbone_state, Path(folder) / f"backbone-{key}.pt")
                    self._backbone = FrozenBackbone.prepare(self.data, space.backbone, space.backbone_options,
                                                            config, cache_dir=folder)
            else:
                self._backbone = FrozenBackbone.prepare(self.data, space.backbone, space.backbone_options,
                                                        config, cache_dir=self.run_dir / "backbones")
        return self._backbone

    def run(self, job: TrialJob) -> TrialOutcome:
        """Trains the job's architecture; a TrainingError becomes an outcome with ``error`` set."""
        c = self.config
        start = time.perf_counter()
        try:
            result = train_candidate(Architecture.from_json(job.arch_json), self.data, c.train_config(), c.mode,
                                     self.backbone() if c.mode == "fast" else None, c.rule)
        except TrainingError as err:
            return TrialOutcome(job.number, None, None, time.perf_counter() - start, str(err))
        weights = (result.model.branches if c.mode == "fast" else result.model).state_dict()
        return TrialOutcome(job.number, result.outputs, weights, result.train_seconds)


_RUNNERS: dict[tuple, TrialRunner] = {}


def _runner_key(job: TrialJob) -> tuple:
    return job.run_dir, repr(sorted(job.settings.items())), job.data_dir


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


def same_run(job: TrialJob, runner: TrialRunner) -> bool:
    """Whether ``job`` belongs to ``runner``'s search (so the runner's data and backbone serve it)."""
    settings = {k: v for k, v in job.settings.items() if k != "device"}
    ours = {k: v for k, v in runner.config.identity().items() if k != "device"}
    return Path(job.run_dir) == runner.run_dir and settings == ours


def on_worker_device(job: TrialJob, device: str = "cpu") -> TrialJob:
    """``job`` as a worker runs it: device ``auto`` becomes ``device`` (the CPU: several workers on one
    machine would otherwise share one GPU); a configured device (``cuda``, ``cpu``) is kept."""
    if job.settings.get("device", "auto") != "auto":
        return job
    return dataclasses.replace(job, settings={**job.settings, "device": device})


def available_cores() -> int:
    """CPU cores this process may use (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def set_torch_threads(threads: int) -> None:
    """Sets torch's intra-op threads (only when it changes: the call is not free)."""
    threads = max(1, int(threads))
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
