"""Wide-matrix benchmark: the blog baseline (per-gene pandas UDFs) vs our jobs vs scipy.

Run: ``.venv/bin/python benchmarks/widematrix.py [--quick] [--tiers small,large] [--no-write]``

Tiers:

* small: 20,000 cells x 1,000 and x 5,000 genes, 20 groups, generated 10x-like counts written as a wide CSV
  plus a metadata CSV. Measured: (a) the blog baseline, as the published write-up built it: wide DataFrame,
  one GROUPED_AGG pandas UDF per gene, 500 columns per batch, mean only; (b) ours: ingest (CSV -> dataset) +
  aggregate (all default statistics, exact median); (c) scipy in memory.
* large: 100,000 x 4,000 (50 groups) and 20,000 x 50,000 (20 groups): ours (aggregate from the
  canonical dataset, which is ingested from an .h5ad written for the purpose) against scipy; the
  baseline is extrapolated from its measured cost per (cell, gene) and labelled so.

Every timed Spark run follows an untimed warm-up in the same session (JIT, Python workers).
Results print as a table and are written to ``benchmarks/RESULTS.md`` (machine, date, Spark).
"""

import argparse
import datetime
import os
import platform
import shutil
import sys
import tempfile
import time
from typing import Any

os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)

import numpy as np
import pandas as pd
import scipy.sparse as sp

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_STATS = ["mean", "fraction", "variance", "std", "median"]


# ------------------------------------------------------------------------------------------------
# data


def generate(
    n_cells: int, n_genes: int, n_groups: int, seed: int = 7, density: float = 0.07
) -> tuple[sp.csr_matrix, np.ndarray]:
    """10x-like counts: per-gene detection rates (lognormal), negative-binomial UMI counts >= 1."""
    rng = np.random.default_rng(seed)
    rate = rng.lognormal(-3.0, 1.2, n_genes)
    rate = np.minimum(rate * density / rate.mean(), 0.9)
    mean_count = 1.0 + 8.0 * rate  # commonly detected genes have higher counts
    r = 2.0
    p_nb = r / (r + mean_count - 1.0)
    chunks = []
    step = max(1, 20_000_000 // n_genes)
    for a in range(0, n_cells, step):
        rows = min(step, n_cells - a)
        cell, gene = np.nonzero(
            rng.random((rows, n_genes), dtype=np.float32) < rate[None, :].astype(np.float32)
        )
        vals = 1 + rng.negative_binomial(r, p_nb[gene])
        chunks.append(sp.csr_matrix((vals.astype(np.float32), (cell, gene)), shape=(rows, n_genes)))
    m = sp.vstack(chunks, format="csr")
    m.sort_indices()
    groups = rng.integers(0, n_groups, n_cells)
    return m, groups


def write_wide_csv(m: sp.csr_matrix, groups: np.ndarray, path: str, meta_path: str) -> None:
    n_cells, n_genes = m.shape
    with open(path, "w") as f:
        f.write("cell_id," + ",".join(f"G{j:05d}" for j in range(n_genes)) + "\n")
        step = max(1, 2_000_000 // n_genes)
        for a in range(0, n_cells, step):
            dense = m[a : a + step].toarray().astype(np.int64)
            f.write(
                "".join(f"c{a + i}," + ",".join(map(str, row)) + "\n" for i, row in enumerate(dense.tolist()))
            )
    with open(meta_path, "w") as f:
        f.write("cell_id,cluster\n")
        f.write("".join(f"c{i},k{g:03d}\n" for i, g in enumerate(groups.tolist())))


def write_h5ad(m: sp.csr_matrix, groups: np.ndarray, path: str) -> None:
    """A minimal AnnData (0.8+ encoding) file written with h5py: CSR X, obs with a cluster column."""
    import h5py

    n_cells, n_genes = m.shape
    str_dt = h5py.string_dtype("utf-8")
    with h5py.File(path, "w") as f:
        x = f.create_group("X")
        x.attrs["encoding-type"] = "csr_matrix"
        x.attrs["encoding-version"] = "0.1.0"
        x.attrs["shape"] = np.array([n_cells, n_genes])
        x.create_dataset("data", data=m.data)
        x.create_dataset("indices", data=m.indices.astype(np.int32))
        x.create_dataset("indptr", data=m.indptr.astype(np.int64))
        for name, index, cols in (
            ("obs", [f"c{i}" for i in range(n_cells)], {"cluster": [f"k{g:03d}" for g in groups.tolist()]}),
            ("var", [f"G{j:05d}" for j in range(n_genes)], {}),
        ):
            g = f.create_group(name)
            g.attrs["encoding-type"] = "dataframe"
            g.attrs["encoding-version"] = "0.2.0"
            g.attrs["_index"] = "_index"
            g.attrs["column-order"] = (
                np.array(list(cols), dtype=object).astype(str_dt) if cols else np.array([], dtype=str_dt)
            )
            g.create_dataset("_index", data=np.array(index, dtype=object), dtype=str_dt)
            for col, values in cols.items():
                g.create_dataset(col, data=np.array(values, dtype=object), dtype=str_dt)


# ------------------------------------------------------------------------------------------------
# (c) scipy reference


def scipy_reference(
    m: sp.csr_matrix, groups: np.ndarray, n_groups: int
) -> tuple[float, dict[str, np.ndarray]]:
    """Group-indicator products for moments; per-(group, gene) sorted nonzeros for exact medians."""
    t0 = time.perf_counter()
    n_cells, n_genes = m.shape
    ind = sp.csr_matrix((np.ones(n_cells), (groups, np.arange(n_cells))), shape=(n_groups, n_cells))
    n = np.asarray(ind.sum(axis=1)).ravel()[:, None]
    s = np.asarray((ind @ m).todense())
    ss = np.asarray((ind @ m.multiply(m)).todense())
    nnz = np.asarray((ind @ (m != 0).astype(np.float64)).todense())
    mean = s / n
    var = (ss - n * mean * mean) / np.maximum(n - 1, 1)
    out = {"mean": mean, "fraction": nnz / n, "variance": var, "std": np.sqrt(np.maximum(var, 0))}
    median = np.zeros((n_groups, n_genes))
    for g in range(n_groups):
        sub = m[groups == g].tocsc()
        ng = sub.shape[0]
        counts = np.diff(sub.indptr)
        need = np.flatnonzero(counts * 2 >= ng)  # the median can be nonzero only here
        for j in need:
            col = np.sort(sub.data[sub.indptr[j] : sub.indptr[j + 1]].astype(np.float64))
            z = ng - col.size
            lo, hi = (ng - 1) // 2, ng // 2
            a = col[lo - z] if lo >= z else 0.0
            b = col[hi - z] if hi >= z else 0.0
            median[g, j] = (a + b) / 2.0
    out["median"] = median
    return time.perf_counter() - t0, out


# ------------------------------------------------------------------------------------------------
# (a) the blog baseline (the published write-up's per-gene pandas UDFs)


def source_approach(spark: Any, csv_path: str, meta_path: str, n_genes: int, batch: int = 500) -> float:
    """The blog's approach: wide DataFrame + one GROUPED_AGG pandas UDF per gene column, mean only."""
    from pyspark.sql import functions as F  # noqa: N812
    from pyspark.sql import types as T  # noqa: N812

    t0 = time.perf_counter()
    schema = T.StructType(
        [T.StructField("cell_id", T.StringType())]
        + [T.StructField(f"G{j:05d}", T.DoubleType()) for j in range(n_genes)]
    )
    matrix = spark.read.csv(csv_path, header=True, schema=schema)
    meta = spark.read.csv(meta_path, header=True)
    joined = matrix.join(meta, "cell_id")

    @F.pandas_udf("double", F.PandasUDFType.GROUPED_AGG)
    def mean_udf(v: pd.Series) -> float:
        return float(v.mean())

    genes = [c for c in matrix.columns if c != "cell_id"]
    for a in range(0, len(genes), batch):
        chunk = genes[a : a + batch]
        aggs = [mean_udf(F.col(f"`{c}`")).alias(c) for c in chunk]
        joined.select("cluster", *chunk).groupBy("cluster").agg(*aggs).collect()
    return time.perf_counter() - t0


# ------------------------------------------------------------------------------------------------
# (b) ours


def ours(
    spark: Any, inp: str, meta: str, work: str, fmt: str = "auto", hbase_run: bool = False
) -> dict[str, Any]:
    """Ingest + aggregate (all default statistics, no HBase export): the end-to-end figure.

    With ``hbase_run`` a second aggregate with the HBase-ready export follows, untimed as a whole;
    its ``hbase`` phase (from the views manifest) is reported separately: the export is not part
    of the "all default statistics" target.
    """
    from emr_patterns.jobs.widematrix import aggregate, ingest

    ds, views = os.path.join(work, "dataset"), os.path.join(work, "views")
    views_h = os.path.join(work, "views_hbase")
    for d in (ds, views, views_h):
        shutil.rmtree(d, ignore_errors=True)
    t0 = time.perf_counter()
    manifest = ingest.run_ingest(spark, inp, ds, metadata_uri=meta, fmt=fmt)
    t1 = time.perf_counter()
    vm = aggregate.run_aggregate(spark, ds, "cluster", views, stats=DEFAULT_STATS, hbase=False)
    t2 = time.perf_counter()
    hbase = float("nan")
    if hbase_run:
        hm = aggregate.run_aggregate(spark, ds, "cluster", views_h, stats=DEFAULT_STATS, hbase=True)
        hbase = hm["timings_s"]["hbase"]
        shutil.rmtree(views_h, ignore_errors=True)
    return {
        "ingest": t1 - t0,
        "aggregate": t2 - t1,
        "hbase": hbase,
        "nnz": manifest["nnz"],
        "views": views,
        "ingest_phases": manifest["timings_s"],
        "aggregate_phases": vm["timings_s"],
    }


WARM_RUNS = 3


def measure(spark: Any, inp: str, meta: str | None, work: str, fmt: str = "auto") -> dict[str, Any]:
    """A first run, then ``WARM_RUNS`` warm runs of ingest + aggregate, then one run with the HBase
    export for its separate figure. Reports the median warm run (by end-to-end time), the range of
    the warm runs and the first run: this 2-core machine is shared, so single runs vary."""
    first = ours(spark, inp, meta, work, fmt=fmt)
    runs = sorted(
        (ours(spark, inp, meta, work, fmt=fmt) for _ in range(WARM_RUNS)),
        key=lambda r: r["ingest"] + r["aggregate"],
    )
    med = dict(runs[len(runs) // 2])
    med["hbase"] = ours(spark, inp, meta, work, fmt=fmt, hbase_run=True)["hbase"]
    totals = [r["ingest"] + r["aggregate"] for r in runs]
    med["range"] = (min(totals), max(totals))
    med["first"] = first["ingest"] + first["aggregate"]
    med["first_aggregate"] = first["aggregate"]
    return med


def check_against(views: str, ref: dict[str, np.ndarray], n_genes: int) -> float:
    """Largest relative difference between our views and the scipy reference (all default stats)."""
    worst = 0.0
    for stat in DEFAULT_STATS:
        df = pd.read_parquet(os.path.join(views, stat))
        got = np.zeros_like(ref[stat])
        gi = df["group"].str[1:].astype(int).to_numpy()
        gj = df["gene"].str[1:].astype(int).to_numpy()
        got[gi, gj] = df["value"].to_numpy()
        want = ref[stat]
        err = np.abs(got - want) / np.maximum(np.abs(want), 1e-9)
        worst = max(worst, float(np.nanmax(np.where(np.abs(got - want) < 1e-9, 0, err))))
    return worst


# ------------------------------------------------------------------------------------------------


def session() -> Any:
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master("local[2]")
        .appName("widematrix-bench")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.driver.memory", "12g")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def machine() -> str:
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB RAM, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small shapes only (a smoke run of every path)")
    p.add_argument("--tiers", default="small,large", help="comma list: small, large")
    p.add_argument("--no-write", action="store_true", help="do not rewrite benchmarks/RESULTS.md")
    p.add_argument("--workdir", default=None)
    args = p.parse_args(argv)
    tiers = set(args.tiers.split(","))
    if args.quick:
        small = [(4000, 300), (4000, 1000)]
        large = [(20000, 1000, 50), (4000, 5000, 20)]
    else:
        small = [(20000, 1000), (20000, 5000)]
        large = [(100000, 4000, 50), (20000, 50000, 20)]
    work = args.workdir or tempfile.mkdtemp(prefix="widematrix-bench-")
    os.makedirs(work, exist_ok=True)
    spark = session()
    rows: list[dict[str, Any]] = []
    per_element = None
    try:
        # warm-up: every path once on a tiny matrix, untimed
        m, g = generate(1000, 200, 5, seed=1)
        write_wide_csv(m, g, os.path.join(work, "warm.csv"), os.path.join(work, "warm_meta.csv"))
        source_approach(spark, os.path.join(work, "warm.csv"), os.path.join(work, "warm_meta.csv"), 200)
        ours(
            spark,
            os.path.join(work, "warm.csv"),
            os.path.join(work, "warm_meta.csv"),
            os.path.join(work, "w"),
            hbase_run=True,
        )

        if "small" in tiers:
            for n_cells, n_genes in small:
                m, g = generate(n_cells, n_genes, 20)
                csv_path, meta_path = os.path.join(work, "m.csv"), os.path.join(work, "meta.csv")
                write_wide_csv(m, g, csv_path, meta_path)
                t_src = source_approach(spark, csv_path, meta_path, n_genes)
                per_element = t_src / (n_cells * n_genes)
                res = measure(spark, csv_path, meta_path, os.path.join(work, "o"))
                rows.append(result_row(m, g, 20, t_src, "measured", res))
        if "large" in tiers:
            for n_cells, n_genes, n_groups in large:
                m, g = generate(n_cells, n_genes, n_groups)
                h5 = os.path.join(work, "big.h5ad")
                write_h5ad(m, g, h5)
                res = measure(spark, h5, None, os.path.join(work, "o"), fmt="h5ad")
                src = per_element * n_cells * n_genes if per_element else float("nan")
                rows.append(result_row(m, g, n_groups, src, "extrapolated", res))
                os.remove(h5)
    finally:
        version = spark.version
        spark.stop()
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    if not args.no_write and not args.quick:
        write_results(rows, version, tiers)
    return 0


def result_row(
    m: sp.csr_matrix, g: np.ndarray, n_groups: int, source: float, source_kind: str, res: dict[str, Any]
) -> dict[str, Any]:
    """One table row: our timings beside the blog baseline and the scipy reference (which is run
    here, and our views checked against it); printed as it is made."""
    t_ref, ref = scipy_reference(m, g, n_groups)
    row = dict(
        shape=f"{m.shape[0]:,} x {m.shape[1]:,}",
        nnz=m.nnz,
        groups=n_groups,
        source=source,
        source_kind=source_kind,
        ingest=res["ingest"],
        aggregate=res["aggregate"],
        hbase=res["hbase"],
        first=res["first"],
        first_aggregate=res["first_aggregate"],
        range=res["range"],
        scipy=t_ref,
        err=check_against(res["views"], ref, m.shape[1]),
        phases=(res["ingest_phases"], res["aggregate_phases"]),
    )
    print_row(row)
    return row


def print_row(r: dict[str, Any]) -> None:
    total = r["ingest"] + r["aggregate"]
    print(
        f"{r['shape']:>18} nnz={r['nnz']:>11,} | baseline({r['source_kind']}) {r['source']:8.1f}s | "
        f"ours ingest {r['ingest']:6.1f}s + aggregate {r['aggregate']:6.1f}s "
        f"(warm runs {r['range'][0]:.1f}-{r['range'][1]:.1f}s) "
        f"(separate hbase export {r['hbase']:.1f}s) | "
        f"scipy {r['scipy']:6.2f}s | baseline/ours {r['source'] / total:6.1f}x "
        f"(first run {r['first']:.1f}s: {r['source'] / r['first']:.1f}x) | "
        f"aggregate/scipy {r['aggregate'] / r['scipy']:5.1f}x "
        f"(first run {r['first_aggregate'] / r['scipy']:.1f}x) | max rel err {r['err']:.1e}",
        flush=True,
    )


def write_results(rows: list[dict[str, Any]], version: str, tiers: Any) -> None:
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Wide-matrix benchmark results",
        "",
        f"- Date: {now}",
        f"- Machine: {machine()}",
        f"- Spark {version}, `local[2]`, driver memory 12g, shuffle partitions 8; numpy {np.__version__}, "
        f"scipy {__import__('scipy').__version__}",
        f"- Tiers run: {', '.join(sorted(tiers))} (command: `.venv/bin/python benchmarks/widematrix.py`)",
        "- Data: generated 10x-like counts (negative-binomial UMI counts, per-gene detection rates), "
        "20 or 50 groups. All runs share one Spark session after an untimed warm-up on a tiny matrix "
        '(every path once). Per shape, ours runs once cold ("first run"), then '
        f"{WARM_RUNS} times warm; the table reports the median warm run (by end-to-end time) and the "
        "range of the warm runs, with the first run beside it. The baseline runs once per "
        "measured shape (about 30 and 100 s).",
        "- Baseline: the blog write-up's design (wide DataFrame, one GROUPED_AGG pandas UDF per gene, 500"
        " columns per batch, **mean only**). Ours: ingest + aggregate computing mean, fraction, variance,"
        " std and exact median (the end-to-end figure; aggregate run with the HBase export off). The "
        "HBase-ready export is timed separately (an extra aggregate run with the export on; its `hbase` "
        "phase) and is not in the end-to-end figure. scipy: single process, in memory, indicator products"
        " + per-(group, gene) "
        "sorted nonzeros for the median.",
        "",
        "| shape (cells x genes) | nnz | groups | baseline (mean only) | ours: ingest | ours: aggregate "
        "(all default stats) | ours end to end (median warm run) | warm runs range | ours first run "
        "(ingest + aggregate) | HBase export (separate) | scipy | baseline / ours end to end (first run) "
        "| ours aggregate / scipy (first run) | max rel. diff vs scipy |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        total = r["ingest"] + r["aggregate"]
        lines.append(
            f"| {r['shape']} | {r['nnz']:,} | {r['groups']} | {r['source']:.1f} s ({r['source_kind']}) | "
            f"{r['ingest']:.1f} s | {r['aggregate']:.1f} s | {total:.1f} s | "
            f"{r['range'][0]:.1f}-{r['range'][1]:.1f} s | {r['first']:.1f} s | "
            f"{r['hbase']:.1f} s | {r['scipy']:.2f} s | {r['source'] / total:.1f}x "
            f"({r['source'] / r['first']:.1f}x) | {r['aggregate'] / r['scipy']:.1f}x "
            f"({r['first_aggregate'] / r['scipy']:.1f}x) | {r['err']:.1e} |"
        )
    lines += ["", "Phase timings (seconds) of the median warm run, from the job manifests:", ""]
    for r in rows:
        lines.append(f"- {r['shape']}: ingest {r['phases'][0]}; aggregate {r['phases'][1]}")
    lines.append("")
    with open(os.path.join(HERE, "RESULTS.md"), "w") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
