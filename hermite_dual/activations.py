"""Activation layer: safe parsing, the built-in library, derivatives and float64 callables.

An :class:`Activation` is a real function of one real variable, held as a sympy
expression in the symbol :data:`x` (declared real).  Everything above this layer
(Hermite coefficients, dual kernels, condition checks, the DEQ) receives an
``Activation`` and never parses user text itself.

Expression strings are **untrusted input**.  They are parsed with :mod:`ast` and
walked node by node against a whitelist; the sympy expression is *built* from the
tree, so neither :func:`eval` nor :func:`sympy.sympify` ever sees user text.

Examples
--------
>>> import hermite_dual as hd
>>> act = hd.activation("tanh")
>>> act.expr
tanh(x)
>>> float(act(0.5))  # doctest: +ELLIPSIS
0.46211715726000...
>>> hd.activation("x*tanh(x)").parity
'even'
>>> hd.activation("relu").kinks
(0,)
>>> hd.activation("__import__('os').system('id')")
Traceback (most recent call last):
...
ValueError: name '__import__' is not allowed in an activation expression (dunder names are never accepted)
"""

from __future__ import annotations

import ast
import functools
import math
from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from .library import RECORDS as _RECORDS
from .library import x  # the one real variable every activation is written in

__all__ = [
    "Activation",
    "activation",
    "builtin_names",
    "x",
]


_MAX_EXPR_CHARS = 2000
_MAX_AST_NODES = 400
_MAX_POW_EXPONENT = 100
_MAX_INT_DIGITS = 60
_MAX_NUMBER_DIGITS = 300   # digits of any intermediate integer or rational numerator/denominator
_MAX_GROWTH_DEPTH = 3      # nested exp/sinh/cosh: exp(exp(exp(exp(x)))) overflows every test
_PARSE_BUDGET = 3.0        # nominal seconds of work for parse + kinks + realness checks


# ---------------------------------------------------------------------------
# float64 helpers used by the generated callables
# ---------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _numba_ufuncs():
    """Vectorized erf/erfc compiled once by numba (numpy has no erf)."""
    import numba

    @numba.vectorize(["float64(float64)"], cache=True)
    def _erf(v):  # pragma: no cover - compiled
        return math.erf(v)

    @numba.vectorize(["float64(float64)"], cache=True)
    def _erfc(v):  # pragma: no cover - compiled
        return math.erfc(v)

    return _erf, _erfc


def _np_erf(v):
    return _numba_ufuncs()[0](np.asarray(v, dtype=np.float64))


def _np_erfc(v):
    return _numba_ufuncs()[1](np.asarray(v, dtype=np.float64))


def _np_heaviside(v, h0=0.5):
    return np.heaviside(np.asarray(v, dtype=np.float64), h0)


def _np_max(*args):
    return functools.reduce(np.maximum, args)


def _np_min(*args):
    return functools.reduce(np.minimum, args)


_LAMBDIFY_MODULES = [
    {
        "erf": _np_erf,
        "erfc": _np_erfc,
        "Heaviside": _np_heaviside,
        "Max": _np_max,
        "Min": _np_min,
        "amax": _np_max,
        "amin": _np_min,
    },
    "numpy",
]


# ---------------------------------------------------------------------------
# The built-in library
# ---------------------------------------------------------------------------

# views of the one record per built-in (hermite_dual.library)
_BUILTINS = {r.name: r.expr for r in _RECORDS}
_STABLE_CALLABLES = {r.name: r.stable for r in _RECORDS if r.stable is not None}


def builtin_names():
    """Names of the built-in activations, in a stable order.

    Examples
    --------
    >>> from hermite_dual.activations import builtin_names
    >>> "tanh" in builtin_names() and "relu" in builtin_names()
    True
    """
    return tuple(_BUILTINS)


# ---------------------------------------------------------------------------
# Safe expression parsing
# ---------------------------------------------------------------------------

def _builtin_caller(name):
    expr = _BUILTINS[name]
    return lambda arg: expr.subs(x, arg)


def _piecewise(*pairs):
    return sp.Piecewise(*pairs)


def _heaviside(arg, h0=None):
    return sp.Heaviside(arg, 1 if h0 is None else h0)


_FUNCTIONS = {
    "sin": sp.sin, "cos": sp.cos, "tan": sp.tan,
    "sinh": sp.sinh, "cosh": sp.cosh, "tanh": sp.tanh,
    "asin": sp.asin, "acos": sp.acos, "atan": sp.atan, "arctan": sp.atan,
    "asinh": sp.asinh, "arcsinh": sp.asinh,
    "exp": sp.exp, "log": sp.log, "sqrt": sp.sqrt,
    "erf": sp.erf, "erfc": sp.erfc,
    "abs": sp.Abs, "Abs": sp.Abs, "sign": sp.sign,
    "max": sp.Max, "Max": sp.Max, "min": sp.Min, "Min": sp.Min,
    "Heaviside": _heaviside, "heaviside": _heaviside,
    "Piecewise": _piecewise,
}
_FUNCTIONS.update({name: _builtin_caller(name) for name in _BUILTINS
                   if name not in _FUNCTIONS and name != "identity"})

_CONSTANTS = {"pi": sp.pi, "E": sp.E}

_BINOPS = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.Pow: None,  # handled separately (size guard)
}

_COMPARES = {
    ast.Lt: sp.Lt, ast.LtE: sp.Le, ast.Gt: sp.Gt, ast.GtE: sp.Ge,
}


def _digits(n):
    """Decimal digits of an integer, without converting it to a string."""
    n = abs(int(n))
    return 1 if n == 0 else int(n.bit_length() * 0.30103) + 1


def _suggest(name):
    """``"; did you mean 'tanh'?"`` for a near miss of a known name, else ``""``."""
    import difflib
    known = sorted(set(_FUNCTIONS) | set(_BUILTINS) | set(_CONSTANTS))
    close = difflib.get_close_matches(name, known, n=2, cutoff=0.6)
    if not close:
        close = [k for k in known if k.lower() == name.lower()]
    return f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


def _describe(node):
    """A short human name for an AST node, for error messages."""
    try:
        return ast.unparse(node)
    except Exception:  # pragma: no cover - unparse handles every parsed node
        return type(node).__name__


class _Builder:
    """Walk a parsed expression, refusing anything outside the whitelist."""

    def __init__(self, text):
        self.text = text

    def fail(self, what):
        raise ValueError(f"{what} in activation expression {self.text!r}")

    def sized(self, value, node):
        """Refuse an intermediate rational whose numerator or denominator is too long."""
        if isinstance(value, sp.Rational) and max(_digits(value.p), _digits(value.q)) \
                > _MAX_NUMBER_DIGITS:
            self.fail(f"the number {_describe(node)[:40]!r} has more than "
                      f"{_MAX_NUMBER_DIGITS} digits")
        return value

    def build(self, node, *, in_piecewise=False):
        if isinstance(node, ast.Expression):
            return self.build(node.body)
        if isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, bool):
                if in_piecewise and value is True:
                    return sp.true
                self.fail(f"boolean {value!r} is not allowed")
            if isinstance(value, int):
                if len(str(abs(value))) > _MAX_INT_DIGITS:
                    self.fail(f"integer literal {_describe(node)[:20]}... is too large")
                return sp.Integer(value)
            if isinstance(value, float):
                if not math.isfinite(value):
                    self.fail(f"non-finite number {value!r} is not allowed")
                return sp.Rational(repr(value))
            self.fail(f"literal {value!r} is not allowed (only real numbers)")
        if isinstance(node, ast.Name):
            name = node.id
            if name.startswith("__") or name.endswith("__"):
                raise ValueError(
                    f"name {name!r} is not allowed in an activation expression "
                    "(dunder names are never accepted)")
            if name == "x":
                return x
            if name in _CONSTANTS:
                return _CONSTANTS[name]
            if name in _FUNCTIONS:
                self.fail(f"function {name!r} used without being called")
            self.fail(f"unknown name {name!r}{_suggest(name)} (activations are functions "
                      "of the single variable 'x'; built-ins: "
                      f"{', '.join(builtin_names())})")
        if isinstance(node, ast.UnaryOp):
            operand = self.build(node.operand)
            if isinstance(node.op, ast.USub):
                return -operand
            if isinstance(node.op, ast.UAdd):
                return operand
            self.fail(f"operator {type(node.op).__name__!r} ({_describe(node)!r}) is not allowed")
        if isinstance(node, ast.BinOp):
            op = type(node.op)
            if op not in _BINOPS:
                hint = " (use ** for powers)" if op is ast.BitXor else ""
                self.fail(f"operator {op.__name__!r} in {_describe(node)!r} is not allowed{hint}")
            left = self.build(node.left)
            right = self.build(node.right)
            if op is ast.Pow:
                if right.is_number:
                    if not right.is_real or abs(float(right)) > _MAX_POW_EXPONENT:
                        self.fail(f"exponent {_describe(node.right)!r} is outside "
                                  f"[-{_MAX_POW_EXPONENT}, {_MAX_POW_EXPONENT}]")
                    if isinstance(left, sp.Rational) and left != 0:
                        # size of the exact result, before sympy computes it
                        size = abs(float(right)) * max(_digits(left.p), _digits(left.q))
                        if size > _MAX_NUMBER_DIGITS:
                            self.fail(f"the power {_describe(node)[:40]!r} would have about "
                                      f"{size:.0f} digits (at most {_MAX_NUMBER_DIGITS})")
                elif left.is_number and left.is_real and abs(float(left)) > 1e6:
                    self.fail(f"base {_describe(node.left)!r} is too large for a "
                              "variable exponent")
                return self.sized(left ** right, node)
            return self.sized(_BINOPS[op](left, right), node)
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name):
                self.fail(f"call of {_describe(node.func)!r} is not allowed (only "
                          "plain function names such as tanh(...))")
            name = node.func.id
            if name.startswith("__") or name.endswith("__"):
                raise ValueError(
                    f"name {name!r} is not allowed in an activation expression "
                    "(dunder names are never accepted)")
            if name not in _FUNCTIONS:
                self.fail(f"unknown function {name!r}{_suggest(name)} (functions: "
                          f"{', '.join(sorted(_FUNCTIONS, key=str.lower))})")
            if node.keywords:
                self.fail(f"keyword argument {node.keywords[0].arg!r} is not allowed")
            if name == "Piecewise":
                pairs = []
                for arg in node.args:
                    if not isinstance(arg, ast.Tuple) or len(arg.elts) != 2:
                        self.fail(f"Piecewise takes (expression, condition) pairs, "
                                  f"got {_describe(arg)!r}")
                    pairs.append((self.build(arg.elts[0]),
                                  self.build(arg.elts[1], in_piecewise=True)))
                if not pairs:
                    self.fail("Piecewise needs at least one pair")
                return _piecewise(*pairs)
            args = [self.build(a) for a in node.args]
            if not args:
                self.fail(f"function {name!r} called with no argument")
            try:
                return _FUNCTIONS[name](*args)
            except (TypeError, ValueError) as exc:
                self.fail(f"bad call {_describe(node)!r} ({exc})")
        if isinstance(node, ast.Compare) and in_piecewise:
            if len(node.ops) != 1 or type(node.ops[0]) not in _COMPARES:
                self.fail(f"condition {_describe(node)!r} is not allowed (use one of "
                          "<, <=, >, >=)")
            return _COMPARES[type(node.ops[0])](self.build(node.left),
                                                self.build(node.comparators[0]))
        if isinstance(node, ast.Attribute):
            self.fail(f"attribute access {_describe(node)!r} is not allowed")
        if isinstance(node, ast.Subscript):
            self.fail(f"subscript {_describe(node)!r} is not allowed")
        if isinstance(node, ast.Lambda):
            self.fail(f"lambda {_describe(node)!r} is not allowed")
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            self.fail(f"comprehension {_describe(node)!r} is not allowed")
        self.fail(f"syntax {type(node).__name__!r} ({_describe(node)!r}) is not allowed")


def _check_ascii(text):
    """Expressions are ASCII.  Look-alikes (fullwidth letters, the long s) are refused,
    with their NFKC normal form named, so what is parsed is what the user sees."""
    import unicodedata
    for i, ch in enumerate(text):
        if ord(ch) < 128:
            continue
        if 0xD800 <= ord(ch) <= 0xDFFF:
            raise ValueError(f"activation expression contains a lone surrogate "
                             f"(U+{ord(ch):04X}) at position {i}: not valid text")
        normal = unicodedata.normalize("NFKC", text)
        hint = (f"; its NFKC normal form is {normal!r}, type that instead"
                if normal.isascii() else "")
        name = unicodedata.name(ch, "unnamed character")
        raise ValueError(f"non-ASCII character {ch!r} (U+{ord(ch):04X} {name}) at position "
                         f"{i} in activation expression{hint}")


def _growth_depth(expr):
    """Nesting depth of exponential growth (exp, sinh, cosh, a power with x in the exponent)."""
    if not isinstance(expr, sp.Basic) or expr.is_Atom:
        return 0
    grows = isinstance(expr, (sp.exp, sp.sinh, sp.cosh)) or (
        isinstance(expr, sp.Pow) and expr.exp.has(x))
    inner = max((_growth_depth(a) for a in expr.args), default=0)
    return inner + 1 if grows else inner


def _parse_expression(text):
    if len(text) > _MAX_EXPR_CHARS:
        raise ValueError(f"activation expression is too long ({len(text)} characters, "
                         f"at most {_MAX_EXPR_CHARS})")
    if "\x00" in text:
        raise ValueError("activation expression contains a NUL character")
    _check_ascii(text)
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"cannot parse activation expression {text!r}: {exc.msg}") from None
    nodes = list(ast.walk(tree))
    for node in nodes:  # the most dangerous tokens are named first
        if isinstance(node, ast.Name) and (node.id.startswith("__") or node.id.endswith("__")):
            raise ValueError(
                f"name {node.id!r} is not allowed in an activation expression "
                "(dunder names are never accepted)")
    for node in nodes:
        if isinstance(node, ast.Attribute):
            raise ValueError(f"attribute access {_describe(node)!r} is not allowed in "
                             f"activation expression {text!r}")
    n_nodes = sum(1 for _ in ast.walk(tree))
    if n_nodes > _MAX_AST_NODES:
        raise ValueError(f"activation expression {text[:40]!r}... is too large "
                         f"({n_nodes} syntax nodes, at most {_MAX_AST_NODES})")
    expr = _Builder(text).build(tree)
    depth = _growth_depth(expr)
    if depth > _MAX_GROWTH_DEPTH:
        raise ValueError(f"activation expression {text[:60]!r} nests exponential growth "
                         f"{depth} deep (exp, sinh, cosh; at most {_MAX_GROWTH_DEPTH}): its "
                         "values overflow every Gaussian integral")
    return expr


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
        fn = sp.lambdify(x, self.expr, modules=_LAMBDIFY_MODULES)
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
    for p in ("-1.7", "-0.4", "0.45", "2.3"):
        value = act.expr.subs(x, sp.Rational(p)).evalf(20)
        if not value.is_number:
            continue
        re_part, im_part = value.as_real_imag()
        if im_part != 0 and abs(float(im_part)) > 1e-12 * max(1.0, abs(float(re_part))):
            raise ValueError(f"activation {act.name!r} is not real-valued: "
                             f"sigma({p}) = {complex(value)}")
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
    from ._util.deadline import WorkBudgetExceeded, from_seconds
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


_MAX_EXP_ARGUMENT = 1e20   # |argument| of exp/sinh/cosh on the probe grid (x in [-3.7, 3.7])


def _check_growth_values(name, expr):
    """Refuse exponentials whose argument is astronomically large on the probe grid.

    ``exp(exp(x**32))`` or ``exp((exp(exp(9)))**88)`` have values with more than 10^20
    digits near the origin; evaluating them at any precision (the realness check, the
    kinks) would run without end in big-number arithmetic that no work budget sees.  The
    arguments are evaluated in float64 first, which only overflows.
    """
    probe = np.array([-3.7, -2.3, -1.3, -0.4, 0.0, 0.45, 1.2, 2.3, 3.7])
    for f in expr.atoms(sp.exp, sp.sinh, sp.cosh):
        arg = f.args[0]
        try:
            fn = sp.lambdify(x, arg, modules=_LAMBDIFY_MODULES)
            with np.errstate(all="ignore"):
                vals = np.asarray(fn(probe), dtype=np.complex128) * np.ones_like(probe)
        except (TypeError, ValueError, ArithmeticError, NameError):
            continue          # left to the other checks
        mags = np.abs(vals[~np.isnan(vals)])
        if mags.size and not (np.all(np.isfinite(mags)) and mags.max() <= _MAX_EXP_ARGUMENT):
            worst = float(mags.max())
            raise ValueError(
                f"activation {name!r}: the argument of {sp.sstr(f)[:40]!r} reaches "
                f"{worst:.3g} for |x| <= 3.7 (at most {_MAX_EXP_ARGUMENT:g}); such values "
                "overflow every Gaussian integral")


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
