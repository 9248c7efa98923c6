""":func:`hermite_coefficients` and :class:`HermiteExpansion`: one entry for the three routes.
"""

from __future__ import annotations

import numbers

import sympy as sp

from ..activations import activation
from .base import _METHODS, _check_degree, _check_dps, _check_limit, _check_q_float
from .exact import _exact_expansion
from .fast import _fast_expansion
from .precise import _precise_expansion


def hermite_coefficients(act, degree, q=1.0, *, method="fast", dps=30, timeout=None):
    """Hermite coefficients a_0..a_degree of sigma at variance q (MATH §2).

    Parameters
    ----------
    act : str or sympy.Expr or Activation
        Anything :func:`hermite_dual.activation` accepts.
    degree : int
        Highest degree R, ``0 <= R <= 1200``.
    q : float, or positive sympy Symbol / expression for ``method="exact"``
        The variance, ``0 < q < square_integrable_limit(act)``.
    method : {"fast", "precise", "exact"}
        float64 adaptive quadrature; mpmath quadrature at ``dps`` digits; sympy closed
        forms through Stein's identity.
    dps : int
        Decimal digits for ``"precise"`` (``15 <= dps <= 1000``).
    timeout : float, optional
        Work budget of the symbolic search for ``"exact"``, in nominal seconds (default
        ``5 + 0.5 * degree``): counted work, not seconds, so the answer does not depend
        on machine load, and it holds in any thread.  Each
        closed form is then checked numerically against the fast path before it is
        returned.

    Returns
    -------
    HermiteExpansion

    Raises
    ------
    ValueError
        Bad degree, q, method or dps; an activation that is not square-integrable at q;
        for ``"exact"``, no closed form found within the time budget.

    Examples
    --------
    ReLU at q = 1: ``a_0 = 1/sqrt(2 pi)``, ``a_1 = 1/2``, ``nu = 1/2``.

    >>> import numpy as np
    >>> e = hermite_coefficients("relu", 2, 1.0)
    >>> np.allclose(e.coefficients[:2], [1 / np.sqrt(2 * np.pi), 0.5], atol=1e-15)
    True
    >>> abs(e.norm2 - 0.5) < 1e-15
    True

    The Gaussian bump at 40 digits (``a_0 = 1/sqrt(1 + q)``):

    >>> import mpmath
    >>> p = hermite_coefficients("gaussian", 2, 1.0, method="precise", dps=40)
    >>> mpmath.nstr(p.coefficients[0], 40)
    '0.7071067811865475244008443621048490392848'
    >>> p.abs_error < 1e-40
    True
    """
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    act = activation(act)
    degree = _check_degree(degree)
    if method == "fast":
        qf = _check_q_float(q)
        _check_limit(act, qf)
        return _fast_expansion(act, degree, qf)
    if method == "precise":
        dps = _check_dps(dps)
        return _precise_expansion(act, degree, q, dps)
    if timeout is not None:
        if isinstance(timeout, bool) or not isinstance(timeout, numbers.Real) \
                or not 0 < timeout < 1e6:
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    return _exact_expansion(act, degree, q, budget=timeout)


def describe_expansion(act, degree, q=1.0, method="fast", dps=30):
    """A JSON-able summary of :func:`hermite_coefficients` (for ``hermite-dual derive``).

    Returns
    -------
    dict
        Keys ``name``, ``expr``, ``q``, ``method``, ``degree``, ``coefficients`` (floats
        for fast, decimal strings for precise, sympy strings for exact), ``values``
        (floats; None for formulas in a symbolic q), ``latex`` (exact only, else None),
        ``norm2``, ``tail``, ``abs_error``, ``error_kind``.

    Examples
    --------
    >>> d = describe_expansion("identity", 1, 2.0)
    >>> d["name"], round(d["coefficients"][1] ** 2, 12)
    ('identity', 2.0)
    """
    e = hermite_coefficients(act, degree, q, method=method, dps=dps)
    return _describe(e)


def _describe(e):
    if e.method == "fast":
        coeffs = [float(c) for c in e.coefficients]
        latex = None
        conv = float
    elif e.method == "precise":
        import mpmath
        coeffs = [mpmath.nstr(c, e.dps) for c in e.coefficients]
        latex = None
        conv = lambda v: mpmath.nstr(v, 20)  # noqa: E731
    else:
        coeffs = [sp.sstr(c) for c in e.coefficients]
        latex = [sp.latex(c) for c in e.coefficients]
        def conv(v):
            # a number mixing exact parts and a 30-digit Float prints as a 30-digit decimal
            if v is None:
                return None
            if isinstance(v, sp.Basic):
                if v.is_number and v.has(sp.Float):
                    return sp.sstr(sp.N(v, 30))
                return sp.sstr(v)
            return float(v)
    out = {
        "name": e.activation.name,
        "expr": sp.sstr(e.activation.expr),
        "q": sp.sstr(e.q) if isinstance(e.q, sp.Basic) else float(e.q),
        "method": e.method,
        "degree": e.degree,
        "coefficients": coeffs,
    }
    if e.method != "fast":
        # float64 values beside the exact/precise texts (for "fast" they are the same
        # numbers as "coefficients", so they are not repeated)
        out["values"] = [float(sp.N(c, 17)) if isinstance(c, sp.Basic) and c.is_number
                         else (float(c) if not isinstance(c, sp.Basic) else None)
                         for c in e.coefficients]
    out.update({
        "latex": latex,
        "norm2": conv(e.norm2),
        "tail": conv(e.tail),
        "abs_error": float(e.abs_error),
        "error_kind": "exact" if e.method == "exact" else "estimate",
    })
    return out
