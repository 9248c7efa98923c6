"""Exact Hermite coefficients (MATH §2) by Stein's identity and Gaussian atoms, in sympy.

``a_k(q) = q^(k/2) E[sigma^(k)(sqrt(q) Z)] / sqrt(k!)``: the activation is put in a
structured form (polynomial times ``exp`` of a linear form, ``erf``, ``Heaviside``),
differentiated, and each Gaussian expectation is integrated in closed form.  Runs under
the one work budget; raises when no closed form is found.
"""

from __future__ import annotations

import math

import numpy as np
import sympy as sp

from .._util.deadline import WorkBudgetExceeded, from_seconds
from ..activations import x as _x
from ..symbolic.gauss import expect_atom, poly_add, poly_deriv, poly_mul_linear
from ..symbolic.rewrite import NoClosedForm, linear_form, piecewise_to_heaviside
from .base import (
    HermiteExpansion,
    _check_limit,
    _check_q_exact,
    square_integrable_limit,
)
from .fast import _fast_table
from .precise import _precise_expansion

# ---------------------------------------------------------------------------
# Exact path: Stein's identity with structured Gaussian-expectation rules
# ---------------------------------------------------------------------------
#
# An expression is held as a dict  key -> polynomial  meaning
#     sum_key  p_key(x) * exp(A x^2 + B x + C) * F(x),
# key = (A, B, C, F) with F one of
#     ("1",)                    1
#     ("erf", l, e)             erf(l x + e)
#     ("H", al, be)             Heaviside(al x + be)   (indicator of al x + be > 0)
#     ("D", al, be, j)          DiracDelta^(j)(al x + be)
# and a polynomial a dict  n -> sympy coefficient.  Differentiation acts structurally
# (no expression swell), and E[.] under N(0, q) has closed forms for every key.

_EXACT_BUDGET = 5.0


def _to_structured(expr):
    """Decompose sigma into the structured dict, or raise NoClosedForm."""
    e = expr
    if e.has(sp.Piecewise):
        e = piecewise_to_heaviside(e)
    e = e.rewrite(sp.Heaviside) if e.has(sp.Max, sp.Min, sp.Abs, sp.sign) else e
    e = e.replace(lambda t: isinstance(t, sp.Heaviside), lambda t: sp.Heaviside(t.args[0]))
    e = e.rewrite(sp.exp) if e.has(sp.sin, sp.cos, sp.sinh, sp.cosh) else e
    e = sp.expand(sp.powsimp(sp.expand(e)))
    out = {}
    for term in sp.Add.make_args(e):
        coeff = sp.Integer(1)
        n = 0
        ex = sp.Integer(0)
        special = None
        for f in sp.Mul.make_args(term):
            if not f.has(_x):
                coeff *= f
            elif f == _x:
                n += 1
            elif f.is_Pow and f.base == _x and f.exp.is_Integer and f.exp > 0:
                n += int(f.exp)
            elif isinstance(f, sp.exp) or (f.is_Pow and f.base is sp.E):
                ex += f.exp if f.is_Pow else f.args[0]
            elif f.is_Pow and isinstance(f.base, sp.exp) and f.exp.is_Integer:
                ex += f.exp * f.base.args[0]
            elif isinstance(f, sp.erf) and special is None:
                special = ("erf", *linear_form(f.args[0]))
            elif isinstance(f, sp.Heaviside) or (f.is_Pow and isinstance(f.base, sp.Heaviside)
                                                 and f.exp.is_Integer and f.exp > 0):
                h = f if isinstance(f, sp.Heaviside) else f.base
                new = ("H", *linear_form(h.args[0]))
                if special is not None and special != new:
                    if special[0] != "H" or sp.simplify(special[2] / special[1]
                                                        - new[2] / new[1]) != 0:
                        raise NoClosedForm(f"product {term}")
                    if sp.sign(special[1]) != sp.sign(new[1]):
                        coeff = sp.Integer(0)      # disjoint half-lines: zero a.e.
                    continue
                special = new
            else:
                raise NoClosedForm(f"factor {f}")
        ex = sp.expand(ex)
        if not ex.is_polynomial(_x) or sp.Poly(ex, _x).degree() > 2:
            raise NoClosedForm(f"exponent {ex}")
        if coeff == 0:
            continue
        key = (ex.coeff(_x, 2), ex.coeff(_x, 1), ex.coeff(_x, 0), special or ("1",))
        out[key] = poly_add(out.get(key, {}), {n: coeff})
    return {k: v for k, v in out.items() if v}


def _struct_diff(expr_dict):
    """d/dx of the structured expression (distributional: H' = delta)."""
    out = {}

    def add(key, poly):
        if poly:
            out[key] = poly_add(out.get(key, {}), poly)

    for key, p in expr_dict.items():
        A, B, C, F = key
        add(key, poly_add(poly_deriv(p), poly_mul_linear(p, 2 * A, B)))
        if F[0] == "erf":
            _, l, e = F
            fac = 2 * l / sp.sqrt(sp.pi)
            add((sp.expand(A - l**2), sp.expand(B - 2 * l * e), sp.expand(C - e**2), ("1",)),
                {n: fac * v for n, v in p.items()})
        elif F[0] == "H":
            _, al, be = F
            add((A, B, C, ("D", al, be, 0)), {n: al * v for n, v in p.items()})
        elif F[0] == "D":
            _, al, be, j = F
            add((A, B, C, ("D", al, be, j + 1)), {n: al * v for n, v in p.items()})
    return {k: v for k, v in out.items() if v}


def _finish(v, real=True):
    """Expand, and take the real part when complex exponentials (sin, cos) were used.

    No ``sympy.simplify``: it can take minutes on erf/exp mixtures.
    """
    v = sp.expand(v)
    if real and v.has(sp.I):
        v = sp.expand(sp.re(sp.expand_complex(v)))
    return v


def _exact_coefficients(act, degree, q):
    struct = _to_structured(act.expr)
    coeffs = []
    parity = act.parity
    for k in range(degree + 1):
        if k > 0:
            struct = _struct_diff(struct)
        if (parity == "odd" and k % 2 == 0) or (parity == "even" and k % 2 == 1) \
                or not struct:
            coeffs.append(sp.Integer(0))
            continue
        ek = sp.Add(*[expect_atom(key, p, q) for key, p in struct.items()])
        coeffs.append(_finish(q ** sp.Rational(k, 2) * ek / sp.sqrt(sp.factorial(k))))
    return coeffs


def _exact_norm2(act, q):
    struct = _to_structured(sp.expand(act.expr ** 2))
    return _finish(sp.Add(*[expect_atom(key, p, q) for key, p in struct.items()]))


def _verify_exact(act, coeffs, nu, q, sym):
    """Compare the closed forms with the fast path; raise if any disagrees."""
    samples = [0.7, 1.9] if sym is not None else [float(q)]
    for qv in samples:
        if qv >= square_integrable_limit(act):
            continue
        A, nu_f, err, nu_err, _ = _fast_table(act, np.array([qv]), len(coeffs) - 1)
        sc = max(1.0, math.sqrt(abs(nu_f[0])))
        subs = {sym: sp.Float(qv, 30)} if sym is not None else {}
        for k, c in enumerate(coeffs):
            val = complex(sp.N(c.subs(subs), 30))
            if abs(val.imag) > 1e-12 * sc or abs(val.real - A[0, k]) > 1e-10 * sc + 100 * err[0, k]:
                raise NoClosedForm(f"verification failed for a_{k}: closed form "
                                    f"{val!r} vs numerical {A[0, k]!r}")
        if nu is not None:
            val = complex(sp.N(nu.subs(subs), 30))
            if abs(val.real - nu_f[0]) > 1e-10 * sc * sc + 100 * nu_err[0]:
                raise NoClosedForm(f"verification failed for nu: {val!r} vs {nu_f[0]!r}")


def _exact_expansion(act, degree, q, budget=None):
    qq = _check_q_exact(q)
    sym = None if qq.is_number else next(iter(qq.free_symbols))
    if sym is None:
        _check_limit(act, float(qq))
    budget = _EXACT_BUDGET + 0.5 * degree if budget is None else float(budget)
    try:
        with from_seconds(budget, label="exact Hermite coefficients"):
            coeffs = _exact_coefficients(act, degree, qq)
            try:
                nu = _exact_norm2(act, qq)
            except NoClosedForm:
                nu = None
        _verify_exact(act, coeffs, nu, qq, sym)
    except NoClosedForm as exc:
        raise ValueError(f"no closed form found for the Hermite coefficients of activation "
                         f"{act.name!r} ({exc}); use method='precise' or 'fast'") from None
    except WorkBudgetExceeded:
        raise ValueError(f"no closed form found for the Hermite coefficients of activation "
                         f"{act.name!r} within the work budget of {budget} nominal s; use "
                         "method='precise' or 'fast', or a larger timeout") from None
    if nu is None and sym is None:
        import mpmath
        pe = _precise_expansion(act, degree, qq, 30)
        nu = sp.Float(mpmath.nstr(pe.norm2, 30), 30)
    tail = None if nu is None else _finish(nu - sp.Add(*[c**2 for c in coeffs]))
    return HermiteExpansion(activation=act, q=qq, method="exact", coefficients=tuple(coeffs),
                            norm2=nu, tail=tail, abs_error=0.0, tail_error=0.0,
                            errors=(0.0,) * (degree + 1))
