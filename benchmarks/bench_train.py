"""Benchmark: time per gradient step of the DEQ trainer against its BLAS floor.

A gradient step of :func:`hermite_dual.train` solves the forward fixed point
``Z = sigma(W Z + U X)`` and the adjoint fixed point ``B = D * (a 1^T + W^T B)``
(warm-started), then updates ``W -= lr (B r) Z^T``, ``U -= lr (B r) X^T``, ``a -= lr Z r``.
Whatever the solver, a step cannot avoid three m x m by m x n products -- one ``W Z``
(to evaluate or verify the forward equilibrium), one ``W^T B`` (the adjoint) and
``(B r) Z^T`` (the gradient of W) -- plus the two small ``U X`` and ``(B r) X^T``.
That is the *floor*.  It is timed inside the same training run (from the callback, on
arrays of the run's shapes, excluded from the step times), so both numbers see the
same machine load.  Target: step time <= 3 x floor.

Run ``python benchmarks/bench_train.py`` (defaults m = 2000, n = 200, d = 50, tanh);
``--json`` prints the result as JSON.  ``OPENBLAS_NUM_THREADS`` etc. are respected.
"""

import argparse
import json
import sys
import time

import numpy as np

from hermite_dual.deq import DEQ, sphere_data, train


def time_floor(W, U, X, Z, B, r, lr, buf):
    """Seconds for the unavoidable products of one gradient step (W itself untouched)."""
    t0 = time.perf_counter()
    P = W @ Z                          # forward: one product with W
    P += U @ X.T
    WB = W.T @ B                       # adjoint: one product with W^T
    Br = B * (-lr * r)
    np.matmul(Br, Z.T, out=buf)        # gradient of W
    gU = Br @ X                        # gradient of U
    t1 = time.perf_counter()
    del P, WB, gU
    return t1 - t0


def run_benchmark(width=2000, n=200, d=50, act="tanh", steps=40, warmup=10, seed=0):
    X, y = sphere_data(n, d, seed=seed)
    model = DEQ(d, width, act, seed=seed + 1)
    rng = np.random.default_rng(seed + 2)
    Zs = rng.standard_normal((width, n))
    Bs = rng.standard_normal((width, n)) / np.sqrt(width)
    rs = rng.standard_normal(n)
    buf = np.empty((width, width))
    floors = []

    def measure(step, loss):
        if step >= warmup:
            floors.append(time_floor(model.W, model.U, X, Zs, Bs, rs, 1e-4, buf))

    t0 = time.perf_counter()
    run = train(model, X, y, steps=steps, progress=False, callback=measure)
    total = time.perf_counter() - t0
    step_s = run.step_seconds[warmup:]
    steady = run.step_seconds[-10:]
    floor = float(np.median(floors))
    fwd, adj = run.forward_iterations, run.adjoint_iterations
    return {
        "width": width, "n": n, "d": d, "activation": act, "steps": int(run.steps),
        "warmup_steps_excluded": warmup,
        "status": run.status,
        "step_seconds_median": float(np.median(step_s)),
        "step_seconds_median_last10": float(np.median(steady)),
        "step_seconds_mean_all": float(np.mean(run.step_seconds)),
        "floor_seconds_median": floor,
        "ratio_median": float(np.median(step_s)) / floor,
        "ratio_last10": float(np.median(steady)) / floor,
        "ratio_mean_all_steps": float(np.mean(run.step_seconds)) / floor,
        "forward_iterations": fwd.tolist(),
        "adjoint_iterations": adj.tolist(),
        "products_per_step_median": float(np.median(fwd[warmup:] + adj[warmup:] + 1)),
        "floor_products_per_step": 3,
        "loss_initial": float(run.loss[0]), "loss_final": float(run.loss[-1]),
        "lr": run.lr, "total_seconds": total,
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--width", type=int, default=2000)
    p.add_argument("--n", type=int, default=200)
    p.add_argument("--d", type=int, default=50)
    p.add_argument("--act", default="tanh")
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    res = run_benchmark(a.width, a.n, a.d, a.act, a.steps, a.warmup)
    if a.json:
        json.dump(res, sys.stdout, indent=1)
        print()
        return res
    print(f"DEQ {res['activation']} m={res['width']} n={res['n']} d={res['d']}, "
          f"{res['steps']} steps ({res['status']}), loss {res['loss_initial']:.4g} -> "
          f"{res['loss_final']:.4g}")
    print(f"  step time (median, steps >= {res['warmup_steps_excluded']}): "
          f"{res['step_seconds_median'] * 1e3:.1f} ms; last 10: "
          f"{res['step_seconds_median_last10'] * 1e3:.1f} ms; mean over all steps: "
          f"{res['step_seconds_mean_all'] * 1e3:.1f} ms")
    print(f"  floor (3 m^2 n products + 2 m d n, median): "
          f"{res['floor_seconds_median'] * 1e3:.1f} ms")
    print(f"  ratio step/floor: median {res['ratio_median']:.2f}, last 10 "
          f"{res['ratio_last10']:.2f}, mean over all steps {res['ratio_mean_all_steps']:.2f}"
          f"  (target <= 3)")
    print(f"  m^2 n products per step (median): {res['products_per_step_median']:.0f} "
          f"(forward + adjoint iterations + gradient) vs 3 in the floor")
    return res


if __name__ == "__main__":
    main()
