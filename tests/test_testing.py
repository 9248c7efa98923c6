"""Tests of the public hypothesis strategies in hermite_dual.testing.

The strategies are checked themselves: every draw is valid, the drawn verdicts are sound
against independent numerics (grid suprema, finite differences), the edges are reached,
and shrinking goes toward the simplest case.
"""

import math

import numpy as np
import pytest
from hypothesis import Phase, find, given, settings
from hypothesis import strategies as st

import hermite_dual as hd
from hermite_dual.testing import (
    Covariance, DEQConfig, DrawnActivation, activations, covariances, deq_configs,
    leaf_facts, min_pairwise_angle, sphere_data)

FIND = settings(database=None, max_examples=300, derandomize=True)
REACH = settings(database=None, max_examples=300, derandomize=True,
                 phases=[Phase.generate])   # is it drawn at all? (no shrinking)
GRID = np.linspace(-12.0, 12.0, 24001)   # spacing 1e-3


# ---------------------------------------------------------------------------
# the grammar's axioms against numerics
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(leaf_facts()))
def test_leaf_facts_match_grid_suprema(name):
    """Each tabulated supremum is attained (to grid accuracy) on [-12, 12], or is inf."""
    sup, lip, sec, analytic, poly, parity, _closed = leaf_facts()[name]
    act = hd.activation(name)
    for k, value in enumerate((sup, lip, sec)):
        if not math.isfinite(value):
            continue
        # sup|sigma| of tanh, atan, softsign, ... is a limit at infinity: add far points
        pts = np.concatenate([GRID, [-1e6, -1e3, 1e3, 1e6]]) if k == 0 else GRID
        if (name, k) == ("softsign", 2):
            # sympy writes softsign'' with a term x*DiracDelta(x) (which is 0) and the
            # activation layer refuses it; use second differences instead
            h = GRID[1] - GRID[0]
            grid_max = float(np.max(np.abs(np.diff(act(GRID), 2)))) / h**2
        else:
            grid_max = float(np.max(np.abs(act.derivative(k)(pts))))
        assert grid_max <= value * (1 + 1e-12) + 1e-15
        # softsign'' reaches 2 only as x -> 0+: second differences see 1.994
        assert grid_max >= value * (1 - (1e-2 if (name, k) == ("softsign", 2) else 1e-5))
    assert act.is_polynomial == poly
    assert (len(act.kinks) == 0) == analytic
    if parity is not None:
        assert act.parity == parity


def test_leaf_facts_unbounded_entries_grow():
    """An inf supremum is really unbounded: large on a wide grid (or a Dirac mass)."""
    wide = np.linspace(-60.0, 60.0, 1201)
    for name, (sup, lip, sec, *_rest) in leaf_facts().items():
        act = hd.activation(name)
        for k, value in enumerate((sup, lip, sec)):
            if math.isfinite(value):
                continue
            try:
                deriv = act.derivative(k)
            except ValueError as exc:        # a Dirac mass: not a bounded function
                assert "Dirac" in str(exc)
                continue
            assert np.max(np.abs(deriv(wide))) > 50, (name, k)


# ---------------------------------------------------------------------------
# activations(): validity and soundness of the verdicts
# ---------------------------------------------------------------------------

def _check_bounds_numerically(drawn):
    """Proved bounds hold on a grid: sup|sigma|, finite-difference slopes and curvature."""
    act = drawn.activation
    values = act(GRID)
    assert np.all(np.isfinite(values)) or drawn.bounded is not True
    h = GRID[1] - GRID[0]
    if drawn.bounded is True:
        assert np.max(np.abs(values)) <= drawn.sup_bound * (1 + 1e-9) + 1e-12
    if drawn.lipschitz is True:
        slopes = np.abs(np.diff(values)) / h   # mean value theorem: <= L
        assert np.max(slopes) <= drawn.lipschitz_bound * (1 + 1e-6) + 1e-9
    if drawn.c2 is True:
        curv = np.abs(np.diff(values, 2)) / h**2   # <= sup|sigma''| (second mean value)
        assert np.max(curv) <= drawn.second_bound * (1 + 1e-3) + 1e-3


@given(activations())
def test_drawn_bounds_are_sound(drawn):
    _check_bounds_numerically(drawn)
    assert drawn.activation.name == drawn.spec
    # flags and bounds are consistent: a finite bound exactly when the flag is proved
    assert math.isfinite(drawn.sup_bound) == (drawn.bounded is True)
    assert math.isfinite(drawn.lipschitz_bound) == (drawn.lipschitz is True)
    assert math.isfinite(drawn.second_bound) == (drawn.c2 is True)


@given(activations())
def test_drawn_structure_agrees_with_activation_layer(drawn):
    act = drawn.activation
    if drawn.non_polynomial is False:
        assert act.is_polynomial
    if drawn.analytic is False:
        assert len(act.kinks) > 0
    if drawn.parity is not None:
        assert act(np.array([0.7]))[0] == pytest.approx(
            (1 if drawn.parity == "even" else -1) * act(np.array([-0.7]))[0], abs=1e-12)


@given(activations(admissible_only=True))
def test_admissible_only_draws_are_admissible(drawn):
    assert drawn.admissible is True
    assert 0 < drawn.max_sigma_w2 <= 1 / 8 / drawn.lipschitz_bound**2 * (1 + 1e-12)
    _check_bounds_numerically(drawn)


@given(activations(closed_form_only=True))
def test_closed_form_only_draws(drawn):
    assert drawn.closed_form_dual


@given(activations(max_depth=0))
def test_depth_zero_is_a_leaf(drawn):
    assert drawn.depth == 0


def test_activations_shrink_to_a_plain_builtin():
    assert find(activations(), lambda d: True, settings=FIND).spec == "tanh(x)"
    # the simplest unbounded draw is a plain built-in too, not a compound expression
    assert find(activations(), lambda d: d.bounded is False, settings=FIND).depth == 0


@pytest.mark.slow
def test_closed_form_activations_shrink_to_erf():
    assert find(activations(closed_form_only=True), lambda d: True,
                settings=FIND).spec == "erf(x)"


def test_activations_shrink_compound_to_two_leaves():
    drawn = find(activations(), lambda d: d.depth >= 1 and d.admissible is True,
                 settings=FIND)
    assert drawn.spec == "tanh(x) + (x)"


@pytest.mark.parametrize("kind, cond", [
    ("sum", lambda d: d.depth >= 1 and " + " in d.spec and "*" not in d.spec),
    ("product", lambda d: d.depth >= 1 and ")*(" in d.spec),
    ("composition", lambda d: d.depth >= 1 and d.spec.startswith(("sin(", "cos(")) and
     "x)" in d.spec[4:]),
    ("kinked outer", lambda d: d.depth >= 1 and d.spec.startswith(("relu(", "elu("))),
    ("depth 2", lambda d: d.depth == 2),
    ("undecided", lambda d: d.admissible is None),
    ("not admissible", lambda d: d.admissible is False and d.depth >= 1),
])
def test_grammar_reaches_every_operation(kind, cond):
    assert cond(find(activations(), cond, settings=REACH))


def test_known_verdicts_by_hand():
    """A few grammar rules on cases whose answers are known by hand."""
    tanh = DrawnActivation.leaf("tanh")
    x = DrawnActivation.leaf("identity")
    relu = DrawnActivation.leaf("relu")
    from hermite_dual.testing.grammar import _compose, _product, _sum
    s = _sum(tanh, x)                     # tanh(x) + x: Lipschitz 2, unbounded, smooth
    assert (s.bounded, s.lipschitz, s.c2, s.non_polynomial) == (False, True, True, True)
    r = _sum(relu, tanh)                  # kink survives: not C2, not a polynomial
    assert (r.c2, r.non_polynomial, r.analytic) == (False, True, False)
    cancel = _sum(tanh, DrawnActivation.leaf("tanh", alpha=-1))   # = 0: undecided
    assert cancel.non_polynomial is None
    assert hd.activation(cancel.spec).is_polynomial
    p = _product(DrawnActivation.leaf("sin"), DrawnActivation.leaf("cos"))
    assert p.parity == "odd" and p.lipschitz_bound == 2.0
    c = _compose("sin", 2, 0, tanh)       # sin(2 tanh x): L <= 2, odd
    assert c.lipschitz_bound == 2.0 and c.parity == "odd" and c.non_polynomial is True


# ---------------------------------------------------------------------------
# covariances()
# ---------------------------------------------------------------------------

@given(covariances())
def test_covariances_are_valid(cv):
    assert isinstance(cv, Covariance)
    assert 1e-3 <= cv.q1 <= 1e3 and 1e-3 <= cv.q2 <= 1e3
    assert abs(cv.c) <= math.sqrt(cv.q1 * cv.q2)
    assert -1.0 <= cv.rho <= 1.0
    assert np.all(np.linalg.eigvalsh(cv.matrix) >= -1e-12 * max(cv.q1, cv.q2))


@given(covariances(min_var=2.0, max_var=5.0))
def test_covariances_respect_a_range_excluding_one(cv):
    assert 2.0 <= cv.q1 <= 5.0 and 2.0 <= cv.q2 <= 5.0


@pytest.mark.parametrize("edge", [
    lambda cv: cv.rho == 1.0, lambda cv: cv.rho == -1.0, lambda cv: cv.c == 0.0,
    lambda cv: cv.q1 == 1e-3, lambda cv: cv.q2 == 1e3,
    lambda cv: cv.q1 == 1e-3 and cv.q2 == 1e3 and abs(cv.rho) == 1.0,
])
def test_covariance_edges_are_reached(edge):
    cv = find(covariances(), edge, settings=REACH)
    assert edge(cv)


def test_covariances_shrink_to_unit():
    assert find(covariances(), lambda cv: True, settings=FIND) == Covariance(1.0, 1.0, 0.0)
    assert find(covariances(2.0, 5.0), lambda cv: True, settings=FIND) == \
        Covariance(2.0, 2.0, 0.0)


# ---------------------------------------------------------------------------
# sphere_data()
# ---------------------------------------------------------------------------

@given(st.data(), st.integers(1, 7), st.integers(2, 5))
def test_sphere_data_valid(data, n, d):
    min_angle = data.draw(st.floats(0.01, math.pi / max(n, 2)))
    X = data.draw(sphere_data(n, d, min_angle=min_angle))
    assert X.shape == (n, d)
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), math.sqrt(d), rtol=1e-12)
    assert min_pairwise_angle(X) >= min_angle * (1 - 1e-9)


def test_sphere_data_edges_and_shrinking():
    assert np.allclose(find(sphere_data(2, 3), lambda X: True, settings=FIND),
                       math.sqrt(3) * np.eye(3)[:2])
    # n > d: the simplest data are planar (rank 2)
    X = find(sphere_data(5, 3), lambda X: True, settings=FIND)
    assert np.linalg.matrix_rank(X) == 2
    # the tight pair: an angle exactly min_angle is drawn
    X = find(sphere_data(4, 3, min_angle=0.2),
             lambda X: abs(min_pairwise_angle(X) - 0.2) < 1e-9, settings=REACH)
    assert min_pairwise_angle(X) == pytest.approx(0.2, abs=1e-9)
    # full-rank random data are drawn too
    X = find(sphere_data(5, 3), lambda X: np.linalg.matrix_rank(X) == 3, settings=REACH)
    assert np.linalg.matrix_rank(X) == 3


# ---------------------------------------------------------------------------
# deq_configs()
# ---------------------------------------------------------------------------

@given(deq_configs(min_width=4, max_width=32))
def test_deq_configs_valid(cfg):
    assert isinstance(cfg, DEQConfig)
    assert cfg.width in (4, 8, 16, 32)
    assert 0 < cfg.sigma_w2 < cfg.drawn.max_sigma_w2 <= 1 / (8 * cfg.drawn.lipschitz_bound**2)
    assert 0 < cfg.lr_fraction < 1
    assert cfg.step_size(4.0) == pytest.approx(cfg.lr_fraction / 2)
    assert cfg.drawn.admissible is True


def test_deq_configs_shrink():
    cfg = find(deq_configs(), lambda c: True, settings=FIND)
    assert (cfg.activation.name, cfg.width, cfg.lr_fraction, cfg.seed) == ("tanh(x)", 8, 0.5, 0)
    assert cfg.sigma_w2 == pytest.approx(1 / 16)


# ---------------------------------------------------------------------------
# bad input: one table
# ---------------------------------------------------------------------------

def _leaf_zero_alpha():
    DrawnActivation.leaf("tanh", alpha=0)


BAD = [
    (lambda: activations(max_depth=-1), ValueError, "max_depth"),
    (lambda: activations(max_depth=5), ValueError, "max_depth"),
    (lambda: activations(max_depth=1.5), ValueError, "1.5"),
    (lambda: activations(admissible_only="yes"), TypeError, "'yes'"),
    (lambda: activations(closed_form_only=1), TypeError, "closed_form_only"),
    (lambda: covariances(min_var=0.0), ValueError, "0.0"),
    (lambda: covariances(max_var=float("inf")), ValueError, "inf"),
    (lambda: covariances(min_var=float("nan")), ValueError, "nan"),
    (lambda: covariances(min_var=2.0, max_var=1.0), ValueError, "min_var=2.0"),
    (lambda: covariances(min_var=True), ValueError, "True"),
    (lambda: sphere_data(0, 2), ValueError, "n must be"),
    (lambda: sphere_data(3, 1), ValueError, "d=1"),
    (lambda: sphere_data(2, 0), ValueError, "d must be"),
    (lambda: sphere_data(3, 2, min_angle=2.0), ValueError, "2.0"),
    (lambda: sphere_data(3, 2, min_angle=0.0), ValueError, "0.0"),
    (lambda: sphere_data(3, 2, min_angle=float("nan")), ValueError, "nan"),
    (lambda: deq_configs(min_width=0), ValueError, "min_width"),
    (lambda: deq_configs(min_width=64, max_width=8), ValueError, "64"),
    (lambda: DrawnActivation.leaf("nope"), ValueError, "'nope'"),
    (_leaf_zero_alpha, ValueError, "alpha"),
    (lambda: DEQConfig(DrawnActivation.leaf("tanh"), 8, 0.05, 0.5, 0).step_size(0.0),
     ValueError, "0.0"),
    (lambda: DEQConfig(DrawnActivation.leaf("tanh"), 8, 0.05, 0.5, 0).step_size(
        float("nan")), ValueError, "nan"),
]


@pytest.mark.parametrize("call, exc, match", BAD)
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match.replace("(", r"\(").replace(".", r"\.")):
        call()
