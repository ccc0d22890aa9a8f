"""Photographs of handwritten digits, made here: MNIST test digits printed as dark ink on paper, lit unevenly,
tilted, blurred, noisy and saved as a phone would save them (JPEG). Our own generator with its own seed.

Lighting kinds, as a visitor meets them:

- ``even``: a desk evenly lit;
- ``side``: light from one side, the paper fading by up to 45% across the picture;
- ``vignette``: a phone lens's vignetting, the corners at about half the centre's light;
- ``shadow``: a soft shadow (a hand, a phone) over one side, 45% darker, its edge blurred;
- ``lens-95`` to ``lens-40``: a phone lens's falloff toward the corners, the corners at 95% to 40% of the
  centre's light, with a phone sensor's noise (σ 3 to 8 of 255): a gentle falloff with noise is the hard case,
  specks in the slightly darker corners passing for ink;
- ``lens+side``: a gentle falloff and light from one side at once;
- ``small``: the digit small in the photo (an eighth to a fifth of its height), with noise.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageFilter

LENSES = ("lens-95", "lens-85", "lens-70", "lens-55", "lens-40")  # the corners' share of the centre's light
KINDS = ("even", "side", "vignette", "shadow", *LENSES, "lens+side", "small")
NOISY = (*LENSES, "lens+side", "small")  # a phone sensor's noise, σ 3-8 of 255 (else 4)
PAPER, INK = 0.88, 0.10  # reflectance of the paper and of the ink


def lighting(kind: str, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """The light falling on each point of the sheet, (height, width), at most 1."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    y, x = y / (height - 1), x / (width - 1)
    if kind == "even":
        return np.full((height, width), rng.uniform(0.85, 1.0), np.float32)
    if kind == "side":
        angle = rng.uniform(0, 2 * np.pi)
        along = np.cos(angle) * (x - 0.5) + np.sin(angle) * (y - 0.5)  # about -0.7 to 0.7
        along = (along - along.min()) / (along.max() - along.min())
        return (1.0 - rng.uniform(0.35, 0.45) * along).astype(np.float32)
    if kind == "vignette":
        cy, cx = rng.uniform(0.4, 0.6, 2)
        r2 = ((y - cy) ** 2 + (x - cx) ** 2) / 0.5
        return (1.0 - rng.uniform(0.4, 0.5) * r2).clip(0.3, 1.0).astype(np.float32)
    if kind.startswith("lens"):  # corners (r = 1) at ``corner`` of the centre's light, falling off as r²
        corner = rng.uniform(0.78, 0.9) if kind == "lens+side" else int(kind.split("-")[1]) / 100
        r2 = ((y - 0.5) ** 2 + (x - 0.5) ** 2) / 0.5
        falloff = 1.0 - (1.0 - corner) * r2
        return (falloff * lighting("side", height, width, rng) if kind == "lens+side" else falloff).astype(np.float32)
    if kind == "small":
        return lighting("even", height, width, rng)
    if kind == "shadow":
        angle = rng.uniform(0, 2 * np.pi)
        along = np.cos(angle) * (x - 0.5) + np.sin(angle) * (y - 0.5)
        edge = rng.uniform(-0.25, 0.25)
        softness = rng.uniform(0.03, 0.08)
        shade = 1.0 / (1.0 + np.exp(-(along - edge) / softness))  # 0 lit, 1 in the shadow
        return (1.0 - rng.uniform(0.4, 0.45) * shade).astype(np.float32)
    raise ValueError(f"no lighting kind {kind!r}")


def photograph(digit: np.ndarray, kind: str, rng: np.random.Generator, size=(640, 480)) -> bytes:
    """A JPEG photo of an MNIST digit (784 values, white ink on black) written dark on paper and lit by ``kind``."""
    width, height = size
    share = rng.uniform(0.125, 0.2) if kind == "small" else rng.uniform(0.35, 0.5)
    side = int(share * height)  # the digit's 28x28 field, printed this large
    ink = Image.fromarray((digit.reshape(28, 28) * 255).astype(np.uint8)).resize(
        (side, side), Image.Resampling.BILINEAR
    )
    sheet = np.zeros((height, width), np.float32)
    top = int(rng.uniform(0.1, 0.9) * (height - side))  # off-centre on the sheet
    left = int(rng.uniform(0.1, 0.9) * (width - side))
    sheet[top : top + side, left : left + side] = np.asarray(ink, np.float32) / 255
    reflectance = PAPER - (PAPER - INK) * sheet
    tilted = Image.fromarray(reflectance, mode="F").rotate(
        rng.uniform(-6, 6), Image.Resampling.BILINEAR, fillcolor=PAPER
    )
    light = lighting(kind, height, width, rng)
    seen = np.asarray(tilted, np.float32) * light * 255
    seen = Image.fromarray(seen.clip(0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(rng.uniform(0.8, 1.6)))
    sigma = rng.uniform(3.0, 8.0) if kind in NOISY else 4.0
    noisy = np.asarray(seen, np.float32) + rng.normal(0, sigma, (height, width))
    rgb = np.repeat(noisy.clip(0, 255).astype(np.uint8)[..., None], 3, axis=2)
    rgb = (rgb * np.array([1.0, 0.97, 0.9])).astype(np.uint8)  # warm light: a slightly yellow paper
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=int(rng.integers(75, 92)))
    return buffer.getvalue()
