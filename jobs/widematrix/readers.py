"""Readers for the binary and coordinate formats: 10x HDF5, AnnData ``.h5ad``, Matrix Market.

HDF5 needs random access and ``h5py``; the job imports ``h5py`` only when an HDF5 input is
given, so CSV and Matrix Market ingests run with pyspark, numpy, pandas and pyarrow alone. The
readers hold the per-cell and per-gene dictionaries in memory (they are small) but stream the
matrix in chunks of about ``chunk_nnz`` stored values; they never build a dense matrix (a dense
``X`` in an ``.h5ad`` file is read a block of rows at a time and its zeros dropped).
"""

from typing import Any, Dict, Iterator, List, Optional, Tuple

import numpy as np
import pandas as pd

from .errors import InputError

Chunk = Tuple[np.ndarray, np.ndarray, np.ndarray]  # (cell index, gene index, value)


def _h5py() -> Any:
    try:
        import h5py
    except ImportError:  # pragma: no cover - depends on the cluster image
        raise InputError(
            "reading HDF5 inputs (.h5, .h5ad) needs the h5py package on the driver; "
            "install it with a bootstrap action (python3 -m pip install h5py)"
        ) from None
    return h5py


def _strings(values: Any) -> np.ndarray:
    arr = np.asarray(values)
    if arr.dtype.kind == "S":
        return np.array([v.decode("utf-8") for v in arr.tolist()], dtype=object)
    if arr.dtype.kind == "O":
        return np.array(
            [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in arr.tolist()], dtype=object
        )
    return arr.astype(str).astype(object)


def _read_array(ds: Any) -> np.ndarray:
    if ds.dtype.kind in ("S", "O"):
        return _strings(ds[()])
    return np.asarray(ds[()])


class SparseSource:
    """A matrix plus its dictionaries, read in chunks by ``chunks``."""

    def __init__(self, cells: pd.DataFrame, genes: pd.DataFrame, nnz: int, dtype: np.dtype) -> None:
        self.cells = cells
        self.genes = genes
        self.nnz = int(nnz)
        self.dtype = np.dtype(dtype)
        #: "<frame>.<column> (<encoding>)" of every column left out because its AnnData encoding
        #: is not one this reader knows; the ingest records them in the manifest's warnings.
        self.skipped_columns: List[str] = []

    def chunks(self, chunk_nnz: int) -> Iterator[Chunk]:  # pragma: no cover - overridden
        raise NotImplementedError

    def close(self) -> None:
        pass


class _CompressedSource(SparseSource):
    """CSR/CSC arrays in an HDF5 group; ``major`` says which axis indptr runs over."""

    def __init__(
        self, handle: Any, group: Any, major: str, n_major: int, cells: pd.DataFrame, genes: pd.DataFrame
    ):
        data = group["data"]
        super().__init__(cells, genes, int(data.shape[0]), data.dtype)
        self.handle = handle
        self.group = group
        self.major = major  # "cell": indptr per cell, indices are genes; "gene": the reverse
        self.n_major = n_major

    def chunks(self, chunk_nnz: int) -> Iterator[Chunk]:
        indptr = np.asarray(self.group["indptr"][()], dtype=np.int64)
        if indptr.shape[0] != self.n_major + 1:
            raise InputError(f"indptr has {indptr.shape[0]} entries, expected {self.n_major + 1}")
        a = 0
        while a < self.n_major:
            b = int(np.searchsorted(indptr, indptr[a] + max(chunk_nnz, 1), side="right")) - 1
            b = min(max(b, a + 1), self.n_major)
            lo, hi = int(indptr[a]), int(indptr[b])
            vals = np.asarray(self.group["data"][lo:hi])
            minor = np.asarray(self.group["indices"][lo:hi], dtype=np.int64)
            major = np.repeat(np.arange(a, b, dtype=np.int64), np.diff(indptr[a : b + 1]))
            if self.major == "cell":
                yield major, minor, vals
            else:
                yield minor, major, vals
            a = b

    def close(self) -> None:
        self.handle.close()


class _DenseSource(SparseSource):
    def __init__(self, handle: Any, ds: Any, cells: pd.DataFrame, genes: pd.DataFrame) -> None:
        super().__init__(cells, genes, -1, ds.dtype)
        self.handle = handle
        self.ds = ds

    def chunks(self, chunk_nnz: int) -> Iterator[Chunk]:
        n_cells, n_genes = self.ds.shape
        rows = max(1, min(n_cells, (chunk_nnz * 4) // max(n_genes, 1)))
        for a in range(0, n_cells, rows):
            block = np.asarray(self.ds[a : a + rows])
            r, c = np.nonzero(block)
            yield r.astype(np.int64) + a, c.astype(np.int64), block[r, c]

    def close(self) -> None:
        self.handle.close()


def read_10x_h5(local: str, source: str) -> SparseSource:
    """Cell Ranger ``filtered_feature_bc_matrix.h5`` (v3: ``/matrix``; v2: ``/<genome>``)."""
    h5py = _h5py()
    try:
        f = h5py.File(local, "r")
    except OSError as exc:
        raise InputError(f"{source}: not a readable HDF5 file ({exc})") from None
    if "matrix" in f:
        g = f["matrix"]
        feats = g["features"]
        genes = pd.DataFrame(
            {
                "gene_id": _read_array(feats["id"]),
                "gene_name": _read_array(feats["name"]),
            }
        )
        if "feature_type" in feats:
            genes["feature_type"] = _read_array(feats["feature_type"])
    else:
        groups = [k for k in f if isinstance(f[k], h5py.Group) and "indptr" in f[k]]
        if len(groups) != 1:
            f.close()
            raise InputError(
                f"{source}: not a 10x HDF5 matrix (no /matrix group and {len(groups)} genome groups)"
            )
        g = f[groups[0]]
        genes = pd.DataFrame({"gene_id": _read_array(g["genes"]), "gene_name": _read_array(g["gene_names"])})
    shape = tuple(int(x) for x in g["shape"][()])
    barcodes = _read_array(g["barcodes"])
    if shape != (len(genes), len(barcodes)):
        f.close()
        raise InputError(
            f"{source}: shape {shape} does not match {len(genes)} features x {len(barcodes)} barcodes"
        )
    cells = pd.DataFrame({"cell_id": barcodes})
    return _CompressedSource(f, g, "cell", len(barcodes), cells, genes)


def _attr(node: Any, key: str) -> Any:
    value = node.attrs.get(key)
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return value


def _read_frame(
    f: Any, node: Any, legacy_uns: Any, skipped: Optional[List[str]] = None
) -> Tuple[np.ndarray, pd.DataFrame]:
    """AnnData obs/var: returns (index, columns). Handles 0.7+ groups and pre-0.7 record arrays.

    A column whose encoding is unknown is left out rather than guessed, and named in ``skipped``.
    """
    h5py = _h5py()
    cols: Dict[str, Any] = {}
    if isinstance(node, h5py.Dataset):  # anndata < 0.7: one structured array
        arr = node[()]
        names = list(arr.dtype.names)
        index = _strings(arr["index"]) if "index" in names else np.arange(len(arr)).astype(str).astype(object)
        for name in names:
            if name == "index":
                continue
            col = arr[name]
            cats_key = f"{name}_categories"
            if legacy_uns is not None and cats_key in legacy_uns:
                cats = _read_array(legacy_uns[cats_key])
                col = pd.Categorical.from_codes(np.asarray(col, dtype=np.int64), categories=cats)
            elif col.dtype.kind == "S":
                col = _strings(col)
            cols[name] = col
        return index, pd.DataFrame(cols)
    index_key = _attr(node, "_index") or "_index"
    index = _read_array(node[index_key])
    order = [
        c.decode() if isinstance(c, bytes) else str(c)
        for c in np.atleast_1d(node.attrs.get("column-order", []))
    ]
    for name in order:
        item = node[name]
        if isinstance(item, h5py.Group):
            enc = _attr(item, "encoding-type")
            if enc == "categorical":
                cats = _read_array(item["categories"])
                codes = np.asarray(item["codes"][()], dtype=np.int64)
                cols[name] = pd.Categorical.from_codes(codes, categories=cats)
            elif enc in ("nullable-integer", "nullable-boolean", "nullable-string-array"):
                values = _read_array(item["values"])
                mask = np.asarray(item["mask"][()], dtype=bool)
                cols[name] = (
                    pd.array([None if m else v for v, m in zip(values.tolist(), mask.tolist())], dtype=object)  # noqa: B905
                    if enc == "nullable-string-array"
                    else pd.Series(values).where(~mask)
                )
            else:  # unknown column encoding: skip rather than guess, and say so
                if skipped is not None:
                    skipped.append(f"{node.name.strip('/')}.{name} ({enc or 'no encoding-type'})")
                continue
        else:
            values = _read_array(item)
            ref = item.attrs.get("categories")
            if ref is not None:  # anndata 0.7.x: categories behind an object reference
                cats = _read_array(f[ref])
                values = pd.Categorical.from_codes(np.asarray(values, dtype=np.int64), categories=cats)
            cols[name] = values
    return index, pd.DataFrame(cols)


def read_h5ad(local: str, source: str, matrix: str = "X") -> SparseSource:
    """AnnData file; ``matrix`` is ``X``, ``raw.X`` or ``layers/<name>``."""
    h5py = _h5py()
    try:
        f = h5py.File(local, "r")
    except OSError as exc:
        raise InputError(f"{source}: not a readable HDF5 file ({exc})") from None
    uns = f.get("uns", None)
    if matrix == "X":
        node, var_node = f.get("X"), f.get("var")
    elif matrix == "raw.X":
        if "raw" in f and isinstance(f["raw"], h5py.Group):
            node, var_node = f["raw"].get("X"), f["raw"].get("var")
        else:
            node, var_node = f.get("raw.X"), f.get("raw.var")
    elif matrix.startswith("layers/"):
        node, var_node = f.get(matrix), f.get("var")
    else:
        f.close()
        raise InputError(f"--h5ad-matrix must be X, raw.X or layers/<name>, not {matrix!r}")
    if node is None or var_node is None:
        f.close()
        raise InputError(f"{source}: has no {matrix} matrix")
    skipped: List[str] = []
    obs_index, obs = _read_frame(f, f["obs"], uns, skipped)
    var_index, _ = _read_frame(f, var_node, uns)
    cells = pd.DataFrame({"cell_id": obs_index})
    for name in obs.columns:
        cells[name] = obs[name].values
    genes = pd.DataFrame({"gene_name": var_index})
    if isinstance(node, h5py.Dataset):
        if node.shape != (len(cells), len(genes)):
            f.close()
            raise InputError(
                f"{source}: {matrix} has shape {node.shape}, expected {(len(cells), len(genes))}"
            )
        dense = _DenseSource(f, node, cells, genes)
        dense.skipped_columns = skipped
        return dense
    enc = _attr(node, "encoding-type") or {"csr": "csr_matrix", "csc": "csc_matrix"}.get(
        _attr(node, "h5sparse_format")
    )
    shape = node.attrs.get("shape", node.attrs.get("h5sparse_shape"))
    if enc not in ("csr_matrix", "csc_matrix") or shape is None:
        f.close()
        raise InputError(f"{source}: {matrix} is neither a dense array nor a CSR/CSC sparse matrix")
    if tuple(int(x) for x in shape) != (len(cells), len(genes)):
        f.close()
        raise InputError(f"{source}: {matrix} has shape {tuple(shape)}, expected {(len(cells), len(genes))}")
    if enc == "csr_matrix":
        source_ = _CompressedSource(f, node, "cell", len(cells), cells, genes)
    else:
        source_ = _CompressedSource(f, node, "gene", len(genes), cells, genes)
    source_.skipped_columns = skipped
    return source_


def parse_mtx_header(lines: List[str], source: str) -> Dict[str, Any]:
    """Banner and size line of a Matrix Market file: field, rows, cols, nnz, header line count."""
    if not lines or not lines[0].lower().startswith("%%matrixmarket"):
        raise InputError(f"{source}: not a Matrix Market file (first line must start with %%MatrixMarket)")
    banner = lines[0].split()
    if len(banner) < 5 or banner[1].lower() != "matrix" or banner[2].lower() != "coordinate":
        raise InputError(
            f"{source}: only 'matrix coordinate' Matrix Market files are supported: {lines[0]!r}"
        )
    field, symmetry = banner[3].lower(), banner[4].lower()
    if field not in ("real", "integer", "pattern", "double") or symmetry != "general":
        raise InputError(f"{source}: unsupported Matrix Market field/symmetry {field}/{symmetry}")
    size = lines[-1].split()
    if len(size) != 3 or lines[-1].startswith("%"):
        raise InputError(f"{source}: missing or malformed size line after the header comments")
    try:
        rows, cols, nnz = (int(x) for x in size)
    except ValueError:
        raise InputError(f"{source}: malformed size line {lines[-1]!r}") from None
    return {"field": field, "rows": rows, "cols": cols, "nnz": nnz, "header_lines": len(lines)}


def tsv_frame(lines: List[str], names: List[str]) -> pd.DataFrame:
    """Split tab-separated dictionary lines (barcodes.tsv, features.tsv) into named columns."""
    rows = [line.rstrip("\r").split("\t") for line in lines]
    width = max((len(r) for r in rows), default=1)
    cols = {}
    for k in range(width):
        name = names[k] if k < len(names) else f"column_{k + 1}"
        cols[name] = [r[k] if k < len(r) else None for r in rows]
    return pd.DataFrame(cols)


def find_mtx_files(entries: List[str]) -> Optional[Dict[str, str]]:
    """Map the names in a Matrix Market directory to matrix / barcodes / features files."""
    found: Dict[str, str] = {}
    for role, bases in (
        ("matrix", ("matrix.mtx",)),
        ("barcodes", ("barcodes.tsv",)),
        ("features", ("features.tsv", "genes.tsv")),
    ):
        for base in bases:
            for name in (base, base + ".gz"):
                if name in entries and role not in found:
                    found[role] = name
    return found if "matrix" in found else None
