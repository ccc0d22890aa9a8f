"""The dashboard driven through Streamlit's AppTest: every page, shared state, the URL, widgets, your own digit."""

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core.inputs.data import load_dataset
from tests.apptest import APP, PAGES, assert_clean, digit_png, metric, own_cache, settled, start, widget  # noqa: F401


def test_opens_on_the_attack_page_fooled_at_the_minimal_epsilon(minimal_twos):
    app = start()
    assert_clean(app)
    assert app.title[0].value == "Turn a 2 into a 6"
    eps_slider = widget(app, "slider", "_widget_eps")
    assert minimal_twos[0] < eps_slider.value <= minimal_twos[0] + 0.001 + 1e-9
    assert metric(app, "Model's answer") == "6"
    assert app.query_params["image"] == "0" and "page" not in app.query_params  # the page is the URL path


def test_moving_the_slider_past_the_minimal_epsilon_flips_the_prediction(minimal_twos):
    app = start()
    index = 3
    widget(app, "number_input", "_widget_image").set_value(index).run()
    below = round(minimal_twos[index] - 0.01, 3)
    widget(app, "slider", "_widget_eps").set_value(below).run()
    assert_clean(app)
    assert metric(app, "Model's answer") != "6"
    above = round(minimal_twos[index] + 0.002, 3)
    widget(app, "slider", "_widget_eps").set_value(above).run()
    assert metric(app, "Model's answer") == "6"
    assert app.query_params["eps"] == f"{above:g}"


def test_switching_pages_keeps_the_image_and_epsilon():
    app = start()
    widget(app, "number_input", "_widget_image").set_value(7).run()
    widget(app, "slider", "_widget_eps").set_value(0.321).run()
    app.switch_page("app_pages/epsilon.py").run()
    assert_clean(app)
    assert widget(app, "number_input", "_widget_image").value == 7
    assert widget(app, "slider", "_widget_eps").value == pytest.approx(0.321)
    app.switch_page("app_pages/training.py").run()
    app.switch_page("app_pages/attack.py").run()
    assert widget(app, "number_input", "_widget_image").value == 7
    assert widget(app, "slider", "_widget_eps").value == pytest.approx(0.321)


def test_snap_button_returns_to_the_minimal_epsilon(minimal_twos):
    app = start()
    widget(app, "slider", "_widget_eps").set_value(0.5).run()
    next(b for b in app.button if b.label == "Snap to minimal ε").click().run()
    assert widget(app, "slider", "_widget_eps").value == pytest.approx(np.ceil(minimal_twos[0] * 1000) / 1000)


def test_source_equal_to_target_is_refused_with_a_message():
    app = start()
    widget(app, "selectbox", "_widget_target").set_value(2).run()
    assert_clean(app)
    assert any("must differ" in w.value for w in app.warning)
    assert widget(app, "selectbox", "_widget_target").value == 6
    assert app.title[0].value == "Turn a 2 into a 6"


def test_changing_the_digits_changes_the_attack():
    app = start()
    widget(app, "selectbox", "_widget_source").set_value(3).run()
    widget(app, "selectbox", "_widget_target").set_value(8).run()
    assert_clean(app)
    assert app.title[0].value == "Turn a 3 into an 8"
    assert app.query_params["source"] == "3" and app.query_params["target"] == "8"


def test_garbage_in_the_url_gives_notices_not_a_crash():
    app = start({"eps": "abc", "image": "99999", "target": "12", "clip": "maybe", "page": "nowhere"})
    assert_clean(app)
    notices = " ".join(w.value for w in app.warning)
    for fragment in (
        "eps=`abc` is not a number",
        "target=`12` is not a digit",
        "clip=`maybe` is not on or off",
        "page=`nowhere`",
        "#`99999`",
    ):
        assert fragment in notices
    assert "could not convert" not in notices and "using True" not in notices
    assert widget(app, "number_input", "_widget_image").value == 99  # clamped to the last of 100
    assert metric(app, "Model's answer") == "6"


def test_a_shared_link_reproduces_the_view():
    app = start({"page": "epsilon", "source": "7", "target": "1", "image": "4", "eps": "0.25", "clip": "0"})
    assert_clean(app)
    assert app.title[0].value.startswith("Class scores against epsilon: 7 → 1")
    assert widget(app, "number_input", "_widget_image").value == 4
    assert widget(app, "slider", "_widget_eps").value == pytest.approx(0.25)
    assert widget(app, "toggle", "_widget_clip").value is False
    assert not app.warning


def test_offline_full_mnist_warns_and_falls_back():
    app = start()
    widget(app, "selectbox", "_widget_dataset").set_value("mnist").run()
    assert_clean(app)
    assert any("Full MNIST cannot be loaded" in w.value and "internet" in w.value for w in app.warning)
    assert widget(app, "selectbox", "_widget_dataset").value == "mnist-5k"
    assert metric(app, "Model's answer") == "6"


def test_training_settings_retrain_and_show_new_numbers():
    app = start()
    app.switch_page("app_pages/training.py").run()
    default_accuracy = metric(app, "Test accuracy")
    widget(app, "number_input", "_widget_epochs").set_value(2).run()
    assert_clean(app)
    assert metric(app, "Test accuracy") != default_accuracy
    assert len(app.get("vega_lite_chart")) == 4


OTHER_CHARTS = ("plotly_chart", "pyplot", "bokeh_chart", "graphviz_chart", "deck_gl_json_chart", "arrow_line_chart")


CHARTS = {
    "app_pages/lesson.py": 0,  # step 1: the grid of ten (its charts: tests/test_lesson.py)
    "app_pages/training.py": 4,
    "app_pages/attack.py": 1,
    "app_pages/epsilon.py": 3,
    "app_pages/pairs.py": 1,
    "app_pages/lab.py": 4,  # and two of random noise
    "app_pages/defenses.py": 1,
    "app_pages/network.py": 2,
}  # page -> Altair charts on it


def test_every_page_runs_on_the_defaults_and_draws_only_altair_charts():
    import json

    app = start()
    assert sorted(CHARTS) == sorted(PAGES)
    for page, charts in CHARTS.items():
        settled(app.switch_page(page).run())
        assert_clean(app)
        assert app.title and (app.metric or page.endswith("lesson.py")), page
        found = app.get("vega_lite_chart")
        assert len(found) == charts, page
        for chart in found:  # built by Altair from our data: a Vega-Lite spec, its data sent beside it
            spec = json.loads(chart.proto.spec)
            assert "vega-lite" in spec["$schema"] and ("mark" in spec or "layer" in spec)
            assert len(chart.proto.datasets) >= 1
        for kind in OTHER_CHARTS:
            assert not app.get(kind), kind


def test_uploading_your_own_digit_attacks_it():
    dataset = load_dataset("mnist-5k")
    app = start()
    widget(app, "radio", "_widget_input").set_value("upload").run()
    assert_clean(app)
    app.get("file_uploader")[0].upload("my-two.png", digit_png(dataset), "image/png").run()
    assert_clean(app)
    assert any("reads it as **2**" in m.value for m in app.markdown)
    assert metric(app, "Model's answer") == "6"  # attacked at its own minimal epsilon
    assert any("Your upload `my-two.png`" in m.value for m in app.markdown)  # the name, as inert text
    app.switch_page("app_pages/epsilon.py").run()
    assert_clean(app)
    assert any("your upload `my-two.png`" in i.value for i in app.info)


def test_a_bad_upload_gets_a_message_and_the_page_keeps_working():
    app = start()
    widget(app, "radio", "_widget_input").set_value("upload").run()
    app.get("file_uploader")[0].upload("notes.png", b"these are not pixels", "image/png").run()
    assert not app.exception
    assert any("not an image" in e.value for e in app.error)
    assert not app.metric  # nothing to attack until a digit is uploaded
    widget(app, "radio", "_widget_input").set_value("test").run()
    assert_clean(app)
    assert metric(app, "Model's answer") == "6"


def test_no_page_mutates_the_shared_caches():
    """Cached objects are shared by every session: they are read-only, and running every page changes nothing."""
    from dashboard import results
    from dashboard.view import View

    app = start()
    view = View.first_visit()  # what the app opens with
    data = results.dataset("mnist-5k")
    result = results.trained(view.training)
    minimal = results.minimal_epsilons(view)
    curve = results.source_success_curve(view, 0.0, 1.0, 201)
    shared = [
        data.x_train,
        data.y_train,
        data.x_test,
        data.y_test,
        result.model.W,
        result.model.b,
        result.per_class_accuracy,
        result.confusion,
        minimal,
        curve.fooled_share,
        curve.mean_target_probability,
    ]
    before = [array.copy() for array in shared]
    for array in shared:
        with pytest.raises(ValueError, match="read-only"):
            array.flat[0] = 123
    for page in PAGES:
        app.switch_page(page).run()
        widget(app, "toggle", "_widget_clip").set_value(False).run()
        widget(app, "toggle", "_widget_clip").set_value(True).run()
    for array, copy in zip(shared, before):
        np.testing.assert_array_equal(array, copy)


@pytest.mark.parametrize("page", PAGES)
def test_a_page_opened_without_the_entry_file_still_works(page):
    """Pages take the view from the sidebar they draw, not from a key the entry file leaves behind."""
    app = AppTest.from_file(str(Path(APP).parent / page), default_timeout=120).run()
    assert_clean(app)
    assert app.title and (app.metric or app.header) and widget(app, "selectbox", "_widget_source").value == 2


def test_your_own_seven_is_spoken_of_as_a_seven():
    app = start()
    widget(app, "radio", "_widget_input").set_value("upload").run()
    app.get("file_uploader")[0].upload("seven.png", digit_png(load_dataset("mnist-5k"), digit=7), "image/png").run()
    assert_clean(app)
    assert app.title[0].value == "Turn your 7 into a 6"
    assert any("your upload `seven.png` (the model reads it as 7)" in m.value for m in app.markdown)


def test_a_link_can_open_the_drawing_pad_and_a_drawing_is_attacked():
    from PIL import Image, ImageDraw

    from core.inputs.imaging import preprocess_drawing

    app = start({"page": "attack", "input": "draw"})
    assert_clean(app)
    assert widget(app, "radio", "_widget_input").value == "draw"
    assert any("Draw one digit" in i.value for i in app.info) and not app.metric  # a hint, not an error
    canvas = Image.new("RGBA", (280, 280), (0, 0, 0, 255))
    ImageDraw.Draw(canvas).line([(140, 40), (140, 240)], fill=(255, 255, 255, 255), width=18)
    app.session_state["drawing"] = preprocess_drawing(np.asarray(canvas))  # what the pad's callback keeps
    app.run()
    assert_clean(app)
    assert app.title[0].value == "Turn your 1 into a 6"
    assert any("reads it as **1**" in m.value for m in app.markdown)
    assert metric(app, "Model's answer") == "6"
    assert app.query_params["input"] == "draw"


def test_one_quantity_is_one_number_on_every_page():
    """The share of the 2s made 6s at one epsilon: the same number on the epsilon chart and on all pairs, both with
    the epsilon said, and the same as counting the gradient sign attack's answers directly."""
    from core.attack import fgsm
    from core.inputs.settings import TrainingSettings
    from core.jobs.shipped import load_shipped

    data = load_dataset("mnist-5k")
    model = load_shipped(TrainingSettings()).model
    twos = data.x_test[data.test_indices(2)]
    for eps in ("0.178", "0.1555"):
        app = start({"page": "epsilon", "eps": eps})
        on_chart = metric(app, f"Fooled into 6 at ε = {float(eps):.3f}")
        app.switch_page("app_pages/pairs.py").run()
        assert_clean(app)
        assert metric(app, f"2 → 6 fooled at ε = {float(eps):.3f}") == on_chart
        exact = np.mean(model.predict(fgsm(model, twos, float(eps), target=6)) == 6)
        assert on_chart == f"{exact:.0%}"


def test_numbers_typed_out_of_range_get_a_notice_as_links_do():
    """A widget takes any number and says what it used instead, as a link's value does (no silent red field)."""
    app = start({"source": "2", "target": "6"})
    widget(app, "number_input", "_widget_image").set_value(150).run()
    assert_clean(app)
    assert any("no test image #`150`" in w.value and "showing #99" in w.value for w in app.warning)
    assert widget(app, "number_input", "_widget_image").value == 99
    widget(app, "number_input", "_widget_batch_size").set_value(100000).run()
    assert_clean(app)
    assert any(w.value.startswith("Batch size `100000` is outside 10-1000; using 1000") for w in app.warning)
    assert widget(app, "number_input", "_widget_batch_size").value == 1000
    widget(app, "number_input", "_widget_epochs").set_value(0).run()
    assert any(w.value.startswith("Epochs `0` is outside 1-100; using 1") for w in app.warning)
    assert widget(app, "number_input", "_widget_epochs").value == 1


def test_lbfgs_shows_the_converged_numbers_not_one_point_charts():
    app = start()
    app.switch_page("app_pages/training.py").run()
    widget(app, "radio", "_widget_solver").set_value("lbfgs").run()
    assert_clean(app)
    assert not [c for c in app.get("arrow_vega_lite_chart") if "per epoch" in str(c.proto.spec)]
    test_accuracy = float(metric(app, "Test accuracy").rstrip("%")) / 100
    assert 0.5 < test_accuracy <= 1.0
    assert "converged model's mean training loss" in " ".join(c.value for c in app.caption)
