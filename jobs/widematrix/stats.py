"""Exact per-(group, gene) statistics for one gene block, zeros counted but never materialised.

Input is the block's stored nonzeros (cell, gene, value) plus each cell's group code and each
group's size ``n``. For a (group, gene) pair with ``nnz`` stored values the other ``z = n - nnz``
cells hold 0, and because values are >= 0 those zeros are the smallest ``z`` order statistics:

* rank ``r`` (0-based) of the sorted column is 0 when ``r < z``, else the ``(r - z)``-th smallest
  stored value. Only pairs whose needed ranks reach past ``z`` are sorted at all.
* ``mean = sum / n``; ``fraction = nnz / n``; ``count = nnz`` (cells with a value > 0);
* ``variance`` (ddof=1) in two passes: ``(sum over stored (x - mean)^2 + z * mean^2) / (n - 1)``;
  ``std = sqrt(variance)``; both are NaN for a group of one cell, as in numpy;
* ``median`` as ``numpy.median``: the middle value, or the mean of the two middle values;
* ``q25`` / ``q75`` as ``numpy.quantile`` with its default ``linear`` method, including
  numpy's own interpolation formula, so results agree to the last bit;
* ``trimmed_mean`` as ``scipy.stats.trim_mean(x, trim)``: cut ``floor(trim * n)`` values from
  each end, average the rest.

All arithmetic is float64. Memory is O(stored values in the block + groups x genes in block).
"""

from typing import Dict, Iterable, Optional

import numpy as np

from .serving import DEFAULT_STATS, STATS  # noqa: F401 - defined beside the layout, used here

QUANTILES = {"q25": 0.25, "q75": 0.75}


def _lerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """numpy's interpolation formula for method='linear' (numpy/lib/_function_base_impl.py)."""
    diff = b - a
    out = a + diff * t
    hi = t >= 0.5
    out[hi] = (b - diff * (1 - t))[hi]
    return out


def _sorted_values(keys: np.ndarray, values: np.ndarray):
    """Sort entries by (pair key, value). float32 values sort as one packed int64 (fast path)."""
    if values.dtype == np.float32 and keys.size and int(keys.max()) < (1 << 31):
        packed = (keys.astype(np.int64) << 32) | values.view(np.uint32).astype(np.int64)
        packed.sort()
        k = packed >> 32
        v = (packed & 0xFFFFFFFF).astype(np.uint32).view(np.float32).astype(np.float64)
        return k, v
    order = np.lexsort((values, keys))
    return keys[order], values[order].astype(np.float64)


def block_stats(
    groups: np.ndarray,
    genes: np.ndarray,
    values: np.ndarray,
    group_sizes: np.ndarray,
    g0: int,
    g1: int,
    stats: Iterable[str],
    trim: float = 0.25,
) -> Dict[str, np.ndarray]:
    """Statistics for genes ``g0 <= gene < g1`` and every group, for pairs with a stored value.

    ``groups[i]`` is the group of the cell that holds entry ``i`` (``-1``: excluded cell);
    ``group_sizes[g]`` counts the group's cells. Returns arrays ``group``, ``gene`` and one float64
    array per requested statistic, for the pairs with at least one stored value.
    """
    stats = list(stats)
    n_groups = int(group_sizes.shape[0])
    n_local = int(g1 - g0)
    code = groups
    keep = code >= 0
    if not keep.all():
        genes, values, code = genes[keep], values[keep], code[keep]
    key = (genes.astype(np.int64) - g0) * n_groups + code
    n_pairs = n_local * n_groups
    nnz_all = np.bincount(key, minlength=n_pairs)
    pairs = np.flatnonzero(nnz_all)
    nnz = nnz_all[pairs].astype(np.float64)
    n = group_sizes[pairs % n_groups].astype(np.float64)
    out: Dict[str, np.ndarray] = {
        "group": (pairs % n_groups).astype(np.int32),
        "gene": (pairs // n_groups + g0).astype(np.int32),
    }
    v64 = values.astype(np.float64)
    need_mean = any(s in stats for s in ("mean", "variance", "std"))
    if need_mean:
        total = np.bincount(key, weights=v64, minlength=n_pairs)[pairs]
        mean = total / n
        if "mean" in stats:
            out["mean"] = mean
        if "variance" in stats or "std" in stats:
            mean_all = np.zeros(n_pairs)
            mean_all[pairs] = mean
            dev = v64 - mean_all[key]
            m2 = np.bincount(key, weights=dev * dev, minlength=n_pairs)[pairs] + (n - nnz) * mean * mean
            with np.errstate(divide="ignore", invalid="ignore"):
                var = np.where(n > 1, m2 / np.maximum(n - 1, 1), np.nan)
            if "variance" in stats:
                out["variance"] = var
            if "std" in stats:
                out["std"] = np.sqrt(var)
    if "fraction" in stats:
        out["fraction"] = nnz / n
    if "count" in stats:
        out["count"] = nnz.copy()

    order_stats = [s for s in stats if s in ("median", "q25", "q75", "trimmed_mean")]
    if not order_stats:
        return out
    z = (n - nnz).astype(np.int64)
    ni = n.astype(np.int64)
    # per statistic: the lowest and highest rank it reads
    ranks: Dict[str, tuple] = {}
    if "median" in stats:
        lo = (ni - 1) // 2
        hi = ni // 2
        ranks["median"] = (lo, hi, None)
    for name, q in QUANTILES.items():
        if name in stats:
            virtual = ni * q + (1 - q) - 1  # numpy's virtual index for alpha = beta = 1
            prev = np.floor(virtual).astype(np.int64)
            nxt = np.minimum(prev + 1, ni - 1)
            prev = np.clip(prev, 0, ni - 1)
            ranks[name] = (prev, nxt, virtual - np.floor(virtual))
    cut: Optional[np.ndarray] = None
    if "trimmed_mean" in stats:
        cut = np.floor(trim * n).astype(np.int64)  # scipy: int(proportiontocut * nobs)
        ranks["trimmed_mean"] = (cut, ni - cut - 1, None)
    highest = np.max(np.stack([r[1] for r in ranks.values()]), axis=0)
    needed = highest >= z  # some rank this pair reads is a stored (nonzero) value
    sel_pairs = pairs[needed]
    for name in ranks:
        out[name] = np.zeros(pairs.size)
    if sel_pairs.size == 0:
        return out
    mark = np.zeros(n_pairs, dtype=bool)
    mark[sel_pairs] = True
    take = mark[key]
    skey, sval = _sorted_values(key[take], values[take])
    start = np.searchsorted(skey, sel_pairs)
    zs = z[needed]

    def at(rank: np.ndarray) -> np.ndarray:
        res = np.zeros(rank.size)
        stored = rank >= zs
        res[stored] = sval[start[stored] + rank[stored] - zs[stored]]
        return res

    for name, (lo_r, hi_r, gamma) in ranks.items():
        if name == "trimmed_mean":
            continue
        a = at(lo_r[needed])
        b = at(hi_r[needed])
        if name == "median":
            val = np.where(lo_r[needed] == hi_r[needed], a, (a + b) / 2.0)
        else:
            val = _lerp(a, b, gamma[needed])
        out[name][needed] = val
    if cut is not None:
        # stored values of the pair occupy ranks z .. n-1; keep ranks cut .. n-cut-1
        first = np.maximum(cut[needed], zs) - zs  # positions within the pair's sorted run
        last = (ni[needed] - cut[needed]) - zs  # exclusive
        local = np.searchsorted(sel_pairs, skey)
        pos = np.arange(skey.size) - start[local]
        kept = (pos >= first[local]) & (pos < last[local])
        tsum = np.bincount(local, weights=np.where(kept, sval, 0.0), minlength=sel_pairs.size)
        out["trimmed_mean"][needed] = tsum / (ni[needed] - 2 * cut[needed])
    return out
