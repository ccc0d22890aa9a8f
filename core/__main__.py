"""``python -m core``: the original experiment without a browser.

Trains the model (or reuses the weights the app saved for the same
settings), attacks the first test images of the source digit toward the
target, and prints what happened (text or ``--json``); ``--out DIR`` writes
the original experiment's figure as a PNG grid.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.attack import MAX_EPS, SOURCE, TARGET, attack_direction, delta_prediction, fgsm, minimal_epsilon
from core.checks import parse_digit, parse_eps
from core.errors import DatasetUnavailable, TrainingFailed
from core.inputs.cache import unwritable
from core.inputs.data import load_dataset
from core.inputs.imaging import direction_to_uint8, grid_figure, picture_uint8, to_uint8
from core.inputs.settings import BOUNDS, DEFAULTS, HIDDEN_SIZES, SOLVERS, TrainingSettings, fields_of

PROG = "python -m core"
JUST_ABOVE = 1e-5  # the minimal epsilon is an infimum: attack a hair above it


def _checked(parse):
    """An argparse type from one of core.checks' parsers (their reasons never quote the value: we do)."""

    def convert(text: str):
        try:
            return parse(text)
        except ValueError as reason:
            raise argparse.ArgumentTypeError(f"{text!r} {reason}") from None

    return convert


def _bounded(name: str, kind):
    """An argparse type for a training setting within :data:`core.inputs.settings.BOUNDS`."""
    low, high = BOUNDS[name]

    def convert(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {'whole ' if kind is int else ''}number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text} is outside [{low:g}, {high:g}]")
        return value

    return convert


def _count(text: str) -> int:
    if len(text.strip()) > 9 or not text.strip().isdecimal() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number from 1")
    return int(text)


class _DefaultsShown(argparse.HelpFormatter):
    """Each option's help ends with its default, where it has a meaningful one."""

    def _get_help_string(self, action):
        if action.default in (None, False, argparse.SUPPRESS):
            return action.help
        return f"{action.help} (default: %(default)s)"


class _OneLineParser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def parse_args(argv=None) -> argparse.Namespace:
    parser = _OneLineParser(
        prog=PROG,
        description="Train a softmax classifier on MNIST and fool it with the gradient sign method.",
        formatter_class=_DefaultsShown,
    )
    parser.add_argument("--dataset", default=DEFAULTS.dataset, help="mnist-5k (embedded), mnist, or idx:<folder>")
    parser.add_argument(
        "--solver",
        choices=SOLVERS,
        default=DEFAULTS.solver,
        help="sgd: the original experiment's mini-batch SGD; lbfgs: converged LogisticRegression",
    )
    parser.add_argument(
        "--epochs",
        type=_bounded("epochs", int),
        default=DEFAULTS.epochs,
        help="SGD passes over the training set (lbfgs: at most 4x this many iterations)",
    )
    parser.add_argument(
        "--learning-rate", type=_bounded("learning_rate", float), default=DEFAULTS.learning_rate, help="SGD step size"
    )
    parser.add_argument(
        "--batch-size", type=_bounded("batch_size", int), default=DEFAULTS.batch_size, help="SGD mini-batch size"
    )
    parser.add_argument("--C", type=_bounded("C", float), default=DEFAULTS.C, help="inverse L2 strength for lbfgs")
    parser.add_argument(
        "--seed", type=_bounded("seed", int), default=DEFAULTS.seed, help="seeds the order of the SGD mini-batches"
    )
    parser.add_argument(
        "--adversarial-eps",
        type=_bounded("adversarial_eps", float),
        default=DEFAULTS.adversarial_eps,
        help="a defense: train on each image's exact worst case within this epsilon too (sgd; 0: none)",
    )
    parser.add_argument(
        "--l1",
        type=_bounded("l1", float),
        default=DEFAULTS.l1,
        help="a defense: L1 weight decay of this strength (sgd; 0: none)",
    )
    parser.add_argument(
        "--hidden",
        type=int,
        choices=HIDDEN_SIZES,
        default=DEFAULTS.hidden,
        help="attack a one-hidden-layer ReLU network of this many units instead (Adam; 0: the softmax model)",
    )
    parser.add_argument("--source", type=_checked(parse_digit), default=SOURCE, help="the digit to attack")
    parser.add_argument("--target", type=_checked(parse_digit), default=TARGET, help="the digit to turn it into")
    parser.add_argument(
        "--count",
        type=_count,
        default=10,
        help="how many test images of the source digit (at most as many as there are)",
    )
    parser.add_argument(
        "--eps", type=_checked(parse_eps), help="one epsilon for all images (default: each image's own minimal epsilon)"
    )
    parser.add_argument(
        "--no-clip", action="store_true", help="let pixels leave [0, 1], as the original experiment did"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument("--out", type=Path, help="write the PNG grid of the attacked images into this folder")
    args = parser.parse_args(argv)
    if args.source == args.target:
        parser.error("--source and --target must differ")
    if (args.adversarial_eps or args.l1) and args.solver != "sgd":
        parser.error("--adversarial-eps and --l1 train with the sgd solver")
    if args.hidden and (args.adversarial_eps or args.l1):
        parser.error("--hidden trains a network without a defense")
    if args.out is not None and (problem := unwritable(args.out)):  # before any training
        parser.error(f"--out {str(args.out)!r}: {problem}")
    return args


@dataclass(frozen=True)
class Attacked:
    """The pictures behind a run: originals, attack directions, adversarial images (rows in order)."""

    images: np.ndarray
    directions: np.ndarray
    adversarial: np.ndarray


def trained(args: argparse.Namespace):
    """The model for these settings and whether it was loaded: the one the app saved (or that came with it), or
    trained now (in a child, and saved for the app)."""
    from core.jobs.models import ModelStore, Trainings

    settings = TrainingSettings(**{name: getattr(args, name) for name in fields_of(TrainingSettings)}).normalized()
    saved = ModelStore.load_saved(settings)
    if saved is not None:
        return saved, True
    queue = Trainings(slots=1)
    try:
        return ModelStore(queue).get(settings), False
    finally:
        queue.stop_all()


def run(args: argparse.Namespace) -> tuple[dict, Attacked]:
    """The experiment as a plain dictionary (what ``--json`` prints) and the pictures behind it."""
    dataset = load_dataset(args.dataset)
    training, loaded = trained(args)
    model, clip = training.model, None if args.no_clip else (0.0, 1.0)
    available = dataset.test_indices(args.source)
    indices = available[: args.count]
    images = dataset.x_test[indices]
    minimal = minimal_epsilon(model, images, args.target, clip=clip)
    if args.eps is not None:
        eps = np.full(len(images), args.eps)
    else:  # images no epsilon up to 1 can fool keep their original pixels
        eps = np.where(np.isfinite(minimal), np.minimum(minimal + JUST_ABOVE, MAX_EPS), 0.0)
    adversarial = fgsm(model, images, eps, target=args.target, clip=clip)
    before = model.predict_proba(images)
    after = model.predict_proba(adversarial)
    result = {
        "dataset": dataset.name,
        "description": dataset.description,
        "n_train": dataset.n_train,
        "n_test": dataset.n_test,
        "solver": training.solver,
        "hidden": args.hidden,
        "adversarial_eps": args.adversarial_eps,
        "l1": args.l1,
        "train_accuracy": training.train_accuracy,
        "test_accuracy": training.test_accuracy,
        "training_seconds": round(training.seconds, 3),
        "loaded": loaded,  # the saved weights were reused: training_seconds is how long they once took
        "source": args.source,
        "target": args.target,
        "clip": clip is not None,
        "count_asked": args.count,
        "images": [
            {
                "test_index": int(index),
                "minimal_epsilon": float(minimal[i]) if np.isfinite(minimal[i]) else None,
                "eps": float(eps[i]),
                "target_confidence_before": float(before[i, args.target]),
                "target_confidence_after": float(after[i, args.target]),
                "predicted_before": int(before[i].argmax()),
                "predicted_after": int(after[i].argmax()),
                "delta_predicted": int(delta_prediction(model, images[i], args.target)),
            }
            for i, index in enumerate(indices)
        ],
    }
    return result, Attacked(images, attack_direction(model, images, args.target), adversarial)


def write_grid(result: dict, attacked: Attacked, folder: Path) -> Path:
    """The original experiment's figure: original / direction / adversarial with target confidences."""
    target, rows = result["target"], []
    for i, info in enumerate(result["images"]):
        rows.append(
            (
                [
                    to_uint8(attacked.images[i]),
                    direction_to_uint8(attacked.directions[i]),
                    picture_uint8(attacked.adversarial[i], clipped=result["clip"]),
                ],
                [
                    f"confidence of {target}: {info['target_confidence_before']:.2%}",
                    f"direction (eps {info['eps']:.3f})",
                    f"confidence of {target}: {info['target_confidence_after']:.2%}",
                ],
            )
        )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"grid-{result['source']}-to-{target}.png"
    grid_figure(rows).save(path)
    return path


def _defense_text(result: dict) -> str:
    defenses = [f"adversarial training at eps {result['adversarial_eps']:g}"] if result["adversarial_eps"] else []
    defenses += [f"L1 weight decay {result['l1']:g}"] if result["l1"] else []
    return f" ({', '.join(defenses)})" if defenses else ""


def _model_text(result: dict) -> str:
    if result["hidden"]:
        return f"ReLU network, {result['hidden']} hidden units, {result['solver']}"
    return result["solver"]


def _how_trained(result: dict) -> str:
    if result["loaded"]:
        return f"loaded saved weights (trained earlier in {result['training_seconds']:.2f} s)"
    return f"trained in {result['training_seconds']:.2f} s"


def _text_report(result: dict) -> str:
    target = result["target"]
    lines = [
        f"dataset   {result['dataset']}: {result['n_train']:,} train / {result['n_test']:,} test",
        f"training  {_model_text(result)}{_defense_text(result)}: test accuracy {result['test_accuracy']:.2%}, "
        f"train accuracy {result['train_accuracy']:.2%}, {_how_trained(result)}",
        f"attack    {result['source']} -> {target}, {'clipped to [0, 1]' if result['clip'] else 'no clipping'}",
        "",
        f"{'index':>6} {'min eps':>8} {'eps':>7} {'p(' + str(target) + ') before':>13} {'after':>8} "
        f"{'pred':>6} {'delta alone':>11}",
    ]
    if len(result["images"]) < result["count_asked"]:
        lines.append(f"(only {len(result['images'])} test images of digit {result['source']}; all are shown)")
    for info in result["images"]:
        minimal = "none" if info["minimal_epsilon"] is None else f"{info['minimal_epsilon']:.4f}"
        lines.append(
            f"{info['test_index']:>6} {minimal:>8} {info['eps']:>7.4f} {info['target_confidence_before']:>13.2%} "
            f"{info['target_confidence_after']:>8.2%} {info['predicted_before']:>3}->{info['predicted_after']:<2} "
            f"{info['delta_predicted']:>11}"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        result, attacked = run(args)
    except (DatasetUnavailable, TrainingFailed, ValueError) as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    if args.out is not None:
        result["grid_png"] = str(write_grid(result, attacked, args.out))
    print(json.dumps(result, indent=2) if args.json else _text_report(result))
    if args.out is not None and not args.json:
        print(f"\nwrote {result['grid_png']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
