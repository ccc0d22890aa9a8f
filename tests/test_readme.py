"""The README stays true: its example links show what they promise, the screenshots it names exist."""

import re
from pathlib import Path
from urllib.parse import parse_qsl

import pytest

from core.inputs.data import load_dataset
from core.jobs import shipped
from dashboard.view import View

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
LINKS = re.findall(r"`/([a-z]+)\?([^`\s]+)`", README)


def test_the_readme_has_example_links():
    assert len(LINKS) >= 3


@pytest.mark.parametrize(("page", "query"), LINKS, ids=[f"{p}?{q}" for p, q in LINKS])
def test_every_example_link_shows_an_image_read_as_its_source_digit(page, query):
    """A link that promises to turn a 7 into a 1 must show a 7 the model reads as 7 (not one it already calls 1)."""
    view, notices = View.from_query(dict(parse_qsl(query)))
    assert not notices, notices
    if view.input != "test" or page not in ("attack", "epsilon", "lab"):
        return
    dataset = load_dataset(view.dataset)
    pixels = dataset.x_test[dataset.test_indices(view.source)[view.image]]
    model = shipped.train(view.training).model
    assert int(model.predict(pixels)) == view.source


def test_every_screenshot_the_readme_names_exists():
    named = re.findall(r"\((docs/[\w-]+\.png)\)", README)
    assert len(named) >= 8
    for path in named:
        assert (ROOT / path).is_file(), path


def test_the_pages_table_follows_the_sidebars_order():
    import ast

    tree = ast.parse((ROOT / "streamlit_app.py").read_text())
    pages = next(node.value for node in tree.body if isinstance(node, ast.Assign) and node.targets[0].id == "PAGES")
    titles = [entry.elts[1].value for entry in pages.values]
    assert re.findall(r"^\| \*\*(.+?)\*\* \|", README, flags=re.MULTILINE) == titles
