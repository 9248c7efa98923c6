"""Symbols, tolerances and input rules of the dual kernels (MATH §3).

``q1``, ``q2`` (positive) and ``c`` (real) are the symbols of every closed form.  The
float64 routes accept variances in ``[_Q_MIN, _Q_MAX]``; ``1 - rho^2`` is formed from an
error-free two-product (Dekker's split), so it stays exact near ``rho = +-1``.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

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
