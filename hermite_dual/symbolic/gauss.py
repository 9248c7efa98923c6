"""The one engine of one-dimensional Gaussian expectations of atoms (MATH §2-§3).

An atom is ``p(x) exp(A x^2 + B x + C) F(x)`` with a polynomial ``p`` and ``F`` one of
1, a Heaviside step, ``erf`` of a linear form, or a derivative of Dirac's delta.  Both
symbolic routes reduce their integrals to these: the exact Hermite coefficients
(``a_k(q) = q^(k/2) E[sigma^(k)(sqrt(q) Z)] / sqrt(k!)``, Stein's identity) and the
closed-form duals (one-dimensional means under conditional Gaussian laws).

>>> import sympy as sp
>>> q = sp.Symbol("q", positive=True)
>>> expect_atom((0, 0, 0, ("1",)), {2: 1}, q)          # E[X^2], X ~ N(0, q)
q
>>> expect_atom((0, 0, 0, ("H", 1, 0)), {0: 1}, q)     # P(X > 0)
1/2
"""

import sympy as sp

from .rewrite import NoClosedForm

__all__ = ["expect_atom", "moments", "normal_pdf", "gauss_integral_poly", "poly_add",
           "poly_deriv", "poly_mul_linear"]


def poly_add(p, r, c=1):
    out = dict(p)
    for n, v in r.items():
        out[n] = sp.expand(out.get(n, 0) + c * v)
        if out[n] == 0:
            del out[n]
    return out


def poly_deriv(p):
    return {n - 1: n * v for n, v in p.items() if n > 0}


def poly_mul_linear(p, a2, b):
    """p(x) * (a2 x + b)."""
    out = {}
    for n, v in p.items():
        if a2 != 0:
            out[n + 1] = out.get(n + 1, 0) + a2 * v
        if b != 0:
            out[n] = out.get(n, 0) + b * v
    return {n: sp.expand(v) for n, v in out.items() if sp.expand(v) != 0}


def moments(m, s, n_max):
    """E[X^n], X ~ N(m, s), n = 0..n_max."""
    M = [sp.Integer(1), m]
    for n in range(2, n_max + 1):
        M.append(m * M[n - 1] + (n - 1) * s * M[n - 2])
    return M[: n_max + 1]


def normal_pdf(y, m, s):
    return sp.exp(-(y - m) ** 2 / (2 * s)) / sp.sqrt(2 * sp.pi * s)


def expect_atom(key, p, q, *, check=True):
    """``E_{X ~ N(0, q)}[ p(X) exp(A X^2 + B X + C) F(X) ]`` in closed form.

    ``key = (A, B, C, F)`` with ``F`` one of ``("1",)``, ``("H", al, be)`` (the Heaviside
    step of ``al x + be``), ``("erf", l, e)`` (``erf(l x + e)``) or ``("D", al, be, j)``
    (the j-th derivative of Dirac's delta at ``al x + be = 0``); ``p`` a polynomial as
    ``{power: coefficient}``.  ``check=True`` proves ``A < 1/(2q)`` (integrability) or
    raises :class:`NoClosedForm`; ``check=False`` trusts the caller (the closed-form duals,
    whose conditional variances sympy cannot always sign).
    """
    A, B, C, F = key
    A, B, C = (sp.sympify(v) for v in (A, B, C))
    if F[0] in ("H", "erf"):
        F = (F[0], sp.sympify(F[1]), sp.sympify(F[2]))
    elif F[0] == "D":
        F = ("D", sp.sympify(F[1]), sp.sympify(F[2]), int(F[3]))
    A2 = A - 1 / (2 * q)
    if check and not sp.ask(sp.Q.negative(A2)):
        if A2.is_number and A2 < 0:
            pass
        else:
            raise NoClosedForm("growth exp(A x^2) with A >= 1/(2q)")
    if A == 0:
        s = q
    elif check:
        s = sp.simplify(-1 / (2 * A2))
    else:
        s = q / (1 - 2 * A * q)
    m = B * s
    pref = sp.exp(C + B**2 * s / 2) * sp.sqrt(s / q)
    nmax = max(p) if p else 0
    if F[0] == "1":
        M = moments(m, s, nmax)
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
            return y ** n * normal_pdf(y, m, s)
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
            g = gauss_integral_poly(n - 1, m, s, -l**2, -2 * l * e, -e**2)
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
        G0 = pref * normal_pdf(x0, m, s)
        total = sp.Integer(0)
        pd = dict(p)
        for i in range(0, j + 1):
            if not pd:
                break
            pval = sp.Add(*[v * x0 ** n for n, v in pd.items()])
            order = j - i
            total += sp.binomial(j, i) * pval * (-1) ** order * s ** sp.Rational(-order, 2) \
                * He[order]
            pd = poly_deriv(pd)
        return (-1) ** j / abs(al) / al ** j * G0 * total
    raise NoClosedForm(f"kind {F}")  # pragma: no cover - keys are built above


def gauss_integral_poly(n, m, s, a, b, c):
    """E_{X~N(m,s)}[X^n exp(a X^2 + b X + c)] (closed form, needs 1/s - 2a > 0)."""
    s2 = 1 / (1 / s - 2 * a)
    m2 = s2 * (m / s + b)
    pref = sp.sqrt(s2 / s) * sp.exp(c + m2**2 / (2 * s2) - m**2 / (2 * s))
    return pref * moments(m2, s2, n)[n]


