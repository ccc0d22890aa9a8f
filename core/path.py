"""The exact attack path of a linear model, walked in plain numpy.

Along ``clip(x + eps * d)`` (``d`` the attack direction, +-1 or 0 per pixel)
each pixel moves at unit speed until it reaches the clip range at
``eps = tau`` and stops, so every logit is piecewise linear in ``eps``:

    z(eps) = z0 + eps * R - sum over stopped pixels of W_i d_i (eps - tau_i)

with ``R = W m`` the rate of all pixels that move at all. Since |eps| <= 1,
a pixel already at an edge of the clip range either never moves or moves
all the way, so only the grey pixels (strictly inside the range) stop
along the way. :class:`PathBlock` prepares what a block of images shares
(logits, edges, grey pixels) and :class:`AttackPath` its path toward one
target (two thin matrix products and a few passes over the pixels); two
walks use it:

- :func:`walk_totals` (sweeps over a grid of epsilons) needs no sort: each
  grey pixel falls into the grid interval where it stops, the stops are
  summed per interval (one sparse matrix product) and accumulated along the
  grid, so the ten logits of every image at every epsilon come out of a few
  array passes.
- :func:`walk_minimal_epsilon` goes through each image's grey pixels in
  order of ``tau``; between consecutive stops the logits are straight lines,
  and on every piece at once the condition "the target beats each other
  class" is a few linear inequalities. The first piece where they hold gives
  the answer.

No compiler and nothing to import but numpy (and scipy's sparse matrices
for sweeps): a fresh server answers its first request as fast as its
thousandth. Blocks are walked on all cores by
plain threads (numpy releases the GIL); the pool is made on first use.
"""

from __future__ import annotations

import functools
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from threadpoolctl import threadpool_limits

from core.model import softmax
from core.stopping import current_check, in_background, lower_priority

BLOCK = 256  # images walked at once: their (block, pieces, 10) arrays stay a few MB
PIECES = 24  # pieces of the attack path the minimal-epsilon walk examines at a time


_blas_lock = threading.Lock()
_blas_set = False


def one_blas_thread() -> None:
    """Limit BLAS to one thread for the whole process, once (threadpoolctl does not promise that changing the
    limit from many threads at once is safe). The walks' matrix products are thin (10 columns): BLAS threads
    gain nothing there and, spinning between calls, slow the block threads down; trainings run in child
    processes with one BLAS thread of their own."""
    global _blas_set
    with _blas_lock:
        if not _blas_set:
            threadpool_limits(limits=1, user_api="blas")
            _blas_set = True


@functools.cache
def _workers(background: bool = False) -> ThreadPoolExecutor:
    """One thread per core, made on first use and shared by every caller (any number of app sessions).

    Work in the background (:func:`core.stopping.in_background`: shared work on a server) gets a pool of its own
    whose threads run at a lower CPU priority, so a visitor's page is drawn first while a long computation for
    others goes on.
    """
    cores = os.cpu_count() or 1
    if background:  # one thread beside the job's own: a core (and most of the GIL) stays free for pages
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="attack-path-bg", initializer=lower_priority)
    return ThreadPoolExecutor(max_workers=cores, thread_name_prefix="attack-path")


def over_blocks(model, images: np.ndarray, target: int, clip, walk, *extra) -> list:
    """Prepare blocks of images and ``walk(path, *extra)`` each, on all cores; results in block order."""
    cores = os.cpu_count() or 1
    size = min(BLOCK, max(32, -(-len(images) // cores)))  # at least one block per core
    return on_all_cores(
        lambda start: walk(PathBlock(model, images[start : start + size], clip).toward(target), *extra),
        list(range(0, len(images), size)),
    )


def over_targets(model, images: np.ndarray, labels: np.ndarray, clip, walk, *extra) -> list[tuple]:
    """Each image walked toward each of the nine digits it is not: ``[(indices, target, result), ...]``.

    The images are grouped by label and cut into blocks; each block is
    prepared once (:class:`PathBlock`) and ``walk(path, *extra)`` runs on its
    path toward each of the nine other digits in turn. The blocks run side
    by side on all cores. The matrix products here are thin (10 columns):
    BLAS threads gain nothing and, spinning between calls, slow the block
    threads down.
    """
    cores = os.cpu_count() or 1
    size = min(BLOCK, max(32, -(-len(images) // cores)))
    order = np.argsort(labels, kind="stable")
    cuts = np.flatnonzero(np.diff(labels[order])) + 1
    blocks = [group[start : start + size] for group in np.split(order, cuts) for start in range(0, len(group), size)]

    def block(indices):
        prepared, label = PathBlock(model, images[indices], clip), labels[indices[0]]
        return [(indices, t, walk(prepared.toward(t), *extra)) for t in range(10) if t != label]

    return [each for results in on_all_cores(block, blocks) for each in results]


def on_all_cores(function, items: list) -> list:
    """``[function(item) for item in items]``, side by side on all cores (numpy releases the GIL), BLAS on one.

    Before each item the caller's :func:`core.stopping.check` runs, so a
    computation nobody waits for any more stops between blocks.
    """
    one_blas_thread()
    check = current_check()

    def item_after_check(item):
        check()
        return function(item)

    if len(items) > 1 and (os.cpu_count() or 1) > 1:
        return list(_workers(background=in_background()).map(item_after_check, items))
    return [item_after_check(item) for item in items]


class PathBlock:
    """What the attack paths of one block of images toward every target share.

    The logits and probabilities, which pixels sit at an edge of the clip
    range, and the grey pixels strictly inside it (image, column, and how far
    each is from the top and from the bottom of the range): :meth:`toward`
    derives each target's :class:`AttackPath` from them in a few passes.
    """

    def __init__(self, model, images: np.ndarray, clip):
        self.W, self.WT, self.clip = model.W, np.ascontiguousarray(model.W.T), clip
        self.z0 = model.logits(images)
        self.probabilities = softmax(self.z0)
        self.free_up = self.free_down = np.ones(images.shape, bool)
        self.row, self.column = np.zeros(0, np.int64), np.zeros(0, np.int64)
        if clip is not None:
            low, high = clip
            self.free_up, self.free_down = images < high, images > low
            self.row, self.column = np.nonzero(self.free_up & self.free_down)
            pixel = images[self.row, self.column].astype(np.float64)
            self.to_top, self.to_bottom = high - pixel, pixel - low
        self.flat = self.row * images.shape[1] + self.column
        self.room_up, self.room_down = self.free_up.astype(np.float64), self.free_down.astype(np.float64)

    def toward(self, target) -> AttackPath:
        """The attack path of the block's images toward ``target`` (a digit, or one per image)."""
        return AttackPath(self, target)


class AttackPath:
    """The attack path of a block of images.

    Positive eps moves pixel i by ``d_i`` (the attack direction), negative eps
    by ``-d_i``; either way at unit speed until the pixel reaches the clip
    range and stops. Since |eps| <= 1, a pixel already at an edge either never
    moves on a side or moves all the way (it stops at |eps| = high - low >= 1),
    so only the grey pixels, strictly inside the clip range, can stop inside
    the grid. This keeps, for each side, the rate ``R = W m`` of every pixel
    that moves at all, and the grey pixels in row order: their image
    (``row``), their column of ``W`` (``column``), direction (``sign``) and
    ``tau``, where positive eps stops them; and which pixels have room to
    move up and down (``room_up``, ``room_down``). Made by
    :meth:`PathBlock.toward` from what every target of the block shares.

    The choices per pixel are made with comparisons and arithmetic, not
    ``numpy.where``: the attack's signs are close to random, and a branch per
    pixel costs more than the arithmetic (exact here: the factors are 0 or 1).
    """

    def __init__(self, block: PathBlock, target):
        self.z0, self.WT, self.target, self.n = block.z0, block.WT, target, len(block.z0)
        residual = block.probabilities.copy()
        residual[np.arange(self.n), target] -= 1.0
        gradient = residual @ block.W
        up, down = gradient < 0, gradient > 0  # the attack direction, -sign(gradient)
        self._up, self._down = up, down
        self.room_up, self.room_down = block.room_up, block.room_down
        # at an edge, a pixel moves on the side that takes it away from that edge
        moving = (up & block.free_up).view(np.int8) - (down & block.free_down).view(np.int8)
        self.rate_positive = moving.astype(np.float64) @ self.WT
        self.span = np.inf if block.clip is None else block.clip[1] - block.clip[0]
        self.row, self.column, self.sign, self.tau = block.row, block.column, np.zeros(0), np.zeros(0)
        if len(block.row):
            rising, falling = up.ravel()[block.flat], down.ravel()[block.flat]
            row, column = block.row, block.column
            to_top, to_bottom = block.to_top, block.to_bottom
            if not (rising | falling).all():  # a pixel the gradient does not touch never moves
                still = rising | falling
                row, column, rising, falling, to_top, to_bottom = (
                    each[still] for each in (row, column, rising, falling, to_top, to_bottom)
                )
            self.row, self.column = row, column
            rising, falling = rising.astype(np.float64), falling.astype(np.float64)
            self.sign, self.tau = rising - falling, to_top * rising + to_bottom * falling

    @functools.cached_property
    def rate_negative(self) -> np.ndarray:
        """The rate of the logits as eps grows negative (away from the target), before any pixel stops.

        Only sweeps need it: made on first use. At an edge, a pixel moves on the
        side that takes it away from that edge.
        """
        moving = (self._down & (self.room_up > 0)).view(np.int8) - (self._up & (self.room_down > 0)).view(np.int8)
        return moving.astype(np.float64) @ self.WT


def first_slope(room_up: np.ndarray, room_down: np.ndarray, lead: np.ndarray) -> np.ndarray:
    """How fast each lead grows when every pixel with room moves its way, before any stops: (n, k).

    ``lead`` (784, k) holds k weight vectors; a pixel raises the lead by moving
    up where its weight is positive and down where it is negative, at unit speed.
    Each lead is concave in eps, so it never beats this first line: that bounds
    where it can reach any level from below.
    """
    return room_up @ np.maximum(lead, 0.0) + room_down @ np.maximum(-lead, 0.0)


def walk_logits(path: AttackPath, grid: np.ndarray) -> np.ndarray:
    """The ten logits of every image at every grid epsilon (ascending), (n, K, 10)."""
    logits = np.empty((path.n, len(grid), 10))
    positive, negative = grid > 0, grid < 0
    logits[:, grid == 0] = path.z0[:, None, :]
    if positive.any():
        logits[:, positive] = _side(path, grid[positive], path.rate_positive, path.tau, path.sign)
    if negative.any():  # away from the target each grey pixel stops at span - tau
        backwards = _side(path, -grid[negative][::-1], path.rate_negative, path.span - path.tau, -path.sign)
        logits[:, negative] = backwards[:, ::-1]
    return logits


def walk_totals(path: AttackPath, grid: np.ndarray, target: int) -> tuple[np.ndarray, np.ndarray]:
    """For every grid epsilon: how many images the model calls ``target``, and their p(target) sum."""
    logits = walk_logits(path, grid)
    fooled = np.count_nonzero(logits.argmax(axis=2) == target, axis=0).astype(np.float64)  # the first maximum
    logits -= logits[:, :, target].copy()[:, :, None]
    with np.errstate(over="ignore"):  # p(target) = 1 / sum_c exp(z_c - z_target); an overflow gives 0
        total = np.exp(logits, out=logits) @ np.ones(10)
    return fooled, (1.0 / total).sum(axis=0)


def _side(path: AttackPath, steps: np.ndarray, rate: np.ndarray, tau: np.ndarray, sign: np.ndarray) -> np.ndarray:
    """Logits (n, k, 10) at ``steps`` (ascending, > 0) on one side: stops summed per grid interval, then accumulated.

    The stops of each (image, grid interval) are summed by one sparse matrix
    product: a row per interval holding the direction of each pixel that
    stops in it (and, in a second block of rows, the direction times where it
    stops), times the weights.
    """
    from scipy.sparse import csr_array

    n, k = path.n, len(steps)
    size = n * (k + 1)
    # pixel stopped at steps[j] exactly when tau <= steps[j], i.e. for j >= the first index with steps >= tau
    interval = path.row * (k + 1) + first_at_or_above(steps, tau)
    stops = csr_array(
        (np.concatenate([sign, sign * tau]), (np.concatenate([interval, interval + size]), np.tile(path.column, 2))),
        shape=(2 * size, path.WT.shape[0]),
    )
    sums = np.asarray(stops @ path.WT)
    stopped = np.cumsum(sums[:size].reshape(n, k + 1, 10)[:, :k], axis=1)  # the rate the stopped pixels took away
    logits = np.cumsum(sums[size:].reshape(n, k + 1, 10)[:, :k], axis=1)  # and the shift they left behind
    logits += path.z0[:, None, :]
    logits += steps[None, :, None] * (rate[:, None, :] - stopped)
    return logits


def first_at_or_above(steps: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``np.searchsorted(steps, values, side="left")``: for each value, the first index with ``steps >= value``.

    On an evenly spaced grid (the usual case) the index is computed, then
    corrected by one comparison each way against the grid's own numbers, so
    it is exactly searchsorted's answer: a binary search per value branches
    unpredictably and costs several times more.
    """
    k = len(steps)
    spacing = (steps[-1] - steps[0]) / (k - 1) if k > 1 else 0.0
    if not spacing > 0 or np.abs(np.diff(steps) - spacing).max() > 1e-9 * spacing:
        return np.searchsorted(steps, values, side="left")
    index = np.ceil((values - steps[0]) / spacing)
    np.clip(index, 0, k, out=index)
    index = index.astype(np.intp)
    padded = np.concatenate([[-np.inf], steps, [np.inf]])  # padded[i + 1] is steps[i]
    index += padded[index + 1] < values  # the estimate is off by at most one either way
    index -= padded[index] >= values
    return index


def walk_minimal_epsilon(path: AttackPath, target: int, max_eps: float) -> np.ndarray:
    """Per image, the smallest eps in [0, max_eps] past which ``target`` scores strictly highest; inf if none.

    Piece ``p`` of an image runs from its ``p``-th stop to the next (the
    stops in order of ``tau``); on it the logits are ``shift + eps * moving``.
    The condition ``z_target(e) > z_j(e)`` for every other j is a set of
    linear inequalities whose solutions form an interval; the first piece
    where it is not empty gives the answer (the infimum: the target ties at
    it). The walk starts at a lower bound of the answer: the target's lead
    over j is concave in eps, so it cannot catch up before ``-margin / rise``
    (``rise`` its slope when every pixel with room moves its way); the stops
    below that are summed at once. Then only the next :data:`PIECES` stops of
    each image are partitioned out and sorted (twice as many each round), and
    an image leaves as soon as it has its answer: most never have their later
    stops sorted at all.
    """
    n, others = path.n, [j for j in range(10) if j != target]
    counts = np.bincount(path.row, minlength=n)
    pieces = int(counts.max(initial=0)) + 1
    # each image's stops in a row of its own (not sorted): the stop (index, or -1) and where it is (inf: none)
    place = np.arange(len(path.row)) - np.repeat(np.cumsum(counts) - counts, counts)  # rows come in order
    cell = path.row * pieces + place  # flat: one-dimensional scatters are the fast ones
    taus = np.full((n, pieces), np.inf)
    taus.ravel()[cell] = path.tau
    stops = np.full((n, pieces), -1)
    stops.ravel()[cell] = np.arange(len(path.row))
    # everything as the target's lead over the nine others: its value at eps = 0 of each piece's line, and its slope
    lead = path.WT[:, [target]] - path.WT[:, others]  # (784, 9): each pixel's weight in the target's lead
    slope = path.rate_positive[:, [target]] - path.rate_positive[:, others]  # (n, 9), at the start of the chunk
    margin = path.z0[:, [target]] - path.z0[:, others]
    # No perturbation at all makes the target catch up with class j before -margin_j / rise_j (its lead is concave
    # in eps, and rise_j is its slope when every pixel with room moves its way). The walk starts at the largest.
    rise = first_slope(path.room_up, path.room_down, lead)
    with np.errstate(divide="ignore", invalid="ignore"):
        floor = np.where(margin < 0, np.where(rise > 0, -margin / rise, np.inf), 0.0).max(axis=1)
    floor = np.where(floor <= max_eps, floor, np.inf)
    skipped = taus <= floor[:, None]  # the stops before the floor, in each row
    if skipped.any():  # the lines at the floor: everything those stops took away and added, summed at once
        from scipy.sparse import csr_array

        rows, places = np.nonzero(skipped)
        which = stops[rows, places]
        gone = (
            csr_array(
                (
                    np.concatenate([path.sign[which], path.sign[which] * path.tau[which]]),
                    (np.concatenate([rows, rows + n]), np.tile(path.column[which], 2)),
                ),
                shape=(2 * n, len(lead)),
            )
            @ lead
        )
        slope, margin = slope - gone[:n], margin + gone[n:]
        taus[skipped] = np.inf  # looked at: out of the way of the walk
    result = np.full(n, np.inf)
    active = np.flatnonzero(np.isfinite(floor))
    slope, margin = slope[active], margin[active]
    previous_end = floor.copy()  # where each image's current chunk starts
    size = PIECES
    while len(active):
        # the next stops of each image, in order: only these few are sorted (a partition finds them)
        size = min(size, pieces)
        rows = taus[active]
        nearest = np.argpartition(rows, size - 1, axis=1)[:, :size] if size < pieces else np.arange(pieces)[None, :]
        nearest = np.broadcast_to(nearest, (len(active), size))
        ends = np.take_along_axis(rows, nearest, axis=1)
        order = np.argsort(ends, axis=1)
        nearest, ends = np.take_along_axis(nearest, order, axis=1), np.take_along_axis(ends, order, axis=1)
        chosen = np.where(np.isfinite(ends), np.take_along_axis(stops[active], nearest, axis=1), -1)  # -1: none
        taken = np.zeros((len(active), size, 9))  # what the stop ending each piece takes from the slope
        if len(path.row):
            stopping = np.maximum(chosen, 0)
            taken = np.take(lead, path.column[stopping], axis=0) * path.sign[stopping][:, :, None]
            taken[chosen < 0] = 0.0  # padding: no stop
        added = taken * np.where(np.isfinite(ends), ends, 0.0)[:, :, None]  # and added to the value at eps = 0
        piece_slope = slope[:, None, :] - (np.cumsum(taken, axis=1) - taken)  # the stops before each piece, in order
        piece_margin = margin[:, None, :] + (np.cumsum(added, axis=1) - added)
        starts = np.concatenate([previous_end[active, None], ends[:, :-1]], axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            root = -piece_margin / piece_slope
        lower = np.maximum(starts, np.where(piece_slope > 0, root, -np.inf).max(axis=2))
        upper = np.minimum(ends, np.where(piece_slope < 0, root, np.inf).min(axis=2))
        never = ((piece_slope == 0) & (piece_margin <= 0)).any(axis=2)
        answer = np.where(~never & (lower < upper) & np.isfinite(starts), lower, np.inf).min(axis=1)
        found = np.isfinite(answer)
        result[active[found]] = answer[found]
        going = ~found & (ends[:, -1] <= max_eps)  # more pieces, starting within reach
        slope = (piece_slope[:, -1] - taken[:, -1])[going]
        margin = (piece_margin[:, -1] + added[:, -1])[going]
        taus[active[:, None], nearest] = np.inf  # looked at
        active = active[going]
        previous_end[active] = ends[going, -1]
        size *= 2  # the images still going are the hard ones: take bigger steps
    return np.where(result <= max_eps, result, np.inf)
