"""One record per built-in activation (hermite_dual.library) and the views built on it."""

import math

import numpy as np
import pytest
import sympy as sp

import hermite_dual as hd
from hermite_dual._kernels import gram
from hermite_dual.library import RECORDS, record, record_of
from hermite_dual.testing import leaf_facts


def test_every_view_is_built_from_the_records():
    names = [r.name for r in RECORDS]
    assert list(hd.builtin_names()) == names
    assert sorted(leaf_facts()) == sorted(names)
    for r in RECORDS:
        assert hd.activation(r.name).expr == r.expr
        assert leaf_facts()[r.name] == (*r.sup, r.analytic, r.polynomial, r.parity,
                                        r.closed_form_dual)


def test_numba_closed_forms_are_named_by_records_only():
    named = {r.numba_kernel for r in RECORDS if r.numba_kernel is not None}
    assert named == set(gram.KIND_NAMES.values())
    for r in RECORDS:
        kind = hd.dual(r.name).kernel_id
        if r.numba_kernel is None:
            assert kind == gram.KIND_SERIES
        else:
            assert gram.KIND_NAMES[kind] == r.numba_kernel
    # the same expression typed another way reaches the same record
    assert record_of(hd.activation("Max(0, x)").expr) is record("relu")
    assert record_of(hd.activation("x*tanh(x)").expr) is None


@pytest.mark.parametrize("r", [r for r in RECORDS if r.stable is not None], ids=lambda r: r.name)
def test_stable_forms_equal_the_expression_and_stay_finite(r):
    exact = sp.lambdify(sp.Symbol("x", real=True), r.expr, modules="mpmath")
    pts = np.array([-30.0, -3.0, -0.5, 0.0, 0.25, 2.0, 30.0])
    import mpmath
    with mpmath.workdps(300):     # gelu at -30 cancels 200 digits in the textbook formula
        ref = np.array([float(exact(mpmath.mpf(float(p)))) for p in pts])
    # gelu at -30: erfc(21.2) turns the rounding of its argument x/sqrt(2) into a relative
    # error of 2 z^2 eps = 1e-13 (a property of float64 input, not of the form)
    np.testing.assert_allclose(r.stable(pts), ref, rtol=2e-13, atol=1e-300)
    with np.errstate(over="raise", invalid="raise"):     # no overflow, no NaN at the extremes
        assert np.all(np.isfinite(r.stable(np.array([-745.0, -1e300, 1e300]))))


@pytest.mark.parametrize("r", [r for r in RECORDS if r.closed_form_dual], ids=lambda r: r.name)
def test_a_record_that_claims_a_closed_form_dual_gets_one_derived(r):
    assert hd.dual(r.name).closed_form() is not None


def test_suprema_of_the_records_against_check_conditions():
    # a few exact routes, independent of the record (sympy's critical points)
    for name in ("tanh", "erf", "atan", "sigmoid"):
        rep = hd.check_conditions(name)
        got = (rep.sup_abs.value, rep.sup_first.value, rep.sup_second.value)
        assert all(math.isclose(a, b, rel_tol=1e-12) for a, b in zip(got, record(name).sup))
