"""Uploads to the real server (uvicorn on 127.0.0.1): PNG or JPEG of any size as multipart or
base64 JSON, one or a batch; non-images 415, damaged files and pixel bombs 422, bodies over the
limit 413; the process keeps serving."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from image_classifier.data import images_of

pytestmark = pytest.mark.slow


def encoded(image: np.ndarray, fmt: str = "PNG", size: tuple[int, int] | None = None) -> bytes:
    picture = Image.fromarray(image)
    if size is not None:
        picture = picture.convert("RGB").resize(size)
    buf = io.BytesIO()
    picture.save(buf, format=fmt)
    return buf.getvalue()


@pytest.fixture(scope="module")
def images(trained: dict[str, Any]) -> np.ndarray:
    test = pd.read_parquet(Path(trained["root"]) / trained["cfg"].paths.processed / "test.parquet")
    return images_of(test.head(8), 28, 28)


def test_multipart_upload_answers_top_3_with_the_version(server: str, images: np.ndarray) -> None:
    response = httpx.post(f"{server}/predict", files={"file": ("shoe.png", encoded(images[0]), "image/png")})
    assert response.status_code == 200, response.text
    body = response.json()
    assert len(body["top"]) == 3 and body["label"] == body["top"][0]["label"]
    assert body["top"][0]["probability"] >= body["top"][1]["probability"] >= body["top"][2]["probability"]
    assert body["model_version"] == response.headers["x-model-version"]


def test_a_large_colour_jpeg_and_a_batch_of_files(server: str, images: np.ndarray) -> None:
    big = encoded(images[1], "JPEG", size=(640, 480))
    one = httpx.post(f"{server}/predict", files={"file": ("big.jpg", big, "image/jpeg")})
    assert one.status_code == 200, one.text
    files = [("files", (f"{i}.png", encoded(img), "image/png")) for i, img in enumerate(images[:4])]
    batch = httpx.post(f"{server}/predict", files=files)
    assert batch.status_code == 200, batch.text
    assert len(batch.json()["predictions"]) == 4


def test_base64_json_gives_the_same_answer_as_the_upload(server: str, images: np.ndarray) -> None:
    data = encoded(images[2])
    upload = httpx.post(f"{server}/predict", files={"file": ("x.png", data, "image/png")}).json()
    as_json = httpx.post(f"{server}/predict", json={"image": base64.b64encode(data).decode()}).json()
    assert upload["top"] == as_json["top"]


NOISE = np.random.default_rng(0).integers(0, 256, (64, 64), dtype=np.uint8)


@pytest.mark.parametrize(
    ("payload", "status", "message"),
    [
        (b"%PDF-1.4 not an image", 415, "not an image"),
        (encoded(NOISE)[:2000], 422, "truncated or damaged"),
    ],
    ids=["not-an-image", "truncated"],
)
def test_bad_files_are_refused_with_a_reason(server: str, payload: bytes, status: int, message: str) -> None:
    response = httpx.post(f"{server}/predict", files={"file": ("bad.png", payload, "image/png")})
    assert response.status_code == status, response.text
    assert message in response.json()["error"] and "image" in response.json()["error"]
    assert httpx.get(f"{server}/health").status_code == 200


def test_pixel_bomb_and_oversized_body_are_refused(server: str) -> None:
    bomb = Image.new("L", (6000, 6000))  # 36 M pixels, a few kB as PNG
    buf = io.BytesIO()
    bomb.save(buf, format="PNG")
    response = httpx.post(f"{server}/predict", files={"file": ("bomb.png", buf.getvalue(), "image/png")})
    assert response.status_code == 422 and "over the limit" in response.json()["error"]
    huge = httpx.post(f"{server}/predict", files={"file": ("huge.png", b"\x00" * 12_000_000, "image/png")})
    assert huge.status_code == 413


def test_a_file_under_another_name_is_422_naming_the_field(server: str) -> None:
    response = httpx.post(f"{server}/predict", files={"other": ("x.png", b"abc", "image/png")})
    assert response.status_code == 422 and response.json()["error"].startswith("other: not a field of this form")
    assert "`file`" in response.json()["error"]
