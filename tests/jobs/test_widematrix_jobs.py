"""End-to-end tests of the wide-matrix ingest and aggregate jobs on local Spark.

Every expected value comes from an independent numpy/scipy computation on the dense matrix
written in this file; the jobs never see a dense matrix.
"""

import glob
import gzip
import importlib.util
import json
import os
import warnings
import zipfile

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import scipy.stats

from emr_patterns.jobs.widematrix import aggregate, ingest, readers
from emr_patterns.jobs.widematrix.stats import STATS

pytestmark = pytest.mark.spark

GENES = ["Gad1", "a,b", 'say "hi"', "Ménage-à-trois", "zero_everywhere", "Sst"]


def reference(dense, labels, trim=0.25):
    """{stat: {(group, gene): value}} computed with numpy/scipy; zeros kept, NaN where numpy gives NaN."""
    names = GENES if dense.shape[1] == len(GENES) else [f"g{k}" for k in range(dense.shape[1])]
    out = {s: {} for s in STATS}
    for group in sorted(set(labels)):
        x = dense[np.array(labels) == group].astype(np.float64)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            var = np.var(x, axis=0, ddof=1)
        for j, gene in enumerate(names):
            col = x[:, j]
            vals = {
                "mean": col.mean(),
                "fraction": (col > 0).mean(),
                "variance": var[j],
                "std": np.sqrt(var[j]),
                "median": np.median(col),
                "q25": np.quantile(col, 0.25),
                "q75": np.quantile(col, 0.75),
                "trimmed_mean": scipy.stats.trim_mean(col, trim),
                "count": float((col > 0).sum()),
            }
            for s, v in vals.items():
                out[s][(str(group), gene)] = v
    return out


def read_view(path):
    df = pd.read_parquet(path)
    assert list(df.columns) == ["group", "gene", "value"]
    assert df["value"].dtype == np.float64
    return {(g, n): v for g, n, v in zip(df["group"], df["gene"], df["value"], strict=True)}


def assert_views(views_dir, want, stats, rel=1e-12):
    for s in stats:
        got = read_view(os.path.join(views_dir, s))
        assert all(v != 0 for v in got.values()), f"{s}: zero rows must be omitted"
        for key, expected in want[s].items():
            if np.isnan(expected):
                assert key in got and np.isnan(got[key]), (s, key)
            elif expected == 0:
                assert key not in got, (s, key, got.get(key))
            else:
                assert got[key] == pytest.approx(expected, rel=rel, abs=1e-12), (s, key)
        assert set(got) <= set(want[s]), s


def write_csv(path, dense, cells, genes, compress=False):
    def q(text):
        return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"') else text

    body = "cell_id," + ",".join(q(g) for g in genes) + "\n"
    for cid, row in zip(cells, dense, strict=True):
        body += q(cid) + "," + ",".join(f"{v:g}" for v in row) + "\n"
    if compress:
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.write(body)
    else:
        with open(path, "w", encoding="utf-8") as f:
            f.write(body)


def write_meta(path, cells, labels, extra=None):
    rows = ["cell_id,cluster,batch"] + [
        f'"{c}",{lab},b{k % 2}' for k, (c, lab) in enumerate(zip(cells, labels, strict=True))
    ]
    rows += extra or []
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(rows) + "\n")


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    """30 cells x 6 genes built for the edge cases, plus metadata."""
    rng = np.random.default_rng(11)
    tmp = tmp_path_factory.mktemp("wide")
    n = 30
    dense = (rng.random((n, len(GENES))) < 0.5) * rng.integers(1, 4, (n, len(GENES))).astype(float)
    dense[:, 2] *= 0.5  # non-integer values
    dense[:, 4] = 0  # a gene that is zero everywhere
    labels = ["A"] * 10 + ["B"] * 9 + ["solo"] + ["empty"] * 4 + ["ties"] * 6
    dense[20:24] = 0  # an all-zero group
    dense[24:30, 0] = [0, 2, 2, 2, 5, 0]  # ties at the median, even count (6 cells)
    dense[0:10, 5] = [0, 0, 0, 0, 1, 1, 1, 3, 3, 9]  # even count, median between 1 and 1
    cells = [f"cell,{k}" if k % 7 == 0 else f"c{k}é" for k in range(n)]
    csv_path = str(tmp / "matrix.csv")
    write_csv(csv_path, dense, cells, GENES)
    meta_path = str(tmp / "cells.csv")
    write_meta(meta_path, cells, labels)
    return {"dense": dense, "cells": cells, "labels": labels, "csv": csv_path, "meta": meta_path, "tmp": tmp}


@pytest.fixture(scope="module")
def synthetic_views(spark, synthetic):
    ds = str(synthetic["tmp"] / "ds")
    views = str(synthetic["tmp"] / "views")
    manifest = ingest.run_ingest(spark, synthetic["csv"], ds, metadata_uri=synthetic["meta"])
    vm = aggregate.run_aggregate(spark, ds, "cluster", views, stats=list(STATS))
    return {"ds": ds, "views": views, "manifest": manifest, "views_manifest": vm}


def test_ingest_writes_the_canonical_dataset(spark, synthetic, synthetic_views):
    ds = synthetic_views["ds"]
    dense = synthetic["dense"]
    with open(os.path.join(ds, "manifest.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    assert manifest == synthetic_views["manifest"]
    assert manifest["shape"] == {"cells": 30, "genes": 6}
    assert manifest["nnz"] == int((dense != 0).sum())
    assert manifest["value_type"] == "float32"
    assert manifest["integer_valued"] is False
    assert len(manifest["source"]["sha256"]) == 64
    m = pd.read_parquet(os.path.join(ds, "matrix"))
    assert (m["value"] != 0).all()
    rebuilt = sp.coo_matrix((m["value"], (m["cell"], m["gene"])), shape=dense.shape).toarray()
    np.testing.assert_array_equal(rebuilt, dense)
    cells = pd.read_parquet(os.path.join(ds, "cells")).sort_values("cell_index")
    assert cells["cell_id"].tolist() == synthetic["cells"]
    assert cells["cluster"].tolist() == synthetic["labels"]
    assert list(cells.columns) == ["cell_index", "cell_id", "cluster", "batch"]
    genes = pd.read_parquet(os.path.join(ds, "genes")).sort_values("gene_index")
    assert genes["gene"].tolist() == GENES
    leftovers = [n for n in os.listdir(synthetic["tmp"]) if n.startswith("_")]
    assert leftovers == []


def test_aggregate_equals_numpy_for_every_statistic(synthetic, synthetic_views):
    want = reference(synthetic["dense"], synthetic["labels"])
    assert_views(synthetic_views["views"], want, STATS)
    vm = synthetic_views["views_manifest"]
    assert {g["group"]: g["cells"] for g in vm["groups"]} == {
        "A": 10,
        "B": 9,
        "solo": 1,
        "empty": 4,
        "ties": 6,
    }
    groups = pd.read_parquet(os.path.join(synthetic_views["views"], "groups"))
    assert dict(zip(groups["group"], groups["cells"], strict=True)) == {
        "A": 10,
        "B": 9,
        "solo": 1,
        "empty": 4,
        "ties": 6,
    }
    # explicit edge cases
    median = read_view(os.path.join(synthetic_views["views"], "median"))
    assert median[("ties", "Gad1")] == 2.0
    assert median[("A", "Sst")] == 1.0
    assert not any(k[1] == "zero_everywhere" for k in median)
    assert not any(k[0] == "empty" for k in median)
    variance = read_view(os.path.join(synthetic_views["views"], "variance"))
    assert all(np.isnan(variance[("solo", g)]) for g in GENES)


def test_hbase_export_is_sorted_and_keyed(synthetic_views):
    root = os.path.join(synthetic_views["views"], "hbase")
    gene_major = pd.read_parquet(os.path.join(root, "gene_major"))
    keys = list(
        zip(gene_major["row_key"].map(str.encode), gene_major["qualifier"].map(str.encode), strict=True)
    )
    assert keys == sorted(keys)  # unsigned byte order, as HBase compares
    assert set(gene_major["family"]) == {"s"}
    mean = read_view(os.path.join(synthetic_views["views"], "mean"))
    rows = gene_major[gene_major["qualifier"].str.startswith("mean|")]
    assert {
        (q.split("|", 1)[1], r): v
        for r, q, v in zip(rows["row_key"], rows["qualifier"], rows["value"], strict=True)
    } == mean
    group_major = pd.read_parquet(os.path.join(root, "group_major"))
    keys = list(
        zip(group_major["row_key"].map(str.encode), group_major["qualifier"].map(str.encode), strict=True)
    )
    assert keys == sorted(keys)
    assert (
        len(group_major)
        == len(gene_major)
        == sum(v["rows"] for v in synthetic_views["views_manifest"]["views"].values())
    )
    assert "ties|median" in set(group_major["row_key"])


def test_views_manifest_counts_every_written_row(synthetic_views):
    """Row counts come from the reduce tasks (no counting job); they must match the files."""
    vm = synthetic_views["views_manifest"]
    for stat, view in vm["views"].items():
        written = pd.read_parquet(os.path.join(synthetic_views["views"], view["path"]))
        assert len(written) == view["rows"], stat
    assert vm["views"]["variance"]["rows"] > 0


def test_zip_and_gzip_inputs_give_the_same_dataset(spark, synthetic, synthetic_views, tmp_path):
    zpath = str(tmp_path / "source.zip")
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(synthetic["csv"], "export/matrix.csv")
        z.write(synthetic["meta"], "export/metadata.csv")
        z.writestr("export/README.txt", "not a matrix")
    gz = str(tmp_path / "matrix.csv.gz")
    write_csv(gz, synthetic["dense"], synthetic["cells"], GENES, compress=True)
    base = pd.read_parquet(os.path.join(synthetic_views["ds"], "matrix")).sort_values(["cell", "gene"])
    for src, meta in ((zpath, None), (gz, synthetic["meta"])):
        out = str(tmp_path / ("ds-" + os.path.basename(src)))
        manifest = ingest.run_ingest(spark, src, out, metadata_uri=meta)
        got = pd.read_parquet(os.path.join(out, "matrix")).sort_values(["cell", "gene"])
        np.testing.assert_array_equal(got.to_numpy(), base.to_numpy())
        cells = pd.read_parquet(os.path.join(out, "cells")).sort_values("cell_index")
        assert cells["cluster"].tolist() == synthetic["labels"]
        assert manifest["nnz"] == synthetic_views["manifest"]["nnz"]
    assert manifest["source"]["format"] == "csv"


def _write_h5ad(path, m, obs_index, obs_cols, var_index):
    import h5py

    sdt = h5py.string_dtype("utf-8")
    with h5py.File(path, "w") as f:
        x = f.create_group("X")
        x.attrs.update(
            {"encoding-type": "csr_matrix", "encoding-version": "0.1.0", "shape": np.array(m.shape)}
        )
        x.create_dataset("data", data=m.data)
        x.create_dataset("indices", data=m.indices)
        x.create_dataset("indptr", data=m.indptr)
        for name, index, cols in (("obs", obs_index, obs_cols), ("var", var_index, {})):
            g = f.create_group(name)
            g.attrs.update({"encoding-type": "dataframe", "encoding-version": "0.2.0", "_index": "_index"})
            g.attrs["column-order"] = (
                np.array(list(cols), dtype=object).astype(sdt) if cols else np.array([], dtype=sdt)
            )
            g.create_dataset("_index", data=np.array(index, dtype=object), dtype=sdt)
            for col, (codes, cats) in cols.items():
                c = g.create_group(col)
                c.attrs.update(
                    {"encoding-type": "categorical", "encoding-version": "0.2.0", "ordered": False}
                )
                c.create_dataset("codes", data=np.array(codes, dtype=np.int8))
                c.create_dataset("categories", data=np.array(cats, dtype=object), dtype=sdt)


def test_h5ad_column_of_unknown_encoding_is_named_in_the_manifest(spark, tmp_path):
    import h5py

    dense = np.eye(4, 3, dtype=np.float32) + 1
    path = str(tmp_path / "odd.h5ad")
    _write_h5ad(
        path,
        sp.csr_matrix(dense),
        [f"c{k}" for k in range(4)],
        {"kind": ([0, 1, 0, 1], ["a", "b"])},
        ["g0", "g1", "g2"],
    )
    with h5py.File(path, "a") as f:  # a column in an encoding the reader does not know
        obs = f["obs"]
        odd = obs.create_group("nested")
        odd.attrs["encoding-type"] = "awkward-array"
        odd.create_dataset("values", data=np.arange(4))
        sdt = h5py.string_dtype("utf-8")
        obs.attrs["column-order"] = np.array(["kind", "nested"], dtype=object).astype(sdt)
    src = readers.read_h5ad(path, path)
    try:
        assert src.skipped_columns == ["obs.nested (awkward-array)"]
        assert "nested" not in src.cells.columns and "kind" in src.cells.columns
    finally:
        src.close()
    manifest = ingest.run_ingest(spark, path, str(tmp_path / "ds"))
    assert any("obs.nested (awkward-array)" in w and "left out" in w for w in manifest["warnings"])


def test_h5ad_10x_h5_and_matrix_market_inputs(spark, tmp_path):
    import h5py

    rng = np.random.default_rng(5)
    dense = (rng.random((25, 7)) < 0.4) * rng.integers(1, 6, (25, 7)).astype(np.float32)
    m = sp.csr_matrix(dense)
    cells = [f"BC{k:02d}-1" for k in range(25)]
    genes = [f"g{k}" for k in range(7)]
    codes = rng.integers(0, 3, 25)
    labels = [["x", "y", "z"][c] for c in codes]
    want = reference(dense, labels)

    h5ad = str(tmp_path / "cells.h5ad")
    _write_h5ad(h5ad, m, cells, {"leiden": (codes, ["x", "y", "z"])}, genes)
    tenx = str(tmp_path / "filtered_feature_bc_matrix.h5")
    csc = sp.csc_matrix(dense.T.astype(np.int32))  # genes x cells, one column per cell
    with h5py.File(tenx, "w") as f:
        g = f.create_group("matrix")
        g.create_dataset("barcodes", data=np.array(cells, dtype="S"))
        g.create_dataset("data", data=csc.data)
        g.create_dataset("indices", data=csc.indices)
        g.create_dataset("indptr", data=csc.indptr)
        g.create_dataset("shape", data=np.array(csc.shape))
        feats = g.create_group("features")
        feats.create_dataset("id", data=np.array([f"ENSG{k}" for k in range(7)], dtype="S"))
        feats.create_dataset("name", data=np.array(genes, dtype="S"))
        feats.create_dataset("feature_type", data=np.array(["Gene Expression"] * 7, dtype="S"))
    mtx_dir = tmp_path / "mtx"
    mtx_dir.mkdir()
    coo = sp.coo_matrix(dense.T)  # 10x orientation: features are rows
    lines = ["%%MatrixMarket matrix coordinate integer general", "% written by the test", f"7 25 {coo.nnz}"]
    lines += [f"{i + 1} {j + 1} {int(v)}" for i, j, v in zip(coo.row, coo.col, coo.data, strict=True)]
    with gzip.open(mtx_dir / "matrix.mtx.gz", "wt") as f:
        f.write("\n".join(lines) + "\n")
    with gzip.open(mtx_dir / "barcodes.tsv.gz", "wt") as f:
        f.write("\n".join(cells) + "\n")
    with gzip.open(mtx_dir / "features.tsv.gz", "wt") as f:
        f.write("\n".join(f"ENSG{k}\t{g}\tGene Expression" for k, g in enumerate(genes)) + "\n")
    meta = str(tmp_path / "meta.csv")
    with open(meta, "w") as f:
        f.write("barcode,leiden\n" + "".join(f"{c},{lab}\n" for c, lab in zip(cells, labels, strict=True)))

    for src, metadata in ((h5ad, None), (tenx, meta), (str(mtx_dir), meta)):
        ds = str(tmp_path / ("ds-" + os.path.basename(src)))
        manifest = ingest.run_ingest(spark, src, ds, metadata_uri=metadata)
        assert manifest["shape"] == {"cells": 25, "genes": 7}
        assert manifest["integer_valued"] is True
        got = pd.read_parquet(os.path.join(ds, "matrix"))
        for part in sorted(glob.glob(os.path.join(ds, "matrix", "*.parquet"))):  # every format: gene-major
            keys = pd.read_parquet(part)[["gene", "cell"]].to_numpy()
            assert [tuple(k) for k in keys] == sorted(tuple(k) for k in keys), part
        rebuilt = sp.coo_matrix((got["value"], (got["cell"], got["gene"])), shape=(25, 7)).toarray()
        np.testing.assert_array_equal(rebuilt, dense)
        views = str(tmp_path / ("views-" + os.path.basename(src)))
        aggregate.run_aggregate(spark, ds, "leiden", views, stats=["mean", "median", "q75"], hbase=False)
        assert_views(views, want, ["mean", "median", "q75"])
    genes_tbl = pd.read_parquet(os.path.join(str(tmp_path / "ds-filtered_feature_bc_matrix.h5"), "genes"))
    assert set(genes_tbl.columns) >= {"gene_index", "gene", "gene_id", "feature_type"}


def _pbmc_path():
    spec = importlib.util.find_spec("scanpy")  # locates the wheel's data without importing scanpy
    if spec is None or not spec.submodule_search_locations:
        return None
    path = os.path.join(next(iter(spec.submodule_search_locations)), "datasets", "10x_pbmc68k_reduced.h5ad")
    return path if os.path.exists(path) else None


def test_real_pbmc68k_matrix_shipped_in_the_scanpy_wheel(spark, tmp_path):
    """700 PBMCs x 765 genes (log-normalised raw.X, legacy anndata layout) grouped by cell type."""
    import h5py

    path = _pbmc_path()
    if path is None:
        pytest.fail(
            "scanpy, which ships 10x_pbmc68k_reduced.h5ad in its wheel, is not installed: run `make install` "
            "(it installs scanpy without its dependencies, only for this file)"
        )
    with h5py.File(path, "r") as f:
        g = f["raw.X"]
        m = sp.csr_matrix(
            (g["data"][()], g["indices"][()], g["indptr"][()]), shape=tuple(g.attrs["h5sparse_shape"])
        )
        obs = f["obs"][()]
        cats = [c.decode() for c in f["uns/bulk_labels_categories"][()]]
        labels = [cats[c] for c in obs["bulk_labels"]]
        genes = [v.decode() for v in f["raw.var"][()]["index"]]
    dense = m.toarray()
    ds, views = str(tmp_path / "ds"), str(tmp_path / "views")
    manifest = ingest.run_ingest(spark, path, ds, h5ad_matrix="raw.X")
    assert manifest["shape"] == {"cells": 700, "genes": 765}
    assert manifest["nnz"] == m.nnz
    aggregate.run_aggregate(spark, ds, "bulk_labels", views, stats=list(STATS), hbase=False)
    want = {s: {} for s in STATS}
    for group in sorted(set(labels)):
        x = dense[np.array(labels) == group].astype(np.float64)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            per = {
                "mean": x.mean(0),
                "fraction": (x > 0).mean(0),
                "variance": np.var(x, 0, ddof=1),
                "std": np.std(x, 0, ddof=1),
                "median": np.median(x, 0),
                "q25": np.quantile(x, 0.25, axis=0),
                "q75": np.quantile(x, 0.75, axis=0),
                "trimmed_mean": scipy.stats.trim_mean(x, 0.25, axis=0),
                "count": (x > 0).sum(0).astype(float),
            }
        for s, arr in per.items():
            for j, gene in enumerate(genes):
                want[s][(group, gene)] = arr[j]
    assert_views(views, want, STATS, rel=1e-9)
    median = read_view(os.path.join(views, "median"))
    assert len(median) > 100  # a real matrix: many nonzero medians


def test_csv_split_across_many_tasks_keeps_file_order(spark, synthetic, synthetic_views, tmp_path):
    """Tiny input splits: cell indices must still follow file order across split boundaries."""
    from emr_patterns.jobs.widematrix import fsio

    out = str(tmp_path / "split-ds")
    with fsio.spark_conf(
        spark, {"spark.sql.files.maxPartitionBytes": "97", "spark.sql.files.openCostInBytes": "1"}
    ):
        manifest = ingest.run_ingest(spark, synthetic["csv"], out, metadata_uri=synthetic["meta"])
    assert manifest["nnz"] == synthetic_views["manifest"]["nnz"]
    assert len([n for n in os.listdir(os.path.join(out, "matrix")) if n.endswith(".parquet")]) > 3
    got = pd.read_parquet(os.path.join(out, "matrix")).sort_values(["cell", "gene"])
    base = pd.read_parquet(os.path.join(synthetic_views["ds"], "matrix")).sort_values(["cell", "gene"])
    np.testing.assert_array_equal(got.to_numpy(), base.to_numpy())
    cells = pd.read_parquet(os.path.join(out, "cells")).sort_values("cell_index")
    assert cells["cell_id"].tolist() == synthetic["cells"]
