"""Heavy results every visitor shares: computed once per server, one at a time, stopped when nobody waits.

Each function here gets the model and the data in the visitor's script
thread, then hands the computation to :func:`shared` (a
:class:`core.jobs.work.SharedWork` per server): a second visitor asking the
same question waits for the first one's answer, at most ``WORK_SLOTS`` run at
once, below the pages' CPU priority (the page says how many are ahead), and a
computation whose visitors all left stops at its next checkpoint. Finished
results are kept for everyone (arrays read-only). Sub-second results asked at
every slider stop (:func:`pair_share`) stay in the visitor's own page.
"""

from __future__ import annotations

import hashlib
import threading
import time

import numpy as np
import streamlit as st

from core.attack import fgsm, minimal_epsilon
from core.exact import optimal_epsilon, robust_radius
from core.fewest import fewest_pixels
from core.inputs.settings import TrainingSettings
from core.jobs.work import SharedWork, WorkStatus, checkpoint
from core.sweep import PairAttacks, by_pair, fooled_toward_each, pair_attacks
from dashboard.resources import dataset, source_images, trained
from dashboard.view import View, clip_range


@st.cache_resource(show_spinner=False)
def _work() -> SharedWork:
    return SharedWork()


_run = threading.local()  # each session's script runs in a thread of its own


def page_run_started() -> None:
    """Note when this page run began (the entry point calls it first): shared work serves the oldest run first."""
    _run.started = time.monotonic()


def shared(key: tuple, compute, doing: str, *, wait: bool = True):
    """``compute()`` once per server for ``key``, its result kept for every visitor (read-only arrays, please).

    While it runs (or waits for a free slot) the page shows a status line;
    the status updates are where a visitor's rerun or closed tab ends the
    wait, and the computation then stops unless someone else waits for it
    (:class:`core.jobs.work.SharedWork`). ``compute`` runs in another
    thread: get the model and the data before, never call Streamlit in it.

    ``wait=False``: the result if it is ready, else None at once, with the
    computation started (a page that asks again soon keeps it going).
    """
    work = _work()
    if not wait:
        ready, result = work.peek(key, compute, since=getattr(_run, "started", None))
        return result if ready else None
    kept = work.finished(key)
    if kept is not None:
        return kept
    box = st.empty()

    def status(now: WorkStatus) -> None:
        if now.ahead > 0:
            others = "computation" if now.ahead == 1 else "computations"
            box.caption(f":material/hourglass_top: {doing} Waiting for {now.ahead} other {others} on this server…")
        else:
            box.caption(f":material/hourglass_top: {doing}")

    try:
        # A status line once a second: often enough to notice a rerun or a closed tab soon, rarely enough
        # that eight waiting pages do not keep their browsers (and the server) busy redrawing it.
        return work.get(key, compute, status, poll=1.0, since=getattr(_run, "started", None))
    finally:
        box.empty()


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


# --- all pairs: per model and clipping (a click on another pair reuses them) ----------------------------


def all_pairs(settings: TrainingSettings, clip: bool) -> PairAttacks:
    """Every test image's exact minimal epsilon toward each other digit (read-only)."""
    data, model = dataset(settings.dataset), trained(settings).model

    def compute() -> PairAttacks:
        result = pair_attacks(model, data.x_test, data.y_test, clip=clip_range(clip))
        _read_only(result.minimal)
        return result

    return shared(("all pairs", settings, clip), compute, "Attacking every test image toward every other digit…")


@st.cache_resource(show_spinner=False, max_entries=64)
def pair_share(settings: TrainingSettings, clip: bool, eps: float) -> np.ndarray:
    """Share of the test images of each digit that ``eps`` turns into each other digit, (10, 10) (read-only).

    Not shared work: a fraction of a second even on 10,000 images, asked again at every slider stop, so it
    runs in the visitor's own page at full speed (the queue and its lower priority would double a rerun).
    """
    data, model = dataset(settings.dataset), trained(settings).model
    fooled = fooled_toward_each(model, data.x_test, data.y_test, eps, clip=clip_range(clip))
    return _read_only(by_pair(fooled, data.y_test, np.mean))


def _own_copy(pixels: np.ndarray) -> tuple[np.ndarray, str]:
    """One image's pixels as our own float64 copy (the computation runs in another thread) and a digest of them
    for the shared work's key (a visitor's own digit shares its answers as a test image does)."""
    pixels = np.array(pixels, dtype=np.float64)
    return pixels, hashlib.blake2b(pixels.tobytes(), digest_size=16).hexdigest()


# --- the attack lab -----------------------------------------------------------------------------------------


def optimal_epsilons(view: View, *, wait: bool = True) -> np.ndarray | None:
    """The exact optimal (any-attack) epsilon of every test image of the source digit (read-only); None if not
    ready and ``wait`` is False (:func:`shared`)."""
    _, images = source_images(view)
    model = trained(view.training).model

    def compute() -> np.ndarray:
        return _read_only(optimal_epsilon(model, images, view.target, clip=view.clip_range))

    return shared(
        ("optimal", view.training, view.clip, view.source, view.target),
        compute,
        "Solving the optimal attack for every test image of the digit…",
        wait=wait,
    )


def source_robustness(view: View, *, wait: bool = True):
    """Accuracy against epsilon of the source digit's test images: FGSM, PGD, the certified worst case; None if
    not ready and ``wait`` is False."""
    from core.sweep import robustness_curve

    _, images = source_images(view)
    model = trained(view.training).model

    def compute():
        grid = np.linspace(0.0, 0.4, 101)
        labels = np.full(len(images), view.source)
        return robustness_curve(model, images, labels, grid, clip=view.clip_range)

    return shared(
        ("robustness", view.training, view.clip, view.source),
        compute,
        "Attacking every test image of the digit at every epsilon…",
        wait=wait,
    )


def goodfellow_table(settings: TrainingSettings) -> list[tuple[str, float, float]]:
    """Untargeted gradient sign at eps = 0.25 on the whole test set: error rate and mean confidence of the wrong
    answers, unclipped (as the paper) and clipped."""
    data, model = dataset(settings.dataset), trained(settings).model

    def compute() -> list[tuple[str, float, float]]:
        rows = []
        for name, clip in (("unclipped (as the paper)", None), ("clipped to [0, 1]", (0.0, 1.0))):
            checkpoint()
            adversarial = fgsm(model, data.x_test, 0.25, labels=data.y_test, clip=clip)
            probabilities = model.predict_proba(adversarial)
            wrong = probabilities.argmax(axis=1) != data.y_test
            confidence = float(probabilities.max(axis=1)[wrong].mean()) if wrong.any() else float("nan")
            rows.append((name, float(wrong.mean()), confidence))
        return rows

    return shared(("goodfellow", settings), compute, "Attacking the whole test set at ε = 0.25…")


def linear_answers(model, pixels: np.ndarray, target: int, span) -> dict:
    """The linear model's exact answers about one image: the sign step's minimal epsilon, the best attack's, and
    the best attack's image (a hair past the tie, so the target wins); milliseconds."""
    _, winning = optimal_epsilon(model, pixels, target, clip=span, return_images=True, margin=1e-4)
    return {
        "minimal": float(minimal_epsilon(model, pixels, target, clip=span)),
        "optimal": float(optimal_epsilon(model, pixels, target, clip=span)),
        "optimal_image": _read_only(winning),
    }


def lab_answers(settings, clip: bool, target: int, truth: int, pixels: np.ndarray) -> dict:
    """Everything exact about one image, shared by its pixels (a visitor's own digit too) and stopped if abandoned."""
    model = trained(settings).model
    pixels, digest = _own_copy(pixels)

    def compute() -> dict:
        span = clip_range(clip)
        return {
            **linear_answers(model, pixels, target, span),
            "radius": float(robust_radius(model, pixels, truth, clip=span)),
        }

    return shared(
        ("lab answers", settings, clip, target, truth, digest), compute, "Solving the best attack and the certificate…"
    )


FEWEST_FIRST = 0.5  # seconds the fewest-pixels search gets for a first answer before the page says "proving…"
FEWEST_LIMIT = 10.0  # seconds for the proof


def lab_fewest(settings, clip: bool, target: int, pixels: np.ndarray, time_limit: float):
    """The fewest pixels that make ``target`` win (:func:`core.exact.fewest_pixels`) within ``time_limit``
    seconds: a :class:`FewestPixels`, ``proven`` or the best found so far; shared like :func:`lab_answers`."""
    model = trained(settings).model
    pixels, digest = _own_copy(pixels)

    def compute():
        return fewest_pixels(model, pixels, target, clip=clip_range(clip), time_limit=time_limit)

    return shared(("fewest pixels", settings, clip, target, digest, time_limit), compute, "Counting the fewest pixels…")


# --- beyond linear: the ReLU network beside the linear model ------------------------------------------------


def network_answers(view: View, pixels: np.ndarray) -> dict:
    """The chosen image on both models: each one's exact sign step epsilon, the linear model's exact best attack
    (its own certificate), and the network's certified bound toward the target.

    Not shared work: milliseconds, so it runs in the visitor's own page at full speed (the queue would put it
    behind the network's integer programs), cached per model, pair, clipping and pixels."""
    return _network_answers(view.training, view.network, view.clip, view.target, np.array(pixels, dtype=np.float64))


@st.cache_resource(show_spinner=False, max_entries=64)
def _network_answers(linear_settings, network_settings, clip: bool, target: int, pixels: np.ndarray) -> dict:
    from core.network_exact import target_bound

    linear, network = trained(linear_settings).model, trained(network_settings).model
    span = clip_range(clip)
    return {
        **{f"linear_{name}": value for name, value in linear_answers(linear, pixels, target, span).items()},
        "network_minimal": float(minimal_epsilon(network, pixels, target, clip=span)),
        "network_bound": target_bound(network, pixels, target, clip=span),
    }


NETWORK_LIMIT = 20.0  # seconds the network's integer program gets; then the page shows the bracket it reached


def network_optimum(view: View, pixels: np.ndarray, *, wait: bool = True):
    """The network's best attack (:func:`core.network_exact.network_optimal_epsilon`, a :class:`NetworkOptimum`), proven
    or bracketed within :data:`NETWORK_LIMIT` seconds; shared like :func:`lab_fewest`; None if not ready and
    ``wait`` is False (:func:`shared`)."""
    from core.network_exact import network_optimal_epsilon as network_optimal

    network = trained(view.network).model
    pixels, digest = _own_copy(pixels)

    def compute():
        return network_optimal(network, pixels, view.target, clip=view.clip_range, time_limit=NETWORK_LIMIT)

    return shared(
        ("network optimum", view.network, view.clip, view.target, digest),
        compute,
        "Solving the network's best attack (an integer program)…",
        wait=wait,
    )


NETWORK_GRID = (0.0, 0.4, 81)  # the success curves' epsilons: from, to, how many (the linear model's too)


def network_digit(view: View, *, wait: bool = True) -> dict | None:
    """Every test image of the source digit on the network: its exact sign step epsilon, its certified bound toward
    the target and its success curve (read-only arrays); None if not ready and ``wait`` is False (:func:`shared`).
    The linear model's are :func:`dashboard.resources.minimal_epsilons`, :func:`optimal_epsilons` and
    :func:`dashboard.resources.source_success_curve`."""
    from core.network import ray_minimal_epsilon as walk
    from core.network_exact import target_bound
    from core.sweep import success_curve

    _, images = source_images(view)
    network = trained(view.network).model

    def compute() -> dict:
        span, target = view.clip_range, view.target
        walked, bounds = [], []
        for image in images.astype(np.float64):  # one image at a time: a visitor who leaves stops it here
            checkpoint()
            walked.append(walk(network, image, target, clip=span))
            bounds.append(target_bound(network, image, target, clip=span))
        return {
            "network_minimal": _read_only(np.array(walked)),
            "network_bound": _read_only(np.array(bounds)),
            "network_curve": success_curve(network, images, target, np.linspace(*NETWORK_GRID), clip=span),
        }

    return shared(
        ("network digit", view.network, view.clip, view.source, view.target),
        compute,
        "Attacking every test image of the digit on the network…",
        wait=wait,
    )
