"""The ``hermite-dual`` command line.

Subcommands: ``derive``, ``check``, ``gram``, ``train``, ``report`` and ``audit``.
Every subcommand takes ``--json`` for machine-readable output on stdout.  Exit code 0
on success, 2 on bad input (with a one-line message on stderr and no traceback).

Each handler only parses arguments, calls one library function and prints; the
mathematics lives in the layers below (one source of truth).

Examples
--------
>>> from hermite_dual.cli import build_parser
>>> args = build_parser().parse_args(["derive", "tanh", "--degree", "4"])
>>> (args.command, args.degree, args.q, args.method)
('derive', 4, 1.0, 'fast')
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import warnings

import numpy as np

from ._json import to_jsonable
from ._warnings import HermiteDualWarning

__all__ = ["main", "build_parser", "CLIError"]

PROG = "hermite-dual"


class CLIError(Exception):
    """Bad input detected by the command line itself (exit code 2)."""


class _Formatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Keeps the examples' line breaks and shows every option's default (when it has one)."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False or action.default is argparse.SUPPRESS:
            return action.help
        return super()._get_help_string(action)


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error message and exit code 2."""

    def error(self, message):
        raise CLIError(f"{self.prog}: {message} (see {self.prog} --help)")


def _emit(args, payload, text):
    if args.json:
        json.dump(to_jsonable(payload), sys.stdout, indent=2, sort_keys=False)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(text.rstrip("\n") + "\n")


def _progress_enabled(args):
    return (not args.json) and sys.stderr.isatty()


def _stage_printer(args):
    """A function printing one progress line on stderr (silent under --json or no tty)."""
    enabled = _progress_enabled(args)

    def say(text):
        if enabled:
            print(f"[{PROG}] {text}", file=sys.stderr, flush=True)
    return say


def _format_dict(d, indent=0):
    lines = []
    pad = "  " * indent
    for key, value in d.items():
        if isinstance(value, dict):
            lines.append(f"{pad}{key}:")
            lines.append(_format_dict(value, indent + 1))
        elif isinstance(value, (list, tuple)) and len(value) > 8 and all(
                isinstance(v, (int, float)) for v in value):
            shown = ", ".join(f"{v:.6g}" for v in value[:8])
            lines.append(f"{pad}{key}: [{shown}, ...] ({len(value)} values)")
        else:
            lines.append(f"{pad}{key}: {value}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# argument helpers
# ---------------------------------------------------------------------------

def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive finite number, got {text!r}")
    return value


def _nonneg_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative finite number, got {text!r}")
    return value


def _nonneg_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative whole number, got {text!r}")
    return value


def _positive_int(text):
    value = _nonneg_int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return value


def _int_list(text):
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated whole numbers, got {text!r}") from None
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"expected positive whole numbers, got {text!r}")
    return values


def _shape_pair(text):
    parts = text.split(",")
    if len(parts) != 2:
        raise argparse.ArgumentTypeError(f"expected N,D (e.g. 40,10), got {text!r}")
    try:
        n, d = (int(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected N,D (e.g. 40,10), got {text!r}") from None
    if n < 1 or d < 1:
        raise argparse.ArgumentTypeError(f"N and D must be positive, got {text!r}")
    return n, d


def _check_outputs(*paths):
    """Output folders must exist: nothing is created behind the user's back (and a typo
    in a folder name fails before the work, not after)."""
    from ._util.io import check_output_path
    for path in paths:
        if path:
            check_output_path(path)


def _load_data(path):
    if not os.path.exists(path):
        raise CLIError(f"data file {path!r} does not exist")
    if path.endswith(".npy"):
        X = np.load(path, allow_pickle=False)
    elif path.endswith(".csv") or path.endswith(".txt"):
        X = np.loadtxt(path, delimiter="," if path.endswith(".csv") else None, ndmin=2)
    else:
        raise CLIError(f"data file {path!r} must end in .npy or .csv")
    X = np.asarray(X)
    if np.iscomplexobj(X):
        raise CLIError(f"data in {path!r} is complex ({X.dtype}); the inputs must be real")
    if X.dtype.kind not in "biuf":
        raise CLIError(f"data in {path!r} is not numeric (dtype {X.dtype})")
    X = X.astype(np.float64)
    if X.ndim != 2:
        raise CLIError(f"data in {path!r} must be a 2-D array (n, d), got shape {X.shape}")
    return X


# ---------------------------------------------------------------------------
# subcommands
# ---------------------------------------------------------------------------

def _cmd_derive(args):
    from . import activation
    from .duals import describe_dual
    from .hermite import describe_expansion

    act = activation(args.activation)
    expansion = describe_expansion(act, args.degree, args.q, args.method, dps=args.dps)
    payload = {"activation": act.name, "expression": str(act.expr),
               "expansion": expansion}
    if not args.no_dual:
        payload["dual"] = describe_dual(act)
    lines = [f"activation: {act.name}    sigma(x) = {act.expr}",
             f"Hermite coefficients a_k(q) (orthonormal h_k), q = {args.q}, "
             f"method = {args.method}:"]
    coeffs = expansion["coefficients"]
    for k, value in enumerate(coeffs):
        lines.append(f"  a_{k:<3d} = {value}")
    if expansion.get("latex"):
        lines.append("LaTeX:")
        for k, tex in enumerate(expansion["latex"]):
            lines.append(f"  a_{{{k}}} = {tex}")
    for key in ("norm2", "tail", "abs_error"):
        if key in expansion:
            lines.append(f"{key}: {expansion[key]}")
    if "dual" in payload:
        lines.append("dual kernel K_sigma(q1, q2, c):")
        lines.append(_format_dict(payload["dual"], 1))
    _emit(args, payload, "\n".join(lines))
    return 0


def _cmd_check(args):
    from . import activation
    from .conditions import check_conditions

    act = activation(args.activation)
    report = check_conditions(act, args.sigma_w2)
    _emit(args, report.to_dict(), str(report))
    return 0


def _synthetic_data(n, d, seed):
    from .data import sphere_data

    X, _ = sphere_data(n, d, seed=seed)
    return X


def _cmd_gram(args):
    from . import activation
    from .equilibrium import describe_gram, population_gram

    if args.data is not None:
        X = _load_data(args.data)
    else:
        X = _synthetic_data(*args.synthetic, seed=args.seed)
    blocked = (args.workers is not None or args.scheduler is not None
               or bool(args.out and not args.out.endswith(".npy")))
    if not blocked:
        _check_outputs(args.out)
    act = activation(args.activation)
    if blocked:
        from .gram_cli import run_blocked
        summary, text = run_blocked(args, X, act, progress=_progress_enabled(args),
                                    say=_stage_printer(args))
        _emit(args, summary, text)
        return 0
    say = _stage_printer(args)
    say(f"population Gram matrix of {X.shape[0]} points ({act.name})")
    t0 = time.perf_counter()
    result = population_gram(X, act, args.sigma_w2)
    elapsed = time.perf_counter() - t0
    say(f"done in {elapsed:.1f} s; least eigenvalue and certificate")
    summary = describe_gram(result)
    say(f"done in {time.perf_counter() - t0:.1f} s")
    summary.setdefault("seconds", elapsed)
    if args.out:
        np.save(args.out, result.K)
        summary["out"] = args.out
    _emit(args, summary, _gram_table(summary))
    return 0


def _table(rows):
    """Two aligned columns: label, value (a row of None is a blank line)."""
    width = max(len(r[0]) for r in rows if r)
    return "\n".join("" if r is None else f"  {r[0]:<{width}}  {r[1]}" for r in rows)


def _gram_table(s):
    def g(v, digits=10):
        return "n/a" if v is None else f"{v:.{digits}g}"
    cert = s.get("certificate")
    cert_text = g(cert, 6)
    if s.get("certificate_vacuous"):
        cert_text += "  (vacuous: two inputs are nearly parallel, beta close to 1)"
    rows = [
        ("activation", f"{s['activation']}    sigma(x) = {s['expr']}"),
        ("data", f"n = {s['n']} points" + (f", block {s['shape']}" if s['shape'][0] != s['shape'][1]
                                          else "")),
        ("sigma_w^2", g(s["sigma_w2"])),
        ("kernel", f"{s['kernel']} ({s['method']})"),
        None,
        ("lambda_* (certified)", f"[{g(s.get('lambda_lower'))}, {g(s.get('lambda_upper'))}]"),
        ("lambda_* estimate", f"{g(s.get('lambda_min'))} +- {g(s.get('lambda_min_error'), 3)}"),
        ("Hermite certificate", cert_text),
        None,
        ("fixed point", f"converged = {s['converged']}, {s['iterations']} iterations, "
                        f"residual {g(s['residual'], 3)}, contraction {g(s['contraction'], 4)}"),
        ("entry error bound", f"{g(s['error_bound'], 3)}  ({s['error_kind']})"),
        ("time", f"{s.get('seconds', 0.0):.2f} s"),
    ]
    if s.get("out"):
        rows.append(("K saved to", s["out"]))
    return "population Gram matrix at the equilibrium point\n" + _table(rows)


def _cmd_train(args):
    from . import activation
    from .data import digits_data, sphere_data
    from .deq import describe_run, width_sweep

    act = activation(args.activation)
    _check_outputs(args.plot, args.out)
    if args.data == "digits":
        X, y = digits_data()
    else:
        X, y = sphere_data(args.n, args.d, seed=args.seed)
    with warnings.catch_warnings():
        # a failed run is reported through its status (and the exit code), not a warning
        warnings.simplefilter("ignore", HermiteDualWarning)
        runs = width_sweep(X, y, act, args.widths, sigma_w2=args.sigma_w2, steps=args.steps,
                           lr=args.lr, seed=args.seed, progress=_progress_enabled(args))
    failed = [r for r in runs if r.failed]
    payload = {"activation": act.name, "runs": [describe_run(r) for r in runs],
               "failed": len(failed)}
    for entry, run in zip(payload["runs"], runs):
        if run.failed:
            entry["summary"].pop("predicted_rate", None)
            entry["summary"].pop("ratios", None)
    if args.plot:
        from .plotting import plot_width_sweep
        payload["plot"] = plot_width_sweep(runs, args.plot)
    if args.out:
        _save_json_atomic(args.out, payload)
        payload["out"] = args.out
    text = [f"activation: {act.name}; data: {args.data} (n={X.shape[0]}, d={X.shape[1]})"]
    for run in runs:
        text.append(str(run))
    if args.plot:
        text.append(f"figure: {args.plot}")
    if failed:
        text.append(f"{len(failed)} of {len(runs)} runs failed: "
                    + "; ".join(f"m={r.width}: {r.status}" for r in failed))
    _emit(args, payload, "\n".join(text))
    return 1 if failed else 0


def _save_json_atomic(path, payload):
    from ._util.io import atomic_write
    atomic_write(path, json.dumps(to_jsonable(payload), indent=2, allow_nan=False).encode())


def _cmd_report(args):
    from .report import run_report

    payload, text = run_report(args.activation, out_dir=args.out_dir,
                               progress=_progress_enabled(args), quick=args.quick)
    _emit(args, payload, text)
    return 0


def _cmd_audit(args):
    from .audit import run_audit

    result = run_audit(budget=args.budget, out=args.out, progress=_progress_enabled(args))
    _emit(args, result, _format_dict(result))
    return 0


# ---------------------------------------------------------------------------
# parser
# ---------------------------------------------------------------------------

def build_parser():
    """The argparse parser of ``hermite-dual`` (exposed for the docs and the tests)."""
    parser = _Parser(
        prog=PROG,
        description="Hermite expansions, dual kernels, condition checks, population Gram "
                    "matrices and DEQ training for any activation.",
        epilog="Examples:\n  hermite-dual report\n  hermite-dual derive 'x*tanh(x)' "
               "--degree 8\n  hermite-dual check softplus --json\n"
               "  hermite-dual gram --synthetic 200,20 --activation tanh --sigma-w2 0.08\n"
               "  hermite-dual train --activation sin --widths 500,1000 --steps 100",
        formatter_class=_Formatter)
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")

    def add(name, help_text, example):
        p = sub.add_parser(name, help=help_text, description=help_text,
                           epilog=f"Example:\n  {example}",
                           formatter_class=_Formatter)
        p.add_argument("--json", action="store_true", help="machine-readable JSON on stdout")
        return p

    p = add("derive", "Hermite coefficients a_k(q) and the dual kernel of an activation.",
            "hermite-dual derive 'erf(x) + x/3' --degree 10 --q 2 --method exact")
    p.add_argument("activation", help="built-in name or expression in x, e.g. 'x*tanh(x)'")
    p.add_argument("--degree", type=_nonneg_int, default=10, help="highest k")
    p.add_argument("--q", type=_positive_float, default=1.0, help="variance q")
    p.add_argument("--method", choices=["fast", "precise", "exact"], default="fast",
                   help="float64, mpmath at --dps digits, or sympy")
    p.add_argument("--dps", type=_positive_int, default=30,
                   help="decimal digits for --method precise")
    p.add_argument("--no-dual", action="store_true", help="skip the dual kernel")
    p.set_defaults(handler=_cmd_derive)

    p = add("check", "Verify the conditions C0-C4 of the convergence theory.",
            "hermite-dual check tanh --sigma-w2 0.08")
    p.add_argument("activation")
    p.add_argument("--sigma-w2", type=_nonneg_float, default=None,
                   help="weight variance sigma_w^2 for the contraction check")
    p.set_defaults(handler=_cmd_check)

    p = add("gram", "Population Gram matrix K at the equilibrium point, lambda_* and "
                    "its certificate.",
            "hermite-dual gram --synthetic 200,20 --activation tanh --sigma-w2 0.08 --out K.npy")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", help="data file (.npy or .csv), rows are samples")
    src.add_argument("--synthetic", type=_shape_pair, metavar="N,D",
                     help="N points on the sphere of radius sqrt(D)")
    p.add_argument("--activation", default="tanh", help="built-in name or expression in x")
    p.add_argument("--sigma-w2", type=_nonneg_float, default=0.08,
                   help="weight variance sigma_w^2 (W_ij ~ N(0, 2 sigma_w^2 / m))")
    p.add_argument("--seed", type=_nonneg_int, default=0, help="seed of the synthetic data")
    p.add_argument("--out", help="save K as .npy (in memory), or store K and Sigma block by "
                                 "block on Dask: a zarr group (*.zarr) or a directory of "
                                 ".npy memory maps (any other name)")
    p.add_argument("--workers", type=_positive_int, default=None,
                   help="run the blocks on a local Dask cluster of this many worker "
                        "processes (needs the [dask] extra)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="run the blocks on the dask.distributed scheduler at ADDRESS")
    p.add_argument("--chunk", type=_positive_int, default=4096,
                   help="block size of the Dask computation (need not divide N)")
    p.add_argument("--tangent", action="store_true",
                   help="with Dask: compute and store Kdot and Theta too")
    p.add_argument("--overwrite", action="store_true",
                   help="with Dask: replace an existing store at --out")
    p.add_argument("--lambda", dest="lam", choices=("auto", "yes", "no"), default="auto",
                   help="with Dask: the certified lambda_* by blocked Cholesky (auto: when "
                        "three n x n matrices fit in the available memory)")
    p.set_defaults(handler=_cmd_gram)

    p = add("train", "Train finite-width DEQs and compare observed with predicted rates.",
            "hermite-dual train --activation tanh --widths 500,1000,2000 --steps 200 "
            "--plot sweep.png")
    p.add_argument("--activation", default="tanh", help="built-in name or expression in x")
    p.add_argument("--widths", type=_int_list, default=[500, 1000, 2000],
                   help="comma-separated widths m")
    p.add_argument("--steps", type=_positive_int, default=200, help="gradient steps per run")
    p.add_argument("--lr", type=_positive_float, default=None,
                   help="step size (None: a safe step from H(0))")
    p.add_argument("--sigma-w2", type=_nonneg_float, default=0.08,
                   help="weight variance sigma_w^2")
    p.add_argument("--data", choices=["synthetic", "digits"], default="synthetic",
                   help="data set")
    p.add_argument("--n", type=_positive_int, default=40, help="synthetic: points")
    p.add_argument("--d", type=_positive_int, default=10, help="synthetic: dimension")
    p.add_argument("--seed", type=_nonneg_int, default=0, help="seed of data and weights")
    p.add_argument("--plot", help="write the width-sweep figure (PNG)")
    p.add_argument("--out", help="save the runs as JSON (atomic write)")
    p.set_defaults(handler=_cmd_train)

    p = add("report", "The main job: derive, check, compute and train on one activation.",
            "hermite-dual report gelu --out-dir report")
    p.add_argument("activation", nargs="?", default="tanh",
                   help="built-in name or expression in x")
    p.add_argument("--out-dir", default="hermite-dual-report",
                   help="folder for figures and report.json")
    p.add_argument("--quick", action="store_true", help="smaller problem sizes")
    p.set_defaults(handler=_cmd_report)

    p = add("audit", "Search for counterexamples to claims of the convergence theory.",
            "hermite-dual audit --budget 50 --out docs/theory-audit.md")
    p.add_argument("--budget", type=_positive_int, default=None,
                   help="examples per claim (None: the audit's own default)")
    p.add_argument("--out", default=None, help="write the markdown report here")
    p.set_defaults(handler=_cmd_audit)
    return parser


def _version():
    from . import __version__
    return f"{PROG} {__version__}"


def main(argv=None):
    """Run the command line; returns the exit code.

    0 success; 1 a training run failed (its status says how); 2 bad input (one line on
    stderr, and with ``--json`` also ``{"error": ..., "kind": ..., "exit_code": 2}`` on
    stdout); 130 interrupted.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name (default ``sys.argv[1:]``).
    """
    parser = build_parser()
    words = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in words

    def fail(message, kind, code):
        message = " ".join(str(message).split())
        if as_json:      # with --json, an error is a JSON object on stdout too
            json.dump({"error": message, "kind": kind, "exit_code": code}, sys.stdout)
            sys.stdout.write("\n")
        print(message if kind == "usage" else f"{PROG}: error: {message}", file=sys.stderr)
        return code

    try:
        args = parser.parse_args(words)
        if getattr(args, "handler", None) is None:
            parser.print_help()
            return 2
        return args.handler(args)
    except CLIError as exc:
        return fail(exc, "usage", 2)
    except (ValueError, OverflowError, OSError) as exc:
        return fail(exc, type(exc).__name__, 2)
    except KeyboardInterrupt:
        return fail("interrupted", "interrupted", 130)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
