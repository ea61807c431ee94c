"""Validating parser for wide CSV lines: first field the cell id, then one number per gene.

The fast path works on the raw bytes of a whole batch of lines with numpy only. It relies on
two facts about expression matrices: most fields are the single character ``0``, and a field
is zero exactly when it holds nothing but ``0`` characters. So the parser:

1. finds each line's cell-id field (quoted ids, R's ``write.csv`` style, are handled),
2. counts commas per line from a bit-packed comma mask (ragged rows show up here),
3. locates the few bytes that are neither ``,`` nor ``0``; each belongs to a nonzero field,
4. widens those fields to their commas, and converts only them to float64 (plain integers
   by digit arithmetic, anything else with numpy's string-to-float conversion).

Anything unusual (quotes or spaces in the numeric part, ``NaN``, letters, empty fields, over-long
fields) sends the batch to the slow path, which parses with the ``csv`` module and either
returns the same result or raises an ``InputError`` naming file, line, cell and gene column.
Neither path ever holds more than one batch; neither builds a dense matrix.
"""

import csv
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

from .errors import InputError

Parsed = Tuple[np.ndarray, np.ndarray, np.ndarray]  # (line index in batch, gene index, value)

_COMMA = 44
_ZERO = 48
_QUOTE = 34
_NEWLINE = 10
_CR = 13
_ALLOWED = np.zeros(256, dtype=bool)
_ALLOWED[np.frombuffer(b"123456789.eE+-", dtype=np.uint8)] = True
_MAX_FIELD = 64
_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


class _CommaCount:
    """Inclusive comma counts at chosen byte positions (``cumsum(is_comma)[pos]``) without a
    cumulative sum over every byte: commas are packed to bits and counted per byte of bits."""

    def __init__(self, is_comma: np.ndarray) -> None:
        self.packed = np.packbits(is_comma, bitorder="little")
        self.before = np.zeros(self.packed.size + 1, dtype=np.int32)  # a batch is < 2 GiB
        np.cumsum(_POPCOUNT[self.packed], dtype=np.int32, out=self.before[1:])

    def at(self, pos: np.ndarray) -> np.ndarray:
        byte = pos >> 3
        mask = ((2 << (pos & 7)) - 1).astype(np.uint8)  # bits 0..pos%8, inclusive
        return self.before[byte] + _POPCOUNT[self.packed[byte] & mask]


def _line_of(bounds: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Line index of each (sorted) byte position, given line starts plus the end offset:
    per-line counts, then a repeat. Bytes between a line's end and the next start (the newline)
    count to the earlier line; callers drop them."""
    counts = np.diff(np.searchsorted(pos, bounds, side="left"))
    return np.repeat(np.arange(len(bounds) - 1), counts)


def line_bounds(buf: Any, base: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive, without ``\\n`` or ``\\r\\n``) of every line in ``buf``.

    ``buf`` holds whole lines; the last one may lack its newline. ``base`` is added to both.
    """
    data = np.frombuffer(buf, dtype=np.uint8)
    nl = np.flatnonzero(data == _NEWLINE)
    ends = nl if data.size == 0 or data[-1] == _NEWLINE else np.r_[nl, data.size]
    starts = np.r_[0, ends[:-1] + 1] if ends.size else np.empty(0, np.int64)
    stops = ends.copy()
    if stops.size:
        cr = stops > starts
        cr[cr] = data[stops[cr] - 1] == _CR
        stops[cr] -= 1
    return starts.astype(np.int64) + base, stops.astype(np.int64) + base


def split_header(line: str, source: str) -> Tuple[str, List[str]]:
    """Parse the header line; return (cell column name, gene names). Validates the gene names."""
    line = line.lstrip("\ufeff").rstrip("\r\n")
    if line.count('"') % 2:
        raise InputError(f"{source}: header line has an unbalanced quote (quoted newlines are not supported)")
    fields = next(csv.reader([line]))
    if len(fields) < 2:
        raise InputError(
            f"{source}: empty matrix: the header has {len(fields)} column(s); expected the cell id column "
            "followed by one column per gene"
        )
    genes = fields[1:]
    seen = {}
    for position, name in enumerate(genes):
        if name == "":
            raise InputError(f"{source}: header column {position + 2} has an empty gene name")
        if name in seen:
            raise InputError(
                f"{source}: duplicate gene name {name!r} in header columns "
                f"{seen[name] + 2} and {position + 2}"
            )
        seen[name] = position
    return fields[0], genes


def quoted_end(buf: bytes, start: int, stop: int) -> int:
    """Index of the closing quote of a quoted field opening at ``start``, or -1."""
    pos = start + 1
    while True:
        q = buf.find(b'"', pos, stop)
        if q < 0:
            return -1
        if q + 1 < stop and buf[q + 1] == _QUOTE:
            pos = q + 2
            continue
        return q


def _id_ends(buf: bytes, starts: np.ndarray, stops: np.ndarray) -> Optional[np.ndarray]:
    """Byte index of the comma that ends each line's cell-id field (None: let the slow path judge)."""
    n = len(starts)
    ends = np.empty(n, dtype=np.int64)
    for r, (a, b) in enumerate(zip(starts.tolist(), stops.tolist())):  # noqa: B905
        if b > a and buf[a] == _QUOTE:
            q = quoted_end(buf, a, b)
            if q < 0 or q + 1 >= b or buf[q + 1] != _COMMA:
                return None
            ends[r] = q + 1
        else:
            c = buf.find(b",", a, b)
            if c < 0:
                return None
            ends[r] = c
    return ends


def cell_id(buf: bytes, a: int, b: int) -> Optional[bytes]:
    """The (unquoted) cell-id field of the line ``buf[a:b]``; None if a quoted id is not closed."""
    if b > a and buf[a] == _QUOTE:
        q = quoted_end(buf, a, b)
        if q < 0:
            return None
        return buf[a + 1 : q].replace(b'""', b'"')
    c = buf.find(b",", a, b)
    return buf[a : (b if c < 0 else c)]


def parse_fast(buf: Any, starts: np.ndarray, stops: np.ndarray, n_genes: int) -> Optional[Parsed]:
    """Vectorised parse of the lines ``buf[starts[i]:stops[i]]`` (ascending, non-empty); ``buf``
    is any buffer (bytes, a memory map).

    Only newline bytes (``\\n``, and ``\\r`` before it) may sit between one line's stop and the
    next line's start. Returns None whenever the batch needs the careful slow path.
    """
    empty = (np.empty(0, np.int64), np.empty(0, np.int32), np.empty(0, np.float64))
    if len(starts) == 0:
        return empty
    lo_byte = int(starts[0])
    if lo_byte or int(stops[-1]) != len(buf) or not isinstance(buf, bytes):
        buf = bytes(memoryview(buf)[lo_byte : int(stops[-1])])  # the batch's own bytes, cache-sized
        starts = starts - lo_byte
        stops = stops - lo_byte
    data = np.frombuffer(buf, dtype=np.uint8)
    id_end = _id_ends(buf, starts, stops)
    if id_end is None:
        return None
    bounds = np.r_[starts, data.size]
    is_comma = data == _COMMA
    cs = _CommaCount(is_comma)
    last = stops - 1
    if (last <= id_end).any():  # a line that ends right after its id: no values at all
        return None
    cs_id = cs.at(id_end)
    if ((cs.at(last) - cs_id) != n_genes - 1).any():
        return None
    if is_comma[last].any():
        return None
    double = np.flatnonzero(is_comma[:-1] & is_comma[1:])
    if double.size:
        dl = _line_of(bounds, double)
        if (double >= id_end[dl]).any():
            return None
    det = data != _ZERO
    np.greater(det, is_comma, out=det)  # neither ',' nor '0'
    det &= data != _NEWLINE
    det = np.flatnonzero(det)
    line = _line_of(bounds, det)
    keep = (det > id_end[line]) & (det < stops[line])
    det = det[keep]
    line = line[keep]
    if det.size == 0:
        return empty
    if not _ALLOWED[data[det]].all():
        return None
    fid = cs.at(det)
    first = np.ones(det.size, dtype=bool)
    first[1:] = fid[1:] != fid[:-1]
    lastb = np.ones(det.size, dtype=bool)
    lastb[:-1] = first[1:]
    start = det[first]
    end = det[lastb] + 1
    fline = line[first]
    col = fid[first] - cs_id[fline]
    lo = id_end[fline] + 1
    hi = stops[fline]
    top = data.size - 1
    while True:  # widen left over leading zeros ("0.5", "007")
        m = (start > lo) & (data[np.maximum(start - 1, 0)] == _ZERO)
        if not m.any():
            break
        start[m] -= 1
    while True:  # widen right over trailing zeros ("10", "2.50")
        m = (end < hi) & (data[np.minimum(end, top)] == _ZERO)
        if not m.any():
            break
        end[m] += 1
    width = end - start
    maxw = int(width.max())
    if maxw > _MAX_FIELD:
        return None
    plain = width <= 15  # plain integers (UMI counts): exact digit arithmetic, no string conversion
    acc = np.zeros(width.size, dtype=np.int64)
    for p in range(maxw):  # one pass per character position; 1-D, so cheap for short fields
        m = width > p
        d = data[np.minimum(start + p, top)] - np.uint8(_ZERO)  # wraps below '0': then > 9
        plain &= (d <= 9) | ~m
        acc = np.where(m, acc * 10 + d, acc)
    vals = acc.astype(np.float64)
    other = np.flatnonzero(~plain)
    if other.size:  # decimals, exponents: numpy's string-to-float on just those fields
        span = np.arange(maxw)
        inside = span[None, :] < width[other, None]
        chars = np.where(inside, data[np.minimum(start[other, None] + span[None, :], top)], 0)
        try:
            sub = np.ascontiguousarray(chars, dtype=np.uint8)
            vals[other] = sub.view(f"S{maxw}").ravel().astype(np.float64)
        except ValueError:
            return None
    if not np.isfinite(vals).all() or (vals < 0).any():
        return None
    nz = vals != 0
    return fline[nz].astype(np.int64), col[nz].astype(np.int32), vals[nz]


def _describe(value: str) -> Optional[str]:
    """None if ``value`` is an acceptable number, else why it is not."""
    try:
        x = float(value)
    except ValueError:
        return f"non-numeric value {value!r}"
    if x != x:
        return f"NaN value {value!r}"
    if x in (float("inf"), float("-inf")):
        return f"infinite value {value!r}"
    if x < 0:
        return f"negative value {value!r}"
    return None


def parse_slow(
    lines: Sequence[str],
    n_genes: int,
    gene_names: Sequence[str],
    line_numbers: Sequence[int],
    source: str,
) -> Parsed:
    """Careful parse with the csv module; raises an InputError that names the culprit."""
    rows, cols, vals = [], [], []
    for i, text in enumerate(lines):
        try:
            fields = next(csv.reader([text]))
        except csv.Error as exc:
            raise InputError(f"{source}: line {line_numbers[i]}: malformed CSV ({exc})") from None
        cell = fields[0] if fields else ""
        if len(fields) != n_genes + 1:
            raise InputError(
                f"{source}: line {line_numbers[i]} (cell {cell!r}) has {len(fields) - 1} values, expected "
                f"{n_genes} (one per gene column in the header): ragged row"
            )
        values = fields[1:]
        try:
            arr = np.array(values, dtype=np.float64)
            ok = bool(np.isfinite(arr).all() and not (arr < 0).any())
        except ValueError:
            ok = False
        if not ok:
            for j, v in enumerate(values):
                problem = _describe(v.strip())
                if problem is not None:
                    raise InputError(
                        f"{source}: line {line_numbers[i]} (cell {cell!r}), column {j + 2} "
                        f"(gene {gene_names[j]!r}): {problem}; values must be finite numbers >= 0"
                    )
        nz = np.flatnonzero(arr)
        rows.append(np.full(nz.size, i, dtype=np.int64))
        cols.append(nz.astype(np.int32))
        vals.append(arr[nz])
    if not rows:
        return np.empty(0, np.int64), np.empty(0, np.int32), np.empty(0, np.float64)
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)
