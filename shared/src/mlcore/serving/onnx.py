"""A network exported to ONNX, run with ONNX Runtime on CPU: what a worker serving a deep-learning
model loads (no torch import)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np


class OnnxModel:
    """An ONNX Runtime session with its input and output names."""

    def __init__(self, path: str | Path, threads: int | None = None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = int(threads)
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        # A serving worker shares its cores with the event loop (and tokenizing, decoding): ORT's
        # threads must sleep between runs rather than spin (measured: +24% req/s on 2 cores).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.path = Path(path)
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.outputs = [o.name for o in self.session.get_outputs()]

    def run(self, inputs: Mapping[str, Any], outputs: list[str] | None = None) -> list[np.ndarray]:
        missing = [name for name in self.inputs if name not in inputs]
        if missing:
            raise ValueError(f"ONNX model {self.path.name} needs inputs {missing}")
        feed = {name: np.ascontiguousarray(inputs[name]) for name in self.inputs}
        return list(self.session.run(outputs or self.outputs, feed))
