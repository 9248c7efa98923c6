"""One record per built-in activation: everything the toolkit knows about it, in one place.

As neural-tangents' ``stax`` keeps one function with its kernel, each built-in here is
one :class:`Builtin` record: its exact sympy expression, its numerically stable float64
form (where the textbook formula overflows or cancels), the numba closed form of its
dual kernel (if :mod:`hermite_dual._kernels.gram` has one), and the facts the theory
uses -- the three suprema of MATH §7, analyticity, whether it is a polynomial, its
parity, and whether MATH §3 lists a closed-form dual.  The tables the other layers used
to keep are views of these records:

* :func:`hermite_dual.activation` parses names through :data:`RECORDS` (``expr``,
  ``stable``);
* :attr:`hermite_dual.DualKernel.kernel_id` maps a record's ``numba_kernel`` to the id
  of the numba closed form;
* :func:`hermite_dual.testing.leaf_facts` (the axioms of the property-test grammar) is
  built from ``sup``, ``analytic``, ``polynomial``, ``parity``, ``closed_form_dual``.

The test suite keeps its *references* apart (mpmath callables, MATH §3 formulas written
out again, the suprema derived below) and checks every record against them, so a record
cannot vouch for itself.

Suprema (exact; ``inf`` when unbounded or when the derivative is not a function):

* tanh'' = -2 tanh sech^2, extremal where tanh^2 = 1/3: 4/(3 sqrt 3);
* sigmoid'' = s(1-s)(1-2s), extremal at s = 1/2 - 1/(2 sqrt 3): 1/(6 sqrt 3);
* erf'' = -(4x/sqrt(pi)) exp(-x^2), extremal at x = 1/sqrt 2: 2 sqrt(2/pi) e^(-1/2);
* gelu' = Phi + x phi, extremal where gelu'' = phi (2 - x^2) = 0 (x = sqrt 2):
  (1 + erf(1))/2 + e^(-1)/sqrt(pi); sup|gelu''| = 2 phi(0) = sqrt(2/pi);
* atan'' = -2x/(1+x^2)^2, extremal at x = 1/sqrt 3: 3 sqrt(3)/8;
* gaussian' = -x e^(-x^2/2): e^(-1/2) at x = 1; |gaussian''| = |x^2 - 1| e^(-x^2/2) <= 1;
* softplus'' = s(1-s) <= 1/4; elu'' = e^x (x < 0) <= 1; softsign'' = -2 sign(x)/(1+|x|)^3;
* silu has no closed-form extremum: sup|silu'| is silu' at the root of x tanh(x/2) = 2
  (mpmath, 30 digits, at import) and sup|silu''| = silu''(0) = 1/2.

>>> from hermite_dual.library import record
>>> r = record("tanh")
>>> r.expr, r.parity, r.sup[2]
(tanh(x), 'odd', 0.769800358919501)
>>> record("relu").numba_kernel
'relu'
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
import sympy as sp

__all__ = ["Builtin", "RECORDS", "record", "record_of", "x"]

#: The one real variable every activation is written in.
x = sp.Symbol("x", real=True)

_INF = math.inf


@dataclass(frozen=True)
class Builtin:
    """Everything the toolkit knows about one built-in activation.

    Attributes
    ----------
    name : str
        The name users type (``hd.activation("gelu")``), also callable inside
        expression strings (``"gelu(2*x) + x"``).
    expr : sympy.Expr
        The exact expression in :data:`x`.
    stable : callable or None
        A float64 form of ``expr`` that neither overflows nor cancels, where the textbook
        formula does (``None``: the generated callable is already stable).
    numba_kernel : str or None
        Name of the numba closed form of K_sigma in :mod:`hermite_dual._kernels.gram`
        (``KIND_NAMES``), or ``None`` (the Mehler series).
    sup : tuple of float
        ``(sup|sigma|, sup|sigma'|, sup|sigma''|)``, exact values in float64; ``inf`` when
        unbounded or when the derivative is not a function (a Dirac mass).
    analytic : bool
        Real-analytic on R (``False``: some derivative jumps at a kink).
    polynomial : bool
        Whether sigma is a polynomial (C3 of MATH §7 fails exactly then).
    parity : {'odd', 'even', None}
    closed_form_dual : bool
        MATH §3 lists a closed form of its dual kernel.
    """

    name: str
    expr: sp.Expr
    sup: tuple
    analytic: bool
    polynomial: bool
    parity: Optional[str]
    closed_form_dual: bool
    stable: Optional[Callable] = None
    numba_kernel: Optional[str] = None


def _stable_sigmoid(v):
    return np.exp(-np.logaddexp(0.0, -v))


def _stable_gelu(v):
    # x (1 + erf(x/sqrt 2))/2 cancels for x << 0; erfc keeps full relative accuracy
    from ._kernels.ufuncs import _np_erfc
    return 0.5 * v * _np_erfc(-v / math.sqrt(2.0))


def _silu_lipschitz():
    import mpmath

    with mpmath.workdps(30):
        root = mpmath.findroot(lambda t: t * mpmath.tanh(t / 2) - 2, 2.4)
        s = 1 / (1 + mpmath.exp(-root))
        return float(s * (1 + root * (1 - s)))


def _records():
    r3 = math.sqrt(3.0)
    gelu_l = (1 + math.erf(1.0)) / 2 + math.exp(-1.0) / math.sqrt(math.pi)
    B = Builtin
    return (
        B("identity", x, (_INF, 1.0, 0.0), True, True, "odd", True, numba_kernel="identity"),
        B("relu", sp.Max(x, 0), (_INF, 1.0, _INF), False, False, None, True,
          numba_kernel="relu"),
        B("leaky_relu", sp.Max(x, x / 100), (_INF, 1.0, _INF), False, False, None, False),
        B("abs", sp.Abs(x), (_INF, 1.0, _INF), False, False, "even", False),
        B("step", sp.Heaviside(x, 1), (1.0, _INF, _INF), False, False, None, True,
          numba_kernel="step"),
        B("tanh", sp.tanh(x), (1.0, 1.0, 4 / (3 * r3)), True, False, "odd", False),
        B("sigmoid", 1 / (1 + sp.exp(-x)), (1.0, 0.25, 1 / (6 * r3)), True, False, None,
          False, stable=_stable_sigmoid),
        B("erf", sp.erf(x), (1.0, 2 / math.sqrt(math.pi),
                             2 * math.sqrt(2 / math.pi) * math.exp(-0.5)),
          True, False, "odd", True, numba_kernel="erf"),
        B("gelu", x * (1 + sp.erf(x / sp.sqrt(2))) / 2, (_INF, gelu_l, math.sqrt(2 / math.pi)),
          True, False, None, False, stable=_stable_gelu),
        B("silu", x / (1 + sp.exp(-x)), (_INF, _silu_lipschitz(), 0.5), True, False, None,
          False, stable=lambda v: v * _stable_sigmoid(v)),
        B("softplus", sp.log(1 + sp.exp(x)), (_INF, 1.0, 0.25), True, False, None, False,
          stable=lambda v: np.logaddexp(0.0, v)),
        B("elu", sp.Piecewise((x, x > 0), (sp.exp(x) - 1, True)), (_INF, 1.0, 1.0), False,
          False, None, False,
          stable=lambda v: np.where(v > 0, v, np.expm1(np.minimum(v, 0.0)))),
        B("sin", sp.sin(x), (1.0, 1.0, 1.0), True, False, "odd", True, numba_kernel="sin"),
        B("cos", sp.cos(x), (1.0, 1.0, 1.0), True, False, "even", True, numba_kernel="cos"),
        B("gaussian", sp.exp(-x**2 / 2), (1.0, math.exp(-0.5), 1.0), True, False, "even",
          True, numba_kernel="gaussian"),
        B("atan", sp.atan(x), (math.pi / 2, 1.0, 3 * r3 / 8), True, False, "odd", False),
        B("softsign", x / (1 + sp.Abs(x)), (1.0, 1.0, 2.0), False, False, "odd", False),
        B("exp", sp.exp(x), (_INF, _INF, _INF), True, False, None, True, numba_kernel="exp"),
    )


#: The built-in activations, in a stable order.
RECORDS = _records()
_BY_NAME = {r.name: r for r in RECORDS}
_BY_EXPR = {r.expr: r for r in RECORDS}


def record(name):
    """The :class:`Builtin` record of a built-in name (``KeyError`` for another name)."""
    return _BY_NAME[name]


def record_of(expr):
    """The record whose expression *is* ``expr`` (structural equality), or ``None``."""
    return _BY_EXPR.get(expr)
