"""Training accuracy: how good the softmax classifier is, and what its ten templates look like."""

import streamlit as st

from dashboard import charts, pictures, results
from dashboard.sidebar import sidebar
from dashboard.view import View
from dashboard.wording import class_label, kind


def provenance(settings, result) -> None:
    """Where the weights came from, and for weights that came with the app, a way to train them here."""
    if result.shipped:
        left, right = st.columns([4, 1], vertical_alignment="center")
        left.info(
            "These weights came with the app, so that a first visit does not wait for a training: this "
            "repository's code trained them with these settings (`python -m core.jobs.shipped`), and its tests "
            "train them again and compare the weights (bit for bit with the library versions that made them).",
            icon=":material/inventory_2:",
        )
        if right.button("Train them here", icon=":material/refresh:", help="About a second on the embedded digits"):
            results.retrain(settings)
            st.rerun()
        return
    gap = results.shipped_gap(result, settings)
    if gap is not None:
        if gap == 0:
            verdict = "the same weights as those that came with the app, to the last bit"
        elif gap <= results.SAME_IN_FLOAT32:
            verdict = (
                f"the same weights as those that came with the app to float32 precision (at most {gap:.1e} apart: "
                "this server's numpy or scikit-learn adds in another order)"
            )
        else:
            verdict = f"not the weights that came with the app (up to {gap:.2g} apart: other libraries or data)"
        st.success(f"Trained on this server in {result.seconds:.2f} s: {verdict}.", icon=":material/check_circle:")


def numbers_ui(settings, result, data) -> None:
    columns = st.columns(4)
    columns[0].metric("Test accuracy", f"{result.test_accuracy:.2%}")
    columns[1].metric("Train accuracy", f"{result.train_accuracy:.2%}")
    if result.shipped:
        columns[2].metric("Training time", "shipped", help="These weights came with the app: see below")
    else:
        columns[2].metric("Training time", f"{result.seconds:.2f} s")
    columns[3].metric("Train / test images", f"{data.n_train:,} / {data.n_test:,}")
    provenance(settings, result)


def charts_ui(view: View, result) -> None:
    """Accuracy and loss per epoch, accuracy per digit, the confusion matrix."""
    if result.solver == "lbfgs":  # one converged model, not a history: no one-point charts
        st.caption(
            f"L-BFGS optimizes all at once: the converged model's mean training loss is "
            f"{result.history[-1].loss:.4f} nats (its accuracy is above; there is no per-epoch history)."
        )
    else:
        left, right = st.columns(2)
        left.altair_chart(charts.accuracy_chart(result.history), width="stretch")
        right.altair_chart(charts.loss_chart(result.history), width="stretch")
    left, right = st.columns(2)
    left.altair_chart(
        charts.per_class_accuracy_chart(result.per_class_accuracy, highlight=(view.source, view.target)),
        width="stretch",
    )
    left.caption(
        f"The source ({class_label(view.dataset, view.source)}) and target "
        f"({class_label(view.dataset, view.target)}) {kind(view.dataset)}s are drawn solid."
    )
    right.altair_chart(charts.confusion_chart(result.confusion), width="stretch")
    right.caption(f"Rows are the true {kind(view.dataset)}, columns the model's answer; the diagonal is right.")


def templates_ui(view: View, result) -> None:
    st.subheader("The ten weight templates")
    st.caption(
        "Row k of W, as a 28×28 image: red pixels raise the score of class k, blue lower it. The attack adds "
        f"ε·sign(W_{view.target} − W_best), so it paints these patterns into the image."
    )
    cells = st.grid(10, min_column_width=60)  # ten in a row on a desktop, five on a phone
    for digit in range(10):
        name = class_label(view.dataset, digit)
        cells.image(
            pictures.template_picture(result.model.W[digit]),
            caption=name,
            width="stretch",
            alt=f"Weight template of {name}: red pixels raise its score, blue ones lower it.",
        )


def main(view: View) -> None:
    settings = view.training
    st.title("Training accuracy")
    result = results.trained(settings)
    data = results.dataset(settings.dataset)
    st.caption(data.description)
    if settings.adversarial_eps:
        st.caption(
            f"Defended: trained on each image and its exact worst case within ε = {settings.adversarial_eps:g} "
            "(the loss is the sum of the two; see the Defenses page)."
        )
    elif settings.l1:
        st.caption(f"Defended: L1 weight decay of strength {settings.l1:g} (see the Defenses page).")
    numbers_ui(settings, result, data)
    charts_ui(view, result)
    templates_ui(view, result)


main(sidebar())
