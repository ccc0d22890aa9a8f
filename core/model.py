"""The fitted models, exact prediction in numpy, and how a trained model is saved.

Training lives in :mod:`core.training` (scikit-learn, and the defended loop of :mod:`core.defense`) and, for the
network, :mod:`core.network`.

The linear model is a frozen :class:`SoftmaxModel` holding ``W`` (10, 784)
and ``b`` (10,): ``z = W x + b``, ``p = softmax(z)``. Everything the attack
needs follows from these two arrays. Beside it, :class:`ReluNetwork` has one
hidden layer of ReLU units; both have ``logits``, ``predict``,
``predict_proba`` and an exact ``input_gradient``, all the attacks need.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.checks import N_CLASSES, N_PIXELS, as_images
from core.inputs.cache import UNREADABLE

_LOGIT_BLOCK = 1024  # images per matrix product in SoftmaxModel.logits: a 6 MB float64 copy


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, stable for large logits."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    np.exp(shifted, out=shifted)
    shifted /= shifted.sum(axis=-1, keepdims=True)
    return shifted


def gradient_from_logits(W: np.ndarray, logits: np.ndarray, labels) -> np.ndarray:
    """The cross-entropy's gradient with respect to the input, ``W^T (softmax(z) - onehot(labels))`` per row."""
    residual = softmax(logits)
    residual[np.arange(len(residual)), labels] -= 1.0
    return residual @ W


class Classifier:
    """What both models share: class scores in bounded blocks, probabilities and answers. A model gives the scores
    of a block of images (``_scores``) and its exact ``input_gradient``; that is all the attacks use."""

    linear: bool = False  # whether the class scores are linear in the pixels (the exact walks of core.path need it)

    def _scores(self, block: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def input_gradient(self, x, labels) -> np.ndarray:
        """The cross-entropy's exact gradient with respect to the pixels, per image (same shape as ``x``)."""
        raise NotImplementedError

    def lead_gradient(self, images: np.ndarray, target: int, rivals: np.ndarray) -> np.ndarray:
        """The gradient of ``logit[target] - logit[rival]`` with respect to the pixels, per image (n, 784)."""
        raise NotImplementedError

    def logits(self, x) -> np.ndarray:
        """Class scores: shape (n, 10), or (10,) for one image."""
        images, single = as_images(x, unit_range=False)
        z = np.empty((len(images), N_CLASSES))
        for start in range(0, len(images), _LOGIT_BLOCK):  # bounded float64 copies of float32 images
            z[start : start + _LOGIT_BLOCK] = self._scores(images[start : start + _LOGIT_BLOCK])
        return z[0] if single else z

    def predict_proba(self, x) -> np.ndarray:
        """Class probabilities ``softmax(logits)``, same shape as :meth:`logits`."""
        return softmax(self.logits(x))

    def predict(self, x) -> np.ndarray:
        """The most probable class, one int64 per image (a scalar for one image)."""
        return np.argmax(self.logits(x), axis=-1)


@dataclass(frozen=True, eq=False)
class SoftmaxModel(Classifier):
    """A fitted multinomial logistic regression ``softmax(W x + b)``.

    Attributes
    ----------
    W : ndarray of shape (10, 784), float64, read-only
        One weight template per class.
    b : ndarray of shape (10,), float64, read-only
    """

    W: np.ndarray
    b: np.ndarray
    linear = True  # a class attribute, not a field

    def __post_init__(self):
        W = np.array(self.W, dtype=np.float64)
        b = np.array(self.b, dtype=np.float64)
        if W.shape != (N_CLASSES, N_PIXELS) or b.shape != (N_CLASSES,):
            raise ValueError(f"W must be (10, 784) and b (10,), got {W.shape} and {b.shape}")
        W.flags.writeable = b.flags.writeable = False
        object.__setattr__(self, "W", W)
        object.__setattr__(self, "b", b)

    def _scores(self, block: np.ndarray) -> np.ndarray:
        return block @ self.W.T + self.b  # z = W x + b

    @property
    def weights(self) -> dict[str, np.ndarray]:
        """Every array that defines the model, by name."""
        return {"W": self.W, "b": self.b}

    def lead_gradient(self, images: np.ndarray, target: int, rivals: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.W[target], (len(images), N_PIXELS)) - self.W[np.asarray(rivals)]

    def input_gradient(self, x, labels) -> np.ndarray:
        """The cross-entropy's exact gradient with respect to the pixels, ``W^T (p - onehot(labels))`` per image.

        No range check: the attacks' iterates may leave [0, 1].
        """
        images, single = as_images(x, unit_range=False)
        gradient = gradient_from_logits(self.W, self.logits(images), labels)
        return gradient[0] if single else gradient


@dataclass(frozen=True, eq=False)
class ReluNetwork(Classifier):
    """``logits(x) = W2 relu(W1 x + b1) + b2``: W1 (hidden, 784), b1 (hidden,), W2 (10, hidden), b2 (10,)."""

    W1: np.ndarray
    b1: np.ndarray
    W2: np.ndarray
    b2: np.ndarray

    def __post_init__(self):
        arrays = [np.array(getattr(self, name), dtype=np.float64) for name in ("W1", "b1", "W2", "b2")]
        hidden = len(arrays[1])
        if [a.shape for a in arrays] != [(hidden, N_PIXELS), (hidden,), (N_CLASSES, hidden), (N_CLASSES,)]:
            raise ValueError(
                f"a network's weights must be (h, 784), (h,), (10, h), (10,); got {[a.shape for a in arrays]}"
            )
        for name, array in zip(("W1", "b1", "W2", "b2"), arrays):
            array.flags.writeable = False
            object.__setattr__(self, name, array)

    @property
    def hidden(self) -> int:
        return len(self.b1)

    @property
    def weights(self) -> dict[str, np.ndarray]:
        """Every array that defines the network, by name."""
        return {"W1": self.W1, "b1": self.b1, "W2": self.W2, "b2": self.b2}

    def _scores(self, block: np.ndarray) -> np.ndarray:
        return np.maximum(block.astype(np.float64) @ self.W1.T + self.b1, 0.0) @ self.W2.T + self.b2

    def lead_gradient(self, images: np.ndarray, target: int, rivals: np.ndarray) -> np.ndarray:
        on = (images.astype(np.float64) @ self.W1.T + self.b1) > 0  # the units active at each image
        return ((self.W2[target] - self.W2[np.asarray(rivals)]) * on) @ self.W1

    def input_gradient(self, x, labels) -> np.ndarray:
        """The exact gradient of the cross-entropy with respect to the pixels (backpropagation), per image.

        Where a hidden unit's input is exactly 0 the ReLU's derivative is taken
        as 0 (the subgradient scikit-learn uses).
        """
        images, single = as_images(x, unit_range=False)
        labels = np.broadcast_to(np.asarray(labels), (len(images),))
        pre = images.astype(np.float64) @ self.W1.T + self.b1
        residual = softmax(np.maximum(pre, 0.0) @ self.W2.T + self.b2)
        residual[np.arange(len(images)), labels] -= 1.0  # d loss / d logits
        gradient = ((residual @ self.W2) * (pre > 0)) @ self.W1
        return gradient[0] if single else gradient


@dataclass(frozen=True)
class EpochMetrics:
    epoch: int
    loss: float
    train_accuracy: float
    test_accuracy: float


@dataclass(frozen=True, eq=False)
class TrainingResult:
    """A trained model with how it got there and how good it is."""

    model: SoftmaxModel  # or a ReluNetwork (settings with hidden units; solver "adam")
    solver: str
    history: tuple[EpochMetrics, ...]
    train_accuracy: float
    test_accuracy: float
    per_class_accuracy: np.ndarray  # (10,) test accuracy of each digit
    confusion: np.ndarray  # (10, 10) counts, rows true digit, columns predicted
    seconds: float
    shipped: bool = False  # came with the app (see core.jobs.shipped), not trained on this server

    def __post_init__(self):
        self.per_class_accuracy.flags.writeable = False
        self.confusion.flags.writeable = False


def evaluated(model, solver: str, history, seconds: float, x_test: np.ndarray, y_test: np.ndarray) -> TrainingResult:
    """The :class:`TrainingResult` of a trained model: its test confusion matrix and per-class accuracy."""
    predicted = model.predict(x_test)
    confusion = np.zeros((N_CLASSES, N_CLASSES), dtype=np.int64)
    np.add.at(confusion, (y_test, predicted), 1)
    per_class = np.diag(confusion) / np.maximum(confusion.sum(axis=1), 1)
    return TrainingResult(
        model=model,
        solver=solver,
        history=tuple(history),
        train_accuracy=history[-1].train_accuracy,
        test_accuracy=history[-1].test_accuracy,
        per_class_accuracy=per_class,
        confusion=confusion,
        seconds=seconds,
    )


def cross_entropy(model: SoftmaxModel, x: np.ndarray, y: np.ndarray) -> float:
    """Mean cross-entropy of ``model`` on images ``x`` with labels ``y``."""
    z = model.logits(x)
    z = z - z.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-np.mean(log_p[np.arange(len(y)), y]))


def save_training(result: TrainingResult, file) -> None:
    """Write a training result as ``.npz`` to a path or an open binary file.

    To keep it in a cache, pass this to :func:`core.inputs.cache.save_atomically`,
    so a reader never sees half a file.
    """
    history = np.array([[h.epoch, h.loss, h.train_accuracy, h.test_accuracy] for h in result.history])
    model = result.model
    weights = (
        dict(W=model.W, b=model.b)
        if isinstance(model, SoftmaxModel)
        else dict(W1=model.W1, b1=model.b1, W2=model.W2, b2=model.b2)
    )
    np.savez(
        file,
        **weights,
        history=history,
        per_class=result.per_class_accuracy,
        confusion=result.confusion,
        seconds=result.seconds,
        solver=result.solver,
    )


def load_training(path) -> TrainingResult:
    """Read what :func:`save_training` wrote; ``ValueError`` if the file is not such a result."""
    try:
        with np.load(path, allow_pickle=False) as saved:
            history = tuple(
                EpochMetrics(int(e), float(loss), float(train), float(test))
                for e, loss, train, test in saved["history"]
            )
            if "W1" in saved.files:  # a network (core.network)
                model = ReluNetwork(saved["W1"], saved["b1"], saved["W2"], saved["b2"])
            else:
                model = SoftmaxModel(saved["W"], saved["b"])
            return TrainingResult(
                model=model,
                solver=str(saved["solver"]),
                history=history,
                train_accuracy=history[-1].train_accuracy,
                test_accuracy=history[-1].test_accuracy,
                per_class_accuracy=saved["per_class"].copy(),
                confusion=saved["confusion"].copy(),
                seconds=float(saved["seconds"]),
            )
    except UNREADABLE as error:
        raise ValueError(f"{path} is not a saved training result ({error})") from None
