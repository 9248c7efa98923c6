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


def _poly_add(p, r, c=1):
    out = dict(p)
    for n, v in r.items():
        out[n] = sp.expand(out.get(n, 0) + c * v)
        if out[n] == 0:
            del out[n]
    return out


def _poly_deriv(p):
    return {n - 1: n * v for n, v in p.items() if n > 0}


def _poly_mul_linear(p, a2, b):
    """p(x) * (a2 x + b)."""
    out = {}
    for n, v in p.items():
        if a2 != 0:
            out[n + 1] = out.get(n + 1, 0) + a2 * v
        if b != 0:
            out[n] = out.get(n, 0) + b * v
    return {n: sp.expand(v) for n, v in out.items() if sp.expand(v) != 0}


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
        out[key] = _poly_add(out.get(key, {}), {n: coeff})
    return {k: v for k, v in out.items() if v}


def _struct_diff(expr_dict):
    """d/dx of the structured expression (distributional: H' = delta)."""
    out = {}

    def add(key, poly):
        if poly:
            out[key] = _poly_add(out.get(key, {}), poly)

    for key, p in expr_dict.items():
        A, B, C, F = key
        add(key, _poly_add(_poly_deriv(p), _poly_mul_linear(p, 2 * A, B)))
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


def _moments(m, s, n_max):
    """E[X^n], X ~ N(m, s), n = 0..n_max."""
    M = [sp.Integer(1), m]
    for n in range(2, n_max + 1):
        M.append(m * M[n - 1] + (n - 1) * s * M[n - 2])
    return M[: n_max + 1]


def _normal_pdf(y, m, s):
    return sp.exp(-(y - m) ** 2 / (2 * s)) / sp.sqrt(2 * sp.pi * s)


def _expect_key(key, p, q):
    """E_{X ~ N(0, q)}[ p(X) exp(A X^2 + B X + C) F(X) ] in closed form."""
    A, B, C, F = key
    A2 = A - 1 / (2 * q)
    if not sp.ask(sp.Q.negative(A2)):
        if A2.is_number and A2 < 0:
            pass
        else:
            raise NoClosedForm("growth exp(A x^2) with A >= 1/(2q)")
    s = sp.simplify(-1 / (2 * A2))
    m = B * s
    pref = sp.exp(C + B**2 * s / 2) * sp.sqrt(s / q)
    nmax = max(p) if p else 0
    if F[0] == "1":
        M = _moments(m, s, nmax)
        return pref * sp.Add(*[v * M[n] for n, v in p.items()])
    if F[0] == "H":
        _, al, be = F
        if not al.is_number or not al.is_real or al == 0:
            raise NoClosedForm(f"Heaviside slope {al}")
        if B.has(sp.I):
            # half-line integrals of exp(i c x) phi are erf of complex arguments: no
            # elementary real closed form (and sympy's rewriting of them is very slow)
            raise NoClosedForm("half-line integral of an oscillating term")
        x0 = -be / al
        lo, hi = (x0, sp.oo) if al > 0 else (-sp.oo, x0)

        def edge(y, n):
            if y in (sp.oo, -sp.oo):
                return sp.Integer(0)
            return y ** n * _normal_pdf(y, m, s)
        erf_hi = 1 if hi == sp.oo else sp.erf((hi - m) / sp.sqrt(2 * s))
        erf_lo = -1 if lo == -sp.oo else sp.erf((lo - m) / sp.sqrt(2 * s))
        J = [(erf_hi - erf_lo) / 2]
        for n in range(1, nmax + 1):
            prev2 = J[n - 2] if n >= 2 else 0
            J.append(m * J[n - 1] + (n - 1) * s * prev2
                     - s * (edge(hi, n - 1) - edge(lo, n - 1)))
        return pref * sp.Add(*[v * J[n] for n, v in p.items()])
    if F[0] == "erf":
        _, l, e = F
        # I_n = E_{N(m,s)}[X^n erf(l X + e)]:  I_n = m I_{n-1} + (n-1) s I_{n-2}
        #        + s (2 l / sqrt(pi)) E_{N(m,s)}[X^(n-1) exp(-(l X + e)^2)]
        I = [sp.erf((l * m + e) / sp.sqrt(1 + 2 * l**2 * s))]
        for n in range(1, nmax + 1):
            prev2 = I[n - 2] if n >= 2 else 0
            g = _gauss_integral_poly(n - 1, m, s, -l**2, -2 * l * e, -e**2)
            I.append(m * I[n - 1] + (n - 1) * s * prev2 + s * 2 * l / sp.sqrt(sp.pi) * g)
        return pref * sp.Add(*[v * I[n] for n, v in p.items()])
    if F[0] == "D":
        _, al, be, j = F
        if not al.is_number or not al.is_real or al == 0:
            raise NoClosedForm(f"DiracDelta slope {al}")
        x0 = -be / al
        # int p(x) G(x) delta^(j)(al x + be) dx = (-1)^j |al|^-1 al^-j (p G)^(j)(x0),
        # G = pref * N(m, s) density; G^(i) = G (-1)^i s^(-i/2) He_i((x - m)/sqrt(s)).
        y = (x0 - m) / sp.sqrt(s)
        He = [sp.Integer(1), y]
        for i in range(1, j):
            He.append(sp.expand(y * He[i] - i * He[i - 1]))
        G0 = pref * _normal_pdf(x0, m, s)
        total = sp.Integer(0)
        pd = dict(p)
        for i in range(0, j + 1):
            if not pd:
                break
            pval = sp.Add(*[v * x0 ** n for n, v in pd.items()])
            order = j - i
            total += sp.binomial(j, i) * pval * (-1) ** order * s ** sp.Rational(-order, 2) \
                * He[order]
            pd = _poly_deriv(pd)
        return (-1) ** j / abs(al) / al ** j * G0 * total
    raise NoClosedForm(f"kind {F}")  # pragma: no cover - keys are built above


def _gauss_integral_poly(n, m, s, a, b, c):
    """E_{X~N(m,s)}[X^n exp(a X^2 + b X + c)] (closed form, needs 1/s - 2a > 0)."""
    s2 = 1 / (1 / s - 2 * a)
    m2 = s2 * (m / s + b)
    pref = sp.sqrt(s2 / s) * sp.exp(c + m2**2 / (2 * s2) - m**2 / (2 * s))
    return pref * _moments(m2, s2, n)[n]


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
        ek = sp.Add(*[_expect_key(key, p, q) for key, p in struct.items()])
        coeffs.append(_finish(q ** sp.Rational(k, 2) * ek / sp.sqrt(sp.factorial(k))))
    return coeffs


def _exact_norm2(act, q):
    struct = _to_structured(sp.expand(act.expr ** 2))
    return _finish(sp.Add(*[_expect_key(key, p, q) for key, p in struct.items()]))


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
