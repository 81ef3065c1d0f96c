"""A trained network as the model folder keeps it: ONNX for serving (ONNX Runtime, no torch in
the worker), the weights and the architecture's config to rebuild it in torch (GPU serving,
further training)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

OPSET = 17
PARITY_ATOL = 1e-4


@dataclass
class TorchModel:
    """What the ``torch_onnx`` flavor saves: the network, the config that builds it
    (``hydra.utils.instantiate``), and an example input batch for the export."""

    module: torch.nn.Module
    architecture: Mapping[str, Any]
    example: Mapping[str, torch.Tensor]  # input name -> example batch (first axis: batch)
    outputs: Sequence[str] = ("logits",)
    dynamic_axes: Mapping[str, Mapping[int, str]] = field(default_factory=dict)  # extra dynamic axes (e.g. seq)

    def build(self) -> torch.nn.Module:
        return self.module


class _Outputs(torch.nn.Module):
    """The network with its outputs as a tuple (ONNX needs tensors, not model-output objects)."""

    def __init__(self, module: torch.nn.Module, names: Sequence[str]) -> None:
        super().__init__()
        self.module, self.names = module, list(names)

    def forward(self, *inputs: torch.Tensor) -> Any:
        out = self.module(*inputs)
        if isinstance(out, torch.Tensor):
            return out
        if isinstance(out, tuple):
            return out
        return tuple(getattr(out, name) for name in self.names)


def export_onnx(model: TorchModel, path: str | Path) -> Path:
    """Export with the TorchScript exporter (``dynamo=False``, opset 17) and a dynamic batch axis."""
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
            _Outputs(module, model.outputs),
            inputs,
            str(path),
            input_names=names,
            output_names=list(model.outputs),
            dynamic_axes=axes,
            opset_version=OPSET,
            dynamo=False,
        )
    return path


def torch_outputs(model: TorchModel, inputs: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    """The network's outputs in torch (CPU, eval mode) for numpy ``inputs``."""
    module = _Outputs(model.module.eval().cpu(), model.outputs)
    with torch.no_grad():
        out = module(*(torch.from_numpy(np.asarray(inputs[name])) for name in model.example))
    out = out if isinstance(out, tuple) else (out,)
    return [o.float().numpy() for o in out]


def parity(model: TorchModel, onnx_path: str | Path, inputs: Mapping[str, np.ndarray] | None = None) -> float:
    """Largest absolute difference between torch's and ONNX Runtime's outputs on ``inputs``
    (default: the example batch)."""
    from mlcore.serving.onnx import OnnxModel

    inputs = inputs or {k: v.cpu().numpy() for k, v in model.example.items()}
    expected = torch_outputs(model, inputs)
    got = OnnxModel(onnx_path, threads=1).run(inputs)
    return max(float(np.max(np.abs(e - g))) for e, g in zip(expected, got, strict=True))
