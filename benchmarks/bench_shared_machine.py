"""Candidate training on a shared machine: how much one competing CPU-heavy process slows it, by torch
thread count and OpenMP wait policy.

The workload: fast-mode training of candidates on a cached frozen backbone, with the README demo's
settings on digits (15 epochs each) or the search-efficiency benchmark's on Fashion-MNIST (the 3-stage
ResNet, 10,000 training images, 2 epochs each). Each setting runs in a fresh child process (thread settings must precede torch's
first parallel region) and reports the median seconds per candidate; the same candidates every time.
Competitors: none, a pure-Python busy loop (one core), and another torch training loop with 2 threads
(as a second aebnas run would be).

Run: python benchmarks/bench_shared_machine.py [--dataset digits|fashion_mnist] [--trials 6] [--repeats 1]
     [--settings LABEL ...] [--competitors LABEL ...]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
from _environment import print_environment  # noqa: E402  (benchmarks/, the script's folder)

RESULTS = Path(__file__).resolve().parent / "results" / "shared_machine"
COMPETITORS = {
    "none": None,
    "python busy loop (1 core)": "while True: pass",
    "torch training, 2 threads": ("import torch\nnet = torch.nn.Sequential(torch.nn.Conv2d(3, 32, 3), torch.nn.ReLU(),"
                                  " torch.nn.Conv2d(32, 32, 3)); opt = torch.optim.SGD(net.parameters(), 0.01)\n"
                                  "x = torch.randn(64, 3, 32, 32)\nwhile True:\n    opt.zero_grad(); "
                                  "net(x).sum().backward(); opt.step()"),
}
SETTINGS = {  # label -> (torch threads, extra environment)
    "2 threads (torch default here)": (2, {}),
    "2 threads, OMP_WAIT_POLICY=PASSIVE": (2, {"OMP_WAIT_POLICY": "PASSIVE"}),
    "1 thread": (1, {}),
}


WORKLOADS = {  # dataset -> SearchConfig settings
    "digits": {},
    "fashion_mnist": dict(max_train=10000, epochs=2, backbone_epochs=8, train_batch_size=128, backbone="resnet",
                          backbone_options={"depth": 1}),
}


def child(threads: int, trials: int, dataset: str) -> None:
    """Trains ``trials`` demo candidates with ``threads`` torch threads; prints their seconds as JSON."""
    import torch

    from aebnas import SearchConfig
    from aebnas.datasets import load_dataset
    from aebnas.engine.evaluation import FrozenBackbone, train_candidate

    torch.set_num_threads(threads)
    config = SearchConfig(dataset=dataset, device="cpu", **WORKLOADS[dataset])
    data = load_dataset(dataset, max_train=config.max_train)
    space = config.make_space(data.info)
    backbone = FrozenBackbone.prepare(data, space.backbone, space.backbone_options,
                                      config.train_config(config.backbone_epochs), cache_dir=RESULTS / "backbones")
    seconds = []
    for arch in space.sample_many(trials, 0):
        start = time.perf_counter()
        train_candidate(arch, data, config.train_config(), "fast", backbone, config.rule)
        seconds.append(time.perf_counter() - start)
    print("RESULT " + json.dumps(seconds), flush=True)


@contextmanager
def competing(code: str | None) -> Iterator[None]:
    """Runs the Python ``code`` of a competitor in its own process for the body (None: nothing runs)."""
    process = subprocess.Popen([sys.executable, "-c", code]) if code else None
    try:
        time.sleep(2 if code else 0)  # the competitor is up to speed
        yield
    finally:
        if process is not None:
            process.kill()
            process.wait()


def child_result(argv: list[str], env: dict[str, str] | None = None):
    """Runs ``python argv`` and returns the JSON of its last ``RESULT `` line; exits if the child failed."""
    out = subprocess.run([sys.executable, *argv], capture_output=True, text=True, env={**os.environ, **(env or {})})
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    if out.returncode or not lines:
        sys.exit(f"{' '.join(argv)} failed:\n{out.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT "):])


def measure(threads: int, env: dict[str, str], trials: int, dataset: str) -> list[float]:
    return child_result([__file__, "--child", str(threads), "--trials", str(trials), "--dataset", dataset], env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="digits", choices=list(WORKLOADS))
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--competitors", nargs="+", default=list(COMPETITORS), choices=list(COMPETITORS))
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, args.trials, args.dataset)
        return
    print_environment(args)
    RESULTS.mkdir(parents=True, exist_ok=True)
    measure(1, {}, 1, args.dataset)  # trains and caches the backbone once, untimed
    rows = {}
    for competitor in args.competitors:
        with competing(COMPETITORS[competitor]):
            for label in args.settings:
                threads, env = SETTINGS[label]
                runs = [measure(threads, env, args.trials, args.dataset) for _ in range(args.repeats)]
                per_trial = [s for run in runs for s in run]
                rows[(competitor, label)] = (statistics.median(per_trial), sum(per_trial) / args.repeats)
                print(f"  competitor {competitor!r:30} {label:36} median {rows[(competitor, label)][0]:6.2f} s per "
                      f"candidate, {rows[(competitor, label)][1]:6.1f} s for {args.trials}", flush=True)
    base = rows[(args.competitors[0], args.settings[0])][0]
    print(f"\n| competitor | torch threads | s per candidate (median) | vs {args.settings[0]}, {args.competitors[0]} |")
    print("|---|---|---:|---:|")
    for (competitor, label), (median, _) in rows.items():
        print(f"| {competitor} | {label} | {median:.2f} | {median / base:.2f}x |")
    print(time.strftime("finished %Y-%m-%d %H:%M:%S %Z"))


if __name__ == "__main__":
    main()
