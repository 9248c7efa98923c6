"""A grammar of hostile activation strings, for fuzzing the parser.

:func:`hostile_string` builds one string from a ``random.Random`` (used by
``benchmarks/fuzz_parser.py`` for 10^4 strings); :func:`hostile_expressions` is the same
grammar as a hypothesis strategy (used by the slow property test, and re-exported by
:mod:`hermite_dual.testing`).  The grammar mixes valid activations with what an attacker
or a careless user types: forbidden constructs (attribute access, dunder names, lambdas,
comprehensions, subscripts, calls of non-whitelisted names), deep nesting, power towers,
huge literals, exponential towers, unicode look-alikes and surrogates, periodic kinks,
and payloads that would create a sentinel file if they were ever executed.

>>> import random
>>> s = hostile_string(random.Random(0), sentinel="/tmp/never")
>>> isinstance(s, str) and len(s) > 0
True
"""


from hypothesis import strategies as st

__all__ = ["hostile_string", "hostile_expressions"]

_FUNCS = ["sin", "cos", "tanh", "exp", "log", "sqrt", "erf", "Abs", "Max", "Min", "sinh",
          "cosh", "atan", "relu", "gelu", "elu", "softplus", "sigmoid", "Heaviside", "sign",
          "Piecewise", "acos", "asin"]
_FORBIDDEN_CALLS = ["eval", "exec", "open", "getattr", "floor", "Mod", "compile", "vars",
                    "globals", "input", "print", "breakpoint", "sympify", "S", "Symbol"]
_LOOKALIKES = ["\uff54\uff41\uff4e\uff48", "\u017fin", "t\u0430nh", "\u0445", "\u2170",
               "x\u200b", "\ud800", "\u00b2", "\u2212"]


def _payload(rng, sentinel):
    path = repr(sentinel)
    return rng.choice([
        f"__import__('os').system('touch ' + {path})",
        f"open({path}, 'w')",
        f"(lambda: open({path}, 'w'))()",
        f"[open({path}, 'w') for _ in (1,)]",
        "x.__class__.__base__.__subclasses__()",
        "().__class__.__mro__[1].__subclasses__()",
        f"exec(\"open({path}, 'w')\")",
        f"eval(\"open({path}, 'w')\")",
        "getattr(x, '__class__')",
        f"sympify(\"open({path}, 'w')\")",
        "x.evalf()", "x[0]", "{x: 1}", "x if x else 1", "f'{x}'", "x @ x", "x := 1",
        "x and 1", "not x", "x or 1", "*x", "x, x", "x;x", "1 < x < 2",
    ])


def _number(rng):
    return rng.choice([
        str(rng.randint(0, 10)), f"{rng.random() * 10:.3f}", "1e308", "1e-308", "1e309",
        "9" * rng.randint(1, 400), "0x" + "f" * rng.randint(1, 40), "1_000", "0.0", "-0.0",
        "1j", "True", "None", "nan", "inf", f"{rng.randint(1, 200)}**{rng.randint(1, 200)}",
    ])


def _expr(rng, depth, sentinel):
    r = rng.random()
    if depth <= 0 or r < 0.15:
        return rng.choice(["x", "x", "pi", "E", "y", _number(rng)])
    if r < 0.25:
        return _payload(rng, sentinel)
    if r < 0.30:
        return rng.choice(_LOOKALIKES) + "(x)"
    if r < 0.36:                                 # towers
        base, n = rng.choice(["9", "2", "x", "exp(x)", "10"]), rng.randint(2, 6)
        out = base
        for _ in range(n):
            out = f"({out})**{rng.randint(2, 120)}" if rng.random() < 0.5 else f"exp({out})"
        return out
    if r < 0.40:                                 # deep nesting
        f = rng.choice(["sin", "tanh", "exp", "Abs", "("])
        n = rng.randint(20, 400)
        return (f + ("(" if f != "(" else "")) * n + "x" + ")" * n
    if r < 0.45:                                 # periodic kinks
        return f"Abs(sin({rng.randint(1, 500)}*x))"
    if r < 0.50:
        return f"{rng.choice(_FORBIDDEN_CALLS)}({_expr(rng, depth - 1, sentinel)})"
    if r < 0.75:
        f = rng.choice(_FUNCS)
        if f in ("Max", "Min"):
            return f"{f}({_expr(rng, depth - 1, sentinel)}, {_expr(rng, depth - 1, sentinel)})"
        if f == "Piecewise":
            return (f"Piecewise(({_expr(rng, depth - 1, sentinel)}, x > 0), "
                    f"({_expr(rng, depth - 1, sentinel)}, {rng.choice(['True', 'x < 1', 'x'])}))")
        return f"{f}({_expr(rng, depth - 1, sentinel)})"
    op = rng.choice(["+", "-", "*", "/", "**", "%", "//", "^", "<<", "&"])
    return f"({_expr(rng, depth - 1, sentinel)}) {op} ({_expr(rng, depth - 1, sentinel)})"


def hostile_string(rng, *, sentinel="/nonexistent/hermite-dual-sentinel", max_depth=4):
    """One hostile (or merely odd) activation string drawn with ``rng`` (random.Random).

    ``sentinel`` is the path the execution payloads would create; a fuzz campaign checks
    that it never appears.
    """
    s = _expr(rng, rng.randint(1, max_depth), sentinel)
    if rng.random() < 0.05:
        s = s + rng.choice(["\x00", " " * 3000, ")", "(", "\n", "#"])
    return s


def hostile_expressions(*, sentinel="/nonexistent/hermite-dual-sentinel", max_depth=4):
    """Hypothesis strategy over :func:`hostile_string` (shrinks through its seed)."""
    return st.randoms(use_true_random=False).map(
        lambda r: hostile_string(r, sentinel=sentinel, max_depth=max_depth))
