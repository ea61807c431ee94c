"""The cells and genes dictionaries of a dataset: metadata join, id checks, gene names, Arrow tables.

Everything here is O(cells) or O(genes) and runs on the driver with pandas and pyarrow (no
Spark job): the metadata CSV is read with pyarrow's CSV reader and joined with pandas.
"""

import csv
import logging
import warnings
from typing import Dict, List, Optional, Tuple

import numpy as np
import pandas as pd
import pyarrow as pa

from . import fsio
from .errors import InputError

LOG = logging.getLogger("widematrix.ingest")


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


def gene_names(
    features: pd.DataFrame, gene_key: str, source: str
) -> Tuple[List[str], Optional[pd.DataFrame]]:
    """The gene names (``--gene-key``: name or id column) and the other feature columns."""
    if gene_key not in ("name", "id"):
        raise InputError(f"--gene-key must be 'name' or 'id', not {gene_key!r}")
    column = "gene_name" if gene_key == "name" else "gene_id"
    if column not in features.columns:
        column = features.columns[0]
    names = [str(x) for x in features[column].tolist()]
    extra = features.drop(columns=[column]) if len(features.columns) > 1 else None
    return names, extra


def clean_cells(cells: pd.DataFrame) -> pd.DataFrame:
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


def indexed_cells(cells: pd.DataFrame) -> pd.DataFrame:
    """Cells in file order with ``cell_index`` (0, 1, ...) as the first column."""
    out = cells.assign(cell_index=np.arange(len(cells), dtype=np.int32))
    return out[["cell_index", *[c for c in out.columns if c != "cell_index"]]]
