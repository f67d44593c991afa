"""Benchmark of exit-branch designs on Fashion-MNIST with one frozen backbone (fast mode): accuracy at equal
average MACs of the backbone alone, linear exits (SDN-style), the AEBNAS paper's branch, a two-conv k5 branch
like the one DESIGN.md section 6 measured, and a few seeded samples of the `extended` space. Thresholds are
tuned on validation for each budget and applied to test; the validation curves are plotted.

Run (heavy: under the shared lock):
    flock /tmp/aebnas-bench.lock python benchmarks/bench_fmnist_branches.py      # ~6 minutes on 2 cores
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from _environment import print_environment  # noqa: E402  (benchmarks/, the script's folder)

from aebnas.datasets import load_dataset
from aebnas.engine.evaluation.backbone import FrozenBackbone
from aebnas.engine.evaluation.candidate import CandidateResult, train_candidate
from aebnas.engine.evaluation.thresholds import TunedThresholds
from aebnas.engine.evaluation.training import TrainConfig
from aebnas.engine.search.plots import plot_tradeoff
from aebnas.exceptions import UnreachableTargetError
from aebnas.search_space import Architecture, ExitSpec, SearchSpace
from aebnas.search_space.layers import Conv, PaperModule

ROOT = Path(__file__).resolve().parents[1]


def describe(arch: Architecture) -> str:
    def layer(spec) -> str:
        options = {k: v for k, v in spec.to_dict().items() if k != "type"}
        return spec.type + "(" + ",".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                                          for k, v in options.items()) + ")"
    return "; ".join(f"@{e.position}: " + (" > ".join(layer(s) for s in e.branch) or "linear") for e in arch.exits)


def fixed_designs(options: dict, positions: tuple[int, ...]) -> dict[str, Architecture]:
    """The hand-made designs, each with the same branch at every exit position."""
    branches = {
        "linear (SDN)": (),
        "paper r8 k3 x1": (PaperModule(resize=8, kernel=3, width=1.0),),
        "2 conv k5 2C": (Conv(kernel=5, width=2.0, stride=2), Conv(kernel=5, width=1.0, stride=2)),
    }
    return {label: Architecture("resnet", tuple(ExitSpec(p, branch) for p in positions), options)
            for label, branch in branches.items()}


def cell(value: float) -> str:
    return f"{'-':>5}" if math.isnan(value) else f"{100 * value:5.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--depth", type=int, default=1, help="resnet blocks per stage (width 16, 3 stages)")
    parser.add_argument("--max-train", type=int, default=None, help="training images (default: all 55,000)")
    parser.add_argument("--backbone-epochs", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3, help="epochs per exit-branch training")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--n-sampled", type=int, default=4, help="sampled `extended` architectures")
    parser.add_argument("--arch-seed", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0, help="training seed")
    parser.add_argument("--budgets", default="40,55,70,85,100", help="average-MACs budgets, %% of the backbone's MACs")
    parser.add_argument("--plot", default=str(ROOT / "docs" / "img" / "fmnist_branches.png"))
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print_environment(args)
    start = time.perf_counter()

    data = load_dataset("fashion_mnist", max_train=args.max_train)
    options = {"depth": args.depth, "width": 16}
    space = SearchSpace("extended", data.info.input_shape, data.info.num_classes, backbone="resnet",
                        backbone_options=options)
    backbone_config = TrainConfig(epochs=args.backbone_epochs, batch_size=args.batch_size, device="cpu", seed=args.seed)
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, device="cpu", seed=args.seed)
    t = time.perf_counter()
    backbone = FrozenBackbone.prepare(data, "resnet", options, backbone_config)
    prepare_s = time.perf_counter() - t
    print(f"\nbackbone resnet depth {args.depth} width 16 (16/32/64 channels), Fashion-MNIST {len(data.train)} train / "
          f"{len(data.val)} val / {len(data.test)} test: {args.backbone_epochs} epochs {backbone.history.seconds:.1f} s, "
          f"feature caching {prepare_s - backbone.history.seconds:.1f} s; exit branches {args.epochs} epochs each "
          f"(SGD lr {config.lr} cosine, batch {args.batch_size})", flush=True)

    designs = fixed_designs(options, space.positions)
    for i, arch in enumerate(space.sample_many(args.n_sampled, rng=args.arch_seed)):
        designs[f"sampled {i + 1}"] = arch
    results: dict[str, CandidateResult] = {}
    for label, arch in designs.items():
        results[label] = train_candidate(arch, data, config, "fast", backbone)
        print(f"  trained {label:<15} {results[label].train_seconds:5.1f} s: {describe(arch)}", flush=True)

    any_result = next(iter(results.values()))
    backbone_macs = any_result.costs.paths[-1] - sum(any_result.costs.branches)
    fractions = [float(f) / 100 for f in args.budgets.split(",")]
    budgets = [f * backbone_macs for f in fractions]
    backbone_acc = {name: (backbone.final_logits[name].argmax(-1) == getattr(data, name).y).float().mean().item()
                    for name in ("val", "test")}

    print(f"\nbackbone MACs {backbone_macs / 1e6:.3f}M; budgets {', '.join(f'{b / 1e6:.2f}M' for b in budgets)} "
          f"({args.budgets}% of it). Per budget: validation accuracy of the tuned point (= the validation curve) / "
          "test accuracy with the same thresholds; '-' = below the cheapest path")
    head = f"{'design':<16}{'exit path MMACs':<22}{'exit test acc %':<24}" + "".join(
        f"{f'{100 * f:.0f}% val/test':>15}" for f in fractions)
    print(head)
    print("-" * len(head))
    only = [f"{cell(backbone_acc['val'])} /{cell(backbone_acc['test'])}" if b >= backbone_macs else "    - /    -"
            for b in budgets]
    macs_text, acc_text = f"{backbone_macs / 1e6:.2f}", f"{100 * backbone_acc['test']:.1f}"
    print(f"{'backbone only':<16}{macs_text:<22}{acc_text:<24}" + "".join(f"{r:>15}" for r in only))
    overshoot = []
    for label, result in results.items():
        row = []
        for budget in budgets:
            try:
                pair = result.tune(budget)
                tuned, test = pair.val, pair.test
                overshoot.append(100 * (test.avg_macs - budget) / budget)
                row.append(f"{cell(tuned.accuracy)} /{cell(test.accuracy)}")
            except UnreachableTargetError:
                row.append("    - /    -")
        paths = ", ".join(f"{p / 1e6:.2f}" for p in result.costs.paths)
        accs = " ".join(f"{100 * a:.1f}" for a in result.outputs.test.exit_accuracy().tolist())
        print(f"{label:<16}{paths:<22}{accs:<24}" + "".join(f"{r:>15}" for r in row))
    print(f"test average MACs of the tuned thresholds vs the budget: max {max(overshoot):+.1f}%, "
          f"mean {sum(overshoot) / len(overshoot):+.1f}% (thresholds are tuned on validation only)")

    print("\nper-position exit accuracy (test %), by design:")
    for position in space.positions:
        entries = []
        for label, result in results.items():
            if position in result.arch.positions:
                k = result.arch.positions.index(position)
                entries.append(f"{label} {100 * result.outputs.test.exit_accuracy()[k].item():.1f}")
        print(f"  after stage {position}: " + "; ".join(entries))

    curves = {label: result.curve for label, result in results.items()}
    point = TunedThresholds(torch.empty(0), backbone_acc["val"], backbone_macs, torch.tensor([1.0]))
    path = plot_tradeoff(curves, args.plot, title=f"Fashion-MNIST, frozen ResNet depth {args.depth}: validation curves",
                         tuned={"backbone only": point})
    print(f"\nplot: {path}")
    print(f"total wall time {time.perf_counter() - start:.0f} s; load average now "
          f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
