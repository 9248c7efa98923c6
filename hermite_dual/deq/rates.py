"""Rates of MATH §6: fitted per-step factors and the linearized loss curve.
"""

from __future__ import annotations

import math

import numpy as np


def _fit_rate(curve, start, stop):
    """Least-squares slope of log(curve) on [start, stop): per-step factor and its std error."""
    tau = np.arange(start, stop, dtype=np.float64)
    vals = np.asarray(curve[start:stop], dtype=np.float64)
    ok = np.isfinite(vals) & (vals > 0)
    tau, logv = tau[ok], np.log(vals[ok])
    if tau.size < 2:
        return math.nan, math.nan
    A = np.vstack([tau, np.ones_like(tau)]).T
    coef, res, *_ = np.linalg.lstsq(A, logv, rcond=None)
    slope = float(coef[0])
    if tau.size > 2:
        resid = logv - A @ coef
        s2 = float(resid @ resid) / (tau.size - 2)
        se = math.sqrt(s2 / float(np.sum((tau - tau.mean()) ** 2)))
    else:
        se = 0.0
    return math.exp(slope), math.exp(slope) * se


def _spectral_curve(eigvals, coeffs, eta, tau):
    """``(1/2) sum_k c_k^2 (1 - eta mu_k)^(2 tau)`` for each tau."""
    base = (1.0 - eta * np.asarray(eigvals))[None, :]
    with np.errstate(over="ignore", invalid="ignore"):
        powers = base ** (2 * np.asarray(tau, dtype=np.float64)[:, None])
    return 0.5 * powers @ (np.asarray(coeffs) ** 2)
