"""The one sympy -> arb compiler (python-flint ball arithmetic), strict or oracle.

``to_arb(expr)`` turns a sympy expression in ``x`` into a function of an ``arb`` ball.
Every elementary and error function is enclosed rigorously by arb, with exponents of
unbounded range (``exp(1e30)`` is a ball, not an overflow).

* ``strict=True`` (the conditions checker, MATH §7): the result is a rigorous enclosure
  of the expression over the whole input ball.  Only smooth branches are accepted --
  the checker cuts the line at the kinks first -- so ``Heaviside``, ``Max``/``Min``,
  ``Piecewise`` and ``sign`` raise :class:`Unsupported`.
* ``strict=False`` (the oracle of :meth:`hermite_dual.DualKernel.precise`, evaluated at
  narrow balls around quadrature nodes): additionally ``Heaviside``, ``Max``/``Min``,
  ``Piecewise`` and ``sign``, whose branch is decided at the ball's midpoint where the
  ball straddles a kink (the quadrature never puts a node on one).

Real powers take the non-negative part of their base: sigma is real-valued, so a base
ball that straddles 0 does so only by overestimation.

>>> import sympy as sp
>>> from flint import arb
>>> from hermite_dual.activations import x
>>> f = to_arb(sp.tanh(x) + x**2 / 3)
>>> f(arb(1)).contains(arb(1).tanh() + arb(1) / 3)
True
>>> to_arb(sp.Max(x, 0))
Traceback (most recent call last):
...
hermite_dual.symbolic.arb.Unsupported: cannot evaluate 'Max(0, x)' in strict ball arithmetic
"""

from __future__ import annotations

import sympy as sp

from ..library import x

__all__ = ["Unsupported", "to_arb", "arb_constant"]


class Unsupported(ValueError):
    """The expression has a node the ball arithmetic cannot enclose."""


def _unary():
    from flint import arb
    return {
        sp.exp: arb.exp, sp.log: arb.log, sp.sin: arb.sin, sp.cos: arb.cos,
        sp.tan: arb.tan, sp.sinh: arb.sinh, sp.cosh: arb.cosh, sp.tanh: arb.tanh,
        sp.asin: arb.asin, sp.acos: arb.acos, sp.atan: arb.atan, sp.asinh: arb.asinh,
        sp.acosh: arb.acosh, sp.atanh: arb.atanh, sp.erf: arb.erf, sp.erfc: arb.erfc,
        sp.Abs: abs, sp.sec: arb.sec, sp.csc: arb.csc, sp.cot: arb.cot,
    }


def arb_constant(expr):
    """An exact (or correctly enclosed) ball for a constant sympy expression."""
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
        return arb_constant(sp.Rational(expr))
    if not expr.free_symbols:
        return to_arb(expr)(None)
    raise Unsupported(f"cannot evaluate constant {sp.sstr(expr)!r} in ball arithmetic")


def _sign_at_mid(val):
    """Sign of a ball; the midpoint decides when the ball straddles 0 (oracle only)."""
    if val > 0:
        return 1
    if val < 0:
        return -1
    m = float(val.mid())
    return (m > 0) - (m < 0)


def to_arb(expr, *, strict=True):
    """Compile ``expr`` (in :data:`hermite_dual.activations.x`) into ``arb -> arb``.

    Parameters
    ----------
    expr : sympy.Expr
    strict : bool
        ``True``: rigorous over the whole input ball, smooth expressions only;
        ``False``: also kinked nodes, decided at the ball's midpoint (see the module).

    Raises
    ------
    Unsupported
        A node outside the whitelist (a ``ValueError``).
    """
    return _Compiler(strict).build(expr)


class _Compiler:
    def __init__(self, strict):
        self.strict = strict
        self.unary = _unary()

    def build(self, e):
        if e == x:
            return lambda v: v
        if not e.free_symbols and (e.is_Number or e in (sp.pi, sp.E, sp.EulerGamma)):
            c = arb_constant(e)
            return lambda v: c
        if e.is_Add:
            fs = [self.build(a) for a in e.args]

            def f_add(v):
                s = fs[0](v)
                for f in fs[1:]:
                    s = s + f(v)
                return s
            return f_add
        if e.is_Mul:
            fs = [self.build(a) for a in e.args]

            def f_mul(v):
                s = fs[0](v)
                for f in fs[1:]:
                    s = s * f(v)
                return s
            return f_mul
        if e.is_Pow:
            return self._pow(*e.args)
        if e.func in self.unary and len(e.args) == 1:
            fa = self.build(e.args[0])
            op = self.unary[e.func]
            return lambda v: op(fa(v))
        if not self.strict:
            kinked = self._kinked(e)
            if kinked is not None:
                return kinked
        mode = "strict " if self.strict else ""
        raise Unsupported(f"cannot evaluate {sp.sstr(e)!r} in {mode}ball arithmetic")

    def _pow(self, base, ex):
        fb = self.build(base)
        if ex.is_Integer:
            n = int(ex)
            if n >= 0:
                return lambda v: fb(v) ** n
            return lambda v: 1 / (fb(v) ** (-n))
        if ex == sp.Rational(1, 2):
            return lambda v: fb(v).nonnegative_part().sqrt()
        if ex == sp.Rational(-1, 2):
            return lambda v: fb(v).nonnegative_part().rsqrt()
        if not ex.free_symbols:
            ce = arb_constant(ex)
            return lambda v: fb(v).nonnegative_part() ** ce
        fe = self.build(ex)
        return lambda v: (fe(v) * fb(v).log()).exp()

    def _kinked(self, e):
        from flint import arb
        if isinstance(e, sp.sign) and len(e.args) == 1:
            fa = self.build(e.args[0])
            return lambda v: arb(_sign_at_mid(fa(v)))
        if isinstance(e, sp.Heaviside):
            fa = self.build(e.args[0])
            h0 = arb_constant(e.args[1]) if len(e.args) > 1 else arb(1) / 2
            one, zero = arb(1), arb(0)

            def heav(v):
                s = _sign_at_mid(fa(v))
                return one if s > 0 else (zero if s < 0 else h0)
            return heav
        if isinstance(e, (sp.Max, sp.Min)):
            parts = [self.build(a) for a in e.args]
            pick = max if isinstance(e, sp.Max) else min
            return lambda v: pick((p(v) for p in parts), key=lambda b: float(b.mid()))
        if isinstance(e, sp.Piecewise):
            return self._piecewise(e)
        return None

    def _piecewise(self, e):
        tests = {sp.StrictGreaterThan: lambda s: s > 0, sp.GreaterThan: lambda s: s >= 0,
                 sp.StrictLessThan: lambda s: s < 0, sp.LessThan: lambda s: s <= 0}
        branches = []
        for ex, cond in e.args:
            fex = self.build(ex)
            if cond is sp.true:
                branches.append((fex, None, None))
                continue
            if type(cond) not in tests:
                raise Unsupported(f"cannot evaluate condition {sp.sstr(cond)!r} in ball "
                                  "arithmetic")
            branches.append((fex, self.build(cond.lhs - cond.rhs), tests[type(cond)]))

        def pw(v):
            for fex, lhs, test in branches:
                if lhs is None or test(_sign_at_mid(lhs(v))):
                    return fex(v)
            raise Unsupported("Piecewise without a matching branch")
        return pw
