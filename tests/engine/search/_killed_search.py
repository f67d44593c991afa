"""Runs a search (settings as JSON in argv[3]) in RUN_DIR (argv[2]) and kills its own process with SIGKILL
at the N-th pass through a kill point (argv[1] = POINT:N, or ``none`` to run to the end): inside a trial's training (an optimiser
step), inside a store write (before its COMMIT), inside a proposal (the acquisition) or inside
confirmation. Used by test_crash_safety.py: every run there is a fresh process, so that no state of
the test process (torch threads, RNG) can make two runs differ."""

import json
import os
import signal
import sys

import torch

from aebnas import Search
from aebnas.engine.search import loop, store
from aebnas.engine.search.strategies import BayesianOptimisation

POINTS = {  # kill point -> (object, attribute) whose calls are counted
    "training": (torch.optim.SGD, "step"),
    "store": (store.RunStore._Tx, "__exit__"),
    "proposal": (BayesianOptimisation, "select"),
    "confirmation": (loop, "confirm_trial"),
}


def kill_at(owner, name: str, n: int) -> None:
    original, calls = getattr(owner, name), [0]

    def counted(*args, **kwargs):
        calls[0] += 1
        if calls[0] == n:
            os.kill(os.getpid(), signal.SIGKILL)
        return original(*args, **kwargs)

    setattr(owner, name, counted)


if __name__ == "__main__":
    if sys.argv[1] != "none":  # none: run (or resume) to the end
        point, n = sys.argv[1].split(":")
        kill_at(*POINTS[point], int(n))
    Search(sys.argv[2], **json.loads(sys.argv[3])).run()
    if sys.argv[1] != "none":
        sys.exit("the kill point was never reached")
