"""Gauss-Legendre quadrature of K_sigma over the bivariate Gaussian (MATH §3).

The numpy reference route and the set-up of the numba route (:mod:`hermite_dual._kernels.quadrature`):
panels split at the activation's kinks and refined on its own scale, an inner conditional
integral and an outer one, with the difference of two rules as the error estimate.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import sympy as sp

from .._util.nodes import gauss_legendre
from ..activations import Activation
from ..symbolic.numeric import to_mpmath, to_numba
from .base import _EPS, _two_prod_diff

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


def _gl_nodes(breaks, n):
    """Nodes and weights of composite Gauss-Legendre on the panels between ``breaks``.

    ``breaks`` has shape (..., P); returns arrays of shape (..., (P-1)*n).
    """
    t, w = gauss_legendre(n)
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
    f = to_mpmath(expr)
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
# numba quadrature for the points the Mehler series does not certify (|rho| -> 1)
# ---------------------------------------------------------------------------

def _numba_sigma(act):
    """sigma as a numba ``cfunc`` float64(float64) (a first-class function for the cached
    kernels below), or None when its expression does not compile or disagrees with the
    numpy callable."""
    try:
        fn = to_numba(act.expr)
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
        out.extend(gauss_legendre(n))
    for n in (24, 20, 16, 14, 10):
        z, w = np.polynomial.hermite_e.hermegauss(n)
        out.extend((z, w * s))
    return tuple(out)


_NB_RULES = _nb_rules()
