"""Search-engine overhead and acquisition speed.

1. The default demo search (digits, the README's main job): share of wall time outside training and
   evaluation (proposals, predictor fits, store, front and hypervolume bookkeeping); aim <= 10%.
2. One qLogNEHVI step over a discrete pool with q=4 (aim < 15 s on 2 cores for 2,000 candidates),
   with predictors fitted on the demo run's trials.
3. With ``--table``, instead: where the proposal time of the default strategy's table search goes (the
   predictor's fit, choosing the curves, the rest: pool, features, acquisition set-up), round by round.

Run: python benchmarks/bench_search.py [--run-dir DIR] [--repeats 3]
     python benchmarks/bench_search.py --table benchmarks/tables/digits.json.gz [--seed 0] [--budget 64]
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

from table_search import COMMON, target_macs  # benchmarks/, the script's folder

from aebnas import Search, SearchConfig, TrialState
from aebnas.engine.search.strategies import BayesianOptimisation
from aebnas.engine.tables import load_table


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


def table_proposals(path: str, seed: int, budget: int) -> None:
    """Part 3: one table search with the default strategy, its proposal time split by what it is spent on."""
    table = load_table(path)
    strategy = BayesianOptimisation()
    config = SearchConfig.for_table(table, path, strategy=strategy, seed=seed, budget=budget,
                                    target_macs=target_macs(table), **COMMON)
    with tempfile.TemporaryDirectory() as folder, Search(Path(folder) / "run", config=config, table=table) as search:
        asking, fitting, choosing = Stopwatch(), Stopwatch(), Stopwatch()
        strategy.propose_more = asking.wrap(strategy.propose_more)  # the model-based rounds, after the initial design
        search.predictors.fit = fitting.wrap(search.predictors.fit)
        chosen = choosing.wrap(strategy._choose_curves)
        rounds: list[float] = []

        def timed_choice(*args, **kwargs):
            before = choosing.seconds
            try:
                return chosen(*args, **kwargs)
            finally:
                rounds.append(choosing.seconds - before)

        strategy._choose_curves = timed_choice
        start = time.perf_counter()
        search.run()
        total = time.perf_counter() - start
    print(f"table search ({Path(path).name}, seed {seed}, {budget} candidates, {len(rounds)} proposal rounds): "
          f"{total:.1f} s wall, model-based proposals {asking.seconds:.1f} s")
    for name, seconds in [("fitting the predictor", fitting.seconds), ("choosing the curves", choosing.seconds),
                          ("the rest (pool, features, acquisition set-up)",
                           asking.seconds - fitting.seconds - choosing.seconds)]:
        print(f"  {name:<48} {seconds:7.1f} s  {100 * seconds / asking.seconds:5.1f}%")
    print("  choosing the curves, per round (s): " + " ".join(f"{r:.2f}" for r in rounds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", default=None)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pool-sizes", type=int, nargs="+", default=[400, 2000])
    parser.add_argument("--table", default=None, help="part 3 only: a benchmark table to search")
    parser.add_argument("--seed", type=int, default=0, help="part 3: the search's seed")
    parser.add_argument("--budget", type=int, default=64, help="part 3: trained candidates")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cores, "
          f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    if args.table:
        table_proposals(args.table, args.seed, args.budget)
        return
    run_dir = Path(args.run_dir or tempfile.mkdtemp(prefix="aebnas-bench-"))
    search = demo_overhead(run_dir)
    print("\none acquisition step (qLogNEHVI, q=4, pending points between picks):")
    acquisition_step(search, args.pool_sizes, args.repeats)


if __name__ == "__main__":
    main()
