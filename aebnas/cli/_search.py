"""Commands about a search: ``search`` (start or resume one), ``report`` and ``predictors``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from aebnas.cli._common import (POSITIVE, SEED, add_dataset_args, add_device_arg, add_rule_arg, add_weights_arg,
                                check_data_dir, float_arg, int_arg, key_values, macs_arg, parse_macs, print_table)
from aebnas.exceptions import AebnasError

#: flags that are settings of the ``bo`` strategy (None: not given, the strategy's default holds)
BO_FLAGS = {"acquisition": "acquisition", "pool_size": "pool_size", "min_accuracy": "min_accuracy"}


#: search settings the flags of :func:`add_settings_args` set (flag dest -> SearchConfig field); a flag left
#: out keeps SearchConfig's default, or, against a benchmark table, the table's value
SETTINGS_FLAGS = ("dataset", "space", "mode", "epochs", "backbone_epochs", "train_batch_size", "lr", "rule", "backbone",
                  "max_exits", "val_size", "max_train", "seed", "device")


def add_settings_args(p: argparse.ArgumentParser) -> None:
    """The flags of what a search trains and how (shared by ``search`` and ``table build``)."""
    from aebnas.engine.search import SearchConfig
    from aebnas.search_space import list_backbones, list_presets

    d = SearchConfig()
    add_dataset_args(p, default=None)
    p.add_argument("--space", default=None, help=f"one of: {', '.join(list_presets())} (default: {d.space})")
    p.add_argument("--mode", default=None, choices=["fast", "joint"], help=f"training mode (default: {d.mode})")
    p.add_argument("--epochs", type=POSITIVE, default=None, help=f"epochs per candidate (default: {d.epochs})")
    p.add_argument("--backbone-epochs", type=POSITIVE, default=None, help=f"(default: {d.backbone_epochs})")
    p.add_argument("--train-batch-size", type=POSITIVE, default=None, help=f"(default: {d.train_batch_size})")
    p.add_argument("--lr", type=float_arg(0, low_open=True), default=None, help=f"(default: {d.lr})")
    add_rule_arg(p, None)
    p.add_argument("--backbone", default=None, help=f"one of: {', '.join(list_backbones())}, or timm:NAME (a timm "
                                                    "model; default: by input size; `aebnas backbones` shows each)")
    p.add_argument("--backbone-option", action="append", metavar="KEY=VALUE", help="e.g. depth=1 (repeatable)")
    add_weights_arg(p)
    p.add_argument("--max-exits", type=POSITIVE, default=None, help=f"(default: {d.max_exits})")
    p.add_argument("--seed", type=SEED, default=None, help=f"(default: {d.seed})")
    add_device_arg(p, help="auto: CUDA if available (process and dask workers: the CPU unless set)")
    p.set_defaults(device=None)


def settings_of(args) -> dict:
    """The SearchConfig settings the command line gave (flags left out are absent)."""
    settings = {name: getattr(args, name) for name in SETTINGS_FLAGS if getattr(args, name) is not None}
    if args.backbone_option:
        settings["backbone_options"] = key_values(args.backbone_option)
    if args.backbone_weights is not None:
        settings["backbone_options"] = {**settings.get("backbone_options", {}), "weights": args.backbone_weights}
    return settings


def add_executor_args(p: argparse.ArgumentParser) -> None:
    from aebnas.engine.execution import list_executors

    p.add_argument("--executor", default="local", choices=list_executors(),
                   help="where candidates train: local (this process, whole batches), process (a pool of local "
                        "processes), dask (a Dask cluster: --scheduler ADDRESS, or a LocalCluster of --workers)")
    p.add_argument("--workers", type=POSITIVE, default=None,
                   help="worker processes of the process pool or the dask LocalCluster (default: the cores)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="address of a running Dask scheduler, e.g. tcp://10.0.0.5:8786 (--executor dask)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def add_search_args(p: argparse.ArgumentParser) -> None:
    from aebnas.engine.search import SearchConfig, list_strategies
    from aebnas.engine.search.strategies import ACQUISITIONS, BayesianOptimisation
    from aebnas.predictors import list_predictors

    d, bo = SearchConfig(), BayesianOptimisation()
    add_settings_args(p)
    p.add_argument("--run-dir", required=True, help="run directory (store, trials, report); rerun to resume")
    p.add_argument("--new", action="store_true", help="start afresh even if --run-dir holds another run")
    p.add_argument("--table", default=None, metavar="FILE",
                   help="search a benchmark table (`aebnas table build`): trials are looked up, not trained; "
                        "dataset, space, backbone and training settings come from the table")
    p.add_argument("--budget", type=POSITIVE, default=d.budget, help="trained candidates (the predictor budget)")
    p.add_argument("--batch-size", type=POSITIVE, default=d.batch_size, help="candidates proposed per round (q)")
    p.add_argument("--n-init", type=int_arg(2), default=None, help="initial design size (default: an eighth of the budget, at least 2 batches)")
    p.add_argument("--strategy", default=d.strategy.name, choices=list_strategies())
    p.add_argument("--strategy-option", action="append", metavar="KEY=VALUE",
                   help="a setting of the strategy, e.g. population_size=32 for nsga2 or paper (repeatable)")
    p.add_argument("--predictor", default=d.predictor, choices=list_predictors())
    p.add_argument("--acquisition", default=None, choices=ACQUISITIONS.names(),
                   help=f"acquisition of --strategy bo (default {bo.acquisition})")
    p.add_argument("--target-macs", type=macs_arg(relative=False), default=None,
                   help="target average MACs, e.g. 17M or 150k")
    p.add_argument("--cost", default=d.cost, choices=["macs", "latency"],
                   help="the cost axis: exact MACs, or the measured latency of --latency-table (default: %(default)s)")
    p.add_argument("--latency-table", default=None, metavar="FILE",
                   help="latency table of the search's parts (`aebnas profile`), for --cost latency")
    p.add_argument("--target-ms", type=float_arg(0, low_open=True), default=None,
                   help="target average latency in milliseconds (--cost latency)")
    p.add_argument("--min-accuracy", type=float_arg(0, 1, high_open=True), default=None,
                   help="constraint on predicted accuracy, in [0, 1) (--strategy bo)")
    p.add_argument("--pool-size", type=POSITIVE, default=None,
                   help=f"random architectures per acquisition pool (--strategy bo; default {bo.pool_size})")
    p.add_argument("--confirm-top", type=int_arg(0), default=None,
                   help=f"candidates confirmed by joint fine-tuning (default {d.confirm_top}; 0 with --table)")
    p.add_argument("--confirm-epochs", type=POSITIVE, default=d.confirm_epochs)
    p.add_argument("--holdout-size", type=POSITIVE, default=None,
                   help="confirm on a holdout split of this many images the search never sees (official train "
                        "images left over by --max-train): candidates re-ranked and thresholds tuned on it")
    p.add_argument("--warm-start-predictor", default=None, help="predictor file fitted on another dataset")
    add_executor_args(p)


def _strategy(args):
    from aebnas.engine.search import create_strategy

    settings = {name: getattr(args, flag) for flag, name in BO_FLAGS.items() if getattr(args, flag) is not None}
    if settings and args.strategy != "bo":
        flags = ", ".join("--" + flag.replace("_", "-") for flag in BO_FLAGS if getattr(args, flag) is not None)
        raise AebnasError(f"{flags} set(s) the bo strategy; --strategy {args.strategy} takes none of them")
    return create_strategy(args.strategy, **settings, **key_values(args.strategy_option, "strategy option"))


def _target(args) -> float | None:
    """The target in the run's cost unit: --target-macs with MACs, --target-ms with latency."""
    given, wrong = ("target_ms", "target_macs") if args.cost == "latency" else ("target_macs", "target_ms")
    if getattr(args, wrong) is not None:
        raise AebnasError(f"--{wrong.replace('_', '-')} does not apply to --cost {args.cost}; give the target with "
                          f"--{given.replace('_', '-')}")
    if given == "target_ms":
        return args.target_ms
    return parse_macs(args.target_macs) if args.target_macs else None


def run_search(args) -> int:
    from aebnas.engine.execution import create_executor
    from aebnas.engine.search import Search, SearchConfig
    from aebnas.engine.search.report import format_report, write_report
    from aebnas.engine.tables import check_local_executor, load_table

    check_data_dir(args.data_dir)
    settings = dict(
        settings_of(args), budget=args.budget, batch_size=args.batch_size, n_init=args.n_init,
        strategy=_strategy(args), predictor=args.predictor, target_macs=_target(args),
        confirm_epochs=args.confirm_epochs, holdout_size=args.holdout_size,
        warm_start_predictor=args.warm_start_predictor)
    if args.cost != "macs" or args.latency_table is not None:
        settings.update(cost=args.cost, latency_table=args.latency_table)
    if args.confirm_top is not None:
        settings["confirm_top"] = args.confirm_top
    table = None
    if args.table is not None:
        check_local_executor(args.executor)  # before the run store is created
        table = load_table(args.table)
        config = SearchConfig.for_table(table, args.table, **settings)
    else:
        config = SearchConfig(**settings)
    data = None
    if config.holdout_size is not None:  # loaded here: a holdout the data cannot give is refused before any write
        from aebnas.datasets import load_dataset

        data = load_dataset(config.dataset, args.data_dir, args.download, config.val_size, config.seed,
                            config.max_train, config.holdout_size)
    executor = create_executor(args.executor, workers=args.workers, scheduler=args.scheduler)
    search = Search(args.run_dir, config=config, data=data, data_dir=args.data_dir, download=args.download,
                    table=table, new=args.new, progress=not args.quiet)
    with search, executor:
        search.owner.claim()  # a second search on this run directory is refused from here on
        print(f"search in {search.run_dir} ({len(search.trials())} trials stored; budget {args.budget})"
              + ("" if args.executor == "local" else f" on {args.executor} workers")
              + (f" against the table {args.table}" if table is not None else ""), file=sys.stderr)
        search.run(executor=executor)  # Ctrl-C: main() says what is kept and how to resume
        report, out = write_report(search)
    print(format_report(report))
    print(f"\nreport: {out}/ (report.html, report.json, front.csv, trials.csv, front.png, hypervolume.png, predicted_vs_measured.png)")
    return 0


def add_report_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir")
    p.add_argument("--out", default=None, help="output folder (default RUN_DIR/report)")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--serve", action="store_true",
                   help="serve report.html over HTTP, written again whenever the run changes (the page reloads)")
    p.add_argument("--port", type=int_arg(0, 65535), default=8000, help="--serve's port (0: a free one)")
    p.add_argument("--host", default="127.0.0.1", help="--serve's address (default 127.0.0.1: this machine only)")


def run_report(args) -> int:
    from aebnas.checks import check_output_dir
    from aebnas.engine.search import Search
    from aebnas.engine.search.report import format_report, write_report

    if args.out is not None:
        check_output_dir(args.out, "report --out")
    search = Search.open(args.run_dir, data_dir=args.data_dir)
    if args.serve:
        return _serve_report(search, args)
    report, out = write_report(search, args.out)
    print(format_report(report))
    print(f"\nreport: {out}/ (open {out}/report.html in a browser)")
    return 0


def _serve_report(search, args) -> int:
    from aebnas.engine.search.report_serve import ReportServer

    with search:
        server = ReportServer(search, args.out, args.host, args.port)
        print(f"serving the report of {search.run_dir} at {server.url} (written again whenever the run changes; "
              "Ctrl-C stops)", flush=True)
        try:
            server.serve()
        except KeyboardInterrupt:
            print("report server stopped", flush=True)
    return 0


def add_predictors_args(p: argparse.ArgumentParser) -> None:
    from aebnas.predictors import list_predictors

    p.add_argument("action", choices=["fit", "evaluate", "show"])
    p.add_argument("file", nargs="?", help="predictor file (show)")
    p.add_argument("--run", help="run directory whose trials train the predictor (fit, evaluate)")
    p.add_argument("--kind", default="xgboost", choices=list_predictors())
    p.add_argument("--out", help="where to save the fitted predictor (fit)")
    p.add_argument("--warm-start", default=None, help="predictor fitted on another dataset (fit, evaluate)")
    p.add_argument("--folds", type=int_arg(2), default=5)


def check_predictors_args(args) -> str | None:
    """What a ``predictors`` action misses (for a usage error), or None."""
    needed = {"show": ["file"], "fit": ["run", "out"], "evaluate": ["run"]}[args.action]
    missing = [name for name in needed if not getattr(args, name)]
    if missing:
        return f"predictors {args.action} needs {' and '.join('--' + m if m != 'file' else 'FILE' for m in missing)}"
    return None


def run_predictors(args) -> int:
    from aebnas.checks import check_output_dir
    from aebnas.engine.search import Search, TrialState
    from aebnas.engine.search.surrogate import load_warm_start
    from aebnas.predictors import cross_validate, load_predictor

    if args.action == "show":
        predictor = load_predictor(args.file)
        print(json.dumps({"kind": predictor.kind, "params": predictor.get_params(), "metadata": predictor.metadata},
                         indent=2, default=str))
        return 0
    if args.action == "fit":
        if Path(args.out).is_dir():
            raise AebnasError(f"--out {args.out} is a directory; give the predictor file's path, "
                              f"e.g. {args.out}/xgboost.json")
        check_output_dir(Path(args.out).parent, "the folder of --out")
    search = Search.open(args.run)
    complete = search.trials(TrialState.COMPLETE)
    if len(complete) < 5:
        raise AebnasError(f"{args.run} has {len(complete)} complete trials; fitting or evaluating a predictor needs >= 5")
    source = load_warm_start(search.space, args.warm_start) if args.warm_start else None
    predictors = search.predictors
    if args.action == "fit":
        predictor, _ = predictors.fit(complete, args.kind, source)
        path = predictor.save(args.out)
        print(f"fitted a {args.kind} predictor on {len(complete)} trials of {args.run}; saved to {path}")
        return 0
    rows, shared = predictors.rows(complete), predictors.rows(complete, grid="shared")
    folds = min(args.folds, len(complete))
    metrics = cross_validate(lambda: predictors.new(args.kind, source), *rows, folds=folds,
                             seed=search.config.seed, eval_rows=tuple(shared))
    print(f"{args.kind} predictor, grouped {folds}-fold CV over {len(complete)} architectures of {args.run}:")
    print_table([[k, f"{v:.4f}" if isinstance(v, float) else v] for k, v in metrics.items()], ["metric", "value"])
    return 0
