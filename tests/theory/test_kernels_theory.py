"""Properties of dual kernels checked through the library (MATH §2-§3).

Activations and covariances come from the public strategies of ``hermite_dual.testing``;
the references are independent: a trapezoid quadrature written here, the Mehler series
built from the library's Hermite coefficients with its Parseval tail, and finite
differences for Price's theorem.  Each new activation costs the library a dual-kernel
derivation (seconds), so the default run draws a few examples and a slow-marked twin
of each property draws the profile's full count.
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hermite_dual as hd
from hermite_dual.testing import activations, covariances

# trapezoid rule on [-11, 11], step 0.02: for integrands analytic in a strip |Im z| < a
# it converges like exp(-2 pi a / h) (a >= pi/16 here: error far below 1e-12), and the
# Gaussian weight beyond |z| = 11 is below 1e-26
_Z = np.arange(-11.0, 11.0 + 1e-9, 0.02)
_W = np.full(_Z.size, 0.02) * np.exp(-_Z**2 / 2) / math.sqrt(2 * math.pi)

# smooth activations of at most linear growth (exp is left to dual.py's closed-form tests)
smooth = activations(max_depth=0).filter(
    lambda d: d.analytic is True and d.lipschitz is True)
# the default run keeps to unshifted leaves sigma(alpha x): a shifted one (erf(x/2 + 1/2))
# can cost dual.py tens of seconds per kernel on this machine
unshifted = smooth.filter(lambda d: " + " not in d.spec and " - " not in d.spec)
cov_strategy = covariances(min_var=0.05, max_var=4.0)
FEW = settings(max_examples=4)


def trapezoid_kernel(act, q1, q2, c):
    """E[sigma(u) sigma(v)] by a 2-D trapezoid rule in (z1, z2) (independent of the library)."""
    rho = max(-1.0, min(1.0, c / math.sqrt(q1 * q2)))
    a1 = act(math.sqrt(q1) * _Z)
    if abs(rho) == 1.0:   # v = rho sqrt(q2/q1) u: one dimension
        return float(np.sum(_W * a1 * act(rho * math.sqrt(q2) * _Z)))
    z1, z2 = np.meshgrid(_Z, _Z, indexing="ij")
    v = math.sqrt(q2) * (rho * z1 + math.sqrt(1 - rho * rho) * z2)
    return float(_W @ (a1[:, None] * act(v)) @ _W)


def test_trapezoid_reference_against_closed_forms():
    """The reference itself: erf and sin closed forms of MATH §3."""
    q1, q2, c = 0.7, 2.5, -0.9
    erf = (2 / math.pi) * math.asin(2 * c / math.sqrt((1 + 2 * q1) * (1 + 2 * q2)))
    assert trapezoid_kernel(hd.activation("erf"), q1, q2, c) == pytest.approx(erf, abs=1e-13)
    sin = math.exp(-(q1 + q2) / 2) * math.sinh(c)
    assert trapezoid_kernel(hd.activation("sin"), q1, q2, c) == pytest.approx(sin, abs=1e-13)


def _mehler(drawn, cov):
    act = drawn.activation
    q1, q2, c = cov
    value, bound = hd.dual(act).kernel_with_error(q1, q2, c)
    ref = trapezoid_kernel(act, q1, q2, c)
    scale = math.sqrt(trapezoid_kernel(act, q1, q1, q1) * trapezoid_kernel(act, q2, q2, q2))
    assert abs(float(value) - ref) <= float(bound) + 1e-11 * scale + 1e-13
    # Mehler series from the library's coefficients, with its certified Parseval tail
    R = 60
    e1 = hd.hermite_coefficients(act, R, q=q1)
    e2 = hd.hermite_coefficients(act, R, q=q2)
    rho = cov.rho
    mehler = float(np.sum(e1.coefficients * e2.coefficients * rho ** np.arange(R + 1)))
    tail = abs(rho) ** (R + 1) * math.sqrt(max(e1.tail, 0.0) * max(e2.tail, 0.0))
    err = tail + 4 * (e1.abs_error * math.sqrt(e2.norm2) + e2.abs_error * math.sqrt(e1.norm2))
    assert abs(mehler - ref) <= err + 1e-11 * scale + 1e-13


def _price(drawn, cov, rho):
    """d/dc K_sigma(q1, q2, c) = K_{sigma'}(q1, q2, c) (Richardson central difference)."""
    q1, q2, _ = cov
    kern = hd.dual(drawn.activation)
    dkern = kern.derivative()
    g = math.sqrt(q1 * q2)
    c, h = rho * g, 1e-3 * g
    fd1 = (float(kern.kernel(q1, q2, c + h)) - float(kern.kernel(q1, q2, c - h))) / (2 * h)
    fd2 = (float(kern.kernel(q1, q2, c + 2 * h)) - float(kern.kernel(q1, q2, c - 2 * h))) / (4 * h)
    fd = fd1 + (fd1 - fd2) / 3
    price = float(dkern.kernel(q1, q2, c))
    scale = math.sqrt(float(dkern.kernel(q1, q1, q1)) * float(dkern.kernel(q2, q2, q2)))
    assert fd == pytest.approx(price, abs=1e-6 * scale + 1e-12 / h)


def _diagonal(drawn, cov):
    """K(q1, q2, c) = K(q2, q1, c) and K(q, q, q) = nu(q) = sum a_k(q)^2 (Parseval)."""
    kern = hd.dual(drawn.activation)
    q1, q2, c = cov
    assert float(kern.kernel(q1, q2, c)) == pytest.approx(float(kern.kernel(q2, q1, c)),
                                                          rel=1e-10, abs=1e-12)
    e = hd.hermite_coefficients(drawn.activation, 40, q=q1)
    assert float(kern.kernel(q1, q1, q1)) == pytest.approx(e.norm2, rel=1e-7, abs=1e-10)


price_args = (smooth, cov_strategy, st.sampled_from([0.9, 0.5, 0.0, -0.7]))
test_mehler_equals_quadrature = FEW(given(unshifted, cov_strategy)(_mehler))
test_price_theorem = FEW(given(unshifted, *price_args[1:])(_price))
test_dual_symmetric_with_parseval_diagonal = FEW(given(unshifted, cov_strategy)(_diagonal))
test_mehler_equals_quadrature_deep = pytest.mark.slow(given(smooth, cov_strategy)(_mehler))
test_price_theorem_deep = pytest.mark.slow(given(*price_args)(_price))
test_dual_symmetric_with_parseval_diagonal_deep = pytest.mark.slow(
    given(activations(max_depth=1).filter(lambda d: d.lipschitz is True),
          cov_strategy)(_diagonal))
