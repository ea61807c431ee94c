"""Aggregate a canonical dataset into per-(group, gene) statistic views and an HBase-ready export.

Usage (spark-submit entry point; paths may be local, ``hdfs://`` or ``s3://``)::

    spark-submit jobs/widematrix/aggregate.py --dataset <dataset dir> --group-by <metadata column> \\
        [--stats mean,fraction,variance,std,median[,q25,q75,trimmed_mean,count]] [--trim 0.25] \\
        --output <views dir> [--overwrite] [--hbase-export | --no-hbase-export]

``--hbase-export`` (the default) also writes the HBase-ready export below; ``--no-hbase-export``
(alias ``--no-hbase``) writes the statistic views only.

Statistics (exact, every cell of the group counted, zeros included without being stored):
``mean``, ``fraction`` (share of cells with value > 0), ``variance`` (sample, ddof=1), ``std``,
``median`` (as numpy.median), ``q25``/``q75`` (numpy.quantile, linear), ``trimmed_mean``
(scipy.stats.trim_mean with ``--trim``), ``count`` (cells with value > 0). The default is
``mean,fraction,variance,std,median``. Cells whose group value is null are left out (counted in
the manifest).

Output (``<views dir>``)::

    <stat>/part-*.parquet     group string, gene string, value double; rows whose value is 0 are
                              omitted (variance/std of a one-cell group are written as NaN)
    groups/                   group string, group_index int, cells long
    hbase/gene_major/         row_key = gene, qualifier = "<stat>|<group>", value double
    hbase/group_major/        row_key = "<group>|<stat>", qualifier = gene, value double
                              (both sorted by row_key, qualifier: Spark's string order is the
                              unsigned UTF-8 byte order HBase uses)
    manifest.json             dataset checksum, group-by column, groups and sizes, row counts

How it runs: each dataset file is read whole (Spark ``binaryFile``) and decoded with pyarrow
inside ``mapInArrow``; its entries are tagged with their cell's group and cut into gene blocks,
each (file, block) piece travelling as one packed binary row. One shuffle brings each block's
pieces to one partition, where ``stats.block_stats`` computes every statistic with numpy and
emits the nonzero view rows, written by Spark partitioned by statistic. No row per stored value
ever exists in Spark, and nothing proportional to the matrix reaches the driver (it holds one
group code per cell, the gene names and the group list).

Exit status: 0 on success, 2 on bad input (unknown column or statistic, unfinished dataset), 1 otherwise.
"""

import argparse
import datetime
import math
import os
import sys
from typing import Any, Dict, Iterator, List, Optional, Sequence

if __name__ == "__main__" and not __package__:  # spark-submit runs this file as a script
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from widematrix.aggregate import main as _script_main

    sys.exit(_script_main(sys.argv[1:], script_mode=True))

import numpy as np
import pandas as pd
import pyarrow as pa
from pyspark.accumulators import AccumulatorParam
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F  # noqa: N812

from . import fsio
from .errors import InputError, unwrap
from .ingest import write_small_table
from .stats import DEFAULT_STATS, STATS, block_stats

FORMAT_VERSION = 1
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
    """Genes per block: a few million stored values and pairs per block, >= 2 blocks per core."""
    n_blocks = min(max(math.ceil(nnz / TARGET_BLOCK_NNZ), 2 * parallelism, 1), n_genes)
    block = max(1, math.ceil(n_genes / n_blocks))
    return max(1, min(block, TARGET_BLOCK_PAIRS // max(n_groups, 1)))


def _mix_k1(k: int) -> int:
    k = (k * 0xCC9E2D51) & 0xFFFFFFFF
    k = ((k << 15) | (k >> 17)) & 0xFFFFFFFF
    return (k * 0x1B873593) & 0xFFFFFFFF


def _mix_h1(h: int, k: int) -> int:
    h ^= k
    h = ((h << 13) | (h >> 19)) & 0xFFFFFFFF
    return (h * 5 + 0xE6546B64) & 0xFFFFFFFF


def spark_hash_long(value: int, seed: int = 42) -> int:
    """Spark's ``hash(<bigint>)``: Murmur3_x86_32.hashLong, as a signed 32-bit int."""
    value &= 0xFFFFFFFFFFFFFFFF
    h = _mix_h1(seed, _mix_k1(value & 0xFFFFFFFF))
    h = _mix_h1(h, _mix_k1(value >> 32))
    h ^= 8
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & 0xFFFFFFFF
    h ^= h >> 16
    return h - (1 << 32) if h >= (1 << 31) else h


def partition_keys(n: int) -> List[int]:
    """For each block b a long k_b with pmod(hash(k_b), n) == b, so ``repartition(n, key)`` sends
    block b alone to partition b (HashPartitioning is Murmur3 seed 42 + pmod, as SQL ``hash``).
    Only balance depends on this; any mapping keeps each block whole in one partition."""
    keys: Dict[int, int] = {}
    k = 0
    while len(keys) < n and k < 100 * n + 1000:
        keys.setdefault(spark_hash_long(k) % n, k)
        k += 1
    return [keys.get(b, b) for b in range(n)]


def make_splitter(shared: Any, block_genes: int, n_genes: int, n_groups: int):
    """Stage 1 ``mapInArrow``: whole Parquet files -> one packed row per (file, gene block).

    Each row carries the block's entries as three raw little-endian arrays (group code and gene
    offset within the block, both uint16 when they fit, and the value), so the shuffle moves a
    few large rows instead of one row per value.
    """

    n_blocks = max(1, math.ceil(n_genes / block_genes))
    block_dtype = np.uint8 if n_blocks <= 255 else np.int16 if n_blocks <= 32767 else np.int32
    small_groups = n_groups <= 65535
    small_blocks = block_genes <= 65535

    def split(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        import pyarrow.parquet as pq

        codes = shared.value["codes"]
        for batch in batches:
            contents = batch.column("content")
            for i in range(batch.num_rows):
                table = pq.read_table(
                    pa.BufferReader(contents[i].as_buffer()), columns=["cell", "gene", "value"]
                )
                cells = table.column("cell").to_numpy()
                genes = table.column("gene").to_numpy()
                values = table.column("value").to_numpy()
                grp = codes[cells]
                if (grp < 0).any():
                    keep = grp >= 0
                    grp, genes, values = grp[keep], genes[keep], values[keep]
                block = (genes // block_genes).astype(block_dtype)  # small ints: argsort is a radix sort
                if block.size == 0:
                    continue
                order = np.argsort(block, kind="stable")
                counts = np.bincount(block, minlength=n_blocks)
                present = np.flatnonzero(counts)
                ends = np.cumsum(counts)
                spans = [(int(ends[k] - counts[k]), int(ends[k])) for k in present.tolist()]
                grp = grp[order].astype(np.uint16 if small_groups else np.int32)
                local = (genes[order] % block_genes).astype(np.uint16 if small_blocks else np.int32)
                values = values[order]
                yield pa.RecordBatch.from_arrays(
                    [
                        pa.array(present.astype(np.int32)),
                        pa.array([grp[a:b].tobytes() for a, b in spans], pa.binary()),
                        pa.array([local[a:b].tobytes() for a, b in spans], pa.binary()),
                        pa.array([values[a:b].tobytes() for a, b in spans], pa.binary()),
                    ],
                    names=["block", "grp", "gene", "value"],
                )

    return split


class _RowCountsParam(AccumulatorParam):
    """{(block, stat): rows}: merging overwrites by key, so a re-run task cannot skew the counts."""

    def zero(self, value: Dict[Any, int]) -> Dict[Any, int]:
        return {}

    def addInPlace(self, a: Dict[Any, int], b: Dict[Any, int]) -> Dict[Any, int]:  # noqa: N802
        a.update(b)
        return a


def make_block_reducer(
    shared: Any,
    stats: Sequence[str],
    trim: float,
    block_genes: int,
    n_genes: int,
    dtype: str,
    n_groups: int,
    row_counts: Any = None,
):
    """Stage 2 ``mapInArrow``: all packed rows of a gene block -> long view rows (stat, group, gene, value).

    Zero values are dropped here; variance/std of one-cell groups are left to the caller (NaN rows
    for every gene, including genes without any stored value). With ``row_counts`` (a
    ``_RowCountsParam`` accumulator) each task reports the rows it emitted per (block, statistic),
    so the views need no counting job afterwards.
    """

    group_dtype = np.uint16 if n_groups <= 65535 else np.int32
    local_dtype = np.uint16 if block_genes <= 65535 else np.int32

    def reduce_blocks(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        data = shared.value
        sizes = data["sizes"]
        group_names = pa.array(data["group_names"], pa.string())
        gene_names = pa.array(data["gene_names"], pa.string())
        pieces: Dict[int, List[Any]] = {}
        for batch in batches:
            blocks = batch.column("block").to_pylist()
            cols = [batch.column(name) for name in ("grp", "gene", "value")]
            for i, b in enumerate(blocks):
                pieces.setdefault(b, []).append([c[i].as_buffer() for c in cols])
        emitted: Dict[Any, int] = {}
        for b in sorted(pieces):
            parts = pieces.pop(b)
            grp = np.concatenate([np.frombuffer(p[0], dtype=group_dtype) for p in parts]).astype(np.int32)
            g0 = b * block_genes
            local = np.concatenate([np.frombuffer(p[1], dtype=local_dtype) for p in parts])
            genes = local.astype(np.int32) + g0
            values = np.concatenate([np.frombuffer(p[2], dtype=dtype) for p in parts])
            g0, g1 = b * block_genes, min(n_genes, (b + 1) * block_genes)
            out = block_stats(grp, genes, values, sizes, g0, g1, stats, trim)
            multi = sizes[out["group"]] > 1
            for stat in stats:
                value = out[stat]
                keep = value != 0
                if stat in ("variance", "std"):
                    keep &= multi
                idx = np.flatnonzero(keep)
                emitted[(b, stat)] = int(idx.size)
                if idx.size == 0:
                    continue
                yield pa.RecordBatch.from_arrays(
                    [
                        pa.array(np.full(idx.size, stat, dtype=object), pa.string()),
                        group_names.take(pa.array(out["group"][idx])),
                        gene_names.take(pa.array(out["gene"][idx])),
                        pa.array(value[idx].astype(np.float64)),
                    ],
                    names=["stat", "group", "gene", "value"],
                )
        if row_counts is not None and emitted:
            row_counts.add(emitted)

    return reduce_blocks


def _small_schema(uri: str) -> Optional[pa.Schema]:
    """Schema of a local dictionary directory (read with pyarrow on the driver); None elsewhere."""
    if not fsio.is_local(uri):
        return None
    import pyarrow.parquet as pq

    try:
        return pq.ParquetDataset(fsio.local_path(uri)).schema
    except (OSError, pa.ArrowException):
        return None


def _read_local(uri: str, columns: List[str]) -> pd.DataFrame:
    import pyarrow.parquet as pq

    return pq.read_table(fsio.local_path(uri), columns=columns).to_pandas()


def _read_labels(
    spark: SparkSession, cells_uri: str, schema: Optional[pa.Schema], group_by: str
) -> pd.DataFrame:
    """cell_index and the group-by column as text ("g"; None for null), as Spark's cast to string.

    A local dictionary whose column is already text is read on the driver; anything else (other
    types keep Spark's string rendering, remote storage) goes through Spark.
    """
    if schema is not None and pa.types.is_string(schema.field(group_by).type):
        labels = _read_local(cells_uri, ["cell_index", group_by]).rename(columns={group_by: "g"})
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
) -> Dict[str, Any]:
    """Run the aggregation; returns the views manifest. Bad input raises ``InputError``."""
    fs = fsio.HadoopFS(spark)
    timer = fsio.Timer()
    dataset = fsio.absolute(dataset).rstrip("/")
    output = fsio.absolute(output).rstrip("/")
    stats = list(stats) if stats else list(DEFAULT_STATS)
    bad = [s for s in stats if s not in STATS]
    if bad:
        raise InputError(f"unknown statistic(s) {bad}; choose from {', '.join(STATS)}")
    if not 0 <= trim < 0.5:
        raise InputError(f"--trim must be in [0, 0.5), not {trim}")
    manifest = fsio.read_manifest(fs, dataset, "widematrix dataset")
    n_genes = int(manifest["shape"]["genes"])

    cells_uri = fsio.join(dataset, "cells")
    cells_schema = _small_schema(cells_uri)
    cells = spark.read.parquet(cells_uri) if cells_schema is None else None
    cell_columns = cells_schema.names if cells_schema is not None else cells.columns
    if group_by not in cell_columns:
        choices = [c for c in cell_columns if c != "cell_index"]
        raise InputError(f"unknown --group-by column {group_by!r}; the dataset's cell columns are {choices}")
    labels = _read_labels(spark, cells_uri, cells_schema, group_by)
    valid = labels["g"].notna().to_numpy()
    names = sorted(set(labels["g"][valid].tolist()))
    if not names:
        raise InputError(f"--group-by column {group_by!r} has no non-null values")
    index = {name: k for k, name in enumerate(names)}
    codes = np.full(int(manifest["shape"]["cells"]), -1, dtype=np.int32)
    idx = labels["cell_index"].to_numpy(dtype=np.int64)
    codes[idx[valid]] = np.array([index[g] for g in labels["g"][valid].tolist()], dtype=np.int32)
    sizes = np.bincount(codes[codes >= 0], minlength=len(names)).astype(np.int64)
    genes_uri = fsio.join(dataset, "genes")
    genes = spark.read.parquet(genes_uri).select("gene_index", "gene")  # lazy: used only for NaN rows
    block_genes = plan_blocks(
        n_genes, len(names), int(manifest["nnz"]), spark.sparkContext.defaultParallelism
    )
    if _small_schema(genes_uri) is not None:  # local dictionary: read on the driver, no Spark job
        gene_pd = _read_local(genes_uri, ["gene_index", "gene"])
    else:
        gene_pd = genes.toPandas()
    gene_list = [""] * n_genes
    for k, name in zip(gene_pd["gene_index"].tolist(), gene_pd["gene"].tolist()):  # noqa: B905
        gene_list[int(k)] = name
    shared = spark.sparkContext.broadcast(
        {"codes": codes, "sizes": sizes, "group_names": names, "gene_names": gene_list}
    )
    timer.lap("dictionaries")

    try:
        with fsio.staged_output(fs, output, overwrite) as tmp:
            counts = _write_views(
                spark,
                fs,
                dataset,
                tmp,
                stats,
                trim,
                block_genes,
                n_genes,
                shared,
                names,
                sizes,
                genes,
                hbase,
                timer,
                manifest["value_type"],
            )
            views_manifest = {
                "kind": "widematrix-views",
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
            fsio.commit(fs, tmp, output, views_manifest)
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
    dataset: str,
    tmp: str,
    stats: List[str],
    trim: float,
    block_genes: int,
    n_genes: int,
    shared: Any,
    names: List[str],
    sizes: np.ndarray,
    genes: DataFrame,
    hbase: bool,
    timer: fsio.Timer,
    value_type: str,
) -> Dict[str, int]:
    groups = pa.table(
        {
            "group_index": pa.array(np.arange(len(names), dtype=np.int32)),
            "group": pa.array(names, pa.string()),
            "cells": pa.array(sizes.astype(np.int64)),
        }
    )
    write_small_table(fs, groups, fsio.join(tmp, "groups"))
    gene_names = genes.select("gene_index", "gene")
    matrix = fsio.join(dataset, "matrix")
    has_files = fs.exists(matrix) and any(n.endswith(".parquet") for n, _, _ in fs.listdir(matrix))
    long_schema = "stat string, group string, gene string, value double"
    row_counts = spark.sparkContext.accumulator({}, _RowCountsParam())
    if has_files:
        n_blocks = math.ceil(n_genes / block_genes)
        keys = partition_keys(n_blocks)
        files = (
            spark.read.format("binaryFile")
            .option("pathGlobFilter", "*.parquet")
            .load(matrix)
            .select("content")
        )
        split = make_splitter(shared, block_genes, n_genes, len(names))
        reducer = make_block_reducer(
            shared, stats, trim, block_genes, n_genes, value_type, len(names), row_counts
        )
        packed = files.mapInArrow(split, "block int, grp binary, gene binary, value binary")
        packed = packed.withColumn("_pk", F.array(*[F.lit(int(k)) for k in keys])[F.col("block")])
        long = packed.repartition(n_blocks, "_pk").drop("_pk").mapInArrow(reducer, long_schema)
    else:  # a matrix with no stored value at all
        long = spark.createDataFrame([], long_schema)
    single = [names[k] for k in range(len(names)) if sizes[k] == 1]
    for s in [s for s in stats if s in ("variance", "std")] if single else []:
        # undefined for a one-cell group: NaN for every gene, as numpy gives
        nan_rows = gene_names.crossJoin(
            F.broadcast(spark.createDataFrame([(g,) for g in single], "group string"))
        ).select(F.lit(s).alias("stat"), "group", "gene", F.lit(float("nan")).alias("value"))
        long = long.unionByName(nan_rows)
    staged = fsio.join(tmp, "_views")
    with fsio.spark_conf(spark, {"spark.sql.execution.arrow.maxRecordsPerBatch": "1"}):
        long.write.partitionBy("stat").parquet(staged)
    timer.lap("reduce")
    counts: Dict[str, int] = {s: 0 for s in stats}
    for (_, s), n in row_counts.value.items():  # reported by the reduce tasks: no counting job
        counts[s] += n
    for s in [s for s in stats if s in ("variance", "std")] if single else []:
        counts[s] += len(single) * n_genes
    for s in stats:
        src = fsio.join(staged, f"stat={s}")
        if fs.exists(src):
            fs.rename(src, fsio.join(tmp, s))
        else:  # every value of this statistic is 0: an empty view
            spark.createDataFrame([], "group string, gene string, value double").write.parquet(
                fsio.join(tmp, s)
            )
    timer.lap("views")
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
            counts["hbase/" + name] = sum(counts[s] for s in stats)
        timer.lap("hbase")
    fs.delete(staged)
    return counts


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="aggregate.py", description="Per-(group, gene) statistics of a dataset.")
    p.add_argument("--dataset", required=True, help="dataset directory written by ingest.py")
    p.add_argument("--group-by", required=True, help="cell metadata column to group by")
    p.add_argument("--stats", default=",".join(DEFAULT_STATS), help=f"comma list from: {', '.join(STATS)}")
    p.add_argument("--trim", type=float, default=0.25, help="trimmed_mean: share cut from each end")
    p.add_argument("--output", required=True, help="views directory to create")
    p.add_argument("--overwrite", action="store_true")
    p.add_argument(
        "--hbase-export",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="write the HBase-ready export under hbase/ (default: on; --no-hbase-export skips it)",
    )
    p.add_argument("--no-hbase", dest="hbase_export", action="store_false", help="same as --no-hbase-export")
    return p


def main(argv: Optional[List[str]] = None, script_mode: bool = False) -> int:
    args = build_parser().parse_args(argv)
    spark = SparkSession.builder.appName("widematrix-aggregate").getOrCreate()
    if script_mode:
        import widematrix
        from pyspark import cloudpickle

        cloudpickle.register_pickle_by_value(widematrix)
    try:
        stats = parse_stats(args.stats)
        manifest = run_aggregate(
            spark,
            args.dataset,
            args.group_by,
            args.output,
            stats=stats,
            trim=args.trim,
            overwrite=args.overwrite,
            hbase=args.hbase_export,
        )
    except InputError as exc:
        print(f"aggregate: error: {exc}", file=sys.stderr)
        return 2
    rows = ", ".join(f"{s}={v['rows']}" for s, v in manifest["views"].items())
    print(f"aggregate: wrote {args.output}: {len(manifest['groups'])} groups; rows {rows}")
    return 0
