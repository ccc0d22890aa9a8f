"""Uploads: real files of every kind made here, good and bad, through core.inputs.imaging.preprocess_upload."""

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from core.errors import ImageRejected
from core.inputs.imaging import (
    MAX_UPLOAD_BYTES,
    png_bytes,
    preprocess_drawing,
    preprocess_upload,
    read_drawing,
    to_uint8,
    upscale,
)

ROOT = Path(__file__).resolve().parents[1]


def save(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def paper(dataset):
    """A test-set 2 as a person would photograph it: dark ink on light paper, 6x larger, off-centre."""
    digit = to_uint8(dataset.x_test[dataset.test_indices(2)[0]])
    sheet = Image.new("L", (260, 220), 235)
    sheet.paste(Image.fromarray(255 - digit).resize((168, 168), Image.Resampling.BILINEAR), (70, 20))
    return sheet


def assert_mnist_like(x: np.ndarray) -> None:
    assert x.shape == (784,) and x.dtype == np.float32
    assert x.min() >= 0 and x.max() == pytest.approx(1.0)
    image = x.reshape(28, 28)
    rows, cols = np.nonzero(image > 0.1)
    assert rows.max() - rows.min() <= 21 and cols.max() - cols.min() <= 21  # fitted into 20x20
    mass = image.sum()
    centre = ((image.sum(1) * np.arange(28)).sum() / mass, (image.sum(0) * np.arange(28)).sum() / mass)
    assert abs(centre[0] - 13.5) < 1.0 and abs(centre[1] - 13.5) < 1.0
    assert image[0].max() == 0 and image[:, 0].max() == 0  # background stays black


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "BMP", "GIF", "WEBP", "TIFF"])
def test_a_photographed_digit_becomes_mnist_like_and_is_recognised(paper, model, dataset, fmt):
    x = preprocess_upload(save(paper.convert("RGB") if fmt == "JPEG" else paper, fmt))
    assert_mnist_like(x)
    original = dataset.x_test[dataset.test_indices(2)[0]]
    assert np.corrcoef(x, original)[0, 1] > 0.7
    assert model.predict(x) == 2


def test_white_ink_on_black_is_not_inverted(paper):
    inverted = Image.eval(paper, lambda v: 255 - v)
    np.testing.assert_allclose(
        preprocess_upload(save(inverted, "PNG")), preprocess_upload(save(paper, "PNG")), atol=0.02
    )


def test_animated_gif_uses_its_first_frame(paper):
    others = [Image.new("L", paper.size, shade) for shade in (235, 120)]
    animated = save(paper, "GIF", save_all=True, append_images=others, duration=100, loop=0)
    assert Image.open(io.BytesIO(animated)).n_frames == 3
    np.testing.assert_allclose(preprocess_upload(animated), preprocess_upload(save(paper, "GIF")), atol=1e-6)


def test_sixteen_bit_palette_cmyk_and_rgb(paper):
    reference = preprocess_upload(save(paper, "PNG"))
    sixteen = Image.fromarray(np.asarray(paper, dtype=np.uint16) * 257)
    assert sixteen.mode.startswith("I;16")
    palette = paper.convert("RGB").convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    cmyk = paper.convert("CMYK")
    for image, fmt in ((sixteen, "PNG"), (palette, "PNG"), (cmyk, "JPEG"), (paper.convert("RGB"), "PNG")):
        np.testing.assert_allclose(preprocess_upload(save(image, fmt)), reference, atol=0.06, err_msg=image.mode)


@pytest.mark.parametrize("ink", [0, 255])
def test_strokes_on_a_transparent_canvas(paper, ink):
    mask = Image.eval(paper, lambda v: 255 - v)  # opaque where the ink is
    canvas = Image.new("RGBA", paper.size, (0, 0, 0, 0))
    canvas.paste(Image.new("RGBA", paper.size, (ink, ink, ink, 255)), (0, 0), mask)
    x = preprocess_upload(save(canvas, "PNG"))
    assert_mnist_like(x)
    assert np.corrcoef(x, preprocess_upload(save(paper, "PNG")))[0, 1] > 0.95


def test_exif_rotated_photo_is_turned_upright(paper):
    sideways = paper.convert("RGB").rotate(90, expand=True)  # the camera stored it lying on its side
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    rotated = preprocess_upload(save(sideways, "JPEG", exif=exif, quality=95))
    upright = preprocess_upload(save(paper.convert("RGB"), "JPEG", quality=95))
    assert np.corrcoef(rotated, upright)[0, 1] > 0.95


def test_round_trip_of_a_downloaded_adversarial_png(dataset):
    x = dataset.x_test[5]
    again = preprocess_upload(png_bytes(to_uint8(x), 8))
    assert_mnist_like(again)
    assert np.corrcoef(again, x)[0, 1] > 0.8


# --- refusals: each with a message a person can act on ---------------------------------------------


def expect_refusal(data, message: str):
    with pytest.raises(ImageRejected, match=message) as error:
        preprocess_upload(data)
    assert isinstance(error.value, ValueError)
    return str(error.value)


def test_bytes_that_are_not_an_image():
    expect_refusal(b"%PDF-1.4 this is a document, not a picture", "not an image")
    expect_refusal(b"a string" * 10, "not an image")


def test_empty_file():
    expect_refusal(b"", "empty")


def test_truncated_file(paper):
    data = save(paper, "PNG")
    expect_refusal(data[: len(data) // 2], "truncated or corrupt")
    jpeg = save(paper.convert("RGB"), "JPEG")
    expect_refusal(jpeg[: len(jpeg) // 3], "truncated or corrupt")


@pytest.mark.parametrize("shade", [255, 0, 128])
def test_blank_images(shade):
    expect_refusal(save(Image.new("L", (100, 100), shade), "PNG"), "blank")


def test_decompression_bomb_is_refused_before_decoding():
    bomb = save(Image.new("1", (12000, 12000), 1), "PNG")  # a few kB that would decode to 144 megapixels
    assert len(bomb) < 100_000
    expect_refusal(bomb, "12000x12000 pixels")


def test_file_over_the_size_limit():
    expect_refusal(b"\x89PNG" + bytes(MAX_UPLOAD_BYTES), "at most")


def test_unsupported_format(paper):
    expect_refusal(save(paper.resize((64, 64)), "ICO"), "not supported")


def test_not_bytes():
    expect_refusal(np.zeros(784), "bytes")


def test_upscale_keeps_pixels_crisp():
    picture = np.zeros((28, 28), np.uint8)
    picture[3, 4] = 255
    big = np.asarray(upscale(picture, 8))
    assert big.shape == (224, 224)
    assert (big[24:32, 32:40] == 255).all() and big.sum() == 255 * 64


def _big_upload(mode: str, size=(4000, 3000)) -> bytes:
    """A picture of a dark digit-like stroke on white, as large as allowed, that compresses to a small file."""
    ink = np.full(size[::-1], 255, dtype=np.uint8)
    ink[1000:2000, 1900:2100] = 0
    gray = Image.fromarray(ink, mode="L")
    if mode == "RGBA":
        picture = gray.convert("RGBA")
    elif mode == "P":
        picture = gray.convert("P")
        picture.info["transparency"] = 255
    else:  # 16-bit grayscale
        picture = Image.fromarray(ink.astype("<u2") * 257)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", **({"transparency": 255} if mode == "P" else {}))
    return buffer.getvalue()


@pytest.mark.parametrize("mode", ["RGBA", "P", "I;16"])
def test_a_small_file_of_a_huge_image_costs_little_memory(mode, tmp_path):
    """A file under the upload cap may hold 12 megapixels: preparing it must cost <= 100 MB (was +1.4 GB)."""
    import subprocess
    import sys

    data = _big_upload(mode)
    assert len(data) < MAX_UPLOAD_BYTES
    (tmp_path / "upload.png").write_bytes(data)
    script = f"""
import resource, numpy as np
from core.inputs.imaging import preprocess_upload
data = open({str(tmp_path / "upload.png")!r}, "rb").read()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
pixels = preprocess_upload(data)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print((after - before) / 1024, int(np.argmax(pixels.reshape(28, 28).sum(axis=0))))
"""
    output = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT)
    extra_mb, brightest_column = output.stdout.split()
    print(f"{mode}: +{float(extra_mb):.0f} MB")
    assert float(extra_mb) <= 100, f"{mode}: +{extra_mb} MB"
    assert 11 <= int(brightest_column) <= 16  # the vertical stroke, centred as MNIST


def test_a_huge_image_is_refused_before_decoding():
    data = _big_upload("RGBA", size=(5000, 5000))  # 122 KB of file, 25 megapixels
    assert len(data) < MAX_UPLOAD_BYTES
    expect_refusal(data, "5000x5000 pixels; upload one of at most 12.5 megapixels")


def test_the_upload_cap_is_the_servers():
    """Streamlit counts 10^6 bytes per MB: the server's cap and core's are the same number of bytes."""
    import tomllib

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] * 1_000_000 == MAX_UPLOAD_BYTES
    message = expect_refusal(b"\x89PNG" + bytes(MAX_UPLOAD_BYTES), "at most")
    assert "2 MB (2,000,000 bytes)" in message


# --- drawings from the pad ---------------------------------------------------------------------------------


def pad_picture(dataset, digit: int = 2) -> np.ndarray:
    """A test-set digit as the pad would send it: 280x280 RGBA, white ink on an opaque black canvas."""
    ink = Image.fromarray(to_uint8(dataset.x_test[dataset.test_indices(digit)[0]])).resize((200, 200))
    canvas = Image.new("RGBA", (280, 280), (0, 0, 0, 255))
    canvas.paste(Image.merge("RGBA", (ink, ink, ink, Image.new("L", ink.size, 255))), (30, 50))
    return np.asarray(canvas)


def data_url(data: bytes) -> str:
    import base64

    return "data:image/png;base64," + base64.b64encode(data).decode()


def test_a_drawing_is_prepared_exactly_as_the_same_picture_uploaded(dataset, model):
    rgba = pad_picture(dataset)
    drawn = preprocess_drawing(rgba)
    np.testing.assert_array_equal(drawn, preprocess_upload(save(Image.fromarray(rgba), "PNG")))
    assert_mnist_like(drawn)
    assert model.predict(drawn) == 2


def test_a_straight_stroke_down_is_read_as_a_one(model):
    canvas = Image.new("RGBA", (280, 280), (0, 0, 0, 255))
    ImageDraw.Draw(canvas).line([(140, 40), (140, 240)], fill=(255, 255, 255, 255), width=18)
    assert model.predict(preprocess_drawing(np.asarray(canvas))) == 1


def test_the_pad_sends_a_png_data_url(dataset):
    rgba = pad_picture(dataset)
    np.testing.assert_array_equal(read_drawing(data_url(save(Image.fromarray(rgba), "PNG"))), rgba)


@pytest.mark.parametrize("colour", [(0, 0, 0, 255), (255, 255, 255, 255), (0, 0, 0, 0)])
def test_an_empty_pad_is_refused_with_a_hint(colour):
    with pytest.raises(ImageRejected, match="the pad is empty"):
        preprocess_drawing(np.asarray(Image.new("RGBA", (280, 280), colour)))


def png_header(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` x ``height`` pixels in a valid header, with a few bytes of data: a bomb's shape."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    pixels = chunk(b"IDAT", zlib.compress(bytes(64)))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + pixels + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    "sent, message",
    [
        ("javascript:alert(1)", "did not arrive as a PNG"),
        (None, "did not arrive as a PNG"),
        ("data:image/png;base64,@@@not base64@@@", "could not be read"),
        ("data:image/png;base64,", "could not be read"),
        (data_url(b"\x89PNG\r\n\x1a\n" + bytes(100)), "could not be read"),
        (data_url(save(Image.new("RGB", (4000, 10)), "PNG")), "not a picture the pad makes"),
        (data_url(save(Image.new("RGB", (28, 28)), "JPEG")), "not a picture the pad makes"),
        (data_url(png_header(100_000, 100_000)), "could not be read"),  # a decompression bomb: once a crash
        (data_url(png_header(1000, 1000)), "could not be read"),  # a header with no pixel data after it
        ("data:image/png;base64," + "A" * 3_000_000, "larger than"),
        ("data:image/png;base64," + "A" * 24_000_000, "larger than"),
    ],
)
def test_what_the_pad_did_not_send_is_refused(sent, message):
    with pytest.raises(ImageRejected, match=message):
        read_drawing(sent)


@pytest.mark.parametrize(
    "array", [np.zeros((280, 280, 3), np.uint8), np.zeros((280, 280, 4)), np.zeros((0, 5, 4), np.uint8)]
)
def test_a_drawing_must_be_an_rgba_picture(array):
    with pytest.raises(ImageRejected, match="RGBA"):
        preprocess_drawing(array)


def test_sixteen_big_uploads_at_once_are_decoded_two_at_a_time(monkeypatch):
    """A 12-megapixel PNG of a few KB decodes to 36 MB: sixteen at once must not mean sixteen decodes at once."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from core.inputs import imaging

    picture = Image.new("L", (4000, 3000), 255)
    ImageDraw.Draw(picture).line([(2000, 600), (2000, 2400)], fill=0, width=160)
    data = save(picture.convert("RGB"), "PNG")
    assert len(data) < 100_000
    inside, most, lock = [0], [0], threading.Lock()
    small = imaging._small

    def counted(image):
        with lock:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        try:
            return small(image)
        finally:
            with lock:
                inside[0] -= 1

    monkeypatch.setattr(imaging, "_small", counted)
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda _: preprocess_upload(data), range(16)))
    assert most[0] == imaging.DECODING_SLOTS == 2
    assert all(np.array_equal(result, results[0]) for result in results)


def test_a_big_lossless_webp_of_a_few_hundred_bytes_is_refused_from_its_header():
    """Pillow decodes WebP in full, several times over (183 MB for 12 MP): above 4 MP it is refused unread."""
    from benchmarks.floods import big_webp

    data = big_webp()
    assert len(data) < 5_000 and Image.open(io.BytesIO(data)).size == (4000, 3000)
    with pytest.raises(ImageRejected, match="WEBP image is 4000x3000 pixels; upload one of at most 4 megapixels"):
        preprocess_upload(data)
    small = Image.new("L", (1600, 1200), 255)
    ImageDraw.Draw(small).line([(800, 240), (800, 960)], fill=0, width=64)
    assert model_reads_a_one(preprocess_upload(save(small.convert("RGB"), "WEBP", lossless=True)))


def model_reads_a_one(pixels: np.ndarray) -> bool:
    """A vertical stroke prepared the MNIST way: ink in a narrow column at the centre."""
    columns = pixels.reshape(28, 28).sum(axis=0)
    return pixels.max() == 1.0 and columns.argmax() in range(12, 16) and columns[:8].sum() == 0
