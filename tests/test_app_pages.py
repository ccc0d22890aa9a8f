"""The comparing pages through AppTest (all pairs, the lab, defenses), and the app when its data or training fails."""

import re

import numpy as np
import pytest

from core.attack import minimal_epsilon
from core.inputs.data import load_dataset
from core.jobs.models import ModelStore
from tests.apptest import (  # noqa: F401
    APP,
    PAGES,
    assert_clean,
    digit_png,
    image_captions,
    metric,
    own_cache,
    settled,
    start,
    widget,
)


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

    from core.jobs import models as training_queue

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


def test_the_all_pairs_page_reads_its_matrix_and_keeps_its_view_in_the_link():
    from core.sweep import pair_matrix

    app = start({"page": "pairs", "source": "4", "target": "9", "show": "share", "eps": "0.15"})
    assert_clean(app)
    assert app.title[0].value.startswith("All pairs")
    data = load_dataset("mnist-5k")
    from core.inputs.settings import TrainingSettings
    from core.jobs.shipped import load_shipped

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
    words = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    (folder / "classes.txt").write_text("\n".join(words) + "\n")  # the folder names its classes
    monkeypatch.setenv("ADVERSARIAL_DIGITS_IDX_FOLDERS", str(folder))
    app = start({"page": "pairs"})
    widget(app, "selectbox", "_widget_dataset").set_value(f"idx:{folder}").run()
    assert_clean(app)
    assert any("The easiest pair is" in m.value for m in app.markdown)
    assert len(app.get("vega_lite_chart")) == 1
    assert app.title[0].value == "All pairs: which class turns into which"
    source = widget(app, "selectbox", "_widget_source")
    assert source.label == "Source class" and source.format_func(2) == "2 · two"
    settled(app.switch_page("app_pages/lab.py").run())  # the attack lab on the same folder
    assert_clean(app)
    assert metric(app, "Best attack needs ε") and len(app.get("vega_lite_chart")) == 4  # and the noise charts
    assert app.title[0].value.startswith("Attack lab: two (2) → six (6)")
    assert any(h.value.endswith("test images of class two (2)") for h in app.subheader)
    app.switch_page("app_pages/attack.py").run()
    assert app.title[0].value == "Turn a two (2) into a six (6)"


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
    from core.inputs.settings import TrainingSettings
    from core.jobs.shipped import load_shipped

    app = start({"page": "lab", "image": "3", "eps": "0.12"})
    assert_clean(app)
    data = load_dataset("mnist-5k")
    model = load_shipped(TrainingSettings()).model
    x = data.x_test[data.test_indices(2)[3]]
    assert metric(app, "Sign step needs ε") == f"{minimal_twos[3]:.4f}"
    assert metric(app, "Best attack needs ε") == f"{optimal_epsilon(model, x, 6):.4f}"
    radius = robust_radius(model, x, 2)
    assert metric(app, "Certified below ε") == f"{radius:.4f}"
    said = "No attack of any kind" if radius > 0 else "does not answer 2"
    assert any(said in m.value for m in app.markdown)
    assert app.query_params["image"] == "3" and app.query_params["eps"] == "0.12"
    table = app.table[0].value
    assert len(table) == 3  # the paper's row, then this model unclipped and clipped
    logits = data.x_test @ model.W.T + model.b  # the untargeted gradient sign step, by hand: sign of W^T (p - onehot)
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    p[np.arange(len(p)), data.y_test] -= 1
    attacked = data.x_test + 0.25 * np.sign(p @ model.W)
    assert table["error rate"].iloc[1] == f"{np.mean(model.predict(attacked) != data.y_test):.1%}"
    assert table["error rate"].iloc[2] == f"{np.mean(model.predict(np.clip(attacked, 0, 1)) != data.y_test):.1%}"
    assert table["error rate"].iloc[0] == "99.9%"  # every number with one decimal, as the paper gives them
    assert all(re.fullmatch(r"\d+\.\d%", cell) for cell in table.to_numpy().ravel())
    assert any("keeping its best image" in c.value for c in app.caption)  # why PGD never does worse
    from core.fewest import fewest_pixels

    fewest = fewest_pixels(model, x, 6)  # filled in last, after the rest of the page
    assert fewest.proven and f"Fewest pixels: {fewest[0]}, proven: says 6" in image_captions(app)


def test_the_defenses_page_compares_the_defended_model_and_keeps_it_in_the_link():
    from core.exact import robust_radius
    from core.inputs.settings import TrainingSettings

    app = start({"page": "defenses"})
    assert_clean(app)
    assert any("Pick a defense" in i.value for i in app.info)
    assert "chosen ε" not in app.get("vega_lite_chart")[0].proto.spec  # nothing is chosen before a defense is
    widget(app, "button_group", "_widget_defense_pick").set_value("adversarial").run()  # its shipped weights
    assert_clean(app)
    data = load_dataset("mnist-5k")
    defended = ModelStore.load_saved(TrainingSettings(adversarial_eps=0.1))  # shipped with the app
    assert defended.history[-1].epoch == 25
    certified = np.mean(robust_radius(defended.model, data.x_test, data.y_test) > 0.1)  # independently of the page
    assert metric(app, "Certified at ε = 0.100") == f"{certified:.1%}"
    assert metric(app, "Clean accuracy") == f"{np.mean(defended.model.predict(data.x_test) == data.y_test):.1%}"
    assert any(
        m.value.startswith("**Adversarial training at ε = 0.1** raised the certified accuracy") for m in app.markdown
    )
    assert len(app.get("vega_lite_chart")) == 3
    assert dict(app.query_params) == {
        "source": "2",
        "target": "6",
        "clip": "1",
        "defense": "adversarial",
        "adversarial_eps": "0.1",
    }
    app.switch_page("app_pages/attack.py").run()  # every page now attacks the defended model
    assert_clean(app)
    assert dict(app.query_params)["defense"] == "adversarial"
    twos = data.x_test[data.test_indices(2)]
    shown = float(app.markdown[0].value.split("**")[1])
    assert shown == pytest.approx(minimal_epsilon(defended.model, twos[0], 6), abs=1e-5)


def test_the_lab_gives_a_quick_fewest_pixels_answer_then_its_proof(monkeypatch):
    """The integer program gets half a second for a first answer ("at most N, proving…") and then its proof; the
    solver is the real one, told here to stop early the first time as a slow image would."""
    from core import fewest
    from dashboard import results
    from dashboard.results import image

    limits = []

    def slow_at_first(model, x, target, *, clip, time_limit):
        limits.append(time_limit)
        found = fewest.fewest_pixels(model, x, target, clip=clip)
        return fewest.FewestPixels(found[0], found[1], time_limit >= results.FEWEST_LIMIT)

    monkeypatch.setattr(image, "fewest_pixels", slow_at_first)
    monkeypatch.setattr(image, "in_child", lambda function, *args, **kwargs: function(*args, **kwargs))  # here
    app = start({"page": "lab", "image": "5"})
    assert_clean(app)
    assert limits == [results.FEWEST_FIRST, results.FEWEST_LIMIT]
    assert any(
        caption.startswith("Fewest pixels: ") and ", proven: says 6" in caption for caption in image_captions(app)
    )


def test_the_network_page_sets_both_models_side_by_side_and_keeps_its_view_in_the_link():
    """Beyond linear: the numbers in its table are each model's own (computed here from the saved weights), the
    transfer table is the fgsm of each model shown to the others, the size is in the link, a bad size is refused."""
    from core.attack import fgsm
    from core.exact import optimal_epsilon, robust_radius
    from core.inputs.settings import TrainingSettings
    from core.jobs.robustness import load_table
    from core.jobs.shipped import load_shipped
    from core.network import ray_minimal_epsilon as ray_walk
    from core.network_exact import target_bound

    app = start({"page": "network", "image": "1", "eps": "0.15", "hidden": "7"})
    assert any("hidden=`7` is not one of 16, 64, 256; using 16" in w.value for w in app.warning)
    settled(app)
    assert_clean(app)
    data = load_dataset("mnist-5k")
    linear = load_shipped(TrainingSettings()).model
    network = ModelStore.load_saved(TrainingSettings(hidden=16)).model  # shipped with the app
    defended = ModelStore.load_saved(TrainingSettings(adversarial_eps=0.1)).model
    twos = data.x_test[data.test_indices(2)]
    x = twos[1].astype(np.float64)
    table = app.dataframe[0].value
    assert list(table.columns) == ["Linear", "Network (16)"]
    expected = [f"{minimal_epsilon(linear, x, 6):.4f}", f"{ray_walk(network, x, 6):.4f}"]
    assert table.loc["sign step ε"].tolist() == expected
    assert table.loc["best attack ε"].iloc[0] == f"{optimal_epsilon(linear, x, 6):.4f} (exact)"
    assert re.fullmatch(r"\d\.\d{4} \(proven\)|\d\.\d{4} to \d\.\d{4}", table.loc["best attack ε"].iloc[1])
    assert table.loc["certified below ε"].iloc[1] == f"{target_bound(network, x, 6):.4f}"
    assert any(c.startswith("Network, best attack") for c in image_captions(app))  # filled in after the rest
    verified = app.dataframe[2].value  # the network's shipped table, beside the linear model's exact rows
    shipped = load_table(TrainingSettings(hidden=16))
    assert list(verified.columns) == [f"ε = {eps:g}" for eps in (0.01, 0.02, 0.05, 0.1)]
    assert verified.loc["Network: verified robust"].tolist() == [f"{row.verified:.1%}" for row in shipped["rows"]]
    radius = robust_radius(linear, data.x_test, data.y_test)
    assert verified.loc["Linear: robust (exact)"].tolist() == [
        f"{np.mean(radius > e):.1%}" for e in (0.01, 0.02, 0.05, 0.1)
    ]
    transfer = app.dataframe[1].value
    models = [linear, defended, network]
    for row, maker in zip(range(3), models):
        attacked = fgsm(maker, twos, 0.15, target=6)
        assert transfer.iloc[row].tolist() == [f"{np.mean(m.predict(attacked) == 6):.0%}" for m in models]
    assert any("along the gradient sign ray" in m.value and "fool the network" in m.value for m in app.markdown)
    assert len(app.get("vega_lite_chart")) == 2
    assert dict(app.query_params) == {"source": "2", "target": "6", "clip": "1", "image": "1", "eps": "0.15"}
    widget(app, "radio", "_widget_hidden").set_value(64).run()  # another size (shipped too), in the link
    assert_clean(app)
    assert app.query_params["hidden"] == "64" and app.dataframe[0].value.columns[1] == "Network (64)"
    assert app.metric[1].value == f"{ModelStore.load_saved(TrainingSettings(hidden=64)).test_accuracy:.1%}"


FASHION = "/usr/share/datasets/fashion-mnist"  # Debian's dataset-fashion-mnist: .ci/run installs it


def test_a_long_training_is_said_before_it_starts_and_one_past_the_limit_is_refused(monkeypatch):
    """60,000 images in batches of 10 for 100 epochs: about 2 min, said first, started on a click; with adversarial
    training on top, past the limit: refused before it starts, with what to pick instead."""
    monkeypatch.setenv("ADVERSARIAL_DIGITS_IDX_FOLDERS", FASHION)
    app = start({"page": "training"})
    widget(app, "selectbox", "_widget_dataset").set_value(f"idx:{FASHION}")
    widget(app, "number_input", "_widget_epochs").set_value(100)
    widget(app, "number_input", "_widget_batch_size").set_value(10)
    app.run()
    assert_clean(app)
    asked = [box.value for box in app.info if "takes about" in box.value]
    assert asked and "100 epochs" in asked[0] and "about 2 min" in asked[0], [box.value for box in app.info]
    assert [b.label for b in app.button if b.label.startswith("Train it")] == ["Train it (about 2 min)"]
    assert not app.metric  # nothing trained, nothing shown: the page waits for the visitor's word
    widget(app, "selectbox", "_widget_defense").set_value("adversarial").run()
    assert not app.exception
    refused = [box.value for box in app.error]
    assert refused and "longer than its limit of about 5 min" in refused[0] and "at most" in refused[0], refused
    assert not app.button or not [b for b in app.button if b.label.startswith("Train it")]


def test_a_network_the_app_did_not_ship_a_table_for_gets_its_own_on_the_server():
    """Unclipped images: not what the shipped table answers, so the server verifies the first test images itself,
    says so meanwhile, and fills in the table (its rows ordered as bounds must be)."""
    from dashboard import results

    app = start({"page": "network", "clip": "0", "image": "4"})
    assert_clean(app)
    assert any(i.value.startswith("Verifying the network on the first") for i in app.info)
    settled(app)
    assert_clean(app)
    table = next(d.value for d in app.dataframe if "Network: verified robust" in d.value.index)
    share = lambda name: [float(v.rstrip("%")) for v in table.loc[name]]  # noqa: E731
    assert all(
        c <= v <= p
        for c, v, p in zip(
            share("Network: certified (CROWN)"), share("Network: verified robust"), share("Network: PGD")
        )
    )
    assert any(
        f"first {results.LIVE_IMAGES} test images" in c.value and "on this server" in c.value for c in app.caption
    )


def test_a_defended_linear_model_beside_the_network_and_a_field_given_twice_are_said():
    """Beyond linear with the sidebar's defense on: each number names its model, and the network is said to have no
    defense; a link that gives the size twice says which it used."""
    app = start({"page": "network", "hidden": ["256", "64"], "defense": "adversarial", "adversarial_eps": "0.1"})
    assert_clean(app)
    assert "The link gives hidden more than once (`256`, `64`); using the last, `64`." in [w.value for w in app.warning]
    assert [m.label for m in app.metric[:2]] == [
        "Linear (softmax, defended): test accuracy",
        "Network (64 units, no defense): test accuracy",
    ]
    assert any("the network is trained without a defense" in c.value for c in app.caption)
    assert any("adversarial training at ε = 0.1" in c.value for c in app.caption)
