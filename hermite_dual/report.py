"""The main job, ``hermite-dual report``: one activation through every layer.

For one activation (tanh by default) the report

1. derives its Hermite coefficients a_k(q) at q = 1 and their decay;
2. gives its dual kernel (closed form, or the certified Mehler series);
3. checks the conditions C0-C4 of the convergence theory;
4. computes the population Gram matrix K of a built-in synthetic data set
   (points on the sphere, seeded), with lambda_* and the Hermite certificate;
5. trains a small finite-width DEQ and lays the observed rate beside the predicted ones;
6. writes the figures and ``report.json`` into an output folder.

Every number comes from the library's public functions; this module only orchestrates
and formats.

Examples
--------
>>> from hermite_dual.report import DEFAULT_SETTINGS
>>> DEFAULT_SETTINGS["activation"], DEFAULT_SETTINGS["sigma_w2"]
('tanh', 0.08)
"""

from __future__ import annotations

import json
import math
import os
import sys
import time

from ._json import to_jsonable
from ._util.io import atomic_write

__all__ = ["run_report", "DEFAULT_SETTINGS", "QUICK_SETTINGS"]

#: The embedded default problem of ``hermite-dual report``.
DEFAULT_SETTINGS = {
    "activation": "tanh",
    "degree": 30,
    "sigma_w2": 0.08,
    "n": 40,
    "d": 10,
    "width": 800,
    "steps": 100,
    "seed": 0,
}

#: Smaller sizes for ``--quick`` (used by the tests).
QUICK_SETTINGS = dict(DEFAULT_SETTINGS, n=12, d=6, width=200, steps=30, degree=16)


class _Stage:
    """Prints ``[i/N] what ... done (t s)`` on stderr when progress is on."""

    def __init__(self, total, enabled):
        self.total = total
        self.enabled = enabled
        self.i = 0
        self.times = {}

    def __call__(self, name, fn, *args, **kwargs):
        self.i += 1
        if self.enabled:
            print(f"[{self.i}/{self.total}] {name} ...", end="", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        out = fn(*args, **kwargs)
        dt = time.perf_counter() - t0
        self.times[name] = dt
        if self.enabled:
            print(f" done ({dt:.1f} s)", file=sys.stderr, flush=True)
        return out


def _fmt(value, digits=6):
    if value is None:
        return "n/a"
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(v):
        return "n/a"
    return f"{v:.{digits}g}"


def _dual_line(info):
    if info.get("closed_form"):
        return f"closed form {info['closed_form']}"
    text = info.get("message", "no closed form")
    degrees = info.get("degree_at_q1")
    if degrees:
        text += "; degree at q=1 for |rho| <= " + ", ".join(
            f"{r}: {k}" for r, k in degrees.items())
    return text


def run_report(act="tanh", *, out_dir="hermite-dual-report", progress=False, quick=False,
               settings=None):
    """Run the main job on one activation and write figures plus ``report.json``.

    Parameters
    ----------
    act : activation spec
        Anything :func:`hermite_dual.activation` accepts (default ``"tanh"``).
    out_dir : str
        Folder for the figures and ``report.json`` (created if missing).
    progress : bool
        Print one line per stage on stderr.
    quick : bool
        Use :data:`QUICK_SETTINGS` (smaller data, width and steps).
    settings : dict, optional
        Overrides of individual settings.

    Returns
    -------
    (dict, str)
        The JSON-able payload (also written to ``out_dir/report.json``) and the
        terminal summary.

    Raises
    ------
    ValueError
        For a bad activation or settings, from the layer that detects it.
    """
    from . import activation, check_conditions, population_gram, train
    from .data import sphere_data
    from .deq import DEQ, describe_run
    from .duals import describe_dual
    from .hermite import describe_expansion, hermite_coefficients
    from . import plotting

    cfg = dict(QUICK_SETTINGS if quick else DEFAULT_SETTINGS)
    cfg.update(settings or {})
    sigma = activation(act)
    cfg["activation"] = sigma.name
    os.makedirs(out_dir, exist_ok=True)
    stage = _Stage(7, progress)
    t_start = time.perf_counter()

    expansion = stage("Hermite coefficients", describe_expansion, sigma, cfg["degree"], 1.0,
                      "fast")
    dual_info = stage("dual kernel", describe_dual, sigma)
    conditions = stage("conditions", check_conditions, sigma, cfg["sigma_w2"])
    X, y = sphere_data(cfg["n"], cfg["d"], seed=cfg["seed"])
    gram = stage("population Gram matrix", population_gram, X, sigma, cfg["sigma_w2"])
    # hand on what was computed, so each stage runs once
    model = DEQ(cfg["d"], cfg["width"], sigma, sigma_w2=cfg["sigma_w2"], seed=cfg["seed"],
                lipschitz=conditions)
    run = stage("training", train, model, X, y, steps=cfg["steps"], progress=progress,
                equilibrium=gram)

    def figures():
        paths = {}
        paths["coefficients"] = plotting.plot_coefficient_decay(
            sigma, os.path.join(out_dir, "coefficients.png"), degree=cfg["degree"])
        paths["dual"] = plotting.plot_dual_curves(sigma, os.path.join(out_dir, "dual.png"))
        paths["gram"] = plotting.plot_gram_spectrum(gram, os.path.join(out_dir, "gram.png"))
        paths["training"] = plotting.plot_training(run, os.path.join(out_dir, "training.png"))
        return paths

    paths = stage("figures", figures)
    precise = stage("precision check", hermite_coefficients, sigma, min(cfg["degree"], 12), 1.0,
                    method="precise", dps=30)

    fast = expansion["coefficients"]
    precise_err = max(abs(float(fast[k]) - float(precise.coefficients[k]))
                      for k in range(len(precise.coefficients)))
    gram_summary = {
        "n": int(X.shape[0]), "d": int(X.shape[1]), "sigma_w2": cfg["sigma_w2"],
        "lambda_min": float(gram.lambda_min), "certificate": float(gram.certificate),
        "lambda_lower": float(gram.lambda_interval.lower),
        "lambda_upper": float(gram.lambda_interval.upper),
        "converged": bool(gram.converged), "iterations": int(gram.iterations),
        "residual": float(gram.residual), "error_bound": float(gram.error_bound),
    }
    payload = {
        "activation": sigma.name,
        "expression": str(sigma.expr),
        "settings": cfg,
        "hermite": expansion,
        "hermite_fast_vs_precise_max_abs_error": precise_err,
        "dual": dual_info,
        "conditions": conditions.to_dict(),
        "gram": gram_summary,
        "training": describe_run(run)["summary"],
        "figures": paths,
        "seconds": {**stage.times, "total": time.perf_counter() - t_start},
    }
    atomic_write(os.path.join(out_dir, "report.json"),
                 json.dumps(to_jsonable(payload), indent=2, allow_nan=False).encode())

    nz = [abs(float(v)) for v in fast]
    lines = [
        f"hermite-dual report: {sigma.name}    sigma(x) = {sigma.expr}",
        "",
        f"Hermite coefficients at q = 1 (degree {cfg['degree']}, fast path; "
        f"max |fast - precise| = {precise_err:.2e}):",
        "  " + "  ".join(f"a_{k}={_fmt(v, 4)}" for k, v in enumerate(fast[:8])) + "  ...",
        f"  nu(1) = {_fmt(expansion.get('norm2'))}, tail T_{cfg['degree']}(1) = "
        f"{_fmt(expansion.get('tail'), 3)}, largest |a_k| beyond k=10: "
        f"{_fmt(max(nz[11:]) if len(nz) > 11 else 0.0, 3)}",
        "",
        "Dual kernel K_sigma(q1, q2, c): " + _dual_line(dual_info),
        "",
        "Conditions:",
        "  " + str(conditions).replace("\n", "\n  "),
        "",
        f"Population Gram matrix (n={X.shape[0]} points on the sphere in R^{X.shape[1]}, "
        f"sigma_w^2 = {cfg['sigma_w2']}):",
        f"  lambda_* in [{_fmt(gram.lambda_interval.lower, 10)}, "
        f"{_fmt(gram.lambda_interval.upper, 10)}] (certified); Hermite lower bound "
        f"{_fmt(gram.certificate, 6)}"
        + (" (vacuous)" if gram.certificate <= 0 else "") + ",\n  "
        f"estimate {_fmt(gram.lambda_min, 8)}, "
        f"error bound = {_fmt(gram.error_bound, 3)}, iterations = {gram.iterations}, "
        f"converged = {gram.converged}",
        "",
        f"Training (width m = {cfg['width']}, {cfg['steps']} steps):",
        "  " + str(run).replace("\n", "\n  "),
        "",
        f"Figures and report.json in {out_dir}/  "
        f"({time.perf_counter() - t_start:.1f} s in all)",
    ]
    return payload, "\n".join(lines)
