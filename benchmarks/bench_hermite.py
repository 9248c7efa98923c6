"""Benchmark: Hermite coefficient tables, fast path vs scipy.integrate.quad per coefficient.

Task (issue 2): a_0..a_60 at 20 variances q log-spaced in [0.01, 100] for tanh, gelu and
relu.  "quad" is the code users write by hand today: one ``scipy.integrate.quad`` of
``sigma(sqrt(q) z) h_k(z) phi(z)`` over the real line per (k, q).  Both are compared with
the mpmath reference (``method="precise"``, dps=30); errors are absolute, scaled by
``max(1, sqrt(nu(q)))`` as in the tests.

Run: ``python3 benchmarks/bench_hermite.py [--repeat N]``.
"""

import argparse
import math
import time
import warnings

import numpy as np

import hermite_dual as hd

DEGREE = 60
QS = np.geomspace(0.01, 100.0, 20)
ACTIVATIONS = ("tanh", "gelu", "relu")


def quad_table(act, degree, qs):
    """The naive per-coefficient scipy.integrate.quad table."""
    from scipy import integrate, special

    out = np.empty((qs.size, degree + 1))
    norms = [math.sqrt(math.factorial(k)) for k in range(degree + 1)]
    inv = 1.0 / math.sqrt(2.0 * math.pi)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # quad's IntegrationWarning at high k
        for i, q in enumerate(qs):
            sq = math.sqrt(q)
            for k in range(degree + 1):
                def f(z, k=k):
                    return float(act(sq * z)) * special.eval_hermitenorm(k, z) / norms[k] \
                        * math.exp(-0.5 * z * z) * inv
                out[i, k] = integrate.quad(f, -np.inf, np.inf, limit=200)[0]
    return out


def best_time(fn, repeat):
    best = math.inf
    result = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="timing repeats of the fast path")
    parser.add_argument("--dps", type=int, default=30, help="digits of the mpmath reference")
    args = parser.parse_args(argv)

    print(f"a_0..a_{DEGREE} at {QS.size} variances q in [{QS[0]:g}, {QS[-1]:g}]; errors "
          f"against mpmath (dps={args.dps}), scaled by max(1, sqrt(nu))")
    header = (f"{'activation':<11}{'fast [ms]':>11}{'quad [ms]':>12}{'speed-up':>10}"
              f"{'fast err':>11}{'quad err':>11}{'fast est':>11}")
    print(header)
    print("-" * len(header))
    for name in ACTIVATIONS:
        act = hd.activation(name)
        hd.hermite_table(act, DEGREE, QS)                      # warm-up (numba cache load)
        t_fast, (A, nu, est) = best_time(lambda: hd.hermite_table(act, DEGREE, QS), args.repeat)
        t_quad, B = best_time(lambda: quad_table(act, DEGREE, QS), 1)
        ref = np.array([[float(c) for c in hd.hermite_coefficients(
            act, DEGREE, q, method="precise", dps=args.dps).coefficients] for q in QS])
        scale = np.sqrt(np.maximum(1.0, nu))[:, None]
        err_fast = np.max(np.abs(A - ref) / scale)
        err_quad = np.max(np.abs(B - ref) / scale)
        est_fast = np.max(est / scale)
        print(f"{name:<11}{1e3 * t_fast:>11.2f}{1e3 * t_quad:>12.0f}{t_quad / t_fast:>9.0f}x"
              f"{err_fast:>11.1e}{err_quad:>11.1e}{est_fast:>11.1e}")


if __name__ == "__main__":
    main()
