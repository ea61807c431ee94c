"""HDF5 input: a 10x Genomics Cell Ranger matrix (``.h5``) or an AnnData file (``.h5ad``).

h5py reads sequentially on the driver (a copy on local disk for remote inputs); a few threads
check, sort and write the chunks as matrix files meanwhile. No Spark job.
"""

import concurrent.futures
import os
import tempfile
from typing import Any, List, Tuple

import numpy as np

from . import fsio, readers
from .csvtasks import merge_tally, tally_of, write_matrix_file
from .dataset import ORDER_WHOLE_CELLS, IngestRequest, MatrixResult
from .errors import InputError
from .metadata import attach_metadata, check_cells, clean_cells, gene_names, gene_table, indexed_cells

CHUNK_NNZ = 4_000_000  # stored values per chunk read from HDF5


def ingest(req: IngestRequest) -> MatrixResult:
    """Write the matrix files of a ``10x-h5`` or ``h5ad`` input (``req.fmt``)."""
    fs, input_uri = req.fs, req.input_uri
    req.source["sha256"] = fs.sha256(input_uri)
    local_dir = None
    if fsio.is_local(input_uri):
        local = fsio.local_path(input_uri)
    else:
        local_dir = tempfile.mkdtemp(prefix="widematrix-h5-")
        local = os.path.join(local_dir, input_uri.rsplit("/", 1)[-1])
        fs.copy_to_local(input_uri, local)
    src = (
        readers.read_10x_h5(local, input_uri)
        if req.fmt == "10x-h5"
        else readers.read_h5ad(local, input_uri, req.h5ad_matrix)
    )
    try:
        n_cells, n_genes = len(src.cells), len(src.genes)
        if n_cells == 0 or n_genes == 0:
            raise InputError(f"{input_uri}: empty matrix ({n_cells} cells x {n_genes} genes)")
        names, genes_extra = gene_names(src.genes, req.gene_key, input_uri)
        genes = gene_table(names, genes_extra, input_uri)
        cells = indexed_cells(clean_cells(src.cells))
        check_cells(cells, input_uri)
        if src.skipped_columns:
            req.notes.append(
                f"{input_uri}: column(s) {', '.join(src.skipped_columns)} left out: their AnnData "
                "encoding is not one the reader knows (supply them with --metadata instead)"
            )
        cells = attach_metadata(cells, req.metadata_uri, req.notes)
        dtype = _h5_dtype(src, req.value_type)
        req.tally.add(write_python_source(src, req.matrix_dir, dtype))
    finally:
        src.close()
        if local_dir:
            import shutil

            shutil.rmtree(local_dir, ignore_errors=True)
    stored = "float32" if dtype == np.float32 else "float64"
    return MatrixResult(cells, genes, stored, ORDER_WHOLE_CELLS, req.gene_key)


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
