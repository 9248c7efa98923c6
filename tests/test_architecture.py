"""Regression tests for the bugs the architecture issue listed (each failed on the old
main): objects are passed along instead of names, hd.dual is a plain picklable function,
the report computes each stage once, JSON output writes null for non-finite numbers."""

import collections
import json
import pickle
import subprocess
import sys

import numpy as np
import pytest

import hermite_dual as hd
from hermite_dual.data import sphere_data


def test_derivative_activation_run_keeps_population_predictions():
    """A TrainingRun used to keep the activation's *name* ("sin'") and re-parse it."""
    act = hd.activation("sin").derivative()
    X, y = sphere_data(6, 4, seed=1)
    run = hd.train(hd.DEQ(4, 64, act, seed=0), X, y, steps=5, progress=False)
    assert run.activation is act
    assert np.isfinite(run.lambda_star) and run.lambda_star > 0
    again = hd.TrainingRun.from_dict(json.loads(json.dumps(run.to_dict())))
    assert again.activation.expr == act.expr and again.activation.name == "sin'"


def test_dual_is_a_function_whatever_the_import_order():
    code = ("import hermite_dual.duals, hermite_dual as hd, types; "
            "assert isinstance(hd.dual, types.FunctionType), type(hd.dual); "
            "import hermite_dual.duals; assert isinstance(hd.dual, types.FunctionType)")
    subprocess.run([sys.executable, "-c", code], check=True)
    assert callable(hd.dual) and not isinstance(hd.dual, type(sys))


def test_dual_kernel_pickles_to_the_cached_kernel():
    k = hd.dual("tanh")
    assert pickle.loads(pickle.dumps(k)) is k
    derived = hd.dual(hd.activation("sin").derivative())
    back = pickle.loads(pickle.dumps(derived))
    assert back.kernel(1.0, 1.0, 0.5) == derived.kernel(1.0, 1.0, 0.5)


def test_dual_cache_keyed_by_expression_and_bounded():
    from hermite_dual.duals import kernel as duals
    assert hd.dual("relu") is hd.dual("Max(0, x)")
    for k in range(duals._CACHE_SIZE + 5):
        hd.dual(f"tanh(x) + {k}")
    assert len(duals._CACHE) <= duals._CACHE_SIZE


def test_deq_accepts_known_lipschitz_or_report(monkeypatch):
    import hermite_dual.conditions as cond
    report = hd.check_conditions("tanh")
    calls = collections.Counter()
    real = cond.check_conditions
    monkeypatch.setattr(cond, "check_conditions",
                        lambda *a, **k: calls.update(["check"]) or real(*a, **k))
    m1 = hd.DEQ(3, 10, "tanh", lipschitz=report)
    m2 = hd.DEQ(3, 10, "tanh", lipschitz=1.0)
    assert m1.lipschitz == 1.0 and m2.lipschitz_source == "given by the caller"
    assert calls["check"] == 0
    with pytest.raises(ValueError, match="not for the activation"):
        hd.DEQ(3, 10, "sin", lipschitz=report)
    with pytest.raises(ValueError, match="lipschitz must be"):
        hd.DEQ(3, 10, "tanh", lipschitz=-1.0)


def test_train_refuses_an_equilibrium_for_other_data():
    X, y = sphere_data(5, 3, seed=0)
    X2, _ = sphere_data(5, 3, seed=1)
    ek = hd.population_gram(X2, "tanh", 0.08)
    with pytest.raises(ValueError, match="other data"):
        hd.train(hd.DEQ(3, 16, "tanh", seed=0), X, y, steps=2, progress=False, equilibrium=ek)
    with pytest.raises(ValueError, match="sigma_w2"):
        hd.train(hd.DEQ(3, 16, "tanh", 0.05, seed=0), X2, y, steps=2, progress=False,
                 equilibrium=ek)
    with pytest.raises(TypeError, match="EquilibriumKernel"):
        hd.train(hd.DEQ(3, 16, "tanh", seed=0), X, y, steps=2, progress=False,
                 equilibrium="K")


def test_report_computes_each_stage_once(tmp_path, monkeypatch):
    import hermite_dual.conditions as cond
    import hermite_dual.equilibrium as eqm
    import hermite_dual.hermite as herm
    from hermite_dual.report import run_report

    calls = collections.Counter()

    def counted(mod, name):
        real = getattr(mod, name)

        def f(*a, **k):
            calls[name] += 1
            return real(*a, **k)
        monkeypatch.setattr(mod, name, f)
        monkeypatch.setattr(hd, name, f, raising=False)

    counted(cond, "check_conditions")
    counted(eqm, "population_gram")
    counted(herm, "hermite_coefficients")
    run_report("tanh", out_dir=str(tmp_path), quick=True)
    assert calls["check_conditions"] == 1
    assert calls["population_gram"] == 1
    assert calls["hermite_coefficients"] <= 2      # the precision check only


def test_check_json_writes_null_for_non_finite(capsys):
    from hermite_dual.cli import main
    assert main(["check", "x**2", "--json"]) == 0
    out = capsys.readouterr().out
    data = json.loads(out)                     # strict: no NaN/Infinity tokens
    assert "NaN" not in out and "Infinity" not in out and '"inf"' not in out.replace(
        '_nonfinite": "inf"', "")
    first = data["sup_first"]
    assert first["value"] is None and first["value_nonfinite"] == "inf"
