"""The image transforms: uploads of any size or colour become the dataset's 28x28 grayscale;
non-images, truncated files and decompression bombs are refused with a clear reason."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from image_classifier.data import canonical, images_of, read_idx
from image_classifier.features import (
    ImageError,
    decode,
    encode_png,
    image_signals,
    normalise,
    photo_like,
    to_canonical,
)


def png(array: np.ndarray, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format=fmt)
    return buf.getvalue()


def test_any_size_and_colour_becomes_28x28_grayscale_trimmed_and_centred() -> None:
    rgb = np.zeros((300, 200, 3), np.uint8)
    rgb[20:120, 130:180] = (255, 255, 255)  # off-centre, twice as tall as wide
    out = to_canonical(decode(png(rgb), 10**7), 28, 28)
    assert out.shape == (28, 28) and out.dtype == np.uint8
    assert (out[:, 8:20] > 200).all() and (out[:, :6] == 0).all() and (out[:, 22:] == 0).all()


def test_a_photo_on_a_light_background_reads_as_the_dataset_image() -> None:
    garment = np.zeros((28, 28), np.uint8)
    garment[0:28, 7:21] = 90  # a dress: the full height, half the width
    garment[2:10, 9:19] = 230  # a light yoke
    for seed in range(5):
        photo = photo_like(garment, np.random.default_rng(seed))
        assert photo.ndim == 3 and photo.shape[0] > 100 and photo[0, 0].mean() > 150  # colour, large, light
        read = to_canonical(decode(png(photo, "PNG"), 10**7), 28, 28).astype(float)
        assert np.corrcoef(read.ravel(), garment.ravel())[0, 1] > 0.9, seed
        assert (read[:, :5] < 20).all() and (read[:, 23:] < 20).all()  # the light background is black


def test_a_picture_with_nothing_on_it_is_black() -> None:
    for value in (0, 235):
        flat = np.full((90, 60, 3), value, np.uint8)
        assert not to_canonical(flat, 28, 28).any()


def test_non_image_is_415_and_truncated_is_422() -> None:
    with pytest.raises(ImageError) as exc:
        decode(b"this is not an image at all", 10**7)
    assert exc.value.status == 415
    data = png(np.full((64, 64), 128, np.uint8), "JPEG")
    with pytest.raises(ImageError, match="truncated or damaged") as exc:
        decode(data[: len(data) // 2], 10**7)
    assert exc.value.status == 422


def test_pixel_bomb_is_refused_before_decoding() -> None:
    with pytest.raises(ImageError, match="over the limit"):
        decode(png(np.zeros((2000, 2000), np.uint8)), 1_000_000)


def saved(image: Image.Image, fmt: str = "PNG", **options: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **options)
    return buf.getvalue()


def shirt() -> np.ndarray:
    """An 8-bit grey picture with a mid-grey body and a light left sleeve (not symmetric)."""
    picture = np.zeros((40, 30), np.uint8)
    picture[8:32, 8:22] = 128
    picture[8:16, 2:8] = 220
    return picture


def test_16_bit_grey_is_scaled_not_clipped() -> None:
    grey16 = Image.fromarray(shirt().astype(np.uint16) * 257)  # I;16: 128 -> 32896
    decoded = decode(saved(grey16), 10**7)
    assert np.abs(decoded.astype(int) - shirt()).max() <= 1, "16-bit mid-grey must not turn white"


def test_palette_and_alpha_uploads_match_their_8_bit_equivalents() -> None:
    rgb = np.stack([shirt()] * 3, axis=-1)
    palette = Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=8)
    assert np.array_equal(to_canonical(decode(saved(palette), 10**7), 28, 28), to_canonical(rgb, 28, 28))
    rgba = np.dstack([np.full_like(rgb, 255), np.where(shirt() > 0, 255, 0).astype(np.uint8)])  # white, shaped by alpha
    expected = np.stack([np.where(shirt() > 0, 255, 0).astype(np.uint8)] * 3, axis=-1)  # over black
    assert np.array_equal(decode(saved(Image.fromarray(rgba, "RGBA")), 10**7), expected)


def test_cmyk_and_exif_rotated_jpegs_match_their_upright_rgb_equivalents() -> None:
    rgb = Image.fromarray(np.stack([shirt()] * 3, axis=-1))
    reference = to_canonical(decode(saved(rgb, "JPEG", quality=95), 10**7), 28, 28).astype(int)
    cmyk = to_canonical(decode(saved(rgb.convert("CMYK"), "JPEG", quality=95), 10**7), 28, 28).astype(int)
    assert np.abs(cmyk - reference).mean() < 3
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: the stored pixels must be turned 90 degrees clockwise to show
    stored = rgb.transpose(Image.Transpose.ROTATE_90)  # how a phone held sideways stores it
    upright = to_canonical(decode(saved(stored, "JPEG", quality=95, exif=exif), 10**7), 28, 28).astype(int)
    assert np.abs(upright - reference).mean() < 3


def test_idx_round_trip_and_canonical_table() -> None:
    images = np.arange(2 * 28 * 28, dtype=np.uint32).astype(np.uint8).reshape(2, 28, 28)
    header = bytes([0, 0, 8, 3]) + b"".join(int(d).to_bytes(4, "big") for d in images.shape)
    assert np.array_equal(read_idx(header + images.tobytes()), images)
    with pytest.raises(ValueError, match="header promises"):
        read_idx(header + images.tobytes()[:-1])
    table = canonical(images, np.array([0, 1]), "train", ["a", "b"])
    assert list(table.columns) == ["id", "split", "label", "checksum", "pixels"]
    assert np.array_equal(images_of(table, 28, 28), images)


def test_normalise_and_signals() -> None:
    images = np.stack([np.zeros((28, 28), np.uint8), np.full((28, 28), 255, np.uint8)])
    x = normalise(images)
    assert x.shape == (2, 1, 28, 28) and x.min() == -1.0 and x.max() == 1.0
    signals = image_signals(images)
    assert signals["blank_fraction"].tolist() == [1.0, 0.0]
    assert signals["brightness"].tolist() == [0.0, 1.0]
    assert decode(encode_png(images[1]), 10**7).shape == (28, 28)
