"""Tests of the finite-width DEQ and its trainer (hermite_dual/deq.py, MATH §4-§6).

References used here are independent of the code under test: central finite differences
(gradients, tangent Gram), a dense linear solve (identity activation), a population Gram
matrix computed by 2-d Gauss-Hermite quadrature (tanh) or the closed-form sine kernel, and
``numpy.linalg.norm(W, 2)`` (spectral norm).
"""

import json
import math
import os
import warnings

import numpy as np
import pytest

import hermite_dual as hd
from hermite_dual._warnings import HermiteDualWarning
from hermite_dual.deq import (DEQ, TrainingRun, describe_run, digits_data,
                              lipschitz_constant, sphere_data, train, width_sweep)
from hermite_dual.deq.rates import _fit_rate

# ---------------------------------------------------------------------------
# references
# ---------------------------------------------------------------------------

#: relative error allowed between adjoint gradients and central differences
GRAD_RTOL = 1e-6


def reference_population_K(X, act, sigma_w2, nodes=160, tol=1e-13):
    """K of MATH §5 by fixed-point iteration, each entry a 2-d Gauss-Hermite integral.

    Independent of hermite_dual.equilibrium: ``K_ij = E[sigma(u) sigma(v)]`` with
    ``(u, v) ~ N(0, [[S_ii, S_ij], [S_ij, S_jj]])`` written as
    ``u = sqrt(S_ii) z1``, ``v = sqrt(S_jj) (rho z1 + sqrt(1 - rho^2) z2)``.
    """
    f = hd.activation(act)
    z, w = np.polynomial.hermite_e.hermegauss(nodes)
    w = w / w.sum()
    n, d = X.shape
    XX = 2.0 / d * X @ X.T
    iu, ju = np.triu_indices(n)
    K = np.zeros((n, n))
    for _ in range(1000):
        S = 2.0 * sigma_w2 * K + XX
        q = np.diag(S)
        rho = np.clip(S / np.sqrt(np.outer(q, q)), -1.0, 1.0)[iu, ju]
        u = np.sqrt(q[iu])[:, None, None] * z[None, :, None]
        v = np.sqrt(q[ju])[:, None, None] * (rho[:, None, None] * z[None, :, None]
                                              + np.sqrt(1.0 - rho ** 2)[:, None, None]
                                              * z[None, None, :])
        vals = np.einsum("pab,a,b->p", f(u) * f(v), w, w)
        Knew = np.zeros((n, n))
        Knew[iu, ju] = vals
        Knew[ju, iu] = vals
        if np.max(np.abs(Knew - K)) < tol:
            return Knew
        K = Knew
    raise RuntimeError("reference K did not converge")


def sine_population_K(X, sigma_w2, tol=1e-14):
    """K for sigma = sin by the closed form K = exp(-(q1+q2)/2) sinh(c) (MATH §3)."""
    n, d = X.shape
    K = np.zeros((n, n))
    for _ in range(1000):
        S = 2.0 * sigma_w2 * K + 2.0 / d * X @ X.T
        q = np.diag(S)
        Knew = np.exp(-(q[:, None] + q[None, :]) / 2.0) * np.sinh(S)
        if np.max(np.abs(Knew - K)) < tol:
            return Knew
        K = Knew
    raise RuntimeError("sine K did not converge")


def finite_difference_gradient(model, X, y, h=1e-5):
    out = {}
    for name in ("W", "U", "a"):
        P = getattr(model, name)
        g = np.zeros_like(P)
        for idx in np.ndindex(P.shape):
            old = P[idx]
            P[idx] = old + h
            fp = model.loss(X, y)
            P[idx] = old - h
            fm = model.loss(X, y)
            P[idx] = old
            g[idx] = (fp - fm) / (2 * h)
        out[name] = g
    return out


# ---------------------------------------------------------------------------
# the model: initialization, forward, adjoint
# ---------------------------------------------------------------------------

def test_initialization_variances_match_the_papers():
    m, d, s = 1500, 7, 0.05
    model = DEQ(d, m, "tanh", sigma_w2=s, seed=11)
    # sample variances within ~5 standard errors of 2 s/m, 2/d, 1/m
    assert abs(model.W.var() * m / (2 * s) - 1) < 5 * math.sqrt(2 / m ** 2)
    assert abs(model.U.var() * d / 2 - 1) < 5 * math.sqrt(2 / (m * d))
    assert abs(model.a.var() * m - 1) < 5 * math.sqrt(2 / m)
    again = DEQ(d, m, "tanh", sigma_w2=s, seed=11)
    assert np.array_equal(again.W, model.W) and np.array_equal(again.a, model.a)


def test_forward_matches_linear_solve_for_identity():
    X, _ = sphere_data(5, 4, seed=3)
    model = DEQ(4, 40, "identity", sigma_w2=0.1, seed=0, tol=1e-14)
    Z = np.linalg.solve(np.eye(40) - model.W, model.U @ X.T)
    eq = model.equilibrium(X)
    assert eq.converged and eq.residual <= 1e-14
    np.testing.assert_allclose(eq.Z, Z, rtol=0, atol=1e-12)
    np.testing.assert_allclose(model.features(X), Z.T, rtol=0, atol=1e-12)


@pytest.mark.parametrize("act", ["tanh", "sin", "gelu"])
def test_gradients_match_central_differences(act):
    X, y = sphere_data(4, 3, seed=0)
    model = DEQ(3, 6, act, sigma_w2=0.08, seed=2, tol=1e-14, max_iter=5000)
    _, grad = model.gradient(X, y)
    fd = finite_difference_gradient(model, X, y)
    for name in ("W", "U", "a"):
        err = np.linalg.norm(grad[name] - fd[name]) / np.linalg.norm(fd[name])
        assert err <= GRAD_RTOL, (name, err)


def test_tangent_gram_matches_finite_difference_jacobian():
    X, _ = sphere_data(4, 3, seed=5)
    model = DEQ(3, 5, "tanh", seed=1, tol=1e-14, max_iter=5000)
    h = 1e-6
    rows = []
    for name in ("W", "U", "a"):
        P = getattr(model, name)
        for idx in np.ndindex(P.shape):
            old = P[idx]
            P[idx] = old + h
            fp = model.predict(X)
            P[idx] = old - h
            fm = model.predict(X)
            P[idx] = old
            rows.append((fp - fm) / (2 * h))
    J = np.array(rows)                 # (parameters, n)
    H = model.tangent_gram(X)
    np.testing.assert_allclose(H, J.T @ J, rtol=1e-7, atol=1e-9)
    assert np.linalg.eigvalsh(H - model.gram(X)).min() > -1e-10   # H >= G


def test_spectral_norm_estimate_is_a_tight_lower_bound():
    model = DEQ(3, 80, "tanh", seed=4)
    exact = np.linalg.norm(model.W, 2)
    est = model.spectral_norm(2000)
    assert est <= exact * (1 + 1e-12)
    assert est >= exact * (1 - 1e-3)
    # at initialization ||W||_2 is near 2 sqrt(2) sigma_w (MATH §4)
    assert abs(exact / (2 * math.sqrt(2 * 0.08)) - 1) < 0.25


def test_lipschitz_constant_of_builtins():
    for name, L in [("tanh", 1.0), ("sin", 1.0), ("sigmoid", 0.25), ("relu", 1.0),
                    ("atan", 1.0)]:
        value, _ = lipschitz_constant(name)
        assert abs(value - L) < 1e-9, name
    assert lipschitz_constant("exp")[0] == math.inf


# ---------------------------------------------------------------------------
# G(0)/m -> K  (MATH §5: fluctuations of order m^(-1/2))
# ---------------------------------------------------------------------------

def _population_K(X, act):
    """K from population_gram (checked against the independent references elsewhere)."""
    from hermite_dual.equilibrium import population_gram
    ek = population_gram(X, act, 0.08)
    assert ek.converged
    return ek.K


def _gram_errors(act, widths, seeds, n=20, d=10):
    X, _ = sphere_data(n, d, seed=0)
    K = _population_K(X, act)
    errs = []
    for m in widths:
        e = [np.max(np.abs(DEQ(d, m, act, seed=s).gram(X) / m - K)) for s in seeds]
        errs.append(float(np.mean(e)))
    return np.array(errs), X, K


def _check_half_power(widths, errs):
    assert np.all(np.diff(errs) < 0), errs
    slope = np.polyfit(np.log(widths), np.log(errs), 1)[0]
    assert -0.8 < slope < -0.3, (slope, errs)


def test_reference_K_quadrature_matches_sine_closed_form():
    X, _ = sphere_data(8, 5, seed=1)
    np.testing.assert_allclose(reference_population_K(X, "sin", 0.08),
                               sine_population_K(X, 0.08), rtol=0, atol=1e-12)


@pytest.mark.parametrize("act", ["tanh", "sin"])
def test_gram_over_width_converges_to_population_K(act):
    widths = np.array([100, 400, 1600])
    errs, _, _ = _gram_errors(act, widths, seeds=(0, 1))
    _check_half_power(widths, errs)


@pytest.mark.slow
@pytest.mark.parametrize("act", ["tanh", "sin"])
def test_gram_over_width_converges_to_population_K_large(act):
    widths = np.array([250, 1000, 4000])
    errs, X, K = _gram_errors(act, widths, seeds=(0, 1, 2))
    _check_half_power(widths, errs)
    # sqrt(m) * error stays of order one (MATH §5: fluctuations of order m^(-1/2))
    assert np.all((0.3 < errs * np.sqrt(widths)) & (errs * np.sqrt(widths) < 5)), errs


@pytest.mark.parametrize("act", ["tanh", "sin"])
def test_population_gram_agrees_with_independent_reference(act):
    from hermite_dual.equilibrium import population_gram
    X, _ = sphere_data(12, 6, seed=0)
    K = sine_population_K(X, 0.08) if act == "sin" else reference_population_K(X, act, 0.08)
    np.testing.assert_allclose(population_gram(X, act, 0.08).K, K, rtol=0, atol=1e-8)


# ---------------------------------------------------------------------------
# training: envelopes, linearized curve, divergence, interruption
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("act, lr_scale", [("tanh", None), ("sin", None), ("gelu", None),
                                           ("relu", None), ("tanh", 1.8)])
def test_observed_loss_stays_below_theorem_envelope(act, lr_scale):
    X, y = sphere_data(10, 6, seed=1)
    model = DEQ(6, 200, act, seed=2)
    lr = None
    if lr_scale is not None:
        lr = lr_scale / np.linalg.eigvalsh(model.copy().tangent_gram(X))[-1]
    run = train(model, X, y, lr=lr, steps=40, progress=False)
    assert run.status == "completed"
    assert run.lr * run.lambda_0 < 2          # the theorem's hypothesis eta < 2/lambda_0
    assert run.envelope_applies
    assert np.all(run.loss <= run.envelope * (1 + 1e-12))
    assert run.loss[-1] < 0.5 * run.loss[0]


def test_auto_lr_is_inverse_top_eigenvalue_of_H0():
    X, y = sphere_data(6, 4, seed=2)
    model = DEQ(4, 120, "tanh", seed=0, tol=1e-13)
    H = model.copy().tangent_gram(X)
    run = train(model, X, y, steps=2, progress=False)
    assert run.lr == pytest.approx(1 / np.linalg.eigvalsh(H)[-1], rel=1e-9)
    assert "auto" in run.lr_source
    np.testing.assert_allclose(np.sort(run.H0_eigvals), np.linalg.eigvalsh(H), rtol=1e-9)
    assert run.linearized[0] == pytest.approx(run.loss[0], rel=1e-12)


def _linearized_gap(width, steps=50):
    X, y = sphere_data(10, 8, seed=0)
    run = train(DEQ(8, width, "tanh", seed=0), X, y, steps=steps, progress=False)
    assert run.status == "completed" and run.steps == steps
    assert run.loss[-1] < 0.1 * run.loss[0]     # the run actually trains
    return float(np.max(np.abs(run.linearized - run.loss) / run.loss))


@pytest.mark.slow
def test_linearized_curve_tracks_observed_loss_at_width_2000():
    assert _linearized_gap(2000) <= 0.10


def test_linearized_curve_tracks_observed_loss_at_width_600():
    # cheaper default-run variant of the m = 2000 check (the gap shrinks with m)
    assert _linearized_gap(600) <= 0.15


def test_large_step_diverges_with_message_and_keeps_history():
    X, y = sphere_data(8, 5, seed=0)
    model = DEQ(5, 200, "tanh", seed=3)
    lam_max = np.linalg.eigvalsh(model.copy().tangent_gram(X))[-1]
    with pytest.warns(HermiteDualWarning, match="diverged|contraction|did not converge"):
        run = train(model, X, y, lr=6.0 / lam_max, steps=200, progress=False)
    # the loss blows up, or W leaves the contraction region first (seen by the power
    # iteration, or by the forward iteration failing to converge)
    assert run.status in ("diverged", "contraction_lost", "forward_failed"), run.message
    assert "lr = " in run.message
    assert 2 < len(run.loss) < 200
    assert np.all(np.isfinite(run.loss[:-1]))
    assert run.loss.max() > 2 * run.loss[0]            # it did go up before stopping
    assert run.summary()["status"] == run.status


def test_large_step_loss_blow_up_is_reported_as_diverged():
    X, y = sphere_data(8, 5, seed=0)
    model = DEQ(5, 200, "tanh", sigma_w2=0.01, seed=3)   # far from the contraction limit
    lam_max = np.linalg.eigvalsh(model.copy().tangent_gram(X))[-1]
    with pytest.warns(HermiteDualWarning, match="diverged"):
        run = train(model, X, y, lr=3.0 / lam_max, steps=200, progress=False,
                    divergence_factor=10.0)
    assert run.status == "diverged" and "lambda_max(H(0))" in run.message
    assert run.loss[-1] > 10 * run.loss[0]
    assert np.all(run.loss[:-1] <= 10 * run.loss[0])


def test_contraction_lost_during_training_stops_and_keeps_history():
    X, y = sphere_data(6, 4, seed=0)
    model = DEQ(4, 100, "tanh", seed=0)

    def push_W(step, loss):
        if step == 3:   # simulate W drifting past the contraction limit
            model.W *= 1.05 / np.linalg.norm(model.W, 2)

    with pytest.warns(HermiteDualWarning, match="contraction"):
        run = train(model, X, y, steps=50, progress=False, callback=push_W)
    assert run.status == "contraction_lost"
    assert len(run.loss) == 4          # steps 0..3 kept; step 4 refused
    assert "L*||W||_2" in run.message


def test_contraction_lost_at_start():
    X, y = sphere_data(6, 4, seed=0)
    model = DEQ(4, 50, "sin", seed=0)
    model.W *= 1.2 / np.linalg.norm(model.W, 2)
    with pytest.warns(HermiteDualWarning):
        run = train(model, X, y, steps=10, progress=False)
    assert run.status in ("contraction_lost", "forward_failed")
    assert run.steps <= 0
    # a run with no step still summarizes and serializes (NaN -> null)
    assert run.summary()["status"] == run.status
    json.dumps(describe_run(run), allow_nan=False)


def test_interrupted_run_returns_and_saves_history(tmp_path):
    X, y = sphere_data(6, 4, seed=0)

    def interrupt(step, loss):
        if step == 5:
            raise KeyboardInterrupt

    path = tmp_path / "run.json"
    run = train(DEQ(4, 60, "tanh", seed=0), X, y, steps=100, progress=False,
                callback=interrupt, out=path)
    assert run.status == "interrupted"
    assert len(run.loss) == 6 and np.all(np.isfinite(run.loss))
    back = TrainingRun.load(path)
    assert back.status == "interrupted"
    np.testing.assert_array_equal(back.loss, run.loss)


# ---------------------------------------------------------------------------
# rates, summaries, persistence, plotting, sweeps, data
# ---------------------------------------------------------------------------

def test_warm_start_extrapolation_is_exact_on_polynomials_and_adapts():
    from hermite_dual.deq.training import _Extrapolator
    rng = np.random.default_rng(0)
    coef = rng.standard_normal((4, 16, 3))             # a cubic in t, array-valued
    path = [sum(c * t ** k for k, c in enumerate(coef)) for t in range(12)]
    ext = _Extrapolator(5)
    for t in range(8):
        ext.update(path[t])
    np.testing.assert_allclose(ext.predict(path[0].shape), path[8], rtol=1e-10, atol=1e-9)
    # an alternating sequence (a mode with 1 - eta mu < 0) drives the order back down
    alt = _Extrapolator(5)
    for t in range(10):
        alt.update(np.full((16, 3), (-1.0) ** t))
    assert alt.order == 0
    np.testing.assert_array_equal(_Extrapolator().predict((2, 2)), np.zeros((2, 2)))


def test_progress_line_only_on_a_terminal(monkeypatch):
    import io

    class Tty(io.StringIO):
        def isatty(self):
            return True

    X, y = sphere_data(4, 3, seed=0)
    for stream, expect in ((Tty(), True), (io.StringIO(), False)):
        monkeypatch.setattr("sys.stderr", stream)
        train(DEQ(3, 20, "tanh", seed=0), X, y, steps=3, progress=True)
        assert ("train: step" in stream.getvalue()) is expect
    quiet = Tty()
    monkeypatch.setattr("sys.stderr", quiet)
    train(DEQ(3, 20, "tanh", seed=0), X, y, steps=3, progress=False)
    assert quiet.getvalue() == ""


def test_fit_rate_recovers_a_geometric_factor():
    tau = np.arange(40)
    rate, se = _fit_rate(3.0 * 0.87 ** tau, 0, 40)
    assert rate == pytest.approx(0.87, rel=1e-12)
    assert se < 1e-12


def test_summary_ratios_and_linearized_asymptotics():
    X, y = sphere_data(8, 5, seed=4)
    run = train(DEQ(5, 300, "tanh", seed=1), X, y, steps=80, progress=False)
    s = run.summary()
    assert 0 < s["observed_rate"] < 1
    pred = s["predicted_rate"]
    # the linearized factors are below the theorem factor (MATH §6: the envelope is loose)
    assert pred["linearized_asymptotic"] <= pred["theorem"]
    assert s["ratios"]["theorem"] == pytest.approx(
        math.log(s["observed_rate"]) / math.log(pred["theorem"]))
    assert s["ratios"]["theorem"] > 1          # observed decays faster than the envelope
    assert "observed" in str(run)


def test_save_load_roundtrip_json_and_npz(tmp_path):
    X, y = sphere_data(5, 3, seed=0)
    run = train(DEQ(3, 40, "sin", seed=0), X, y, steps=12, record_every=5, progress=False)
    for name in ("r.json", "r.npz"):
        path = run.save(tmp_path / name)
        back = TrainingRun.load(path)
        for key in TrainingRun._ARRAYS:
            np.testing.assert_array_equal(getattr(back, key), getattr(run, key))
        assert back.lr == run.lr and back.status == run.status
        np.testing.assert_array_equal(back.linearized, run.linearized)
    assert sorted(os.listdir(tmp_path)) == ["r.json", "r.npz"]    # no temporary leftovers
    assert list(run.record_steps) == [0, 5, 10, 12]


def test_describe_run_is_strict_json_and_plot_writes_png(tmp_path):
    X, y = sphere_data(5, 3, seed=0)
    run = train(DEQ(3, 40, "tanh", seed=0), X, y, steps=8, progress=False)
    d = describe_run(run)
    text = json.dumps(d, allow_nan=False)
    assert json.loads(text)["curves"]["loss"] == pytest.approx(list(run.loss))
    path = run.plot(tmp_path / "run.png")
    with open(path, "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"


def test_width_sweep_trains_each_width():
    X, y = sphere_data(6, 4, seed=0)
    runs = width_sweep(X, y, "tanh", [50, 200], steps=10, progress=False)
    assert [r.width for r in runs] == [50, 200]
    assert all(r.status == "completed" and r.loss[-1] < r.loss[0] for r in runs)


def test_sphere_data_is_on_the_sphere_and_seeded():
    X, y = sphere_data(30, 7, seed=9)
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), math.sqrt(7), rtol=1e-14)
    X2, y2 = sphere_data(30, 7, seed=9)
    assert np.array_equal(X, X2) and np.array_equal(y, y2)
    assert np.all(np.isfinite(y)) and y.std() > 0.1


def test_digits_data_two_classes_on_the_sphere():
    pytest.importorskip("sklearn")
    X, y = digits_data((3, 8), n=60, seed=0)
    assert X.shape == (60, 64)
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 8.0, rtol=1e-12)
    assert set(np.unique(y)) == {-1.0, 1.0}
    run = train(DEQ(64, 200, "tanh", seed=0), X, y, steps=5, progress=False)
    assert run.loss[-1] < run.loss[0]


def test_population_predictions_at_width_1000():
    X, y = sphere_data(10, 8, seed=0)
    run = train(DEQ(8, 1000, "tanh", seed=0), X, y, steps=20, progress=False)
    m = run.width
    # lambda_0 >= m lambda_* / 2 (Ling Thm 2 / Truong Thm 7, with high probability)
    assert run.lambda_0 >= m * run.lambda_star / 2
    assert np.all(run.loss <= run.population_envelope * (1 + 1e-12))
    # H(0)/m -> Theta: the infinite-width curve is close to the finite-width one
    rel = np.abs(run.linearized_infinite - run.linearized) / run.linearized
    assert rel.max() < 0.25, rel.max()
    s = run.summary()
    assert math.isfinite(s["predicted_rate"]["population"])
    assert math.isfinite(s["ratios"]["infinite_width"])


# ---------------------------------------------------------------------------
# bad input: one table
# ---------------------------------------------------------------------------

def _X():
    return sphere_data(4, 3, seed=0)


def _model():
    return DEQ(3, 10, "tanh", seed=0)


_BAD = [
    ("d zero", lambda: DEQ(0, 10, "tanh"), ValueError, "d must be a positive integer"),
    ("width zero", lambda: DEQ(3, 0, "tanh"), ValueError, "width must be a positive"),
    ("width float", lambda: DEQ(3, 2.5, "tanh"), ValueError, "width must be a positive"),
    ("width bool", lambda: DEQ(3, True, "tanh"), ValueError, "width"),
    ("sigma_w2 nan", lambda: DEQ(3, 10, "tanh", sigma_w2=float("nan")), ValueError,
     "sigma_w2 must be finite"),
    ("sigma_w2 negative", lambda: DEQ(3, 10, "tanh", sigma_w2=-0.1), ValueError,
     "sigma_w2 must be >= 0"),
    ("sigma_w2 text", lambda: DEQ(3, 10, "tanh", sigma_w2="big"), ValueError, "real number"),
    ("sigma_w2 beyond 1/(8L^2) tanh", lambda: DEQ(3, 10, "tanh", sigma_w2=0.125), ValueError,
     "beyond the well-posedness limit"),
    ("sigma_w2 beyond 1/(8L^2) sigmoid", lambda: DEQ(3, 10, "sigmoid", sigma_w2=2.5),
     ValueError, "beyond the well-posedness limit"),
    ("unbounded sigma'", lambda: DEQ(3, 10, "exp", sigma_w2=0.01), ValueError,
     "beyond the well-posedness limit"),
    ("tol zero", lambda: DEQ(3, 10, "tanh", tol=0), ValueError, "tol must be positive"),
    ("max_iter zero", lambda: DEQ(3, 10, "tanh", max_iter=0), ValueError, "max_iter"),
    ("X 1-d", lambda: _model().features(np.ones(3)), ValueError, "2-d array"),
    ("X wrong d", lambda: _model().features(np.ones((4, 5))), ValueError, "5 columns"),
    ("X empty", lambda: _model().features(np.ones((0, 3))), ValueError, "non-empty"),
    ("X nan", lambda: _model().predict(np.array([[1.0, np.nan, 0.0]])), ValueError,
     "finite"),
    ("X inf", lambda: _model().gram(np.array([[1.0, np.inf, 0.0]])), ValueError, "finite"),
    ("Z0 shape", lambda: _model().equilibrium(_X()[0], Z0=np.zeros((3, 3))), ValueError,
     "Z0 must have shape"),
    ("not converged", lambda: _model().features(_X()[0], max_iter=1), RuntimeError,
     "did not converge"),
    ("adjoint not converged", lambda: _model().adjoint(_X()[0], max_iter=1), RuntimeError,
     "adjoint fixed point did not converge"),
    ("y wrong shape", lambda: train(_model(), _X()[0], np.ones(3), progress=False),
     ValueError, "y must have shape"),
    ("y nan", lambda: train(_model(), _X()[0], np.array([1, np.nan, 0, 0]), progress=False),
     ValueError, "y must be finite"),
    ("lr zero", lambda: train(_model(), *_X(), lr=0.0, progress=False), ValueError,
     "lr must be positive"),
    ("lr negative", lambda: train(_model(), *_X(), lr=-1e-3, progress=False), ValueError,
     "lr must be positive"),
    ("lr inf", lambda: train(_model(), *_X(), lr=math.inf, progress=False), ValueError,
     "lr must be finite"),
    ("steps zero", lambda: train(_model(), *_X(), steps=0, progress=False), ValueError,
     "steps"),
    ("record_every zero", lambda: train(_model(), *_X(), record_every=0, progress=False),
     ValueError, "record_every"),
    ("divergence_factor", lambda: train(_model(), *_X(), divergence_factor=1.0,
                                        progress=False), ValueError, "divergence_factor"),
    ("adjoint_tol", lambda: train(_model(), *_X(), adjoint_tol=-1, progress=False),
     ValueError, "adjoint_tol"),
    ("parallel rows", lambda: train(_model(), np.array([[1.0, 0, 0], [-2.0, 0, 0]]),
                                    np.ones(2), progress=False), ValueError, "parallel"),
    ("zero row", lambda: train(_model(), np.array([[1.0, 0, 0], [0.0, 0, 0]]), np.ones(2),
                               progress=False), ValueError, "is zero"),
    ("model type", lambda: train("tanh", *_X(), progress=False), TypeError,
     "model must be a DEQ"),
    ("sweep empty", lambda: width_sweep(*_X(), "tanh", []), ValueError, "non-empty"),
    ("sweep width", lambda: width_sweep(*_X(), "tanh", [10, -1]), ValueError, "width"),
    ("sphere n", lambda: sphere_data(0, 3), ValueError, "n must be a positive"),
    ("digits classes", lambda: digits_data((1, 1)), ValueError, "two distinct digits"),
    ("load format", lambda: TrainingRun.from_dict({"format": "x"}), ValueError,
     "not a saved TrainingRun"),
    ("digits n too large", lambda: digits_data((0, 1), n=10_000), ValueError, "exceeds the"),
]

try:
    import sklearn  # noqa: F401
    _HAVE_SKLEARN = True
except ImportError:
    _HAVE_SKLEARN = False


def _bad_params():
    for name, call, exc, match in _BAD:
        marks = ()
        if name == "digits n too large" and not _HAVE_SKLEARN:
            marks = pytest.mark.skip(reason="scikit-learn not installed")
        yield pytest.param(call, exc, match, id=name, marks=marks)


@pytest.mark.parametrize("call, exc, match", list(_bad_params()))
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_population_predictions_unavailable_say_why(monkeypatch):
    # (the old first half simulated a missing hermite_dual.equilibrium module; that
    # fallback between sibling modules was dead code and is gone)
    X, y = sphere_data(5, 3, seed=0)
    run = train(DEQ(3, 30, "tanh", seed=0), X, y, steps=4, progress=False)
    import hermite_dual.equilibrium as eqm

    def refuse(*args, **kwargs):
        raise ValueError("kernel map is not a contraction")

    monkeypatch.setattr(eqm, "population_gram", refuse)
    with pytest.raises(RuntimeError, match="not a contraction"):
        run.population_envelope
    s = run.summary()
    assert math.isnan(s["lambda_star"]) and "not a contraction" in s["population_note"]
    assert math.isnan(s["predicted_rate"]["population"])
    assert run.linearized.shape == run.loss.shape           # the rest still works
    with pytest.raises(RuntimeError, match="not a contraction"):
        run.lambda_star


def test_grid_lipschitz_fallback_matches_known_values():
    from hermite_dual.deq.lipschitz import _grid_lipschitz
    for name, L in [("tanh", 1.0), ("sigmoid", 0.25), ("sin", 1.0), ("relu", 1.0)]:
        assert abs(_grid_lipschitz(hd.activation(name)) - L) < 1e-6, name
    assert _grid_lipschitz(hd.activation("exp")) == math.inf
    assert _grid_lipschitz(hd.activation("x**2")) == math.inf


def test_digits_without_sklearn_says_how_to_install(monkeypatch):
    import builtins
    real_import = builtins.__import__

    def fake(name, *args, **kwargs):
        if name.startswith("sklearn"):
            raise ImportError("no sklearn")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake)
    with pytest.raises(ImportError, match="scikit-learn"):
        digits_data()


def test_public_names_are_reexported():
    assert hd.DEQ is DEQ and hd.train is train and hd.TrainingRun is TrainingRun
    assert hd.width_sweep is width_sweep
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert isinstance(repr(DEQ(2, 3, "tanh", seed=0)), str)
