"""Sound bounds on the ReLU network over an epsilon-box: the hidden units' exact input bounds, and linear
relaxations of the ReLUs (CROWN, Zhang et al. 2018; Wong & Kolter 2018) or intervals (Gowal et al. 2018)."""

from __future__ import annotations

import numpy as np

from core.errors import BadInput
from core.model import ReluNetwork


def unit_bounds(network: ReluNetwork, x: np.ndarray, eps: float, clip=(0.0, 1.0)):
    """The eps-box around ``x`` (kept in ``clip``) as ``(centre, radius)``, and the exact bounds of the hidden
    units' inputs over it, ``(pre_low, pre_high)``: a linear layer over a box, bounded pixel by pixel."""
    low, high = x - eps, x + eps
    if clip is not None:
        low, high = np.maximum(low, clip[0]), np.minimum(high, clip[1])
    centre, radius = (low + high) / 2, (high - low) / 2
    pre_c, pre_r = network.W1 @ centre + network.b1, np.abs(network.W1) @ radius
    return centre, radius, pre_c - pre_r, pre_c + pre_r


def lower_bounds(
    network: ReluNetwork, x: np.ndarray, eps: float, rows: np.ndarray, clip=(0.0, 1.0), method: str = "crown"
) -> np.ndarray:
    """Sound lower bounds of ``rows @ logits`` over the eps-box around ``x`` (kept in ``clip``), one per row.

    The hidden units' input bounds are exact (a linear layer over a box).
    ``"ibp"``: interval bounds through the ReLUs (Gowal et al. 2018).
    ``"crown"``: each undecided ReLU between two lines, the chord above and
    0 or the identity below, whichever is closer (Zhang et al. 2018; Wong &
    Kolter 2018), then the resulting linear function of the pixels minimised
    over the box exactly: usually far tighter than intervals (about 3x the certified radius here).
    """
    centre, radius, pre_low, pre_high = unit_bounds(network, x, eps, clip)
    weights, bias = rows @ network.W2, rows @ network.b2  # (m, hidden), (m,)
    if method == "ibp":
        act_low, act_high = np.maximum(pre_low, 0), np.maximum(pre_high, 0)
        return np.where(weights > 0, weights * act_low, weights * act_high).sum(axis=1) + bias
    if method != "crown":
        raise BadInput(f"method must be 'crown' or 'ibp', got {method!r}")
    on, off = pre_low >= 0, pre_high <= 0
    undecided = ~on & ~off
    with np.errstate(divide="ignore", invalid="ignore"):
        chord = np.where(undecided, pre_high / (pre_high - pre_low), 0.0)  # relu(h) <= chord (h - low)
    below = np.where(on | (undecided & (pre_high >= -pre_low)), 1.0, 0.0)  # relu(h) >= below * h
    slope = np.where(weights >= 0, below, np.where(on, 1.0, chord))  # (m, hidden): each row's line per unit
    offset = np.where(weights >= 0, 0.0, -chord * np.where(undecided, pre_low, 0.0))
    scaled = weights * slope
    linear = scaled @ network.W1  # (m, 784): the bound is linear in the pixels
    return linear @ centre - np.abs(linear) @ radius + scaled @ network.b1 + (weights * offset).sum(axis=1) + bias
