"""The ``aebnas`` command line. Each command's flags are built only when that command runs (or its
``--help`` is asked for), so ``aebnas --help`` and ``aebnas datasets`` import no torch, and the commands
about one network no BoTorch or XGBoost."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
import warnings
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

from aebnas.cli import _deploy, _network, _search, _table
from aebnas.cli._common import ArgumentParser, parse_macs
from aebnas.exceptions import AebnasError

__all__ = ["COMMANDS", "build_parser", "main", "parse_macs"]


@dataclass(frozen=True)
class Command:
    help: str
    add_args: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


COMMANDS = {
    "datasets": Command("list datasets and whether each is available locally", _network.add_datasets_args,
                        _network.run_datasets),
    "backbones": Command("list backbones with their exit positions, stage shapes and MACs for a dataset",
                         _network.add_backbones_args, _network.run_backbones),
    "space": Command("sample architectures of a search space", _network.add_space_args, _network.run_space),
    "macs": Command("exact per-exit MACs of an architecture", _network.add_macs_args, _network.run_macs),
    "train": Command("train one architecture, tune its thresholds, save outputs", _network.add_train_args,
                     _network.run_train),
    "tune": Command("re-tune thresholds of a trained candidate without retraining", _network.add_tune_args,
                    _network.run_tune),
    "search": Command("search early-exit networks (resumes an existing --run-dir)", _search.add_search_args,
                      _search.run_search),
    "report": Command("front, hypervolume, confirmed candidates, plots and exports of a run",
                      _search.add_report_args, _search.run_report),
    "predictors": Command("fit, evaluate or show accuracy predictors", _search.add_predictors_args,
                          _search.run_predictors),
    "table": Command("build or show a benchmark table (architectures trained once, searched many times)",
                     _table.add_table_args, _table.run_table),
    "export": Command("export a run's network as ONNX or TorchScript segments with a manifest, for deployment",
                      _deploy.add_export_args, _deploy.run_export),
    "predict": Command("classify images with an exported network, exiting early for real", _deploy.add_predict_args,
                       _deploy.run_predict),
    "profile": Command("measure a latency table of every part a search space combines, on this machine",
                       _deploy.add_profile_args, _deploy.run_profile),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser, with the flags of ``command`` only (of every command when None)."""
    parser = ArgumentParser(prog="aebnas", description="Hardware-aware NAS for early-exit networks.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, spec in COMMANDS.items():
        p = sub.add_parser(name, help=spec.help, description=spec.help)
        if command is None or command == name:
            spec.add_args(p)
    return parser


def _command_in(argv: Sequence[str]) -> str:
    """The command named in ``argv`` ("" if none: the top-level parser then answers, fast)."""
    first = next((a for a in argv if not a.startswith("-")), "")
    return first if first in COMMANDS else ""


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # linear_operator (under BoTorch) and fvcore call torch.jit.script at import; not the user's concern
    warnings.filterwarnings("ignore", message="`torch.jit.script` is deprecated", category=FutureWarning)
    args = None
    try:
        with _start_up():
            parser = build_parser(_command_in(argv))
            args = parser.parse_args(argv)
        if args.command == "predictors":
            problem = _search.check_predictors_args(args)
            if problem:
                parser.error(problem)
        return COMMANDS[args.command].run(args)
    except AebnasError as err:
        print(f"aebnas: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"aebnas: interrupted; {_what_is_kept(args)}", file=sys.stderr)
        return 130


@contextlib.contextmanager
def _start_up() -> Iterator[None]:
    """While the command's modules are imported and its flags parsed (nothing is written yet), Ctrl-C
    ends the process at once with one line: a KeyboardInterrupt inside an import can surface as another
    error or re-raise at shutdown."""
    def stop(signum, frame) -> None:
        print(f"aebnas: interrupted; {_what_is_kept(None)}", file=sys.stderr, flush=True)
        os._exit(130)

    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, stop) if in_main_thread else None
    try:
        yield
    finally:
        if in_main_thread:
            signal.signal(signal.SIGINT, previous)


def _what_is_kept(args: argparse.Namespace | None) -> str:
    """What an interruption leaves, and how to go on (one line)."""
    if args is not None and args.command == "search":
        return f"every finished trial is stored in {args.run_dir}: rerun the same command to resume"
    if args is not None and args.command == "table" and args.action == "build":
        return "every trained architecture is stored in the build folder: rerun the same command to resume"
    if args is not None and args.command == "train":
        return "nothing was saved to --out (a trained backbone stays cached): rerun the same command"
    return "nothing was changed"


if __name__ == "__main__":
    sys.exit(main())
