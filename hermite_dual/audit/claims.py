"""The claims of the theory the audit searches counterexamples for, one search each.
"""

from __future__ import annotations

import math
import random
import time
from fractions import Fraction

import numpy as np

DEFAULT_BUDGET = 20
DEFAULT_OUT = "docs/theory-audit.md"

CLAIMS = {
    "a": "sigma_w^2 < 1/(8 L^2) is sufficient for the population kernel map to be a "
         "contraction.",
    "b1": "Every admissible sigma gives lambda_* > 0 on non-parallel data.",
    "b2": "For every admissible sigma on non-parallel data the Hermite certificate is "
          "positive.",
    "c": "The observed loss stays below (1 - eta lambda_0 / 2)^tau Phi(0) for step sizes "
         "the theorem allows.",
    "d": "Part (9) of Ling et al.'s initial condition is satisfiable at realistic n.",
    "e": "The bounded-derivative conditions (C1, C2) alone imply infinitely many non-zero "
         "Hermite coefficients, hence lambda_* > 0.",
}


# ---------------------------------------------------------------------------
# the search driver
# ---------------------------------------------------------------------------

class _Search:
    """Wrap a predicate for :func:`hypothesis.find`: count, cache, cap time, keep errors."""

    def __init__(self, key, predicate, time_cap):
        self.key = key
        self.predicate = predicate
        self.time_cap = time_cap
        self.start = None
        self.calls = 0
        self.errors = 0
        self.first_error = None
        self.capped = False
        self.cache = {}
        self.details = {}

    def __call__(self, example):
        k = self.key(example)
        if k in self.cache:
            return self.cache[k]
        if time.perf_counter() - self.start > self.time_cap:
            self.capped = True
            return False
        self.calls += 1
        try:
            found, detail = self.predicate(example)
        except (ValueError, ArithmeticError, RuntimeError) as exc:
            self.errors += 1
            if self.first_error is None:
                self.first_error = f"{type(exc).__name__}: {str(exc)[:300]}"
            found, detail = False, None
        self.cache[k] = bool(found)
        self.details[k] = detail
        return bool(found)


def _search(strategy, predicate, key, *, budget, seed, time_cap):
    from hypothesis import HealthCheck, find, settings
    from hypothesis.errors import NoSuchExample

    s = _Search(key, predicate, time_cap)
    s.start = time.perf_counter()
    cfg = settings(max_examples=budget, database=None, deadline=None,
                   suppress_health_check=list(HealthCheck))
    try:
        example = find(strategy, s, settings=cfg, random=random.Random(seed))
    except NoSuchExample:
        example = None
    except Exception as exc:  # noqa: BLE001 - e.g. Unsatisfiable: reported, not fatal
        example = None
        s.first_error = s.first_error or f"{type(exc).__name__}: {str(exc)[:300]}"
    out = {
        "budget": budget, "seed": seed, "examples_evaluated": s.calls,
        "errors": s.errors, "first_error": s.first_error, "time_cap_seconds": time_cap,
        "time_cap_hit": s.capped, "seconds": round(time.perf_counter() - s.start, 2),
    }
    if example is None:
        out["outcome"] = "no counterexample found"
        out["counterexample"] = None
    else:
        out["outcome"] = "counterexample found"
        out["counterexample"] = s.details[key(example)]
    return out


def _f(v, digits=6):
    """A float for the JSON report (strings for non-finite values)."""
    v = float(v)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return float(f"{v:.{digits}g}")


# ---------------------------------------------------------------------------
# strategies shared by the claims
# ---------------------------------------------------------------------------

def _data_strategy(n_range=(2, 6), d_range=(2, 4), min_angle=0.05):
    from hypothesis import strategies as st

    from ..testing import sphere_data

    def sized(nd):
        n, d = nd
        return sphere_data(n, d, min_angle=min(min_angle, math.pi / n))

    return st.tuples(st.integers(*n_range), st.integers(*d_range)).flatmap(sized)


def _key_array(X):
    return (X.shape, np.round(X, 12).tobytes())


# ---------------------------------------------------------------------------
# (a) contraction of the kernel map
# ---------------------------------------------------------------------------

def _claim_a(budget, seed, time_cap, data_X):
    from hypothesis import strategies as st

    from ..conditions import check_conditions, contraction
    from ..equilibrium import population_gram
    from ..testing import activations
    from ..testing.grammar import _compose

    def build(drawn, offset, frac):
        if offset:
            drawn = _compose("identity", Fraction(1), Fraction(offset), drawn)
        return drawn, frac * drawn.max_sigma_w2

    # admissible leaves sigma(alpha x + beta) plus a constant offset (cheap kernels)
    strategy = st.builds(build, activations(admissible_only=True, max_depth=0),
                         st.integers(-40, 40), st.sampled_from([0.99, 0.9, 0.75, 0.5]))
    reports = {}

    def predicate(ex):
        drawn, sw = ex
        if drawn.spec not in reports:
            reports[drawn.spec] = check_conditions(drawn.spec, time_budget=3.0)
        rep = reports[drawn.spec]
        r = contraction(drawn.spec, sw, report=rep)
        found = bool(r.converged and r.measured_factor - r.abs_error >= 1.0)
        b1 = rep.sup_first
        detail = {
            "activation": drawn.spec, "sigma_w2": _f(sw, 8),
            "limit_1_over_8L2_from_grammar_bound": _f(drawn.max_sigma_w2, 8),
            "L_enclosure": [_f(b1.lower), _f(b1.upper)],
            "L_grammar_upper_bound": _f(drawn.lipschitz_bound),
            "sup_abs_sigma": _f(rep.sup_abs.value),
            "sup_abs_sigma2": _f(rep.sup_second.value),
            "sufficient_factor_C4": _f(r.sufficient_factor),
            "measured_factor": _f(r.measured_factor),
            "measured_diagonal": _f(r.measured_diagonal),
            "measured_offdiagonal": _f(r.measured_offdiagonal),
            "measured_factor_error": _f(r.abs_error, 3),
            "local_factor_at_fixed_point": _f(r.local_factor),
            "visited_variances": [_f(r.q_range[0]), _f(r.q_range[1])],
            "kappa": _f(r.kappa), "iterations": r.iterations,
        }
        if found:
            try:
                ek = population_gram(data_X, drawn.spec, sw, raise_on_failure=False)
                detail["population_gram_on_sample_data"] = {
                    "converged": ek.converged, "iterations": ek.iterations,
                    "lambda_star": _f(ek.lambda_min)}
            except ValueError as exc:
                detail["population_gram_on_sample_data"] = f"refused: {str(exc)[:200]}"
        return found, detail

    return _search(strategy, predicate, lambda ex: (ex[0].spec, ex[1]),
                   budget=budget, seed=seed, time_cap=time_cap)


# ---------------------------------------------------------------------------
# (b) lambda_* > 0 and the certificate
# ---------------------------------------------------------------------------

def _gram_cache():
    cache = {}

    def get(drawn, X, sw):
        from ..equilibrium import population_gram

        k = (drawn.spec, _key_array(X), sw)
        if k not in cache:
            try:
                cache[k] = population_gram(X, drawn.spec, sw)
            except ValueError as exc:
                cache[k] = exc
        if isinstance(cache[k], Exception):
            raise cache[k]
        return cache[k]

    return get


def _claim_b(which, budget, seed, time_cap, gram):
    from hypothesis import strategies as st

    from ..testing import activations, min_pairwise_angle

    strategy = st.tuples(activations(admissible_only=True, max_depth=1), _data_strategy(),
                         st.sampled_from([0.5, 0.9, 0.25]))

    def predicate(ex):
        drawn, X, frac = ex
        sw = frac * min(drawn.max_sigma_w2, 0.125)
        ek = gram(drawn, X, sw)
        lam, err, cert = ek.lambda_min, ek.lambda_min_error, ek.certificate
        found = (lam <= err) if which == "b1" else (not cert > 0)
        P = ek.Sigma / np.sqrt(np.outer(np.diag(ek.Sigma), np.diag(ek.Sigma)))
        beta = float(np.max(np.abs(P - np.diag(np.diag(P))))) if X.shape[0] > 1 else 0.0
        detail = {
            "activation": drawn.spec, "sigma_w2": _f(sw, 8), "n": X.shape[0],
            "d": X.shape[1], "min_angle_deg": _f(math.degrees(min_pairwise_angle(X)), 4),
            "lambda_star": _f(lam), "lambda_star_error": _f(err, 3),
            "certificate": _f(cert), "beta_max_offdiag_correlation": _f(beta, 8),
            "variance_s": _f(float(np.nanmax(ek.s))), "kernel_route": ek.kernel,
            "X": np.round(X, 6).tolist(),
        }
        return found, detail

    return _search(strategy, predicate,
                   lambda ex: (ex[0].spec, _key_array(ex[1]), ex[2]),
                   budget=budget, seed=seed, time_cap=time_cap)


# ---------------------------------------------------------------------------
# (c) the rate envelope on tiny DEQs
# ---------------------------------------------------------------------------

def _claim_c(budget, seed, time_cap, steps=40):
    import warnings

    from hypothesis import strategies as st

    from ..deq import DEQ, train
    from ..testing import activations, deq_configs

    strategy = st.tuples(
        deq_configs(activations(admissible_only=True, max_depth=1), min_width=4,
                    max_width=64),
        _data_strategy(n_range=(2, 5), d_range=(2, 4)), st.integers(0, 2**16))

    def predicate(ex):
        cfg, X, yseed = ex
        y = np.random.default_rng(yseed).standard_normal(X.shape[0])
        model = DEQ(X.shape[1], cfg.width, cfg.drawn.spec, sigma_w2=cfg.sigma_w2,
                    seed=cfg.seed)
        H = model.tangent_gram(X)
        lam_max = float(np.linalg.eigvalsh(H)[-1])
        lr = cfg.step_size(lam_max)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            run = train(model, X, y, lr=lr, steps=steps, progress=False)
        env = run.envelope
        k = len(run.loss)
        ratio = run.loss[1:k] / env[1:k]
        worst = int(np.argmax(ratio)) + 1 if ratio.size else 0
        found = bool(run.envelope_applies and ratio.size and ratio.max() > 1 + 1e-9)
        detail = {
            "activation": cfg.drawn.spec, "width": cfg.width, "sigma_w2": _f(cfg.sigma_w2, 8),
            "n": X.shape[0], "d": X.shape[1], "seed": cfg.seed, "target_seed": yseed,
            "lr": _f(lr, 8), "lr_fraction_of_2_over_lambda_max_H0": _f(cfg.lr_fraction, 6),
            "lambda_0": _f(run.lambda_0), "lambda_max_H0": _f(lam_max),
            "lambda_min_H0": _f(float(np.min(run.H0_eigvals))),
            "eta_lambda_0_over_2": _f(lr * run.lambda_0 / 2),
            "status": run.status, "steps": run.steps,
            "worst_step": worst, "loss_at_worst": _f(run.loss[worst]) if worst else None,
            "envelope_at_worst": _f(env[worst]) if worst else None,
            "max_loss_over_envelope": _f(ratio.max()) if ratio.size else None,
            "Phi0": _f(run.phi0),
        }
        return found, detail

    return _search(strategy, predicate,
                   lambda ex: (ex[0], _key_array(ex[1]), ex[2]),
                   budget=budget, seed=seed, time_cap=time_cap)


# ---------------------------------------------------------------------------
# (d) Ling's condition (9): the numbers of its scaling
# ---------------------------------------------------------------------------

def _claim_d(seed, widths=(64, 256, 1024), ns=(4, 16, 64), d=8, act="tanh", sigma_w2=0.08):
    """Width sweep of the quantities condition (9) compares, and their m-free ratio.

    Both sides of (9) scale like m (MATH §6).  The m-free content is the ratio
    of ``lambda_0 = lambda_min(G(0))`` to the scale of G(0): ``lambda_0 <= tr G(0) / n =
    ||Z(0)||_F^2 / n`` for any data, so a requirement that lambda_0 dominate a fixed
    multiple of ``||Z(0)||_F^2`` (both ~ m) can hold only below some n.
    """
    from ..deq import DEQ
    from ..equilibrium import population_gram
    from ..testing.data import _random_rows

    t0 = time.perf_counter()
    rows = []
    for n in ns:
        X = _random_rows(n, d, 0.05, seed + n)
        ek = population_gram(X, act, sigma_w2)
        lam_star = float(ek.lambda_min)
        trace_K = float(np.trace(ek.K))
        for m in widths:
            model = DEQ(d, m, act, sigma_w2=sigma_w2, seed=seed + m)
            G = model.gram(X)
            ev = np.linalg.eigvalsh(G)
            rows.append({
                "n": n, "m": m, "lambda_0": _f(ev[0]), "lambda_0_over_m": _f(ev[0] / m),
                "lambda_star": _f(lam_star), "half_m_lambda_star": _f(m * lam_star / 2),
                "lambda_0_ge_m_lambda_star_over_2": bool(ev[0] >= m * lam_star / 2),
                "trace_G0_over_m": _f(np.trace(G) / m), "trace_K": _f(trace_K),
                "lambda_0_over_trace_G0": _f(ev[0] / np.trace(G)),
                "one_over_n": _f(1.0 / n),
            })
    # fitted exponents of m (log-log least squares) at the smallest n (m >> n there)
    big = [r for r in rows if r["n"] == ns[0]]
    lm = np.log([r["m"] for r in big])
    fits = {}
    for name in ("lambda_0", "trace_G0_over_m"):
        vals = np.array([r[name] for r in big], dtype=float)
        if name == "trace_G0_over_m":
            vals = vals * np.array([r["m"] for r in big])
            name = "trace_G0"
        if np.all(vals > 0):
            fits[name] = _f(np.polyfit(lm, np.log(vals), 1)[0], 4)
    return {
        "budget": None, "seed": seed, "examples_evaluated": len(rows), "errors": 0,
        "first_error": None, "time_cap_hit": False,
        "seconds": round(time.perf_counter() - t0, 2),
        "outcome": "numbers only (the inequality (9) itself is not stated in docs/math.md)",
        "counterexample": None,
        "table": rows, "m_exponents_at_smallest_n": fits,
        "setting": {"activation": act, "sigma_w2": sigma_w2, "d": d,
                    "widths": list(widths), "n": list(ns)},
    }


# ---------------------------------------------------------------------------
# (e) bounded derivatives without non-polynomiality
# ---------------------------------------------------------------------------

def _claim_e(budget, seed, time_cap, gram):
    from hypothesis import strategies as st

    from ..conditions import check_conditions
    from ..hermite import hermite_coefficients
    from ..testing import activations, sphere_data

    def with_data(drawn_d):
        drawn, d = drawn_d
        return st.tuples(st.just(drawn), sphere_data(d + 2, d, min_angle=0.1))

    # every activation the grammar proves C1 and C2 for (bounded sigma', sigma'')
    # (leaves weighted by half: each built-in with its affine rescalings, then depth 1)
    bounded_derivs = st.one_of(activations(max_depth=0), activations(max_depth=1)).filter(
        lambda dr: dr.lipschitz is True and dr.c2 is True)
    strategy = st.tuples(bounded_derivs, st.integers(2, 4)).flatmap(with_data)

    def predicate(ex):
        drawn, X = ex
        exp = hermite_coefficients(drawn.spec, 12, q=1.0)
        a = np.asarray(exp.coefficients, dtype=float)
        tol = max(float(exp.abs_error), 1e-12)
        high_vanish = bool(np.all(np.abs(a[3:]) <= tol))
        detail = {"activation": drawn.spec,
                  "max_abs_a_k_for_k_3_to_12": _f(float(np.max(np.abs(a[3:]))), 3)}
        if not high_vanish:
            return False, detail
        sw = 0.5 * min(drawn.max_sigma_w2, 0.125)
        ek = gram(drawn, X, sw)
        lam, err = ek.lambda_min, ek.lambda_min_error
        found = high_vanish and lam <= err
        detail = {"activation": drawn.spec, "n": X.shape[0], "d": X.shape[1],
                  "sigma_w2": _f(sw, 8), "lambda_star": _f(lam),
                  "lambda_star_error": _f(err, 3),
                  "rank_K": int(np.linalg.matrix_rank(ek.K, tol=max(err, 1e-10))),
                  "a_0..a_5_at_q=1": [_f(v, 8) for v in a[:6]],
                  "max_abs_a_k_for_k_3_to_12": _f(float(np.max(np.abs(a[3:]))), 3),
                  "coefficient_error": _f(exp.abs_error, 3)}
        if found:
            rep = check_conditions(drawn.spec, time_budget=5.0)
            detail.update({
                "C1_L": _f(rep.sup_first.value), "C1_holds": rep.conditions["C1"]["holds"],
                "C2_sup_sigma2": _f(rep.sup_second.value),
                "C2_holds": rep.conditions["C2"]["holds"],
                "C3_non_polynomial": rep.non_polynomial,
                "admissible": rep.admissible})
        return found, detail

    return _search(strategy, predicate, lambda ex: (ex[0].spec, _key_array(ex[1])),
                   budget=budget, seed=seed, time_cap=time_cap)
