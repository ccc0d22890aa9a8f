"""Defenses: the normal model against one trained to resist the attack, side by side, with certified numbers."""

import numpy as np
import streamlit as st

from dashboard import charts, comparison_charts, results, widgets, wording
from dashboard.sidebar import defense_choice, sidebar, strength_input
from dashboard.view import View
from dashboard.wording import verdict

NAMES = results.NAMES
EPS = 0.1  # the epsilon of the numbers before a defense is picked, and of an L1 defense (it has none of its own)


def defense_name(view: View) -> str:
    return wording.defense_name(view.training)


def templates(settings) -> None:
    for name, each in zip(NAMES, settings):
        caption = f"{name} model: the templates of 0 to 9, left to right"
        st.image(
            results.template_strip(each),
            width="stretch",
            caption=caption,
            alt=f"{caption}: red where a pixel raises the class's score, blue where it lowers it.",
        )


def transfer(view: View, settings: tuple, eps: float) -> None:
    """The normal model's adversarial images at ``eps`` shown to both models."""
    _, images = results.source_images(view)
    attacked, said = results.shown_to_both(view, *settings, eps)
    shares = [float(np.mean(s == view.target)) for s in said]
    st.markdown(
        f"The gradient sign attack on the **normal** model at ε = {eps:.3f} makes {shares[0]:.0%} of the "
        f"{len(images)} test images of digit {view.source} read as {view.target}; shown to the **defended** model, "
        f"{shares[1]:.0%} of the same images read as {view.target}."
    )
    shown = range(min(8, len(images)))  # a row that wraps on a phone instead of one picture per line
    st.image(
        [np.clip(attacked[i].reshape(28, 28), 0, 1) for i in shown],
        width=104,
        caption=[f"normal: {said[0][i]} · defended: {said[1][i]}" for i in shown],
        alt=[
            f"Adversarial image {i} made on the normal model at ε {eps:.3f}: the normal model reads "
            f"{said[0][i]}, the defended one {said[1][i]}."
            for i in shown
        ],
    )


def undefended(view: View) -> None:
    """Before a defense is picked: the normal model's own numbers, and what to do."""
    st.info(
        "Pick a defense above to train it and compare it with the normal model. The sidebar's model then "
        "uses it on every page, so the other pages attack the defended model."
    )
    result = results.trained(view.training)
    curve, radius = results.test_set_robustness(view.training, view.clip)
    columns = st.columns(3)
    columns[0].metric("Clean accuracy", f"{result.test_accuracy:.1%}")
    columns[1].metric(
        f"Certified at ε = {EPS:g}",
        f"{np.mean(radius > EPS):.1%}",
        help=f"No perturbation of size {EPS:g} inside [0, 1] changes these answers",
    )
    columns[2].metric(
        f"Under gradient sign at ε = {EPS:g}", f"{results.accuracy_under_fgsm(view.training, view.clip, EPS):.1%}"
    )
    st.altair_chart(comparison_charts.defense_chart({NAMES[0]: curve}), width="stretch")  # nothing chosen here yet


def numbers_ui(view: View, settings: tuple, models: list, eps: float) -> None:
    """What the defense bought and cost at epsilon: one sentence and four numbers, each beside the normal model's."""
    clean, certified, attacked = results.defense_numbers(*settings, view.clip, eps)
    st.markdown(verdict(defense_name(view), clean, certified, eps))
    columns = st.columns(4)
    columns[0].metric("Clean accuracy", f"{clean[1]:.1%}", f"{(clean[1] - clean[0]) * 100:+.1f} pts vs normal")
    columns[1].metric(
        f"Certified at ε = {eps:.3f}",
        f"{certified[1]:.1%}",
        f"{(certified[1] - certified[0]) * 100:+.1f} pts vs normal",
    )
    columns[2].metric(
        f"Under gradient sign at ε = {eps:.3f}",
        f"{attacked[1]:.1%}",
        f"{(attacked[1] - attacked[0]) * 100:+.1f} pts vs normal",
    )
    columns[3].metric(
        "Training time",
        f"{models[1].seconds:.1f} s",
        help="The defended model, trained on this server (the normal one may have come with the app)",
    )


def charts_ui(view: View, settings: tuple, eps: float) -> None:
    """Both models against epsilon, and their histograms of the certified radius and of the sign step's epsilon."""
    accuracy, radii = results.defense_charts(*settings, view.clip)
    st.altair_chart(charts.with_chosen_eps(accuracy, eps), width="stretch")
    st.caption(
        "Solid: certified accuracy (exact: no attack of size ε changes these answers). Dashed: accuracy "
        "under the untargeted gradient sign attack, which never does better than the worst case."
    )
    left, right = st.columns(2)  # the same chart objects every rerun: Altair converts them again quickly
    left.altair_chart(radii, width="stretch")
    right.altair_chart(results.sign_histograms(*settings, view.source, view.target, view.clip), width="stretch")
    st.caption(
        f"Any attack: every test image, the best possible attack. Gradient sign: the test images of digit "
        f"{view.source} attacked toward {view.target}, each at its exact minimal ε."
    )


def templates_ui(settings: tuple) -> None:
    """Both models' weight templates, and how far the same epsilon moves their scores."""
    st.subheader("The weight templates")
    reach = [results.pair_reach(each) for each in settings]
    st.caption(
        f"Red pixels raise a digit's score, blue lower it. At ε the best attack moves the lead of class j over k by "
        f"ε × the L1 norm of w_j − w_k: {reach[0]:.1f} for the normal model and {reach[1]:.1f} for the defended "
        f"one, on average over the 90 pairs, so the same ε moves its scores {reach[0] / reach[1]:.1f}× less "
        "(inside [0, 1] the pixels already at an edge move less still)."
    )
    templates(settings)


def main(view: View) -> None:
    st.title("Defenses: can a linear model be made harder to fool?")
    inside = "inside [0, 1]" if view.clip else "(pixels may leave [0, 1]: clipping is off)"
    st.caption(
        "The normal model beside one trained to resist the attack. Certified accuracy is exact: no perturbation "
        f"of size ε {inside}, of any kind, changes those answers."
    )
    left, right = st.columns([3, 2], vertical_alignment="bottom")
    with left:
        defense_choice(view)
    if view.defense == "none":
        undefended(view)
        return
    with right:
        strength_input(view, "_defenses")
    settings = (view.training.undefended(), view.training)  # the normal model, the defended one
    models = [results.trained(each) for each in settings]
    eps = widgets.eps_slider(
        start=view.training.adversarial_eps or EPS,
        key_suffix="_defenses",
        help="The attack's size for the numbers below; starts at the defense epsilon",
    )
    numbers_ui(view, settings, models, eps)
    charts_ui(view, settings, eps)
    templates_ui(settings)
    st.subheader(f"Transfer: the normal model's adversarial {view.source} → {view.target} images")
    transfer(view, settings, eps)
    widgets.attack_link(view, "Attack the defended model image by image")


main(sidebar())
