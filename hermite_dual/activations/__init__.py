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

from ..library import x
from .core import Activation, activation
from .parse import builtin_names

__all__ = [
    "Activation",
    "activation",
    "builtin_names",
    "x",
]
