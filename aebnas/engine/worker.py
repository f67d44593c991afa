"""Evaluating one trial anywhere (in the driver, a process pool, a Dask worker): a picklable job, its
outcome, and a runner that loads the data and the frozen backbone once per process and reuses them."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import Tensor

from aebnas.datasets import DatasetSplits, load_dataset
from aebnas.engine.candidate import train_candidate
from aebnas.engine.fast import FrozenBackbone
from aebnas.engine.outputs import CandidateOutputs
from aebnas.exceptions import TrainingError
from aebnas.search_space import Architecture


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


class TrialRunner:
    """Trains trials of one search configuration; the dataset and the frozen backbone are prepared on
    first use and kept, so a worker pays for them once, not once per candidate."""

    def __init__(self, settings: dict[str, Any], run_dir: str | Path, data_dir: str | None = None,
                 download: bool = False, data: DatasetSplits | None = None,
                 backbone: FrozenBackbone | None = None) -> None:
        from aebnas.engine.search import SearchConfig  # noqa: PLC0415  (search imports this module)

        self.config = SearchConfig(**settings)
        self.run_dir = Path(run_dir)
        self._data_dir, self._download = data_dir, download
        self._data, self._backbone = data, backbone

    @property
    def data(self) -> DatasetSplits:
        if self._data is None:
            c = self.config
            self._data = load_dataset(c.dataset, self._data_dir, self._download, c.val_size, c.seed, c.max_train)
        return self._data

    def backbone(self, progress: bool = False) -> FrozenBackbone:
        """The run's frozen backbone: trained once and cached by content hash under RUN_DIR/backbones."""
        if self._backbone is None:
            from aebnas.search_space import SearchSpace  # noqa: PLC0415

            c = self.config
            space = SearchSpace.for_dataset(self.data.info, c.space, backbone=c.backbone,
                                            backbone_options=c.backbone_options, max_exits=c.max_exits)
            self._backbone = FrozenBackbone.prepare(
                self.data, space.backbone, space.backbone_options,
                self.config.train_config(c.backbone_epochs, progress=progress), cache_dir=self.run_dir / "backbones")
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


def run_job(job: TrialJob) -> TrialOutcome:
    """Entry point for executors: runs ``job`` with this process's runner for its configuration."""
    key = (job.run_dir, repr(sorted(job.settings.items())), job.data_dir)
    if key not in _RUNNERS:
        _RUNNERS[key] = TrialRunner(job.settings, job.run_dir, job.data_dir, job.download)
    return _RUNNERS[key].run(job)
