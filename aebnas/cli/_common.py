"""What every command shares: reading MACs values, printing tables, the dataset and training flags."""

from __future__ import annotations

import argparse
import json
import re
from typing import Sequence

from aebnas.device import DEVICE_CHOICES
from aebnas.exceptions import AebnasError


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


def add_dataset_args(parser: argparse.ArgumentParser) -> None:
    from aebnas.datasets import list_datasets  # noqa: PLC0415  (light: no torch)

    parser.add_argument("--dataset", default="digits", help=f"one of: {', '.join(list_datasets())}")
    parser.add_argument("--data-dir", default=None, help="folder with an existing copy of the dataset files")
    parser.add_argument("--download", action="store_true", help="download missing dataset files (needs internet)")
    parser.add_argument("--val-size", type=int, default=None, help="validation samples carved from train")
    parser.add_argument("--max-train", type=int, default=None, help="subsample the train split (quick runs)")


def add_device_arg(parser: argparse.ArgumentParser, help: str | None = None) -> None:
    parser.add_argument("--device", default="auto", choices=DEVICE_CHOICES, help=help)


def add_rule_arg(parser: argparse.ArgumentParser, default: str = "margin") -> None:
    from aebnas.exit_rules import EXIT_RULES  # noqa: PLC0415

    parser.add_argument("--rule", default=default, help=f"exit rule: {', '.join(EXIT_RULES.names())}")


def dataset_info(name: str):
    from aebnas.datasets import DATASETS  # noqa: PLC0415

    return DATASETS.get(name).info
