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


def to_canonical(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Any decoded image -> ``height`` x ``width`` grayscale uint8, as the dataset holds them:
    luminance, the longer side fitted with a box filter, centred on a black square."""
    from PIL import Image

    gray = Image.fromarray(image).convert("L") if image.ndim == 3 else Image.fromarray(image)
    if gray.size == (width, height):
        return np.asarray(gray, dtype=np.uint8)
    scale = min(width / gray.width, height / gray.height)
    size = (max(1, round(gray.width * scale)), max(1, round(gray.height * scale)))
    fitted = gray.resize(size, Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR)
    canvas = Image.new("L", (width, height), 0)
    canvas.paste(fitted, ((width - size[0]) // 2, (height - size[1]) // 2))
    return np.asarray(canvas, dtype=np.uint8)


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
