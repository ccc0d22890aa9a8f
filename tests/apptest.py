"""Helpers for driving the dashboard through Streamlit's AppTest (imported by the test_app* files)."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.inputs import data
from core.inputs.cache import HOME_VARIABLE


def _scan_installed_components_once() -> None:
    """Every AppTest starts a Streamlit runtime, and every runtime reads the metadata of every installed package
    looking for components (about 0.2 s each time). The packages do not change during a test run: read them once."""
    import functools

    from streamlit.components.v2 import manifest_scanner

    if not hasattr(manifest_scanner.scan_component_manifests, "cache_info"):
        manifest_scanner.scan_component_manifests = functools.cache(manifest_scanner.scan_component_manifests)


_scan_installed_components_once()
APP = str(Path(__file__).resolve().parents[1] / "streamlit_app.py")
PAGES = [
    "app_pages/lesson.py",
    "app_pages/training.py",
    "app_pages/attack.py",
    "app_pages/epsilon.py",
    "app_pages/pairs.py",
    "app_pages/lab.py",
    "app_pages/defenses.py",
    "app_pages/network.py",
]


@pytest.fixture(autouse=True)
def own_cache(tmp_path_factory, monkeypatch):
    """Models are saved under a cache folder the test owns; full MNIST is unreachable."""
    monkeypatch.setenv(HOME_VARIABLE, str(tmp_path_factory.getbasetemp() / "app-home"))
    monkeypatch.setattr(data, "OPENML_HOST", ("127.0.0.1", 9))


def start(query: dict | None = None) -> AppTest:
    app = AppTest.from_file(APP, default_timeout=120)
    app.query_params.update(query or {})
    return app.run()


def assert_clean(app: AppTest) -> None:
    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [e.value for e in app.error]


def metric(app: AppTest, label: str) -> str:
    return next(m.value for m in app.metric if m.label == label)


def widget(app: AppTest, kind: str, prefix: str):
    return next(w for w in getattr(app, kind) if w.key and w.key.startswith(prefix))


def digit_png(dataset, position: int = 0, digit: int = 2) -> bytes:
    """A real test-set digit (a 2 unless asked), drawn dark on light and enlarged, as a PNG file."""
    import io

    from PIL import Image

    from core.inputs.imaging import to_uint8

    picture = 255 - to_uint8(dataset.x_test[dataset.test_indices(digit)[position]])
    buffer = io.BytesIO()
    Image.fromarray(picture).resize((140, 140)).save(buffer, format="PNG")
    return buffer.getvalue()


def image_captions(app: AppTest) -> list[str]:
    """Every picture's caption on the page, in order (AppTest has no list of images of its own)."""

    def walk(node):
        children = getattr(node, "children", None)
        for child in children.values() if isinstance(children, dict) else children or []:
            if type(child).__name__ == "Image":
                yield from child.captions
            yield from walk(child)

    return [caption for caption in walk(app._tree) if caption]


FILLED_IN_LATER = "fill in here"  # the lab's placeholder while the whole digit's answers are on their way


def settled(app: AppTest, timeout: float = 120.0) -> AppTest:
    """Run ``app`` again until nothing on the page is still on its way (a browser's fragment does this by itself:
    AppTest does not run fragments on a timer)."""
    import time

    deadline = time.monotonic() + timeout
    while any(FILLED_IN_LATER in each.value for each in [*app.caption, *app.info]):
        assert time.monotonic() < deadline, "the page never filled in"
        time.sleep(0.2)
        app.run()
    return app
