"""ONNX, the format a trained network is served in: the export from torch (checked against torch
before anything is written) and the ONNX Runtime session a serving worker loads.

torch is imported only by the export functions, so a worker that loads ``OnnxModel`` never imports
it. The ``torch_onnx`` flavor (``mlcore.lifecycle.flavors``) saves with the export, and the served
predictors load with ``OnnxModel``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

OPSET = 17
PARITY_ATOL = 1e-4


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


def _with_tuple_outputs(module: Any, names: Sequence[str]) -> Any:
    """The network with its outputs as a tuple (ONNX needs tensors, not model-output objects)."""
    import torch

    class _Outputs(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.module, self.names = module, list(names)

        def forward(self, *inputs: torch.Tensor) -> Any:
            out = self.module(*inputs)
            if isinstance(out, torch.Tensor | tuple):
                return out
            return tuple(getattr(out, name) for name in self.names)

    return _Outputs()


def export_onnx(model: Any, path: str | Path) -> Path:
    """Export a ``TorchModel`` (``mlcore.training.export``) with the TorchScript exporter
    (``dynamo=False``, opset 17) and a dynamic batch axis."""
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    module = model.module.eval().cpu()
    names = list(model.example)
    inputs = tuple(model.example[name].cpu() for name in names)
    axes: dict[str, dict[int, str]] = {name: {0: "batch"} for name in [*names, *model.outputs]}
    for name, extra in model.dynamic_axes.items():
        axes.setdefault(name, {}).update(dict(extra))
    # The TorchScript exporter (dynamo=False) is the one that exports these networks and the
    # transformers' graphs reliably with torch 2.13; its deprecation notice is expected.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message="Exporting aten::index operator")  # masks in attention
        torch.onnx.export(
            _with_tuple_outputs(module, model.outputs),
            inputs,
            str(path),
            input_names=names,
            output_names=list(model.outputs),
            dynamic_axes=axes,
            opset_version=OPSET,
            dynamo=False,
        )
    return path


def torch_outputs(model: Any, inputs: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    """The network's outputs in torch (CPU, eval mode) for numpy ``inputs``."""
    import torch

    module = _with_tuple_outputs(model.module.eval().cpu(), model.outputs)
    with torch.no_grad():
        out = module(*(torch.from_numpy(np.asarray(inputs[name])) for name in model.example))
    out = out if isinstance(out, tuple) else (out,)
    return [o.float().numpy() for o in out]


def parity(model: Any, onnx_path: str | Path, inputs: Mapping[str, np.ndarray] | None = None) -> float:
    """Largest absolute difference between torch's and ONNX Runtime's outputs on ``inputs``
    (default: the example batch)."""
    inputs = inputs or {k: v.cpu().numpy() for k, v in model.example.items()}
    expected = torch_outputs(model, inputs)
    got = OnnxModel(onnx_path, threads=1).run(inputs)
    return max(float(np.max(np.abs(e - g))) for e, g in zip(expected, got, strict=True))
