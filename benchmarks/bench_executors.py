"""Benchmark of distributed evaluation: wall time of the same fixed list of trials (random architectures of
the extended space, fast mode on a Fashion-MNIST subset) trained in-process (``local``), on a Dask
LocalCluster of 1 and of 2 workers and on a 2-process pool, on this machine. Each run is a real
``Search.run`` over trials stored as pending, so it includes what a search pays: starting the workers,
sending them the data and backbone weights, each worker's stage features, and storing every result.

With ``--competitors none "torch training, 2 threads"`` every executor also runs beside a competing
CPU-heavy process (benchmarks/bench_shared_machine.py's), started before and killed after each timing,
and the table gives each executor's slowdown against its own quiet run.

Run (under the shared lock, on a machine others use):
    flock /tmp/aebnas-bench.lock .venv/bin/python benchmarks/bench_executors.py                 # ~5 minutes
    flock /tmp/aebnas-bench.lock .venv/bin/python benchmarks/bench_executors.py --dataset digits  # ~1 minute
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import torch
from _environment import print_environment  # noqa: E402  (benchmarks/, the script's folder)
from bench_shared_machine import COMPETITORS, child_result, competing  # noqa: E402

from aebnas import Search, TrialState, create_executor
from aebnas.datasets import load_dataset
from aebnas.engine.execution.threads import available_cores
from aebnas.search_space import Architecture

RESULTS = Path(__file__).resolve().parent / "results" / "executors"


def settings(args: argparse.Namespace) -> dict:
    common = dict(dataset=args.dataset, space="extended", mode="fast", budget=args.trials, epochs=args.epochs,
                  backbone_epochs=args.backbone_epochs, train_batch_size=128, confirm_top=0, device="cpu", seed=0)
    if args.dataset == "digits":
        return common
    return {**common, "backbone": "resnet", "backbone_options": {"depth": 1}, "max_train": args.max_train,
            "val_size": args.val_size}


def run_one(spec: str, args: argparse.Namespace) -> dict:
    """Trains the benchmark's architectures as the pending trials of a fresh run with executor ``spec``
    (``local`` or NAME:WORKERS); the backbone is already trained and cached (not timed)."""
    name, _, workers = spec.partition(":")
    config = settings(args)
    data = load_dataset(args.dataset, val_size=config.get("val_size"), seed=0, max_train=config.get("max_train"))
    archs = [Architecture.from_json(line) for line in (RESULTS / "archs.jsonl").read_text().splitlines()]
    run_dir = RESULTS / spec.replace(":", "-")
    shutil.rmtree(run_dir, ignore_errors=True)
    shutil.copytree(RESULTS / "backbone" / "backbones", run_dir / "backbones")
    search = Search(run_dir, data=data, **config)
    for arch in archs:
        search.store.add_trial(arch, "bench", config["seed"])
    start = time.perf_counter()
    executor = create_executor(name, workers=int(workers) if workers else None)
    started = time.perf_counter()
    try:
        search.run(executor=executor)
    finally:
        executor.close()
    end = time.perf_counter()
    trials = search.trials(TrialState.COMPLETE)
    assert len(trials) == len(archs), f"{spec}: {len(trials)} of {len(archs)} trials complete"
    n = int(workers or 1)
    threads = torch.get_num_threads() if name == "local" else max(1, available_cores() // n)
    return {"spec": spec, "workers": n, "threads": threads, "start": started - start, "total": end - start,
            "train": sum(t.train_seconds for t in trials) / len(trials),
            "accuracy": {t.arch_id: list(t.metrics.exit_accuracy_test) for t in trials}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="fashion_mnist", choices=["fashion_mnist", "digits"])
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--backbone-epochs", type=int, default=2)
    parser.add_argument("--max-train", type=int, default=10000)
    parser.add_argument("--val-size", type=int, default=2000)
    parser.add_argument("--executors", nargs="+", default=["local", "process:2", "dask:1", "dask:2"])
    parser.add_argument("--competitors", nargs="+", default=["none"], choices=list(COMPETITORS))
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)  # internal: time one executor, print JSON
    args = parser.parse_args()
    if args.one:
        print("RESULT " + json.dumps(run_one(args.one, args)), flush=True)
        return
    import dask  # noqa: PLC0415

    print_environment(args, f"dask {dask.__version__}")

    config = settings(args)
    data = load_dataset(args.dataset, val_size=config.get("val_size"), seed=0, max_train=config.get("max_train"))
    print(f"{args.dataset}: {len(data.train)} train / {len(data.val)} val / {len(data.test)} test images; "
          f"{args.trials} trials, {args.epochs} epochs each (fast mode)", flush=True)
    shutil.rmtree(RESULTS, ignore_errors=True)
    search = Search(RESULTS / "backbone", data=data, **config)
    search.backbone  # noqa: B018  (trains and caches it once, before any timing)
    (RESULTS / "archs.jsonl").write_text("\n".join(a.to_json() for a in search.space.sample_many(args.trials, 1)))
    search.store.close()
    del search, data

    rows = []
    for competitor in args.competitors:
        for spec in args.executors:  # each in a fresh process: no state (threads, environment) carries over
            row = time_executor(spec, COMPETITORS[competitor])
            rows.append(row | {"competitor": competitor})
            print(f"  {spec:10s} beside {competitor!r:28} total {row['total']:6.1f} s (workers started in "
                  f"{row['start']:4.1f} s), {row['train']:5.2f} s of training per trial; load average "
                  f"{os.getloadavg()[0]:.2f}", flush=True)

    reference = next((r for r in rows if r["spec"] == "dask:1"), rows[0])
    print(f"\n| executor | workers | torch threads per worker | competitor | wall time (s) | of which starting "
          f"workers (s) | training per trial (s) | speedup vs {reference['spec']} | vs its quiet run | "
          f"identical results to {rows[0]['spec']} beside {rows[0]['competitor']} |")
    print("|---|---:|---:|---|---:|---:|---:|---:|---:|---|")
    for row in rows:
        quiet = next((r for r in rows if r["spec"] == row["spec"] and r["competitor"] == "none"), None)
        slowdown = f"{row['total'] / quiet['total']:.2f}x" if quiet else "-"
        print(f"| {row['spec'].split(':')[0]} | {row['workers']} | {row['threads']} | {row['competitor']} "
              f"| {row['total']:.1f} | {row['start']:.1f} | {row['train']:.2f} | {reference['total'] / row['total']:.2f}x "
              f"| {slowdown} | {'yes' if row['accuracy'] == rows[0]['accuracy'] else 'no'} |")
    diff = max(abs(a - b) for r in rows for k, acc in r["accuracy"].items()
               for a, b in zip(acc, rows[0]["accuracy"][k]))
    print(f"\nlargest difference of a per-exit test accuracy between executors: {diff:.4f}")
    print(time.strftime("finished %Y-%m-%d %H:%M:%S %Z"))


def time_executor(spec: str, competitor: str | None) -> dict:
    """run_one(spec) in a fresh process, beside a running ``competitor`` (Python code; None: alone)."""
    with competing(competitor):
        return child_result([__file__, *sys.argv[1:], "--one", spec])


if __name__ == "__main__":
    main()
