"""Arrays <-> pictures: crisp upscaled digits, PNG bytes, the seed's grid figure.

Uploaded digit images are turned into MNIST-style 28x28 arrays by
:func:`preprocess_upload`.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFont

SIDE = 28


def to_uint8(image, low: float | None = 0.0, high: float | None = 1.0) -> np.ndarray:
    """A 28x28 uint8 picture of one image; values outside [low, high] are clipped.

    ``low=None``/``high=None`` stretch the image's own range (for unclipped
    adversarial images, which leave [0, 1]).
    """
    pixels = np.asarray(image, dtype=np.float64).reshape(SIDE, SIDE)
    low = pixels.min() if low is None else low
    high = pixels.max() if high is None else high
    span = high - low if high > low else 1.0
    return np.round(np.clip((pixels - low) / span, 0.0, 1.0) * 255).astype(np.uint8)


def direction_to_uint8(direction) -> np.ndarray:
    """The attack direction (-1, 0, +1) as black, mid-grey and white."""
    return to_uint8(direction, -1.0, 1.0)


def upscale(picture: np.ndarray, scale: int = 8) -> Image.Image:
    """A grayscale PIL image enlarged with nearest-neighbour, so pixels stay square."""
    image = Image.fromarray(np.asarray(picture, dtype=np.uint8), mode="L")
    return image.resize((image.width * scale, image.height * scale), Image.Resampling.NEAREST)


def png_bytes(picture: np.ndarray, scale: int = 1) -> bytes:
    """PNG file contents of a uint8 picture, optionally upscaled."""
    buffer = io.BytesIO()
    upscale(picture, scale).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has one bitmap size
        return ImageFont.load_default()


def grid_figure(rows: list[tuple[list[np.ndarray], list[str]]], scale: int = 6) -> Image.Image:
    """The seed's figure: one row per image of uint8 pictures, each with a caption above.

    ``rows`` is a list of ``(pictures, captions)``; all rows have the same length.
    """
    columns = max(len(pictures) for pictures, _ in rows)
    cell, caption, pad = SIDE * scale, 22, 12
    width = columns * (cell + pad) + pad
    height = len(rows) * (cell + caption + pad) + pad
    figure = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(figure)
    font = _font(14)
    for r, (pictures, captions) in enumerate(rows):
        top = pad + r * (cell + caption + pad)
        for c, (picture, text) in enumerate(zip(pictures, captions)):
            left = pad + c * (cell + pad)
            draw.text((left, top), text, fill=0, font=font)
            figure.paste(upscale(picture, scale), (left, top + caption))
    return figure
