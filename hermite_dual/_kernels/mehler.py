"""The one Mehler-series evaluator (MATH §3), and its loops for :class:`~hermite_dual.DualKernel`.

``K = sum_k a_k(q1) a_k(q2) rho^k``.  :func:`mehler_rows` (value, derivative in rho and a
certified bound) and :func:`mehler_rows_value` (value and derivative only, for Newton
steps) are the only places the series is summed: the equilibrium layer
(:mod:`hermite_dual._kernels.gram`) and the dual kernels call them on the same tables
(:func:`hermite_dual.duals.mehler.series_tables`), so a Gram entry and
``dual(act).kernel`` at the same covariance agree to rounding.  Both stop at the first
degree R whose Parseval tail ``|rho|^(R+1) sqrt(T_R(q1) T_R(q2))`` is below
``1e-3 eps`` of the sum of absolute terms (full float64 accuracy), or at the table's end.

For more distinct variances than exact tables allow, :func:`_mehler_table_kernel`
finds the degree R by the same Parseval rule (at the dual kernel's tolerance, the
interpolation's accuracy), interpolates only the R + 1 coefficients it needs in ``log q``
(local Lagrange weights) and sums them with :func:`mehler_sum`; the bound it returns
excludes the interpolation error, which the caller adds.
"""

from __future__ import annotations

import math

import numba
import numpy as np

_EPS = 2.220446049250313e-16
_STOP = 1e-3 * _EPS          # tail / sum of |terms| at which the sum is exact in float64


@numba.njit(cache=True, nogil=True)
def mehler_rows(A, T, E, i, j, rho, kmax):  # pragma: no cover - compiled
    """``sum_{k<=R} A[i,k] A[j,k] rho^k`` with ``R <= kmax`` chosen by the Parseval tail.

    Rows ``i``, ``j`` of the tables: ``A`` the coefficients, ``E`` their errors, ``T``
    the tail energies ``T_k`` (suffix sums).  (Indices, not row views: these loops run
    inside every Newton step of the Gram entries.)  Returns ``(value, d value / d rho, bound, R)``; the bound is
    the tail ``|rho|^(R+1) sqrt(T_R T_R')`` plus the propagated coefficient errors
    ``sum_k (|a_k| e'_k + |a'_k| e_k + e_k e'_k) |rho|^k`` plus ``(R + 4) eps sum|terms|``.
    """
    v = 0.0
    dv = 0.0
    absum = 0.0
    cerr = 0.0
    p = 1.0     # rho^k
    pm = 0.0    # rho^(k-1)
    tail = 0.0
    k = 0
    for k in range(kmax + 1):
        ai = A[i, k]
        aj = A[j, k]
        t = ai * aj
        v += t * p
        ap = abs(p)
        absum += abs(t) * ap
        cerr += (abs(ai) * E[j, k] + abs(aj) * E[i, k] + E[i, k] * E[j, k]) * ap
        if k > 0:
            dv += k * t * pm
        pm = p
        p *= rho
        tail = abs(p) * math.sqrt(max(T[i, k], 0.0) * max(T[j, k], 0.0))
        if tail <= _STOP * absum or p == 0.0:
            break
    return v, dv, tail + cerr + (k + 4) * _EPS * absum, k


@numba.njit(cache=True, nogil=True)
def mehler_sum(a1, a2, rho, R):  # pragma: no cover - compiled
    """``(sum_{k<=R} a1[k] a2[k] rho^k, sum of |terms|)`` at a degree ``R`` the caller chose
    by the Parseval rule (the interpolated-table route finds R before it interpolates)."""
    v = 0.0
    absum = 0.0
    p = 1.0
    for k in range(R + 1):
        t = a1[k] * a2[k] * p
        v += t
        absum += abs(t)
        p *= rho
    return v, absum


@numba.njit(cache=True, nogil=True)
def mehler_rows_value(A, T, i, j, rho, kmax):  # pragma: no cover - compiled
    """``(value, d value / d rho)`` of :func:`mehler_rows` without the error terms.

    The same stopping rule (squared, so no square root per term): the Newton steps of
    the equilibrium layer see exactly the series that :func:`mehler_rows` certifies.
    """
    v = 0.0
    dv = 0.0
    absum = 0.0
    p = 1.0
    pm = 0.0
    tol2 = _STOP * _STOP
    for k in range(kmax + 1):
        t = A[i, k] * A[j, k]
        v += t * p
        absum += abs(t * p)
        if k > 0:
            dv += k * t * pm
        pm = p
        p *= rho
        if p * p * max(T[i, k], 0.0) * max(T[j, k], 0.0) <= tol2 * absum * absum or p == 0.0:
            break
    return v, dv


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
        val, absval = mehler_sum(a1, a2, rho, R)
        out[i] = val
        bound[i] = tail + 4.0 * (R + 2) * _EPS * absval
        ok[i] = True


@numba.njit(cache=True, parallel=True)
def _mehler_exact_kernel(A, T, E, nu, i1, i2, rho_a, tol, out, bound, ok):  # pragma: no cover
    """:func:`mehler_rows` with exact coefficient rows ``A[i1[i]]``, ``A[i2[i]]``.

    ``ok[i]`` when the bound is within ``tol sqrt(nu1 nu2)``; elsewhere the caller
    switches to quadrature.
    """
    K = A.shape[1] - 1
    for i in numba.prange(rho_a.size):
        r1 = i1[i]
        r2 = i2[i]
        v, dv, err, R = mehler_rows(A, T, E, r1, r2, rho_a[i], K)
        out[i] = v
        bound[i] = err
        ok[i] = err <= tol * math.sqrt(max(nu[r1], 0.0) * max(nu[r2], 0.0))
