"""``describe_dual``: what ``hermite-dual derive`` prints about a dual kernel (MATH §3)."""

from __future__ import annotations

import numpy as np
import sympy as sp

from .base import _MEHLER_TOL
from .kernel import dual
from .mehler import _MEHLER_DEGREE, series_tables

__all__ = ["describe_dual"]


def describe_dual(act):
    """A JSON-able description of the dual kernel of ``act`` (for ``hermite-dual derive``).

    Parameters
    ----------
    act : str or sympy.Expr or Activation
        Anything :func:`hermite_dual.activation` accepts.

    Returns
    -------
    dict
        ``activation`` (name), ``expression``, ``method``: ``"closed form"`` with
        ``closed_form`` (sympy text) and ``latex``; or ``"mehler"`` with
        ``message`` ("no closed form; Mehler series with certified tail"),
        ``max_degree`` (1200), ``tail_q1`` (the certified Parseval tail T_1200(1), with
        ``nu_q1`` = nu(1)) and ``degree_at_q1`` (degree R chosen for q1 = q2 = 1 at
        several rho, ``None`` where the series is not used and the quadrature takes
        over).

    Examples
    --------
    >>> from hermite_dual.duals import describe_dual
    >>> d = describe_dual("relu")
    >>> d["method"], d["closed_form"]
    ('closed form', '(2*c*asin(c/(sqrt(q1)*sqrt(q2))) + pi*c + 2*sqrt(-c**2 + q1*q2))/(4*pi)')
    >>> describe_dual("tanh")["method"]
    'mehler'
    """
    k = dual(act)
    out = {"activation": k.activation.name, "expression": sp.sstr(k.activation.expr)}
    cf = k.closed_form()
    if cf is not None:
        out.update(method="closed form", closed_form=sp.sstr(cf), latex=sp.latex(cf))
        return out
    out.update(method="mehler", message="no closed form; Mehler series with certified tail",
               max_degree=_MEHLER_DEGREE, tolerance=_MEHLER_TOL)
    if not k._mehler_allowed():
        out.update(method="quadrature",
                   message="no closed form; sigma(sqrt(q) Z) is not in L2 for every q, "
                           "conditional quadrature")
        return out
    _, T, _, nu = series_tables(k.activation, [1.0])
    T = T[0]
    degrees = {}
    for rho in (0.5, 0.9, 0.99, 1.0):
        tails = rho ** np.arange(1, T.size + 1) * T
        good = np.flatnonzero(tails <= _MEHLER_TOL * nu[0])
        degrees[str(rho)] = int(good[0]) if good.size else None
    out.update(nu_q1=float(nu[0]), tail_q1=float(T[-1]), degree_at_q1=degrees)
    return out

