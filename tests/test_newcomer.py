"""What a newcomer hit (issue 15): suggestions for misspelt names, defaults in every
--help, --sigma-w2 0, JSON errors under --json, failed runs that print no predictions and
exit non-zero, the coefficient figure's relative cut-off."""

import json
import math

import numpy as np
import pytest

import hermite_dual as hd
from hermite_dual.cli import build_parser, main


@pytest.mark.parametrize("spec, suggestion", [
    ("tahn", "tanh"), ("tahn(x)", "tanh"), ("Sigmoid", "sigmoid"), ("reul", "relu"),
    ("sofplus(x)", "softplus"),
])
def test_did_you_mean(spec, suggestion):
    with pytest.raises(ValueError, match=f"did you mean .*'{suggestion}'") as info:
        hd.activation(spec)
    assert "gelu" in str(info.value)          # the list of names comes with it


def test_no_suggestion_for_a_far_name():
    with pytest.raises(ValueError) as info:
        hd.activation("frobnicate")
    assert "did you mean" not in str(info.value) and "built-ins: identity" in str(info.value)


def _subparsers():
    parser = build_parser()
    action = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return action.choices


def test_every_help_shows_the_defaults(monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")            # no line wrapping inside a default
    for name, sub in _subparsers().items():
        text = sub.format_help()
        for action in sub._actions:
            d = action.default
            if action.dest == "help" or d is None or d is False:
                continue
            assert f"(default: {d})" in text, (name, action.dest)


def test_sigma_w2_zero_is_accepted_everywhere(capsys):
    assert main(["gram", "--synthetic", "6,3", "--sigma-w2", "0", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["lambda_min"] > 0
    r = hd.check_conditions("tanh", sigma_w2=0)
    assert r.sigma_w2 == 0.0
    assert hd.DEQ(3, 8, "tanh", sigma_w2=0).W.shape == (8, 8)


@pytest.mark.parametrize("argv, kind", [
    (["check", "tahn", "--json"], "ValueError"),
    (["gram", "--json", "--synthetic", "3,0"], "usage"),
    (["derive", "tanh", "--degree", "-1", "--json"], "usage"),
])
def test_json_errors_are_json_objects(capsys, argv, kind):
    assert main(argv) == 2
    data = json.loads(capsys.readouterr().out)
    assert data["kind"] == kind and data["exit_code"] == 2 and data["error"]


def test_failed_run_prints_no_predictions_and_exits_non_zero(capsys):
    code = main(["train", "--activation", "tanh", "--widths", "50", "--lr", "10",
                 "--steps", "20", "--n", "10", "--d", "4"])
    out, err = capsys.readouterr()
    assert code == 1
    assert "contraction_lost" in out and "no predictions" in out
    assert "population" not in out and "linearized" not in out
    assert "Warning" not in err
    code = main(["train", "--activation", "tanh", "--widths", "50", "--lr", "10",
                 "--steps", "20", "--n", "10", "--d", "4", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 1 and data["failed"] == 1
    assert "predicted_rate" not in data["runs"][0]["summary"]


def test_coefficient_figure_skips_zeros_by_symmetry(tmp_path, monkeypatch):
    """tanh is odd: its even coefficients are rounding noise and must not be drawn."""
    from hermite_dual import plotting
    drawn = []
    import matplotlib.axes
    real = matplotlib.axes.Axes.semilogy

    def spy(self, k, v, *a, **kw):
        drawn.append((np.asarray(k), np.asarray(v)))
        return real(self, k, v, *a, **kw)
    monkeypatch.setattr(matplotlib.axes.Axes, "semilogy", spy)
    plotting.plot_coefficient_decay("tanh", str(tmp_path / "c.png"), degree=30)
    assert drawn
    for ks, _ in drawn:
        assert ks.size > 5 and np.all(ks % 2 == 1), ks


# -- asymptotically linear activations at large q (issue 15): log cosh x ~ |x| - log 2 has
#    Gaussian integrals at every q; float64 cosh overflowed at |x| > 710 and the package
#    called them undefined

def test_log_cosh_at_a_large_variance_matches_the_precise_route():
    import mpmath
    fast = hd.hermite_coefficients("log(cosh(x))", 10, q=400)
    ref = hd.hermite_coefficients("log(cosh(x))", 10, q=400, method="precise", dps=25)
    scale = math.sqrt(float(ref.norm2))
    diff = max(abs(a - float(b)) for a, b in zip(fast.coefficients, ref.coefficients))
    assert diff <= 1e-12 * scale, diff / scale
    # the float64 form itself, far out on the line, against mpmath
    act = hd.activation("log(cosh(x))")
    pts = np.array([-770.0, -3.0, 0.5, 900.0])
    want = [float(mpmath.log(mpmath.cosh(mpmath.mpf(v)))) for v in pts]
    np.testing.assert_allclose(act(pts), want, rtol=1e-14)


def test_log_cosh_kernel_over_many_variances():
    q = np.linspace(0.5, 5.0, 60)
    k = hd.dual("log(cosh(x))")
    v = k.kernel(q, q[::-1], 0.3 * np.sqrt(q * q[::-1]))
    assert np.all(np.isfinite(v))
    for i in (0, 29, 59):
        ref = float(k.precise(q[i], q[::-1][i], 0.3 * math.sqrt(q[i] * q[::-1][i]), dps=20))
        assert abs(v[i] - ref) <= 1e-10 * max(1.0, abs(ref)), (i, v[i], ref)


def test_a_closed_form_search_that_cannot_succeed_fails_fast():
    # erf(x/2 + 1/2): the integral in c of an offset Gaussian pair is Owen's T, not
    # elementary; sympy's Risch heuristics spent 11-32 s to find nothing (now ~2 s)
    import time
    t0 = time.process_time()
    assert hd.dual("erf(x/2+1/2)").closed_form() is None
    assert time.process_time() - t0 < 5.0
    # ... and the searches that do succeed still do
    assert hd.dual("erf(2*x)").closed_form() is not None
    assert hd.dual("cos(x)*exp(-x**2/4)").closed_form() is not None
