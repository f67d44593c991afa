"""Benchmark of MACs against measured latency as the cost: for the --designs trials of a search run with the
best validation accuracy at a target of average MACs (thresholds tuned on validation there), the average time per image of each network exported
with real early exit (ONNX runtime and TorchScript, batch 1 and 64) against the backbone alone exported the
same way, on the run's test images; beside it the MACs saving and the saving a latency table predicts (its
summed parts weighted by the exit fractions). Where MACs and measured latency order the designs differently,
the pairs are listed. Ratios are against the backbone measured in the same run, so machine load cancels.
Run: python benchmarks/bench_latency.py --run-dir benchmarks/tables/fmnist_resnet.build/seed-0 \\
         --latency-table benchmarks/results/latency_fmnist_resnet.json"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import tempfile
from pathlib import Path

import numpy as np
import torch
from scipy.stats import kendalltau
from torch import nn

from _environment import print_environment
from bench_runtime import per_image_ms
from aebnas.engine.export import WRITERS, export_run
from aebnas.engine.profile import RUNTIMES, Timer, check_composition, profile_space
from aebnas.engine.search import Search, TrialState
from aebnas.runtime import BACKENDS, load_runtime
from aebnas.search_space.latency import LatencyTable

FORMATS = ("onnx", "torchscript")


def latency_table(search: Search, path: Path | None, threads: int, runtime: str) -> LatencyTable:
    """The table in ``path``, or the run's space profiled at batch 1 in ``runtime`` (composition checked) and
    saved there."""
    if path is not None and path.is_file():
        return LatencyTable.load(path)
    torch.set_num_threads(threads)
    timer = Timer(torch.device("cpu"), 1, runtime=runtime)
    table = profile_space(search.space, rule=search.config.rule, timer=timer, progress=True)
    table = dataclasses.replace(table, composition=check_composition(table, search.space, 5, timer=timer))
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        table.save(path)
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", required=True)
    parser.add_argument("--designs", type=int, default=5)
    parser.add_argument("--target", type=float, default=0.6, help="target average MACs, a share of the backbone's")
    parser.add_argument("--latency-table", type=Path, default=None, help="read, or profiled and written if missing")
    parser.add_argument("--images", type=int, default=2000, help="the first N test images")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 64])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runtime", default="eager", choices=RUNTIMES, help="how the latency table is profiled")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print_environment(args)
    with Search.open(args.run_dir) as search:
        table = latency_table(search, args.latency_table, args.threads, args.runtime)
        target = args.target * search.ref_macs
        reach = [t for t in search.trials(TrialState.COMPLETE) if t.curve.avg_macs[0] <= target]
        designs = sorted(reach, key=lambda t: (-t.curve.accuracy_at(target), t.number))[:args.designs]
        x = search.data.test.x[:args.images]
        backbone = nn.Sequential(*search.backbone.model.stages, search.backbone.model.head).eval()
    composition = table.composition
    print(f"latency table ({table.runtime}): {len(table.layers)} branch layers, {len(table.classifiers)} classifiers, batch {table.batch}"
          + (f"; summed parts vs {composition.paths} whole paths: mean error {composition.mean_abs_error:.1%}, "
             f"max {composition.max_abs_error:.1%}" if composition else ""))
    backbone_ms_table = sum(t.median_ms for t in table.stages) + table.head.median_ms
    folder = Path(tempfile.mkdtemp(prefix="bench-latency-"))
    xs, n = x.numpy(), len(x)
    cells = [(fmt, b) for fmt in FORMATS for b in args.batches]
    with torch.inference_mode():
        base = {}
        for fmt in FORMATS:
            backend = BACKENDS.get(fmt)("cpu", args.threads)
            path = folder / f"backbone{backend.suffix}"
            WRITERS.get(fmt)(backbone, torch.zeros(2, *x.shape[1:]), path, ("logits",))
            run = backend.load(path)
            for b in args.batches:
                base[fmt, b] = per_image_ms(lambda s: run(backend.asarray(xs[s])), n, b, args.repeats)[0]
        print("backbone alone, ms per image: " + ", ".join(f"{fmt} batch {b} {base[fmt, b]:.4f}" for fmt, b in cells)
              + f"; the table's sum {backbone_ms_table:.4f} (batch 1)")
        header = (f"\n{'design':<18}{'exits':<11}{'test %':>7}{'MACs save':>10}{'table save':>11}"
                  + "".join(f"{f'{fmt[:4]} b{b} save':>14}" for fmt, b in cells))
        print(f"target {args.target:.0%} of the backbone's {search.ref_macs:,.0f} MACs; {n} test images, "
              f"{args.threads} thread(s); savings = 1 - average / backbone alone (same format and batch)" + header)
        rows = []
        for trial in designs:
            manifests = {fmt: export_run(args.run_dir, fmt, folder / f"{trial.arch_id}-{fmt}", trial.arch_id,
                                         target_macs=target) for fmt in FORMATS}
            m = manifests["onnx"]
            fractions = np.asarray(m.test.exit_fractions)
            table_ms = float(fractions @ np.asarray(table.path_costs(trial.arch).paths))
            row = {"macs": 1 - m.test.avg_macs / search.ref_macs, "table": 1 - table_ms / backbone_ms_table}
            for fmt, b in cells:
                runtime = load_runtime(folder / f"{trial.arch_id}-{fmt}", threads=args.threads)
                ms = per_image_ms(lambda s: runtime.run(xs[s], normalised=True), n, b, args.repeats)[0]
                row[fmt, b] = 1 - ms / base[fmt, b]
            rows.append((trial.arch_id, row))
            print(f"{trial.arch_id:<18}{','.join(map(str, m.positions)) or '-':<11}{100 * m.test.accuracy:>7.2f}"
                  f"{row['macs']:>10.1%}{row['table']:>11.1%}" + "".join(f"{row[c]:>14.1%}" for c in cells),
                  flush=True)
    print()
    for base_key in ("macs", "table"):
        for key in [k for k in ["table", *cells] if k != base_key]:
            tau = kendalltau([r[base_key] for _, r in rows], [r[key] for _, r in rows]).statistic
            flipped = [f"{a[:8]}/{b[:8]}" for (a, ra), (b, rb) in itertools.combinations(rows, 2)
                       if (ra[base_key] - rb[base_key]) * (ra[key] - rb[key]) < 0]
            name = "table" if key == "table" else f"{key[0]} batch {key[1]}"
            print(f"{'MACs' if base_key == 'macs' else 'table'} saving vs {name} saving: Kendall tau {tau:+.2f}; "
                  f"pairs ordered differently: {', '.join(flipped) or 'none'}")


if __name__ == "__main__":
    main()
