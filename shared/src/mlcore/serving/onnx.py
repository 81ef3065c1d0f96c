"""``OnnxModel``, what a worker serving a deep-learning model loads (no torch import); it lives in
``mlcore.lifecycle.onnx`` beside the export, and this import path stays for the served predictors."""

from mlcore.lifecycle.onnx import OnnxModel

__all__ = ["OnnxModel"]
