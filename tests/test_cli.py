"""Command-line tests: success, --json with the documented keys, bad input (exit 2, one line)."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from hermite_dual.cli import build_parser, main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys, *argv):
    code, out, err = run(capsys, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


# -- success and JSON keys ----------------------------------------------------------

def test_derive_text_and_json(capsys):
    code, out, _ = run(capsys, "derive", "sin", "--degree", "5", "--q", "2")
    assert code == 0 and "a_1" in out and "dual kernel" in out
    data = run_json(capsys, "derive", "sin", "--degree", "5", "--q", "2")
    assert {"activation", "expression", "expansion", "dual"} <= set(data)
    coeffs = [float(v) for v in data["expansion"]["coefficients"]]
    # MATH §2: a_1(q) = exp(-q/2) sqrt(q) for sine
    assert abs(coeffs[1] - np.exp(-1.0) * np.sqrt(2.0)) < 1e-14


def test_derive_exact_prints_latex(capsys):
    code, out, _ = run(capsys, "derive", "identity", "--degree", "2", "--method", "exact",
                       "--no-dual")
    assert code == 0 and "LaTeX" in out


def test_check_text_and_json(capsys):
    code, out, _ = run(capsys, "check", "tanh")
    assert code == 0 and "admissible" in out
    data = run_json(capsys, "check", "relu", "--sigma-w2", "0.05")
    assert data["admissible"] is False
    assert {"sup_abs", "sup_first", "sup_second", "non_polynomial", "max_sigma_w2"} <= set(data)


def test_gram_synthetic_json_and_out(capsys, tmp_path):
    out_path = tmp_path / "K.npy"
    data = run_json(capsys, "gram", "--synthetic", "10,5", "--activation", "erf",
                    "--sigma-w2", "0.08", "--out", str(out_path))
    assert {"lambda_min", "certificate", "iterations", "error_bound"} <= set(data)
    K = np.load(out_path)
    assert K.shape == (10, 10)
    assert abs(np.linalg.eigvalsh(K)[0] - data["lambda_min"]) < 1e-10


def test_gram_from_csv(capsys, tmp_path):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((6, 4))
    X *= np.sqrt(4) / np.linalg.norm(X, axis=1, keepdims=True)
    path = tmp_path / "X.csv"
    np.savetxt(path, X, delimiter=",")
    code, out, _ = run(capsys, "gram", "--data", str(path), "--activation", "relu")
    # an aligned table now (it was a raw dict dump), the certified interval first
    assert code == 0 and "lambda_* (certified)" in out and "lambda_* estimate" in out


def test_train_json_plot_and_out(capsys, tmp_path):
    plot = tmp_path / "sweep.png"
    out_path = tmp_path / "run.json"
    data = run_json(capsys, "train", "--activation", "tanh", "--widths", "60,120",
                    "--steps", "5", "--n", "6", "--d", "4", "--plot", str(plot),
                    "--out", str(out_path))
    assert [r["summary"]["width"] for r in data["runs"]] == [60, 120]
    assert plot.stat().st_size > 0
    assert json.loads(out_path.read_text())["activation"] == "tanh"


def test_report_quick(capsys, tmp_path):
    data = run_json(capsys, "report", "sin", "--quick", "--out-dir", str(tmp_path))
    assert {"hermite", "dual", "conditions", "gram", "training", "figures"} <= set(data)
    for path in data["figures"].values():
        assert os.path.getsize(path) > 0
    assert json.loads((tmp_path / "report.json").read_text())["activation"] == "sin"


# -- bad input: exit 2 and exactly one line on stderr --------------------------------

BAD = [
    ("derive", "__import__('os')"),
    ("derive", "tanh", "--degree", "-1"),
    ("derive", "tanh", "--q", "0"),
    ("derive", "tanh", "--q", "nan"),
    ("derive", "exp(x**2)", "--q", "1"),
    ("derive", "tanh", "--method", "magic"),
    ("check", "y*x"),
    ("check", "tanh", "--sigma-w2", "-1"),
    ("gram", "--synthetic", "10", "--activation", "tanh"),
    ("gram", "--data", "/nonexistent.npy"),
    ("gram", "--synthetic", "5,3", "--activation", "tanh", "--sigma-w2", "5"),
    ("train", "--widths", "0,10"),
    ("train", "--lr", "-3"),
    ("report", "foo(x)"),
    ("frobnicate",),
]


@pytest.mark.parametrize("argv", BAD, ids=[" ".join(a) for a in BAD])
def test_bad_input_exit_2_one_line(capsys, argv):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err


def test_gram_parallel_rows_named(capsys, tmp_path):
    X = np.array([[1.0, 1.0], [-1.0, -1.0], [1.0, -1.0]])
    path = tmp_path / "X.npy"
    np.save(path, X)
    code, _, err = run(capsys, "gram", "--data", str(path))
    assert code == 2 and "parallel" in err


def test_every_subcommand_has_help_with_example():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert set(sub.choices) == {"derive", "check", "gram", "train", "report", "audit"}
    for name, p in sub.choices.items():
        assert "Example" in p.format_help(), name
        assert "--json" in p.format_help(), name


@pytest.mark.skipif(shutil.which("hermite-dual") is None, reason="console script not installed")
def test_console_script_entry_point():
    proc = subprocess.run(["hermite-dual", "check", "sin", "--json"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["admissible"] is True
    proc = subprocess.run([sys.executable, "-m", "hermite_dual.cli", "check", "x^2"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1


def test_audit_small_budget_json_and_report(capsys, tmp_path):
    out = tmp_path / "audit.md"
    data = run_json(capsys, "audit", "--budget", "1", "--out", str(out))
    assert {"budget", "seed", "claims"} <= set(data)
    assert set(data["claims"]) == {"a", "b1", "b2", "c", "d", "e"}
    assert out.read_text().startswith("# Theory audit")


def test_audit_bad_budget(capsys):
    code, _, err = run(capsys, "audit", "--budget", "0")
    assert code == 2 and len(err.strip().splitlines()) == 1
