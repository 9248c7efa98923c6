"""Extended interval arithmetic for the tails ``|x| >= X`` (MATH §7).

Where an arb ball cannot reach (``[X, inf)``), monotone limits, a decay rule for
``x**p exp(h(x))`` and the substitution ``x = 1/u`` enclose a branch; anything these rules
cannot bound raises, and the checker reports ``undetermined``, never a number.
"""

from __future__ import annotations

import math

import sympy as sp

from ..activations import x
from ..symbolic.arb import Unsupported, arb_constant, to_arb
from .bounds import _down, _up

# -- extended interval arithmetic for tails [Y, +inf) -------------------------

_INF = math.inf


def _iv_from_arb(b):
    if not b.is_finite():
        return (-_INF, _INF)
    return (_down(b.lower()), _up(b.upper()))


def _iv_mul(p, q):
    def m(a, b):
        if a == 0 or b == 0:
            return 0.0
        return a * b
    prods = [m(p[0], q[0]), m(p[0], q[1]), m(p[1], q[0]), m(p[1], q[1])]
    return (_down(min(prods)), _up(max(prods)))


def _iv_recip(p):
    lo, hi = p
    if lo <= 0 <= hi:
        return (-_INF, _INF)
    return (_down(1 / hi) if hi != _INF else 0.0, _up(1 / lo) if lo != -_INF else -0.0)


def _iv_pow_int(p, n):
    lo, hi = p
    if n == 0:
        return (1.0, 1.0)
    if n < 0:
        return _iv_recip(_iv_pow_int(p, -n))
    if n % 2 == 1:
        return (_down(_pw(lo, n)), _up(_pw(hi, n)))
    if lo >= 0:
        return (_down(_pw(lo, n)), _up(_pw(hi, n)))
    if hi <= 0:
        return (_down(_pw(hi, n)), _up(_pw(lo, n)))
    return (0.0, _up(max(_pw(lo, n), _pw(hi, n))))


def _pw(v, n):
    try:
        return v ** n
    except OverflowError:
        return math.copysign(_INF, v) if n % 2 else _INF


def _monotone(fn_arb, at_minus_inf, at_plus_inf, increasing=True):
    from flint import arb

    def val(v, side):
        if v == _INF:
            return at_plus_inf
        if v == -_INF:
            return at_minus_inf
        b = fn_arb(arb(v))
        if not b.is_finite():
            return -_INF if side == "lo" else _INF
        return _down(b.lower()) if side == "lo" else _up(b.upper())

    def f(p):
        lo, hi = p
        if increasing:
            return (val(lo, "lo"), val(hi, "hi"))
        return (val(hi, "lo"), val(lo, "hi"))
    return f


def _tail_funcs():
    from flint import arb
    return {
        sp.exp: _monotone(arb.exp, 0.0, _INF),
        sp.tanh: _monotone(arb.tanh, -1.0, 1.0),
        sp.atan: _monotone(arb.atan, _down(-math.pi / 2), _up(math.pi / 2)),
        sp.erf: _monotone(arb.erf, -1.0, 1.0),
        sp.erfc: _monotone(arb.erfc, 2.0, 0.0, increasing=False),
        sp.asinh: _monotone(arb.asinh, -_INF, _INF),
        sp.sinh: _monotone(arb.sinh, -_INF, _INF),
    }


def _tail_compile(expr):
    """Compile expr in x into a function Y -> (lo, hi) enclosing expr on [Y, +inf)."""
    from flint import arb
    tfuncs = _tail_funcs()
    if expr == x:
        return lambda Y: (Y, _INF)
    if not expr.free_symbols:
        c = _iv_from_arb(to_arb(expr)(None))
        return lambda Y: c
    if expr.is_Add:
        fs = [_tail_compile(a) for a in expr.args]

        def f_add(Y):
            lo = hi = 0.0
            for f in fs:
                a, b = f(Y)
                lo, hi = _down(lo + a), _up(hi + b)
            return (lo, hi)
        return f_add
    if expr.is_Mul:
        return _tail_compile_mul(expr)
    if expr.is_Pow:
        base, e = expr.args
        fb = _tail_compile(base)
        if e.is_Integer:
            n = int(e)
            return lambda Y: _iv_pow_int(fb(Y), n)
        if e.is_Rational:
            ef = float(e)

            def f_rpow(Y):
                lo, hi = fb(Y)
                if lo < 0:
                    return (-_INF, _INF)
                ce = arb_constant(e)
                a = _monotone(lambda b: (ce * b.log()).exp(),
                              0.0 if ef > 0 else _INF, _INF if ef > 0 else 0.0,
                              increasing=ef > 0)
                return a((lo, hi)) if lo > 0 else _fix_zero_pow((lo, hi), ef, a)
            return f_rpow
        raise Unsupported("variable exponent in a tail")
    if expr.func in tfuncs and len(expr.args) == 1:
        fa = _tail_compile(expr.args[0])
        op = tfuncs[expr.func]
        return lambda Y: op(fa(Y))
    if expr.func in (sp.sin, sp.cos) and len(expr.args) == 1:
        fa = _tail_compile(expr.args[0])
        fn = arb.sin if expr.func is sp.sin else arb.cos

        def f_trig(Y):
            lo, hi = fa(Y)
            if math.isfinite(lo) and math.isfinite(hi) and hi - lo < 6:
                return _iv_from_arb(fn(arb(lo).union(arb(hi))))
            return (-1.0, 1.0)
        return f_trig
    if expr.func is sp.log and len(expr.args) == 1:
        fa = _tail_compile(expr.args[0])
        mono = _monotone(arb.log, -_INF, _INF)

        def f_log(Y):
            lo, hi = fa(Y)
            if lo <= 0:
                return (-_INF, mono((1.0, hi))[1] if hi > 1 else 0.0) if hi > 0 else (-_INF, _INF)
            return mono((lo, hi))
        return f_log
    raise Unsupported(f"tail arithmetic does not support {expr.func.__name__}")


def _fix_zero_pow(p, ef, mono):
    lo, hi = p
    if ef > 0:
        return (0.0, mono((max(lo, 1e-300), hi))[1])
    return (mono((max(lo, 1e-300), hi))[0], _INF)


def _decay_parts(factors):
    """Split Mul factors into x**p (p > 0), exp(h) with h a polynomial of negative lead, rest."""
    p = sp.Integer(0)
    h = sp.Integer(0)
    rest = []
    for f in factors:
        if f == x:
            p += 1
        elif f.is_Pow and f.args[0] == x and f.args[1].is_Rational and f.args[1] > 0:
            p += f.args[1]
        elif isinstance(f, sp.exp) and f.args[0].is_polynomial(x):
            h += f.args[0]
        else:
            rest.append(f)
    return p, h, rest


def _tail_compile_mul(expr):
    """Products; x**p * exp(h) with h -> -inf is enclosed by its monotone decay."""
    from flint import arb
    p, h, rest = _decay_parts(expr.args)
    fs_rest = [_tail_compile(f) for f in rest]
    decay = None
    if p > 0 and h != 0:
        poly = sp.Poly(h, x)
        if poly.degree() >= 1 and poly.LC() < 0:
            slope = _tail_compile(p / x + sp.diff(h, x))
            g_arb = to_arb(x ** p * sp.exp(h))
            decay = (slope, g_arb)
    if decay is None:
        fs = [_tail_compile(f) for f in expr.args]

        def f_mul(Y):
            acc = fs[0](Y)
            for f in fs[1:]:
                acc = _iv_mul(acc, f(Y))
            return acc
        return f_mul
    naive = [_tail_compile(x ** p), _tail_compile(sp.exp(h))]
    slope, g_arb = decay

    def f_mul_decay(Y):
        if Y > 0 and slope(Y)[1] < 0:
            top = g_arb(arb(Y))
            acc = (0.0, _up(top.upper()) if top.is_finite() else _INF)
        else:
            acc = _iv_mul(naive[0](Y), naive[1](Y))
        for f in fs_rest:
            acc = _iv_mul(acc, f(Y))
        return acc
    return f_mul_decay


def _normalize_tail(expr):
    """Rewrite (... + c*exp(h) + ...)**n, n < 0, h -> +inf, as exp(n h) (... e^{-h})**n.

    Makes ratios such as exp(x)/(1 + exp(x)) evaluable on [Y, inf) without inf/inf.
    """
    def grows(h):
        if not h.is_polynomial(x) or not h.has(x):
            return False
        poly = sp.Poly(h, x)
        return poly.LC() > 0

    def visit(e):
        if not e.args:
            return e
        e = e.func(*[visit(a) for a in e.args])
        if e.is_Pow and e.args[1].is_number and e.args[1] < 0 and e.args[0].is_Add:
            base, n = e.args
            hs = [t.args[0] for t in base.atoms(sp.exp) if grows(t.args[0])]
            if hs:
                hmax = max(hs, key=lambda hh: (sp.Poly(hh, x).degree(), float(sp.Poly(hh, x).LC())))
                inner = sp.expand(base * sp.exp(-hmax))
                return sp.exp(n * hmax) * inner ** n
        return e
    return visit(expr)


def _tail_enclosure_fn(expr):
    """Candidate compilations of a tail; the evaluator returns the tightest upper of |.|."""
    variants = []
    for e in (expr, _normalize_tail(expr), sp.expand(expr), _normalize_tail(sp.expand(expr))):
        if any(e == v for v, _ in variants):
            continue
        try:
            variants.append((e, _tail_compile(e)))
        except (Unsupported, TypeError, ValueError):
            continue
    try:
        # x = 1/u: rational parts (atan'', softsign) become finite at u = 0
        upos = sp.Dummy("u", positive=True)
        eu = sp.cancel(sp.together(expr.xreplace({x: 1 / upos}))).xreplace({upos: x})
        fu = to_arb(eu)

        def f_u(Y):
            from flint import arb
            if Y <= 0:
                return (-_INF, _INF)
            return _iv_from_arb(fu(arb(0).union(arb(_up(1 / Y)))))
        variants.append((eu, f_u))
    except (Unsupported, TypeError, ValueError, sp.PolynomialError):
        pass
    if not variants:
        return None

    def evaluate(Y):
        best = _INF
        for _, f in variants:
            try:
                lo, hi = f(Y)
            except (ValueError, ZeroDivisionError, OverflowError):
                continue
            m = max(abs(lo), abs(hi))
            if not math.isnan(m):
                best = min(best, m)
        return best
    return evaluate
