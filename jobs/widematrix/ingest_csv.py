"""Wide CSV input (plain or compressed): byte-range splits that the Spark tasks read and parse.

The driver reads the header line, plans the splits and checks the cell ids (joining the
metadata) before any value is parsed; the tasks (``csvtasks``) parse and write the matrix files.
"""

import concurrent.futures
from typing import Any, Callable, List, Optional, Tuple

import numpy as np
import pandas as pd
from pyspark.sql import SparkSession

from . import csvparse, csvtasks, fsio
from .csvtasks import NEEDS_FLOAT64, merge_tally
from .dataset import ORDER_WHOLE_CELLS, IngestRequest, MatrixResult
from .errors import InputError, unwrap
from .metadata import attach_metadata, check_cells, gene_table


def ingest(req: IngestRequest, csv_uri: str, checksum: bool) -> MatrixResult:
    """Write the matrix files of the wide CSV ``csv_uri``; with ``checksum``, record its SHA-256
    as the source checksum (a driver-side JVM read, overlapped with the Spark jobs)."""
    fs, timer = req.fs, req.timer
    pending = None
    if checksum:
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
        pending = pool.submit(fs.sha256, csv_uri)
        pool.shutdown(wait=False)
    head = fs.head_lines(csv_uri, 1)
    if not head or not head[0].strip():
        raise InputError(f"{csv_uri}: empty matrix (no header line)")
    _, gene_names = csvparse.split_header(head[0], csv_uri)
    genes = gene_table(gene_names, None, csv_uri)

    def on_cells(found: pd.DataFrame) -> pd.DataFrame:
        check_cells(found, csv_uri)
        joined = attach_metadata(found, req.metadata_uri, req.notes)
        timer.lap("cell_checks")
        return joined

    cells, stored, tally, value_type = write_csv_matrix(
        req.spark, fs, csv_uri, gene_names, req.matrix_dir, req.value_type, on_cells, timer
    )
    req.tally.add(tally)
    timer.lap("matrix")
    if pending is not None:
        req.source["sha256"] = pending.result()
    timer.lap("checksum_wait")
    return MatrixResult(cells, genes, value_type, ORDER_WHOLE_CELLS, "header", nnz=int(stored or 0))


def run_tasks(spark: SparkSession, description: str, fn: Any, tasks: List[Any]) -> List[Any]:
    """One Spark stage, one task per item, results collected (small: counts and ids)."""
    sc = spark.sparkContext
    sc.setJobDescription(description)
    try:
        return sc.parallelize(tasks, max(1, len(tasks))).mapPartitions(fn).collect()
    finally:
        sc.setJobDescription(None)


def write_csv_matrix(
    spark: SparkSession,
    fs: fsio.HadoopFS,
    uri: str,
    gene_names: List[str],
    matrix_dir: str,
    value_type: str,
    on_cells: Callable[[pd.DataFrame], pd.DataFrame],
    timer: fsio.Timer,
) -> Tuple[pd.DataFrame, int, Tuple[float, int], str]:
    """Write the matrix files of a wide CSV; returns (cells, stored values, tally, value type).

    Plain text: pass 1 reads every split and returns its line count and cell ids (O(cells) to
    the driver), ``on_cells`` checks them (and joins metadata) before any parsing; pass 2 parses
    each split with its first cell index and line number known and writes one matrix file per
    split. Compressed: one task does both in a single stream and ``on_cells`` runs afterwards.
    ``auto`` stores float32 and redoes the parse as float64 if a value needs it.
    """
    compression = csvtasks.compression_of(uri)
    chosen = "auto32" if value_type == "auto" else value_type
    cells: Optional[pd.DataFrame] = None
    tasks: List[Tuple[int, int, int, int, int]] = []  # pass 2 of a plain CSV
    if compression is None:
        max_split = _bytes_conf(spark, "spark.sql.files.maxPartitionBytes", 128 << 20)
        splits = csvtasks.plan_splits(fs.size(uri), max_split, spark.sparkContext.defaultParallelism)
        scanned = run_tasks(
            spark,
            "widematrix ingest: cell ids",
            csvtasks.make_csv_scanner(uri, uri),
            [(k, a, b) for k, (a, b) in enumerate(splits)],
        )
        tasks, ids = csvtasks.number_splits(uri, splits, scanned)
        timer.lap("cell_ids")
        cells = on_cells(_cells_frame(uri, ids))

    def write(vt: str) -> Tuple[int, Tuple[float, int], Optional[List[str]]]:
        if compression is None:
            done = run_tasks(
                spark,
                "widematrix ingest: parse",
                csvtasks.make_csv_parser(uri, uri, gene_names, matrix_dir, vt),
                tasks,
            )
            tally = (0.0, 0)
            for _, _, t in done:
                tally = merge_tally(tally, t)
            return sum(n for _, n, _ in done), tally, None
        ((got, stored, tally),) = run_tasks(
            spark,
            "widematrix ingest: parse (compressed: one task)",
            csvtasks.make_csv_streamer(uri, uri, compression, gene_names, matrix_dir, vt),
            [0],
        )
        return stored, tally, got

    try:
        stored, tally, streamed = write(chosen)
        stored_type = "float64" if chosen == "float64" else "float32"
    except Exception as exc:
        err = unwrap(exc)
        if err is None or NEEDS_FLOAT64 not in str(err):
            raise
        fs.delete(matrix_dir)
        stored, tally, streamed = write("float64")
        stored_type = "float64"
    if cells is None:
        timer.lap("matrix")  # the one streaming task parsed and wrote before the ids were known
        cells = on_cells(_cells_frame(uri, streamed or []))
    return cells, stored, tally, stored_type


def _sql_state_built(spark: SparkSession) -> bool:
    """Whether the session's SQL state exists (the JVM field of its ``lazy val sessionState``).

    ``spark.conf`` builds it on first use (about 1.5 s of CPU on a cold JVM), which a CSV
    ingest needs for nothing else. When it cannot be told, say yes (read ``spark.conf``).
    """
    try:
        jss = spark._jsparkSession
        field = jss.getClass().getDeclaredField("sessionState")
        field.setAccessible(True)
        return field.get(jss) is not None
    except Exception:
        return True


def _bytes_conf(spark: SparkSession, key: str, default: int) -> int:
    """A size setting as Spark reads it ("128m", "134217728b", "1g").

    The session's value (``spark.conf``, which includes ``spark.conf.set`` calls) once its SQL
    state exists; before that, the application's ``SparkConf``, from which that state would be
    initialised, so the value is the same.
    """
    if _sql_state_built(spark):
        text = spark.conf.get(key, None)
    else:
        text = spark.sparkContext.getConf().get(key, None)
    if not text:
        return default
    return int(spark.sparkContext._jvm.org.apache.spark.network.util.JavaUtils.byteStringAsBytes(str(text)))


def _cells_frame(uri: str, ids: List[str]) -> pd.DataFrame:
    if not ids:
        raise InputError(f"{uri}: empty matrix (a header but no cell rows)")
    return pd.DataFrame(
        {"cell_index": np.arange(len(ids), dtype=np.int32), "cell_id": pd.Series(ids, dtype=object)}
    )
