"""The served predictor and this project's ``SERVED`` contract. Project-owned.

``Predictor`` runs the exported network with ONNX Runtime (no torch in the worker), micro-batched:
concurrent requests share one forward pass. ``SERVED`` (``mlcore.foundation.served.ServedModel``)
is everything the API, the monitor, the smoke check, the train stage and the MLflow pyfunc flavor
read of this project's serving code, the upload field and the page at ``/`` included.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from mlcore.foundation.errors import InputError
from mlcore.foundation.served import ServedModel, ServedPredictor
from mlcore.lifecycle import flavors
from mlcore.lifecycle.flavors import onnx_path
from mlcore.monitoring.embedding import PROJECTION_FILE, project
from mlcore.serving.onnx import OnnxModel
from mlcore.tasks import occlusion

from .features import ImageError, decode, image_signals, normalise, softmax, to_canonical, top_k
from .schemas import Answer, Item

OCCLUSION_PATCH, OCCLUSION_STRIDE = 7, 3  # on the 28 x 28 canonical image: 64 occluded copies
MAX_PIXELS = 25_000_000  # larger images are refused before decoding (decompression bombs)
EMBEDDING_DIMS = PROJECTION_FILE  # extra file: the reference's projection of the embeddings


class Predictor(ServedPredictor):
    """The exported network (ONNX) with its class names and input size."""

    execution = "batch"  # concurrent requests share one forward pass (mlcore.serving.predictor)

    def __init__(self, onnx_file: Path, labels: Sequence[str], height: int, width: int, projection: Any) -> None:
        self.model = OnnxModel(onnx_file)
        self.labels = list(labels)
        self.height, self.width = int(height), int(width)
        self.projection = projection  # {"mean": [...], "components": [[...], ...]} or None

    def images(self, items: Sequence[Any]) -> np.ndarray:
        """Decode and convert every item as in training; the first bad one raises ``InputError``."""
        return self.decoded(items)[0]

    def decoded(self, items: Sequence[Any]) -> tuple[np.ndarray, list[tuple[int, int]]]:
        """The items as canonical images, and each upload's own (width, height)."""
        out = np.zeros((len(items), self.height, self.width), np.uint8)
        sizes = []
        for i, item in enumerate(items):
            raw = item.image if hasattr(item, "image") else item["image"]
            where = f"items.{i}.image" if len(items) > 1 else "image"
            try:
                data = raw if isinstance(raw, bytes) else base64.b64decode(raw, validate=True)
            except (binascii.Error, ValueError):
                raise InputError(where, "is not valid base64") from None
            try:
                picture = decode(data, MAX_PIXELS)
            except ImageError as exc:
                raise InputError(where, str(exc), exc.status) from None
            sizes.append((int(picture.shape[1]), int(picture.shape[0])))
            out[i] = to_canonical(picture, self.height, self.width)
        return out, sizes

    def forward(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Probabilities and embeddings of canonical images (N, H, W uint8)."""
        logits, embedding = self.model.run({"pixels": normalise(images)})
        return softmax(logits), embedding

    def predict(self, items: Sequence[Any]) -> list[dict[str, Any]]:
        images, sizes = self.decoded(items)
        probabilities, embeddings = self.forward(images)
        rows = self.signals(images, probabilities, embeddings).to_dict(orient="records")
        for item, row, (width, height) in zip(items, rows, sizes, strict=True):
            if isinstance(item, Item):  # the prediction log's row (with the upload's own size), no second pass
                item._signals = {"width": width, "height": height, **row}
        answers = []
        for top in top_k(probabilities, self.labels, k=3):
            answers.append({"label": top[0]["label"], "probability": top[0]["probability"], "top": top})
        return answers

    def explain(self, items: Sequence[Any], top: int = 5) -> list[dict[str, Any]]:
        """Where the answer comes from, by occlusion on the served graph: square patches of the
        canonical image set to its black background in turn, all scored in one forward pass; a
        pixel's value is the mean fall in the predicted class's log-odds over the patches that
        cover it (``heatmap``, H x W, and ``overlay_png``, the image under it; red supports the
        answer). Grad-CAM would need the torch model, which the worker does not have."""
        images = self.images(items)
        explained = []
        for image, answer in zip(images, self.predict(items), strict=True):
            occluded = occlusion.patches(image, OCCLUSION_PATCH, OCCLUSION_STRIDE, fill=0)
            probabilities, _ = self.forward(np.concatenate([image[None], occluded.images]))
            base, falls = occlusion.drops(probabilities, self.labels.index(answer["label"]))
            heat = occlusion.heatmap(falls, occluded.masks)
            terms = []
            for k in sorted(range(len(falls)), key=lambda k: -abs(falls[k]))[:top]:
                rows, cols = np.nonzero(occluded.masks[k])
                box = [int(rows.min()), int(cols.min()), int(rows.max()) + 1, int(cols.max()) + 1]
                name = f"rows {box[0]}-{box[2] - 1}, columns {box[1]}-{box[3] - 1}"
                terms.append({"name": name, "box": box, "contribution": float(falls[k])})
            explained.append(
                {
                    **answer,
                    "explanation": {
                        "method": f"occlusion on the served ONNX graph: {OCCLUSION_PATCH} x {OCCLUSION_PATCH} patches "
                        f"set to the background, stride {OCCLUSION_STRIDE}",
                        "output": f"fall in the log-odds of {answer['label']} when a patch is hidden",
                        "base_value": base,
                        "value": base,
                        "terms": terms,
                        "heatmap": np.round(heat, 4).tolist(),
                        "overlay_png": occlusion.overlay_png(image, heat),
                        "exact": False,
                    },
                }
            )
        return explained

    def signals(self, images: np.ndarray, probabilities: np.ndarray, embeddings: np.ndarray) -> pd.DataFrame:
        """What drift compares: image signals, the predicted class, its confidence and the
        embedding's projection (never the image). The log also keeps each upload's own size."""
        frame = image_signals(images)
        frame["predicted"] = [self.labels[j] for j in probabilities.argmax(axis=1)]
        frame["confidence"] = probabilities.max(axis=1)
        for k, column in enumerate(project(embeddings, self.projection).T):
            frame[f"embedding_{k}"] = column
        return frame

    def log_inputs(self, items: Sequence[Any]) -> list[dict[str, Any]]:
        known = [item._signals for item in items if isinstance(item, Item)]
        if len(known) == len(items) and all(row is not None for row in known):
            return known
        images, sizes = self.decoded(items)
        rows = self.signals(images, *self.forward(images)).to_dict(orient="records")
        return [{"width": w, "height": h, **row} for row, (w, h) in zip(rows, sizes, strict=True)]

    def drift_frame(
        self, inputs: Sequence[dict[str, Any]], outputs: Sequence[dict[str, Any]] | None = None
    ) -> pd.DataFrame:
        """Signals of logged rows (already signals) or of request items (images)."""
        if inputs and "brightness" in inputs[0]:
            return pd.DataFrame(list(inputs))
        images = self.images(inputs)
        return self.signals(images, *self.forward(images))


def page() -> str:
    """The upload page served at GET / (mlcore.serving.app)."""
    from .page import PAGE

    return PAGE


# Read-only endpoints the API adds for this model (path -> function of the loaded predictor).
ENDPOINTS: dict[str, Callable[[Any], Any]] = {"/labels": lambda predictor: {"labels": predictor.labels}}


def request_items(frame: pd.DataFrame, height: int = 28, width: int = 28) -> list[dict[str, Any]]:
    """Rows of the canonical table as API request items (PNG, base64): demo traffic, tests."""
    from .data import images_of
    from .features import encode_png

    return [{"image": base64.b64encode(encode_png(img)).decode()} for img in images_of(frame, height, width)]


def load_predictor(model_dir: Path) -> Predictor:
    """Load a model folder written by MLflow (registry download or local export)."""
    files = flavors.load(model_dir)
    meta = files.metadata
    return Predictor(
        onnx_path(model_dir), meta["labels"], meta["height"], meta["width"], files.extra(EMBEDDING_DIMS + ".json")
    )


SERVED = ServedModel(
    package="image_classifier",
    home=f"{__name__}:SERVED",
    item=Item,
    answer=Answer,
    load=load_predictor,
    request_items=request_items,
    endpoints=ENDPOINTS,
    upload_field="image",  # multipart uploads to /predict become Item(image=<the file, base64>)
    page=page,
)
