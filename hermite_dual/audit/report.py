""":func:`run_audit` over the claims and its Markdown report (``docs/theory-audit.md``).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

from .claims import (
    CLAIMS,
    DEFAULT_BUDGET,
    DEFAULT_OUT,
    _claim_a,
    _claim_b,
    _claim_c,
    _claim_d,
    _claim_e,
    _gram_cache,
)

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
    from ..testing.data import _random_rows

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
