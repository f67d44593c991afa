"""What travels between the search and a worker: the settings every trial of a run shares, one trial's
job, and its outcome (with everything the worker computed, so the driver computes nothing again)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from torch import Tensor

from aebnas.engine.evaluation import CandidateOutputs, TradeoffCurve, TrainConfig
from aebnas.search_space import MACS, Architecture, CostModel, PathCosts


@dataclass(frozen=True)
class TrialSettings:
    """How every trial of one search is trained and measured (no store access, plain frozen data).

    Attributes:
        dataset, val_size, max_train, data_seed: which splits (``load_dataset``'s arguments).
        backbone, backbone_options: the registered backbone and its canonical options, as sorted
            (name, value) pairs.
        mode: ``fast`` (branches on the frozen backbone's cached features) or ``joint``.
        train: the candidates' training settings; backbone_train: the frozen backbone's (fast mode).
        rule: the exit rule; curve_method: how thresholds are searched (``fine`` or ``grid``).
        cost: what a path costs (exact MACs, or a latency table's milliseconds).
    """

    dataset: str
    val_size: int | None
    max_train: int | None
    data_seed: int
    backbone: str
    backbone_options: tuple[tuple[str, Any], ...]
    mode: str
    train: TrainConfig
    backbone_train: TrainConfig
    rule: str
    curve_method: str
    cost: CostModel = MACS

    @property
    def device(self) -> str:
        return self.train.device

    def options(self) -> dict[str, Any]:
        """The backbone options as a dict."""
        return dict(self.backbone_options)

    def on_device(self, device: str) -> "TrialSettings":
        """The same settings training on ``device``."""
        return dataclasses.replace(self, train=dataclasses.replace(self.train, device=device),
                                   backbone_train=dataclasses.replace(self.backbone_train, device=device))

    def same_trials(self, other: "TrialSettings") -> bool:
        """Whether ``other`` trains the same trials (it may differ only in the device)."""
        return self.on_device("cpu") == other.on_device("cpu")


@dataclass(frozen=True)
class TrialJob:
    """Everything a worker needs to train one trial."""

    number: int
    arch: Architecture
    settings: TrialSettings
    run_dir: str
    data_dir: str | None = None
    download: bool = False

    def on_worker_device(self, device: str = "cpu") -> "TrialJob":
        """The job as a worker runs it: device ``auto`` becomes ``device`` (the CPU: several workers on one
        machine would otherwise share one GPU); a configured device (``cuda``, ``cpu``) is kept."""
        if self.settings.device != "auto":
            return self
        return dataclasses.replace(self, settings=self.settings.on_device(device))


@dataclass(frozen=True)
class TrialOutcome:
    """What a worker sends back: the exit outputs, trained weights (branches only in fast mode), exact
    path costs and validation trade-off curve; or the error of a failed training. A look-up in a
    benchmark table sends no outputs or weights, but each exit's accuracy alone (`exits` each)."""

    number: int
    train_seconds: float
    outputs: CandidateOutputs | None = None
    weights: dict[str, Tensor] | None = None
    costs: PathCosts | None = None
    curve: TradeoffCurve | None = None
    error: str | None = None
    exit_accuracy_val: tuple[float, ...] = ()
    exit_accuracy_test: tuple[float, ...] = ()
