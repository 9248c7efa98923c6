"""Gradient descent on a DEQ (MATH §4, §6): :func:`train` and :func:`width_sweep`.

Each step solves the forward fixed point (warm-started by extrapolating earlier
equilibria) and the adjoint; a diverging or interrupted run keeps its history and says
why it stopped.
"""

from __future__ import annotations

import math
import sys
import time
import warnings

import numpy as np

from .._util import validate
from .._util.io import check_output_path
from .._warnings import HermiteDualWarning
from .model import DEQ, _adjoint, _as_data, _forward
from .run import TrainingRun

_EXTRAPOLATION_ORDER = 5     # highest order of the warm-start extrapolation (see _Extrapolator)


# ---------------------------------------------------------------------------
# training
# ---------------------------------------------------------------------------

class _Extrapolator:
    """Warm starts for a sequence of fixed points: polynomial extrapolation of adaptive order.

    Keeps the backward differences ``D^0 .. D^k`` of the last iterates; the degree-j
    prediction of the next one is ``sum_{i <= j} D^i`` (Newton's backward formula one step
    ahead).  After each new iterate the order whose prediction of it was best is kept
    for the next step (tried one higher when the highest available won), so smooth
    trajectories get high order and oscillating ones (step sizes beyond 1/lambda_max)
    fall back to low order.
    """

    def __init__(self, max_order=5):
        self.max_order = max_order
        self.diffs = []
        self.order = 0

    def predict(self, shape):
        if not self.diffs:
            return np.zeros(shape)
        out = self.diffs[0].copy()
        for j in range(1, min(self.order, len(self.diffs) - 1) + 1):
            out += self.diffs[j]
        return out

    def update(self, new):
        if self.diffs:
            # judge the orders on every 8th row: the choice needs no more, and it is cheap
            sub = new[::8]
            err = self.diffs[0][::8] - sub
            errs = [float(np.max(np.abs(err)))]
            for j in range(1, len(self.diffs)):
                err += self.diffs[j][::8]
                errs.append(float(np.max(np.abs(err))))
            best = int(np.argmin(errs))
            self.order = best + 1 if best == len(errs) - 1 else best
        table = [new]
        for j in range(1, min(len(self.diffs), self.max_order) + 1):
            table.append(table[j - 1] - self.diffs[j - 1])
        self.diffs = table


class _Progress:
    def __init__(self, enabled, total):
        self.enabled = enabled and hasattr(sys.stderr, "isatty") and sys.stderr.isatty()
        self.total = total
        self.last = 0.0

    def update(self, step, loss, force=False):
        if not self.enabled:
            return
        now = time.monotonic()
        if force or now - self.last > 0.25:
            self.last = now
            sys.stderr.write(f"\rtrain: step {step}/{self.total} loss {loss:.6g}   ")
            sys.stderr.flush()

    def close(self):
        if self.enabled:
            sys.stderr.write("\n")
            sys.stderr.flush()


def _check_equilibrium(ek, model, X):
    if ek is None:
        return
    from ..equilibrium import EquilibriumKernel
    if not isinstance(ek, EquilibriumKernel):
        raise TypeError(f"equilibrium must be an EquilibriumKernel, got {type(ek).__name__}")
    n = X.shape[0]
    if ek.K.shape != (n, n) or ek.activation.expr != model.act.expr \
            or ek.sigma_w2 != model.sigma_w2:
        raise ValueError(
            f"equilibrium is for {ek.activation.name!r}, sigma_w2 = {ek.sigma_w2!r}, "
            f"K of shape {ek.K.shape}; the run has {model.act.name!r}, sigma_w2 = "
            f"{model.sigma_w2!r} and n = {n} points")
    # Sigma = 2 sigma_w^2 K + (2/d) X X^T (MATH §5) ties the kernel to its data
    inputs = ek.Sigma - 2.0 * ek.sigma_w2 * ek.K
    if not np.allclose(inputs, (2.0 / X.shape[1]) * (X @ X.T), rtol=1e-9, atol=1e-9):
        raise ValueError("equilibrium was computed for other data than X")


def train(model, X, y, *, lr=None, steps=200, progress=True, record_every=10, tol=None,
          adjoint_tol=1e-8, max_iter=None, divergence_factor=1e3, callback=None, out=None,
          equilibrium=None):
    """Gradient descent on (W, U, a) of a :class:`DEQ`; observed loss beside the predictions.

    Each step solves the forward equilibrium and the adjoint fixed point, warm-started by
    polynomial extrapolation from the previous steps (adaptive order up to 5), and
    updates all parameters with step ``lr``.  Every step the contraction condition
    ``L ||W||_2 < 1`` is checked with one warm-started power iteration (folded into the
    solvers' first matrix products); if it fails the forward iteration is not attempted.
    The model is updated in place (when a run stops early, it holds the parameters of
    the last step taken).

    Parameters
    ----------
    model : DEQ
    X : array_like (n, d)
        Non-zero, pairwise non-parallel rows.
    y : array_like (n,)
    lr : float, optional
        Step size eta.  Default: ``1 / lambda_max(H(0))`` (the linearized dynamics then
        decrease every mode monotonically), reported in ``run.lr_source``.
    steps : int, default 200
    progress : bool, default True
        A one-line progress display on stderr, only when stderr is a terminal.
    record_every : int, default 10
        Period of the ``lambda_min(G)`` and ``||W||_2`` records (always also at the end).
    tol : float, optional
        Forward tolerance (default: the model's ``tol``).
    adjoint_tol : float, default 1e-8
        Adjoint tolerance during training (it only affects the step direction, not the
        measured loss; H(0) is always computed at the forward tolerance).
    max_iter : int, optional
        Iteration limit of each fixed point (default: the model's).
    divergence_factor : float, default 1e3
        Stop as diverged when the loss exceeds this multiple of Phi(0) or is not finite.
    callback : callable, optional
        ``callback(step, loss)`` after each recorded loss; raising ``KeyboardInterrupt``
        from it ends the run like Ctrl-C; any other exception ends it with status
        ``"callback_failed"`` (the message names the exception), the history kept.
    out : path, optional
        Save the run there (atomically) when training ends, however it ends.
    equilibrium : EquilibriumKernel, optional
        The :func:`~hermite_dual.population_gram` of ``X`` for this activation and
        ``sigma_w2``, when the caller has it already: the run's population predictions
        then use it instead of computing it again.

    Returns
    -------
    TrainingRun
        Also when the run diverges (``status`` "diverged", "contraction_lost",
        "forward_failed" or "adjoint_failed", with a :class:`HermiteDualWarning`) or is
        interrupted (``status`` "interrupted"): the history up to that point is kept.

    Raises
    ------
    ValueError
        For bad data (shape, NaN, zero or parallel rows), a non-positive or non-finite lr,
        steps < 1, record_every < 1, or divergence_factor <= 1.
    TypeError
        If model is not a DEQ.

    Examples
    --------
    >>> import hermite_dual as hd
    >>> from hermite_dual.data import sphere_data
    >>> X, y = sphere_data(8, 5, seed=0)
    >>> run = hd.train(hd.DEQ(5, 200, "tanh", seed=1), X, y, steps=30, progress=False)
    >>> run.status, bool(run.loss[-1] < run.loss[0])
    ('completed', True)
    >>> bool(all(run.loss <= run.envelope * (1 + 1e-12)))   # Ling/Truong envelope holds
    True
    """
    if not isinstance(model, DEQ):
        raise TypeError(f"model must be a DEQ, got {type(model).__name__}")
    Xr = _as_data(X, model.d, check_parallel=True)
    n = Xr.shape[0]
    yv = validate.targets(y, n)
    steps = validate.positive_integer(steps, "steps")
    record_every = validate.positive_integer(record_every, "record_every")
    if lr is not None:
        lr = validate.positive(lr, "lr")
    tol = model.tol if tol is None else validate.positive(tol, "tol")
    adjoint_tol = validate.positive(adjoint_tol, "adjoint_tol")
    max_iter = model.max_iter if max_iter is None else validate.positive_integer(max_iter, "max_iter")
    divergence_factor = validate.real(divergence_factor, "divergence_factor")
    if divergence_factor <= 1:
        raise ValueError(f"divergence_factor must exceed 1, got {divergence_factor!r}")

    _check_equilibrium(equilibrium, model, Xr)
    if out is not None:
        out = check_output_path(out)        # a bad path fails before any work
    m, L = model.width, model.lipschitz
    XT = np.ascontiguousarray(Xr.T)
    XXt = Xr @ Xr.T
    sigma, dsigma = model._sigma, model._dsigma
    losses, rec_steps, rec_lmin, rec_wnorm = [], [], [], []
    fwd_its, adj_its, secs = [], [], []
    Zext, Bext = _Extrapolator(_EXTRAPOLATION_ORDER), _Extrapolator(_EXTRAPOLATION_ORDER)
    status, message = "completed", ""
    run = None
    bar = _Progress(progress, steps)
    model.spectral_norm(30)                   # warm up the power vector
    v = model._power_vec
    w_est = math.nan
    lr_source = "user"

    def record(t, Z):
        ev = np.linalg.eigvalsh(Z.T @ Z)
        rec_steps.append(t)
        rec_lmin.append(float(ev[0]))
        rec_wnorm.append(w_est)

    t = 0
    Wbuf = None
    t_start = time.perf_counter()
    errstate = np.errstate(over="ignore", invalid="ignore", divide="ignore")
    errstate.__enter__()
    try:
        while True:
            UX = model.U @ XT
            Z0 = Zext.predict((m, n))
            eq, Wv = _forward(sigma, model.W, UX, Z0, tol, max_iter, probe=v, lipschitz=L)
            w_est = float(np.linalg.norm(Wv))
            if t > 0:
                fwd_its.append(eq.iterations)
            if not L * w_est < 1.0:
                status = "contraction_lost"
                message = (f"step {t}: L*||W||_2 >= {L * w_est:.6g} >= 1 (power-iteration "
                           "lower bound); the forward map is no longer certified to be a "
                           f"contraction (lr = {lr if lr is None else format(lr, '.6g')})")
                break
            if not eq.converged:
                status = "forward_failed"
                message = (f"step {t}: the forward fixed point did not converge "
                           f"({eq.iterations} iterations, residual {eq.residual!r}); "
                           f"L*||W||_2 >= {L * model.spectral_norm(50):.6g} (power "
                           f"iteration); lr = {lr if lr is None else format(lr, '.6g')}")
                break
            Z = eq.Z
            r = model.a @ Z - yv
            loss = 0.5 * float(r @ r)
            if t > 0 and (not math.isfinite(loss) or loss > divergence_factor * losses[0]):
                losses.append(loss)
                status = "diverged"
                message = (f"diverged at step {t}: loss {loss:.6g} exceeds "
                           f"{divergence_factor:g} x Phi(0) = {losses[0]:.6g}; lr = {lr:.6g} "
                           f"vs 2/lambda_max(H(0)) = {2.0 / H0_eig[-1]:.6g}")
                break
            losses.append(loss)
            D = dsigma(eq.P)
            B0 = Bext.predict((m, n))
            adj, WTw = _adjoint(model.W, D, model.a, B0, tol if t == 0 else adjoint_tol,
                                max_iter, probe=Wv)
            nv = float(np.linalg.norm(WTw))
            if nv > 0 and math.isfinite(nv):
                v = WTw / nv
                model._power_vec = v
            if t > 0:
                adj_its.append(adj.iterations)
            if not adj.converged:
                status = "adjoint_failed"
                message = (f"step {t}: the adjoint fixed point did not converge "
                           f"({adj.iterations} iterations, residual {adj.residual!r})")
                break
            B = adj.B
            if t == 0:
                G0 = Z.T @ Z
                H0 = G0 + (B.T @ B) * (G0 + XXt)
                H0_eig, Q = np.linalg.eigh(H0)
                H0_coeffs = Q.T @ r
                r0 = r.copy()
                lambda_0 = float(np.linalg.eigvalsh(G0)[0])
                if lr is None:
                    lr = 1.0 / float(H0_eig[-1])
                    lr_source = f"auto: 1/lambda_max(H(0)) = 1/{H0_eig[-1]:.6g}"
            if t % record_every == 0 or t == steps:
                record(t, Z)
            if callback is not None:
                c0 = time.perf_counter()
                try:
                    callback(t, loss)
                except KeyboardInterrupt:
                    raise
                except Exception as exc:  # noqa: BLE001 - the user's code: keep the history
                    status = "callback_failed"
                    message = (f"the callback raised {type(exc).__name__}: {exc} at step {t}; "
                               "the history so far is kept")
                    break
                t_start += time.perf_counter() - c0      # step times exclude the callback
            bar.update(t, loss)
            if t == steps:
                break
            Zext.update(Z)
            Bext.update(B)
            Br = B * (-lr * r)
            if Wbuf is None:
                Wbuf = np.empty_like(model.W)
            np.matmul(Br, Z.T, out=Wbuf)        # -lr grad_W, into a reused buffer
            model.W += Wbuf
            model.U += Br @ Xr
            model.a -= lr * (Z @ r)
            now = time.perf_counter()
            secs.append(now - t_start)
            t_start = now
            t += 1
    except KeyboardInterrupt:
        status = "interrupted"
        message = (f"interrupted after {max(len(losses) - 1, 0)} steps; the history so far "
                   "is kept")
    finally:
        errstate.__exit__(None, None, None)
        bar.close()
    if not losses or "H0_eig" not in locals():
        # nothing beyond (possibly) the first forward solve: keep what there is
        H0_eig = np.full(n, math.nan)
        H0_coeffs = np.zeros(n)
        r0 = np.full(n, math.nan)
        lambda_0 = math.nan
        lr = math.nan if lr is None else lr
    run = TrainingRun(
        equilibrium=equilibrium, activation=model.act, width=m, sigma_w2=model.sigma_w2, X=Xr, y=yv, lr=float(lr),
        lr_source=lr_source, lipschitz=float(L), loss=np.asarray(losses, dtype=np.float64),
        record_steps=np.asarray(rec_steps, dtype=int),
        lambda_min=np.asarray(rec_lmin, dtype=np.float64),
        W_norm=np.asarray(rec_wnorm, dtype=np.float64), lambda_0=lambda_0,
        H0_eigvals=np.asarray(H0_eig, dtype=np.float64),
        H0_coeffs=np.asarray(H0_coeffs, dtype=np.float64), r0=np.asarray(r0),
        status=status, message=message, steps_requested=steps,
        forward_iterations=np.asarray(fwd_its, dtype=int),
        adjoint_iterations=np.asarray(adj_its, dtype=int),
        step_seconds=np.asarray(secs, dtype=np.float64), forward_tol=tol,
        adjoint_tol=adjoint_tol)
    if status not in ("completed", "interrupted"):
        warnings.warn(message, HermiteDualWarning, stacklevel=2)
    if out is not None:
        run.save(out)
    return run


def width_sweep(X, y, act, widths, *, sigma_w2=0.08, seed=0, steps=200, lr=None, **kwargs):
    """Train one DEQ per width on the same data (same seed for every width).

    Parameters
    ----------
    X, y : data, as for :func:`train`.
    act : str or Activation
    widths : sequence of int
    sigma_w2, seed : model parameters (see :class:`DEQ`).
    steps, lr, **kwargs : passed to :func:`train` (``lr=None`` picks each width's own
        safe step).

    Returns
    -------
    list of TrainingRun
        In the order of ``widths``.

    Raises
    ------
    ValueError
        For an empty ``widths`` or a non-positive width.

    Examples
    --------
    >>> import hermite_dual as hd
    >>> from hermite_dual.data import sphere_data
    >>> X, y = sphere_data(5, 3, seed=0)
    >>> runs = hd.width_sweep(X, y, "sin", [20, 40], steps=5, progress=False)
    >>> [r.width for r in runs]
    [20, 40]
    """
    widths = list(widths)
    if not widths:
        raise ValueError(f"widths must be a non-empty sequence, got {widths!r}")
    for w in widths:
        validate.positive_integer(w, "width")
    Xr = _as_data(X)
    runs = []
    for w in widths:
        model = DEQ(Xr.shape[1], w, act, sigma_w2=sigma_w2, seed=seed)
        runs.append(train(model, Xr, y, steps=steps, lr=lr, **kwargs))
    return runs
