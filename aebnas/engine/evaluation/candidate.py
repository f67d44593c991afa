"""Turns an Architecture into measured numbers: train (fast or joint), cache per-exit outputs, path costs
(exact MACs, or a latency table's milliseconds), and the accuracy-vs-average-cost trade-off curve on
validation; save and reload them."""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from aebnas.datasets import DatasetSplits
from aebnas.engine.evaluation.backbone import FrozenBackbone
from aebnas.engine.evaluation.exits import cached_outputs, train_exits
from aebnas.engine.evaluation.outputs import CandidateOutputs
from aebnas.engine.evaluation.thresholds import CURVES, TradeoffCurve, TunedThresholds, tune
from aebnas.engine.evaluation.training import TrainConfig, TrainHistory, full_outputs, train_joint
from aebnas.exceptions import AebnasError
from aebnas.exit_rules import EXIT_RULES
from aebnas.search_space import MACS, Architecture, CostModel, EarlyExitNet, PathCosts, build

MODES = ("fast", "joint")


def check_mode(mode: str) -> str:
    """``mode`` if it is a training mode (``fast``, ``joint``); else a clear AebnasError."""
    if mode not in MODES:
        raise AebnasError(f"unknown training mode {mode!r}; allowed: {', '.join(MODES)}")
    return mode


@dataclass(frozen=True)
class TunedPair:
    """Thresholds tuned on validation (``val``) and the same thresholds measured on test (``test``)."""

    val: TunedThresholds
    test: TunedThresholds

    def to_dict(self) -> dict[str, Any]:
        return {"val": self.val.to_dict(), "test": self.test.to_dict()}


@dataclass(frozen=True)
class CandidateSummary:
    """What a trained candidate measured, as JSON-able numbers (one entry per exit, the final one last)."""

    arch_id: str
    mode: str
    rule: str
    path_macs: tuple[int, ...]
    branch_macs: tuple[int, ...]
    exit_accuracy_val: tuple[float, ...]
    exit_accuracy_test: tuple[float, ...]
    train_seconds: float
    eval_seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "CandidateSummary":
        return cls(**{f.name: tuple(d[f.name]) if isinstance(d[f.name], list) else d[f.name]
                      for f in dataclasses.fields(cls)})


@dataclass(frozen=True)
class CandidateResult:
    """A trained candidate: its model, cached outputs, exact costs and validation trade-off curve."""

    arch: Architecture
    model: EarlyExitNet
    outputs: CandidateOutputs
    costs: PathCosts
    curve: TradeoffCurve
    history: TrainHistory
    mode: str
    rule: str
    train_seconds: float
    eval_seconds: float

    def tune(self, target_macs: float, method: str = "fine", scoring: str = "constraint") -> TunedPair:
        """Thresholds tuned on validation for a target average MACs, and measured on test."""
        return tune_saved(self.outputs, self.costs, self.rule, target_macs, method, scoring)

    def summary(self) -> CandidateSummary:
        """Per-exit accuracy and cost, and the timings."""
        return CandidateSummary(
            self.arch.id, self.mode, self.rule, self.costs.paths, self.costs.branches,
            tuple(self.outputs.val.exit_accuracy().tolist()), tuple(self.outputs.test.exit_accuracy().tolist()),
            self.train_seconds, self.eval_seconds)


def tune_saved(outputs: CandidateOutputs, costs: PathCosts, rule: str, target_macs: float, method: str = "fine",
               scoring: str = "constraint") -> TunedPair:
    """Thresholds tuned on ``outputs.val`` for ``target_macs``, and measured on ``outputs.test``."""
    tuned = tune(outputs.val, costs.paths, target_macs, rule, method, scoring)
    return TunedPair(tuned, tuned.apply(outputs.test, costs.paths, rule))


def train_candidate(arch: Architecture, data: DatasetSplits, config: TrainConfig, mode: str = "fast",
                    backbone: FrozenBackbone | None = None, rule: str = "margin",
                    curve_method: str = "fine", cost: CostModel = MACS) -> CandidateResult:
    """Trains ``arch`` (fast: branches only on ``backbone``'s cached features; joint: everything),
    caches its val/test exit outputs and computes its path costs (``cost``: exact MACs by default) and
    validation trade-off curve (``curve_method``: ``fine`` thresholds, or the paper's ``grid``)."""
    check_mode(mode)
    EXIT_RULES.get(rule)
    make_curve = CURVES.get(curve_method)
    start = time.perf_counter()
    torch.manual_seed(config.seed)  # the branches' initial weights too depend only on the seed
    if mode == "fast":
        if backbone is None:
            raise AebnasError("fast mode needs a trained FrozenBackbone (FrozenBackbone.prepare)")
        model = backbone.exits_only_model(arch, data)
        history = train_exits(model, backbone, data, config)
        trained = time.perf_counter()
        outputs = cached_outputs(model, backbone, data, config.device)
    else:
        model = build(arch, data.info, pretrained=data)  # joint mode starts from the backbone's given weights
        history = train_joint(model, data.train, data.info, config)
        trained = time.perf_counter()
        outputs = full_outputs(model, data, config.device)
    costs = cost.paths(arch, data.info.input_shape, data.info.num_classes)
    curve = make_curve(outputs.val, costs.paths, rule)
    return CandidateResult(arch, model.cpu(), outputs, costs, curve, history, mode, rule,
                           trained - start, time.perf_counter() - trained)


def save_candidate(result: CandidateResult, out_dir: str | Path, extra: dict[str, Any] | None = None) -> Path:
    """Writes arch.json, model.pt (state dict), outputs.pt (val/test exit logits) and result.json
    (costs, curve, summary and ``extra``) into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "arch.json").write_text(result.arch.to_json(indent=2))
    torch.save(result.model.state_dict(), out / "model.pt")
    result.outputs.save(out / "outputs.pt")
    record = {"arch": result.arch.to_dict(), "costs": dataclasses.asdict(result.costs),
              "curve": result.curve.to_dict(), "summary": result.summary().to_dict(), **(extra or {})}
    (out / "result.json").write_text(json.dumps(record, indent=2))
    return out


@dataclass(frozen=True)
class SavedCandidate:
    """What ``save_candidate`` wrote, loaded back (enough to re-tune without retraining)."""

    arch: Architecture
    outputs: CandidateOutputs
    costs: PathCosts
    summary: CandidateSummary

    @property
    def rule(self) -> str:
        return self.summary.rule

    def tune(self, target_macs: float, method: str = "fine", scoring: str = "constraint") -> TunedPair:
        """Thresholds re-tuned on the saved validation outputs, and measured on the saved test outputs."""
        return tune_saved(self.outputs, self.costs, self.rule, target_macs, method, scoring)

    @classmethod
    def load(cls, out_dir: str | Path) -> "SavedCandidate":
        out = Path(out_dir)
        missing = [name for name in ("result.json", "outputs.pt") if not (out / name).is_file()]
        if missing:
            raise AebnasError(f"{out} is not a trained-candidate directory (missing {', '.join(missing)}); "
                              "create one with `aebnas train ... --out DIR`")
        try:
            record = json.loads((out / "result.json").read_text(encoding="utf-8"))
            costs = PathCosts(**{k: tuple(v) if isinstance(v, list) else v for k, v in record["costs"].items()})
            arch, summary = Architecture.from_dict(record["arch"]), CandidateSummary.from_dict(record["summary"])
        except (ValueError, KeyError, TypeError, AttributeError) as err:  # JSONDecodeError is a ValueError
            raise AebnasError(f"{out / 'result.json'} is not a result written by `aebnas train` ({type(err).__name__}: "
                              f"{err}); train the candidate again with --out {out}") from None
        try:
            outputs = CandidateOutputs.load(out / "outputs.pt")
        except Exception as err:  # noqa: BLE001  (torch.load raises many kinds on a damaged file)
            raise AebnasError(f"{out / 'outputs.pt'} cannot be read ({type(err).__name__}); train the candidate "
                              f"again with --out {out}") from None
        return cls(arch, outputs, costs, summary)
