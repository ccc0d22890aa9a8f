"""The attack lab in L2, L1 and L0, and random noise beside the attack: the parts of the lab page that change with
the norm picked (``norm=``). The L-inf answers are the page's own (:mod:`app_pages.lab`)."""

from __future__ import annotations

import numpy as np
import streamlit as st

from dashboard import norm_charts, pictures, results
from dashboard.view import View
from dashboard.wording import the_class

SCALE = 6  # 28 px -> 168 px, as the lab's other pictures
LABELS = {"inf": "L∞", "2": "L2", "1": "L1", "0": "L0"}
TOGGLE = "lab_noise_models"  # the session key of "add the defended model and the network"


def label(norm: str) -> str:
    return LABELS[norm]


def shown(value: float) -> str:
    return f"{value:.3f}" if np.isfinite(value) else "never"


def answers_of(view: View, x: np.ndarray, truth: int) -> dict:
    return results.norm_answers(view.training, view.clip, view.target, truth, view.norm, x)


def numbers_ui(view: View, x: np.ndarray, truth: int, subject: str) -> dict:
    """The three numbers in L2 or L1: the sign step's size, the smallest change, the certificate; a sentence."""
    answers, name = answers_of(view, x, truth), label(view.norm)
    sign = answers["attacks"]["Gradient sign step"][0]
    columns = st.columns(3)
    columns[0].metric(
        f"Sign step's {name}", shown(sign), help=f"The gradient sign step at its own smallest ε, in {name}"
    )
    columns[1].metric(f"Smallest {name} change", shown(answers["optimal"]), help="Exact: a convex program, solved")
    columns[2].metric(f"Certified below {name}", shown(answers["radius"]), help="No smaller change changes the answer")
    if np.isfinite(answers["optimal"]):
        factors = ", ".join(
            f"{attack} {distance / answers['optimal']:.3f}×" if np.isfinite(distance) else f"{attack} never"
            for attack, (distance, _) in answers["attacks"].items()
        )
        st.markdown(
            f"To make {subject} a **{view.target}**, no change of {name} size below **{answers['optimal']:.3f}** "
            f"(the image kept in range) can do it. The usual attacks, against that optimum: {factors}."
        )
    if np.isfinite(answers["radius"]) and answers["radius"] > 0:
        st.markdown(
            f"**No change of {name} size below {answers['radius']:.3f} changes this answer ({truth})**: the nearest "
            f"other answer is {answers['worst'][1]}. A certificate, computed exactly."
        )
    return answers


def images_ui(view: View, x: np.ndarray, truth: int, answers: dict):
    """The lab's row of pictures in L2 or L1: original, sign step, optimum, nearest other answer, DeepFool."""
    name, clip = label(view.norm), view.clip
    says = lambda image: int(results.probabilities(view.training, image).argmax())  # noqa: E731
    columns = st.grid(6, min_column_width=104)
    original = f"Original: says {says(x)}"
    columns.image(pictures.picture(x, True, SCALE), caption=original, width="stretch", alt=f"The image. {original}.")
    worst, rival = answers["worst"]
    cells = [
        ("Gradient sign", *answers["attacks"]["Gradient sign step"]),
        (f"Smallest {name}", answers["optimal"], answers["optimal_image"]),
        ("Nearest other answer", answers["radius"], worst),
        ("DeepFool", *answers["attacks"]["DeepFool"]),
    ]
    for what, distance, image in cells:
        if np.isfinite(distance):
            said = f"{rival} ties {truth}" if image is worst else f"says {says(image)}"
            caption = f"{what}, {name} {distance:.3f}: {said}"
            columns.image(pictures.picture(image, clip, SCALE), caption=caption, width="stretch", alt=f"{caption}.")
        else:
            columns.caption(f"{what}: never reaches the target.")
    return columns.empty()


def pixels_ui(view: View, x: np.ndarray, truth: int, eps: float, answers: dict, subject: str) -> None:
    """L0: how many pixels each attack changes (the fewest, proven, fills in with its picture)."""
    images = results.lab_images(view, x, answers, truth, eps)
    count = lambda image: int(np.count_nonzero(np.abs(image - x) > 1e-9))  # noqa: E731
    columns = st.columns(3)
    sign = count(images.sign_step[1]) if images.sign_step is not None else None
    optimal = count(answers["optimal_image"]) if np.isfinite(answers["optimal"]) else None
    columns[0].metric("Sign step changes", "never" if sign is None else f"{sign} pixels")
    columns[1].metric("Best L∞ attack changes", "never" if optimal is None else f"{optimal} pixels")
    columns[2].metric("Pixels in the image", "784")
    st.markdown(
        f"The L∞ attacks move many pixels a little; the fewest pixels that make {subject} a **{view.target}** move "
        "a few a lot: an integer program counts them exactly (the last picture, when it is proven)."
    )


def digit_ui(view: View) -> None:
    """Every test image of the digit: each attack's size ÷ the smallest change, as a histogram and a table."""
    name = label(view.norm)
    st.subheader(f"All {len(results.source_images(view)[0])} test images of {the_class(view.dataset, view.source)}")
    ratios = results.norm_gaps(view, wait=False)
    if ratios is None:
        st.fragment(_gaps_later, run_every=results.POLL)(view)
        return
    left, right = st.columns(2)
    left.altair_chart(norm_charts.gap_strip(ratios, name), width="stretch")
    right.table(norm_charts.gap_table(ratios))
    right.caption(
        f"Each attack's {name} size ÷ the exact smallest {name} change toward {view.target}, image by image: "
        "1 is optimal. DeepFool (Moosavi-Dezfooli et al. 2016) and Carlini & Wagner (2017) look for a small L2 "
        "change; the gradient sign step for a small L∞ one. "
        + ("On a linear model DeepFool's linearisation is the model itself." if view.norm == "2" else "")
    )


def _gaps_later(view: View) -> None:
    st.info(
        "Measuring every attack against the optimum; the chart and the table fill in here.",
        icon=":material/hourglass_top:",
    )
    if results.norm_gaps(view, wait=False) is not None:
        st.rerun()


def noise_ui(view: View, x: np.ndarray) -> None:
    """Random noise from the chosen image and from every test image of the digit, against the attack: filled in
    when ready (the rest of the page does not wait)."""
    st.subheader("Random noise does almost nothing")
    wanted = st.toggle(
        "Also the defended model and the network",
        key=TOGGLE,
        help="Adds their test images to the right-hand chart (trains them first if this server has not yet)",
    )
    models = ("linear", "defended", "network") if wanted else ("linear",)
    if wanted:
        for settings in (view.defended, view.network):
            results.trained(settings)
    answers = _noise_answers(view, x, models)
    if answers is None:
        st.fragment(_noise_later, run_every=results.POLL)(view, x, models)
    else:
        noise_drawn(view, *answers)


def _digit_answers_ready(view: View) -> bool:
    """Whether the page's own answers about every test image of the digit are in (noise waits for them)."""
    if view.norm in ("2", "1"):
        return results.norm_gaps(view, wait=False) is not None
    return results.optimal_epsilons(view, wait=False) is not None and (
        results.source_robustness(view, wait=False) is not None
    )


def _noise_answers(view: View, x: np.ndarray, models: tuple[str, ...]):
    """Both noise results if they are in, else None; asked only once the page's own answers are in, so the
    noise walks never hold up what the page shows first."""
    if not _digit_answers_ready(view):
        return None
    one, ratios = results.noise_image(view, x, wait=False), results.noise_digit(view, models, wait=False)
    return None if one is None or ratios is None else (one, ratios)


def noise_drawn(view: View, one: dict, ratios: dict) -> None:
    norm = results.noise_norm(view.norm)
    name = label(norm)
    noise, attack = one["noise"], one["attack"]
    left, right = st.columns(2)
    histogram, spread = results.noise_figures(noise, attack, tuple(ratios.items()), name)
    left.altair_chart(histogram, width="stretch")
    right.altair_chart(spread, width="stretch")
    summary = "; ".join(f"{norm_charts.MODEL_NAMES[model]} {typical(r)}" for model, r in ratios.items())
    right.caption(
        f"Per test image: the median {name} distance along {results.DIGIT_DIRECTIONS} random directions ÷ the "
        f"smallest change that changes the answer. Medians: {summary}."
        + (
            " The network's attack is DeepFool's, an upper bound: its factor is at least this."
            if len(ratios) > 1
            else ""
        )
    )
    median = float(np.median(noise))
    more = "" if norm == view.norm else f"Measured in {name} (random directions are drawn in L2 or L∞). "
    if np.isfinite(median) and np.isfinite(attack) and attack > 0:
        st.markdown(
            f"{more}Along a random direction, the answer changes only after a change of {name} size "
            f"**{median:.2f}** (the median over {len(noise)} directions; {int(np.isinf(noise).sum())} never change "
            f"it): **{median / attack:.0f} times** the smallest change that does ({attack:.3f}). Fawzi, Fawzi & "
            "Frossard (2018) prove that for a linear classifier this factor is about √d = √784 = 28 without a "
            "pixel range: almost every direction runs nearly parallel to the boundary, and the attack's is the one "
            "that does not. Within [0, 1] many pixels stop at their edges, so the factor is smaller."
        )


def typical(ratios: np.ndarray) -> str:
    """The median image's factor; "never" where most images' random directions never change the answer."""
    middle = float(np.quantile(ratios, 0.5, method="lower"))
    return f"{middle:.0f}×" if np.isfinite(middle) else "never (most images keep their answer along most directions)"


def _noise_later(view: View, x: np.ndarray, models: tuple[str, ...]) -> None:
    st.info(
        "Walking random directions from this image and every test image of the digit; the charts fill in here.",
        icon=":material/hourglass_top:",
    )
    if _noise_answers(view, x, models) is not None:
        st.rerun()  # both ready: the whole page, once, draws them (and stops looking)
