"""Aggregate a canonical dataset into per-(group, gene) statistic views and an HBase-ready export.

Usage (spark-submit entry point; paths may be local, ``hdfs://`` or ``s3://``)::

    spark-submit jobs/widematrix/aggregate.py --dataset <dataset dir> --group-by <metadata column> \\
        [--stats mean,fraction,variance,std,median[,q25,q75,trimmed_mean,count]] [--trim 0.25] \\
        --output <views dir> [--overwrite] [--hbase-export | --no-hbase-export] \\
        [--kms-key-arn ARN] [--allowed-buckets b1,b2]

``--hbase-export`` (the default) also writes the HBase-ready export below; ``--no-hbase-export``
(alias ``--no-hbase``) writes the statistic views only.

Statistics (exact, every cell of the group counted, zeros included without being stored):
``mean``, ``fraction`` (share of cells with value > 0), ``variance`` (sample, ddof=1), ``std``,
``median`` (as numpy.median), ``q25``/``q75`` (numpy.quantile, linear), ``trimmed_mean``
(scipy.stats.trim_mean with ``--trim``), ``count`` (cells with value > 0). The default is
``mean,fraction,variance,std,median``. Cells whose group value is null are left out (counted in
the manifest).

Output (``<views dir>``)::

    <stat>/part-*.parquet     group string, gene string, value double; one file per gene block;
                              rows whose value is 0 are omitted (variance/std of a one-cell
                              group are written as NaN); block b (``part-<b, 5 digits>``) holds
                              the genes of index b * G to (b + 1) * G - 1, G being the
                              manifest's ``blocks.genes``
    groups/                   group string, group_index int, cells long
    hbase/gene_major/         row_key = gene, qualifier = "<stat>|<group>", value double
    hbase/group_major/        row_key = "<group>|<stat>", qualifier = gene, value double
                              (both sorted by row_key, qualifier: Spark's string order is the
                              unsigned UTF-8 byte order HBase uses)
    manifest.json             dataset checksum, group-by column, groups and sizes, row counts

While it reads, the job holds a lease on the dataset (``<dataset>/_readers/<run id>.json``, see
``commit``), so an ingest ``--overwrite`` cannot remove the files under it; it reads the version
the dataset's manifest names (``data_dir``). Its own ``--overwrite`` is write-then-switch too
(the views then sit in ``_v-<id>/``, named by the views manifest's ``data_dir``).
``--kms-key-arn``/``--allowed-buckets`` restrict ``s3://`` outputs as for ingest (``outputs``).

How it runs: one Spark stage, one task per gene block (a few million stored values each, at
least one block per core). A task reads its genes' entries straight from the matrix files with
pyarrow, using the row groups' gene min/max to skip the rest (ingest writes each file gene-major),
tags each entry with its cell's group, computes every statistic with numpy
(``stats.block_stats``) and writes one Parquet file per statistic. There is no shuffle, no row
per stored value ever exists in Spark, and nothing proportional to the matrix reaches the driver
(it holds one group code per cell, the gene names and the group list, and gets back row counts).

Exit status: 0 on success, 2 on bad input (unknown column or statistic, unfinished dataset), 1 otherwise.
"""

import argparse
import datetime
import math
import os
import sys
import uuid
from typing import Any, Dict, List, Optional, Sequence

if __name__ == "__main__" and not __package__:  # spark-submit runs this file as a script
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from widematrix.aggregate import main as _script_main

    sys.exit(_script_main(sys.argv[1:], script_mode=True))

import numpy as np
import pandas as pd
import pyarrow as pa
from pyspark.sql import SparkSession
from pyspark.sql import functions as F  # noqa: N812

from . import cli, commit, fsio, jobgroup, outputs, worker
from .blocks import make_block_task
from .dataset import write_small_table
from .errors import InputError, unwrap
from .stats import DEFAULT_STATS, STATS

FORMAT_VERSION = 1
KIND = "widematrix-views"
SEP = "|"
HBASE_SINGLE_FILE_ROWS = 500_000


def parse_stats(text: Optional[str]) -> List[str]:
    if not text:
        return list(DEFAULT_STATS)
    wanted = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in wanted if s not in STATS]
    if unknown or not wanted:
        raise InputError(f"unknown statistic(s) {unknown} in --stats; choose from {', '.join(STATS)}")
    return list(dict.fromkeys(wanted))


TARGET_BLOCK_NNZ = 4_000_000  # stored values per gene block
TARGET_BLOCK_PAIRS = 4_000_000  # groups x genes per gene block


def plan_blocks(n_genes: int, n_groups: int, nnz: int, parallelism: int) -> int:
    """Genes per block: a few million stored values and pairs per block, at least one block per core."""
    n_blocks = min(max(math.ceil(nnz / TARGET_BLOCK_NNZ), parallelism, 1), n_genes)
    block = max(1, math.ceil(n_genes / n_blocks))
    return max(1, min(block, TARGET_BLOCK_PAIRS // max(n_groups, 1)))


def _dictionary_files(fs: fsio.HadoopFS, uri: str) -> List[str]:
    if not fs.exists(uri):
        return []
    return [fsio.join(uri, n) for n, is_dir, _ in fs.listdir(uri) if not is_dir and n.endswith(".parquet")]


def _small_schema(fs: fsio.HadoopFS, uri: str) -> pa.Schema:
    """Schema of a dictionary directory (``cells``, ``genes``), from its first file's footer."""
    files = _dictionary_files(fs, uri)
    if not files:
        raise InputError(f"{uri}: no Parquet files; the dataset is incomplete")
    return fsio.ArrowIO.parquet_file(files[0]).schema_arrow


def _read_small(fs: fsio.HadoopFS, uri: str, columns: List[str]) -> pd.DataFrame:
    """A dictionary-sized table read on the driver (no Spark job): O(cells) or O(genes)."""
    tables = [fsio.ArrowIO.parquet_file(f).read(columns=columns) for f in _dictionary_files(fs, uri)]
    return pa.concat_tables(tables).to_pandas()


def _read_labels(
    spark: SparkSession, fs: fsio.HadoopFS, cells_uri: str, schema: pa.Schema, group_by: str
) -> pd.DataFrame:
    """cell_index and the group-by column as text ("g"; None for null), as Spark's cast to string.

    A text column is read on the driver; other types go through Spark so that numbers and
    booleans are rendered exactly as Spark's ``cast('string')`` does.
    """
    if pa.types.is_string(schema.field(group_by).type) or pa.types.is_large_string(
        schema.field(group_by).type
    ):
        labels = _read_small(fs, cells_uri, ["cell_index", group_by]).rename(columns={group_by: "g"})
        labels["g"] = labels["g"].astype(object).where(labels["g"].notna(), None)
        return labels
    cells = spark.read.parquet(cells_uri)
    return cells.select("cell_index", F.col(group_by).cast("string").alias("g")).toPandas()


def run_aggregate(
    spark: SparkSession,
    dataset: str,
    group_by: str,
    output: str,
    stats: Optional[Sequence[str]] = None,
    trim: float = 0.25,
    overwrite: bool = False,
    hbase: bool = True,
    kms_key_arn: Optional[str] = None,
    allowed_buckets: Optional[Sequence[str]] = None,
) -> Dict[str, Any]:
    """Run the aggregation; returns the views manifest. Bad input raises ``InputError``.

    The dataset is read under a lease (``commit.reading``); ``kms_key_arn`` and
    ``allowed_buckets`` restrict an ``s3://`` output (``outputs.check_output``).
    """
    cli.check_locations(dataset=dataset, output=output)
    fs = fsio.HadoopFS(spark)
    dataset = fs.qualify(dataset).rstrip("/")
    output = fs.qualify(output).rstrip("/")
    outputs.check_output(output, kms_key_arn, allowed_buckets)
    stats = list(stats) if stats else list(DEFAULT_STATS)
    bad = [s for s in stats if s not in STATS]
    if bad:
        raise InputError(f"unknown statistic(s) {bad}; choose from {', '.join(STATS)}")
    if not 0 <= trim < 0.5:
        raise InputError(f"--trim must be in [0, 0.5), not {trim}")
    run_id = f"{spark.sparkContext.applicationId}-{uuid.uuid4().hex[:8]}"
    with commit.reading(fs, dataset, "aggregate", run_id, "widematrix dataset") as manifest:
        return _aggregate(spark, fs, dataset, manifest, group_by, output, stats, trim, overwrite, hbase)


def _aggregate(
    spark: SparkSession,
    fs: fsio.HadoopFS,
    dataset: str,
    manifest: Dict[str, Any],
    group_by: str,
    output: str,
    stats: List[str],
    trim: float,
    overwrite: bool,
    hbase: bool,
) -> Dict[str, Any]:
    timer = fsio.Timer()
    root = commit.data_root(dataset, manifest)  # the version the manifest names
    n_genes = int(manifest["shape"]["genes"])

    cells_uri = fsio.join(root, "cells")
    cells_schema = _small_schema(fs, cells_uri)
    cell_columns = cells_schema.names
    if group_by not in cell_columns:
        choices = [c for c in cell_columns if c != "cell_index"]
        raise InputError(f"unknown --group-by column {group_by!r}; the dataset's cell columns are {choices}")
    labels = _read_labels(spark, fs, cells_uri, cells_schema, group_by)
    valid = labels["g"].notna().to_numpy()
    names = sorted(set(labels["g"][valid].tolist()))
    if not names:
        raise InputError(f"--group-by column {group_by!r} has no non-null values")
    index = {name: k for k, name in enumerate(names)}
    codes = np.full(int(manifest["shape"]["cells"]), -1, dtype=np.int32)
    idx = labels["cell_index"].to_numpy(dtype=np.int64)
    codes[idx[valid]] = np.array([index[g] for g in labels["g"][valid].tolist()], dtype=np.int32)
    sizes = np.bincount(codes[codes >= 0], minlength=len(names)).astype(np.int64)
    genes_uri = fsio.join(root, "genes")
    block_genes = plan_blocks(
        n_genes, len(names), int(manifest["nnz"]), spark.sparkContext.defaultParallelism
    )
    gene_pd = _read_small(fs, genes_uri, ["gene_index", "gene"])
    gene_list = [""] * n_genes
    for k, name in zip(gene_pd["gene_index"].tolist(), gene_pd["gene"].tolist()):  # noqa: B905
        gene_list[int(k)] = name
    shared = spark.sparkContext.broadcast(
        {"codes": codes, "sizes": sizes, "group_names": names, "gene_names": gene_list}
    )
    timer.lap("dictionaries")

    try:
        with (
            jobgroup.JobGroup(spark, f"widematrix aggregate {output}") as group,
            commit.staged_output(fs, output, overwrite, KIND, settle=group.cancel_and_wait) as staged,
        ):
            counts = _write_views(
                spark,
                fs,
                root,
                staged.path,
                stats,
                trim,
                block_genes,
                n_genes,
                shared,
                names,
                sizes,
                hbase,
                timer,
            )
            views_manifest = {
                "kind": KIND,
                "format_version": FORMAT_VERSION,
                "dataset": {
                    "uri": dataset,
                    "source_sha256": manifest.get("source", {}).get("sha256"),
                    "shape": manifest["shape"],
                    "nnz": manifest["nnz"],
                },
                "group_by": group_by,
                "stats": stats,
                "trim": trim,
                "quantile_method": "numpy linear (default); median as numpy.median",
                "variance_ddof": 1,
                "groups": [{"group": g, "cells": int(n)} for g, n in zip(names, sizes)],  # noqa: B905
                "excluded_cells": int((codes < 0).sum()),
                "views": {s: {"path": s, "rows": counts[s]} for s in stats},
                "blocks": {
                    "genes": block_genes,
                    "count": max(1, math.ceil(n_genes / block_genes)),
                    "file": "part-{block:05d}.parquet",
                },
                "zero_rows_omitted": True,
                "hbase": None
                if not hbase
                else {
                    "gene_major": {
                        "path": "hbase/gene_major",
                        "row_key": "gene",
                        "qualifier": f"<stat>{SEP}<group>",
                        "rows": counts["hbase/gene_major"],
                    },
                    "group_major": {
                        "path": "hbase/group_major",
                        "row_key": f"<group>{SEP}<stat>",
                        "qualifier": "gene",
                        "rows": counts["hbase/group_major"],
                    },
                    "family": "s",
                    "value": "double; encode as 8-byte big-endian IEEE-754 (HBase Bytes.toBytes(double))",
                    "sorted_by": ["row_key", "qualifier"],
                },
                "created_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),  # noqa: UP017
                "spark_version": spark.version,
                "timings_s": timer.phases,
            }
            commit.commit(fs, staged, views_manifest)
    except Exception as exc:
        err = unwrap(exc)
        if err is not None and err is not exc:
            raise err from None
        raise
    finally:
        shared.unpersist()
    return views_manifest


def _write_views(
    spark: SparkSession,
    fs: fsio.HadoopFS,
    root: str,
    tmp: str,
    stats: List[str],
    trim: float,
    block_genes: int,
    n_genes: int,
    shared: Any,
    names: List[str],
    sizes: np.ndarray,
    hbase: bool,
    timer: fsio.Timer,
) -> Dict[str, int]:
    groups = pa.table(
        {
            "group_index": pa.array(np.arange(len(names), dtype=np.int32)),
            "group": pa.array(names, pa.string()),
            "cells": pa.array(sizes.astype(np.int64)),
        }
    )
    write_small_table(fs, groups, fsio.join(tmp, "groups"))
    matrix = fsio.join(root, "matrix")
    files = (
        [fsio.join(matrix, n) for n, is_dir, _ in fs.listdir(matrix) if not is_dir and n.endswith(".parquet")]
        if fs.exists(matrix)
        else []
    )
    n_blocks = max(1, math.ceil(n_genes / block_genes))
    task = make_block_task(shared, files, stats, trim, block_genes, n_genes, tmp)
    sc = spark.sparkContext
    sc.setJobDescription("widematrix aggregate: statistics per gene block")
    try:
        done = sc.parallelize(range(n_blocks), n_blocks).mapPartitions(task).collect()
    finally:
        sc.setJobDescription(None)
    counts: Dict[str, int] = {s: 0 for s in stats}
    for _, rows in done:
        for s, n in rows.items():
            counts[s] += n
    timer.lap("reduce")  # the block tasks wrote the views too
    if hbase:
        written = None
        for s in stats:
            one = spark.read.parquet(fsio.join(tmp, s)).select(
                F.lit(s).alias("stat"), "group", "gene", "value"
            )
            written = one if written is None else written.unionByName(one)
        by_gene = written.select(
            F.col("gene").alias("row_key"), F.concat("stat", F.lit(SEP), "group").alias("qualifier"), "value"
        )
        by_group = written.select(
            F.concat("group", F.lit(SEP), "stat").alias("row_key"), F.col("gene").alias("qualifier"), "value"
        )
        total = sum(counts[s] for s in stats)
        for name, df in (("gene_major", by_gene), ("group_major", by_group)):
            path = fsio.join(tmp, "hbase", name)
            df = df.withColumn("family", F.lit("s"))
            if total <= HBASE_SINGLE_FILE_ROWS:  # small: one sorted file, no sampling job
                df = df.coalesce(1).sortWithinPartitions("row_key", "qualifier")
            else:  # range-partitioned global sort: part files are consecutive key ranges
                df = df.orderBy("row_key", "qualifier")
            df.write.parquet(path)
            counts["hbase/" + name] = total
        timer.lap("hbase")
    return counts


EXAMPLE = """\
  spark-submit --deploy-mode cluster --py-files s3://BUCKET/jobs/widematrix.zip \\
      s3://BUCKET/jobs/aggregate.py --dataset s3://LAKE/datasets/brain-2024 --group-by cluster \\
      --stats mean,fraction,median --output s3://LAKE/views/brain-2024-cluster \\
      --kms-key-arn arn:aws:kms:REGION:ACCOUNT:key/ID --allowed-buckets LAKE"""


def build_parser() -> argparse.ArgumentParser:
    p = cli.parser("aggregate.py", "Per-(group, gene) statistics of a dataset.", EXAMPLE)
    p.add_argument("--dataset", required=True, help="dataset directory written by ingest.py")
    p.add_argument("--group-by", required=True, help="cell metadata column to group by")
    p.add_argument("--stats", default=",".join(DEFAULT_STATS), help=f"comma list from: {', '.join(STATS)}")
    p.add_argument("--trim", type=float, default=0.25, help="trimmed_mean: share cut from each end")
    p.add_argument("--output", required=True, help="views directory to create")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace existing views (written beside them, then switched)",
    )
    p.add_argument(
        "--hbase-export",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="write the HBase-ready export under hbase/ (--no-hbase-export skips it)",
    )
    p.add_argument("--no-hbase", dest="hbase_export", action="store_false", help="same as --no-hbase-export")
    outputs.add_arguments(p)
    return p


def main(argv: Optional[List[str]] = None, script_mode: bool = False) -> int:
    """The command line (``spark-submit aggregate.py --help``); returns the exit status."""
    args = build_parser().parse_args(argv)

    def checks() -> None:
        cli.check_locations(dataset=args.dataset, output=args.output)
        parse_stats(args.stats)
        outputs.parse_buckets(args.allowed_buckets)

    def body(spark: SparkSession) -> int:
        if script_mode:  # executors import our modules from a zip the job ships itself
            worker.ship_package(spark)
        manifest = run_aggregate(
            spark,
            args.dataset,
            args.group_by,
            args.output,
            stats=parse_stats(args.stats),
            trim=args.trim,
            overwrite=args.overwrite,
            hbase=args.hbase_export,
            kms_key_arn=args.kms_key_arn,
            allowed_buckets=outputs.parse_buckets(args.allowed_buckets),
        )
        rows = ", ".join(f"{s}={v['rows']}" for s, v in manifest["views"].items())
        print(f"aggregate: wrote {args.output}: {len(manifest['groups'])} groups; rows {rows}")
        return 0

    return cli.run("aggregate", args, checks, body)
