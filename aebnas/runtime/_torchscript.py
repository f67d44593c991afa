"""The TorchScript backend: each segment a ``torch.jit`` module; the batch stays a torch tensor on the
device between segments. torch is imported when this backend is used, so an ONNX deployment needs none."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from aebnas.runtime._base import BACKENDS, Backend, SegmentFn


@BACKENDS.register("torchscript")
class TorchScriptBackend(Backend):
    name = "torchscript"
    suffix = ".pt"

    def __init__(self, device: str = "cpu", threads: int | None = None) -> None:
        import torch  # noqa: PLC0415

        super().__init__(device, threads)
        self._torch = torch
        if threads is not None:
            torch.set_num_threads(threads)

    def load(self, path: Path) -> SegmentFn:
        torch = self._torch
        with warnings.catch_warnings():  # torch.jit is deprecated for new models; loading one still works
            warnings.simplefilter("ignore", FutureWarning)
            module = torch.jit.load(str(path), map_location=self.device).eval()

        def run(x: Any) -> tuple[Any, ...]:
            with torch.inference_mode():
                out = module(x)
            return out if isinstance(out, tuple) else (out,)
        return run

    def asarray(self, x: np.ndarray) -> Any:
        return self._torch.from_numpy(x).to(self.device)

    def numpy(self, y: Any) -> np.ndarray:
        return y.cpu().numpy()

    def take(self, x: Any, keep: np.ndarray) -> Any:
        return x[self._torch.from_numpy(keep).to(x.device)]
