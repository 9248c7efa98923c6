"""Runs and files (issue 12): bad output paths fail before any work, a raising callback
keeps the history, saves are strict JSON with the umask's mode and no temp files left,
the CLI refuses complex data and does not create folders."""

import json
import os
import stat

import numpy as np
import pytest

import hermite_dual as hd
from hermite_dual.cli import main
from hermite_dual.data import sphere_data


def test_bad_out_path_fails_before_training(tmp_path, monkeypatch):
    X, y = sphere_data(5, 3, seed=0)
    calls = []
    with pytest.raises(ValueError, match="does not exist"):
        hd.train(hd.DEQ(3, 16, "tanh", seed=0), X, y, steps=500, progress=False,
                 out=str(tmp_path / "nonexistent" / "d" / "r.json"),
                 callback=lambda t, loss: calls.append(t))
    assert calls == []                       # not a single step was taken


def test_callback_that_raises_keeps_the_history(tmp_path):
    X, y = sphere_data(5, 3, seed=0)

    def boom(t, loss):
        if t == 3:
            raise RuntimeError("user code failed")
    with pytest.warns(hd._warnings.HermiteDualWarning if hasattr(hd, "_warnings")
                      else Warning):
        run = hd.train(hd.DEQ(3, 16, "tanh", seed=0), X, y, steps=50, progress=False,
                       callback=boom, out=str(tmp_path / "r.json"))
    assert run.status == "callback_failed" and "RuntimeError" in run.message
    assert len(run.loss) == 4 and run.failed
    back = hd.TrainingRun.load(str(tmp_path / "r.json"))
    assert back.status == "callback_failed" and np.array_equal(back.loss, run.loss)


def test_saves_are_strict_json_with_umask_mode_and_no_temp_files(tmp_path):
    X, y = sphere_data(5, 3, seed=0)
    run = hd.train(hd.DEQ(3, 16, "tanh", seed=0), X, y, steps=3, progress=False)
    old = os.umask(0o022)
    try:
        path = run.save(str(tmp_path / "r.json"))
    finally:
        os.umask(old)
    text = open(path, encoding="utf-8").read()
    json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict token {c}"))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    assert sorted(os.listdir(tmp_path)) == ["r.json"]


def test_interrupted_at_step_zero_says_zero_steps(tmp_path):
    X, y = sphere_data(5, 3, seed=0)

    def stop(t, loss):
        raise KeyboardInterrupt
    run = hd.train(hd.DEQ(3, 16, "tanh", seed=0), X, y, steps=5, progress=False,
                   callback=stop, out=str(tmp_path / "r.json"))
    assert run.status == "interrupted" and "-1" not in run.message
    json.loads(open(tmp_path / "r.json").read(),
               parse_constant=lambda c: pytest.fail(f"non-strict token {c}"))


def test_cli_refuses_complex_data_and_missing_folders(tmp_path, capsys):
    X, _ = sphere_data(5, 3, seed=0)
    np.save(tmp_path / "complex.npy", X.astype(np.complex128) * (1 + 1j))
    assert main(["gram", "--data", str(tmp_path / "complex.npy")]) == 2
    assert "complex" in capsys.readouterr().err
    assert main(["train", "--widths", "8", "--steps", "2", "--n", "5", "--d", "3",
                 "--plot", str(tmp_path / "nope" / "p.png")]) == 2
    assert not (tmp_path / "nope").exists()
