"""Commands about one network: ``datasets``, ``backbones``, ``space sample``, ``macs``, ``train`` and ``tune``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from aebnas.cli._common import (POSITIVE, SEED, add_dataset_args, add_device_arg, add_rule_arg, add_weights_arg,
                                check_data_dir, dataset_info, float_arg, macs_arg, parse_macs, print_table)


def add_datasets_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", default=None)


def run_datasets(args) -> int:
    from aebnas.datasets import DATASETS, dataset_available

    check_data_dir(args.data_dir)
    rows = []
    for name in DATASETS:
        info = DATASETS.get(name).info
        rows.append([name, info.num_classes, "x".join(map(str, info.input_shape)),
                     "yes" if dataset_available(name, args.data_dir) else "no"])
    print_table(rows, ["dataset", "classes", "shape", "available"])
    return 0


def add_backbones_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("names", nargs="*", metavar="NAME",
                   help="only these backbones, e.g. timm:resnet18 (default: every registered one)")
    p.add_argument("--dataset", default="cifar10", help="whose input shape and classes (default: %(default)s)")
    p.add_argument("--resolution", type=POSITIVE, default=None,
                   help="input resolution of the torchvision:* and timm:* backbones (default: their option's default, 64)")


def run_backbones(args) -> int:
    from aebnas.exceptions import InvalidArchitectureError
    from aebnas.search_space import BACKBONES, backbone_stage_macs, stage_shapes

    info = dataset_info(args.dataset)
    names = args.names or BACKBONES.names()
    for name in names:
        BACKBONES.get(name)  # an unknown name fails before any work
    rows = []
    for name in names:
        backbone = BACKBONES.get(name)
        given = {"resolution": args.resolution} if args.resolution and "resolution" in backbone.options else {}
        options = backbone.canonical_options(given)
        if not backbone.fits(info.input_shape):
            rows.append([name, "-", f"needs inputs of at least {backbone.min_input_size} px", "-", "-"])
            continue
        try:
            shapes = stage_shapes(name, options, info.input_shape)
        except InvalidArchitectureError as err:
            rows.append([name, "-", str(err), "-", "-"])
            continue
        macs = backbone_stage_macs(name, options, info.input_shape, info.num_classes)
        rows.append([name, ",".join(map(str, backbone.positions(options))),
                     " ".join("x".join(map(str, shape)) for shape in shapes),
                     " ".join(f"{m / 1e6:.2f}" for m in macs), f"{sum(macs) / 1e6:.2f}"])
    print(f"backbones on {info.name} ({'x'.join(map(str, info.input_shape))}, {info.num_classes} classes); "
          "an exit after stage p sits at position p; MACs in millions (stages; the head not included):")
    print_table(rows, ["backbone", "exit positions", "stage output shapes (C x H x W)", "stage MACs", "backbone MACs"])
    if not args.names:
        for prefix, description in BACKBONES.prefixes().items():
            print(f"and {prefix}NAME: {description} ({_library_note(prefix.rstrip(':'))}; name one to see it: "
                  f"`aebnas backbones {prefix}NAME`)")
    return 0


def _library_note(package: str) -> str:
    """Whether an optional library is installed, without importing it."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"{package} {version(package)} installed"
    except PackageNotFoundError:
        return f"{package} not installed: pip install 'aebnas[{package}]'"


def add_space_args(p: argparse.ArgumentParser) -> None:
    from aebnas.search_space import list_backbones, list_presets

    p.add_argument("action", choices=["sample"])
    p.add_argument("--preset", default="extended", help=f"one of: {', '.join(list_presets())}")
    p.add_argument("-n", type=POSITIVE, default=3, help="architectures to sample")
    p.add_argument("--dataset", default="digits")
    p.add_argument("--backbone", default=None, help=f"one of: {', '.join(list_backbones())}")
    p.add_argument("--max-exits", type=POSITIVE, default=4)
    p.add_argument("--seed", type=SEED, default=0)


def run_space(args) -> int:
    from aebnas.search_space import SearchSpace

    info = dataset_info(args.dataset)
    space = SearchSpace.for_dataset(info, args.preset, backbone=args.backbone, max_exits=args.max_exits)
    for arch in space.sample_many(args.n, args.seed):
        costs = space.costs(arch)
        print(json.dumps({"id": arch.id, "arch": arch.to_dict(), "path_macs": list(costs.paths),
                          "branch_macs": list(costs.branches)}))
    return 0


def add_macs_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("arch", help="architecture JSON file")
    p.add_argument("--dataset", default="digits")


def run_macs(args) -> int:
    from aebnas.search_space import Architecture, path_costs, validate

    info = dataset_info(args.dataset)
    arch = Architecture.load(args.arch)
    validate(arch, info.input_shape)
    costs = path_costs(arch, info.input_shape, info.num_classes)
    rows = [[k, f"after stage {e.position}", costs.branches[k], costs.paths[k]] for k, e in enumerate(arch.exits)]
    rows.append([len(arch.exits), "final", costs.head, costs.paths[-1]])
    print(f"architecture {arch.id} on {info.name} ({'x'.join(map(str, info.input_shape))}), MACs:")
    print_table(rows, ["exit", "where", "branch MACs", "path MACs"])
    return 0


def _train_args(p: argparse.ArgumentParser, epochs: int) -> None:
    p.add_argument("--epochs", type=POSITIVE, default=epochs)
    p.add_argument("--batch-size", type=POSITIVE, default=128)
    p.add_argument("--lr", type=float_arg(0, low_open=True), default=0.05)
    p.add_argument("--label-smoothing", type=float_arg(0, 1, high_open=True), default=0.0)
    p.add_argument("--distill", type=float_arg(0), default=0.0, help="self-distillation weight (0 = off)")
    p.add_argument("--seed", type=SEED, default=0)
    add_device_arg(p)
    add_rule_arg(p)


def add_train_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("arch", help="architecture JSON file")
    add_dataset_args(p)
    _train_args(p, epochs=10)
    p.add_argument("--mode", default="fast", choices=["fast", "joint"])
    add_weights_arg(p)
    p.add_argument("--backbone-epochs", type=POSITIVE, default=10, help="epochs of the frozen backbone (fast mode)")
    p.add_argument("--cache-dir", default=str(Path.home() / ".cache" / "aebnas" / "backbones"))
    p.add_argument("--target-macs", type=macs_arg(), default="60%",
                   help="target average MACs: 17M, 250k, or 60%% of the full path")
    p.add_argument("--out", required=True, help="output directory")


def _train_config(args, epochs: int | None = None, progress: bool = True):
    from aebnas.engine.evaluation import TrainConfig

    return TrainConfig(epochs=epochs or args.epochs, batch_size=args.batch_size, lr=args.lr,
                       label_smoothing=args.label_smoothing, distill=args.distill, seed=args.seed,
                       device=args.device, progress=progress)


def _report_candidate(summary, tuned, target: float) -> None:
    """Per-exit table of a trained candidate's ``summary``, and its ``tuned`` val/test metrics at ``target``."""
    rows = [[k, f"{summary.path_macs[k]:,}", f"{100 * summary.exit_accuracy_val[k]:.2f}",
             f"{100 * summary.exit_accuracy_test[k]:.2f}"] for k in range(len(summary.path_macs))]
    print_table(rows, ["exit", "path MACs", "val acc %", "test acc %"])
    thresholds = [round(t, 4) for t in tuned.val.thresholds.tolist()]
    print(f"\ntuned for target {target:,.0f} average MACs (thresholds {thresholds}):")
    rows = [[split, f"{100 * point.accuracy:.2f}", f"{point.avg_macs:,.0f}",
             " ".join(f"{f:.2f}" for f in point.exit_fractions.tolist())]
            for split, point in (("val", tuned.val), ("test", tuned.test))]
    print_table(rows, ["split", "accuracy %", "avg MACs", "exit fractions"])


def run_train(args) -> int:
    from aebnas.checks import check_output_dir
    from aebnas.datasets import load_dataset
    from aebnas.engine.evaluation import FrozenBackbone, save_candidate, train_candidate
    from aebnas.engine.search.plots import plot_tradeoff
    from aebnas.exceptions import UnreachableTargetError
    from aebnas.exit_rules import EXIT_RULES
    from aebnas.search_space import Architecture, path_costs, validate

    # every argument is checked before any data is loaded or anything trained or written
    info = dataset_info(args.dataset)
    arch = Architecture.load(args.arch)
    if args.backbone_weights is not None:
        arch = Architecture(arch.backbone, arch.exits, {**arch.backbone_options, "weights": args.backbone_weights})
    validate(arch, info.input_shape)
    EXIT_RULES.get(args.rule)
    check_data_dir(args.data_dir)
    check_output_dir(args.out, "--out")
    if args.mode == "fast":
        check_output_dir(args.cache_dir, "--cache-dir")
    paths = path_costs(arch, info.input_shape, info.num_classes).paths
    target = parse_macs(args.target_macs, paths[-1])
    if target < paths[0]:
        raise UnreachableTargetError(f"target {target:,.0f} average MACs is below the cheapest exit path of {arch.id} "
                                     f"({paths[0]:,} MACs); give a target of at least {paths[0]:,}")
    config = _train_config(args)
    data = load_dataset(args.dataset, data_dir=args.data_dir, download=args.download, val_size=args.val_size,
                        seed=args.seed, max_train=args.max_train)
    backbone = None
    if args.mode == "fast":
        backbone = FrozenBackbone.prepare(data, arch.backbone, arch.backbone_options,
                                          _train_config(args, epochs=args.backbone_epochs), cache_dir=args.cache_dir)
    result = train_candidate(arch, data, config, args.mode, backbone, args.rule)
    tuned = result.tune(target)
    out = save_candidate(result, args.out, {"target_macs": target, "tuned": tuned.to_dict(),
                                            "dataset": data.info.to_dict(), "train": config.to_dict()})
    plot_tradeoff({"validation curve": result.curve}, out / "tradeoff.png", f"{arch.id} on {data.info.name}",
                  tuned={"tuned (val)": tuned.val}, target_macs=target)
    print(f"trained {arch.id} on {data.info.name} in {args.mode} mode ({result.train_seconds:.1f} s)")
    _report_candidate(result.summary(), tuned, target)
    print(f"\nsaved to {out}/ (arch.json, model.pt, outputs.pt, result.json, tradeoff.png)")
    return 0


def add_tune_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", help="directory written by `aebnas train --out`")
    p.add_argument("--target-macs", type=macs_arg(), required=True, help="e.g. 150k or 60%% of the full path")
    p.add_argument("--method", default="fine", choices=["fine", "grid"])
    p.add_argument("--scoring", default="constraint", choices=["constraint", "paper"])


def run_tune(args) -> int:
    from aebnas.engine.evaluation import SavedCandidate

    saved = SavedCandidate.load(args.dir)
    target = parse_macs(args.target_macs, saved.costs.paths[-1])
    _report_candidate(saved.summary, saved.tune(target, args.method, args.scoring), target)
    return 0
