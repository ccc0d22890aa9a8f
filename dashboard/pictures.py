"""Pictures the pages show: digits upscaled crisply, attack directions, marked pixels, PNG downloads, templates.

Arrays in, pictures out (:mod:`core.inputs.imaging` does the pixel work); no Streamlit.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from core.inputs.imaging import (
    MAX_PIXELS,
    MAX_UPLOAD_BYTES,
    direction_to_uint8,
    picture_uint8,
    png_bytes,
    template_picture,
    to_uint8,
    upscale,
)

__all__ = [
    "MAX_PIXELS",
    "MAX_UPLOAD_BYTES",
    "direction",
    "marked",
    "picture",
    "png_bytes",
    "picture_uint8",
    "template_picture",
    "thumbnail_strip",
    "to_uint8",
    "upscale",
]


def picture(pixels: np.ndarray, clip: bool, scale: int) -> Image.Image:
    """Upscaled picture of an image; unclipped adversarial images are stretched to their own range."""
    return upscale(picture_uint8(pixels, clipped=clip), scale)


def direction(signs: np.ndarray, scale: int) -> Image.Image:
    """An attack direction upscaled: white pixels move up, black ones down, grey stay."""
    return upscale(direction_to_uint8(signs), scale)


def thumbnail_strip(images: np.ndarray, count: int = 10) -> np.ndarray:
    """The first ``count`` images side by side, separated by a thin gap, as one uint8 picture."""
    tiles = [np.pad(to_uint8(x), ((0, 0), (0, 2)), constant_values=128) for x in images[:count]]
    return np.hstack(tiles)


def marked(x: np.ndarray, changed: np.ndarray, scale: int) -> Image.Image:
    """A grey picture with the changed pixels in colour: red where brighter, blue where darker."""
    grey = to_uint8(np.clip(changed, 0, 1))
    rgb = np.repeat(grey.reshape(28, 28, 1), 3, axis=2).astype(np.int16)
    delta = (changed - x).reshape(28, 28)
    rgb[delta > 0] = [232, 56, 79]
    rgb[delta < 0] = [78, 121, 167]
    image = Image.fromarray(rgb.astype(np.uint8), mode="RGB")
    return image.resize((28 * scale, 28 * scale), Image.Resampling.NEAREST)
