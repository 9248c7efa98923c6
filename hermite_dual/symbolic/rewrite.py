"""Rewrites shared by the two Gaussian-expectation routes (MATH §2 exact coefficients and
MATH §3 closed-form duals): linear forms, and Piecewise as sums of Heaviside products.

Both routes reduce sigma to atoms ``poly(x) exp(beta x + alpha x^2) {1, erf, Heaviside}``
of *linear* arguments; these are the rules they agree on, and the one exception they
raise when an expression leaves that class.

>>> import sympy as sp
>>> from hermite_dual.library import x
>>> linear_form(3*x - sp.Rational(1, 2))
(3, -1/2)
>>> piecewise_to_heaviside(sp.Piecewise((x, x > 0), (sp.exp(x) - 1, True)))
x*Heaviside(x) + (1 - Heaviside(x))*(exp(x) - 1)
"""

from __future__ import annotations

import sympy as sp

from ..library import x

__all__ = ["NoClosedForm", "linear_form", "piecewise_to_heaviside"]

_ORDERS = (sp.StrictGreaterThan, sp.GreaterThan, sp.StrictLessThan, sp.LessThan)


class NoClosedForm(Exception):
    """The symbolic routes cannot integrate this expression in closed form."""


def linear_form(e):
    """``(a, b)`` with ``e = a x + b``, ``a != 0``, real; floats made rational.

    Raises :class:`NoClosedForm` for anything else.
    """
    e = sp.expand(e)
    if not e.has(x) or not e.is_polynomial(x) or sp.Poly(e, x).degree() != 1:
        raise NoClosedForm(f"not linear in x: {e}")
    a, b = e.coeff(x, 1), e.coeff(x, 0)
    a = sp.nsimplify(a) if a.is_Float else a
    b = sp.nsimplify(b) if b.is_Float else b
    if a.has(x) or not (a.is_real and b.is_real):
        raise NoClosedForm(f"not a real linear form: {e}")
    return a, b


def _flat(pw):
    out = sp.S.Zero
    rest = sp.S.One
    for val, cond in pw.args:
        if cond is sp.true:
            return out + rest * val
        if not isinstance(cond, _ORDERS):
            raise NoClosedForm(f"Piecewise condition {cond}")
        if isinstance(cond, (sp.StrictGreaterThan, sp.GreaterThan)):
            ind = sp.Heaviside(cond.lhs - cond.rhs)
        else:
            ind = sp.Heaviside(cond.rhs - cond.lhs)
        out += rest * ind * val
        rest = rest * (1 - ind)
    return out


def piecewise_to_heaviside(expr):
    """Every ``Piecewise((e1, c1), ..., (en, True))`` in ``expr`` as
    ``H1 e1 + (1 - H1) H2 e2 + ...`` (equal almost everywhere; the value at a boundary,
    a null set, does not enter a Gaussian expectation)."""
    return expr.replace(lambda s: isinstance(s, sp.Piecewise), _flat)
