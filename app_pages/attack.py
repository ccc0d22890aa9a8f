"""Per-image attack: one test image, the epsilon slider, and what the model sees before and after."""

import numpy as np
import streamlit as st

from dashboard import attack_charts, figures, pictures, results, widgets
from dashboard.drawing_pad import drawing_pad
from dashboard.pictures import MAX_PIXELS, MAX_UPLOAD_BYTES, png_bytes, to_uint8, upscale
from dashboard.sidebar import sidebar
from dashboard.state import WidgetKey, own_digit
from dashboard.view import View
from dashboard.wording import article, class_label, the_class

SCALE = 8  # 28 px -> 224 px, nearest neighbour
UNSURE = 0.5  # below this confidence in its answer, the page says the model is not sure of your digit


def picture(pixels: np.ndarray, clip: bool):
    """Upscaled picture of an image; unclipped adversarial images are stretched to their own range."""
    return pictures.picture(pixels, clip, SCALE)


def reads_as_ui(view: View, how: str) -> None:
    """What the model sees of the visitor's own digit (28x28) and what it reads it as."""
    pixels = own_digit(view).pixels
    probabilities = results.probabilities(view.training, pixels)
    left, right = st.columns([1, 3], vertical_alignment="center")
    left.image(
        upscale(to_uint8(pixels), 4),
        caption="What the model sees (28×28)",
        alt=f"Your digit as the model sees it (28×28): read as {probabilities.argmax()}.",
    )
    right.markdown(
        f"{how} cropped, fitted into 20×20 and centred, as MNIST was made. "
        f"The model reads it as **{probabilities.argmax()}** ({probabilities.max():.0%}). "
        f"Below, it is attacked toward {view.target}."
    )
    if probabilities.max() < UNSURE:
        right.info(
            f"Not sure: {probabilities.max():.0%} for its best guess. If {probabilities.argmax()} is not the digit you "
            "wrote, try a thicker pen, a plain sheet, and the digit filling most of the photo; the picture on the "
            "left is what the model sees.",
            icon=":material/help:",
        )


def upload_ui(view: View) -> None:
    """Upload a picture of a digit; show what the model will see and what it says."""
    problem = widgets.uploader(
        "A photo or scan of one handwritten digit (PNG, JPEG, BMP, GIF, WebP or TIFF)",
        types=["png", "jpg", "jpeg", "bmp", "gif", "webp", "tif", "tiff"],
        help=f"At most {MAX_UPLOAD_BYTES:,} bytes (2 MB) and {MAX_PIXELS / 1e6:g} megapixels",
    )
    if problem:
        st.error(problem, icon="🚫")
    elif own_digit(view) is not None:
        reads_as_ui(view, "Inverted if the paper was light,")
    else:
        st.caption("Nothing you upload is stored: it lives in this browser session only.")


def draw_ui(view: View) -> None:
    """The drawing pad; beside it, what the model sees of the drawing and what it says. The pad keeps its place
    while a digit is drawn: at the top of its column, below a caption that is there from the start."""
    left, right = st.columns([1, 2], vertical_alignment="top")
    with left:
        problem = drawing_pad()
    with right:
        if problem:
            st.error(problem, icon="🚫")
        elif own_digit(view) is not None:
            reads_as_ui(view, "Your drawing,")
        else:
            st.info(
                f"Draw one digit on the black pad, white on black, as large as the pad: the model reads it "
                f"when you lift the pen, and the page then turns it into {article(view.target)}. "
                "The drawing stays in this browser session.",
                icon=":material/draw:",
            )


def picker_ui(view: View, images) -> int:
    caption = f"The first ten test images of {the_class(view.dataset, view.source)}: 0 to 9"
    st.image(upscale(pictures.thumbnail_strip(images), 3), caption=caption, alt=f"{caption}, side by side.")
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    with left:
        widgets.first_ten_picker(images)
    with right:
        return widgets.image_picker(view, key_suffix="_attack")


def images_ui(x, direction, adversarial, eps, view):
    perturbation = adversarial.astype(np.float64) - x
    amplified = 0.5 + perturbation / (2 * eps) if eps > 0 else np.full(784, 0.5)
    columns = st.grid(4, min_column_width=150)  # four in a row on a desktop, two on a phone
    captions = [
        "Original",
        "Direction: −sign(∇ₓ loss for the target)",
        f"Adversarial (ε = {eps:.3f})",
        "Perturbation, amplified ×1/(2ε)",
    ]
    shown = [
        picture(x, True),
        pictures.direction(direction, SCALE),
        picture(adversarial, view.clip),
        upscale(to_uint8(amplified), SCALE),
    ]
    alts = [
        "The image attacked.",
        f"The attack direction toward {view.target}: white pixels move up, black ones down.",
        f"The adversarial image at ε {eps:.3f}.",
        "The perturbation alone, amplified: grey is no change.",
    ]
    for image, caption, alt in zip(shown, captions, alts):
        columns.image(image, caption=caption, width="stretch", alt=alt)


def outcome_ui(view, before, after, delta_class, changed):
    target = view.target
    predicted_before, predicted_after = int(before.argmax()), int(after.argmax())
    columns = st.columns(4)
    named = lambda k: class_label(view.dataset, k)  # noqa: E731  ("6", or "Shirt (6)" where classes have names)
    columns[0].metric(
        "Model's answer",
        named(predicted_after),
        f"was {named(predicted_before)}",
        delta_color="normal" if predicted_after == target else "off",
    )
    columns[1].metric(
        f"Confidence of {named(target)}", f"{after[target]:.1%}", f"{(after[target] - before[target]) * 100:+.1f} pp"
    )
    columns[2].metric("The direction alone is read as", named(int(delta_class)))
    columns[3].metric("Pixels changed", f"{changed} of 784")


def download_ui(adversarial, view, image_name: str, eps, clip):
    picture = pictures.picture_uint8(adversarial, clipped=clip)
    name = f"adversarial-{view.source}-to-{view.target}-{image_name}-eps{eps:.3f}"
    row = st.container(horizontal=True)  # side by side where they fit, one above the other where not
    row.download_button(
        "PNG, 28×28", png_bytes(picture), f"{name}.png", "image/png", on_click="ignore", icon=":material/download:"
    )
    row.download_button(
        "PNG, 224×224",
        png_bytes(picture, SCALE),
        f"{name}-x8.png",
        "image/png",
        on_click="ignore",
        icon=":material/download:",
    )


def grid_ui(view, images, minimal_all, eps, own: bool):
    if own:  # the grid is the test set's, not the visitor's digit: said plainly
        st.subheader(f"The original experiment: the first ten test images of {the_class(view.dataset, view.source)}")
        st.caption(
            f"Not your digit: the test set's {view.source}s (the sidebar's source), attacked toward {view.target} "
            "at your slider's ε, as the original experiment did."
        )
    else:
        st.subheader("The first ten, as in the original experiment")
    own = st.toggle("Each image at its own minimal ε", value=False, key=WidgetKey.GRID_OWN_EPS)
    figures.first_ten(view, images, minimal_all, None if own else eps)


def source_ui(view: View, images) -> int | None:
    """Where the attacked image comes from: a test image, your upload or your drawing; None: nothing to attack yet."""
    choice = widgets.input_choice()
    if choice == "test":
        return picker_ui(view, images)
    if choice == "upload":
        upload_ui(view)
    else:
        draw_ui(view)
    image = widgets.chosen_image(view)
    return None if own_digit(view) is None else image  # nothing yet: the hint above says what to do


def eps_ui(view: View, minimal: float, subject: str) -> float:
    """The epsilon slider, the exact minimal epsilon in words, and the button that snaps back to it."""
    eps = widgets.eps_slider(minimal, key_suffix="_attack")
    left, right = st.columns([3, 1], vertical_alignment="center")
    if np.isfinite(minimal):
        left.markdown(f"Exact minimal ε for {subject}: **{minimal:.5f}**. Above it the model answers {view.target}.")
    else:
        left.markdown(f"No ε up to 1 makes the model answer {view.target} for {subject}.")
    right.button("Snap to minimal ε", on_click=widgets.snap_to_minimal, width="stretch")
    return eps


def attack_ui(view: View, selected, reads_as: int, eps: float, image_name: str) -> None:
    """The attack at epsilon: the pictures, what the model says, its probabilities, the downloads."""
    x = selected.pixels.astype(np.float64)
    attack = results.attacked(view, x, eps)
    adversarial, before, after = attack.adversarial, attack.before, attack.after
    images_ui(x, attack.direction, adversarial, eps, view)
    outcome_ui(view, before, after, attack.direction_reads_as, attack.changed)
    left, right = st.columns([3, 2])
    source = reads_as if selected.own else view.source
    left.altair_chart(attack_charts.probability_bars(before, after, source, view.target), width="stretch")
    with right:
        st.markdown(
            f"**{selected.label[0].upper()}{selected.label[1:]}**.\n\n"
            f"The largest change to any pixel is ε = {eps:.3f}; the mean absolute change is "
            f"{np.abs(adversarial - x).mean():.4f}."
        )
        download_ui(adversarial, view, image_name, eps, view.clip)


def main(view: View) -> None:
    results.trained(view.training)
    indices, images = results.source_images(view)
    widgets.chosen_image(view)  # says so if the test set has no image of the source digit
    heading = st.empty()
    st.caption(  # drawn before the pickers and the pad, the same before and after a drawing: nothing below moves
        f"Each pixel moves by ε toward what makes the model say {view.target}. "
        "Start at the exact smallest ε that fools it, then explore."
    )
    widgets.page_link(view, "lesson", "New here? The lesson walks through why, in six steps", ":material/school:")
    image = source_ui(view, images)
    if image is None:
        heading.title(f"Turn your digit into {article(class_label(view.dataset, view.target))}")
        return
    selected = results.chosen(view, image)
    reads_as = selected.reads_as
    if selected.own:  # speak of what the model reads the visitor's digit as
        heading.title(
            f"Turn your {class_label(view.dataset, reads_as)} into {article(class_label(view.dataset, view.target))}"
        )
        subject = f"{selected.label} (the model reads it as {reads_as})"
    else:
        source, target = (class_label(view.dataset, digit) for digit in (view.source, view.target))
        heading.title(f"Turn {article(source)} into {article(target)}")
        subject = "this image"
    if selected.starting_point(view):
        st.info(selected.starting_point(view), icon=":material/info:")
    eps = eps_ui(view, selected.minimal, subject)
    attack_ui(view, selected, reads_as, eps, "own" if selected.own else f"test{indices[image]}")
    grid_ui(view, images, results.minimal_epsilons(view), eps, selected.own)


main(sidebar())
