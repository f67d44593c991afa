"""CPU cores and torch threads of a worker process."""

from __future__ import annotations

import os

import torch


def available_cores() -> int:
    """CPU cores this process may use (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def set_torch_threads(threads: int) -> None:
    """Sets torch's intra-op threads (only when it changes: the call is not free)."""
    threads = max(1, int(threads))
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
