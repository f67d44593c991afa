"""Benchmark of the accuracy predictors acc(architecture, average-MACs budget) on trained candidate pools
(built by benchmarks/make_pool.py: random candidates of the ``extended`` space, fast mode, a 3-stage
ResNet with exits possible after stages 1 and 2).

Prints:

1. learning curves: 10 / 20 / 30 trained architectures (nested subsets), the rest of the pool held out,
   several repeats; fixed-budget Kendall tau (the headline: among held-out architectures at one absolute
   budget of a shared grid, averaged over the budgets), tau over all held-out rows (inflated by the
   budget effect), RMSE and calibration (share of truths inside mean +- 2 std), for the XGBoost
   ensemble, the GP, the MLP and a naive baseline (one plain XGBRegressor on a naive encoding);
2. warm-start reuse digits -> Fashion-MNIST and back: fixed-budget tau on the target vs the number of
   target architectures, with and without stacking on a predictor fitted on the whole source pool;
3. what limits the ranking: per budget, tau and the spread of the held-out truths; and tau with the true
   per-exit accuracies as extra features (an oracle upper bound for per-exit composition);
4. prediction time of the XGBoost ensemble for 10,000 rows (and of building those rows).

Run (heavy: take the shared lock):
    flock /tmp/aebnas-bench.lock python benchmarks/make_pool.py      # once; it locks per chunk itself
    flock /tmp/aebnas-bench.lock python benchmarks/bench_predictors.py --sections curves --datasets fashion_mnist
    flock /tmp/aebnas-bench.lock python benchmarks/bench_predictors.py --sections curves --datasets digits
    flock /tmp/aebnas-bench.lock python benchmarks/bench_predictors.py --sections reuse speed
On a benchmark table (every architecture of the table is the pool; held out: all but the trained ones):
    python benchmarks/bench_predictors.py --table benchmarks/tables/digits.json.gz --sections curves --repeats 20
Missing pools are built first (without taking the lock: run the benchmark itself under flock)."""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Callable

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing
sys.path.insert(0, str(ROOT / "benchmarks"))
warnings.filterwarnings("ignore")

import xgboost  # noqa: E402
from make_pool import SIZE, ensure_pool, pool_dir  # noqa: E402

from aebnas import Search, TrialState  # noqa: E402
from aebnas.predictors import (  # noqa: E402
    GaussianProcess,
    MLPPredictor,
    XGBoostEnsemble,
    curve_rows,
    learning_curve,
    macs_budget_features,
    ranking_metrics,
    warm_start,
)

SIZES = (10, 20, 30)
REUSE_SIZES = (5, 10, 20)
DATASETS = ("fashion_mnist", "digits")


# -- the pools ------------------------------------------------------------------------------------------


class Pool:
    """The complete trials of one pool, as training rows (relative grid, what the search fits on) and
    evaluation rows (a shared absolute grid: the rows the fixed-budget tau compares)."""

    def __init__(self, dataset: str, eval_grid: str = "searched", run_dir: Path | None = None) -> None:
        if run_dir is None:
            run_dir = pool_dir(dataset)
            if not (run_dir / "store.sqlite").is_file() or _count(run_dir) < SIZE:
                print(f"[bench] building the {dataset} pool in {run_dir}", file=sys.stderr)
                ensure_pool(dataset, SIZE, lock=False)
        self.dataset = dataset
        self.search = Search.open(run_dir)
        self.space = self.search.space
        self.trials = self.search.trials(TrialState.COMPLETE)
        self.archs = [t.arch for t in self.trials]
        self.curves = [t.curve for t in self.trials]
        self.train = self.search.predictors.rows(self.trials)
        if eval_grid == "searched":  # budgets up to the backbone's MACs: what the search asks about
            self.eval = self.search.predictors.rows(self.trials, grid="shared")
        else:  # up to the costliest final path of the pool (2x the backbone): mostly ties above the backbone
            self.eval = curve_rows(self.space, self.archs, None, self.curves, grid="shared")

    def rows(self, which: str, encoding: str):
        """(X, y, groups, budgets) of the ``train`` or ``eval`` rows in the ``full`` or ``naive`` encoding."""
        rows = self.train if which == "train" else self.eval
        X = rows.X if encoding == "full" else naive_encoding(self.space, [self.archs[g] for g in rows.groups],
                                                             rows.macs_budgets)
        return X, rows.y, rows.groups, rows.macs_budgets


def table_pool(path: str, eval_grid: str) -> Pool:
    """A benchmark table as a pool: every architecture (its first training) looked up, in table order, by
    a search against the table under benchmarks/results/table_pools/NAME."""
    from aebnas.engine.search import SearchConfig
    from aebnas.engine.search.strategies import FixedDesign
    from aebnas.engine.tables import load_table

    table = load_table(path)
    run_dir = ROOT / "benchmarks" / "results" / "table_pools" / Path(path).name.split(".")[0]
    config = SearchConfig.for_table(table, path, strategy=FixedDesign(table.architectures), budget=len(table),
                                    batch_size=16, seed=0)
    with Search(run_dir, config=config, table=table) as search:
        search.run()
    return Pool(f"table {Path(path).name}", eval_grid, run_dir)


def _count(run_dir: Path) -> int:
    from aebnas.engine.search import RunStore

    store = RunStore.open(run_dir)
    try:
        return len(store.trials(TrialState.COMPLETE))
    finally:
        store.close()


# -- the naive baseline ---------------------------------------------------------------------------------


def naive_encoding(space, archs, budgets) -> np.ndarray:
    """The starting point's encoding: per exit position, on/off and branch depth, and per layer slot its
    type (an integer code), kernel, width and resize (0 when absent); then log10 of the budget. No MACs,
    no path costs."""
    types = {t: i + 1 for i, t in enumerate(space.layer_types)}
    rows = []
    for arch, budget in zip(archs, budgets):
        by_position = {e.position: e for e in arch.exits}
        row = []
        for p in space.positions:
            exit_spec = by_position.get(p)
            branch = exit_spec.branch if exit_spec else ()
            row += [float(exit_spec is not None), float(len(branch))]
            for j in range(space.max_depth):
                layer = branch[j] if j < len(branch) else None
                row += [float(types[layer.type]) if layer else 0.0, float(getattr(layer, "kernel", 0) or 0),
                        float(getattr(layer, "width", 0) or 0), float(getattr(layer, "resize", 0) or 0)]
        rows.append(row + [np.log10(budget)])
    return np.asarray(rows, dtype=np.float64)


class NaiveXGB:
    """One plain ``xgboost.XGBRegressor`` (library defaults); std 0. Duck-types the Predictor contract
    that :func:`learning_curve` uses (fit / predict)."""

    def fit(self, X, y, groups=None):
        self.model = xgboost.XGBRegressor(random_state=0, n_jobs=2).fit(X, y)
        return self

    def predict(self, X):
        mean = self.model.predict(np.asarray(X, dtype=np.float32)).astype(np.float64)
        return mean, np.zeros_like(mean)


# predictor name -> (encoding, factory)
MODELS: dict[str, tuple[str, Callable]] = {
    "naive": ("naive", NaiveXGB),
    "xgboost": ("full", lambda: XGBoostEnsemble(seed=0)),
    "gp": ("full", lambda: GaussianProcess(seed=0)),
    "mlp": ("full", lambda: MLPPredictor(seed=0)),
    # ablations: the same model on the other encoding
    "xgb1-full": ("full", NaiveXGB),
    "xgboost-naive": ("naive", lambda: XGBoostEnsemble(seed=0)),
}


# -- 1. learning curves ---------------------------------------------------------------------------------


def section_curves(pool: Pool, models: list[str], repeats: int, seed: int) -> None:
    n = len(pool.archs)
    print(f"\n## Learning curves: {pool.dataset}, {n} architectures, {len(pool.train)} training rows "
          f"(relative grid), {len(pool.eval)} evaluation rows (shared grid of 8 budgets); held out: the "
          f"{n - max(SIZES)} not in the largest training set; {repeats} repeats (seed {seed})")
    print(f"{'predictor':>14} {'trained':>7} {'tau@budget':>10} {'(std)':>6} {'top10%':>6} {'tau_all':>7} "
          f"{'rmse':>6} {'calib':>6} {'fit+pred s':>10}")
    for name in models:
        encoding, factory = MODELS[name]
        start = time.perf_counter()
        per_repeat = [learning_curve(factory, *pool.rows("train", encoding), sizes=SIZES, repeats=1,
                                     seed=seed * 1000 + r, eval_rows=pool.rows("eval", encoding))
                      for r in range(repeats)]
        seconds = (time.perf_counter() - start) / (repeats * len(SIZES))
        for k, size in enumerate(SIZES):
            taus = np.array([run[k]["tau_at_macs_budget"] for run in per_repeat])
            mean = {key: float(np.nanmean([run[k][key] for run in per_repeat])) for key in per_repeat[0][k]}
            print(f"{name:>14} {size:>7} {mean['tau_at_macs_budget']:>10.3f} {np.nanstd(taus):>6.3f} "
                  f"{mean['top_recall_at_macs_budget']:>6.2f} {mean['tau_all']:>7.3f} {mean['rmse']:>6.4f} "
                  f"{mean['calibration']:>6.2f} {seconds:>10.2f}",
                  flush=True)


# -- 2. warm-start reuse ---------------------------------------------------------------------------------


def section_reuse(pools: dict[str, Pool], repeats: int, seed: int) -> None:
    print(f"\n## Warm-start reuse (XGBoost ensemble; source fitted on the whole source pool; target: "
          f"n trained architectures, the rest held out; {repeats} repeats, seed {seed})")
    print(f"{'source -> target':>28} {'trained':>7} {'cold tau@b':>10} {'warm tau@b':>10} {'cold rmse':>9} "
          f"{'warm rmse':>9}")
    for source_name, target_name in (("digits", "fashion_mnist"), ("fashion_mnist", "digits")):
        source_pool, target = pools[source_name], pools[target_name]
        source = XGBoostEnsemble(seed=0).fit(source_pool.train.X, source_pool.train.y, source_pool.train.groups)
        train, evaluation = target.rows("train", "full"), target.rows("eval", "full")
        zero_shot = source.predict(evaluation[0])
        held = ranking_metrics(evaluation[1], *zero_shot, evaluation[2], evaluation[3])
        cold = [learning_curve(lambda: XGBoostEnsemble(seed=0), *train, sizes=REUSE_SIZES, repeats=1,
                               seed=seed * 1000 + r, eval_rows=evaluation) for r in range(repeats)]
        warm = [learning_curve(lambda: warm_start(source, XGBoostEnsemble(seed=0)), *train, sizes=REUSE_SIZES,
                               repeats=1, seed=seed * 1000 + r, eval_rows=evaluation) for r in range(repeats)]
        label = f"{source_name} -> {target_name}"
        print(f"{label:>28} {0:>7} {'':>10} {held['tau_at_macs_budget']:>10.3f} {'':>9} {held['rmse']:>9.4f}"
              f"   (source model alone, all {len(target.archs)} target architectures)")
        for k, size in enumerate(REUSE_SIZES):
            c = {key: float(np.nanmean([run[k][key] for run in cold])) for key in ("tau_at_macs_budget", "rmse")}
            w = {key: float(np.nanmean([run[k][key] for run in warm])) for key in ("tau_at_macs_budget", "rmse")}
            print(f"{label:>28} {size:>7} {c['tau_at_macs_budget']:>10.3f} {w['tau_at_macs_budget']:>10.3f} "
                  f"{c['rmse']:>9.4f} {w['rmse']:>9.4f}", flush=True)


# -- 3. what limits the ranking -------------------------------------------------------------------------


def exit_accuracy_features(pool: Pool, groups: np.ndarray) -> np.ndarray:
    """`n x positions` validation accuracy of each row's architecture's exit at each position (0: none):
    measured after training, so an oracle no predictor has for an untrained candidate."""
    positions = list(pool.space.positions)
    table = np.zeros((len(pool.archs), len(positions)))
    for g, (arch, trial) in enumerate(zip(pool.archs, pool.trials)):
        for exit_spec, accuracy in zip(arch.exits, trial.metrics.exit_accuracy_val):
            table[g, positions.index(exit_spec.position)] = accuracy
    return table[groups]


def section_diagnose(pool: Pool, repeats: int, seed: int, size: int = 30) -> None:
    """Per budget: tau of the XGBoost ensemble at ``size`` trained architectures and the spread of the
    held-out truths; then the same learning curve with the true per-exit accuracies added as features."""
    X, y, groups, budgets = pool.rows("train", "full")
    Xe, ye, ge, be = pool.rows("eval", "full")
    per_budget: dict[float, list[tuple[float, float, float]]] = {}
    for r in range(repeats):
        order = np.random.default_rng(seed * 1000 + r).permutation(len(pool.archs))
        fit, held = np.isin(groups, order[:size]), ~np.isin(ge, order[:size])
        mean, _ = XGBoostEnsemble(seed=0).fit(X[fit], y[fit], groups[fit]).predict(Xe[held])
        for b in np.unique(be[held]):
            at = be[held] == b
            if at.sum() >= 3:
                tau = ranking_metrics(ye[held][at], mean[at], np.zeros(at.sum()), ge[held][at], be[held][at])
                per_budget.setdefault(b, []).append((tau["tau_at_macs_budget"], ye[held][at].std(), np.ptp(ye[held][at])))
    print(f"\n## What limits the ranking: {pool.dataset}, XGBoost ensemble at {size} architectures, {repeats} splits")
    print(f"{'budget MMACs':>12} {'tau':>6} {'truth std (points)':>18} {'truth range (points)':>20}")
    for b, values in sorted(per_budget.items()):
        v = np.array(values)
        print(f"{b / 1e6:>12.2f} {np.nanmean(v[:, 0]):>6.3f} {100 * v[:, 1].mean():>18.2f} {100 * v[:, 2].mean():>20.1f}")
    oracle = [learning_curve(lambda: XGBoostEnsemble(seed=0), np.hstack([X, exit_accuracy_features(pool, groups)]),
                             y, groups, budgets, sizes=SIZES, repeats=1, seed=seed * 1000 + r,
                             eval_rows=(np.hstack([Xe, exit_accuracy_features(pool, ge)]), ye, ge, be))
              for r in range(repeats)]
    print("with the true per-exit validation accuracies as extra features (oracle), tau@budget at "
          + ", ".join(f"{n}: {np.nanmean([run[k]['tau_at_macs_budget'] for run in oracle]):.3f}" for k, n in enumerate(SIZES)),
          flush=True)


# -- 4. prediction speed -------------------------------------------------------------------------------


def section_speed(pool: Pool, repeats: int = 7) -> None:
    rng = np.random.default_rng(0)
    archs = pool.space.sample_many(2000, rng)
    budget_rel = rng.random(len(archs) * 5)
    rows_archs = [a for a in archs for _ in range(5)][:10_000]
    start = time.perf_counter()
    from aebnas.search_space.macs import path_costs

    costs = [path_costs(a, pool.space.input_shape, pool.space.num_classes) for a in archs]
    cost_rows = [c for c in costs for _ in range(5)][:10_000]
    budgets = [min(c.paths) + t * (c.paths[-1] - min(c.paths)) for c, t in zip(cost_rows, budget_rel)]
    X, _ = macs_budget_features(pool.space, rows_archs, cost_rows, budgets)
    build_seconds = time.perf_counter() - start
    fitted = {
        "xgboost": XGBoostEnsemble(seed=0),
        "gp": GaussianProcess(seed=0),
        "mlp": MLPPredictor(seed=0),
    }
    fit_rows = np.isin(pool.train.groups, np.arange(30))
    print(f"\n## Prediction speed: {len(X):,} rows x {X.shape[1]} features ({pool.dataset} space; models fitted "
          f"on 30 architectures = {int(fit_rows.sum())} rows; median of {repeats}; {os.cpu_count()} CPU cores)")
    print(f"building the rows ({len(archs):,} architectures x 5 budgets; exact path costs + features): "
          f"{build_seconds:.2f} s")
    for name, predictor in fitted.items():
        start = time.perf_counter()
        predictor.fit(pool.train.X[fit_rows], pool.train.y[fit_rows], pool.train.groups[fit_rows])
        fit_seconds = time.perf_counter() - start
        predictor.predict(X[:100])  # warm-up
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            predictor.predict(X)
            times.append(time.perf_counter() - start)
        print(f"{name:>8}: predict {statistics.median(times):.3f} s (min {min(times):.3f}); fit {fit_seconds:.1f} s",
              flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sections", nargs="+", default=["curves", "reuse", "diagnose", "speed"],
                        choices=["curves", "reuse", "diagnose", "speed"])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS),
                        help="pools of the learning curves")
    parser.add_argument("--models", nargs="+", default=["naive", "xgboost", "gp", "mlp"], choices=list(MODELS))
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0, help="seed of the learning-curve shuffles")
    parser.add_argument("--eval-grid", choices=["searched", "full"], default="searched",
                        help="budgets of the fixed-budget tau: up to the backbone's MACs (the range the search "
                             "asks about) or up to the pool's costliest final path")
    parser.add_argument("--table", default=None,
                        help="a benchmark table as the pool of the learning curves and diagnosis "
                             "(instead of --datasets)")
    args = parser.parse_args()
    if args.table is not None:
        pool = table_pool(args.table, args.eval_grid)
        print(f"machine: {os.cpu_count()} CPU cores; xgboost {xgboost.__version__}; evaluation grid: {args.eval_grid}; "
              f"pool: {pool.dataset}, {len(pool.archs)} archs")
        if "curves" in args.sections:
            section_curves(pool, args.models, args.repeats, args.seed)
        if "diagnose" in args.sections:
            section_diagnose(pool, args.repeats, args.seed)
        return
    need = set(args.datasets) if {"curves", "diagnose"} & set(args.sections) else set()
    if "reuse" in args.sections:
        need |= set(DATASETS)
    if "speed" in args.sections:
        need.add("fashion_mnist")
    pools = {d: Pool(d, args.eval_grid) for d in DATASETS if d in need}
    print(f"machine: {os.cpu_count()} CPU cores; xgboost {xgboost.__version__}; evaluation grid: {args.eval_grid}; pools: "
          + ", ".join(f"{d} {len(p.archs)} archs" for d, p in pools.items()))
    if "curves" in args.sections:
        for dataset in args.datasets:
            section_curves(pools[dataset], args.models, args.repeats, args.seed)
    if "reuse" in args.sections:
        section_reuse(pools, args.repeats, args.seed)
    if "diagnose" in args.sections:
        for dataset in args.datasets:
            section_diagnose(pools[dataset], args.repeats, args.seed)
    if "speed" in args.sections:
        section_speed(pools["fashion_mnist"])


if __name__ == "__main__":
    main()
