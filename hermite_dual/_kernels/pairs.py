"""Numba kernels on pairs of data points: the ordered-sum inner products, the first
parallel pair, and the largest off-diagonal correlation of a block (MATH §4-§5).

Split from :mod:`.gram` (which evaluates kernels and solves entries): these loops see
only the data matrix and Sigma, never a kernel id.  The parallel versions and their
single-threaded twins (for Dask's threads) are compiled from the same row functions.
"""

import math

import numba
import numpy as np
from numba import prange

from .gram import twin

__all__ = ["find_parallel", "data_gram", "find_parallel_serial", "data_gram_serial",
           "max_offdiag_corr"]

_jit = numba.njit(cache=True, nogil=True)
_pjit = numba.njit(cache=True, nogil=True, parallel=True)


@_jit
def _parallel_row(a, G, rows, cols, diag, thresh):
    i = rows[a]
    for b in range(cols.shape[0]):
        j = cols[b]
        if i != j and abs(G[a, b]) >= thresh * math.sqrt(diag[i] * diag[j]):
            return b
    return -1


def _find_parallel(G, rows, cols, diag, thresh):
    """First pair (i, j), i != j, with ``|G_ij| >= thresh sqrt(G_ii G_jj)``, else (-1, -1).

    ``diag[i] = G_ii`` for every point index i.  Rows are scanned in parallel; the pair
    reported is the one in the lowest row that has any.
    """
    nr = rows.shape[0]
    hit = np.full(nr, -1, dtype=np.int64)
    for a in prange(nr):
        hit[a] = _parallel_row(a, G, rows, cols, diag, thresh)
    for a in range(nr):
        if hit[a] >= 0:
            return rows[a], cols[hit[a]]
    return -1, -1


_DOT_CHUNK = 256


@_jit
def _dot_row(a, X, rows, XT, scale, G):
    """``G[a, :] = scale * X[rows[a]] . XT`` with each entry summed in coordinate order."""
    d = X.shape[1]
    nc = XT.shape[1]
    xi = X[rows[a]]
    Ga = G[a]
    acc = np.empty(_DOT_CHUNK)
    for c0 in range(0, nc, _DOT_CHUNK):
        w = min(_DOT_CHUNK, nc - c0)
        acc[:w] = 0.0
        for k in range(d):
            x = xi[k]
            src = XT[k, c0:c0 + w]           # a slice: no index wrap-around, vectorises
            for bb in range(w):
                acc[bb] += x * src[bb]
        for bb in range(w):
            Ga[c0 + bb] = acc[bb] * scale


def _data_gram(X, rows, XT, scale, G):
    """``G[a, b] = scale * sum_k X[rows[a], k] XT[k, b]``, every entry summed in order k.

    ``XT = X[cols].T`` (contiguous).  Unlike BLAS, whose blocking makes an entry depend on
    the shape of the block it is computed in, each entry here is the same sequential sum
    in any block (vectorised across the entries of a row, never across k), so blocks
    computed apart, on Dask workers or in memory, give the same bits.
    """
    for a in prange(rows.shape[0]):
        _dot_row(a, X, rows, XT, scale, G)


find_parallel = _pjit(_find_parallel)
data_gram = _pjit(_data_gram)
#: single-threaded twins for work split across threads by a scheduler (Dask): nested
#: numba parallelism would oversubscribe the cores.  Same row functions, same bits.
find_parallel_serial = _jit(twin(_find_parallel))
data_gram_serial = _jit(twin(_data_gram))


@_pjit
def max_offdiag_corr(Sig, rows, cols, s):
    """``max_{i != j} |Sigma_ij| / sqrt(s_i s_j)`` over a block (the beta of MATH section 5)."""
    nr = rows.shape[0]
    nc = cols.shape[0]
    best = np.zeros(nr)
    for a in prange(nr):
        i = rows[a]
        m = 0.0
        for b in range(nc):
            j = cols[b]
            if i != j:
                v = abs(Sig[a, b]) / math.sqrt(s[i] * s[j])
                if v > m:
                    m = v
        best[a] = m
    out = 0.0
    for a in range(nr):
        if best[a] > out:
            out = best[a]
    return out
