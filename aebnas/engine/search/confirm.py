"""Confirmation, the search's last stage: the best trials fine-tuned jointly from their search weights,
thresholds tuned on validation (or on a holdout split the search never saw), test metrics measured from
cached outputs and checked by real early-exit inference."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import torch
from torch import nn

from aebnas.datasets import DatasetSplits, Split
from aebnas.engine.evaluation import CURVES, ExitOutputs, FrozenBackbone, TradeoffCurve, TrainConfig, train_joint
from aebnas.engine.evaluation.training import full_outputs, predict_logits
from aebnas.engine.search.front import FrontPoint, LabelledCurve, curve_points, hypervolume
from aebnas.engine.search.records import ConfirmedCandidate, RealInference, Trial
from aebnas.search_space import EarlyExitNet, PathCosts, build


def confirmation_order(curves: Sequence[LabelledCurve], m: int, target_macs: float | None, ref_macs: float,
                       ref_accuracy: float) -> list[int]:
    """The first ``m`` trial numbers, of the trials whose ``curves`` are given, that confirmation takes.

    With a target, the most accurate network at the target comes first (the one a user deploys). Then,
    greedily, the trial whose curve adds the most hypervolume (reference ``ref_macs``, ``ref_accuracy``) to
    the curves already taken, so that the confirmed set spans the front instead of crowding one point of
    it; ties (and trials adding nothing) go by accuracy at the target, the curve's own hypervolume, then
    the lower trial number."""
    own = {n: curve_points([(n, a, c)], ref_macs) for n, a, c in curves}
    own_hv = {n: hypervolume(p, ref_macs, ref_accuracy) for n, p in own.items()}
    at_target = {n: -math.inf for n in own}
    if target_macs is not None:
        at_target.update({n: c.accuracy_at(target_macs) for n, _, c in curves})
        at_target = {n: -math.inf if math.isnan(v) else v for n, v in at_target.items()}
    order: list[int] = []
    taken: list[FrontPoint] = []
    if target_macs is not None and own:
        first = max(own, key=lambda n: (at_target[n], own_hv[n], -n))
        if at_target[first] > -math.inf:
            order, taken = [first], list(own[first])
    while len(order) < min(m, len(own)):
        base = hypervolume(taken, ref_macs, ref_accuracy)
        rest = [n for n in own if n not in order]
        gain = {n: hypervolume(taken + own[n], ref_macs, ref_accuracy) - base for n in rest}
        best = max(rest, key=lambda n: (gain[n], at_target[n], own_hv[n], -n))
        order.append(best)
        taken += own[best]
    return order


def top_trials(complete: Sequence[Trial], k: int, target_macs: float | None, ref_macs: float,
               ref_accuracy: float) -> list[Trial]:
    """The ``k`` complete trials confirmation takes, by their validation curves (:func:`confirmation_order`)."""
    by_number = {t.number: t for t in complete}
    order = confirmation_order([(t.number, t.arch_id, t.curve) for t in complete if t.curve is not None], k,
                               target_macs, ref_macs, ref_accuracy)
    return [by_number[n] for n in order]


def search_network(trial: Trial, info, weights: dict[str, torch.Tensor], backbone: FrozenBackbone | None) -> EarlyExitNet:
    """``trial``'s whole network with its search ``weights`` (fast mode: its branches, with ``backbone``'s
    stages and head)."""
    model = build(trial.arch, info)
    if backbone is not None:
        model.stages.load_state_dict(backbone.model.stages.state_dict())
        model.head.load_state_dict(backbone.model.head.state_dict())
        model.branches.load_state_dict(weights)
    else:
        model.load_state_dict(weights)
    return model


def split_curve(model: nn.Module, split: Split, costs: PathCosts, rule: str, curve_method: str,
                device: str) -> TradeoffCurve:
    """``model``'s trade-off curve on ``split`` (its paths cost ``costs``)."""
    outputs = ExitOutputs(predict_logits(model, split.x, device), split.y)
    return CURVES.get(curve_method)(outputs, costs.paths, rule)


def confirm_trial(trial: Trial, costs: PathCosts, data: DatasetSplits, weights: dict[str, torch.Tensor],
                  backbone: FrozenBackbone | None, train: TrainConfig, rule: str, curve_method: str,
                  target_macs: float | None, folder: Path, run_dir: Path) -> ConfirmedCandidate:
    """Fine-tunes ``trial``'s network (whose parts and paths cost ``costs``) jointly from its search
    ``weights`` (:func:`search_network`) on ``data``'s train split, then measures it
    (:func:`measure_confirmed`)."""
    model = search_network(trial, data.info, weights, backbone)
    history = train_joint(model, data.train, data.info, train, desc="confirm")
    return measure_confirmed(trial, model, costs, data, rule, curve_method, target_macs, train, history.seconds,
                             folder, run_dir)


def measure_confirmed(trial: Trial, model: EarlyExitNet, costs: PathCosts, data: DatasetSplits, rule: str,
                      curve_method: str, target_macs: float | None, train: TrainConfig, train_seconds: float,
                      folder: Path, run_dir: Path) -> ConfirmedCandidate:
    """Tunes the fine-tuned ``model``'s thresholds at the target (or ``trial``'s MACs budget; at least the
    cheapest point of its curve) on ``data``'s holdout split if it has one, else on validation, and
    measures test, from cached outputs and by real early-exit inference. Saves ``model.pt`` and
    ``arch.json`` in ``folder`` (inside ``run_dir``)."""
    outputs = full_outputs(model, data, train.device)
    if data.holdout is None:
        curve = CURVES.get(curve_method)(outputs.val, costs.paths, rule)
    else:
        curve = split_curve(model, data.holdout, costs, rule, curve_method, train.device)
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
        train_seconds=train_seconds, checkpoint=str((folder / "model.pt").relative_to(run_dir)),
        tuned_on="validation" if data.holdout is None else "holdout")
