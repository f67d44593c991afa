"""Checks of user-given settings: each returns the value or raises AebnasError naming the setting, the
value and what is allowed."""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path
from typing import Any

from aebnas.exceptions import AebnasError

SEED_MAX = 2**32 - 1
"""Seeds are what NumPy, scikit-learn and torch all accept: integers in 0..2**32 - 1."""


def check_int(name: str, value: Any, low: int, high: int | None = None) -> int:
    """``value`` if it is an integer (not a bool) in ``low..high`` (no upper bound when None)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        allowed = f"an integer >= {low}" if high is None else f"an integer in {low}..{high}"
        raise AebnasError(f"{name} must be {allowed}; got {value!r}")
    return value


def check_float(name: str, value: Any, low: float | None = None, high: float | None = None,
                low_open: bool = False, high_open: bool = False) -> float:
    """``value`` as a float if it is a finite number within the bounds (``*_open``: the bound excluded)."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    ok = number and math.isfinite(value)
    ok = ok and (low is None or (value > low if low_open else value >= low))
    ok = ok and (high is None or (value < high if high_open else value <= high))
    if not ok:
        bounds = [f"{'>' if low_open else '>='} {low:g}" if low is not None else "",
                  f"{'<' if high_open else '<='} {high:g}" if high is not None else ""]
        allowed = " and ".join(b for b in bounds if b)
        raise AebnasError(f"{name} must be a finite number{' ' + allowed if allowed else ''}; got {value!r}")
    return float(value)


def check_seed(value: Any, name: str = "seed") -> int:
    return check_int(name, value, 0, SEED_MAX)


def is_choice(value: Any, choices: tuple) -> bool:
    """Whether ``value`` is one of ``choices`` and of their kind: no bool for a number, no float for an
    integer (an integer does for a float: width 1 is width 1.0)."""
    kind = type(choices[0])
    if isinstance(value, bool) != (kind is bool):
        return False
    if not isinstance(value, (int, float) if kind is float else kind):
        return False
    return value in choices


def check_output_dir(path: str | Path, what: str) -> Path:
    """``path`` if it is a writable directory or can be created as one. Nothing is left behind: the check
    makes a probe folder in ``path`` (or its nearest existing parent) and removes it."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise AebnasError(f"{what} {path} is an existing file, not a directory; give a directory")
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise AebnasError(f"{what} {path} cannot be created: {existing} is a file, not a directory")
    try:
        with tempfile.TemporaryDirectory(dir=existing, prefix=".aebnas-probe-"):
            pass
    except OSError as err:
        raise AebnasError(f"{what} {path} cannot be {'written' if existing == path else 'created'}: "
                          f"{err.strerror or err} in {existing}") from None
    return path


def read_json_document(path: Path, format_key: str, format_name: str, version: int, what: str, remake: str,
                       error: type[AebnasError] = AebnasError) -> dict[str, Any]:
    """The JSON object in ``path`` that names itself ``format_name`` (under ``format_key``) at ``version``;
    else an ``error`` naming what is wrong with the file (a ``what``, e.g. "latency table") and ``remake``,
    how to make it again."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:  # JSONDecodeError is a ValueError
        raise error(f"{path} is not JSON ({err}); {remake}") from None
    if not isinstance(data, dict) or data.get(format_key) != format_name:
        raise error(f"{path} is not an aebnas {what}; {remake}")
    if data.get("version") != version:
        written = f" (aebnas {data['aebnas_version']})" if "aebnas_version" in data else ""
        raise error(f"{path} has {what} version {data.get('version')!r}{written}; this aebnas reads version "
                    f"{version}: {remake}")
    return data
