"""A complete verifier for the ReLU network at a fixed epsilon: can any perturbation change its answer?

Branch and bound over the hidden units whose sign the epsilon-box does not
fix, as complete verifiers do (alpha,beta-CROWN; Wang et al. 2021). A branch
fixes the signs of some units: each fixed unit is linear on it (its sign a
constraint on the pixels), each other undecided unit is held between its
triangle relaxation's lines, and the smallest lead of the true class over one
rival on the branch is a linear program with the branch's splits enforced
(:class:`core.network_lp.BranchProgram`: one HiGHS program kept warm for the
whole search, each branch a change of bounds). Before the first split, rounds
of cuts make the relaxation of each unit the solution leans on its exact
convex hull over the box (Anderson et al. 2020). A branch whose bound is
positive is proven; otherwise the program's own optimum is tried on the real
network (an attack, if it works), and the branch is split on the unit whose
relaxation costs the bound most. Once every unit on a branch is fixed the
program is exact, so the search ends with a proof or an attack, unless its
time runs out first.

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
from core.network_lp import BranchProgram

__all__ = ["Verdict", "can_reach", "verify_robust", "winner"]

CUT_ROUNDS, CUT_DEPTH = 20, 1  # rounds of cuts (at most 40 rows each) in all, on branches with fewer splits


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

    if winner(network, image) != label:
        return verdict("attacked", image)
    found = _attack(network, image, label, eps, clip)
    if found is not None:
        return verdict("attacked", found)
    leads = np.delete(np.eye(10)[label] - np.eye(10), label, axis=0)  # z_label - z_j over the logits
    rivals = np.delete(np.arange(10), label)
    bounds = lower_bounds(network, image, eps, leads, clip)
    branches, unknown = 0, False
    for place in np.argsort(bounds):  # the hardest first: an attack shows there soonest
        if bounds[place] > 0:
            continue  # CROWN proves this rival stays behind on the whole box
        rival = rivals[place]
        rows = (network.W2[label] - network.W2[rival])[None]
        bias = np.array([network.b2[label] - network.b2[rival]])
        status, found, solved = _branch_and_bound(
            network, image, rows, bias, eps, clip, deadline, lambda candidate: winner(network, candidate) != label
        )
        branches += solved
        if status == "attacked":
            return verdict("attacked", found, branches)
        unknown |= status == "unknown"
        if time.perf_counter() > deadline:
            return verdict("unknown", None, branches)
    return verdict("unknown" if unknown else "robust", None, branches)


def can_reach(network: ReluNetwork, x, target, eps, *, clip=(0.0, 1.0), time_limit: float = 10.0) -> Verdict:
    """Whether some perturbation with ``|delta|_inf <= eps`` makes ``target`` score strictly highest: "attacked" with
    the image, "robust" (proven: every such image leaves some other class at least level with the target), or
    "unknown" after ``time_limit`` seconds."""
    started = time.perf_counter()
    image = as_one_image(x, "can_reach").astype(np.float64)
    target = as_digit(target, "target")
    clip = as_clip(clip)
    deadline = started + time_limit
    wins = lambda candidate: winner(network, candidate) == target  # noqa: E731

    def verdict(status: str, found=None, branches: int = 0) -> Verdict:
        return Verdict(status, found, branches, time.perf_counter() - started)

    found = pgd(network, image, eps, target=target, steps=20, clip=clip, keep_best=True)
    if wins(found):
        return verdict("attacked", found)
    if (lower_bounds(network, image, eps, np.delete(np.eye(10) - np.eye(10)[target], target, axis=0), clip) > 0).any():
        return verdict("robust")  # CROWN: some class stays ahead of the target on the whole box
    rows = np.delete(network.W2 - network.W2[target], target, axis=0)  # z_j - z_target, j != target
    bias = np.delete(network.b2 - network.b2[target], target)
    # no cuts here: the best attack asks many short questions, which the rounds of cuts would spend
    status, found, solved = _branch_and_bound(network, image, rows, bias, eps, clip, deadline, wins, cut_rounds=0)
    return verdict(status, found, solved)


def winner(network: ReluNetwork, image: np.ndarray) -> int | None:
    """The class that scores strictly highest, or None on a tie at the top."""
    z = network.logits(image)
    top = int(np.argmax(z))
    return top if z[top] > np.delete(z, top).max() else None


def _attack(network: ReluNetwork, image: np.ndarray, label: int, eps: float, clip) -> np.ndarray | None:
    """PGD (20 steps from the gradient sign step, its best iterate), untargeted and toward the two rivals the
    network ranks next: an image where the answer is no longer ``label``, or None."""
    z = network.logits(image)
    order = [int(j) for j in np.argsort(-z) if j != label][:2]
    tries = [pgd(network, image, eps, labels=label, steps=20, clip=clip, keep_best=True)]
    tries += [pgd(network, image, eps, target=j, steps=20, clip=clip, keep_best=True) for j in order]
    for found in tries:
        if winner(network, found) != label:
            return found
    return None


def branch_program(network, image, rows, bias, eps, clip, *, hull=False):
    """The branch and bound's program for ``max_r (rows_r . relu(h) + bias_r)`` over the eps-box (``rows . a + bias
    <= t``, ``t`` minimised), and what it was made from: ``(program, start, low, high)``, the units' inputs at the
    image and their bounds over the box (the pixels' moves are ``program.box``)."""
    centre, radius, low, high = unit_bounds(network, image, eps, clip)
    box = (centre - radius - image, centre + radius - image)  # the pixels' moves
    start = network.W1 @ image + network.b1
    program = BranchProgram(
        network.W1,
        start,
        low,
        high,
        (low < 0) & (high > 0),
        box,
        rows,
        np.full(len(rows), -np.inf),
        -bias,
        extra=-np.ones(len(rows)),
        t_bounds=(-np.inf, np.inf),
        hull=hull,
    )
    return program, start, low, high


def _branch_and_bound(network, image, rows, bias, eps, clip, deadline, broken, cut_rounds=CUT_ROUNDS):
    """Is ``max_r (rows_r . relu(h) + bias_r) > 0`` everywhere on the box? Depth first over the undecided units'
    signs; ``broken(image)`` says whether a candidate from a branch's optimum is an attack."""
    program, start, low, high = branch_program(network, image, rows, bias, eps, clip, hull=cut_rounds > 0)
    undecided = (low < 0) & (high > 0)
    stack, solved, tied, cuts = [{}], 0, False, 0
    while stack:
        stopping.check()  # a computation nobody waits for any more stops here
        if time.perf_counter() > deadline:
            return "unknown", None, solved
        splits = stack.pop()
        solved += 1
        answer = program.solve(splits)
        if answer is None:
            continue  # no pixels satisfy these signs: nothing to prove
        value, move, outputs_of = answer
        if value > 0:
            continue  # proven on this branch
        candidate = image + move if clip is None else np.clip(image + move, *clip)
        if broken(candidate):
            return "attacked", candidate, solved
        if len(splits) < CUT_DEPTH and cuts < cut_rounds and program.cut():
            cuts += 1
            stack.append(splits)  # the same branch again, its relaxation tighter
            continue
        free = undecided.copy()
        free[list(splits)] = False
        if not free.any():  # every unit fixed: the program is exact, and its optimum only ties (to rounding)
            tied = True
            continue
        # the unit whose relaxation the program's optimum uses most (its relaxed output above the real ReLU's,
        # weighted by its pull on the row that binds there); where none is used, the widest relaxation
        loose_units = np.flatnonzero(free)
        relaxed = np.array([outputs_of[k] for k in loose_units])
        outputs = np.maximum(network.W1 @ move + start, 0.0)
        outputs[loose_units] = relaxed
        weights = rows[int(np.argmax(rows @ outputs + bias))]
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
