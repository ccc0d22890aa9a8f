"""Every page with clipping off and with every kind of input, and the drawing pad's callback with hostile values."""

import base64
import io

import numpy as np
import pytest
from PIL import Image, ImageDraw
from streamlit.testing.v1 import AppTest

from core.inputs.data import load_dataset
from tests.apptest import PAGES, assert_clean, digit_png, own_cache, start, widget  # noqa: F401
from tests.test_imaging import png_header


def drawn_one() -> np.ndarray:
    from core.inputs.imaging import preprocess_drawing

    canvas = Image.new("RGBA", (280, 280), (0, 0, 0, 255))
    ImageDraw.Draw(canvas).line([(140, 40), (140, 240)], fill=(255, 255, 255, 255), width=18)
    return preprocess_drawing(np.asarray(canvas))


@pytest.mark.parametrize("kind", ["test", "upload", "draw"])
def test_every_page_runs_with_clipping_off_on_every_input(kind):
    """Unclipped attacks leave [0, 1] by design: no page may feed them to a check meant for visitors' input."""
    app = start({"page": "attack", "clip": "0", "input": kind, "eps": "0.3"})
    if kind == "upload":
        app.get("file_uploader")[0].upload("two.png", digit_png(load_dataset("mnist-5k")), "image/png").run()
    elif kind == "draw":
        app.session_state["drawing"] = drawn_one()  # what the pad's callback keeps
        app.run()
    assert_clean(app)
    for page in PAGES:
        app.switch_page(page).run()
        assert_clean(app)
        assert app.title, page
        assert app.query_params.get("clip") == "0", page
    if kind != "test":  # the lab attacked the visitor's own digit, unclipped
        app.switch_page("app_pages/lab.py").run()
        assert any("make your digit" in m.value for m in app.markdown)


PAD_SCRIPT = """
import streamlit as st
from dashboard.drawing_pad import _received
from dashboard.state import WidgetKey, current

current()
st.session_state[WidgetKey.PAD] = {"drawing": SENT}
_received()
st.write(st.session_state.get("drawing_error") or "no error")
"""


def data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def stroke_png() -> bytes:
    canvas = Image.new("RGBA", (280, 280), (0, 0, 0, 255))
    ImageDraw.Draw(canvas).line([(140, 40), (140, 240)], fill=(255, 255, 255, 255), width=18)
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    "sent, refused",
    [
        ({"id": "abc123", "picture": data_url(png_header(100_000, 100_000))}, "could not be read"),  # a bomb
        ({"id": "abc123", "picture": "data:image/png;base64," + "A" * 24_000_000}, "larger than"),  # huge
        ({"id": "abc123", "picture": "data:image/gif;base64,R0lGODlhAQABAAAAACw="}, "did not arrive as a PNG"),
        ({"id": "abc123", "picture": 12}, "did not arrive as a PNG"),
        ("not an object", None),
        ({"id": "<script>" * 10, "picture": None}, None),
    ],
    ids=["bomb", "huge", "not-png", "not-text", "not-an-object", "cleared"],
)
def test_the_pad_refuses_hostile_values_and_keeps_nothing_large(sent, refused):
    app = AppTest.from_string(PAD_SCRIPT.replace("SENT", repr(sent)), default_timeout=60).run()
    assert not app.exception, [e.value for e in app.exception]
    said = app.markdown[0].value
    assert (refused in said) if refused else said == "no error"
    kept = {key: app.session_state[key] for key in ("drawing", "drawing_id") if key in app.session_state}
    assert kept == {"drawing": None, "drawing_id": None}  # no raw value, no id of a refused drawing


def test_the_pad_keeps_the_prepared_digit_and_a_short_id_only():
    sent = {"id": "lq3k9x2abc", "picture": data_url(stroke_png())}
    app = AppTest.from_string(PAD_SCRIPT.replace("SENT", repr(sent)), default_timeout=60).run()
    assert app.markdown[0].value == "no error"
    drawing = app.session_state["drawing"]
    assert drawing.shape == (784,) and not drawing.flags.writeable
    np.testing.assert_array_equal(drawing, drawn_one())
    assert app.session_state["drawing_id"] == "lq3k9x2abc"
    assert "drawing_url" not in app.session_state
