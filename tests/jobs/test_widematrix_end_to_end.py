"""End to end on one machine: scanpy's pbmc68k_reduced as version A and a synthetic matrix over the
same genes and groups as version B, each through pipeline.py (one Spark application), bulk loaded
for real into HBase, registered and switched; readers loop through the read handler while B is
loaded and switched, and every answer is entirely A or entirely B, never a mix, never an error."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import numpy as np
import pandas as pd
import pytest

from emr_patterns.jobs.widematrix import pipeline
from emr_patterns.lambdas.matrix_read import handler as h
from emr_patterns.lambdas.matrix_read import registry as reg
from tests.jobs.test_widematrix_jobs import _pbmc_path, write_csv, write_meta
from tests.widematrix._hbase import bulk_load, drop_table
from tests.widematrix.conftest import moto_registry, read_env  # noqa: F401 (fixtures)
from tests.widematrix.test_read_handler import call

pytestmark = pytest.mark.spark
STATS = ["mean", "fraction"]


def expected(views: str, stat: str) -> dict[tuple[str, str], float]:
    df = pd.read_parquet(os.path.join(views, stat))
    return {(g, n): v for g, n, v in zip(df["group"], df["gene"], df["value"], strict=True)}


def load(spark: Any, hbase: Any, registry: reg.Registry, tmp: Any, version: str, **inputs: Any) -> dict:
    out = tmp / version
    m = pipeline.run_pipeline(
        spark, dataset=str(out / "ds"), output=str(out / "views"), version=version, stats=STATS, **inputs
    )
    registry.register_version("pbmc", version, {"version": version})
    tables = bulk_load(hbase, str(out / "views-hbase"), "pbmc", version, out)
    registry.set_status(
        "pbmc", version, reg.READY, expected=reg.LOADING, manifest=reg.version_manifest(m, tables)
    )
    return {"manifest": m, "tables": tables, "views": {s: expected(str(out / "views"), s) for s in STATS}}


def test_readers_see_entirely_a_or_entirely_b(spark, hbase, moto_registry, read_env, tmp_path, monkeypatch):  # noqa: F811
    import h5py

    path = _pbmc_path()
    if path is None:
        pytest.fail("scanpy (it ships 10x_pbmc68k_reduced.h5ad) is not installed: run `make install`")
    a = load(
        spark,
        hbase,
        moto_registry,
        tmp_path,
        "va",
        input_uri=path,
        group_by="bulk_labels",
        h5ad_matrix="raw.X",
    )
    with h5py.File(path, "r") as f:
        obs = f["obs"][()]
        cats = [c.decode() for c in f["uns/bulk_labels_categories"][()]]
        labels = [cats[c] for c in obs["bulk_labels"]]
        genes = [v.decode() for v in f["raw.var"][()]["index"]]
    groups = [g["group"] for g in a["manifest"]["groups"]]
    moto_registry.switch("pbmc", "va", 0)

    monkeypatch.setattr(h.CACHE, "ttl", 0.2)
    probe = genes[:40]
    group = groups[0]

    def matches(body: dict, version: dict) -> bool:
        if body["stat"] == "mean" and "values" in body:
            return all(
                body["values"][g] == [version["views"]["mean"].get((grp, g), 0.0) for grp in groups]
                for g in probe
            )
        col = sorted(
            ((g, v) for (grp, g), v in version["views"]["fraction"].items() if grp == group),
            key=lambda t: (-t[1], t[0]),
        )[:50]
        return [(r["gene"], r["value"]) for r in body["genes"]] == col

    answers: list[tuple[int, dict]] = []
    stop = threading.Event()

    def reader() -> None:  # one reader, as one Lambda container serves one request at a time
        while not stop.is_set():
            answers.append(call("/datasets/pbmc/slice", stat="mean", gene=probe)[:2])
            answers.append(call("/datasets/pbmc/top", stat="fraction", group=group, n="50")[:2])
            time.sleep(0.02)  # leave the cores to Spark and the bulk load

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    try:
        rng = np.random.default_rng(8)
        dense = (rng.random((len(labels), len(genes))) < 0.2) * rng.integers(1, 6, (len(labels), len(genes)))
        cells = [f"b{k}" for k in range(len(labels))]
        write_csv(str(tmp_path / "b.csv"), dense.astype(float), cells, genes)
        write_meta(str(tmp_path / "b_cells.csv"), cells, labels)
        b = load(
            spark,
            hbase,
            moto_registry,
            tmp_path,
            "vb",
            input_uri=str(tmp_path / "b.csv"),
            metadata_uri=str(tmp_path / "b_cells.csv"),
            group_by="cluster",
        )
        assert [g["group"] for g in b["manifest"]["groups"]] == groups
        seen_before = len(answers)
        moto_registry.switch("pbmc", "vb", 1)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(
            body.get("version") == "vb" for _, body in answers[-4:]
        ):
            time.sleep(0.1)
        time.sleep(1.0)
    finally:
        stop.set()
        thread.join(timeout=30)
    versions = {"va": a, "vb": b}
    assert seen_before > 0 and len(answers) > seen_before
    for status, body in answers:
        assert status == 200, body
        assert matches(body, versions[body["version"]]), body["version"]
    assert {body["version"] for _, body in answers} == {"va", "vb"}
    # once a reader saw B it never went back to A (the cache only ever lags, by at most its TTL)
    first_b = next(k for k, (_, body) in enumerate(answers) if body["version"] == "vb")
    assert all(body["version"] == "vb" for _, body in answers[first_b:])
    conn = hbase.connection()
    for version in versions.values():
        for table in version["tables"].values():
            drop_table(conn, table)
    conn.close()
