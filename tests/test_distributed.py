"""hermite_dual.distributed: Dask blocks equal the in-memory path bit for bit (issue 13).

Needs the ``[dask]`` extra; ``.ci/run`` installs it and runs this file in the main venv.
"""

import json
import os

import numpy as np
import pytest

dask = pytest.importorskip("dask")
distributed_mod = pytest.importorskip("distributed")
pytest.importorskip("zarr")

import hermite_dual as hd  # noqa: E402
from hermite_dual import distributed  # noqa: E402
from hermite_dual.data import sphere_data  # noqa: E402


@pytest.fixture(scope="module")
def cluster_client():
    from distributed import Client, LocalCluster
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           memory_limit="3GiB", dashboard_address=":0")
    client = Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.fixture(scope="module")
def data1500():
    X, _ = sphere_data(1500, 20, seed=3)
    return X


@pytest.fixture(scope="module")
def ref1500(data1500):
    r = hd.population_gram(data1500, "tanh", 0.08)
    r.Theta
    return r


def test_local_cluster_two_processes_equals_in_memory(cluster_client, data1500, ref1500):
    # 1500 = 512 + 512 + 476: three by three blocks whose size does not divide n
    dg = distributed.gram(data1500, "tanh", 0.08, chunks=512, tangent=True,
                          client=cluster_client)
    assert dg.nblocks == 3
    res = dg.compute(progress=False)
    assert np.array_equal(res.K, ref1500.K)
    assert np.array_equal(res.Sigma, ref1500.Sigma)
    assert np.array_equal(res.Kdot, ref1500.Kdot)
    assert np.array_equal(res.Theta, ref1500.Theta)
    assert res.error_bound == ref1500.error_bound
    assert res.converged and res.iterations == ref1500.iterations


@pytest.mark.parametrize("act, unequal", [("relu", False), ("Abs(x)", True),
                                          ("softplus", True), ("gelu", False)])
def test_threaded_blocks_equal_in_memory(act, unequal):
    rng = np.random.default_rng(5)
    X = rng.standard_normal((130, 4))
    if not unequal:
        X *= 2.0 / np.linalg.norm(X, axis=1, keepdims=True)
    # two nearly parallel rows: their entries are the ones the dual kernel re-solves
    X[1] = X[0] * (1.3 if unequal else 1.0) + 1e-3 * rng.standard_normal(4)
    if not unequal:
        X[1] *= 2.0 / np.linalg.norm(X[1])
    ref = hd.population_gram(X, act, 0.02)
    dg = distributed.gram(X, act, 0.02, chunks=47, tangent=True)
    with dask.config.set(scheduler="threads", num_workers=2):
        res = dg.compute(progress=False)
    assert np.array_equal(res.K, ref.K)
    assert np.array_equal(res.Theta, ref.Theta)
    assert res.error_bound == pytest.approx(ref.error_bound, rel=1e-12)
    # the dask.array views compose (and give the same numbers)
    with dask.config.set(scheduler="threads"):
        assert np.array_equal(dg.K[:60, 50:].compute(), ref.K[:60, 50:])


@pytest.mark.parametrize("suffix", [".zarr", "-npy"])
def test_store_is_bit_for_bit_and_marked_complete(tmp_path, suffix):
    X, _ = sphere_data(300, 6, seed=1)
    ref = hd.population_gram(X, "erf", 0.08)
    dg = distributed.gram(X, "erf", 0.08, chunks=128, tangent=True)
    path = tmp_path / f"K{suffix}"
    summary = dg.store(path, progress=False)
    arrays, meta = distributed.open_store(path)
    assert np.array_equal(np.asarray(arrays["K"][:]), ref.K)
    assert np.array_equal(np.asarray(arrays["Theta"][:]), ref.Theta)
    assert meta["error_bound"] == summary["error_bound"] == ref.error_bound
    assert meta["converged"] and meta["blocks"] == [3, 3]
    with pytest.raises(ValueError, match="exists"):
        dg.store(path, progress=False)


def test_interrupted_store_is_never_marked_complete(tmp_path, monkeypatch):
    X, _ = sphere_data(200, 5, seed=2)
    dg = distributed.gram(X, "tanh", 0.08, chunks=64)
    calls = {"n": 0}
    real = distributed._block

    def dying(*args):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt("simulated interrupt in block 5")
        return real(*args)

    monkeypatch.setattr(distributed, "_block", dying)
    path = tmp_path / "K.zarr"
    with dask.config.set(scheduler="sync"), pytest.raises(KeyboardInterrupt):
        dg.store(path, progress=False)
    assert not (path / "COMPLETE.json").exists()
    import zarr
    assert zarr.open_group(str(path), mode="r").attrs["complete"] is False
    with pytest.raises(ValueError, match="incomplete"):
        distributed.open_store(path)
    monkeypatch.setattr(distributed, "_block", real)
    dg.store(path, overwrite=True, progress=False)
    arrays, meta = distributed.open_store(path)
    assert json.loads((path / "COMPLETE.json").read_text())["n"] == 200
    assert np.array_equal(np.asarray(arrays["K"][:]), hd.population_gram(X, "tanh", 0.08).K)


def test_store_refuses_a_missing_parent(tmp_path):
    X, _ = sphere_data(20, 3, seed=0)
    dg = distributed.gram(X, "tanh", chunks=8)
    with pytest.raises(ValueError, match="parent directory"):
        dg.store(tmp_path / "no" / "K.zarr", progress=False)
    assert not os.path.exists(tmp_path / "no")


def test_dask_least_eigenvalue_certifies_like_the_in_memory_one(ref1500):
    K = ref1500.K
    lam = float(np.linalg.eigvalsh(K)[0])
    with dask.config.set(scheduler="threads"):
        b = distributed.least_eigenvalue(dask.array.from_array(K, chunks=400),
                                         entry_error=ref1500.error_bound)
    mem = hd.least_eigenvalue(K, entry_error=ref1500.error_bound)
    assert b.certified and b.lower <= lam <= b.upper
    assert b.lower > 0 and (b.upper - b.lower) / lam < 1e-6
    assert abs(b.estimate - mem.estimate) <= 1e-9 * lam
    assert "Dask" in b.method


def test_dask_least_eigenvalue_never_certifies_an_indefinite_matrix():
    rng = np.random.default_rng(0)
    Q, _ = np.linalg.qr(rng.standard_normal((300, 300)))
    lam = np.linspace(-1e-3, 2.0, 300)
    A = (Q * lam) @ Q.T
    A = 0.5 * (A + A.T)
    with dask.config.set(scheduler="threads"):
        b = distributed.least_eigenvalue(A, chunks=128)
    assert not b.lower > 0
    assert b.upper >= -1e-3 - 1e-12


def test_gram_rejects_bad_chunks_and_data():
    X, _ = sphere_data(10, 3, seed=0)
    with pytest.raises(ValueError, match="chunks"):
        distributed.gram(X, "tanh", chunks=0)
    with pytest.raises(ValueError):
        distributed.gram(np.full((3, 2), np.nan), "tanh")


def _cli(*argv):
    import contextlib
    import io

    from hermite_dual.cli import main
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(list(argv))
    return code, out.getvalue()


def test_cli_gram_store_prints_certified_interval_and_stages(tmp_path):
    path = str(tmp_path / "K.zarr")
    code, text = _cli("gram", "--synthetic", "700,10", "--activation", "tanh", "--out", path,
                      "--chunk", "256", "--json")
    assert code == 0
    s = json.loads(text)
    X, _ = sphere_data(700, 10, seed=0)
    ref = hd.population_gram(X, "tanh", 0.08)
    lam = float(np.linalg.eigvalsh(ref.K)[0])
    assert s["lambda_lower"] <= lam <= s["lambda_upper"] and s["lambda_lower"] > 0
    assert s["blocks"] == [3, 3] and s["converged"]
    assert set(s["seconds"]) >= {"plan", "blocks", "lambda"}
    assert s["peak_rss_mb"]["client"] > 0
    arrays, _ = distributed.open_store(path)
    assert np.array_equal(np.asarray(arrays["K"][:]), ref.K)
    # an existing store is refused without --overwrite (exit 2, JSON error)
    code, text = _cli("gram", "--synthetic", "700,10", "--out", path, "--json")
    assert code == 2 and "exists" in json.loads(text)["error"]


def test_cli_gram_workers_text_table():
    code, text = _cli("gram", "--synthetic", "300,8", "--activation", "erf", "--workers", "2",
                      "--chunk", "128", "--lambda", "no")
    assert code == 0
    assert "local cluster of 2 worker processes" in text
    assert "not computed: not asked for" in text and "peak RSS: workers" in text


def test_progress_bar_ticks_once_per_block(capsys):
    X, _ = sphere_data(90, 4, seed=0)
    dg = distributed.gram(X, "tanh", chunks=30)
    with dask.config.set(scheduler="threads"):
        dg.compute(progress=True)
    err = capsys.readouterr().err
    assert "Gram blocks" in err and "9/9" in err
    dg.compute(progress=False)
    assert capsys.readouterr().err == ""


def test_leading_block_upper_bounds_lambda_min(ref1500):
    lam = float(np.linalg.eigvalsh(ref1500.K)[0])
    up, m = distributed.leading_block_upper(ref1500.K, 400, entry_error=ref1500.error_bound)
    assert m == 400 and up >= lam
    assert up >= float(np.linalg.eigvalsh(ref1500.K[:400, :400])[0])


def test_cli_gram_too_big_for_cholesky_reports_certificate_and_interlacing(monkeypatch,
                                                                          tmp_path):
    from hermite_dual import gram_cli
    monkeypatch.setattr(gram_cli, "_available_bytes", lambda: 1)
    code, text = _cli("gram", "--synthetic", "400,10", "--chunk", "128", "--json", "--out",
                      str(tmp_path / "K-npy"))
    s = json.loads(text)
    X, _ = sphere_data(400, 10, seed=0)
    lam = float(np.linalg.eigvalsh(hd.population_gram(X, "tanh", 0.08).K)[0])
    assert code == 0 and s["lambda_lower"] is None and "GiB" in s["lambda_skipped"]
    assert 0 < s["certificate"] <= lam <= s["lambda_upper_leading_block"]
