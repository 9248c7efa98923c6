"""Divergence witnesses for oscillating growth (MATH §7): ``sup |g| = inf`` by a sequence.

A limit at infinity does not exist for ``x sin(x)``, so the Gruntz route of
:mod:`~hermite_dual.conditions.exact` cannot show it unbounded, and a ball-arithmetic
enclosure never closes.  Here the oscillation is frozen instead: when every sine and
cosine in ``g`` has an argument that is a rational multiple of one ``u(x)``, the points
``x_n = X(t0 + n P)``, with ``X`` a branch of the inverse of ``u`` going to infinity and
``P`` the common period in ``u``, turn every trigonometric factor into a constant.  A
sympy limit ``n -> oo`` of ``g(x_n)`` equal to ``+-oo`` is then a proof that
``sup |g| = inf``; the witness names ``t0``, ``P`` and the sequence.  ``t0`` is a rational
chosen by a float64 scan over one period (only the choice is numeric; the limit is
exact).

Covered: ``x sin(x)``, ``x**2 cos(3 x) + sin(x)``, ``x sin(x**2)`` and its derivatives,
``exp(x) sin(exp(x))``.  Not covered (left undetermined): several unrelated frequencies
(``sin(x) + sin(sqrt(2) x)``), and arguments whose inverse sympy cannot write.
"""

from __future__ import annotations

import functools

import numpy as np
import sympy as sp

from ..activations import x
from .bounds import _float_fn

__all__ = ["oscillation_witness"]

_n = sp.Symbol("n", integer=True, positive=True)
_t = sp.Symbol("t", positive=True)
_SCAN = 96            # float64 grid over one period for the choice of t0
_SCAN_N = (40, 41)    # the scan evaluates g at these n (t0 must not be a near-zero)


def _common_argument(g):
    """(u, P): every sin/cos argument in g is r * u (r rational), P the common period in u."""
    trig = [f for f in g.atoms(sp.sin, sp.cos) if f.has(x)]
    if not trig or g.has(sp.tan, sp.cot, sp.sec, sp.csc):
        return None
    u = trig[0].args[0]
    ratios = []
    for f in trig:
        r = sp.nsimplify(sp.simplify(f.args[0] / u))
        if not (r.is_Rational and r != 0):
            return None
        ratios.append(abs(r))
    # sin(r_i u) share the period 2 pi lcm(q_i) / gcd(p_i), r_i = p_i / q_i
    lcm = functools.reduce(sp.ilcm, [r.q for r in ratios], 1)
    gcd = functools.reduce(sp.igcd, [r.p for r in ratios], 0)
    return u, 2 * sp.pi * lcm / gcd


def _branches(u, a, b):
    """Inverse branches X(t) of u with X(t) -> +oo (b = oo) or -oo (a = -oo) as t -> +-oo."""
    if u == x:
        cands = [_t]
    else:
        try:
            cands = sp.solve(sp.Eq(u, _t), x)
        except (NotImplementedError, ValueError, TypeError):
            return []
    out = []
    for X in cands:
        for sign in (1, -1):
            # t -> sign * oo: substitute t = sign * s with s -> +oo
            s = sp.Symbol("s", positive=True)
            Xs = X.subs(_t, sign * s)
            try:
                lim = sp.limit(Xs, s, sp.oo)
            except (NotImplementedError, ValueError, TypeError):
                continue
            if (lim == sp.oo and b == sp.oo) or (lim == -sp.oo and a == -sp.oo):
                out.append((X, sign))
    return out


def _choose_t0(g, X, sign, period):
    """A rational t0 in one period where |g(X(t0 + sign n P))| is largest on a float scan."""
    gx = _float_fn(g)
    Xf = sp.lambdify(_t, X, modules="numpy")
    p = float(period)
    grid = (np.arange(_SCAN) + 0.5) * (p / _SCAN)
    score = np.full(_SCAN, np.inf)
    with np.errstate(all="ignore"):
        for n in _SCAN_N:
            pts = np.asarray(Xf(grid + sign * n * p), dtype=np.float64)
            val = np.abs(gx(pts))
            score = np.minimum(score, np.where(np.isfinite(val), val, -1.0))
    if not np.any(score > 0):
        return None
    best = float(grid[int(np.argmax(score))])
    return sp.Rational(round(best * 64), 64)


def oscillation_witness(g, a, b, step):
    """A proof that ``sup |g| = inf`` over ``(a, b)`` by a sequence, or None.

    Parameters
    ----------
    g : sympy.Expr
        A smooth branch in ``x`` on ``(a, b)``, with ``a = -oo`` or ``b = oo``.
    a, b : sympy numbers or infinities
        The piece's ends.
    step : callable
        ``step()`` returns the context manager of one sympy step of the work budget
        (:meth:`hermite_dual.conditions.bounds._Clock.step`).

    Returns
    -------
    str or None
        ``"... -> oo along x_n = ... (sympy limit n -> oo)"`` when proved.

    Examples
    --------
    >>> import sympy as sp
    >>> import contextlib
    >>> from hermite_dual.activations import x
    >>> oscillation_witness(x * sp.sin(x), -sp.oo, sp.oo, contextlib.nullcontext)
    'x*sin(x) -> -oo along x_n = 2*pi*n + 19/4 (sympy limit n -> oo)'
    """
    if a != -sp.oo and b != sp.oo:
        return None
    with step():
        found = _common_argument(g)
    if found is None:
        return None
    u, period = found
    with step():
        branches = _branches(u, a, b)
    for X, sign in branches:
        t0 = _choose_t0(g, X, sign, period)
        if t0 is None:
            continue
        xn = X.subs(_t, t0 + sign * _n * period)
        with step():
            lim = sp.limit(g.subs(x, xn), _n, sp.oo)
        if lim in (sp.oo, -sp.oo):
            return (f"{sp.sstr(g)} -> {sp.sstr(lim)} along x_n = {sp.sstr(xn)} "
                    "(sympy limit n -> oo)")
    return None
