"""Arrays <-> pictures: crisp upscaled digits, PNG bytes, the seed's grid figure.

Uploaded digit images and drawings are turned into MNIST-style 28x28 arrays by
:func:`preprocess_upload` and :func:`preprocess_drawing`, the same way.
"""

from __future__ import annotations

import contextlib
import io
import threading
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


def picture_uint8(image, *, clipped: bool) -> np.ndarray:
    """An (adversarial) image as uint8: clipped to [0, 1], or stretched to its own range when it was not clipped."""
    return to_uint8(image) if clipped else to_uint8(image, None, None)


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


# --- weight templates ---------------------------------------------------------------------------------


def diverging_rgb(weights: np.ndarray) -> np.ndarray:
    """A weight template as an RGB picture: blue negative, white zero, red positive (symmetric scale)."""
    weights = np.asarray(weights, float).reshape(28, 28)
    scale = np.abs(weights).max() or 1.0
    t = np.clip(weights / scale, -1, 1)[..., None]
    red, white, blue = np.array([178, 24, 43]), np.array([247, 247, 247]), np.array([33, 102, 172])
    rgb = np.where(t > 0, white + t * (red - white), white + (-t) * (blue - white))
    return np.round(rgb).astype(np.uint8)


def template_picture(weights: np.ndarray, scale: int = 6):
    """A weight template as a PIL image, ``scale`` screen pixels per pixel."""
    from PIL import Image

    image = Image.fromarray(diverging_rgb(weights), mode="RGB")
    return image.resize((28 * scale, 28 * scale), Image.Resampling.NEAREST)


def template_strip(W: np.ndarray, scale: int = 4, gap: int = 6):
    """The ten weight templates side by side in one picture (0 to 9, left to right), ``gap`` pixels apart."""
    from PIL import Image

    side = 28 * scale
    strip = Image.new("RGB", (10 * side + 9 * gap, side), "white")
    for digit in range(10):
        strip.paste(template_picture(W[digit], scale), (digit * (side + gap), 0))
    return strip


# --- uploads ------------------------------------------------------------------------------------------

MAX_UPLOAD_BYTES = 2_000_000  # 2 MB, as the app's server.maxUploadSize (Streamlit counts 10^6 bytes per MB)
MAX_PIXELS = 12_500_000  # a 12-megapixel phone photo (4032x3024) fits; refused from the header, before decoding
# Pillow decodes a WebP in full as RGBA and converts it: 15 bytes a pixel at the peak (183 MB for 12 MP, measured),
# against 4-5 for PNG and a reduced-scale decode for JPEG. So WebPs get a lower cap: at most about 60 MB a decode.
MAX_PIXELS_BY_FORMAT = {"WEBP": 4_000_000}
WORKING_SIDE = 1024  # larger pictures are box-reduced to this (as 8-bit) before any floating-point copy
FORMATS = {"PNG", "JPEG", "BMP", "GIF", "WEBP", "TIFF"}
CENTRE = 14.0  # MNIST's centre of mass, row and column (0-based), as measured on its training digits
INK = 0.12  # a pixel darker/lighter than the background by this much is ink
_REDUCIBLE = {"L", "LA", "RGB", "RGBA", "I", "F"}  # modes Pillow's box reduction works on


def preprocess_upload(data: bytes) -> np.ndarray:
    """Turn an uploaded picture of one handwritten digit into an MNIST-style image.

    The way MNIST was made: grayscale; inverted when the background is light
    (MNIST is white ink on black); cropped to the ink; fitted into 20x20
    keeping the aspect ratio; centred by its centre of mass in 28x28.
    Animated or multi-page files use their first frame; EXIF rotation is
    applied; 16-bit, palette, CMYK and transparent images are handled.

    Memory stays small whatever the file: the pixel count is checked from the
    header before decoding (a small file can hold a huge image), JPEGs are
    decoded at a reduced scale, and a big picture is reduced to at most
    1024 pixels a side in 8 bits before any float32 copy is made.

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
        raise ImageRejected(
            f"the file is {len(data) / 1e6:.1f} MB; upload at most {MAX_UPLOAD_BYTES / 1e6:g} MB "
            f"({MAX_UPLOAD_BYTES:,} bytes)"
        )
    try:
        with warnings.catch_warnings():  # our own, lower pixel limit is checked just below
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(bytes(data)))  # reads the header only
    except Image.DecompressionBombError:
        raise ImageRejected(too_large_message()) from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise ImageRejected("this file is not an image: upload a PNG, JPEG, BMP or GIF of one digit") from None
    except Exception:  # noqa: BLE001 -- a hostile header can make Pillow raise anything
        raise ImageRejected("this file is not an image Pillow can read: upload a PNG, JPEG, BMP or GIF") from None
    if image.format not in FORMATS:
        raise ImageRejected(f"{image.format} images are not supported: upload a PNG, JPEG, BMP or GIF")
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise ImageRejected(f"the image is {width}x{height} pixels; {too_large_message()}")
    limit = MAX_PIXELS_BY_FORMAT.get(image.format)
    if limit is not None and width * height > limit:
        raise ImageRejected(
            f"the {image.format} image is {width}x{height} pixels; upload one of at most {limit / 1e6:g} megapixels, "
            "or save it as a JPEG or PNG"
        )
    if width == 0 or height == 0:
        raise ImageRejected("the image has no pixels")
    with decoding():
        try:
            image.seek(0)  # the first frame of an animation or a multi-page file
            image = ImageOps.exif_transpose(_small(image))  # photos taken sideways
            gray = _grayscale(image)
        except Exception:  # noqa: BLE001 -- truncated, corrupt or hostile: Pillow's errors are many
            raise ImageRejected(
                "the image file is truncated or corrupt; save it again and upload the new file"
            ) from None
    return _mnist_style(gray, photo=True)


DECODING_SLOTS = 2  # pictures decoded at once per server: each holds at most MAX_PIXELS x 4 bytes (50 MB)
DECODING_WAIT = 20.0  # seconds a picture may wait for a slot before the visitor is asked to try again
_decoding = threading.BoundedSemaphore(DECODING_SLOTS)


@contextlib.contextmanager
def decoding():
    """A decoding slot: at most ``DECODING_SLOTS`` pictures are decoded at once, whoever sends them.

    A picture is decoded in full only when its format has no reduced-scale
    decoding (all but JPEG), so one decode holds at most 12.5 megapixels of
    4 bytes; the slots bound how many of those exist at once (sixteen visitors
    uploading together cost two decodes' memory, not sixteen).

    Raises
    ------
    ImageRejected
        No slot freed up within ``DECODING_WAIT`` seconds.
    """
    from core.errors import ImageRejected

    if not _decoding.acquire(timeout=DECODING_WAIT):
        raise ImageRejected("the server is busy reading other pictures; try again in a moment")
    try:
        yield
    finally:
        _decoding.release()


# --- drawings -----------------------------------------------------------------------------------------

MAX_DRAWING_SIDE = 1024  # the pad is 280 pixels a side; anything far bigger did not come from it
MAX_DRAWING_CHARS = 1_000_000  # the pad's 280x280 PNG is 5-15 KB; even pure noise stays under 450 KB as a data URL
DATA_URL_PREFIX = "data:image/png;base64,"


def read_drawing(data_url: str) -> np.ndarray:
    """The drawing pad's picture, sent as a PNG data URL, as an (h, w, 4) uint8 RGBA array.

    The length and the picture's size (from its header) are checked before
    anything is decoded, and decoding waits for a free decoding slot
    (:func:`decoding`), so no value costs the server more than a few MB.

    Raises
    ------
    ImageRejected
        Not a PNG data URL, too long, or not a picture the pad can have made
        (whatever Pillow makes of it: corrupt, truncated, a decompression bomb).
    """
    import base64
    import binascii

    from core.errors import ImageRejected

    if not isinstance(data_url, str) or not data_url.startswith(DATA_URL_PREFIX):
        raise ImageRejected("the drawing did not arrive as a PNG picture; clear the pad and draw again")
    if len(data_url) > MAX_DRAWING_CHARS:
        raise ImageRejected(f"the drawing is larger than {MAX_DRAWING_CHARS / 1e6:g} MB; clear the pad and draw again")
    unreadable = ImageRejected("the drawing could not be read; clear the pad and draw again")
    try:
        data = base64.b64decode(data_url[len(DATA_URL_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise unreadable from None
    with decoding():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                image = Image.open(io.BytesIO(data))  # the header only
                if image.format != "PNG" or max(image.size) > MAX_DRAWING_SIDE:
                    raise ImageRejected(
                        f"the drawing is not a picture the pad makes (at most {MAX_DRAWING_SIDE} pixels a side); "
                        "clear the pad and draw again"
                    )
                return np.asarray(image.convert("RGBA"))
        except ImageRejected:
            raise
        except Exception:  # noqa: BLE001 -- whatever Pillow raises on a hostile file is the visitor's problem, named
            raise unreadable from None


def preprocess_drawing(rgba) -> np.ndarray:
    """A drawing (an (h, w, 4) uint8 RGBA array, white ink on black as the pad makes it) as the model sees it.

    Exactly what :func:`preprocess_upload` makes of the same picture saved as
    a PNG: cropped to the ink, fitted into 20x20, centred by its centre of mass.

    Raises
    ------
    ImageRejected
        Not such an array, or nothing drawn (all one colour).
    """
    from core.errors import ImageRejected

    array = np.asarray(rgba)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 4 or 0 in array.shape:
        raise ImageRejected(f"a drawing is an RGBA picture (h, w, 4) of uint8, got {array.dtype} {array.shape}")
    if max(array.shape[:2]) > MAX_DRAWING_SIDE:
        raise ImageRejected(f"a drawing is at most {MAX_DRAWING_SIDE} pixels a side, got {array.shape[:2]}")
    gray = _grayscale(_small(Image.fromarray(array, mode="RGBA")))
    if float(gray.max() - gray.min()) < INK:
        raise ImageRejected("the pad is empty: draw one digit, white on black")
    return _mnist_style(gray)


def too_large_message() -> str:
    return f"upload one of at most {MAX_PIXELS / 1e6:g} megapixels (a phone photo is fine)"


def _small(image: Image.Image) -> Image.Image:
    """The decoded picture, at most ``WORKING_SIDE`` pixels a side, in a mode that keeps its ink and alpha.

    Box reduction averages whole blocks of pixels, so thin strokes survive
    as fainter ones (the ink is renormalised later). JPEGs are decoded at
    the reduced scale straight away (``draft``).
    """
    if image.format == "JPEG":
        image.draft(image.mode if image.mode in ("L", "RGB") else None, (WORKING_SIDE, WORKING_SIDE))
    image.load()
    if image.mode == "P" or image.mode == "PA":
        has_alpha = image.mode == "PA" or "transparency" in image.info
        image = image.convert("RGBA" if has_alpha else "L")
    elif image.mode.startswith("I;16"):
        image = image.convert("I")
    elif image.mode not in _REDUCIBLE:  # 1-bit, CMYK, YCbCr, LAB, HSV, premultiplied alpha
        image = image.convert("RGBA" if "A" in image.mode or "a" in image.mode else "RGB")
    factor = -(-max(image.size) // WORKING_SIDE)
    return image.reduce(factor) if factor > 1 else image


def _grayscale(image: Image.Image) -> np.ndarray:
    """Lightness in [0, 1] as float32, whatever the mode: 16-bit, palette, CMYK, with or without alpha."""
    if image.mode in ("I", "F"):
        values = np.asarray(image, dtype=np.float32)
        top = 65535.0 if image.mode == "I" and values.max() > 255 else 255.0
        return np.clip(values / np.float32(top), 0.0, 1.0)
    has_alpha = image.mode in ("RGBA", "LA")
    if not has_alpha:
        return np.asarray(image.convert("L"), dtype=np.float32) / np.float32(255)
    rgba = np.asarray(image.convert("RGBA"), dtype=np.float32) / np.float32(255)
    lightness = rgba[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    alpha = rgba[..., 3]
    if alpha.sum() == 0:
        return np.zeros_like(alpha)
    # strokes on a transparent canvas: put them on the background they contrast with
    ink_is_dark = (lightness * alpha).sum() / alpha.sum() < 0.5
    background = 1.0 if ink_is_dark else 0.0
    return alpha * lightness + (1 - alpha) * np.float32(background)


def _mnist_style(gray: np.ndarray, *, photo: bool = False) -> np.ndarray:
    """The MNIST steps: white ink on black, cropped to the ink, fitted into 20x20, centred by its centre of mass.

    ``photo`` (an upload): which way the strokes go is read from the strokes themselves, and dark ink on unevenly lit
    paper is first separated from the paper's own light (:mod:`core.inputs.paper`).
    """
    from core.errors import ImageRejected
    from core.inputs.paper import EVEN_LIGHT, ink_on_paper, paper_light, strokes_only  # scipy: only for a picture

    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    background = float(np.median(border))
    paper = paper_light(gray) if photo else None  # None: light strokes on a dark background
    if paper is not None and float(paper.max() - paper.min()) > EVEN_LIGHT:  # uneven light: divide it out
        ink = ink_on_paper(gray, paper, INK)
    elif paper is not None:
        ink = background - gray  # dark ink on evenly lit paper, however dim
    else:
        ink = gray - background if background < 0.5 else background - gray  # white ink on black, as MNIST
    ink = np.clip(ink, 0.0, None)
    # specks are never ink (a photo's noise in a slightly darker corner, however gentle the falloff that lifts it
    # past the threshold): only the largest strokes and those near them, with their soft edges; every picture alike,
    # so a drawing and the same picture uploaded, light ink on dark and dark on light, give the same digit
    ink = strokes_only(ink, INK)
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
    # the centre of mass where MNIST's digits have theirs: pixel (14, 14), not the field's middle 13.5 (measured on
    # the training digits: 13.99 and 14.00, spread 0.29); half a pixel off costs a linear model one photo in ten
    total = fitted.sum()
    row_mass = (fitted.sum(axis=1) * np.arange(fitted.shape[0])).sum() / total
    col_mass = (fitted.sum(axis=0) * np.arange(fitted.shape[1])).sum() / total
    top = int(np.clip(round(CENTRE - row_mass), 0, SIDE - fitted.shape[0]))
    left = int(np.clip(round(CENTRE - col_mass), 0, SIDE - fitted.shape[1]))
    canvas = np.zeros((SIDE, SIDE), dtype=np.float32)
    canvas[top : top + fitted.shape[0], left : left + fitted.shape[1]] = fitted
    canvas = np.clip(canvas / max(canvas.max(), 1e-12), 0.0, 1.0)
    return canvas.reshape(-1)
