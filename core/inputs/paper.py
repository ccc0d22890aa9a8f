"""Photos of a digit on paper under real light: the paper's own brightness estimated and divided out, as document
scanners do, the ink chosen by a threshold computed from the picture (Otsu's), specks and the sheet's edges left out.

:func:`core.inputs.imaging.preprocess_upload` calls these before the MNIST steps when a picture is dark ink on
light paper whose light is not even; evenly lit paper, light ink on dark and the drawing pad keep the plain steps,
and every picture's specks are left out by :func:`strokes_only`.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage

PAPER_SAMPLE_SIDE = 96  # the paper's light is estimated on the picture reduced to about this many pixels a side
PAPER_WINDOW = 0.25  # ink strokes narrower than this share of the picture's side are not taken for paper
STROKE = 0.06  # which way the strokes go is read from features narrower than this share of the side
EVEN_LIGHT = 0.1  # paper whose brightness varies less than this is taken as evenly lit, as before


def paper_light(gray: np.ndarray) -> np.ndarray | None:
    """The paper's own brightness across the picture, or None when the strokes are lighter than what surrounds
    them (light ink on a dark background).

    On a reduced copy, a morphological closing (a window wider than any stroke) takes dark strokes away and keeps
    steps in the light, such as a shadow's edge; an opening takes light strokes away. Whichever takes more away
    says which way the strokes go, whatever covers the picture's edge (a shadow over most of it is still paper).
    The closing, enlarged back, is the paper.
    """
    height, width = gray.shape
    factor = max(1, min(max(height, width) // PAPER_SAMPLE_SIDE, height, width))
    small = gray[: height - height % factor, : width - width % factor]
    small = small.reshape(small.shape[0] // factor, factor, small.shape[1] // factor, factor).mean(axis=(1, 3))
    window = max(3, round(PAPER_WINDOW * max(small.shape)) | 1)
    paper = ndimage.grey_closing(small, size=(window, window), mode="nearest")
    stroke = max(3, round(STROKE * max(small.shape)) | 1)
    dark = ndimage.grey_closing(small, size=(stroke, stroke), mode="nearest") - small
    light = small - ndimage.grey_opening(small, size=(stroke, stroke), mode="nearest")
    if dark.sum() <= light.sum():
        return None
    paper = Image.fromarray(paper.astype(np.float32), mode="F").resize((width, height), Image.Resampling.BILINEAR)
    return np.asarray(paper)


def ink_on_paper(gray: np.ndarray, paper: np.ndarray, least: float) -> np.ndarray:
    """Dark ink on light paper under uneven light, as white ink on black (float32, the ink's grey levels kept).

    ``paper`` (from :func:`paper_light`) is divided out, so side light,
    vignetting and shadows become flat paper. The ink is then chosen by a
    threshold computed from the picture (Otsu's, at least ``least``), and only
    the largest connected strokes and those near them are kept, with their
    soft grey edges: specks, dust and the sheet's edges go.
    """
    height, width = gray.shape
    ink = 1.0 - np.clip(gray / np.maximum(paper, 1e-3), 0.0, 1.0)  # 0 on paper, toward 1 on ink
    if ink.max() < least:
        return np.zeros_like(ink)
    return strokes_only(ink, least)


def strokes_only(ink: np.ndarray, least: float) -> np.ndarray:
    """``ink`` (white on black) with only the largest connected strokes and those near it kept, with their soft grey
    edges: specks (a sensor's noise in a slightly darker corner), dust and the sheet's edges go, whatever the light.
    The strokes are chosen by Otsu's threshold, at least ``least``."""
    height, width = ink.shape
    if ink.max() < least:  # blank: nothing to keep (the caller says so)
        return ink
    threshold = max(otsu(ink), least)
    strokes, count = ndimage.label(ink > threshold, structure=np.ones((3, 3)))
    if count == 0:
        return ink * 0
    sizes = np.bincount(strokes.ravel())[1:]
    chosen = np.isin(strokes, near_the_largest(strokes, sizes))
    reach = max(2, round(0.01 * max(height, width)))  # the strokes' soft grey edges stay
    near = ndimage.maximum_filter(chosen.view(np.uint8), size=2 * reach + 1) > 0  # a square dilation, separable
    return np.where(near, ink, 0.0).astype(np.float32)


def otsu(values: np.ndarray) -> float:
    """Otsu's threshold of values in [0, 1]: the split of a 256-bin histogram with the largest between-class
    variance."""
    counts, edges = np.histogram(values, bins=256, range=(0.0, 1.0))
    centres = (edges[:-1] + edges[1:]) / 2
    weight = np.cumsum(counts)
    total = weight[-1]
    mass = np.cumsum(counts * centres)
    with np.errstate(divide="ignore", invalid="ignore"):
        below = mass / weight
        above = (mass[-1] - mass) / (total - weight)
        between = weight * (total - weight) * (below - above) ** 2
    return float(centres[np.nanargmax(between[:-1])])


def near_the_largest(strokes: np.ndarray, sizes: np.ndarray) -> list[int]:
    """The labels of the largest connected stroke and of those near it (a digit drawn in two or three strokes);
    strokes that touch the picture's edge (the sheet's edge, a dark corner) are kept only when nothing else is."""
    boxes = ndimage.find_objects(strokes)
    height, width = strokes.shape
    touches = np.array([b[0].start == 0 or b[1].start == 0 or b[0].stop == height or b[1].stop == width for b in boxes])
    ranked = np.argsort(-sizes)
    inside = [i for i in ranked if not touches[i] and sizes[i] >= 1e-3 * height * width]  # not the sheet's edge
    largest = inside[0] if inside else ranked[0]
    rows, cols = boxes[largest]
    margin_r, margin_c = (rows.stop - rows.start) * 0.5, (cols.stop - cols.start) * 0.5
    kept = []
    for i, (r, c) in enumerate(boxes):
        close = (
            r.start < rows.stop + margin_r
            and r.stop > rows.start - margin_r
            and c.start < cols.stop + margin_c
            and c.stop > cols.start - margin_c
        )
        if i == largest or (close and not touches[i] and sizes[i] >= 0.02 * sizes[largest]):
            kept.append(i + 1)
    return kept
