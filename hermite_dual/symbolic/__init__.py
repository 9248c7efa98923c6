"""The symbolic layer's shared compilers: one place each expression becomes a function.

* :mod:`.numeric` - sympy -> float64 numpy functions, numba ``cfunc``s and mpmath
  functions (every ``lambdify`` of the package is here);
* :mod:`.arb` - sympy -> python-flint ``arb`` balls, strict (certified enclosures of the
  conditions checker) or oracle (``DualKernel.precise``);
* :mod:`.gauss` - the one engine of Gaussian expectations of atoms
  ``p(x) exp(A x^2 + B x + C) {1, Heaviside, erf, delta^(j)}``, for the exact Hermite
  coefficients and the closed-form duals;
* :mod:`.rewrite` - linear forms and Piecewise as Heaviside sums, for both.

It sits below the activation layer: it knows the variable ``x`` and sympy, nothing else.
"""
