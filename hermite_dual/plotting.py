"""Figures: coefficient decay, dual kernel curves, Gram spectra, loss curves, width sweeps.

matplotlib is imported lazily with the non-interactive Agg backend, so importing this
module (or hermite_dual) never opens a window or needs a display. Every function takes
the object the library computed, writes one PNG and returns its path; none of them
computes mathematics of its own beyond what it plots.

Examples
--------
>>> import os, tempfile
>>> import hermite_dual as hd
>>> from hermite_dual.plotting import plot_coefficient_decay
>>> path = plot_coefficient_decay("tanh", os.path.join(tempfile.mkdtemp(), "decay.png"),
...                               degree=20, qs=(1.0,))
>>> os.path.getsize(path) > 0
True
"""

from __future__ import annotations


import math

import numpy as np

__all__ = [
    "plot_coefficient_decay",
    "plot_dual_curves",
    "plot_gram_spectrum",
    "plot_training",
    "plot_width_sweep",
]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path, *, rect=None):
    from ._util.io import check_output_path
    try:
        check_output_path(path)             # folders are never created behind the user
    except ValueError:
        _pyplot().close(fig)
        raise
    fig.tight_layout(rect=rect)
    fig.savefig(path, dpi=110)
    _pyplot().close(fig)
    return path


def plot_coefficient_decay(act, path, *, degree=40, qs=(0.5, 1.0, 2.0)):
    """Plot |a_k(q)| against k on a log scale for several variances.

    Parameters
    ----------
    act : activation spec
        Anything :func:`hermite_dual.activation` accepts.
    path : str
        Output PNG path.
    degree : int
        Highest coefficient index.
    qs : sequence of float
        Variances q.

    Returns
    -------
    str
        ``path``.
    """
    from .activations import activation
    from .hermite import hermite_table

    act = activation(act)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    ks = np.arange(degree + 1)
    A, nu, err = hermite_table(act, degree, np.asarray(qs, dtype=np.float64))  # one call
    for q, row, nu_q, err_q in zip(qs, np.abs(A), nu, err):
        # relative cut-off: a coefficient is drawn only where it stands clear of its own
        # error estimate and of rounding relative to sqrt(nu(q)); zeros by symmetry
        # (rounding noise of ~1e-16) would otherwise draw a sawtooth over the real decay
        floor = np.maximum(10.0 * err_q, 64 * np.finfo(float).eps * math.sqrt(max(nu_q, 0.0)))
        mask = row > floor
        ax.semilogy(ks[mask], row[mask], "o-", ms=3, label=f"q = {q:g}")
    ax.set_xlabel("k")
    ax.set_ylabel("|a_k(q)|")
    ax.set_title(f"Hermite coefficients of {act.name}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    return _save(fig, path)


def plot_dual_curves(act, path, *, qs=(0.5, 1.0, 2.0, 4.0), points=201):
    """Plot the variance-dependent dual sigma_hat_q(rho) = K_sigma(q, q, rho q) on [-1, 1].

    Parameters
    ----------
    act : activation spec
    path : str
    qs : sequence of float
        Variances q; one curve each.
    points : int
        Number of correlations rho.

    Returns
    -------
    str
        ``path``.
    """
    from .activations import activation
    from .duals import dual

    act = activation(act)
    kernel = dual(act)
    rho = np.linspace(-1.0, 1.0, points)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for q in qs:
        values = kernel.kernel(q, q, rho * q)
        ax.plot(rho, values, label=f"q = {q:g}")
    ax.set_xlabel("correlation rho")
    ax.set_ylabel("K_sigma(q, q, rho q)")
    ax.set_title(f"Dual kernel of {act.name} at several variances")
    ax.grid(True, alpha=0.3)
    ax.legend()
    return _save(fig, path)


def plot_gram_spectrum(result, path):
    """Plot the eigenvalues of the population Gram matrix K with lambda_* and the certificate.

    Parameters
    ----------
    result : EquilibriumKernel
        The output of :func:`hermite_dual.population_gram`.
    path : str

    Returns
    -------
    str
        ``path``.
    """
    K = np.asarray(result.K, dtype=float)
    if K.ndim != 2 or K.shape[0] != K.shape[1]:
        raise ValueError(f"the spectrum needs a square K, got shape {K.shape}")
    eig = np.sort(np.linalg.eigvalsh(K))[::-1]
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.semilogy(np.arange(1, eig.size + 1), np.maximum(eig, 1e-300), "o-", ms=3,
                label="eigenvalues of K")
    ax.axhline(result.lambda_min, color="C1", ls="--",
               label=f"lambda_* = {result.lambda_min:.4g}")
    cert = float(result.certificate)
    if cert > 0:
        ax.axhline(cert, color="C2", ls=":", label=f"certificate = {cert:.4g}")
    ax.set_xlabel("index")
    ax.set_ylabel("eigenvalue")
    ax.set_title("Population Gram matrix at the equilibrium point")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    return _save(fig, path)


def _maybe(run, name):
    """A prediction curve of a run, or None when the run could not compute it."""
    try:
        return getattr(run, name, None)
    except (RuntimeError, ValueError):
        return None


def _curve(ax, values, label, **kw):
    if values is None:
        return
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return
    steps = np.arange(values.size)
    ok = values > 0
    ax.semilogy(steps[ok], values[ok], label=label, **kw)


def _training_axes(ax_loss, ax_norm, run, *, label_prefix="", color=None, predictions=True):
    kw = {} if color is None else {"color": color}
    _curve(ax_loss, run.loss, f"{label_prefix}observed", lw=2, **kw)
    if predictions and not getattr(run, "failed", False):
        # labels are the keys of TrainingRun.summary()["predicted_rate"], so the figure
        # and the text name each curve the same way
        _curve(ax_loss, _maybe(run, "linearized"), f"{label_prefix}linearized (H(0))",
               ls="--", **kw)
        _curve(ax_loss, _maybe(run, "linearized_infinite"),
               f"{label_prefix}infinite_width (m Theta)", ls="-.", **kw)
        if getattr(run, "envelope_applies", True):
            _curve(ax_loss, _maybe(run, "envelope"), f"{label_prefix}envelope (theorem)",
                   ls=":", **kw)
        _curve(ax_loss, _maybe(run, "population_envelope"),
               f"{label_prefix}population envelope", ls=(0, (1, 4)), **kw)
    w_steps = getattr(run, "record_steps", None)
    w_norm = np.asarray(run.W_norm, dtype=float)
    if w_steps is None or len(w_steps) != w_norm.size:
        w_steps = np.linspace(0, max(len(run.loss) - 1, 0), w_norm.size)
    ax_norm.plot(w_steps, w_norm, label=f"{label_prefix}||W||_2", **kw)


def plot_training(run, path):
    """Plot one run's loss with every prediction (left) and ||W||_2 (right).

    Parameters
    ----------
    run : TrainingRun
        The output of :func:`hermite_dual.train`.
    path : str

    Returns
    -------
    str
        ``path``.
    """
    plt = _pyplot()
    fig, (ax_loss, ax_norm) = plt.subplots(1, 2, figsize=(11, 4))
    _training_axes(ax_loss, ax_norm, run)
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("loss Phi")
    ax_loss.set_title(f"{run.activation.name}, m = {run.width}: observed loss against "
                      "predictions", fontsize=10)
    ax_loss.grid(True, which="both", alpha=0.3)
    ax_loss.legend(fontsize=8, loc="best", framealpha=0.85)
    if getattr(run, "lipschitz", 0) > 0 and math.isfinite(run.lipschitz):
        ax_norm.axhline(1.0 / run.lipschitz, color="r", ls=":", label="1/L (contraction)")
    ax_norm.set_xlabel("step")
    ax_norm.set_ylabel("||W||_2 (power-iteration lower bound)")
    ax_norm.set_title("Spectral norm of W")
    ax_norm.grid(True, alpha=0.3)
    ax_norm.legend(fontsize=8)
    return _save(fig, path)


def plot_width_sweep(runs, path):
    """Plot log-loss against step for several widths with predictions, and ||W||_2.

    Parameters
    ----------
    runs : sequence of TrainingRun
        E.g. the output of :func:`hermite_dual.width_sweep`.
    path : str

    Returns
    -------
    str
        ``path``.
    """
    runs = list(runs)
    if not runs:
        raise ValueError("plot_width_sweep needs at least one run, got none")
    plt = _pyplot()
    fig, (ax_loss, ax_norm) = plt.subplots(1, 2, figsize=(11, 4))
    for i, run in enumerate(runs):
        width = getattr(run, "width", None)
        prefix = f"m={width}: " if width is not None else f"run {i}: "
        _training_axes(ax_loss, ax_norm, run, label_prefix=prefix, color=f"C{i}",
                       predictions=True)
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("loss Phi")
    ax_loss.set_title("Width sweep: observed (solid) and predicted")
    ax_loss.grid(True, which="both", alpha=0.3)
    ax_norm.set_xlabel("step")
    ax_norm.set_ylabel("||W||_2")
    ax_norm.grid(True, alpha=0.3)
    # one legend below both panels: inside the axes it covered the curves
    handles, labels = ax_loss.get_legend_handles_labels()
    ncol = min(len(labels), 4) or 1
    rows = -(-len(labels) // ncol)
    fig.set_size_inches(11, 4 + 0.22 * rows)
    fig.legend(handles, labels, loc="lower center", ncol=ncol, fontsize=7, frameon=False)
    return _save(fig, path, rect=(0, 0.05 + 0.045 * rows, 1, 1))
