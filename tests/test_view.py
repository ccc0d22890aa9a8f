"""The view as a pure value: links read and written, the reset rules, refusals as notices (no Streamlit here)."""

import random
import string

import pytest

from core.inputs.settings import BOUNDS, L1_STEPS
from dashboard.view import (
    DEFENSES,
    INPUTS,
    LINK_FIELDS,
    PAGE_FIELDS,
    RESETS,
    SHOWS,
    URL_PARSERS,
    View,
    ViewRefused,
    inert,
    snap_eps,
)


def random_view(rng: random.Random) -> View:
    """Any view a link can make: every link field drawn at random (the rest at their defaults)."""
    source, target = rng.sample(range(10), 2)
    eps = rng.choice([None, 0.0, 1.0, round(rng.random(), 3), rng.random()])
    return View(
        source=source,
        target=target,
        clip=rng.random() < 0.5,
        image=rng.choice([0, rng.randrange(10**9)]),
        eps=eps,
        input=rng.choice(list(INPUTS)),
        show=rng.choice(list(SHOWS)),
        defense=rng.choice(list(DEFENSES)),
        adversarial_eps=rng.randint(1, 30) / 100,
        l1=rng.choice(L1_STEPS),
    )


def test_a_link_with_nothing_in_it_is_the_first_visit():
    assert View.from_query({}) == (View.first_visit(), [])
    assert View.first_visit().to_query("attack") == {"source": "2", "target": "6", "clip": "1", "image": "0"}


def test_every_view_a_link_can_make_comes_back_from_its_link():
    rng = random.Random(20261129)
    for _ in range(2000):
        view = random_view(rng)
        query = view.to_query()
        back, notices = View.from_query(query)
        assert notices == [], (view, query)
        assert back.link_fields() == view.link_fields(), query
        assert all(isinstance(value, str) for value in query.values())


@pytest.mark.parametrize("page", list(PAGE_FIELDS))
def test_a_page_link_keeps_what_the_page_shows_and_the_model(page):
    rng = random.Random(page)
    for _ in range(300):
        view = random_view(rng)
        back, notices = View.from_query(view.to_query(page))
        assert not notices
        for field in PAGE_FIELDS[page]:
            assert getattr(back, field) == getattr(view, field), (page, field)
        assert back.training == view.training  # the defense and its strength travel on every page
        if view.eps is None:
            assert "eps" not in view.to_query(page)


def garbage(rng: random.Random) -> str:
    alphabet = string.printable + "ε→\u202e\x00\x1b`*[]()!<>é漢🙂"
    return "".join(rng.choice(alphabet) for _ in range(rng.choice([0, 1, 3, 12, 60, 5000])))


def test_any_text_in_a_link_gives_a_valid_view_and_short_inert_notices():
    rng = random.Random(7)
    for _ in range(1500):
        keys = rng.sample(list(URL_PARSERS), rng.randint(1, len(URL_PARSERS)))
        query = {key: garbage(rng) for key in keys}
        view, notices = View.from_query(query)
        assert view.source != view.target and 0 <= view.source <= 9 and 0 <= view.target <= 9
        assert view.input in INPUTS and view.show in SHOWS and view.defense in DEFENSES
        assert view.eps is None or 0.0 <= view.eps <= 1.0
        assert view.with_() == view  # every field is one the view can take
        for message in notices:
            assert len(message) < 240 and "\n" not in message
            spans = message.split("`")
            assert len(spans) % 2 == 1 and all(len(inside) <= 40 for inside in spans[1::2])


HOSTILE = {
    "phishing": ("eps", "**Session expired.** [Log in again](https://evil.example/login) ![](http://127.0.0.1/t.png)"),
    "heading": ("source", "x\n===\n"),
    "bare address": ("source", "www.evil.co"),
    "backticks": ("target", "`x` [a](b)"),
    "huge": ("eps", "9" * 100_000),
}


@pytest.mark.parametrize("key, value", list(HOSTILE.values()), ids=list(HOSTILE))
def test_link_values_are_quoted_as_inert_short_text(key, value):
    view, notices = View.from_query({key: value})
    assert view == View.first_visit() and len(notices) == 1
    text = notices[0]
    assert len(text) < 200 and "\n" not in text
    spans = text.split("`")
    assert len(spans) % 2 == 1  # every backtick opens or closes a code span: nothing leaks out of one
    outside = "".join(spans[0::2])
    for active in ("](", "![", "**", "www.", "http", "==="):
        assert active not in outside, (active, text)


@pytest.mark.parametrize("key", ["image", "eps", "adversarial_eps"])
def test_link_values_of_any_length_get_a_notice_in_our_own_words(key):
    _, notices = View.from_query({key: "7" * 5000})
    assert len(notices) == 1 and f"The link's {key}=" in notices[0] and "far too" in notices[0]
    assert "int_max_str_digits" not in notices[0] and "7" * 50 not in notices[0]


def test_notices_name_the_value_the_reason_and_what_is_used_instead():
    _, notices = View.from_query(
        {
            "eps": "abc",
            "target": "12",
            "clip": "maybe",
            "input": "<script>",
            "defense": "armour",
            "adversarial_eps": "2",
            "show": "all",
        }
    )
    said = " ".join(notices)
    for fragment in (
        "eps=`abc` is not a number; using the image's exact minimal epsilon",
        "target=`12` is not a digit",
        "clip=`maybe` is not on or off (1 or 0); using on",
        "input=`<script>` is not one of test, upload, draw; using test",
        "defense=`armour` is not one of none, adversarial, l1; using none",
        "adversarial_eps=`2` is outside [0.01, 0.3]",
        "show=`all` is not one of median, share",
    ):
        assert fragment in said
    assert "could not convert" not in said and "using True" not in said


def test_an_epsilon_outside_its_range_is_clamped_with_a_notice():
    for sent, used in (("7.5", 1.0), ("1.0000001", 1.0), ("-0.2", 0.0)):
        view, notices = View.from_query({"eps": sent})
        assert view.eps == used and notices == [f"The link's eps=`{sent}` is outside [0, 1]; using {used:g}."]


@pytest.mark.parametrize("key, sent, snapped", [("adversarial_eps", "0.1234", 0.12), ("l1", "0.0013", 0.001)])
def test_a_defense_strength_snaps_to_its_steps_with_a_notice(key, sent, snapped):
    defense = "adversarial" if key == "adversarial_eps" else "l1"
    view, notices = View.from_query({"defense": defense, key: sent})
    assert getattr(view, key) == snapped and getattr(view.training, key) == snapped
    assert notices == [
        f"The link's {key}=`{sent}` is rounded to {snapped:g}: the defenses train at a few fixed strengths."
    ]
    assert view.to_query("training")[key] == f"{snapped:g}"


def test_a_link_whose_source_is_its_target_gets_another_target():
    view, notices = View.from_query({"source": "6", "target": "6"})
    assert (view.source, view.target) == (6, 2) and "both 6" in notices[0]
    view, _ = View.from_query({"source": "4", "target": "4"})
    assert (view.source, view.target) == (4, 6)


def test_a_change_resets_what_depends_on_it():
    view = View(image=7, eps=0.3)
    for field, value in {
        "source": 3,
        "target": 8,
        "image": 2,
        "clip": False,
        "input": "draw",
        "dataset": "mnist",
        "defense": "l1",
        "adversarial_eps": 0.2,
        "l1": 0.002,
    }.items():
        changed = view.with_(**{field: value})
        assert getattr(changed, field) == value
        for reset in RESETS[field]:
            assert getattr(changed, reset) == getattr(View(), reset), (field, reset)
    assert view.with_(eps=0.5) == View(image=7, eps=0.5)  # epsilon resets nothing
    assert view.with_(source=view.source) == view  # no change, no reset
    assert view.with_(source=4, eps=0.25).eps == 0.25  # a value set with the change is kept
    assert view.with_(image=99, eps=view.eps).eps == 0.3


def test_source_and_target_stay_different():
    view = View()
    with pytest.raises(ViewRefused, match=r"The target must differ from the source \(2\); the target stays 6"):
        view.with_(target=2)
    with pytest.raises(ViewRefused, match=r"The source must differ from the target \(6\); the source stays 2"):
        view.with_(source=6)
    assert (view.with_(source=6, target=2).source, view.with_(source=6, target=2).target) == (6, 2)  # a swap


def test_a_change_is_put_in_range_as_the_widgets_would():
    view = View()
    assert view.with_(epochs=100_000).epochs == BOUNDS["epochs"][1]
    assert view.with_(learning_rate=0.0).learning_rate == BOUNDS["learning_rate"][0]
    assert view.with_(adversarial_eps=0.1234).adversarial_eps == 0.12
    assert view.with_(l1=0.0013).l1 == 0.001
    assert view.with_(eps=3.0).eps == 1.0
    for bad in ({"source": 12}, {"input": "<script>"}, {"image": -1}, {"epochs": float("nan")}, {"colour": "red"}):
        with pytest.raises(ViewRefused):
            view.with_(**bad)


def test_the_model_a_view_asks_for():
    assert View().training == View.first_visit().training
    defended = View(solver="lbfgs", defense="adversarial", adversarial_eps=0.2, l1=0.005)
    assert defended.training.solver == "sgd" and defended.training.adversarial_eps == 0.2 and defended.training.l1 == 0
    assert View(defense="none", adversarial_eps=0.2).training.adversarial_eps == 0.0  # a strength alone is no defense
    assert View(clip=False).clip_range is None and View().clip_range == (0.0, 1.0)


def test_every_link_field_has_a_parser_and_a_page():
    assert set(URL_PARSERS) == set(LINK_FIELDS)
    shown = {field for fields in PAGE_FIELDS.values() for field in fields}
    assert shown | {"defense", "adversarial_eps", "l1"} == set(LINK_FIELDS)


def test_inert_text_is_one_short_code_span():
    assert inert("a`b\nc") == "`a'b c`"
    assert inert("") == "`(empty)`"
    assert inert("x" * 100) == "`" + "x" * 39 + "…`"


def test_the_slider_starts_at_the_first_stop_past_the_minimal_epsilon():
    assert snap_eps(0.1234) == 0.124 and snap_eps(0.124) == 0.125 and snap_eps(float("inf")) == 1.0
    assert snap_eps(0.9999) == 1.0 and snap_eps(0.0) == 0.001


def test_a_link_that_gives_a_field_twice_says_which_value_it_used():
    view, notices = View.from_query({"hidden": ["16", "256"], "source": "3"})
    assert view.hidden == 256 and view.source == 3
    assert notices == ["The link gives hidden more than once (`16`, `256`); using the last, `256`."]
    view, notices = View.from_query({"eps": ["0.1", "junk"]})  # the last is used, and checked as any value
    assert view.eps is None and len(notices) == 2 and "junk" in notices[1]


def test_every_field_is_one_entry_of_the_table():
    """Parsing, checking, links and resets all come from each field's spec: nothing else lists the fields."""
    from dataclasses import fields

    from dashboard.view import SPECS

    assert set(SPECS) == {each.name for each in fields(View)}
    assert set(URL_PARSERS) == {name for name, each in SPECS.items() if each.parse is not None}
    assert RESETS == {name: each.resets for name, each in SPECS.items() if each.resets}
    for page, names in PAGE_FIELDS.items():
        assert set(names) == {name for name, each in SPECS.items() if page in each.pages}
    for name in set(SPECS) - {"clip"}:  # every field but the on/off one refuses a value of the wrong kind
        with pytest.raises(ViewRefused):
            View().with_(**{name: object()})


def test_the_bounds_are_the_training_settings_own():
    from core.inputs.settings import ADVERSARIAL_EPS_STEP, HIDDEN_SIZES
    from dashboard.view import NETWORK_SIZES, STRENGTH_BOUNDS

    assert STRENGTH_BOUNDS["adversarial_eps"] == (ADVERSARIAL_EPS_STEP, BOUNDS["adversarial_eps"][1])
    assert STRENGTH_BOUNDS["l1"] == (L1_STEPS[0], BOUNDS["l1"][1])
    assert set(NETWORK_SIZES) == set(HIDDEN_SIZES) - {0}
    for size in NETWORK_SIZES:  # every size the view offers can be trained
        assert View(hidden=size).network.hidden == size
