"""``aebnas table build`` (train a benchmark table, resumable) and ``aebnas table show`` (what it holds)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from aebnas.cli._common import POSITIVE, check_data_dir, print_table
from aebnas.cli._search import add_executor_args, add_settings_args, settings_of
from aebnas.exceptions import AebnasError


def add_table_args(p: argparse.ArgumentParser) -> None:
    actions = p.add_subparsers(dest="action", required=True)
    build = actions.add_parser("build", help="train N sampled architectures (resumable) and write the table",
                               description="Train N distinct architectures sampled from the space, in fast mode "
                                           "unless --mode joint, and write their curves and test metrics to --out. "
                                           "Rerun the same command to resume.")
    add_settings_args(build)
    build.add_argument("-n", type=POSITIVE, required=True, help="distinct architectures to train")
    build.add_argument("--out", required=True, help="the table file to write (gzip-compressed JSON, e.g. t.json.gz)")
    build.add_argument("--seeds", type=POSITIVE, default=1, help="trainings per architecture of the noise subset")
    build.add_argument("--seed-subset", type=POSITIVE, default=None,
                       help="architectures (the first sampled) trained with every seed (default: all)")
    build.add_argument("--build-dir", default=None,
                       help="folder of the build's runs, with every trial's logits and weights "
                            "(default: next to --out, e.g. t.build/)")
    build.add_argument("--batch-size", type=POSITIVE, default=4,
                       help="architectures proposed per round (at most -n; keep it when resuming with a larger -n)")
    add_executor_args(build)
    show = actions.add_parser("show", help="settings, accuracy spread, noise and oracle front of a table")
    show.add_argument("table", help="a table file")
    show.add_argument("--json", action="store_true", help="print the summary as JSON")


def run_table(args) -> int:
    return _build(args) if args.action == "build" else _show(args)


def _build(args) -> int:
    from aebnas.checks import check_output_dir
    from aebnas.engine.execution import create_executor
    from aebnas.engine.search import SearchConfig
    from aebnas.engine.search.table_build import build_table, default_build_dir

    check_data_dir(args.data_dir)
    check_output_dir(Path(args.out).parent, "the folder of --out")
    if Path(args.out).is_dir():
        raise AebnasError(f"--out {args.out} is a directory; give the table file's path, e.g. {args.out}/table.json.gz")
    if args.seed_subset is not None and args.seed_subset > args.n:
        raise AebnasError(f"--seed-subset {args.seed_subset} exceeds -n {args.n}; give at most {args.n}")
    build_dir = check_output_dir(args.build_dir or default_build_dir(args.out), "--build-dir")
    config = SearchConfig(**settings_of(args), budget=args.n, batch_size=min(args.batch_size, args.n), confirm_top=0)
    executor = create_executor(args.executor, workers=args.workers, scheduler=args.scheduler)
    print(f"building a table of {args.n} architectures in {build_dir} (rerun the same command to resume)",
          file=sys.stderr)
    with executor:
        table = build_table(args.out, config, args.n, args.seeds, args.seed_subset, build_dir, executor,
                            args.data_dir, args.download, progress=not args.quiet)
    print(f"wrote {args.out}: {len(table)} architectures, {len(table.noise_entries)} with {args.seeds} seeds")
    return 0


def _show(args) -> int:
    from aebnas.engine.search.table_stats import summarise
    from aebnas.engine.tables import load_table

    table = load_table(args.table)
    summary = summarise(table)
    if args.json:
        print(json.dumps({"settings": table.settings, "build": table.build, **summary.to_dict()}, indent=2))
        return 0
    print(f"{args.table}: {summary.size} architectures; {summary.noise_subset} trained with {summary.seeds} seeds")
    print("settings: " + ", ".join(f"{k}={v}" for k, v in table.settings.items() if v is not None))
    print("built: " + ", ".join(f"{k}={v}" for k, v in table.build.items())
          + f"; training time in the table {summary.train_seconds:,.0f} s")
    print(f"reference point: {summary.ref_macs:,.0f} MACs (the backbone alone), accuracy {summary.ref_accuracy:.3f}\n")
    print("validation accuracy (%) at MACs budgets (share of the backbone's MACs):")
    print_table([[f"{s.share:.0%}", f"{s.macs_budget:,.0f}", s.reachable, *(f"{100 * q:.2f}" for q in s.quantiles),
                  f"{100 * s.noise_std:.2f}", f"{s.seed_tau:.2f}"] for s in summary.spreads],
                ["budget", "MACs", "reach", "min", "q25", "median", "q75", "max", "noise std", "seed tau"])
    print("(seed tau: Kendall tau between two trainings' accuracies over the noise subset, how much training "
          "noise alone scrambles the ranking)")
    seeds = ", ".join(f"{hv:.4f}" for hv in summary.oracle_hv_seeds)
    print(f"\noracle front: {summary.oracle_front_size} points; validation HV {summary.oracle_hv:.4f} "
          f"(per training seed: {seeds}); the same networks and thresholds on test: HV {summary.oracle_test_hv:.4f}")
    return 0
