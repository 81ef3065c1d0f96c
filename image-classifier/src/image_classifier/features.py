"""Pure transforms: an uploaded image to the model's input, the model's input to tensors, and the
signals that drift monitoring compares (no I/O, no model).

Training and serving share ``to_canonical`` and ``normalise``: an upload of any size or colour
becomes what the dataset holds (``height`` x ``width`` grayscale, uint8), then the network's input.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

MEAN, STD = 0.5, 0.5  # pixels in [0, 1] -> [-1, 1]
BLANK_LEVEL = 16  # a pixel at or below this (of 255) counts as background


class ImageError(ValueError):
    """An upload that is not a usable image; ``status`` is the HTTP status it deserves."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


def decode(data: bytes, max_pixels: int) -> np.ndarray:
    """PNG/JPEG/... bytes -> an RGB or L uint8 array; refuses non-images (415), truncated files
    and images over ``max_pixels`` (decompression bombs) (422) before decoding them whole."""
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise ImageError("the image is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > max_pixels:
                raise ImageError(f"the image is {width}x{height} pixels, over the limit of {max_pixels:,} pixels")
            image.load()
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError("the file is not an image Pillow can read (PNG, JPEG, GIF, BMP, WebP...)", 415) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(f"the image is over the limit of {max_pixels:,} pixels") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"the image is truncated or damaged ({exc})") from None
    return np.asarray(eight_bit(image))


HIGH_DEPTH = {"I;16": 65535, "I;16B": 65535, "I;16L": 65535, "I;16N": 65535, "I": 65535, "F": 1.0}


def eight_bit(image: Any) -> Any:
    """A decoded Pillow image as the camera or the person saw it, in ``L`` or ``RGB`` with 8 bits a
    channel: turned upright as its EXIF orientation says; 16-bit (and 32-bit integer) grey scaled
    from its full range (Pillow's own conversion clips it: mid-grey would turn white); float grey
    read as 0..1; a palette expanded; transparency laid over black, the dataset's background."""
    from PIL import Image, ImageOps

    image = ImageOps.exif_transpose(image)
    if image.mode in HIGH_DEPTH:
        values = np.asarray(image, dtype=np.float64) / HIGH_DEPTH[image.mode] * 255.0
        return Image.fromarray(np.clip(np.round(values), 0, 255).astype(np.uint8), "L")
    if image.mode in ("P", "PA", "LA", "La", "RGBA", "RGBa") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", rgba.size, (0, 0, 0, 255)), rgba).convert("RGB")
    return image if image.mode in ("L", "RGB") else image.convert("RGB")


def edge(pixels: np.ndarray) -> np.ndarray:
    """The outermost pixels of a picture (its first and last rows and columns)."""
    return np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])


def background(pixels: np.ndarray) -> np.ndarray:
    """The background under a picture, from its border: the plane that fits the border's pixels
    (uneven light) plus three robust standard deviations of what is left (noise, compression)."""
    h, w = pixels.shape
    rows = np.concatenate([np.zeros(w), np.full(w, h - 1), np.arange(h), np.arange(h)])
    cols = np.concatenate([np.arange(w), np.arange(w), np.zeros(h), np.full(h, w - 1)])
    design = np.column_stack([np.ones_like(rows), rows, cols])
    values = edge(pixels)
    coef, *_ = np.linalg.lstsq(design, values, rcond=None)
    spread = 1.4826 * float(np.median(np.abs(values - design @ coef)))
    grid_rows, grid_cols = np.mgrid[0:h, 0:w]
    return coef[0] + coef[1] * grid_rows + coef[2] * grid_cols + 3.0 * spread


BLANK_LEVEL = 8.0  # brightest garment level (over the background) below which a picture is blank


def to_canonical(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Any decoded image -> ``height`` x ``width`` grayscale uint8, as the dataset holds them: a
    light garment on black, trimmed to the garment and its longer side fitted to the square.

    An image already that size is taken as it is (the dataset's own). Otherwise, as a phone or shop
    photo needs: luminance; when the border is light, the picture negated so the garment is the
    bright part; the background (a plane fitted to the border, plus its noise) subtracted and the
    contrast stretched; the garment's bounding box (after a median filter, so specks and JPEG
    noise do not count) cut out, so an off-centre garment is centred; its longer side fitted with
    a box filter. A picture with nothing on its background becomes black."""
    from PIL import Image, ImageFilter

    gray = Image.fromarray(image).convert("L") if image.ndim == 3 else Image.fromarray(image)
    if gray.size == (width, height):
        return np.asarray(gray, dtype=np.uint8)
    pixels = np.asarray(gray, dtype=np.float32)
    if float(np.median(edge(pixels))) > 127:  # a light background: negate, as the dataset's images were
        pixels = 255.0 - pixels
    pixels = np.clip(pixels - background(pixels), 0.0, None)
    peak = float(np.percentile(pixels, 99.5)) if pixels.size else 0.0
    if peak < BLANK_LEVEL:
        return np.zeros((height, width), np.uint8)
    pixels = np.clip(pixels * (255.0 / peak), 0.0, 255.0)
    solid = np.asarray(Image.fromarray(pixels.astype(np.uint8)).filter(ImageFilter.MedianFilter(5)))
    rows, cols = np.nonzero(solid > 64)
    if not len(rows):
        rows, cols = np.nonzero(pixels > 25.5)
    garment = Image.fromarray(pixels[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1].astype(np.uint8))
    scale = min(width / garment.width, height / garment.height)
    size = (max(1, round(garment.width * scale)), max(1, round(garment.height * scale)))
    fitted = garment.resize(size, Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR)
    canvas = Image.new("L", (width, height), 0)
    canvas.paste(fitted, ((width - size[0]) // 2, (height - size[1]) // 2))
    return np.asarray(canvas, dtype=np.uint8)


def photo_like(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A dataset image made into what a person photographs. Fashion-MNIST's images are product
    photos turned grey and negated (a light garment on black), so the photo undoes that: the
    garment's luminance is 255 minus the dataset's value, tinted with a random colour (each
    channel 55% to 100%), 4 to 10 times the size, on a light, unevenly lit background (200 to 250
    grey, a gradient, noise), off-centre on a canvas up to twice its size either way, then JPEG at
    quality 60 to 90. What ``test_photo_accuracy`` and the tests score."""
    import io

    from PIL import Image

    scale = int(rng.integers(4, 11))
    big = np.asarray(Image.fromarray(image).resize((image.shape[1] * scale,) * 2, Image.Resampling.BILINEAR))
    height, width = int(big.shape[0] * rng.uniform(1.1, 2.0)), int(big.shape[1] * rng.uniform(1.1, 2.0))
    ramp = np.linspace(-15, 15, width)[None, :] * rng.choice([-1, 1])
    canvas = rng.uniform(200, 250) + ramp + rng.normal(0, 4, (height, width))
    canvas = np.repeat(canvas[..., None], 3, axis=2)
    top, left = int(rng.integers(0, height - big.shape[0] + 1)), int(rng.integers(0, width - big.shape[1] + 1))
    garment = (255.0 - big.astype(np.float32))[..., None] * rng.uniform(0.55, 1.0, 3)
    region = canvas[top : top + big.shape[0], left : left + big.shape[1]]
    canvas[top : top + big.shape[0], left : left + big.shape[1]] = np.where((big > 12)[..., None], garment, region)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(canvas, 0, 255).astype(np.uint8), "RGB").save(
        buffer, format="JPEG", quality=int(rng.integers(60, 91))
    )
    return np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))


def normalise(images: np.ndarray) -> np.ndarray:
    """(N, H, W) uint8 -> (N, 1, H, W) float32 in [-1, 1]: the network's input."""
    return ((images.astype(np.float32) / 255.0 - MEAN) / STD)[:, None, :, :]


def image_signals(images: np.ndarray) -> pd.DataFrame:
    """Per-image signals for drift: mean brightness, contrast (pixel std) and blank fraction."""
    flat = images.reshape(len(images), -1).astype(np.float32)
    return pd.DataFrame(
        {
            "brightness": flat.mean(axis=1) / 255.0,
            "contrast": flat.std(axis=1) / 255.0,
            "blank_fraction": (flat <= BLANK_LEVEL).mean(axis=1),
        }
    )


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def top_k(probabilities: np.ndarray, classes: Sequence[str], k: int = 3) -> list[list[dict[str, float | str]]]:
    """The ``k`` most likely classes of each row, most likely first."""
    order = np.argsort(-probabilities, axis=1)[:, :k]
    return [
        [{"label": classes[j], "probability": round(float(row[j]), 6)} for j in idx]
        for row, idx in zip(probabilities, order, strict=True)
    ]


def encode_png(image: np.ndarray) -> bytes:
    """An array as PNG bytes (demo traffic, tests)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()
