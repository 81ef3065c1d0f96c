"""How a native model is saved into, and loaded from, a model folder: one saver/loader per flavor.

``load(model_dir)`` returns the metadata logged with a model folder and its native model, loaded
on first use whatever the flavor; predictors load through it (this module imports no flavor's
library until a model is saved or loaded), and a predictor served by a compiled fast path never
loads the native model at all.

The suite logs every model with two MLflow flavors: the native one (here) for people who want the
estimator or network, and ``python_function`` (``mlcore.lifecycle.pyfunc``), which answers as the API does.
Today: scikit-learn, saved with skops (no pickle), and PyTorch networks (``torch_onnx``: ONNX for
serving plus the weights and the architecture's config, no pickle either). Another flavor is one
more class with the same four members, registered in ``FLAVORS``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

from mlcore.lifecycle.artifacts import logged_metadata, mlmodel, read_extra


class Flavor(Protocol):
    name: str  # the flavor's key in MLmodel
    requirements: tuple[str, ...]  # pip packages a saved model needs to load

    def handles(self, model: Any) -> bool: ...

    def save(self, model: Any, path: str, mlflow_model: Any, code_paths: Sequence[str], **kwargs: Any) -> None: ...

    def load(self, model_dir: Path) -> Any: ...


def skops_friendly(model: Any) -> Any:
    """Make a fitted scikit-learn model cheap to save with skops.

    Text vectorizers keep ``vocabulary_`` as ``{term: numpy.int64}``; skops writes every numpy
    scalar as an object of its own (seconds per 10,000 terms). Plain ``int`` values mean the
    same to scikit-learn and save ~15x faster.
    """
    from sklearn.base import BaseEstimator

    seen: set[int] = set()

    def visit(obj: Any) -> None:
        if id(obj) in seen:
            return
        seen.add(id(obj))
        if isinstance(obj, BaseEstimator):
            vocab = getattr(obj, "vocabulary_", None)
            if isinstance(vocab, dict):
                obj.vocabulary_ = {term: int(index) for term, index in vocab.items()}
            for value in vars(obj).values():
                visit(value)
        elif isinstance(obj, list | tuple):
            for value in obj:
                visit(value)

    visit(model)
    return model


class SklearnFlavor:
    """scikit-learn estimators and pipelines, saved with skops."""

    name = "sklearn"
    requirements = ("scikit-learn", "skops", "numpy", "scipy")

    def handles(self, model: Any) -> bool:
        from sklearn.base import BaseEstimator

        return isinstance(model, BaseEstimator)

    def save(self, model: Any, path: str, mlflow_model: Any, code_paths: Sequence[str], **kwargs: Any) -> None:
        import mlflow.sklearn
        import skops.io

        model = skops_friendly(model)
        # We trust what we just trained: list its non-default types so MLflow can load it back.
        trusted = skops.io.get_untrusted_types(data=skops.io.dumps(model))
        mlflow.sklearn.save_model(
            model,
            path,
            mlflow_model=mlflow_model,
            code_paths=list(code_paths),
            serialization_format="skops",
            skops_trusted_types=trusted or None,
            **kwargs,
        )

    def load(self, model_dir: Path) -> Any:
        """skops files load with skops alone (the types MLflow recorded as trusted); others through MLflow."""
        conf = mlmodel(model_dir)["flavors"][self.name]
        if conf.get("serialization_format") == "skops":
            import skops.io

            return skops.io.load(Path(model_dir) / conf["pickled_model"], trusted=conf.get("skops_trusted_types"))
        import mlflow.sklearn

        return mlflow.sklearn.load_model(str(model_dir))


class TorchOnnxFlavor:
    """A PyTorch network (``mlcore.training.export.TorchModel``), saved with MLflow's ``onnx``
    flavor (``model.onnx``, served with ONNX Runtime) plus ``torch/weights.pt`` (a state dict,
    loads with ``weights_only=True``) and ``torch/architecture.json`` (the Hydra config that builds
    the network). The export is checked against torch on the example batch before anything is
    written; the largest difference is recorded as ``parity_max_abs``."""

    name = "torch_onnx"
    requirements = ("torch", "onnx", "onnxruntime", "numpy")
    WEIGHTS, ARCHITECTURE = "torch/weights.pt", "torch/architecture.json"

    def handles(self, model: Any) -> bool:
        return type(model).__name__ == "TorchModel" and hasattr(model, "architecture")

    def save(self, model: Any, path: str, mlflow_model: Any, code_paths: Sequence[str], **kwargs: Any) -> None:
        import tempfile

        import mlflow.onnx
        import onnx
        import torch

        from mlcore.foundation.io import write_json
        from mlcore.lifecycle.onnx import OPSET, PARITY_ATOL, export_onnx, parity

        with tempfile.TemporaryDirectory() as tmp:
            exported = export_onnx(model, Path(tmp) / "model.onnx")
            worst = parity(model, exported)
            if worst > PARITY_ATOL:
                raise ValueError(f"the ONNX export differs from torch by {worst:.2e} > {PARITY_ATOL} on the example")
            mlflow.onnx.save_model(
                onnx.load(str(exported)),
                path,
                mlflow_model=mlflow_model,
                code_paths=list(code_paths),
                save_as_external_data=False,
                **kwargs,
            )
        folder = Path(path)
        (folder / self.WEIGHTS).parent.mkdir(parents=True, exist_ok=True)
        torch.save(model.module.state_dict(), folder / self.WEIGHTS)
        write_json(dict(model.architecture), folder / self.ARCHITECTURE)
        mlflow_model.add_flavor(
            self.name,
            onnx=mlflow_model.flavors["onnx"]["data"],
            weights=self.WEIGHTS,
            architecture=self.ARCHITECTURE,
            inputs=list(model.example),
            outputs=list(model.outputs),
            opset=OPSET,
            parity_max_abs=float(worst),
            torch_version=str(torch.__version__),
        )

    def load(self, model_dir: Path) -> Any:
        """The torch network rebuilt from its architecture config, with its weights (eval mode)."""
        import torch
        from hydra.utils import instantiate

        from mlcore.foundation.io import read_json

        module = instantiate(read_json(Path(model_dir) / self.ARCHITECTURE))
        module.load_state_dict(torch.load(Path(model_dir) / self.WEIGHTS, map_location="cpu", weights_only=True))
        return module.eval()


def onnx_path(model_dir: str | Path) -> Path:
    """The ONNX file of a ``torch_onnx`` model folder (what a serving worker loads)."""
    return Path(model_dir) / mlmodel(model_dir)["flavors"][TorchOnnxFlavor.name]["onnx"]


FLAVORS: dict[str, Flavor] = {flavor.name: flavor for flavor in (SklearnFlavor(), TorchOnnxFlavor())}


def for_model(model: Any) -> Flavor:
    """The flavor that saves ``model``; a clear error for a kind of model the suite cannot save yet."""
    for flavor in FLAVORS.values():
        if flavor.handles(model):
            return flavor
    raise TypeError(f"no model flavor saves a {type(model).__name__}; known flavors: {', '.join(FLAVORS)}")


def load_native(model_dir: str | Path) -> Any:
    """The native model of a model folder, through the first flavor of its MLmodel that the suite knows."""
    model_dir = Path(model_dir)
    present = mlmodel(model_dir).get("flavors") or {}
    for name, flavor in FLAVORS.items():
        if name in present:
            return flavor.load(model_dir)
    raise ValueError(f"{model_dir} has flavors {sorted(present)}; the suite loads {', '.join(FLAVORS)}")


@dataclass
class ModelFiles:
    """A model folder: the metadata logged with it and its native model (loaded on first use)."""

    path: Path
    metadata: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def model(self) -> Any:
        return load_native(self.path)

    def extra(self, name: str, default: Any = None) -> Any:
        """The JSON extra file ``name`` shipped with the model (``default`` when it has none)."""
        return read_extra(self.path, name, default)


def load(model_dir: str | Path) -> ModelFiles:
    """A model folder with its metadata; ``.model`` loads the native model through its flavor."""
    model_dir = Path(model_dir)
    return ModelFiles(model_dir, logged_metadata(model_dir))
