"""Kinks (points where sigma or a derivative jumps) and parity, found symbolically once.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from ..library import x  # the one real variable every activation is written in

# ---------------------------------------------------------------------------
# Structural facts: kinks, parity, distributions
# ---------------------------------------------------------------------------

def _kink_arguments(expr):
    """Expressions g(x) whose zeros are where expr (or a derivative) may jump."""
    args = []
    for sub in sp.preorder_traversal(expr):
        if isinstance(sub, (sp.Abs, sp.sign, sp.Heaviside, sp.DiracDelta)):
            args.append(sub.args[0])
        elif isinstance(sub, (sp.Max, sp.Min)):
            items = list(sub.args)
            for i in range(len(items)):
                for j in range(i + 1, len(items)):
                    args.append(items[i] - items[j])
        elif isinstance(sub, sp.Piecewise):
            for _, cond in sub.args:
                if isinstance(cond, sp.core.relational.Relational):
                    args.append(cond.lhs - cond.rhs)
    return args


_KINK_WINDOW = 1000


def _find_kinks(expr):
    points = set()
    for g in _kink_arguments(expr):
        if not g.has(x):
            continue
        trig = [f for f in g.atoms(sp.sin, sp.cos, sp.tan, sp.cot, sp.sec, sp.csc) if f.has(x)]
        if trig:
            # a sign change of a periodic function repeats forever: listing the kinks one
            # by one (637 of them for Abs(sin(x)) in the window) is refused up front
            raise ValueError(
                f"the kinks of activation {sp.sstr(expr)!r} (where {sp.sstr(g)} changes "
                f"sign, through {sp.sstr(trig[0])}) are periodic, infinitely many on the "
                "real line; such activations are not supported")
        try:
            sols = sp.solveset(sp.Eq(g, 0), x, domain=sp.Interval(-_KINK_WINDOW, _KINK_WINDOW))
        except Exception:  # noqa: BLE001 - sympy raises many types; we report below
            sols = None
        if not isinstance(sols, sp.FiniteSet):
            raise ValueError(
                f"cannot locate where {sp.sstr(g)} changes sign in activation "
                f"{sp.sstr(expr)!r}; kinks must be finitely many solvable points")
        for s in sols:
            if s.is_real:
                points.add(sp.nsimplify(s) if s.is_Float else s)
    return tuple(sorted(points, key=lambda v: float(v)))


def _drop_null_deltas(expr):
    """Remove terms g(x) DiracDelta(x - a) with g(a) = 0 (e.g. ``x DiracDelta(x)``).

    Such products are the zero distribution; sympy leaves them in derivatives of
    functions like softsign, whose second derivative is an ordinary bounded function.
    Terms whose coefficient does not vanish at the delta's support are kept.
    """
    kept = []
    for term in sp.Add.make_args(sp.expand(expr)):
        deltas = [f for f in sp.Mul.make_args(term) if isinstance(f, sp.DiracDelta)]
        if len(deltas) != 1 or len(deltas[0].args) != 1:
            kept.append(term)
            continue
        arg = deltas[0].args[0]
        roots = sp.solve(arg, x) if arg.is_polynomial(x) and sp.degree(arg, x) == 1 else []
        coeff = term / deltas[0]
        if len(roots) == 1 and sp.limit(coeff, x, roots[0]) == 0 and \
                sp.limit(coeff, x, roots[0], "-") == 0:
            continue
        kept.append(term)
    return sp.Add(*kept)


def _parity(expr, fn):
    """'odd', 'even' or None; a numeric screen then a symbolic proof."""
    pts = np.array([0.3, 0.71, 1.3, 2.9, 5.5])
    with np.errstate(all="ignore"):
        plus = np.asarray(fn(pts), dtype=float)
        minus = np.asarray(fn(-pts), dtype=float)
    scale = np.maximum(1.0, np.abs(plus))
    for kind, sgn in (("even", 1.0), ("odd", -1.0)):
        if np.all(np.abs(minus - sgn * plus) <= 1e-12 * scale):
            flipped = expr.subs(x, -x)
            diff = flipped - sgn * expr
            if diff == 0 or sp.simplify(diff) == 0:
                return kind
    return None
