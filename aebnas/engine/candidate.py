"""Turns an Architecture into measured numbers: train (fast or joint), cache per-exit outputs,
exact path costs, and the accuracy-vs-average-MACs trade-off curve on validation."""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from aebnas.datasets import DatasetSplits
from aebnas.engine.fast import FrozenBackbone, cached_outputs, full_outputs, train_exits
from aebnas.engine.macs import PathCosts, path_costs
from aebnas.engine.outputs import CandidateOutputs
from aebnas.engine.thresholds import TradeoffCurve, TunedThresholds, tradeoff_curve, tune
from aebnas.engine.training import TrainConfig, TrainHistory, train_joint
from aebnas.exceptions import AebnasError
from aebnas.search_space import Architecture, EarlyExitNet, build

MODES = ("fast", "joint")


@dataclass
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

    def tune(self, target_macs: float, method: str = "fine", scoring: str = "constraint") -> TunedThresholds:
        """Thresholds tuned on validation for a target average MACs."""
        return tune(self.outputs.val, self.costs.paths, target_macs, self.rule, method, scoring)

    def summary(self, tuned: TunedThresholds | None = None) -> dict[str, Any]:
        """JSON-able numbers: per-exit accuracy and cost, and (if given) tuned val/test metrics."""
        out = {
            "arch_id": self.arch.id, "mode": self.mode, "rule": self.rule,
            "path_macs": list(self.costs.paths), "branch_macs": list(self.costs.branches),
            "exit_accuracy_val": self.outputs.val.exit_accuracy().tolist(),
            "exit_accuracy_test": self.outputs.test.exit_accuracy().tolist(),
            "train_seconds": self.train_seconds, "eval_seconds": self.eval_seconds,
        }
        if tuned is not None:
            out["tuned"] = {"val": tuned.to_dict(),
                            "test": tuned.apply(self.outputs.test, self.costs.paths, self.rule).to_dict()}
        return out


def train_candidate(arch: Architecture, data: DatasetSplits, config: TrainConfig, mode: str = "fast",
                    backbone: FrozenBackbone | None = None, rule: str = "margin") -> CandidateResult:
    """Trains ``arch`` (fast: branches only on ``backbone``'s cached features; joint: everything),
    caches its val/test exit outputs and computes its exact costs and validation trade-off curve."""
    if mode not in MODES:
        raise AebnasError(f"unknown training mode {mode!r}; allowed: {', '.join(MODES)}")
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
        model = build(arch, data.info)
        history = train_joint(model, data.train, data.info, config)
        trained = time.perf_counter()
        outputs = full_outputs(model, data, config.device)
    costs = path_costs(arch, data.info.input_shape, data.info.num_classes)
    curve = tradeoff_curve(outputs.val, costs.paths, rule)
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
              "curve": result.curve.to_dict(), "summary": result.summary(), **(extra or {})}
    (out / "result.json").write_text(json.dumps(record, indent=2))
    return out


@dataclass(frozen=True)
class SavedCandidate:
    """What ``save_candidate`` wrote, loaded back (enough to re-tune without retraining)."""

    arch: Architecture
    outputs: CandidateOutputs
    costs: PathCosts
    rule: str
    record: dict[str, Any]

    @classmethod
    def load(cls, out_dir: str | Path) -> "SavedCandidate":
        out = Path(out_dir)
        missing = [name for name in ("result.json", "outputs.pt") if not (out / name).is_file()]
        if missing:
            raise AebnasError(f"{out} is not a trained-candidate directory (missing {', '.join(missing)}); "
                              "create one with `aebnas train ... --out DIR`")
        record = json.loads((out / "result.json").read_text())
        costs = PathCosts(**{k: tuple(v) if isinstance(v, list) else v for k, v in record["costs"].items()})
        return cls(Architecture.from_dict(record["arch"]), CandidateOutputs.load(out / "outputs.pt"), costs,
                   record["summary"]["rule"], record)
