"""Occlusion: what a network's answer owes to each part of its input, read from the served graph.

A part's attribution is how much the predicted class's log-odds fall when that part is taken
away (image patches set to the background, words deleted), every variant scored in one forward
pass of the served ONNX model: no gradients, no torch in the worker, and the explanation is of the
exact model that answers. Pure functions over arrays; the projects' predictors supply the forward
pass and what "taken away" means for their input.

``deletion_check`` is the faithfulness test the issue asks for: removing the top-attributed share
of the input should lower the predicted probability more than removing a random share.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

Probabilities = Callable[[Sequence[Any]], np.ndarray]  # inputs -> (N, classes) probabilities


@dataclass(frozen=True)
class Patches:
    """The occluded copies of one image and the pixels each one covers."""

    images: np.ndarray  # (P, H, W) uint8
    masks: np.ndarray  # (P, H, W) bool


def patches(image: np.ndarray, size: int, stride: int, fill: int = 0) -> Patches:
    """Copies of ``image`` (H, W) with one ``size`` x ``size`` square set to ``fill``, sliding by
    ``stride`` and ending flush with the far edges, so every pixel is covered."""
    height, width = image.shape
    rows = _starts(height, size, stride)
    cols = _starts(width, size, stride)
    images = np.repeat(image[None], len(rows) * len(cols), axis=0)
    masks = np.zeros(images.shape, dtype=bool)
    for k, (r, c) in enumerate((r, c) for r in rows for c in cols):
        masks[k, r : r + size, c : c + size] = True
    images[masks] = fill
    return Patches(images, masks)


def _starts(length: int, size: int, stride: int) -> list[int]:
    starts = list(range(0, max(length - size, 0) + 1, stride))
    if starts[-1] + size < length:
        starts.append(length - size)
    return starts


def heatmap(drops: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Per pixel, the mean fall in probability over the patches that cover it."""
    covered = masks.sum(axis=0)
    return np.einsum("p,phw->hw", drops, masks.astype(float)) / np.maximum(covered, 1)


def without_units(ids: Sequence[int], units: Sequence[Sequence[int]]) -> list[list[int]]:
    """Token ids with each unit's token positions (e.g. one word's sub-word pieces) deleted."""
    out = []
    for positions in units:
        drop = set(positions)
        out.append([token for k, token in enumerate(ids) if k not in drop])
    return out


def log_odds(probabilities: np.ndarray) -> np.ndarray:
    """log(p / (1 - p)), with p kept inside [1e-7, 1 - 1e-7]."""
    p = np.clip(np.asarray(probabilities, dtype=np.float64), 1e-7, 1 - 1e-7)
    return np.log(p) - np.log1p(-p)


def drops(probabilities: np.ndarray, target: int) -> tuple[float, np.ndarray]:
    """The target class's log-odds on the original (row 0) and their fall on each variant (rows
    1:). Log-odds rather than probability: a confident answer (p = 0.9999) still shows which parts
    it rests on, and the order of the parts is the same either way."""
    odds = log_odds(probabilities[:, target])
    return float(odds[0]), odds[0] - odds[1:]


def overlay_png(image: np.ndarray, heat: np.ndarray, scale: int = 8) -> str:
    """The image in grey under the heat map (red: the answer's support, blue: against it), scaled
    up ``scale`` times without smoothing; base64 PNG."""
    from PIL import Image

    grey = np.repeat(image[..., None].astype(float), 3, axis=2)
    peak = float(np.abs(heat).max()) or 1.0
    strength = np.clip(heat / peak, -1.0, 1.0)[..., None]
    red, blue = np.array([255.0, 40.0, 40.0]), np.array([40.0, 90.0, 255.0])
    colour = np.where(strength > 0, red, blue)
    alpha = 0.65 * np.abs(strength)
    mixed = (1 - alpha) * grey + alpha * colour
    picture = Image.fromarray(mixed.astype(np.uint8), "RGB")
    picture = picture.resize((image.shape[1] * scale, image.shape[0] * scale), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


@dataclass(frozen=True)
class Deletion:
    """Mean fall of the predicted class's probability when the top-attributed share is removed
    and when a random share of the same size is, over ``items`` inputs."""

    items: int
    share: float
    top_drop: float
    random_drop: float

    @property
    def margin(self) -> float:
        return self.top_drop - self.random_drop


def deletion_check(
    probabilities: Probabilities,
    inputs: Sequence[Any],
    attributions: Sequence[np.ndarray],
    remove: Callable[[Any, np.ndarray], Any],
    share: float = 0.1,
    seed: int = 0,
) -> Deletion:
    """Faithfulness by deletion: for each input, ``remove(input, indices)`` takes away the
    ``share`` of its units with the largest attributions, then as many units drawn at random; the
    predicted class's probability falls more, on average, when the attribution is faithful.
    ``remove(input, [])`` is the input as ``probabilities`` takes it."""
    rng = np.random.default_rng(seed)
    originals, top, random = [], [], []
    for item, scores in zip(inputs, attributions, strict=True):
        flat = np.ravel(scores)
        if flat.size == 0:
            continue  # nothing to take away (no word the model reads)
        count = max(1, int(round(share * flat.size)))
        originals.append(remove(item, np.zeros(0, dtype=int)))
        top.append(remove(item, np.argsort(-flat, kind="stable")[:count]))
        random.append(remove(item, rng.choice(flat.size, size=count, replace=False)))
    base = probabilities(originals)
    target = base.argmax(axis=1)
    rows = np.arange(len(originals))
    fall_top = base[rows, target] - probabilities(top)[rows, target]
    fall_random = base[rows, target] - probabilities(random)[rows, target]
    return Deletion(len(originals), share, float(fall_top.mean()), float(fall_random.mean()))
