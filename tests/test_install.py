"""The README's two commands, run one after the other in ONE fresh venv, as a newcomer would.

This used to break: numba's ``cache=True`` wrote ``*.nbi``/``*.nbc`` files into
``site-packages/hermite_dual/__pycache__``; ``pip install -e`` then uninstalled the package
but left that folder, which shadowed the editable install (notebooks failed with
"module 'hermite_dual' has no attribute 'activation'", ``hermite-dual --version`` with an
ImportError).  The second command's pytest run is narrowed (through ``PYTEST_ADDOPTS``, so
the command itself stays as printed) to the tests that failed then; ``.ci/run`` runs the
whole suite the same way.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SKIP = {".ci-venv", ".ci-venv-docs", ".ci-venv-report", ".ci-site", ".git", "hermite-dual-report",
        ".hypothesis", "site", "build", ".numba-cache"}


def readme_commands():
    out = subprocess.run(["bash", str(ROOT / ".ci" / "readme_commands")], check=True,
                         capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if line.strip()]


def test_readme_prints_two_commands():
    commands = readme_commands()
    assert len(commands) == 2
    assert "hermite-dual report" in commands[0]
    assert "pytest" in commands[1]


@pytest.mark.slow
def test_readme_commands_in_one_fresh_venv(tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(ROOT, repo, ignore=lambda d, names: [n for n in names if n in SKIP
                                                          or n.endswith(".egg-info")])
    venv = tmp_path / "venv"
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", str(venv)], check=True)
    env = {k: v for k, v in os.environ.items()
           if k not in ("VIRTUAL_ENV", "PYTHONPATH", "NUMBA_CACHE_DIR", "PYTEST_ADDOPTS")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["HERMITE_DUAL_CACHE_DIR"] = str(tmp_path / "user-cache")
    env["MPLBACKEND"] = "Agg"
    first, second = readme_commands()
    subprocess.run(["bash", "-c", first], cwd=repo, env=env, check=True)
    assert (repo / "hermite-dual-report" / "report.json").stat().st_size > 0
    narrowed = dict(env, PYTEST_ADDOPTS="tests/test_cli.py::test_console_script_entry_point "
                                        "notebooks/01_derive_dual_kernel.ipynb")
    subprocess.run(["bash", "-c", second], cwd=repo, env=narrowed, check=True)
    version = subprocess.run(["hermite-dual", "--version"], cwd=tmp_path, env=env, check=True,
                             capture_output=True, text=True).stdout
    assert version.strip()
    purelib = subprocess.run([str(venv / "bin" / "python"), "-c",
                              "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    left = [p for p in Path(purelib).rglob("*") if "hermite_dual" in str(p)
            and p.suffix in (".nbi", ".nbc")]
    assert not left, left
    assert list((tmp_path / "user-cache" / "numba").rglob("*.nbi")), "numba cached nothing"
