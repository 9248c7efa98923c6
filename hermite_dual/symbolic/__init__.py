"""The symbolic layer's shared compilers: one place each expression becomes a function.

* :mod:`.numeric` - sympy -> float64 numpy functions, numba ``cfunc``s and mpmath
  functions (every ``lambdify`` of the package is here);
* :mod:`.arb` - sympy -> python-flint ``arb`` balls, strict (certified enclosures of the
  conditions checker) or oracle (``DualKernel.precise``).

It sits below the activation layer: it knows the variable ``x`` and sympy, nothing else.
"""
