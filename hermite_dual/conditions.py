"""Conditions on the activation: certified sup|sigma|, sup|sigma'|, sup|sigma''| and C0-C4.

Truong's convergence theorem for deep equilibrium models needs an activation with a
bounded first derivative (C1, which also fixes the admissible weight scale
``sigma_w^2 < 1/(8 L^2)``), a bounded second derivative (C2) and a non-polynomial
activation (C3); see MATH §7.  This module answers those questions with a
proof or a certified bound, never with a guess from a sampled grid:

* **exact** suprema by sympy: the real line is cut at the kinks of sigma, each piece
  carries one smooth branch, and the supremum of |g| on a piece is the largest of |g|
  at the critical points (solved exactly) and the one-sided limits at the ends;
* otherwise a **certified enclosure** by python-flint's arb ball arithmetic over the
  whole real line: each piece is compactified (``x = t/(1-t^2)``), subdivided
  adaptively (branch and bound with a mean-value form), and the tails ``|x| >= X`` are
  enclosed by extended interval arithmetic, until the enclosure is tight to a relative
  ``1e-6``;
* **unbounded** with a witness (a divergent limit from sympy's Gruntz algorithm);
* **not a function** when a lower derivative jumps (relu: sigma' jumps at 0, so
  sigma'' contains a Dirac mass and C2 fails);
* **undetermined** (with what was tried) when the work budget runs out.

Why python-flint: mpmath's interval context has no tanh, atan or erf, while arb balls
(python-flint) enclose every elementary and error function rigorously, with exponents of
unbounded range (``exp(1e30)`` is a ball, not an overflow).  Where a ball cannot reach
(the tails ``[X, inf)``), a small extended-interval arithmetic with monotone limits and a
decay rule for ``x**p exp(h(x))`` takes over; everything it cannot bound ends
``'undetermined'``, never as a number.  Measured on the built-ins: every forced
enclosure contains the exact value and is tight to a relative ``<= 1e-6``.

Examples
--------
>>> import hermite_dual as hd
>>> rep = hd.check_conditions("tanh")
>>> rep.sup_second.exact
4*sqrt(3)/9
>>> rep.admissible, rep.max_sigma_w2
(True, 0.125)
>>> hd.check_conditions("relu").sup_second.status
'not_a_function'
"""

from __future__ import annotations

import heapq
import math
import time
from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from ._util.deadline import (UNITS_PER_SECOND, WallClockExceeded, WorkBudgetExceeded,
                             from_seconds, rearm)
from ._json import to_jsonable
from ._util import validate
from .activations import activation, builtin_names, x

__all__ = [
    "Bound",
    "ConditionReport",
    "ContractionResult",
    "check_conditions",
    "contraction",
    "describe_conditions",
    "verdict_table_markdown",
]

#: Relative tightness the certified enclosures are refined to.
ENCLOSURE_RTOL = 1e-6
_ARB_PREC = 64          # working precision of the ball arithmetic, bits
_GRID_POINTS = 2001     # float64 scan used only to *seed* lower bounds and to cross-check
_EXACT_SHARE = 0.5      # fraction of a bound's time the exact (sympy) route may use
_SYMPY_STEP_CAP = 3.0   # seconds for any single sympy call
_SOLVESET_CAP = 1.0     # seconds for solveset (after the exp substitution)


# ---------------------------------------------------------------------------
# time limits
# ---------------------------------------------------------------------------

_Timeout = WorkBudgetExceeded   # the one budget (hermite_dual._util.deadline) counts work


class _Fail(Exception):
    """A route could not conclude; the message says why."""


class _Clock:
    """Work accounting for one stage of the checker, over a :class:`Budget`.

    Budgets count work (Python calls, see :mod:`hermite_dual._util.deadline`), so the
    stage at which a hard expression is given up does not depend on machine load.
    ``left()`` is in nominal seconds; ``step(cap)`` is a sympy step of at most ``cap``
    nominal seconds of work, and never more than what is left.
    """

    def __init__(self, budget):
        self.budget = budget

    def left(self):
        return self.budget.remaining / UNITS_PER_SECOND

    def step(self, cap=_SYMPY_STEP_CAP):
        return self.budget.child(int(cap * UNITS_PER_SECOND))


# ---------------------------------------------------------------------------
# float64 evaluation of smooth branches (seeding and cross-checks only; never a proof)
# ---------------------------------------------------------------------------

_vec_erf = np.frompyfunc(math.erf, 1, 1)
_vec_erfc = np.frompyfunc(math.erfc, 1, 1)


def _float_fn(g):
    """A float64 callable of a smooth branch (erf via math.erf, no JIT warm-up)."""
    # np.asarray: on a scalar (e.g. the constant branch erf(1)) frompyfunc returns a float
    fn = sp.lambdify(x, g, modules=[{"erf": lambda v: np.asarray(_vec_erf(v), dtype=float),
                                     "erfc": lambda v: np.asarray(_vec_erfc(v), dtype=float)},
                                    "numpy"])

    def call(v):
        v = np.asarray(v, dtype=np.float64)
        with np.errstate(all="ignore"):
            out = np.asarray(fn(v), dtype=np.float64)
        return np.broadcast_to(out, v.shape).copy() if out.shape != v.shape else out
    return call


# ---------------------------------------------------------------------------
# results
# ---------------------------------------------------------------------------

_ORDER_NAME = {0: "sigma", 1: "sigma'", 2: "sigma''"}


def _down(v):
    """A float <= v (v a float or an exact arb such as ball.lower())."""
    f = float(v)
    if not isinstance(v, float) and _exact_float(v, f):
        return f
    return math.nextafter(f, -math.inf)


def _up(v):
    """A float >= v (v a float or an exact arb such as ball.upper())."""
    f = float(v)
    if not isinstance(v, float) and _exact_float(v, f):
        return f
    return math.nextafter(f, math.inf)


def _exact_float(v, f):
    from flint import arb
    try:
        return bool(math.isfinite(f) and v.is_exact() and arb(f) == v)
    except (AttributeError, TypeError):
        return False


@dataclass(frozen=True)
class Bound:
    """The supremum over the real line of |sigma^(k)|, with its proof status.

    Attributes
    ----------
    order : int
        k (0, 1 or 2).
    status : str
        ``'exact'`` (sympy value, proved), ``'enclosure'`` (certified ball-arithmetic
        enclosure ``[lower, upper]``), ``'unbounded'`` (a divergent limit is the
        witness), ``'not_a_function'`` (a lower derivative jumps, so sigma^(k) contains
        a Dirac mass: it is not a bounded function) or ``'undetermined'``.
    value : float
        The supremum (``inf`` when unbounded or not a function; the midpoint of
        ``[lower, upper]`` for an enclosure; ``nan`` when undetermined).
    exact : sympy.Expr or None
        The exact value (``sympy.oo`` when unbounded), when known.
    lower, upper : float
        Certified bounds: ``lower <= sup <= upper`` (outward rounded).
    certified : bool
        True when the status is a proof (exact, enclosure, unbounded, not_a_function).
    where : str
        Where the supremum is attained (a point, a one-sided limit at a kink, a limit at
        +-inf) or why it is infinite.
    method : str
        How it was obtained.
    tried : tuple of str
        What was attempted, in order (always filled for ``'undetermined'``).

    Examples
    --------
    >>> import hermite_dual as hd
    >>> b = hd.check_conditions("sigmoid").sup_first
    >>> b.exact, b.status, b.where
    (1/4, 'exact', 'x = 0')
    """

    order: int
    status: str
    value: float
    exact: object = None
    lower: float = 0.0
    upper: float = math.inf
    certified: bool = False
    where: str = ""
    method: str = ""
    tried: tuple = ()

    @property
    def bounded(self):
        """True, False, or None when undetermined."""
        if self.status in ("exact", "enclosure"):
            return True
        if self.status in ("unbounded", "not_a_function"):
            return False
        return None

    @property
    def abs_error(self):
        """Half-width of the certified enclosure (0 for exact, inf when unknown)."""
        if self.status == "exact":
            return 0.0
        if self.status == "enclosure":
            return (self.upper - self.lower) / 2
        return 0.0 if self.status in ("unbounded", "not_a_function") else math.inf

    def to_dict(self):
        """JSON-able dict of this bound."""
        return to_jsonable({
            "order": self.order,
            "status": self.status,
            "bounded": self.bounded,
            "value": self.value,
            "exact": None if self.exact is None else sp.sstr(self.exact),
            "lower": self.lower,
            "upper": self.upper,
            "abs_error": self.abs_error,
            "certified": self.certified,
            "where": self.where,
            "method": self.method,
            "tried": list(self.tried),
        })

    def short(self):
        """One-line human form, e.g. ``4*sqrt(3)/9 = 0.7698003589 (exact)``."""
        if self.status == "exact":
            if self.exact.is_Integer or self.exact.is_Rational:
                return f"{sp.sstr(self.exact)} (exact)"
            return f"{sp.sstr(self.exact)} = {self.value:.10g} (exact)"
        if self.status == "enclosure":
            return f"{self.value:.10g} in [{self.lower:.10g}, {self.upper:.10g}] (certified)"
        if self.status == "unbounded":
            return "inf (unbounded)"
        if self.status == "not_a_function":
            return "not a bounded function"
        return "undetermined"


def _bound_exact(order, value, where, method, tried):
    v = sp.nsimplify(value) if value.is_Float else value
    f = float(v)
    return Bound(order=order, status="exact", value=f, exact=v, lower=_down(f) if f else 0.0,
                 upper=_up(f) if f else 0.0, certified=True, where=where, method=method,
                 tried=tuple(tried))


def _bound_unbounded(order, where, method, tried):
    return Bound(order=order, status="unbounded", value=math.inf, exact=sp.oo,
                 lower=math.inf, upper=math.inf, certified=True, where=where,
                 method=method, tried=tuple(tried))


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
    from flint import arb
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
        c = _iv_from_arb(_arb_compile(expr)(None))
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
                ce = _arb_const(e)
                a = _monotone(lambda b: (ce * b.log()).exp(),
                              0.0 if ef > 0 else _INF, _INF if ef > 0 else 0.0,
                              increasing=ef > 0)
                return a((lo, hi)) if lo > 0 else _fix_zero_pow((lo, hi), ef, a)
            return f_rpow
        raise _Unsupported("variable exponent in a tail")
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
    raise _Unsupported(f"tail arithmetic does not support {expr.func.__name__}")


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
            g_arb = _arb_compile(x ** p * sp.exp(h))
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
        except (_Unsupported, TypeError, ValueError):
            continue
    try:
        # x = 1/u: rational parts (atan'', softsign) become finite at u = 0
        upos = sp.Dummy("u", positive=True)
        eu = sp.cancel(sp.together(expr.xreplace({x: 1 / upos}))).xreplace({upos: x})
        fu = _arb_compile(eu)

        def f_u(Y):
            from flint import arb
            if Y <= 0:
                return (-_INF, _INF)
            return _iv_from_arb(fu(arb(0).union(arb(_up(1 / Y)))))
        variants.append((eu, f_u))
    except (_Unsupported, TypeError, ValueError, sp.PolynomialError):
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


# -- branch and bound --------------------------------------------------------

def _certified_sup(pieces, k, clock, tried, rtol=ENCLOSURE_RTOL):
    """Certified enclosure [lo, hi] of sup |sigma^(k)| over the pieces (arb balls)."""
    from flint import arb, ctx

    tried.append("certified enclosure by arb ball arithmetic (compactified line, "
                 "branch and bound, extended-interval tails)")
    old_prec = ctx.prec
    ctx.prec = _ARB_PREC
    try:
        return _branch_and_bound(pieces, k, clock, rtol, arb)
    finally:
        ctx.prec = old_prec


class _Region:
    """A piece parametrized by s in [s0, s1]: x = phi(s); unbounded ends give tails."""

    def __init__(self, piece, k):
        self.piece = piece
        g = piece.deriv(k)
        self.f = _arb_compile(g)
        self.df = _arb_compile(sp.diff(g, x))
        self.fl = _float_fn(g)
        a, b = piece.a, piece.b
        self.kind = ("line" if a == -sp.oo and b == sp.oo else
                     "right" if b == sp.oo else "left" if a == -sp.oo else "finite")
        self.right_tail = (_tail_enclosure_fn(g) if b == sp.oo else None)
        self.left_tail = (_tail_enclosure_fn(g.subs(x, -x)) if a == -sp.oo else None)
        self.a_arb = None if a == -sp.oo else _arb_const(a)
        self.b_arb = None if b == sp.oo else _arb_const(b)
        self.s_range = (-1.0, 1.0) if self.kind == "line" else (0.0, 1.0)

    def x_of(self, s):
        """x(s) as an arb ball (s a float, exact)."""
        from flint import arb
        t = arb(s)
        if self.kind == "line":
            return t / (1 - t * t)
        if self.kind == "right":
            return self.a_arb + t / (1 - t)
        if self.kind == "left":
            return self.b_arb - t / (1 - t)
        return self.a_arb + (self.b_arb - self.a_arb) * t

    def x_float(self, s):
        s = np.asarray(s, dtype=float)
        with np.errstate(all="ignore"):
            if self.kind == "line":
                return s / (1 - s * s)
            if self.kind == "right":
                return float(self.piece.a) + s / (1 - s)
            if self.kind == "left":
                return float(self.piece.b) - s / (1 - s)
            return float(self.piece.a) + (float(self.piece.b) - float(self.piece.a)) * s

    def is_tail(self, s0, s1):
        """'right' / 'left' when the box [s0, s1] reaches an infinite end."""
        if self.kind == "line":
            if s1 == 1.0:
                return "right"
            if s0 == -1.0:
                return "left"
        elif self.kind == "right" and s1 == 1.0:
            return "right"
        elif self.kind == "left" and s1 == 1.0:
            return "left"
        return None

    def upper(self, s0, s1):
        """Certified upper bound of |g| on the box, and a certified lower bound at its middle."""
        from flint import arb
        tail = self.is_tail(s0, s1)
        if tail is not None:
            if tail == "right":
                sl = s0
                Y = self.x_of(sl)
                fn = self.right_tail
                Yf = _down(Y.lower())
            else:
                sl = s1 if self.kind == "line" else s0
                Y = self.x_of(sl)
                fn = self.left_tail
                Yf = _down((-Y).lower())
            ub = fn(Yf) if fn is not None else _INF
            lb = self.point_lower(Y)
            return ub, lb
        xa, xb = self.x_of(s0), self.x_of(s1)
        if self.kind == "left":
            xa, xb = xb, xa
        box = xa.union(xb)
        naive = self.f(box)
        m = (s0 + s1) / 2
        xm = self.x_of(m)
        fm = self.f(xm)
        mv = fm + self.df(box) * (box - xm)
        ub = _INF
        for enc in (naive, mv):
            if enc.is_finite():
                ub = min(ub, _up(enc.abs_upper()))
        lb = _down(fm.abs_lower()) if fm.is_finite() else 0.0
        return ub, max(lb, 0.0)

    def point_lower(self, xb):
        v = self.f(xb)
        return _down(v.abs_lower()) if v.is_finite() else 0.0


def _seed_lower(regions, clock):
    """Float64 scan for good candidate points; each is then certified by a point ball."""
    from flint import arb
    best, where = 0.0, ""
    for r in regions:
        lo, hi = r.s_range
        s = np.linspace(lo, hi, _GRID_POINTS)[1:-1]
        xs = r.x_float(s)
        with np.errstate(all="ignore"):
            vals = np.abs(r.fl(xs))
        vals[~np.isfinite(vals)] = -1
        order = np.argsort(vals)[::-1][:4]
        for i in order:
            if vals[i] < 0:
                continue
            a, b = s[max(i - 1, 0)], s[min(i + 1, len(s) - 1)]
            xr = _golden_max(r, a, b)
            lb = r.point_lower(arb(float(xr)))
            if lb > best:
                best, where = lb, f"x ~ {float(xr):.10g}"
    return best, where


def _golden_max(r, a, b, iters=60):
    g = (math.sqrt(5) - 1) / 2
    f = lambda s: float(np.abs(r.fl(np.array([r.x_float(s)])))[0])  # noqa: E731
    c, d = b - g * (b - a), a + g * (b - a)
    with np.errstate(all="ignore"):
        fc, fd = f(c), f(d)
        for _ in range(iters):
            if not (fc >= fd or math.isnan(fd)):
                a, c, fc = c, d, fd
                d = a + g * (b - a)
                fd = f(d)
            else:
                b, d, fd = d, c, fc
                c = b - g * (b - a)
                fc = f(c)
    return r.x_float((a + b) / 2)


def _branch_and_bound(pieces, k, clock, rtol, arb):
    regions = [_Region(p, k) for p in pieces]
    lower, where = _seed_lower(regions, clock)
    heap = []
    count = 0
    for ri, r in enumerate(regions):
        lo, hi = r.s_range
        edges = np.linspace(lo, hi, 17)
        for s0, s1 in zip(edges[:-1], edges[1:]):
            ub, lb = r.upper(float(s0), float(s1))
            count += 1
            lower = max(lower, lb)
            heapq.heappush(heap, (-ub, count, ri, float(s0), float(s1)))
    evaluations = count
    status = "converged"
    while True:
        top = -heap[0][0]
        if top == 0 or (math.isfinite(top) and top - lower <= rtol * top):
            break
        if clock.budget.spent_out():
            status = "work budget"
            break
        negub, _, ri, s0, s1 = heapq.heappop(heap)
        r = regions[ri]
        tail = r.is_tail(s0, s1)
        if tail is not None and r.kind != "line":
            m = (s0 + 1.0) / 2 if tail else (s0 + s1) / 2
        elif tail == "right":
            m = (s0 + 1.0) / 2
        elif tail == "left":
            m = (s1 - 1.0) / 2
        else:
            m = (s0 + s1) / 2
        if not (s0 < m < s1):
            status = "box width at float resolution"
            heapq.heappush(heap, (negub, count, ri, s0, s1))
            break
        try:
            halves = [((c0, c1), r.upper(c0, c1)) for c0, c1 in ((s0, m), (m, s1))]
        except WorkBudgetExceeded:
            # the box goes back unsplit, so the heap still covers the whole line
            heapq.heappush(heap, (negub, count, ri, s0, s1))
            rearm()
            status = "work budget"
            break
        for (c0, c1), (ub, lb) in halves:
            evaluations += 1
            count += 1
            if lb > lower:
                lower = lb
                where = f"x ~ {float(r.x_float((c0 + c1) / 2)):.10g}"
            if ub >= lower:
                heapq.heappush(heap, (-ub, count, ri, c0, c1))
        if tail is not None and not heap:
            break
    upper = -heap[0][0] if heap else lower
    return lower, upper, where, status, evaluations


# ---------------------------------------------------------------------------
# one bound
# ---------------------------------------------------------------------------

def _sup_bound(act, pieces, k, budget, method):
    with budget:
        return _sup_bound_in(act, pieces, k, budget, method)


def _sup_bound_in(act, pieces, k, budget, method):
    clock = _Clock(budget)
    tried = []
    # 1. jumps in lower derivatives make sigma^(k) a distribution
    if k > 0:
        try:
            tried.append(f"continuity of sigma..{_ORDER_NAME[k - 1]} at the kinks")
            jump = _first_jump(pieces, k, clock)
        except (_Timeout, _Fail, Exception) as exc:  # noqa: BLE001
            if isinstance(exc, _Timeout):
                tried.append("continuity check: work budget used up")
            else:
                tried.append(f"continuity check failed ({exc})")
            return Bound(order=k, status="undetermined", value=math.nan, tried=tuple(tried),
                         method="none")
        if jump is not None:
            j, p, lv, rv = jump
            why = (f"{_ORDER_NAME[j]} jumps at x = {sp.sstr(p)} (from {sp.sstr(lv)} to "
                   f"{sp.sstr(rv)}), so {_ORDER_NAME[k]} contains a Dirac mass: not a "
                   "bounded function")
            return Bound(order=k, status="not_a_function", value=math.inf, exact=None,
                         lower=math.inf, upper=math.inf, certified=True, where=why,
                         method="one-sided limits at the kinks (sympy)", tried=tuple(tried))
    # 2. exact route (in 'enclosure' mode only the limits, for an unboundedness witness)
    share = budget.fraction(_EXACT_SHARE if method != "exact" else 1.0, label="exact route")
    try:
        with share:
            kind, value, where = _exact_sup(pieces, k, _Clock(share), tried,
                                            limits_only=method == "enclosure")
        if kind == "unbounded":
            return _bound_unbounded(k, where, "sympy limit (Gruntz)", tried)
        return _bound_exact(k, value, where, "sympy: critical points and limits", tried)
    except _Timeout:
        tried.append("exact route: its share of the work budget used up")
    except _Fail as exc:
        tried.append(f"exact route: {exc}")
    except (_Unsupported, NotImplementedError, TypeError, ValueError,
            AttributeError, RecursionError, ZeroDivisionError) as exc:
        tried.append(f"exact route: sympy raised {type(exc).__name__}")
    if method == "exact":
        return Bound(order=k, status="undetermined", value=math.nan, tried=tuple(tried),
                     method="exact route only")
    # 3. certified enclosure
    try:
        lo, hi, where, status, evals = _certified_sup(pieces, k, clock, tried)
    except _Unsupported as exc:
        tried.append(f"ball arithmetic: {exc}")
        return Bound(order=k, status="undetermined", value=math.nan, tried=tuple(tried),
                     method="none")
    except _Timeout:
        tried.append("ball arithmetic: work budget used up")
        return Bound(order=k, status="undetermined", value=math.nan, tried=tuple(tried),
                     method="none")
    except (ArithmeticError, ValueError, TypeError, NameError, AttributeError) as exc:
        tried.append(f"ball arithmetic failed ({type(exc).__name__}: {exc})")
        return Bound(order=k, status="undetermined", value=math.nan, tried=tuple(tried),
                     method="none")
    tried.append(f"branch and bound: {status} after {evals} box evaluations")
    if not math.isfinite(hi):
        return Bound(order=k, status="undetermined", value=math.nan, lower=lo, upper=math.inf,
                     certified=False, where="no finite upper bound found", tried=tuple(tried),
                     method="arb ball arithmetic")
    return Bound(order=k, status="enclosure", value=(lo + hi) / 2, exact=None, lower=lo,
                 upper=hi, certified=True,
                 where=where + ("" if status == "converged" else f" (stopped: {status})"),
                 method=f"arb ball arithmetic, relative tightness {(hi - lo) / hi if hi else 0:.1e}",
                 tried=tuple(tried))


# ---------------------------------------------------------------------------
# C3: not a polynomial
# ---------------------------------------------------------------------------

def _non_polynomial(act, b0, b1, clock):
    """(non_polynomial, reason) for C3.

    A bounded non-constant function is not a polynomial, so the certified suprema
    settle most cases; otherwise sympy's structural test, then ``simplify`` (briefly)
    to catch hidden polynomials such as ``sin(x)**2 + cos(x)**2``.
    """
    if act.is_polynomial:
        return False, f"sigma = {sp.sstr(act.expr)} is a polynomial"
    if b0.bounded and (b1.status == "not_a_function" or (b1.bounded and b1.lower > 0)):
        return True, "sigma is bounded and not constant, so it is not a polynomial"
    try:
        with clock.step(0.5):
            simple = sp.simplify(act.expr)
    except _Timeout:
        simple = None
    if simple is not None and simple.is_polynomial(x):
        return False, f"sigma simplifies to the polynomial {sp.sstr(simple)}"
    if act.kinks:
        return True, "sigma has kinks or jumps at " + ", ".join(sp.sstr(k) for k in act.kinks)
    return True, "sigma is not a polynomial in x (sympy)"


# ---------------------------------------------------------------------------
# C4: contraction of the population kernel map
# ---------------------------------------------------------------------------

def _check_sigma_w2(value):
    return validate.sigma_w2(value)


@dataclass(frozen=True)
class ContractionResult:
    """Contraction factors of the population kernel map at a weight scale sigma_w^2.

    Attributes
    ----------
    sigma_w2 : float
    sufficient_factor : float
        Upper bound of ``2 sigma_w^2 (L^2 + sup|sigma| sup|sigma''|)`` (MATH §7,
        C4) from the certified suprema; ``inf`` when a supremum is infinite (with the
        convention ``0 * inf = 0`` when sigma'' vanishes identically), ``nan`` when one
        is undetermined.
    sufficient_holds : bool or None
        ``sufficient_factor < 1`` (a proof of C4 when True).
    measured_factor : float
        ``max(measured_diagonal, measured_offdiagonal)``: the sup, over the variances the
        iteration from ``K^(0) = 0`` visits, of the derivative of the kernel map
        (estimated from float64 dual kernels; see :func:`contraction`).
    measured_diagonal, measured_offdiagonal : float
    local_factor : float
        The same derivative at the fixed point only (the asymptotic rate).
    kappa : float
        The diagonal fixed point ``kappa = nu(s)``.
    variance : float
        ``s = 2 sigma_w^2 kappa + 2``.
    q_range : tuple of float
        The hull of the visited variances ``s_l``.
    converged : bool
    iterations : int
    residual : float
        ``|kappa_{l+1} - kappa_l|`` at the last step.
    holds : bool or None
        ``measured_factor < 1`` (None when the iteration did not converge).
    abs_error : float
        Estimated error of the measured factors (difference of two finite-difference
        steps plus the dual kernels' error bounds).
    """

    sigma_w2: float
    sufficient_factor: float
    sufficient_holds: object
    measured_factor: float
    measured_diagonal: float
    measured_offdiagonal: float
    local_factor: float
    kappa: float
    variance: float
    q_range: tuple
    converged: bool
    iterations: int
    residual: float
    holds: object
    abs_error: float
    note: str = ""

    def to_dict(self):
        """JSON-able dict."""
        return to_jsonable({
            "sigma_w2": self.sigma_w2,
            "sufficient_factor": self.sufficient_factor,
            "sufficient_holds": self.sufficient_holds,
            "measured_factor": self.measured_factor,
            "measured_diagonal": self.measured_diagonal,
            "measured_offdiagonal": self.measured_offdiagonal,
            "local_factor": self.local_factor,
            "kappa": self.kappa,
            "variance": self.variance,
            "q_range": list(self.q_range),
            "converged": self.converged,
            "iterations": self.iterations,
            "residual": self.residual,
            "holds": self.holds,
            "abs_error": self.abs_error,
            "note": self.note,
        })


def _sufficient(sigma_w2, b0, b1, b2):
    if any(b.status == "undetermined" for b in (b1,)) or (
            b2.status == "undetermined" or b0.status == "undetermined"):
        return math.nan, None
    if b2.status == "exact" and b2.exact == 0:
        prod = 0.0
    else:
        prod = b0.upper * b2.upper
    factor = 2 * sigma_w2 * (b1.upper ** 2 + prod)
    factor = _up(factor) if math.isfinite(factor) else math.inf
    return factor, bool(factor < 1)


def contraction(act, sigma_w2, *, report=None, max_iter=10000, tol=1e-13):
    """Contraction factors of the population kernel map (MATH §5 and §7, C4).

    For equal-norm data the population map ``K -> K_sigma(Sigma)`` with
    ``Sigma = 2 sigma_w^2 K + (2/d) X^T X`` splits into

    * the diagonal: ``kappa -> nu(s)``, ``s = 2 sigma_w^2 kappa + 2``, whose derivative is
      ``2 sigma_w^2 nu'(s)`` with ``nu'(q) = E[sigma'(U)^2] + E[sigma(U) sigma''(U)]``,
      ``U ~ N(0, q)`` (Price's theorem along the diagonal; computed here as a
      Richardson-extrapolated central difference of ``nu(q) = K_sigma(q, q, q)``, taken
      from the Hermite layer's norm ``hermite_coefficients(act, 1, q).norm2``);
    * each off-diagonal entry: ``K_ij -> K_sigma(s, s, 2 sigma_w^2 K_ij + 2 t_ij)``, whose
      derivative is ``2 sigma_w^2 K_{sigma'}(s, s, Sigma_ij)`` (Price's theorem); by
      Cauchy-Schwarz its sup over ``|Sigma_ij| <= s`` is ``2 sigma_w^2 E[sigma'(U)^2]``
      ``= 2 sigma_w^2 K_{sigma'}(s, s, s)``, approached as ``t_ij -> 1``.  It is computed
      as the norm of the Hermite expansion of sigma' (the diagonal of the dual kernel of
      sigma', equal to ``hd.dual(act).derivative().kernel(s, s, s)``, which the tests
      check; the Hermite route is used because it costs milliseconds where the dual
      layer's first call can spend seconds deriving a closed form).  When sigma' is not a
      function (step) this factor is infinite.

    The Jacobian is block triangular (the diagonal does not depend on the off-diagonal),
    so the map contracts with factor ``max(diagonal, off-diagonal)``.  The **measured**
    factor is that maximum taken over every variance ``s_l`` the iteration from
    ``K^(0) = 0`` visits (the reachable covariances), sampled on a grid of their hull;
    the **local** factor is its value at the fixed point (grid: 9 points of the hull plus
    the visited variances).  Both are float64 estimates,
    not certified.  The **sufficient** factor ``2 sigma_w^2 (L^2 + sup|sigma|
    sup|sigma''|)`` of MATH §7 bounds both (``|nu'| <= L^2 + sup|sigma|
    sup|sigma''|`` and ``E[sigma'^2] <= L^2``) and is certified from the suprema.

    Parameters
    ----------
    act : str, sympy.Expr or Activation
    sigma_w2 : float
        The weight scale, > 0.
    report : ConditionReport, optional
        Reuse its suprema instead of recomputing them.
    max_iter : int
        Cap on the fixed-point iterations of the diagonal.
    tol : float
        Stop when ``|kappa_{l+1} - kappa_l| <= tol * max(1, kappa)``.

    Returns
    -------
    ContractionResult

    Raises
    ------
    ValueError
        For a bad activation or ``sigma_w2`` that is not a positive finite number.

    Examples
    --------
    Identity: ``nu(q) = q``, so both factors equal ``2 sigma_w^2``.

    >>> import hermite_dual as hd
    >>> r = hd.contraction("identity", 0.25)
    >>> round(r.measured_factor, 8), r.sufficient_factor
    (0.5, 0.5)
    """
    act = activation(act)
    sw = _check_sigma_w2(sigma_w2)
    if report is None:
        report = check_conditions(act)
    from .hermite import hermite_table  # the layer below; imported lazily

    def nu_many(a, qs):
        # E[a(sqrt(q) Z)^2] = K_a(q, q, q): the diagonal of the dual kernel of a, i.e. the
        # norm of its Hermite expansion (equal to hd.dual(a).kernel(q, q, q), tested);
        # one table call for all the variances
        return hermite_table(a, 1, np.asarray(qs, dtype=np.float64).ravel())[1]

    def nu_of(a, q):
        return float(nu_many(a, [float(q)])[0])

    try:
        dact = act.derivative()
    except ValueError as exc:
        dact = None
        dnote = (f"sigma' is not a function ({exc}); K_sigma'(s, s, c) = E[delta(u) "
                 "delta(v)] grows without bound as c -> s, so the off-diagonal factor is "
                 "infinite")
    else:
        dnote = ""
    suff, suff_holds = _sufficient(sw, report.sup_abs, report.sup_first, report.sup_second)

    # diagonal fixed point kappa = nu(2 sw kappa + 2), from K^(0) = 0
    kappa, visited, converged, residual, it = 0.0, [2.0], False, math.inf, 0
    diverged = ""
    for it in range(1, max_iter + 1):
        s = 2 * sw * kappa + 2
        try:
            new = nu_of(act, s)
        except (ValueError, OverflowError, FloatingPointError) as exc:
            diverged = f" ({exc})"
            break
        residual = abs(new - kappa)
        kappa = new
        if not math.isfinite(kappa) or kappa > 1e150:
            break
        visited.append(2 * sw * kappa + 2)
        if residual <= tol * max(1.0, abs(kappa)):
            converged = True
            break
    s_star = 2 * sw * kappa + 2
    nan = math.nan
    if not converged:
        note = ("the diagonal iteration did not converge "
                f"(kappa = {kappa:.6g} after {it} steps{diverged}): no fixed point, no "
                "measured factor")
        return ContractionResult(
            sigma_w2=sw, sufficient_factor=suff, sufficient_holds=suff_holds,
            measured_factor=nan, measured_diagonal=nan, measured_offdiagonal=nan,
            local_factor=nan, kappa=kappa, variance=s_star,
            q_range=(min(visited), max(visited)), converged=False, iterations=it,
            residual=residual, holds=None, abs_error=nan, note=note)
    qlo, qhi = min(visited), max(visited)
    # the hull of the visited variances, sampled with its visited points (deduplicated)
    grid = np.unique(np.round(np.concatenate([np.linspace(qlo, qhi, 9), np.array(visited)]),
                              10))

    def factors(q):
        """Diagonal and off-diagonal derivative factors and an error estimate, vectorized in q."""
        q = np.asarray(q, dtype=np.float64)
        h1, h2 = 1e-4 * q, 2e-4 * q
        pts = np.concatenate([q + h1, q - h1, q + h2, q - h2, q])
        nu = nu_many(act, pts).reshape(5, -1)
        d1 = (nu[0] - nu[1]) / (2 * h1)
        d2 = (nu[2] - nu[3]) / (2 * h2)
        # Richardson: the O(h^2) error of the h1 estimate is about (d1 - d2)/3; the
        # float64 kernel values (relative ~1e-13) add rounding of order 1e-13 nu / h1
        diag = np.abs(d1 + (d1 - d2) / 3)
        err = np.abs(d1 - d2) / 3 + 1e-12 * np.maximum(1.0, np.abs(nu[4])) / h1
        if dact is not None:
            off = nu_many(dact, q)
        else:
            off = np.full_like(q, math.inf)
        return 2 * sw * diag, 2 * sw * off, 2 * sw * err

    diag_v, off_v, err_v = factors(grid)
    diag_sup = float(diag_v.max())
    off_sup = float(off_v.max())
    err = float(err_v.max())
    loc = [float(v[0]) for v in factors(np.array([s_star]))]
    measured = max(diag_sup, off_sup)
    local = max(loc[0], loc[1])
    note = dnote or ("equal-norm data; measured factors are float64 estimates on a "
                     f"{grid.size}-point grid of the visited variances")
    return ContractionResult(
        sigma_w2=sw, sufficient_factor=suff, sufficient_holds=suff_holds,
        measured_factor=measured, measured_diagonal=diag_sup, measured_offdiagonal=off_sup,
        local_factor=local, kappa=kappa, variance=s_star, q_range=(qlo, qhi),
        converged=True, iterations=it, residual=residual,
        holds=bool(measured + err < 1) if measured + err < 1 or measured - err >= 1 else None,
        abs_error=err, note=note)


# ---------------------------------------------------------------------------
# the report
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class ConditionReport:
    """Verdict on the conditions C0-C4 of MATH §7 for one activation.

    Attributes
    ----------
    name : str
    expr : sympy.Expr
    sup_abs, sup_first, sup_second : Bound
        sup |sigma|, sup |sigma'|, sup |sigma''| over the real line.
    non_polynomial : bool
        C3.
    conditions : dict
        ``{'C0': {'holds': bool | None, 'reason': str}, ..., 'C4': ...}``.
    admissible : bool or None
        C1 and C2 and C3 (None when one of them is undetermined).
    max_sigma_w2 : float
        ``1/(8 L^2)``, rounded down (computed from the certified upper bound of L for an
        enclosure; 0 when L is infinite; nan when undetermined).
    max_sigma_w2_exact : sympy.Expr or None
    sigma_w2 : float or None
    contraction : ContractionResult or None
        Present when ``sigma_w2`` was given.
    elapsed : float
        Seconds.
    """

    name: str
    expr: object
    sup_abs: Bound
    sup_first: Bound
    sup_second: Bound
    non_polynomial: bool
    conditions: dict
    admissible: object
    max_sigma_w2: float
    max_sigma_w2_exact: object
    sigma_w2: object = None
    contraction: object = None
    elapsed: float = 0.0

    def to_dict(self):
        """JSON-able dict (``json.dumps`` accepts it)."""
        return to_jsonable({
            "activation": self.name,
            "expression": sp.sstr(self.expr),
            "sup_abs": self.sup_abs.to_dict(),
            "sup_first": self.sup_first.to_dict(),
            "sup_second": self.sup_second.to_dict(),
            "non_polynomial": self.non_polynomial,
            "conditions": {k: dict(v) for k, v in self.conditions.items()},
            "admissible": self.admissible,
            "max_sigma_w2": self.max_sigma_w2,
            "max_sigma_w2_exact": (None if self.max_sigma_w2_exact is None
                                   else sp.sstr(self.max_sigma_w2_exact)),
            "sigma_w2": self.sigma_w2,
            "contraction": None if self.contraction is None else self.contraction.to_dict(),
            "elapsed_seconds": round(self.elapsed, 3),
        })

    def __str__(self):
        verdict = {True: "yes", False: "no", None: "undetermined"}
        lines = [f"activation {self.name}: sigma(x) = {sp.sstr(self.expr)}"]
        for label, b in (("sup|sigma|  ", self.sup_abs), ("sup|sigma'| ", self.sup_first),
                         ("sup|sigma''|", self.sup_second)):
            lines.append(f"  {label} = {b.short()}  [{b.where}]")
        for cid, cond in self.conditions.items():
            lines.append(f"  {cid} {verdict[cond['holds']]:>12}: {cond['reason']}")
        lines.append(f"  admissible (C1 and C2 and C3): {verdict[self.admissible]}")
        if self.max_sigma_w2_exact is not None:
            exact = sp.sstr(self.max_sigma_w2_exact)
            if len(exact) > 60:       # the float, with the exact L it comes from above
                exact = "1/(8 L^2) with the exact L above"
            lines.append(f"  max sigma_w^2 = 1/(8 L^2) = {self.max_sigma_w2:.10g}"
                         + ("" if exact.startswith("1/(8 L^2)") else f" = {exact}")
                         + (" (exact)" if not exact.startswith("1/(8 L^2)") else
                            f" ({exact}, exact)"))
        elif math.isnan(self.max_sigma_w2):
            lo = self.sup_first.lower
            if lo == lo and lo > 0 and math.isfinite(lo):
                lines.append(f"  max sigma_w^2 = 1/(8 L^2) <= {1 / (8 * lo * lo):.10g} "
                             f"(L undetermined, but L >= {lo:.10g} is certified)")
            else:
                lines.append("  max sigma_w^2 = 1/(8 L^2): undetermined (L undetermined)")
        else:
            lines.append(f"  max sigma_w^2 = 1/(8 L^2) >= {self.max_sigma_w2:.10g}")
        if self.contraction is not None:
            c = self.contraction
            lines.append(f"  kernel map at sigma_w^2 = {c.sigma_w2:g}: sufficient factor "
                         f"{c.sufficient_factor:.6g}, measured factor {c.measured_factor:.6g}"
                         f" (+- {c.abs_error:.1e}), at the fixed point {c.local_factor:.6g}")
        return "\n".join(lines)


def _max_sigma_w2(b1):
    if b1.status == "exact":
        if b1.exact == 0:
            return math.inf, sp.oo
        ex = sp.nsimplify(1 / (8 * b1.exact ** 2)) if b1.exact.is_Float else \
            sp.radsimp(1 / (8 * b1.exact ** 2))
        value = float(ex)
        if ex.is_Rational and sp.Rational(value) == ex:  # exactly representable: keep it
            return value, ex
        return _down(value), ex
    if b1.status == "enclosure":
        return _down(1 / (8 * b1.upper ** 2)), None
    if b1.status in ("unbounded", "not_a_function"):
        return 0.0, sp.Integer(0)
    return math.nan, None


def _bounds_and_c3(act, root, method):
    """The three suprema and C3 under one work budget (90 % for the suprema)."""
    bounds_budget = root.fraction(0.9, label="suprema")
    with bounds_budget:
        try:
            with bounds_budget.child(label="kinks") as kinks:
                pieces = _pieces(act, _Clock(kinks))
        except (_Fail, _Timeout) as exc:
            why = ("splitting at the kinks: work budget used up" if isinstance(exc, _Timeout)
                   else str(exc))
            pieces = None
        bounds = []
        for k in range(3):
            if pieces is None:
                bounds.append(Bound(order=k, status="undetermined", value=math.nan,
                                    tried=(why,), method="none"))
                continue
            share = bounds_budget.fraction(1.0 / (3 - k), label=f"sup of {_ORDER_NAME[k]}")
            bounds.append(_sup_bound(act, pieces, k, share, method))
    b0, b1, b2 = bounds
    nonpoly, poly_reason = _non_polynomial(act, b0, b1, _Clock(root))
    return b0, b1, b2, nonpoly, poly_reason


def check_conditions(act, sigma_w2=None, *, time_budget=20.0, method="auto",
                     wall_clock=None):
    """Check the conditions of MATH §7 on an activation, with proofs or certified bounds.

    Parameters
    ----------
    act : str, sympy.Expr or Activation
        Anything :func:`hermite_dual.activation` accepts.
    sigma_w2 : float, optional
        A weight scale; when given, C4 (kernel-map contraction) is evaluated by
        :func:`contraction`.
    time_budget : float
        Work budget for the whole check, in nominal seconds (default 20): a count of
        ``hermite_dual._util.deadline.UNITS_PER_SECOND`` Python calls per nominal second,
        so the verdict is the same on a quiet and on a loaded machine.  A bound whose
        analysis does not finish in its share ends ``'undetermined'`` with what was tried.
    wall_clock : float, optional
        A wall-clock limit in seconds.  It only stops the call (``TimeoutError``); it never
        changes the verdict returned.
    method : {'auto', 'exact', 'enclosure'}
        ``'auto'`` tries sympy first, then ball arithmetic; the others force one route.
        ``'enclosure'`` skips the exact route (jumps are still found symbolically), so
        an unbounded supremum ends ``'undetermined'``; the tests use it to check the
        enclosures against the exact values.

    Returns
    -------
    ConditionReport

    Raises
    ------
    ValueError
        For an activation :func:`hermite_dual.activation` refuses (unparseable,
        non-real), a ``sigma_w2`` that is not a positive finite number, a bad
        ``time_budget`` or ``method``.
    TypeError
        For an activation spec of the wrong type.
    TimeoutError
        When ``wall_clock`` seconds pass before the check ends.

    Notes
    -----
    Suprema are **essential** suprema over the real line: values at isolated points
    (Heaviside(0), sign(0)) do not count; one-sided limits at kinks and limits at
    +-inf do.  The exact route takes the largest of |g| at the critical points of each
    smooth piece g (solved by sympy) and its one-sided limits, and is cross-checked on
    a float64 grid; the certified route is a branch and bound with arb balls (python-
    flint) over the compactified line, tight to ``ENCLOSURE_RTOL = 1e-6``.

    Examples
    --------
    >>> import hermite_dual as hd
    >>> r = hd.check_conditions("erf")
    >>> r.sup_first.exact, r.sup_second.exact
    (2/sqrt(pi), 2*sqrt(2)*exp(-1/2)/sqrt(pi))
    >>> r.max_sigma_w2_exact
    pi/32
    >>> hd.check_conditions("x**2").sup_first.where
    "sigma'(x) -> -oo as x -> -inf (sympy limit)"
    >>> r = hd.check_conditions("silu")       # no closed form: a certified enclosure
    >>> r.sup_first.status, r.sup_first.lower <= 1.09983932012887 <= r.sup_first.upper
    ('enclosure', True)
    """
    act = activation(act)
    sw = None if sigma_w2 is None else _check_sigma_w2(sigma_w2)
    if (isinstance(time_budget, bool) or not isinstance(time_budget, (int, float))
            or not math.isfinite(time_budget) or time_budget <= 0):
        raise ValueError("time_budget must be a positive number of nominal seconds of work, "
                         f"got {time_budget!r}")
    if method not in ("auto", "exact", "enclosure"):
        raise ValueError(f"method must be 'auto', 'exact' or 'enclosure', got {method!r}")
    start = time.perf_counter()
    if wall_clock is not None and (isinstance(wall_clock, bool)
                                   or not isinstance(wall_clock, (int, float))
                                   or not math.isfinite(wall_clock) or wall_clock <= 0):
        raise ValueError(f"wall_clock must be a positive number of seconds, got {wall_clock!r}")
    root = from_seconds(time_budget, wall_seconds=wall_clock, label="check_conditions")
    try:
        with root:
            b0, b1, b2, nonpoly, poly_reason = _bounds_and_c3(act, root, method)
    except WallClockExceeded as exc:
        raise TimeoutError(f"check_conditions({act.name!r}) stopped: {exc}") from None

    def cond(b, label):
        holds = b.bounded
        if holds is True:
            return {"holds": True, "reason": f"{label} = {b.short()}"}
        if holds is False:
            return {"holds": False, "reason": f"{label} is infinite: {b.where}"}
        return {"holds": None, "reason": f"{label} undetermined: {'; '.join(b.tried[-2:])}"}

    conditions = {
        "C0": dict(cond(b0, "sup|sigma|"), required=False),
        "C1": dict(cond(b1, "L = sup|sigma'|"), required=True),
        "C2": dict(cond(b2, "sup|sigma''|"), required=True),
        "C3": {"holds": nonpoly, "reason": poly_reason, "required": True},
    }
    c1, c2 = conditions["C1"]["holds"], conditions["C2"]["holds"]
    if c1 is False or c2 is False or not nonpoly:
        admissible = False
    elif c1 is None or c2 is None:
        admissible = None
    else:
        admissible = True
    msw, msw_exact = _max_sigma_w2(b1)
    report = ConditionReport(
        name=act.name, expr=act.expr, sup_abs=b0, sup_first=b1, sup_second=b2,
        non_polynomial=nonpoly, conditions=conditions, admissible=admissible,
        max_sigma_w2=msw, max_sigma_w2_exact=msw_exact, sigma_w2=sw,
        elapsed=time.perf_counter() - start)
    if sw is None:
        conditions["C4"] = {"holds": None, "required": False,
                            "reason": "give sigma_w2 to evaluate the kernel-map contraction"}
        return report
    res = contraction(act, sw, report=report)
    if res.sufficient_holds:
        c4 = {"holds": True, "reason": f"sufficient factor {res.sufficient_factor:.6g} < 1 "
                                       "(certified)"}
    elif res.holds is not None:
        c4 = {"holds": res.holds,
              "reason": (f"sufficient factor {res.sufficient_factor:.6g} does not prove it; "
                         f"measured factor {res.measured_factor:.6g} (+- {res.abs_error:.1e}, "
                         "estimated)")}
    else:
        c4 = {"holds": None, "reason": res.note}
    c4["required"] = False
    c4["well_posed"] = bool(math.isfinite(msw) and sw < msw) if not math.isnan(msw) else None
    conditions["C4"] = c4
    return ConditionReport(
        name=act.name, expr=act.expr, sup_abs=b0, sup_first=b1, sup_second=b2,
        non_polynomial=nonpoly, conditions=conditions, admissible=admissible,
        max_sigma_w2=msw, max_sigma_w2_exact=msw_exact, sigma_w2=sw, contraction=res,
        elapsed=time.perf_counter() - start)


def describe_conditions(act, sigma_w2=None, *, time_budget=20.0):
    """JSON-able dict of :func:`check_conditions` (for ``hermite-dual check --json``).

    Examples
    --------
    >>> import json, hermite_dual as hd
    >>> d = hd.describe_conditions("sin")
    >>> d["sup_second"]["exact"], d["admissible"]
    ('1', True)
    >>> isinstance(json.dumps(d), str)
    True
    """
    return check_conditions(act, sigma_w2, time_budget=time_budget).to_dict()


# ---------------------------------------------------------------------------
# the generated docs page
# ---------------------------------------------------------------------------

def _round_sig(v, digits, direction):
    """v rounded to ``digits`` significant decimal digits, outward (floor/ceil)."""
    if v == 0 or not math.isfinite(v):
        return f"{v:g}"
    exp10 = math.floor(math.log10(abs(v))) - digits + 1
    scaled = v / 10.0 ** exp10
    r = math.floor(scaled) if direction < 0 else math.ceil(scaled)
    if r == scaled:
        r = int(scaled)
    return f"{r * 10.0 ** exp10:.{digits}g}"


def _cell(b):
    if b.status == "exact":
        return f"`{sp.sstr(b.exact)}`" + ("" if b.exact.is_Rational else f" = {b.value:.7g}")
    if b.status == "enclosure":
        return (f"[{_round_sig(b.lower, 7, -1)}, {_round_sig(b.upper, 7, +1)}] "
                "(certified)")
    if b.status == "unbounded":
        return "∞"
    if b.status == "not_a_function":
        return "not a function (jump)"
    return "undetermined"


def _sigma_w2_cell(r):
    if r.max_sigma_w2_exact is not None:
        text = sp.sstr(r.max_sigma_w2_exact)
        if len(text) <= 24:
            return f"`{text}`"
        return f"{r.max_sigma_w2:.7g} (exact form in the report)"
    if math.isnan(r.max_sigma_w2):
        return "?"
    return f"≥ {_round_sig(r.max_sigma_w2, 7, -1)}"


def verdict_table_markdown(names=None, *, time_budget=20.0, reports=None):
    """The docs page ``docs/conditions.md``: a verdict table generated by the checker.

    Parameters
    ----------
    names : sequence of str, optional
        Activations (default: every built-in).
    time_budget : float
        Per activation (the checker's default).
    reports : mapping of str to ConditionReport, optional
        Reports already computed with the default settings (the test reuses its own).

    Returns
    -------
    str
        Markdown.

    Examples
    --------
    >>> page = verdict_table_markdown(["tanh"])
    >>> "| tanh |" in page and "4*sqrt(3)/9" in page
    True
    """
    names = builtin_names() if names is None else tuple(names)
    yes = {True: "yes", False: "no", None: "?"}
    rows = []
    notes = []
    for name in names:
        r = (reports or {}).get(name) or check_conditions(name, time_budget=time_budget)
        rows.append(
            f"| {name} | `{sp.sstr(r.expr)}` | {_cell(r.sup_abs)} | {_cell(r.sup_first)} | "
            f"{_cell(r.sup_second)} | {yes[r.non_polynomial]} | **{yes[r.admissible]}** | "
            f"{_sigma_w2_cell(r)} |")
        for b in (r.sup_abs, r.sup_first, r.sup_second):
            if b.status in ("not_a_function", "undetermined"):
                notes.append(f"- **{name}**, order {b.order}: {b.where or '; '.join(b.tried)}")
    head = [
        "# Conditions on the activation: verdicts for the built-ins",
        "",
        "<!-- generated by `python3 -m hermite_dual.conditions --write-docs "
        "docs/conditions.md`; do not edit by hand (a test compares this page with the "
        "generator) -->",
        "",
        "Conditions of MATH §7: C0 `sup|σ| < ∞` (reported, not required), C1 "
        "`L = sup|σ'| < ∞`, C2 `sup|σ''| < ∞`, C3 σ is not a polynomial; "
        "**admissible** = C1 ∧ C2 ∧ C3, and the admissible weight scale is "
        "`σ_w² < 1/(8 L²)`.",
        "",
        "Suprema are essential suprema over the whole real line. Backticked values are "
        "exact (sympy: critical points, one-sided limits at kinks, limits at ±∞); "
        "bracketed values are certified enclosures by arb ball arithmetic (python-flint) "
        "over the compactified line, tight to a relative 1e-6; ∞ comes with a divergent "
        "limit as witness; *not a function* means a lower derivative jumps, so the "
        "derivative contains a Dirac mass (reasons below). For an enclosure the last "
        "column is `1/(8 U²)` with U the certified upper bound of L.",
        "",
        "| activation | σ(x) | sup\\|σ\\| | sup\\|σ'\\| | sup\\|σ''\\| | non-polynomial | "
        "admissible | max σ_w² |",
        "|---|---|---|---|---|---|---|---|",
    ]
    tail = ["", "## Why a derivative is not a function", "", *notes, ""]
    return "\n".join(head + rows + tail)


def _main(argv=None):
    import argparse
    parser = argparse.ArgumentParser(prog="python3 -m hermite_dual.conditions",
                                     description="Generate docs/conditions.md.")
    parser.add_argument("--write-docs", metavar="PATH", required=True)
    args = parser.parse_args(argv)
    page = verdict_table_markdown()
    with open(args.write_docs, "w", encoding="utf-8") as fh:
        fh.write(page)
    print(f"wrote {args.write_docs}")
    return 0


if __name__ == "__main__":  # pragma: no cover - exercised by the docs test via the function
    raise SystemExit(_main())
