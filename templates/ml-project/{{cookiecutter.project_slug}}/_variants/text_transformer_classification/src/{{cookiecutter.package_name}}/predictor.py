"""The served predictor and this project's ``SERVED`` contract. Project-owned.

``Predictor`` tokenizes with the model's own tokenizer and runs the exported network with ONNX
Runtime (no torch or transformers in the worker). Dynamic batching: concurrent requests are scored
together (``execution = "batch"``, ``serve.batch_max_items`` and ``serve.batch_wait_ms``), and
within a batch the texts are grouped by length so each group pads only to its own longest text.
``SERVED`` (``mlcore.foundation.served.ServedModel``) is everything the API, the monitor, the smoke
check, the train stage and the MLflow pyfunc flavor read of this project's serving code.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from mlcore.foundation.served import ServedModel, ServedPredictor
from mlcore.lifecycle import flavors
from mlcore.lifecycle.flavors import onnx_path
from mlcore.monitoring.embedding import PROJECTION_FILE, project
from mlcore.tasks import occlusion

from .features import Encoded, TextEncoder, forward_batches, read_words, softmax, text_signals
from .schemas import Answer, Item

TOKENIZER_FILE = "tokenizer"  # extra file shipped with the model: the tokenizer's JSON
OCCLUDED_UNITS = 32  # /explain scores at most this many deletions (about 10 ms each on 2 cores)
GROUP_ITEMS = 8  # texts per length group within a batch (measured on 2 cores: 466 texts/s vs 313 with 32)


class Predictor(ServedPredictor):
    """The exported network (ONNX), its tokenizer and labels."""

    execution = "batch"  # concurrent requests are scored together (mlcore.serving.predictor)

    def __init__(
        self,
        run: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
        encoder: TextEncoder,
        labels: Sequence[str],
        projection: Any = None,
    ) -> None:
        self.run = run
        self.encoder = encoder
        self.labels = list(labels)
        self.projection = projection  # {"mean": [...], "components": [[...], ...]} or None

    def forward(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, Encoded]:
        """Probabilities, sentence embeddings and the encodings of ``texts``."""
        encoded = self.encoder.encode(texts)
        logits, embeddings = forward_batches(self.run, encoded.ids, self.encoder.pad_id, GROUP_ITEMS)
        return softmax(logits) if len(texts) else np.zeros((0, len(self.labels))), embeddings, encoded

    def predict(self, items: Sequence[Any]) -> list[dict[str, Any]]:
        texts = [item.text if hasattr(item, "text") else item["text"] for item in items]
        probabilities, embeddings, encoded = self.forward(texts)
        rows = self.signals(texts, probabilities, embeddings, encoded).to_dict(orient="records")
        for item, row in zip(items, rows, strict=True):
            if isinstance(item, Item):  # the prediction log's row, without a second pass
                item._signals = row
        positive = self.labels.index("positive") if "positive" in self.labels else len(self.labels) - 1
        answers = []
        for p, cut in zip(probabilities, encoded.truncated, strict=True):
            best = int(p.argmax())
            answers.append(
                {
                    "label": self.labels[best],
                    "probability": round(float(p[best]), 6),
                    "positive_probability": round(float(p[positive]), 6),
                    "truncated": bool(cut),
                }
            )
        return answers

    def explain(self, items: Sequence[Any], top: int = 10) -> list[dict[str, Any]]:
        """Each word's part in the answer by occlusion on the served graph: the fall in the
        predicted label's log-odds when the word's sub-word pieces are deleted, every deletion
        scored in one batch (``mlcore.tasks.occlusion``); a text of more than ``OCCLUDED_UNITS``
        words is taken away in runs of adjacent words, each word given its run's fall. Words past
        the model's reach (truncated) are not listed. Not additive: words act together, so the
        falls need not sum to anything."""
        answers = self.predict(items)
        explained = []
        for item, answer in zip(items, answers, strict=True):
            text = item.text if hasattr(item, "text") else item["text"]
            ids, words = read_words(self.encoder, text)
            run = -(-len(words) // OCCLUDED_UNITS) if words else 1  # words per unit: one, or runs on long texts
            units = [words[i : i + run] for i in range(0, len(words), run)]
            variants = [ids, *occlusion.without_units(ids, [[p for w in unit for p in w.positions] for unit in units])]
            logits, _ = forward_batches(self.run, variants, self.encoder.pad_id, GROUP_ITEMS)
            base, unit_falls = occlusion.drops(softmax(logits), self.labels.index(answer["label"]))
            falls = np.repeat(unit_falls, [len(unit) for unit in units]) if units else unit_falls
            listed = sorted(sorted(range(len(words)), key=lambda i: -abs(falls[i]))[:top])
            explained.append(
                {
                    **answer,
                    "explanation": {
                        "method": "occlusion on the served ONNX graph: each word's pieces deleted in turn"
                        + (f" (in runs of {run} words: the text has over {OCCLUDED_UNITS})" if run > 1 else ""),
                        "output": f"fall in the log-odds of {answer['label']} when the word is deleted",
                        "base_value": base,
                        "value": base,
                        "terms": [
                            {"name": words[i].text, "position": i, "contribution": float(falls[i])} for i in listed
                        ],
                        "words": [
                            {"name": word.text, "start": word.start, "end": word.end, "contribution": float(fall)}
                            for word, fall in zip(words, falls, strict=True)
                        ],
                        "exact": False,
                    },
                }
            )
        return explained

    def signals(
        self, texts: Sequence[str], probabilities: np.ndarray, embeddings: np.ndarray, encoded: Encoded
    ) -> pd.DataFrame:
        """What drift compares: text signals, the predicted label, its confidence and the sentence
        embedding's projection (never the text itself, unless serve.log_raw_inputs)."""
        frame = text_signals(texts, encoded)
        frame["predicted"] = [self.labels[j] for j in probabilities.argmax(axis=1)]
        frame["confidence"] = probabilities.max(axis=1) if len(probabilities) else []
        for k, column in enumerate(project(embeddings, self.projection).T):
            frame[f"embedding_{k}"] = column
        return frame

    def log_inputs(self, items: Sequence[Any]) -> list[dict[str, Any]]:
        known = [item._signals for item in items if isinstance(item, Item)]
        if len(known) == len(items) and all(row is not None for row in known):
            return known
        return self.drift_frame([{"text": item.text} for item in items]).to_dict(orient="records")

    def drift_frame(
        self, inputs: Sequence[dict[str, Any]], outputs: Sequence[dict[str, Any]] | None = None
    ) -> pd.DataFrame:
        """Signals of logged rows (already signals) or of request items (texts)."""
        if inputs and "tokens" in inputs[0]:
            return pd.DataFrame(list(inputs)).drop(columns=["text"], errors="ignore")
        texts = [row["text"] for row in inputs]
        return self.signals(texts, *self.forward(texts))


# Read-only endpoints the API adds for this model (path -> function of the loaded predictor).
ENDPOINTS: dict[str, Callable[[Any], Any]] = {
    "/labels": lambda predictor: {"labels": predictor.labels, "max_length": predictor.encoder.max_length}
}


def request_items(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of the canonical table as API request items (demo traffic, benchmarks, tests)."""
    return [{"text": text} for text in frame["text"]]


def onnx_runner(
    path: Path, threads: int | None = None
) -> Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    from mlcore.serving.onnx import OnnxModel

    model = OnnxModel(path, threads=threads)

    def run(ids: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        logits, embedding = model.run({"input_ids": ids, "attention_mask": mask})
        return logits, embedding

    return run


def load_predictor(model_dir: Path) -> Predictor:
    """Load a model folder written by MLflow (registry download or local export)."""
    files = flavors.load(model_dir)
    meta = files.metadata
    encoder = TextEncoder(json.dumps(files.extra(TOKENIZER_FILE + ".json")), meta["max_length"])
    return Predictor(onnx_runner(onnx_path(model_dir)), encoder, meta["labels"], files.extra(PROJECTION_FILE + ".json"))


SERVED = ServedModel(
    package="{{ cookiecutter.package_name }}",
    home=f"{__name__}:SERVED",
    item=Item,
    answer=Answer,
    load=load_predictor,
    request_items=request_items,
    endpoints=ENDPOINTS,
)
