"""One branch's linear program for the verifier, kept warm between branches.

The verifier's branches differ from each other by the signs of a few
hidden units. Here every such difference is a change of bounds on one
program that stays loaded in HiGHS (through highspy): the unit's output
pinned to 0 when it is off, its "output >= input" row made an equality
when it is on, and its input's sign row set. HiGHS then starts the dual
simplex from the last branch's basis, a few pivots instead of a solve from
nothing.

The program is over the pixel moves ``delta`` (in a box), the outputs ``a``
of the units the box leaves undecided, and one more variable ``t`` that it
minimises. A unit's input is ``h = start + W1 . delta``; its output is ``h``
where the box keeps it on, 0 where it keeps it off, and for an undecided
unit a variable between the triangle relaxation's lines (``a >= 0``, ``a >=
h``, ``a <= U (h - L) / (U - L)``) unless a split fixes its sign. Each
undecided unit also has an indicator ``z`` in [0, 1] (1 when a split sets
it on, 0 when off) and the rows ``a <= U z`` and ``a <= h - L (1 - z)``;
:meth:`BranchProgram.cut` adds, between two solves, the rows of each unit's
exact convex hull over the box (Anderson et al. 2020) that the last solution
violates most. The caller's own rows are linear in the units' outputs, the
pixel moves and ``t``: the largest lead of a rival (``t`` its bound), or the
target ahead of every class with ``t`` the epsilon.
"""

from __future__ import annotations

import numpy as np

__all__ = ["BranchProgram"]


class BranchProgram:
    """Minimise ``t`` subject to ``lower <= outputs . a(delta) + pixels . delta + extra * t <= upper`` (one row per
    line of ``outputs``), ``delta`` in ``box``, ``t`` in ``t_bounds``, the undecided units relaxed or split by
    :meth:`solve`; with ``hull``, each undecided unit has its indicator and :meth:`cut` adds its hull's rows."""

    def __init__(
        self, W1, start, low, high, undecided, box, outputs, lower, upper, *, extra, pixels=None, t_bounds, hull=False
    ):
        import highspy

        inf = highspy.kHighsInf
        self.units = np.flatnonzero(undecided)
        m, n, r = len(self.units), W1.shape[1], len(outputs)
        on = low >= 0  # kept on by the whole box: its output is its input
        self.n, self.m = n, m
        self.high, self.start = high[self.units], start[self.units]
        W = W1[self.units]
        scale = self.high / (self.high - low[self.units])
        shift = outputs[:, on] @ start[on]
        direct = outputs[:, on] @ W1[on] + (0.0 if pixels is None else pixels)
        # the caller's rows, then per unit: a - W.delta (>= start; = start when on), a - scale W.delta
        # (<= scale (start - L)), and W.delta (its sign: free, >= -start when on, <= -start when off)
        eye, none = np.eye(m), np.zeros((m, m * hull))
        # with ``hull``, each unit's indicator z (on: 1, off: 0, relaxed to [0, 1]): a <= U z and a <= h - L (1 - z),
        # the two ends of the family of cuts that make each unit's relaxation exact over the box (see cut)
        self.W, self.box, self.low, self.hull = W, box, low[self.units], hull
        blocks = [
            np.hstack(
                [direct, outputs[:, self.units], np.asarray(extra, dtype=float).reshape(r, 1), np.zeros((r, m * hull))]
            ),
            np.hstack([-W, eye, np.zeros((m, 1)), none]),
            np.hstack([-scale[:, None] * W, eye, np.zeros((m, 1)), none]),
            np.hstack([W, np.zeros((m, m + 1)), none]),
        ]
        ends = np.full(m, inf)
        row_low = [np.maximum(lower - shift, -inf), self.start, -ends, -ends]
        row_high = [np.minimum(upper - shift, inf), ends, scale * (self.start - self.low), ends]
        if hull:
            blocks += [
                np.hstack([np.zeros((m, n)), eye, np.zeros((m, 1)), -np.diag(self.high)]),
                np.hstack([-W, eye, np.zeros((m, 1)), -np.diag(self.low)]),
            ]
            row_low += [-ends, -ends]
            row_high += [np.zeros(m), self.start - self.low]
        matrix, row_low, row_high = np.vstack(blocks), np.concatenate(row_low), np.concatenate(row_high)
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = n + m + 1 + m * hull, len(row_low)
        lp.col_cost_ = np.r_[np.zeros(n + m), 1.0, np.zeros(m * hull)]
        lp.col_lower_ = np.r_[box[0], np.zeros(m), max(t_bounds[0], -inf), np.zeros(m * hull)]
        lp.col_upper_ = np.r_[box[1], self.high, min(t_bounds[1], inf), np.ones(m * hull)]
        lp.row_lower_, lp.row_upper_ = row_low, row_high
        nonzero = matrix != 0
        lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
        lp.a_matrix_.start_ = np.r_[0, np.cumsum(nonzero.sum(axis=1))].astype(np.int32)
        lp.a_matrix_.index_ = np.nonzero(nonzero)[1].astype(np.int32)
        lp.a_matrix_.value_ = matrix[nonzero]
        self.highs = highspy.Highs()
        self.highs.setOptionValue("output_flag", False)
        self.highs.setOptionValue("presolve", "off")  # a branch starts from the last basis: nothing to presolve
        self.highs.passModel(lp)
        self._base_rows, self._cut_upper = len(row_low), np.zeros(0)
        self._equal_at, self._sign_at = r, r + 2 * m
        self._inf, self._status = inf, highspy.HighsModelStatus
        self._set: dict[int, bool] = {}  # place among the units -> sign, as the program holds it now
        self.place = {int(k): i for i, k in enumerate(self.units)}

    def _free(self, i: int) -> None:
        if self.hull:
            self.highs.changeColBounds(self.n + self.m + 1 + i, 0.0, 1.0)
        self.highs.changeColBounds(self.n + i, 0.0, float(self.high[i]))
        self.highs.changeRowBounds(self._equal_at + i, float(self.start[i]), self._inf)
        self.highs.changeRowBounds(self._sign_at + i, -self._inf, self._inf)

    def _fix(self, i: int, sign: bool) -> None:
        start = float(self.start[i])
        if self.hull:
            self.highs.changeColBounds(self.n + self.m + 1 + i, float(sign), float(sign))
        if sign:  # on: a = h >= 0
            self.highs.changeColBounds(self.n + i, 0.0, float(self.high[i]))
            self.highs.changeRowBounds(self._equal_at + i, start, start)
            self.highs.changeRowBounds(self._sign_at + i, -start, self._inf)
        else:  # off: a = 0, h <= 0
            self.highs.changeColBounds(self.n + i, 0.0, 0.0)
            self.highs.changeRowBounds(self._equal_at + i, start, self._inf)
            self.highs.changeRowBounds(self._sign_at + i, -self._inf, -start)

    def solve(self, splits: dict[int, bool]):
        """The branch with these signs (hidden unit -> on): ``(t, pixel moves, the unsplit units' outputs as a
        dict unit -> output)``, or None when no pixels satisfy the signs and the caller's rows."""
        wanted = {self.place[k]: sign for k, sign in splits.items()}
        for i in [i for i in self._set if i not in wanted]:
            self._free(i)
            del self._set[i]
        for i, sign in wanted.items():
            if self._set.get(i) is not sign:
                self._fix(i, sign)
                self._set[i] = sign
        status = self._run()
        if status not in (self._status.kOptimal, self._status.kInfeasible):  # rarely: once more from nothing
            self.highs.clearSolver()
            status = self._run()
        if status == self._status.kInfeasible:
            return None
        if status != self._status.kOptimal:
            raise RuntimeError(f"the branch's linear program did not solve: {self.highs.modelStatusToString(status)}")
        values = np.asarray(self.highs.getSolution().col_value)
        outputs = values[self.n : self.n + self.m]
        relaxed = {int(k): float(outputs[i]) for i, k in enumerate(self.units) if i not in wanted}
        return float(values[self.n + self.m]), values[: self.n], relaxed

    def cut(self, most: int = 40, tolerance: float = 1e-6) -> int:
        """Rows that cut the last solution off (at most ``most``, the most violated first), each valid on the whole
        box: for a unit ``a = relu(start + w . delta)`` with ``delta`` in the box and any set ``I`` of pixels,
        ``a <= sum_I w_i (delta_i - lo_i (1 - z)) + (start + sum_not_I w_i hi_i) z``, ``lo`` and ``hi`` the
        box's ends where ``w_i delta_i`` is smallest and largest (Anderson et al. 2020: all of them together are
        the unit's exact convex hull). Each unit's most violated ``I`` is read off the solution; the cuts the
        solution does not touch are dropped first (they only slow the program). Returns how many rows were added."""
        if not self.hull:
            return 0
        n, m = self.n, self.m
        solution = self.highs.getSolution()  # the last solve's
        values = np.asarray(solution.col_value)
        if self.highs.getNumRow() > self._base_rows:
            slack = np.asarray(solution.row_value)[self._base_rows :] < self._cut_upper - 1e-7
            gone = np.flatnonzero(slack) + self._base_rows
            if len(gone):
                self.highs.deleteRows(len(gone), gone.astype(np.int32))
                self._cut_upper = self._cut_upper[~slack]
        delta, a, z = values[:n], values[n : n + m], values[n + m + 1 :]
        W = self.W
        positive = W >= 0
        lo = np.where(positive, self.box[0], self.box[1])  # per unit and pixel: w_i lo_i is the smallest
        hi = np.where(positive, self.box[1], self.box[0])
        inside = W * (delta - lo * (1 - z[:, None]))
        outside = W * hi * z[:, None]
        chosen = inside < outside
        violated = a - (np.where(chosen, inside, outside).sum(axis=1) + self.start * z)
        free = np.array([i not in self._set for i in range(m)]) & (violated > tolerance)
        units = np.flatnonzero(free)
        units = units[np.argsort(-violated[units])][:most]
        if not len(units):
            return 0
        starts, indices, entries, upper = [0], [], [], []
        for i in units:
            pixels = np.flatnonzero(chosen[i] & (W[i] != 0))
            weight = W[i, pixels]
            z_coefficient = weight @ lo[i, pixels] + self.start[i] + (W[i] * hi[i])[~chosen[i]].sum()
            indices += [pixels, [n + i], [n + m + 1 + i]]
            entries += [-weight, [1.0], [-z_coefficient]]
            upper.append(-(weight @ lo[i, pixels]))
            starts.append(starts[-1] + len(pixels) + 2)
        index = np.concatenate(indices).astype(np.int32)
        value = np.concatenate(entries).astype(np.float64)
        self.highs.addRows(
            len(units),
            np.full(len(units), -self._inf),
            np.array(upper),
            len(index),
            np.array(starts[:-1], np.int32),
            index,
            value,
        )
        self._cut_upper = np.r_[self._cut_upper, upper]
        return len(units)

    def _run(self):
        self.highs.run()
        return self.highs.getModelStatus()
