"""The exported network: ONNX Runtime's logits and embeddings match torch's on held-out texts
(padded batches of mixed lengths included), and the served answers follow from those logits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from mlcore.lifecycle.flavors import load_native

from sentiment_analyzer.features import forward_batches, pad, softmax
from sentiment_analyzer.predictor import load_predictor

pytestmark = pytest.mark.slow  # every test here uses the trained pipeline


def test_onnx_logits_match_torch(trained: dict[str, Any]) -> None:
    root, cfg = Path(trained["root"]), trained["cfg"]
    served = load_predictor(root / cfg.paths.model)
    net = load_native(root / cfg.paths.model)
    texts = pd.read_parquet(root / cfg.paths.processed / "test.parquet")["text"].head(64).tolist()
    texts += ["Not good at all.", "A " + "very " * 80 + "good film."]  # a short one and a truncated one
    ids = served.encoder.encode(texts).ids

    def torch_run(batch: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with torch.no_grad():
            logits, embedding = net(torch.from_numpy(batch), torch.from_numpy(mask))
        return logits.numpy(), embedding.numpy()

    expected = forward_batches(torch_run, ids, served.encoder.pad_id, 16)
    got = forward_batches(served.run, ids, served.encoder.pad_id, 16)
    assert np.abs(expected[0] - got[0]).max() <= 1e-4
    assert np.abs(expected[1] - got[1]).max() <= 1e-4
    # one padded batch of every length answers as each text alone (the mask hides the padding)
    alone = np.concatenate([served.run(*pad([seq], served.encoder.pad_id))[0] for seq in ids[:8]])
    together = served.run(*pad(ids[:8], served.encoder.pad_id))[0]
    assert np.abs(alone - together).max() <= 1e-4
    answers = served.predict([{"text": t} for t in texts])
    probabilities = softmax(expected[0])
    assert [a["label"] for a in answers] == [served.labels[j] for j in probabilities.argmax(1)]
