"""The one stage of ``aggregate``: a task per gene block, reading, computing and writing itself.

Task-side code only (numpy, pyarrow and this package's task modules; never pandas or
pyspark.sql), so a fresh Python worker starts it quickly.
"""

from typing import Any, Dict, Iterator, Sequence, Tuple

import numpy as np
import pyarrow as pa

from . import fsio, worker
from .stats import block_stats


def read_gene_range(files: Sequence[str], g0: int, g1: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(cell, gene, value) of every stored entry with ``g0 <= gene < g1``, from all matrix files.

    Each file's footer says which row groups can hold such genes (gene min/max statistics;
    ingest writes files gene-major, so at most two row groups per file are read in part);
    only those are read, then filtered exactly. Files without statistics are read whole.
    """
    cells, genes, values = [], [], []
    for uri in files:
        pf = fsio.ArrowIO.parquet_file(uri)
        meta = pf.metadata
        gene_col = pf.schema_arrow.get_field_index("gene")
        wanted = []
        for r in range(meta.num_row_groups):
            st = meta.row_group(r).column(gene_col).statistics
            if st is None or not st.has_min_max or (st.max >= g0 and st.min < g1):
                wanted.append(r)
        if not wanted:
            continue
        table = pf.read_row_groups(wanted, columns=["cell", "gene", "value"])
        cell, gene, value = (table.column(c).to_numpy() for c in ("cell", "gene", "value"))
        keep = (gene >= g0) & (gene < g1)
        if not keep.all():
            cell, gene, value = cell[keep], gene[keep], value[keep]
        cells.append(cell)
        genes.append(gene)
        values.append(value)
    if not cells:
        return np.empty(0, np.int32), np.empty(0, np.int32), np.empty(0, np.float64)
    return np.concatenate(cells), np.concatenate(genes), np.concatenate(values)


def make_block_task(
    shared: Any,
    files: Sequence[str],
    stats: Sequence[str],
    trim: float,
    block_genes: int,
    n_genes: int,
    views_dir: str,
) -> Any:
    """The one Spark stage: gene block -> one Parquet file per statistic, and its row counts.

    A task reads its genes' entries straight from the matrix files, tags each with its cell's
    group, runs ``stats.block_stats`` and writes ``<views_dir>/<stat>/part-<block>.parquet``
    itself (every block writes every statistic, possibly empty, so each view has its schema).
    Zero values are omitted; variance and std of a one-cell group are NaN for every gene of
    the block, as numpy gives. Nothing but the counts returns to the driver.
    """

    def run(blocks: Iterator[int]) -> Iterator[Tuple[int, Dict[str, int]]]:
        worker.prepare()
        data = shared.value
        codes, sizes = data["codes"], data["sizes"]
        group_names = pa.array(data["group_names"], pa.string())
        gene_names = pa.array(data["gene_names"], pa.string())
        single = np.flatnonzero(sizes == 1).astype(np.int32)
        for b in blocks:
            g0, g1 = b * block_genes, min(n_genes, (b + 1) * block_genes)
            cells, genes, values = read_gene_range(files, g0, g1)
            out = block_stats(codes[cells], genes, values, sizes, g0, g1, stats, trim)
            multi = sizes[out["group"]] > 1
            rows: Dict[str, int] = {}
            for stat in stats:
                value = out[stat]
                keep = value != 0
                if stat in ("variance", "std"):
                    keep &= multi
                idx = np.flatnonzero(keep)
                grp_idx, gene_idx, vals = out["group"][idx], out["gene"][idx], value[idx].astype(np.float64)
                if stat in ("variance", "std") and single.size:
                    block = np.arange(g0, g1, dtype=np.int32)
                    grp_idx = np.concatenate([grp_idx, np.tile(single, block.size)])
                    gene_idx = np.concatenate([gene_idx, np.repeat(block, single.size)])
                    vals = np.concatenate([vals, np.full(block.size * single.size, np.nan)])
                table = pa.table(
                    {
                        "group": group_names.take(pa.array(grp_idx, pa.int32())),
                        "gene": gene_names.take(pa.array(gene_idx, pa.int32())),
                        "value": pa.array(vals, pa.float64()),
                    }
                )
                fsio.ArrowIO.write_parquet(table, fsio.join(views_dir, stat, f"part-{b:05d}.parquet"))
                rows[stat] = int(vals.size)
            yield b, rows

    return run
