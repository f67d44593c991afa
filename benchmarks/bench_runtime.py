"""Benchmark of the deployment runtime: average time per image of a run's network (the best confirmed, or
--confirmed ID / --arch ID) exported to ONNX (onnxruntime) and TorchScript with real early exit, against
``EarlyExitNet.infer`` in eager PyTorch and against the backbone alone (every image through the whole
backbone: eager, and exported as one model in each format), on the run's test split at batch 1 and a larger
batch; median and spread (max - min) of --repeats passes after a warm-up pass.
Run: python benchmarks/bench_runtime.py --run-dir runs/demo"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from _environment import print_environment
from aebnas.engine.export import WRITERS, export_run, load_network, select
from aebnas.engine.search import Search
from aebnas.runtime import BACKENDS, load_runtime


def per_image_ms(run: Callable[[slice], object], n: int, batch: int, repeats: int) -> tuple[float, float]:
    """(median, spread) over ``repeats`` passes of ms per image, ``n`` images in batches of ``batch``."""
    times = []
    for _ in range(repeats + 1):  # the first pass warms up
        start = time.perf_counter()
        for i in range(0, n, batch):
            run(slice(i, i + batch))
        times.append(1e3 * (time.perf_counter() - start) / n)
    return statistics.median(times[1:]), max(times[1:]) - min(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", required=True)
    parser.add_argument("--arch", default=None, help="a searched trial's architecture id")
    parser.add_argument("--confirmed", default=None, help="a confirmed candidate's id (default: the best)")
    parser.add_argument("--images", type=int, default=None, help="the first N test images (default: all)")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 64])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print_environment(args)
    folder = Path(tempfile.mkdtemp(prefix="bench-runtime-"))
    formats = ("onnx", "torchscript")
    manifests = {fmt: export_run(args.run_dir, fmt, folder / fmt, args.arch, args.confirmed) for fmt in formats}
    with Search.open(args.run_dir) as search:
        model = load_network(search, select(search, args.arch, args.confirmed)).eval()
        x = search.data.test.x[:args.images]
    m, n = manifests["onnx"], len(x)
    backbone = nn.Sequential(*model.stages, model.head).eval()
    xs = x.numpy()
    ways = {"backbone alone, eager torch": lambda s: backbone(x[s])}
    for fmt in formats:  # the backbone alone, exported as one model
        backend = BACKENDS.get(fmt)("cpu", args.threads)
        path = folder / f"backbone{backend.suffix}"
        WRITERS.get(fmt)(backbone, torch.zeros(2, *m.input_shape), path, ("logits",))
        ways[f"backbone alone, {fmt}"] = lambda s, run=backend.load(path), backend=backend: run(backend.asarray(xs[s]))
    thresholds = torch.tensor(m.thresholds, dtype=torch.float32)
    fractions = " ".join(f"{f:.2f}" for f in m.test.exit_fractions)
    print(f"\n{m.source}: exits after stages {list(m.positions)}, test exit fractions {fractions}, average MACs "
          f"{m.test.avg_macs:,.0f} vs {m.path_macs[-1]:,} for the last exit path; {n} test images, {args.threads} "
          "thread(s)\n")
    ways["EarlyExitNet.infer, eager torch"] = lambda s: model.infer(x[s], thresholds, m.rule)
    for fmt in formats:
        runtime = load_runtime(folder / fmt, threads=args.threads)
        ways[f"early-exit runtime, {fmt}"] = lambda s, runtime=runtime: runtime.run(xs[s], normalised=True)
    print(f"{'ms per image (median, spread)':<34}" + "".join(f"{f'batch {b}':>20}" for b in args.batches))
    with torch.inference_mode():
        for name, run in ways.items():
            cells = [per_image_ms(run, n, b, args.repeats) for b in args.batches]
            print(f"{name:<34}" + "".join(f"{f'{med:.4f} ({spread:.4f})':>20}" for med, spread in cells), flush=True)


if __name__ == "__main__":
    main()
