"""Numba loops of the population tangent kernel (MATH §5): Kdot and Theta = K * (1 + B).

``Kdot_ij = K_{sigma'}(Sigma_ii, Sigma_jj, Sigma_ij)`` (the c-derivative of the kernel, by
Price's theorem), ``B = Kdot / (1 - 2 w2 Kdot)``; with equal norms Kdot is tabulated on the
same grid as K and read by 4-point Lagrange interpolation.  The kernel evaluators are
those of :mod:`.gram`.
"""

import math

import numba
from numba import prange

from .gram import KIND_SERIES, closed_kernel, series_value, table_pos, twin

__all__ = ["kdot_theta", "build_kdot_table", "kdot_theta_table", "kdot_theta_serial",
           "kdot_theta_table_serial"]

_jit = numba.njit(cache=True, nogil=True)
_pjit = numba.njit(cache=True, nogil=True, parallel=True)


@_jit
def _kdot_row(a, Sig, K, rows, cols, s, kdiag, pidx, w2, kind, fv, fd, A, T, Kdot, Theta):
    """Row a of :func:`kdot_theta`; returns the row's largest off-diagonal ``|rho|``."""
    i0 = rows[a]
    rmax = 0.0
    for b in range(cols.shape[0]):
        j0 = cols[b]
        c = Sig[a, b]
        if i0 == j0:
            v = kdiag[i0]
        else:
            # canonical orientation (lower index first): the same bits in any block
            i = i0 if i0 < j0 else j0
            j = j0 if i0 < j0 else i0
            r = math.sqrt(s[i] * s[j])
            rho = abs(c) / r
            if rho > rmax:
                rmax = rho
            if kind == KIND_SERIES:
                v, dv = series_value(A, T, pidx[i], pidx[j], s[i], s[j], c)
            else:
                vv, v, e0 = closed_kernel(kind, fv, fd, s[i], s[j], c)
        Kdot[a, b] = v
        Theta[a, b] = K[a, b] * (1.0 + v / (1.0 - 2.0 * w2 * v))
    return min(rmax, 1.0)


def _kdot_theta(Sig, K, rows, cols, s, kdiag, pidx, w2, kind, fv, fd, A, T, Kdot, Theta,
                row_rho):
    """``Kdot = K_{sigma'}(s_i, s_j, Sigma_ij)`` and ``Theta = K (1 + B)``.

    ``B = Kdot / (1 - 2 w2 Kdot)`` (MATH section 5).  With ``kind`` a closed-form id the
    derivative kernel comes from Price's theorem (``dK/dc``); with ``KIND_SERIES`` the
    tables ``A, T`` (row ``pidx[i]`` for point i) are those of sigma' and the Mehler
    series is summed (:func:`series_value`).  On the diagonal
    ``Kdot_ii = kdiag[i] = nu_{sigma'}(s_i)`` (integrated directly, no truncation).
    ``row_rho[a]`` receives the largest off-diagonal ``|rho|`` of row a: every error
    term of the series grows with ``|rho|``, so the caller bounds the error there.
    """
    for a in prange(rows.shape[0]):
        row_rho[a] = _kdot_row(a, Sig, K, rows, cols, s, kdiag, pidx, w2, kind, fv, fd, A, T,
                               Kdot, Theta)


@_jit
def _lagrange4(H, m, t):
    """Cubic Lagrange interpolation of ``H`` in interval m at fraction t (4 nodes)."""
    nint = H.shape[0] - 1
    j0 = m - 1
    if j0 < 0:
        j0 = 0
    elif j0 > nint - 3:
        j0 = nint - 3
    y = m + t - j0
    return (-(y - 1.0) * (y - 2.0) * (y - 3.0) / 6.0 * H[j0]
            + y * (y - 2.0) * (y - 3.0) / 2.0 * H[j0 + 1]
            - y * (y - 1.0) * (y - 3.0) / 2.0 * H[j0 + 2]
            + y * (y - 1.0) * (y - 2.0) / 6.0 * H[j0 + 3])


@_pjit
def build_kdot_table(kind, fv, fd, A, T, s, g0, w2, F, dF, H, mid_err):
    """Tabulate ``H(u) = K_{sigma'}(s, s, 2 w2 F(u) + g0 u)`` on the nodes of ``F``.

    Equal-norm path: Kdot depends on ``u = g_ij / g0`` alone.  ``A, T`` are the tables
    of sigma' (or dummies for a closed-form id, whose ``dK/dc`` is ``K_{sigma'}``).
    ``mid_err[m]`` is the error of 4-point Lagrange interpolation at the midpoint of
    interval m against a direct evaluation there (F at the midpoint from its cubic
    Hermite interpolant, as the Gram entries themselves).
    """
    nint = F.shape[0] - 1
    h = 2.0 / nint
    for m in prange(nint + 1):
        u = -1.0 + m * h
        c = 2.0 * w2 * F[m] + g0 * u
        if kind == KIND_SERIES:
            v, dv = series_value(A, T, 0, 0, s, s, c)
        else:
            vv, v, e0 = closed_kernel(kind, fv, fd, s, s, c)
        H[m] = v
    for m in prange(nint):
        u = -1.0 + (m + 0.5) * h
        fm = 0.5 * (F[m] + F[m + 1]) + 0.125 * h * (dF[m] - dF[m + 1])
        c = 2.0 * w2 * fm + g0 * u
        if kind == KIND_SERIES:
            v, dv = series_value(A, T, 0, 0, s, s, c)
        else:
            vv, v, e0 = closed_kernel(kind, fv, fd, s, s, c)
        e = abs(_lagrange4(H, m, 0.5) - v)
        mid_err[m] = e if math.isfinite(e) else math.inf


@_jit
def _kdot_table_row(a, Sig, K, rows, cols, s, g0, w2, kdiag, H, good, kind, fv, fd, A, T,
                    Kdot, Theta):
    """Row a of :func:`kdot_theta_table`; returns ``(rho, lo, hi)`` of the row."""
    nint = H.shape[0] - 1
    h = 2.0 / nint
    i = rows[a]
    lo = nint
    hi = -1
    rmax = 0.0
    for b in range(cols.shape[0]):
        j = cols[b]
        c = Sig[a, b]
        if i == j:
            v = kdiag[i]
        else:
            rho = abs(c) / s
            if rho > rmax:
                rmax = rho
            m, t = table_pos((c - 2.0 * w2 * K[a, b]) / g0, nint, h)
            if good[m]:
                v = _lagrange4(H, m, t)
                if m < lo:
                    lo = m
                if m > hi:
                    hi = m
            elif kind == KIND_SERIES:
                v, dv = series_value(A, T, 0, 0, s, s, c)
            else:
                vv, v, e0 = closed_kernel(kind, fv, fd, s, s, c)
        Kdot[a, b] = v
        Theta[a, b] = K[a, b] * (1.0 + v / (1.0 - 2.0 * w2 * v))
    return min(rmax, 1.0), lo, hi


def _kdot_theta_table(Sig, K, rows, cols, s, g0, w2, kdiag, H, good, kind, fv, fd, A, T, Kdot,
                      Theta, row_rho, row_lo, row_hi):
    """Equal-norm ``Kdot`` and ``Theta`` from the table ``H`` (direct where not good).

    ``u = (Sigma_ij - 2 w2 K_ij) / g0``; ``row_lo``/``row_hi`` receive the table
    intervals read, ``row_rho`` the largest off-diagonal ``|rho|`` per row.
    """
    for a in prange(rows.shape[0]):
        row_rho[a], row_lo[a], row_hi[a] = _kdot_table_row(
            a, Sig, K, rows, cols, s, g0, w2, kdiag, H, good, kind, fv, fd, A, T, Kdot, Theta)


kdot_theta = _pjit(_kdot_theta)
kdot_theta_table = _pjit(_kdot_theta_table)
#: single-threaded twins (see :data:`hermite_dual._kernels.gram.gram_general_serial`)
kdot_theta_serial = _jit(twin(_kdot_theta))
kdot_theta_table_serial = _jit(twin(_kdot_theta_table))
