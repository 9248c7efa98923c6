"""Exact suprema by sympy (MATH §7): the line cut at the kinks into smooth pieces.

Each piece keeps its branch; the supremum of ``|g|`` on it is the largest of ``|g|`` at the
critical points (solved exactly, periodic pieces over one period) and the one-sided limits
at the ends.  A jump of a lower derivative at a kink makes the next derivative "not a
function".  Every sympy step runs under a share of the one work budget.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from ..activations import x
from .bounds import _ORDER_NAME, _SOLVESET_CAP, _Fail, _float_fn, _Timeout
from .tails import _decay_parts, _normalize_tail

# ---------------------------------------------------------------------------
# pieces: the real line cut at kinks and singular points, one smooth branch each
# ---------------------------------------------------------------------------

def _num(expr, point, prec=30):
    val = sp.N(expr.subs(x, point), prec)
    return val


def _resolve(expr, point):
    """Replace Abs, sign, Heaviside, Max, Min and Piecewise by the branch active at ``point``.

    ``point`` lies strictly inside a piece, so every such argument keeps its sign on
    the whole piece (the pieces are cut at all their zeros).
    """
    if not expr.has(sp.Abs, sp.sign, sp.Heaviside, sp.Max, sp.Min, sp.Piecewise):
        return expr
    if isinstance(expr, sp.Piecewise):
        for branch, cond in expr.args:
            if _decide(cond, point) == sp.true:
                return _resolve(branch, point)
        raise _Fail(f"no Piecewise branch of {sp.sstr(expr)} applies at x = {point}")
    args = [_resolve(a, point) for a in expr.args]
    if isinstance(expr, sp.Abs):
        s = _sign_at(args[0], point)
        return args[0] if s >= 0 else -args[0]
    if isinstance(expr, sp.sign):
        return sp.Integer(_sign_at(args[0], point))
    if isinstance(expr, sp.Heaviside):
        s = _sign_at(args[0], point)
        if s == 0:
            return expr.func(*args)
        return sp.Integer(1 if s > 0 else 0)
    if isinstance(expr, (sp.Max, sp.Min)):
        vals = [float(_num(a, point)) for a in args]
        pick = int(np.argmax(vals) if isinstance(expr, sp.Max) else np.argmin(vals))
        return args[pick]
    if not args:
        return expr
    return expr.func(*args)


def _decide(cond, point):
    val = cond.subs(x, point)
    if val in (sp.true, sp.false):
        return val
    if isinstance(cond, sp.core.relational.Relational):
        d = sp.N(cond.lhs.subs(x, point) - cond.rhs.subs(x, point), 30)
        if isinstance(cond, (sp.StrictGreaterThan, sp.GreaterThan)):
            return sp.true if d > 0 or (d == 0 and isinstance(cond, sp.GreaterThan)) else sp.false
        return sp.true if d < 0 or (d == 0 and isinstance(cond, sp.LessThan)) else sp.false
    raise _Fail(f"cannot decide condition {sp.sstr(cond)} at x = {point}")


def _sign_at(g, point):
    v = sp.N(g.subs(x, point), 30)
    if v == 0:
        return 0
    return 1 if v > 0 else -1


@dataclass
class _Piece:
    a: object   # sympy number or -oo
    b: object   # sympy number or oo
    g: sp.Expr  # smooth branch of sigma on (a, b)
    derivs: dict = field(default_factory=dict)

    def deriv(self, k):
        if k not in self.derivs:
            self.derivs[k] = self.g if k == 0 else sp.diff(self.deriv(k - 1), x)
        return self.derivs[k]

    def interior_point(self):
        if self.a == -sp.oo and self.b == sp.oo:
            return sp.Integer(0)
        if self.a == -sp.oo:
            return self.b - 1
        if self.b == sp.oo:
            return self.a + 1
        return (self.a + self.b) / 2

    def describe(self):
        return f"({sp.sstr(self.a)}, {sp.sstr(self.b)})"


def _pieces(act, clock):
    """Cut the line at the kinks; return the pieces with their resolved smooth branches."""
    cuts = sorted(set(act.kinks), key=lambda v: float(v))
    bounds = [-sp.oo, *cuts, sp.oo]
    pieces = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        piece = _Piece(a, b, sp.Integer(0))
        with clock.step():
            g = _resolve(act.expr, piece.interior_point())
        piece.g = g
        _check_branch(act, piece)
        pieces.append(piece)
    return pieces


def _check_branch(act, piece):
    """The resolved branch must equal sigma across the whole piece, far ends included.

    Guards against a kink the activation layer did not report (it searches a window).
    """
    mid = float(piece.interior_point())
    offsets = np.concatenate([-np.geomspace(1e-3, 1e9, 25), [0.0], np.geomspace(1e-3, 1e9, 25)])
    pts = mid + offsets
    lo = -np.inf if piece.a == -sp.oo else float(piece.a)
    hi = np.inf if piece.b == sp.oo else float(piece.b)
    pts = pts[(pts > lo) & (pts < hi)]
    with np.errstate(all="ignore"):
        want = _float_fn(act.expr)(pts)
        got = _float_fn(piece.g)(pts)
        ok = ~(np.isfinite(want) & np.isfinite(got)) | (
            np.abs(want - got) <= 1e-9 * np.maximum(1.0, np.abs(want)))
    if not np.all(ok):
        bad = float(pts[~ok][0])
        raise _Fail(f"sigma changes branch near x = {bad:.6g} inside {piece.describe()}: a "
                    "kink outside the activation layer's search window; cannot split")


def _singular_points(piece, clock):
    """Real singular points of the piece's branch inside the piece (sympy)."""
    g = piece.g
    if not g.has(sp.Pow, sp.log, sp.tan, sp.cot, sp.sec, sp.csc, sp.atanh, sp.acoth):
        return []
    try:
        with clock.step():
            sing = sp.singularities(g, x, sp.Interval.open(piece.a, piece.b))
    except _Timeout:
        raise _Fail("locating singular points: work budget used up") from None
    except Exception as exc:  # noqa: BLE001 - sympy raises many types
        raise _Fail(f"sympy could not locate singular points ({type(exc).__name__})") from None
    if not isinstance(sing, sp.FiniteSet):
        if sing == sp.S.EmptySet:
            return []
        raise _Fail(f"singular points of {sp.sstr(g)} are not a finite set ({sing})")
    return sorted((s for s in sing if s.is_real), key=float)


def _one_sided(expr, point, direction, clock):
    """lim_{x -> point +-} expr; by substitution when expr is finite there."""
    if point in (sp.oo, -sp.oo):
        # Substituting +-oo is the limit whenever sympy's extended arithmetic meets no
        # indeterminate form (those give nan/zoo/AccumBounds, and we fall back to Gruntz).
        with clock.step():
            right = expr if point == sp.oo else expr.xreplace({x: -x})
            for form in (right, _decay_to_zero(_normalize_tail(right))):
                val = form.xreplace({x: sp.oo})
                if (not val.has(sp.nan, sp.zoo, sp.AccumBounds) and not val.free_symbols
                        and (val in (sp.oo, -sp.oo) or (val.is_real and val.is_finite))):
                    return val
            return sp.limit(expr, x, point)
    with clock.step():
        val = expr.subs(x, point)
        if val.is_finite and val.is_real:
            return val
        return sp.limit(expr, x, point, direction)


def _decay_to_zero(expr):
    """Replace products x**p * exp(h) * (factors finite at +oo), h -> -oo polynomially, by 0.

    Sound for the limit x -> +oo: such a product tends to 0.
    """
    def finite_at_oo(f):
        v = f.xreplace({x: sp.oo})
        return not v.has(sp.nan, sp.zoo, sp.oo, -sp.oo, sp.AccumBounds) and v.is_finite

    def visit(e):
        if not e.args:
            return e
        e = e.func(*[visit(a) for a in e.args])
        if e.is_Mul:
            p, h, rest = _decay_parts(e.args)
            if p > 0 and h != 0 and h.is_polynomial(x):
                poly = sp.Poly(h, x)
                if poly.degree() >= 1 and poly.LC() < 0 and all(finite_at_oo(f) for f in rest):
                    return sp.Integer(0)
        return e
    return visit(expr)


def _fmt_point(p):
    if p == sp.oo:
        return "+inf"
    if p == -sp.oo:
        return "-inf"
    return sp.sstr(p)


# ---------------------------------------------------------------------------
# jumps in lower derivatives
# ---------------------------------------------------------------------------

def _first_jump(pieces, k, clock):
    """The first (order j < k, point) where sigma^(j) jumps, with both one-sided limits.

    Returns None when sigma, ..., sigma^(k-1) are continuous at every kink.
    """
    for j in range(k):
        for left, right in zip(pieces[:-1], pieces[1:]):
            p = left.b
            lv = _one_sided(left.deriv(j), p, "-", clock)
            rv = _one_sided(right.deriv(j), p, "+", clock)
            if not (lv.is_finite and rv.is_finite):
                return j, p, lv, rv
            diff = sp.N(lv - rv, 40)
            if abs(diff) > sp.Float("1e-30"):
                return j, p, lv, rv
            with clock.step():
                if sp.simplify(lv - rv) != 0 and abs(sp.N(lv - rv, 80)) > sp.Float("1e-70"):
                    return j, p, lv, rv
    return None


# ---------------------------------------------------------------------------
# exact route
# ---------------------------------------------------------------------------

def _exp_substitution_roots(d, a, b):
    """Real roots in (a, b) of ``d``, when d is a rational function of exp(x/L).

    Returns a list of exact roots, or None when the substitution does not apply.
    """
    e = d.rewrite(sp.exp) if d.has(sp.tanh, sp.sinh, sp.cosh, sp.coth) else d
    atoms = [t for t in e.atoms(sp.exp) if t.has(x)]
    if not atoms:
        return None
    coeffs = []
    for t in atoms:
        arg = sp.expand(t.args[0])
        if not arg.is_polynomial(x):
            return None
        poly = sp.Poly(arg, x)
        if poly.degree() != 1 or poly.nth(0) != 0 or not poly.LC().is_Rational:
            return None
        coeffs.append(poly.LC())
    lcm_den = sp.ilcm(*[c.q for c in coeffs]) if len(coeffs) > 1 else coeffs[0].q
    u = sp.Symbol("u", positive=True)
    e2 = e.subs({t: u ** (c * lcm_den) for t, c in zip(atoms, coeffs)})
    num = sp.numer(sp.together(e2))
    if num == 0:
        return None
    if num.has(x):
        # x both outside and inside exp: solve the factors that are pure, refuse the
        # mixed ones (Lambert-W type equations, no closed form attempted)
        if not num.is_polynomial(x, u):
            return None
        roots = []
        for fac, _ in sp.factor_list(sp.expand(num), x, u)[1]:
            if fac.has(x) and fac.has(u):
                raise _Fail(f"sigma^(k+1) = 0 mixes x and exp(x) ({sp.sstr(fac)} = 0): "
                            "no closed form attempted")
            if fac.has(x):
                roots += [r for r in sp.Poly(fac, x).real_roots()
                          if (a == -sp.oo or r > a) and (b == sp.oo or r < b)]
            elif fac.has(u):
                roots += _u_roots(sp.Poly(fac, u), lcm_den, a, b)
        return roots
    return _u_roots(sp.Poly(sp.expand(num), u), lcm_den, a, b)


def _u_roots(poly, lcm_den, a, b):
    """x = L log(u) for the positive real roots u of poly, inside (a, b)."""
    found = sp.roots(poly)
    cand = list(found)
    if sum(found.values()) != poly.degree() or any(r.is_real is None for r in cand):
        cand = sp.real_roots(poly)
    roots = []
    for r in cand:
        if r.is_real and r.is_positive:
            xr = sp.Integer(lcm_den) * sp.log(r)
            xf = float(xr)
            if (a == -sp.oo or xf > float(a)) and (b == sp.oo or xf < float(b)):
                roots.append(xr)
    return roots


def _critical_points(g, a, b, clock, tried):
    """Exact critical points of g in (a, b): a list, or raise _Fail."""
    d = sp.diff(g, x)
    if d == 0 or not d.has(x):
        return []
    roots = None
    try:
        with clock.step():
            roots = _exp_substitution_roots(d, a, b)
    except _Timeout:
        tried.append("the exp substitution: work budget used up")
    except _Fail:
        raise
    except Exception as exc:  # noqa: BLE001 - sympy raises many types; try solveset
        tried.append(f"the exp substitution failed ({type(exc).__name__})")
    if roots is not None:
        tried.append("critical points by the substitution u = exp(x/L) (polynomial roots)")
        return roots
    tried.append("critical points by sympy.solveset")
    sols = None
    try:
        with clock.step(_SOLVESET_CAP):
            sols = sp.solveset(d, x, sp.Interval.open(a, b))
    except _Timeout:
        raise _Fail(f"solveset stopped after {_SOLVESET_CAP} nominal s of work") from None
    except Exception as exc:  # noqa: BLE001
        raise _Fail(f"solveset failed ({type(exc).__name__})") from None
    if sols == sp.S.EmptySet:
        return []
    if isinstance(sols, sp.FiniteSet):
        return [s for s in sols if s.is_real is not False]
    sols = sp.sstr(sols)[:80]
    raise _Fail(f"critical points are not a finite set: {sp.sstr(sols)[:80]}")


def _grid_check(g, a, b, claimed):
    """Float64 cross-check: no sampled |g| exceeds the claimed exact supremum."""
    lo = -50.0 if a == -sp.oo else float(a)
    hi = 50.0 if b == sp.oo else float(b)
    if lo >= hi:
        return True
    pts = np.linspace(lo, hi, 4001)[1:-1]
    with np.errstate(all="ignore"):
        vals = np.abs(_float_fn(g)(pts))
    vals = vals[np.isfinite(vals)]
    if vals.size == 0:
        return True
    return float(vals.max()) <= claimed * (1 + 1e-9) + 1e-12


def _only_trig(g):
    """True when every function of x in g is sin, cos or tan (a periodicity candidate)."""
    funcs = [f for f in g.atoms(sp.Function) if f.has(x)]
    return bool(funcs) and all(isinstance(f, (sp.sin, sp.cos, sp.tan)) for f in funcs)


def _exact_sup(pieces, k, clock, tried, limits_only=False):
    """Exact sup of |sigma^(k)| over the pieces, or raise _Fail / _Timeout.

    Returns ("bounded", value, where) or ("unbounded", None, witness).
    """
    best_val, best_where = sp.Integer(0), "everywhere"
    best_num = -1.0
    for piece in pieces:
        g = piece.deriv(k)
        periodic = None
        if limits_only and (g.has(sp.sin, sp.cos, sp.tan) or not g.has(x)):
            continue
        if piece.a == -sp.oo and piece.b == sp.oo and _only_trig(g):
            with clock.step():
                periodic = sp.periodicity(g, x)
        cands = []
        if not g.has(x):
            cands.append((g, "everywhere (constant)"))
        elif periodic is not None and periodic != 0:
            tried.append(f"periodic with period {sp.sstr(periodic)}: one period suffices")
            with clock.step():
                sols = sp.solveset(sp.diff(g, x), x, sp.Interval.Ropen(0, periodic))
            if not isinstance(sols, sp.FiniteSet):
                if sols != sp.S.EmptySet:
                    raise _Fail(f"critical points over one period: {sp.sstr(sols)[:80]}")
                sols = []
            cands += [(g.subs(x, s), f"x = {sp.sstr(s)} (+ period multiples)") for s in sols]
            cands.append((g.subs(x, 0), "x = 0"))
        else:
            sing = _singular_points(piece, clock)
            ends = [(piece.a, "+"), (piece.b, "-")]
            for s in sing:
                ends += [(s, "-"), (s, "+")]
            for p, direction in ends:
                tried.append(f"limit of {_ORDER_NAME[k]} as x -> {_fmt_point(p)}"
                             f"{direction if p not in (sp.oo, -sp.oo) else ''}")
                lim = _one_sided(g, p, direction, clock)
                if lim in (sp.oo, -sp.oo, sp.zoo):
                    where = (f"{_ORDER_NAME[k]}(x) -> {sp.sstr(lim)} as x -> {_fmt_point(p)}"
                             f"{direction if p not in (sp.oo, -sp.oo) else ''} (sympy limit)")
                    return "unbounded", None, where
                if isinstance(lim, sp.AccumBounds) or not lim.is_finite:
                    raise _Fail(f"the limit at {_fmt_point(p)} is {sp.sstr(lim)}, not a number")
                if p in (sp.oo, -sp.oo):
                    where = f"limit x -> {_fmt_point(p)} (not attained)"
                else:
                    where = f"x -> {sp.sstr(p)}{direction} (one-sided limit)"
                cands.append((lim, where))
            if sing:
                raise _Fail("singular points with finite limits are not handled exactly")
            if limits_only:
                continue
            for c in _critical_points(g, piece.a, piece.b, clock, tried):
                cands.append((g.subs(x, c), f"x = {sp.sstr(c)}"))
        for val, where in cands:
            v = abs(sp.N(val, 40))
            if not v.is_real:
                raise _Fail(f"non-real candidate value {sp.sstr(val)}")
            if float(v) > best_num * (1 + 1e-25) + 1e-300:
                best_num, best_val, best_where = float(v), val, where
        if limits_only:
            continue
        if best_num >= 0 and not _grid_check(g, piece.a, piece.b, best_num):
            raise _Fail("float64 cross-check found a larger value: exact analysis incomplete")
    if limits_only:
        raise _Fail("no divergent limit; the value is left to the enclosure")
    value = sp.Abs(best_val)
    forms = [value]
    for rewrite in (False, True):
        if rewrite and not forms[-1].has(sp.tanh, sp.sinh, sp.cosh, sp.log):
            break
        try:
            with clock.step(1.0):
                v = value.rewrite(sp.exp) if rewrite else value
                forms.append(sp.radsimp(sp.simplify(v)))
        except _Timeout:
            pass
    forms = [f for f in forms if not f.has(sp.I)
             and abs(sp.N(f - value, 40)) <= sp.Float("1e-35") * (1 + abs(sp.N(value, 40)))]
    value = min(forms, key=sp.count_ops)
    return "bounded", value, best_where
