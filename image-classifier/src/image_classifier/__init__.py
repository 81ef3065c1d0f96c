"""Image Classifier: Fashion-MNIST image classification with PyTorch transfer learning, ONNX serving and an upload page."""

import os
from pathlib import Path

# ML_PROJECT_ROOT points the package at another copy of the project (tests use a temporary one).
PROJECT_ROOT = Path(os.environ.get("ML_PROJECT_ROOT") or Path(__file__).resolve().parents[2]).resolve()
CONFIG_DIR = PROJECT_ROOT / "configs"
