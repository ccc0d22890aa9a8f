"""Softmax regression: training with scikit-learn and exact prediction in numpy.

The fitted model is a frozen :class:`SoftmaxModel` holding ``W`` (10, 784)
and ``b`` (10,): ``z = W x + b``, ``p = softmax(z)``. Everything the attack
needs follows from these two arrays.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from core.cache import UNREADABLE
from core.checks import N_CLASSES, N_PIXELS, as_images
from core.data import Dataset
from core.settings import DEFAULTS, TrainingSettings

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


@dataclass(frozen=True, eq=False)
class SoftmaxModel:
    """A fitted multinomial logistic regression ``softmax(W x + b)``.

    Attributes
    ----------
    W : ndarray of shape (10, 784), float64, read-only
        One weight template per class.
    b : ndarray of shape (10,), float64, read-only
    """

    W: np.ndarray
    b: np.ndarray

    def __post_init__(self):
        W = np.array(self.W, dtype=np.float64)
        b = np.array(self.b, dtype=np.float64)
        if W.shape != (N_CLASSES, N_PIXELS) or b.shape != (N_CLASSES,):
            raise ValueError(f"W must be (10, 784) and b (10,), got {W.shape} and {b.shape}")
        W.flags.writeable = b.flags.writeable = False
        object.__setattr__(self, "W", W)
        object.__setattr__(self, "b", b)

    def logits(self, x) -> np.ndarray:
        """Class scores ``W x + b``: shape (n, 10), or (10,) for one image."""
        images, single = as_images(x, unit_range=False)
        z = np.empty((len(images), N_CLASSES))
        for start in range(0, len(images), _LOGIT_BLOCK):  # bounded float64 copies of float32 images
            np.matmul(images[start : start + _LOGIT_BLOCK], self.W.T, out=z[start : start + _LOGIT_BLOCK])
        z += self.b
        return z[0] if single else z

    def predict_proba(self, x) -> np.ndarray:
        """Class probabilities ``softmax(W x + b)``, same shape as :meth:`logits`."""
        return softmax(self.logits(x))

    def predict(self, x) -> np.ndarray:
        """The most probable class, one int64 per image (a scalar for one image)."""
        return np.argmax(self.logits(x), axis=-1)


@dataclass(frozen=True)
class EpochMetrics:
    epoch: int
    loss: float
    train_accuracy: float
    test_accuracy: float


@dataclass(frozen=True, eq=False)
class TrainingResult:
    """A trained model with how it got there and how good it is."""

    model: SoftmaxModel
    solver: str
    history: tuple[EpochMetrics, ...]
    train_accuracy: float
    test_accuracy: float
    per_class_accuracy: np.ndarray  # (10,) test accuracy of each digit
    confusion: np.ndarray  # (10, 10) counts, rows true digit, columns predicted
    seconds: float
    shipped: bool = False  # came with the app (see core.shipped), not trained on this server

    def __post_init__(self):
        self.per_class_accuracy.flags.writeable = False
        self.confusion.flags.writeable = False


def _accuracy(model: SoftmaxModel, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(model.predict(x) == y))


def cross_entropy(model: SoftmaxModel, x: np.ndarray, y: np.ndarray) -> float:
    """Mean cross-entropy of ``model`` on images ``x`` with labels ``y``."""
    z = model.logits(x)
    z = z - z.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-np.mean(log_p[np.arange(len(y)), y]))


def _softmax_regression_sgd(learning_rate: float, batch_size: int, seed: int):
    """scikit-learn's MLP with no hidden layer: exactly softmax regression.

    Weights start at zero, as in the seed, so pixels never inked in training
    keep a zero weight and a zero gradient sign.
    """
    from sklearn.neural_network import MLPClassifier

    class ZeroInitSoftmaxRegression(MLPClassifier):
        def _init_coef(self, fan_in, fan_out, dtype):
            return np.zeros((fan_in, fan_out), dtype), np.zeros(fan_out, dtype)

    return ZeroInitSoftmaxRegression(
        hidden_layer_sizes=(),
        solver="sgd",
        learning_rate="constant",
        learning_rate_init=learning_rate,
        momentum=0.0,
        nesterovs_momentum=False,
        alpha=0.0,
        batch_size=batch_size,
        shuffle=True,
        random_state=np.random.RandomState(seed),  # one stream for all epochs
    )


def train_softmax(
    dataset: Dataset,
    *,
    solver: str = DEFAULTS.solver,
    epochs: int = DEFAULTS.epochs,
    learning_rate: float = DEFAULTS.learning_rate,
    batch_size: int = DEFAULTS.batch_size,
    C: float = DEFAULTS.C,
    seed: int = DEFAULTS.seed,
    adversarial_eps: float = DEFAULTS.adversarial_eps,
    l1: float = DEFAULTS.l1,
    on_epoch: Callable[[int, int, EpochMetrics], None] | None = None,
) -> TrainingResult:
    """Train a softmax regression on ``dataset``.

    Parameters
    ----------
    dataset : Dataset
    solver : {"sgd", "lbfgs"}
        ``"sgd"`` is the seed's recipe: mini-batch SGD on the mean
        cross-entropy, no regularization, weights from zero, one
        ``partial_fit`` per epoch. ``"lbfgs"`` is scikit-learn's
        ``LogisticRegression`` (multinomial, L2 strength ``C``), a converged optimum.
    epochs : int
        SGD passes over the training set (``lbfgs``: at most ``4 * epochs`` iterations).
    learning_rate, batch_size : SGD settings.
    C : float
        Inverse L2 strength for ``lbfgs``.
    seed : int
        Seeds the SGD shuffles; the result is deterministic for a seed.
    adversarial_eps : float
        A defense: > 0 trains on the exact worst case of each image within
        ``|delta|_inf <= adversarial_eps`` inside [0, 1] as well as on the
        image (:func:`core.defense.loss_and_gradient`). Not the gradient sign
        attack's image, which for a ten-class model only approximates the
        worst case: for a linear model the worst case against each rival
        class has a closed form, so the training aims at the certified
        accuracy itself (Goodfellow et al. 2015, section 5, derive the same
        L1-like penalty for logistic regression).
    l1 : float
        A defense: > 0 adds L1 weight decay of this strength (a proximal step).
        With either defense, SGD runs in :func:`core.defense.defended_sgd`
        (scikit-learn has no loss at an attacked input), ``sgd`` solver only.
    on_epoch : callable, optional
        ``on_epoch(epoch, total, metrics)`` after every epoch (once for ``lbfgs``).

    The defaults are :data:`core.settings.DEFAULTS` (the original experiment's recipe).

    Raises
    ------
    ValueError
        A setting outside :data:`core.settings.BOUNDS` (named in the message).
    """
    settings = TrainingSettings(dataset.name, solver, epochs, learning_rate, batch_size, C, seed, adversarial_eps, l1)
    settings.check()
    x_train, y_train, x_test, y_test = dataset.x_train, dataset.y_train, dataset.x_test, dataset.y_test
    history = []
    start = time.perf_counter()

    def record(epoch: int, total: int, model: SoftmaxModel, loss: float) -> None:
        metrics = EpochMetrics(epoch, float(loss), _accuracy(model, x_train, y_train), _accuracy(model, x_test, y_test))
        history.append(metrics)
        if on_epoch is not None:
            on_epoch(epoch, total, metrics)

    if settings.defended:
        from core.defense import defended_sgd

        model = defended_sgd(x_train, y_train, epochs=epochs, learning_rate=learning_rate, batch_size=batch_size,
                             seed=seed, adversarial_eps=adversarial_eps, l1=l1,
                             on_epoch=lambda epoch, model, loss: record(epoch, epochs, model, loss))  # fmt: skip
    elif solver == "sgd":
        classifier = _softmax_regression_sgd(learning_rate, batch_size, seed)
        classes = np.arange(N_CLASSES)
        for epoch in range(1, epochs + 1):
            classifier.partial_fit(x_train, y_train, classes=classes)
            model = SoftmaxModel(classifier.coefs_[0].T, classifier.intercepts_[0])
            record(epoch, epochs, model, classifier.loss_)
    else:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import LogisticRegression

        classifier = LogisticRegression(C=C, max_iter=4 * epochs, tol=1e-4)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter is the user's budget
            classifier.fit(x_train, y_train)
        W = np.zeros((N_CLASSES, N_PIXELS))
        b = np.zeros(N_CLASSES)
        W[classifier.classes_] = classifier.coef_
        b[classifier.classes_] = classifier.intercept_
        model = SoftmaxModel(W, b)
        record(1, 1, model, cross_entropy(model, x_train, y_train))

    seconds = time.perf_counter() - start
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


def save_training(result: TrainingResult, file) -> None:
    """Write a training result as ``.npz`` to a path or an open binary file.

    To keep it in a cache, pass this to :func:`core.cache.save_atomically`,
    so a reader never sees half a file.
    """
    history = np.array([[h.epoch, h.loss, h.train_accuracy, h.test_accuracy] for h in result.history])
    np.savez(
        file, W=result.model.W, b=result.model.b, history=history, per_class=result.per_class_accuracy,
        confusion=result.confusion, seconds=result.seconds, solver=result.solver,
    )  # fmt: skip


def load_training(path) -> TrainingResult:
    """Read what :func:`save_training` wrote; ``ValueError`` if the file is not such a result."""
    try:
        with np.load(path, allow_pickle=False) as saved:
            history = tuple(
                EpochMetrics(int(e), float(loss), float(train), float(test))
                for e, loss, train, test in saved["history"]
            )
            return TrainingResult(
                model=SoftmaxModel(saved["W"], saved["b"]),
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
