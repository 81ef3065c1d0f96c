"""Behaviour of the trained model: small shifts and brightness changes do not flip a confident
answer, PNG and JPEG agree, a blank image gets low confidence, every class stays above a floor."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from image_classifier.data import images_of
from image_classifier.features import photo_like
from image_classifier.predictor import load_predictor

pytestmark = pytest.mark.slow  # every test here uses the trained pipeline


@pytest.fixture(scope="module")
def model(trained: dict[str, Any]) -> Any:
    return load_predictor(Path(trained["root"]) / trained["cfg"].paths.model)


@pytest.fixture(scope="module")
def test_images(trained: dict[str, Any]) -> tuple[np.ndarray, pd.DataFrame]:
    test = pd.read_parquet(Path(trained["root"]) / trained["cfg"].paths.processed / "test.parquet")
    return images_of(test, 28, 28), test


def item(image: np.ndarray, fmt: str = "PNG") -> dict[str, str]:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format=fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    return {"image": base64.b64encode(buf.getvalue()).decode()}


def confident(model: Any, images: np.ndarray, floor: float = 0.8) -> np.ndarray:
    probabilities, _ = model.forward(images)
    return images[probabilities.max(axis=1) >= floor]


def test_one_pixel_shift_and_small_brightness_change_keep_confident_answers(model: Any, test_images: Any) -> None:
    images = confident(model, test_images[0][:200])
    assert len(images) >= 10
    base = model.forward(images)[0].argmax(axis=1)
    shifted = np.roll(images, 1, axis=2)
    brighter = np.clip(images.astype(int) + 10, 0, 255).astype(np.uint8)
    for changed in (shifted, brighter):
        same = (model.forward(changed)[0].argmax(axis=1) == base).mean()
        assert same >= 0.9, same


def test_png_and_jpeg_give_the_same_label(model: Any, test_images: Any) -> None:
    images = confident(model, test_images[0][:100])[:20]
    png = [a["label"] for a in model.predict([item(i) for i in images])]
    jpeg = [a["label"] for a in model.predict([item(i, "JPEG") for i in images])]
    assert np.mean(np.array(png) == np.array(jpeg)) >= 0.9


def test_blank_image_gets_low_confidence(model: Any, test_images: Any) -> None:
    typical = float(np.median(model.forward(test_images[0])[0].max(axis=1)))
    for value in (0, 255):  # an all-black and an all-white image
        confidence = float(model.forward(np.full((1, 28, 28), value, np.uint8))[0].max())
        assert confidence < min(0.6, typical), (value, confidence, typical)


def test_every_class_stays_above_a_floor(model: Any, test_images: Any, trained: dict[str, Any]) -> None:
    images, test = test_images
    predicted = np.array(model.labels)[model.forward(images)[0].argmax(axis=1)]
    per_class = pd.Series(predicted == test["label"].to_numpy()).groupby(test["label"].to_numpy()).mean()
    assert per_class.min() >= 0.2, per_class.to_dict()


def test_photos_of_garments_on_a_light_background_are_read_as_well_as_the_dataset(
    model: Any, test_images: Any, trained: dict[str, Any]
) -> None:
    """Test images made into phone or shop photos (``features.photo_like``: colour, a light
    unevenly lit background, off-centre, 4-10x the size, JPEG) and sent as uploads, through
    ``to_canonical`` as the service reads them: nearly as accurate as the dataset's own images,
    far from chance. The evaluation records the same on 300 images (``test_photo_accuracy``)."""
    images, test = test_images
    rng = np.random.default_rng(1)
    photos = [photo_like(image, rng) for image in images[:120]]
    answers = model.predict([item(photo, "JPEG") for photo in photos])
    photo_accuracy = np.mean([a["label"] == label for a, label in zip(answers, test["label"][:120], strict=True)])
    plain = np.mean(np.array(model.labels)[model.forward(images[:120])[0].argmax(axis=1)] == test["label"][:120])
    chance = 1 / len(model.labels)
    assert photo_accuracy >= 0.8 * plain and photo_accuracy >= 3 * chance, (photo_accuracy, plain)
    metrics = trained["metrics"]
    assert metrics["test_photo_accuracy"] >= 0.8 * metrics["test_photo_plain_accuracy"], metrics
