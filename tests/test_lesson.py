"""The lesson (AppTest): six steps, each with its idea, a live picture or chart, a question with its answer behind
a click, Back and Next, and a link to the full page on the same view; ``?step=`` in a link, checked."""

import re

import numpy as np
import pytest

from core.inputs.settings import TrainingSettings
from tests.apptest import assert_clean, image_captions, own_cache, start, widget  # noqa: F401

PICTURE = {1: "direction", 2: "Template of 6", 6: "Original"}  # a caption of the step's picture (else a chart)
FULL_PAGE = {1: "attack", 2: "training", 3: "epsilon", 4: "pairs", 5: "lab", 6: "network"}


def lesson(step) -> object:
    app = start({"page": "lesson", "step": str(step)})
    assert_clean(app)
    return app


def texts(app) -> str:
    return "\n".join(m.value for m in app.markdown)


def links(app) -> list[str]:
    return [link.proto.page for link in app.get("page_link")]


@pytest.mark.parametrize("step", range(1, 7))
def test_every_step_states_its_idea_shows_it_asks_and_links_to_its_full_page(step):
    app = lesson(step)
    assert app.header[0].value.startswith(f"{step}.")
    assert app.query_params["step"] == str(step) and app.query_params["source"] == "2"
    assert "Question for the class" in texts(app)
    assert [e.label for e in app.main.expander] == ["Show the answer"]
    assert FULL_PAGE[step] in links(app), links(app)
    if step in PICTURE:
        assert PICTURE[step] in image_captions(app), image_captions(app)
    else:
        assert len(app.get("vega_lite_chart")) == 1
    back, next_ = (next(b for b in app.button if b.label.startswith(word)) for word in ("Back", "Next"))
    assert back.disabled == (step == 1) and next_.disabled == (step == 6)


@pytest.mark.parametrize("text", ["0", "7", "-1", "two", "1.5", "9" * 40])
def test_a_step_that_is_not_one_opens_step_one_with_a_notice(text):
    app = lesson(text)
    assert app.header[0].value.startswith("1.")
    assert any("is not a step of the lesson (1 to 6)" in w.value for w in app.warning)
    assert app.query_params["step"] == "1"


def test_next_and_back_move_through_the_steps_and_the_link_follows():
    app = lesson(1)
    next(b for b in app.button if b.label.startswith("Next")).click().run()
    assert app.header[0].value.startswith("2.") and app.query_params["step"] == "2"
    next(b for b in app.button if b.label.startswith("Back")).click().run()
    assert app.header[0].value.startswith("1.") and app.query_params["step"] == "1"


def test_the_pair_is_picked_on_the_page_itself_and_carried_to_the_full_page():
    app = lesson(3)
    widget(app, "selectbox", "_widget_source_lesson").set_value(7).run()
    assert_clean(app)
    assert app.query_params["source"] == "7" and app.query_params["step"] == "3"
    assert "test images of digit 7" in texts(app)
    link = next(link for link in app.get("page_link") if link.proto.page == "epsilon")
    assert "source=7" in link.proto.query_string


def test_the_steps_numbers_are_the_models_own(dataset, minimal_twos):
    """The sentences quote what independent computations give: the median minimal ε (core's exact attack on the
    test 2s) and how far ε moves the gap between 6 and 2 (the L1 norm of the templates' difference)."""
    from core.jobs import shipped
    from core.model import load_training

    median = float(np.median(minimal_twos))
    assert f"by ε = **{median:.3f}**" in texts(lesson(3))
    W = load_training(shipped.shipped_path(TrainingSettings())).model.W
    assert f"ε × {np.abs(W[6] - W[2]).sum():.1f}" in texts(lesson(2))


@pytest.mark.parametrize("step", range(1, 7))
def test_a_pair_most_images_never_reach_is_said_in_words(step):
    """7 → 1: more than half the 7s never become a 1, the first test 7 neither by the sign step: every step says so
    in words (no "inf", "nan" or a number where there is none)."""
    app = start({"page": "lesson", "step": str(step), "source": "7", "target": "1"})
    assert_clean(app)
    said = texts(app) + "\n".join(e.markdown[0].value for e in app.main.expander if e.markdown)
    assert not re.search(r"\binf\b|\bnan\b|\bNone\b(?! of)", said), said


def test_the_row_of_steps_goes_to_any_step():
    app = lesson(2)
    next(w for w in app.get("button_group") if w.key == "_widget_step").set_value(4).run()
    assert_clean(app)
    assert app.header[0].value.startswith("4.") and app.query_params["step"] == "4"
