"""Section 14: photos: preparing a 12-megapixel phone photo (JPEG) of a digit under uneven light, and how often
photos of test digits (tests/photos.py: printed, lit, photographed) are read as the scanned digit, per kind of
light (the tests check a smaller sample of each kind)."""

from __future__ import annotations

import io
import time

import numpy as np

from benchmarks.common import ROOT, Report, default_model, peak_extra_memory

SECTION = "14. Photos"
PER_KIND = 200  # photographed test digits per kind of light (--quick: 2)


def phone_photo(width: int = 4032, height: int = 3024) -> bytes:
    """A 12-megapixel JPEG of a dark 3 on paper lit from one side, as a phone saves it (about 1-2 MB)."""
    from PIL import Image, ImageDraw, ImageFilter

    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    light = 1.0 - 0.4 * x / width  # light from the left
    paper = Image.fromarray((0.88 * light * 255).astype(np.uint8))
    pen = ImageDraw.Draw(paper)
    centre, size = (width * 0.6, height * 0.45), height * 0.18
    pen.arc([centre[0] - size, centre[1] - 2 * size, centre[0] + size, centre[1]], 200, 90, fill=25, width=60)
    pen.arc([centre[0] - size, centre[1], centre[0] + size, centre[1] + 2 * size], 270, 160, fill=25, width=60)
    paper = paper.filter(ImageFilter.GaussianBlur(3))
    noisy = np.asarray(paper, np.float32) + np.random.default_rng(0).normal(0, 4, (height, width))
    buffer = io.BytesIO()
    Image.fromarray(noisy.clip(0, 255).astype(np.uint8)).convert("RGB").save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def photos(report: Report, quick: bool) -> None:
    from core.inputs.imaging import preprocess_upload

    data = phone_photo(*((1008, 756) if quick else (4032, 3024)))
    preprocess_upload(data)  # warm: imports
    times = []
    for _ in range(3 if quick else 10):
        start = time.perf_counter()
        preprocess_upload(data)
        times.append(time.perf_counter() - start)
    pixels = "a 1 MP" if quick else "a 12-megapixel (4032x3024)"
    report.add(
        SECTION,
        f"prepare {pixels} JPEG photo of a digit lit from one side ({len(data) / 1e6:.1f} MB)",
        f"{np.median(times) * 1000:.0f} ms median, {max(times) * 1000:.0f} ms slowest",
        "well under 1 s",
        max(times) < 0.5 if not quick else None,
    )
    folder = ROOT / "test-output"
    folder.mkdir(exist_ok=True)
    path, small = folder / "benchmark-photo.jpg", folder / "benchmark-photo-small.jpg"
    path.write_bytes(data)
    small.write_bytes(phone_photo(400, 300))
    # warmed on a small photo (the imports, scipy's included), so the big one's memory is not already held
    extra = peak_extra_memory(
        "from core.inputs.imaging import preprocess_upload",
        f"preprocess_upload(open({str(small)!r}, 'rb').read())",
        f"data = open({str(path)!r}, 'rb').read(); preprocess_upload(data)",
    )
    report.add(
        SECTION,
        "its extra peak memory (a fresh process, warmed on a small photo)",
        f"{extra:.0f} MB",
        "< 100 MB",
        extra < 100 if not quick else None,
    )
    read_right(report, quick)


def read_right(report: Report, quick: bool) -> None:
    """Test digits the model reads right as scanned, photographed under each kind of light: the share read the same."""
    from core.inputs.data import load_dataset
    from core.inputs.imaging import preprocess_upload
    from tests.photos import KINDS, photograph

    model = default_model()
    data = load_dataset("mnist-5k")
    right = np.flatnonzero(model.predict(data.x_test) == data.y_test)
    chosen = np.random.default_rng(20261206).choice(right, 2 if quick else PER_KIND, replace=False)
    shares, started = {}, time.perf_counter()
    for kind in KINDS:
        rng = np.random.default_rng(KINDS.index(kind) + 11)
        read = [int(model.predict(preprocess_upload(photograph(data.x_test[i], kind, rng)))) for i in chosen]
        shares[kind] = float(np.mean(np.array(read) == data.y_test[chosen]))
    took = time.perf_counter() - started
    worst = min(shares, key=shares.get)
    report.add(
        SECTION,
        f"photos of {len(chosen)} test digits per kind of light ({len(KINDS)} kinds), read as the scanned digit: "
        f"each kind (the worst); made and read in",
        ", ".join(f"{kind} {share:.1%}" for kind, share in shares.items()) + f" ({worst}); {took:.0f} s",
        "each kind ≥ 90%",
        shares[worst] >= 0.9 if not quick else None,
    )
