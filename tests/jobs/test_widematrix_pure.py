"""Pure numpy tests of the wide-matrix CSV parser and block statistics (no Spark)."""

import warnings

import numpy as np
import pytest
import scipy.stats
from hypothesis import event, given, settings
from hypothesis import strategies as st

from emr_patterns.jobs.widematrix import csvparse, stats
from emr_patterns.jobs.widematrix.aggregate import parse_stats
from emr_patterns.jobs.widematrix.errors import InputError, unwrap
from emr_patterns.jobs.widematrix.ingest_zip import zip_role


def _batch(lines, newline="\n"):
    """The lines as one buffer, as a task reads them from the file, plus their bounds."""
    buf = newline.join(lines).encode("utf-8") + newline.encode()
    starts, stops = csvparse.line_bounds(buf)
    return buf, starts, stops


def _fmt(x, style):
    if x == 0:
        return ["0", "0", "0.0", "00"][style]
    return [str(int(x)) if float(x).is_integer() else repr(float(x)), repr(float(x)), f"{x:.4f}", f"{x:g}"][
        style
    ]


@settings(max_examples=60, deadline=None)
@given(
    rows=st.integers(1, 12),
    genes=st.integers(1, 15),
    density=st.floats(0, 1),
    style=st.integers(0, 3),
    quoted=st.booleans(),
    seed=st.integers(0, 2**31),
    newline=st.sampled_from(["\n", "\r\n"]),
)
def test_fast_parser_matches_careful_parser(rows, genes, density, style, quoted, seed, newline):
    rng = np.random.default_rng(seed)
    m = (
        (rng.random((rows, genes)) < density)
        * rng.integers(1, 2000, (rows, genes))
        / rng.choice([1, 4, 8], 1)
    )
    ids = [f'"c,{i}""q"' if quoted else f"0{i}" for i in range(rows)]
    lines = [ids[i] + "," + ",".join(_fmt(x, style) for x in row) for i, row in enumerate(m)]
    buf, starts, stops = _batch(lines, newline)
    fast = csvparse.parse_fast(buf, starts, stops, genes)
    slow = csvparse.parse_slow(lines, genes, [f"g{j}" for j in range(genes)], list(range(rows)), "x.csv")
    assert fast is not None
    for a, b in zip(fast, slow, strict=True):
        np.testing.assert_array_equal(a, b)
    r, c = np.nonzero(m)
    np.testing.assert_array_equal(slow[2], m[r, c])


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("c1,1,2,3,4", "has 4 values, expected 3"),
        ("c1,1,2", "has 2 values, expected 3"),
        ("c1,abc,2,3", "column 2 (gene 'g,1'): non-numeric value 'abc'"),
        ("c1,1,NaN,3", "column 3 (gene 'g\"2'): NaN value 'NaN'"),
        ("c1,1,2,-3", "column 4 (gene 'gé'): negative value '-3'"),
        ("c1,1,,3", "non-numeric value ''"),
        ("c1,inf,0,0", "infinite value"),
    ],
)
def test_bad_values_are_named_by_line_cell_and_gene(line, expected):
    lines = ["c0,0,1,0", line]
    buf, starts, stops = _batch(lines)
    assert csvparse.parse_fast(buf, starts, stops, 3) is None
    with pytest.raises(InputError) as info:
        csvparse.parse_slow(lines, 3, ["g,1", 'g"2', "gé"], [2, 3], "m.csv")
    assert expected in str(info.value)
    assert "m.csv: line 3 (cell 'c1')" in str(info.value)


def test_quoted_numbers_and_spaces_take_the_careful_path_and_still_parse():
    lines = ['c0,"1", 2,0']
    buf, starts, stops = _batch(lines)
    assert csvparse.parse_fast(buf, starts, stops, 3) is None
    _rows, genes, vals = csvparse.parse_slow(lines, 3, ["a", "b", "c"], [2], "m.csv")
    assert genes.tolist() == [0, 1] and vals.tolist() == [1.0, 2.0]


def test_header_rules():
    cell, genes = csvparse.split_header('\ufeffcell,"a,b","q""x",é\r\n', "m.csv")
    assert (cell, genes) == ("cell", ["a,b", 'q"x', "é"])
    with pytest.raises(InputError, match=r"duplicate gene name 'a' in header columns 2 and 4"):
        csvparse.split_header("cell,a,b,a", "m.csv")
    with pytest.raises(InputError, match="empty matrix"):
        csvparse.split_header("cell", "m.csv")
    with pytest.raises(InputError, match="empty gene name"):
        csvparse.split_header("cell,a,,b", "m.csv")


def test_error_message_survives_a_spark_wrapper():
    text = (
        "pyspark.errors.exceptions.captured.PythonException:\n"
        "  An exception was thrown from the Python worker.\n"
        "Traceback (most recent call last):\n  File ...\n"
        "emr_patterns.jobs.widematrix.errors.InputError: m.csv: line 4 (cell 'c3'): ragged row\n\n"
        "\tat org.apache.spark..."
    )
    assert str(unwrap(RuntimeError(text))) == "m.csv: line 4 (cell 'c3'): ragged row"
    assert str(unwrap(RuntimeError("WIDEMATRIX-INPUT-ERROR: m.csv: bad\nTraceback"))) == "m.csv: bad"
    assert unwrap(RuntimeError("java.lang.OutOfMemoryError")) is None


def test_zip_member_roles():
    assert zip_role("data/matrix.csv") == "matrix"
    assert zip_role("metadata.csv.gz") == "metadata"
    assert zip_role("__MACOSX/._matrix.csv") is None
    assert zip_role("readme.txt") is None
    assert zip_role("trimmed_means.csv") == "other"


def test_parse_stats():
    assert parse_stats(None) == list(stats.DEFAULT_STATS)
    assert parse_stats("median, mean,median") == ["median", "mean"]
    with pytest.raises(InputError, match="unknown statistic"):
        parse_stats("mean,mode")


# ---------------------------------------------------------------------------------------------


def reference(dense: np.ndarray, labels: np.ndarray, trim: float = 0.25):
    """Independent per-(group, gene) statistics with numpy/scipy on the dense matrix."""
    out = {}
    for g in np.unique(labels[labels >= 0]):
        x = dense[labels == g].astype(np.float64)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            var = np.var(x, axis=0, ddof=1)
            sd = np.std(x, axis=0, ddof=1)
        for j in range(x.shape[1]):
            col = x[:, j]
            out[(int(g), j)] = {
                "mean": col.mean(),
                "fraction": (col > 0).mean(),
                "variance": var[j],
                "std": sd[j],
                "median": np.median(col),
                "q25": np.quantile(col, 0.25),
                "q75": np.quantile(col, 0.75),
                "trimmed_mean": scipy.stats.trim_mean(col, trim),
                "count": float((col > 0).sum()),
            }
    return out


def run_block(dense, labels, trim=0.25, dtype=np.float32):
    r, c = np.nonzero(dense)
    sizes = np.bincount(labels[labels >= 0], minlength=labels.max() + 1)
    res = stats.block_stats(
        labels[r].astype(np.int32),
        c.astype(np.int32),
        dense[r, c].astype(dtype),
        sizes,
        0,
        dense.shape[1],
        stats.STATS,
        trim,
    )
    got = {}
    for i, (g, j) in enumerate(zip(res["group"], res["gene"], strict=True)):
        got[(int(g), int(j))] = {s: res[s][i] for s in stats.STATS}
    return got, sizes


def assert_matches(dense, labels, trim=0.25, dtype=np.float32):
    got, sizes = run_block(dense, labels, trim, dtype)
    want = reference(dense, labels, trim)
    for key, ref in want.items():
        for s, v in ref.items():
            if key in got:
                value = got[key][s]
            else:  # pairs without stored values: every statistic is 0 (variance of 1 cell: NaN)
                value = np.nan if (s in ("variance", "std") and sizes[key[0]] == 1) else 0.0
            if s in ("variance", "std") and sizes[key[0]] == 1:
                assert np.isnan(v) and np.isnan(value), (key, s)
                continue
            if s in ("median", "q25", "q75", "count", "fraction"):
                assert value == v, (key, s, value, v)  # order statistics are bit-exact
            else:
                assert value == pytest.approx(v, rel=1e-12, abs=1e-12), (key, s, value, v)


@settings(max_examples=80, deadline=None)
@given(
    cells=st.integers(1, 40),
    genes=st.integers(1, 8),
    groups=st.integers(1, 5),
    density=st.floats(0, 1),
    fractional=st.booleans(),
    trim=st.sampled_from([0.0, 0.1, 0.25, 0.4]),
    seed=st.integers(0, 2**31),
)
def test_block_stats_equal_numpy_and_scipy(cells, genes, groups, density, fractional, trim, seed):
    rng = np.random.default_rng(seed)
    dense = (rng.random((cells, genes)) < density) * rng.integers(1, 4, (cells, genes)).astype(np.float32)
    if fractional:
        dense = dense * np.float32(0.25)
    labels = rng.integers(0, groups, cells).astype(np.int32)
    assert_matches(dense, labels, trim)


def test_block_stats_edge_cases():
    # group 0: one cell; group 1: all zero; group 2: ties at the median, even count;
    # gene 3 zero everywhere; gene 0 dense with ties
    dense = np.array(
        [
            [5, 0, 1, 0],  # g0
            [0, 0, 0, 0],  # g1
            [0, 0, 0, 0],  # g1
            [2, 0, 3, 0],  # g2
            [2, 7, 3, 0],  # g2
            [2, 0, 0, 0],  # g2
            [4, 1, 3, 0],  # g2
        ],
        dtype=np.float32,
    )
    labels = np.array([0, 1, 1, 2, 2, 2, 2], dtype=np.int32)
    assert_matches(dense, labels)
    got, _ = run_block(dense, labels)
    assert got[(2, 0)]["median"] == 2.0 and got[(2, 2)]["median"] == 3.0
    assert all(k[0] != 1 for k in got)  # the all-zero group has no stored pair at all
    assert all(k[1] != 3 for k in got)


def test_block_stats_float64_values_and_excluded_cells():
    rng = np.random.default_rng(0)
    dense = (rng.random((30, 5)) < 0.5) * rng.random((30, 5))
    labels = rng.integers(0, 3, 30).astype(np.int32)
    labels[:4] = -1  # cells without a group value are left out
    assert_matches(dense, labels, dtype=np.float64)


def test_numpy_lerp_is_reproduced_bit_for_bit():
    a = np.array([0.1, 1.0, 3.0])
    b = np.array([0.7, 2.0, 3.3])
    t = np.array([0.25, 0.5, 0.75])
    for i in range(3):
        x = np.array([a[i], b[i]])
        q = t[i]
        assert stats._lerp(a[i : i + 1], b[i : i + 1], t[i : i + 1])[0] == np.quantile(x, q)


_VALID = st.sampled_from(["0", "1", "7", "2.5", "1e3", "1E-2", ".5", "3.", "00", "0.000", "12345678", "0.1"])
_ANY = st.sampled_from(
    ["+2", "-1", "-0", "abc", "", " 3", "3 ", "nan", "inf", '"4"', '""', "1,5", "0x1", "1_000", "٣", "1e400"]
)


@st.composite
def _fuzz_row(draw, genes):
    """A row that is mostly well formed, with at times one odd field, one too many or one too few."""
    cell = draw(st.sampled_from(["c", '"c,1"', '"q""x"', "é", "0"]))
    fields = draw(st.lists(_VALID, min_size=genes, max_size=genes))
    change = draw(st.sampled_from(["none", "none", "odd", "extra", "missing"]))
    if change == "odd":
        fields[draw(st.integers(0, genes - 1))] = draw(_ANY)
    elif change == "extra":
        fields.append(draw(_VALID))
    elif change == "missing":
        fields.pop()
    return ",".join([cell, *fields])


@settings(max_examples=400, deadline=None)
@given(
    data=st.data(), genes=st.integers(1, 6), n_rows=st.integers(1, 6), newline=st.sampled_from(["\n", "\r\n"])
)
def test_fast_path_accepts_only_what_the_careful_parser_parses_the_same(data, genes, n_rows, newline):
    """Differential fuzz over well- and ill-formed batches: the vectorised parser either declines
    (None) or returns exactly what the csv-module parser returns; it never accepts a batch that
    the careful parser rejects."""
    lines = [data.draw(_fuzz_row(genes)) for _ in range(n_rows)]
    buf, starts, stops = _batch(lines, newline)
    fast = csvparse.parse_fast(buf, starts, stops, genes)
    event("declined" if fast is None else "fast path")
    if fast is None:
        return
    slow = csvparse.parse_slow(lines, genes, [f"g{j}" for j in range(genes)], list(range(n_rows)), "f.csv")
    for a, b in zip(fast, slow, strict=True):
        np.testing.assert_array_equal(a, b)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.floats(allow_nan=True, allow_infinity=True),
            st.sampled_from([0.0, -0.0, 0.5, 1 / 3, 5e-324]),
        ),
        max_size=60,
    )
)
def test_render_values_is_format_value_of_each_value(values):
    """The export's de-duplicated rendering gives exactly ``serving.format_value`` per value
    (``-0.0`` and ``0.0`` kept apart, every NaN as ``nan``), in order."""
    from emr_patterns.jobs.widematrix import serving, servingtasks

    arr = np.array(values, dtype=np.float64).reshape(-1)
    assert servingtasks.render_values(arr) == [serving.format_value(v) for v in values]
    if arr.size % 2 == 0 and arr.size:  # any shape: the values in C order
        assert servingtasks.render_values(arr.reshape(2, -1)) == [serving.format_value(v) for v in values]
