"""Streamlit glue: cached core calls, the shared sidebar, and the view state in the URL.

The pages import this module; ``core`` never imports Streamlit. Everything a
visitor can set (sidebar, sliders, the URL) is validated here, once, and
clamped or refused with a visible notice.
"""

from __future__ import annotations

import logging
import math
import os
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import streamlit as st

from core.attack import MAX_EPS, minimal_epsilon
from core.data import DEFAULT_DATASET, Dataset, load_dataset
from core.errors import DatasetUnavailable, ImageRejected, TrainingFailed
from core.imaging import preprocess_upload
from core.model import SoftmaxModel, TrainingResult
from core.settings import TrainingSettings
from core.sweep import success_curve
from core.training_queue import ModelStore, TrainingStatus, shared_queue

log = logging.getLogger("adversarial_digits")

IDX_FOLDERS_VARIABLE = "ADVERSARIAL_DIGITS_IDX_FOLDERS"
EPS_STEP = 0.001  # slider resolution

# Bounds that keep a shared public server responsive: no one can ask for an hour of training.
LIMITS = {
    "epochs": (1, 100),
    "learning_rate": (1e-4, 1.0),
    "batch_size": (10, 1000),
    "C": (1e-3, 1e3),
    "seed": (0, 9999),
}
DEFAULTS = {
    **asdict(TrainingSettings.first_visit()),  # dataset, solver and its settings, seed
    "source": 2,
    "target": 6,
    "clip": True,
    "image": 0,
    "own_digit": False,
    "eps": None,  # None: the chosen image's own minimal epsilon
}
URL_KEYS = ("source", "target", "image", "eps", "clip")


# --- settings -----------------------------------------------------------------------------


@dataclass(frozen=True)
class View:
    """What the attack pages show: the settings of the sidebar that are not training."""

    training: TrainingSettings
    source: int
    target: int
    clip: bool

    @property
    def clip_range(self):
        return (0.0, 1.0) if self.clip else None


# --- notices: short messages shown once at the top of the page ---------------------------


def inert(text, limit: int = 40) -> str:
    """Visitor-supplied text (a link value, a file name) as inert Markdown: a short code span.

    Inside a code span Markdown makes no links, images, headings or emphasis,
    and bare addresses are not linked; line breaks and control characters
    become spaces, backticks (which would end the span) become quotes, and
    the text is cut to ``limit`` characters.
    """
    text = " ".join("".join(c if c.isprintable() else " " for c in str(text)).split()).replace("`", "'")
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return f"`{text}`" if text else "`(empty)`"


def notice(message: str, kind: str = "warning") -> None:
    st.session_state.setdefault("_notices", []).append((kind, message))


def show_notices() -> None:
    for kind, message in st.session_state.pop("_notices", []):
        getattr(st, kind)(message, icon="⚠️" if kind == "warning" else "ℹ️")


# --- validation of values from the URL and widgets --------------------------------------------


def parse_digit(text) -> int:
    if str(text).strip() not in {str(d) for d in range(10)}:
        raise ValueError("is not a digit 0-9")
    return int(str(text).strip())


def parse_eps(text) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise ValueError("is not a number") from None
    if not math.isfinite(value):
        raise ValueError("is not a finite number")
    return value


def parse_image(text) -> int:
    if not str(text).strip().isdecimal():
        raise ValueError("is not a whole number 0 or above")
    return int(str(text).strip())


def parse_flag(text) -> bool:
    lowered = str(text).strip().lower()
    if lowered not in {"0", "1", "true", "false", "on", "off"}:
        raise ValueError("is not on or off (1 or 0)")
    return lowered in {"1", "true", "on"}


URL_PARSERS = {"source": parse_digit, "target": parse_digit, "image": parse_image, "eps": parse_eps, "clip": parse_flag}


def _described(key: str, value) -> str:
    """A setting's value as a notice says it."""
    if key == "eps" and value is None:
        return "the image's exact minimal epsilon"
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def clamp(value, low, high):
    return min(max(value, low), high)


def snap_eps(minimal: float) -> float:
    """The first slider stop strictly above the exact minimal epsilon (where the model is fooled)."""
    if not math.isfinite(minimal):
        return MAX_EPS
    stop = math.ceil(round(minimal / EPS_STEP, 9)) * EPS_STEP
    if stop <= minimal:
        stop += EPS_STEP
    return round(min(stop, MAX_EPS), 6)


def init_state() -> None:
    """Fill the session state once per session: defaults, then valid values from the URL."""
    state = st.session_state
    if state.get("_initialized"):
        return
    for key, value in DEFAULTS.items():
        state.setdefault(key, value)
    params = st.query_params
    for key in URL_KEYS:
        if key not in params:
            continue
        raw = params[key]
        try:
            state[key] = URL_PARSERS[key](raw)  # the reasons never quote the value: it is shown inert, once
        except ValueError as reason:
            notice(f"The link's {key}={inert(raw)} {reason}; using {_described(key, DEFAULTS[key])}.")
    if state["eps"] is not None and not 0.0 <= state["eps"] <= MAX_EPS:
        state["eps"] = clamp(state["eps"], 0.0, MAX_EPS)
        notice(f"The link's eps={inert(params['eps'])} is outside [0, {MAX_EPS:g}]; using {state['eps']:g}.")
    if state["source"] == state["target"]:
        fixed = DEFAULTS["target"] if state["source"] != DEFAULTS["target"] else DEFAULTS["source"]
        notice(f"The link's source and target are both {state['source']}; the target is now {fixed}.")
        state["target"] = fixed
    state["_initialized"] = True


def sync_url(page_key: str) -> None:
    """Write the current view into the URL (the page is its path) so a copied link reproduces it."""
    state = st.session_state
    wanted = {"source": str(state["source"]), "target": str(state["target"])}
    wanted["clip"] = "1" if state["clip"] else "0"
    if page_key in ("attack", "epsilon"):
        wanted["image"] = str(state["image"])
        if state["eps"] is not None:
            wanted["eps"] = f"{state['eps']:g}"
    if dict(st.query_params) != wanted:
        st.query_params.from_dict(wanted)


# --- widgets bound to persistent state ---------------------------------------------------------


def _copy_back(widget_key: str, key: str, check) -> None:
    value = st.session_state[widget_key]
    if check is not None:
        problem = check(value)
        if problem:
            notice(problem)
            return
    st.session_state[key] = value
    if key in ("source", "target", "image", "clip", "dataset"):
        st.session_state["eps"] = None  # a new image or attack starts at its minimal epsilon
    if key == "source":
        st.session_state["image"] = 0


def pick_image() -> None:
    """Callback of the first-ten picker: a click on the selected one deselects it, which changes nothing."""
    if st.session_state["_widget_pick"] is not None:
        _copy_back("_widget_pick", "image", None)


def bind(key: str, suffix: str = "", check=None, shown=None) -> dict:
    """Widget keyword arguments that show and update ``st.session_state[key]``.

    Streamlit forgets the state of widgets that a page does not draw; the
    value lives under ``key`` and each widget gets its own key, so pages can
    share it. ``check(value)`` may return a message to refuse a value;
    ``shown`` is what the widget shows when the stored value is None.
    """
    widget_key = f"_widget_{key}{suffix}"
    value = st.session_state[key]
    st.session_state[widget_key] = shown if value is None else value
    return {"key": widget_key, "on_change": _copy_back, "args": (widget_key, key, check)}


def _differs_from(other: str, key: str):
    """A ``bind`` check that refuses the value of ``other`` for ``key`` (source and target)."""

    def check(value) -> str | None:
        if value == st.session_state[other]:
            return f"The {key} must differ from the {other} ({value}); the {key} stays {st.session_state[key]}."
        return None

    return check


# --- datasets and models, shared by all sessions ------------------------------------------------


def configured_idx_folders() -> list[str]:
    """IDX folders the operator offers: ``$ADVERSARIAL_DIGITS_IDX_FOLDERS`` or ``idx_folders`` in secrets."""
    folders = [f for f in os.environ.get(IDX_FOLDERS_VARIABLE, "").split(os.pathsep) if f.strip()]
    try:
        folders += list(st.secrets.get("idx_folders", []))
    except Exception:  # no secrets file is the normal case
        pass
    return [f"idx:{Path(f).expanduser()}" for f in dict.fromkeys(folders)]


def dataset_label(name: str) -> str:
    if name == "mnist-5k":
        return "MNIST subset · 5,000 digits (embedded)"
    if name == "mnist":
        return "MNIST · 70,000 digits (downloads once)"
    return f"IDX · {Path(name[4:]).name}"


@st.cache_resource(show_spinner="Loading the dataset…", max_entries=4)
def dataset(name: str) -> Dataset:
    return load_dataset(name)


def dataset_problem(name: str) -> str | None:
    """Why ``name`` cannot be loaded (for a notice), or None when it loads."""
    if name == DEFAULT_DATASET:
        return None
    try:
        dataset(name)
        return None
    except DatasetUnavailable as error:
        log.warning("dataset %s unavailable: %s", name, error)
        shown = "Full MNIST" if name == "mnist" else f"The IDX folder {Path(name[4:]).name}"
        return f"{shown} cannot be loaded: {error}. Showing the embedded 5,000-digit MNIST subset instead."


def usable_dataset(name: str) -> str:
    """``name`` if it loads, else the embedded subset, with a notice saying why."""
    problem = dataset_problem(name)
    if problem:
        notice(problem)
        return DEFAULT_DATASET
    return name


@st.cache_resource(show_spinner=False)
def _store() -> ModelStore:
    return ModelStore(shared_queue())


def _status_text(status: TrainingStatus) -> str:
    if status.waiting_for > 0:
        others = "training" if status.waiting_for == 1 else "trainings"
        return f"Waiting for {status.waiting_for} other {others} on this server to finish…"
    if status.metrics is None:
        return "Training the softmax classifier…"
    return f"Training: epoch {status.epoch} of {status.total}, test accuracy {status.metrics.test_accuracy:.1%}"


def training(settings: TrainingSettings) -> TrainingResult:
    """The trained model for ``settings``: from memory, from disk, or trained now with a progress bar."""
    store = _store()
    result = store.in_memory(settings)
    if result is not None:
        return result
    bar = st.progress(0.0, text="Loading the model…")

    def progress(status: TrainingStatus) -> None:  # every poll: a visitor's rerun or a closed tab ends the wait here
        bar.progress(status.epoch / max(status.total, 1), text=_status_text(status))

    try:
        return store.get(settings, progress)
    except (DatasetUnavailable, ValueError) as error:  # e.g. training images that turn out to be corrupt
        if settings.dataset != DEFAULT_DATASET:
            log.warning("training %s failed: %s", settings, error)
            notice(f"Training on {dataset_label(settings.dataset)} failed: {error}. Back to the embedded MNIST subset.")
            st.session_state["dataset"] = DEFAULT_DATASET
            st.rerun()
        failure = error
    except TrainingFailed as error:
        failure = error
    finally:
        bar.empty()
    log.warning("training %s failed: %s", settings, failure)
    st.error(f"The model could not be trained: {failure}.", icon="🚫")
    st.button("Try again", icon=":material/refresh:")  # a click reruns the page, which asks again
    st.stop()


@st.cache_resource(show_spinner=False)
def warm_up_in_background() -> threading.Thread:
    """Compile the attack-path kernels once per server process, off the request path.

    Numba caches compiled code on disk, so only a fresh deployment pays the
    compile (about three seconds); this starts it after the first page is drawn.
    """

    def compile_kernels():
        model = SoftmaxModel(np.zeros((10, 784)), np.zeros(10))
        images = np.full((2, 784), 0.5, dtype=np.float32)
        try:
            minimal_epsilon(model, images, 1)
            success_curve(model, images, 1, np.linspace(-1, 1, 5))
        except RuntimeError:  # the interpreter is shutting down: nothing to warm up for
            pass

    thread = threading.Thread(target=compile_kernels, name="warm-up", daemon=True)
    thread.start()
    return thread


# --- derived results, cached per view -------------------------------------------------------------


def source_images(view: View) -> tuple[np.ndarray, np.ndarray]:
    """Test-set positions and images of the source digit."""
    data = dataset(view.training.dataset)
    indices = data.test_indices(view.source)
    return indices, data.x_test[indices]


@st.cache_resource(show_spinner=False, max_entries=64)
def minimal_epsilons(view: View) -> np.ndarray:
    """The exact minimal epsilon of every test image of the source digit (read-only)."""
    _, images = source_images(view)
    result = minimal_epsilon(training(view.training).model, images, view.target, clip=view.clip_range)
    result.flags.writeable = False
    return result


@st.cache_resource(show_spinner=False, max_entries=64)
def success(view: View, low: float, high: float, points: int):
    """The success curve of all test images of the source digit on a grid."""
    _, images = source_images(view)
    grid = np.linspace(low, high, points)
    curve = success_curve(training(view.training).model, images, view.target, grid, clip=view.clip_range)
    for array in (curve.eps, curve.fooled_share, curve.mean_target_probability):
        array.flags.writeable = False
    return curve


# --- the shared sidebar -----------------------------------------------------------------------------


def _number(label: str, key: str, *, step, fmt: str, help: str | None = None):
    low, high = LIMITS[key]
    kind = int if isinstance(step, int) else float
    st.session_state[key] = kind(clamp(st.session_state[key], low, high))
    return st.number_input(label, kind(low), kind(high), step=step, format=fmt, help=help, **bind(key))


def sidebar() -> View:
    """Draw the sidebar shared by all pages and return the validated view it describes."""
    state = st.session_state
    with st.sidebar:
        st.subheader("Attack")
        left, right = st.columns(2)
        left.selectbox(
            "Source digit",
            range(10),
            help="The digit to disguise",
            **bind("source", check=_differs_from("target", "source")),
        )
        right.selectbox(
            "Target digit",
            range(10),
            help="What the model should see",
            **bind("target", check=_differs_from("source", "target")),
        )
        st.toggle(
            "Clip pixels to [0, 1]", help="Off reproduces the seed: pixels may leave the valid range", **bind("clip")
        )

        st.subheader("Model")
        options = [DEFAULT_DATASET, "mnist", *configured_idx_folders()]
        if state["dataset"] not in options:
            state["dataset"] = DEFAULT_DATASET
        st.selectbox("Dataset", options, format_func=dataset_label, **bind("dataset", check=dataset_problem))
        with st.expander("Training settings", expanded=False):
            st.radio(
                "Solver",
                ["sgd", "lbfgs"],
                horizontal=True,
                format_func={"sgd": "SGD (seed recipe)", "lbfgs": "L-BFGS (converged)"}.get,
                **bind("solver"),
            )
            if state["solver"] == "sgd":
                _number("Epochs", "epochs", step=1, fmt="%d")
                _number("Learning rate", "learning_rate", step=0.01, fmt="%.4f")
                _number("Batch size", "batch_size", step=10, fmt="%d")
            else:
                _number(
                    "Iterations ÷ 4", "epochs", step=1, fmt="%d", help="L-BFGS runs at most 4 × this many iterations"
                )
                _number("C (inverse L2 strength)", "C", step=0.1, fmt="%.3f")
            _number("Random seed", "seed", step=1, fmt="%d", help="Seeds the order of the SGD mini-batches")

    state["dataset"] = usable_dataset(state["dataset"])
    settings = TrainingSettings(
        dataset=state["dataset"],
        solver=state["solver"],
        epochs=int(state["epochs"]),
        learning_rate=float(state["learning_rate"]),
        batch_size=int(state["batch_size"]),
        C=float(state["C"]),
        seed=int(state["seed"]),
    ).normalized()
    return View(training=settings, source=int(state["source"]), target=int(state["target"]), clip=bool(state["clip"]))


def chosen_image(view: View) -> int:
    """The chosen image position among the source digit's test images, clamped with a notice."""
    count = len(source_images(view)[0])
    image = st.session_state["image"]
    if not 0 <= image < count:
        corrected = clamp(image, 0, count - 1)
        notice(
            f"There is no test image #{inert(image)} of digit {view.source} (there are {count}); showing #{corrected}."
        )
        st.session_state["image"] = image = corrected
        show_notices()
    return image


def chosen_eps(minimal: float) -> float:
    """The chosen epsilon: the first slider stop past ``minimal`` unless the user moved the slider."""
    eps = st.session_state["eps"]
    return snap_eps(minimal) if eps is None else float(eps)


def snap_to_minimal() -> None:
    st.session_state["eps"] = None


def eps_slider(minimal: float, *, key_suffix: str) -> float:
    """The epsilon slider shared by the attack and chart pages; returns the chosen epsilon."""
    eps = chosen_eps(minimal)
    st.slider(
        "Epsilon: how far each pixel may move",
        0.0,
        MAX_EPS,
        step=EPS_STEP,
        format="%.3f",
        **bind("eps", key_suffix, shown=eps),
        help="Every pixel moves by at most epsilon (in units of the full 0-1 range) in the direction of the "
        "gradient sign. The slider starts at the first stop above this image's exact minimal epsilon.",
    )
    return eps


@dataclass(frozen=True)
class Chosen:
    """The image both attack pages show: a test image of the source digit, or the visitor's own."""

    pixels: np.ndarray  # (784,) in [0, 1]
    label: str
    minimal: float  # exact minimal epsilon toward the target
    own: bool


def chosen(view: View, image: int) -> Chosen:
    state = st.session_state
    if state.get("own_digit") and state.get("upload") is not None:
        pixels = state["upload"]
        minimal = float(minimal_epsilon(training(view.training).model, pixels, view.target, clip=view.clip_range))
        return Chosen(pixels, f"your digit ({inert(state.get('upload_name', 'upload'))})", minimal, True)
    indices, images = source_images(view)
    label = f"test image #{image} of digit {view.source} (test-set index {indices[image]})"
    return Chosen(images[image], label, float(minimal_epsilons(view)[image]), False)


def receive_upload() -> None:
    """File uploader callback: preprocess once, keep the 28x28 result in this session only (never on disk)."""
    state = st.session_state
    upload = state.get("_widget_upload")
    state["upload_error"] = None
    if upload is None:
        state["upload"] = None
        return
    try:
        pixels = preprocess_upload(upload.getvalue())
    except ImageRejected as error:
        state["upload"], state["upload_error"] = None, f"{inert(upload.name)}: {error}"
        return
    pixels.flags.writeable = False
    state["upload"], state["upload_name"], state["eps"] = pixels, upload.name, None


def image_picker(view: View, *, key_suffix: str) -> int:
    """Pick a test image of the source digit by its position; returns the clamped position."""
    count = len(source_images(view)[0])
    image = chosen_image(view)
    st.number_input(
        f"Test image of digit {view.source} (0-{count - 1})", 0, count - 1, step=1, **bind("image", key_suffix)
    )
    return image
