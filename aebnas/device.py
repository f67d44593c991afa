"""Device selection: ``auto`` picks CUDA where available, else the CPU (torch is imported when used)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aebnas.exceptions import AebnasError

if TYPE_CHECKING:  # pragma: no cover
    import torch

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def check_device_name(device: str) -> str:
    """``device`` if it is ``auto``, ``cpu``, ``cuda`` or ``cuda:N``; else a clear AebnasError."""
    if device not in DEVICE_CHOICES and not str(device).startswith("cuda:"):
        raise AebnasError(f"unknown device {device!r}; allowed: {', '.join(DEVICE_CHOICES)} (or cuda:N)")
    return device


def resolve_device(device: "str | torch.device" = "auto") -> "torch.device":
    """Turns ``auto|cpu|cuda`` (or a torch.device) into a torch.device, checking CUDA is there."""
    import torch  # noqa: PLC0415  (a light module: the CLI lists the choices without torch)

    if isinstance(device, torch.device):
        return device
    check_device_name(device)
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise AebnasError(f"device {device!r} requested but CUDA is not available; use --device cpu or auto")
    return torch.device(device)
