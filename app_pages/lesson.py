"""Lesson: six steps from the original experiment to a defense and a network, each a live view with a question.

Each step states one idea, shows one picture or chart from the results the full pages use, asks the class one
question (the answer behind a click) and links to the full page on the same view. ``?step=`` in the link sends
a class to a step.
"""

import numpy as np
import streamlit as st

from dashboard import attack_charts, charts, figures, pictures, results, widgets, wording
from dashboard.sidebar import sidebar
from dashboard.state import update
from dashboard.view import LESSON_STEPS, View, snap_eps
from dashboard.wording import article, class_label, the_class

SCALE = 6  # 28 px -> 168 px
DEFENSE_EPS = 0.1  # the attack size the defense step reads its numbers at
TITLES = (
    "The original experiment",
    "Why it works",
    "How small is small",
    "Every digit into every other",
    "The best attack, a guarantee, a defense",
    "Beyond linear",
)


def question_ui(question: str, answer: str) -> None:
    """The question for the class, with the answer behind a click."""
    with st.container(border=True):
        st.markdown(f":material/quiz: **Question for the class.** {question}")
        with st.expander("Show the answer"):
            st.markdown(answer)


def back_next(view: View, page: str, label: str, icon: str) -> None:
    """Back, Next, and the full page on the same view."""
    step = view.step
    row = st.container(horizontal=True, vertical_alignment="center")
    row.button(
        "Back", icon=":material/arrow_back:", disabled=step == 1, on_click=update, kwargs={"step": max(step - 1, 1)}
    )
    row.button(
        f"Next: {TITLES[step]}" if step < LESSON_STEPS else "Next",
        icon=":material/arrow_forward:",
        disabled=step == LESSON_STEPS,
        on_click=update,
        kwargs={"step": min(step + 1, LESSON_STEPS)},
    )
    with row:
        widgets.page_link(view, page, label, icon)


# --- the six steps -------------------------------------------------------------------------------------------


def original(view: View) -> None:
    source, target = class_label(view.dataset, view.source), class_label(view.dataset, view.target)
    st.header(f"1. A{article(source)[1:]} becomes {article(target)}, and still looks like {article(source)}")
    _, images = results.source_images(view)
    minimal = results.minimal_epsilons(view)
    first = minimal[: min(10, len(images))]
    read = sum(int(results.probabilities(view.training, image).argmax()) == view.source for image in images[:10])
    fooled = first[np.isfinite(first)]
    typical = f"{np.median(fooled):.3f} ({wording.grey_levels(np.median(fooled))})" if fooled.size else "none"
    widest = f"{fooled.max():.3f}" if fooled.size else "none"
    st.markdown(
        f"These are the first {len(first)} test images of {the_class(view.dataset, view.source)} from MNIST; the "
        f"model reads {read} of them as {source}. The gradient sign method moves every pixel by the same small "
        f"step ε toward whatever raises the model's score for {target}; here each image is moved by its own "
        f"smallest ε, computed exactly. {len(fooled)} of the {len(first)} then read as {target}, at a median ε of "
        f"{typical}; the largest is {widest}."
    )
    figures.first_ten(view, images, minimal, None)
    question_ui(
        f"Look at the bottom row. Would you call any of these {article(target)}? What does the model see that you "
        "don't?",
        (
            f"To us they are still {source}s, under {wording.haze(np.median(fooled))}: each pixel moved by at most its "
            f"image's ε, a median of {typical}. The model does not look at shapes: it adds up all 784 pixels, each "
            "weighted by how much it speaks for each digit. A tiny change in every pixel, each in the direction "
            f"that helps {target}, adds up to a large change in that sum. Step 2 shows the direction."
            if fooled.size
            else f"None of these {source}s becomes {article(target)} at any ε up to 1: for this model the two are "
            "far apart. Step 4 shows which pairs are close, and why."
        ),
    )
    widgets.page_link(
        view.with_(input="draw"),
        "attack",
        "Draw your own digit and attack it",
        ":material/draw:",
    )
    back_next(view, "attack", "Open the per-image attack", ":material/target:")


def why(view: View, image: int) -> None:
    source, target = class_label(view.dataset, view.source), class_label(view.dataset, view.target)
    st.header("2. Why it works: the attack is the difference of two templates")
    selected = results.chosen(view, image)
    eps = snap_eps(selected.minimal)
    attack = results.attacked(view, selected.pixels, eps)
    two = results.two_templates(view, selected.pixels, attack.direction)
    st.markdown(
        f"A linear model keeps one template per digit (a row of its weights) and scores an image by how well it "
        f"matches each. To turn {article(source)} into {article(target)}, the attack needs {target}'s score to "
        f"overtake {source}'s: each pixel moved by ε in the sign of (template {target} − template {source}) "
        f"narrows the gap by up to ε × {two.lever:.1f}, the sum of that difference's size over all 784 pixels "
        f"(less where a pixel is already black or white). Test image #{image}'s attack direction has that sign on "
        f"{two.agreement:.0%} of the pixels it moves, and on its own, with no {source} under it, the model reads "
        f"the direction as **{attack.direction_reads_as}**."
    )
    cells = st.grid(4, min_column_width=150)  # four in a row on a desktop, two on a phone
    shown = [
        (
            two.source,
            f"Template of {source}",
            f"The model's template of {source}: red raises its score, blue lowers it.",
        ),
        (
            two.target,
            f"Template of {target}",
            f"The model's template of {target}: red raises its score, blue lowers it.",
        ),
        (
            two.difference,
            f"{target} − {source}",
            f"The difference of the two templates: red where {target} gains on {source}, blue where it loses.",
        ),
        (
            pictures.direction(attack.direction, SCALE),
            f"Attack direction of image #{image}",
            f"The attack direction of test image #{image}: white pixels move up, black ones down.",
        ),
    ]
    for picture, caption, alt in shown:
        cells.image(picture, caption=caption, width="stretch", alt=alt)
    reach = DEFENSE_EPS * two.lever
    question_ui(
        "Each pixel moves by only ε. Why is a small ε enough when the image has 784 pixels?",
        f"Because the gains add up over the pixels: ε = {DEFENSE_EPS:g} moves the gap between the two scores by up "
        f"to {DEFENSE_EPS:g} × {two.lever:.1f} = {reach:.1f}, and this image's {source} leads {target} by "
        f"{two.gap:.1f}. The more pixels, the more a small ε can add up to: Goodfellow, Shlens & Szegedy's "
        "explanation of adversarial examples (2015) is exactly this linearity.",
    )
    back_next(view, "training", "Open the training page: all ten templates", ":material/model_training:")


def how_small(view: View) -> None:
    source, target = class_label(view.dataset, view.source), class_label(view.dataset, view.target)
    st.header("3. How small is small: the exact smallest ε for every test image")
    minimal = results.minimal_epsilons(view)
    finite = minimal[np.isfinite(minimal)]
    never = len(minimal) - len(finite)
    if not finite.size:
        st.markdown(f"No test image of {the_class(view.dataset, view.source)} becomes {article(target)} up to ε = 1.")
        back_next(view, "epsilon", "Open the epsilon chart", ":material/show_chart:")
        return
    median, ninety = float(np.median(minimal)), float(np.quantile(finite, 0.9))
    half = (
        f"Half of them read as {target} by ε = **{median:.3f}** ({wording.grey_levels(median)})"
        if np.isfinite(median)
        else f"More than half of them never read as {target} up to ε = 1"
    )
    st.markdown(
        f"Each of the {len(minimal)} test images of {the_class(view.dataset, view.source)} has its own smallest ε "
        f"that fools the model, computed exactly (the model is linear, so the scores are straight lines in ε until "
        f"a pixel reaches black or white). {half}; nine in ten of those ever fooled by ε = {ninety:.3f}"
        + (f"; {never} never become {article(target)} up to ε = 1." if never else ".")
    )
    if not np.isfinite(median):
        median = float(np.median(finite))  # the question and the chart's rule: the images that can be fooled
    high = min(1.0, float(np.ceil(finite.max() * 1.25 / 0.05) * 0.05))  # the chart ends past the last image fooled
    curve = results.source_success_curve(view, 0.0, high, 201)
    st.altair_chart(
        attack_charts.success_chart(
            curve.eps, curve.fooled_share, curve.mean_target_probability, target=view.target, median_eps=median
        ),
        width="stretch",
    )
    question_ui(
        "A screen shows 256 grey levels, from black (0) to white (255). By how many levels does the median ε move "
        "each pixel? Would that change which digit you see?",
        f"ε = {median:.3f} is {wording.grey_levels(median)}: {wording.haze(median)}, over a digit that "
        f"anyone still reads as {article(source)}. The model, which adds up all 784 small changes, reads "
        + (
            f"half of the {source}s as {article(target)} at that ε."
            if len(finite) == len(minimal)
            else f"{article(target)} in half of the {source}s that any ε up to 1 fools, at that ε."
        ),
    )
    back_next(view, "epsilon", "Open the epsilon chart", ":material/show_chart:")


def every_pair(view: View) -> None:
    st.header("4. Every digit into every other")
    pairs = results.all_pairs(view.training, view.clip)
    off = ~np.eye(10, dtype=bool)
    eps = float(np.median(pairs.median[off]))
    st.markdown(
        f"Every test image attacked toward each of the nine other digits, each at its exact smallest ε: a cell is "
        f"the median over a digit's images. Over all 90 pairs the median is ε = {eps:.3f}. Click a cell to make "
        "it the lesson's pair."
    )
    shown = snap_eps(eps)
    figures.pair_heatmap(view, pairs, results.pair_share(view.training, view.clip, shown), shown, "median", None)
    st.markdown(wording.reading(pairs.median))
    easy = wording.easiest(pairs.median)
    lever, gap = results.pair_lever(view.training, int(easy[0]), int(easy[1]))
    question_ui(
        f"Which pair is easiest? Why would {article(easy[0])} be so close to {article(easy[1])} for a linear model?",
        f"**{easy[0]} → {easy[1]}**, at a median ε of {pairs.median[easy]:.3f}. A step of ε can close the gap "
        f"between the two scores by at most ε × {lever:.1f} (the size of template {easy[1]} − template {easy[0]}), "
        f"and the {easy[0]}s lead by a median of {gap:.1f}: so the median image needs at least about "
        f"{gap:.1f} ÷ {lever:.1f} = {gap / lever:.3f}. A pair is easy when the model's lead is small for how much "
        "the two templates differ: shapes that share strokes, and templates far apart where they do not.",
    )
    back_next(view, "pairs", "Open all pairs", ":material/grid_view:")


def best_and_defense(view: View, image: int) -> None:
    target = class_label(view.dataset, view.target)
    st.header("5. The best possible attack, a guarantee, and a defense")
    selected = results.chosen(view, image)
    truth = selected.truth(view)
    answers = results.lab_answers(view, truth, selected.pixels.astype(np.float64))
    minimal, optimal, radius = answers["minimal"], answers["optimal"], answers["radius"]
    shown = lambda eps: "never (up to 1)" if not np.isfinite(eps) else f"{eps:.4f}"  # noqa: E731
    columns = st.columns(3)
    columns[0].metric("Sign step needs ε", shown(minimal))
    columns[1].metric("Best attack needs ε", shown(optimal))
    columns[2].metric("Certified below ε", shown(radius))
    if np.isfinite(minimal) and np.isfinite(optimal) and optimal > 0:
        best = (
            "the sign step is already the best attack here."
            if minimal <= optimal * (1 + 1e-6)  # the LP solves to about 1e-7
            else f"the sign step needs {minimal / optimal:.3f}× the optimum."
        )
        said = (
            f"For test image #{image}, the gradient sign step needs ε = {minimal:.4f}; the best possible change of "
            f"at most ε per pixel (a linear program, solved exactly) needs {optimal:.4f}: {best}"
        )
    elif np.isfinite(optimal) and optimal > 0:
        said = (
            f"For test image #{image}, the gradient sign step never makes it {article(target)} up to ε = 1, yet the "
            f"best possible change of at most ε per pixel (a linear program, solved exactly) does at {optimal:.4f}."
        )
    elif not np.isfinite(optimal):
        said = f"For test image #{image}, no change of any kind of at most ε = 1 per pixel makes it {article(target)}."
    else:
        said = f"The model already reads test image #{image} as {target}: there is nothing to attack."
    if radius > 0:
        said += f" No change at all smaller than {radius:.4f} changes the model's answer {truth}: a guarantee."
    st.markdown(said)
    normal, defended = view.linear, view.defended
    for each in (normal, defended):  # a model not trained yet trains now, with its progress bar
        results.trained(each)
    clean, certified, _ = results.defense_numbers(normal, defended, view.clip, DEFENSE_EPS)
    name = wording.defense_name(defended)
    how = (
        "the model trains on each image's exact worst case within that ε"
        if defended.adversarial_eps
        else "every weight is pulled toward zero as the model trains"
    )
    st.markdown(f"Then a defense, {how}. " + wording.verdict(name, clean, certified, DEFENSE_EPS))
    accuracy, _ = results.defense_charts(normal, defended, view.clip)
    st.altair_chart(charts.with_chosen_eps(accuracy, DEFENSE_EPS), width="stretch")
    st.caption(
        "Solid: certified accuracy (no attack of size ε changes these answers). Dashed: accuracy under the "
        "untargeted gradient sign attack."
    )
    reach = [results.pair_reach(each) for each in (normal, defended)]
    moved = (
        f"its templates differ less from one another, so the same ε moves its scores {reach[0] / reach[1]:.1f}× "
        f"less (ε × {reach[1]:.1f} at most, on average over the 90 pairs, against ε × {reach[0]:.1f})"
        if reach[1] < reach[0]
        else f"its templates differ as much as the normal model's (ε × {reach[1]:.1f} against ε × {reach[0]:.1f})"
    )
    question_ui(
        f"What did the defense buy at ε = {DEFENSE_EPS:g}, and what did it pay for it?",
        f"{wording.verdict(name, clean, certified, DEFENSE_EPS)} Why: {moved}. A certificate is exact, so what it "
        "bought is real, not an artefact of a weak attack.",
    )
    back_next(view, "lab", "Open the attack lab", ":material/science:")


def network(view: View, image: int) -> None:
    target = class_label(view.dataset, view.target)
    st.header(f"6. Beyond linear: the same digit on a small network ({view.hidden} hidden units)")
    linear, net = results.trained(view.training), results.trained(view.network)
    selected = results.chosen(view, image)
    x = selected.pixels.astype(np.float64)
    answers = results.network_answers(view, x)
    steps = results.sign_steps(view, x, {"linear": answers["linear_minimal"], "network": answers["network_minimal"]})
    minimal = results.minimal_epsilons(view)
    fooled = minimal[np.isfinite(minimal)]
    half = np.isfinite(np.median(minimal))  # the ε where half the digit's images fool the linear model, if any
    eps = snap_eps(float(np.median(minimal))) if half else 0.25  # else Goodfellow et al.'s ε
    shares = results.transfer_shares(view, {"linear": view.training, "network": view.network}, eps)
    carried, own = shares["linear"]["network"], shares["network"]["network"]
    st.markdown(
        f"A network with one hidden layer of {view.hidden} ReLU units, trained on the same digits, reads "
        f"{net.test_accuracy:.1%} of the test set right (the linear model {linear.test_accuracy:.1%}). Its own "
        f"gradient sign step {wording.turns(answers['network_minimal'], image, target)}, the linear model's "
        f"{wording.does(answers['linear_minimal'])}; "
        f"no change smaller than {wording.epsilon_or_never(answers['network_bound'])} can do it on the network "
        "(a certified bound)."
    )
    cells = st.grid(5, min_column_width=104)  # as the Beyond linear page: three then two on a phone
    cells.image(pictures.picture(x, True, SCALE), caption="Original", width="stretch", alt="The image attacked.")
    for name, key in (("Linear", "linear"), ("Network", "network")):
        if steps[key] is None:
            cells.caption(f"{name}: the gradient sign step never reaches the target.")
            continue
        step, attacked, says = steps[key]
        caption = f"{name}, sign step ε {step:.3f}: says {says}"
        cells.image(
            pictures.picture(attacked, view.clip, SCALE),
            caption=caption,
            width="stretch",
            alt=f"The image after the {name.lower()} model's gradient sign step. {caption}.",
        )
    question_ui(
        "Is the network harder to fool? If we attack the linear model, does the same change fool the network?",
        f"At ε = {eps:.3f} ("
        + (
            f"where half the {view.source}s fool the linear model"
            if half
            else f"Goodfellow et al.'s ε: {len(minimal) - len(fooled)} of the {view.source}s never fool the linear "
            "model"
        )
        + "), the network's own gradient fools "
        f"it on {own:.0%} of them, and the linear model's images fool it on {carried:.0%}: "
        + (
            "much of the attack carries over, because both models lean on the same pixels."
            if own > 0 and carried >= own / 2
            else "less than half of it carries over at this ε."
            if own > 0
            else "the network is not fooled at this ε, even on its own gradient."
        )
        + " Its best possible attack is no longer one linear program but a search over its units' on/off patterns:"
        " the full page proves it by branch and bound.",
    )
    back_next(view, "network", "Open Beyond linear", ":material/hub:")


def main(view: View) -> None:
    st.title("Lesson: why a linear model is so easy to fool")
    st.caption(
        "Six steps, about ten minutes each with a class: each a live view of this app with one question. Pick the "
        "pair here or in the sidebar; every number is computed for it."
    )
    widgets.step_choice(" · ".join(f"{k}: {title}" for k, title in enumerate(TITLES, 1)))
    widgets.pair_picker(view, "_lesson")
    view = view if view.input == "test" else view.with_(input="test")  # the lesson attacks test images
    results.trained(view.training)
    step = view.step
    if step in (2, 5, 6):
        image = widgets.chosen_image(view)
        if step == 2:
            why(view, image)
        elif step == 5:
            best_and_defense(view, image)
        else:
            network(view, image)
    else:
        (original, None, how_small, every_pair)[step - 1](view)


main(sidebar())
