"""One Spark application per upload: ingest, aggregate and the HBase-ready TSV export.

Usage (spark-submit entry point; paths may be local, ``hdfs://`` or ``s3://``)::

    spark-submit jobs/widematrix/pipeline.py --input <matrix> [--metadata <cells.csv>] \\
        --dataset <dataset dir> --group-by <metadata column> [--stats mean,fraction,...] \\
        --output <views dir> --version-id <v...> [--export <dir>] [--overwrite] \\
        [--kms-key-arn ARN] [--allowed-buckets b1,b2]

It runs what ``ingest.py --input --metadata --output <dataset>`` and ``aggregate.py --dataset
--group-by --stats --output`` run, in the same order and with the same checks, in one
application (one start-up, one YARN wait on EMR), then writes the serving export of
``serving`` for the version ``--version-id``::

    <export>/genes/part-*      TSV: gene, version, one column per statistic (see serving)
    <export>/top/part-*        TSV: <stat>|<group>|<rank>, version, gene, value
    <export>/manifest.json     version, stats, groups, row and cell counts per table (written last)

``<export>`` defaults to ``<output>-hbase``. The bulk load (``serving.bulk_load_commands``) reads it.

How the export runs (``servingtasks``): one task per gene block of the views (the aggregate's
``blocks`` in the views manifest; one task over every file for views without it) reads the
block's file of every statistic with pyarrow, places the values with numpy and renders the
block's genes lines (every gene of the block, those with no stored value too); a second stage
keeps each block's best ``TOP_MAX`` per (statistic, group), and after a shuffle of those
candidates by (statistic, group) one task per partition ranks them (value descending, then
gene name in UTF-8 byte order) and renders the top lines. There is no pandas call per gene and
no window sort: the shuffle carries at most ``TOP_MAX`` rows per (statistic, group, block).

Views of at most ``servingtasks.IN_PROCESS_MAX_VALUES`` values (genes x groups x statistics;
50,000 genes x 20 groups x 5 statistics is a quarter of it) skip the Spark jobs: the driver runs
the same block functions in a few threads and writes the part files with pyarrow (``part-*.tsv``;
the Spark route writes ``part-*.txt``). For views that small, the jobs, the shuffle and the cold
Python workers cost several times the work itself.

Exit status: 0 on success, 2 on bad input, 1 otherwise.
"""

import argparse
import json
import os
import sys
from typing import Any, Dict, List, Optional, Sequence

if __name__ == "__main__" and not __package__:  # spark-submit runs this file as a script
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from widematrix.pipeline import main as _script_main

    sys.exit(_script_main(sys.argv[1:], script_mode=True))

import numpy as np
from pyspark.sql import SparkSession

from . import cli, commit, fsio, outputs, serving, servingtasks, worker
from .aggregate import _read_small, parse_stats, run_aggregate
from .errors import InputError
from .ingest import run_ingest

EXPORT_KIND = "widematrix-hbase-export"


def _check_names(kind: str, names: Sequence[str]) -> None:
    bad = next((n for n in names if serving.TSV_FORBIDDEN.search(n)), None)
    if bad is not None:
        raise InputError(
            f"{kind} name {bad!r} holds a tab, newline, carriage return or NUL, which the HBase TSV "
            f"export cannot carry; rename it in the input"
        )


def _view_blocks(
    fs: fsio.HadoopFS, vroot: str, views_manifest: Dict[str, Any], stats: Sequence[str], n_genes: int
) -> List[servingtasks.Block]:
    """The gene blocks of the views (``aggregate``'s ``blocks``); one block of every file without them."""
    layout = views_manifest.get("blocks")
    if layout:
        size, count, pattern = int(layout["genes"]), int(layout["count"]), str(layout["file"])
        return [
            servingtasks.Block(
                b,
                b * size,
                min(n_genes, (b + 1) * size),
                [[fsio.join(vroot, s, pattern.format(block=b))] for s in stats],
            )
            for b in range(count)
        ]
    files = [
        [
            fsio.join(vroot, s, n)
            for n, is_dir, _ in fs.listdir(fsio.join(vroot, s))
            if not is_dir and n.endswith(".parquet")
        ]
        for s in stats
    ]
    return [servingtasks.Block(0, 0, n_genes, files)]


def _export_with_spark(
    spark: SparkSession,
    blocks: List[servingtasks.Block],
    stats: List[str],
    groups: List[str],
    genes: List[str],
    name_rank: np.ndarray,
    version: str,
    top_max: int,
    export: str,
) -> int:
    """The export as Spark tasks (large views): one task per gene block, then a shuffle of the
    top candidates by (statistic, group); returns the top line count."""
    shared = spark.sparkContext.broadcast({"groups": groups, "gene_names": genes, "name_rank": name_rank})
    try:
        ids = spark.range(0, len(blocks), 1, numPartitions=max(1, len(blocks)))
        genes_task = servingtasks.make_genes_task(shared, blocks, stats, version)
        ids.mapInArrow(genes_task, "line string").write.text(fsio.join(export, "genes"))
        candidates = ids.mapInArrow(
            servingtasks.make_candidates_task(shared, blocks, stats, top_max),
            "s int, gi int, g int, value double",
        )
        pairs = len(stats) * len(groups)
        top_task = servingtasks.make_top_task(shared, stats, version, top_max)
        candidates.repartition(
            max(1, min(pairs, spark.sparkContext.defaultParallelism)), "s", "gi"
        ).mapInArrow(top_task, "line string").write.text(fsio.join(export, "top"))
    finally:
        shared.unpersist()
    return int(spark.read.text(fsio.join(export, "top")).count())


def export_serving(
    spark: SparkSession,
    dataset: str,
    views: str,
    export: str,
    version: str,
    overwrite: bool = False,
    in_process_max_values: int = servingtasks.IN_PROCESS_MAX_VALUES,
) -> Dict[str, Any]:
    """Write the TSV export of ``serving`` from a dataset and its views; returns its manifest.

    Views of at most ``in_process_max_values`` values (genes x groups x statistics) are rendered
    by the driver itself (``servingtasks.export_in_process``), larger ones by Spark tasks; both
    write the same lines."""
    serving.check_version_id(version)
    fs = fsio.HadoopFS(spark)
    dataset, views, export = (fs.qualify(u).rstrip("/") for u in (dataset, views, export))
    if fs.exists(export):
        if not overwrite:
            raise InputError(f"{export}: the export exists; pass --overwrite to replace it")
        fs.delete(export)
    data_manifest = fsio.read_manifest(fs, dataset, "widematrix dataset")
    views_manifest = fsio.read_manifest(fs, views, "widematrix views")
    vroot = commit.data_root(views, views_manifest)
    droot = commit.data_root(dataset, data_manifest)
    stats: List[str] = list(views_manifest["stats"])
    groups = [g["group"] for g in views_manifest["groups"]]
    if len(groups) > serving.MAX_GROUPS:
        raise InputError(f"{len(groups)} groups; the serving layout holds at most {serving.MAX_GROUPS - 1}")
    _check_names("group", groups)
    gene_pd = _read_small(fs, fsio.join(droot, "genes"), ["gene_index", "gene"])
    genes = [""] * len(gene_pd)
    for k, name in zip(gene_pd["gene_index"].tolist(), gene_pd["gene"].tolist()):  # noqa: B905
        genes[int(k)] = name  # in gene index order: the views' gene blocks are index ranges
    _check_names("gene", genes)
    top_max = int(serving.TOP_MAX)
    blocks = _view_blocks(fs, vroot, views_manifest, stats, len(genes))
    name_rank = np.empty(len(genes), dtype=np.int64)
    # the top table's tie rule: gene name ascending in UTF-8 byte order, which is code point order
    name_rank[sorted(range(len(genes)), key=genes.__getitem__)] = np.arange(len(genes))
    if len(genes) * len(groups) * len(stats) <= in_process_max_values:
        n_top = servingtasks.export_in_process(
            blocks,
            stats,
            groups,
            genes,
            name_rank,
            version,
            top_max,
            fsio.join(export, "genes"),
            fsio.join(export, "top"),
            threads=min(8, max(2, os.cpu_count() or 2)),  # the driver's cores, not the cluster's
        )
    else:
        n_top = _export_with_spark(spark, blocks, stats, groups, genes, name_rank, version, top_max, export)
    manifest = {
        "kind": EXPORT_KIND,
        "version": version,
        "dataset": dataset,
        "views": views,
        "source_sha256": data_manifest.get("source", {}).get("sha256"),
        "group_by": views_manifest["group_by"],
        "stats": stats,
        "groups": views_manifest["groups"],
        "genes": len(genes),
        "top_max": serving.TOP_MAX,
        "tables": {
            "genes": {
                "path": "genes",
                "columns": serving.tsv_columns("genes", stats),
                "rows": len(genes),
                "cells": len(genes) * (1 + len(stats)),
            },
            "top": {
                "path": "top",
                "columns": serving.tsv_columns("top", stats),
                "rows": n_top,
                "cells": 3 * n_top,
            },
        },
    }
    fs.write_bytes(fsio.join(export, "manifest.json"), json.dumps(manifest, indent=1).encode("utf-8"))
    return manifest


def run_pipeline(
    spark: SparkSession,
    input_uri: str,
    dataset: str,
    group_by: str,
    output: str,
    version: str,
    metadata_uri: Optional[str] = None,
    stats: Optional[Sequence[str]] = None,
    export: Optional[str] = None,
    overwrite: bool = False,
    kms_key_arn: Optional[str] = None,
    allowed_buckets: Optional[Sequence[str]] = None,
    h5ad_matrix: str = "X",
) -> Dict[str, Any]:
    """Ingest, aggregate (statistic views only) and export; returns the export manifest."""
    serving.check_version_id(version)
    export = export or output.rstrip("/") + "-hbase"
    cli.check_locations(input=input_uri, metadata=metadata_uri, dataset=dataset, output=output, export=export)
    outputs.check_output(export, kms_key_arn, allowed_buckets)
    run_ingest(
        spark,
        input_uri,
        dataset,
        metadata_uri=metadata_uri,
        overwrite=overwrite,
        kms_key_arn=kms_key_arn,
        allowed_buckets=allowed_buckets,
        h5ad_matrix=h5ad_matrix,
    )
    run_aggregate(
        spark,
        dataset,
        group_by,
        output,
        stats=stats,
        overwrite=overwrite,
        hbase=False,
        kms_key_arn=kms_key_arn,
        allowed_buckets=allowed_buckets,
    )
    return export_serving(spark, dataset, output, export, version, overwrite=overwrite)


EXAMPLE = """\
  spark-submit --deploy-mode cluster --py-files s3://BUCKET/jobs/widematrix.zip \\
      s3://BUCKET/jobs/pipeline.py --input s3://LAKE/raw/export.zip \\
      --dataset s3://LAKE/datasets/brain-2024/v20240501a --group-by cluster \\
      --output s3://LAKE/views/brain-2024/v20240501a --version-id v20240501a"""


def build_parser() -> argparse.ArgumentParser:
    p = cli.parser(
        "pipeline.py", "Ingest, aggregate and export a matrix for HBase in one application.", EXAMPLE
    )
    p.add_argument(
        "--input", required=True, help="wide CSV[.gz], ZIP, 10x .h5, .h5ad, or a Matrix Market dir"
    )
    p.add_argument("--metadata", help="cell metadata CSV; first column is the cell id")
    p.add_argument("--dataset", required=True, help="dataset directory to create (ingest's --output)")
    p.add_argument("--group-by", required=True, help="cell metadata column to group by")
    p.add_argument("--stats", default=None, help="comma list of statistics (aggregate's --stats)")
    p.add_argument("--output", required=True, help="views directory to create (aggregate's --output)")
    p.add_argument(
        "--version-id", required=True, help="dataset version id stamped on every row (v + [a-z0-9])"
    )
    p.add_argument("--export", default=None, help="HBase TSV export directory (default: <output>-hbase)")
    p.add_argument("--h5ad-matrix", default="X", help="h5ad input: X, raw.X or layers/<name>")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    outputs.add_arguments(p)
    return p


def main(argv: Optional[List[str]] = None, script_mode: bool = False) -> int:
    """The command line (``spark-submit pipeline.py --help``); returns the exit status."""
    args = build_parser().parse_args(argv)

    def checks() -> None:
        cli.check_locations(
            input=args.input,
            metadata=args.metadata,
            dataset=args.dataset,
            output=args.output,
            export=args.export,
        )
        parse_stats(args.stats)
        outputs.parse_buckets(args.allowed_buckets)
        try:
            serving.check_version_id(args.version_id)
        except ValueError as exc:
            raise InputError(f"--version-id: {exc}") from None

    def body(spark: SparkSession) -> int:
        if script_mode:
            worker.ship_package(spark)
        manifest = run_pipeline(
            spark,
            args.input,
            args.dataset,
            args.group_by,
            args.output,
            args.version_id,
            metadata_uri=args.metadata,
            stats=parse_stats(args.stats),
            export=args.export,
            overwrite=args.overwrite,
            kms_key_arn=args.kms_key_arn,
            allowed_buckets=outputs.parse_buckets(args.allowed_buckets),
            h5ad_matrix=args.h5ad_matrix,
        )
        t = manifest["tables"]
        print(
            f"pipeline: version {manifest['version']}: "
            f"{t['genes']['rows']} gene rows, {t['top']['rows']} top rows"
        )
        return 0

    return cli.run("pipeline", args, checks, body)
