"""``python -m core``: the seed's experiment without a browser.

Trains the model, attacks the first test images of the source digit toward
the target, and prints what happened (text or ``--json``); ``--out DIR``
writes the seed-style PNG grid.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from core.attack import MAX_EPS, attack_direction, delta_prediction, fgsm, minimal_epsilon
from core.data import DEFAULT_DATASET, load_dataset
from core.errors import DatasetUnavailable
from core.imaging import direction_to_uint8, grid_figure, to_uint8
from core.model import SOLVERS, train_softmax

JUST_ABOVE = 1e-5  # the minimal epsilon is an infimum: attack a hair above it


def _digit(text: str) -> int:
    if text.strip() not in {str(d) for d in range(10)}:
        raise argparse.ArgumentTypeError(f"must be a digit 0-9, got {text!r}")
    return int(text)


def _eps(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not -MAX_EPS <= value <= MAX_EPS:
        raise argparse.ArgumentTypeError(f"must be in [-{MAX_EPS:g}, {MAX_EPS:g}], got {text}")
    return value


def _positive(kind):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a positive {kind.__name__}, got {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value

    return parse


class _OneLineParser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def parse_args(argv=None) -> argparse.Namespace:
    parser = _OneLineParser(
        prog="python -m core",
        description="Train a softmax classifier on MNIST and fool it with the gradient sign method.",
    )
    parser.add_argument("--dataset", default=DEFAULT_DATASET, help="mnist-5k (default), mnist, or idx:<folder>")
    parser.add_argument("--solver", choices=SOLVERS, default="sgd")
    parser.add_argument("--epochs", type=_positive(int), default=25)
    parser.add_argument("--learning-rate", type=_positive(float), default=0.05)
    parser.add_argument("--batch-size", type=_positive(int), default=100)
    parser.add_argument("--C", type=_positive(float), default=1.0, help="inverse L2 strength for lbfgs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--source", type=_digit, default=2, help="digit to attack (default 2)")
    parser.add_argument("--target", type=_digit, default=6, help="digit to turn it into (default 6)")
    parser.add_argument("--count", type=_positive(int), default=10, help="how many test images (default 10)")
    parser.add_argument("--eps", type=_eps, help="one epsilon for all images (default: each image's minimal one)")
    parser.add_argument("--no-clip", action="store_true", help="let pixels leave [0, 1], as the seed did")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--out", type=Path, help="write the seed-style PNG grid into this folder")
    args = parser.parse_args(argv)
    if args.source == args.target:
        parser.error("--source and --target must differ")
    return args


def run(args: argparse.Namespace) -> dict:
    """The experiment as a plain dictionary (what ``--json`` prints)."""
    dataset = load_dataset(args.dataset)
    training = train_softmax(
        dataset,
        solver=args.solver,
        epochs=args.epochs,
        learning_rate=args.learning_rate,
        batch_size=args.batch_size,
        C=args.C,
        seed=args.seed,
    )
    model, clip = training.model, None if args.no_clip else (0.0, 1.0)
    indices = dataset.test_indices(args.source)[: args.count]
    images = dataset.x_test[indices]
    minimal = minimal_epsilon(model, images, args.target, clip=clip)
    if args.eps is not None:
        eps = np.full(len(images), args.eps)
    else:  # images no epsilon up to 1 can fool keep their original pixels
        eps = np.where(np.isfinite(minimal), np.minimum(minimal + JUST_ABOVE, MAX_EPS), 0.0)
    adversarial = fgsm(model, images, eps, target=args.target, clip=clip)
    before = model.predict_proba(images)
    after = model.predict_proba(adversarial)
    return {
        "dataset": dataset.name,
        "description": dataset.description,
        "n_train": dataset.n_train,
        "n_test": dataset.n_test,
        "solver": args.solver,
        "train_accuracy": training.train_accuracy,
        "test_accuracy": training.test_accuracy,
        "training_seconds": round(training.seconds, 3),
        "source": args.source,
        "target": args.target,
        "clip": clip is not None,
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
        "_arrays": (images, attack_direction(model, images, args.target), adversarial),
    }


def write_grid(result: dict, folder: Path) -> Path:
    """The seed's figure: original / direction / adversarial with target confidences."""
    images, directions, adversarial = result["_arrays"]
    target, rows = result["target"], []
    for i, info in enumerate(result["images"]):
        stretch = (None, None) if not result["clip"] else (0.0, 1.0)
        rows.append(
            (
                [to_uint8(images[i]), direction_to_uint8(directions[i]), to_uint8(adversarial[i], *stretch)],
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


def _text_report(result: dict) -> str:
    target = result["target"]
    lines = [
        f"dataset   {result['dataset']}: {result['n_train']:,} train / {result['n_test']:,} test",
        f"training  {result['solver']}: test accuracy {result['test_accuracy']:.2%}, "
        f"train accuracy {result['train_accuracy']:.2%}, {result['training_seconds']:.2f} s",
        f"attack    {result['source']} -> {target}, {'clipped to [0, 1]' if result['clip'] else 'no clipping'}",
        "",
        f"{'index':>6} {'min eps':>8} {'eps':>7} {'p(' + str(target) + ') before':>13} {'after':>8} "
        f"{'pred':>6} {'delta alone':>11}",
    ]
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
        result = run(args)
    except (DatasetUnavailable, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.out is not None:
        path = write_grid(result, args.out)
        result["grid_png"] = str(path)
    result.pop("_arrays")
    print(json.dumps(result, indent=2) if args.json else _text_report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
