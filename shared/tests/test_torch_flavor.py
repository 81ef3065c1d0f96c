"""The torch_onnx flavor: ONNX for serving (parity with torch within 1e-4), weights and
architecture to rebuild the network, no pickle."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from mlcore.lifecycle.artifacts import mlmodel  # noqa: E402
from mlcore.lifecycle.flavors import TorchOnnxFlavor, for_model, load_native, onnx_path  # noqa: E402
from mlcore.serving.onnx import OnnxModel  # noqa: E402
from mlcore.training.export import TorchModel  # noqa: E402

ARCH = {
    "_target_": "torch.nn.Sequential",
    "_args_": [
        {"_target_": "torch.nn.Conv2d", "in_channels": 1, "out_channels": 4, "kernel_size": 3},
        {"_target_": "torch.nn.ReLU"},
        {"_target_": "torch.nn.AdaptiveAvgPool2d", "output_size": 1},
        {"_target_": "torch.nn.Flatten"},
        {"_target_": "torch.nn.Linear", "in_features": 4, "out_features": 3},
    ],
}


@pytest.fixture
def saved(tmp_path: Path) -> tuple[Path, torch.nn.Module]:
    from hydra.utils import instantiate
    from mlflow.models import Model

    torch.manual_seed(0)
    net = instantiate(ARCH).eval()
    model = TorchModel(net, ARCH, {"pixels": torch.randn(2, 1, 8, 8)})
    assert isinstance(for_model(model), TorchOnnxFlavor)
    mlflow_model = Model()
    TorchOnnxFlavor().save(model, str(tmp_path / "model"), mlflow_model, code_paths=[])
    mlflow_model.save(str(tmp_path / "model" / "MLmodel"))
    return tmp_path / "model", net


def test_onnx_answers_as_torch_for_any_batch_size(saved: tuple[Path, torch.nn.Module]) -> None:
    folder, net = saved
    conf = mlmodel(folder)["flavors"]["torch_onnx"]
    assert conf["parity_max_abs"] <= 1e-4 and conf["inputs"] == ["pixels"]
    session = OnnxModel(onnx_path(folder))
    x = np.random.default_rng(1).normal(size=(5, 1, 8, 8)).astype(np.float32)
    (logits,) = session.run({"pixels": x})
    with torch.no_grad():
        expected = net(torch.from_numpy(x)).numpy()
    assert logits.shape == (5, 3)
    np.testing.assert_allclose(logits, expected, atol=1e-4)


def test_native_network_is_rebuilt_from_config_and_weights(saved: tuple[Path, torch.nn.Module]) -> None:
    folder, net = saved
    rebuilt = load_native(folder)
    for (name, a), (_, b) in zip(net.state_dict().items(), rebuilt.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    assert not any(p.suffix == ".pkl" for p in folder.rglob("*"))


def test_missing_onnx_input_is_named(saved: tuple[Path, torch.nn.Module]) -> None:
    with pytest.raises(ValueError, match=r"needs inputs \['pixels'\]"):
        OnnxModel(onnx_path(saved[0])).run({"image": np.zeros((1, 1, 8, 8), np.float32)})
