"""The wide-CSV tasks of ``ingest``: byte-range splits read, parsed and written by the tasks.

Task-side code only: it imports numpy, pyarrow and this package's task modules, never pandas or
pyspark.sql, so a fresh Python worker is ready to run it quickly (pandas alone takes about half
a second to import). ``ingest`` plans the splits and runs these functions as Spark tasks.
"""

import math
from typing import Any, Iterator, List, Optional, Tuple

import numpy as np
import pyarrow as pa

from . import csvparse, fsio, worker
from .errors import InputError

NEEDS_FLOAT64 = "values are not all exactly representable as float32"
BATCH_VALUES = 2_000_000  # cells x genes per batch handed to the parser (cache-sized)


def tally_of(values: np.ndarray) -> Tuple[float, int]:
    """(largest value, 1 if any value is not an integer) of some stored values."""
    if values.size == 0:
        return (0.0, 0)
    return (float(values.max()), int(bool((values != np.floor(values)).any())))


def _is_float32_exact(values: np.ndarray) -> bool:
    return bool((values.astype(np.float32).astype(np.float64) == values).all())


COMPRESSION = {".gz": "gzip", ".bz2": "bz2"}
MIN_SPLIT_BYTES = 1 << 20  # never cut a file finer than this unless spark.sql.files.maxPartitionBytes says so
PIECE_BYTES = 64 << 20  # text per matrix file when one task streams a compressed CSV
ROW_GROUP_ROWS = 1 << 17  # matrix Parquet row group: small enough for gene-range pruning


def compression_of(uri: str) -> Optional[str]:
    """``gzip``/``bz2`` for a compressed CSV (read by one streaming task), None for plain text."""
    name = uri.lower()
    for suffix, codec in COMPRESSION.items():
        if name.endswith(suffix):
            return codec
    return None


def plan_splits(size: int, max_split: int, parallelism: int) -> List[Tuple[int, int]]:
    """Byte ranges ``[start, end)`` covering a plain CSV: one per core (each Python task costs
    about 0.1-0.2 s of fixed overhead, so fewer, larger tasks win while they keep every core busy),
    at most ``max_split`` each (``spark.sql.files.maxPartitionBytes``), and at least
    ``MIN_SPLIT_BYTES`` unless ``max_split`` is smaller.

    A line belongs to the split in which its first byte lies (Hadoop's rule), so every line is
    read by exactly one task however the cuts fall.
    """
    target = max(math.ceil(size / max(parallelism, 1)), MIN_SPLIT_BYTES)
    step = max(1, min(max_split, target))
    return [(lo, min(size, lo + step)) for lo in range(0, size, step)]


def _find_newline(f: Any, pos: int, size: int) -> int:
    """Offset of the first ``\\n`` at or after ``pos``, or -1 (reads 64 KiB at a time)."""
    while pos < size:
        chunk = f.read_at(min(1 << 16, size - pos), pos)
        k = chunk.find(b"\n")
        if k >= 0:
            return pos + k
        pos += len(chunk)
    return -1


def read_split(uri: str, start: int, end: int) -> Tuple[Any, int]:
    """The whole lines that start in ``[start, end)`` as one buffer, and its file offset.

    Local files are memory-mapped, so the buffer is a view of the page cache (no copy); other
    filesystems read the range in one request.
    """
    f = fsio.ArrowIO.open_input(uri)
    size = f.size()
    end = min(end, size)
    first = start
    if start > 0:  # the first line starting at or after ``start``
        nl = _find_newline(f, start - 1, size)
        if nl < 0 or nl + 1 >= end:
            return b"", end  # no line starts inside this split
        first = nl + 1
    stop = size
    if end < size:  # finish the line that holds byte ``end - 1``
        nl = _find_newline(f, end - 1, size)
        stop = size if nl < 0 else nl + 1
    f.seek(first)
    return f.read_buffer(stop - first), first


class _Lines:
    """The data lines of one buffer: byte bounds, 1-based file line numbers, empty lines dropped."""

    def __init__(self, buf: bytes, first_line: int, skip_header: bool) -> None:
        starts, stops = csvparse.line_bounds(buf)
        numbers = np.arange(first_line, first_line + starts.size, dtype=np.int64)
        keep = stops > starts
        if skip_header and keep.size:
            keep[0] = False
        self.buf = buf
        self.n_all = int(starts.size)
        self.starts, self.stops, self.numbers = starts[keep], stops[keep], numbers[keep]

    def __len__(self) -> int:
        return int(self.starts.size)

    def text(self, a: int, b: int, source: str) -> List[str]:
        out = []
        view = memoryview(self.buf)
        for s, e, n in zip(self.starts[a:b].tolist(), self.stops[a:b].tolist(), self.numbers[a:b].tolist()):  # noqa: B905
            try:
                out.append(bytes(view[s:e]).decode("utf-8"))
            except UnicodeDecodeError as exc:
                raise InputError(
                    f"{source}: line {n} is not valid UTF-8 ({exc.reason} at byte {exc.start})"
                ) from None
        return out

    def cell_ids(self) -> Tuple[List[str], Optional[Tuple[int, str]]]:
        """The cell ids, or the first problem as (line number as counted here, what is wrong)."""
        ids = []
        view = memoryview(self.buf)
        for s, e, n in zip(self.starts.tolist(), self.stops.tolist(), self.numbers.tolist()):  # noqa: B905
            head = bytes(view[s : min(e, s + 256)])  # ids are short: look at the line's start first
            raw = csvparse.cell_id(head, 0, len(head))
            if e > s + 256 and (raw is None or len(raw) == len(head)):
                raw = csvparse.cell_id(bytes(view[s:e]), 0, e - s)
            if raw is None:
                return ids, (n, "the quoted cell id is not closed (quoted newlines are not supported)")
            try:
                ids.append(raw.decode("utf-8"))
            except UnicodeDecodeError:
                return ids, (n, "the cell id is not valid UTF-8")
        return ids, None


def parse_lines(
    lines: _Lines, n_genes: int, gene_names: List[str], source: str, value_type: str
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(line index among ``lines``, gene, value) of every nonzero, in line order.

    Lines go through the vectorised parser a cache-sized batch at a time; a batch it declines
    goes through the careful parser, which names the bad line, cell and gene.
    """
    batch = max(1, BATCH_VALUES // max(n_genes, 1))
    rows_out, genes_out, vals_out = [], [], []
    for a in range(0, len(lines), batch):
        b = min(len(lines), a + batch)
        parsed = csvparse.parse_fast(lines.buf, lines.starts[a:b], lines.stops[a:b], n_genes)
        if parsed is None:
            parsed = csvparse.parse_slow(
                lines.text(a, b, source), n_genes, gene_names, lines.numbers[a:b].tolist(), source
            )
        rows, genes, vals = parsed
        if value_type == "auto32" and not _is_float32_exact(vals):
            raise InputError(NEEDS_FLOAT64)
        rows_out.append(rows + a)
        genes_out.append(genes)
        vals_out.append(vals)
    if not rows_out:
        return np.empty(0, np.int64), np.empty(0, np.int32), np.empty(0, np.float64)
    return np.concatenate(rows_out), np.concatenate(genes_out), np.concatenate(vals_out)


def write_matrix_file(
    uri: str, cells: np.ndarray, genes: np.ndarray, values: np.ndarray, n_genes: int, dtype: Any
) -> None:
    """One matrix file: the entries of a contiguous run of cells, ordered gene-major (gene, then
    cell), in row groups of ``ROW_GROUP_ROWS`` whose gene min/max let readers skip them."""
    cells = cells.astype(np.int32, copy=False)  # narrow first: the gathers move half the bytes
    genes = genes.astype(np.int32, copy=False)
    key = genes.astype(np.uint16) if n_genes <= 65536 else genes  # 16-bit keys: a radix sort
    order = np.argsort(key, kind="stable")  # input is cell-major: stable keeps cells ascending
    table = pa.table(
        {
            "cell": pa.array(cells[order]),
            "gene": pa.array(genes[order]),
            "value": pa.array(values.astype(dtype, copy=False)[order]),
        }
    )
    fsio.ArrowIO.write_parquet(
        table,
        uri,
        row_group_size=ROW_GROUP_ROWS,
        use_dictionary=["gene", "value"],  # runs of one gene; few distinct counts
        column_encoding={"cell": "DELTA_BINARY_PACKED"},  # ascending within each gene
    )


def merge_tally(a: Tuple[float, int], b: Tuple[float, int]) -> Tuple[float, int]:
    """Combine two ``tally_of`` results."""
    return (max(a[0], b[0]), max(a[1], b[1]))


def make_csv_scanner(uri: str, source: str) -> Any:
    """Pass 1 task: (split, start, end) -> (split, lines in the split, cell ids of its data lines,
    None or the first unreadable id as (line number within the split, why))."""

    def scan(tasks: Iterator[Tuple[int, int, int]]) -> Iterator[Tuple[int, int, List[str], Any]]:
        worker.prepare()
        for k, start, end in tasks:
            buf, _ = read_split(uri, start, end)
            lines = _Lines(buf, 1, skip_header=start == 0)  # line numbers relative to the split
            ids, problem = lines.cell_ids()
            yield k, lines.n_all, ids, problem

    return scan


def number_splits(
    source: str, splits: List[Tuple[int, int]], scanned: List[Tuple[int, int, List[str], Any]]
) -> Tuple[List[Tuple[int, int, int, int, int]], List[str]]:
    """From pass 1's results (any order): the pass 2 tasks (split, start, end, first cell, first
    file line) and all cell ids in file order. An unreadable id is an error naming its file line."""
    tasks: List[Tuple[int, int, int, int, int]] = []
    ids: List[str] = []
    line = 1
    for k, n_all, split_ids, problem in sorted(scanned, key=lambda r: r[0]):
        if problem is not None:
            raise InputError(f"{source}: line {line + problem[0] - 1}: {problem[1]}")
        tasks.append((k, splits[k][0], splits[k][1], len(ids), line))
        ids.extend(split_ids)
        line += n_all
    return tasks, ids


def make_csv_parser(uri: str, source: str, gene_names: List[str], matrix_dir: str, value_type: str) -> Any:
    """Pass 2 task: (split, start, end, first cell, first line) -> its matrix file, and
    (split, stored values, (max value, any non-integer))."""
    n_genes = len(gene_names)
    dtype = np.float64 if value_type == "float64" else np.float32

    def parse(
        tasks: Iterator[Tuple[int, int, int, int, int]],
    ) -> Iterator[Tuple[int, int, Tuple[float, int]]]:
        worker.prepare()
        for k, start, end, first_cell, first_line in tasks:
            buf, _ = read_split(uri, start, end)
            lines = _Lines(buf, first_line, skip_header=start == 0)
            if len(lines) == 0:
                yield k, 0, (0.0, 0)
                continue
            rows, genes, vals = parse_lines(lines, n_genes, gene_names, source, value_type)
            write_matrix_file(
                fsio.join(matrix_dir, f"part-{k:05d}.parquet"), rows + first_cell, genes, vals, n_genes, dtype
            )
            yield k, int(vals.size), tally_of(vals)

    return parse


def make_csv_streamer(
    uri: str, source: str, compression: str, gene_names: List[str], matrix_dir: str, value_type: str
) -> Any:
    """One task for a compressed CSV (not splittable): decompress once, cut into pieces of
    ``PIECE_BYTES`` at line ends, write one matrix file per piece; returns the cell ids too."""
    n_genes = len(gene_names)
    dtype = np.float64 if value_type == "float64" else np.float32

    def stream(tasks: Iterator[int]) -> Iterator[Tuple[List[str], int, Tuple[float, int]]]:
        worker.prepare()
        for _ in tasks:
            ids: List[str] = []
            stored, tally, piece, line_no, carry = 0, (0.0, 0), 0, 1, b""
            with fsio.ArrowIO.open_stream(uri, compression) as f:
                while True:
                    try:
                        chunk = f.read(PIECE_BYTES)
                    except OSError as exc:
                        raise InputError(f"{source}: cannot decompress ({exc})") from None
                    data = carry + chunk
                    if chunk:
                        cut = data.rfind(b"\n") + 1
                        data, carry = data[:cut], data[cut:]
                    else:
                        carry = b""
                    if data:
                        lines = _Lines(data, line_no, skip_header=line_no == 1)  # the file's 1st line
                        line_no += lines.n_all
                        if len(lines):
                            rows, genes, vals = parse_lines(lines, n_genes, gene_names, source, value_type)
                            write_matrix_file(
                                fsio.join(matrix_dir, f"part-{piece:05d}.parquet"),
                                rows + len(ids),
                                genes,
                                vals,
                                n_genes,
                                dtype,
                            )
                            got, problem = lines.cell_ids()
                            if problem is not None:
                                raise InputError(f"{source}: line {problem[0]}: {problem[1]}")
                            ids.extend(got)
                            stored += int(vals.size)
                            tally = merge_tally(tally, tally_of(vals))
                            piece += 1
                    if not chunk:
                        break
            yield ids, stored, tally

    return stream
