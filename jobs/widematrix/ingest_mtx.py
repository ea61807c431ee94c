"""Matrix Market input: a directory with ``matrix.mtx[.gz]``, ``barcodes.tsv[.gz]`` and
``features.tsv[.gz]`` (or ``genes.tsv``), in either orientation.

Spark reads the coordinate file as text; an Arrow UDF parses and checks each run of lines and
Spark writes the entries, sorted by gene then cell within each task.
"""

from typing import Any, Dict, Iterator, List, Tuple

import numpy as np
import pandas as pd
import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F  # noqa: N812

from . import fsio, readers, worker
from .csvtasks import tally_of
from .dataset import IngestRequest, MatrixResult
from .errors import InputError
from .metadata import attach_metadata, check_cells, gene_names, gene_table, indexed_cells

MTX_ROW_GROUP_BYTES = 2 << 20  # Spark-written Matrix Market files: about 130,000 entries per row group
ORDER = "each file's rows sorted by gene then cell, row groups of about 2 MiB"


def ingest(req: IngestRequest) -> MatrixResult:
    """Write the matrix files of a Matrix Market directory; its final check runs once the
    written entries are counted (no more than declared, each coordinate once)."""
    spark, fs, input_uri = req.spark, req.fs, req.input_uri
    names_in_dir = [n for n, is_dir, _ in fs.listdir(input_uri) if not is_dir]
    files = readers.find_mtx_files(names_in_dir)
    if files is None or "barcodes" not in files or "features" not in files:
        raise InputError(
            f"{input_uri}: a Matrix Market directory needs matrix.mtx[.gz], barcodes.tsv[.gz] and "
            f"features.tsv[.gz] (or genes.tsv); found {names_in_dir}"
        )
    uris = {role: fsio.join(input_uri, name) for role, name in files.items()}
    req.source["files"] = {role: {"name": files[role], "sha256": fs.sha256(u)} for role, u in uris.items()}
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
    names, genes_extra = gene_names(features, req.gene_key, input_uri)
    genes = gene_table(names, genes_extra, input_uri)
    cells = indexed_cells(barcodes)
    check_cells(cells, uris["barcodes"])
    cells = attach_metadata(cells, req.metadata_uri, req.notes)
    dtype = {"integer": np.float32, "pattern": np.float32}.get(header["field"], np.float64)
    if req.value_type != "auto":
        dtype = np.float32 if req.value_type == "float32" else np.float64
    text = spark.read.text(uris["matrix"]).select("value", F.col("_metadata.file_block_start").alias("blk"))
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
        req.tally,
    )
    spark_type = "float" if dtype == np.float32 else "double"
    entries = text.mapInArrow(parser, f"cell int, gene int, value {spark_type}")
    write_matrix(entries, req.matrix_dir)
    declared = header["nnz"]

    def check(nnz: int) -> None:
        if declared is not None and nnz > declared:
            raise InputError(f"{input_uri}: more entries than the {declared} declared in the size line")
        if nnz:
            check_unique_coordinates(spark, req.matrix_dir, swap, uris["matrix"], cells, genes)

    stored = "float32" if dtype == np.float32 else "float64"
    return MatrixResult(cells, genes, stored, ORDER, req.gene_key, check=check)


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
