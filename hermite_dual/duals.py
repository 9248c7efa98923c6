"""Dual kernels K_sigma(q1, q2, c) of any activation (MATH §3).

``dual(act)`` returns a :class:`DualKernel`, cached per activation.  It evaluates the
generalized dual kernel

    K_sigma(q1, q2, c) = E[sigma(u) sigma(v)],  (u, v) ~ N(0, [[q1, c], [c, q2]]),

in float64 with an error bound, in arbitrary precision (an independent oracle), and as a
sympy closed form when one can be derived.

Design (the reasoning behind the numeric routes)
------------------------------------------------
``DualKernel.kernel_with_error`` tries, per point, in this order:

1. **A derived closed form** (:meth:`DualKernel.closed_form`; it passed its numerical
   check).  Before compiling to numpy it is rewritten for float64: ``D = q1 q2 - c^2`` is
   computed with an exact two-product and substituted into every radicand (so
   ``sqrt(q1 q2 - c^2)`` keeps full relative accuracy as ``rho -> 1``), ``asin``/``acos``
   become ``atan2`` of the stabilized pair, and hyperbolic functions of c are expanded
   into single exponentials so ``exp(-(q1+q2)/2) sinh(c)`` never forms ``0 * inf``.
   Bound: ``64 eps`` times ``max(|K|, sqrt(nu(q1) nu(q2)))`` (an estimate; the tests
   check it against the oracle).
2. **The Mehler series with the certified Parseval tail** ``|rho|^(R+1) sqrt(T_R(q1)
   T_R(q2)) <= 1e-13 sqrt(nu(q1) nu(q2))``, R <= 1200 (the largest degree
   ``hermite_table`` serves).  Coefficients come from :mod:`hermite_dual.hermite`:
   *exactly* at the distinct variances of the call when there are at most 48 (the
   equilibrium case: few variances, many correlations), otherwise from a per-activation
   table on a grid uniform in ``log q`` over [1e-3, 1e3] (step 0.04, 346 variances,
   built once, ~8 s) with 10-point Lagrange interpolation.  I measured the
   interpolation error before choosing: step 0.04 with 10 points gives
   ``||a - a_interp||_2 <= 2e-15 sqrt(nu)`` for tanh, gelu and softsign at q from 0.05 to
   10 (8 points need step 0.02); the table re-measures it at every fourth midpoint when it
   is built and adds twice the largest value (times ``sqrt(nu nu)``) to the bound.  A
   Chebyshev fit per degree in log q was rejected: a_k varies like q^(k/2), so it needs
   a high degree and costs degree x R per variance, against 10 x R here.  The tail used
   between grid points is twice the larger tail of the two neighbours (estimated there,
   certified at the grid points).  The numba kernel runs in parallel (prange), one
   covariance per iteration, interpolating row-wise only the R+1 coefficients it needs.
3. **Conditional quadrature where the series is not certified** (|rho| near 1 with large
   variances, or coefficients that decay only algebraically because of kinks):
   ``K = E_u[ sigma(u) g(u) ]``, ``g(u) = E[sigma(c u / q1 + t Z)]``,
   ``t^2 = q2 - c^2 / q1``.  Outer composite Gauss-Legendre (16 nodes, 10-node check) on
   panels at the Gaussian scale, on a grid geometric in |u| that resolves sigma near the
   origin (uniform for periodic sigma; the window widens for exponential growth), at the
   kinks, at their images ``u = k q1 / c`` and on a geometric grading around those images
   down to the width of the nearly-kinked ``g``; inner Gauss-Hermite (10 to 24 nodes by
   t, with a smaller check rule) when the inner window holds no kink and ``t <= 1``,
   composite Gauss-Legendre otherwise; exact ``g = sigma(c u / q1)`` at ``t = 0``, so
   ``rho = +-1`` is covered.  sigma is compiled once to a numba ``cfunc`` and passed as a
   first-class function, so the quadrature kernel itself is cached on disk.  When the
   expression does not compile in numba, a numpy implementation of the same scheme runs
   instead.  Bound: difference of the two rules plus ``64 eps`` times ``E|sigma sigma|``
   (estimated).

**The oracle** (:meth:`DualKernel.precise`) is a separate implementation in ball
arithmetic (python-flint ``arb``): nested composite Gauss-Legendre with nodes computed to
the working precision, panels every three standard deviations, a uniform-then-geometric
feature grid (different from the float64 one), kinks and their images; inner
Gauss-Hermite with a convergence check (falling back to composite rules) or the heat
expansion ``sigma + t^2 sigma''/2`` when t is below ``10^(-(dps+4)/4)``; two
one-dimensional integrals when c = 0.  It never calls the float64 code.  Its accuracy
is tested against the MATH table to 1e-20.  It costs 0.01 s (c = 0) to ~10 s
(moderate rho at q ~ 100) per call.

Examples
--------
>>> import hermite_dual as hd
>>> relu = hd.dual("relu")
>>> round(float(relu(0.0)), 12) == round(1 / (2 * 3.141592653589793), 12)
True
>>> float(hd.dual("identity").kernel(2.0, 3.0, 1.5))
1.5
"""

from __future__ import annotations

import functools
import math
import collections
import threading

import numba
import numpy as np
import sympy as sp

from ._util.deadline import WorkBudgetExceeded, from_seconds
from .activations import Activation, activation
from .activations import x as _x

__all__ = ["dual", "DualKernel", "describe_dual", "q1", "q2", "c"]

#: Symbols of the closed forms: the two variances (positive) and the covariance (real).
q1 = sp.Symbol("q1", positive=True)
q2 = sp.Symbol("q2", positive=True)
c = sp.Symbol("c", real=True)

_EPS = np.finfo(np.float64).eps
#: relative slack allowed for |c| > sqrt(q1 q2) (rounding of the caller's covariance)
_C_SLACK = 1e-12
#: variances the float64 routes accept: q1 q2, c^2 and their error-free two-products
#: stay far from the subnormal range and from overflow
_Q_MIN, _Q_MAX = 1e-100, 1e100
#: the series and quadrature routes (no closed form) are validated up to this variance
_Q_MAX_SERIES = 1e10

#: float64 target of the Mehler truncation, relative to sqrt(nu(q1) nu(q2))
_MEHLER_TOL = 1e-13


# ---------------------------------------------------------------------------
# input validation
# ---------------------------------------------------------------------------

def _as_float_array(value, name):
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number or array, got {value!r}") from None
    bad = ~np.isfinite(arr)
    if bad.any():
        raise ValueError(f"{name} must be finite, got {float(arr[bad].flat[0])!r}")
    return arr


def _validate(q1v, q2v, cv):
    """Convert, broadcast and range-check (q1, q2, c); return float64 arrays and rho."""
    a = _as_float_array(q1v, "q1")
    b = _as_float_array(q2v, "q2")
    cc = _as_float_array(cv, "c")
    try:
        a, b, cc = np.broadcast_arrays(a, b, cc)
    except ValueError:
        raise ValueError(f"q1, q2 and c must broadcast to one shape, got shapes "
                         f"{np.shape(a)!r}, {np.shape(b)!r} and {np.shape(cc)!r}") from None
    for name, arr in (("q1", a), ("q2", b)):
        bad = arr <= 0
        if bad.any():
            raise ValueError(f"variance {name} must be positive, got {float(arr[bad].flat[0])!r}")
        out = (arr < _Q_MIN) | (arr > _Q_MAX)
        if out.any():
            raise ValueError(
                f"variance {name} = {float(arr[out].flat[0])!r} is outside the range "
                f"[{_Q_MIN:g}, {_Q_MAX:g}] where the float64 kernels are accurate and their "
                "error bounds hold (products q1*q2 and c^2 must not under- or overflow); "
                "use .precise() beyond it")
    scale = np.sqrt(a) * np.sqrt(b)
    over = np.abs(cc) > scale * (1.0 + _C_SLACK)
    if over.any():
        i = np.argwhere(over)[0]
        i = tuple(i) if over.ndim else ()
        raise ValueError(
            f"covariance c={float(cc[i])!r} exceeds sqrt(q1*q2)={float(scale[i])!r} "
            f"(q1={float(a[i])!r}, q2={float(b[i])!r}); the 2x2 covariance must be PSD")
    # Only a covariance that really exceeds sqrt(q1 q2) (exact two-product test) is pulled
    # back onto the boundary: clipping to the rounded sqrt(q1)*sqrt(q2) would move a
    # valid c = q (rho = 1 exactly) inside the disc and cost 1e-8 through acos.
    outside = _two_prod_diff(a, b, cc) < 0
    if outside.any():
        cc = np.where(outside, np.sign(cc) * scale, cc)
    return (np.array(a, dtype=np.float64, order="C"), np.array(b, dtype=np.float64, order="C"),
            np.array(cc, dtype=np.float64, order="C"))


def _two_prod_diff(a, b, cc):
    """q1*q2 - c^2 with an error-free two-product (Dekker/Veltkamp), elementwise."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    cc = np.asarray(cc, dtype=np.float64)
    p = a * b
    s = cc * cc
    pe = _two_prod_err(a, b, p)
    se = _two_prod_err(cc, cc, s)
    return (p - s) + (pe - se)


_SPLIT = 134217729.0  # 2^27 + 1


def _split(v):
    t = _SPLIT * v
    hi = t - (t - v)
    return hi, v - hi


def _two_prod_err(a, b, p):
    ah, al = _split(a)
    bh, bl = _split(b)
    return ((ah * bh - p) + ah * bl + al * bh) + al * bl


def _unit_disc(a, b, cc):
    """(1 - rho^2) and sqrt of it, accurate at rho -> +-1."""
    d = np.maximum(_two_prod_diff(a, b, cc), 0.0)
    return d / (a * b)


# ---------------------------------------------------------------------------
# float64 composite Gauss-Legendre quadrature of the conditional integral
# ---------------------------------------------------------------------------

_GAUSS_HALF_WIDTH = 10.0   # window of the Gaussian, in standard deviations
_GAUSS_STEP = 1.0          # Gaussian-scale panel width, in standard deviations


def _feature_points():
    """Points geometric in |x| that resolve sigma's features near the origin."""
    inner = np.arange(0.5, 2.01, 0.5)
    outer = 2.0 * 1.4 ** np.arange(1, 40)
    outer = outer[outer < 1e4]
    pos = np.concatenate([inner, outer])
    return np.concatenate([-pos[::-1], [0.0], pos])


_FEATURES = _feature_points()


@functools.lru_cache(maxsize=8)
def _leggauss(n):
    nodes, weights = np.polynomial.legendre.leggauss(n)
    return nodes, weights


def _gl_nodes(breaks, n):
    """Nodes and weights of composite Gauss-Legendre on the panels between ``breaks``.

    ``breaks`` has shape (..., P); returns arrays of shape (..., (P-1)*n).
    """
    t, w = _leggauss(n)
    lo = breaks[..., :-1, None]
    hi = breaks[..., 1:, None]
    half = 0.5 * (hi - lo)
    mid = 0.5 * (hi + lo)
    nodes = mid + half * t
    weights = half * w
    shape = breaks.shape[:-1] + (-1,)
    return nodes.reshape(shape), np.broadcast_to(weights, nodes.shape).reshape(shape)


def _outer_breaks(q1v, q2v, cv, kinks, growth=0.0, periodic=False):
    """Breakpoints of the outer integral over u (scalar inputs)."""
    s1 = math.sqrt(q1v)
    half = _GAUSS_HALF_WIDTH * s1 + 2.0 * growth * (q1v + math.sqrt(q1v * q2v))
    lo, hi = -half, half
    feats = np.arange(math.floor(lo), hi, 0.5) if periodic else _FEATURES
    pts = [np.arange(lo, hi + 0.5 * s1, _GAUSS_STEP * s1), feats, kinks]
    if cv != 0.0:
        slope = cv / q1v                      # mean of v given u is slope * u
        pts.append(feats / slope)
        if kinks.size:
            mk = kinks / slope
            pts.append(mk)
            t2 = math.sqrt(max(float(_two_prod_diff(q1v, q2v, cv)), 0.0) / q1v)
            width = t2 / abs(slope)           # smoothing width of g near a mapped kink
            if width > 0.0:
                grade = width * 2.0 ** np.arange(-3, 60)
                grade = grade[grade < (hi - lo)]
                for m in mk:
                    pts.append(m + grade)
                    pts.append(m - grade)
    allp = np.concatenate(pts)
    allp = allp[(allp > lo) & (allp < hi)]
    return np.unique(np.concatenate([[lo, hi], allp]))


def _inner_breaks(mu, t, kinks, growth=0.0, periodic=False):
    """Breakpoints in z = (v - mu)/t of the inner integrals, one row per outer node."""
    half = _GAUSS_HALF_WIDTH + 2.0 * growth * t
    grid = np.arange(-half, half + 0.5, _GAUSS_STEP)
    if periodic:
        rng = half * t + np.abs(mu).max()
        fixed = np.concatenate([np.arange(-math.ceil(rng), rng + 1, 0.5), kinks])
    else:
        fixed = np.concatenate([_FEATURES, kinks])
    extra = np.clip((fixed[None, :] - mu[:, None]) / t, grid[0], grid[-1])
    allp = np.concatenate([np.broadcast_to(grid, (mu.size, grid.size)), extra], axis=1)
    allp.sort(axis=1)
    return allp


@functools.lru_cache(maxsize=256)
def _profile(expr):
    """(growth, periodic): exponential growth rate a (|sigma(x)| ~ exp(a |x|)) measured in
    mpmath between |x| = 60 and 120, and whether sigma has trigonometric factors (then
    the feature grid is uniform instead of concentrated near the origin)."""
    import mpmath
    f = sp.lambdify(_x, expr, modules="mpmath")
    rate = 0.0
    with mpmath.workdps(30):
        for s in (1, -1):
            try:
                l1 = mpmath.log(abs(f(mpmath.mpf(60 * s))) + mpmath.mpf(10) ** -30)
                l2 = mpmath.log(abs(f(mpmath.mpf(120 * s))) + mpmath.mpf(10) ** -30)
                rate = max(rate, float((l2 - l1) / 60))
            except Exception:  # noqa: BLE001 - exotic expressions: assume no growth
                pass
    rate = rate if rate > 0.05 else 0.0
    periodic = bool(expr.has(sp.sin) or expr.has(sp.cos) or expr.has(sp.tan))
    return rate, periodic


def _quad_point(fn, kinks, q1v, q2v, cv, n):
    """E[sigma(u) sigma(v)] for one covariance by composite Gauss-Legendre (order n)."""
    growth, periodic = _profile(fn.expr) if isinstance(fn, Activation) else (0.0, False)
    breaks = _outer_breaks(q1v, q2v, cv, kinks, growth, periodic)
    u, wu = _gl_nodes(breaks, n)
    dens = np.exp(-0.5 * u * u / q1v) / math.sqrt(2.0 * math.pi * q1v)
    su = fn(u)
    d = max(float(_two_prod_diff(q1v, q2v, cv)), 0.0)
    t = math.sqrt(d / q1v)
    mu = (cv / q1v) * u
    if t == 0.0:
        g = fn(mu)
        absg = np.abs(g)
    else:
        z, wz = _gl_nodes(_inner_breaks(mu, t, kinks, growth, periodic), n)
        wz = wz * np.exp(-0.5 * z * z) * (1.0 / math.sqrt(2.0 * math.pi))
        sv = fn(mu[:, None] + t * z)
        g = np.einsum("ij,ij->i", wz, sv)
        absg = np.einsum("ij,ij->i", wz, np.abs(sv))
    terms = wu * dens * su
    value = float(np.dot(terms, g))
    absval = float(np.dot(np.abs(terms), absg))
    return value, absval


def _quad_kernel(fn, kinks, q1a, q2a, ca):
    """Quadrature route on flat arrays: (value, estimated error bound)."""
    out = np.empty(q1a.size)
    err = np.empty(q1a.size)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        for i in range(q1a.size):
            v16, absval = _quad_point(fn, kinks, q1a[i], q2a[i], ca[i], 16)
            v10, _ = _quad_point(fn, kinks, q1a[i], q2a[i], ca[i], 10)
            out[i] = v16
            err[i] = abs(v16 - v10) + 64.0 * _EPS * absval
    return out, err


# ---------------------------------------------------------------------------
# the oracle: ball arithmetic (python-flint arb), independent of the float64 code
# ---------------------------------------------------------------------------

def _arb_compile(expr):
    """Compile a sympy expression in x into a function arb -> arb (a tree of closures)."""
    from flint import arb

    def num(v):
        if v.is_Integer:
            return arb(int(v))
        if v.is_Rational:
            return arb(int(v.p)) / int(v.q)
        if v is sp.pi:
            return arb.pi()
        if v is sp.E:
            return arb(1).exp()
        if v.is_Float:
            return arb(sp.Rational(v).p) / int(sp.Rational(v).q)
        raise ValueError(f"cannot evaluate constant {sp.sstr(v)!r} in ball arithmetic")

    def decide(val):
        """Sign of a ball; the midpoint decides when the ball straddles 0."""
        if val > 0:
            return 1
        if val < 0:
            return -1
        m = float(val.mid())
        return (m > 0) - (m < 0)

    unary = {
        sp.exp: lambda a: a.exp(), sp.log: lambda a: a.log(),
        sp.tanh: lambda a: a.tanh(), sp.sinh: lambda a: a.sinh(),
        sp.cosh: lambda a: a.cosh(), sp.sin: lambda a: a.sin(),
        sp.cos: lambda a: a.cos(), sp.tan: lambda a: a.tan(),
        sp.atan: lambda a: a.atan(), sp.asin: lambda a: a.asin(),
        sp.acos: lambda a: a.acos(), sp.asinh: lambda a: a.asinh(),
        sp.erf: lambda a: a.erf(), sp.erfc: lambda a: a.erfc(),
        sp.Abs: lambda a: abs(a),
        sp.sign: lambda a: arb(decide(a)),
    }

    def build(e):
        if e == _x:
            return lambda z: z
        if e.is_Number or e in (sp.pi, sp.E):
            val = num(e)
            return lambda z: val
        if e.is_Add:
            parts = [build(a) for a in e.args]
            return lambda z: sum((p(z) for p in parts[1:]), parts[0](z))
        if e.is_Mul:
            parts = [build(a) for a in e.args]

            def mul(z):
                r = parts[0](z)
                for p in parts[1:]:
                    r = r * p(z)
                return r
            return mul
        if e.is_Pow:
            base = build(e.args[0])
            ex = e.args[1]
            if ex.is_Integer:
                k = int(ex)
                return lambda z: base(z) ** k
            if ex == sp.S.Half:
                return lambda z: base(z).sqrt()
            expo = build(ex)
            return lambda z: (expo(z) * base(z).log()).exp()
        if isinstance(e, sp.Heaviside):
            arg = build(e.args[0])
            h0 = num(e.args[1]) if len(e.args) > 1 else arb(1) / 2
            return lambda z: (lambda s: arb(1) if s > 0 else (arb(0) if s < 0 else h0))(
                decide(arg(z)))
        if isinstance(e, (sp.Max, sp.Min)):
            parts = [build(a) for a in e.args]
            pick = max if isinstance(e, sp.Max) else min

            def mm(z):
                vals = [p(z) for p in parts]
                return pick(vals, key=lambda v: float(v.mid()))
            return mm
        if isinstance(e, sp.Piecewise):
            pieces = [(build(ex), cond) for ex, cond in e.args]
            conds = []
            for ex, cond in pieces:
                if cond is sp.true:
                    conds.append((ex, None))
                else:
                    rel = cond
                    if not isinstance(rel, sp.core.relational.Relational):
                        raise ValueError(f"cannot evaluate condition {sp.sstr(cond)!r}")
                    lhs = build(rel.lhs - rel.rhs)
                    conds.append((ex, (lhs, type(rel))))

            def pw(z):
                for ex, cnd in conds:
                    if cnd is None:
                        return ex(z)
                    lhs, kind = cnd
                    s = decide(lhs(z))
                    ok = {sp.StrictGreaterThan: s > 0, sp.GreaterThan: s >= 0,
                          sp.StrictLessThan: s < 0, sp.LessThan: s <= 0}[kind]
                    if ok:
                        return ex(z)
                raise ValueError("Piecewise without a matching branch")
            return pw
        func = unary.get(type(e))
        if func is None:
            for k, f in unary.items():
                if isinstance(e, k):
                    func = f
                    break
        if func is not None and len(e.args) == 1:
            arg = build(e.args[0])
            return lambda z: func(arg(z))
        raise ValueError(f"cannot evaluate {sp.sstr(e)!r} in ball arithmetic")

    return build(expr)


@functools.lru_cache(maxsize=64)
def _arb_gl(n, prec):
    from flint import arb, ctx
    old = ctx.prec
    ctx.prec = prec
    try:
        pairs = [arb.legendre_p_root(n, k, weight=True) for k in range(n)]
    finally:
        ctx.prec = old
    return tuple(p[0] for p in pairs), tuple(p[1] for p in pairs)


def _arb_feature_grid():
    pos = [1.0, 2.0, 3.0, 4.0]
    v = 4.0
    while v < 1e4:
        v *= 1.4
        pos.append(v)
    return [-p for p in reversed(pos)] + [0.0] + pos


_ARB_FEATURES = _arb_feature_grid()


def _arb_uniform(lo, hi):
    """A uniform unit grid on [lo, hi] (features of periodic activations)."""
    return [float(v) for v in range(math.floor(lo), math.ceil(hi) + 1)]


def _arb_panels(lo, hi, center, scale, extra):
    """Breakpoints (python floats): Gaussian grid (3 sd), feature grid, extra points."""
    pts = {lo, hi}
    if scale > 0:
        step = 3.0 * scale
        v = center + math.floor((lo - center) / step) * step
        while v < hi:
            if v > lo:
                pts.add(v)
            v += step
    for p in extra:
        if lo < p < hi:
            pts.add(p)
    return sorted(pts)


class _GHNotConverged(Exception):
    """The Gauss-Hermite inner rule of the oracle did not reach its tolerance."""


@functools.lru_cache(maxsize=16)
def _arb_gh(n, prec):
    """Gauss-Hermite nodes/weights for E[f(Z)], Z ~ N(0,1), as arb (via mpmath)."""
    import mpmath
    from flint import arb
    with mpmath.workprec(prec + 20):
        nodes, weights = mpmath.gauss_quadrature(n, "hermite")
        out_n, out_w = [], []
        for z, w in zip(nodes, weights):
            out_n.append(arb(mpmath.nstr(z * mpmath.sqrt(2), int(prec / 3.32) + 8)))
            out_w.append(arb(mpmath.nstr(w / mpmath.sqrt(mpmath.pi), int(prec / 3.32) + 8)))
    return tuple(out_n), tuple(out_w)


def _precise_value(expr, kinks, q1v, q2v, cv, dps, n, allow_gh=True):
    """K by composite Gauss-Legendre in arb arithmetic (python-flint), nested.

    Outer integral over u ~ N(0, q1), inner over v | u ~ N(c u / q1, q2 - c^2 / q1); at
    |rho| = 1 the inner integral is the point value sigma(c u / q1).  Returns an ``arb``.
    """
    from flint import arb, ctx
    prec = int(dps * 3.33) + 30
    old = ctx.prec
    ctx.prec = prec
    try:
        f = _arb_compile(expr)
        nodes, weights = _arb_gl(n, prec)
        A, B, C = arb(q1v), arb(q2v), arb(cv)      # the exact binary inputs
        D = A * B - C * C
        if not D > 0:
            D = arb(0)
        two_pi = 2 * arb.pi()
        L = math.sqrt(2.0 * dps * math.log(10.0) + 12.0)
        growth, periodic = _profile(expr)
        s1 = math.sqrt(q1v)
        Lout = L * s1 + 2.0 * growth * (q1v + math.sqrt(q1v * q2v))
        kf = [float(k) for k in kinks]
        slope = cv / q1v
        feats = _arb_uniform(-Lout, Lout) if periodic else list(_ARB_FEATURES)
        extra = feats + kf
        tvar = D / A                                  # variance of v given u
        tf = math.sqrt(max(float(tvar.mid()), 0.0))
        if slope != 0.0:
            mapped = [k / slope for k in kf]
            extra += [p / slope for p in feats] + mapped
            if tf > 0.0:
                w = tf / abs(slope)
                for m in mapped:
                    g = w / 8
                    while g < 2 * Lout:
                        extra += [m - g, m + g]
                        g *= 2
        if cv == 0.0:
            # independent: K = E[sigma(u)] E[sigma(v)], two one-dimensional integrals
            means = []
            for var in (A, B):
                s = math.sqrt(float(var.mid()))
                w = L * s + 2.0 * growth * float(var.mid())
                br = _arb_panels(-w, w, 0.0, s,
                                 (_arb_uniform(-w, w) if periodic else list(_ARB_FEATURES)) + kf)
                acc = arb(0)
                for a, b in zip(br[:-1], br[1:]):
                    ha = (arb(b) - arb(a)) / 2
                    ma = (arb(b) + arb(a)) / 2
                    for t, wt in zip(nodes, weights):
                        u = ma + ha * t
                        acc += ha * wt * f(u) * (-(u * u) / (2 * var)).exp()
                means.append(acc / (two_pi * var).sqrt())
            return means[0] * means[1]
        obreaks = _arb_panels(-Lout, Lout, 0.0, s1, extra)
        Lin = L + 2.0 * growth * tf
        sd = tvar.sqrt() if tf > 0 else None
        f2 = None
        taylor_t = 10.0 ** (-(dps + 4) / 4.0)
        if 0.0 < tf < taylor_t:
            try:
                f2 = _arb_compile(sp.diff(expr, _x, 2))
            except ValueError:
                f2 = None
        if tf < 1e-2:
            gh_main, gh_check = _arb_gh(16, prec), _arb_gh(12, prec)
        else:
            gh_main, gh_check = _arb_gh(2 * n + 8, prec), _arb_gh(2 * n, prec)
        gh_tol = 10.0 ** (-dps - 3)
        total = arb(0)
        for a, b in zip(obreaks[:-1], obreaks[1:]):
            ha = (arb(b) - arb(a)) / 2
            ma = (arb(b) + arb(a)) / 2
            for t, wt in zip(nodes, weights):
                u = ma + ha * t
                mu = C * u / A
                if tf == 0.0:
                    g = f(mu)
                elif f2 is not None and tf < taylor_t and not any(
                        abs(k - float(mu.mid())) < (L + 1) * tf for k in kf):
                    g = f(mu) + tvar / 2 * f2(mu)     # heat expansion, error O(t^4)
                elif allow_gh and tf <= 0.25 and not any(abs(k - float(mu.mid())) < (L + 1) * tf for k in kf):
                    g = arb(0)
                    g2 = arb(0)
                    for zz, wz in zip(*gh_main):
                        g += wz * f(mu + sd * zz)
                    for zz, wz in zip(*gh_check):
                        g2 += wz * f(mu + sd * zz)
                    if not abs(float((g - g2).mid())) <= gh_tol * (1 + abs(float(g.mid()))):
                        raise _GHNotConverged
                else:
                    muf = float(mu.mid())
                    ifeats = (_arb_uniform(muf - Lin * tf, muf + Lin * tf) if periodic
                              else list(_ARB_FEATURES))
                    zextra = [(p - muf) / tf for p in ifeats + kf]
                    zbreaks = _arb_panels(-Lin, Lin, 0.0, 1.0, zextra)
                    g = arb(0)
                    for a2, b2 in zip(zbreaks[:-1], zbreaks[1:]):
                        hb = (arb(b2) - arb(a2)) / 2
                        mb = (arb(b2) + arb(a2)) / 2
                        acc = arb(0)
                        for t2, w2 in zip(nodes, weights):
                            z = mb + hb * t2
                            acc += w2 * f(mu + sd * z) * (-(z * z) / 2).exp()
                        g += hb * acc
                    g = g / two_pi.sqrt()
                total += ha * wt * f(u) * (-(u * u) / (2 * A)).exp() * g
        return total / (two_pi * A).sqrt()
    finally:
        ctx.prec = old


def _precise_scalar(expr, kinks, q1v, q2v, cv, dps):
    """The oracle value as an mpmath ``mpf`` at ``dps`` digits."""
    import mpmath
    n = max(12, int(math.ceil(0.7 * dps)) + 4)
    try:
        val = _precise_value(expr, kinks, q1v, q2v, cv, dps, n)
    except _GHNotConverged:
        val = _precise_value(expr, kinks, q1v, q2v, cv, dps, n, allow_gh=False)
    from flint import ctx
    old = ctx.prec
    ctx.prec = int(dps * 3.33) + 30
    try:
        text = val.mid().str(dps + 5, radius=False)
    finally:
        ctx.prec = old
    with mpmath.workdps(dps + 5):
        out = mpmath.mpf(text)
    return out


# ---------------------------------------------------------------------------
# Mehler series: coefficient tables and the numba evaluation kernels
# ---------------------------------------------------------------------------

_MEHLER_DEGREE = 1200       # hermite_table's largest degree
# 1200 rather than 400: tanh at q ~ 10 has T_400 ~ 2e-9 nu but T_1200 ~ 1e-15 nu, so the
# near-diagonal covariances that 400 terms could not certify (and sent to the 2-D
# quadrature) are certified by the series; measured on bench_dual (2e5 points): tanh
# 5.4x -> 19.1x faster than Gauss-Hermite 25, for ~7 s more one-time table setup.
_TABLE_LOG_LO = math.log(1e-3)
_TABLE_LOG_HI = math.log(1e3)
_TABLE_STEP = 0.04          # grid step in log q (measured: interpolation error ~1e-15)
_TABLE_P = 10               # points of the local Lagrange interpolation in log q
_FEW_DISTINCT = 48          # up to this many distinct variances: exact coefficients


def _tails(A, nu, err):
    """Suffix tails T[i, R] = T_R(q_i) (accurate when tiny) with a margin for the errors.

    ``T_K = max(nu - sum a_k^2, 0)`` plus the error of that difference (8 eps nu and
    2 sum |a_k| err_k); ``T_R = T_K + sum_{R<k<=K} a_k^2``.
    """
    sq = A * A
    total = sq.sum(axis=1)
    margin = 8.0 * _EPS * nu + 2.0 * np.sum(np.abs(A) * err, axis=1)
    tk = np.maximum(nu - total, 0.0) + margin
    suffix = np.cumsum(sq[:, ::-1], axis=1)[:, ::-1]      # sum_{k>=R}
    T = np.empty_like(A)
    T[:, :-1] = suffix[:, 1:]
    T[:, -1] = 0.0
    T += tk[:, None]
    return T


class _MehlerTable:
    """a_k(q), k <= 1200, on a grid uniform in log q over [1e-3, 1e3], with tails.

    Built once per activation from :func:`hermite_dual.hermite.hermite_table`.  Between
    grid points the coefficients are interpolated by 10-point Lagrange in log q; the
    interpolation error ``||a(q) - a_interp(q)||_2 / sqrt(nu(q))`` is **measured** at
    grid midpoints (every fourth one) against directly computed coefficients, and
    twice the largest measured value among the nearby midpoints (``error_at(q)``) enters
    the error bound; ``interp_error`` is the global maximum, for reporting.
    """

    def __init__(self, act):
        from .hermite import hermite_table
        grid = np.arange(_TABLE_LOG_LO, _TABLE_LOG_HI + 0.5 * _TABLE_STEP, _TABLE_STEP)
        A, nu, err = hermite_table(act, _MEHLER_DEGREE, np.exp(grid))
        self.x0 = float(grid[0])
        self.h = _TABLE_STEP
        self.A = np.ascontiguousarray(A)
        self.nu = np.ascontiguousarray(nu)
        self.err = np.ascontiguousarray(err.max(axis=1))
        self.T = np.ascontiguousarray(_tails(A, nu, err))
        mids = (grid[:-1] + grid[1:])[::4] / 2
        Am, num, errm = hermite_table(act, _MEHLER_DEGREE, np.exp(mids))
        Ai = np.empty_like(Am)
        _interp_rows(self.A, self.x0, self.h, _TABLE_P, mids, Ai)
        rel = np.sqrt(np.sum((Ai - Am) ** 2, axis=1) / np.maximum(num, 1e-300))
        rel_coef = np.sqrt(np.sum(errm ** 2, axis=1) / np.maximum(num, 1e-300))
        measured = rel + rel_coef
        self.interp_error = float(2.0 * np.max(measured))
        # Local estimate: twice the largest measured value within +-3 measured midpoints
        # (+-0.48 in log q, wider than the 10-point stencil). A global maximum would let
        # the violent high-degree coefficients at q ~ 1e3 inflate every bound.
        pad = np.concatenate([np.full(3, measured[0]), measured, np.full(3, measured[-1])])
        window = np.lib.stride_tricks.sliding_window_view(pad, 7)
        self.local_error = 2.0 * window.max(axis=1)
        self.mid0 = float(mids[0])
        self.mid_step = float(mids[1] - mids[0])

    def error_at(self, q):
        """The interpolation-error estimate (relative to sqrt(nu(q))) near variance q."""
        j = np.rint((np.log(q) - self.mid0) / self.mid_step).astype(np.int64)
        return self.local_error[np.clip(j, 0, self.local_error.size - 1)]


@numba.njit(cache=True)
def _lagrange_weights(xq, x0, h, p, G, w):  # pragma: no cover - compiled
    """Stencil start j and weights w[0:p] of p-point Lagrange on the grid x0 + h*i."""
    s = (xq - x0) / h
    j = int(math.floor(s)) - p // 2 + 1
    if j < 0:
        j = 0
    if j > G - p:
        j = G - p
    for l in range(p):
        num = 1.0
        den = 1.0
        for m in range(p):
            if m != l:
                num *= s - (j + m)
                den *= l - m
        w[l] = num / den
    return j


@numba.njit(cache=True)
def _interp_rows(A, x0, h, p, xs, out):  # pragma: no cover - compiled
    G, K1 = A.shape
    w = np.empty(p)
    for i in range(xs.size):
        j = _lagrange_weights(xs[i], x0, h, p, G, w)
        for k in range(K1):
            acc = 0.0
            for l in range(p):
                acc += w[l] * A[j + l, k]
            out[i, k] = acc


@numba.njit(cache=True)
def _mehler_point(a1, a2, T1, T2, nu1, nu2, rho, tol, K1):  # pragma: no cover - compiled
    """Sum a_k(q1) a_k(q2) rho^k up to the first degree R whose Parseval tail bound
    |rho|^(R+1) sqrt(T_R(q1) T_R(q2)) is <= tol sqrt(nu1 nu2); returns
    (value, tail bound, sum of |terms|, ok)."""
    scale = math.sqrt(max(nu1, 0.0) * max(nu2, 0.0))
    arho = abs(rho)
    pw = arho
    R = -1
    for k in range(K1):
        tail = pw * math.sqrt(max(T1[k], 0.0) * max(T2[k], 0.0))
        if tail <= tol * scale or tail == 0.0:
            R = k
            break
        pw *= arho
    if R < 0:
        return 0.0, 0.0, 0.0, False
    val = 0.0
    absval = 0.0
    pk = 1.0
    for k in range(R + 1):
        term = a1[k] * a2[k] * pk
        val += term
        absval += abs(term)
        pk *= rho
    return val, tail, absval, True


@numba.njit(cache=True, parallel=True)
def _mehler_table_kernel(A, T, nu, x0, h, p, q1a, q2a, ca, tol, out, bound, ok, scl):  # pragma: no cover
    """Mehler series from the interpolation table, one point per iteration (prange).

    The tail bound uses, for each variance, the larger tail of the two grid points around
    it (times 2); ``bound`` excludes the interpolation error, added by the caller."""
    G, K1 = A.shape
    for i in numba.prange(q1a.size):
        w1 = np.empty(p)
        w2 = np.empty(p)
        x1 = math.log(q1a[i])
        x2 = math.log(q2a[i])
        j1 = _lagrange_weights(x1, x0, h, p, G, w1)
        j2 = _lagrange_weights(x2, x0, h, p, G, w2)
        b1 = min(max(int(math.floor((x1 - x0) / h)), 0), G - 2)
        b2 = min(max(int(math.floor((x2 - x0) / h)), 0), G - 2)
        n1 = 0.0
        n2 = 0.0
        for l in range(p):
            n1 += w1[l] * nu[j1 + l]
            n2 += w2[l] * nu[j2 + l]
        rho = ca[i] / (math.sqrt(q1a[i]) * math.sqrt(q2a[i]))
        rho = min(1.0, max(-1.0, rho))
        scale = math.sqrt(max(n1, 0.0) * max(n2, 0.0))
        scl[i] = scale
        arho = abs(rho)
        pw = arho
        R = -1
        tail = 0.0
        for k in range(K1):
            t1 = 2.0 * max(T[b1, k], T[b1 + 1, k])
            t2 = 2.0 * max(T[b2, k], T[b2 + 1, k])
            tail = pw * math.sqrt(t1 * t2)
            if tail <= tol * scale or tail == 0.0:
                R = k
                break
            pw *= arho
        if R < 0:
            ok[i] = False
            out[i] = 0.0
            bound[i] = 0.0
            continue
        a1 = np.zeros(R + 1)
        a2 = np.zeros(R + 1)
        for l in range(p):          # row-wise (contiguous, vectorized) interpolation
            wl1 = w1[l]
            wl2 = w2[l]
            r1 = A[j1 + l]
            r2 = A[j2 + l]
            for k in range(R + 1):
                a1[k] += wl1 * r1[k]
                a2[k] += wl2 * r2[k]
        val = 0.0
        absval = 0.0
        pk = 1.0
        for k in range(R + 1):
            term = a1[k] * a2[k] * pk
            val += term
            absval += abs(term)
            pk *= rho
        out[i] = val
        bound[i] = tail + 4.0 * (R + 2) * 2.220446049250313e-16 * absval
        ok[i] = True


@numba.njit(cache=True, parallel=True)
def _mehler_exact_kernel(A, T, nu, i1, i2, rho_a, tol, out, bound, ok):  # pragma: no cover
    """Mehler series with exact coefficient rows A[i1[i]], A[i2[i]] (few variances)."""
    K1 = A.shape[1]
    for i in numba.prange(rho_a.size):
        r1 = i1[i]
        r2 = i2[i]
        v, tail, absval, good = _mehler_point(A[r1], A[r2], T[r1], T[r2], nu[r1], nu[r2],
                                              rho_a[i], tol, K1)
        out[i] = v
        bound[i] = tail + 4.0 * (K1 + 1) * 2.220446049250313e-16 * absval
        ok[i] = good


# ---------------------------------------------------------------------------
# numba quadrature for the points the Mehler series does not certify (|rho| -> 1)
# ---------------------------------------------------------------------------

def _numba_sigma(act):
    """sigma as a numba ``cfunc`` float64(float64) (a first-class function for the cached
    kernels below), or None when its expression does not compile or disagrees with the
    numpy callable."""
    try:
        src_fn = sp.lambdify(_x, act.expr, modules="math")
        fn = numba.cfunc("float64(float64)")(src_fn)
        probe = np.array([-3.1, -0.7, 0.0, 0.4, 2.2, 35.0, -35.0])
        got = np.array([fn.ctypes(float(v)) for v in probe])
        ref = act(probe)
        if not np.allclose(got, ref, rtol=1e-14, atol=1e-300, equal_nan=True):
            return None
        return fn
    except Exception:  # noqa: BLE001 - numba/sympy raise many types; we fall back
        return None


_NB_FEATURES = np.concatenate([-(1.5 * 1.5 ** np.arange(0, 25))[::-1], [0.0],
                               1.5 * 1.5 ** np.arange(0, 25)])
_NB_L = 9.5


def _nb_rules():
    """Gauss-Legendre (16, 10) and Gauss-Hermite (24, 20, 16, 14, 10) rules."""
    s = 1.0 / math.sqrt(2.0 * math.pi)
    out = []
    for n in (16, 10):
        out.extend(np.polynomial.legendre.leggauss(n))
    for n in (24, 20, 16, 14, 10):
        z, w = np.polynomial.hermite_e.hermegauss(n)
        out.extend((z, w * s))
    return tuple(out)


_NB_RULES = _nb_rules()


@numba.njit(cache=True)
def _nb_inner(sig, mu, t, kinks, feats, zs, ws, gl_t, gl_w):  # pragma: no cover - compiled
    """E[sigma(mu + t Z)]: Gauss-Hermite when smooth and t <= 1, else composite GL."""
    L = 9.5
    if t == 0.0:
        f = sig(mu)
        return f, abs(f)
    lo = mu - L * t
    hi = mu + L * t
    smooth = t <= 1.0
    for kk in range(kinks.size):
        if lo < kinks[kk] < hi:
            smooth = False
    s = 0.0
    sa = 0.0
    if smooth:
        for i in range(zs.size):
            f = sig(mu + t * zs[i])
            s += ws[i] * f
            sa += ws[i] * abs(f)
        return s, sa
    buf = np.empty(2 * 10 + 2 + feats.size + kinks.size)
    nb = 0
    z = -L
    while z <= L + 1e-12:
        buf[nb] = z
        nb += 1
        z += 1.0
    for kk in range(feats.size):
        zz = (feats[kk] - mu) / t
        if -L < zz < L:
            buf[nb] = zz
            nb += 1
    for kk in range(kinks.size):
        zz = (kinks[kk] - mu) / t
        if -L < zz < L:
            buf[nb] = zz
            nb += 1
    bb = np.sort(buf[:nb])
    c0 = 1.0 / math.sqrt(2.0 * math.pi)
    for p in range(nb - 1):
        a = bb[p]
        b = bb[p + 1]
        if b <= a:
            continue
        hw = 0.5 * (b - a)
        md = 0.5 * (a + b)
        for i in range(gl_t.size):
            zz = md + hw * gl_t[i]
            wgt = hw * gl_w[i] * math.exp(-0.5 * zz * zz) * c0
            f = sig(mu + t * zz)
            s += wgt * f
            sa += wgt * abs(f)
    return s, sa


@numba.njit(cache=True)
def _nb_point(sig, q1v, q2v, cv, dv, kinks, feats, tm, wm, tc, wc, zh, wh, zh2, wh2):  # pragma: no cover
    """Conditional quadrature of one covariance: (value, error estimate)."""
    L = 9.5
    s1 = math.sqrt(q1v)
    lo = -L * s1
    hi = L * s1
    t = math.sqrt(dv / q1v)
    lam = cv / q1v
    nmax = 64 + 2 * feats.size + kinks.size * 140
    buf = np.empty(nmax)
    nb = 0
    g = -L
    while g <= L + 1e-12:
        buf[nb] = g * s1
        nb += 1
        g += 2.0
    mapped = lam != 0.0 and abs(abs(lam) - 1.0) > 0.2
    for kk in range(feats.size):
        if lo < feats[kk] < hi:
            buf[nb] = feats[kk]
            nb += 1
        if mapped:
            m = feats[kk] / lam
            if lo < m < hi:
                buf[nb] = m
                nb += 1
    for kk in range(kinks.size):
        if lo < kinks[kk] < hi:
            buf[nb] = kinks[kk]
            nb += 1
        if lam != 0.0:
            m = kinks[kk] / lam
            if lo < m < hi:
                buf[nb] = m
                nb += 1
            w = t / abs(lam) / 8.0
            while w < hi - lo and w > 0.0 and nb < nmax - 2:
                if lo < m - w < hi:
                    buf[nb] = m - w
                    nb += 1
                if lo < m + w < hi:
                    buf[nb] = m + w
                    nb += 1
                w *= 2.0
    bb = np.sort(buf[:nb])
    main = 0.0
    check = 0.0
    absval = 0.0
    c0 = 1.0 / math.sqrt(2.0 * math.pi)
    for p in range(nb - 1):
        a = bb[p]
        b = bb[p + 1]
        if b - a <= 1e-14 * s1:
            continue
        hw = 0.5 * (b - a)
        md = 0.5 * (a + b)
        for i in range(tm.size):
            u = md + hw * tm[i]
            wu = hw * wm[i] * math.exp(-0.5 * u * u / q1v) * c0 / s1
            fu = sig(u)
            gi, ga = _nb_inner(sig, lam * u, t, kinks, feats, zh, wh, tm, wm)
            main += wu * fu * gi
            absval += abs(wu * fu) * ga
        for i in range(tc.size):
            u = md + hw * tc[i]
            wu = hw * wc[i] * math.exp(-0.5 * u * u / q1v) * c0 / s1
            gi, ga = _nb_inner(sig, lam * u, t, kinks, feats, zh2, wh2, tc, wc)
            check += wu * sig(u) * gi
    return main, abs(main - check) + 64.0 * 2.220446049250313e-16 * absval


@numba.njit(cache=True, parallel=True)
def _nb_quad_kernel(sig, q1a, q2a, ca, da, kinks, feats, rules, out, err):  # pragma: no cover
    """Conditional quadrature for many covariances (sigma a first-class cfunc).

    Outer integral over u on composite Gauss-Legendre panels (16 nodes main, 10 check)
    with breakpoints on the Gaussian grid (1.5 sd), a feature grid geometric in |u| and
    its image under u -> c u / q1, the kinks, their images and a geometric grading
    around the images down to the smoothing width.  Inner integral over
    z = (v - c u / q1) / t: Gauss-Hermite (24 nodes main, 16 check) when its window
    holds no kink and t <= 1, composite Gauss-Legendre otherwise; exact at t = 0.
    """
    (t16, w16, t10, w10, z24, v24, z20, v20, z16, v16, z14, v14, z10, v10) = rules
    for i in numba.prange(q1a.size):
        t = math.sqrt(da[i] / q1a[i])
        # outer rule pair 16/10 (a 12/8 pair was measured too weak for a 1e-12 error
        # estimate); inner Gauss-Hermite pair by the smoothing width t
        ta, wa, tb, wb = t16, w16, t10, w10
        if t <= 0.3:
            v, e = _nb_point(sig, q1a[i], q2a[i], ca[i], da[i], kinks, feats,
                             ta, wa, tb, wb, z16, v16, z10, v10)
        elif t <= 0.7:
            v, e = _nb_point(sig, q1a[i], q2a[i], ca[i], da[i], kinks, feats,
                             ta, wa, tb, wb, z20, v20, z14, v14)
        else:
            v, e = _nb_point(sig, q1a[i], q2a[i], ca[i], da[i], kinks, feats,
                             t16, w16, t10, w10, z24, v24, z16, v16)
        out[i] = v
        err[i] = e


# ---------------------------------------------------------------------------
# closed forms: derivation (direct Gaussian integrals, Price's theorem)
# ---------------------------------------------------------------------------

_t = sp.Symbol("t", real=True)
_a1, _a2 = sp.symbols("alpha1 alpha2")


class _Fail(Exception):
    """Raised inside the derivation when no closed form is found on some branch."""


@functools.lru_cache(maxsize=None)
def _atom(m=0, beta=sp.S.Zero, alpha=sp.S.Zero, erf=None, heav=None, delta=None):
    """x^m exp(beta x^2 + alpha x) [erf(a x + b)] [Heaviside(x - heav)] [Dirac(x - delta)]."""
    return (int(m), sp.sympify(beta), sp.sympify(alpha), erf, heav, delta)


def _atom_expr(at):
    m, beta, alpha, erf, heav, delta = at
    e = _x ** m * sp.exp(beta * _x ** 2 + alpha * _x)
    if erf is not None:
        e = e * sp.erf(erf[0] * _x + erf[1])
    if heav is not None:
        e = e * sp.Heaviside(_x - heav)
    if delta is not None:
        e = e * sp.DiracDelta(_x - delta)
    return e


def _linear(e):
    """(a, b) with e = a x + b, a != 0, or raise _Fail."""
    p = sp.Poly(e, _x) if e.has(_x) else None
    if p is None or p.degree() != 1:
        raise _Fail(f"not linear in x: {e}")
    a, b = p.all_coeffs()
    if a.has(_x) or not (a.is_real and b.is_real):
        raise _Fail(f"not a real linear form: {e}")
    return a, b


def _piecewise_to_heaviside(e):
    if not isinstance(e, sp.Piecewise):
        return e
    out = sp.S.Zero
    rest = sp.S.One
    for val, cond in e.args:
        if cond is sp.true:
            out += rest * val
            return out
        if not isinstance(cond, sp.core.relational.Relational):
            raise _Fail(f"condition {cond}")
        if isinstance(cond, (sp.StrictGreaterThan, sp.GreaterThan)):
            ind = sp.Heaviside(cond.lhs - cond.rhs)
        else:
            ind = sp.Heaviside(cond.rhs - cond.lhs)
        out += rest * ind * val
        rest = rest * (1 - ind)
    return out


def _preprocess(expr):
    e = expr.replace(lambda s: isinstance(s, sp.Piecewise), _piecewise_to_heaviside)
    e = e.rewrite(sp.Heaviside)
    e = e.replace(lambda s: isinstance(s, sp.sign), lambda s: 2 * sp.Heaviside(s.args[0]) - 1)
    e = e.replace(lambda s: isinstance(s, sp.erfc), lambda s: 1 - sp.erf(s.args[0]))
    e = e.rewrite(sp.exp)
    e = e.replace(lambda s: isinstance(s, sp.Heaviside) and len(s.args) > 1,
                  lambda s: sp.Heaviside(s.args[0]))
    return sp.expand(sp.powsimp(sp.expand(e), combine="exp"))


def _decompose(expr):
    """sigma = sum coef * atom; a dict atom -> coef, or raise _Fail."""
    out = {}
    e = _preprocess(expr)
    for term in sp.Add.make_args(e):
        coef, dep = term.as_independent(_x, as_Add=False)
        for c0, at in _classify(dep):
            out[at] = out.get(at, 0) + coef * c0
    return {a: sp.simplify(v) for a, v in out.items() if sp.simplify(v) != 0}


def _classify(dep):
    """A product of x-dependent factors -> list of (coef, atom)."""
    m, beta, alpha, const = 0, sp.S.Zero, sp.S.Zero, sp.S.Zero
    erf = heav = delta = None
    heav_flip = False
    for f in sp.Mul.make_args(dep):
        if f == 1:
            continue
        if f == _x:
            m += 1
        elif f.is_Pow and f.base == _x and f.exp.is_Integer and f.exp > 0:
            m += int(f.exp)
        elif isinstance(f, sp.exp) or (f.is_Pow and f.base is sp.E):
            ex = f.args[0] if isinstance(f, sp.exp) else f.exp
            p = sp.Poly(sp.expand(ex), _x)
            if p.degree() > 2:
                raise _Fail(f"exponent {ex}")
            cs = p.all_coeffs()[::-1] + [0, 0, 0]
            const += cs[0]
            alpha += cs[1]
            beta += cs[2]
        elif isinstance(f, sp.erf) and erf is None:
            erf = _linear(f.args[0])
        elif isinstance(f, sp.Heaviside) and heav is None and delta is None:
            a, b = _linear(f.args[0])
            heav = -b / a
            heav_flip = bool(a < 0)
        elif isinstance(f, sp.DiracDelta) and len(f.args) == 1 and delta is None and heav is None:
            a, b = _linear(f.args[0])
            delta = -b / a
            const += -sp.log(sp.Abs(a))
        else:
            raise _Fail(f"factor {f}")
    if not (sp.re(beta) <= 0) in (True, sp.true) and beta != 0:
        raise _Fail("exp(+x^2) growth")
    if sp.im(beta) != 0:
        raise _Fail("complex Gaussian exponent")
    k = sp.exp(const)
    if delta is not None:
        val = (_x ** m * sp.exp(beta * _x ** 2 + alpha * _x)).subs(_x, delta)
        if erf is not None:
            val = val * sp.erf(erf[0] * delta + erf[1])
        return [(k * val, _atom(delta=delta))]
    if heav is not None and heav_flip:
        return [(k, _atom(m, beta, alpha, erf)), (-k, _atom(m, beta, alpha, erf, heav))]
    return [(k, _atom(m, beta, alpha, erf, heav))]


def _diff(at):
    """The derivative of an atom, decomposed."""
    if at[5] is not None:
        raise _Fail("derivative of a Dirac mass")
    return _decompose(sp.diff(_atom_expr(at), _x))


_alpha = sp.Symbol("alpha_")


def _mean1(at, mean, var):
    """E[atom(X)], X ~ N(mean, var) (sympy), or raise _Fail."""
    m, beta, alpha, erf, heav, delta = at
    if delta is not None:
        return sp.exp(-(delta - mean) ** 2 / (2 * var)) / sp.sqrt(2 * sp.pi * var)
    plain = beta == 0 and alpha == 0
    if erf is None and heav is None:
        if plain:  # moments of N(mean, var)
            return sp.expand(sum(
                sp.binomial(m, j) * mean ** (m - j) * var ** sp.Rational(j, 2)
                * (sp.factorial2(j - 1) if j % 2 == 0 else 0) for j in range(m + 1)))
        # E[X^m exp(beta X^2 + alpha X)] = d^m/dalpha^m of the Gaussian integral
        s = sp.sqrt(var)
        b = 2 * beta * mean * s + _alpha * s
        base = (sp.exp(beta * mean ** 2 + _alpha * mean + b ** 2 / (2 * (1 - 2 * beta * var)))
                / sp.sqrt(1 - 2 * beta * var))
        return sp.diff(base, _alpha, m).subs(_alpha, alpha) if m else base.subs(_alpha, alpha)
    if not plain:
        raise _Fail("exp times erf/Heaviside")
    if m > 0:
        # Stein's identity: E[X R(X)] = mean E[R(X)] + var E[R'(X)]
        rest = _atom(m - 1, beta, alpha, erf, heav)
        total = mean * _mean1(rest, mean, var)
        for a2, co in _diff(rest).items():
            total += var * co * _mean1(a2, mean, var)
        return total
    if erf is not None and heav is None:
        a, b = erf
        return sp.erf((a * mean + b) / sp.sqrt(1 + 2 * a ** 2 * var))
    if heav is not None and erf is None:
        return sp.erfc((heav - mean) / sp.sqrt(2 * var)) / 2
    raise _Fail("erf times Heaviside")


def _is_plain_poly(at):
    return at[1] == 0 and at[2] == 0 and at[3] is None and at[4] is None and at[5] is None


def _is_expq(at):
    return at[3] is None and at[4] is None and at[5] is None


def _pair_expq(f, g):
    """E[f(u) g(v)] for two x^m exp(beta x^2 + alpha x) atoms: a direct Gaussian integral."""
    S = sp.Matrix([[q1, c], [c, q2]])
    Bm = sp.diag(f[1], g[1])
    M = sp.eye(2) - 2 * S * Bm
    av = sp.Matrix([_a1, _a2])
    quad = (av.T * M.inv() * S * av)[0, 0]
    mgf = sp.exp(quad / 2) / sp.sqrt(M.det())
    d = sp.diff(mgf, _a1, f[0]) if f[0] else mgf
    d = sp.diff(d, _a2, g[0]) if g[0] else d
    return d.subs({_a1: f[2], _a2: g[2]})


def _swap(expr):
    return expr.xreplace({q1: q2, q2: q1})


_MAX_DEPTH = 4


def _pair(f, g, depth=0):
    """K_{f,g}(q1, q2, c) = E[f(u) g(v)] for atoms f, g; sympy, or raise _Fail."""
    return _pair_cached(f, g, depth)


@functools.lru_cache(maxsize=4096)
def _pair_cached(f, g, depth):
    one = _atom()
    if f == one:
        return _mean1(g, 0, q2)
    if g == one:
        return _mean1(f, 0, q1)
    if f[5] is not None:
        k = f[5]
        return (sp.exp(-k ** 2 / (2 * q1)) / sp.sqrt(2 * sp.pi * q1)
                * _mean1(g, c * k / q1, q2 - c ** 2 / q1))
    if g[5] is not None:
        return _swap(_pair_cached(g, f, depth))
    if _is_expq(f) and _is_expq(g):
        return _pair_expq(f, g)
    if _is_plain_poly(g) or _is_plain_poly(f):
        # Price's theorem as a finite Taylor series in c around c = 0
        if _is_plain_poly(f):
            return _swap(_pair_cached(g, f, depth))
        total = sp.S.Zero
        fj = {f: sp.S.One}
        for j in range(g[0] + 1):
            gj = sp.factorial(g[0]) / sp.factorial(g[0] - j)
            e1 = sum((co * _mean1(a, 0, q1) for a, co in fj.items()), sp.S.Zero)
            e2 = gj * _mean1(_atom(g[0] - j), 0, q2)
            total += c ** j / sp.factorial(j) * e1 * e2
            nxt = {}
            for a, co in fj.items():
                for a2, co2 in _diff(a).items():
                    nxt[a2] = nxt.get(a2, 0) + co * co2
            fj = nxt
        return total
    if depth >= _MAX_DEPTH:
        raise _Fail("Price recursion too deep")
    # Price's theorem: K_{f,g}(c) = E[f] E[g] + int_0^c K_{f',g'}(t) dt
    integrand = sp.S.Zero
    for a, ca in _diff(f).items():
        for b, cb in _diff(g).items():
            integrand += ca * cb * _pair_cached(a, b, depth + 1)
    integrand = sp.simplify(integrand.subs(c, _t))
    prim = sp.integrate(integrand, (_t, 0, c), conds="none")
    if prim.has(sp.Integral) or prim.has(sp.Piecewise):
        raise _Fail("integral in c")
    return _mean1(f, 0, q1) * _mean1(g, 0, q2) + prim


def _derive_closed_form(expr):
    """A closed form of K_sigma in (q1, q2, c), or None (not yet numerically checked)."""
    try:
        terms = _decompose(expr)
        items = list(terms.items())
        total = sp.S.Zero
        for i, (fi, wi) in enumerate(items):
            for j in range(i, len(items)):
                gj, wj = items[j]
                kij = _pair(fi, gj)
                if i == j:
                    total += wi * wj * kij
                else:
                    total += wi * wj * (kij + _swap(kij))
    except (_Fail, sp.PolynomialError, ValueError, TypeError, NotImplementedError):
        return None
    total = sp.expand(total)
    if total.has(sp.I):
        total = sp.expand(sp.expand_complex(total))
    if total.has(sp.I) or total.has(sp.nan) or total.has(sp.zoo):
        return None
    return _tidy(total)


def _tidy(expr):
    """A readable form: simplify, and fold exponentials into sinh/cosh where shorter."""
    try:
        s = sp.simplify(expr)
    except Exception:  # noqa: BLE001 - sympy's simplify can fail in many ways
        s = expr
    try:
        h = sp.simplify(sp.powsimp(s.rewrite(sp.cosh)))
        if sp.count_ops(h) < sp.count_ops(s):
            s = h
    except Exception:  # noqa: BLE001
        pass
    return s


_D = sp.Symbol("D", positive=True)   # q1 q2 - c^2, computed with an exact two-product
_DERIVE_SECONDS = 30


def _stable_base(b):
    """Rewrite a radicand containing c^2 in terms of D = q1 q2 - c^2."""
    nb = sp.expand(sp.cancel(b)).subs(c ** 2, q1 * q2 - _D)
    return sp.factor_terms(sp.cancel(sp.expand(nb)))


def _float64_form(expr):
    """The closed form rewritten for float64 (see the module docstring), in (q1, q2, c, D)."""
    e = expr.replace(lambda s: isinstance(s, (sp.sinh, sp.cosh, sp.tanh)) and s.has(c),
                     lambda s: s.rewrite(sp.exp))
    e = sp.powsimp(sp.expand(e), combine="exp")
    e = e.replace(
        lambda s: isinstance(s, sp.asin),
        lambda s: sp.atan2(s.args[0], sp.sqrt(_stable_base(1 - s.args[0] ** 2))))
    e = e.replace(
        lambda s: isinstance(s, sp.acos),
        lambda s: sp.atan2(sp.sqrt(_stable_base(1 - s.args[0] ** 2)), s.args[0]))
    e = e.replace(
        lambda s: s.is_Pow and s.exp.is_Rational and s.exp.q == 2 and s.base.has(c),
        lambda s: sp.Pow(_stable_base(s.base), s.exp))
    return e


def _compile_float64(expr):
    e = _float64_form(expr)
    fn = sp.lambdify((q1, q2, c, _D), e, modules=["numpy"])

    def evaluate(a, b, cc):
        d = np.maximum(_two_prod_diff(a, b, cc), 0.0)
        with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
            out = fn(a, b, cc, d)
        return np.broadcast_to(np.asarray(out, dtype=np.float64), np.shape(a))
    return evaluate


def _check_points():
    rng = np.random.default_rng(20260611)
    pts = []
    for rho in (rng.uniform(-0.9, 0.9), 0.995, -1.0):
        a, b = np.exp(rng.uniform(np.log(0.3), np.log(3.0), size=2))
        pts.append((float(a), float(b), float(rho * math.sqrt(a * b))))
    return pts


def _verify_closed(expr, act):
    """Check a derived closed form (sympy at 30 digits and its float64 form) at random
    covariances against the quadrature route; True when every point agrees."""
    fn = act
    evaluate = _compile_float64(expr)
    for a, b, cc in _check_points():
        quad, absval = _quad_point(fn, act.kinks_float, a, b, cc, 16)
        quad10 = quad
        nu_a = _quad_point(fn, act.kinks_float, a, a, a, 16)[0]
        nu_b = _quad_point(fn, act.kinks_float, b, b, b, 16)[0]
        scale = absval + math.sqrt(abs(nu_a * nu_b))
        tol = 1e-10 * max(scale, 1e-300) + 10 * abs(quad - quad10)
        exact = complex(expr.evalf(30, subs={q1: sp.Float(a, 30), q2: sp.Float(b, 30),
                                             c: sp.Float(cc, 30)}))
        if abs(exact.imag) > tol or abs(exact.real - quad) > tol:
            return False
        num = float(evaluate(np.array(a), np.array(b), np.array(cc)))
        if not abs(num - quad) <= tol:
            return False
    return True


def _with_work_budget(seconds, fn, *args):
    """fn(*args) under a work budget of ``seconds`` nominal seconds; None when spent.

    The budget counts work (:mod:`hermite_dual._util.deadline`), so whether a closed form
    is found does not depend on machine load, and the answer may be cached.
    """
    try:
        with from_seconds(seconds, label="closed-form search"):
            return fn(*args)
    except WorkBudgetExceeded:
        return None


# ---------------------------------------------------------------------------
# the public object
# ---------------------------------------------------------------------------

class DualKernel:
    """The dual kernel of one activation: float64, with error, precise and closed form.

    Build it with :func:`dual` (cached per activation).

    Attributes
    ----------
    activation : Activation
        The activation sigma.

    Notes
    -----
    ``K_sigma(q1, q2, c) = E[sigma(u) sigma(v)]`` for ``(u, v) ~ N(0, [[q1, c], [c, q2]])``
    (MATH §3); ``rho = c / sqrt(q1 q2)``.  The unit dual is
    ``sigma_hat(rho) = K_sigma(1, 1, rho)``.  See the module docstring for the numeric
    routes and their error bounds.

    Examples
    --------
    >>> import hermite_dual as hd
    >>> k = hd.dual("sin")
    >>> import math
    >>> abs(float(k.kernel(1.0, 2.0, 0.5)) - math.exp(-1.5) * math.sinh(0.5)) < 1e-15
    True
    """

    def __init__(self, act):
        self.activation = act
        self._lock = threading.RLock()
        self._closed = _UNSET
        self._closed_numeric = _UNSET
        self._sq_limit = None
        self._mehler_table = None
        self._nb_quad = _UNSET

    def __reduce__(self):
        # one kernel per expression: unpickling returns the cached kernel (tables and the
        # lock are rebuilt, not pickled)
        return (dual, (self.activation,))

    def __repr__(self):
        return f"DualKernel({self.activation.name!r})"

    # -- evaluation -----------------------------------------------------------
    def __call__(self, rho):
        """The unit dual ``sigma_hat(rho) = K_sigma(1, 1, rho)``.

        Parameters
        ----------
        rho : array_like
            Correlations in [-1, 1].

        Returns
        -------
        numpy.ndarray
            float64, the shape of ``rho``.

        Raises
        ------
        ValueError
            If rho is not finite or outside [-1, 1] beyond rounding.

        Examples
        --------
        >>> import hermite_dual as hd
        >>> float(hd.dual("step")(0.0))
        0.25
        """
        r = _as_float_array(rho, "rho")
        bad = np.abs(r) > 1.0 + _C_SLACK
        if bad.any():
            raise ValueError(f"correlation rho must lie in [-1, 1], got {float(r[bad].flat[0])!r}")
        one = np.ones_like(r)
        return self.kernel(one, one, np.clip(r, -1.0, 1.0))

    def kernel(self, q1, q2, c):
        """The generalized dual kernel ``K_sigma(q1, q2, c)`` in float64.

        Parameters
        ----------
        q1, q2 : array_like
            Positive variances.
        c : array_like
            Covariances with ``|c| <= sqrt(q1 q2)`` (a relative excess of 1e-12 from
            rounding is clipped).  The three arguments broadcast (numpy rules).

        Returns
        -------
        numpy.ndarray
            float64 of the broadcast shape; accurate to about 1e-12 of
            ``sqrt(nu(q1) nu(q2))`` (see :meth:`kernel_with_error`).

        Raises
        ------
        ValueError
            For non-finite input, a variance <= 0, ``|c| > sqrt(q1 q2)`` beyond rounding,
            or shapes that do not broadcast; the message names the value.

        Examples
        --------
        >>> import hermite_dual as hd
        >>> import numpy as np
        >>> k = hd.dual("relu").kernel(2.0, 2.0, np.array([0.0, 2.0]))
        >>> np.allclose(k, [1 / np.pi, 1.0])
        True
        """
        return self.kernel_with_error(q1, q2, c)[0]

    def kernel_with_error(self, q1, q2, c):
        """``K_sigma(q1, q2, c)`` in float64 and a bound on its absolute error.

        Returns
        -------
        value, bound : numpy.ndarray
            The bound is certified for the Mehler truncation (Parseval tail, MATH §3)
            and estimated for the other parts: the interpolation error of the
            coefficient table (measured), the quadrature error (difference of two rules on
            the same panels) and round-off (64 eps times the integral of |sigma sigma|).

        Raises
        ------
        ValueError
            As :meth:`kernel`.

        Examples
        --------
        >>> import hermite_dual as hd
        >>> value, bound = hd.dual("tanh").kernel_with_error(1.0, 1.0, 1.0)
        >>> bool(bound[()] < 1e-12)
        True
        """
        a, b, cc = _validate(q1, q2, c)
        shape = a.shape
        fa, fb, fc = a.ravel(), b.ravel(), cc.ravel()
        value, bound = self._evaluate(fa, fb, fc)
        return value.reshape(shape), bound.reshape(shape)

    def _evaluate(self, fa, fb, fc):
        closed = self._closed_evaluator()
        if closed is not None:
            with np.errstate(over="ignore", under="ignore", invalid="ignore"):
                val = np.asarray(closed(fa, fb, fc), dtype=np.float64)
                val = np.broadcast_to(val, fa.shape).astype(np.float64)
                na = np.asarray(closed(fa, fa, fa), dtype=np.float64)
                nb = np.asarray(closed(fb, fb, fb), dtype=np.float64)
                scale = np.sqrt(np.abs(np.broadcast_to(na, fa.shape))
                                * np.abs(np.broadcast_to(nb, fb.shape)))
            return val, 64.0 * _EPS * np.maximum(scale, np.abs(val))
        big = max(float(fa.max(initial=0.0)), float(fb.max(initial=0.0)))
        if big > _Q_MAX_SERIES:
            # measured against the arb oracle: the series and quadrature routes hold their
            # bounds to q = 1e10 (errors <= 1e-15); at q = 1e20 the quadrature misses the
            # activation's scale 1/sqrt(q) near rho = 1 and its estimate is wrong
            raise ValueError(
                f"variance {big!r} is above {_Q_MAX_SERIES:g}, the largest variance at which "
                f"the float64 series and quadrature routes for {self.activation.name!r} are "
                "validated (closed forms accept up to 1e100); use .precise() beyond it")
        value = np.zeros(fa.size)
        bound = np.full(fa.size, np.inf)
        todo = np.ones(fa.size, dtype=bool)
        if fa.size and self._mehler_allowed():
            todo = self._mehler(fa, fb, fc, value, bound)
        if todo.any():
            idx = np.flatnonzero(todo)
            sig = self._numba_quad()
            if sig is not None:
                a, b, cc = fa[idx], fb[idx], fc[idx]
                v = np.empty(idx.size)
                e = np.empty(idx.size)
                d = np.maximum(_two_prod_diff(a, b, cc), 0.0)
                _nb_quad_kernel(sig, a, b, cc, d, self.activation.kinks_float,
                                _NB_FEATURES, _NB_RULES, v, e)
                good = np.isfinite(v) & np.isfinite(e)
                value[idx[good]] = v[good]
                bound[idx[good]] = e[good]
                todo[idx[good]] = False
        if todo.any():
            idx = np.flatnonzero(todo)
            v, e = _quad_kernel(self.activation, self.activation.kinks_float,
                                fa[idx], fb[idx], fc[idx])
            value[idx] = v
            bound[idx] = e
        return value, bound

    def _numba_quad(self):
        with self._lock:
            if self._nb_quad is _UNSET:
                self._nb_quad = _numba_sigma(self.activation)
            return self._nb_quad

    def _mehler_allowed(self):
        from .hermite import square_integrable_limit
        with self._lock:
            if self._sq_limit is None:
                self._sq_limit = square_integrable_limit(self.activation)
            return self._sq_limit == math.inf

    def _mehler(self, fa, fb, fc, value, bound):
        """Mehler route; fills value/bound where it certifies, returns the mask of the rest."""
        from .hermite import hermite_table
        rho = np.clip(fc / (np.sqrt(fa) * np.sqrt(fb)), -1.0, 1.0)
        uq = np.unique(np.concatenate([fa, fb]))
        ok = np.zeros(fa.size, dtype=np.bool_)
        out = np.zeros(fa.size)
        bnd = np.zeros(fa.size)
        if uq.size <= _FEW_DISTINCT:
            A, nu, err = hermite_table(self.activation, _MEHLER_DEGREE, uq)
            T = _tails(A, nu, err)
            i1 = np.searchsorted(uq, fa)
            i2 = np.searchsorted(uq, fb)
            _mehler_exact_kernel(np.ascontiguousarray(A), np.ascontiguousarray(T), nu,
                                 i1, i2, rho, _MEHLER_TOL, out, bnd, ok)
            enorm = np.sqrt(np.sum(err * err, axis=1))
            snu = np.sqrt(np.maximum(nu, 0.0))
            bnd += snu[i1] * enorm[i2] + snu[i2] * enorm[i1] + enorm[i1] * enorm[i2]
        else:
            inside = ((fa >= 1e-3) & (fa <= 1e3) & (fb >= 1e-3) & (fb <= 1e3))
            idx = np.flatnonzero(inside)
            if idx.size:
                tab = self._table()
                o = np.zeros(idx.size)
                b = np.zeros(idx.size)
                g = np.zeros(idx.size, dtype=np.bool_)
                scl = np.zeros(idx.size)
                _mehler_table_kernel(tab.A, tab.T, tab.nu, tab.x0, tab.h, _TABLE_P,
                                     fa[idx], fb[idx], fc[idx], _MEHLER_TOL, o, b, g, scl)
                e1 = tab.error_at(fa[idx])
                e2 = tab.error_at(fb[idx])
                b += (e1 + e2 + e1 * e2) * scl
                out[idx] = o
                bnd[idx] = b
                ok[idx] = g
        value[ok] = out[ok]
        bound[ok] = bnd[ok]
        return ~ok

    def _table(self):
        with self._lock:
            if self._mehler_table is None:
                self._mehler_table = _MehlerTable(self.activation)
            return self._mehler_table

    def precise(self, q1, q2, c, dps=30):
        """``K_sigma(q1, q2, c)`` to about ``dps`` digits: the independent oracle.

        Nested composite Gauss-Legendre quadrature in ball arithmetic (python-flint
        ``arb``) at ``3.33 dps + 30`` bits, with panels at the kinks, on the Gaussian
        scale and on a feature grid; the float64 routes are never called.

        Parameters
        ----------
        q1, q2, c : float
            One covariance (scalars; validated like :meth:`kernel`).  The float64
            inputs are used as exact binary numbers.
        dps : int
            Decimal digits (10 to 100).

        Returns
        -------
        mpmath.mpf

        Raises
        ------
        ValueError
            For bad covariances (as :meth:`kernel`), non-scalar input or a bad ``dps``.

        Examples
        --------
        >>> import hermite_dual as hd, mpmath
        >>> v = hd.dual("relu").precise(1.0, 1.0, 0.0, dps=20)   # E[relu(Z)]^2
        >>> with mpmath.workdps(25):
        ...     bool(abs(v - 1 / (2 * mpmath.pi)) < mpmath.mpf(10) ** -18)
        True
        """
        if isinstance(dps, bool) or not isinstance(dps, (int, np.integer)) or not 10 <= dps <= 100:
            raise ValueError(f"dps must be an integer in [10, 100], got {dps!r}")
        a, b, cc = _validate(q1, q2, c)
        if a.shape != ():
            raise ValueError(f"precise takes scalar q1, q2, c, got shape {a.shape!r}")
        return _precise_scalar(self.activation.expr, self.activation.kinks,
                               float(a), float(b), float(cc), int(dps))

    # -- structure ------------------------------------------------------------
    def derivative(self):
        """The dual kernel of sigma' (Price: ``d/dc K_sigma = K_{sigma'}``).

        Raises
        ------
        ValueError
            If sigma' is not a function (e.g. step: a Dirac mass).

        Examples
        --------
        >>> import hermite_dual as hd
        >>> hd.dual("relu").derivative().activation.expr
        Heaviside(x)
        """
        return dual(self.activation.derivative())

    def closed_form(self):
        """A closed form of ``K_sigma`` in the symbols ``q1, q2`` (positive) and ``c`` (real).

        The form is **derived**, never looked up: sigma is split into atoms
        ``x^m exp(beta x^2 + alpha x)`` (polynomials, exponentials, sin/cos through complex
        exponentials, Gaussians), ``x^m erf(a x + b)``, ``x^m Heaviside(x - k)`` (the ReLU
        family after rewriting Max/Min/Abs/sign/Piecewise) and Dirac masses; every pair
        is then integrated by a direct Gaussian integral (moment generating function
        ``E[exp(a.X + X.B.X)]`` and its derivatives), by Price's theorem as a finite
        Taylor series in c when one side is a polynomial, through the conditional law
        ``v | u = k`` when one side is a Dirac mass, or by Price's theorem integrated back
        in c (``K_{f,g}(c) = E[f] E[g] + int_0^c K_{f',g'}``) otherwise.  The result is
        checked at random covariances, symbolically at 30 digits and in its float64 form,
        against the quadrature route before it is returned.

        Returns
        -------
        sympy.Expr or None
            ``None`` when no closed form was found (or it failed its check) within the
            time limit; never an unchecked formula.

        Examples
        --------
        >>> import hermite_dual as hd
        >>> hd.dual("step").closed_form()
        (2*asin(c/(sqrt(q1)*sqrt(q2))) + pi)/(4*pi)
        >>> hd.dual("tanh").closed_form() is None
        True
        """
        with self._lock:
            if self._closed is _UNSET:
                expr = _with_work_budget(_DERIVE_SECONDS, _derive_closed_form,
                                        self.activation.expr)
                if expr is not None and not _verify_closed(expr, self.activation):
                    expr = None
                self._closed = expr
            return self._closed

    def numeric_spec(self):
        """How a numeric layer (numba) should evaluate this kernel.

        Returns
        -------
        tuple
            * ``("closed", kind, params)`` when sigma is one of the closed forms that
              :mod:`hermite_dual._kernels` evaluates in numba: ``kind`` is its
              ``KIND_*`` id (identity, relu, step, erf, sin, cos, gaussian, exp) and
              ``params`` an empty float64 array (reserved);
            * ``("closed-numpy", fn)`` for any other derived closed form: ``fn(q1, q2, c)``
              evaluates it on float64 arrays (stable float64 form, no validation);
            * ``("mehler", info)`` otherwise: evaluate the Mehler series from
              :func:`hermite_dual.hermite.hermite_table` coefficients with the certified
              tail; ``info`` holds ``degree`` (1200) and ``tol`` (1e-13, relative to
              ``sqrt(nu(q1) nu(q2))``).  Where the tail bound is not met (|rho| near 1),
              call :meth:`kernel` (which switches to quadrature).

        Examples
        --------
        >>> import hermite_dual as hd
        >>> from hermite_dual import _kernels
        >>> hd.dual("relu").numeric_spec()[:2] == ("closed", _kernels.KIND_RELU)
        True
        >>> hd.dual("tanh").numeric_spec()[0]
        'mehler'
        """
        from .activations import _BUILTINS
        try:
            from . import _kernels
            kinds = getattr(_kernels, "KIND_NAMES", {})
        except ImportError:  # pragma: no cover - the equilibrium layer is optional here
            kinds = {}
        for kind, name in kinds.items():
            if name in _BUILTINS and sp.simplify(self.activation.expr - _BUILTINS[name]) == 0:
                return ("closed", int(kind), np.zeros(0))
        fn = self._closed_evaluator()
        if fn is not None:
            return ("closed-numpy", fn)
        return ("mehler", {"degree": _MEHLER_DEGREE, "tol": _MEHLER_TOL})

    def _closed_evaluator(self):
        with self._lock:
            if self._closed_numeric is _UNSET:
                expr = self.closed_form()
                self._closed_numeric = None if expr is None else _compile_float64(expr)
            return self._closed_numeric


_UNSET = object()
_CACHE = collections.OrderedDict()   # sympy expression -> DualKernel, least recent first
_CACHE_SIZE = 32                     # a Mehler table is about 6 MB
_CACHE_LOCK = threading.Lock()


def dual(act):
    """The :class:`DualKernel` of an activation (cached per activation).

    Parameters
    ----------
    act : str or sympy.Expr or Activation
        Anything :func:`hermite_dual.activation` accepts.

    Returns
    -------
    DualKernel

    Raises
    ------
    ValueError, TypeError
        As :func:`hermite_dual.activation`.

    Examples
    --------
    >>> import hermite_dual as hd
    >>> hd.dual("tanh") is hd.dual("tanh")
    True
    >>> hd.dual("relu") is hd.dual("Max(0, x)")     # keyed by the expression, not the name
    True

    Notes
    -----
    Kernels are cached by their sympy expression, least recently used first out, at most
    32 of them (a Mehler table holds about 6 MB).
    """
    a = activation(act)
    with _CACHE_LOCK:
        k = _CACHE.get(a.expr)
        if k is None:
            k = DualKernel(a)
            _CACHE[a.expr] = k
            while len(_CACHE) > _CACHE_SIZE:
                _CACHE.popitem(last=False)
        else:
            _CACHE.move_to_end(a.expr)
    return k


def describe_dual(act):
    """A JSON-able description of the dual kernel of ``act`` (for ``hermite-dual derive``).

    Parameters
    ----------
    act : str or sympy.Expr or Activation
        Anything :func:`hermite_dual.activation` accepts.

    Returns
    -------
    dict
        ``activation`` (name), ``expression``, ``method``: ``"closed form"`` with
        ``closed_form`` (sympy text) and ``latex``; or ``"mehler"`` with
        ``message`` ("no closed form; Mehler series with certified tail"),
        ``max_degree`` (1200), ``tail_q1`` (the certified Parseval tail T_1200(1), with
        ``nu_q1`` = nu(1)) and ``degree_at_q1`` (degree R chosen for q1 = q2 = 1 at
        several rho, ``None`` where the series is not used and the quadrature takes
        over).

    Examples
    --------
    >>> from hermite_dual.duals import describe_dual
    >>> d = describe_dual("relu")
    >>> d["method"], d["closed_form"]
    ('closed form', '(2*c*asin(c/(sqrt(q1)*sqrt(q2))) + pi*c + 2*sqrt(-c**2 + q1*q2))/(4*pi)')
    >>> describe_dual("tanh")["method"]
    'mehler'
    """
    k = dual(act)
    out = {"activation": k.activation.name, "expression": sp.sstr(k.activation.expr)}
    cf = k.closed_form()
    if cf is not None:
        out.update(method="closed form", closed_form=sp.sstr(cf), latex=sp.latex(cf))
        return out
    out.update(method="mehler", message="no closed form; Mehler series with certified tail",
               max_degree=_MEHLER_DEGREE, tolerance=_MEHLER_TOL)
    if not k._mehler_allowed():
        out.update(method="quadrature",
                   message="no closed form; sigma(sqrt(q) Z) is not in L2 for every q, "
                           "conditional quadrature")
        return out
    from .hermite import hermite_table
    A, nu, err = hermite_table(k.activation, _MEHLER_DEGREE, [1.0])
    T = _tails(A, nu, err)[0]
    degrees = {}
    for rho in (0.5, 0.9, 0.99, 1.0):
        tails = rho ** np.arange(1, T.size + 1) * T
        good = np.flatnonzero(tails <= _MEHLER_TOL * nu[0])
        degrees[str(rho)] = int(good[0]) if good.size else None
    out.update(nu_q1=float(nu[0]), tail_q1=float(T[-1]), degree_at_q1=degrees)
    return out
