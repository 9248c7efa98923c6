"""The one sympy -> callable compiler for float64 (numpy, numba) and mpmath backends.

* :func:`to_numpy` - a numpy-broadcasting float64 function.  numpy has no ``erf``: a
  numba-vectorised ``math.erf``/``math.erfc`` (compiled once, cached outside the
  package) serves every generated callable, or ``math.erf`` through ``np.frompyfunc``
  with ``jit=False`` (no compilation; the conditions checker's seeding grid);
  ``Heaviside``, ``Max`` and ``Min`` broadcast.
* :func:`to_numba` - a numba ``cfunc`` ``float64(float64)``, a first-class function
  for the cached quadrature kernels of :mod:`hermite_dual._kernels`.
* :func:`to_mpmath` - an mpmath function at the working precision, ``Heaviside``
  with its value at 0.

The arb backend (rigorous balls) is :mod:`hermite_dual.symbolic.arb`.

>>> import numpy as np, sympy as sp
>>> from hermite_dual.library import x
>>> to_numpy(sp.erf(x) + sp.Max(x, 0))(np.array([-1.0, 2.0])).round(6)
array([-0.842701,  2.995322])
"""

from __future__ import annotations

import functools
import math

import numpy as np
import sympy as sp
from sympy.codegen.cfunctions import log1p as _log1p

from .._kernels.ufuncs import _np_erf, _np_erfc
from ..library import x

__all__ = ["to_numpy", "to_numba", "to_mpmath"]

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


_vec_erf = np.frompyfunc(math.erf, 1, 1)
_vec_erfc = np.frompyfunc(math.erfc, 1, 1)

_PLAIN_MODULES = [
    dict(_LAMBDIFY_MODULES[0],
         erf=lambda v: np.asarray(_vec_erf(v), dtype=float),
         erfc=lambda v: np.asarray(_vec_erfc(v), dtype=float)),
    "numpy",
]


def _is_one_plus_exp(a):
    """``u`` when ``a`` is ``1 + exp(u)``, else None."""
    if isinstance(a, sp.Add) and len(a.args) == 2 and sp.S.One in a.args:
        other = a.args[0] if a.args[1] == sp.S.One else a.args[1]
        if isinstance(other, sp.exp):
            return other.args[0]
    return None


def _stable_form(expr):
    """``expr`` with the logarithms of growing functions rewritten so float64 does not
    overflow where the value itself is moderate (MATH §2: an activation that grows
    linearly has Gaussian integrals at every q):

    * ``log(cosh(u)) = |u| + log1p(exp(-2|u|)) - log 2`` (``cosh`` overflowed at
      ``|u| > 710``, so log cosh looked non-finite at q = 400);
    * ``log(1 + exp(u)) = max(u, 0) + log1p(exp(-|u|))`` (softplus written out).

    Exact identities: nothing else changes, and symbolic work never sees this form.
    """
    def rewritable(e):
        return isinstance(e, sp.log) and (isinstance(e.args[0], sp.cosh)
                                          or _is_one_plus_exp(e.args[0]) is not None)

    def rewrite(e):
        a = e.args[0]
        if isinstance(a, sp.cosh):
            u = a.args[0]
            return sp.Abs(u) + _log1p(sp.exp(-2 * sp.Abs(u))) - sp.log(2)
        u = _is_one_plus_exp(a)
        return sp.Max(u, 0) + _log1p(sp.exp(-sp.Abs(u)))

    if not expr.has(sp.log):
        return expr
    return expr.replace(rewritable, rewrite)


def to_numpy(expr, variables=(x,), *, jit=True):
    """A float64 numpy function of ``variables`` (default ``x``) computing ``expr``.

    ``jit=False`` evaluates erf/erfc with ``math.erf`` elementwise instead of the numba
    ufunc (slower per point, no compilation on first use).  No validation, no
    broadcasting of constant results: callers shape the output.
    """
    variables = tuple(variables)
    return sp.lambdify(variables if len(variables) > 1 else variables[0],
                       _stable_form(expr),
                       modules=_LAMBDIFY_MODULES if jit else _PLAIN_MODULES)


def to_numba(expr, variables=(x,)):
    """``expr`` as a numba ``cfunc`` ``float64(float64, ...)`` of ``variables`` (default
    ``x``), a first-class function for the numba kernels; raises if it cannot compile.

    Compiled with numpy's error model: a division by zero gives inf or NaN, as float64
    arithmetic does, and the kernels that call it deal with a non-finite value (numba's
    default, Python's model, raises inside the kernel, where the exception cannot
    propagate: it was printed and the call went on with a garbage value).

    Examples
    --------
    >>> import sympy as sp
    >>> f = to_numba(1 / x)
    >>> f.ctypes(4.0), f.ctypes(0.0)
    (0.25, inf)
    """
    import numba
    variables = tuple(variables)
    sig = "float64(" + ", ".join(["float64"] * len(variables)) + ")"
    return numba.cfunc(sig, error_model="numpy")(
        sp.lambdify(variables, _stable_form(expr), modules="math"))


def _heaviside_mp(v, h0=None):
    import mpmath
    if v > 0:
        return mpmath.mpf(1)
    if v < 0:
        return mpmath.mpf(0)
    return mpmath.mpf(0.5) if h0 is None else mpmath.mpf(h0)


def to_mpmath(expr):
    """``expr`` in ``x`` as an mpmath function (evaluates at the caller's ``mp.dps``)."""
    return sp.lambdify(x, expr, modules=[{"Heaviside": _heaviside_mp}, "mpmath"])
