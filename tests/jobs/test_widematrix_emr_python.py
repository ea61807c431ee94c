"""The jobs as an EMR 7 node runs them: Python 3.9, dependencies only from the offline wheelhouse,
the package only from the ``--py-files`` zip.

Set-up (``make install`` runs both): ``make emr-wheelhouse`` downloads the cp39 manylinux wheels
for x86_64 and aarch64 into ``.cache/emr-wheelhouse/``; ``make emr-test-venv`` builds a Python
3.9 venv (pyenv's 3.9 is part of this machine image) from this machine's architecture's
wheelhouse with ``pip install --no-index``. Nothing here touches the network.
"""

import json
import os
import platform
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from emr_patterns.compute.jobs import ARCHITECTURES, build_job_zip
from emr_patterns.jobs.widematrix import aggregate, ingest

pytestmark = [pytest.mark.spark, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
WHEELHOUSE = ROOT / ".cache" / "emr-wheelhouse"
VENV_PYTHON = ROOT / ".cache" / "emr-py39-venv" / "bin" / "python"
REQUIREMENTS = ROOT / "jobs" / "requirements-emr.txt"


def _need(path: Path, target: str) -> None:
    if not path.exists():
        pytest.fail(f"{path} is missing: run `make {target}` (part of `make install`)")


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_wheelhouse_resolves_offline_for_python_39(arch, tmp_path):
    """pip finds every pinned requirement, and every dependency of it, in the wheelhouse alone.

    The resolver runs under Python 3.9 (the test venv's pip): a pip on another Python evaluates
    environment markers such as botocore's ``urllib3<1.27; python_version<"3.10"`` for itself
    and would accept a wheelhouse that fails on the node."""
    _need(WHEELHOUSE / arch, "emr-wheelhouse")
    _need(VENV_PYTHON, "emr-test-venv")
    report = tmp_path / "report.json"
    cmd = [
        str(VENV_PYTHON), "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
        "--report", str(report), "--python-version", "3.9", "--implementation", "cp", "--abi", "cp39",
        "--platform", f"manylinux2014_{arch}", "--platform", f"manylinux_2_28_{arch}",
        "--only-binary=:all:", "--no-index", "--find-links", str(WHEELHOUSE / arch),
        "--target", str(tmp_path / "target"), "-r", str(WHEELHOUSE / arch / "requirements.txt"),
    ]  # fmt: skip
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    installed = {i["metadata"]["name"].lower(): i for i in json.loads(report.read_text())["install"]}
    for name in ("numpy", "pandas", "pyarrow", "h5py", "boto3"):
        wheel = installed[name]["download_info"]["url"]
        assert "cp39" in wheel or "py3-none-any" in wheel, wheel
        if name != "boto3":
            assert wheel.endswith(f"{arch}.whl"), wheel
    assert (WHEELHOUSE / arch / "requirements.txt").read_text() == REQUIREMENTS.read_text()


def _write_h5ad(path: Path, dense: np.ndarray, cells, genes, groups) -> None:
    """A small AnnData file: CSR ``X``, ``obs`` with a categorical ``type``, ``var`` names."""
    import h5py

    sdt = h5py.string_dtype("utf-8")
    rows, cols = np.nonzero(dense)
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=dense.shape[0]))])
    cats = sorted(set(groups))
    with h5py.File(path, "w") as f:
        x = f.create_group("X")
        x.attrs.update(
            {"encoding-type": "csr_matrix", "encoding-version": "0.1.0", "shape": np.array(dense.shape)}
        )
        x.create_dataset("data", data=dense[rows, cols].astype(np.float32))
        x.create_dataset("indices", data=cols.astype(np.int32))
        x.create_dataset("indptr", data=indptr.astype(np.int64))
        for name, index, with_type in (("obs", cells, True), ("var", genes, False)):
            g = f.create_group(name)
            g.attrs.update({"encoding-type": "dataframe", "encoding-version": "0.2.0", "_index": "_index"})
            g.attrs["column-order"] = np.array(["type"] if with_type else [], dtype=object).astype(sdt)
            g.create_dataset("_index", data=np.array(index, dtype=object), dtype=sdt)
            if with_type:
                c = g.create_group("type")
                c.attrs.update(
                    {"encoding-type": "categorical", "encoding-version": "0.2.0", "ordered": False}
                )
                c.create_dataset("codes", data=np.array([cats.index(v) for v in groups], dtype=np.int8))
                c.create_dataset("categories", data=np.array(cats, dtype=object), dtype=sdt)


def _submit(tmp_path: Path, py_files: Path, entry: Path, *args: str) -> subprocess.CompletedProcess:
    import pyspark

    spark_submit = os.path.join(os.path.dirname(pyspark.__file__), "bin", "spark-submit")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SPARK_HOME", "VIRTUAL_ENV")}
    env.update(PYSPARK_PYTHON=str(VENV_PYTHON), PYSPARK_DRIVER_PYTHON=str(VENV_PYTHON))
    cmd = [
        spark_submit, "--master", "local[2]", "--driver-memory", "1g",
        "--conf", "spark.ui.enabled=false", "--conf", "spark.ui.showConsoleProgress=false",
        "--py-files", str(py_files), str(entry), *args,
    ]  # fmt: skip
    return subprocess.run(
        cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False
    )


def test_both_jobs_on_python_39_with_only_the_zip_and_the_wheelhouse(tmp_path):
    """spark-submit of lone entry scripts (no package beside them): the driver and the workers
    run Python 3.9 with numpy, pandas, pyarrow and h5py from the wheelhouse, and import the
    ``widematrix`` package only from ``--py-files``."""
    _need(VENV_PYTHON, "emr-test-venv")
    probe = subprocess.run(
        [
            str(VENV_PYTHON),
            "-c",
            "import sys, pyarrow, h5py; print(sys.version_info[:2]); import emr_patterns",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert probe.stdout.strip() == "(3, 9)" and "No module named 'emr_patterns'" in probe.stderr
    assert platform.machine() in ARCHITECTURES

    code = build_job_zip(tmp_path / "code")
    lone = tmp_path / "entry"
    lone.mkdir()
    for module in (ingest, aggregate):
        shutil.copy(module.__file__, lone / os.path.basename(module.__file__))
    assert sorted(os.listdir(lone)) == ["aggregate.py", "ingest.py"]

    rng = np.random.default_rng(3)
    dense = rng.poisson(0.6, size=(40, 25)).astype(np.float64)
    cells = [f"cell-{i}" for i in range(40)]
    genes = [f"G{j}" for j in range(25)]
    groups = ["T" if i % 3 else "B" for i in range(40)]
    h5ad = tmp_path / "pbmc.h5ad"
    _write_h5ad(h5ad, dense, cells, genes, groups)
    ds, views = tmp_path / "ds", tmp_path / "views"

    # without --py-files a lone entry script cannot find its package: the zip is what carries it
    bare = subprocess.run(
        [str(VENV_PYTHON), str(lone / "ingest.py"), "--help"], capture_output=True, text=True, check=False
    )
    assert "No module named 'widematrix'" in bare.stderr

    run = _submit(tmp_path, code, lone / "ingest.py", "--input", str(h5ad), "--output", str(ds))
    assert run.returncode == 0, run.stderr[-3000:] + run.stdout[-2000:]
    manifest = json.loads((ds / "manifest.json").read_text())
    assert manifest["shape"] == {"cells": 40, "genes": 25} and manifest["nnz"] == int((dense > 0).sum())

    run = _submit(
        tmp_path, code, lone / "aggregate.py",
        "--dataset", str(ds), "--group-by", "type", "--stats", "mean,median,count", "--output", str(views),
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:] + run.stdout[-2000:]
    import pandas as pd

    mean = pd.read_parquet(views / "mean")
    got = {(g, gene): v for g, gene, v in mean[["group", "gene", "value"]].itertuples(index=False)}
    labels = np.array(groups)
    want = {}
    for group in ("B", "T"):
        block = dense[labels == group]
        for j, gene in enumerate(genes):
            if block[:, j].mean() != 0:
                want[(group, gene)] = block[:, j].mean()
    assert got.keys() == want.keys()
    assert all(abs(got[k] - want[k]) < 1e-12 for k in want)
    counts = pd.read_parquet(views / "count")
    assert counts["value"].sum() == (dense > 0).sum()
