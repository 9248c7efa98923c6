"""``check_conditions``: C0-C4 of MATH §7 for one activation, exact first, then certified.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import sympy as sp

from .._json import to_jsonable
from .._util.deadline import (
    WallClockExceeded,
    from_seconds,
)
from ..activations import activation, x
from ..symbolic.arb import Unsupported
from .bounds import (
    _EXACT_SHARE,
    _ORDER_NAME,
    Bound,
    _bound_exact,
    _bound_unbounded,
    _Clock,
    _down,
    _Fail,
    _Timeout,
)
from .enclosure import _certified_sup
from .exact import _exact_sup, _first_jump, _pieces
from .kernel_map import _check_sigma_w2, contraction
from .witness import oscillation_witness

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
    except (Unsupported, NotImplementedError, TypeError, ValueError,
            AttributeError, RecursionError, ZeroDivisionError) as exc:
        tried.append(f"exact route: sympy raised {type(exc).__name__}")
    if method == "exact":
        return Bound(order=k, status="undetermined", value=math.nan, tried=tuple(tried),
                     method="exact route only")
    # 3. oscillating growth: a sequence along which sigma^(k) diverges (a proof)
    witness = _oscillation(pieces, k, clock, tried)
    if witness is not None:
        return _bound_unbounded(k, witness, "sympy limit along a sequence", tried)
    # 4. certified enclosure
    try:
        lo, hi, where, status, evals = _certified_sup(pieces, k, clock, tried)
    except Unsupported as exc:
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


def _oscillation(pieces, k, clock, tried):
    """A divergence witness (:mod:`.witness`) on an unbounded piece, or None."""
    for piece in pieces:
        g = piece.deriv(k)
        if not (g.has(sp.sin, sp.cos) and (piece.a == -sp.oo or piece.b == sp.oo)):
            continue
        tried.append(f"divergence along a sequence freezing the oscillation of "
                     f"{_ORDER_NAME[k]}")
        try:
            found = oscillation_witness(g, piece.a, piece.b, clock.step)
        except _Timeout:
            tried.append("divergence witness: work budget used up")
            return None
        except (NotImplementedError, TypeError, ValueError, AttributeError,
                RecursionError, ZeroDivisionError) as exc:
            tried.append(f"divergence witness: sympy raised {type(exc).__name__}")
            continue
        if found is not None:
            return found
    return None


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
