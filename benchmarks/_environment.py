"""What every benchmark prints first: the command, its arguments and the machine it ran on."""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import time

import torch


def print_environment(args: argparse.Namespace | None = None, extra: str = "") -> None:
    """Prints the command line, ``args`` (if given), versions, threads, cores and load, then ``extra``."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print("command:", shlex.join([sys.executable, *sys.argv]))
    if args is not None:
        print(f"arguments: {vars(args)}")
    print(f"python {platform.python_version()}, torch {torch.__version__}, {torch.get_num_threads()} torch threads, "
          f"{os.cpu_count()} cores ({platform.processor() or platform.machine()}), load average {load}"
          + (f", {extra}" if extra else ""))
    print(time.strftime("started %Y-%m-%d %H:%M:%S %Z"), flush=True)
