"""The ``aebnas`` command line: datasets, spaces, MACs, training and threshold tuning."""

from __future__ import annotations

import argparse
import json
import re
import sys
import warnings
from pathlib import Path
from typing import Callable, Sequence

from aebnas.exceptions import AebnasError

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


def command(name: str):
    def decorator(fn):
        COMMANDS[name] = fn
        return fn

    return decorator


def parse_macs(text: str, full_cost: float | None = None) -> float:
    """``1.5M``, ``200k``, ``3e6`` or (given the full path cost) ``60%`` -> a number of MACs."""
    match = re.fullmatch(r"\s*([0-9.eE+-]+)\s*([kKmMgG%]?)\s*", str(text))
    if not match:
        raise AebnasError(f"cannot read MACs {text!r}; use e.g. 17M, 250k, 3e6 or 60% (of the full path)")
    value, unit = float(match.group(1)), match.group(2).lower()
    if unit == "%":
        if full_cost is None:
            raise AebnasError(f"a relative target {text!r} needs a network to be relative to")
        return value / 100 * full_cost
    return value * {"": 1, "k": 1e3, "m": 1e6, "g": 1e9}[unit]


def _dataset_args(parser: argparse.ArgumentParser) -> None:
    from aebnas.datasets import list_datasets

    parser.add_argument("--dataset", default="digits", help=f"one of: {', '.join(list_datasets())}")
    parser.add_argument("--data-dir", default=None, help="folder with an existing copy of the dataset files")
    parser.add_argument("--download", action="store_true", help="download missing dataset files (needs internet)")
    parser.add_argument("--val-size", type=int, default=None, help="validation samples carved from train")
    parser.add_argument("--max-train", type=int, default=None, help="subsample the train split (quick runs)")


def _train_args(parser: argparse.ArgumentParser, epochs: int) -> None:
    from aebnas.device import DEVICE_CHOICES

    parser.add_argument("--epochs", type=int, default=epochs)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--label-smoothing", type=float, default=0.0)
    parser.add_argument("--distill", type=float, default=0.0, help="self-distillation weight (0 = off)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", choices=DEVICE_CHOICES)
    parser.add_argument("--rule", default="margin", help="exit rule: margin, max_softmax or entropy")


def _load_data(args):
    from aebnas.datasets import load_dataset

    return load_dataset(args.dataset, data_dir=args.data_dir, download=args.download, val_size=args.val_size,
                        seed=args.seed if hasattr(args, "seed") else 0, max_train=args.max_train)


def _dataset_info(name: str):
    from aebnas.datasets import DATASETS

    return DATASETS.get(name).info


def _train_config(args, epochs: int | None = None, progress: bool = True):
    from aebnas.engine.training import TrainConfig

    return TrainConfig(epochs=epochs or args.epochs, batch_size=args.batch_size, lr=args.lr,
                       label_smoothing=args.label_smoothing, distill=args.distill, seed=args.seed,
                       device=args.device, progress=progress)


def _print_table(rows: Sequence[Sequence], header: Sequence[str]) -> None:
    cells = [list(map(str, header))] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    for k, row in enumerate(cells):
        print("  ".join(c.rjust(w) for c, w in zip(row, widths)))
        if k == 0:
            print("  ".join("-" * w for w in widths))


@command("datasets")
def cmd_datasets(args) -> int:
    from aebnas.datasets import DATASETS, dataset_available

    rows = []
    for name in DATASETS:
        info = DATASETS.get(name).info
        rows.append([name, info.num_classes, "x".join(map(str, info.input_shape)),
                     "yes" if dataset_available(name, args.data_dir) else "no"])
    _print_table(rows, ["dataset", "classes", "shape", "available"])
    return 0


@command("space")
def cmd_space(args) -> int:
    from aebnas.engine.macs import path_costs
    from aebnas.search_space import SearchSpace

    info = _dataset_info(args.dataset)
    space = SearchSpace.for_dataset(info, args.preset, backbone=args.backbone, max_exits=args.max_exits)
    for arch in space.sample_many(args.n, args.seed):
        costs = path_costs(arch, info.input_shape, info.num_classes)
        print(json.dumps({"id": arch.id, "arch": arch.to_dict(), "path_macs": list(costs.paths),
                          "branch_macs": list(costs.branches)}))
    return 0


@command("macs")
def cmd_macs(args) -> int:
    from aebnas.engine.macs import path_costs
    from aebnas.search_space import Architecture, validate

    info = _dataset_info(args.dataset)
    arch = Architecture.load(args.arch)
    validate(arch, info.input_shape)
    costs = path_costs(arch, info.input_shape, info.num_classes)
    rows = [[k, f"after stage {e.position}", costs.branches[k], costs.paths[k]] for k, e in enumerate(arch.exits)]
    rows.append([len(arch.exits), "final", costs.head, costs.paths[-1]])
    print(f"architecture {arch.id} on {info.name} ({'x'.join(map(str, info.input_shape))}), MACs:")
    _print_table(rows, ["exit", "where", "branch MACs", "path MACs"])
    return 0


def _report_candidate(result_summary: dict, target: float) -> None:
    acc_val, acc_test = result_summary["exit_accuracy_val"], result_summary["exit_accuracy_test"]
    paths = result_summary["path_macs"]
    rows = [[k, f"{paths[k]:,}", f"{100 * acc_val[k]:.2f}", f"{100 * acc_test[k]:.2f}"] for k in range(len(paths))]
    _print_table(rows, ["exit", "path MACs", "val acc %", "test acc %"])
    tuned = result_summary.get("tuned")
    if tuned:
        print(f"\ntuned for target {target:,.0f} average MACs (thresholds {[round(t, 4) for t in tuned['val']['thresholds']]}):")
        rows = [[split, f"{100 * tuned[split]['accuracy']:.2f}", f"{tuned[split]['avg_macs']:,.0f}",
                 " ".join(f"{f:.2f}" for f in tuned[split]["exit_fractions"])] for split in ("val", "test")]
        _print_table(rows, ["split", "accuracy %", "avg MACs", "exit fractions"])


@command("train")
def cmd_train(args) -> int:
    from aebnas.engine.candidate import save_candidate, train_candidate
    from aebnas.engine.fast import FrozenBackbone
    from aebnas.engine.plots import plot_tradeoff
    from aebnas.search_space import Architecture, validate

    arch = Architecture.load(args.arch)
    data = _load_data(args)
    validate(arch, data.info.input_shape)
    config = _train_config(args)
    backbone = None
    if args.mode == "fast":
        backbone_config = _train_config(args, epochs=args.backbone_epochs)
        backbone = FrozenBackbone.prepare(data, arch.backbone, arch.backbone_options, backbone_config,
                                          cache_dir=args.cache_dir)
    result = train_candidate(arch, data, config, args.mode, backbone, args.rule)
    target = parse_macs(args.target_macs, result.costs.paths[-1])
    tuned = result.tune(target)
    out = save_candidate(result, args.out, {"target_macs": target, "tuned": tuned.to_dict(),
                                            "dataset": data.info.to_dict(), "train": config.to_dict()})
    plot_tradeoff({"validation curve": result.curve}, out / "tradeoff.png", f"{arch.id} on {data.info.name}",
                  tuned={"tuned (val)": tuned}, target_macs=target)
    print(f"trained {arch.id} on {data.info.name} in {args.mode} mode ({result.train_seconds:.1f} s)")
    _report_candidate(result.summary(tuned), target)
    print(f"\nsaved to {out}/ (arch.json, model.pt, outputs.pt, result.json, tradeoff.png)")
    return 0


@command("tune")
def cmd_tune(args) -> int:
    from aebnas.engine.candidate import SavedCandidate
    from aebnas.engine.thresholds import tune

    saved = SavedCandidate.load(args.dir)
    target = parse_macs(args.target_macs, saved.costs.paths[-1])
    tuned = tune(saved.outputs.val, saved.costs.paths, target, saved.rule, args.method, args.scoring)
    summary = dict(saved.record["summary"])
    summary["tuned"] = {"val": tuned.to_dict(), "test": tuned.apply(saved.outputs.test, saved.costs.paths).to_dict()}
    _report_candidate(summary, target)
    return 0


def _key_values(pairs: Sequence[str]) -> dict:
    """``["depth=1", "depths=[2,3,2,2,2]"]`` -> {"depth": 1, "depths": [2, 3, 2, 2, 2]} (values read as JSON)."""
    options = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep:
            raise AebnasError(f"backbone option {pair!r} must look like KEY=VALUE, e.g. depth=1")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options


@command("search")
def cmd_search(args) -> int:
    from aebnas.engine.executors import check_executor_options, create_executor
    from aebnas.engine.report import format_report, write_report
    from aebnas.engine.search import Search

    check_executor_options(args.executor, args.workers, args.scheduler)  # before the run store is opened
    info = _dataset_info(args.dataset)
    target = parse_macs(args.target_macs) if args.target_macs else None
    search = Search(
        args.run_dir, data_dir=args.data_dir, download=args.download, new=args.new, progress=not args.quiet,
        dataset=info.name, space=args.space, budget=args.budget, batch_size=args.batch_size, n_init=args.n_init,
        strategy=args.strategy, predictor=args.predictor, acquisition=args.acquisition, mode=args.mode,
        epochs=args.epochs, backbone_epochs=args.backbone_epochs, train_batch_size=args.train_batch_size, lr=args.lr,
        target_macs=target, min_accuracy=args.min_accuracy, pool_size=args.pool_size, rule=args.rule,
        backbone=args.backbone, backbone_options=_key_values(args.backbone_option) or None, max_exits=args.max_exits,
        val_size=args.val_size, max_train=args.max_train, seed=args.seed, confirm_top=args.confirm_top,
        confirm_epochs=args.confirm_epochs, warm_start_predictor=args.warm_start_predictor, device=args.device,
    )
    executor = create_executor(args.executor, search, workers=args.workers, scheduler=args.scheduler)
    done = len(search.trials())
    where = "" if args.executor == "local" else f" on {executor.capacity} {args.executor} worker(s)"
    print(f"search in {search.run_dir} ({done} trials stored; budget {args.budget}){where}", file=sys.stderr)
    try:
        search.run(executor=executor)
    except KeyboardInterrupt:
        print(f"\ninterrupted: every finished trial is stored in {search.run_dir}; rerun the same command to resume",
              file=sys.stderr)
        return 130
    finally:
        executor.close()
    report, out = write_report(search)
    print(format_report(report))
    print(f"\nreport: {out}/ (report.json, front.csv, trials.csv, front.png, hypervolume.png, predicted_vs_measured.png)")
    return 0


@command("report")
def cmd_report(args) -> int:
    from aebnas.engine.report import format_report, write_report
    from aebnas.engine.search import Search

    report, out = write_report(Search.open(args.run_dir, data_dir=args.data_dir), args.out)
    print(format_report(report))
    print(f"\nreport: {out}/")
    return 0


@command("predictors")
def cmd_predictors(args) -> int:
    from aebnas.engine.search import Search
    from aebnas.engine.store import TrialState
    from aebnas.predictors import cross_validate, load_predictor

    if args.action == "show":
        predictor = load_predictor(args.file)
        print(json.dumps({"kind": predictor.kind, "params": predictor.get_params(), "metadata": predictor.metadata},
                         indent=2, default=str))
        return 0
    search = Search.open(args.run)
    complete = search.trials(TrialState.COMPLETE)
    if len(complete) < 5:
        raise AebnasError(f"{args.run} has {len(complete)} complete trials; fitting or evaluating a predictor needs >= 5")
    source = search.load_warm_start(args.warm_start) if args.warm_start else None
    if args.action == "fit":
        predictor, _ = search.fit_predictor(complete, args.kind, source)
        path = predictor.save(args.out)
        print(f"fitted a {args.kind} predictor on {len(complete)} trials of {args.run}; saved to {path}")
        return 0
    rows, shared = search.training_rows(complete), search.training_rows(complete, grid="shared")
    folds = min(args.folds, len(complete))
    metrics = cross_validate(lambda: search.new_predictor(args.kind, source), *rows, folds=folds,
                             seed=search.config.seed, eval_rows=tuple(shared))
    print(f"{args.kind} predictor, grouped {folds}-fold CV over {len(complete)} architectures of {args.run}:")
    _print_table([[k, f"{v:.4f}" if isinstance(v, float) else v] for k, v in metrics.items()], ["metric", "value"])
    return 0


def build_parser() -> argparse.ArgumentParser:
    from aebnas.search_space import BACKBONES, PRESETS

    parser = argparse.ArgumentParser(prog="aebnas", description="Hardware-aware NAS for early-exit networks.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("datasets", help="list datasets and whether each is available locally")
    p.add_argument("--data-dir", default=None)

    p = sub.add_parser("space", help="sample architectures of a search space")
    p.add_argument("action", choices=["sample"])
    p.add_argument("--preset", default="extended", help=f"one of: {', '.join(PRESETS.names())}")
    p.add_argument("-n", type=int, default=3)
    p.add_argument("--dataset", default="digits")
    p.add_argument("--backbone", default=None, help=f"one of: {', '.join(BACKBONES.names())}")
    p.add_argument("--max-exits", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)

    p = sub.add_parser("macs", help="exact per-exit MACs of an architecture")
    p.add_argument("arch", help="architecture JSON file")
    p.add_argument("--dataset", default="digits")

    p = sub.add_parser("train", help="train one architecture, tune its thresholds, save outputs")
    p.add_argument("arch", help="architecture JSON file")
    _dataset_args(p)
    _train_args(p, epochs=10)
    p.add_argument("--mode", default="fast", choices=["fast", "joint"])
    p.add_argument("--backbone-epochs", type=int, default=10, help="epochs of the frozen backbone (fast mode)")
    p.add_argument("--cache-dir", default=str(Path.home() / ".cache" / "aebnas" / "backbones"))
    p.add_argument("--target-macs", default="60%", help="target average MACs: 17M, 250k, or 60%% of the full path")
    p.add_argument("--out", required=True, help="output directory")

    p = sub.add_parser("tune", help="re-tune thresholds of a trained candidate without retraining")
    p.add_argument("dir", help="directory written by `aebnas train --out`")
    p.add_argument("--target-macs", required=True)
    p.add_argument("--method", default="fine", choices=["fine", "grid"])
    p.add_argument("--scoring", default="constraint", choices=["constraint", "paper"])

    from aebnas.engine.executors import EXECUTORS
    from aebnas.engine.proposer import ACQUISITIONS
    from aebnas.engine.search import SearchConfig
    from aebnas.engine.strategies import STRATEGIES
    from aebnas.predictors import PREDICTORS

    d = SearchConfig()
    p = sub.add_parser("search", help="search early-exit networks (resumes an existing --run-dir)")
    _dataset_args(p)
    p.add_argument("--run-dir", required=True, help="run directory (store, trials, report); rerun to resume")
    p.add_argument("--new", action="store_true", help="start afresh even if --run-dir holds another run")
    p.add_argument("--budget", type=int, default=d.budget, help="trained candidates (the predictor budget)")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="candidates proposed per round (q)")
    p.add_argument("--n-init", type=int, default=None, help="initial design size (default: half the budget)")
    p.add_argument("--strategy", default=d.strategy, choices=STRATEGIES.names())
    p.add_argument("--space", default=d.space, help=f"one of: {', '.join(PRESETS.names())}")
    p.add_argument("--predictor", default=d.predictor, choices=PREDICTORS.names())
    p.add_argument("--acquisition", default=d.acquisition, choices=list(ACQUISITIONS))
    p.add_argument("--mode", default=d.mode, choices=["fast", "joint"])
    p.add_argument("--epochs", type=int, default=d.epochs, help="epochs per candidate")
    p.add_argument("--backbone-epochs", type=int, default=d.backbone_epochs)
    p.add_argument("--train-batch-size", type=int, default=d.train_batch_size)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--target-macs", default=None, help="target average MACs, e.g. 17M or 150k")
    p.add_argument("--min-accuracy", type=float, default=None, help="constraint on predicted accuracy, in [0, 1)")
    p.add_argument("--pool-size", type=int, default=d.pool_size, help="random architectures per acquisition pool")
    p.add_argument("--rule", default=d.rule, help="exit rule: margin, max_softmax or entropy")
    p.add_argument("--backbone", default=None, help=f"one of: {', '.join(BACKBONES.names())} (default: by input size)")
    p.add_argument("--backbone-option", action="append", metavar="KEY=VALUE", help="e.g. depth=1 (repeatable)")
    p.add_argument("--max-exits", type=int, default=d.max_exits)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--confirm-top", type=int, default=d.confirm_top, help="candidates confirmed by joint fine-tuning")
    p.add_argument("--confirm-epochs", type=int, default=d.confirm_epochs)
    p.add_argument("--warm-start-predictor", default=None, help="predictor file fitted on another dataset")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"],
                   help="auto: CUDA if available (process and dask workers: the CPU unless set)")
    p.add_argument("--executor", default="local", choices=EXECUTORS.names(),
                   help="where candidates train: local (this process, whole batches), process (a pool of local "
                        "processes), dask (a Dask cluster: --scheduler ADDRESS, or a LocalCluster of --workers)")
    p.add_argument("--workers", type=int, default=None,
                   help="worker processes of the process pool or the dask LocalCluster (default: the cores)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="address of a running Dask scheduler, e.g. tcp://10.0.0.5:8786 (--executor dask)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")

    p = sub.add_parser("report", help="front, hypervolume, confirmed candidates, plots and exports of a run")
    p.add_argument("run_dir")
    p.add_argument("--out", default=None, help="output folder (default RUN_DIR/report)")
    p.add_argument("--data-dir", default=None)

    p = sub.add_parser("predictors", help="fit, evaluate or show accuracy predictors")
    p.add_argument("action", choices=["fit", "evaluate", "show"])
    p.add_argument("file", nargs="?", help="predictor file (show)")
    p.add_argument("--run", help="run directory whose trials train the predictor (fit, evaluate)")
    p.add_argument("--kind", default="xgboost", choices=PREDICTORS.names())
    p.add_argument("--out", help="where to save the fitted predictor (fit)")
    p.add_argument("--warm-start", default=None, help="predictor fitted on another dataset (fit, evaluate)")
    p.add_argument("--folds", type=int, default=5)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # linear_operator (under BoTorch) and fvcore call torch.jit.script at import; not the user's concern
    warnings.filterwarnings("ignore", message="`torch.jit.script` is deprecated", category=FutureWarning)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "predictors":
        needed = {"show": ["file"], "fit": ["run", "out"], "evaluate": ["run"]}[args.action]
        missing = [name for name in needed if not getattr(args, name)]
        if missing:
            parser.error(f"predictors {args.action} needs {' and '.join('--' + m if m != 'file' else 'FILE' for m in missing)}")
    try:
        return COMMANDS[args.command](args)
    except AebnasError as err:
        print(f"aebnas: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("aebnas: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
