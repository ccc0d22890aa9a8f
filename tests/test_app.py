"""The dashboard driven through Streamlit's AppTest: every page, shared state, the URL, refusals."""

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core import data
from core.attack import minimal_epsilon
from core.cache import HOME_VARIABLE
from core.data import load_dataset

APP = str(Path(__file__).resolve().parents[1] / "streamlit_app.py")
PAGES = [
    "app_pages/training.py",
    "app_pages/attack.py",
    "app_pages/epsilon.py",
    "app_pages/pairs.py",
    "app_pages/lab.py",
    "app_pages/defenses.py",
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


@pytest.fixture(scope="module")
def minimal_twos():
    """Independent of the app: the minimal epsilons from core with the default recipe."""
    from core.training import train_softmax

    dataset = load_dataset("mnist-5k")
    model = train_softmax(dataset).model
    return minimal_epsilon(model, dataset.x_test[dataset.test_indices(2)], 6)


@pytest.mark.parametrize("page", PAGES)
def test_every_page_runs_on_the_defaults(page):
    app = start()
    app.switch_page(page).run()
    assert_clean(app)
    assert app.title and app.metric


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
    assert app.title[0].value == "Turn a 3 into a 8"
    assert app.query_params["source"] == "3" and app.query_params["target"] == "8"


def test_garbage_in_the_url_gives_notices_not_a_crash():
    app = start({"eps": "abc", "image": "99999", "target": "12", "clip": "maybe", "page": "nowhere"})
    assert_clean(app)
    notices = " ".join(w.value for w in app.warning)
    for fragment in ("eps=`abc` is not a number", "target=`12` is not a digit", "clip=`maybe` is not on or off",
                     "page=`nowhere`", "#`99999`"):  # fmt: skip
        assert fragment in notices
    assert "could not convert" not in notices and "using True" not in notices
    assert widget(app, "number_input", "_widget_image").value == 99  # clamped to the last of 100
    assert metric(app, "Model's answer") == "6"


@pytest.mark.parametrize("key", ["image", "eps", "adversarial_eps"])
def test_link_values_of_any_length_get_a_notice_in_our_own_words(key):
    app = start({"page": "attack", key: "7" * 5000})
    assert_clean(app)
    notices = " ".join(w.value for w in app.warning)
    assert f"The link's {key}=" in notices and "far too" in notices
    assert "int_max_str_digits" not in notices and "Exceeds the limit" not in notices and "7" * 50 not in notices


def test_a_shared_link_reproduces_the_view():
    app = start({"page": "epsilon", "source": "7", "target": "1", "image": "4", "eps": "0.25", "clip": "0"})
    assert_clean(app)
    assert app.title[0].value.startswith("Class scores against epsilon: 7 → 1")
    assert widget(app, "number_input", "_widget_image").value == 4
    assert widget(app, "slider", "_widget_eps").value == pytest.approx(0.25)
    assert widget(app, "toggle", "_widget_clip").value is False
    assert not app.warning


def test_out_of_range_epsilon_in_the_url_is_clamped_with_a_notice():
    app = start({"eps": "7.5"})
    assert_clean(app)
    assert any("outside [0, 1]" in w.value for w in app.warning)
    assert widget(app, "slider", "_widget_eps").value == pytest.approx(1.0)


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


@pytest.mark.parametrize("page, charts", [("app_pages/attack.py", 1), ("app_pages/epsilon.py", 3),
                                          ("app_pages/training.py", 4), ("app_pages/pairs.py", 1),
                                          ("app_pages/lab.py", 2), ("app_pages/defenses.py", 1)])  # fmt: skip
def test_every_chart_is_an_altair_vega_lite_chart(page, charts):
    import json

    app = start()
    app.switch_page(page).run()
    found = app.get("vega_lite_chart")
    assert len(found) == charts
    for chart in found:  # built by Altair from our data: a Vega-Lite spec, its data sent beside it
        spec = json.loads(chart.proto.spec)
        assert "vega-lite" in spec["$schema"] and ("mark" in spec or "layer" in spec)
        assert len(chart.proto.datasets) >= 1
    for kind in OTHER_CHARTS:
        assert not app.get(kind), kind


def digit_png(dataset, position: int = 0, digit: int = 2) -> bytes:
    """A real test-set digit (a 2 unless asked), drawn dark on light and enlarged, as a PNG file."""
    import io

    from PIL import Image

    from core.imaging import to_uint8

    picture = 255 - to_uint8(dataset.x_test[dataset.test_indices(digit)[position]])
    buffer = io.BytesIO()
    Image.fromarray(picture).resize((140, 140)).save(buffer, format="PNG")
    return buffer.getvalue()


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
    from dashboard import resources
    from dashboard.view import View

    app = start()
    view = View.first_visit()  # what the app opens with
    data = resources.dataset("mnist-5k")
    result = resources.trained(view.training)
    minimal = resources.minimal_epsilons(view)
    curve = resources.source_success_curve(view, 0.0, 1.0, 201)
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


def test_no_html_from_users_is_ever_rendered():
    root = Path(APP).parent
    sources = [root / "streamlit_app.py", *sorted((root / "dashboard").glob("*.py")),
               *sorted((root / "app_pages").glob("*.py"))]  # fmt: skip
    assert len(sources) >= 7
    for source in sources:
        assert "unsafe_allow_html" not in source.read_text(), source


def test_a_broken_idx_folder_offered_by_the_operator_is_reported_and_skipped(tmp_path, monkeypatch, caplog):
    broken = tmp_path / "broken-idx"
    broken.mkdir()
    (broken / "train-images-idx3-ubyte").write_bytes(b"not idx at all")
    monkeypatch.setenv("ADVERSARIAL_DIGITS_IDX_FOLDERS", str(broken))
    app = start()
    option = f"idx:{broken}"
    assert "IDX · broken-idx" in widget(app, "selectbox", "_widget_dataset").options  # offered, by name
    widget(app, "selectbox", "_widget_dataset").set_value(option).run()
    assert_clean(app)
    assert any("broken-idx cannot be loaded" in w.value for w in app.warning)
    assert widget(app, "selectbox", "_widget_dataset").value == "mnist-5k"
    assert any(str(broken) in record.getMessage() for record in caplog.records)  # the operator's log names it


HOSTILE_LINKS = {
    "phishing": {
        "eps": "**Session expired.** [Log in again](https://evil.example/login) ![](http://127.0.0.1:8799/t.png)"
    },
    "heading": {"source": "x\n===\n"},
    "bare address": {"source": "www.evil.co"},
    "page address": {"page": "https://ev.il/x"},
    "backticks": {"target": "`x` [a](b)"},
    "huge": {"eps": "9" * 100_000},
}


@pytest.mark.parametrize("query", list(HOSTILE_LINKS.values()), ids=list(HOSTILE_LINKS))
def test_link_values_are_shown_as_inert_short_text(query):
    app = start(query)
    assert_clean(app)
    assert app.warning
    for warning in app.warning:
        text = warning.value
        assert len(text) < 200 and "\n" not in text
        spans = text.split("`")
        assert len(spans) % 2 == 1  # every backtick opens or closes a code span: nothing leaks out of one
        outside = "".join(spans[0::2])
        for active in ("](", "![", "**", "www.", "http", "==="):
            assert active not in outside, (active, text)
        assert all(len(inside) <= 40 for inside in spans[1::2])


def test_notices_name_values_plainly():
    app = start({"eps": "1.0000001", "clip": "maybe"})
    shown = " ".join(w.value for w in app.warning)
    assert "eps=`1.0000001` is outside [0, 1]; using 1" in shown
    assert "clip=`maybe` is not on or off (1 or 0); using on" in shown


def test_training_images_that_turn_out_corrupt_fall_back_with_a_notice(tmp_path, monkeypatch):
    """The server checks headers and sizes; the training child finds the damage inside and the app recovers."""
    import gzip
    import zlib

    from tests.test_data import write_idx_folder

    folder = tmp_path / "damaged"
    write_idx_folder(folder, load_dataset("mnist-5k"), compress=True)
    images = folder / "train-images-idx3-ubyte.gz"
    data = bytearray(images.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(64)  # damage the compressed stream, keep the header and the size trailer
    images.write_bytes(bytes(data))
    with pytest.raises((gzip.BadGzipFile, zlib.error, EOFError)):  # really damaged
        gzip.decompress(bytes(data))
    monkeypatch.setenv("ADVERSARIAL_DIGITS_IDX_FOLDERS", str(folder))
    app = start()
    widget(app, "selectbox", "_widget_dataset").set_value(f"idx:{folder}").run()
    assert not app.exception
    assert any("Training on IDX · damaged failed" in w.value for w in app.warning)
    assert widget(app, "selectbox", "_widget_dataset").value == "mnist-5k"
    assert metric(app, "Model's answer") == "6"


def test_a_killed_training_says_so_and_try_again_trains(monkeypatch):
    import subprocess
    import sys

    from core import training_queue

    real = training_queue.start_child

    def killed_at_once(settings, path):  # as the kernel's out-of-memory killer would
        command = [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"]
        return subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    monkeypatch.setattr(training_queue, "start_child", killed_at_once)
    app = start()
    widget(app, "number_input", "_widget_seed").set_value(4321).run()
    assert not app.exception
    assert any("stopped from outside (SIGKILL)" in e.value for e in app.error)
    assert "/" not in " ".join(e.value for e in app.error)  # no server paths
    retry = next(b for b in app.button if b.label == "Try again")
    monkeypatch.setattr(training_queue, "start_child", real)
    retry.click().run()
    assert_clean(app)
    assert metric(app, "Model's answer") == "6"


@pytest.mark.parametrize("page", PAGES)
def test_a_page_opened_without_the_entry_file_still_works(page):
    """Pages take the view from the sidebar they draw, not from a key the entry file leaves behind."""
    app = AppTest.from_file(str(Path(APP).parent / page), default_timeout=120).run()
    assert_clean(app)
    assert app.title and app.metric and widget(app, "selectbox", "_widget_source").value == 2


def test_the_app_has_no_pages_folder():
    """A folder named pages/ puts Streamlit into its legacy multipage mode until st.navigation runs:
    a deep link opened on a fresh server would show the wrong page. The pages live in app_pages/."""
    root = Path(APP).parent
    assert not (root / "pages").exists()
    assert sorted(p.name for p in (root / "app_pages").glob("*.py")) == sorted(Path(p).name for p in PAGES)


def test_no_source_file_grows_past_400_lines():
    root = Path(APP).parent
    sources = [
        p for folder in ("core", "dashboard", "app_pages", "benchmarks", "tests") for p in (root / folder).rglob("*.py")
    ]
    assert len(sources) > 40
    for source in [root / "streamlit_app.py", *sources]:
        assert len(source.read_text().splitlines()) <= 400, source.relative_to(root)


def test_your_own_seven_is_spoken_of_as_a_seven():
    app = start()
    widget(app, "radio", "_widget_input").set_value("upload").run()
    app.get("file_uploader")[0].upload("seven.png", digit_png(load_dataset("mnist-5k"), digit=7), "image/png").run()
    assert_clean(app)
    assert app.title[0].value == "Turn your 7 into a 6"
    assert any("your upload `seven.png` (the model reads it as 7)" in m.value for m in app.markdown)


def test_a_link_can_open_the_drawing_pad_and_a_drawing_is_attacked():
    from PIL import Image, ImageDraw

    from core.imaging import preprocess_drawing

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


def test_a_tampered_input_gets_a_notice():
    app = start({"page": "attack", "input": "<script>"})
    assert_clean(app)
    assert widget(app, "radio", "_widget_input").value == "test"
    assert any("input=`<script>` is not one of test, upload, draw" in w.value for w in app.warning)


def test_the_all_pairs_page_reads_its_matrix_and_keeps_its_view_in_the_link():
    from core.sweep import pair_matrix

    app = start({"page": "pairs", "source": "4", "target": "9", "show": "share", "eps": "0.15"})
    assert_clean(app)
    assert app.title[0].value.startswith("All pairs")
    data = load_dataset("mnist-5k")
    from core.settings import TrainingSettings
    from core.shipped import load_shipped

    median = pair_matrix(load_shipped(TrainingSettings()).model, data.x_test, data.y_test)
    finite = np.where(np.isfinite(median), median, np.nan)
    s, t = np.unravel_index(np.nanargmin(finite), median.shape)
    assert any(f"The easiest pair is **{s} → {t}**" in m.value for m in app.markdown)
    assert metric(app, "Easiest pair") == f"{s} → {t}"
    assert dict(app.query_params) == {"source": "4", "target": "9", "clip": "1", "show": "share", "eps": "0.15"}
    assert len(app.get("download_button")) == 2


def test_the_all_pairs_page_works_on_an_idx_folder(tmp_path, monkeypatch):
    from tests.test_data import write_idx

    data = load_dataset("mnist-5k")
    folder = tmp_path / "digits-idx"
    folder.mkdir()
    pixels = lambda x: np.round(x * 255).astype(np.uint8).reshape(-1, 28, 28)  # noqa: E731
    write_idx(folder / "train-images-idx3-ubyte", pixels(data.x_train[::5]))  # every digit, a fifth of each
    write_idx(folder / "train-labels-idx1-ubyte", data.y_train[::5].astype(np.uint8))
    write_idx(folder / "t10k-images-idx3-ubyte", pixels(data.x_test[::5]))
    write_idx(folder / "t10k-labels-idx1-ubyte", data.y_test[::5].astype(np.uint8))
    monkeypatch.setenv("ADVERSARIAL_DIGITS_IDX_FOLDERS", str(folder))
    app = start({"page": "pairs"})
    widget(app, "selectbox", "_widget_dataset").set_value(f"idx:{folder}").run()
    assert_clean(app)
    assert any("The easiest pair is" in m.value for m in app.markdown)
    assert len(app.get("vega_lite_chart")) == 1
    app.switch_page("app_pages/lab.py").run()  # the attack lab on the same folder
    assert_clean(app)
    assert metric(app, "The best possible attack needs ε") and len(app.get("vega_lite_chart")) == 2


def test_a_digit_missing_from_the_test_set_is_said_not_a_crash(tmp_path, monkeypatch):
    from tests.test_data import write_idx_folder

    folder = tmp_path / "zeros-and-ones"
    write_idx_folder(folder, load_dataset("mnist-5k"), n_train=600, n_test=200)  # the test set: 0s and 1s only
    monkeypatch.setenv("ADVERSARIAL_DIGITS_IDX_FOLDERS", str(folder))
    for page in ("attack", "pairs"):
        app = start({"page": page})
        widget(app, "selectbox", "_widget_dataset").set_value(f"idx:{folder}").run()
        assert not app.exception
        assert any("has no image of digit 2" in w.value for w in app.warning), page


def test_the_attack_lab_shows_the_exact_answers_and_keeps_its_view_in_the_link(minimal_twos):
    from core.exact import optimal_epsilon, robust_radius
    from core.settings import TrainingSettings
    from core.shipped import load_shipped

    app = start({"page": "lab", "image": "3", "eps": "0.12"})
    assert_clean(app)
    data = load_dataset("mnist-5k")
    model = load_shipped(TrainingSettings()).model
    x = data.x_test[data.test_indices(2)[3]]
    assert metric(app, "Gradient sign step needs ε") == f"{minimal_twos[3]:.4f}"
    assert metric(app, "The best possible attack needs ε") == f"{optimal_epsilon(model, x, 6):.4f}"
    radius = robust_radius(model, x, 2)
    assert metric(app, "Certified: nothing changes the answer below ε") == f"{radius:.4f}"
    said = "No attack of any kind" if radius > 0 else "does not answer 2"
    assert any(said in m.value for m in app.markdown)
    assert app.query_params["image"] == "3" and app.query_params["eps"] == "0.12"
    table = app.dataframe[0].value
    assert table["error rate"].iloc[0] == 0.999 and len(table) == 3


def test_the_defenses_page_compares_the_defended_model_and_keeps_it_in_the_link():
    from core.exact import robust_radius
    from core.model import load_training
    from core.settings import TrainingSettings

    app = start({"page": "defenses"})
    assert_clean(app)
    assert any("Pick a defense" in i.value for i in app.info)
    widget(app, "button_group", "_widget_defense_pick").set_value("adversarial").run()  # trains it in a child
    assert_clean(app)
    data = load_dataset("mnist-5k")
    defended = load_training(TrainingSettings(adversarial_eps=0.1).model_path())  # what the child saved
    assert defended.history[-1].epoch == 25
    certified = np.mean(robust_radius(defended.model, data.x_test, data.y_test) > 0.1)  # independently of the page
    assert metric(app, "Certified at ε = 0.100") == f"{certified:.1%}"
    assert metric(app, "Clean accuracy") == f"{np.mean(defended.model.predict(data.x_test) == data.y_test):.1%}"
    assert any(
        m.value.startswith("**Adversarial training at ε = 0.1** raised the certified accuracy") for m in app.markdown
    )
    assert len(app.get("vega_lite_chart")) == 3
    assert dict(app.query_params) == {"source": "2", "target": "6", "clip": "1", "defense": "adversarial",
                                      "adversarial_eps": "0.1"}  # fmt: skip
    app.switch_page("app_pages/attack.py").run()  # every page now attacks the defended model
    assert_clean(app)
    assert dict(app.query_params)["defense"] == "adversarial"
    twos = data.x_test[data.test_indices(2)]
    shown = float(app.markdown[0].value.split("**")[1])
    assert shown == pytest.approx(minimal_epsilon(defended.model, twos[0], 6), abs=1e-5)


def test_a_defense_in_a_link_is_checked():
    app = start({"page": "defenses", "defense": "armour", "adversarial_eps": "2"})
    assert_clean(app)
    warnings = " ".join(w.value for w in app.warning)
    assert "defense=`armour` is not one of none, adversarial, l1" in warnings
    assert "adversarial_eps=`2` is outside [0.01, 0.3]" in warnings
    assert "defense" not in dict(app.query_params)


@pytest.mark.parametrize("key, sent, snapped", [("adversarial_eps", "0.1234", "0.12"), ("l1", "0.0013", "0.001")])
def test_a_defense_strength_in_a_link_snaps_to_its_steps(key, sent, snapped, monkeypatch):
    """Links cannot mint unbounded distinct models: the strength is rounded, said in a notice, and kept in the link."""
    from core.training_queue import ModelStore

    asked = []
    monkeypatch.setattr(ModelStore, "get", lambda self, settings, on_status=None: asked.append(settings) or 1 / 0)
    defense = "adversarial" if key == "adversarial_eps" else "l1"
    app = start({"page": "training", "defense": defense, key: sent})
    warnings = " ".join(w.value for w in app.warning)
    assert f"The link's {key}=`{sent}` is rounded to {snapped}" in warnings
    assert app.query_params[key] == snapped
    assert asked and getattr(asked[0], key) == float(snapped)  # the model asked for is the one on the step


def test_strengths_snap_in_the_settings_themselves():
    from core.settings import L1_STEPS, TrainingSettings

    assert TrainingSettings(adversarial_eps=0.1234).normalized().adversarial_eps == 0.12
    assert TrainingSettings(adversarial_eps=0.001).normalized().adversarial_eps == 0.01  # a defense stays a defense
    assert TrainingSettings(l1=2.5e-4).normalized().l1 == 2e-4 and TrainingSettings(l1=4e-4).normalized().l1 == 5e-4
    assert TrainingSettings().normalized() == TrainingSettings()  # no defense: the key of every existing model
    assert (
        TrainingSettings(adversarial_eps=0.1).normalized().file_key()
        == TrainingSettings(adversarial_eps=0.1).file_key()
    )
    assert len(L1_STEPS) == 10 and all(TrainingSettings(l1=s).normalized().l1 == s for s in L1_STEPS)


def test_core_imports_neither_streamlit_nor_altair_and_has_no_import_cycle():
    """Core is pure Python: the dashboard draws (Streamlit, Altair); core computes. And no two core modules import
    each other, directly or through others (the training room imports the model and the defense, not back)."""
    import ast

    root = Path(APP).parent / "core"
    imports = {}
    for module in root.glob("*.py"):
        tree = ast.parse(module.read_text())
        names = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
        names |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        assert not {name.split(".")[0] for name in names} & {"streamlit", "altair"}, module.name
        imports[module.stem] = {name.split(".")[1] for name in names if name.startswith("core.")} | {
            alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module == "core"
            for alias in node.names
        }  # fmt: skip

    def reaches(start, goal, seen=()):
        return any(step == goal or (step not in seen and reaches(step, goal, (*seen, step)))
                   for step in imports.get(start, ()))  # fmt: skip

    cycles = [module for module in imports if reaches(module, module)]
    assert not cycles, cycles
