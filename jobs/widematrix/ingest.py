"""Ingest a single-cell expression matrix into the canonical sparse dataset.

Usage (spark-submit entry point; every path may be local, ``hdfs://`` or ``s3://``)::

    spark-submit jobs/widematrix/ingest.py --input <path or s3 uri> [--metadata <cells.csv>] \\
        --output <dataset dir> [--format auto|zip|csv|10x-h5|h5ad|mtx] [--overwrite] \\
        [--value-type auto|float32|float64] [--gene-key name|id] [--h5ad-matrix X|raw.X|layers/NAME]

Inputs (``--format auto`` picks by name):

* ``.zip``: the source design's archive: exactly one wide matrix CSV (a member whose name
  contains ``matrix``) and optionally one cell-metadata CSV (a member whose name contains
  ``metadata``, ``cells`` or ``obs``). Streamed member by member through the JVM.
* ``.csv`` / ``.csv.gz``: a wide CSV: header ``<cell id column>,<gene 1>,...,<gene G>`` and one
  row per cell with G finite numbers >= 0. Quoted ids and gene names (commas, quotes, non-ASCII)
  are fine; quoted newlines are not.
* ``.h5``: a 10x Genomics Cell Ranger matrix (``filtered_feature_bc_matrix.h5``, v2 or v3).
* ``.h5ad``: an AnnData file (``--h5ad-matrix`` picks ``X``, ``raw.X`` or a layer); ``obs``
  columns become cell metadata.
* a directory holding ``matrix.mtx[.gz]``, ``barcodes.tsv[.gz]`` and ``features.tsv[.gz]``
  (or ``genes.tsv``): a Matrix Market export, in either orientation.

``--metadata`` is a CSV whose first column is the cell id; all its columns are kept (as strings).
Cells of the matrix missing from it are an error; extra metadata rows are a warning.

Output (``<dataset dir>``)::

    matrix/part-*.parquet   cell int32, gene int32, value float32|float64; nonzeros only; each file
                            a run of whole cells (whole genes for a gene-major HDF5 matrix; a part
                            of the coordinate file for Matrix Market), rows sorted by gene then cell
    cells/   cell_index int32, cell_id string, <metadata columns>
    genes/   gene_index int32, gene string, <feature columns>
    manifest.json                          shape, nnz, value type, source checksum, layout; written last

Exit status: 0 on success, 2 on bad input (the message names file, row, cell or column), 1 otherwise.
"""

import argparse
import concurrent.futures
import csv
import datetime
import logging
import os
import sys
import tempfile
import warnings
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

if __name__ == "__main__" and not __package__:  # spark-submit runs this file as a script
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from widematrix.ingest import main as _script_main

    sys.exit(_script_main(sys.argv[1:], script_mode=True))

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.accumulators import AccumulatorParam
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F  # noqa: N812

from . import csvparse, csvtasks, fsio, readers, worker
from .csvtasks import NEEDS_FLOAT64, merge_tally, tally_of, write_matrix_file
from .errors import InputError, unwrap

LOG = logging.getLogger("widematrix.ingest")
FORMAT_VERSION = 1
CHUNK_NNZ = 4_000_000  # stored values per chunk read from HDF5
MTX_ROW_GROUP_BYTES = 2 << 20  # Spark-written Matrix Market files: about 130,000 entries per row group


# ---------------------------------------------------------------------------------------------
# small pure helpers


def detect_format(fs: fsio.HadoopFS, uri: str) -> str:
    if fs.is_dir(uri):
        return "mtx"
    name = uri.rstrip("/").rsplit("/", 1)[-1].lower()
    for suffix, fmt in ((".zip", "zip"), (".h5ad", "h5ad"), (".h5", "10x-h5"), (".hdf5", "10x-h5")):
        if name.endswith(suffix):
            return fmt
    if name.endswith((".csv", ".csv.gz", ".csv.bz2", ".txt", ".txt.gz")):
        return "csv"
    raise InputError(f"{uri}: cannot tell the input format from the name; pass --format")


def zip_role(member: str) -> Optional[str]:
    """'matrix', 'metadata' or None for a ZIP member name (only CSV members count)."""
    base = member.rsplit("/", 1)[-1].lower()
    if base.startswith(".") or member.startswith("__MACOSX/"):
        return None
    if not base.endswith((".csv", ".csv.gz")):
        return None
    if "matrix" in base:
        return "matrix"
    if any(word in base for word in ("metadata", "cells", "obs")):
        return "metadata"
    return "other"


class _TallyParam(AccumulatorParam):
    """(max value, any non-integer value): both idempotent, so a re-run task cannot skew them."""

    def zero(self, value: Tuple[float, int]) -> Tuple[float, int]:
        return (0.0, 0)

    def addInPlace(self, a: Tuple[float, int], b: Tuple[float, int]) -> Tuple[float, int]:  # noqa: N802
        return (max(a[0], b[0]), max(a[1], b[1]))


# ---------------------------------------------------------------------------------------------
# wide CSV: byte-range splits that the tasks read and parse themselves


def run_tasks(spark: SparkSession, description: str, fn: Any, tasks: List[Any]) -> List[Any]:
    """One Spark stage, one task per item, results collected (small: counts and ids)."""
    sc = spark.sparkContext
    sc.setJobDescription(description)
    try:
        return sc.parallelize(tasks, max(1, len(tasks))).mapPartitions(fn).collect()
    finally:
        sc.setJobDescription(None)


def ingest_csv(
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


def _bytes_conf(spark: SparkSession, key: str, default: int) -> int:
    """A size setting as Spark reads it ("128m", "134217728b", "1g")."""
    text = spark.conf.get(key, None)
    if not text:
        return default
    return int(spark.sparkContext._jvm.org.apache.spark.network.util.JavaUtils.byteStringAsBytes(str(text)))


def _cells_frame(uri: str, ids: List[str]) -> pd.DataFrame:
    if not ids:
        raise InputError(f"{uri}: empty matrix (a header but no cell rows)")
    return pd.DataFrame(
        {"cell_index": np.arange(len(ids), dtype=np.int32), "cell_id": pd.Series(ids, dtype=object)}
    )


# ---------------------------------------------------------------------------------------------
# Matrix Market


def _block_runs(batches: Iterator[pa.RecordBatch]) -> Iterator[Tuple[int, int, pa.Array]]:
    """Split (line, block) batches into runs of one block.

    Yields ``(block, lines of that block seen before this run, the run's lines)``, so a parser
    knows each line's position inside its block however Spark cut the batches.
    """
    seen: Dict[int, int] = {}
    for batch in batches:
        text = batch.column(0)
        blks = batch.column(1).to_numpy()
        if len(blks) == 0:
            continue
        cuts = np.flatnonzero(np.diff(blks)) + 1
        for a, b in zip(np.r_[0, cuts], np.r_[cuts, len(blks)]):  # noqa: B905
            blk = int(blks[a])
            base = seen.get(blk, 0)
            seen[blk] = base + int(b - a)
            yield blk, base, text.slice(int(a), int(b - a))


def make_mtx_parser(
    header_lines: int, first_blk: int, rows: int, cols: int, swap: bool, source: str, dtype: Any, tally: Any
):
    def parse(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        import pyarrow.csv as pacsv

        worker.prepare()
        for blk, base, lines in _block_runs(batches):
            if blk == first_blk and base < header_lines:
                lines = lines.slice(min(header_lines - base, len(lines)))
            if len(lines) == 0:
                continue
            raw = "\n".join(s.strip() for s in lines.to_pylist()).encode("utf-8")
            try:
                tbl = pacsv.read_csv(
                    pa.py_buffer(raw),
                    read_options=pacsv.ReadOptions(column_names=["i", "j", "v"][: 3 if dtype else 2]),
                    parse_options=pacsv.ParseOptions(delimiter=" "),
                    convert_options=pacsv.ConvertOptions(
                        column_types={"i": pa.int64(), "j": pa.int64(), "v": pa.float64()}
                    ),
                )
            except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
                raise InputError(
                    f"{source}: malformed coordinate line ({str(exc).splitlines()[0]})"
                ) from None
            i = tbl.column("i").to_numpy()
            j = tbl.column("j").to_numpy()
            v = tbl.column("v").to_numpy() if dtype else np.ones(len(i))
            bad = (i < 1) | (i > rows) | (j < 1) | (j > cols)
            if bad.any():
                k = int(np.flatnonzero(bad)[0])
                raise InputError(
                    f"{source}: entry ({i[k]}, {j[k]}) is outside the declared {rows} x {cols} shape"
                )
            if not np.isfinite(v).all() or (v < 0).any():
                k = int(np.flatnonzero(~np.isfinite(v) | (v < 0))[0])
                raise InputError(
                    f"{source}: entry ({i[k]}, {j[k]}) has value {v[k]!r}; values must be finite and >= 0"
                )
            nz = v != 0
            tally.add(tally_of(v[nz]))
            r, c = (j[nz] - 1, i[nz] - 1) if swap else (i[nz] - 1, j[nz] - 1)
            yield pa.RecordBatch.from_arrays(
                [
                    pa.array(r.astype(np.int32)),
                    pa.array(c.astype(np.int32)),
                    pa.array(v[nz].astype(dtype or np.float32)),
                ],
                names=["cell", "gene", "value"],
            )

    return parse


def read_lines_ordered(spark: SparkSession, path: str) -> List[str]:
    """All lines of a small text file, in file order (dictionaries such as barcodes.tsv)."""
    df = spark.read.text(path).select("value", F.col("_metadata.file_block_start").alias("blk"))
    df = df.withColumn("mid", F.monotonically_increasing_id()).orderBy("blk", "mid")
    return [v for v in df.select("value").toPandas()["value"].tolist() if v != ""]


# ---------------------------------------------------------------------------------------------
# cells, genes and the matrix layout


def attach_metadata(cells: pd.DataFrame, metadata: Optional[str], warnings_out: List[str]) -> pd.DataFrame:
    """Left-join a metadata CSV (first column = cell id) onto cells; missing cells are an error.

    The metadata is O(cells), like the cells dictionary: the driver reads it (pyarrow's CSV
    reader: quoting, quoted newlines; every column kept as text, empty fields as null) and does
    the checks and the join itself, with no Spark job.
    """
    if not metadata:
        return cells
    meta_pd = read_metadata_csv(metadata)
    columns = [str(c) for c in meta_pd.columns]
    key = columns[0]
    clash = [c for c in columns[1:] if c in cells.columns]
    if clash:
        raise InputError(
            f"{metadata}: metadata columns {clash} clash with columns the matrix already provides"
        )
    meta_pd.columns = ["_meta_key", *columns[1:]]
    keys = meta_pd["_meta_key"]
    dups = keys.duplicated()
    if dups.any():
        raise InputError(f"{metadata}: duplicate cell id {keys[dups].iloc[0]!r} in column {key!r}")
    known = set(keys.dropna().tolist())
    missing = ~cells["cell_id"].isin(known)
    if missing.any():
        examples = cells["cell_id"][missing].head(5).tolist()
        raise InputError(
            f"{metadata}: {int(missing.sum())} cell(s) of the matrix have no metadata row (column {key!r}), "
            f"e.g. {examples}"
        )
    extra = ~keys.isin(set(cells["cell_id"].tolist()))
    if extra.any():
        examples = keys[extra].head(5).tolist()
        msg = (
            f"{metadata}: {int(extra.sum())} metadata row(s) name cells that are not in the matrix and were "
            f"ignored, e.g. {examples}"
        )
        warnings.warn(msg, stacklevel=2)
        LOG.warning(msg)
        warnings_out.append(msg)
    joined = cells.merge(meta_pd, left_on="cell_id", right_on="_meta_key", how="left", sort=False)
    return joined.drop(columns=["_meta_key"]).reset_index(drop=True)


def read_metadata_csv(uri: str) -> pd.DataFrame:
    """A cell-metadata CSV as text columns (None for empty fields), header from the first record."""
    import io

    import pyarrow.csv as pacsv

    with fsio.ArrowIO.open_input(uri) as f:
        raw = f.read()
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        header = next(csv.reader(io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8", newline="")), [])
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{uri}: unreadable metadata CSV ({exc})") from None
    if not header:
        raise InputError(f"{uri}: empty metadata file")
    dups = sorted({c for c in header if header.count(c) > 1})
    if dups or "" in header:
        raise InputError(f"{uri}: metadata header has duplicate or empty column names {dups or ['']}")
    try:
        table = pacsv.read_csv(
            pa.py_buffer(raw),
            read_options=pacsv.ReadOptions(column_names=header, skip_rows=1, block_size=1 << 24),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in header},
                strings_can_be_null=True,
                null_values=[""],
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise InputError(f"{uri}: malformed metadata CSV ({str(exc).splitlines()[0]})") from None
    return table.to_pandas(types_mapper=None).astype(object).where(lambda d: d.notna(), None)


def check_cells(cells: pd.DataFrame, source: str) -> None:
    """An empty or repeated cell id is an error naming the data rows (cells in cell_index order)."""
    ids = cells["cell_id"]
    bad = (ids == "").to_numpy() | ids.duplicated(keep=False).to_numpy()
    if not bad.any():
        return
    k = int(np.flatnonzero(bad)[0])
    index = cells["cell_index"].to_numpy()
    if ids.iloc[k] == "":
        raise InputError(f"{source}: data row {int(index[k]) + 1} has an empty cell id")
    rows = [int(r) + 1 for r in index[(ids == ids.iloc[k]).to_numpy()][:5]]
    raise InputError(f"{source}: duplicate cell id {ids.iloc[k]!r} (data rows {sorted(rows)})")


def cells_table(cells: pd.DataFrame) -> pa.Table:
    """The cells dictionary as Arrow: cell_index int32 first, text columns as strings."""
    arrays, names = [], []
    for name in cells.columns:
        col = cells[name]
        if name == "cell_index":
            arrays.append(pa.array(col.to_numpy(dtype=np.int32)))
        elif col.dtype == object:
            text = [v if isinstance(v, str) else None if pd.isna(v) else str(v) for v in col.tolist()]
            arrays.append(pa.array(text, pa.string()))
        else:
            arrays.append(pa.array(col.to_numpy()))
        names.append(str(name))
    return pa.Table.from_arrays(arrays, names=names)


def gene_table(names: List[str], extra: Optional[pd.DataFrame], source: str) -> pd.DataFrame:
    seen: Dict[str, int] = {}
    for k, name in enumerate(names):
        if name is None or name == "":
            raise InputError(f"{source}: gene {k + 1} has an empty name")
        if name in seen:
            raise InputError(
                f"{source}: duplicate gene name {name!r} (genes {seen[name] + 1} and {k + 1}); "
                "for 10x/Matrix Market inputs --gene-key id uses the unique feature ids instead"
            )
        seen[name] = k
    table = pd.DataFrame(
        {"gene_index": np.arange(len(names), dtype=np.int32), "gene": pd.Series(names, dtype=object)}
    )
    if extra is not None:
        for col in extra.columns:
            if col not in table.columns:
                table[col] = extra[col].to_numpy()
    return table


def check_unique_coordinates(
    spark: SparkSession, matrix: str, swap: bool, source: str, cells: pd.DataFrame, genes: pd.DataFrame
) -> None:
    """A Matrix Market file must list each coordinate once (readers disagree on what a repeat
    means: scipy sums repeats, others keep the last). One aggregation over the written entries;
    the first repeated coordinate is reported as it appears in the file."""
    dup = (
        spark.read.parquet(matrix)
        .groupBy("cell", "gene")
        .count()
        .where(F.col("count") > 1)
        .limit(1)
        .collect()
    )
    if not dup:
        return
    cell, gene, times = int(dup[0]["cell"]), int(dup[0]["gene"]), int(dup[0]["count"])
    row, col = (gene + 1, cell + 1) if swap else (cell + 1, gene + 1)
    raise InputError(
        f"{source}: coordinate ({row}, {col}) is listed {times} times (cell "
        f"{cells['cell_id'].iloc[cell]!r}, gene {genes['gene'].iloc[gene]!r}); each entry must appear once"
    )


def write_matrix(entries: DataFrame, path: str) -> None:
    """Map-only Spark write of parsed Matrix Market entries: one file per task, its rows sorted by
    gene then cell (a per-task sort, no shuffle) in small row groups, so the aggregate's gene-block
    reads can skip row groups as they do for the other formats (10x files list entries cell by
    cell, which would otherwise make every block read every row)."""
    (
        entries.sortWithinPartitions("gene", "cell")
        .write.option("maxRecordsPerFile", 0)
        .option("parquet.block.size", str(MTX_ROW_GROUP_BYTES))
        .parquet(path)
    )


def write_small_table(fs: fsio.HadoopFS, table: pa.Table, directory: str) -> None:
    """Write a dictionary-sized table as one Parquet file from the driver (no Spark job)."""
    local_dir = tempfile.mkdtemp(prefix="widematrix-")
    try:
        local = os.path.join(local_dir, "part-00000.parquet")
        pq.write_table(table, local)
        fs.mkdirs(directory)
        fs.copy_from_local(local, fsio.join(directory, "part-00000.parquet"))
    finally:
        import shutil

        shutil.rmtree(local_dir, ignore_errors=True)


def _has_parquet(fs: fsio.HadoopFS, path: str) -> bool:
    return fs.exists(path) and any(name.endswith(".parquet") for name, _, _ in fs.listdir(path))


def write_python_source(src: readers.SparseSource, target: str, dtype: Any) -> Tuple[float, int]:
    """Stream chunks of an HDF5 source straight into matrix Parquet files (driver-side, no Spark job).

    The calling thread reads chunks (h5py is sequential); a few threads (one per core, at most
    four) check, sort and write earlier chunks meanwhile (numpy's sort and gathers and pyarrow's
    writer release the GIL). Returns (max value, 1 if any value is not an integer).
    """
    n_cells, n_genes = len(src.cells), len(src.genes)

    def check_and_write(k: int, cells: np.ndarray, genes: np.ndarray, vals: np.ndarray) -> Tuple[float, int]:
        if vals.size:
            if vals.dtype.kind == "f" and (not np.isfinite(vals).all() or (vals < 0).any()):
                bad = int(np.flatnonzero(~np.isfinite(vals) | (vals < 0))[0])
                raise InputError(
                    f"cell {src.cells['cell_id'].iloc[int(cells[bad])]!r}, gene "
                    f"{src.genes.iloc[int(genes[bad]), 0]!r}: value {vals[bad]!r}; "
                    "values must be finite and >= 0"
                )
            if vals.dtype.kind == "i" and (vals < 0).any():
                bad = int(np.flatnonzero(vals < 0)[0])
                raise InputError(
                    f"cell index {int(cells[bad])}, gene index {int(genes[bad])}: negative value {vals[bad]}"
                )
            if (cells < 0).any() or (cells >= n_cells).any() or (genes < 0).any() or (genes >= n_genes).any():
                raise InputError("stored index outside the matrix shape")
        nz = vals != 0
        if not nz.all():  # explicit zeros are not stored
            cells, genes, vals = cells[nz], genes[nz], vals[nz]
        write_matrix_file(fsio.join(target, f"part-{k:06d}.parquet"), cells, genes, vals, n_genes, dtype)
        return tally_of(np.asarray(vals, dtype=np.float64))

    tally = (0.0, 0)
    writers = max(1, min(4, os.cpu_count() or 1))
    pending: List[concurrent.futures.Future] = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=writers) as pool:
        for k, (cells, genes, vals) in enumerate(src.chunks(CHUNK_NNZ)):
            pending.append(pool.submit(check_and_write, k, cells, genes, np.asarray(vals)))
            if len(pending) >= writers:  # bounded: at most ``writers`` + 1 chunks in memory
                tally = merge_tally(tally, pending.pop(0).result())
        for job in pending:
            tally = merge_tally(tally, job.result())
    return tally


def _h5_dtype(src: readers.SparseSource, value_type: str) -> Any:
    if value_type == "float32":
        return np.float32
    if value_type == "float64":
        return np.float64
    kind, size = src.dtype.kind, src.dtype.itemsize
    if kind in "iub":
        return np.float32 if size <= 2 else np.float64 if size > 4 else np.float32
    return np.float32 if size <= 4 else np.float64


# ---------------------------------------------------------------------------------------------
# the job


def run_ingest(
    spark: SparkSession,
    input_uri: str,
    output_uri: str,
    metadata_uri: Optional[str] = None,
    fmt: str = "auto",
    overwrite: bool = False,
    value_type: str = "auto",
    gene_key: str = "name",
    h5ad_matrix: str = "X",
) -> Dict[str, Any]:
    """Run the ingest; returns the manifest. Raises ``InputError`` on bad input (no output left)."""
    fs = fsio.HadoopFS(spark)
    input_uri = fs.qualify(input_uri)
    output_uri = fs.qualify(output_uri).rstrip("/")
    metadata_uri = fs.qualify(metadata_uri) if metadata_uri else None
    if not fs.exists(input_uri):
        raise InputError(f"{input_uri}: input does not exist")
    if metadata_uri and not fs.exists(metadata_uri):
        raise InputError(f"{metadata_uri}: metadata file does not exist")
    fmt = detect_format(fs, input_uri) if fmt == "auto" else fmt
    notes: List[str] = []
    try:
        with fsio.staged_output(fs, output_uri, overwrite) as tmp:
            staging = fsio.join(tmp, "_staging")
            manifest = _ingest_into(
                spark,
                fs,
                fmt,
                input_uri,
                metadata_uri,
                tmp,
                staging,
                value_type,
                gene_key,
                h5ad_matrix,
                notes,
            )
            fs.delete(staging)
            fsio.commit(fs, tmp, output_uri, manifest)
    except Exception as exc:
        err = unwrap(exc)
        if err is not None and err is not exc:
            raise err from None
        raise
    return manifest


def _ingest_into(
    spark: SparkSession,
    fs: fsio.HadoopFS,
    fmt: str,
    input_uri: str,
    metadata_uri: Optional[str],
    tmp: str,
    staging: str,
    value_type: str,
    gene_key: str,
    h5ad_matrix: str,
    notes: List[str],
) -> Dict[str, Any]:
    source: Dict[str, Any] = {"uri": input_uri, "format": fmt}
    timer = fsio.Timer()
    tally = spark.sparkContext.accumulator((0.0, 0), _TallyParam())
    if fmt == "zip":
        source["sha256"] = fs.sha256(input_uri)
        extracted = fs.unzip_members(
            input_uri, fsio.join(staging, "zip"), lambda n: zip_role(n) in ("matrix", "metadata")
        )
        matrices = [(n, u) for n, u in extracted if zip_role(n) == "matrix"]
        metas = [(n, u) for n, u in extracted if zip_role(n) == "metadata"]
        if len(matrices) != 1:
            raise InputError(
                f"{input_uri}: a ZIP input must hold exactly one matrix CSV "
                "(a .csv member whose name contains "
                f"'matrix'); found {len(matrices)}: {[n for n, _ in matrices]}"
            )
        if len(metas) > 1:
            raise InputError(f"{input_uri}: more than one metadata CSV in the ZIP: {[n for n, _ in metas]}")
        source["members"] = {"matrix": matrices[0][0], "metadata": metas[0][0] if metas else None}
        csv_uri = matrices[0][1]
        if metas and not metadata_uri:
            metadata_uri = metas[0][1]
        elif metas:
            notes.append(f"--metadata given: ignored {metas[0][0]} inside the ZIP")
        fmt_inner = "csv"
    else:
        csv_uri = input_uri
        fmt_inner = fmt
    if metadata_uri and fmt != "zip":
        source["metadata_uri"] = metadata_uri
    if metadata_uri and not metadata_uri.startswith(staging):
        source["metadata_sha256"] = fs.sha256(metadata_uri)

    genes_extra: Optional[pd.DataFrame] = None
    nnz_hint: Optional[int] = None
    if fmt_inner == "csv":
        checksum = None
        if fmt != "zip":  # a driver-side JVM read, overlapped with the Spark jobs below
            pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
            checksum = pool.submit(fs.sha256, csv_uri)
            pool.shutdown(wait=False)
        head = fs.head_lines(csv_uri, 1)
        if not head or not head[0].strip():
            raise InputError(f"{csv_uri}: empty matrix (no header line)")
        _, gene_names = csvparse.split_header(head[0], csv_uri)
        n_genes = len(gene_names)
        genes_pd = gene_table(gene_names, None, csv_uri)

        def on_cells(found: pd.DataFrame) -> pd.DataFrame:
            check_cells(found, csv_uri)
            joined = attach_metadata(found, metadata_uri, notes)
            timer.lap("cell_checks")
            return joined

        cells, nnz_hint, csv_tally, stored = ingest_csv(
            spark, fs, csv_uri, gene_names, fsio.join(tmp, "matrix"), value_type, on_cells, timer
        )
        tally.add(csv_tally)
        n_cells = len(cells)
        timer.lap("matrix")
        if checksum is not None:
            source["sha256"] = checksum.result()
        timer.lap("checksum_wait")
    elif fmt_inner in ("10x-h5", "h5ad"):
        source["sha256"] = fs.sha256(input_uri)
        local_dir = None
        if fsio.is_local(input_uri):
            local = fsio.local_path(input_uri)
        else:
            local_dir = tempfile.mkdtemp(prefix="widematrix-h5-")
            local = os.path.join(local_dir, input_uri.rsplit("/", 1)[-1])
            fs.copy_to_local(input_uri, local)
        src = (
            readers.read_10x_h5(local, input_uri)
            if fmt_inner == "10x-h5"
            else readers.read_h5ad(local, input_uri, h5ad_matrix)
        )
        try:
            n_cells, n_genes = len(src.cells), len(src.genes)
            if n_cells == 0 or n_genes == 0:
                raise InputError(f"{input_uri}: empty matrix ({n_cells} cells x {n_genes} genes)")
            names, genes_extra = _gene_names(src.genes, gene_key, input_uri)
            genes_pd = gene_table(names, genes_extra, input_uri)
            cells_pd = _clean_cells(src.cells)
            cells = cells_pd.assign(cell_index=np.arange(n_cells, dtype=np.int32))
            cells = cells[["cell_index", *[c for c in cells.columns if c != "cell_index"]]]
            check_cells(cells, input_uri)
            cells = attach_metadata(cells, metadata_uri, notes)
            dtype = _h5_dtype(src, value_type)
            tally.add(write_python_source(src, fsio.join(tmp, "matrix"), dtype))
        finally:
            src.close()
            if local_dir:
                import shutil

                shutil.rmtree(local_dir, ignore_errors=True)
        stored = "float32" if dtype == np.float32 else "float64"
    elif fmt_inner == "mtx":
        names_in_dir = [n for n, is_dir, _ in fs.listdir(input_uri) if not is_dir]
        files = readers.find_mtx_files(names_in_dir)
        if files is None or "barcodes" not in files or "features" not in files:
            raise InputError(
                f"{input_uri}: a Matrix Market directory needs matrix.mtx[.gz], barcodes.tsv[.gz] and "
                f"features.tsv[.gz] (or genes.tsv); found {names_in_dir}"
            )
        uris = {role: fsio.join(input_uri, name) for role, name in files.items()}
        source["files"] = {role: {"name": files[role], "sha256": fs.sha256(u)} for role, u in uris.items()}
        header = readers.parse_mtx_header(
            fs.head_lines(uris["matrix"], 10_000, stop_prefix_not="%"), uris["matrix"]
        )
        barcodes = readers.tsv_frame(read_lines_ordered(spark, uris["barcodes"]), ["cell_id"])
        features = readers.tsv_frame(
            read_lines_ordered(spark, uris["features"]), ["gene_id", "gene_name", "feature_type"]
        )
        if "gene_name" not in features.columns:
            features["gene_name"] = features["gene_id"]
        n_cells, n_genes = len(barcodes), len(features)
        if n_cells == 0 or n_genes == 0:
            raise InputError(f"{input_uri}: empty matrix ({n_cells} barcodes x {n_genes} features)")
        if (header["rows"], header["cols"]) == (n_genes, n_cells):
            swap = True  # 10x orientation: features are rows
        elif (header["rows"], header["cols"]) == (n_cells, n_genes):
            swap = False
        else:
            raise InputError(
                f"{uris['matrix']}: declared shape {header['rows']} x {header['cols']} matches neither "
                f"{n_genes} features x {n_cells} barcodes nor the transpose"
            )
        names, genes_extra = _gene_names(features, gene_key, input_uri)
        genes_pd = gene_table(names, genes_extra, input_uri)
        cells = barcodes.assign(cell_index=np.arange(n_cells, dtype=np.int32))
        cells = cells[["cell_index", *[c for c in cells.columns if c != "cell_index"]]]
        check_cells(cells, uris["barcodes"])
        cells = attach_metadata(cells, metadata_uri, notes)
        dtype = {"integer": np.float32, "pattern": np.float32}.get(header["field"], np.float64)
        if value_type != "auto":
            dtype = np.float32 if value_type == "float32" else np.float64
        text = spark.read.text(uris["matrix"]).select(
            "value", F.col("_metadata.file_block_start").alias("blk")
        )
        text = text.where(F.col("value") != "")
        first_blk = 0
        parser = make_mtx_parser(
            header["header_lines"],
            first_blk,
            header["rows"],
            header["cols"],
            swap,
            uris["matrix"],
            None if header["field"] == "pattern" else dtype,
            tally,
        )
        spark_type = "float" if dtype == np.float32 else "double"
        entries = text.mapInArrow(parser, f"cell int, gene int, value {spark_type}")
        nnz_hint = header["nnz"]
        write_matrix(entries, fsio.join(tmp, "matrix"))
        stored = "float32" if dtype == np.float32 else "float64"
    else:
        raise InputError(f"unknown --format {fmt!r}")

    timer.lap("matrix")
    # cells dictionary
    # one file in cell_index order, written from the driver (O(cells), no Spark job)
    write_small_table(fs, cells_table(cells), fsio.join(tmp, "cells"))
    timer.lap("cells")

    # genes dictionary and the matrix totals
    matrix_path = fsio.join(tmp, "matrix")
    if fmt_inner == "csv":  # counted by the parse tasks
        nnz = int(nnz_hint or 0)
    else:
        nnz = spark.read.parquet(matrix_path).count() if _has_parquet(fs, matrix_path) else 0
    if nnz_hint is not None and fmt_inner == "mtx" and nnz > nnz_hint:
        raise InputError(f"{input_uri}: more entries than the {nnz_hint} declared in the size line")
    if fmt_inner == "mtx" and nnz:  # ``swap`` and ``uris`` come from the Matrix Market branch above
        check_unique_coordinates(spark, matrix_path, swap, uris["matrix"], cells, genes_pd)
    write_small_table(fs, pa.Table.from_pandas(genes_pd, preserve_index=False), fsio.join(tmp, "genes"))
    timer.lap("genes")
    max_value, non_integer = tally.value

    return {
        "kind": "widematrix-dataset",
        "format_version": FORMAT_VERSION,
        "source": source,
        "shape": {"cells": int(n_cells), "genes": int(n_genes)},
        "nnz": nnz,
        "density": nnz / float(n_cells * n_genes),
        "value_type": stored,
        "integer_valued": not bool(non_integer),
        "max_value": float(max_value),
        "layout": {
            "matrix": "matrix/part-*.parquet",
            "matrix_columns": {"cell": "int32", "gene": "int32", "value": stored},
            "order": (
                "files hold runs of whole cells (of whole genes for gene-major HDF5 sources), rows sorted "
                "by gene then cell, row groups of "
                f"{csvtasks.ROW_GROUP_ROWS} rows with gene min/max statistics"
                if fmt_inner != "mtx"
                else "each file's rows sorted by gene then cell, row groups of about 2 MiB"
            ),
            "zeros_stored": False,
            "cells": "cells/*.parquet",
            "genes": "genes/*.parquet",
        },
        "cells": {"columns": [c for c in cells.columns]},
        "genes": {"columns": list(genes_pd.columns), "key": gene_key if fmt_inner != "csv" else "header"},
        "warnings": notes,
        "created_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),  # noqa: UP017
        "spark_version": spark.version,
        "timings_s": timer.phases,
    }


def _gene_names(features: pd.DataFrame, gene_key: str, source: str) -> Tuple[List[str], pd.DataFrame]:
    if gene_key not in ("name", "id"):
        raise InputError(f"--gene-key must be 'name' or 'id', not {gene_key!r}")
    column = "gene_name" if gene_key == "name" else "gene_id"
    if column not in features.columns:
        column = features.columns[0]
    names = [str(x) for x in features[column].tolist()]
    extra = features.drop(columns=[column]) if len(features.columns) > 1 else None
    return names, extra


def _clean_cells(cells: pd.DataFrame) -> pd.DataFrame:
    """Make obs columns Spark-friendly: categoricals to strings, object columns to strings."""
    out = pd.DataFrame(index=range(len(cells)))
    for name in cells.columns:
        col = cells[name]
        if isinstance(col.dtype, pd.CategoricalDtype) or col.dtype == object:
            out[str(name)] = (
                col.astype(object).where(col.notna(), None).map(lambda v: None if v is None else str(v))
            )
        elif col.dtype.kind == "b":
            out[str(name)] = col.astype(bool)
        else:
            out[str(name)] = col.to_numpy()
    return out


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ingest.py", description="Ingest a single-cell matrix into the canonical sparse dataset."
    )
    p.add_argument(
        "--input", required=True, help="wide CSV[.gz], ZIP, 10x .h5, .h5ad, or a Matrix Market dir"
    )
    p.add_argument("--metadata", help="cell metadata CSV; first column is the cell id")
    p.add_argument("--output", required=True, help="dataset directory to create")
    p.add_argument("--format", default="auto", choices=["auto", "zip", "csv", "10x-h5", "h5ad", "mtx"])
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    p.add_argument("--value-type", default="auto", choices=["auto", "float32", "float64"])
    p.add_argument(
        "--gene-key", default="name", choices=["name", "id"], help="10x/mtx: gene name or feature id"
    )
    p.add_argument("--h5ad-matrix", default="X", help="h5ad: X, raw.X or layers/<name>")
    return p


def main(argv: Optional[List[str]] = None, script_mode: bool = False) -> int:
    args = build_parser().parse_args(argv)
    spark = SparkSession.builder.appName("widematrix-ingest").getOrCreate()
    if script_mode:  # executors import our modules from a zip the job ships itself
        worker.ship_package(spark)
    try:
        manifest = run_ingest(
            spark,
            args.input,
            args.output,
            metadata_uri=args.metadata,
            fmt=args.format,
            overwrite=args.overwrite,
            value_type=args.value_type,
            gene_key=args.gene_key,
            h5ad_matrix=args.h5ad_matrix,
        )
    except InputError as exc:
        print(f"ingest: error: {exc}", file=sys.stderr)
        return 2
    print(
        f"ingest: wrote {args.output}: {manifest['shape']['cells']} cells x "
        f"{manifest['shape']['genes']} genes, "
        f"{manifest['nnz']} stored values ({manifest['value_type']})"
    )
    return 0
