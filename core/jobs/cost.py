"""What a training will cost before it starts: seconds of one core, from the settings and the number of images.

A training's time is close to linear in what it does: each epoch passes over the training images once (in
batches, each with a fixed overhead) and then scores the training and test images; L-BFGS takes up to
``4 × epochs`` iterations over the whole set (fewer once it has converged); a network's pass costs more for
more hidden units (scikit-learn's import is paid once, by the process that forks the trainings). The constants
below were measured on one core of the kind of machine a Community Cloud app runs on (an AMD EPYC, the slower of two);
``python -m benchmarks --only cost`` compares the
predictions with trainings measured in their child processes (BENCHMARKS.md, section 16).

The server uses the prediction three ways: a training expected to take longer than :data:`CONFIRM_ABOVE`
seconds waits for the visitor to confirm; one that cannot finish within :data:`core.jobs.models.TIME_LIMIT` is
refused before it starts, with what to pick instead; and a queued training says how long the trainings ahead
of it will take.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from core.inputs.settings import HIDDEN_SIZES, TrainingSettings

CONFIRM_ABOVE = 30.0  # seconds: longer trainings start only when the visitor confirms

# Seconds of one core (measured: see the module's docstring). Two machines of the same kind differed by about 30%
# (and small batches by more): the constants are the slower one's, so a training is said and refused in time.
START = 0.02  # the child forked and the settings read (the imports are the forking process's, paid once)
PER_IMAGE_READ = 6.5e-6  # reading and scaling the data, per image (training and test)
SGD_PER_IMAGE, SGD_PER_BATCH = 4.0e-6, 1.2e-4  # one epoch of softmax SGD and its scoring: per image, per batch
ADVERSARIAL_PER_IMAGE, ADVERSARIAL_PER_BATCH = 6.0e-6, 6.6e-4  # the same with each image's exact worst case
L1_PER_IMAGE, L1_PER_BATCH = 3.6e-6, 6.0e-5  # the defended loop with L1 weight decay alone
LBFGS_PER_IMAGE = 1.5e-6  # one L-BFGS iteration, per training image
LBFGS_CONVERGED = 100  # iterations after which L-BFGS has converged on a few thousand images (more on more)
NETWORK_PER_IMAGE, NETWORK_PER_UNIT = 4.8e-6, 1.25e-7  # one Adam epoch of the network and its scoring, per image


@dataclass(frozen=True)
class Cost:
    """A training's expected seconds of one core, and how they were reckoned (for the sentence that says it)."""

    seconds: float
    images: int
    epochs: int

    @property
    def needs_confirmation(self) -> bool:
        return self.seconds > CONFIRM_ABOVE


def expected(settings: TrainingSettings, n_train: int, n_test: int) -> Cost:
    """The seconds of one core training ``settings`` on ``n_train`` images (and scoring ``n_test``) should take."""
    epochs, n = settings.epochs, n_train
    start = START + PER_IMAGE_READ * (n_train + n_test)
    if settings.hidden:
        work = epochs * n * (NETWORK_PER_IMAGE + NETWORK_PER_UNIT * settings.hidden)
    elif settings.solver == "lbfgs":
        iterations = min(4 * epochs, max(LBFGS_CONVERGED, n / 150))
        work = iterations * n * LBFGS_PER_IMAGE
    else:
        per_image, per_batch = (
            (ADVERSARIAL_PER_IMAGE, ADVERSARIAL_PER_BATCH)
            if settings.adversarial_eps
            else (L1_PER_IMAGE, L1_PER_BATCH)
            if settings.l1
            else (SGD_PER_IMAGE, SGD_PER_BATCH)
        )
        work = epochs * n * (per_image + per_batch / settings.batch_size)
    return Cost(start + work, n, epochs)


def spoken(seconds: float) -> str:
    """A duration as a person says it: "about 40 s", "about 4 min"."""
    if seconds < 90:
        return f"about {max(round(seconds / 5) * 5, 5):.0f} s"
    return f"about {round(seconds / 60):.0f} min"


def refusal(settings: TrainingSettings, sizes: tuple[int, int], limit: float, embedded: tuple[int, int]) -> str | None:
    """Why ``settings`` cannot be trained within ``limit`` seconds on a dataset of ``sizes`` (training, test
    images), with what to pick instead; None if it can. ``embedded`` are the embedded digits' sizes."""
    cost = expected(settings, *sizes)
    if cost.seconds <= limit:
        return None
    fits = [
        e for e in range(settings.epochs - 1, 0, -1) if expected(replace(settings, epochs=e), *sizes).seconds <= limit
    ]
    instead = []
    if fits:
        instead.append(f"at most {fits[0]} epochs")
    if settings.hidden:
        smaller = [h for h in HIDDEN_SIZES if 0 < h < settings.hidden]
        smaller = [h for h in smaller if expected(replace(settings, hidden=h), *sizes).seconds <= limit]
        if smaller:
            instead.append(f"{smaller[-1]} hidden units")
    if not settings.hidden and not settings.defended and settings.solver == "sgd" and settings.batch_size < 100:
        bigger = replace(settings, batch_size=100)
        if expected(bigger, *sizes).seconds <= limit:
            instead.append("batches of 100")
    if sizes != embedded and expected(settings, *embedded).seconds <= limit:
        instead.append("the embedded 5,000 digits")
    advice = f" Pick {_or(instead)} instead." if instead else ""
    return (
        f"this model would take {spoken(cost.seconds)} to train on this server, longer than its limit of "
        f"{spoken(limit)} for one training.{advice}"
    )


def _or(choices: list[str]) -> str:
    return choices[0] if len(choices) == 1 else ", ".join(choices[:-1]) + " or " + choices[-1]
