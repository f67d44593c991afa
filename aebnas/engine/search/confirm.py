"""Confirmation, the search's last stage: the best trials fine-tuned jointly from their search weights,
thresholds tuned on validation, test metrics measured from cached outputs and checked by real early-exit
inference."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch

from aebnas.datasets import DatasetSplits
from aebnas.engine.evaluation import CURVES, FrozenBackbone, TrainConfig, train_joint
from aebnas.engine.evaluation.training import full_outputs
from aebnas.engine.search.front import contributions, curve_points
from aebnas.engine.search.records import ConfirmedCandidate, RealInference, Trial
from aebnas.search_space import PathCosts, build


def top_trials(complete: Sequence[Trial], k: int, target_macs: float | None, ref_macs: float,
               ref_accuracy: float) -> list[Trial]:
    """The ``k`` best complete trials: by validation accuracy at the target if there is one, else by
    exclusive hypervolume contribution to the front (reference ``ref_macs``, ``ref_accuracy``)."""
    by_number = {t.number: t for t in complete}
    if target_macs is not None:
        scored = {n: t.metrics.accuracy_at_target for n, t in by_number.items()}
        scored = {n: s for n, s in scored.items() if s is not None}
    else:
        points = curve_points((t.number, t.arch_id, t.curve) for t in complete)
        scored = contributions(points, ref_macs, ref_accuracy)
    ranked = sorted(scored, key=lambda n: (-scored[n], n))
    return [by_number[n] for n in ranked[:k]]


def confirm_trial(trial: Trial, costs: PathCosts, data: DatasetSplits, weights: dict[str, torch.Tensor],
                  backbone: FrozenBackbone | None, train: TrainConfig, rule: str, curve_method: str,
                  target_macs: float | None, folder: Path, run_dir: Path) -> ConfirmedCandidate:
    """Fine-tunes ``trial``'s network (whose parts and paths cost ``costs``) jointly from its search ``weights`` (fast mode: its branches, with
    ``backbone``'s stages and head), tunes its thresholds on validation at the target (or the trial's MACs
    budget; at least the cheapest point of the new curve), and measures test. Saves ``model.pt`` and
    ``arch.json`` in ``folder`` (inside ``run_dir``)."""
    info = data.info
    model = build(trial.arch, info)
    if backbone is not None:
        model.stages.load_state_dict(backbone.model.stages.state_dict())
        model.head.load_state_dict(backbone.model.head.state_dict())
        model.branches.load_state_dict(weights)
    else:
        model.load_state_dict(weights)
    history = train_joint(model, data.train, info, train, desc="confirm")
    outputs = full_outputs(model, data, train.device)
    curve = CURVES.get(curve_method)(outputs.val, costs.paths, rule)
    macs_budget = target_macs if target_macs is not None else trial.macs_budget
    macs_budget = max(macs_budget, curve.avg_macs[0].item())
    tuned = curve.point_at(macs_budget)
    test = tuned.apply(outputs.test, costs.paths)
    preds, exits = model.cpu().eval().infer(data.test.x, tuned.thresholds, rule)
    real_accuracy = (preds == data.test.y).double().mean().item()
    real_fractions = torch.bincount(exits, minlength=trial.arch.num_exits).double() / len(exits)
    real_macs = float(real_fractions @ torch.tensor(costs.paths, dtype=torch.float64))
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), folder / "model.pt")
    (folder / "arch.json").write_text(trial.arch.to_json(indent=2))
    test_curve = tuple((p.avg_macs, p.accuracy) for p in (q.apply(outputs.test, costs.paths) for q in curve.points()))
    return ConfirmedCandidate(
        trial.arch_id, trial.number, macs_budget, tuned, test,
        RealInference(real_accuracy, real_macs, tuple(real_fractions.tolist())),
        verified=abs(real_accuracy - test.accuracy) < 1e-9 and abs(real_macs - test.avg_macs) <= 1e-6 * real_macs,
        val_curve=curve, test_curve=test_curve, path_macs=costs.paths, epochs=train.epochs,
        train_seconds=history.seconds, checkpoint=str((folder / "model.pt").relative_to(run_dir)))
