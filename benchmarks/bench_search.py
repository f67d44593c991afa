"""Search-engine overhead and acquisition speed.

1. The default demo search (digits, the README's main job): share of wall time outside training and
   evaluation (proposals, predictor fits, store, front and hypervolume bookkeeping); aim <= 10%.
2. One qLogNEHVI step over a discrete pool with q=4 (aim < 15 s on 2 cores for 2,000 candidates),
   with predictors fitted on the demo run's trials.

Run: python benchmarks/bench_search.py [--run-dir DIR] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from aebnas import Search, TrialState
from aebnas.engine.search.strategies import BayesianOptimisation


class Stopwatch:
    """Accumulates the wall time of wrapped calls."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def wrap(self, fn):
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start

        return timed


def demo_overhead(run_dir: Path) -> Search:
    shutil.rmtree(run_dir, ignore_errors=True)
    start = time.perf_counter()
    search = Search(run_dir, dataset="digits")
    training, backbone, asking, confirming = Stopwatch(), Stopwatch(), Stopwatch(), Stopwatch()
    runner = search.runner
    runner.run = training.wrap(runner.run)
    runner.backbone = backbone.wrap(runner.backbone)
    search.ask = asking.wrap(search.ask)
    search.confirm = confirming.wrap(search.confirm)
    search.run()
    total = time.perf_counter() - start
    trained = training.seconds + backbone.seconds + confirming.seconds
    print(f"default demo search: {len(search.trials(TrialState.COMPLETE))} trials, {total:.1f} s wall")
    rows = [("training + evaluation of trials", training.seconds), ("backbone training + feature cache", backbone.seconds),
            ("confirmation (joint fine-tuning, inference check)", confirming.seconds),
            ("proposals (predictor fit + qLogNEHVI + pool)", asking.seconds),
            ("everything else (store, fronts, hypervolume, set-up)", total - trained - asking.seconds)]
    for name, seconds in rows:
        print(f"  {name:<55} {seconds:7.1f} s  {100 * seconds / total:5.1f}%")
    print(f"  engine overhead (outside training and evaluation): {100 * (total - trained) / total:.1f}% of wall time")
    return search


def acquisition_step(search: Search, pool_sizes: list[int], repeats: int) -> None:
    complete = search.trials(TrialState.COMPLETE)
    exclude = {t.arch_id for t in complete}
    for kind in ("xgboost", "gp"):
        predictor, X = search.predictors.fit(complete, kind=kind)
        for pool_size in pool_sizes:
            strategy = BayesianOptimisation(pool_size=pool_size)
            times, rows = [], 0
            for r in range(repeats):
                start = time.perf_counter()
                archs, _ = strategy.pool(search.space, [], exclude, np.random.default_rng(r), search.ref_macs)
                pool_time = time.perf_counter() - start
                start = time.perf_counter()
                proposals = strategy.select(search.space, predictor, 4, X, [], exclude, [], search.ref_accuracy,
                                            search.ref_macs, r)
                times.append(time.perf_counter() - start)
                rows = len(archs)
            print(f"  {kind:<8} pool of {pool_size:>5} architectures ({rows:>5} (architecture, budget) rows), q=4, "
                  f"{len(X)} baseline rows: {statistics.median(times):6.2f} s median of {repeats} "
                  f"(pool sampling + MACs {pool_time:.2f} s of it; {len(proposals)} proposals)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", default=None)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pool-sizes", type=int, nargs="+", default=[400, 2000])
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cores, "
          f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    run_dir = Path(args.run_dir or tempfile.mkdtemp(prefix="aebnas-bench-"))
    search = demo_overhead(run_dir)
    print("\none acquisition step (qLogNEHVI, q=4, pending points between picks):")
    acquisition_step(search, args.pool_sizes, args.repeats)


if __name__ == "__main__":
    main()
