"""Benchmark of threshold tuning: time of a full trade-off curve (4 early exits, 10,000 samples) and,
over a sweep of MACs targets, the validation accuracy of fine tuning vs the paper's 3-value grid, with an
exhaustive search over the same per-exit candidates as a reference. Run: python benchmarks/bench_thresholds.py"""

from __future__ import annotations

import itertools
import os
import statistics
import time

import torch

from aebnas.engine.evaluation.outputs import ExitOutputs
from aebnas.engine.evaluation.thresholds import _Sweeper, evaluate_thresholds, tradeoff_curve, tune
from aebnas.exceptions import UnreachableTargetError

EXIT_ACCURACY = [0.6, 0.7, 0.8, 0.85, 0.9]
COSTS = [3.1e6, 6.8e6, 11.9e6, 17.4e6, 24.0e6]  # cumulative path MACs of leaving at each exit


def synthetic_outputs(n: int, exit_accuracy: list[float], classes: int = 10, seed: int = 0) -> ExitOutputs:
    """Exits growing more accurate; a shared per-sample difficulty decides correctness and the distance
    to each exit's accuracy boundary its confidence, lower when wrong (margin AUROC about 0.86-0.93).
    The same generator as tests/engine/evaluation/test_thresholds.py."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(classes, (n,), generator=g)
    difficulty = torch.rand(n, generator=g)
    logits = []
    for accuracy in exit_accuracy:
        noisy = difficulty + 0.15 * torch.randn(n, generator=g)
        boundary = noisy.quantile(accuracy)
        wrong_class = (labels + torch.randint(1, classes, (n,), generator=g)) % classes
        right = noisy < boundary
        target = torch.where(right, labels, wrong_class)
        strength = 2.5 + 10.0 * (boundary - noisy).abs() * torch.where(right, 1.0, 0.25)
        one_hot = torch.nn.functional.one_hot(target, classes)
        logits.append(torch.randn(n, classes, generator=g) + strength.unsqueeze(1) * one_hot)
    return ExitOutputs(torch.stack(logits, dim=1), labels)


def timed(fn, repeats: int = 5) -> tuple[float, object]:
    fn()  # warm-up
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def exhaustive_best(outputs: ExitOutputs, costs, num_quantiles: int, targets: list[float]) -> list[float]:
    """Best accuracy with avg MACs <= each target over every combination of the fine candidates."""
    sweeper = _Sweeper(outputs.scores(), outputs.correct(), torch.tensor(costs, dtype=torch.float64), num_quantiles)
    grid = torch.tensor(list(itertools.product(*[c.tolist() for c in sweeper.candidates])))
    points = evaluate_thresholds(outputs, costs, grid)
    return [points.accuracy[points.avg_macs <= t].max().item() for t in targets]


def sweep_table(outputs: ExitOutputs, costs, targets: list[float], reference: list[float] | None) -> None:
    curve = tradeoff_curve(outputs, costs)
    head = f"{'target MACs':>12} {'grid acc':>9} {'curve acc':>9} {'fine acc':>9} {'fine-grid':>9} {'fine MACs':>10}"
    print(head + (f" {'exhaustive':>10}" if reference else ""))
    gains = []
    for i, target in enumerate(targets):
        fine = tune(outputs, costs, target)
        try:
            grid = tune(outputs, costs, target, method="grid")
            grid_text, gain = f"{100 * grid.accuracy:9.2f}", 100 * (fine.accuracy - grid.accuracy)
            gains.append(gain)
            gain_text = f"{gain:+9.2f}"
        except UnreachableTargetError:
            grid_text, gain_text = f"{'-':>9}", f"{'-':>9}"
        line = (f"{target / 1e6:11.2f}M {grid_text} {100 * curve.accuracy_at(target):9.2f} "
                f"{100 * fine.accuracy:9.2f} {gain_text} {fine.avg_macs / 1e6:9.2f}M")
        print(line + (f" {100 * reference[i]:10.2f}" if reference else ""))
    print(f"mean fine - grid gain where the grid reaches the target: {statistics.mean(gains):+.2f} points "
          f"(max {max(gains):+.2f})")


def main() -> None:
    torch.manual_seed(0)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cores, load average {load}")
    outputs = synthetic_outputs(10_000, EXIT_ACCURACY)
    print("per-exit accuracy:", [round(a, 3) for a in outputs.exit_accuracy().tolist()])

    seconds, curve = timed(lambda: tradeoff_curve(outputs, COSTS))
    print(f"\ntradeoff_curve, 4 early exits, n=10,000, 10 classes: {seconds:.3f} s median of 5 "
          f"({len(curve)} Pareto points, {curve.avg_macs[0].item() / 1e6:.2f}M-{curve.avg_macs[-1].item() / 1e6:.2f}M MACs)")
    seconds_tune, _ = timed(lambda: tune(outputs, COSTS, 12e6))
    print(f"tune(method='fine') at 12M: {seconds_tune:.3f} s median of 5")

    targets = [COSTS[0] + (COSTS[-1] - COSTS[0]) * f for f in torch.linspace(0, 1, 10).tolist()]
    print("\nValidation accuracy (%) at each target, 4 early exits, n=10,000; exhaustive = best over all "
          "combinations of 8-quantile candidates (11-12 per exit)")
    sweep_table(outputs, COSTS, targets, exhaustive_best(outputs, COSTS, 8, targets))

    small = synthetic_outputs(10_000, [0.6, 0.75, 0.9], seed=1)
    small_costs = [COSTS[0], COSTS[2], COSTS[4]]
    small_targets = [small_costs[0] + (small_costs[-1] - small_costs[0]) * f for f in torch.linspace(0, 1, 10).tolist()]
    print("\n2 early exits, n=10,000; exhaustive = best over all combinations of the fine (32-quantile) candidates")
    sweep_table(small, small_costs, small_targets, exhaustive_best(small, small_costs, 32, small_targets))


if __name__ == "__main__":
    main()
