"""The grammar's proved verdicts agree with the condition checker (MATH §7).

``hermite_dual.testing.activations`` derives bounded / Lipschitz / C2 / non-polynomial
flags and upper bounds by rules on the expression tree; ``hd.check_conditions`` proves or
encloses the same suprema symbolically or with ball arithmetic.  Wherever both decide,
they must agree, and every upper bound of the grammar must be at least the checker's
certified lower bound.
"""

import math

import pytest
from hypothesis import given, settings

import hermite_dual as hd
from hermite_dual.testing import activations, deq_configs


def _agree(drawn):
    # the budget counts work (nominal seconds), so what is decided here does not depend
    # on machine load any more: the same draws compare the same verdicts on every machine
    r = hd.check_conditions(drawn.spec, time_budget=4.0)
    pairs = [("bounded", drawn.bounded, r.conditions["C0"]["holds"]),
             ("lipschitz", drawn.lipschitz, r.conditions["C1"]["holds"]),
             ("c2", drawn.c2, r.conditions["C2"]["holds"]),
             ("non_polynomial", drawn.non_polynomial, r.non_polynomial)]
    for what, mine, theirs in pairs:
        if mine is not None and theirs is not None:
            assert mine == theirs, (drawn.spec, what, mine, theirs)
    if drawn.admissible is not None and r.admissible is not None:
        assert drawn.admissible == r.admissible
    for mine, bound in ((drawn.sup_bound, r.sup_abs), (drawn.lipschitz_bound, r.sup_first),
                        (drawn.second_bound, r.sup_second)):
        if not math.isnan(bound.lower):    # every lower end the checker reports is proved
            assert mine >= bound.lower * (1 - 1e-9) - 1e-12, (drawn.spec, mine, bound)
    # the grammar's well-posedness limit is safe: not above the checker's (whose
    # enclosures are tight to ENCLOSURE_RTOL = 1e-6 in L, so 2e-6 in 1/(8 L^2))
    if r.max_sigma_w2 == r.max_sigma_w2 and drawn.lipschitz is True:
        assert drawn.max_sigma_w2 <= r.max_sigma_w2 * (1 + 1e-5)


test_drawn_verdicts_agree_with_check_conditions = settings(max_examples=6)(
    given(activations(max_depth=1))(_agree))
test_drawn_verdicts_agree_with_check_conditions_deep = pytest.mark.slow(
    given(activations(max_depth=2))(_agree))


@settings(max_examples=4)
@given(deq_configs(min_width=8, max_width=16))
def test_deq_configs_accepted_by_the_deq(cfg):
    """The drawn sigma_w^2 is inside the DEQ's own well-posedness limit 1/(8 L^2)."""
    model = hd.DEQ(3, cfg.width, cfg.activation, sigma_w2=cfg.sigma_w2, seed=cfg.seed)
    assert cfg.sigma_w2 < 1 / (8 * model.lipschitz**2)
