"""Certified enclosures of ``sup |g|`` by arb ball arithmetic (python-flint), MATH §7.

Each piece is compactified (``x = t/(1-t^2)``), subdivided adaptively (branch and bound
with a mean-value form) and the tails are enclosed by :mod:`.tails`, until the enclosure
is tight to a relative ``ENCLOSURE_RTOL``.
"""

from __future__ import annotations

import heapq
import math

import numpy as np
import sympy as sp

from .._util.deadline import (
    WorkBudgetExceeded,
    rearm,
)
from ..activations import x
from ..symbolic.arb import arb_constant, to_arb
from .bounds import _ARB_PREC, _GRID_POINTS, ENCLOSURE_RTOL, _down, _float_fn, _up
from .tails import _INF, _tail_enclosure_fn

# -- branch and bound --------------------------------------------------------

def _certified_sup(pieces, k, clock, tried, rtol=ENCLOSURE_RTOL):
    """Certified enclosure [lo, hi] of sup |sigma^(k)| over the pieces (arb balls)."""
    from flint import arb, ctx

    tried.append("certified enclosure by arb ball arithmetic (compactified line, "
                 "branch and bound, extended-interval tails)")
    old_prec = ctx.prec
    ctx.prec = _ARB_PREC
    try:
        return _branch_and_bound(pieces, k, clock, rtol, arb)
    finally:
        ctx.prec = old_prec


class _Region:
    """A piece parametrized by s in [s0, s1]: x = phi(s); unbounded ends give tails."""

    def __init__(self, piece, k):
        self.piece = piece
        g = piece.deriv(k)
        self.f = to_arb(g)
        self.df = to_arb(sp.diff(g, x))
        self.fl = _float_fn(g)
        a, b = piece.a, piece.b
        self.kind = ("line" if a == -sp.oo and b == sp.oo else
                     "right" if b == sp.oo else "left" if a == -sp.oo else "finite")
        self.right_tail = (_tail_enclosure_fn(g) if b == sp.oo else None)
        self.left_tail = (_tail_enclosure_fn(g.subs(x, -x)) if a == -sp.oo else None)
        self.a_arb = None if a == -sp.oo else arb_constant(a)
        self.b_arb = None if b == sp.oo else arb_constant(b)
        self.s_range = (-1.0, 1.0) if self.kind == "line" else (0.0, 1.0)

    def x_of(self, s):
        """x(s) as an arb ball (s a float, exact)."""
        from flint import arb
        t = arb(s)
        if self.kind == "line":
            return t / (1 - t * t)
        if self.kind == "right":
            return self.a_arb + t / (1 - t)
        if self.kind == "left":
            return self.b_arb - t / (1 - t)
        return self.a_arb + (self.b_arb - self.a_arb) * t

    def x_float(self, s):
        s = np.asarray(s, dtype=float)
        with np.errstate(all="ignore"):
            if self.kind == "line":
                return s / (1 - s * s)
            if self.kind == "right":
                return float(self.piece.a) + s / (1 - s)
            if self.kind == "left":
                return float(self.piece.b) - s / (1 - s)
            return float(self.piece.a) + (float(self.piece.b) - float(self.piece.a)) * s

    def is_tail(self, s0, s1):
        """'right' / 'left' when the box [s0, s1] reaches an infinite end."""
        if self.kind == "line":
            if s1 == 1.0:
                return "right"
            if s0 == -1.0:
                return "left"
        elif self.kind == "right" and s1 == 1.0:
            return "right"
        elif self.kind == "left" and s1 == 1.0:
            return "left"
        return None

    def upper(self, s0, s1):
        """Certified upper bound of |g| on the box, and a certified lower bound at its middle."""
        tail = self.is_tail(s0, s1)
        if tail is not None:
            if tail == "right":
                sl = s0
                Y = self.x_of(sl)
                fn = self.right_tail
                Yf = _down(Y.lower())
            else:
                sl = s1 if self.kind == "line" else s0
                Y = self.x_of(sl)
                fn = self.left_tail
                Yf = _down((-Y).lower())
            ub = fn(Yf) if fn is not None else _INF
            lb = self.point_lower(Y)
            return ub, lb
        xa, xb = self.x_of(s0), self.x_of(s1)
        if self.kind == "left":
            xa, xb = xb, xa
        box = xa.union(xb)
        naive = self.f(box)
        m = (s0 + s1) / 2
        xm = self.x_of(m)
        fm = self.f(xm)
        mv = fm + self.df(box) * (box - xm)
        ub = _INF
        for enc in (naive, mv):
            if enc.is_finite():
                ub = min(ub, _up(enc.abs_upper()))
        lb = _down(fm.abs_lower()) if fm.is_finite() else 0.0
        return ub, max(lb, 0.0)

    def point_lower(self, xb):
        v = self.f(xb)
        return _down(v.abs_lower()) if v.is_finite() else 0.0


def _seed_lower(regions, clock):
    """Float64 scan for good candidate points; each is then certified by a point ball."""
    from flint import arb
    best, where = 0.0, ""
    for r in regions:
        lo, hi = r.s_range
        s = np.linspace(lo, hi, _GRID_POINTS)[1:-1]
        xs = r.x_float(s)
        with np.errstate(all="ignore"):
            vals = np.abs(r.fl(xs))
        vals[~np.isfinite(vals)] = -1
        order = np.argsort(vals)[::-1][:4]
        for i in order:
            if vals[i] < 0:
                continue
            a, b = s[max(i - 1, 0)], s[min(i + 1, len(s) - 1)]
            xr = _golden_max(r, a, b)
            lb = r.point_lower(arb(float(xr)))
            if lb > best:
                best, where = lb, f"x ~ {float(xr):.10g}"
    return best, where


def _golden_max(r, a, b, iters=60):
    g = (math.sqrt(5) - 1) / 2
    f = lambda s: float(np.abs(r.fl(np.array([r.x_float(s)])))[0])  # noqa: E731
    c, d = b - g * (b - a), a + g * (b - a)
    with np.errstate(all="ignore"):
        fc, fd = f(c), f(d)
        for _ in range(iters):
            if not (fc >= fd or math.isnan(fd)):
                a, c, fc = c, d, fd
                d = a + g * (b - a)
                fd = f(d)
            else:
                b, d, fd = d, c, fc
                c = b - g * (b - a)
                fc = f(c)
    return r.x_float((a + b) / 2)


def _branch_and_bound(pieces, k, clock, rtol, arb):
    regions = [_Region(p, k) for p in pieces]
    lower, where = _seed_lower(regions, clock)
    heap = []
    count = 0
    for ri, r in enumerate(regions):
        lo, hi = r.s_range
        edges = np.linspace(lo, hi, 17)
        for s0, s1 in zip(edges[:-1], edges[1:]):
            ub, lb = r.upper(float(s0), float(s1))
            count += 1
            lower = max(lower, lb)
            heapq.heappush(heap, (-ub, count, ri, float(s0), float(s1)))
    evaluations = count
    status = "converged"
    while True:
        top = -heap[0][0]
        if top == 0 or (math.isfinite(top) and top - lower <= rtol * top):
            break
        if clock.budget.spent_out():
            status = "work budget"
            break
        negub, _, ri, s0, s1 = heapq.heappop(heap)
        r = regions[ri]
        tail = r.is_tail(s0, s1)
        if tail is not None and r.kind != "line":
            m = (s0 + 1.0) / 2 if tail else (s0 + s1) / 2
        elif tail == "right":
            m = (s0 + 1.0) / 2
        elif tail == "left":
            m = (s1 - 1.0) / 2
        else:
            m = (s0 + s1) / 2
        if not (s0 < m < s1):
            status = "box width at float resolution"
            heapq.heappush(heap, (negub, count, ri, s0, s1))
            break
        try:
            halves = [((c0, c1), r.upper(c0, c1)) for c0, c1 in ((s0, m), (m, s1))]
        except WorkBudgetExceeded:
            # the box goes back unsplit, so the heap still covers the whole line
            heapq.heappush(heap, (negub, count, ri, s0, s1))
            rearm()
            status = "work budget"
            break
        for (c0, c1), (ub, lb) in halves:
            evaluations += 1
            count += 1
            if lb > lower:
                lower = lb
                where = f"x ~ {float(r.x_float((c0 + c1) / 2)):.10g}"
            if ub >= lower:
                heapq.heappush(heap, (-ub, count, ri, c0, c1))
        if tail is not None and not heap:
            break
    upper = -heap[0][0] if heap else lower
    return lower, upper, where, status, evaluations
