"""Hermite coefficients a_k(q) of an activation at a variance q (MATH.md sections 1-2).

    a_k(q) = E[ sigma(sqrt(q) Z) h_k(Z) ],   nu(q) = E[ sigma(sqrt(q) Z)^2 ],
    T_R(q) = nu(q) - sum_{k<=R} a_k(q)^2,

with ``h_k = He_k / sqrt(k!)`` the orthonormal probabilists' Hermite polynomials.

Three independent routes:

* ``"fast"`` (float64): adaptive composite Gauss-Legendre panels in z with breakpoints at
  the kinks (``x0 / sqrt(q)``), a refinement on the x-scale ``1/sqrt(q)`` and bisection of
  every panel where a 20-point and a 14-point rule disagree; the stable orthonormal
  recurrence of :func:`hermite_he_orthonormal` inside a numba kernel.  Vectorised over q
  by :func:`hermite_table`.
* ``"precise"`` (mpmath, ``dps`` digits): the same panels, each bisected until a 48-point
  and a 40-point Gauss-Legendre rule at working precision agree; the recurrence runs in
  exact fixed-point integer arithmetic.
* ``"exact"`` (sympy): Stein's identity ``a_k(q) = q^(k/2) E[sigma^(k)(sqrt(q) Z)] / sqrt(k!)``
  with Gaussian-expectation rules for polynomial x exp(quadratic) x erf(linear) terms,
  Heaviside half-lines and Dirac masses.

Examples
--------
>>> import numpy as np
>>> import hermite_dual as hd
>>> e = hd.hermite_coefficients("identity", 3, q=4.0)
>>> np.round(e.coefficients, 12)
array([0., 2., 0., 0.])
>>> abs(e.tail) < 1e-12
True
"""

from __future__ import annotations

import functools
import math
import numbers
from dataclasses import dataclass

import numba
import numpy as np
import sympy as sp

from .activations import Activation, activation, x as _x

__all__ = [
    "HermiteExpansion",
    "hermite_coefficients",
    "hermite_table",
    "hermite_he_orthonormal",
    "square_integrable_limit",
    "describe_expansion",
]

_METHODS = ("fast", "precise", "exact")
_MAX_DEGREE = 400

# fast-path quadrature parameters
_N_MAIN = 20          # Gauss-Legendre nodes per panel (main rule)
_N_CHECK = 14         # nodes of the check rule on the same panel
_PANEL_Z = 1.0        # panel width in z away from the activation's features
_PANEL_X = 1.0        # panel width in x = sqrt(q) z near the origin and the kinks
_X_CORE = 8.0         # |x - kink| (and |x|) below which the x-scale panels are used
_Z_MAX = 40.0         # exp(-z^2/2) underflows beyond this in float64
_ENV_STEP = 0.25
_ENV_REL = 1e-21      # truncate where the integrand envelope is below this * its max
_MAX_ROUNDS = 12
_MIN_WIDTH = 1e-9


# ---------------------------------------------------------------------------
# The orthonormal Hermite recurrence (MATH section 1): one source of truth for h_k
# ---------------------------------------------------------------------------

@numba.njit(cache=True)
def _he_orthonormal_kernel(k_max, z, out):  # pragma: no cover - compiled
    n = z.shape[0]
    for i in range(n):
        zi = z[i]
        h_prev = 1.0
        out[i, 0] = 1.0
        if k_max >= 1:
            h = zi
            out[i, 1] = h
            for k in range(1, k_max):
                h_next = (zi * h - math.sqrt(k) * h_prev) / math.sqrt(k + 1.0)
                out[i, k + 1] = h_next
                h_prev = h
                h = h_next


def hermite_he_orthonormal(k_max, z):
    """Orthonormal probabilists' Hermite polynomials h_0..h_kmax at the points z.

    Parameters
    ----------
    k_max : int
        Highest degree (>= 0).
    z : array_like
        Points (any shape).

    Returns
    -------
    numpy.ndarray
        Shape ``z.shape + (k_max + 1,)``; ``out[..., k] = h_k(z) = He_k(z) / sqrt(k!)``.

    Raises
    ------
    ValueError
        If ``k_max`` is not a non-negative integer or z is not finite.

    Notes
    -----
    Stable three-term recurrence (MATH.md section 1)
    ``h_0 = 1, h_1 = z, h_{k+1} = (z h_k - sqrt(k) h_{k-1}) / sqrt(k+1)``; no factorials
    are formed, so degrees in the hundreds are fine.

    Examples
    --------
    >>> hermite_he_orthonormal(3, [2.0])   # He_3(2)/sqrt(6) = (8 - 6)/sqrt(6)
    array([[1.        , 2.        , 2.12132034, 0.81649658]])
    """
    k_max = _check_degree(k_max, name="k_max")
    zz = np.asarray(z, dtype=np.float64)
    if not np.all(np.isfinite(zz)):
        raise ValueError(f"hermite_he_orthonormal needs finite points, got {z!r}")
    flat = np.ascontiguousarray(zz.reshape(-1))
    out = np.empty((flat.size, k_max + 1), dtype=np.float64)
    _he_orthonormal_kernel(k_max, flat, out)
    return out.reshape(zz.shape + (k_max + 1,))


@numba.njit(cache=True)
def _panel_moments_kernel(k_max, z, fw, out, out_abs):  # pragma: no cover - compiled
    """out[p, k] = sum_j fw[p, j] h_k(z[p, j]); out_abs the same with |.| terms."""
    n_pan, n_nodes = z.shape
    h_prev = np.empty(n_nodes)
    h = np.empty(n_nodes)
    af = np.empty(n_nodes)
    for p in range(n_pan):
        s0 = 0.0
        s0a = 0.0
        s1 = 0.0
        s1a = 0.0
        for j in range(n_nodes):
            f = fw[p, j]
            af[j] = abs(f)
            h_prev[j] = 1.0
            h[j] = z[p, j]
            s0 += f
            s0a += af[j]
            s1 += f * h[j]
            s1a += af[j] * abs(h[j])
        out[p, 0] = s0
        out_abs[p, 0] = s0a
        if k_max >= 1:
            out[p, 1] = s1
            out_abs[p, 1] = s1a
        for k in range(1, k_max):
            a = math.sqrt(k)
            r = 1.0 / math.sqrt(k + 1.0)
            s = 0.0
            sa = 0.0
            for j in range(n_nodes):
                hn = (z[p, j] * h[j] - a * h_prev[j]) * r
                h_prev[j] = h[j]
                h[j] = hn
                s += fw[p, j] * hn
                sa += af[j] * abs(hn)
            out[p, k + 1] = s
            out_abs[p, k + 1] = sa


@numba.njit(cache=True)
def _hmax_kernel(k_max, z, out):  # pragma: no cover - compiled
    """out[i] = max_{k <= k_max} |h_k(z[i])|."""
    for i in range(z.shape[0]):
        zi = z[i]
        h_prev = 1.0
        m = 1.0
        if k_max >= 1:
            h = zi
            m = max(m, abs(h))
            for k in range(1, k_max):
                h_next = (zi * h - math.sqrt(k) * h_prev) / math.sqrt(k + 1.0)
                m = max(m, abs(h_next))
                h_prev = h
                h = h_next
        out[i] = m


# ---------------------------------------------------------------------------
# Validation helpers
# ---------------------------------------------------------------------------

def _check_degree(degree, name="degree"):
    if isinstance(degree, bool) or not isinstance(degree, (numbers.Integral, np.integer)):
        raise ValueError(f"{name} must be a non-negative integer, got {degree!r}")
    if degree < 0 or degree > _MAX_DEGREE:
        raise ValueError(f"{name} must be an integer in [0, {_MAX_DEGREE}], got {degree!r}")
    return int(degree)


def _check_q_float(q):
    if isinstance(q, bool) or isinstance(q, (sp.Basic, str)):
        raise ValueError(f"variance q must be a positive finite real number, got {q!r}")
    try:
        value = float(q)
    except (TypeError, ValueError):
        raise ValueError(f"variance q must be a positive finite real number, got {q!r}") from None
    if not math.isfinite(value) or value <= 0.0:
        raise ValueError(f"variance q must be a positive finite real number, got {q!r}")
    return value


def _check_qs(qs):
    try:
        arr = np.asarray(qs, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"variances qs must be positive finite real numbers, got {qs!r}") from None
    if arr.ndim > 1:
        raise ValueError(f"variances qs must be a scalar or a 1-d array, got shape {arr.shape}")
    arr = np.atleast_1d(arr)
    bad = ~np.isfinite(arr) | (arr <= 0.0)
    if np.any(bad):
        raise ValueError(f"variances qs must be positive finite real numbers, got "
                         f"{arr[bad][0]!r} in {qs!r}")
    return np.ascontiguousarray(arr)


def _check_limit(act, q):
    limit = square_integrable_limit(act)
    if q >= limit:
        raise ValueError(
            f"activation {act.name!r} is not square-integrable at variance q={q!r}: "
            f"sigma(sqrt(q) Z) is in L2 only for q < {limit!r}")


# ---------------------------------------------------------------------------
# Square integrability
# ---------------------------------------------------------------------------

@functools.lru_cache(maxsize=512)
def _growth_rate(expr):
    """g = limsup log|sigma(x)| / x^2 as |x| -> oo (0 for polynomial or exp-linear growth)."""
    import mpmath

    fn = sp.lambdify(_x, expr, modules=["mpmath"])
    rates = []
    with mpmath.workdps(30):
        for side in (1, -1):
            vals = []
            for big in (1e3, 1e4, 1e5):
                try:
                    v = abs(mpmath.mpf(fn(mpmath.mpf(side * big))))
                except (ValueError, ZeroDivisionError, OverflowError, TypeError):
                    v = mpmath.mpf(0)
                vals.append((big, v))
            # two-point slopes of log|sigma| against x^2: exact for exp(g x^2) * poly
            slopes = []
            for (b1, v1), (b2, v2) in zip(vals, vals[1:]):
                if v1 == 0 or v2 == 0:
                    slopes.append(0.0)
                    continue
                slopes.append(float((mpmath.log(v2) - mpmath.log(v1)) / (b2**2 - b1**2)))
            rates.append(slopes[-1])
    g = max(rates)
    if g <= 1e-9:
        return 0.0
    # snap to a simple rational (exp(x**2/3) -> 1/3) when the estimate is that close
    snapped = float(sp.nsimplify(g, tolerance=1e-8, rational=True))
    return snapped if abs(snapped - g) <= 1e-8 * g else g


def square_integrable_limit(act):
    """Supremum of the variances q for which sigma(sqrt(q) Z) is square-integrable.

    Parameters
    ----------
    act : str or sympy.Expr or Activation
        Anything :func:`hermite_dual.activation` accepts.

    Returns
    -------
    float
        ``inf`` for bounded, polynomial or ``exp(linear)`` growth; ``1/(4 g)`` for growth
        like ``exp(g x^2)`` (``E[exp(2 g q Z^2)] < inf`` iff ``q < 1/(4 g)``).

    Notes
    -----
    ``g = lim log|sigma(x)| / x^2`` is measured from the slope of ``log|sigma|`` against
    ``x^2`` between ``|x| = 10^4`` and ``10^5`` (in mpmath, both signs), which is exact
    for ``poly(x) exp(g x^2 + b x)`` up to ``O(10^-8)`` and snapped to a nearby simple
    rational.

    Examples
    --------
    >>> square_integrable_limit("tanh")
    inf
    >>> square_integrable_limit("exp(x**2)")
    0.25
    >>> square_integrable_limit("x**3*exp(x**2/2)")
    0.5
    """
    act = activation(act)
    g = _growth_rate(act.expr)
    return math.inf if g == 0.0 else 1.0 / (4.0 * g)


# ---------------------------------------------------------------------------
# Fast path: adaptive Gauss-Legendre panels, vectorised over q
# ---------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _gl(n):
    t, w = np.polynomial.legendre.leggauss(n)
    return t, w


def _phi(z):
    return np.exp(-0.5 * z * z) * (1.0 / math.sqrt(2.0 * math.pi))


def _eval_sigma(act, xs):
    vals = act(xs)
    return vals


def _initial_panels(q, zlo, zhi, kinks):
    """Breakpoints in z for one variance: z-grid, x-scale grid near the features, kinks."""
    sq = math.sqrt(q)
    pts = [np.arange(math.ceil(zlo / _PANEL_Z), math.floor(zhi / _PANEL_Z) + 1) * _PANEL_Z]
    dz = _PANEL_X / sq
    if dz < _PANEL_Z:
        centres = [0.0, *kinks]
        for c in centres:
            lo = (c - _X_CORE) / sq
            hi = (c + _X_CORE) / sq
            lo, hi = max(lo, zlo), min(hi, zhi)
            if hi > lo:
                pts.append(np.arange(math.ceil(lo / dz), math.floor(hi / dz) + 1) * dz)
    kz = np.asarray([k / sq for k in kinks if zlo < k / sq < zhi], dtype=np.float64)
    bp = np.unique(np.concatenate([*pts, [zlo, zhi]]))
    bp = bp[(bp >= zlo) & (bp <= zhi)]
    if kz.size:
        # keep kinks exact: drop grid points that would make slivers next to them
        near = np.min(np.abs(bp[:, None] - kz[None, :]), axis=1) < 1e-6 * max(1.0, dz)
        bp = np.unique(np.concatenate([bp[~near], kz]))
    return bp


def _domains(act, qs, degree):
    """Per variance, the z-interval outside which the integrand is negligible."""
    zg = np.arange(-_Z_MAX, _Z_MAX + 0.5 * _ENV_STEP, _ENV_STEP)
    hmax = np.empty(zg.size)
    _hmax_kernel(degree, zg, hmax)
    xs = np.sqrt(qs)[:, None] * zg[None, :]
    sig = np.abs(_eval_sigma(act, xs))
    base = hmax * _phi(zg)
    with np.errstate(invalid="ignore", over="ignore"):
        env = np.where(base[None, :] > 0.0, sig * base[None, :], 0.0)
    bad = ~np.isfinite(env)
    if np.any(bad):
        i, j = np.argwhere(bad)[0]
        raise ValueError(f"activation {act.name!r} is not finite at x={xs[i, j]!r} "
                         f"(variance q={qs[i]!r}); its Gaussian integrals are undefined")
    out = np.empty((qs.size, 2))
    scale = np.empty(qs.size)
    root_phi = np.sqrt(_phi(zg))
    for i in range(qs.size):
        e = env[i]
        m = e.max()
        # rough nu(q) for the tolerance scale (trapezoid on the coarse grid)
        scale[i] = math.sqrt(max(1.0, float(np.sum((sig[i] * root_phi) ** 2) * _ENV_STEP)))
        if m == 0.0:
            out[i] = (-1.0, 1.0)
            continue
        idx = np.nonzero(e > _ENV_REL * m)[0]
        out[i] = (max(zg[idx[0]] - _ENV_STEP, -_Z_MAX), min(zg[idx[-1]] + _ENV_STEP, _Z_MAX))
    return out, scale


def _fast_table(act, qs, degree, rel_tol=2e-16):
    """Adaptive panel quadrature; returns A, nu, err (per coefficient), nu_err, panels."""
    qs = np.asarray(qs, dtype=np.float64)
    nq = qs.size
    kinks = [float(k) for k in act.kinks]
    dom, scale = _domains(act, qs, degree)
    a_list, b_list, qi_list = [], [], []
    for i in range(nq):
        bp = _initial_panels(float(qs[i]), dom[i, 0], dom[i, 1], kinks)
        a_list.append(bp[:-1])
        b_list.append(bp[1:])
        qi_list.append(np.full(bp.size - 1, i, dtype=np.int64))
    a = np.concatenate(a_list)
    b = np.concatenate(b_list)
    qi = np.concatenate(qi_list)
    sqq = np.sqrt(qs)
    A = np.zeros((nq, degree + 1))
    E = np.zeros((nq, degree + 1))
    NU = np.zeros(nq)
    NU_E = np.zeros(nq)
    tm, wm = _gl(_N_MAIN)
    tc, wc = _gl(_N_CHECK)
    eps = np.finfo(float).eps
    accepted = []
    for rnd in range(_MAX_ROUNDS + 1):
        if a.size == 0:
            break
        mid = 0.5 * (a + b)
        half = 0.5 * (b - a)
        zm = mid[:, None] + half[:, None] * tm[None, :]
        zc = mid[:, None] + half[:, None] * tc[None, :]
        sm = _eval_sigma(act, sqq[qi][:, None] * zm)
        sc = _eval_sigma(act, sqq[qi][:, None] * zc)
        if not (np.all(np.isfinite(sm)) and np.all(np.isfinite(sc))):
            bad = np.argwhere(~np.isfinite(sm))
            j = tuple(bad[0]) if bad.size else None
            where = f" at x={float(sqq[qi][j[0]] * zm[j])!r}" if j else ""
            raise ValueError(f"activation {act.name!r} is not finite{where}; its Gaussian "
                             "integrals are undefined")
        fwm = sm * _phi(zm) * (half[:, None] * wm[None, :])
        fwc = sc * _phi(zc) * (half[:, None] * wc[None, :])
        Mm = np.empty((a.size, degree + 1))
        Mabs = np.empty((a.size, degree + 1))
        Mc = np.empty((a.size, degree + 1))
        Mcabs = np.empty((a.size, degree + 1))
        _panel_moments_kernel(degree, np.ascontiguousarray(zm), np.ascontiguousarray(fwm), Mm, Mabs)
        _panel_moments_kernel(degree, np.ascontiguousarray(zc), np.ascontiguousarray(fwc), Mc, Mcabs)
        num = np.sum(sm * fwm, axis=1)
        nuc = np.sum(sc * fwc, axis=1)
        nuabs = np.sum(np.abs(sm * fwm), axis=1)
        diff = np.abs(Mm - Mc)
        nudiff = np.abs(num - nuc)
        tol = rel_tol * scale[qi]
        floor = 16 * eps * Mabs
        ok = np.all(diff <= np.maximum(tol[:, None], floor), axis=1)
        ok &= nudiff <= np.maximum(tol * scale[qi], 16 * eps * nuabs)
        if rnd == _MAX_ROUNDS:
            ok[:] = True
        ok |= (b - a) <= _MIN_WIDTH
        if np.any(ok):
            np.add.at(A, qi[ok], Mm[ok])
            np.add.at(E, qi[ok], np.maximum(diff[ok], 4 * eps * Mabs[ok]))
            np.add.at(NU, qi[ok], num[ok])
            np.add.at(NU_E, qi[ok], np.maximum(nudiff[ok], 4 * eps * nuabs[ok]))
            accepted.append(np.stack([a[ok], b[ok], qi[ok].astype(float)], axis=1))
        bad = ~ok
        a, b, qi = a[bad], b[bad], qi[bad]
        m = 0.5 * (a + b)
        a, b, qi = np.concatenate([a, m]), np.concatenate([m, b]), np.concatenate([qi, qi])
    panels = np.concatenate(accepted) if accepted else np.zeros((0, 3))
    return A, NU, E, NU_E, panels


def hermite_table(act, degree, qs):
    """Hermite coefficient table a_k(q_i), k = 0..degree, for many variances at once (float64).

    Parameters
    ----------
    act : str or sympy.Expr or Activation
        Anything :func:`hermite_dual.activation` accepts.
    degree : int
        Highest Hermite degree R (``0 <= R <= 400``).
    qs : array_like
        Positive finite variances, scalar or 1-d.

    Returns
    -------
    A : numpy.ndarray, shape (len(qs), degree + 1)
        ``A[i, k] = a_k(qs[i])``.
    nu : numpy.ndarray, shape (len(qs),)
        ``nu(qs[i]) = E[sigma(sqrt(q) Z)^2]``, integrated directly (not from the a_k).
    err : numpy.ndarray, shape (len(qs), degree + 1)
        Error **estimate** of each ``A[i, k]`` (not a bound): the sum over panels of the
        difference between the 20-point rule used and a 14-point check rule, floored at
        a few ulps of the absolute integrand; it overestimates the actual error of the
        20-point result on every panel where the check rule has converged.

    Raises
    ------
    ValueError
        Bad degree, non-positive/NaN/inf q, q at or beyond :func:`square_integrable_limit`,
        an activation that is not finite on the integration domain.

    Notes
    -----
    ``a_k(q) = int sigma(sqrt(q) z) h_k(z) phi(z) dz`` on composite Gauss-Legendre panels:
    unit panels in z, panels of width ``1/sqrt(q)`` (one unit in x) for ``|x - c| <= 8``
    around the origin and every kink c, breakpoints exactly at the kinks ``c/sqrt(q)``,
    truncation where ``|sigma| phi max_k |h_k|`` drops below ``1e-21`` of its maximum, and
    bisection of every panel whose 20- and 14-point results differ by more than
    ``2e-16 max(1, sqrt(nu))``.  All variances are processed together in each round.

    Examples
    --------
    >>> import numpy as np
    >>> A, nu, err = hermite_table("sin", 3, [0.5, 2.0])
    >>> q = np.array([0.5, 2.0])
    >>> np.allclose(A[:, 1], np.exp(-q / 2) * np.sqrt(q), atol=1e-15)   # MATH section 2
    True
    >>> np.allclose(nu, (1 - np.exp(-2 * q)) / 2, atol=1e-15)          # E[sin^2]
    True
    """
    act = activation(act)
    degree = _check_degree(degree)
    qarr = _check_qs(qs)
    limit = square_integrable_limit(act)
    if np.any(qarr >= limit):
        bad = qarr[qarr >= limit][0]
        raise ValueError(
            f"activation {act.name!r} is not square-integrable at variance q={float(bad)!r}: "
            f"sigma(sqrt(q) Z) is in L2 only for q < {limit!r}")
    A, nu, err, _, _ = _fast_table(act, qarr, degree)
    return A, nu, err


# ---------------------------------------------------------------------------
# The result object and the public entry point
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class HermiteExpansion:
    """Hermite coefficients a_0..a_R of an activation at a variance q.

    Attributes
    ----------
    activation : Activation
    q : float or sympy.Expr
        The variance (a positive sympy Symbol allowed for ``method="exact"``).
    method : str
        ``"fast"``, ``"precise"`` or ``"exact"``.
    coefficients : numpy.ndarray or tuple
        a_0..a_R: float64 array (fast), tuple of ``mpmath.mpf`` (precise), tuple of
        sympy expressions (exact).
    norm2 : float or mpf or sympy.Expr
        nu(q) = E[sigma(sqrt(q) Z)^2], integrated directly, independent of the a_k.
    tail : float or mpf or sympy.Expr
        T_R(q) = nu(q) - sum_{k<=R} a_k(q)^2.
    abs_error : float or mpf
        Error estimate (fast, precise: not a bound) of max_k |a_k - computed a_k|;
        ``0`` for exact.
    tail_error : float or mpf
        Error estimate of ``tail`` (from the errors of nu and of the a_k).
    errors : tuple or numpy.ndarray
        Per-coefficient error estimates.
    """

    activation: Activation
    q: object
    method: str
    coefficients: object
    norm2: object
    tail: object
    abs_error: object
    tail_error: object
    errors: object

    @property
    def degree(self):
        """Highest degree R."""
        return len(self.coefficients) - 1


def _fast_expansion(act, degree, q):
    A, nu, err, nu_err, _ = _fast_table(act, np.array([q]), degree)
    a = A[0]
    tail = float(nu[0] - np.dot(a, a))
    tail_err = float(nu_err[0] + 2.0 * np.dot(np.abs(a), err[0]) + np.dot(err[0], err[0]))
    tail_err += 4 * np.finfo(float).eps * float(nu[0])
    return HermiteExpansion(activation=act, q=q, method="fast", coefficients=a,
                            norm2=float(nu[0]), tail=tail, abs_error=float(err[0].max()),
                            tail_error=tail_err, errors=err[0])


def hermite_coefficients(act, degree, q=1.0, *, method="fast", dps=30):
    """Hermite coefficients a_0..a_degree of sigma at variance q (MATH.md section 2).

    Parameters
    ----------
    act : str or sympy.Expr or Activation
        Anything :func:`hermite_dual.activation` accepts.
    degree : int
        Highest degree R, ``0 <= R <= 400``.
    q : float, or positive sympy Symbol / expression for ``method="exact"``
        The variance, ``0 < q < square_integrable_limit(act)``.
    method : {"fast", "precise", "exact"}
        float64 adaptive quadrature; mpmath quadrature at ``dps`` digits; sympy closed
        forms through Stein's identity.
    dps : int
        Decimal digits for ``"precise"`` (``>= 15``).

    Returns
    -------
    HermiteExpansion

    Raises
    ------
    ValueError
        Bad degree, q, method or dps; an activation that is not square-integrable at q;
        for ``"exact"``, no closed form found within the time budget.

    Examples
    --------
    ReLU at q = 1: ``a_0 = 1/sqrt(2 pi)``, ``a_1 = 1/2``, ``nu = 1/2``.

    >>> import numpy as np
    >>> e = hermite_coefficients("relu", 2, 1.0)
    >>> np.allclose(e.coefficients[:2], [1 / np.sqrt(2 * np.pi), 0.5], atol=1e-15)
    True
    >>> abs(e.norm2 - 0.5) < 1e-15
    True
    """
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    act = activation(act)
    degree = _check_degree(degree)
    if method == "fast":
        qf = _check_q_float(q)
        _check_limit(act, qf)
        return _fast_expansion(act, degree, qf)
    raise ValueError(f"method {method!r} is not available yet")


def describe_expansion(act, degree, q=1.0, method="fast", dps=30):
    """A JSON-able summary of :func:`hermite_coefficients` (for ``hermite-dual derive``).

    Returns
    -------
    dict
        Keys ``name``, ``expr``, ``q``, ``method``, ``degree``, ``coefficients`` (floats
        for fast, decimal strings for precise, sympy strings for exact), ``latex`` (exact
        only, else None), ``norm2``, ``tail``, ``abs_error``, ``error_kind``.

    Examples
    --------
    >>> d = describe_expansion("identity", 1, 2.0)
    >>> d["name"], round(d["coefficients"][1] ** 2, 12)
    ('identity', 2.0)
    """
    e = hermite_coefficients(act, degree, q, method=method, dps=dps)
    return _describe(e)


def _describe(e):
    if e.method == "fast":
        coeffs = [float(c) for c in e.coefficients]
        latex = None
        conv = float
    elif e.method == "precise":
        import mpmath
        coeffs = [mpmath.nstr(c, mpmath.mp.dps if False else 50) for c in e.coefficients]
        latex = None
        conv = lambda v: mpmath.nstr(v, 20)  # noqa: E731
    else:
        coeffs = [sp.sstr(c) for c in e.coefficients]
        latex = [sp.latex(c) for c in e.coefficients]
        conv = lambda v: sp.sstr(v) if isinstance(v, sp.Basic) else float(v)  # noqa: E731
    return {
        "name": e.activation.name,
        "expr": sp.sstr(e.activation.expr),
        "q": sp.sstr(e.q) if isinstance(e.q, sp.Basic) else float(e.q),
        "method": e.method,
        "degree": e.degree,
        "coefficients": coeffs,
        "latex": latex,
        "norm2": conv(e.norm2),
        "tail": conv(e.tail),
        "abs_error": float(e.abs_error),
        "error_kind": "exact" if e.method == "exact" else "estimate",
    }
