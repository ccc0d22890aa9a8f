"""Training a softmax regression: scikit-learn's SGD (the seed's recipe) or L-BFGS, or the defended SGD loop.

Every solver ends in a frozen :class:`core.model.SoftmaxModel` and a
:class:`core.model.TrainingResult` (per-epoch metrics, per-class accuracy,
the confusion matrix). The defended loop is :func:`core.defense.defended_sgd`.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from core.checks import N_CLASSES, N_PIXELS
from core.defense import defended_sgd
from core.inputs.data import Dataset
from core.inputs.settings import DEFAULTS, TrainingSettings, fields_of
from core.model import EpochMetrics, SoftmaxModel, TrainingResult, cross_entropy, evaluated


def _accuracy(model: SoftmaxModel, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(model.predict(x) == y))


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
    settings: TrainingSettings | None = None,
    *,
    on_epoch: Callable[[int, int, EpochMetrics], None] | None = None,
    **changes,
) -> TrainingResult:
    """Train a softmax regression on ``dataset``.

    Parameters
    ----------
    dataset : Dataset
    settings : TrainingSettings, optional
        Everything that decides the weights; its ``dataset`` is taken to be
        ``dataset``'s. Default: :data:`core.inputs.settings.DEFAULTS` (the original
        experiment's recipe).
    **changes
        Settings to change, by name (``epochs=2``, ``solver="lbfgs"``, ...):
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

    Raises
    ------
    ValueError
        A setting outside :data:`core.inputs.settings.BOUNDS` (named in the message), or one that does not exist.
    """
    unknown = set(changes) - set(fields_of()) | ({"dataset", "hidden"} & set(changes))
    if unknown:
        raise ValueError(f"train_softmax has no setting {', '.join(sorted(unknown))}")
    settings = replace(settings or DEFAULTS, dataset=dataset.name, **changes).check()
    if settings.hidden:
        raise ValueError("train_softmax trains the linear model; core.training.train trains the network")
    epochs = settings.epochs
    x_train, y_train, x_test, y_test = dataset.x_train, dataset.y_train, dataset.x_test, dataset.y_test
    history = []
    start = time.perf_counter()

    def record(epoch: int, total: int, model: SoftmaxModel, loss: float) -> None:
        metrics = EpochMetrics(epoch, float(loss), _accuracy(model, x_train, y_train), _accuracy(model, x_test, y_test))
        history.append(metrics)
        if on_epoch is not None:
            on_epoch(epoch, total, metrics)

    if settings.defended:
        model = defended_sgd(
            x_train,
            y_train,
            epochs=epochs,
            learning_rate=settings.learning_rate,
            batch_size=settings.batch_size,
            seed=settings.seed,
            adversarial_eps=settings.adversarial_eps,
            l1=settings.l1,
            on_epoch=lambda epoch, model, loss: record(epoch, epochs, model, loss),
        )
    elif settings.solver == "sgd":
        classifier = _softmax_regression_sgd(settings.learning_rate, settings.batch_size, settings.seed)
        classes = np.arange(N_CLASSES)
        for epoch in range(1, epochs + 1):
            classifier.partial_fit(x_train, y_train, classes=classes)
            model = SoftmaxModel(classifier.coefs_[0].T, classifier.intercepts_[0])
            record(epoch, epochs, model, classifier.loss_)
    else:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import LogisticRegression

        classifier = LogisticRegression(C=settings.C, max_iter=4 * epochs, tol=1e-4)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter is the user's budget
            classifier.fit(x_train, y_train)
        W = np.zeros((N_CLASSES, N_PIXELS))
        b = np.zeros(N_CLASSES)
        W[classifier.classes_] = classifier.coef_
        b[classifier.classes_] = classifier.intercept_
        model = SoftmaxModel(W, b)
        record(1, 1, model, cross_entropy(model, x_train, y_train))

    return evaluated(model, settings.solver, history, time.perf_counter() - start, x_test, y_test)


def train(dataset: Dataset, settings: TrainingSettings, *, on_epoch=None) -> TrainingResult:
    """Train what ``settings`` name: the softmax regression, or (``hidden`` > 0) the ReLU network of
    :func:`core.network.train_mlp`. What the training child runs."""
    if settings.hidden:
        from core.network import train_mlp

        return train_mlp(dataset, settings.hidden, seed=settings.seed, epochs=settings.epochs, on_epoch=on_epoch)
    return train_softmax(dataset, settings, on_epoch=on_epoch)
