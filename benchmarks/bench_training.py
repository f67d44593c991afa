"""Benchmark of training on Fashion-MNIST: (a) throughput of the aebnas trainer (``train_joint``) against a
bare hand-written PyTorch loop on the same network, data and settings; (b) fast mode (exit branches only, on
a frozen backbone's cached features) against joint mode at the same epochs: wall time and accuracy gap; (c)
self-distillation from the final exit into the early exits in fast mode, on and off.

Run (each heavy run under the shared lock, on a machine others use):
    flock /tmp/aebnas-bench.lock python benchmarks/bench_training.py            # all parts, ~8 minutes
    flock /tmp/aebnas-bench.lock python benchmarks/bench_training.py --parts a  # throughput only
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import io
import math
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from _environment import print_environment  # noqa: E402  (benchmarks/, the script's folder)

from aebnas.datasets import DatasetSplits, Split, load_dataset
from aebnas.engine.evaluation.backbone import FrozenBackbone
from aebnas.engine.evaluation.candidate import CandidateResult, train_candidate
from aebnas.engine.evaluation.training import TrainConfig, train_joint
from aebnas.exceptions import UnreachableTargetError
from aebnas.search_space import Architecture, ExitSpec, SearchSpace, build
from aebnas.search_space.layers import PaperModule

# ---------------------------------------------------------------------------------------------------------
# (a) trainer throughput vs a bare loop


def bare_loop(model: torch.nn.Module, split: Split, config: TrainConfig) -> float:
    """The reference: SGD (same optimiser, nesterov momentum, weight decay, per-step cosine schedule and
    shuffling generator as aebnas), channels_last, in-memory tensors, summed exit cross-entropy; nothing
    else. Returns the last epoch's mean loss."""
    model.to(memory_format=torch.channels_last).train()
    n = len(split)
    steps = math.ceil(n / config.batch_size)
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum,
                                weight_decay=config.weight_decay, nesterov=True)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs * steps)
    generator = torch.Generator().manual_seed(config.seed)
    for _ in range(config.epochs):
        order = torch.randperm(n, generator=generator)
        total = torch.zeros(())
        for step in range(steps):
            idx = order[step * config.batch_size:(step + 1) * config.batch_size]
            x = split.x[idx].contiguous(memory_format=torch.channels_last)
            y = split.y[idx]
            logits = model(x)  # batch x exits x classes
            loss = sum(F.cross_entropy(logits[:, k], y) for k in range(logits.shape[1]))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            total += loss.detach() * len(idx)
    return total.item() / n


def throughput_arch(depth: int) -> Architecture:
    """ResNet (width 16, 3 stages) of ``depth`` blocks per stage with a paper-module exit after stages 1 and 2."""
    return Architecture("resnet", (ExitSpec(1, (PaperModule(),)), ExitSpec(2, (PaperModule(),))), {"depth": depth})


def part_a(args: argparse.Namespace) -> None:
    data = load_dataset("fashion_mnist", max_train=args.max_train)
    arch = throughput_arch(args.depth)
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, augment=False, progress=False,
                         device="cpu", seed=args.seed)
    n_images = args.epochs * len(data.train)
    print(f"\n## (a) throughput: resnet depth {args.depth} width 16 + 2 paper-module exits, Fashion-MNIST "
          f"{len(data.train)} train images x {args.epochs} epochs, batch {args.batch_size}, augment off, "
          f"{args.reps} interleaved repetitions (order alternates A B / B A)", flush=True)

    def fresh_model() -> torch.nn.Module:
        torch.manual_seed(args.seed)
        return build(arch, data.info)

    def run(which: str) -> tuple[float, float]:
        model = fresh_model()
        start = time.perf_counter()
        if which == "aebnas":
            loss = train_joint(model, data.train, data.info, config).loss[-1]
        else:
            loss = bare_loop(model, data.train, config)
        return n_images / (time.perf_counter() - start), loss

    warm = Split(data.train.x[:1024], data.train.y[:1024])  # warm-up: allocator, oneDNN kernels
    train_joint(fresh_model(), warm, data.info, dataclasses.replace(config, epochs=1))
    bare_loop(fresh_model(), warm, dataclasses.replace(config, epochs=1))

    rates: dict[str, list[float]] = {"bare": [], "aebnas": []}
    losses: dict[str, float] = {}
    for rep in range(args.reps):
        order = ("bare", "aebnas") if rep % 2 == 0 else ("aebnas", "bare")
        for which in order:
            rate, losses[which] = run(which)
            rates[which].append(rate)
        load = os.getloadavg()[0]
        print(f"rep {rep + 1}: bare {rates['bare'][-1]:7.0f} img/s   aebnas {rates['aebnas'][-1]:7.0f} img/s   "
              f"ratio {rates['aebnas'][-1] / rates['bare'][-1]:.3f}   (load {load:.2f})", flush=True)
    bare, ours = statistics.median(rates["bare"]), statistics.median(rates["aebnas"])
    ratios = [a / b for a, b in zip(rates["aebnas"], rates["bare"])]
    ratio = statistics.median(ratios)
    print(f"median images/s: bare loop {bare:.0f}, aebnas train_joint {ours:.0f} (ratio of the medians {ours / bare:.3f})")
    print(f"aebnas / bare, paired within each repetition: median {ratio:.3f} (min {min(ratios):.3f}, max "
          f"{max(ratios):.3f}); aim >= 0.9: {'met' if ratio >= 0.9 else 'NOT met'}")
    print(f"last-epoch mean loss: bare {losses['bare']:.6f}, aebnas {losses['aebnas']:.6f} "
          "(same init, shuffling and optimiser: equal up to float summation order)")

    if args.profile:
        profile = cProfile.Profile()
        model = fresh_model()
        profile.enable()
        train_joint(model, data.train, data.info, dataclasses.replace(config, epochs=1))
        profile.disable()
        text = io.StringIO()
        pstats.Stats(profile, stream=text).sort_stats("tottime").print_stats(15)
        print("\ncProfile of one aebnas epoch (top 15 by own time):")
        print("\n".join(line for line in text.getvalue().splitlines() if line.strip())[:6000])


# ---------------------------------------------------------------------------------------------------------
# (b) fast vs joint, (c) self-distillation in fast mode


def budget_row(result: CandidateResult, budgets: list[float]) -> tuple[list[float], list[float]]:
    """Validation-curve accuracy and test accuracy of thresholds tuned on validation, at each budget (NaN
    where the budget is below the cheapest exit path)."""
    val, test = [], []
    for budget in budgets:
        val.append(result.curve.accuracy_at(budget))
        try:
            test.append(result.tune(budget).test.accuracy)
        except UnreachableTargetError:
            test.append(math.nan)
    return val, test


def pct(values: list[float]) -> str:
    return " ".join(f"{'-':>5}" if math.isnan(v) else f"{100 * v:5.1f}" for v in values)


def describe(arch: Architecture) -> str:
    def layer(spec) -> str:
        options = {k: v for k, v in spec.to_dict().items() if k != "type"}
        return spec.type + "(" + ",".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                                          for k, v in options.items()) + ")"
    return "; ".join(f"@{e.position}: " + (" > ".join(layer(s) for s in e.branch) or "linear") for e in arch.exits)


def print_result(tag: str, result: CandidateResult, budgets: list[float]) -> tuple[list[float], list[float]]:
    val, test = budget_row(result, budgets)
    exits_test = result.outputs.test.exit_accuracy().tolist()
    print(f"  {tag:<14} train {result.train_seconds:6.1f} s  eval {result.eval_seconds:4.1f} s  "
          f"exit test acc {pct(exits_test)} | val curve {pct(val)} | test tuned {pct(test)}", flush=True)
    return val, test


def parts_bc(args: argparse.Namespace) -> None:
    data: DatasetSplits = load_dataset("fashion_mnist", max_train=args.bc_max_train)
    options = {"depth": args.bc_depth, "width": 16}
    space = SearchSpace("extended", data.info.input_shape, data.info.num_classes, backbone="resnet",
                        backbone_options=options)
    archs = space.sample_many(args.n_archs, rng=args.arch_seed)
    config = TrainConfig(epochs=args.bc_epochs, batch_size=args.batch_size, augment=False, device="cpu",
                         seed=args.seed)
    print(f"\n## (b) fast vs joint: resnet depth {args.bc_depth} width 16 (3 stages), Fashion-MNIST "
          f"{len(data.train)} train / {len(data.val)} val / {len(data.test)} test, {args.bc_epochs} epochs everywhere, "
          f"batch {args.batch_size}, {args.n_archs} `extended` architectures (rng seed {args.arch_seed})", flush=True)

    start = time.perf_counter()
    backbone = FrozenBackbone.prepare(data, "resnet", options, config)
    total = time.perf_counter() - start
    train_s = backbone.history.seconds
    final_test = (backbone.final_logits["test"].argmax(-1) == data.test.y).float().mean().item()
    feature_gib = sum(f.numel() * f.element_size() for fs in backbone.features.values() for f in fs) / 2**30
    print(f"one-off backbone: training {train_s:.1f} s + feature caching {total - train_s:.1f} s "
          f"({feature_gib:.2f} GiB float16, all splits); backbone-only test accuracy {100 * final_test:.2f}%")

    budget_fracs = [float(f) / 100 for f in args.budgets.split(",")]
    print("columns: per-exit test accuracy (%, early exits then final) | validation-curve accuracy (%) and test "
          "accuracy of thresholds tuned on validation (%) at average-MACs budgets of "
          + "/".join(f"{100 * f:.0f}" for f in budget_fracs) + "% of the backbone's MACs; '-' = below the cheapest path")

    records = []
    for i, arch in enumerate(archs):
        fast = train_candidate(arch, data, config, "fast", backbone)
        backbone_macs = fast.costs.paths[-1] - sum(fast.costs.branches)
        budgets = [f * backbone_macs for f in budget_fracs]
        print(f"\narch {i + 1} ({arch.id}): {describe(arch)}")
        print(f"  path MMACs {', '.join(f'{p / 1e6:.2f}' for p in fast.costs.paths)} (backbone {backbone_macs / 1e6:.2f})")
        record = {"arch": arch, "budgets": budgets, "fast": fast}
        record["fast_row"] = print_result("fast", fast, budgets)
        if "b" in args.parts:
            joint = train_candidate(arch, data, config, "joint")
            record["joint"] = joint
            record["joint_row"] = print_result("joint", joint, budgets)
        if "c" in args.parts:
            for seed in args.distill_seeds:
                for weight in (0.0, args.distill):
                    if seed == args.seed and weight == 0.0:
                        result, row = fast, record["fast_row"]
                    else:
                        result = train_candidate(arch, data, dataclasses.replace(config, distill=weight, seed=seed),
                                                 "fast", backbone)
                        row = print_result(f"fast d={weight:g} s={seed}", result, budgets)
                    record[("distill", weight, seed)] = (result, row)
        records.append(record)

    if "b" in args.parts:
        summarise_b(records, train_s, total - train_s)
    if "c" in args.parts:
        summarise_c(records, args)


def summarise_b(records: list[dict], backbone_train_s: float, cache_s: float) -> None:
    fast_s = [r["fast"].train_seconds for r in records]
    joint_s = [r["joint"].train_seconds for r in records]
    print("\n(b) summary")
    print(f"  train time per candidate, median: fast {statistics.median(fast_s):.1f} s, joint "
          f"{statistics.median(joint_s):.1f} s ({statistics.median(joint_s) / statistics.median(fast_s):.1f}x); "
          f"fast also needs the one-off backbone {backbone_train_s:.1f} s + caching {cache_s:.1f} s, "
          f"shared by every candidate of a run")
    early, final, val_gap, test_gap = [], [], [], []
    for r in records:
        fa, ja = r["fast"].outputs.test.exit_accuracy(), r["joint"].outputs.test.exit_accuracy()
        early += (100 * (ja[:-1] - fa[:-1])).tolist()
        final.append(100 * (ja[-1] - fa[-1]).item())
        for (fv, ft), (jv, jt) in [(r["fast_row"], r["joint_row"])]:
            val_gap += [100 * (j - f) for f, j in zip(fv, jv) if not (math.isnan(f) or math.isnan(j))]
            test_gap += [100 * (j - f) for f, j in zip(ft, jt) if not (math.isnan(f) or math.isnan(j))]
    print(f"  joint - fast, test accuracy of early exits (points): {', '.join(f'{g:+.1f}' for g in early)}")
    print(f"  joint - fast, final exit test accuracy (points): {', '.join(f'{g:+.1f}' for g in final)}")
    if val_gap:
        print(f"  joint - fast at the budgets, median (min, max) points: validation curve "
              f"{statistics.median(val_gap):+.1f} ({min(val_gap):+.1f}, {max(val_gap):+.1f}); tuned test "
              f"{statistics.median(test_gap):+.1f} ({min(test_gap):+.1f}, {max(test_gap):+.1f})")


def summarise_c(records: list[dict], args: argparse.Namespace) -> None:
    print(f"\n(c) summary: distill {args.distill:g} minus distill 0 (fast mode, temperature "
          f"{TrainConfig().distill_temperature:g}), per seed {args.distill_seeds}")
    early, val_gap, test_gap, seed_noise = [], [], [], []
    for r in records:
        for seed in args.distill_seeds:
            off, (off_v, off_t) = r[("distill", 0.0, seed)]
            on, (on_v, on_t) = r[("distill", args.distill, seed)]
            early += (100 * (on.outputs.test.exit_accuracy()[:-1] - off.outputs.test.exit_accuracy()[:-1])).tolist()
            val_gap += [100 * (b - a) for a, b in zip(off_v, on_v) if not (math.isnan(a) or math.isnan(b))]
            test_gap += [100 * (b - a) for a, b in zip(off_t, on_t) if not (math.isnan(a) or math.isnan(b))]
        if len(args.distill_seeds) > 1:
            a, b = r[("distill", 0.0, args.distill_seeds[0])][0], r[("distill", 0.0, args.distill_seeds[1])][0]
            seed_noise += (100 * (b.outputs.test.exit_accuracy()[:-1] - a.outputs.test.exit_accuracy()[:-1])).abs().tolist()
    print(f"  early-exit test accuracy change (points): {', '.join(f'{g:+.1f}' for g in early)}; "
          f"mean {statistics.mean(early):+.2f}")
    if val_gap:
        print(f"  at the budgets, mean (min, max) points: validation curve {statistics.mean(val_gap):+.2f} "
              f"({min(val_gap):+.1f}, {max(val_gap):+.1f}); tuned test {statistics.mean(test_gap):+.2f} "
              f"({min(test_gap):+.1f}, {max(test_gap):+.1f})")
    if seed_noise:
        print(f"  seed noise for scale: |seed {args.distill_seeds[1]} - seed {args.distill_seeds[0]}| of early-exit "
              f"test accuracy with distill 0: mean {statistics.mean(seed_noise):.2f}, max {max(seed_noise):.2f} points")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", default="abc", help="which parts to run: any of a, b, c (default abc)")
    parser.add_argument("--seed", type=int, default=0, help="training seed (init, shuffling)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    group = parser.add_argument_group("(a) throughput")
    group.add_argument("--max-train", type=int, default=10_000, help="training images")
    group.add_argument("--epochs", type=int, default=2)
    group.add_argument("--depth", type=int, default=1, help="resnet blocks per stage")
    group.add_argument("--reps", type=int, default=5, help="interleaved repetitions of each loop")
    group.add_argument("--profile", action="store_true", help="also cProfile one aebnas epoch")
    group = parser.add_argument_group("(b) fast vs joint, (c) distillation")
    group.add_argument("--bc-max-train", type=int, default=20_000, help="training images")
    group.add_argument("--bc-epochs", type=int, default=2, help="epochs of backbone, branches and joint training")
    group.add_argument("--bc-depth", type=int, default=1, help="resnet blocks per stage")
    group.add_argument("--n-archs", type=int, default=3)
    group.add_argument("--arch-seed", type=int, default=0)
    group.add_argument("--budgets", default="45,55,70,85,100", help="average-MACs budgets, %% of the backbone's MACs")
    group.add_argument("--distill", type=float, default=1.0, help="distillation weight compared with 0")
    group.add_argument("--distill-seeds", type=lambda s: [int(x) for x in s.split(",")], default=[0, 1],
                       help="training seeds of the distillation comparison (comma-separated)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.seed not in args.distill_seeds:
        args.distill_seeds = [args.seed, *args.distill_seeds]
    print_environment(args, f"mkldnn {torch.backends.mkldnn.is_available()}")
    start = time.perf_counter()
    if "a" in args.parts:
        part_a(args)
    if "b" in args.parts or "c" in args.parts:
        parts_bc(args)
    print(f"\ntotal wall time {time.perf_counter() - start:.0f} s; load average now "
          f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
