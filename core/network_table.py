"""A verified robustness table for the ReLU network, in the style of Tjeng, Xiao & Tedrake (2019).

For each epsilon, over a set of test images: the clean accuracy, the
accuracy under the gradient sign step and under PGD (attacks: upper
bounds on what survives), the certified accuracy from CROWN's bound alone
and the verified robust accuracy from the complete verifier (lower
bounds: proven), the share of images the verifier settled (proven robust
or attacked; the rest ran out of time) and its time per image. The true
robust accuracy lies between the verified and the PGD column; where every
image is settled the verified column is it.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np

from core import stopping
from core.attack import fgsm, pgd
from core.checks import as_images
from core.exact import robust_radius
from core.model import ReluNetwork
from core.network_bounds import lower_bounds
from core.network_verify import verify_robust

__all__ = ["EPSILONS", "TableRow", "linear_rows", "robustness_rows"]

EPSILONS = (0.01, 0.02, 0.05, 0.1)  # Tjeng, Xiao & Tedrake's on MNIST, and the network page's range


@dataclass(frozen=True)
class TableRow:
    """One epsilon's row: shares of ``images`` (0..1), and the verifier's seconds per image."""

    eps: float
    images: int
    clean: float
    sign_step: float
    pgd: float
    certified: float
    verified: float
    settled: float
    median_seconds: float
    worst_seconds: float
    total_seconds: float
    statuses: str = ""  # per image: "c" certified by CROWN, "r" verified robust, "a" attacked, "u" unknown, "x" misread

    def to_dict(self) -> dict:
        return asdict(self)


def robustness_rows(
    network: ReluNetwork, x, labels, epsilons=EPSILONS, *, clip=(0.0, 1.0), time_limit: float = 10.0, progress=None
) -> list[TableRow]:
    """The table's rows for ``network`` on the images ``x`` with their true ``labels``, one per epsilon; each
    image gets the verifier for at most ``time_limit`` seconds per epsilon. ``progress(done, total)`` is called
    after each image's question."""
    images, _ = as_images(x)
    images = images.astype(np.float64)
    labels = np.asarray(labels, dtype=int)
    correct = network.predict(images) == labels
    rows, done, total = [], 0, len(images) * len(epsilons)

    def verify(*args, **kwargs):
        return verify_robust(*args, **kwargs, time_limit=time_limit)

    for eps in epsilons:
        sign_step, iterated = _attacked_accuracy(network, images, labels, eps, clip)
        certified = verified = settled = 0
        seconds, statuses = [], []
        for x_i, label, right in zip(images, labels, correct):
            stopping.check()  # a table nobody waits for any more stops here
            started = time.perf_counter()
            if not right:  # misread already: settled, and robust for nobody
                settled += 1
                statuses.append("x")
            else:
                leads = np.delete(np.eye(10)[label] - np.eye(10), label, axis=0)  # z_label - z_j, j != label
                proven = bool((lower_bounds(network, x_i, eps, leads, clip) > 0).all())
                certified += proven
                status = "robust" if proven else verify(network, x_i, int(label), eps, clip=clip).status
                verified += status == "robust"
                settled += status != "unknown"
                statuses.append("c" if proven else status[0])
            seconds.append(time.perf_counter() - started)
            done += 1
            if progress is not None:
                progress(done, total)
        n = len(images)
        rows.append(
            TableRow(
                eps=float(eps),
                images=n,
                clean=float(correct.mean()),
                sign_step=sign_step,
                pgd=iterated,
                certified=certified / n,
                verified=verified / n,
                settled=settled / n,
                median_seconds=float(np.median(seconds)),
                worst_seconds=float(max(seconds)),
                total_seconds=float(sum(seconds)),
                statuses="".join(statuses),
            )
        )
    return rows


def linear_rows(model, x, labels, epsilons=EPSILONS, *, clip=(0.0, 1.0)) -> list[dict]:
    """The linear model's rows beside the network's: per epsilon, clean accuracy, under the sign step and PGD, and
    the robust accuracy, exact (the certified radius, a closed form, is the best attack's)."""
    images, _ = as_images(x)
    images = images.astype(np.float64)
    labels = np.asarray(labels, dtype=int)
    radius = robust_radius(model, images, labels, clip=clip)
    clean = float(np.mean(model.predict(images) == labels))
    rows = []
    for eps in epsilons:
        stopping.check()
        sign_step, iterated = _attacked_accuracy(model, images, labels, eps, clip)
        rows.append(
            {
                "eps": float(eps),
                "clean": clean,
                "sign_step": sign_step,
                "pgd": iterated,
                "robust": float(np.mean(radius > eps)),
            }
        )
    return rows


def _attacked_accuracy(model, images: np.ndarray, labels: np.ndarray, eps: float, clip) -> tuple[float, float]:
    """The accuracy left after the untargeted gradient sign step and after PGD (20 steps from it, the best
    iterate), both at ``eps``: the table's two attack columns, for either model."""
    stepped = fgsm(model, images, eps, labels=labels, clip=clip)
    iterated = pgd(model, images, eps, labels=labels, steps=20, clip=clip, keep_best=True)
    return float(np.mean(model.predict(stepped) == labels)), float(np.mean(model.predict(iterated) == labels))
