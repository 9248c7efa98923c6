"""Float64 helpers for the callables generated from an expression.

numpy has no ``erf``: a numba-vectorised ``math.erf``/``math.erfc`` (compiled once, cached
outside the package) serves every generated callable, with ``Heaviside``, ``Max`` and
``Min`` that broadcast.
"""

from __future__ import annotations

import functools
import math

import numpy as np

# ---------------------------------------------------------------------------
# float64 helpers used by the generated callables
# ---------------------------------------------------------------------------

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


def _np_heaviside(v, h0=0.5):
    return np.heaviside(np.asarray(v, dtype=np.float64), h0)


def _np_max(*args):
    return functools.reduce(np.maximum, args)


def _np_min(*args):
    return functools.reduce(np.minimum, args)


_LAMBDIFY_MODULES = [
    {
        "erf": _np_erf,
        "erfc": _np_erfc,
        "Heaviside": _np_heaviside,
        "Max": _np_max,
        "Min": _np_min,
        "amax": _np_max,
        "amin": _np_min,
    },
    "numpy",
]
