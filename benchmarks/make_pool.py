"""Builds the candidate pools the predictor benchmarks read: random candidates of the ``extended`` space
trained in fast mode (exit branches only, on a frozen, once-trained backbone), stored as ordinary aebnas
runs in ``benchmarks/results/pool-<dataset>/`` so every benchmark reuses them.

Both pools use the same backbone (a 3-stage CIFAR-style ResNet, one basic block per stage, widths
16/32/64: exit positions after stages 1 and 2) so they share the space encoding and a predictor fitted on
one can warm-start the other. Each pool is built with the real CLI, in chunks (the search resumes), each
chunk under ``flock /tmp/aebnas-bench.lock`` so heavy jobs never overlap on a shared machine:

    aebnas search --strategy random --budget N --space extended --mode fast --dataset fashion_mnist \
        --backbone resnet --backbone-option depth=1 --epochs 2 --backbone-epochs 3 --train-batch-size 128 \
        --confirm-top 0 --quiet --run-dir benchmarks/results/pool-fashion_mnist

Run: python benchmarks/make_pool.py [--datasets fashion_mnist digits] [--size 60] [--chunk 20]
A pool already complete is left as it is; a partial one is continued."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
LOCK = "/tmp/aebnas-bench.lock"
SIZE = 60

# per dataset: epochs of each candidate's branches and of the frozen backbone. Digits is tiny (1,221
# training images), so it gets more epochs for the same few seconds per candidate.
SETTINGS = {
    "fashion_mnist": {"epochs": 2, "backbone_epochs": 3},
    "digits": {"epochs": 15, "backbone_epochs": 30},
}
COMMON = ["--strategy", "random", "--space", "extended", "--mode", "fast", "--backbone", "resnet",
          "--backbone-option", "depth=1", "--train-batch-size", "128", "--confirm-top", "0", "--seed", "0", "--quiet"]


def pool_dir(dataset: str) -> Path:
    return RESULTS / f"pool-{dataset}"


def aebnas_cli() -> str:
    local = Path(sys.executable).with_name("aebnas")
    return str(local) if local.exists() else (shutil.which("aebnas") or "aebnas")


def search_command(dataset: str, budget: int) -> list[str]:
    s = SETTINGS[dataset]
    return [aebnas_cli(), "search", "--dataset", dataset, "--budget", str(budget), "--epochs", str(s["epochs"]),
            "--backbone-epochs", str(s["backbone_epochs"]), *COMMON, "--run-dir", str(pool_dir(dataset))]


def complete_trials(dataset: str) -> int:
    """Complete trials stored in the pool (0 when it does not exist)."""
    if not (pool_dir(dataset) / "store.sqlite").is_file():
        return 0
    sys.path.insert(0, str(ROOT))
    from aebnas.engine.search import RunStore, TrialState

    store = RunStore.open(pool_dir(dataset))
    try:
        return len(store.trials(TrialState.COMPLETE))
    finally:
        store.close()


def ensure_pool(dataset: str, size: int = SIZE, chunk: int = 20, lock: bool = True) -> Path:
    """Builds (or continues) the pool of ``dataset`` up to ``size`` complete candidates."""
    have = complete_trials(dataset)
    while have < size:
        budget = min(size, have + chunk)
        command = search_command(dataset, budget)
        if lock and shutil.which("flock"):
            command = ["flock", LOCK, *command]
        print(f"[make_pool] {dataset}: {have} -> {budget} candidates: {' '.join(command)}", file=sys.stderr)
        start = time.perf_counter()
        subprocess.run(command, check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
                       env={**os.environ, "PYTHONWARNINGS": "ignore"})
        now = complete_trials(dataset)
        print(f"[make_pool] {dataset}: {now} complete after {time.perf_counter() - start:.0f} s", file=sys.stderr)
        if now <= have:
            raise RuntimeError(f"no progress building the {dataset} pool (failed trials?); see {pool_dir(dataset)}")
        have = now
    return pool_dir(dataset)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--size", type=int, default=SIZE, help="complete candidates per pool")
    parser.add_argument("--chunk", type=int, default=20, help="candidates per locked run")
    parser.add_argument("--no-lock", action="store_true", help="do not take the shared benchmark lock")
    args = parser.parse_args()
    for dataset in args.datasets:
        path = ensure_pool(dataset, args.size, args.chunk, lock=not args.no_lock)
        print(f"{dataset}: {complete_trials(dataset)} candidates in {path}")


if __name__ == "__main__":
    main()
