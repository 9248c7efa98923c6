"""The strict sympy -> arb compiler: a branch as a function of python-flint balls.

Every elementary and error function is enclosed rigorously by arb, with exponents of
unbounded range.  An expression outside the whitelist raises ``_Unsupported``.
"""

from __future__ import annotations

import sympy as sp

from ..activations import x

# ---------------------------------------------------------------------------
# ball arithmetic (python-flint arb)
# ---------------------------------------------------------------------------

class _Unsupported(Exception):
    pass


def _arb_funcs():
    from flint import arb
    return {
        sp.exp: arb.exp, sp.log: arb.log, sp.sin: arb.sin, sp.cos: arb.cos,
        sp.tan: arb.tan, sp.sinh: arb.sinh, sp.cosh: arb.cosh, sp.tanh: arb.tanh,
        sp.asin: arb.asin, sp.acos: arb.acos, sp.atan: arb.atan, sp.asinh: arb.asinh,
        sp.acosh: arb.acosh, sp.atanh: arb.atanh, sp.erf: arb.erf, sp.erfc: arb.erfc,
        sp.Abs: abs, sp.sec: arb.sec, sp.csc: arb.csc, sp.cot: arb.cot,
    }


def _arb_const(expr):
    from flint import arb, fmpq
    if expr.is_Integer:
        return arb(int(expr))
    if expr.is_Rational:
        return arb(fmpq(int(expr.p), int(expr.q)))
    if expr is sp.pi:
        return arb.pi()
    if expr is sp.E:
        return arb.const_e()
    if expr is sp.EulerGamma:
        return arb.const_euler()
    if expr.is_Float:
        return _arb_const(sp.Rational(expr))
    return _arb_compile(expr)(None)


def _arb_compile(expr):
    """Compile a sympy expression in x into a function of an arb ball (a rigorous enclosure)."""
    funcs = _arb_funcs()
    if expr == x:
        return lambda v: v
    if not expr.free_symbols:
        if expr.is_Number or expr in (sp.pi, sp.E, sp.EulerGamma):
            c = _arb_const(expr)
            return lambda v: c
    if expr.is_Add:
        fs = [_arb_compile(a) for a in expr.args]

        def f_add(v):
            s = fs[0](v)
            for f in fs[1:]:
                s = s + f(v)
            return s
        return f_add
    if expr.is_Mul:
        fs = [_arb_compile(a) for a in expr.args]

        def f_mul(v):
            s = fs[0](v)
            for f in fs[1:]:
                s = s * f(v)
            return s
        return f_mul
    if expr.is_Pow:
        base, e = expr.args
        fb = _arb_compile(base)
        if e.is_Integer:
            n = int(e)
            if n >= 0:
                return lambda v: fb(v) ** n
            return lambda v: 1 / (fb(v) ** (-n))
        # real powers need a base >= 0 (sigma is real-valued), so a ball that straddles 0
        # only by overestimation is clipped to its non-negative part
        if e == sp.Rational(1, 2):
            return lambda v: fb(v).nonnegative_part().sqrt()
        if e == sp.Rational(-1, 2):
            return lambda v: fb(v).nonnegative_part().rsqrt()
        if not e.free_symbols:
            ce = _arb_const(e)
            return lambda v: fb(v).nonnegative_part() ** ce
        fe = _arb_compile(e)
        return lambda v: (fe(v) * fb(v).log()).exp()
    if expr.func in funcs and len(expr.args) == 1:
        fa = _arb_compile(expr.args[0])
        op = funcs[expr.func]
        return lambda v: op(fa(v))
    raise _Unsupported(f"ball arithmetic does not support {expr.func.__name__}")
