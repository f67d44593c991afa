"""The ONNX backend: each segment an onnxruntime session; arrays stay NumPy (no torch needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from aebnas.exceptions import AebnasError
from aebnas.runtime._base import BACKENDS, Backend, SegmentFn

PROVIDERS = {"cpu": ["CPUExecutionProvider"], "cuda": ["CUDAExecutionProvider", "CPUExecutionProvider"]}


@BACKENDS.register("onnx")
class OnnxBackend(Backend):
    name = "onnx"
    suffix = ".onnx"

    def load(self, path: Path) -> SegmentFn:
        try:
            import onnxruntime  # noqa: PLC0415  (an optional extra)
        except ImportError:
            raise AebnasError("running an ONNX export needs onnxruntime: pip install 'aebnas[onnx]'") from None
        options = onnxruntime.SessionOptions()
        if self.threads is not None:
            options.intra_op_num_threads = options.inter_op_num_threads = self.threads
        session = onnxruntime.InferenceSession(str(path), options, providers=PROVIDERS[self.device])
        name = session.get_inputs()[0].name
        return lambda x: session.run(None, {name: x})

    def asarray(self, x: np.ndarray) -> np.ndarray:
        return x

    def numpy(self, y: np.ndarray) -> np.ndarray:
        return y

    def take(self, x: np.ndarray, keep: np.ndarray) -> np.ndarray:
        return x[keep]
