"""Search strategies compared on a benchmark table (`aebnas table build`): every strategy searches the
table for many seeds, paired by seed (the same initial design), with look-ups instead of training.

Reports, per table: median and inter-quartile range of the validation hypervolume (and the test
hypervolume of the networks and thresholds the validation front chose) at each checkpoint; normalised
regret, (oracle HV - HV) / (oracle HV - HV after the first checkpoint), with the oracle the table's own
front for the seed's training noise; how many candidates each run needs to reach random search's median
final HV; paired one-sided Wilcoxon signed-rank p-values of `bo` against each baseline; and the wall
time a user would wait (the table's recorded training seconds plus the measured proposal time).

    .venv/bin/python benchmarks/table_search.py run --table benchmarks/tables/digits.json.gz --seeds 30
    .venv/bin/python benchmarks/table_search.py report --table benchmarks/tables/digits.json.gz \\
        --json docs/results/table_search_digits.json --plot docs/img/table_search_digits.png

`run` resumes: finished runs are skipped, an interrupted one continues from its store; --max-minutes stops
starting new runs (exit status 3: rerun to continue).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from _environment import print_environment  # noqa: E402  (benchmarks/, the script's folder)
from _paired import paired_p  # noqa: E402

from aebnas import Search, SearchConfig, TrialState  # noqa: E402
from aebnas.engine.search.front import curve_points, hypervolume, pareto_front  # noqa: E402
from aebnas.engine.search.strategies import create_strategy  # noqa: E402
from aebnas.engine.search.table_stats import oracle_front, reference, test_hypervolume  # noqa: E402
from aebnas.engine.tables import load_table  # noqa: E402

EXIT_MORE = 3
#: strategy variants: label -> (registered strategy, its settings, search settings beyond COMMON: the
#: predictor, the batch size). ``bo`` is what a user gets by default (GP predictor, whole-curve
#: acquisition); the ``bo-point-*`` variants score one (architecture, MACs budget) point at a time, the
#: earlier default with XGBoost; ``bo-q2`` proposes 2 candidates per round instead of 4; ``bo-init4`` starts
#: from 4 random candidates instead of 8
VARIANTS = {"bo": ("bo", {}, {}), "bo-xgb": ("bo", {}, {"predictor": "xgboost"}),
            "bo-point-gp": ("bo", {"whole_curve": False}, {"predictor": "gp"}),
            "bo-point-xgb": ("bo", {"whole_curve": False}, {"predictor": "xgboost"}),
            "bo-q2": ("bo", {}, {"batch_size": 2}), "bo-init4": ("bo", {}, {"n_init": 4}),
            "bo-evolve": ("bo", {"pool_generations": 40}, {}),
            "paper-fine-search": ("paper", {"thresholds": "fine"}, {}),
            "bo-mix": ("bo", {"paper_share": 0.5}, {}),
            "random": ("random", {}, {}), "nsga2": ("nsga2", {}, {}), "paper": ("paper", {}, {})}
#: the target (and hypervolume reference) as a share of the backbone's MACs, per dataset: where the
#: backbone's stage costs leave a choice of exits (as in benchmarks/search_efficiency.py)
TARGET_SHARE = {"digits": 0.5, "fashion_mnist": 0.8}
COMMON = dict(batch_size=4, n_init=8)


def table_name(path: str | Path) -> str:
    return Path(path).name.split(".")[0]


def target_macs(table, share: float | None = None) -> float:
    ref_macs, _ = reference(table)
    return round((share or TARGET_SHARE.get(table.settings["dataset"], 1.0)) * ref_macs)


def run(args) -> int:
    print_environment(args)
    table = load_table(args.table)
    target = target_macs(table, args.target_share)
    root = Path(args.out) / table_name(args.table)
    deadline = time.monotonic() + 60 * args.max_minutes if args.max_minutes else math.inf
    for seed in range(args.first_seed, args.seeds):
        for label in args.strategies:
            summary = root / label / f"seed{seed}.json"
            if summary.exists():
                continue
            if time.monotonic() > deadline:
                print("time limit reached: rerun to continue", flush=True)
                return EXIT_MORE
            name, settings, search_settings = VARIANTS[label]
            config = SearchConfig.for_table(table, args.table, strategy=create_strategy(name, **settings), seed=seed,
                                            budget=args.budget, target_macs=target, **(COMMON | search_settings))
            start = time.perf_counter()
            elapsed: dict[int, float] = {}
            with Search(root / label / f"seed{seed}", config=config, table=table) as search:
                search.run(callback=lambda t: elapsed.__setitem__(t.number, time.perf_counter() - start))
                record = summarise_run(search, table, elapsed, args.budget)
            summary.write_text(json.dumps(record))
            print(f"{label:7s} seed {seed:2d}: HV@{args.budget} {record['hv'][-1]:.4f} "
                  f"({time.perf_counter() - start:.1f} s)", flush=True)
    return 0


def summarise_run(search: Search, table, elapsed: dict[int, float], budget: int) -> dict[str, Any]:
    """Per trained candidate k = 1..budget (in trial order): validation HV, test HV of the validation
    front's choices, and the cumulative wall time (table training seconds + measured proposal time)."""
    trials = sorted(search.trials(TrialState.COMPLETE), key=lambda t: t.number)[:budget]
    ref_macs, ref_accuracy = search.ref_macs, search.ref_accuracy
    method, seed = search.config.strategy.curve_method, search.config.seed
    hv, test_hv = [], []
    for k in range(1, len(trials) + 1):
        front = search.front(trials[:k])
        hv.append(hypervolume(front, ref_macs, ref_accuracy))
        test_hv.append(test_hypervolume(table, front, ref_macs, ref_accuracy, seed, method))
    train = np.cumsum([t.train_seconds for t in trials]).tolist()
    proposals = [elapsed.get(t.number, math.nan) for t in trials]  # NaN: finished in an earlier invocation
    return {"strategy": search.config.strategy.name, "predictor": search.config.predictor, "seed": seed,
            "arch_ids": [t.arch_id for t in trials], "sources": [t.source for t in trials], "hv": hv,
            "test_hv": test_hv, "train_seconds": train, "search_seconds": proposals}


# -- report ---------------------------------------------------------------------------------------------


def load_runs(root: Path, labels: list[str]) -> dict[str, dict[int, dict[str, Any]]]:
    runs = {}
    for label in labels:
        runs[label] = {}
        for path in sorted((root / label).glob("seed*.json")):
            record = json.loads(path.read_text())
            for key in ("hv", "test_hv"):  # at the precision of docs/results, so that runs read back from there
                record[key] = [float(f"{v:.6g}") for v in record[key]]  # pair exactly with fresh ones
            runs[label][record["seed"]] = record
    return runs


def quartiles(values) -> tuple[float, float, float]:
    """Median, first and third quartile (of observed values: an infinite "never" stays infinite)."""
    q = np.quantile(np.asarray(values, dtype=float), [0.25, 0.5, 0.75], method="inverted_cdf")
    return float(q[1]), float(q[0]), float(q[2])


def report(args) -> int:
    table = load_table(args.table)
    ref_macs, ref_accuracy = target_macs(table, args.target_share), reference(table)[1]
    root = Path(args.out) / table_name(args.table)
    runs = load_runs(root, args.strategies)
    runs |= fine_rescored(table, runs, ref_macs, ref_accuracy)
    labels = list(runs)
    seeds = sorted(set.intersection(*(set(r) for r in runs.values()))) if all(runs.values()) else []
    if not seeds:
        print("no seed has finished runs of every strategy yet")
        return 1
    checkpoints = [c for c in args.checkpoints if c <= args.budget]
    oracle = {s: hypervolume(oracle_front(table, s, "fine", ref_macs), ref_macs, ref_accuracy) for s in seeds}
    first, mid = checkpoints[0], checkpoints[len(checkpoints) // 2]
    out: dict[str, Any] = {"table": str(args.table), "seeds": seeds, "checkpoints": checkpoints, "oracle_hv": oracle,
                           "target_macs": ref_macs, "strategies": {}}
    print(f"{table_name(args.table)}: {len(seeds)} paired seeds, budget {args.budget}, target {ref_macs:,.0f} MACs; "
          f"oracle HV median {np.median(list(oracle.values())):.4f}\n")
    print("| strategy | " + " | ".join(f"HV@{c} median [IQR]" for c in checkpoints) + f" | test HV@{args.budget} | "
          f"regret@{mid} median [IQR] | candidates to random's median HV@{args.budget} | wall s to the same (runs timed whole) |")
    print("|---" * (len(checkpoints) + 5) + "|")
    random_final = np.median([runs["random"][s]["hv"][args.budget - 1] for s in seeds]) if "random" in runs else None
    for label in labels:
        rs = [runs[label][s] for s in seeds]
        hv = {c: [r["hv"][c - 1] for r in rs] for c in checkpoints}
        test = [r["test_hv"][args.budget - 1] for r in rs]
        regret = {c: [(oracle[r["seed"]] - r["hv"][c - 1]) / max(oracle[r["seed"]] - r["hv"][first - 1], 1e-12)
                      for r in rs] for c in checkpoints}
        reach, wall = [], []
        for r in rs:
            k = next((i for i, v in enumerate(r["hv"]) if random_final is not None and v >= random_final), None)
            reach.append(math.inf if k is None else k + 1)
            wall.append(math.inf if k is None else r["train_seconds"][k] + (r["search_seconds"][k] or 0.0))
        entry = {"hv": {c: quartiles(v) for c, v in hv.items()}, "test_hv": quartiles(test),
                 "regret": {c: quartiles(v) for c, v in regret.items()}, "reach": quartiles(reach),
                 "reached": int(np.isfinite(reach).sum()),
                 # runs resumed across invocations have no proposal time (NaN): the wall time is of the others
                 "wall_to_reach": quartiles([w for w in wall if not math.isnan(w)] or [math.nan])}
        out["strategies"][label] = entry
        cells = [f"{m:.4f} [{lo:.4f}, {hi:.4f}]" for m, lo, hi in entry["hv"].values()]
        m, lo, hi = entry["test_hv"]
        rg = entry["regret"][mid]
        rm, rlo, rhi = entry["reach"]
        wm = entry["wall_to_reach"][0]
        print(f"| {label} | " + " | ".join(cells) + f" | {m:.4f} [{lo:.4f}, {hi:.4f}] | {rg[0]:.2f} [{rg[1]:.2f}, "
              f"{rg[2]:.2f}] | {rm:g} [{rlo:g}, {rhi:g}] ({entry['reached']}/{len(rs)} reach) | {wm:,.0f} |")
    if "bo" in runs:
        print(f"\npaired one-sided Wilcoxon signed-rank p-values, bo > baseline (n = {len(seeds)} seeds; "
              "'tied' = identical at every seed):\n")
        print("| baseline | " + " | ".join(f"@{c}" for c in checkpoints)
              + f" | bo wins / ties / losses @{args.budget} | test HV@{args.budget}: p, wins / ties / losses "
              f"| baseline > bo: p @{args.budget}, test |")
        print("|---" * (len(checkpoints) + 4) + "|")
        out["wilcoxon_bo_greater"], out["wilcoxon_bo_greater_test"] = {}, {}
        for label in labels:
            if label == "bo":
                continue
            ps = {c: paired_p([runs["bo"][s]["hv"][c - 1] for s in seeds], [runs[label][s]["hv"][c - 1] for s in seeds])
                  for c in checkpoints}
            out["wilcoxon_bo_greater"][label] = ps
            cells, forward, reverse = [], [], []
            for key in ("hv", "test_hv"):  # the front chosen on validation, then its networks and thresholds on test
                ours = [runs["bo"][s][key][args.budget - 1] for s in seeds]
                theirs = [runs[label][s][key][args.budget - 1] for s in seeds]
                d = np.subtract(ours, theirs)
                cells.append(f"{(d > 0).sum()} / {(d == 0).sum()} / {(d < 0).sum()}")
                forward.append(paired_p(ours, theirs))
                reverse.append(paired_p(theirs, ours))
            p_test = forward[1]
            out["wilcoxon_bo_greater_test"][label] = p_test
            print(f"| {label} | " + " | ".join(_p(p) for p in ps.values())
                  + f" | {cells[0]} | {_p(p_test)}, {cells[1]} | {_p(reverse[0])}, {_p(reverse[1])} |")
    if args.json:
        out["runs"] = {label: {s: {k: runs[label][s][k] for k in ("hv", "test_hv", "train_seconds", "search_seconds")}
                               for s in seeds} for label in labels}
        Path(args.json).write_text(json.dumps(_rounded(out), separators=(",", ":")))
    if args.plot:
        plot(runs, seeds, args, oracle)
    return 0


def _p(p: float | None) -> str:
    return "tied" if p is None else f"{p:.2g}"


def curve_method(label: str) -> str:
    """How the variant ``label``'s strategy builds its trials' curves (``fine`` or the paper's ``grid``)."""
    name, settings, _ = VARIANTS[label]
    return create_strategy(name, **settings).curve_method


def fine_rescored(table, runs: dict[str, dict[int, dict[str, Any]]], ref_macs: float,
                  ref_accuracy: float) -> dict[str, dict[int, dict[str, Any]]]:
    """The runs of strategies with their own threshold method (the paper's grid) re-scored with fine
    thresholds, as ``<label>-fine``: the same trials in the same order, so the search apart from its
    thresholds. Only runs that recorded their architectures (``arch_ids``) can be re-scored."""
    out = {}
    for label, by_seed in runs.items():
        if curve_method(label) == "fine":
            continue
        for record in by_seed.values():
            if "arch_ids" not in record:
                continue
            seed, points, hv, test_hv = record["seed"], [], [], []
            for number, arch_id in enumerate(record["arch_ids"]):
                curve = table.entry(arch_id).result(seed).curves["fine"].val
                points = pareto_front(points + curve_points([(number, arch_id, curve)], ref_macs))
                hv.append(hypervolume(points, ref_macs, ref_accuracy))
                test_hv.append(test_hypervolume(table, points, ref_macs, ref_accuracy, seed, "fine"))
            out.setdefault(f"{label}-fine", {})[seed] = record | {"hv": _rounded(hv), "test_hv": _rounded(test_hv)}
    return out


def _rounded(value: Any) -> Any:
    """Numbers to 6 significant digits (infinite ones as strings), for a compact JSON file."""
    if isinstance(value, dict):
        return {str(k): _rounded(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_rounded(v) for v in value]
    if isinstance(value, float):
        return float(f"{value:.6g}") if math.isfinite(value) else str(value)
    return value


def plot(runs, seeds, args, oracle) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    start = args.checkpoints[0]  # from the first checkpoint: the initial design is shared
    x = np.arange(start, args.budget + 1)
    for label in args.strategies:
        curves = np.array([runs[label][s]["hv"][start - 1: args.budget] for s in seeds])
        q25, q50, q75 = np.quantile(curves, [0.25, 0.5, 0.75], axis=0)
        ax.plot(x, q50, label=label)
        ax.fill_between(x, q25, q75, alpha=0.2)
    ax.axhline(np.median(list(oracle.values())), color="k", ls=":", lw=1, label="table oracle")
    ax.set_xlabel("trained candidates")
    ax.set_ylabel("validation hypervolume")
    ax.set_title(f"{table_name(args.table)}: median and IQR over {len(seeds)} seeds")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(args.plot, dpi=120)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["run", "report"])
    parser.add_argument("--table", required=True)
    parser.add_argument("--out", default="benchmarks/results/table_search")
    parser.add_argument("--seeds", type=int, default=30)
    parser.add_argument("--first-seed", type=int, default=0,
                        help="run: start at this seed (a second process can take the upper seeds)")
    parser.add_argument("--budget", type=int, default=64)
    parser.add_argument("--checkpoints", type=int, nargs="+", default=[8, 16, 32, 64])
    parser.add_argument("--strategies", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--max-minutes", type=float, default=None)
    parser.add_argument("--target-share", type=float, default=None,
                        help="target as a share of the backbone's MACs (default: per dataset, 1 for others)")
    parser.add_argument("--json", default=None, help="report: write the numbers and every run's curves here")
    parser.add_argument("--plot", default=None, help="report: median HV curves with IQR bands")
    args = parser.parse_args()
    return run(args) if args.action == "run" else report(args)


if __name__ == "__main__":
    sys.exit(main())
