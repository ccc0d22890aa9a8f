"""What the pages say about the image they attack: the pair in headings, a start with nothing to attack, the
chart's dashed rule; pure sentences first, then the pages themselves (AppTest)."""

import math
import time

from core.inputs.data import load_dataset
from dashboard import wording
from tests.apptest import assert_clean, digit_png, own_cache, settled, start  # noqa: F401


def test_the_pair_names_your_digit_as_the_model_reads_it():
    assert wording.pair(2, 6, 2, own=False) == "2 → 6"
    assert wording.pair(5, 6, 7, own=True) == "your 7 → 6"  # the sidebar's source does not matter


def test_a_start_with_nothing_to_attack_or_from_a_mistake_is_said_plainly():
    assert wording.starting_point(2, 6, 2, 0.9, own=False) is None
    assert wording.starting_point(5, 6, 7, 0.9, own=True) is None  # your 7 is yours, whatever the source
    already = wording.starting_point(7, 1, 1, 0.78, own=False)
    assert "already reads this 7 as 1 (78%)" in already and "nothing to attack" in already
    mistake = wording.starting_point(7, 1, 2, 0.4, own=False)
    assert "reads this 7 as 2 (40%), not as 7" in mistake


def test_the_dashed_rule_is_described_as_what_it_marks():
    assert "overtakes the rest at the dashed rule" in wording.crossing(6, 0.18, clip=True)
    assert "already on top at ε = 0" in wording.crossing(1, 0.0, clip=False)
    assert "never overtakes" in wording.crossing(6, math.inf, clip=True)


def test_your_own_digit_is_named_in_every_heading():
    """Upload a 7 with the sidebar's source at 2, then set the source to 5: every page speaks of your 7."""
    app = start({"input": "upload"})
    app.get("file_uploader")[0].upload("seven.png", digit_png(load_dataset("mnist-5k"), 0, 7), "image/png").run()
    assert app.title[0].value == "Turn your 7 into a 6"
    app.sidebar.selectbox[0].set_value(5).run()
    for page, heading in [
        ("app_pages/epsilon.py", "Class scores against epsilon: your 7 → 6"),
        ("app_pages/lab.py", "Attack lab: your 7 → 6, at its best and its worst"),
    ]:
        app.switch_page(page).run()
        assert_clean(app)
        assert app.title[0].value == heading


def test_an_image_already_read_as_the_target_says_so_on_every_page():
    """Test image #4 of digit 7 is read as a 1 by the model: nothing to attack toward 1, and the pages say it."""
    app = start({"source": "7", "target": "1", "image": "4", "clip": "0"})
    for page in ("app_pages/attack.py", "app_pages/epsilon.py", "app_pages/lab.py"):
        app.switch_page(page).run()
        assert_clean(app)
        assert any("already reads this 7 as 1" in i.value for i in app.info), page
    app.switch_page("app_pages/epsilon.py").run()
    assert any("already on top at ε = 0" in c.value for c in app.caption)
    assert not any("overtakes the rest at the dashed rule" in c.value for c in app.caption)


def test_a_class_is_said_with_its_article():
    assert [wording.article(d) for d in (2, 8, "Ankle boot (9)", "T-shirt/top (0)")] == [
        "a 2",
        "an 8",
        "an Ankle boot (9)",
        "a T-shirt/top (0)",
    ]


def test_the_pages_say_an_8_and_notices_are_sentences():
    app = start({"target": "8"})
    assert app.title[0].value == "Turn a 2 into an 8"
    app.switch_page("app_pages/lesson.py").run()
    assert app.header[0].value == "1. A 2 becomes an 8, and still looks like a 2"
    app.switch_page("app_pages/attack.py").run()
    image = next(w for w in app.number_input if w.key.startswith("_widget_image"))
    image.set_value(-3).run()
    assert_clean(app)
    said = [w.value for w in app.warning]
    assert said and all(s[0].isupper() and s.endswith(".") for s in said), said
    assert any(s.startswith("The image must be a whole number") for s in said), said
    image = next(w for w in app.number_input if w.key.startswith("_widget_image"))
    image.set_value(2.5).run()  # not whole: refused with a notice, not rounded in silence
    assert "The image must be a whole number 0 or above." in [w.value for w in app.warning]
    assert app.query_params["image"] == "0"


def test_the_grid_of_ten_says_it_is_not_your_digit():
    app = start({"input": "upload"})
    app.get("file_uploader")[0].upload("seven.png", digit_png(load_dataset("mnist-5k"), 0, 7), "image/png").run()
    assert_clean(app)
    assert "The original experiment: the first ten test images of digit 2" in [h.value for h in app.subheader]
    assert any(c.value.startswith("Not your digit: the test set's 2s") for c in app.caption)
    app = start()
    assert "The first ten, as in the original experiment" in [h.value for h in app.subheader]


def test_no_caption_speaks_of_left_and_right():
    """A phone stacks the pairs of charts: a caption under each chart says what it shows."""
    app = start()
    for page in ("app_pages/lab.py", "app_pages/network.py"):
        settled(app.switch_page(page).run())
        assert_clean(app)
        assert not [c.value for c in app.caption if c.value.startswith(("Left:", "Right:"))], page


def test_slow_work_says_so_where_the_visitor_looks():
    """The network's best attack (the verifier, up to seconds): its table cell and a box under the table say it is
    on its way and how long it may take; then they give way to the answer."""
    app = start({"page": "network", "image": "37"})  # an image no other test asks about: nothing solved yet
    assert_clean(app)
    table = app.dataframe[0].value
    assert table.loc["best attack ε"].iloc[1] == "solving… (up to 20 s)"
    assert any(i.value.startswith("Solving the network's best attack") for i in app.info)
    deadline = time.monotonic() + 60
    while any(i.value.startswith("Solving the network's best attack") for i in app.info):
        assert time.monotonic() < deadline
        time.sleep(0.5)
        app.run()
    assert not app.dataframe[0].value.loc["best attack ε"].iloc[1].startswith("solving")


def test_a_change_and_a_step_that_never_comes_are_said_in_words():
    assert wording.grey_levels(0.181) == "46 of 255 grey levels"
    assert [wording.haze(e) for e in (0.05, 0.18, 0.5)] == [
        "a faint haze, hard to see",
        "a grey haze you can see if you look for it",
        "a heavy grey veil, plain to see",
    ]
    assert wording.turns(0.141, 0, 8) == "turns test image #0 into an 8 at ε = 0.141"
    assert wording.turns(math.inf, 0, 1) == "never turns test image #0 into a 1 (up to ε = 1)"
    assert (wording.does(0.177), wording.does(math.inf)) == ("does at ε = 0.177", "never does")
