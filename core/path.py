"""The exact attack path of a linear model, and compiled walks along it.

Along ``clip(x + eps * d)`` (``d`` the attack direction, +-1 or 0 per pixel)
each pixel moves at unit speed until it reaches the clip range at
``eps = tau`` and stops, so every logit is piecewise linear in ``eps``:

    z(eps) = z0 + eps * R - sum over stopped pixels of W_i d_i (eps - tau_i)

with ``R = W m`` the rate of all pixels that move at all. Since |eps| <= 1,
a pixel already at an edge of the clip range either never moves or moves
all the way, so only the grey pixels (strictly inside the range) stop
along the way. :class:`AttackPath` prepares a block of images in numpy (two thin
matrix products and one pass over the pixels); the walks, compiled with
numba, visit each image's grey pixels in order of ``tau``: one pass over the
image data, then ten logits per epsilon.

Importing this module does one thing on purpose: it points numba's kernel
cache at the app's cache folder (:func:`core.cache.cache_folder`), which
must happen before the kernels below are decorated. The thread pool that
walks blocks on all cores is made on first use.
"""

from __future__ import annotations

import functools
import os
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
from numba import njit
from threadpoolctl import ThreadpoolController

from core.cache import cache_folder, set_aside
from core.model import gradient_from_logits

# Compiled kernels are kept in the app's cache folder (or a temporary one), never beside the source;
# with no writable folder at all they are compiled in every process instead.
KERNEL_CACHE = cache_folder("numba")
if KERNEL_CACHE is not None:
    numba.config.CACHE_DIR = str(KERNEL_CACHE)
_CACHED = KERNEL_CACHE is not None
_first_call = threading.Lock()

BLOCK = 1024  # images prepared at once: a few (1024, 784) arrays, small enough to reuse memory


@functools.cache
def _blas() -> ThreadpoolController:
    return ThreadpoolController()


@functools.cache
def _workers() -> ThreadPoolExecutor:
    """One thread per core, made on first use and shared by every caller (any number of app sessions)."""
    return ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="attack-path")


def over_blocks(model, images: np.ndarray, target: int, clip, kernel, *extra) -> list:
    """Prepare blocks of images and walk them with a compiled ``kernel``, on all cores; results in block order.

    The kernels release the GIL (``nogil``) and so does most of numpy, so
    plain threads run blocks side by side, and any number of app sessions may
    call this at once. The matrix products here are thin (10 columns): BLAS
    threads gain nothing and, spinning between calls, slow the walks down.
    """
    n = len(images)
    size = min(BLOCK, max(32, -(-n // (os.cpu_count() or 1))))  # at least one block per core

    def block(start: int):
        path = AttackPath(model, images[start : start + size], target, clip)
        return call_kernel(kernel, *path.arguments, *extra, 0, path.n)

    with _blas().limit(limits=1, user_api="blas"):
        return list(_workers().map(block, range(0, n, size)))


def call_kernel(kernel, *arguments):
    """Call a compiled kernel; on its first call, a damaged kernel cache is set aside and the kernel compiled.

    The first call loads the kernel from the cache folder or compiles it. A
    cache file that cannot be read (overwritten, cut short) makes numba raise
    whatever its unpickling meets, so any error before the kernel has a
    compiled version means the cache: it is moved aside (with a log line)
    and the kernel compiled afresh.
    """
    if kernel.signatures:
        return kernel(*arguments)
    with _first_call:  # one thread loads or compiles; the others then find it ready
        try:
            return kernel(*arguments)
        except Exception as error:
            if kernel.signatures or KERNEL_CACHE is None:
                raise  # compiled fine: the error is not the cache's
            _set_aside_kernel_cache(error)
            return kernel(*arguments)


def _set_aside_kernel_cache(problem) -> None:
    moved = set_aside(KERNEL_CACHE, problem)
    if moved is not None:  # the kernels keep their folders: recreate them, empty
        shutil.copytree(moved, KERNEL_CACHE, ignore=lambda folder, names: [
            name for name in names if not os.path.isdir(os.path.join(folder, name))
        ])  # fmt: skip


class AttackPath:
    """The attack path of a block of images, ready for the compiled walks.

    Positive eps moves pixel i by ``d_i`` (the attack direction), negative eps
    by ``-d_i``; either way at unit speed until the pixel reaches the clip
    range and stops. Since |eps| <= 1, a pixel already at an edge either never
    moves on a side or moves all the way (it stops at |eps| = high - low >= 1),
    so only the grey pixels, strictly inside the clip range, can stop inside
    the grid. This keeps, for each side, the rate ``R = W m`` of every pixel
    that moves at all, and per image (CSR-style) the grey pixels: column,
    direction, and ``tau``, where positive eps stops them.
    """

    def __init__(self, model, images: np.ndarray, target: int, clip):
        n = len(images)
        z0 = model.logits(images)
        direction = -np.sign(gradient_from_logits(model.W, z0, target)).astype(np.int8)  # attack_direction
        if clip is None:  # nothing ever stops: z(eps) = z0 + eps * W d
            rate = direction @ model.W.T
            rate_positive, rate_negative, span = rate, -rate, np.inf
            pointer, tau, column, sign = np.zeros(n + 1, np.int64), np.zeros(0), np.zeros(0, np.int64), np.zeros(0)
        else:
            low, high = clip
            span = high - low
            at_low, at_high = images <= low, images >= high
            down, up = direction < 0, direction > 0
            # at an edge, a pixel moves on the side that takes it away from that edge
            rate_positive = np.where(at_low & down | at_high & up, 0, direction) @ model.W.T
            rate_negative = -(np.where(at_low & up | at_high & down, 0, direction) @ model.W.T)
            grey = ~(at_low | at_high) & (direction != 0)
            pointer = np.concatenate([[0], np.cumsum(np.count_nonzero(grey, axis=1))])
            flat = np.flatnonzero(grey)
            pixel = images.reshape(-1)[flat].astype(np.float64)
            sign = direction.reshape(-1)[flat].astype(np.float64)
            tau, column = np.where(sign > 0, high - pixel, pixel - low), flat % images.shape[1]
        self.n = n
        self.arguments = (
            z0,
            rate_positive,
            rate_negative,
            pointer,
            tau,
            column,
            sign,
            np.ascontiguousarray(model.W.T),
            span,
        )


@njit(cache=_CACHED, nogil=True)
def _order_by_tau(tau, span):
    """Indices that sort ``tau`` (values in [0, span]) ascending: a bucket sort, exact and linear.

    Bucket keys grow with ``tau``; inside a bucket an insertion sort puts
    the exact values in order (8-bit images put one value in a bucket).
    """
    n = tau.shape[0]
    buckets = 512
    scale = buckets / span if span > 0 else 0.0
    keys = np.empty(n, np.int64)
    starts = np.zeros(buckets + 1, np.int64)
    for i in range(n):
        key = min(max(int(tau[i] * scale), 0), buckets - 1)
        keys[i] = key
        starts[key + 1] += 1
    for b in range(buckets):
        starts[b + 1] += starts[b]
    fill = starts[:-1].copy()
    order = np.empty(n, np.int64)
    for i in range(n):
        order[fill[keys[i]]] = i
        fill[keys[i]] += 1
    for b in range(buckets):
        for j in range(starts[b] + 1, starts[b + 1]):
            item, m = order[j], j - 1
            while m >= starts[b] and tau[order[m]] > tau[item]:
                order[m + 1] = order[m]
                m -= 1
            order[m + 1] = item
    return order


@njit(cache=_CACHED, nogil=True)
def _walk_image(z0, rate, tau, column, sign, order, WT, steps, out):
    """Logits of one image along one side at ``steps`` (ascending, > 0) into ``out`` (k, 10).

    ``order`` visits the grey pixels by increasing ``tau``; once eps passes a
    pixel's ``tau`` it stops: its rate leaves the moving rate and its final
    displacement joins the shift.
    """
    moving = rate.copy()
    shift = z0.copy()
    next_stop = 0
    for j in range(steps.shape[0]):
        e = steps[j]
        while next_stop < order.shape[0] and tau[order[next_stop]] <= e:
            i = order[next_stop]
            for c in range(10):
                contribution = sign[i] * WT[column[i], c]
                moving[c] -= contribution
                shift[c] += contribution * tau[i]
            next_stop += 1
        for c in range(10):
            out[j, c] = shift[c] + e * moving[c]


@njit(cache=_CACHED, nogil=True)
def _walk_both_sides(z0, rate_positive, rate_negative, pointer, tau, column, sign, WT, span, grid, image, out):
    """Logits of one image at every grid epsilon (ascending) into ``out`` (K, 10)."""
    a, b = pointer[image], pointer[image + 1]
    tau_image = tau[a:b]
    order = _order_by_tau(tau_image, span)
    k = grid.shape[0]
    zero = 0  # the first index with eps >= 0, then the first with eps > 0: plain loops compile fast
    while zero < k and grid[zero] < 0.0:
        zero += 1
    first_positive = zero
    while first_positive < k and grid[first_positive] == 0.0:
        for c in range(10):
            out[first_positive, c] = z0[image, c]
        first_positive += 1
    if first_positive < k:
        _walk_image(
            z0[image],
            rate_positive[image],
            tau_image,
            column[a:b],
            sign[a:b],
            order,
            WT,
            grid[first_positive:],
            out[first_positive:],
        )
    if zero > 0:
        # away from the target each grey pixel stops at span - tau, in the reverse order
        backwards = np.empty(zero)
        for j in range(zero):
            backwards[j] = -grid[zero - 1 - j]
        flipped = np.empty((zero, 10))
        _walk_image(
            z0[image],
            rate_negative[image],
            span - tau_image,
            column[a:b],
            -sign[a:b],
            order[::-1].copy(),
            WT,
            backwards,
            flipped,
        )
        for j in range(zero):
            for c in range(10):
                out[j, c] = flipped[zero - 1 - j, c]


@njit(cache=_CACHED, nogil=True)
def walk_totals(z0, rate_positive, rate_negative, pointer, tau, column, sign, WT, span, grid, target, first, last):
    """For every grid epsilon: how many of images ``first:last`` the model calls ``target``, and their p(target) sum."""
    k = grid.shape[0]
    fooled = np.zeros(k)
    probability = np.zeros(k)
    logits = np.empty((k, 10))
    for image in range(first, last):
        _walk_both_sides(z0, rate_positive, rate_negative, pointer, tau, column, sign, WT, span, grid, image, logits)
        for j in range(k):
            best = 0
            for c in range(1, 10):
                if logits[j, c] > logits[j, best]:  # the first maximum, as argmax
                    best = c
            if best == target:
                fooled[j] += 1.0
            total = 0.0
            for c in range(10):  # p(target) = 1 / sum_c exp(z_c - z_target); an overflow gives 0
                gap = logits[j, c] - logits[j, target]
                if gap > -40.0:  # nine terms below e^-40 cannot move a sum that holds exp(0) = 1
                    total += np.exp(gap)
            probability[j] += 1.0 / total
    return fooled, probability


@njit(cache=_CACHED, nogil=True)
def walk_minimal_epsilon(
    z0, rate_positive, rate_negative, pointer, tau, column, sign, WT, span, target, max_eps, first, last
):
    """Per image, the smallest eps in [0, max_eps] past which ``target`` scores strictly highest; inf if none.

    On each linear piece between consecutive stops the condition
    ``z_target(e) > z_j(e)`` for every other j is a set of linear
    inequalities whose solutions form an interval; the first piece where it
    is not empty gives the answer (the infimum: the target ties at it).
    """
    result = np.full(last - first, np.inf)
    for image in range(first, last):
        a, b = pointer[image], pointer[image + 1]
        tau_image = tau[a:b]
        order = _order_by_tau(tau_image, span)
        moving = rate_positive[image].copy()
        shift = z0[image].copy()
        start = 0.0
        for piece in range(order.shape[0] + 1):
            end = tau_image[order[piece]] if piece < order.shape[0] else np.inf
            lower, upper, possible = start, end, True
            for j in range(10):
                if j == target:
                    continue
                margin = shift[target] - shift[j]  # target minus j at eps = 0 of this piece's line
                slope = moving[target] - moving[j]
                if slope > 0:
                    lower = max(lower, -margin / slope)
                elif slope < 0:
                    upper = min(upper, -margin / slope)
                elif margin <= 0:
                    possible = False
            if possible and lower < upper:
                if lower <= max_eps:
                    result[image - first] = lower
                break
            if start > max_eps or piece == order.shape[0]:
                break
            i = a + order[piece]
            for c in range(10):
                contribution = sign[i] * WT[column[i], c]
                moving[c] -= contribution
                shift[c] += contribution * tau[i]
            start = end
    return result
