"""Mehler-series tables (MATH §3): a_k(q) on a log-q grid with Parseval tails.

``K_sigma = sum_k a_k(q1) a_k(q2) rho^k``, truncated where the certified tail
``|rho|^(R+1) sqrt(T_R(q1) T_R(q2))`` falls below the target; the numba loops live in
:mod:`hermite_dual._kernels.mehler`.
"""

from __future__ import annotations

import math

import numpy as np

from .._kernels.mehler import _interp_rows
from .base import _EPS

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
# DualKernel.kernel: up to this many distinct variances, exact coefficients at degree 1200
# rather than the interpolated table (433 variances, 6.8 s to build for softsign; 128
# exact variances take 1.8 s, and a newcomer's kernel over 60 variances waited for the
# whole table)
_KERNEL_EXACT_DISTINCT = 128


#: Mehler degree for tables at many exact variances (the general equilibrium path):
#: 1200 coefficients for every one of n points would cost ~5x the table time of 200
_MANY_DEGREE = 200


def series_degree(n_variances, *, refined=False):
    """The one degree policy of the Mehler tables (dual kernels and Gram entries alike).

    Up to ``_FEW_DISTINCT`` (48) distinct variances: the full ``_MEHLER_DEGREE`` (1200),
    so the certified tail reaches float64 accuracy even near ``|rho| = 1``; beyond, or when
    the caller re-solves every point the table does not certify with the dual kernel
    itself (``refined=True``, as :func:`~hermite_dual.population_gram` does), 200: the
    summation stops at the same Parseval rule either way, so the two agree wherever the
    short table certifies, and 1200 coefficients cost ~15 ms more per variance.
    """
    if refined or n_variances > _FEW_DISTINCT:
        return _MANY_DEGREE
    return _MEHLER_DEGREE


def series_tables(act, qs, degree=None):
    """``(A, T, E, nu)``: the Mehler tables at the variances ``qs`` (MATH §2-§3).

    ``A[i, k] = a_k(q_i)`` from :func:`hermite_dual.hermite.hermite_table`, ``E`` their
    error estimates, ``nu[i] = nu(q_i)``, and ``T[i, k] = T_k(q_i)`` the Parseval tail
    energies as suffix sums (accurate when tiny) with a margin for the errors.  The one
    builder behind :class:`~hermite_dual.DualKernel` and :func:`~hermite_dual.population_gram`.
    ``degree`` defaults to :func:`series_degree`.
    """
    from ..hermite import hermite_table
    qs = np.ascontiguousarray(qs, dtype=np.float64)
    degree = series_degree(qs.size) if degree is None else int(degree)
    A, nu, err = hermite_table(act, degree, qs)
    return (np.ascontiguousarray(A), np.ascontiguousarray(_tails(A, nu, err)),
            np.ascontiguousarray(err), np.ascontiguousarray(nu))


def nu_error(nu, E):
    """The error estimate of ``nu(q) = E[sigma(sqrt(q) Z)^2]`` from a Hermite table row.

    ``nu`` is a quadrature of ``sigma^2`` itself (not the Parseval sum), accurate to a few
    ulps; the estimate adds the error of ``a_0``'s quadrature, squared.  One formula for
    the diagonal ``K_sigma(q, q, q)`` of the dual kernels and of the Gram matrix.
    """
    return 16 * _EPS * np.abs(nu) + E[:, 0] ** 2


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
        from ..hermite import hermite_table
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
