"""One image's answers: the image a page studies, the attack at epsilon, the lab's and the network's exact answers.

Each result is declared with its cost class (:mod:`dashboard.results.jobs`): the attack at the slider's
epsilon is instant, the network's certified answers are cached, the best attacks that take seconds are
shared work.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core import network_exact
from core.attack import attack_direction, delta_prediction, fgsm, minimal_epsilon, pgd
from core.exact import optimal_epsilon, robust_radius, worst_case
from core.fewest import fewest_pixels
from core.inputs.classes import the_class
from core.jobs.child import in_child
from core.network_exact import target_bound
from core.sweep import score_sweep
from dashboard import wording
from dashboard.results.digit import minimal_epsilons
from dashboard.results.jobs import cached, instant, own_copy, read_only, shared
from dashboard.results.models import model_of, source_images
from dashboard.state import own_digit
from dashboard.view import View, clip_range, snap_eps

FEWEST_FIRST = 0.5  # seconds the fewest-pixels search gets for a first answer before the page says "proving…"
FEWEST_LIMIT = 10.0  # seconds for the proof
NETWORK_LIMIT = 20.0  # seconds the network's verifier gets; then the page shows the bracket it reached


@dataclass(frozen=True)
class Chosen:
    """The image the attack pages show: a test image of the source digit, or the visitor's own."""

    pixels: np.ndarray  # (784,) in [0, 1]
    label: str
    minimal: float  # exact minimal epsilon toward the target
    own: bool
    reads_as: int  # the model's answer on the untouched image
    confidence: float  # and its probability

    def pair(self, view: View) -> str:
        """``2 → 6``, or ``your 7 → 6`` for the visitor's own digit (whatever the sidebar's source)."""
        return wording.pair(view.source, view.target, self.reads_as, self.own, view.dataset)

    def starting_point(self, view: View) -> str | None:
        """A plain sentence when there is nothing to attack or the attack starts from a mistake."""
        return wording.starting_point(view.source, view.target, self.reads_as, self.confidence, self.own)

    def truth(self, view: View) -> int:
        """The class the image is taken to be: the sidebar's source, or what the model reads the visitor's own as."""
        return self.reads_as if self.own else view.source


@instant
def chosen(view: View, image: int) -> Chosen:
    """The test image at position ``image`` of the source digit, or the visitor's own digit, with its exact minimal
    epsilon toward the target and the model's answer."""
    model = model_of(view.training)
    own = own_digit(view)
    if own is not None:
        pixels, label = own.pixels, own.name
        minimal = float(minimal_epsilon(model, pixels, view.target, clip=view.clip_range))
    else:
        indices, images = source_images(view)
        pixels = images[image]
        label = f"test image #{image} of {the_class(view.dataset, view.source)} (test-set index {indices[image]})"
        minimal = float(minimal_epsilons(view)[image])
    probabilities = model.predict_proba(pixels)
    return Chosen(pixels, label, minimal, own is not None, int(probabilities.argmax()), float(probabilities.max()))


@instant
def probabilities(settings, pixels: np.ndarray) -> np.ndarray:
    """The model's class probabilities for one image (10,) or many (n, 10)."""
    return model_of(settings).predict_proba(pixels)


@dataclass(frozen=True)
class Attacked:
    """One image attacked by the gradient sign step at one epsilon, and what the model makes of it."""

    adversarial: np.ndarray
    direction: np.ndarray
    before: np.ndarray  # class probabilities of the original
    after: np.ndarray  # and of the adversarial image
    direction_reads_as: int  # the class the direction alone is read as
    changed: int  # pixels changed


@instant
def attacked(view: View, pixels: np.ndarray, eps: float) -> Attacked:
    """The gradient sign step toward the target at ``eps`` (milliseconds: at every slider stop)."""
    model = model_of(view.training)
    x = pixels.astype(np.float64)
    adversarial = fgsm(model, x, eps, target=view.target, clip=view.clip_range)
    return Attacked(
        adversarial,
        attack_direction(model, x, view.target),
        model.predict_proba(x),
        model.predict_proba(adversarial),
        int(delta_prediction(model, x, view.target)),
        int(np.count_nonzero(np.abs(adversarial - x) > 1e-12)),
    )


@instant
def first_ten(view: View, images: np.ndarray, steps) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The original experiment's grid: the images attacked at ``steps`` (one epsilon each, or one for all); their
    adversarial images, directions, the target's probability before and every probability after."""
    model = model_of(view.training)
    adversarial = fgsm(model, images, steps, target=view.target, clip=view.clip_range)
    directions = attack_direction(model, images, view.target)
    before = model.predict_proba(images)[:, view.target]
    return adversarial, directions, before, model.predict_proba(adversarial)


@instant
def class_scores(view: View, pixels: np.ndarray, grid: np.ndarray):
    """Every class's score as every pixel moves by each epsilon of ``grid`` (:func:`core.sweep.score_sweep`)."""
    return score_sweep(model_of(view.training), pixels, view.target, grid, clip=view.clip_range)


# --- the attack lab --------------------------------------------------------------------------------------------


def linear_answers(model, pixels: np.ndarray, target: int, span) -> dict:
    """The linear model's exact answers about one image: the sign step's minimal epsilon, the best attack's, and
    the best attack's image (a hair past the tie, so the target wins); milliseconds."""
    _, winning = optimal_epsilon(model, pixels, target, clip=span, return_images=True, margin=1e-4)
    return {
        "minimal": float(minimal_epsilon(model, pixels, target, clip=span)),
        "optimal": float(optimal_epsilon(model, pixels, target, clip=span)),
        "optimal_image": read_only(winning),
    }


@shared("Solving the best attack and the certificate…")
def lab_answers(view: View, truth: int, pixels: np.ndarray):
    """Everything exact about one image: the sign step's and the best attack's epsilon, and the certified radius."""
    model = model_of(view.training)
    pixels, digest = own_copy(pixels)
    span, target = view.clip_range, view.target

    def compute() -> dict:
        return {
            **linear_answers(model, pixels, target, span),
            "radius": float(robust_radius(model, pixels, truth, clip=span)),
        }

    return (view.training, view.clip, target, truth, digest), compute


@dataclass(frozen=True)
class LabImages:
    """The lab's attacked images of one image, each with what the model says (None where there is none)."""

    original_says: int
    sign_step: tuple[float, np.ndarray, int] | None  # the slider stop past the minimal epsilon, image, answer
    optimal_says: int | None
    worst: tuple[np.ndarray, int] | None  # the worst case at the certified radius, and the rival that ties
    pgd: tuple[np.ndarray, int]  # PGD at the chosen epsilon, and its answer


@instant
def lab_images(view: View, pixels: np.ndarray, answers: dict, truth: int, eps: float) -> LabImages:
    """The gradient sign step at its minimal epsilon, the optimum's answer, the worst case at the certified radius
    and PGD (ten steps, its best image) at ``eps``: milliseconds."""
    model = model_of(view.training)
    x, span = pixels.astype(np.float64), view.clip_range
    sign_step = None
    if np.isfinite(answers["minimal"]):
        step = snap_eps(answers["minimal"])
        image = fgsm(model, x, step, target=view.target, clip=span)
        sign_step = step, image, int(model.predict(image))
    optimal_says = int(model.predict(answers["optimal_image"])) if np.isfinite(answers["optimal"]) else None
    worst = None
    if np.isfinite(answers["radius"]) and answers["radius"] > 0:
        worst = worst_case(model, x, truth, answers["radius"], clip=span)
    iterated = pgd(model, x, eps, target=view.target, clip=span, keep_best=True)
    return LabImages(int(model.predict(x)), sign_step, optimal_says, worst, (iterated, int(model.predict(iterated))))


@shared("Counting the fewest pixels…", lane="proofs")
def lab_fewest(view: View, pixels: np.ndarray, time_limit: float):
    """The fewest pixels that make the target win (:func:`core.fewest.fewest_pixels`) within ``time_limit``
    seconds: a :class:`FewestPixels`, ``proven`` or the best found so far."""
    model = model_of(view.training)
    pixels, digest = own_copy(pixels)
    span, target = view.clip_range, view.target

    def compute():  # an integer program cannot stop itself: in a child process, killed when nobody waits
        return in_child(fewest_pixels, model, pixels, target, clip=span, time_limit=time_limit)

    return (view.training, view.clip, target, digest, time_limit), compute


# --- beyond linear: the ReLU network beside the linear model ----------------------------------------------


def network_answers(view: View, pixels: np.ndarray) -> dict:
    """The chosen image on both models: each one's exact sign step epsilon, the linear model's exact best attack
    (its own certificate), and the network's certified bound toward the target (milliseconds, cached)."""
    return _network_answers(view.training, view.network, view.clip, view.target, np.array(pixels, dtype=np.float64))


@cached()
def _network_answers(linear_settings, network_settings, clip: bool, target: int, pixels: np.ndarray) -> dict:
    linear, network = model_of(linear_settings), model_of(network_settings)
    span = clip_range(clip)
    return {
        **{f"linear_{name}": value for name, value in linear_answers(linear, pixels, target, span).items()},
        "network_minimal": float(minimal_epsilon(network, pixels, target, clip=span)),
        "network_bound": target_bound(network, pixels, target, clip=span),
    }


@instant
def sign_steps(view: View, pixels: np.ndarray, minimals: dict) -> dict:
    """Each model's gradient sign step at the slider stop past its own minimal epsilon: ``{name: (eps, image,
    answer)}``, None for a model the step never fools. ``minimals`` maps "linear"/"network" to the epsilons."""
    x, steps = pixels.astype(np.float64), {}
    for name, settings in (("linear", view.training), ("network", view.network)):
        if not np.isfinite(minimals[name]):
            steps[name] = None
            continue
        model, step = model_of(settings), snap_eps(minimals[name])
        image = fgsm(model, x, step, target=view.target, clip=view.clip_range)
        steps[name] = step, image, int(model.predict(image))
    return steps


@shared("Solving the network's best attack (branch and bound)…", lane="proofs")
def network_optimum(view: View, pixels: np.ndarray):
    """The network's best attack (:func:`core.network_exact.optimal_epsilon`, the complete verifier's bisection: a
    ``NetworkOptimum``), proven or bracketed within :data:`NETWORK_LIMIT` seconds."""
    network = model_of(view.network)
    pixels, digest = own_copy(pixels)
    span, target = view.clip_range, view.target

    def compute():  # HiGHS cannot stop inside a linear program: in a child process, killed when nobody waits
        return in_child(network_exact.optimal_epsilon, network, pixels, target, clip=span, time_limit=NETWORK_LIMIT)

    return (view.network, view.clip, target, digest), compute
