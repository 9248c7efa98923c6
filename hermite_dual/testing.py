"""Hypothesis strategies for property-testing the theory of DEQs with general activations.

A theorist states a claim as a property; hypothesis hunts for a counterexample and the
library does the mathematics.  The strategies here draw the objects the theory talks
about:

- :func:`activations` -- random activations from a small grammar over the built-ins
  (affine rescalings ``sigma(alpha*x + beta)``, sums, products, compositions), each drawn
  **with its known verdicts** (bounded, Lipschitz, bounded second derivative,
  non-polynomial, closed-form dual), derived from the grammar by sound rules;
- :func:`covariances` -- valid 2x2 covariances ``(q1, q2, c)``, edges included
  (``rho = +-1, 0``, the smallest and largest variances);
- :func:`sphere_data` -- data rows on the sphere of radius ``sqrt(d)``, pairwise
  non-parallel with a minimum angle;
- :func:`deq_configs` -- width, ``sigma_w^2`` inside the well-posedness limit of the drawn
  activation, a step-size fraction and a seed.

Every strategy shrinks toward the simplest case (a plain built-in, unit variances with
``rho = 0``, orthogonal data, the smallest width).

Examples
--------
>>> from hypothesis import given, settings
>>> from hermite_dual.testing import activations
>>> @settings(max_examples=5, derandomize=True, database=None)
... @given(activations(admissible_only=True))
... def check(drawn):
...     assert drawn.admissible is True and drawn.lipschitz_bound < float("inf")
>>> check()
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from fractions import Fraction
from typing import NamedTuple

import numpy as np
from hypothesis import strategies as st

from .activations import activation
from .hostile import hostile_expressions

__all__ = [
    "hostile_expressions",
    "DrawnActivation",
    "Covariance",
    "DEQConfig",
    "activations",
    "covariances",
    "sphere_data",
    "deq_configs",
    "leaf_facts",
    "min_pairwise_angle",
]

_INF = float("inf")

# ---------------------------------------------------------------------------
# Facts about the built-ins: the grammar's axioms (a view of hermite_dual.library, where
# each record carries its suprema and their derivations)
# ---------------------------------------------------------------------------

def _facts_table():
    from .library import RECORDS
    # name: (sup|s|, sup|s'|, sup|s''|, analytic, polynomial, parity, closed-form dual)
    return {r.name: (*r.sup, r.analytic, r.polynomial, r.parity, r.closed_form_dual)
            for r in RECORDS}


_FACTS = None


def leaf_facts():
    """The grammar's axioms: known suprema and structure of every built-in it uses.

    Returns
    -------
    dict
        ``name -> (sup|sigma|, sup|sigma'|, sup|sigma''|, analytic, polynomial, parity,
        closed_form_dual)``; a supremum is ``inf`` when it is infinite or when the
        derivative is not a function (a Dirac mass).

    Examples
    --------
    >>> from hermite_dual.testing import leaf_facts
    >>> f = leaf_facts()["tanh"]
    >>> f[:3]  # sup|tanh| = 1, L = 1, sup|tanh''| = 4/(3 sqrt 3)
    (1.0, 1.0, 0.769800358919501)
    >>> leaf_facts()["relu"][2]  # relu'' is a Dirac mass
    inf
    """
    global _FACTS
    if _FACTS is None:
        _FACTS = _facts_table()
    return dict(_FACTS)


@functools.lru_cache(maxsize=4096)
def _build_activation(spec):
    return activation(spec)


def _growth(name, bound):
    """sup of |sigma(u)| over |u| <= bound, for an unbounded built-in (an upper bound)."""
    if name == "exp":
        return math.exp(bound) if bound < 700 else _INF
    if name == "softplus":
        return bound + math.log(2.0)
    # identity, relu, leaky_relu, abs, gelu, silu, elu: |sigma(u)| <= |u|
    return bound


_ANALYTIC_OUTERS = ("tanh", "sin", "cos", "erf", "sigmoid", "atan", "gaussian",
                    "softplus", "gelu", "silu", "exp")
_KINKED_OUTERS = ("relu", "abs", "elu", "softsign", "leaky_relu", "step")
_ODD_MONOTONE = ("tanh", "atan", "erf")
_ADMISSIBLE = ("tanh", "sin", "erf", "sigmoid", "cos", "gaussian", "atan", "softplus",
               "gelu", "silu", "elu", "softsign")
_ALL = ("tanh", "relu", "sin", "identity", "erf", "sigmoid", "cos", "gaussian", "atan",
        "softplus", "gelu", "silu", "elu", "softsign", "abs", "leaky_relu", "step", "exp")
_CLOSED = ("erf", "sin", "relu", "identity", "cos", "gaussian", "exp", "step")
_ALPHAS = (Fraction(1), Fraction(-1), Fraction(2), Fraction(1, 2), Fraction(-2),
           Fraction(-1, 2), Fraction(3, 2), Fraction(-3, 2))
_BETAS = (Fraction(0), Fraction(1, 2), Fraction(-1, 2), Fraction(1), Fraction(-1))


# ---------------------------------------------------------------------------
# Drawn activations and the verdict rules
# ---------------------------------------------------------------------------

def _and3(*flags):
    """Three-valued AND: False if any is False, True if all are True, else None."""
    if any(f is False for f in flags):
        return False
    if all(f is True for f in flags):
        return True
    return None


@dataclass(frozen=True)
class DrawnActivation:
    """An activation drawn from the grammar, with the verdicts the grammar proves.

    Every flag is three-valued: ``True`` (proved), ``False`` (disproved) or ``None`` (the
    grammar's rules do not decide; the property may still hold).  Bounds are upper
    bounds, finite exactly when the matching flag is ``True``.

    Attributes
    ----------
    activation : Activation
        The activation, built by :func:`hermite_dual.activation` from :attr:`spec`
        (lazily: drawing is cheap, the sympy work happens on first use).
    spec : str
        Its expression text (the built-ins are callable in expression strings).
    bounded, lipschitz, c2, non_polynomial : bool or None
        C0 (sup|sigma| < inf), C1 (sup|sigma'| < inf), C2 (sup|sigma''| < inf, sigma''
        a function) and C3 (not a polynomial) of MATH §7.
   analytic : bool or None
        Real-analytic on R (``False``: some derivative jumps somewhere).
    nonconstant : bool or None
        Not a constant function.
    parity : {'odd', 'even', None}
        Proved parity (``None``: not proved, the function may still have one).
    closed_form_dual : bool
        ``True`` when the dual kernel is a finite combination of MATH §3's
        closed forms (``False`` means only that these rules do not assemble one).
    sup_bound, lipschitz_bound, second_bound : float
        Upper bounds on sup|sigma|, sup|sigma'|, sup|sigma''| (``inf`` when unknown).
    depth : int
        Number of grammar operations above the leaves.

    Examples
    --------
    >>> from hermite_dual.testing import DrawnActivation
    >>> d = DrawnActivation.leaf("tanh", alpha=2)
    >>> d.spec, d.lipschitz_bound, d.admissible
    ('tanh(2*x)', 2.0, True)
    >>> round(d.max_sigma_w2, 6)  # 1/(8 L^2) with L = 2
    0.03125
    """

    spec: str
    bounded: bool | None
    lipschitz: bool | None
    c2: bool | None
    non_polynomial: bool | None
    analytic: bool | None
    nonconstant: bool | None
    parity: str | None
    closed_form_dual: bool
    sup_bound: float
    lipschitz_bound: float
    second_bound: float
    depth: int = 0

    def __hermite_activation__(self):
        """Lets every public function take a draw directly (``hd.activation(draw)``)."""
        return self.activation

    @functools.cached_property
    def activation(self):
        """The :class:`Activation`, built from :attr:`spec` on first use (cached)."""
        return _build_activation(self.spec)

    @property
    def admissible(self):
        """C1, C2 and C3 of MATH §7 (three-valued)."""
        return _and3(self.lipschitz, self.c2, self.non_polynomial)

    @property
    def max_sigma_w2(self):
        """A safe well-posedness limit ``1/(8 L^2)`` from :attr:`lipschitz_bound` (0 if unknown)."""
        if not math.isfinite(self.lipschitz_bound):
            return 0.0
        if self.lipschitz_bound == 0:
            return _INF
        return 1.0 / (8.0 * self.lipschitz_bound ** 2)

    def verdicts(self):
        """The flags as a dict (JSON-able), for reports."""
        return {"spec": self.spec, "bounded": self.bounded, "lipschitz": self.lipschitz,
                "c2": self.c2, "non_polynomial": self.non_polynomial,
                "admissible": self.admissible, "closed_form_dual": self.closed_form_dual,
                "sup_bound": self.sup_bound, "lipschitz_bound": self.lipschitz_bound,
                "second_bound": self.second_bound}

    def __repr__(self):
        flags = ", ".join(f"{k}={getattr(self, k)!r}" for k in
                          ("bounded", "lipschitz", "c2", "non_polynomial"))
        return f"DrawnActivation({self.spec!r}, {flags})"

    # -- grammar -----------------------------------------------------------
    @classmethod
    def leaf(cls, name, alpha=1, beta=0):
        """``sigma(alpha*x + beta)`` for a built-in ``sigma`` and rational ``alpha != 0``.

        Raises
        ------
        ValueError
            If ``name`` is not a built-in known to the grammar or ``alpha`` is zero.
        """
        facts = leaf_facts()
        if name not in facts:
            raise ValueError(f"unknown grammar leaf {name!r}; choose one of {sorted(facts)}")
        alpha, beta = Fraction(alpha), Fraction(beta)
        if alpha == 0:
            raise ValueError(f"alpha must be non-zero, got {alpha!r}")
        sup, lip, sec, analytic, poly, parity, closed = facts[name]
        arg = _affine_text("x", alpha, beta)
        spec = f"({arg})" if name == "identity" else f"{name}({arg})"
        a = abs(float(alpha))
        if name == "identity":
            sup_b = _INF
            closed_ok = True
        else:
            sup_b = sup
            closed_ok = closed and (beta == 0 or name in ("sin", "cos", "exp"))
        return _make(spec, depth=0,
                     bounded=math.isfinite(sup_b),
                     lipschitz=math.isfinite(lip), c2=math.isfinite(sec),
                     non_polynomial=not poly, analytic=analytic, nonconstant=True,
                     parity=parity if beta == 0 else None,
                     closed_form_dual=closed_ok, sup_bound=sup_b,
                     lipschitz_bound=a * lip, second_bound=a * a * sec)


def _num_text(v):
    v = Fraction(v)
    return str(v.numerator) if v.denominator == 1 else f"({v.numerator}/{v.denominator})"


def _affine_text(inner, alpha, beta):
    alpha, beta = Fraction(alpha), Fraction(beta)
    if alpha == 1:
        core = inner
    elif alpha == -1:
        core = f"-{inner}"
    else:
        core = f"{_num_text(alpha)}*{inner}"
    if beta == 0:
        return core
    sign = "+" if beta > 0 else "-"
    return f"{core} {sign} {_num_text(abs(beta))}"


def _finite_or_inf(flag, value):
    return value if flag is True and math.isfinite(value) else _INF


def _make(spec, *, depth, bounded, lipschitz, c2, non_polynomial, analytic, nonconstant,
          parity, closed_form_dual, sup_bound, lipschitz_bound, second_bound):
    # closing rules valid for every node:
    #   a polynomial is analytic; a non-analytic function is not a polynomial;
    #   a bounded non-constant function is not a polynomial; a non-polynomial is non-constant
    if non_polynomial is False:
        analytic = True
    if analytic is False:
        non_polynomial = True
    if bounded is True and nonconstant is True:
        non_polynomial = True
    if non_polynomial is True:
        nonconstant = True
    return DrawnActivation(
        spec=spec, bounded=bounded, lipschitz=lipschitz,
        c2=c2, non_polynomial=non_polynomial, analytic=analytic, nonconstant=nonconstant,
        parity=parity, closed_form_dual=bool(closed_form_dual),
        sup_bound=_finite_or_inf(bounded, sup_bound),
        lipschitz_bound=_finite_or_inf(lipschitz, lipschitz_bound),
        second_bound=_finite_or_inf(c2, second_bound), depth=depth)


def _sum_flag(f, g):
    """Exact rule for a property closed under sums and differences (bounded, Lipschitz, C2)."""
    if f is True and g is True:
        return True
    if (f is True and g is False) or (f is False and g is True):
        return False  # g = (f + g) - f
    return None


def _sum(f, g):
    """``f + g``."""
    split = {f.parity, g.parity} == {"odd", "even"}
    if f.non_polynomial is False and g.non_polynomial is False:
        nonpoly = False
    elif (f.non_polynomial is False and g.non_polynomial is True) or \
            (f.non_polynomial is True and g.non_polynomial is False):
        nonpoly = True
    elif split and (f.non_polynomial is True or g.non_polynomial is True):
        nonpoly = True  # odd and even parts of a polynomial are polynomials
    else:
        nonpoly = None
    nonconst = True if split and (f.nonconstant is True or g.nonconstant is True) else None
    return _make(
        f"{f.spec} + {g.spec}", depth=max(f.depth, g.depth) + 1,
        bounded=_sum_flag(f.bounded, g.bounded),
        lipschitz=_sum_flag(f.lipschitz, g.lipschitz), c2=_sum_flag(f.c2, g.c2),
        non_polynomial=nonpoly, analytic=_sum_flag(f.analytic, g.analytic),
        nonconstant=nonconst, parity=f.parity if f.parity == g.parity else None,
        # E[f(u) g(v)] = 0 when one is odd and the other even
        closed_form_dual=f.closed_form_dual and g.closed_form_dual and split,
        sup_bound=f.sup_bound + g.sup_bound,
        lipschitz_bound=f.lipschitz_bound + g.lipschitz_bound,
        second_bound=f.second_bound + g.second_bound)


def _product(f, g):
    """``f * g``: Leibniz rule bounds when both factors are bounded."""
    both_b = f.bounded is True and g.bounded is True
    lip = True if both_b and f.lipschitz is True and g.lipschitz is True else None
    c2 = True if lip and f.c2 is True and g.c2 is True else None
    if f.parity and g.parity:
        parity = "even" if f.parity == g.parity else "odd"
    else:
        parity = None
    return _make(
        f"({f.spec})*({g.spec})", depth=max(f.depth, g.depth) + 1,
        bounded=True if both_b else None, lipschitz=lip, c2=c2,
        non_polynomial=False if (f.non_polynomial is False and g.non_polynomial is False)
        else None,
        analytic=True if (f.analytic is True and g.analytic is True) else None,
        nonconstant=None, parity=parity, closed_form_dual=False,
        sup_bound=f.sup_bound * g.sup_bound,
        lipschitz_bound=f.lipschitz_bound * g.sup_bound + f.sup_bound * g.lipschitz_bound,
        second_bound=(f.second_bound * g.sup_bound + 2 * f.lipschitz_bound * g.lipschitz_bound
                      + f.sup_bound * g.second_bound))


def _compose(name, alpha, beta, t):
    """``name(alpha*t + beta)``: chain-rule bounds (identity gives an outer affine map)."""
    alpha, beta = Fraction(alpha), Fraction(beta)
    a, b = abs(float(alpha)), abs(float(beta))
    inner = _affine_text(t.spec if alpha == 1 else f"({t.spec})", alpha, beta)
    depth = t.depth + 1
    if name == "identity":
        if alpha == 1 and beta == 0:
            return t
        if beta == 0:
            parity = t.parity
        else:
            parity = "even" if t.parity == "even" else None
        return _make(
            f"({inner})", depth=depth, bounded=t.bounded, lipschitz=t.lipschitz, c2=t.c2,
            non_polynomial=t.non_polynomial, analytic=t.analytic, nonconstant=t.nonconstant,
            parity=parity,
            # K = alpha^2 K_t + beta^2 when E t = 0 (t odd)
            closed_form_dual=t.closed_form_dual and (beta == 0 or t.parity == "odd"),
            sup_bound=a * t.sup_bound + b, lipschitz_bound=a * t.lipschitz_bound,
            second_bound=a * t.second_bound)
    sup, lip, sec, analytic, _poly, parity_s, _closed = leaf_facts()[name]
    if not analytic:
        return _compose_kinked(name, alpha, t, inner, depth)
    reach = a * t.sup_bound + b  # |alpha t + beta| <= reach
    if math.isfinite(sup):
        bounded, sup_b = True, sup
    elif t.bounded is True:
        bounded, sup_b = True, _growth(name, reach)
    else:
        bounded, sup_b = None, _INF
    # sup|sigma'| and sup|sigma''| over the range of the inner map
    if name == "exp" and t.bounded is True:
        lip_r = sec_r = _growth(name, reach)
    else:
        lip_r, sec_r = lip, sec
    lipschitz = True if math.isfinite(lip_r) and t.lipschitz is True else None
    c2 = (True if lipschitz and math.isfinite(sec_r) and t.c2 is True else None)
    if beta == 0 and t.parity == "even":
        parity = "even"
    elif beta == 0 and t.parity == "odd" and parity_s is not None:
        parity = parity_s
    else:
        parity = None
    return _make(
        f"{name}({inner})", depth=depth, bounded=bounded, lipschitz=lipschitz, c2=c2,
        non_polynomial=None,
        analytic=True if analytic and t.analytic is True else None,
        # an analytic non-constant sigma is constant on no interval, and a continuous
        # non-constant t has an interval as range (step is the one discontinuous leaf)
        nonconstant=t.nonconstant if analytic and "step(" not in t.spec else None,
        parity=parity, closed_form_dual=False, sup_bound=sup_b,
        lipschitz_bound=lip_r * a * t.lipschitz_bound,
        second_bound=sec_r * a * a * t.lipschitz_bound ** 2 + lip_r * a * t.second_bound)


def _compose_kinked(name, alpha, u, inner, depth):
    """``name(alpha*u)`` for a kinked built-in over an odd, strictly increasing leaf
    ``u = s(gamma x)`` with ``u(0) = 0``, ``u'(0) != 0``: the kink stays at x = 0, of the
    same kind (a jump of the same derivative), so the flags of ``name`` carry over."""
    sup, lip, sec, _analytic, _poly, parity_s, _closed = leaf_facts()[name]
    a = abs(float(alpha))
    bounded = True if math.isfinite(sup) or u.bounded is True else None
    sup_b = sup if math.isfinite(sup) else a * u.sup_bound
    return _make(
        f"{name}({inner})", depth=depth, bounded=bounded,
        lipschitz=math.isfinite(lip), c2=math.isfinite(sec), non_polynomial=True,
        analytic=False, nonconstant=True, parity=parity_s, closed_form_dual=False,
        sup_bound=sup_b, lipschitz_bound=lip * a * u.lipschitz_bound,
        second_bound=sec * a * a * u.lipschitz_bound ** 2 + lip * a * u.second_bound)


# ---------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------

def _check_bool(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {value!r}")


def _check_int(value, name, low, high=None):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        rng = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{name} must be {rng}, got {value!r}")
    return int(value)


def _leaf_strategy(names, closed_form_only):
    def build(name, alpha, beta):
        if closed_form_only and name not in ("sin", "cos", "exp", "identity"):
            beta = 0
        return DrawnActivation.leaf(name, alpha, beta)

    return st.builds(build, st.sampled_from(names), st.sampled_from(_ALPHAS),
                     st.sampled_from(_BETAS))


def activations(admissible_only=False, closed_form_only=False, max_depth=2):
    """Random activations from a grammar over the built-ins, drawn with their verdicts.

    The grammar: a leaf is ``sigma(alpha*x + beta)`` for a built-in ``sigma`` and small
    rationals ``alpha != 0, beta``; a node is a sum ``f + g``, a product ``f * g`` or a
    composition ``sigma(alpha*t + beta)`` (``sigma = identity`` gives an outer affine
    map).  Each draw carries the flags the grammar proves, by these rules:

    - leaves: the exact table :func:`leaf_facts`; an inner affine map with ``alpha != 0``
      keeps every property and scales ``L`` by ``|alpha|``, ``sup|sigma''|`` by ``alpha^2``;
    - sums: bounded / Lipschitz / C2 / analytic hold if they hold for both parts and fail
      if they hold for exactly one (``g = (f + g) - f``); undecided otherwise (``x +
      (-x)``); bounds add;
    - products: of bounded parts, by Leibniz ``(fg)' = f'g + fg'``, ``(fg)'' = f''g +
      2f'g' + fg''``; undecided otherwise (``exp(x) exp(-x) = 1``);
    - compositions: by the chain rule ``(s o u)' = s'(u) u'``, ``(s o u)'' = s''(u) u'^2 +
      s'(u) u''``; ``s(u)`` is bounded when ``s`` is, or when ``u`` is (``s`` continuous);
    - non-polynomial: a non-analytic function (a jump in some derivative), a bounded
      non-constant function, a polynomial plus a non-polynomial, or an odd plus an even
      function one of which is not a polynomial, is not a polynomial;
    - closed-form dual: a closed form of MATH §3 at ``beta = 0`` (any ``beta``
      for sin, cos, exp, identity), an odd plus an even closed form (their cross terms
      vanish), or an outer scaling.

    Parameters
    ----------
    admissible_only : bool
        Draw only activations the rules prove admissible (C1, C2 and C3 of MATH §7
         hold).
    closed_form_only : bool
        Draw only activations whose dual kernel the rules prove closed-form.
    max_depth : int
        Maximum number of grammar operations above a leaf (0: leaves only), at most 4.

    Returns
    -------
    hypothesis.strategies.SearchStrategy of DrawnActivation
        Shrinks toward a plain built-in (``tanh(x)``, or ``erf(x)`` when closed forms
        are required).

    Raises
    ------
    ValueError
        If ``max_depth`` is not an integer in [0, 4].
    TypeError
        If a flag is not a bool.

    Examples
    --------
    >>> from hypothesis import find, settings
    >>> from hermite_dual.testing import activations
    >>> find(activations(), lambda d: d.depth >= 1 and d.bounded is True,
    ...      settings=settings(database=None, max_examples=200))
    DrawnActivation('tanh(x) + tanh(x)', bounded=True, lipschitz=True, c2=True, non_polynomial=None)

    ``tanh(x) + tanh(x)`` is not a polynomial, but the sum rules cannot tell it from
    ``tanh(x) + tanh(-x) = 0``: the verdict is honestly undecided.  Rules by hand:

    >>> from hermite_dual.testing import DrawnActivation
    >>> DrawnActivation.leaf("relu", alpha=2).verdicts()["lipschitz_bound"]
    2.0
    """
    _check_bool(admissible_only, "admissible_only")
    _check_bool(closed_form_only, "closed_form_only")
    max_depth = _check_int(max_depth, "max_depth", 0, 4)
    if closed_form_only:
        names = tuple(n for n in _CLOSED if not admissible_only or n in _ADMISSIBLE
                      or n == "identity")
    elif admissible_only:
        names = _ADMISSIBLE + ("identity",)
    else:
        names = _ALL
    leaf = _leaf_strategy(names, closed_form_only)
    outers = ("identity",) if closed_form_only else (
        ("identity",) + tuple(n for n in _ANALYTIC_OUTERS if n != "exp")
        if admissible_only else ("identity",) + _ANALYTIC_OUTERS + _KINKED_OUTERS)
    odd_leaf = st.builds(DrawnActivation.leaf, st.sampled_from(_ODD_MONOTONE),
                         st.sampled_from([a for a in _ALPHAS if a > 0]))

    def compose(name, alpha, beta, t, m):
        # a kinked outer only over an odd increasing leaf, beta = 0: one kink, at x = 0
        if name in _KINKED_OUTERS:
            t, beta = m, 0
        return _compose(name, alpha, beta, t)

    def tree(depth):
        if depth == 0:
            return leaf
        sub = tree(depth - 1)
        nodes = [st.builds(_sum, sub, sub)]
        if not closed_form_only:
            nodes.append(st.builds(_product, sub, sub))
        nodes.append(st.builds(compose, st.sampled_from(outers), st.sampled_from(_ALPHAS),
                               st.sampled_from(_BETAS), sub, odd_leaf))
        return st.one_of(leaf, *nodes)

    strat = tree(max_depth)
    if admissible_only:
        strat = strat.filter(lambda d: d.admissible is True)
    if closed_form_only:
        strat = strat.filter(lambda d: d.closed_form_dual)
    return strat


class Covariance(NamedTuple):
    """A 2x2 covariance ``[[q1, c], [c, q2]]`` with ``|c| <= sqrt(q1 q2)``.

    Examples
    --------
    >>> from hermite_dual.testing import Covariance
    >>> Covariance(4.0, 1.0, -2.0).rho
    -1.0
    """

    q1: float
    q2: float
    c: float

    @property
    def rho(self):
        """The correlation ``c / sqrt(q1 q2)`` (clipped to [-1, 1] against rounding)."""
        return max(-1.0, min(1.0, self.c / math.sqrt(self.q1 * self.q2)))

    @property
    def matrix(self):
        """The covariance as a 2x2 float64 array."""
        return np.array([[self.q1, self.c], [self.c, self.q2]])


def _check_var_range(min_var, max_var):
    for name, v in (("min_var", min_var), ("max_var", max_var)):
        if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)) \
                or not math.isfinite(v) or v <= 0:
            raise ValueError(f"{name} must be a positive finite number, got {v!r}")
    if min_var > max_var:
        raise ValueError(f"min_var must be <= max_var, got min_var={min_var!r} > "
                         f"max_var={max_var!r}")
    return float(min_var), float(max_var)


def covariances(min_var=1e-3, max_var=1e3):
    """Valid 2x2 covariances ``(q1, q2, c)``, the edges drawn often.

    A third of the draws are edge cases: ``rho`` in {1, -1, 0} with variances from
    {1, min_var, max_var} (1 clipped into range); the rest have log-uniform variances in
    ``[min_var, max_var]`` and a uniform correlation, with ``c = rho sqrt(q1 q2)``.

    Parameters
    ----------
    min_var, max_var : float
        Range of the variances ``q1, q2`` (``0 < min_var <= max_var``).

    Returns
    -------
    hypothesis.strategies.SearchStrategy of Covariance
        Shrinks toward ``(1, 1, 0)`` (or the in-range variance closest to 1).

    Raises
    ------
    ValueError
        If a bound is not a positive finite number or ``min_var > max_var``.

    Examples
    --------
    >>> from hypothesis import find, settings
    >>> from hermite_dual.testing import covariances
    >>> find(covariances(), lambda cv: True, settings=settings(database=None))
    Covariance(q1=1.0, q2=1.0, c=0.0)
    >>> cv = find(covariances(), lambda cv: cv.rho == -1 and cv.q1 != cv.q2,
    ...           settings=settings(database=None))
    >>> abs(cv.c) == math.sqrt(cv.q1 * cv.q2)
    True
    """
    lo, hi = _check_var_range(min_var, max_var)
    unit = min(max(1.0, lo), hi)
    variances = tuple(dict.fromkeys((unit, lo, hi)))

    def build(q1, q2, rho):
        return Covariance(q1, q2, float(rho) * math.sqrt(q1 * q2))

    edges = st.builds(build, st.sampled_from(variances), st.sampled_from(variances),
                      st.sampled_from((0.0, 1.0, -1.0)))
    log_var = st.floats(math.log(lo), math.log(hi)).map(
        lambda t: min(max(math.exp(t), lo), hi))
    general = st.builds(build, log_var, log_var, st.floats(-1.0, 1.0))
    return st.one_of(edges, general)


# ---------------------------------------------------------------------------
# Data on the sphere
# ---------------------------------------------------------------------------

def _to_sphere(rows, d):
    rows = np.asarray(rows, dtype=np.float64)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True) * math.sqrt(d)


def min_pairwise_angle(X):
    """Smallest angle (radians, in [0, pi/2]) between the lines through pairs of rows.

    Examples
    --------
    >>> from hermite_dual.testing import min_pairwise_angle
    >>> round(min_pairwise_angle(np.array([[1.0, 0.0], [1.0, 1.0], [0.0, -2.0]])), 6)
    0.785398
    """
    X = np.asarray(X, dtype=np.float64)
    n = X.shape[0]
    if n < 2:
        return math.pi / 2
    U = X / np.linalg.norm(X, axis=1, keepdims=True)
    C = np.abs(U @ U.T)
    np.fill_diagonal(C, 0.0)
    return float(math.acos(min(1.0, C.max())))


def _planar(n, d, spacing, offset=0.0):
    """n rows in the first coordinate plane, lines spaced by ``spacing`` radians."""
    X = np.zeros((n, d))
    ang = offset + spacing * np.arange(n)
    X[:, 0] = np.cos(ang)
    X[:, 1] = np.sin(ang)
    return _to_sphere(X, d)


def _random_rows(n, d, min_angle, seed):
    """Gaussian rows, each redrawn until it is min_angle away from the earlier lines."""
    rng = np.random.default_rng(seed)
    cmax = math.cos(min_angle)
    rows = []
    for _ in range(n):
        for _attempt in range(200):
            v = rng.standard_normal(d)
            norm = np.linalg.norm(v)
            if norm < 1e-8:
                continue
            v = v / norm
            if all(abs(float(v @ u)) <= cmax for u in rows):
                rows.append(v)
                break
        else:
            # greedy rejection failed: fall back to a planar arrangement, always valid
            return _planar(n, d, math.pi / n, offset=float(rng.uniform(0, math.pi / n)))
    return _to_sphere(np.array(rows), d)


def sphere_data(n, d, min_angle=0.1):
    """Data ``(n, d)`` with rows on the sphere of radius ``sqrt(d)``, pairwise non-parallel.

    Every pair of rows spans an angle of at least ``min_angle`` with each other's line
    (``|cos| <= cos(min_angle)``), so no two inputs are parallel (MATH §4).
    Draws are one of: the simplest data (``sqrt(d)`` times the unit vectors when ``n <=
    d``, else ``n`` lines spaced by ``pi/n`` in one plane -- the most degenerate
    non-parallel data, rank 2); a pair exactly ``min_angle`` apart (the edge); or rows from
    a seeded Gaussian, redrawn until the angle condition holds (planar fallback).

    Parameters
    ----------
    n, d : int
        Number of rows (>= 1) and dimension (>= 2; >= 1 when ``n == 1``).
    min_angle : float
        Minimum angle in radians, ``0 < min_angle <= pi/n`` (a construction in a plane
        then always exists).

    Returns
    -------
    hypothesis.strategies.SearchStrategy of numpy.ndarray

    Raises
    ------
    ValueError
        For bad ``n`` or ``d``, or ``min_angle`` outside ``(0, pi/n]``.

    Examples
    --------
    >>> from hypothesis import find, settings
    >>> from hermite_dual.testing import sphere_data, min_pairwise_angle
    >>> X = find(sphere_data(3, 2, min_angle=0.5), lambda X: True,
    ...          settings=settings(database=None))
    >>> np.allclose(np.linalg.norm(X, axis=1), np.sqrt(2)), min_pairwise_angle(X) >= 0.5
    (True, True)
    """
    n = _check_int(n, "n", 1)
    d = _check_int(d, "d", 1)
    if isinstance(min_angle, bool) or not isinstance(min_angle, (int, float, np.floating)) \
            or not math.isfinite(min_angle) or min_angle <= 0:
        raise ValueError(f"min_angle must be a positive number of radians, got {min_angle!r}")
    if n > 1 and d < 2:
        raise ValueError(f"d must be >= 2 for n > 1 non-parallel rows, got d={d!r}")
    if min_angle > math.pi / max(n, 2) + 1e-12:
        raise ValueError(f"min_angle must be <= pi/n = {math.pi / max(n, 2)!r} for n={n}, "
                         f"got {min_angle!r}")
    min_angle = float(min_angle)
    if n <= d:
        simple = _to_sphere(np.eye(d)[:n], d)
    else:
        simple = _planar(n, d, math.pi / n)
    strategies = [st.just(simple)]
    if n >= 2:
        def tight(seed):
            rng = np.random.default_rng([seed, 1])  # a stream apart from the rows'
            X = _random_rows(n, d, min_angle, seed)
            # rotate row 1 to exactly min_angle from row 0, inside their plane, if it
            # keeps the others clear
            u = X[0] / np.linalg.norm(X[0])
            w = rng.standard_normal(d)
            w -= (w @ u) * u
            if np.linalg.norm(w) < 1e-8:
                return X
            w /= np.linalg.norm(w)
            cand = X.copy()
            cand[1] = math.sqrt(d) * (math.cos(min_angle) * u + math.sin(min_angle) * w)
            return cand if min_pairwise_angle(cand) >= min_angle * (1 - 1e-9) else X

        strategies.append(st.integers(0, 2**32 - 1).map(tight))
    strategies.append(st.integers(0, 2**32 - 1).map(
        lambda seed: _random_rows(n, d, min_angle, seed)))
    return st.one_of(*strategies)


# ---------------------------------------------------------------------------
# DEQ configurations
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class DEQConfig:
    """A small DEQ configuration inside the theory's conditions.

    Attributes
    ----------
    drawn : DrawnActivation
        The activation and its verdicts.
    width : int
        Hidden width m.
    sigma_w2 : float
        Weight variance, strictly below the well-posedness limit ``1/(8 L^2)`` computed
        from the drawn Lipschitz bound.
    lr_fraction : float
        Step size as a fraction of the stable limit, in (0, 1): use ``eta = lr_fraction
        * 2 / lambda_max(H(0))`` (gradient descent on the linearized model is stable
        exactly when ``eta < 2 / lambda_max``).
    seed : int
        Seed of the initialization.

    Examples
    --------
    >>> from hermite_dual.testing import DEQConfig, DrawnActivation
    >>> cfg = DEQConfig(DrawnActivation.leaf("tanh"), 16, 0.08, 0.5, 0)
    >>> cfg.activation.name, cfg.sigma_w2 < 1 / 8
    ('tanh(x)', True)
    """

    drawn: DrawnActivation
    width: int
    sigma_w2: float
    lr_fraction: float
    seed: int

    @property
    def activation(self):
        """The drawn :class:`Activation`."""
        return self.drawn.activation

    def step_size(self, lambda_max):
        """``eta = lr_fraction * 2 / lambda_max`` for the largest tangent-Gram eigenvalue."""
        lambda_max = float(lambda_max)
        if not math.isfinite(lambda_max) or lambda_max <= 0:
            raise ValueError(f"lambda_max must be positive and finite, got {lambda_max!r}")
        return self.lr_fraction * 2.0 / lambda_max


def deq_configs(activation_strategy=None, *, min_width=8, max_width=64):
    """DEQ configurations: activation, width, ``sigma_w^2``, step fraction and seed.

    ``sigma_w^2`` is drawn as a fraction in (0, 1) of the drawn activation's safe
    well-posedness limit ``1/(8 L^2)`` (:attr:`DrawnActivation.max_sigma_w2`), so the
    forward map ``Z -> sigma(W Z + U X)`` is a contraction with high probability
    (MATH §4); the width is a power of two in ``[min_width, max_width]``.

    Parameters
    ----------
    activation_strategy : SearchStrategy of DrawnActivation, optional
        Default ``activations(admissible_only=True, max_depth=1)``.  Draws without a
        finite Lipschitz bound are rejected.
    min_width, max_width : int
        Width range (``1 <= min_width <= max_width``).

    Returns
    -------
    hypothesis.strategies.SearchStrategy of DEQConfig
        Shrinks toward ``tanh``, the smallest width, half the limit, ``lr_fraction = 0.5``
        and seed 0.

    Raises
    ------
    ValueError
        For a bad width range.

    Examples
    --------
    >>> from hypothesis import find, settings
    >>> from hermite_dual.testing import deq_configs
    >>> cfg = find(deq_configs(), lambda c: True, settings=settings(database=None))
    >>> cfg.activation.name, cfg.width, cfg.sigma_w2, cfg.lr_fraction, cfg.seed
    ('tanh(x)', 8, 0.0625, 0.5, 0)
    """
    min_width = _check_int(min_width, "min_width", 1)
    max_width = _check_int(max_width, "max_width", 1)
    if min_width > max_width:
        raise ValueError(f"min_width must be <= max_width, got {min_width!r} > {max_width!r}")
    if activation_strategy is None:
        activation_strategy = activations(admissible_only=True, max_depth=1)
    widths = [w for w in (2**k for k in range(0, 16)) if min_width <= w <= max_width]
    if not widths:
        widths = [min_width]
    fraction = st.one_of(st.just(0.5), st.floats(0.05, 0.95))

    def build(drawn, width, frac, lr_fraction, seed):
        return DEQConfig(drawn=drawn, width=width, sigma_w2=frac * drawn.max_sigma_w2,
                         lr_fraction=lr_fraction, seed=seed)

    drawn = activation_strategy.filter(
        lambda d: 0 < d.max_sigma_w2 < _INF)
    return st.builds(build, drawn, st.sampled_from(widths), fraction, fraction,
                     st.integers(0, 2**31 - 1))

