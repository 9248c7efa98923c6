"""Numba loops of the float64 Hermite route (MATH §1-§2): polynomials and panel moments.

``h_k(z)`` by the stable recurrence ``h_{k+1} = (z h_k - sqrt(k) h_{k-1}) / sqrt(k+1)``;
weighted moments ``sum_i w_i f(z_i) h_k(z_i)`` over Gauss-Legendre panels with their
absolute values (for the rounding estimate); ``max_k |h_k|`` envelopes.  Used by
:mod:`hermite_dual.hermite.fast` and :mod:`hermite_dual.hermite.precise`.
"""

from __future__ import annotations

import math

import numba
import numpy as np

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
