"""Training the trials of one search in one process (the driver, a pool process, a Dask worker): the
data and the frozen backbone are prepared on first use and kept for every later trial."""

from __future__ import annotations

import dataclasses
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from aebnas.datasets import DatasetSplits, load_dataset
from aebnas.engine.evaluation import FrozenBackbone, train_candidate
from aebnas.engine.evaluation.backbone import backbone_key
from aebnas.engine.execution.jobs import TrialJob, TrialOutcome, TrialSettings
from aebnas.exceptions import TrainingError


@dataclass(frozen=True)
class WorkerResources:
    """What the driver sends to each worker once, so that a worker needs neither the dataset files nor the
    run directory: the loaded splits and, in fast mode, the frozen backbone's trained weights with its
    content hash (a worker recomputes the stage features from them, once: they are far larger than the
    weights)."""

    data: DatasetSplits
    backbone_key: str | None = None
    backbone_state: dict[str, Tensor] | None = None


class TrialRunner:
    """Trains trials of one search; the dataset and the frozen backbone are prepared on first use and
    kept, so a worker pays for them once, not once per candidate.

    Args:
        settings: the search's trial settings.
        run_dir: the run directory (its ``backbones/`` cache is read and written by the driver only).
        data_dir, download: where the dataset files are (when ``data`` and ``resources`` give none).
        data: already loaded splits; resources: what the driver sent to this worker.
        holdout_size: the holdout split loaded with the data (the driver's confirmation uses it).
    """

    def __init__(self, settings: TrialSettings, run_dir: str | Path, data_dir: str | None = None,
                 download: bool = False, data: DatasetSplits | None = None,
                 resources: WorkerResources | None = None, holdout_size: int | None = None) -> None:
        self.settings = settings
        self._holdout_size = holdout_size
        self.run_dir = Path(run_dir)
        self._data_dir, self._download = data_dir, download
        if data is None and resources is not None and resources.data.info.name == settings.dataset:
            data = resources.data
        self._data = data
        self._backbone: FrozenBackbone | None = None
        self._shipped = resources

    @property
    def data(self) -> DatasetSplits:
        if self._data is None:
            s = self.settings
            self._data = load_dataset(s.dataset, self._data_dir, self._download, s.val_size, s.data_seed, s.max_train,
                                      self._holdout_size)
        return self._data

    def backbone(self, progress: bool = False) -> FrozenBackbone:
        """The run's frozen backbone: trained once and cached by content hash under RUN_DIR/backbones (on a
        worker: from the weights the driver sent, if they are this configuration's)."""
        if self._backbone is None:
            s = self.settings
            config = dataclasses.replace(s.backbone_train, progress=progress)
            key = backbone_key(self.data, s.backbone, s.options(), config)
            shipped = self._shipped
            if shipped is not None and shipped.backbone_state is not None and shipped.backbone_key == key:
                # weights sent by the driver: loaded through the same content-hash cache, from a private
                # temporary folder (a worker never writes to the run directory)
                with tempfile.TemporaryDirectory(prefix="aebnas-backbone-") as folder:
                    torch.save(shipped.backbone_state, Path(folder) / f"backbone-{key}.pt")
                    self._backbone = FrozenBackbone.prepare(self.data, s.backbone, s.options(), config, cache_dir=folder)
            else:
                self._backbone = FrozenBackbone.prepare(self.data, s.backbone, s.options(), config,
                                                        cache_dir=self.run_dir / "backbones")
        return self._backbone

    def prepare(self, progress: bool = False) -> None:
        """Trains (or loads) the frozen backbone in fast mode, before any worker needs it."""
        if self.settings.mode == "fast":
            self.backbone(progress)

    def resources(self) -> WorkerResources:
        """This runner's data and (fast mode) its backbone's weights, trained here first if not yet."""
        if self.settings.mode != "fast":
            return WorkerResources(self.data)
        backbone = self.backbone()
        state = {k: v.detach().cpu() for k, v in backbone.model.state_dict().items()}
        return WorkerResources(self.data, backbone.key, state)

    def serves(self, job: TrialJob) -> bool:
        """Whether ``job`` belongs to this runner's search (so its data and backbone serve it)."""
        return Path(job.run_dir) == self.run_dir and job.settings.same_trials(self.settings)

    def run(self, job: TrialJob) -> TrialOutcome:
        """Trains the job's architecture; a TrainingError becomes an outcome with ``error`` set."""
        s = job.settings
        start = time.perf_counter()
        try:
            result = train_candidate(job.arch, self.data, s.train, s.mode, self.backbone() if s.mode == "fast" else None,
                                     s.rule, s.curve_method, s.cost)
        except TrainingError as err:
            return TrialOutcome(job.number, time.perf_counter() - start, error=str(err))
        weights = (result.model.branches if s.mode == "fast" else result.model).state_dict()
        return TrialOutcome(job.number, result.train_seconds, result.outputs, weights, result.costs, result.curve)

