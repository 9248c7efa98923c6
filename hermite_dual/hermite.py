"""Hermite coefficients a_k(q) of an activation at a variance q (MATH §1-§2).

    a_k(q) = E[ sigma(sqrt(q) Z) h_k(Z) ],   nu(q) = E[ sigma(sqrt(q) Z)^2 ],
    T_R(q) = nu(q) - sum_{k<=R} a_k(q)^2,

with ``h_k = He_k / sqrt(k!)`` the orthonormal probabilists' Hermite polynomials.

Three independent routes:

* ``"fast"`` (float64): adaptive composite Gauss-Legendre panels in z with breakpoints at
  the kinks (``x0 / sqrt(q)``), a refinement on the x-scale ``1/sqrt(q)`` and bisection of
  every panel where a 20-point and a 14-point rule disagree; the stable orthonormal
  recurrence of :func:`hermite_he_orthonormal` inside a numba kernel.  Vectorised over q
  by :func:`hermite_table`.
* ``"precise"`` (mpmath, ``dps`` digits): the fast path's panels, widened to where the
  integrand is below ``10^-(dps+10)``, with breakpoints at the kinks in full precision,
  each bisected until a 48-point and a 40-point Gauss-Legendre rule at working precision
  agree to ``10^-(dps+3) max(1, sqrt(nu))``; the recurrence runs in fixed-point integer
  arithmetic with guard bits for the size of h_k.
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

from ._util.deadline import WorkBudgetExceeded, from_seconds
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
_MAX_DEGREE = 1200

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
    Stable three-term recurrence (MATH §1)
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
def _scatter_add_kernel(rows, values, out):  # pragma: no cover - compiled
    """out[rows[p], :] += values[p, :] (np.add.at without its overhead)."""
    for p in range(rows.shape[0]):
        r = rows[p]
        for k in range(values.shape[1]):
            out[r, k] += values[p, k]


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
    if isinstance(q, bool) or isinstance(q, str) or (
            isinstance(q, sp.Basic) and not (q.is_number and q.is_real)):
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
            # fit log|sigma| = g x^2 + b x + c through three points: exact for
            # exp(g x^2 + b x + c), off by O(n log(x) / x^2) for an extra factor x^n
            if any(v == 0 for _, v in vals):
                rates.append(0.0)
                continue
            xs = [mpmath.mpf(side * b_) for b_, _ in vals]
            ys = [mpmath.log(v) for _, v in vals]
            d1 = (ys[1] - ys[0]) / (xs[1] - xs[0])
            d2 = (ys[2] - ys[1]) / (xs[2] - xs[1])
            rates.append(float((d2 - d1) / (xs[2] - xs[0])))
    g = max(rates)
    if g <= 1e-7:
        return 0.0
    # snap to a simple rational (exp(x**2/3) -> 1/3) when the estimate is that close
    from fractions import Fraction
    snapped = float(Fraction(g).limit_denominator(1000))
    return snapped if abs(snapped - g) <= 1e-6 * g else g


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
    ``g = lim log|sigma(x)| / x^2`` is measured by fitting ``g x^2 + b x + c`` to
    ``log|sigma|`` at ``|x| = 10^3, 10^4, 10^5`` (in mpmath, both signs), which is exact
    for ``exp(g x^2 + b x + c)`` and off by ``O(10^-8)`` for an extra polynomial factor;
    ``g <= 1e-7`` counts as no Gaussian growth, and g is snapped to a nearby simple
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
        # |sigma| max_k |h_k| phi bounds the a_k integrands, sigma^2 phi the nu integrand;
        # errors are measured against max(1, sqrt(nu)) and max(1, nu) respectively
        nu_est = np.sum((sig * np.sqrt(_phi(zg))[None, :]) ** 2, axis=1) * _ENV_STEP
        sc = np.sqrt(np.maximum(1.0, nu_est))[:, None]
        env = np.where(base[None, :] > 0.0,
                       np.maximum(sig * base[None, :] / sc,
                                  (sig * np.sqrt(_phi(zg)) / sc) ** 2), 0.0)
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
        idx = np.nonzero(e > _ENV_REL * min(m, 1.0))[0]
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
            rows = np.ascontiguousarray(qi[ok])
            _scatter_add_kernel(rows, np.ascontiguousarray(Mm[ok]), A)
            _scatter_add_kernel(rows, np.maximum(diff[ok], 4 * eps * Mabs[ok]), E)
            NU += np.bincount(rows, weights=num[ok], minlength=nq)
            NU_E += np.bincount(rows, weights=np.maximum(nudiff[ok], 4 * eps * nuabs[ok]),
                                minlength=nq)
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
        Highest Hermite degree R (``0 <= R <= 1200``).
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
# Precise path: mpmath panels, fixed-point integer recurrence
# ---------------------------------------------------------------------------

_P_MAIN = 48
_P_CHECK = 40
_P_ROUNDS = 10


@functools.lru_cache(maxsize=32)
def _gl_mp(n, prec):
    """Gauss-Legendre nodes/weights on [-1, 1] at ``prec`` bits (Newton from float64)."""
    import mpmath

    t0, _ = _gl(n)
    nodes, weights = [], []
    with mpmath.workprec(prec + 20):
        for guess in t0:
            t = mpmath.mpf(float(guess))
            for _ in range(100):
                p0, p1 = mpmath.mpf(1), t
                for k in range(2, n + 1):
                    p0, p1 = p1, ((2 * k - 1) * t * p1 - (k - 1) * p0) / k
                dp = n * (t * p1 - p0) / (t * t - 1)
                step = p1 / dp
                t -= step
                if abs(step) < mpmath.ldexp(1, -(prec + 10)):
                    break
            p0, p1 = mpmath.mpf(1), t
            for k in range(2, n + 1):
                p0, p1 = p1, ((2 * k - 1) * t * p1 - (k - 1) * p0) / k
            dp = n * (t * p1 - p0) / (t * t - 1)
            nodes.append(+t)
            weights.append(2 / ((1 - t * t) * dp * dp))
    return tuple(nodes), tuple(weights)


def _heaviside_mp(v, h0=None):
    import mpmath
    if v > 0:
        return mpmath.mpf(1)
    if v < 0:
        return mpmath.mpf(0)
    return mpmath.mpf(0.5) if h0 is None else mpmath.mpf(h0)


@functools.lru_cache(maxsize=256)
def _mp_callable(expr):
    return sp.lambdify(_x, expr, modules=[{"Heaviside": _heaviside_mp}, "mpmath"])


@functools.lru_cache(maxsize=None)
def _fixed_constants(k_max, prec):
    import mpmath
    with mpmath.workprec(prec + 20):
        s = [int(mpmath.ldexp(mpmath.sqrt(k), prec)) for k in range(k_max + 1)]
        r = [int(mpmath.ldexp(1 / mpmath.sqrt(k + 1), prec)) for k in range(k_max + 1)]
    return s, r


def _fixed_moments(k_max, zs, fs, prec):
    """sum_j f_j h_k(z_j), k = 0..k_max, in fixed point.

    ``zs`` are Python ints ``z * 2^prec``, ``fs`` ints ``f * 2^fprec`` (any fprec);
    returns ints at scale ``2^(prec + fprec)``.  ``h_k`` is carried with ``prec``
    fractional bits; choose ``fprec >= prec + log2 max|h_k|`` so that ``f h_k`` keeps an
    absolute error below ``2^-prec``.
    """
    s, r = _fixed_constants(k_max, prec)
    one = 1 << prec
    acc = [0] * (k_max + 1)
    for zi, fi in zip(zs, fs):
        if fi == 0:
            continue
        acc[0] += fi * one
        if k_max == 0:
            continue
        hp, h = one, zi
        acc[1] += fi * h
        for k in range(1, k_max):
            hp, h = h, (((zi * h - s[k] * hp) >> prec) * r[k]) >> prec
            acc[k + 1] += fi * h
    return acc


def _precise_domain(act, q, degree, dps):
    """z-interval outside which the integrand is below 10^-(dps+10) of its peak (mpmath)."""
    import mpmath

    fn = _mp_callable(act.expr)
    zg = np.arange(-80.0, 80.0 + 0.25, 0.5)
    hmax = np.empty(zg.size)
    _hmax_kernel(degree, zg, hmax)
    sq = mpmath.sqrt(q)
    with np.errstate(all="ignore"):
        vals = np.abs(act(float(sq) * zg))
        logv = np.log(vals)
    for i in np.nonzero(~np.isfinite(vals) | (vals > 1e300))[0]:   # overflow: use mpmath
        v = abs(fn(sq * mpmath.mpf(zg[i])))
        logv[i] = -np.inf if v == 0 else float(mpmath.log(v))
    # envelopes of the a_k integrands (against sqrt(nu)) and of the nu integrand (against nu)
    lognu = np.logaddexp.reduce(2 * logv - 0.5 * zg * zg) + math.log(0.5 / math.sqrt(2 * math.pi))
    half_lognu = 0.5 * max(0.0, lognu)
    logs = np.maximum(logv + np.log(hmax) - half_lognu, 2 * (logv - half_lognu)) - 0.5 * zg * zg
    if not np.any(np.isfinite(logs)):
        return -1.0, 1.0
    top = min(np.max(logs), 0.0)
    idx = np.nonzero(logs > top - (dps + 10) * math.log(10.0))[0]
    return zg[max(idx[0] - 1, 0)], zg[min(idx[-1] + 1, zg.size - 1)]


def _precise_compute(act, degree, q, dps):
    import mpmath

    qf = float(q)
    fn = _mp_callable(act.expr)
    with mpmath.workdps(dps):
        prec = mpmath.mp.prec + 40
    with mpmath.workprec(prec):
        q = mpmath.mpf(q)
        sq = mpmath.sqrt(q)
        kinks_mp = [mpmath.mpf(sp.N(k, dps + 20)) / sq for k in act.kinks]
        _, _, _, _, panels = _fast_table(act, np.array([qf]), degree)
        bp = sorted(set(panels[:, 0]).union(panels[:, 1]))
        zlo, zhi = _precise_domain(act, q, degree, dps)
        lo_ext = list(np.arange(math.floor(zlo), bp[0], 1.0)) if zlo < bp[0] else []
        hi_ext = list(np.arange(bp[-1] + 1.0, math.ceil(zhi) + 0.5, 1.0)) if zhi > bp[-1] else []
        pts = [mpmath.mpf(float(v)) for v in [*lo_ext, *bp, *hi_ext]]
        kf = [float(k) for k in kinks_mp]
        for i, v in enumerate(pts):           # breakpoints at kinks: exact, not float64
            for kfl, kmp in zip(kf, kinks_mp):
                if abs(float(v) - kfl) <= 1e-12 * max(1.0, abs(kfl)):
                    pts[i] = kmp
        pts = sorted(set(pts))
        todo = list(zip(pts[:-1], pts[1:]))
        tm, wm = _gl_mp(_P_MAIN, prec)
        tc, wc = _gl_mp(_P_CHECK, prec)
        inv_sqrt_2pi = 1 / mpmath.sqrt(2 * mpmath.pi)
        scale = None
        total = [0] * (degree + 1)
        err = [mpmath.mpf(0)] * (degree + 1)
        nu = mpmath.mpf(0)
        nu_err = mpmath.mpf(0)
        # f_j carries extra bits to cover the size of h_k(z_j) on the whole domain
        zmax = max(abs(float(pts[0])), abs(float(pts[-1])))
        hm = np.empty(1)
        _hmax_kernel(degree, np.array([zmax + 1.0]), hm)
        fprec = prec + max(0, int(math.ceil(math.log2(hm[0]))))
        ulp_fixed = mpmath.ldexp(1, -(prec + fprec))

        def rule(a, b, t, w):
            mid = (a + b) / 2
            half = (b - a) / 2
            zs, fs, nu_terms = [], [], []
            for tj, wj in zip(t, w):
                z = mid + half * tj
                s = fn(sq * z)
                s = mpmath.mpf(s)
                fw = s * mpmath.exp(-z * z / 2) * inv_sqrt_2pi * half * wj
                zs.append(int(mpmath.ldexp(z, prec)))
                fs.append(int(mpmath.ldexp(fw, fprec)))
                nu_terms.append(s * fw)
            return _fixed_moments(degree, zs, fs, prec), mpmath.fsum(nu_terms)

        for rnd in range(_P_ROUNDS + 1):
            nxt = []
            results = []
            for a, b in todo:
                mm, num = rule(a, b, tm, wm)
                mc, nuc = rule(a, b, tc, wc)
                results.append((a, b, mm, num, mc, nuc))
            if scale is None:
                nu0 = mpmath.fsum(r[3] for r in results)
                scale = max(mpmath.mpf(1), mpmath.sqrt(abs(nu0)))
                tol = mpmath.ldexp(scale, 0) * mpmath.mpf(10) ** (-(dps + 3))
            for a, b, mm, num, mc, nuc in results:
                diffs = [abs(u - v) for u, v in zip(mm, mc)]
                dmax = max(diffs) * ulp_fixed
                dnu = abs(num - nuc)
                if (dmax <= tol and dnu <= tol * scale) or rnd == _P_ROUNDS or b - a < 1e-12:
                    total = [t_ + u for t_, u in zip(total, mm)]
                    err = [e + d * ulp_fixed for e, d in zip(err, diffs)]
                    nu += num
                    nu_err += dnu
                else:
                    m = (a + b) / 2
                    nxt.extend([(a, m), (m, b)])
            todo = nxt
            if not todo:
                break
        coeffs = [mpmath.ldexp(mpmath.mpf(t_), -(prec + fprec)) for t_ in total]
        floor = mpmath.ldexp(1, -(prec - 24)) * scale
        err = [max(e, floor) for e in err]
        nu_err = max(nu_err, floor * scale)
    with mpmath.workdps(dps):
        coeffs = tuple(+c for c in coeffs)
        nu = +nu
        tail = nu - mpmath.fsum(c * c for c in coeffs)
        tail_err = nu_err + mpmath.fsum(2 * abs(c) * e + e * e for c, e in zip(coeffs, err))
        tail_err += mpmath.mpf(10) ** (-dps) * max(1, abs(nu))
        err = tuple(+e for e in err)
    return coeffs, nu, tail, err, tail_err


def _check_dps(dps):
    if isinstance(dps, bool) or not isinstance(dps, (numbers.Integral, np.integer)) \
            or not 15 <= dps <= 1000:
        raise ValueError(f"dps must be an integer in [15, 1000], got {dps!r}")
    return int(dps)


def _check_q_precise(q):
    """A positive finite real q as an exact mpmath-convertible value (float, int, Rational)."""
    if isinstance(q, sp.Basic):
        if not (q.is_number and q.is_real and q.is_positive and q.is_finite):
            raise ValueError(f"variance q must be a positive finite real number, got {q!r}")
        return q
    _check_q_float(q)
    return q


def _precise_expansion(act, degree, q, dps):
    import mpmath

    qnum = _check_q_precise(q)
    qf = float(qnum)
    _check_limit(act, qf)
    with mpmath.workdps(dps + 20):
        if isinstance(qnum, sp.Basic):
            qmp = mpmath.mpf(sp.N(qnum, dps + 20))
        elif isinstance(qnum, (float, np.floating)):
            qmp = mpmath.mpf(repr(float(qnum)))   # the decimal the user wrote: 0.7 is 7/10
        else:
            qmp = mpmath.mpf(qnum)
    coeffs, nu, tail, err, tail_err = _precise_compute(act, degree, qmp, dps)
    return HermiteExpansion(activation=act, q=qnum, method="precise", coefficients=coeffs,
                            norm2=nu, tail=tail, abs_error=max(err), tail_error=tail_err,
                            errors=err, dps=dps)


# ---------------------------------------------------------------------------
# Exact path: Stein's identity with structured Gaussian-expectation rules
# ---------------------------------------------------------------------------
#
# An expression is held as a dict  key -> polynomial  meaning
#     sum_key  p_key(x) * exp(A x^2 + B x + C) * F(x),
# key = (A, B, C, F) with F one of
#     ("1",)                    1
#     ("erf", l, e)             erf(l x + e)
#     ("H", al, be)             Heaviside(al x + be)   (indicator of al x + be > 0)
#     ("D", al, be, j)          DiracDelta^(j)(al x + be)
# and a polynomial a dict  n -> sympy coefficient.  Differentiation acts structurally
# (no expression swell), and E[.] under N(0, q) has closed forms for every key.

_EXACT_BUDGET = 5.0


class _NoClosedForm(Exception):
    """Raised inside the exact engine when a term has no rule."""


def _poly_add(p, r, c=1):
    out = dict(p)
    for n, v in r.items():
        out[n] = sp.expand(out.get(n, 0) + c * v)
        if out[n] == 0:
            del out[n]
    return out


def _poly_deriv(p):
    return {n - 1: n * v for n, v in p.items() if n > 0}


def _poly_mul_linear(p, a2, b):
    """p(x) * (a2 x + b)."""
    out = {}
    for n, v in p.items():
        if a2 != 0:
            out[n + 1] = out.get(n + 1, 0) + a2 * v
        if b != 0:
            out[n] = out.get(n, 0) + b * v
    return {n: sp.expand(v) for n, v in out.items() if sp.expand(v) != 0}


def _linear(arg):
    """(l, e) with arg = l x + e, or raise."""
    poly = sp.Poly(arg, _x) if arg.is_polynomial(_x) else None
    if poly is None or poly.degree() != 1:
        raise _NoClosedForm(f"argument {arg} is not linear in x")
    l, e = sp.expand(arg).coeff(_x, 1), sp.expand(arg).coeff(_x, 0)
    return sp.nsimplify(l) if l.is_Float else l, sp.nsimplify(e) if e.is_Float else e


def _piecewise_to_heaviside(expr):
    """Piecewise((e1, c1), ..., (en, True)) -> sums of Heaviside products (a.e. equal)."""
    def conv(pw):
        rest = sp.Integer(0)
        for e, c in reversed(pw.args):
            if c is sp.true:
                rest = e
                continue
            if not isinstance(c, (sp.StrictGreaterThan, sp.GreaterThan,
                                  sp.StrictLessThan, sp.LessThan)):
                raise _NoClosedForm(f"Piecewise condition {c}")
            g = c.lhs - c.rhs if isinstance(c, (sp.StrictGreaterThan, sp.GreaterThan)) \
                else c.rhs - c.lhs
            h = sp.Heaviside(g)
            rest = e * h + rest * (1 - h)
        return rest
    return expr.replace(lambda e: isinstance(e, sp.Piecewise), conv)


def _to_structured(expr):
    """Decompose sigma into the structured dict, or raise _NoClosedForm."""
    e = expr
    if e.has(sp.Piecewise):
        e = _piecewise_to_heaviside(e)
    e = e.rewrite(sp.Heaviside) if e.has(sp.Max, sp.Min, sp.Abs, sp.sign) else e
    e = e.replace(lambda t: isinstance(t, sp.Heaviside), lambda t: sp.Heaviside(t.args[0]))
    e = e.rewrite(sp.exp) if e.has(sp.sin, sp.cos, sp.sinh, sp.cosh) else e
    e = sp.expand(sp.powsimp(sp.expand(e)))
    out = {}
    for term in sp.Add.make_args(e):
        coeff = sp.Integer(1)
        n = 0
        ex = sp.Integer(0)
        special = None
        for f in sp.Mul.make_args(term):
            if not f.has(_x):
                coeff *= f
            elif f == _x:
                n += 1
            elif f.is_Pow and f.base == _x and f.exp.is_Integer and f.exp > 0:
                n += int(f.exp)
            elif isinstance(f, sp.exp) or (f.is_Pow and f.base is sp.E):
                ex += f.exp if f.is_Pow else f.args[0]
            elif f.is_Pow and isinstance(f.base, sp.exp) and f.exp.is_Integer:
                ex += f.exp * f.base.args[0]
            elif isinstance(f, sp.erf) and special is None:
                special = ("erf", *_linear(f.args[0]))
            elif isinstance(f, sp.Heaviside) or (f.is_Pow and isinstance(f.base, sp.Heaviside)
                                                 and f.exp.is_Integer and f.exp > 0):
                h = f if isinstance(f, sp.Heaviside) else f.base
                new = ("H", *_linear(h.args[0]))
                if special is not None and special != new:
                    if special[0] != "H" or sp.simplify(special[2] / special[1]
                                                        - new[2] / new[1]) != 0:
                        raise _NoClosedForm(f"product {term}")
                    if sp.sign(special[1]) != sp.sign(new[1]):
                        coeff = sp.Integer(0)      # disjoint half-lines: zero a.e.
                    continue
                special = new
            else:
                raise _NoClosedForm(f"factor {f}")
        ex = sp.expand(ex)
        if not ex.is_polynomial(_x) or sp.Poly(ex, _x).degree() > 2:
            raise _NoClosedForm(f"exponent {ex}")
        if coeff == 0:
            continue
        key = (ex.coeff(_x, 2), ex.coeff(_x, 1), ex.coeff(_x, 0), special or ("1",))
        out[key] = _poly_add(out.get(key, {}), {n: coeff})
    return {k: v for k, v in out.items() if v}


def _struct_diff(expr_dict):
    """d/dx of the structured expression (distributional: H' = delta)."""
    out = {}

    def add(key, poly):
        if poly:
            out[key] = _poly_add(out.get(key, {}), poly)

    for key, p in expr_dict.items():
        A, B, C, F = key
        add(key, _poly_add(_poly_deriv(p), _poly_mul_linear(p, 2 * A, B)))
        if F[0] == "erf":
            _, l, e = F
            fac = 2 * l / sp.sqrt(sp.pi)
            add((sp.expand(A - l**2), sp.expand(B - 2 * l * e), sp.expand(C - e**2), ("1",)),
                {n: fac * v for n, v in p.items()})
        elif F[0] == "H":
            _, al, be = F
            add((A, B, C, ("D", al, be, 0)), {n: al * v for n, v in p.items()})
        elif F[0] == "D":
            _, al, be, j = F
            add((A, B, C, ("D", al, be, j + 1)), {n: al * v for n, v in p.items()})
    return {k: v for k, v in out.items() if v}


def _moments(m, s, n_max):
    """E[X^n], X ~ N(m, s), n = 0..n_max."""
    M = [sp.Integer(1), m]
    for n in range(2, n_max + 1):
        M.append(m * M[n - 1] + (n - 1) * s * M[n - 2])
    return M[: n_max + 1]


def _normal_pdf(y, m, s):
    return sp.exp(-(y - m) ** 2 / (2 * s)) / sp.sqrt(2 * sp.pi * s)


def _expect_key(key, p, q):
    """E_{X ~ N(0, q)}[ p(X) exp(A X^2 + B X + C) F(X) ] in closed form."""
    A, B, C, F = key
    A2 = A - 1 / (2 * q)
    if not sp.ask(sp.Q.negative(A2)):
        if A2.is_number and A2 < 0:
            pass
        else:
            raise _NoClosedForm("growth exp(A x^2) with A >= 1/(2q)")
    s = sp.simplify(-1 / (2 * A2))
    m = B * s
    pref = sp.exp(C + B**2 * s / 2) * sp.sqrt(s / q)
    nmax = max(p) if p else 0
    if F[0] == "1":
        M = _moments(m, s, nmax)
        return pref * sp.Add(*[v * M[n] for n, v in p.items()])
    if F[0] == "H":
        _, al, be = F
        if not al.is_number or not al.is_real or al == 0:
            raise _NoClosedForm(f"Heaviside slope {al}")
        if B.has(sp.I):
            # half-line integrals of exp(i c x) phi are erf of complex arguments: no
            # elementary real closed form (and sympy's rewriting of them is very slow)
            raise _NoClosedForm("half-line integral of an oscillating term")
        x0 = -be / al
        lo, hi = (x0, sp.oo) if al > 0 else (-sp.oo, x0)

        def edge(y, n):
            if y in (sp.oo, -sp.oo):
                return sp.Integer(0)
            return y ** n * _normal_pdf(y, m, s)
        erf_hi = 1 if hi == sp.oo else sp.erf((hi - m) / sp.sqrt(2 * s))
        erf_lo = -1 if lo == -sp.oo else sp.erf((lo - m) / sp.sqrt(2 * s))
        J = [(erf_hi - erf_lo) / 2]
        for n in range(1, nmax + 1):
            prev2 = J[n - 2] if n >= 2 else 0
            J.append(m * J[n - 1] + (n - 1) * s * prev2
                     - s * (edge(hi, n - 1) - edge(lo, n - 1)))
        return pref * sp.Add(*[v * J[n] for n, v in p.items()])
    if F[0] == "erf":
        _, l, e = F
        # I_n = E_{N(m,s)}[X^n erf(l X + e)]:  I_n = m I_{n-1} + (n-1) s I_{n-2}
        #        + s (2 l / sqrt(pi)) E_{N(m,s)}[X^(n-1) exp(-(l X + e)^2)]
        I = [sp.erf((l * m + e) / sp.sqrt(1 + 2 * l**2 * s))]
        for n in range(1, nmax + 1):
            prev2 = I[n - 2] if n >= 2 else 0
            g = _gauss_integral_poly(n - 1, m, s, -l**2, -2 * l * e, -e**2)
            I.append(m * I[n - 1] + (n - 1) * s * prev2 + s * 2 * l / sp.sqrt(sp.pi) * g)
        return pref * sp.Add(*[v * I[n] for n, v in p.items()])
    if F[0] == "D":
        _, al, be, j = F
        if not al.is_number or not al.is_real or al == 0:
            raise _NoClosedForm(f"DiracDelta slope {al}")
        x0 = -be / al
        # int p(x) G(x) delta^(j)(al x + be) dx = (-1)^j |al|^-1 al^-j (p G)^(j)(x0),
        # G = pref * N(m, s) density; G^(i) = G (-1)^i s^(-i/2) He_i((x - m)/sqrt(s)).
        y = (x0 - m) / sp.sqrt(s)
        He = [sp.Integer(1), y]
        for i in range(1, j):
            He.append(sp.expand(y * He[i] - i * He[i - 1]))
        G0 = pref * _normal_pdf(x0, m, s)
        total = sp.Integer(0)
        pd = dict(p)
        for i in range(0, j + 1):
            if not pd:
                break
            pval = sp.Add(*[v * x0 ** n for n, v in pd.items()])
            order = j - i
            total += sp.binomial(j, i) * pval * (-1) ** order * s ** sp.Rational(-order, 2) \
                * He[order]
            pd = _poly_deriv(pd)
        return (-1) ** j / abs(al) / al ** j * G0 * total
    raise _NoClosedForm(f"kind {F}")  # pragma: no cover - keys are built above


def _gauss_integral_poly(n, m, s, a, b, c):
    """E_{X~N(m,s)}[X^n exp(a X^2 + b X + c)] (closed form, needs 1/s - 2a > 0)."""
    s2 = 1 / (1 / s - 2 * a)
    m2 = s2 * (m / s + b)
    pref = sp.sqrt(s2 / s) * sp.exp(c + m2**2 / (2 * s2) - m**2 / (2 * s))
    return pref * _moments(m2, s2, n)[n]


def _finish(v, real=True):
    """Expand, and take the real part when complex exponentials (sin, cos) were used.

    No ``sympy.simplify``: it can take minutes on erf/exp mixtures.
    """
    v = sp.expand(v)
    if real and v.has(sp.I):
        v = sp.expand(sp.re(sp.expand_complex(v)))
    return v


def _exact_coefficients(act, degree, q):
    struct = _to_structured(act.expr)
    coeffs = []
    parity = act.parity
    for k in range(degree + 1):
        if k > 0:
            struct = _struct_diff(struct)
        if (parity == "odd" and k % 2 == 0) or (parity == "even" and k % 2 == 1) \
                or not struct:
            coeffs.append(sp.Integer(0))
            continue
        ek = sp.Add(*[_expect_key(key, p, q) for key, p in struct.items()])
        coeffs.append(_finish(q ** sp.Rational(k, 2) * ek / sp.sqrt(sp.factorial(k))))
    return coeffs


def _exact_norm2(act, q):
    struct = _to_structured(sp.expand(act.expr ** 2))
    return _finish(sp.Add(*[_expect_key(key, p, q) for key, p in struct.items()]))


def _check_q_exact(q):
    if isinstance(q, sp.Basic):
        if q.is_number:
            return _check_q_precise(q)
        if not q.is_positive:
            raise ValueError(f"a symbolic variance must be declared positive "
                             f"(sympy.Symbol('q', positive=True)), got {q!r}")
        if len(q.free_symbols) != 1:
            raise ValueError(f"a symbolic variance must have one free symbol, got {q!r}")
        return q
    _check_q_float(q)
    if isinstance(q, (float, np.floating)):
        return sp.Rational(repr(float(q)))        # the decimal the user wrote: 0.7 is 7/10
    return sp.Rational(q)


def _verify_exact(act, coeffs, nu, q, sym):
    """Compare the closed forms with the fast path; raise if any disagrees."""
    samples = [0.7, 1.9] if sym is not None else [float(q)]
    for qv in samples:
        if qv >= square_integrable_limit(act):
            continue
        A, nu_f, err, nu_err, _ = _fast_table(act, np.array([qv]), len(coeffs) - 1)
        sc = max(1.0, math.sqrt(abs(nu_f[0])))
        subs = {sym: sp.Float(qv, 30)} if sym is not None else {}
        for k, c in enumerate(coeffs):
            val = complex(sp.N(c.subs(subs), 30))
            if abs(val.imag) > 1e-12 * sc or abs(val.real - A[0, k]) > 1e-10 * sc + 100 * err[0, k]:
                raise _NoClosedForm(f"verification failed for a_{k}: closed form "
                                    f"{val!r} vs numerical {A[0, k]!r}")
        if nu is not None:
            val = complex(sp.N(nu.subs(subs), 30))
            if abs(val.real - nu_f[0]) > 1e-10 * sc * sc + 100 * nu_err[0]:
                raise _NoClosedForm(f"verification failed for nu: {val!r} vs {nu_f[0]!r}")


def _exact_expansion(act, degree, q, budget=None):
    qq = _check_q_exact(q)
    sym = None if qq.is_number else next(iter(qq.free_symbols))
    if sym is None:
        _check_limit(act, float(qq))
    budget = _EXACT_BUDGET + 0.5 * degree if budget is None else float(budget)
    try:
        with from_seconds(budget, label="exact Hermite coefficients"):
            coeffs = _exact_coefficients(act, degree, qq)
            try:
                nu = _exact_norm2(act, qq)
            except _NoClosedForm:
                nu = None
        _verify_exact(act, coeffs, nu, qq, sym)
    except _NoClosedForm as exc:
        raise ValueError(f"no closed form found for the Hermite coefficients of activation "
                         f"{act.name!r} ({exc}); use method='precise' or 'fast'") from None
    except WorkBudgetExceeded:
        raise ValueError(f"no closed form found for the Hermite coefficients of activation "
                         f"{act.name!r} within the work budget of {budget} nominal s; use "
                         "method='precise' or 'fast', or a larger timeout") from None
    if nu is None and sym is None:
        import mpmath
        pe = _precise_expansion(act, degree, qq, 30)
        nu = sp.Float(mpmath.nstr(pe.norm2, 30), 30)
    tail = None if nu is None else _finish(nu - sp.Add(*[c**2 for c in coeffs]))
    return HermiteExpansion(activation=act, q=qq, method="exact", coefficients=tuple(coeffs),
                            norm2=nu, tail=tail, abs_error=0.0, tail_error=0.0,
                            errors=(0.0,) * (degree + 1))


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
    dps : int or None
        Working precision of ``"precise"`` (None otherwise).

    Notes
    -----
    ``tail >= -tail_error`` always (Parseval); for ``"exact"`` the norm is a closed form
    when the engine finds one (e.g. ReLU ``q/2``) and otherwise a 30-digit sympy Float
    from the precise method (numeric q) or None (symbolic q), with ``tail`` alike.

    Examples
    --------
    >>> import sympy as sp
    >>> import hermite_dual as hd
    >>> q = sp.Symbol("q", positive=True)
    >>> e = hd.hermite_coefficients("sin", 3, q, method="exact")
    >>> e.coefficients[1], e.coefficients[3]        # MATH section 2
    (sqrt(q)*exp(-q/2), -sqrt(6)*q**(3/2)*exp(-q/2)/6)
    >>> e.norm2
    1/2 - exp(-2*q)/2
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
    dps: object = None

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


def hermite_coefficients(act, degree, q=1.0, *, method="fast", dps=30, timeout=None):
    """Hermite coefficients a_0..a_degree of sigma at variance q (MATH §2).

    Parameters
    ----------
    act : str or sympy.Expr or Activation
        Anything :func:`hermite_dual.activation` accepts.
    degree : int
        Highest degree R, ``0 <= R <= 1200``.
    q : float, or positive sympy Symbol / expression for ``method="exact"``
        The variance, ``0 < q < square_integrable_limit(act)``.
    method : {"fast", "precise", "exact"}
        float64 adaptive quadrature; mpmath quadrature at ``dps`` digits; sympy closed
        forms through Stein's identity.
    dps : int
        Decimal digits for ``"precise"`` (``15 <= dps <= 1000``).
    timeout : float, optional
        Work budget of the symbolic search for ``"exact"``, in nominal seconds (default
        ``5 + 0.5 * degree``): counted work, not seconds, so the answer does not depend
        on machine load, and it holds in any thread.  Each
        closed form is then checked numerically against the fast path before it is
        returned.

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

    The Gaussian bump at 40 digits (``a_0 = 1/sqrt(1 + q)``):

    >>> import mpmath
    >>> p = hermite_coefficients("gaussian", 2, 1.0, method="precise", dps=40)
    >>> mpmath.nstr(p.coefficients[0], 40)
    '0.7071067811865475244008443621048490392848'
    >>> p.abs_error < 1e-40
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
    if method == "precise":
        dps = _check_dps(dps)
        return _precise_expansion(act, degree, q, dps)
    if timeout is not None:
        if isinstance(timeout, bool) or not isinstance(timeout, numbers.Real) \
                or not 0 < timeout < 1e6:
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    return _exact_expansion(act, degree, q, budget=timeout)


def describe_expansion(act, degree, q=1.0, method="fast", dps=30):
    """A JSON-able summary of :func:`hermite_coefficients` (for ``hermite-dual derive``).

    Returns
    -------
    dict
        Keys ``name``, ``expr``, ``q``, ``method``, ``degree``, ``coefficients`` (floats
        for fast, decimal strings for precise, sympy strings for exact), ``values``
        (floats; None for formulas in a symbolic q), ``latex`` (exact only, else None),
        ``norm2``, ``tail``, ``abs_error``, ``error_kind``.

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
        coeffs = [mpmath.nstr(c, e.dps) for c in e.coefficients]
        latex = None
        conv = lambda v: mpmath.nstr(v, 20)  # noqa: E731
    else:
        coeffs = [sp.sstr(c) for c in e.coefficients]
        latex = [sp.latex(c) for c in e.coefficients]
        def conv(v):
            # a number mixing exact parts and a 30-digit Float prints as a 30-digit decimal
            if v is None:
                return None
            if isinstance(v, sp.Basic):
                if v.is_number and v.has(sp.Float):
                    return sp.sstr(sp.N(v, 30))
                return sp.sstr(v)
            return float(v)
    out = {
        "name": e.activation.name,
        "expr": sp.sstr(e.activation.expr),
        "q": sp.sstr(e.q) if isinstance(e.q, sp.Basic) else float(e.q),
        "method": e.method,
        "degree": e.degree,
        "coefficients": coeffs,
    }
    if e.method != "fast":
        # float64 values beside the exact/precise texts (for "fast" they are the same
        # numbers as "coefficients", so they are not repeated)
        out["values"] = [float(sp.N(c, 17)) if isinstance(c, sp.Basic) and c.is_number
                         else (float(c) if not isinstance(c, sp.Basic) else None)
                         for c in e.coefficients]
    out.update({
        "latex": latex,
        "norm2": conv(e.norm2),
        "tail": conv(e.tail),
        "abs_error": float(e.abs_error),
        "error_kind": "exact" if e.method == "exact" else "estimate",
    })
    return out
