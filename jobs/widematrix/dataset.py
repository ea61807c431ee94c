"""The canonical dataset: what one input format's reader gets and returns, the dictionary tables,
the manifest, and the finishing steps every format shares.

A format module (``ingest_csv``, ``ingest_hdf5``, ``ingest_mtx``; ``ingest_zip`` unpacks a ZIP
for ``ingest_csv``) takes an ``IngestRequest``, writes ``<out>/matrix/part-*.parquet`` and returns
a ``MatrixResult`` (cells and genes dictionaries, stored value type, how the files are ordered).
``finish`` then writes the dictionaries, counts the stored values where the format did not, runs
the format's own final check and returns the manifest. The commit protocol that makes the
result visible is in ``commit``.
"""

import datetime
import os
import tempfile
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.accumulators import AccumulatorParam

from . import csvtasks, fsio
from .metadata import cells_table

FORMAT_VERSION = 1
KIND = "widematrix-dataset"


class TallyParam(AccumulatorParam):
    """(max value, any non-integer value): both idempotent, so a re-run task cannot skew them."""

    def zero(self, value: Any) -> Any:
        return (0.0, 0)

    def addInPlace(self, a: Any, b: Any) -> Any:  # noqa: N802
        return (max(a[0], b[0]), max(a[1], b[1]))


@dataclass
class IngestRequest:
    """One ingest run as the format modules see it.

    ``out`` is the directory being written (the matrix goes to ``<out>/matrix``), ``staging`` a
    scratch directory removed before the commit, ``source`` the manifest's ``source`` record
    (format modules add checksums and member names), ``notes`` the manifest's warnings, and
    ``tally`` a Spark accumulator of ``(max value, any non-integer)`` over the stored values.
    """

    spark: Any
    fs: fsio.HadoopFS
    fmt: str
    input_uri: str
    metadata_uri: Optional[str]
    out: str
    staging: str
    value_type: str
    gene_key: str
    h5ad_matrix: str
    source: Dict[str, Any] = field(init=False)
    notes: List[str] = field(init=False, default_factory=list)
    timer: fsio.Timer = field(init=False, default_factory=fsio.Timer)
    tally: Any = field(init=False)

    def __post_init__(self) -> None:
        self.source = {"uri": self.input_uri, "format": self.fmt}
        self.tally = self.spark.sparkContext.accumulator((0.0, 0), TallyParam())

    @property
    def matrix_dir(self) -> str:
        return fsio.join(self.out, "matrix")


@dataclass
class MatrixResult:
    """What a format module returns once its matrix files are written.

    ``nnz`` is the number of stored values when the format's tasks counted them (else ``None``:
    ``finish`` counts the written files); ``check(nnz)`` is the format's last check, run once
    the count is known; ``order`` describes the files' row order for the manifest; ``gene_key``
    is what the gene names came from.
    """

    cells: pd.DataFrame
    genes: pd.DataFrame
    value_type: str
    order: str
    gene_key: str
    nnz: Optional[int] = None
    check: Optional[Callable[[int], None]] = None


ORDER_WHOLE_CELLS = (
    "files hold runs of whole cells (of whole genes for gene-major HDF5 sources), rows sorted "
    "by gene then cell, row groups of "
    f"{csvtasks.ROW_GROUP_ROWS} rows with gene min/max statistics"
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


def has_parquet(fs: fsio.HadoopFS, path: str) -> bool:
    return fs.exists(path) and any(name.endswith(".parquet") for name, _, _ in fs.listdir(path))


def finish(req: IngestRequest, result: MatrixResult) -> Dict[str, Any]:
    """Write the cells and genes dictionaries, settle the stored-value count, build the manifest."""
    timer, fs = req.timer, req.fs
    timer.lap("matrix")
    # one file in cell_index order, written from the driver (O(cells), no Spark job)
    write_small_table(fs, cells_table(result.cells), fsio.join(req.out, "cells"))
    timer.lap("cells")
    nnz = result.nnz
    if nnz is None:
        matrix = req.matrix_dir
        nnz = req.spark.read.parquet(matrix).count() if has_parquet(fs, matrix) else 0
    if result.check is not None:
        result.check(nnz)
    genes = result.genes
    write_small_table(fs, pa.Table.from_pandas(genes, preserve_index=False), fsio.join(req.out, "genes"))
    timer.lap("genes")
    max_value, non_integer = req.tally.value
    n_cells, n_genes = len(result.cells), len(genes)
    stored = result.value_type
    return {
        "kind": KIND,
        "format_version": FORMAT_VERSION,
        "source": req.source,
        "shape": {"cells": int(n_cells), "genes": int(n_genes)},
        "nnz": nnz,
        "density": nnz / float(n_cells * n_genes),
        "value_type": stored,
        "integer_valued": not bool(non_integer),
        "max_value": float(max_value),
        "layout": {
            "matrix": "matrix/part-*.parquet",
            "matrix_columns": {"cell": "int32", "gene": "int32", "value": stored},
            "order": result.order,
            "zeros_stored": False,
            "cells": "cells/*.parquet",
            "genes": "genes/*.parquet",
        },
        "cells": {"columns": [c for c in result.cells.columns]},
        "genes": {"columns": list(genes.columns), "key": result.gene_key},
        "warnings": req.notes,
        "created_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),  # noqa: UP017
        "spark_version": req.spark.version,
        "timings_s": req.timer.phases,
    }
