"""Theory audit: hypothesis hunts for counterexamples to claims of the DEQ convergence papers.

``python3 -m hermite_dual.audit [--budget N] [--seed S] [--out docs/theory-audit.md]``
runs one seeded hypothesis search per claim (strategies from :mod:`hermite_dual.testing`,
the mathematics from the library) and writes a Markdown report: each claim, the search
budget, the outcome and the shrunk counterexample with its numbers.

Claims (MATH §5-§7):

(a) ``sigma_w^2 < 1/(8 L^2)`` is sufficient for the population kernel map to be a
    contraction (measured over the variances the iteration from ``K^(0) = 0`` visits,
    :func:`hermite_dual.conditions.contraction`).
(b) every admissible sigma gives ``lambda_* > 0`` on non-parallel data (b1), and the
    Hermite certificate is positive (b2).
(c) the observed loss stays below ``(1 - eta lambda_0 / 2)^tau Phi(0)`` for step sizes the
    theorem allows (``eta < 2/lambda_0``; drawn below the stability limit
    ``2/lambda_max(H(0))``, which implies it).
(d) part (9) of Ling et al.'s initial condition is satisfiable at realistic n.
(e) the bounded-derivative conditions alone imply infinitely many non-zero Hermite
    coefficients (hence ``lambda_* > 0``).

The budget is the number of generated examples per search (hypothesis ``max_examples``);
each search also has a wall-clock cap, after which untried candidates count as passing
(the report says when the cap was hit).  The default budget runs in a few minutes.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import random
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

__all__ = ["run_audit", "render_markdown", "main", "DEFAULT_BUDGET", "CLAIMS"]

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

    from .testing import sphere_data

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

    from .conditions import check_conditions, contraction
    from .equilibrium import population_gram
    from .testing import _compose, activations

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
        from .equilibrium import population_gram

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

    from .testing import activations, min_pairwise_angle

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

    from .deq import DEQ, train
    from .testing import activations, deq_configs

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
    from .deq import DEQ
    from .equilibrium import population_gram
    from .testing import _random_rows

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

    from .conditions import check_conditions
    from .hermite import hermite_coefficients
    from .testing import activations, sphere_data

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


# ---------------------------------------------------------------------------
# driver and report
# ---------------------------------------------------------------------------

def run_audit(budget=DEFAULT_BUDGET, out=None, progress=None, seed=0, claims=None):
    """Run the theory audit and optionally write the Markdown report.

    Parameters
    ----------
    budget : int
        Generated examples per hypothesis search (>= 1; claim (e), whose examples cost
        one coefficient table, gets ``4 * budget``).  Each search is also capped at
        ``2.5 * budget`` seconds of wall time.
    out : str or path, optional
        Where to write the Markdown report (e.g. ``docs/theory-audit.md``).
    progress : bool or callable, optional
        ``True`` prints one line per claim to stderr; a callable receives the lines.
    seed : int
        Seed of every search (the run is reproducible up to timing caps).
    claims : iterable of str, optional
        Subset of ``("a", "b1", "b2", "c", "d", "e")`` (default: all).

    Returns
    -------
    dict
        JSON-able: ``{"budget", "seed", "seconds", "environment", "claims": {id: {...}}}``
        where each claim has ``statement``, ``outcome``, ``budget``,
        ``examples_evaluated``, ``seconds``, ``counterexample`` (or ``None``).

    Raises
    ------
    ValueError
        For a budget that is not a positive integer, a bad seed or an unknown claim id.

    Examples
    --------
    >>> from hermite_dual.audit import run_audit
    >>> res = run_audit(budget=2, claims=["b1"])
    >>> res["claims"]["b1"]["outcome"], res["claims"]["b1"]["examples_evaluated"] >= 1
    ('no counterexample found', True)
    """
    if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)) or budget < 1:
        raise ValueError(f"budget must be a positive integer, got {budget!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    ids = list(CLAIMS) if claims is None else list(claims)
    for c in ids:
        if c not in CLAIMS:
            raise ValueError(f"unknown claim {c!r}; choose from {list(CLAIMS)}")
    if progress is True:
        def say(msg):
            print(msg, file=sys.stderr, flush=True)
    elif callable(progress):
        say = progress
    else:
        def say(msg):
            return None
    budget, seed = int(budget), int(seed)
    cap = 2.5 * budget
    t0 = time.perf_counter()
    gram = _gram_cache()
    from .testing import _random_rows

    sample_X = _random_rows(6, 3, 0.1, seed)
    results = {}
    for c in ids:
        say(f"audit: claim ({c}) ...")
        if c == "a":
            r = _claim_a(budget, seed, cap, sample_X)
        elif c in ("b1", "b2"):
            r = _claim_b(c, budget, seed, cap, gram)
        elif c == "c":
            r = _claim_c(budget, seed, cap)
        elif c == "d":
            r = _claim_d(seed)
        else:
            # cheap examples (one coefficient table each): four times the budget
            r = _claim_e(4 * budget, seed, cap, gram)
        r["statement"] = CLAIMS[c]
        results[c] = r
        say(f"audit: claim ({c}): {r['outcome']} ({r['examples_evaluated']} examples, "
            f"{r['seconds']} s)")
    import hypothesis

    res = {
        "budget": budget, "seed": seed, "seconds": round(time.perf_counter() - t0, 1),
        "command": f"python3 -m hermite_dual.audit --budget {budget} --seed {seed}",
        "environment": {"python": platform.python_version(),
                        "hypothesis": hypothesis.__version__, "numpy": np.__version__},
        "claims": results,
    }
    if out is not None:
        path = Path(out)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render_markdown(res))
        say(f"audit: wrote {path}")
    return res


_DISCUSSION = {
    "a": ("The search draws admissible activations from the grammar plus a constant "
          "offset, and sigma_w^2 below 1/(8 L^2) with L from the grammar's proved bound "
          "(so below the true limit).  The diagonal of the kernel map has derivative "
          "2 sigma_w^2 nu'(s) with nu'(s) = E[sigma'^2] + E[sigma sigma''] (Price): the "
          "second term is not controlled by L, so a large offset times a non-zero mean "
          "of sigma'' breaks the contraction on the variances the iteration visits.  "
          "The local factor at the fixed point can still be < 1 (the diagonal iteration "
          "of `contraction` then converges), but `population_gram` refuses such a "
          "sigma_w^2 (its measured factor is >= 1): the bound 1/(8 L^2) makes the forward "
          "map Z -> sigma(W Z + U X) a contraction, not the kernel map; the sufficient "
          "condition of MATH §7, C4, 2 sigma_w^2 (L^2 + sup|sigma| "
          "sup|sigma''|) < 1, is what guarantees the latter (here it is infinite or "
          "> 1)."),
    "b1": ("lambda_* is positive for non-polynomial sigma (MATH §2); a "
           "counterexample here would have to be a numerical one (lambda_* below its "
           "error bound)."),
    "b2": ("The certificate sum_r a_r(s)^2 (1 - (n-1) beta^r)_+ is positive in exact "
           "arithmetic for non-polynomial sigma, but it is computed in float64 from "
           "degree-limited coefficients shrunk by their error estimates: when the "
           "useful terms (large r, or all r >= 1 when a_0 dominates) fall below those "
           "errors it evaluates to 0 although lambda_* > 0 is certified."),
    "c": ("Step sizes are drawn as a fraction of 2/lambda_max(H(0)) (which implies the "
          "theorem's eta < 2/lambda_0, since lambda_0 <= lambda_max(G) <= "
          "lambda_max(H)); the widths are far below the theorem's over-parameterization, "
          "which is the point of the search."),
    "d": ("MATH §6 records that part (9) of Ling et al.'s initial condition "
          "scales like m on both sides; it does not state the inequality itself, so the "
          "audit cannot test (9) as stated and reports the numbers of its scaling "
          "instead: lambda_0 grows like m (fitted exponent), so does tr G(0) = "
          "||Z(0)||_F^2, and their m-free ratio lambda_0 / tr G(0) is at most 1/n and "
          "falls with n.  Any inequality of the form lambda_0 >= c ||Z(0)||_F^2 therefore "
          "fails for every n > 1/c, whatever the width."),
    "e": ("Affine sigma(x) = alpha x + beta have bounded first and second derivatives "
          "but only a_0 and a_1 non-zero; at the fixed point K = alpha^2 Sigma + "
          "beta^2 11^T with Sigma = 2 sigma_w^2 K + (2/d) X X^T, so K = (alpha^2 (2/d) "
          "X X^T + beta^2 11^T) / (1 - 2 sigma_w^2 alpha^2) has rank <= d + 1 and "
          "lambda_* = 0 once n > d + 1 (the search uses n = d + 2; for beta = 0 already "
          "n > d).  Non-polynomiality (C3) is an independent requirement."),
}


def _md_value(v):
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, list) and v and isinstance(v[0], list):
        return "see JSON below"
    return f"{v}"


def render_markdown(res):
    """The Markdown report of :func:`run_audit`'s result (what ``docs/theory-audit.md`` holds).

    Examples
    --------
    >>> from hermite_dual.audit import render_markdown
    >>> md = render_markdown({"budget": 1, "seed": 0, "seconds": 0.0, "command": "c",
    ...                       "environment": {}, "claims": {}})
    >>> md.splitlines()[0]
    '# Theory audit'
    """
    lines = [
        "# Theory audit",
        "",
        "Generated by `" + res["command"] + "` — do not edit by hand; rerun the command.",
        "",
        f"- budget: {res['budget']} generated examples per search (hypothesis "
        "`max_examples`), seed " f"{res['seed']}",
        f"- total runtime: {res['seconds']} s",
        "- environment: " + ", ".join(f"{k} {v}" for k, v in res["environment"].items()),
        "",
        "Each claim is stated as a property; hypothesis searches for a counterexample "
        "with the strategies of `hermite_dual.testing` and shrinks what it finds.  The "
        "mathematics (conditions, kernels, Gram matrices, training) is the library's.",
        "",
        "| claim | outcome | examples | seconds |",
        "|---|---|---|---|",
    ]
    for cid, r in res["claims"].items():
        lines.append(f"| ({cid}) | {r['outcome']} | {r['examples_evaluated']} | "
                     f"{r['seconds']} |")
    for cid, r in res["claims"].items():
        lines += ["", f"## ({cid}) {r['statement']}", ""]
        lines.append(f"- outcome: **{r['outcome']}**")
        lines.append(f"- budget: {r['budget']} (examples evaluated: "
                     f"{r['examples_evaluated']}, library errors: {r['errors']}, time cap "
                     f"hit: {r['time_cap_hit']}, {r['seconds']} s)")
        if r.get("first_error"):
            lines.append(f"- first library error: `{r['first_error']}`")
        lines.append("")
        lines.append(_DISCUSSION[cid])
        ce = r.get("counterexample")
        if ce:
            lines += ["", "Shrunk counterexample:", "", "| quantity | value |", "|---|---|"]
            for k, v in ce.items():
                if k == "X":
                    continue
                lines.append(f"| {k} | {_md_value(v)} |")
            if "X" in ce:
                lines += ["", "Data X (rows):", "", "```", json.dumps(ce["X"]), "```"]
        if cid == "d" and "table" in r:
            lines += ["", "Setting: " + ", ".join(f"{k} = {v}" for k, v in
                                                  r["setting"].items()), ""]
            lines.append("| n | m | lambda_0 | lambda_0/m | lambda_* | m lambda_*/2 | "
                         "lambda_0 >= m lambda_*/2 | tr G(0)/m | lambda_0 / tr G(0) | 1/n |")
            lines.append("|---|---|---|---|---|---|---|---|---|---|")
            for row in r["table"]:
                lines.append(
                    f"| {row['n']} | {row['m']} | {row['lambda_0']:.4g} | "
                    f"{row['lambda_0_over_m']:.4g} | {row['lambda_star']:.4g} | "
                    f"{row['half_m_lambda_star']:.4g} | "
                    f"{row['lambda_0_ge_m_lambda_star_over_2']} | "
                    f"{row['trace_G0_over_m']:.4g} | "
                    f"{row['lambda_0_over_trace_G0']:.3g} | {row['one_over_n']:.3g} |")
            lines += ["", "Fitted exponents of m at the smallest n: " + ", ".join(
                f"{k} ~ m^{v}" for k, v in r["m_exponents_at_smallest_n"].items())]
    lines.append("")
    return "\n".join(lines)


def main(argv=None):
    """Command line: ``python3 -m hermite_dual.audit [--budget N] [--seed S] [--out PATH]``."""
    parser = argparse.ArgumentParser(prog="python3 -m hermite_dual.audit",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=DEFAULT_BUDGET,
                        help=f"examples per search (default {DEFAULT_BUDGET})")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=DEFAULT_OUT,
                        help=f"Markdown report path (default {DEFAULT_OUT})")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    try:
        res = run_audit(budget=args.budget, out=args.out, progress=True, seed=args.seed)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(res, indent=1, default=str))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
