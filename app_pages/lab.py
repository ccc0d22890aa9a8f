"""Attack lab: the gradient sign step against the best possible attack, a certificate, PGD and the fewest pixels."""

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import comparison_charts, lab_norms, pictures, results, widgets
from dashboard.sidebar import sidebar
from dashboard.view import View
from dashboard.wording import the_class

SCALE = 6  # 28 px -> 168 px
PAPER = ("The paper (MNIST)", 0.999, 0.793)  # Goodfellow, Shlens & Szegedy (2015), section 4: a shallow softmax


def picture(x: np.ndarray, clip: bool):
    return pictures.picture(x, clip, SCALE)


def numbers_ui(answers: dict, view: View, truth: int, subject: str) -> None:
    minimal, optimal, radius = answers["minimal"], answers["optimal"], answers["radius"]
    shown = lambda eps: "never (up to 1)" if not np.isfinite(eps) else f"{eps:.4f}"  # noqa: E731
    columns = st.columns(3)
    columns[0].metric("Sign step needs ε", shown(minimal), help="The gradient sign step's exact minimal ε")
    columns[1].metric("Best attack needs ε", shown(optimal), help="The best possible attack (a linear program)")
    columns[2].metric("Certified below ε", shown(radius), help="No perturbation below this ε changes the answer")
    if np.isfinite(minimal) and np.isfinite(optimal):
        verdict = (
            "the gradient sign step is already the best attack here"
            if minimal <= optimal * (1 + 1e-6)  # the LP solves to about 1e-7
            else f"the gradient sign step needs {minimal / optimal:.3f}× the optimum"
        )
        st.markdown(
            f"To make {subject} a **{view.target}**, {verdict}: no perturbation with ε below **{optimal:.4f}** "
            "(each pixel moved by at most ε, the image kept in range) can do it."
        )
    if np.isfinite(radius) and radius > 0:
        st.markdown(
            f"**No attack of any kind with ε < {radius:.4f} changes this answer ({truth})**: below it, every "
            "class stays behind, whatever the perturbation. That is a certificate, computed exactly."
        )
    elif radius == 0:
        st.markdown(f"The model does not answer {truth} for {subject} to begin with (or it is tied): no certificate.")


def images_ui(x, answers, view: View, truth: int, eps: float):
    clip = view.clip
    shown = results.lab_images(view, x, answers, truth, eps)
    columns = st.grid(6, min_column_width=104)  # six in a row on a desktop, three on a phone (a cell per call)
    original = f"Original: says {shown.original_says}"
    columns.image(picture(x, True), caption=original, width="stretch", alt=f"The image attacked. {original}.")
    if shown.sign_step is not None:
        step, attacked, said = shown.sign_step
        caption = f"Gradient sign, ε {step:.3f}: says {said}"
        columns.image(
            picture(attacked, clip),
            caption=caption,
            width="stretch",
            alt=f"The image after the gradient sign step at ε {step:.3f}: says {said}.",
        )
    else:
        columns.caption("The gradient sign step never reaches the target.")
    if shown.optimal_says is not None:
        caption = f"Optimal, ε {answers['optimal']:.3f}: says {shown.optimal_says}"
        columns.image(
            picture(answers["optimal_image"], clip),
            caption=caption,
            width="stretch",
            alt=f"The image after the best possible attack. {caption}.",
        )
    else:
        columns.caption("No attack up to ε = 1 reaches the target.")
    if shown.worst is not None:
        worst, rival = shown.worst
        caption = f"Worst case at ε {answers['radius']:.3f}: {rival} ties {truth}"
        columns.image(
            picture(worst, clip),
            caption=caption,
            width="stretch",
            alt=f"The worst case at the certified radius: {caption}.",
        )
    else:
        columns.caption("No certificate for this image.")
    iterated, said = shown.pgd
    caption = f"PGD, 10 steps, ε {eps:.3f}: says {said}"
    columns.image(picture(iterated, clip), caption=caption, width="stretch", alt=f"The image after {caption}.")
    return columns.empty()  # the fewest pixels' cell: filled in last (fewest_ui), the rest of the page first


def fewest_ui(cell, x, view: View) -> None:
    """The fewest pixels, after everything else is on screen: a quick answer first ("at most N pixels, proving…"),
    then the proof; an integer program can take seconds where the rest takes milliseconds."""
    cell.caption(f":material/hourglass_top: Counting the fewest pixels (up to {results.FEWEST_LIMIT:g} s)…")
    fewest = results.lab_fewest(view, x, results.FEWEST_FIRST)
    if not fewest.proven:
        show_fewest(cell, view, x, fewest, "at most ", " (proving…)")
        fewest = results.lab_fewest(view, x, results.FEWEST_LIMIT)
    show_fewest(
        cell,
        view,
        x,
        fewest,
        "" if fewest.proven else "at most ",
        ", proven" if fewest.proven else " (best found in the time limit)",
    )


def show_fewest(cell, view: View, x, fewest, before: str, after: str) -> None:
    count, image = fewest
    if count > 0:
        caption = f"Fewest pixels: {before}{count}{after}: says {results.probabilities(view.training, image).argmax()}"
        cell.image(
            pictures.marked(x, image, SCALE),
            caption=caption,
            width="stretch",
            alt=f"The fewest pixels changed, red brighter, blue darker. {caption}.",
        )
    else:
        cell.caption("No change of any pixels makes the target win." if count < 0 else "Already the target.")


def all_images_ui(view: View, eps: float) -> None:
    """Every test image of the source digit: drawn at once if its answers are ready, else filled in when they are
    (the rest of the page does not wait: a fragment looks every half second, then the page draws them)."""
    optimal, curve = results.optimal_epsilons(view, wait=False), results.source_robustness(view, wait=False)
    if optimal is not None and curve is not None:
        all_images_drawn(view, eps, optimal, curve)
    else:
        st.fragment(all_images_later, run_every=results.POLL)(view)


def all_images_later(view: View) -> None:
    st.subheader(f"All {len(results.source_images(view)[0])} test images of {the_class(view.dataset, view.source)}")
    st.info("Solving the best attack for every one of them; the charts fill in here.", icon=":material/hourglass_top:")
    optimal, curve = results.optimal_epsilons(view, wait=False), results.source_robustness(view, wait=False)
    if optimal is not None and curve is not None:
        st.rerun()  # both ready: the whole page, once, draws them (and stops looking)


def all_images_drawn(view: View, eps: float, optimal: np.ndarray, curve) -> None:
    """The sign step against the optimum, and accuracy as epsilon grows."""
    st.subheader(f"All {len(results.source_images(view)[0])} test images of {the_class(view.dataset, view.source)}")
    left, right = st.columns(2)
    minimal = results.minimal_epsilons(view)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = np.where(optimal > 0, minimal / optimal, 1.0)
    left.altair_chart(comparison_charts.ratio_histogram(ratios, target=view.target), width="stretch")
    right.altair_chart(comparison_charts.robustness_chart(curve, chosen_eps=eps), width="stretch")
    left.caption("How close the gradient sign step comes to the best attack toward the target, image by image.")
    right.caption(
        f"Accuracy on the {view.source}s as epsilon grows (untargeted), under each attack and in the exact worst "
        "case: no attack can push accuracy below the green line."
    )


def classic_ui(view: View) -> None:
    """Goodfellow, Shlens & Szegedy's table, with this model's numbers beside the paper's."""
    st.subheader("The classic result, reproduced")
    label = results.dataset_label(view.training.dataset)
    rows = [(PAPER[0], PAPER[1], PAPER[2])]
    table = results.goodfellow_table(view.training)
    rows += [(f"This model, {name}", error, confidence) for name, error, confidence in table]
    # one decimal everywhere, as the paper gives its numbers (99.9%, 79.3%); short, so it fits a phone
    table = [
        {"model": model, "error rate": f"{error:.1%}", "confidence when wrong": f"{confidence:.1%}"}
        for model, error, confidence in rows
    ]
    st.table(pd.DataFrame(table).set_index("model"))  # a static table: its headers wrap on a phone, never cut
    st.caption(
        f"Untargeted gradient sign method at ε = 0.25 on the whole test set of {label}. The paper, Goodfellow, "
        "Shlens & Szegedy, section 4: “using ε = .25, we cause a shallow softmax classifier to have an error rate of "
        "99.9% with an average confidence of 79.3% on the MNIST test set” (Explaining and Harnessing Adversarial "
        "Examples, ICLR 2015, arXiv:1412.6572)."
    )


def main(view: View) -> None:
    heading = st.empty()
    st.caption(
        "For a linear model every question here has an exact answer: the best possible attack (a linear program), "
        "a certificate that no attack can do better, the iterative method, and the fewest pixels (an integer program)."
    )
    results.trained(view.training)
    selected, eps = widgets.image_and_eps(view, key_suffix="_lab", slider=view.norm in ("inf", "0"))
    heading.title(f"Attack lab: {selected.pair(view)}, at its best and its worst")
    norm = widgets.norm_choice()  # what a change is measured by: every answer below follows it
    x = selected.pixels.astype(np.float64)
    truth = selected.truth(view)
    subject = "your digit" if selected.own else "this image"
    if norm in ("2", "1"):
        norm_answers = lab_norms.numbers_ui(view, x, truth, subject)
        fewest_cell = lab_norms.images_ui(view, x, truth, norm_answers)
    else:
        answers = results.lab_answers(view, truth, x)
        if norm == "0":
            lab_norms.pixels_ui(view, x, truth, eps, answers, subject)
        else:
            numbers_ui(answers, view, truth, subject)
        fewest_cell = images_ui(x, answers, view, truth, eps)
    first = (
        "Nearest other answer: the smallest change that makes the model answer anything else, the certificate's "
        "image. DeepFool steps to the boundary of its linearised model, again until the target wins."
        if norm in ("2", "1")
        else "PGD starts from the gradient sign step and takes ten smaller steps, keeping its best image: the "
        "steps overshoot and come back, so its last image alone can do worse than the single step, its best "
        "never does."
    )
    st.caption(
        f"{first} Fewest pixels: red pixels were made brighter, blue ones darker; each may take any value in [0, 1]."
    )
    fewest_ui(fewest_cell, x, view)  # everything above is on screen while it counts
    if norm in ("2", "1"):
        lab_norms.digit_ui(view)
    else:
        all_images_ui(view, eps)  # the whole digit's answers: now, or filled in when ready
    lab_norms.noise_ui(view, x)
    classic_ui(view)


main(sidebar())
