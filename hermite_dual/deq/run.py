""":class:`TrainingRun`: the history of one gradient-descent run, its predictions beside it.

Observed loss, ``lambda_min(G)``, ``||W||``, the Ling/Truong envelopes and the linearized
(lazy-regime) curve at finite and infinite width (MATH §6); saved as JSON and plotted.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from .._json import to_jsonable
from .._util.io import atomic_write
from ..activations import Activation, activation, builtin_names
from .rates import _fit_rate, _spectral_curve

_FORMAT_VERSION = 1

def _nonfinite_back(data, key):
    flag = data.get(f"{key}_nonfinite")
    return {"inf": math.inf, "-inf": -math.inf}.get(flag, math.nan)


def _saved_activation(data):
    """The Activation of a saved run, rebuilt through the safe parser (never eval)."""
    name = data["activation"]
    text = data.get("activation_expr")
    if text is None or (name in builtin_names() and text == sp.sstr(activation(name).expr)):
        return activation(name)
    parsed = activation(text)
    return Activation(name=name, expr=parsed.expr, kinks=parsed.kinks)

@dataclass
class TrainingRun:
    """Observed gradient-descent history of a DEQ and the predictions beside it (MATH §6).

    Attributes
    ----------
    loss : ndarray
        ``Phi(tau)`` for tau = 0, 1, ..., one entry per completed forward solve.
    record_steps, lambda_min, W_norm : ndarray
        Every ``record_every`` steps: the step, ``lambda_min(G(tau))`` (dense eigensolver)
        and a warm-started power-iteration estimate of ``||W(tau)||_2`` (a lower bound).
    lr, lr_source : float, str
        The step size and how it was chosen.
    lambda_0 : float
        ``lambda_min(G(0))``.
    H0_eigvals, H0_coeffs : ndarray
        Eigenvalues of H(0) and the coordinates of r(0) in its eigenbasis.
    status, message : str
        ``"completed"``, ``"diverged"``, ``"contraction_lost"``, ``"forward_failed"``,
        ``"adjoint_failed"``, ``"callback_failed"`` or ``"interrupted"``, and a sentence
        saying what happened.
    forward_iterations, adjoint_iterations, step_seconds : ndarray
        Per gradient step: solver iterations and wall time.
    population : dict or None
        Filled on first use of a population prediction (:attr:`lambda_star`,
        :attr:`population_envelope`, :attr:`linearized_infinite`) from
        :func:`hermite_dual.population_gram`: ``lambda_star`` with ``lambda_star_error``
        and the Hermite ``lambda_star_certificate``, ``K_error_bound``, and the spectrum
        of Theta with the coordinates of r(0).  Those properties raise ``RuntimeError``
        when the population layer is unavailable or did not converge.

    Notes
    -----
    Errors of what is shown: ``loss`` is exact up to the forward tolerance (relative
    max-norm ``forward_tol`` on Z); ``lambda_min`` is a dense eigensolver value (backward
    error ~ n eps ||G||); ``W_norm`` is a power-iteration *lower bound*;
    ``observed_rate_stderr`` is the regression's standard error (an estimate);
    population quantities carry the bounds reported by ``population_gram``.
    """

    activation: Activation
    width: int
    sigma_w2: float
    X: np.ndarray
    y: np.ndarray
    lr: float
    lr_source: str
    lipschitz: float
    loss: np.ndarray
    record_steps: np.ndarray
    lambda_min: np.ndarray
    W_norm: np.ndarray
    lambda_0: float
    H0_eigvals: np.ndarray
    H0_coeffs: np.ndarray
    r0: np.ndarray
    status: str = "completed"
    message: str = ""
    steps_requested: int = 0
    forward_iterations: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    adjoint_iterations: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    step_seconds: np.ndarray = field(default_factory=lambda: np.zeros(0))
    forward_tol: float = 1e-10
    adjoint_tol: float = 1e-8
    population: dict | None = None
    equilibrium: object = field(default=None, repr=False, compare=False)

    # -- basic derived quantities -------------------------------------------
    @property
    def steps(self):
        """Number of gradient steps whose resulting loss was recorded."""
        return max(len(self.loss) - 1, 0)

    @property
    def tau(self):
        """Step indices 0..steps of :attr:`loss`."""
        return np.arange(len(self.loss))

    @property
    def phi0(self):
        return float(self.loss[0]) if len(self.loss) else math.nan

    @property
    def envelope_applies(self):
        """True when ``eta < 2 / lambda_0`` (the theorem's step-size hypothesis)."""
        return bool(self.lr * self.lambda_0 < 2.0)

    @property
    def envelope(self):
        """Ling/Truong bound ``(1 - eta lambda_0 / 2)^tau Phi(0)``; NaN if eta >= 2/lambda_0."""
        if not self.envelope_applies:
            return np.full(len(self.loss), math.nan)
        return (1.0 - self.lr * self.lambda_0 / 2.0) ** self.tau * self.phi0

    @property
    def linearized(self):
        """Linearized curve ``(1/2) ||(I - eta H(0))^tau r(0)||^2``."""
        return _spectral_curve(self.H0_eigvals, self.H0_coeffs, self.lr, self.tau)

    # -- population (infinite-width) predictions ----------------------------
    def _population(self):
        if self.population is None:
            from ..equilibrium import population_gram
            try:
                ek = self.equilibrium if self.equilibrium is not None else population_gram(
                    self.X, self.activation, self.sigma_w2, raise_on_failure=False)
            except ValueError as exc:       # e.g. the kernel map is not a contraction
                raise RuntimeError(f"population predictions unavailable: {exc}") from None
            if not ek.converged:
                raise RuntimeError(f"population_gram did not converge (residual "
                                   f"{ek.residual!r}); population predictions unavailable")
            theta_eigs, Q = np.linalg.eigh(np.asarray(ek.Theta, dtype=np.float64))
            self.population = {
                "lambda_star": float(ek.lambda_min),
                "lambda_star_error": float(ek.lambda_min_error),
                "lambda_star_certificate": float(ek.certificate),
                "theta_eigvals": theta_eigs,
                "theta_coeffs": Q.T @ self.r0,
                "K_error_bound": float(ek.error_bound),
            }
        return self.population

    @property
    def lambda_star(self):
        """``lambda_min(K)`` of the population Gram matrix (via ``population_gram``)."""
        return self._population()["lambda_star"]

    @property
    def population_envelope(self):
        """``(1 - eta m lambda_* / 4)^tau Phi(0)``."""
        base = 1.0 - self.lr * self.width * self.lambda_star / 4.0
        return base ** self.tau * self.phi0

    @property
    def linearized_infinite(self):
        """Infinite-width linearized curve ``(1/2) ||(I - eta m Theta)^tau r(0)||^2``."""
        pop = self._population()
        return _spectral_curve(self.width * pop["theta_eigvals"], pop["theta_coeffs"],
                               self.lr, self.tau)

    # -- rates ----------------------------------------------------------------
    def fit_window(self):
        """The steps ``[start, stop)`` over which rates are fitted: the second half."""
        stop = len(self.loss)
        return stop // 2, stop

    @property
    def observed_rate(self):
        """Per-step loss factor fitted (least squares) to log Phi over :meth:`fit_window`."""
        return _fit_rate(self.loss, *self.fit_window())[0]

    @property
    def observed_rate_stderr(self):
        """Standard error of :attr:`observed_rate` from the regression (an estimate)."""
        return _fit_rate(self.loss, *self.fit_window())[1]

    @property
    def predicted_rate(self):
        """Predicted per-step loss factors, by prediction.

        ``theorem`` = 1 - eta lambda_0/2; ``population`` = 1 - eta m lambda_*/4;
        ``linearized`` and ``infinite_width`` are the fitted factors of the linearized curves
        over the same window as the observed rate; ``linearized_asymptotic`` =
        (1 - eta lambda_min(H(0)))^2.  Population entries are NaN when unavailable.
        """
        start, stop = self.fit_window()
        out = {
            "theorem": 1.0 - self.lr * self.lambda_0 / 2.0,
            "linearized": _fit_rate(self.linearized, start, stop)[0],
            "linearized_asymptotic": (1.0 - self.lr * float(np.min(self.H0_eigvals))) ** 2,
        }
        try:
            out["population"] = 1.0 - self.lr * self.width * self.lambda_star / 4.0
            out["infinite_width"] = _fit_rate(self.linearized_infinite, start, stop)[0]
        except RuntimeError:
            out["population"] = math.nan
            out["infinite_width"] = math.nan
        return out

    def summary(self):
        """Observed against predicted rates, as a JSON-able dict.

        ``ratios[k] = log(observed_rate) / log(predicted_rate[k])``: the observed decay
        exponent over the predicted one (> 1 means faster than predicted).
        """
        obs = self.observed_rate
        pred = self.predicted_rate
        ratios = {}
        for k, v in pred.items():
            ok = 0 < v < 1 and 0 < obs < 1
            ratios[k] = math.log(obs) / math.log(v) if ok else math.nan
        out = {
            "activation": self.activation.name,
            "width": self.width,
            "n": int(self.X.shape[0]),
            "d": int(self.X.shape[1]),
            "sigma_w2": self.sigma_w2,
            "lr": self.lr,
            "lr_source": self.lr_source,
            "status": self.status,
            "message": self.message,
            "steps": self.steps,
            "loss_initial": self.phi0,
            "loss_final": float(self.loss[-1]) if len(self.loss) else math.nan,
            "lambda_0": self.lambda_0,
            "lambda_min_H0": float(np.min(self.H0_eigvals)),
            "lambda_max_H0": float(np.max(self.H0_eigvals)),
            "envelope_applies": self.envelope_applies,
            "observed_rate": obs,
            "observed_rate_stderr": self.observed_rate_stderr,
            "fit_window": list(self.fit_window()),
            "predicted_rate": pred,
            "ratios": ratios,
            "W_norm_final": float(self.W_norm[-1]) if len(self.W_norm) else math.nan,
        }
        try:
            out["lambda_star"] = self.lambda_star
            for key in ("lambda_star_error", "lambda_star_certificate", "K_error_bound"):
                out[key] = self.population[key]
        except RuntimeError as exc:
            out["lambda_star"] = math.nan
            out["population_note"] = str(exc)
        return out

    @property
    def failed(self):
        """True when the run ended in a failure (diverged, contraction lost, a solver failed).

        An interrupted run is not a failure: its history up to the stop is sound.
        """
        return self.status not in ("completed", "interrupted")

    def __str__(self):
        s = self.summary()
        lines = [f"DEQ {s['activation']} m={s['width']} n={s['n']} d={s['d']} "
                 f"sigma_w2={s['sigma_w2']}: {s['status']} after {s['steps']} steps "
                 f"(lr={s['lr']:.4g}, {s['lr_source']})",
                 f"  loss {s['loss_initial']:.4g} -> {s['loss_final']:.4g}",
                 f"  observed per-step factor {s['observed_rate']:.6g} "
                 f"+- {s['observed_rate_stderr']:.2g}"]
        if self.failed:
            # predictions beside a failed run would read as results: none are printed
            lines.append("  no predictions: the run did not complete")
        else:
            for k, v in s["predicted_rate"].items():
                lines.append(f"  {k:>22}: {v:.6g}  (exponent ratio observed/predicted "
                             f"{s['ratios'][k]:.3g})")
        if s["message"]:
            lines.append(f"  {s['message']}")
        return "\n".join(lines)

    # -- persistence ----------------------------------------------------------
    _ARRAYS = ("X", "y", "loss", "record_steps", "lambda_min", "W_norm", "H0_eigvals",
               "H0_coeffs", "r0", "forward_iterations", "adjoint_iterations", "step_seconds")
    _SCALARS = ("activation", "width", "sigma_w2", "lr", "lr_source", "lipschitz",
                "lambda_0", "status", "message", "steps_requested", "forward_tol",
                "adjoint_tol")

    def to_dict(self):
        """Everything needed to rebuild the run (the activation by name and expression), JSON-able (arrays as lists)."""
        out = {"format": "hermite_dual.TrainingRun", "version": _FORMAT_VERSION}
        for k in self._SCALARS:
            out[k] = getattr(self, k)
        out["activation"] = self.activation.name
        out["activation_expr"] = sp.sstr(self.activation.expr)
        for k in self._ARRAYS:
            out[k] = np.asarray(getattr(self, k)).tolist()
        if self.population is not None:
            out["population"] = {k: (np.asarray(v).tolist() if isinstance(v, np.ndarray)
                                     else v) for k, v in self.population.items()}
        return out

    @classmethod
    def from_dict(cls, data):
        """Inverse of :meth:`to_dict`."""
        if data.get("format") != "hermite_dual.TrainingRun":
            raise ValueError(f"not a saved TrainingRun (format {data.get('format')!r})")
        kw = {k: data[k] for k in cls._SCALARS}
        for k in ("sigma_w2", "lr", "lipschitz", "lambda_0", "forward_tol", "adjoint_tol"):
            if kw[k] is None:                  # strict JSON stores NaN and inf as null
                kw[k] = _nonfinite_back(data, k)
        kw["activation"] = _saved_activation(data)
        for k in cls._ARRAYS:
            kw[k] = np.asarray(data[k], dtype=int if k.endswith("iterations")
                               or k == "record_steps" else np.float64)
        pop = data.get("population")
        if pop is not None:
            pop = {k: (np.asarray(v, dtype=np.float64) if isinstance(v, list)
                       else (_nonfinite_back(pop, k) if v is None else v))
                   for k, v in pop.items() if not k.endswith("_nonfinite")}
        kw["population"] = pop
        if kw["X"].ndim != 2:
            kw["X"] = kw["X"].reshape(0, 0)
        return cls(**kw)

    def save(self, path):
        """Write the run atomically and durably (``hermite_dual._util.io.atomic_write``).

        ``.npz`` paths get a compressed numpy archive; anything else gets strict JSON
        (non-finite numbers as ``null`` plus a ``<key>_nonfinite`` flag).  Returns the path.
        """
        path = os.fspath(path)
        text = json.dumps(to_jsonable(self.to_dict()), allow_nan=False).encode()
        if path.endswith(".npz"):
            import io
            buf = io.BytesIO()
            np.savez_compressed(buf, payload=np.frombuffer(text, dtype=np.uint8))
            text = buf.getvalue()
        atomic_write(path, text)
        return path

    @classmethod
    def load(cls, path):
        """Read a run written by :meth:`save`.

        Examples
        --------
        >>> import os, tempfile, numpy as np, hermite_dual as hd
        >>> from hermite_dual.data import sphere_data
        >>> X, y = sphere_data(4, 3, seed=0)
        >>> run = hd.train(hd.DEQ(3, 30, "tanh", seed=0), X, y, steps=3, progress=False)
        >>> path = run.save(os.path.join(tempfile.mkdtemp(), "run.json"))
        >>> bool(np.array_equal(hd.TrainingRun.load(path).loss, run.loss))
        True
        """
        path = os.fspath(path)
        if path.endswith(".npz"):
            with np.load(path) as z:
                data = json.loads(bytes(z["payload"]).decode())
        else:
            with open(path, encoding="utf-8") as fh:
                data = json.load(fh)
        return cls.from_dict(data)

    def plot(self, path):
        """Figure: log-loss against step with the predictions, and ``||W||_2`` over training.

        The one training figure, :func:`hermite_dual.plotting.plot_training`; returns the path.
        """
        from ..plotting import plot_training
        return plot_training(self, path)


def describe_run(run):
    """JSON-able description of a :class:`TrainingRun` for the command line.

    The :meth:`TrainingRun.summary` plus the curves (lists): ``tau``, ``loss``,
    ``envelope``, ``linearized``, and, when available, ``population_envelope`` and
    ``linearized_infinite``; ``record_steps``, ``lambda_min``, ``W_norm``.
    NaN is mapped to ``None`` and infinities to ``"inf"``/``"-inf"`` (``_json.to_jsonable``), so the result is strict JSON.

    Examples
    --------
    >>> import json, hermite_dual as hd
    >>> from hermite_dual.data import sphere_data
    >>> from hermite_dual.deq import describe_run
    >>> X, y = sphere_data(4, 3, seed=0)
    >>> run = hd.train(hd.DEQ(3, 30, "tanh", seed=0), X, y, steps=4, progress=False)
    >>> d = describe_run(run)
    >>> len(d["curves"]["loss"]), d["summary"]["status"]
    (5, 'completed')
    >>> _ = json.dumps(d, allow_nan=False)
    """
    curves = {"tau": run.tau.tolist(), "loss": run.loss.tolist(),
              "envelope": run.envelope.tolist(), "linearized": run.linearized.tolist(),
              "record_steps": run.record_steps.tolist(), "lambda_min": run.lambda_min.tolist(),
              "W_norm": run.W_norm.tolist()}
    try:
        curves["population_envelope"] = run.population_envelope.tolist()
        curves["linearized_infinite"] = run.linearized_infinite.tolist()
    except RuntimeError:
        pass
    return to_jsonable({"summary": run.summary(), "curves": curves})
