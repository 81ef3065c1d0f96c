"""A trained network as the model folder keeps it: ONNX for serving (ONNX Runtime, no torch in
the worker), the weights and the architecture's config to rebuild it in torch (GPU serving,
further training). The export itself lives in ``mlcore.lifecycle.onnx`` (re-exported here)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from mlcore.lifecycle.onnx import OPSET, PARITY_ATOL, export_onnx, parity, torch_outputs

__all__ = ["OPSET", "PARITY_ATOL", "TorchModel", "export_onnx", "parity", "torch_outputs"]


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
