"""Device selection: ``auto`` picks CUDA where available, else the CPU."""

from __future__ import annotations

import torch

from aebnas.exceptions import AebnasError

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Turns ``auto|cpu|cuda`` (or a torch.device) into a torch.device, checking CUDA is there."""
    if isinstance(device, torch.device):
        return device
    if device not in DEVICE_CHOICES and not str(device).startswith("cuda:"):
        raise AebnasError(f"unknown device {device!r}; allowed: {', '.join(DEVICE_CHOICES)}")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise AebnasError(f"device {device!r} requested but CUDA is not available; use --device cpu or auto")
    return torch.device(device)
