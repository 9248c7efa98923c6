"""Benchmark of the certified least eigenvalue (issue 13), one run printing ratios.

Problem: n points on the sphere of radius sqrt(d) (``hermite_dual.data.sphere_data``),
d = 100, tanh, sigma_w^2 = 0.08; K from :func:`hermite_dual.population_gram`.

Measured here, in the same run, each as a ratio to the floor of one
``scipy.linalg.cholesky`` of K:

* ``hd.least_eigenvalue(K, entry_error=error_bound)``: the certified interval
  (Lanczos on one Cholesky factor for the estimate, a verified Cholesky of K - sigma I for
  the lower bound, a Rayleigh quotient with its rounding error for the upper bound);
* ``numpy.linalg.eigvalsh(K)``: the full spectrum, what ``lambda_min`` used before.

Targets: the interval in <= 3x the Cholesky floor, >= 10x faster than eigvalsh; the
interval must contain eigvalsh's value and be tight (relative width printed).

Run: ``python3 benchmarks/bench_scale.py`` (n = 4000, about 1-2 minutes on 2 cores);
``--n 1000`` for a quick look.  Each timing is the best of ``--repeat`` runs (default 2).
The Dask path (n = 20,000 and 60,000) is not built yet; nothing here is extrapolated.
"""

import argparse
import time

import numpy as np
import scipy.linalg

import hermite_dual as hd
from hermite_dual.data import sphere_data


def best(fn, repeat):
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--d", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    X, _ = sphere_data(args.n, args.d, seed=0)
    t0 = time.perf_counter()
    ek = hd.population_gram(X, "tanh", 0.08)
    t_gram = time.perf_counter() - t0
    K = ek.K
    t_chol, _ = best(lambda: scipy.linalg.cholesky(K, lower=True, check_finite=False),
                     args.repeat)
    t_ours, b = best(lambda: hd.least_eigenvalue(K, entry_error=ek.error_bound), args.repeat)
    t_eig, ev = best(lambda: np.linalg.eigvalsh(K), 1)
    lam = float(ev[0])
    print(f"n = {args.n}, d = {args.d}, tanh, sigma_w^2 = 0.08 (measured on this machine)")
    print(f"  population_gram (K, Sigma)           {t_gram:8.2f} s")
    print(f"  scipy.linalg.cholesky (floor)        {t_chol:8.2f} s   1.00x")
    print(f"  least_eigenvalue (certified)         {t_ours:8.2f} s   {t_ours / t_chol:5.2f}x "
          "floor  (target <= 3x)")
    print(f"  numpy.linalg.eigvalsh (full)         {t_eig:8.2f} s   {t_eig / t_chol:5.2f}x "
          "floor")
    print(f"  speed-up over eigvalsh               {t_eig / t_ours:8.1f}x   (target >= 10x)")
    print(f"  interval [{b.lower:.12g}, {b.upper:.12g}], eigvalsh {lam:.12g}")
    print(f"  contains eigvalsh: {b.lower <= lam <= b.upper}; relative width "
          f"{b.width / abs(b.estimate):.2e}; Cholesky attempts {b.attempts}; "
          f"Hermite certificate {ek.certificate:.6g}")


if __name__ == "__main__":
    main()
