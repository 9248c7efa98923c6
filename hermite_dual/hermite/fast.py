"""Float64 Hermite coefficients (MATH §2): Gauss-Legendre panels, tables over many q.

Panels in ``z`` split exactly at the kinks (``x0 / sqrt(q)``) and refined on the
activation's own scale near the origin; two rules per panel give the error estimate, and
panels are halved until it meets the target.  ``hermite_table`` shares one panel set
across an array of variances.
"""

from __future__ import annotations

import math

import numpy as np

from .._kernels.hermite import _hmax_kernel, _panel_moments_kernel, _scatter_add_kernel
from .._util.nodes import gauss_legendre
from ..activations import activation
from .base import HermiteExpansion, _check_degree, _check_qs, square_integrable_limit

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
# Fast path: adaptive Gauss-Legendre panels, vectorised over q
# ---------------------------------------------------------------------------

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
    tm, wm = gauss_legendre(_N_MAIN)
    tc, wc = gauss_legendre(_N_CHECK)
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


def _fast_expansion(act, degree, q):
    A, nu, err, nu_err, _ = _fast_table(act, np.array([q]), degree)
    a = A[0]
    tail = float(nu[0] - np.dot(a, a))
    tail_err = float(nu_err[0] + 2.0 * np.dot(np.abs(a), err[0]) + np.dot(err[0], err[0]))
    tail_err += 4 * np.finfo(float).eps * float(nu[0])
    return HermiteExpansion(activation=act, q=q, method="fast", coefficients=a,
                            norm2=float(nu[0]), tail=tail, abs_error=float(err[0].max()),
                            tail_error=tail_err, errors=err[0])
