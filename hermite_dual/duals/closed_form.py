"""Closed-form duals derived by Price's theorem and Gaussian atoms (MATH §3).

An activation is split into atoms ``poly(x) exp(beta x + alpha x^2) {1, erf, Heaviside}``;
pairs of atoms integrate in closed form, and a closed form for a derivative integrates
back in ``c`` from ``c = 0``.  Each result is compiled to a stable float64 form and
verified against quadrature before it is trusted.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import sympy as sp

from .._util.deadline import WorkBudgetExceeded, from_seconds
from ..activations import x as _x
from ..symbolic.gauss import expect_atom
from ..symbolic.numeric import to_numpy
from ..symbolic.rewrite import NoClosedForm, linear_form, piecewise_to_heaviside
from .base import _EPS, _two_prod_diff, c, q1, q2
from .quadrature import _quad_point

# ---------------------------------------------------------------------------
# closed forms: derivation (direct Gaussian integrals, Price's theorem)
# ---------------------------------------------------------------------------

_t = sp.Symbol("t", real=True)
_a1, _a2 = sp.symbols("alpha1 alpha2")


@functools.lru_cache(maxsize=None)
def _atom(m=0, beta=sp.S.Zero, alpha=sp.S.Zero, erf=None, heav=None, delta=None):
    """x^m exp(beta x^2 + alpha x) [erf(a x + b)] [Heaviside(x - heav)] [Dirac(x - delta)]."""
    return (int(m), sp.sympify(beta), sp.sympify(alpha), erf, heav, delta)


def _atom_expr(at):
    m, beta, alpha, erf, heav, delta = at
    e = _x ** m * sp.exp(beta * _x ** 2 + alpha * _x)
    if erf is not None:
        e = e * sp.erf(erf[0] * _x + erf[1])
    if heav is not None:
        e = e * sp.Heaviside(_x - heav)
    if delta is not None:
        e = e * sp.DiracDelta(_x - delta)
    return e


def _preprocess(expr):
    e = piecewise_to_heaviside(expr)
    e = e.rewrite(sp.Heaviside)
    e = e.replace(lambda s: isinstance(s, sp.sign), lambda s: 2 * sp.Heaviside(s.args[0]) - 1)
    e = e.replace(lambda s: isinstance(s, sp.erfc), lambda s: 1 - sp.erf(s.args[0]))
    e = e.rewrite(sp.exp)
    e = e.replace(lambda s: isinstance(s, sp.Heaviside) and len(s.args) > 1,
                  lambda s: sp.Heaviside(s.args[0]))
    return sp.expand(sp.powsimp(sp.expand(e), combine="exp"))


def _decompose(expr):
    """sigma = sum coef * atom; a dict atom -> coef, or raise NoClosedForm."""
    out = {}
    e = _preprocess(expr)
    for term in sp.Add.make_args(e):
        coef, dep = term.as_independent(_x, as_Add=False)
        for c0, at in _classify(dep):
            out[at] = out.get(at, 0) + coef * c0
    return {a: sp.simplify(v) for a, v in out.items() if sp.simplify(v) != 0}


def _classify(dep):
    """A product of x-dependent factors -> list of (coef, atom)."""
    m, beta, alpha, const = 0, sp.S.Zero, sp.S.Zero, sp.S.Zero
    erf = heav = delta = None
    heav_flip = False
    for f in sp.Mul.make_args(dep):
        if f == 1:
            continue
        if f == _x:
            m += 1
        elif f.is_Pow and f.base == _x and f.exp.is_Integer and f.exp > 0:
            m += int(f.exp)
        elif isinstance(f, sp.exp) or (f.is_Pow and f.base is sp.E):
            ex = f.args[0] if isinstance(f, sp.exp) else f.exp
            p = sp.Poly(sp.expand(ex), _x)
            if p.degree() > 2:
                raise NoClosedForm(f"exponent {ex}")
            cs = p.all_coeffs()[::-1] + [0, 0, 0]
            const += cs[0]
            alpha += cs[1]
            beta += cs[2]
        elif isinstance(f, sp.erf) and erf is None:
            erf = linear_form(f.args[0])
        elif isinstance(f, sp.Heaviside) and heav is None and delta is None:
            a, b = linear_form(f.args[0])
            heav = -b / a
            heav_flip = bool(a < 0)
        elif isinstance(f, sp.DiracDelta) and len(f.args) == 1 and delta is None and heav is None:
            a, b = linear_form(f.args[0])
            delta = -b / a
            const += -sp.log(sp.Abs(a))
        else:
            raise NoClosedForm(f"factor {f}")
    if not (sp.re(beta) <= 0) in (True, sp.true) and beta != 0:
        raise NoClosedForm("exp(+x^2) growth")
    if sp.im(beta) != 0:
        raise NoClosedForm("complex Gaussian exponent")
    k = sp.exp(const)
    if delta is not None:
        val = (_x ** m * sp.exp(beta * _x ** 2 + alpha * _x)).subs(_x, delta)
        if erf is not None:
            val = val * sp.erf(erf[0] * delta + erf[1])
        return [(k * val, _atom(delta=delta))]
    if heav is not None and heav_flip:
        return [(k, _atom(m, beta, alpha, erf)), (-k, _atom(m, beta, alpha, erf, heav))]
    return [(k, _atom(m, beta, alpha, erf, heav))]


def _diff(at):
    """The derivative of an atom, decomposed."""
    if at[5] is not None:
        raise NoClosedForm("derivative of a Dirac mass")
    return _decompose(sp.diff(_atom_expr(at), _x))


def _mean1(at, mean, var):
    """E[atom(X)], X ~ N(mean, var) (sympy), or raise NoClosedForm.

    The atom ``x^m exp(beta x^2 + alpha x) {1, erf(a x + b), Heaviside(x - k),
    delta(x - d)}`` is shifted to ``y = x - mean ~ N(0, var)`` and handed to the one
    Gaussian-expectation engine (:func:`hermite_dual.symbolic.gauss.expect_atom`) the
    exact Hermite coefficients use too.
    """
    m, beta, alpha, erf, heav, delta = at
    if erf is not None and heav is not None:
        raise NoClosedForm("erf times Heaviside")
    if delta is not None:
        F = ("D", 1, mean - delta, 0)
    elif erf is not None:
        a, b = erf
        F = ("erf", a, a * mean + b)
    elif heav is not None:
        F = ("H", 1, mean - heav)
    else:
        F = ("1",)
    p = {n: sp.binomial(m, n) * mean ** (m - n) for n in range(m + 1)}   # (y + mean)^m
    key = (beta, 2 * beta * mean + alpha, beta * mean ** 2 + alpha * mean, F)
    return expect_atom(key, {n: v for n, v in p.items() if v != 0}, var, check=False)


def _is_plain_poly(at):
    return at[1] == 0 and at[2] == 0 and at[3] is None and at[4] is None and at[5] is None


def _is_expq(at):
    return at[3] is None and at[4] is None and at[5] is None


def _pair_expq(f, g):
    """E[f(u) g(v)] for two x^m exp(beta x^2 + alpha x) atoms: a direct Gaussian integral."""
    S = sp.Matrix([[q1, c], [c, q2]])
    Bm = sp.diag(f[1], g[1])
    M = sp.eye(2) - 2 * S * Bm
    av = sp.Matrix([_a1, _a2])
    quad = (av.T * M.inv() * S * av)[0, 0]
    mgf = sp.exp(quad / 2) / sp.sqrt(M.det())
    d = sp.diff(mgf, _a1, f[0]) if f[0] else mgf
    d = sp.diff(d, _a2, g[0]) if g[0] else d
    return d.subs({_a1: f[2], _a2: g[2]})


def _swap(expr):
    return expr.xreplace({q1: q2, q2: q1})


_MAX_DEPTH = 4


def _pair(f, g, depth=0):
    """K_{f,g}(q1, q2, c) = E[f(u) g(v)] for atoms f, g; sympy, or raise NoClosedForm."""
    return _pair_cached(f, g, depth)


@functools.lru_cache(maxsize=4096)
def _pair_cached(f, g, depth):
    one = _atom()
    if f == one:
        return _mean1(g, 0, q2)
    if g == one:
        return _mean1(f, 0, q1)
    if f[5] is not None:
        k = f[5]
        return (sp.exp(-k ** 2 / (2 * q1)) / sp.sqrt(2 * sp.pi * q1)
                * _mean1(g, c * k / q1, q2 - c ** 2 / q1))
    if g[5] is not None:
        return _swap(_pair_cached(g, f, depth))
    if _is_expq(f) and _is_expq(g):
        return _pair_expq(f, g)
    if _is_plain_poly(g) or _is_plain_poly(f):
        # Price's theorem as a finite Taylor series in c around c = 0
        if _is_plain_poly(f):
            return _swap(_pair_cached(g, f, depth))
        total = sp.S.Zero
        fj = {f: sp.S.One}
        for j in range(g[0] + 1):
            gj = sp.factorial(g[0]) / sp.factorial(g[0] - j)
            e1 = sum((co * _mean1(a, 0, q1) for a, co in fj.items()), sp.S.Zero)
            e2 = gj * _mean1(_atom(g[0] - j), 0, q2)
            total += c ** j / sp.factorial(j) * e1 * e2
            nxt = {}
            for a, co in fj.items():
                for a2, co2 in _diff(a).items():
                    nxt[a2] = nxt.get(a2, 0) + co * co2
            fj = nxt
        return total
    if depth >= _MAX_DEPTH:
        raise NoClosedForm("Price recursion too deep")
    # Price's theorem: K_{f,g}(c) = E[f] E[g] + int_0^c K_{f',g'}(t) dt
    integrand = sp.S.Zero
    for a, ca in _diff(f).items():
        for b, cb in _diff(g).items():
            integrand += ca * cb * _pair_cached(a, b, depth + 1)
    integrand = sp.simplify(integrand.subs(c, _t))
    _integrable_in_c(integrand)
    prim = sp.integrate(integrand, (_t, 0, c), conds="none")
    if prim.has(sp.Integral) or prim.has(sp.Piecewise):
        raise NoClosedForm("integral in c")
    return _mean1(f, 0, q1) * _mean1(g, 0, q2) + prim


def _integrable_in_c(integrand):
    """Fail fast where the integral in c has no elementary form.

    An exponential whose exponent is not a polynomial in t (``exp(-b^2 (...)/(D - 4 t^2))``
    from an offset Gaussian pair) integrates to a bivariate normal probability (Owen's T),
    never to an elementary function: sympy's heuristic Risch search spent 11-15 s on
    ``erf(x/2 + 1/2)`` to find nothing.  Exponents linear in t (sin, cos, exp) and
    algebraic integrands (erf, relu, step: asin, sqrt) go through.
    """
    for e in integrand.atoms(sp.exp):
        arg = e.args[0]
        if arg.has(_t) and not arg.is_polynomial(_t):
            raise NoClosedForm("integral in c of an exponential of a non-polynomial in c")


def _derive_closed_form(expr):
    """A closed form of K_sigma in (q1, q2, c), or None (not yet numerically checked)."""
    try:
        terms = _decompose(expr)
        items = list(terms.items())
        total = sp.S.Zero
        for i, (fi, wi) in enumerate(items):
            for j in range(i, len(items)):
                gj, wj = items[j]
                kij = _pair(fi, gj)
                if i == j:
                    total += wi * wj * kij
                else:
                    total += wi * wj * (kij + _swap(kij))
    except (NoClosedForm, sp.PolynomialError, ValueError, TypeError, NotImplementedError):
        return None
    if sum(1 for _ in sp.preorder_traversal(total)) > _MAX_NODES:
        # no use in float64 (cancellation across thousands of terms) and slow to verify:
        # the derivative dual of exp(-x**2)*sin(x) has 8,669 nodes, 39,919 operations once
        # expanded, and simplifying it used the whole search budget (10 s of CPU) before
        # giving up; the closed forms found for the built-ins have at most a few hundred
        return None
    total = sp.expand(total)
    if total.has(sp.I):
        total = sp.expand(sp.expand_complex(total))
    if total.has(sp.I) or total.has(sp.nan) or total.has(sp.zoo):
        return None
    return _tidy(total)


_MAX_NODES = 4000    # a derived closed form with more nodes than this, unexpanded, is refused


def _tidy(expr):
    """A readable form: simplify, and fold exponentials into sinh/cosh where shorter."""
    try:
        s = sp.simplify(expr)
    except Exception:  # noqa: BLE001 - sympy's simplify can fail in many ways
        s = expr
    try:
        h = sp.simplify(sp.powsimp(s.rewrite(sp.cosh)))
        if sp.count_ops(h) < sp.count_ops(s):
            s = h
    except Exception:  # noqa: BLE001
        pass
    return s


_D = sp.Symbol("D", positive=True)   # q1 q2 - c^2, computed with an exact two-product
_DERIVE_SECONDS = 30


def _stable_base(b):
    """Rewrite a radicand containing c^2 in terms of D = q1 q2 - c^2."""
    nb = sp.expand(sp.cancel(b)).subs(c ** 2, q1 * q2 - _D)
    return sp.factor_terms(sp.cancel(sp.expand(nb)))


def _float64_form(expr):
    """The closed form rewritten for float64 (see the module docstring), in (q1, q2, c, D)."""
    e = expr.replace(lambda s: isinstance(s, (sp.sinh, sp.cosh, sp.tanh)) and s.has(c),
                     lambda s: s.rewrite(sp.exp))
    e = sp.powsimp(sp.expand(e), combine="exp")
    e = e.replace(
        lambda s: isinstance(s, sp.asin),
        lambda s: sp.atan2(s.args[0], sp.sqrt(_stable_base(1 - s.args[0] ** 2))))
    e = e.replace(
        lambda s: isinstance(s, sp.acos),
        lambda s: sp.atan2(sp.sqrt(_stable_base(1 - s.args[0] ** 2)), s.args[0]))
    e = e.replace(
        lambda s: s.is_Pow and s.exp.is_Rational and s.exp.q == 2 and s.base.has(c),
        lambda s: sp.Pow(_stable_base(s.base), s.exp))
    return e


def _compile_float64(expr):
    e = _float64_form(expr)
    fn = to_numpy(e, (q1, q2, c, _D))

    def evaluate(a, b, cc):
        d = np.maximum(_two_prod_diff(a, b, cc), 0.0)
        with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
            out = fn(a, b, cc, d)
        return np.broadcast_to(np.asarray(out, dtype=np.float64), np.shape(a))
    return evaluate


def _check_points():
    rng = np.random.default_rng(20260611)
    pts = []
    for rho in (rng.uniform(-0.9, 0.9), 0.995, -1.0):
        a, b = np.exp(rng.uniform(np.log(0.3), np.log(3.0), size=2))
        pts.append((float(a), float(b), float(rho * math.sqrt(a * b))))
    return pts


def _verify_closed(expr, act):
    """Check a derived closed form (sympy at 30 digits and its float64 form) at random
    covariances against the quadrature route; True when every point agrees."""
    fn = act
    evaluate = _compile_float64(expr)
    for a, b, cc in _check_points():
        quad, absval = _quad_point(fn, act.kinks_float, a, b, cc, 16)
        quad10 = quad
        nu_a = _quad_point(fn, act.kinks_float, a, a, a, 16)[0]
        nu_b = _quad_point(fn, act.kinks_float, b, b, b, 16)[0]
        scale = absval + math.sqrt(abs(nu_a * nu_b))
        tol = 1e-10 * max(scale, 1e-300) + 10 * abs(quad - quad10)
        exact = complex(expr.evalf(30, subs={q1: sp.Float(a, 30), q2: sp.Float(b, 30),
                                             c: sp.Float(cc, 30)}))
        if abs(exact.imag) > tol or abs(exact.real - quad) > tol:
            return False
        num = float(evaluate(np.array(a), np.array(b), np.array(cc)))
        if not abs(num - quad) <= tol:
            return False
    return True


def _with_work_budget(seconds, fn, *args):
    """fn(*args) under a work budget of ``seconds`` nominal seconds; None when spent.

    The budget counts work (:mod:`hermite_dual._util.deadline`), so whether a closed form
    is found does not depend on machine load, and the answer may be cached.
    """
    try:
        with from_seconds(seconds, label="closed-form search"):
            return fn(*args)
    except WorkBudgetExceeded:
        return None


def _compile_numba(expr, evaluate):
    """``(fv, fd)`` cfuncs of a closed form and its c-derivative, checked, or ``None``."""
    from ..symbolic.numeric import to_numba
    try:
        fv = to_numba(_float64_form(expr), (q1, q2, c, _D))
        fd = to_numba(_float64_form(sp.diff(expr, c)), (q1, q2, c, _D))
    except Exception:  # noqa: BLE001 - numba and sympy's printer raise many types
        return None
    for a, b, cc in _check_points():
        d = float(max(_two_prod_diff(a, b, cc), 0.0))
        ref = float(evaluate(np.array(a), np.array(b), np.array(cc)))
        v = fv.ctypes(a, b, cc, d)
        if not math.isclose(v, ref, rel_tol=1e-13, abs_tol=1e-13 * abs(ref) + 1e-300):
            return None
        h = 1e-6 * math.sqrt(a * b)
        if abs(cc) + h < math.sqrt(a * b):
            lo = float(evaluate(np.array(a), np.array(b), np.array(cc - h)))
            hi = float(evaluate(np.array(a), np.array(b), np.array(cc + h)))
            if not math.isclose(fd.ctypes(a, b, cc, d), (hi - lo) / (2 * h), rel_tol=1e-6,
                                abs_tol=1e-8):
                return None
    return fv, fd


def refine_near_one(fn, fa, fb, fc, idx, val, bound, scale):
    """Closed-form values ``fn(q1, q2, c)`` (mpmath) at ``|rho| >= 1 - 1e-3``, in place.

    Near ``|rho| = 1`` a closed form cancels (``sqrt(q1 q2 - c^2)``, ``asin(rho)``
    beside ``pi/2``): measured on ``Max(x, 0)**2`` at ``(10, 1, sqrt(10))``, the
    float64 value was off by 5.3e-13 where 64 eps of the kernel's scale promised
    2.2e-13.  There the expression is evaluated at 50 digits from the float64
    arguments; the result is rounded to float64, and its bound is that rounding
    plus 1e-30 of the scale (the 50-digit evaluation's own cancellation).  Where the
    float64 value already holds its bound against the 50-digit one it is kept, so
    exact values (the step dual's 0 at rho = -1) stay exact."""
    import mpmath

    with mpmath.workdps(50):
        for i in idx:
            v = fn(mpmath.mpf(float(fa[i])), mpmath.mpf(float(fb[i])),
                   mpmath.mpf(float(fc[i])))
            im = 0.0
            if isinstance(v, mpmath.mpc):
                # |rho| = 1 to rounding: asin/acos of 1 + 1e-50 has an imaginary
                # part of order 1e-25, the size of its effect on the value
                im = float(abs(v.imag))
                if not im <= 1e-20 * (1.0 + float(abs(v))):
                    continue                      # keep the float64 value and bound
                v = v.real
            f = float(v)
            if not math.isfinite(f):
                continue
            extra = 1e-30 * float(scale[i]) + im
            if abs(float(v - mpmath.mpf(float(val[i])))) + extra <= bound[i]:
                continue          # the float64 value holds its bound: keep it as is
            val[i] = f
            bound[i] = (abs(float(v - mpmath.mpf(f))) + 2 * _EPS * abs(f) + im
                        + 1e-30 * float(scale[i]))
