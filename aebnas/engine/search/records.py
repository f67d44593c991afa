"""What a run stores, as frozen records: trials with their states, predictions and metrics, and the
confirmed candidates. The SQLite store (:mod:`aebnas.engine.search.store`) reads and writes them."""

from __future__ import annotations

import dataclasses
import enum
import math
from dataclasses import dataclass, field
from typing import Any

from aebnas.engine.evaluation import TradeoffCurve, TunedThresholds
from aebnas.search_space import Architecture


class TrialState(str, enum.Enum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETE = "complete"
    FAILED = "failed"


def _finite(value: float | None) -> float | None:
    """None for a missing or NaN value (e.g. accuracy below a curve's cheapest point), else a float."""
    return None if value is None or math.isnan(value) else float(value)


@dataclass(frozen=True)
class Prediction:
    """A predictor's accuracy at a proposal's MACs budget: mean and standard deviation."""

    mean: float
    std: float

    def to_dict(self) -> dict[str, float]:
        return {"mean": self.mean, "std": self.std}

    @classmethod
    def from_dict(cls, d: dict[str, float]) -> "Prediction":
        return cls(float(d["mean"]), float(d["std"]))


@dataclass(frozen=True)
class TrialMetrics:
    """A complete trial's measurements on top of its curve (accuracies in [0, 1]; None where undefined).

    Attributes:
        exit_accuracy_val, exit_accuracy_test: `exits` accuracy of each exit taken alone.
        accuracy_at_macs_budget: validation accuracy at the trial's proposed MACs budget.
        accuracy_at_target: validation accuracy at the run's target MACs (if it has one).
    """

    exit_accuracy_val: tuple[float, ...] = ()
    exit_accuracy_test: tuple[float, ...] = ()
    accuracy_at_macs_budget: float | None = None
    accuracy_at_target: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "accuracy_at_macs_budget", _finite(self.accuracy_at_macs_budget))
        object.__setattr__(self, "accuracy_at_target", _finite(self.accuracy_at_target))
        object.__setattr__(self, "exit_accuracy_val", tuple(self.exit_accuracy_val))
        object.__setattr__(self, "exit_accuracy_test", tuple(self.exit_accuracy_test))

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrialMetrics":
        return cls(**{f.name: d[f.name] for f in dataclasses.fields(cls) if f.name in d})


@dataclass(frozen=True)
class Trial:
    """One candidate of a run, as stored."""

    number: int
    arch: Architecture
    state: TrialState
    source: str
    macs_budget: float | None
    seed: int
    predicted: Prediction | None = None
    path_macs: tuple[int, ...] | None = None
    metrics: TrialMetrics = field(default_factory=TrialMetrics)
    curve: TradeoffCurve | None = None
    outputs_path: str | None = None
    checkpoint_path: str | None = None
    error: str | None = None
    attempts: int = 0
    created: float = 0.0
    started: float | None = None
    finished: float | None = None
    train_seconds: float | None = None

    @property
    def arch_id(self) -> str:
        return self.arch.id


@dataclass(frozen=True)
class RealInference:
    """Test metrics of real early-exit inference (``EarlyExitNet.infer``) with the tuned thresholds."""

    accuracy: float
    avg_macs: float
    exit_fractions: tuple[float, ...]


@dataclass(frozen=True)
class ConfirmedCandidate:
    """A top trial fine-tuned jointly, its thresholds tuned at ``macs_budget`` on the split ``tuned_on``
    (``validation``, or ``holdout``: images the search never saw), and measured on test both from cached
    outputs (``test``) and by real early-exit inference (``real_inference``).

    Attributes:
        val: the tuned point on the ``tuned_on`` split.
        verified: the two test measurements agree (accuracy exactly, average MACs to 1e-6).
        over_budget: the test average MACs exceed the MACs budget tuned for.
        val_curve: the fine-tuned network's curve on the ``tuned_on`` split; test_curve: each of its points
            on test, as `k` (average MACs, accuracy) pairs.
    """

    arch_id: str
    trial_number: int
    macs_budget: float
    val: TunedThresholds
    test: TunedThresholds
    real_inference: RealInference
    verified: bool
    val_curve: TradeoffCurve
    test_curve: tuple[tuple[float, float], ...]
    path_macs: tuple[int, ...]
    epochs: int
    train_seconds: float
    checkpoint: str
    tuned_on: str = "validation"

    @property
    def over_budget(self) -> bool:
        return self.test.avg_macs > self.macs_budget

    def to_dict(self) -> dict[str, Any]:
        return {
            "arch_id": self.arch_id, "trial_number": self.trial_number, "macs_budget": self.macs_budget,
            "val": self.val.to_dict(), "test": self.test.to_dict(),
            "real_inference": {**dataclasses.asdict(self.real_inference),
                               "exit_fractions": list(self.real_inference.exit_fractions)},
            "verified": self.verified, "over_budget": self.over_budget, "val_curve": self.val_curve.to_dict(),
            "test_curve": {"avg_macs": [m for m, _ in self.test_curve], "accuracy": [a for _, a in self.test_curve]},
            "path_macs": list(self.path_macs), "epochs": self.epochs, "train_seconds": self.train_seconds,
            "checkpoint": self.checkpoint, "tuned_on": self.tuned_on,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ConfirmedCandidate":
        real = d["real_inference"]
        return cls(
            d["arch_id"], int(d["trial_number"]), float(d["macs_budget"]), TunedThresholds.from_dict(d["val"]),
            TunedThresholds.from_dict(d["test"]),
            RealInference(float(real["accuracy"]), float(real["avg_macs"]), tuple(real["exit_fractions"])),
            bool(d["verified"]), TradeoffCurve.from_dict(d["val_curve"]),
            tuple(zip(d["test_curve"]["avg_macs"], d["test_curve"]["accuracy"])), tuple(d["path_macs"]),
            int(d["epochs"]), float(d["train_seconds"]), d["checkpoint"], d.get("tuned_on", "validation"))

