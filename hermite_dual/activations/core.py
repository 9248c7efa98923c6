""":func:`activation` and :class:`Activation`: the one entry to every layer above.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from ..library import x  # the one real variable every activation is written in
from ..symbolic.numeric import to_mpmath, to_numpy
from .kinks import _drop_null_deltas, _find_kinks, _parity
from .parse import (
    _BUILTINS,
    _STABLE_CALLABLES,
    _check_growth_values,
    _parse_expression,
)

_PARSE_BUDGET = 3.0        # nominal seconds of work for parse + kinks + realness checks


# ---------------------------------------------------------------------------
# Activation
# ---------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class Activation:
    """A real activation function sigma, held symbolically.

    Build one with :func:`activation`; the constructor does not validate.

    Attributes
    ----------
    name : str
        A display name (the built-in name, or the expression text).
    expr : sympy.Expr
        sigma as a sympy expression in the real symbol :data:`x`.
    kinks : tuple of sympy numbers
        Points where sigma or one of its derivatives jumps (zeros of the arguments of
        Abs, Max/Min, Heaviside, sign and Piecewise conditions), sorted.

    Examples
    --------
    >>> import hermite_dual as hd
    >>> relu = hd.activation("relu")
    >>> relu(np.array([-1.0, 2.0]))
    array([0., 2.])
    >>> relu.derivative().expr
    Heaviside(x)
    >>> hd.activation("sin").derivative(2).expr
    -sin(x)
    """

    name: str
    expr: sp.Expr
    kinks: tuple = field(default=())
    _numeric: object = field(default=None, repr=False)

    # -- evaluation ---------------------------------------------------------
    @functools.cached_property
    def _fn(self):
        if self._numeric is not None:
            return self._numeric
        if self.expr.has(sp.DiracDelta):
            raise ValueError(f"activation {self.name!r} contains a Dirac mass and "
                             "has no pointwise values")
        fn = to_numpy(self.expr)
        return fn

    def __call__(self, values):
        """Evaluate sigma in float64, elementwise (numpy broadcasting).

        Parameters
        ----------
        values : array_like
            Points at which to evaluate.

        Returns
        -------
        numpy.ndarray
            ``sigma(values)``, same shape, float64.
        """
        arr = np.asarray(values, dtype=np.float64)
        with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
            out = self._fn(arr)
        out = np.asarray(out, dtype=np.float64)
        if out.shape != arr.shape:
            out = np.broadcast_to(out, arr.shape).copy()
        return out

    # -- structure ----------------------------------------------------------
    def derivative(self, k=1):
        """The k-th derivative sigma^(k) as an :class:`Activation`.

        Raises
        ------
        ValueError
            If k is not a non-negative integer, or the derivative is a distribution
            (e.g. the derivative of ``step`` is a Dirac mass).

        Examples
        --------
        >>> import hermite_dual as hd
        >>> hd.activation("tanh").derivative().expr
        1 - tanh(x)**2
        """
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
            raise ValueError(f"derivative order must be a non-negative integer, got {k!r}")
        if k == 0:
            return self
        expr = sp.diff(self.expr, x, int(k))
        if isinstance(expr, sp.Piecewise) or expr.has(sp.Piecewise):
            expr = sp.piecewise_fold(expr)
        if expr.has(sp.DiracDelta):
            expr = _drop_null_deltas(expr)
        if expr.has(sp.DiracDelta):
            raise ValueError(
                f"derivative {k} of activation {self.name!r} is not a function: it "
                f"contains a Dirac mass ({sp.sstr(expr)})")
        suffix = "'" * int(k) if k <= 3 else f"^({int(k)})"
        return Activation(name=f"{self.name}{suffix}", expr=expr,
                          kinks=_find_kinks(expr))

    @functools.cached_property
    def is_polynomial(self):
        """True when sigma is a polynomial in x (then only finitely many a_k are non-zero)."""
        return bool(self.expr.is_polynomial(x))

    @functools.cached_property
    def parity(self):
        """``'odd'``, ``'even'`` or ``None`` (proved symbolically after a numeric screen)."""
        return _parity(self.expr, self)

    @property
    def kinks_float(self):
        """The kinks as a float64 array."""
        return np.array([float(k) for k in self.kinks], dtype=np.float64)

    def latex(self):
        """LaTeX of the expression."""
        return sp.latex(self.expr)

    def __repr__(self):
        return f"Activation({self.name!r}, {sp.sstr(self.expr)})"

    def __eq__(self, other):
        if not isinstance(other, Activation):
            return NotImplemented
        return self.name == other.name and self.expr == other.expr

    def __reduce__(self):
        # built-ins come back with their stable float64 form; others re-lambdify
        if self.name in _BUILTINS and _BUILTINS[self.name] == self.expr:
            return (activation, (self.name,))
        return (Activation, (self.name, self.expr, self.kinks))

    def __hash__(self):
        return hash((self.name, self.expr))


def _check_real(act):
    """Refuse activations that are complex somewhere on the real line (sqrt(x), log(x))."""
    import mpmath

    # evaluated by mpmath from the leaves once; sympy's subs() rebuilt the tree, and each
    # level of sin(sin(...(-17/10))) re-evaluated everything below it to decide its sign
    # (a 60-deep nest took 4 s, and evalf(subs=...) falls back to subs for erf)
    fn = to_mpmath(act.expr)
    for p in ("-1.7", "-0.4", "0.45", "2.3"):
        with mpmath.workdps(20):
            try:
                value = mpmath.mpmathify(fn(mpmath.mpf(p)))
            except (TypeError, ValueError, ZeroDivisionError, ArithmeticError):
                value = act.expr.evalf(20, subs={x: sp.Rational(p)})
                if not value.is_number:
                    continue
                value = mpmath.mpmathify(complex(value))
            re_part, im_part = float(mpmath.re(value)), float(mpmath.im(value))
        if im_part != 0 and abs(im_part) > 1e-12 * max(1.0, abs(re_part)):
            raise ValueError(f"activation {act.name!r} is not real-valued: "
                             f"sigma({p}) = {complex(re_part, im_part)}")
    probe = np.array([-3.7, -1.3, -0.4, 0.0, 0.45, 1.2, 2.9])
    with np.errstate(all="ignore"):
        vals = np.asarray(act(probe), dtype=np.float64) * np.ones_like(probe)
    if np.any(np.isnan(vals)):
        where = probe[np.isnan(vals)]
        raise ValueError(f"activation {act.name!r} is not defined in float64 at x = "
                         f"{', '.join(f'{v:g}' for v in where)} (NaN: a square root or "
                         "logarithm of a negative number, or a Piecewise with no branch "
                         "there?)")


@functools.lru_cache(maxsize=256)
def _from_string(key):
    """Activation of a name or expression string, built once per distinct text.

    Activations are immutable, so repeated ``activation("relu")`` calls (every layer
    normalizes its argument through :func:`activation`) share one object and its cached
    kinks, parity and float64 callable instead of re-solving and re-parsing each time.
    Failures raise and are not cached.
    """
    if key in _BUILTINS:
        expr = _BUILTINS[key]
        return Activation(name=key, expr=expr, kinks=_find_kinks(expr),
                          _numeric=_STABLE_CALLABLES.get(key))
    return _bounded(key, lambda: _validated(key, _parse_expression(key)))


def _bounded(text, build):
    """Run a parse or validation under the one work budget; every failure a ValueError.

    sympy can fail in many ways on a hostile expression (TypeError from a comparison,
    OverflowError, RecursionError, MemoryError from an expansion, ZeroDivisionError);
    none of them may escape as anything but a ValueError that names the input.
    """
    from .._util.deadline import WorkBudgetExceeded, from_seconds
    try:
        with from_seconds(_PARSE_BUDGET, label="parsing the activation"):
            return build()
    except ValueError:
        raise
    except WorkBudgetExceeded:
        raise ValueError(f"activation expression {text[:80]!r} is too hard to analyse "
                         f"(parsing, kinks and realness checks exceeded their work budget "
                         f"of {_PARSE_BUDGET:g} nominal s; periodic kinks such as "
                         "Abs(sin(k x)) are not supported)") from None
    except (ArithmeticError, TypeError, RecursionError, MemoryError, AttributeError,
            IndexError, KeyError, NotImplementedError) as exc:
        detail = " ".join(str(exc).split())[:120]
        raise ValueError(f"activation expression {text[:80]!r} cannot be built: "
                         f"{type(exc).__name__}{': ' + detail if detail else ''}") from None


def _validated(name, expr):
    """Check a freshly built expression (finite, real, no Dirac mass); find its kinks."""
    if expr.has(sp.I) or expr.has(sp.zoo) or expr.has(sp.nan) or expr.has(sp.oo):
        raise ValueError(f"activation {name!r} is not a finite real expression")
    if expr.has(sp.DiracDelta):
        raise ValueError(f"activation {name!r} contains a Dirac mass")
    _check_growth_values(name, expr)
    act = Activation(name=name, expr=expr, kinks=_find_kinks(expr))
    _check_real(act)
    return act


def activation(spec):
    """Build an :class:`Activation` from a name, an expression string or a sympy expression.

    Parameters
    ----------
    spec : str or sympy.Expr or Activation
        A built-in name (see :func:`builtin_names`), an expression string in ``x``
        such as ``"x*tanh(x)"`` or ``"Piecewise((x, x > 0), (0.1*x, True))"``, a sympy
        expression with at most one free symbol, an existing ``Activation``, or an object
        with a ``__hermite_activation__()`` method (such as the draws of
        :func:`hermite_dual.testing.activations`).

    Returns
    -------
    Activation

    Raises
    ------
    ValueError
        For an unknown name, a string with anything outside the whitelist (attribute
        access, lambdas, comprehensions, subscripts, dunder names, unknown functions,
        a second variable), a non-real activation, or a sympy expression with more than
        one free symbol.
    TypeError
        For a spec of another type.

    Examples
    --------
    >>> import hermite_dual as hd
    >>> hd.activation("gelu").expr
    x*(erf(sqrt(2)*x/2) + 1)/2
    >>> hd.activation("sin(2*x) + cos(x)/2").parity is None
    True
    >>> hd.activation("y + x")
    Traceback (most recent call last):
    ...
    ValueError: unknown name 'y' (activations are functions of the single variable 'x'; built-ins: identity, relu, ...) in activation expression 'y + x'
    >>> hd.activation("tahn")
    Traceback (most recent call last):
    ...
    ValueError: unknown name 'tahn'; did you mean 'tan' or 'tanh'? ...
    """
    if isinstance(spec, Activation):
        return spec
    if isinstance(spec, str):
        return _from_string(spec.strip())
    hook = getattr(type(spec), "__hermite_activation__", None)
    if hook is not None:        # objects that carry an activation (hermite_dual.testing draws)
        act = hook(spec)
        if not isinstance(act, Activation):
            raise TypeError(f"{type(spec).__name__}.__hermite_activation__ returned "
                            f"{type(act).__name__}, not an Activation")
        return act
    if isinstance(spec, sp.Basic):
        if not isinstance(spec, sp.Expr):
            raise TypeError(f"a sympy activation must be an expression, got {type(spec).__name__}")
        free = sorted(spec.free_symbols, key=str)
        if len(free) > 1:
            raise ValueError(f"a sympy activation must have one free symbol, "
                             f"{sp.sstr(spec)!r} has {len(free)}: {[str(s) for s in free]}")
        from sympy.core.function import AppliedUndef
        unevaluated = (AppliedUndef, sp.Derivative, sp.Integral, sp.Subs, sp.Sum,
                       sp.Product, sp.Limit)
        for kind in unevaluated:
            if spec.atoms(kind) if kind is AppliedUndef else spec.has(kind):
                found = next(iter(spec.atoms(kind))) if spec.atoms(kind) else kind.__name__
                raise ValueError(f"a sympy activation must be an explicit function of x: "
                                 f"{sp.sstr(found)!r} is {'an undefined function' if kind is AppliedUndef else 'unevaluated (' + kind.__name__ + ')'}")
        expr = spec.subs(free[0], x) if free else spec
        name = sp.sstr(expr)
        return _bounded(name, lambda: _validated(name, expr))
    raise TypeError(f"activation spec must be a name, an expression string, a sympy "
                    f"expression or an Activation, got {type(spec).__name__}")
