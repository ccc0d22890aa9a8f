"""Arrays <-> pictures: crisp upscaled digits, PNG bytes, the seed's grid figure.

Uploaded digit images are turned into MNIST-style 28x28 arrays by
:func:`preprocess_upload`.
"""

from __future__ import annotations

import io
import warnings

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


# --- uploads ------------------------------------------------------------------------------------------

MAX_UPLOAD_BYTES = 5 * 2**20  # the app's server.maxUploadSize is lower still
MAX_PIXELS = 25_000_000  # a 25-megapixel photo is plenty for one digit; refused before decoding
FORMATS = {"PNG", "JPEG", "BMP", "GIF", "WEBP", "TIFF"}
INK = 0.12  # a pixel darker/lighter than the background by this much is ink


def preprocess_upload(data: bytes) -> np.ndarray:
    """Turn an uploaded picture of one handwritten digit into an MNIST-style image.

    The way MNIST was made: grayscale; inverted when the background is light
    (MNIST is white ink on black); cropped to the ink; fitted into 20x20
    keeping the aspect ratio; centred by its centre of mass in 28x28.
    Animated or multi-page files use their first frame; EXIF rotation is
    applied; 16-bit, palette, CMYK and transparent images are handled.

    Parameters
    ----------
    data : bytes
        The file's contents (never written to disk).

    Returns
    -------
    ndarray of shape (784,), float32 in [0, 1].

    Raises
    ------
    ImageRejected
        Not an image, an unsupported format, truncated or corrupt, too large
        (checked from the header, before decoding), or blank.
    """
    from PIL import ImageOps, UnidentifiedImageError

    from core.errors import ImageRejected

    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ImageRejected(f"expected the file's bytes, got {type(data).__name__}")
    if len(data) == 0:
        raise ImageRejected("the file is empty")
    if len(data) > MAX_UPLOAD_BYTES:
        raise ImageRejected(f"the file is {len(data) / 2**20:.1f} MB; upload at most {MAX_UPLOAD_BYTES // 2**20} MB")
    try:
        with warnings.catch_warnings():  # our own, lower pixel limit is checked just below
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(bytes(data)))  # reads the header only
    except (UnidentifiedImageError, OSError, ValueError):
        raise ImageRejected("this file is not an image: upload a PNG, JPEG, BMP or GIF of one digit") from None
    except Image.DecompressionBombError:
        raise ImageRejected(f"the image is too large; upload one under {MAX_PIXELS // 1_000_000} megapixels") from None
    if image.format not in FORMATS:
        raise ImageRejected(f"{image.format} images are not supported: upload a PNG, JPEG, BMP or GIF")
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise ImageRejected(
            f"the image is {width}x{height} pixels; upload one under {MAX_PIXELS // 1_000_000} megapixels"
        )
    if width == 0 or height == 0:
        raise ImageRejected("the image has no pixels")
    try:
        image.seek(0)  # the first frame of an animation or a multi-page file
        image = ImageOps.exif_transpose(image)  # photos taken sideways
        gray = _grayscale(image)
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError):
        raise ImageRejected("the image file is truncated or corrupt; save it again and upload the new file") from None
    return _mnist_style(gray)


def _grayscale(image: Image.Image) -> np.ndarray:
    """Lightness in [0, 1], whatever the mode: 16-bit, palette, CMYK, with or without alpha."""
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        values = np.asarray(image.convert("I") if image.mode.startswith("I;16") else image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I") and values.max() > 255 else 255.0
        return np.clip(values / top, 0.0, 1.0)
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    if not has_alpha:
        return np.asarray(image.convert("L"), dtype=np.float64) / 255.0
    rgba = np.asarray(image.convert("RGBA"), dtype=np.float64) / 255.0
    lightness = rgba[..., :3] @ np.array([0.299, 0.587, 0.114])
    alpha = rgba[..., 3]
    if alpha.sum() == 0:
        return np.zeros_like(alpha)
    # strokes on a transparent canvas: put them on the background they contrast with
    ink_is_dark = (lightness * alpha).sum() / alpha.sum() < 0.5
    background = 1.0 if ink_is_dark else 0.0
    return alpha * lightness + (1 - alpha) * background


def _mnist_style(gray: np.ndarray) -> np.ndarray:
    from core.errors import ImageRejected

    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    background = float(np.median(border))
    ink = gray - background if background < 0.5 else background - gray  # white ink on black, as MNIST
    ink = np.clip(ink, 0.0, None)
    if ink.max() < INK:
        raise ImageRejected("no digit found: the image looks blank; write a dark digit on a light background")
    ink /= ink.max()
    rows, cols = np.nonzero(ink > INK)
    ink = ink[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    height, width = ink.shape
    scale = 20.0 / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    fitted = np.asarray(Image.fromarray(ink.astype(np.float32), mode="F").resize(size, Image.Resampling.LANCZOS))
    fitted = np.clip(fitted, 0.0, None)
    # centre of mass at the centre of the 28x28 field, as MNIST did
    total = fitted.sum()
    row_mass = (fitted.sum(axis=1) * np.arange(fitted.shape[0])).sum() / total
    col_mass = (fitted.sum(axis=0) * np.arange(fitted.shape[1])).sum() / total
    top = int(np.clip(round(13.5 - row_mass), 0, SIDE - fitted.shape[0]))
    left = int(np.clip(round(13.5 - col_mass), 0, SIDE - fitted.shape[1]))
    canvas = np.zeros((SIDE, SIDE), dtype=np.float32)
    canvas[top : top + fitted.shape[0], left : left + fitted.shape[1]] = fitted
    canvas = np.clip(canvas / max(canvas.max(), 1e-12), 0.0, 1.0)
    return canvas.reshape(-1)
