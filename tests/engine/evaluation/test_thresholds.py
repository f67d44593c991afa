"""Tests of exit-threshold evaluation, the trade-off curve and threshold tuning on synthetic exit outputs."""

from __future__ import annotations

import json
import math

import pytest
import torch

from aebnas.engine.evaluation import thresholds as th
from aebnas.engine.evaluation.outputs import ExitOutputs
from aebnas.engine.evaluation.thresholds import (
    TradeoffCurve,
    TunedThresholds,
    evaluate_scores,
    evaluate_thresholds,
    paper_grid,
    paper_score,
    tradeoff_curve,
    tune,
)
from aebnas.exceptions import AebnasError, UnreachableTargetError
from aebnas.exit_rules import EXIT_RULES

RULES = EXIT_RULES.names()


def synthetic_outputs(n: int, exit_accuracy: list[float], classes: int = 10, seed: int = 0) -> ExitOutputs:
    """Logits `n x exits x classes` whose exits get more accurate and whose confident samples are more
    often right: a shared per-sample difficulty decides correctness, the distance to the exit's
    accuracy boundary decides confidence, lower when wrong (margin AUROC about 0.86-0.93)."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(classes, (n,), generator=g)
    difficulty = torch.rand(n, generator=g)
    logits = []
    for accuracy in exit_accuracy:
        noisy = difficulty + 0.15 * torch.randn(n, generator=g)
        boundary = noisy.quantile(accuracy)
        right = noisy < boundary
        wrong_class = (labels + torch.randint(1, classes, (n,), generator=g)) % classes
        target = torch.where(right, labels, wrong_class)
        strength = 2.5 + 10.0 * (boundary - noisy).abs() * torch.where(right, 1.0, 0.25)
        one_hot = torch.nn.functional.one_hot(target, classes)
        logits.append(torch.randn(n, classes, generator=g) + strength.unsqueeze(1) * one_hot)
    return ExitOutputs(torch.stack(logits, dim=1), labels)


COSTS = [10.0, 25.0, 45.0, 70.0]
OUT = synthetic_outputs(2000, [0.6, 0.7, 0.8, 0.9], seed=1)


@pytest.fixture(scope="module")
def curve() -> TradeoffCurve:
    return tradeoff_curve(OUT, COSTS)


def naive(scores, correct, costs, t):
    """Per-sample reference: (accuracy, fractions, avg MACs) of one threshold vector."""
    n, exits = scores.shape
    hits, counts = 0, [0] * exits
    for i in range(n):
        e = next((k for k in range(exits - 1) if scores[i, k].item() >= t[k].item()), exits - 1)
        counts[e] += 1
        hits += int(correct[i, e])
    return hits / n, [c / n for c in counts], sum(c / n * cost for c, cost in zip(counts, costs))


@pytest.mark.parametrize("rule", RULES)
def test_evaluate_matches_per_sample_reference(rule):
    out = synthetic_outputs(80, [0.5, 0.6, 0.7, 0.8], seed=2)
    scores, correct = out.scores(rule), out.correct()
    g = torch.Generator().manual_seed(3)
    t = torch.rand(25, 3, generator=g)
    t[torch.rand(25, 3, generator=g) < 0.3] = math.inf
    t[0] = scores[5, :3]  # thresholds equal to a score: that sample leaves (>=)
    metrics = evaluate_thresholds(out, COSTS, t, rule)
    for row in range(len(t)):
        acc, fractions, macs = naive(scores, correct, COSTS, t[row])
        assert metrics.accuracy[row].item() == pytest.approx(acc)
        assert metrics.exit_fractions[row].tolist() == pytest.approx(fractions)
        assert metrics.avg_macs[row].item() == pytest.approx(macs)


def test_extreme_thresholds():
    metrics = evaluate_thresholds(OUT, COSTS, torch.tensor([[math.inf] * 3, [-math.inf] * 3]))
    correct = OUT.correct().float().mean(dim=0)
    assert metrics.avg_macs.tolist() == [COSTS[-1], COSTS[0]]
    assert metrics.exit_fractions.tolist() == [[0, 0, 0, 1], [1, 0, 0, 0]]
    assert metrics.accuracy.tolist() == pytest.approx([correct[-1].item(), correct[0].item()])
    single = evaluate_thresholds(OUT, COSTS, torch.full((3,), math.inf))  # a lone vector: m = 1
    assert len(single) == 1 and single.avg_macs.item() == COSTS[-1]


def test_chunked_evaluation_equals_unchunked(monkeypatch):
    t = torch.rand(50, 3, generator=torch.Generator().manual_seed(4))
    whole = evaluate_thresholds(OUT, COSTS, t)
    monkeypatch.setattr(th, "_CHUNK_ELEMENTS", 3 * 2000 * 4)
    chunked = evaluate_thresholds(OUT, COSTS, t)
    assert torch.equal(whole.accuracy, chunked.accuracy) and torch.equal(whole.avg_macs, chunked.avg_macs)


def test_bad_shapes_raise():
    with pytest.raises(AebnasError, match="one per exit"):
        evaluate_thresholds(OUT, COSTS[:3], torch.zeros(3))
    with pytest.raises(AebnasError, match="one per early exit"):
        evaluate_thresholds(OUT, COSTS, torch.zeros(2, 4))


def test_one_exit_profile_matches_direct_evaluation():
    scores, correct = OUT.scores(), OUT.correct()
    sweeper = th._Sweeper(scores, correct, torch.tensor(COSTS, dtype=torch.float64), num_quantiles=16)
    base = torch.tensor([0.5, math.inf, 0.3])
    for k in range(3):
        profile = sweeper.profile(base, k)
        direct = evaluate_scores(scores, correct, COSTS, profile.thresholds)
        assert torch.equal(profile.accuracy, direct.accuracy)
        assert torch.equal(profile.exit_fractions, direct.exit_fractions)
        assert torch.equal(profile.avg_macs, direct.avg_macs)


def test_paper_grid():
    grid = paper_grid(2)
    assert grid.shape == (9, 2)
    assert sorted(set(grid.flatten().tolist())) == pytest.approx([0.1, 0.2, math.inf])
    assert grid.unique(dim=0).shape == (9, 2)
    assert paper_grid(4).shape == (81, 4)
    with pytest.raises(AebnasError):
        paper_grid(0)


def test_curve_is_sorted_pareto_and_exact(curve):
    assert len(curve) > 20
    assert (curve.avg_macs.diff() > 0).all() and (curve.accuracy.diff() > 0).all()
    assert curve.avg_macs[0].item() == COSTS[0]  # everyone leaving at exit 0 is on it
    again = evaluate_thresholds(OUT, COSTS, curve.thresholds)
    assert torch.equal(again.accuracy, curve.accuracy) and torch.equal(again.avg_macs, curve.avg_macs)


@pytest.mark.parametrize("rule", RULES)
def test_curve_contains_or_dominates_paper_grid(rule):
    curve = tradeoff_curve(OUT, COSTS, rule, num_quantiles=16)
    grid = evaluate_thresholds(OUT, COSTS, paper_grid(3), rule)
    dominated = (curve.avg_macs.unsqueeze(1) <= grid.avg_macs) & (curve.accuracy.unsqueeze(1) >= grid.accuracy)
    assert dominated.any(dim=0).all()


def test_accuracy_at(curve):
    budgets = torch.linspace(0, COSTS[-1] * 1.1, 40, dtype=torch.float64)
    got = curve.accuracy_at(budgets)
    for budget, acc in zip(budgets, got):
        ok = curve.avg_macs <= budget
        assert math.isnan(acc) if not ok.any() else acc == curve.accuracy[ok].max()
    assert math.isnan(curve.accuracy_at(COSTS[0] - 1))
    assert isinstance(curve.accuracy_at(40.0), float)
    assert curve.point_at(40.0).accuracy == curve.accuracy_at(40.0)
    with pytest.raises(UnreachableTargetError):
        curve.point_at(5.0)


def test_curve_round_trips_through_strict_json(curve):
    text = json.dumps(curve.to_dict(), allow_nan=False)
    back = TradeoffCurve.from_dict(json.loads(text))
    assert torch.equal(back.thresholds, curve.thresholds) and torch.equal(back.avg_macs, curve.avg_macs)
    assert torch.equal(back.accuracy, curve.accuracy) and back.rule == curve.rule


TARGETS = [10.0, 14.0, 20.0, 28.0, 35.0, 42.0, 50.0, 60.0, 70.0, 80.0]


def test_tune_meets_targets_and_beats_grid(curve):
    for target in TARGETS:
        fine = tune(OUT, COSTS, target)
        assert fine.avg_macs <= target
        assert fine.accuracy >= curve.accuracy_at(target)  # ascent starts from the curve's best point
        try:
            grid = tune(OUT, COSTS, target, method="grid")
        except UnreachableTargetError:
            continue
        assert grid.avg_macs <= target and fine.accuracy >= grid.accuracy
    assert tune(OUT, COSTS, 40.0).accuracy > tune(OUT, COSTS, 40.0, method="grid").accuracy  # strictly, here


def test_unreachable_and_unknown_options():
    with pytest.raises(UnreachableTargetError, match=r"9.5 average MACs .* minimum reachable average is 10 MACs"):
        tune(OUT, COSTS, 9.5)
    with pytest.raises(UnreachableTargetError, match="grid"):
        tune(OUT, COSTS, 10.0, method="grid")  # reachable, but not by the 0.1 / 0.2 / never grid
    with pytest.raises(AebnasError, match="fine, grid"):
        tune(OUT, COSTS, 40.0, method="exhaustive")
    with pytest.raises(AebnasError, match="constraint, paper"):
        tune(OUT, COSTS, 40.0, scoring="pareto")


def test_paper_scoring():
    target = 30.0
    grid_points = evaluate_thresholds(OUT, COSTS, paper_grid(3))
    best_grid = grid_points.paper_score(target).max().item()
    grid = tune(OUT, COSTS, target, method="grid", scoring="paper")

    def score(tuned: TunedThresholds) -> float:
        as64 = lambda x: torch.tensor(x, dtype=torch.float64)  # noqa: E731
        return paper_score(as64(tuned.accuracy), as64(tuned.avg_macs), target).item()

    assert score(grid) == best_grid
    fine = tune(OUT, COSTS, target, scoring="paper")
    fine_score = score(fine)
    curve = tradeoff_curve(OUT, COSTS)
    assert fine_score >= best_grid
    assert fine_score >= paper_score(curve.accuracy, curve.avg_macs, target).max().item()
    assert paper_score(torch.tensor(0.9), torch.tensor(33.0), 30.0).item() == pytest.approx(90.0 - 1.0)


def test_tuned_apply_reproduces_and_transfers():
    tuned = tune(OUT, COSTS, 40.0, rule="entropy")
    same = tuned.apply(OUT, COSTS)
    assert same.accuracy == tuned.accuracy and same.avg_macs == tuned.avg_macs and same.rule == "entropy"
    assert torch.equal(same.exit_fractions, tuned.exit_fractions)
    test = tuned.apply(synthetic_outputs(1000, [0.6, 0.7, 0.8, 0.9], seed=9), COSTS)
    assert 0 < test.accuracy < 1 and COSTS[0] <= test.avg_macs <= COSTS[-1]
    back = TunedThresholds.from_dict(json.loads(json.dumps(tuned.to_dict(), allow_nan=False)))
    assert torch.equal(back.thresholds, tuned.thresholds)
    assert torch.equal(back.exit_fractions, tuned.exit_fractions)
    assert (back.accuracy, back.avg_macs, back.rule) == (tuned.accuracy, tuned.avg_macs, tuned.rule)


def test_single_early_exit_curve_is_exact_pareto_of_all_candidates():
    out = synthetic_outputs(500, [0.7, 0.9], seed=5)
    curve = tradeoff_curve(out, [1.0, 3.0], num_quantiles=2000)  # every score a candidate
    every = evaluate_thresholds(out, [1.0, 3.0], out.scores()[:, :1])  # a threshold at each sample's score
    for macs, acc in zip(every.avg_macs, every.accuracy):
        assert curve.accuracy_at(macs.item()) >= acc.item()
    assert tune(out, [1.0, 3.0], 2.0, num_quantiles=2000).accuracy == curve.accuracy_at(2.0)
