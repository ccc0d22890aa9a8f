"""Beyond linear: the same digit attacked on the softmax model and on a small ReLU network, with exact answers on
both sides where they exist, a certified bracket where they do not, and what carries over between them."""

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import comparison_charts, pictures, results, robustness_table, widgets
from dashboard.sidebar import sidebar
from dashboard.view import NETWORK_SIZES, View
from dashboard.wording import the_class

SCALE = 6  # 28 px -> 168 px


def shown(eps: float) -> str:
    return "never (up to 1)" if not np.isfinite(eps) else f"{eps:.4f}"


def picture(x: np.ndarray, clip: bool):
    return pictures.picture(x, clip, SCALE)


def linear_name(view: View) -> str:
    return "Linear (softmax)" if view.defense == "none" else "Linear (softmax, defended)"


def network_name(view: View) -> str:
    return f"ReLU network, {view.hidden} units"


def size_picker(view: View) -> None:
    st.radio(
        "Hidden units of the network",
        NETWORK_SIZES,
        horizontal=True,
        format_func=lambda size: f"{size} units",
        help="One hidden layer of ReLU units, trained with Adam on the same digits, epochs and seed as the "
        "linear model (the sidebar). A new size trains once, then is kept.",
        **widgets.bind("hidden"),
    )


def models_ui(view: View):
    """Both models (a network not trained yet trains now, with its progress bar) and their clean accuracy."""
    linear, network = results.trained(view.training), results.trained(view.network)
    columns = st.columns(2)
    columns[0].metric(f"{linear_name(view)}: test accuracy", f"{linear.test_accuracy:.1%}")
    undefended = ", no defense" if view.defense != "none" else ""
    columns[1].metric(
        f"Network ({view.hidden} units{undefended}): test accuracy",
        f"{network.test_accuracy:.1%}",
        delta=f"{(network.test_accuracy - linear.test_accuracy) * 100:+.1f} points",
    )
    if view.defense != "none":
        st.caption(
            f"The linear model here is the sidebar's, defended ({defense_words(view)}); the network is trained "
            "without a defense, so the two differ in more than their shape. Set the sidebar's defense to None "
            "to compare the network with the normal linear model."
        )
    return view.training, view.network


def defense_words(view: View) -> str:
    defended = view.defended
    if defended.adversarial_eps:
        return f"adversarial training at ε = {defended.adversarial_eps:g}"
    return f"L1 weight decay {defended.l1:g}"


def optimum_text(optimum) -> str:
    if optimum is None:
        return f"solving… (up to {results.NETWORK_LIMIT:g} s)"
    if optimum.proven:
        return f"{shown(optimum[0])} (proven)"
    low, high = optimum.bracket
    return f"{low:.4f} to {high:.4f}"  # the time limit came first: the optimum is somewhere in between


def table_ui(view: View, answers: dict, models, x: np.ndarray, optimum=None) -> None:
    """The numbers side by side, short enough for a phone; the network's best attack says "solving…" until the
    verifier answers."""
    said = [f"{p.argmax()} ({p.max():.0%})" for p in (results.probabilities(each, x) for each in models)]
    rows = {
        "reads it as": said,
        "sign step ε": [shown(answers["linear_minimal"]), shown(answers["network_minimal"])],
        "best attack ε": [f"{shown(answers['linear_optimal'])} (exact)", optimum_text(optimum)],
        "certified below ε": [shown(answers["linear_optimal"]), shown(answers["network_bound"])],
    }
    frame = pd.DataFrame(rows, index=["Linear", f"Network ({view.hidden})"]).T
    st.dataframe(frame, width="stretch")


BELOW_THE_TABLE = (
    "Sign step ε: the smallest ε at which each model's own gradient sign step makes it say the target, exact for "
    "both (the path is piecewise linear in ε). Best attack ε: the smallest ε at which any change of at most ε per "
    "pixel does, exact for the linear model (a linear program); for the network a complete verifier's answer "
    "(branch and bound over its ReLUs), proven to 1e-4 or bracketed when its time runs out. Certified below ε: "
    "no change smaller than this can do it; for the linear model the best attack itself, for the network a "
    "linear relaxation of its ReLUs (CROWN)."
)


def images_ui(view: View, models, x: np.ndarray, answers: dict):
    """The image, and what each model's sign step and best attack make of it; the network's best attack last."""
    linear, network = (results.probabilities(each, x).argmax() for each in models)
    cells = st.grid(5, min_column_width=104)  # five in a row on a desktop, three then two on a phone
    said = f"Original: linear says {linear}, network {network}"
    cells.image(picture(x, True), caption=said, width="stretch", alt=f"The image attacked. {said}.")
    steps = results.sign_steps(view, x, {"linear": answers["linear_minimal"], "network": answers["network_minimal"]})
    for name, key in (("Linear", "linear"), ("Network", "network")):
        if steps[key] is not None:
            step, attacked, says = steps[key]
            caption = f"{name}, sign step ε {step:.3f}: says {says}"
            cells.image(
                picture(attacked, view.clip),
                caption=caption,
                width="stretch",
                alt=f"The image after the {name.lower()} model's gradient sign step. {caption}.",
            )
        else:
            cells.caption(f"{name}: the gradient sign step never reaches the target.")
    if np.isfinite(answers["linear_optimal"]):
        best = answers["linear_optimal_image"]
        says = results.probabilities(models[0], best).argmax()
        caption = f"Linear, best attack ε {answers['linear_optimal']:.3f}: says {says}"
        cells.image(
            picture(best, view.clip),
            caption=caption,
            width="stretch",
            alt=f"The image after the best possible attack on the linear model. {caption}.",
        )
    else:
        cells.caption("Linear: no attack up to ε = 1 reaches the target.")
    return cells.empty()  # the network's best attack, when the verifier has answered (optimum_ui)


def optimum_ui(cell, view: View, models, x: np.ndarray, optimum) -> None:
    """The network's best attack in its cell: the image once the verifier has answered."""
    if optimum is None:
        cell.caption(f":material/hourglass_top: Network: solving its best attack (up to {results.NETWORK_LIMIT:g} s)…")
    elif np.isfinite(optimum[0]):
        exact = "best attack" if optimum.proven else "best attack found"
        says = results.probabilities(models[1], optimum[1]).argmax()
        caption = f"Network, {exact} ε {optimum[0]:.3f}: says {says}"
        cell.image(
            picture(optimum[1], view.clip),
            caption=caption,
            width="stretch",
            alt=f"The image after the {exact} on the network. {caption}.",
        )
    else:
        cell.caption("Network: no attack up to ε = 1 reaches the target.")


def optimum_later(view: View, x: np.ndarray) -> None:
    """While the verifier runs (up to seconds, where the rest takes milliseconds): a box under the table that
    looks every half second, then the whole page once, with the answer in the table and its image."""
    st.info(
        "Solving the network's best attack, by branch and bound over its ReLUs (at most "
        f"{results.NETWORK_LIMIT:g} s); its answer will fill in here, in the table and the last picture.",
        icon=":material/hourglass_top:",
    )
    if results.network_optimum(view, x, wait=False) is not None:
        st.rerun()


def transfer_ui(view: View, eps: float) -> dict:
    """Adversarial images made on one model shown to the others: the share read as the target at ``eps``."""
    _, images = results.source_images(view)
    names = {"linear": "Linear", "defended": "Defended", "network": f"Network ({view.hidden})"}
    models = {"linear": view.linear, "defended": view.defended, "network": view.network}
    for each in models.values():  # a model not trained yet trains now, with its progress bar
        results.trained(each)
    shares = results.transfer_shares(view, models, eps)
    table = pd.DataFrame(
        {f"→ {names[to]}": [f"{shares[made][to]:.0%}" for made in models] for to in models},
        index=[names[made] for made in models],
    )
    st.subheader(f"Does the attack transfer? ε = {eps:.3f}")
    st.dataframe(table, width="stretch")
    how = defense_words(view)
    st.caption(
        f"Each row: the gradient sign step toward {view.target} made on one model, at the chosen ε, for "
        f"all {len(images)} test images of {the_class(view.dataset, view.source)}; each column (→): the share "
        f"a model then reads as {view.target}. The diagonal is each model attacked on its own gradient. "
        f"The defended model is the linear one with {how} (the sidebar's defense)."
    )
    return shares


def sentence(view: View, digit: dict, shares: dict, eps: float) -> str:
    """What the numbers show, computed: does the network need a larger epsilon, and does the attack transfer?"""
    linear, network = np.median(digit["linear_minimal"]), np.median(digit["network_minimal"])
    n = len(digit["linear_minimal"])
    if not (np.isfinite(linear) and np.isfinite(network)):
        need = "Along the gradient sign ray, at least half of them never reach the target on one of the models"
    else:
        ratio = network / linear
        verdict = (
            "harder to fool, but fooled the same way"
            if ratio > 1.05
            else "no harder to fool"
            if ratio < 0.95
            else "about as easy to fool"
        )
        need = (
            f"On these {n} images the network needs a median ε of **{network:.3f}** along the gradient sign ray, "
            f"{ratio:.2f}× the linear model's **{linear:.3f}**: {verdict}"
        )
    own, carried = shares["network"]["network"], shares["linear"]["network"]
    back = shares["network"]["linear"]
    if own == 0:
        transfer = "the network is not fooled at this ε even on its own gradient"
    elif carried >= own / 2:
        transfer = (
            f"most of the attack carries over: the linear model's nudge does {carried / own:.0%} of what the "
            "network's own does, so both lean on the same pixels"
        )
    else:
        transfer = f"less than half of the attack carries over ({carried / own:.0%} of what its own gradient does)"
    return (
        f"{need}. At ε = {eps:.3f}, images made on the linear model fool the network **{carried:.0%}** of the time "
        f"(its own gradient: {own:.0%}), and images made on the network fool the linear model **{back:.0%}** of "
        f"the time: {transfer}."
    )


def whole_digit(view: View) -> dict | None:
    """Every test image of the source digit on both models, or None while the network's or the linear optimum's
    answers are on their way (asking starts them): the linear model's come from the caches the other pages use."""
    network, optimal = results.network_digit(view, wait=False), results.optimal_epsilons(view, wait=False)
    if network is None or optimal is None:
        return None
    return {
        **network,
        "linear_minimal": results.minimal_epsilons(view),
        "linear_optimal": optimal,
        "linear_curve": results.source_success_curve(view, *results.NETWORK_GRID),
    }


def digit_ui(view: View, eps: float) -> None:
    """Every test image of the source digit on both models: drawn now if ready, else filled in when it is."""
    digit = whole_digit(view)
    if digit is not None:
        digit_drawn(view, eps, digit)
    else:
        st.fragment(digit_later, run_every=results.POLL)(view)


def digit_later(view: View) -> None:
    st.subheader(f"All {len(results.source_images(view)[0])} test images of {the_class(view.dataset, view.source)}")
    st.info("Attacking every one of them on both models; the charts fill in here.", icon=":material/hourglass_top:")
    if whole_digit(view) is not None:
        st.rerun()


def digit_drawn(view: View, eps: float, digit: dict) -> None:
    st.subheader(f"All {len(digit['linear_minimal'])} test images of {the_class(view.dataset, view.source)}")
    left, right = st.columns(2)
    curves = {linear_name(view): digit["linear_curve"], network_name(view): digit["network_curve"]}
    left.altair_chart(comparison_charts.success_by_model(curves, target=view.target, chosen_eps=eps), width="stretch")
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = {
            linear_name(view): digit["linear_minimal"] / digit["linear_optimal"],
            network_name(view): digit["network_minimal"] / digit["network_bound"],
        }
    right.altair_chart(comparison_charts.bracket_histogram(ratios), width="stretch")
    left.caption("The share each model reads as the target after its own gradient sign step.")
    right.caption(
        "How far the sign step's ε is above the certified lower bound, image by image. For the linear model the "
        "bound is exact (the best attack, a linear program), so the gap is all the sign step's; for the network "
        "the bound is a linear relaxation and the gap also holds what it cannot see: the best attack lies "
        "somewhere in between."
    )
    shares = transfer_ui(view, eps)
    st.markdown(sentence(view, digit, shares, eps))


def robustness_ui(view: View) -> None:
    """The verified robustness table: shipped for the default networks, else computed here (said meanwhile)."""
    st.subheader("How robust is each model? Verified, not only attacked")
    both = both_tables(view)
    if both is None:
        st.fragment(robustness_later, run_every=results.POLL)(view)
    else:
        table, linear = both
        st.dataframe(robustness_table.frame(table["rows"], linear), width="stretch")
        st.caption(robustness_table.caption(table, linear, view.hidden, shipped="settings" in table))


def both_tables(view: View):
    """The network's table and the linear model's on the same images, or None while either is on its way."""
    table = results.network_table(view)
    if table is None:
        return None
    linear = results.linear_table(view.training, view.clip, table["images"], wait=False)
    return None if linear is None else (table, linear)


def robustness_later(view: View) -> None:
    if results.network_table(view) is not None:  # the network's came with the app
        said = "Attacking and certifying the linear model on the same test images; the table will fill in here."
    else:
        said = (
            f"Verifying the network on the first {results.LIVE_IMAGES} test images at four ε (at most "
            f"{results.LIVE_LIMIT:g} s per image and ε); the table will fill in here."
        )
    st.info(said, icon=":material/hourglass_top:")
    if both_tables(view) is not None:
        st.rerun()


def main(view: View) -> None:
    heading = st.empty()
    st.caption(
        "The same attack on the softmax model and on a network with one hidden layer of ReLU units. Along the "
        "gradient sign ray both are piecewise linear, so each one's minimal ε is exact; the network's best "
        "attack is found by a complete verifier (branch and bound over its ReLUs), and a linear relaxation of its "
        "ReLUs (CROWN) certifies a lower bound."
    )
    size_picker(view)
    models = models_ui(view)
    selected, eps = widgets.image_and_eps(view, key_suffix="_network")
    heading.title(f"Beyond linear: {selected.pair(view)} on a ReLU network")
    x = selected.pixels.astype(np.float64)
    answers = results.network_answers(view, x)
    optimum = results.network_optimum(view, x, wait=False)  # started now, shown when ready: it takes seconds
    table_ui(view, answers, models, x, optimum)
    if optimum is None:  # where the visitor looks: under the table whose cell waits
        st.fragment(optimum_later, run_every=results.POLL)(view, x)
    st.caption(BELOW_THE_TABLE)
    optimum_ui(images_ui(view, models, x, answers), view, models, x, optimum)
    st.caption(
        f"Each model's sign step is shown at the first slider stop above its own minimal ε. The best attack "
        f"moves every pixel by at most its ε, in any direction, and keeps the image in range; the network's "
        f"is proven by branch and bound (as α,β-CROWN does) to a relative gap of 1e-4 within "
        f"{results.NETWORK_LIMIT:g} s, else bracketed."
    )
    digit_ui(view, eps)
    robustness_ui(view)


main(sidebar())
