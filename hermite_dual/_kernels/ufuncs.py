"""numba-vectorised ``erf`` and ``erfc`` (numpy has none), compiled once, cached.

Used by every float64 callable generated from an expression
(:func:`hermite_dual.symbolic.numeric.to_numpy`) and by the stable forms of the built-in
records (:mod:`hermite_dual.library`).
"""

import functools
import math

import numpy as np

__all__ = ["_np_erf", "_np_erfc"]


@functools.lru_cache(maxsize=None)
def _numba_ufuncs():
    """Vectorized erf/erfc compiled once by numba (numpy has no erf)."""
    import numba

    @numba.vectorize(["float64(float64)"], cache=True)
    def _erf(v):  # pragma: no cover - compiled
        return math.erf(v)

    @numba.vectorize(["float64(float64)"], cache=True)
    def _erfc(v):  # pragma: no cover - compiled
        return math.erfc(v)

    return _erf, _erfc


def _np_erf(v):
    return _numba_ufuncs()[0](np.asarray(v, dtype=np.float64))


def _np_erfc(v):
    return _numba_ufuncs()[1](np.asarray(v, dtype=np.float64))
