"""The result type of the conditions checker (:class:`Bound`) and what its stages share.

Constants of the checker (enclosure tightness, ball precision, work shares), the work
clock over the one budget (:mod:`hermite_dual._util.deadline`), directed rounding, and the
float64 evaluation of a smooth branch used only to seed and cross-check (never a proof).
MATH §7.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import sympy as sp

from .._json import to_jsonable
from .._util.deadline import (
    UNITS_PER_SECOND,
    WorkBudgetExceeded,
)
from ..symbolic.numeric import to_numpy

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

def _float_fn(g):
    """A float64 callable of a smooth branch (erf via math.erf, no JIT warm-up)."""
    # np.asarray: on a scalar (e.g. the constant branch erf(1)) frompyfunc returns a float
    fn = to_numpy(g, jit=False)

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
