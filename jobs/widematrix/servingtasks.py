"""The Spark tasks of the serving export (``pipeline.export_serving``): one gene block per task.

Task-side code only (numpy, pyarrow and this package's task modules; never pandas or
pyspark.sql). A task reads its block's view files (``<views>/<stat>/part-<block>.parquet``, as
``blocks`` wrote them) with pyarrow, places every stored value into a dense
(stat, gene, group) array with numpy (unstored values are 0, as the serving layout says), and

* ``genes``: renders one TSV line per gene of the block, genes with no stored value included;
* ``top_candidates``: keeps, per (stat, group), the block's best ``top_max`` stored values
  (NaN left out) in the top table's order: value descending, then gene name ascending in UTF-8
  byte order (Spark's string order, which the first, window-based export used). The global top
  ``top_max`` of a (stat, group) is among the union of its blocks' candidates, so
  ``top_lines`` ranks that union (after a shuffle by (stat, group)) and renders the lines.

Values are rendered with ``serving.format_value`` (``repr`` of the double), zeros as ``0.0``.
"""

from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, Iterator, List, Sequence, Tuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import fsio, serving, worker

#: Values rendered per batch of genes (bounds a task's Python strings, whatever the group count).
CELLS_PER_BATCH = 1_000_000


class Block:
    """One gene block: genes ``g0 <= index < g1`` and, per statistic, the view files holding them."""

    def __init__(self, index: int, g0: int, g1: int, files: Sequence[Sequence[str]]) -> None:
        self.index = index
        self.g0 = g0
        self.g1 = g1
        self.files = [list(f) for f in files]  # one list per statistic, in the stats' order


def read_block(
    block: Block, stats: Sequence[str], groups: Any, gene_names: Sequence[str]
) -> Tuple[np.ndarray, List[Tuple[np.ndarray, np.ndarray, np.ndarray]]]:
    """The dense (stat, gene - g0, group) values of a block, and per stat its stored entries.

    Entries are (group index, gene index - g0, value). A row naming a group outside the
    manifest's groups or a gene outside the block means the views are not laid out as
    ``blocks`` writes them: that is an error, not a silent loss.
    """
    n_local = block.g1 - block.g0
    local = pa.array(list(gene_names[block.g0 : block.g1]), pa.string())
    dense = np.zeros((len(stats), n_local, len(groups)), dtype=np.float64)
    entries = []
    for si, stat in enumerate(stats):
        parts = [
            fsio.ArrowIO.parquet_file(f).read(columns=["group", "gene", "value"]) for f in block.files[si]
        ]
        table = pa.concat_tables(parts) if parts else None
        if table is None or table.num_rows == 0:
            empty = np.empty(0, np.int64)
            entries.append((empty, empty, np.empty(0, np.float64)))
            continue
        gi = pc.index_in(table.column("group"), value_set=groups)
        gl = pc.index_in(table.column("gene"), value_set=local)
        if gi.null_count or gl.null_count:
            raise RuntimeError(
                f"view {stat!r}, block {block.index}: rows whose group is not in the views manifest or "
                f"whose gene is not in the block's range [{block.g0}, {block.g1}); the views are not "
                "laid out as the aggregate writes them"
            )
        gi_np = gi.to_numpy(zero_copy_only=False).astype(np.int64)
        gl_np = gl.to_numpy(zero_copy_only=False).astype(np.int64)
        values = table.column("value").to_numpy().astype(np.float64, copy=False)
        dense[si, gl_np, gi_np] = values
        entries.append((gi_np, gl_np, values))
    return dense, entries


def render_values(values: np.ndarray) -> List[str]:
    """``serving.format_value`` of every value, each distinct double rendered once.

    Views repeat values a lot (a mean is a count over a group's cell count, unstored values are
    0), and ``repr`` of a double is the export's dominant cost (about 1 us for 17 digits):
    distinct bit patterns (so ``-0.0`` stays apart from ``0.0``) are rendered, then spread.
    """
    flat = np.ascontiguousarray(values, dtype=np.float64).ravel()
    if flat.size == 0:
        return []
    bits, where = np.unique(flat.view(np.int64), return_inverse=True)
    texts = np.array(list(map(serving.format_value, bits.view(np.float64).tolist())), dtype=object)
    return texts[where.ravel()].tolist()


def gene_lines(dense: np.ndarray, names: Sequence[str], version: str) -> Iterator[List[str]]:
    """TSV lines ``gene, version, one field per stat`` (values joined by ','), in batches."""
    n_stats, n_local, n_groups = dense.shape
    per_gene = max(1, n_stats * n_groups)
    step = max(1, CELLS_PER_BATCH // per_gene)
    by_gene = dense.transpose(1, 0, 2)  # (gene, stat, group)
    sep = serving.VALUE_SEP
    for a in range(0, n_local, step):
        b = min(n_local, a + step)
        text = render_values(by_gene[a:b].ravel())
        lines = []
        for i in range(b - a):
            base = i * per_gene
            fields = [names[a + i], version]
            for s in range(n_stats):
                o = base + s * n_groups
                fields.append(sep.join(text[o : o + n_groups]))
            lines.append("\t".join(fields))
        yield lines


def rank_order(key: np.ndarray, value: np.ndarray, name_rank: np.ndarray) -> np.ndarray:
    """Order by key ascending, value descending, gene name (its rank) ascending."""
    return np.lexsort((name_rank, -value, key))


def first_per_key(sorted_key: np.ndarray, k: int) -> Tuple[np.ndarray, np.ndarray]:
    """(positions whose rank within their run of equal keys is below k, that rank)."""
    n = sorted_key.size
    if n == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    starts = np.flatnonzero(np.concatenate(([True], sorted_key[1:] != sorted_key[:-1])))
    lengths = np.diff(np.concatenate((starts, [n])))
    rank = np.arange(n, dtype=np.int64) - np.repeat(starts, lengths)
    keep = np.flatnonzero(rank < k)
    return keep, rank[keep]


def block_candidates(
    block: Block,
    entries: Sequence[Tuple[np.ndarray, np.ndarray, np.ndarray]],
    name_rank: np.ndarray,
    top_max: int,
) -> Iterator[Tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
    """Per statistic: (stat index, group index, gene index, value) of the block's best
    ``top_max`` stored values of every group (NaN left out), in the top table's order."""
    for si, (gi, gl, values) in enumerate(entries):
        ok = ~np.isnan(values)
        gi, g, values = gi[ok], gl[ok] + block.g0, values[ok]
        order = rank_order(gi, values, name_rank[g])
        keep, _ = first_per_key(gi[order], top_max)
        pick = order[keep]
        yield si, gi[pick], g[pick], values[pick]


def top_lines(
    s: np.ndarray,
    gi: np.ndarray,
    g: np.ndarray,
    value: np.ndarray,
    names: Sequence[str],
    name_rank: np.ndarray,
    stats: Sequence[str],
    version: str,
    top_max: int,
) -> List[str]:
    """The top TSV lines of every (stat, group) among candidates holding all of each pair's
    candidates: ranked (value descending, then gene name), the first ``top_max`` kept."""
    key = s.astype(np.int64) * serving.MAX_GROUPS + gi.astype(np.int64)
    order = rank_order(key, value, name_rank[g])
    keep, rank = first_per_key(key[order], top_max)
    pick = order[keep]
    fmt = serving.format_value
    return [
        "\t".join((serving.top_key(stats[si], gj, r), version, names[gg], fmt(v)))
        for si, gj, r, gg, v in zip(  # noqa: B905
            s[pick].tolist(), gi[pick].tolist(), rank.tolist(), g[pick].tolist(), value[pick].tolist()
        )
    ]


LINE_SCHEMA = pa.schema([("line", pa.string())])
CANDIDATE_SCHEMA = pa.schema(
    [("s", pa.int32()), ("gi", pa.int32()), ("g", pa.int32()), ("value", pa.float64())]
)


def make_genes_task(shared: Any, blocks: Sequence[Block], stats: Sequence[str], version: str) -> Any:
    """``mapInArrow`` function: block ids -> genes TSV lines (column ``line``)."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        worker.prepare()
        data = shared.value
        groups = pa.array(data["groups"], pa.string())
        names = data["gene_names"]
        for batch in batches:
            for b in batch.column(0).to_pylist():
                block = blocks[int(b)]
                dense, _ = read_block(block, stats, groups, names)
                for lines in gene_lines(dense, names[block.g0 : block.g1], version):
                    yield pa.RecordBatch.from_arrays([pa.array(lines, pa.string())], schema=LINE_SCHEMA)

    return run


def make_candidates_task(shared: Any, blocks: Sequence[Block], stats: Sequence[str], top_max: int) -> Any:
    """``mapInArrow`` function: block ids -> each block's top ``top_max`` per (stat, group)."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        worker.prepare()
        data = shared.value
        groups = pa.array(data["groups"], pa.string())
        names, name_rank = data["gene_names"], data["name_rank"]
        for batch in batches:
            for b in batch.column(0).to_pylist():
                block = blocks[int(b)]
                _, entries = read_block(block, stats, groups, names)
                for si, gi, g, values in block_candidates(block, entries, name_rank, top_max):
                    yield pa.RecordBatch.from_arrays(
                        [
                            pa.array(np.full(g.size, si, np.int32)),
                            pa.array(gi.astype(np.int32)),
                            pa.array(g.astype(np.int32)),
                            pa.array(values),
                        ],
                        schema=CANDIDATE_SCHEMA,
                    )

    return run


def make_top_task(shared: Any, stats: Sequence[str], version: str, top_max: int) -> Any:
    """``mapInArrow`` function over candidates partitioned by (stat, group): top TSV lines.

    A partition holds every candidate of its (stat, group) pairs, so ranking the whole
    partition at once gives each pair's global ranks.
    """

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        worker.prepare()
        data = shared.value
        names, name_rank = data["gene_names"], data["name_rank"]
        cols: Dict[str, List[np.ndarray]] = {"s": [], "gi": [], "g": [], "value": []}
        for batch in batches:
            for c in cols:
                cols[c].append(batch.column(c).to_numpy(zero_copy_only=False))
        if not cols["s"]:
            return
        s, gi, g, value = (np.concatenate(cols[c]) for c in ("s", "gi", "g", "value"))
        lines = top_lines(s, gi, g, value, names, name_rank, stats, version, top_max)
        step = 100_000
        for a in range(0, len(lines), step):
            yield pa.RecordBatch.from_arrays([pa.array(lines[a : a + step], pa.string())], schema=LINE_SCHEMA)

    return run


#: Views of at most this many values (genes x groups x statistics) are exported by the driver
#: itself (``export_in_process``): 5 statistics of 50,000 genes x 20 groups are 5,000,000 values,
#: about 2 s of rendering, where the Spark route's jobs, shuffle and cold Python workers cost
#: more than the work. Larger views go through the Spark tasks above.
IN_PROCESS_MAX_VALUES = 20_000_000
TOP_LINES_PER_FILE = 1_000_000


def _text(lines: Sequence[str]) -> bytes:
    return ("\n".join(lines) + "\n").encode("utf-8") if lines else b""


def export_in_process(
    blocks: Sequence[Block],
    stats: Sequence[str],
    groups: Sequence[str],
    names: Sequence[str],
    name_rank: np.ndarray,
    version: str,
    top_max: int,
    genes_dir: str,
    top_dir: str,
    threads: int = 4,
) -> int:
    """The serving export without Spark jobs: the same functions as the tasks, run in this
    process (a few threads: reading and writing overlap the rendering). Writes
    ``<genes_dir>/part-<block>.tsv`` and ``<top_dir>/part-<k>.tsv``; returns the top line count.
    """
    group_array = pa.array(list(groups), pa.string())

    def one(block: Block) -> List[Tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
        dense, entries = read_block(block, stats, group_array, names)
        lines: List[str] = []
        for batch in gene_lines(dense, names[block.g0 : block.g1], version):
            lines += batch
        fsio.ArrowIO.write_bytes(_text(lines), fsio.join(genes_dir, f"part-{block.index:05d}.tsv"))
        return list(block_candidates(block, entries, name_rank, top_max))

    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        per_block = list(pool.map(one, blocks))
    found = [c for cands in per_block for c in cands]
    if found:
        s = np.concatenate([np.full(g.size, si, np.int32) for si, _, g, _ in found])
        gi, g, value = (np.concatenate([c[k] for c in found]) for k in (1, 2, 3))
    else:
        s = gi = g = np.empty(0, np.int64)
        value = np.empty(0, np.float64)
    lines = top_lines(s, gi, g, value, names, name_rank, stats, version, top_max)
    for k, a in enumerate(range(0, max(1, len(lines)), TOP_LINES_PER_FILE)):
        fsio.ArrowIO.write_bytes(
            _text(lines[a : a + TOP_LINES_PER_FILE]), fsio.join(top_dir, f"part-{k:05d}.tsv")
        )
    return len(lines)
