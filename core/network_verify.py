"""A complete verifier for the ReLU network at a fixed epsilon: can any perturbation change its answer?

Branch and bound over the hidden units whose sign the epsilon-box does not
fix, as complete verifiers do (alpha,beta-CROWN; Wang et al. 2021). A branch
fixes the signs of some units: each fixed unit is linear on it (its sign a
constraint on the pixels), each other undecided unit is held between its
triangle relaxation's lines, and the smallest lead of the true class over one
rival on the branch is a linear program (scipy's HiGHS) with the branch's
splits enforced. A branch whose bound is positive is proven; otherwise the
program's own optimum is tried on the real network (an attack, if it works),
and the branch is split on the unit whose relaxation costs the bound most.
Once every unit on a branch is fixed the program is exact, so the search
ends with a proof or an attack, unless its time runs out first.

Before any of it: an attack (PGD from the gradient sign step, untargeted and
toward the likeliest rivals) and CROWN's bounds (:mod:`core.network_bounds`),
which settle most questions in milliseconds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from core import stopping
from core.attack import pgd
from core.checks import MAX_EPS, as_clip, as_digit, as_one_image
from core.errors import BadInput
from core.model import ReluNetwork
from core.network_bounds import lower_bounds, unit_bounds

__all__ = ["Verdict", "verify_robust"]


@dataclass(frozen=True)
class Verdict:
    """What :func:`verify_robust` found: ``status`` is "robust" (proven: no perturbation in the box lets another
    class reach the true one), "attacked" (``image`` is in the box and in the clip range, and another class
    scores at least as high there) or "unknown" (the time ran out first). ``branches``: the linear programs
    solved."""

    status: str
    image: np.ndarray | None = None
    branches: int = 0
    seconds: float = 0.0


def verify_robust(network: ReluNetwork, x, label, eps, *, clip=(0.0, 1.0), time_limit: float = 10.0) -> Verdict:
    """Whether every perturbation with ``|delta|_inf <= eps`` (the image kept in ``clip``) leaves ``label`` strictly
    ahead of every other class: proven ("robust"), refuted with an image ("attacked"), or "unknown" after
    ``time_limit`` seconds."""
    started = time.perf_counter()
    image = as_one_image(x, "verify_robust").astype(np.float64)
    label = as_digit(label, "label")
    clip = as_clip(clip)
    if not (isinstance(eps, (int, float)) and 0 <= eps <= MAX_EPS):
        raise BadInput(f"eps must be a number in [0, {MAX_EPS:g}], got {eps!r}")
    deadline = started + time_limit

    def verdict(status: str, found=None, branches: int = 0) -> Verdict:
        return Verdict(status, found, branches, time.perf_counter() - started)

    if not _ahead(network, image, label):
        return verdict("attacked", image)
    found = _attack(network, image, label, eps, clip)
    if found is not None:
        return verdict("attacked", found)
    rows = np.delete(np.eye(10)[label] - np.eye(10), label, axis=0)
    rivals = np.delete(np.arange(10), label)
    bounds = lower_bounds(network, image, eps, rows, clip)
    branches, unknown = 0, False
    for rival in rivals[np.argsort(bounds)]:  # the hardest first: an attack shows there soonest
        if bounds[list(rivals).index(rival)] > 0:
            continue  # CROWN proves this rival stays behind on the whole box
        status, found, solved = _branch_and_bound(network, image, label, int(rival), eps, clip, deadline)
        branches += solved
        if status == "attacked":
            return verdict("attacked", found, branches)
        unknown |= status == "unknown"
        if time.perf_counter() > deadline:
            return verdict("unknown", None, branches)
    return verdict("unknown" if unknown else "robust", None, branches)


def _ahead(network: ReluNetwork, image: np.ndarray, label: int) -> bool:
    z = network.logits(image)
    return bool(z[label] > np.delete(z, label).max())


def _attack(network: ReluNetwork, image: np.ndarray, label: int, eps: float, clip) -> np.ndarray | None:
    """PGD (20 steps from the gradient sign step, its best iterate), untargeted and toward the two rivals the
    network ranks next: an image where the answer is no longer ``label``, or None."""
    z = network.logits(image)
    order = [int(j) for j in np.argsort(-z) if j != label][:2]
    tries = [pgd(network, image, eps, labels=label, steps=20, clip=clip, keep_best=True)]
    tries += [pgd(network, image, eps, target=j, steps=20, clip=clip, keep_best=True) for j in order]
    for found in tries:
        if not _ahead(network, found, label):
            return found
    return None


def _branch_and_bound(network, image, label, rival, eps, clip, deadline):
    """Is ``z_label - z_rival > 0`` on the whole box? Depth first over the undecided units' signs."""
    centre, radius, low, high = unit_bounds(network, image, eps, clip)
    box = (centre - radius - image, centre + radius - image)  # the pixels' moves
    weights = network.W2[label] - network.W2[rival]
    bias = float(network.b2[label] - network.b2[rival])
    start = network.W1 @ image + network.b1
    undecided = (low < 0) & (high > 0)
    stack, solved, tied = [{}], 0, False
    while stack:
        stopping.check()  # a computation nobody waits for any more stops here
        if time.perf_counter() > deadline:
            return "unknown", None, solved
        splits = stack.pop()
        solved += 1
        answer = _relaxation(network, weights, bias, start, low, high, undecided, splits, box)
        if answer is None:
            continue  # no pixels satisfy these signs: nothing to prove
        value, move, relaxed = answer
        loose_units = np.flatnonzero(undecided & np.array([k not in splits for k in range(len(low))]))
        if value > 0:
            continue  # proven on this branch
        candidate = image + move if clip is None else np.clip(image + move, *clip)
        if not _ahead(network, candidate, label):
            return "attacked", candidate, solved
        free = undecided.copy()
        free[list(splits)] = False
        if not free.any():  # every unit fixed: the program is exact, and its optimum only ties (to rounding)
            tied = True
            continue
        # the unit whose relaxation the program's optimum uses most (its relaxed output above the real ReLU's,
        # weighted by its pull on the lead); where none is used, the widest relaxation
        used = np.zeros(len(free))
        used[loose_units] = np.abs(weights[loose_units]) * (
            relaxed - np.maximum(network.W1[loose_units] @ move + start[loose_units], 0)
        )
        wide = np.where(free, np.abs(weights) * (-low * high) / np.where(free, high - low, 1.0), -1.0)
        unit = int(np.argmax(used)) if used.max() > 1e-9 else int(np.argmax(wide))
        here = (network.W1[unit] @ move + start[unit]) > 0  # the side the program's optimum lies on: searched first
        stack.append({**splits, unit: not here})
        stack.append({**splits, unit: bool(here)})
    return ("unknown" if tied else "robust"), None, solved


def _relaxation(network, weights, bias, start, low, high, undecided, splits, box):
    """The smallest ``z_label - z_rival`` on one branch, over the triangle relaxation of its unfixed units, with the
    fixed units' signs enforced: ``(value, pixel moves)``, or None if no pixels satisfy the signs."""
    from scipy.optimize import linprog

    W1 = network.W1
    n = W1.shape[1]
    active = (low >= 0) | np.array([splits.get(k) is True for k in range(len(low))])
    loose = undecided & np.array([k not in splits for k in range(len(low))])
    # the units on: a = h = start + W1 . delta; off: a = 0; loose: a variable between its triangle's lines
    cost = np.r_[weights[active] @ W1[active], weights[loose]]
    constant = float(weights[active] @ start[active]) + bias
    rows, limits = [], []
    for k, sign in splits.items():
        rows.append(np.r_[(-W1[k] if sign else W1[k]), np.zeros(loose.sum())])  # h >= 0, or h <= 0
        limits.append(start[k] if sign else -start[k])
    for place, k in enumerate(np.flatnonzero(loose)):
        pick = np.zeros(loose.sum())
        pick[place] = 1.0
        rows.append(np.r_[W1[k], -pick])  # a >= h
        limits.append(-start[k])
        scale = high[k] / (high[k] - low[k])
        rows.append(np.r_[-scale * W1[k], pick])  # a <= U (h - L) / (U - L)
        limits.append(scale * (start[k] - low[k]))
    bounds = list(zip(*box)) + [(0.0, float(high[k])) for k in np.flatnonzero(loose)]
    solved = linprog(
        cost,
        A_ub=np.array(rows) if rows else None,
        b_ub=np.array(limits) if rows else None,
        bounds=bounds,
        method="highs",
    )
    if solved.status == 2:
        return None
    if solved.status != 0:
        raise RuntimeError(f"the branch's linear program did not solve: {solved.message}")
    return float(solved.fun) + constant, solved.x[:n], solved.x[n:]
