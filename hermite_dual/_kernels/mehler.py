"""Numba loops of the Mehler-series route of :class:`hermite_dual.DualKernel` (MATH §3).

``K = sum_k a_k(q1) a_k(q2) rho^k`` with coefficient rows interpolated in ``log q``
(local Lagrange weights), truncated where the certified Parseval tail
``|rho|^(R+1) sqrt(T_R(q1) T_R(q2))`` meets the tolerance; the bound returned per point
adds the interpolation and coefficient errors.  The tables are built by
:mod:`hermite_dual.duals.mehler`.
"""

from __future__ import annotations

import math

import numba
import numpy as np


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
