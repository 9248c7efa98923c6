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


# ---------------------------------------------------------------------------
# the layout: module sizes, one-way layers, imports that resolve
# ---------------------------------------------------------------------------

import ast  # noqa: E402
import importlib  # noqa: E402
import pathlib  # noqa: E402

PKG = pathlib.Path(hd.__file__).parent
#: docs/design.md's layers, top (imported by everything) to bottom (imports everything)
LAYERS = [("_util", "_warnings", "_json"), ("_kernels",), ("library",), ("symbolic",),
          ("activations", "hostile"), ("hermite",), ("duals",), ("conditions",),
          ("eigen",), ("equilibrium",), ("deq", "data", "distributed", "sklearn"), ("testing", "audit"),
          ("plotting",), ("report",), ("cli", "gram_cli")]
#: the one upward import, lazy: TrainingRun.plot(path) is the public API's convenience
UPWARD_OK = {("hermite_dual.deq.run", "plotting")}


def _relative_imports():
    for f in sorted(PKG.rglob("*.py")):
        parts = ("hermite_dual",) + f.relative_to(PKG).with_suffix("").parts
        pkg = list(parts[:-1])
        name = ".".join(parts[:-1] if f.name == "__init__.py" else parts)
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = pkg[: len(pkg) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
                yield f, name, node, target


def test_no_module_is_longer_than_about_600_lines():
    long = {str(f.relative_to(PKG)): n for f in PKG.rglob("*.py")
            if (n := len(f.read_text(encoding="utf-8").splitlines())) > 620}
    assert long == {}


def test_layers_import_only_the_layers_above_them():
    rank = {n: i for i, names in enumerate(LAYERS) for n in names}
    tops = {p.stem if p.is_file() else p.name for p in PKG.iterdir()
            if (p.suffix == ".py" or (p.is_dir() and (p / "__init__.py").exists()))
            and not p.name.startswith(("__", "."))}
    assert tops <= set(rank), f"add {sorted(tops - set(rank))} to LAYERS (and docs/design.md)"
    upward = set()
    for _f, name, node, target in _relative_imports():
        me = name.split(".")[1] if "." in name else None
        targets = [target] if node.module else [f"{target}.{a.name}" for a in node.names]
        for t in targets:
            other = t.split(".")[1] if "." in t else None
            if me in rank and other in rank and rank[other] > rank[me]:
                upward.add((name, other))
    assert upward == UPWARD_OK


def test_every_relative_import_resolves():
    """Function-local imports run only when called; a moved name would fail late."""
    missing = []
    for f, _name, node, target in _relative_imports():
        if f.name == "__main__.py":
            continue
        mod = importlib.import_module(target)
        for a in node.names:
            if a.name != "*" and not hasattr(mod, a.name):
                try:
                    importlib.import_module(f"{target}.{a.name}")
                except ImportError:
                    missing.append((str(f.relative_to(PKG)), node.lineno, a.name))
    assert missing == []
