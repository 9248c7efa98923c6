"""The safe parser: expression strings to sympy, never through ``eval`` or ``sympify``.

``ast.parse(mode="eval")``, every node checked against a whitelist (numbers, ``x``, ``pi``,
``E``, arithmetic, calls of whitelisted names, ``(expr, condition)`` pairs in
``Piecewise``), and the sympy expression *built* from the tree with every intermediate
number's size estimated before sympy computes it.  Dunder names and attribute access
are refused first, so the error names the dangerous token.
"""

from __future__ import annotations

import ast
import math

import numpy as np
import sympy as sp

from ..library import RECORDS as _RECORDS
from ..library import x  # the one real variable every activation is written in
from ..symbolic.numeric import to_numpy

_MAX_EXPR_CHARS = 2000
_MAX_AST_NODES = 400
_MAX_POW_EXPONENT = 100
_MAX_DEGREE = 1000         # combined exponent of a power of an x-dependent base
_MAX_INT_DIGITS = 60
_MAX_NUMBER_DIGITS = 300   # digits of any intermediate integer or rational numerator/denominator
_MAX_GROWTH_DEPTH = 3      # nested exp/sinh/cosh: exp(exp(exp(exp(x)))) overflows every test


# ---------------------------------------------------------------------------
# The built-in library
# ---------------------------------------------------------------------------

# views of the one record per built-in (hermite_dual.library)
_BUILTINS = {r.name: r.expr for r in _RECORDS}
_STABLE_CALLABLES = {r.name: r.stable for r in _RECORDS if r.stable is not None}


# ---------------------------------------------------------------------------
# Safe expression parsing
# ---------------------------------------------------------------------------

def builtin_names():
    """Names of the built-in activations, in a stable order.

    Examples
    --------
    >>> from hermite_dual.activations import builtin_names
    >>> "tanh" in builtin_names() and "relu" in builtin_names()
    True
    """
    return tuple(_BUILTINS)


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

# calls whose result exponentiates its argument, for the growth check at build time
_EXP_LIKE = {"exp", "sinh", "cosh"} | {name for name in _BUILTINS if name in _FUNCTIONS
                                        and _BUILTINS[name].has(sp.exp, sp.sinh, sp.cosh)}

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


_MAX_EXP_ARGUMENT = 1e20   # |argument| of exp/sinh/cosh on the probe grid (x in [-3.7, 3.7])


def _check_growth_values(name, expr):
    """Refuse exponentials whose argument is astronomically large on the probe grid.

    ``exp(exp(x**32))`` or ``exp((exp(exp(9)))**88)`` have values with more than 10^20
    digits near the origin; evaluating them at any precision (the realness check, the
    kinks) would run without end in big-number arithmetic that no work budget sees.  The
    arguments are evaluated in float64 first, which only overflows.
    """
    # innermost first, so a tower is refused at its first huge argument, before any
    # larger one is evaluated
    for f in sorted(expr.atoms(sp.exp, sp.sinh, sp.cosh), key=sp.count_ops):
        _check_growth_argument(name, sp.sstr(f)[:40], f.args[0])


_PROBE = np.array([-3.7, -2.3, -1.3, -0.4, 0.0, 0.45, 1.2, 2.3, 3.7])


def _check_growth_argument(name, what, arg):
    """Refuse ``arg`` as the argument of an exponential when it exceeds the limit."""
    try:
        fn = to_numpy(arg)
        with np.errstate(all="ignore"):
            # broadcast, not multiply: inf * (1 + 0j) is inf + nan j, which the NaN
            # filter below dropped (so exp(exp(9**7)) passed, and evalf then ran for
            # minutes at millions of digits)
            vals = np.broadcast_to(np.asarray(fn(_PROBE), dtype=np.complex128),
                                   _PROBE.shape)
    except OverflowError:
        # math.exp of a constant argument overflowed (exp(4782969) is beyond float64)
        vals = np.full(_PROBE.shape, np.inf, dtype=np.complex128)
    except (TypeError, ValueError, ArithmeticError, NameError):
        if not (isinstance(arg, sp.Expr) and arg.is_number):
            return            # left to the other checks
        # a constant numpy cannot hold (35 * 9**19 is no int64): 5 digits by evalf,
        # safe because every exponential inside it was checked first
        mag = abs(sp.N(arg, 5))
        if mag.is_finite and mag <= _MAX_EXP_ARGUMENT:
            return
        raise ValueError(
            f"activation {name!r}: the argument of {what!r} is {sp.sstr(sp.N(mag, 3))} "
            f"(at most {_MAX_EXP_ARGUMENT:g}); such values overflow every Gaussian "
            "integral") from None
    mags = np.abs(vals)
    mags = mags[~np.isnan(mags)]
    if mags.size and not (np.all(np.isfinite(mags)) and mags.max() <= _MAX_EXP_ARGUMENT):
        worst = float(mags.max())
        reach = f"{worst:.3g}" if math.isfinite(worst) else "beyond float64 (1.8e308)"
        raise ValueError(
            f"activation {name!r}: the argument of {what!r} reaches "
            f"{reach} for |x| <= 3.7 (at most {_MAX_EXP_ARGUMENT:g}); such values "
            "overflow every Gaussian integral")


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

    def degree_capped(self, value, node):
        """Refuse a power of an x-dependent base whose combined exponent is too large.

        Each exponent is capped at ``_MAX_POW_EXPONENT``, but towers multiply:
        ``((x**75)**96)**81`` is ``x**583200``, and the realness check's exact value at
        x = -17/10 (a rational of 700,000 digits) ran for minutes.
        """
        if isinstance(value, sp.Pow) and value.exp.is_number and value.base.has(x) \
                and abs(float(value.exp)) > _MAX_DEGREE:
            self.fail(f"the power {_describe(node)[:40]!r} is {sp.sstr(value)[:40]!r}, of "
                      f"degree {sp.sstr(value.exp)} (at most {_MAX_DEGREE})")
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
                if isinstance(left, sp.exp):
                    # sympy folds exp(a)**b into exp(a*b) and evaluates it while building:
                    # (exp(exp(exp(9**19))**35))**85 ran 5 s before any check saw it
                    _check_growth_argument(self.text, _describe(node)[:40],
                                           left.args[0] * right)
                return self.degree_capped(self.sized(left ** right, node), node)
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
            if name in _EXP_LIKE:
                # before sympy builds it: constructing sqrt(exp(exp(exp(10**84)))) ran
                # 8 s in big-integer arithmetic no work budget sees
                for a in args:
                    _check_growth_argument(self.text, f"{name}({sp.sstr(a)[:30]})", a)
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
