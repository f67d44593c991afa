"""What every command shares: reading MACs values, printing tables, the dataset and training flags."""

from __future__ import annotations

import argparse
import json
import math
import re
from pathlib import Path
from typing import Callable, NoReturn, Sequence

from aebnas.checks import SEED_MAX, check_float, check_int
from aebnas.device import DEVICE_CHOICES
from aebnas.exceptions import AebnasError


MACS_FORMS = "e.g. 20M, 150k, 3e6, 250000 or 60% (of the full path)"
_MACS = re.compile(r"\s*((?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*([kKmMgG%]?)\s*")


def parse_macs(text: str, full_cost: float | None = None) -> float:
    """``1.5M``, ``200k``, ``3e6`` or (given the full path cost) ``60%`` -> a positive number of MACs."""
    match = _MACS.fullmatch(str(text))
    value = float(match.group(1)) if match else math.nan
    if not match or not math.isfinite(value) or value <= 0:
        raise AebnasError(f"cannot read MACs {text!r} as a positive finite amount; use {MACS_FORMS}")
    unit = match.group(2).lower()
    if unit == "%":
        if value > 100:
            raise AebnasError(f"a relative target must be at most 100% of the full path; got {text!r}")
        if full_cost is None:
            raise AebnasError(f"a relative target {text!r} needs a network to be relative to; give MACs, e.g. 20M")
        return value / 100 * full_cost
    return value * {"": 1, "k": 1e3, "m": 1e6, "g": 1e9}[unit]


def macs_arg(relative: bool = True) -> Callable[[str], str]:
    """An argparse type that checks a MACs value's syntax when parsing (a percentage only if ``relative``)
    and keeps the text, read later with :func:`parse_macs`."""
    def check(text: str) -> str:
        try:
            parse_macs(text, 1.0 if relative else None)
        except AebnasError as err:
            raise argparse.ArgumentTypeError(str(err)) from None
        return text
    return check


def int_arg(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: an integer in ``low..high``."""
    def parse(text: str) -> int:
        try:  # text that is no integer goes to check_int as it is: it names what is allowed
            return check_int("", _parsed(int, text), low, high)
        except AebnasError as err:
            raise argparse.ArgumentTypeError(str(err).strip()) from None
    return parse


def float_arg(low: float | None = None, high: float | None = None, low_open: bool = False,
              high_open: bool = False) -> Callable[[str], float]:
    """An argparse type: a finite number within the bounds (``*_open``: the bound excluded)."""
    def parse(text: str) -> float:
        try:
            return check_float("", _parsed(float, text), low, high, low_open, high_open)
        except AebnasError as err:
            raise argparse.ArgumentTypeError(str(err).strip()) from None
    return parse


def _parsed(kind: type, text: str):
    """``text`` as a ``kind``, or the text itself if it is none (the check then refuses it by name)."""
    try:
        return kind(text)
    except ValueError:
        return text


SEED = int_arg(0, SEED_MAX)
POSITIVE = int_arg(1)


class UsageError(AebnasError):
    """A command line that does not parse."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line (the command, what is wrong, where help is)
    instead of printing the whole usage and exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see `{self.prog} --help`)")


def print_table(rows: Sequence[Sequence], header: Sequence[str]) -> None:
    cells = [list(map(str, header))] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    for k, row in enumerate(cells):
        print("  ".join(c.rjust(w) for c, w in zip(row, widths)))
        if k == 0:
            print("  ".join("-" * w for w in widths))


def key_values(pairs: Sequence[str] | None, what: str = "backbone option") -> dict:
    """``["depth=1", "depths=[2,3,2,2,2]"]`` -> {"depth": 1, "depths": [2, 3, 2, 2, 2]} (values read as JSON)."""
    options = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep:
            raise AebnasError(f"{what} {pair!r} must look like KEY=VALUE, e.g. depth=1")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options


def add_dataset_args(parser: argparse.ArgumentParser, default: str | None = "digits") -> None:
    from aebnas.datasets import list_datasets  # noqa: PLC0415  (light: no torch)

    parser.add_argument("--dataset", default=default,
                        help=f"one of: {', '.join(list_datasets())} (default: {default or 'digits'})")
    parser.add_argument("--data-dir", default=None, help="folder with an existing copy of the dataset files")
    parser.add_argument("--download", action="store_true", help="download missing dataset files (needs internet)")
    parser.add_argument("--val-size", type=POSITIVE, default=None, help="validation samples carved from train")
    parser.add_argument("--max-train", type=POSITIVE, default=None, help="subsample the train split (quick runs)")


def add_device_arg(parser: argparse.ArgumentParser, help: str | None = None) -> None:
    parser.add_argument("--device", default="auto", choices=DEVICE_CHOICES, help=help)


def add_rule_arg(parser: argparse.ArgumentParser, default: str | None = "margin") -> None:
    from aebnas.exit_rules import EXIT_RULES  # noqa: PLC0415

    parser.add_argument("--rule", default=default,
                        help=f"exit rule: {', '.join(EXIT_RULES.names())} (default: {default or 'margin'})")


def add_weights_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backbone-weights", default=None, metavar="DEFAULT|NAME|PATH",
                        help="weights of a torchvision:* or timm:* backbone: DEFAULT, a torchvision weights name or a "
                             "timm pretrained tag (downloaded and cached by the library), or a state dict / saved "
                             "module file (the backbone option weights=)")


def check_data_dir(path: str | None) -> None:
    """Refuses a ``--data-dir`` that is not an existing directory."""
    if path is not None and not Path(path).is_dir():
        raise AebnasError(f"--data-dir {path} {'is a file, not' if Path(path).exists() else 'is not'} an existing "
                          "directory; give the folder that holds the dataset files (or leave it out for the default)")


def dataset_info(name: str):
    from aebnas.datasets import DATASETS  # noqa: PLC0415

    return DATASETS.get(name).info
