"""The jobs as EMR runs them: ``spark-submit <script> ...`` in a fresh JVM, executors importing the
package only from the zip the script ships (``worker.ship_package``), exit codes 0 and 2."""

import json
import os
import subprocess
import sys

import pytest

from emr_patterns.jobs.widematrix import aggregate, ingest

pytestmark = [pytest.mark.spark, pytest.mark.slow]


def _submit(script: str, *args: str) -> subprocess.CompletedProcess:
    import pyspark

    spark_submit = os.path.join(os.path.dirname(pyspark.__file__), "bin", "spark-submit")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SPARK_HOME")}
    env.update(PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable)
    cmd = [
        spark_submit,
        "--master",
        "local[2]",
        "--driver-memory",
        "1g",
        "--conf",
        "spark.ui.enabled=false",
        "--conf",
        "spark.ui.showConsoleProgress=false",
        script,
        *args,
    ]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, check=False)


def test_spark_submit_of_both_scripts(tmp_path):
    csv = tmp_path / "matrix.csv"
    csv.write_text("cell,g1,g2,g3\nc1,0,1,2\nc2,3,0,0\nc3,0,0,1\nc4,5,0,0\n", encoding="utf-8")
    meta = tmp_path / "cells.csv"
    meta.write_text("cell,type\nc1,A\nc2,B\nc3,A\nc4,B\n", encoding="utf-8")
    ds, views = tmp_path / "ds", tmp_path / "views"

    run = _submit(ingest.__file__, "--input", str(csv), "--metadata", str(meta), "--output", str(ds))
    assert run.returncode == 0, run.stderr[-3000:]
    assert "ingest: wrote" in run.stdout
    manifest = json.loads((ds / "manifest.json").read_text())
    assert manifest["shape"] == {"cells": 4, "genes": 3} and manifest["nnz"] == 5

    run = _submit(
        aggregate.__file__, "--dataset", str(ds), "--group-by", "type", "--output", str(views), "--no-hbase"
    )
    assert run.returncode == 0, run.stderr[-3000:]
    import pandas as pd

    mean = pd.read_parquet(views / "mean")
    got = {(g, gene): v for g, gene, v in mean[["group", "gene", "value"]].itertuples(index=False)}
    assert got == {("A", "g2"): 0.5, ("A", "g3"): 1.5, ("B", "g1"): 4.0}

    bad = tmp_path / "bad.csv"
    bad.write_text("cell,g1,g2\nc1,0,1\nc2,3\n", encoding="utf-8")
    run = _submit(ingest.__file__, "--input", str(bad), "--output", str(tmp_path / "bad_ds"))
    assert run.returncode == 2
    assert "line 3 (cell 'c2') has 1 values, expected 2" in run.stderr
    assert not (tmp_path / "bad_ds").exists()


def test_spark_logs_at_warn_unless_asked(tmp_path):
    """A spark-submit run logs nothing below WARN by default; ``--log-level INFO`` brings INFO back.
    The error is one line of its own on stderr, with the exit status."""
    bad = tmp_path / "bad.csv"
    bad.write_text("cell,g1\nc1,x\n", encoding="utf-8")
    run = _submit(ingest.__file__, "--input", str(bad), "--output", str(tmp_path / "ds"))
    assert run.returncode == 2, run.stderr[-3000:]
    lines = run.stderr.strip().splitlines()
    ours = [line for line in lines if line.startswith("ingest: error: ")]
    assert len(ours) == 1 and "non-numeric value 'x'" in ours[0], lines[-6:]
    assert [line for line in lines if " INFO " in line] == []
    run = _submit(
        ingest.__file__, "--input", str(bad), "--output", str(tmp_path / "ds"), "--log-level", "info"
    )
    assert run.returncode == 2
    assert any(" INFO " in line for line in run.stderr.splitlines())
