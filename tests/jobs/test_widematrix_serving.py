"""pipeline.py (ingest + aggregate + HBase TSV export in one application) and the real bulk load:
ImportTsv -Dimporttsv.bulk.output then BulkLoadHFilesTool into a version's tables on the HBase
fixture, read back through happybase and compared with the aggregate's own views."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest

from emr_patterns.jobs.widematrix import pipeline, serving
from tests.jobs.test_widematrix_jobs import GENES, write_csv, write_meta
from tests.widematrix._hbase import bulk_load, drop_table

pytestmark = pytest.mark.spark


def views_frame(views_dir: str, stat: str) -> dict[tuple[str, str], float]:
    df = pd.read_parquet(os.path.join(views_dir, stat))
    return {(g, n): v for g, n, v in zip(df["group"], df["gene"], df["value"], strict=True)}


@pytest.fixture(scope="module")
def loaded(spark, hbase, tmp_path_factory):
    rng = np.random.default_rng(5)
    tmp = tmp_path_factory.mktemp("serving")
    n = 24
    dense = (rng.random((n, len(GENES))) < 0.6) * rng.integers(1, 9, (n, len(GENES))).astype(float)
    dense[:, 4] = 0  # a gene zero everywhere: still a row, all zeros
    cells = [f"c{k}" for k in range(n)]
    labels = ["A"] * 8 + ["B|x"] * 8 + ["groupé"] * 7 + ["solo"]
    write_csv(str(tmp / "m.csv"), dense, cells, GENES)
    write_meta(str(tmp / "cells.csv"), cells, labels)
    stats = ["mean", "fraction", "median", "variance"]
    manifest = pipeline.run_pipeline(
        spark,
        str(tmp / "m.csv"),
        str(tmp / "ds"),
        "cluster",
        str(tmp / "views"),
        "v1a",
        metadata_uri=str(tmp / "cells.csv"),
        stats=stats,
    )
    tables = bulk_load(hbase, str(tmp / "views-hbase"), "unit", "v1a", tmp)
    yield {"manifest": manifest, "tables": tables, "views": str(tmp / "views"), "stats": stats, "tmp": tmp}
    conn = hbase.connection()
    for table in tables.values():
        drop_table(conn, table)
    conn.close()


def test_export_manifest_counts(loaded):
    m = loaded["manifest"]
    assert m["version"] == "v1a" and m["stats"] == loaded["stats"]
    assert m["tables"]["genes"]["rows"] == len(GENES)
    export = loaded["tmp"] / "views-hbase"
    lines = sum(len(p.read_text().splitlines()) for p in (export / "genes").glob("part-*"))
    assert lines == len(GENES)
    assert (
        json.loads((export / "manifest.json").read_text())["tables"]["top"]["rows"]
        == m["tables"]["top"]["rows"]
    )


def test_genes_table_read_back_equals_the_aggregate(loaded, hbase):
    m = loaded["manifest"]
    groups = [g["group"] for g in m["groups"]]
    conn = hbase.connection()
    try:
        table = conn.table(loaded["tables"]["genes"])
        rows = dict(table.scan())
        assert sorted(k.decode() for k in rows) == sorted(GENES)
        for stat in loaded["stats"]:
            want = views_frame(loaded["views"], stat)
            for gene in GENES:
                row = rows[gene.encode()]
                assert row[b"s:_v"] == b"v1a"
                got = serving.decode_vector(row[f"s:{stat}".encode()], len(groups))
                for group, value in zip(groups, got, strict=True):
                    expected = want.get((group, gene), 0.0)
                    if np.isnan(expected):
                        assert np.isnan(value), (stat, gene, group)
                    else:
                        assert value == expected, (stat, gene, group)  # exact: text round trip
    finally:
        conn.close()


def test_top_table_ranks_by_value_then_gene(loaded, hbase):
    m = loaded["manifest"]
    groups = [g["group"] for g in m["groups"]]
    want = views_frame(loaded["views"], "mean")
    conn = hbase.connection()
    try:
        table = conn.table(loaded["tables"]["top"])
        gi = groups.index("B|x")
        got = [
            (r[b"s:g"].decode(), float(r[b"s:v"]))
            for _, r in table.scan(row_prefix=serving.top_prefix("mean", gi).encode())
        ]
        expected = sorted(
            ((g, v) for (grp, g), v in want.items() if grp == "B|x"), key=lambda t: (-t[1], t[0])
        )
        assert got == expected
        assert m["tables"]["top"]["rows"] == sum(1 for _ in table.scan())
    finally:
        conn.close()


def test_bulk_load_commands_are_the_emr_step_arguments():
    cmds = serving.bulk_load_commands("genes", ["mean"], "wm_d_v1_genes", "s3://b/e/genes", "s3://b/h")
    assert cmds[0][:2] == ["hbase", "importtsv"]
    assert "-Dimporttsv.columns=HBASE_ROW_KEY,s:_v,s:mean" in cmds[0]
    assert "-Dimporttsv.bulk.output=s3://b/h" in cmds[0]
    assert cmds[0][-2:] == ["wm_d_v1_genes", "s3://b/e/genes"]
    assert cmds[1] == ["hbase", "completebulkload", "s3://b/h", "wm_d_v1_genes"]


def test_tab_in_a_group_name_is_refused(spark, tmp_path):
    cells = ["a", "b"]
    write_csv(str(tmp_path / "m.csv"), np.ones((2, len(GENES))), cells, GENES)
    (tmp_path / "cells.csv").write_text('cell_id,cluster\na,"x\ty"\nb,z\n')
    from emr_patterns.jobs.widematrix.errors import InputError

    with pytest.raises(InputError, match="tab"):
        pipeline.run_pipeline(
            spark,
            str(tmp_path / "m.csv"),
            str(tmp_path / "ds"),
            "cluster",
            str(tmp_path / "v"),
            "v1",
            metadata_uri=str(tmp_path / "cells.csv"),
        )
