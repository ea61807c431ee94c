"""The task-side I/O of the wide-matrix jobs, without Spark: byte-range splits of a CSV, the
matrix files the parse tasks write, gene-range reads with row-group pruning, atomic writes, the
same code against S3 (moto's server, through pyarrow's real S3 client), and the worker fix."""

import gzip
import importlib
import os
import sys
import zipfile

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emr_patterns.jobs.widematrix import blocks, csvparse, csvtasks, fsio, worker
from emr_patterns.jobs.widematrix.errors import InputError


def _file_lines(raw: bytes) -> list[bytes]:
    """Reference split: the file's lines without terminators (a final newline ends the last line)."""
    lines = raw.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return [line[:-1] if line.endswith(b"\r") else line for line in lines]


@settings(max_examples=80, deadline=None)
@given(
    lengths=st.lists(st.integers(0, 40), min_size=1, max_size=40),
    crlf=st.booleans(),
    final_newline=st.booleans(),
    max_split=st.integers(1, 120),
)
def test_byte_splits_read_every_line_exactly_once(tmp_path_factory, lengths, crlf, final_newline, max_split):
    end = b"\r\n" if crlf else b"\n"
    body = [(b"x%d," % i + b"7" * n) for i, n in enumerate(lengths)]
    raw = end.join(body) + (end if final_newline else b"")
    path = tmp_path_factory.mktemp("split") / "m.csv"
    path.write_bytes(raw)
    got: list[bytes] = []
    total = 0
    for start, stop in csvtasks.plan_splits(len(raw), max_split, 2):
        buf, base = csvtasks.read_split(str(path), start, stop)
        if len(buf):
            assert start <= base < stop  # the split's first line starts inside it
        starts, stops = csvparse.line_bounds(buf)
        view = memoryview(buf)
        got += [bytes(view[a:b]) for a, b in zip(starts.tolist(), stops.tolist(), strict=True)]
        total += len(starts)
    assert got == _file_lines(raw)
    assert total == len(_file_lines(raw))


def test_plan_splits_honours_the_split_size_and_covers_the_file():
    splits = csvtasks.plan_splits(1000, 128 << 20, 2)
    assert splits == [(0, 1000)]  # below the 1 MiB floor: one split
    big = 300 << 20
    splits = csvtasks.plan_splits(big, 128 << 20, 2)
    assert splits[0][0] == 0 and splits[-1][1] == big
    assert all(b - a <= 128 << 20 for a, b in splits) and len(splits) == 3
    assert csvtasks.plan_splits(0, 128 << 20, 2) == []


def _write_csv(path, m, ids, newline="\n"):
    header = "cell," + ",".join(f"g{j}" for j in range(m.shape[1]))
    rows = [ids[i] + "," + ",".join(str(int(v)) for v in row) for i, row in enumerate(m)]
    path.write_bytes((newline.join([header, *rows]) + newline).encode("utf-8"))


def _run_csv_tasks(uri, genes, matrix_dir, max_split):
    """Drive the scan and parse task functions the way ``ingest_csv`` does, without Spark."""
    splits = csvtasks.plan_splits(fsio.ArrowIO.open_input(uri).size(), max_split, 2)
    scan = csvtasks.make_csv_scanner(uri, uri)
    scanned = [r for k, (a, b) in enumerate(splits) for r in scan(iter([(k, a, b)]))]
    tasks, ids = csvtasks.number_splits(uri, splits, scanned[::-1])  # Spark may return any order
    parse = csvtasks.make_csv_parser(uri, uri, genes, matrix_dir, "auto32")
    done = [r for t in tasks for r in parse(iter([t]))]
    return ids, done


def test_parse_tasks_write_gene_major_files_with_global_cell_indices(tmp_path):
    rng = np.random.default_rng(3)
    m = (rng.random((60, 9)) < 0.3) * rng.integers(1, 50, (60, 9))
    ids = [f'"c,{i}"' if i % 7 == 0 else f"c{i}" for i in range(60)]
    src = tmp_path / "m.csv"
    _write_csv(src, m, ids, newline="\r\n")
    genes = [f"g{j}" for j in range(9)]
    ids_read, done = _run_csv_tasks(str(src), genes, str(tmp_path / "matrix"), 300)
    assert ids_read == [i.strip('"') for i in ids]
    assert sum(n for _, n, _ in done) == np.count_nonzero(m)
    files = sorted((tmp_path / "matrix").glob("part-*.parquet"))
    assert len(files) > 3 and not list((tmp_path / "matrix").glob(".*"))  # no temporary files left
    got = np.zeros_like(m)
    for f in files:
        t = pq.read_table(f).to_pandas()
        assert list(t.columns) == ["cell", "gene", "value"]
        assert (np.diff(t["gene"].to_numpy()) >= 0).all()  # gene-major ...
        for _, part in t.groupby("gene"):
            assert (np.diff(part["cell"].to_numpy()) > 0).all()  # ... cells ascending within a gene
        got[t["cell"], t["gene"]] = t["value"]
    np.testing.assert_array_equal(got, m)


def test_compressed_csv_is_one_stream_cut_into_pieces(tmp_path, monkeypatch):
    rng = np.random.default_rng(5)
    m = (rng.random((80, 6)) < 0.4) * rng.integers(1, 9, (80, 6))
    plain = tmp_path / "m.csv"
    _write_csv(plain, m, [f"c{i}" for i in range(80)])
    gz = tmp_path / "m.csv.gz"
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    monkeypatch.setattr(csvtasks, "PIECE_BYTES", 200)  # many pieces, cut at line ends
    stream = csvtasks.make_csv_streamer(
        str(gz), str(gz), "gzip", [f"g{j}" for j in range(6)], str(tmp_path / "matrix"), "auto32"
    )
    ((ids, stored, (max_value, non_integer)),) = list(stream(iter([0])))
    assert ids == [f"c{i}" for i in range(80)] and stored == np.count_nonzero(m)
    assert (max_value, non_integer) == (m.max(), 0)
    t = pd.read_parquet(tmp_path / "matrix")
    assert len(list((tmp_path / "matrix").glob("*.parquet"))) > 5
    got = np.zeros_like(m)
    got[t["cell"], t["gene"]] = t["value"]
    np.testing.assert_array_equal(got, m)


def test_a_compressed_csv_whose_first_piece_has_no_data_line_keeps_its_header_rule(tmp_path, monkeypatch):
    """The header is the file's first line, not the first line of the first piece with data."""
    long_id = "c" + "x" * 150  # the first 100-byte read ends inside this line: piece 1 is the header alone
    body = f"cell,a,b\n{long_id},1,0\nc2,0,2\n"
    gz = tmp_path / "m.csv.gz"
    gz.write_bytes(gzip.compress(body.encode()))
    monkeypatch.setattr(csvtasks, "PIECE_BYTES", 100)
    stream = csvtasks.make_csv_streamer(
        str(gz), str(gz), "gzip", ["a", "b"], str(tmp_path / "matrix"), "auto32"
    )
    ((ids, stored, _),) = list(stream(iter([0])))
    assert ids == [long_id, "c2"] and stored == 2


def test_a_bad_value_is_named_by_its_true_file_line(tmp_path):
    src = tmp_path / "m.csv"
    src.write_text("cell,a,b\n\nc1,1,0\n\n\nc2,0,x\n", encoding="utf-8")
    with pytest.raises(
        InputError, match=r"line 6 \(cell 'c2'\), column 3 \(gene 'b'\): non-numeric value 'x'"
    ):
        _run_csv_tasks(str(src), ["a", "b"], str(tmp_path / "matrix"), 7)


def test_an_id_that_is_not_utf8_is_reported_with_its_line(tmp_path):
    src = tmp_path / "m.csv"
    src.write_bytes(b"cell,a\nc1,1\nc\xff2,0\n")
    scan = csvtasks.make_csv_scanner(str(src), str(src))
    ((_, _, ids, problem),) = list(scan(iter([(0, 0, src.stat().st_size)])))
    assert ids == ["c1"] and problem == (3, "the cell id is not valid UTF-8")


def test_gene_range_reads_skip_row_groups_and_are_exact(tmp_path, monkeypatch):
    rng = np.random.default_rng(9)
    cells = rng.integers(0, 500, 5000).astype(np.int32)
    genes = rng.integers(0, 300, 5000).astype(np.int32)
    vals = rng.integers(1, 9, 5000).astype(np.float32)
    monkeypatch.setattr(csvtasks, "ROW_GROUP_ROWS", 400)
    uri = str(tmp_path / "part-00000.parquet")
    csvtasks.write_matrix_file(uri, cells, genes, vals, 300, np.float32)
    assert pq.ParquetFile(uri).metadata.num_row_groups > 10
    read = []
    real = pq.ParquetFile.read_row_groups
    monkeypatch.setattr(
        pq.ParquetFile,
        "read_row_groups",
        lambda self, rgs, **kw: read.append(len(rgs)) or real(self, rgs, **kw),
    )
    c, g, v = blocks.read_gene_range([uri], 100, 130)
    assert read[-1] <= 2  # 30 of 300 genes sit in at most two 400-row groups of a gene-major file
    want = np.flatnonzero((genes >= 100) & (genes < 130))
    got = sorted(zip(c.tolist(), g.tolist(), v.tolist(), strict=True))
    assert got == sorted(zip(cells[want].tolist(), genes[want].tolist(), vals[want].tolist(), strict=True))
    # a file written without statistics is read whole and filtered
    plain = str(tmp_path / "nostats.parquet")
    pq.write_table(pa.table({"cell": cells, "gene": genes, "value": vals}), plain, write_statistics=False)
    c2, g2, _ = blocks.read_gene_range([plain], 100, 130)
    assert sorted(zip(c2.tolist(), g2.tolist(), strict=True)) == sorted(
        zip(cells[want].tolist(), genes[want].tolist(), strict=True)
    )


def test_local_parquet_writes_are_atomic(tmp_path, monkeypatch):
    uri = str(tmp_path / "out" / "part-00000.parquet")
    fsio.ArrowIO.write_parquet(pa.table({"a": [1, 2]}), uri)
    assert pq.read_table(uri)["a"].to_pylist() == [1, 2]

    def broken(*args, **kwargs):
        with open(args[1], "wb") as f:  # a partial file under the temporary name, then a failure
            f.write(b"PAR1 half")
        raise OSError("disk full")

    monkeypatch.setattr(pq, "write_table", broken)
    with pytest.raises(OSError, match="disk full"):
        fsio.ArrowIO.write_parquet(pa.table({"a": [3]}), uri)
    assert os.listdir(tmp_path / "out") == ["part-00000.parquet"]  # old file intact, no temp left
    monkeypatch.undo()
    assert pq.read_table(uri)["a"].to_pylist() == [1, 2]


def real_fs_path(uri: str) -> str:
    return os.path.abspath(fsio.local_path(uri))


def test_byte_writes_are_whole_locally_and_in_place_on_s3(s3, tmp_path, monkeypatch):
    """``ArrowIO.write_bytes`` (the driver-side serving export's part files): locally under a
    temporary name then renamed, the old file intact when the write fails; on S3 one object
    written in place, no temporary or directory-marker objects."""
    uri = str(tmp_path / "genes" / "part-00000.tsv")
    fsio.ArrowIO.write_bytes(b"a\tv1\t1.0\n", uri)
    assert (tmp_path / "genes" / "part-00000.tsv").read_bytes() == b"a\tv1\t1.0\n"

    real_fs, _ = fsio.ArrowIO.resolve(uri)

    class HalfWrite:  # the real local filesystem, whose output streams fail after a few bytes
        def __getattr__(self, name):
            return getattr(real_fs, name)

        def open_output_stream(self, path):
            out = real_fs.open_output_stream(path)

            class Stream:
                def __enter__(self):
                    return self

                def __exit__(self, *exc):
                    out.close()

                def write(self, data):
                    out.write(data[:2])
                    raise OSError("disk full")

            return Stream()

    with monkeypatch.context() as mp:
        mp.setattr(fsio.ArrowIO, "resolve", classmethod(lambda cls, u: (HalfWrite(), real_fs_path(u))))
        with pytest.raises(OSError, match="disk full"):
            fsio.ArrowIO.write_bytes(b"new contents\n", uri)
    assert os.listdir(tmp_path / "genes") == ["part-00000.tsv"]
    assert (tmp_path / "genes" / "part-00000.tsv").read_bytes() == b"a\tv1\t1.0\n"
    fsio.ArrowIO.write_bytes("gène\n".encode(), "s3://lake/export/genes/part-00003.tsv")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="lake", Prefix="export/")["Contents"]]
    assert keys == ["export/genes/part-00003.tsv"]
    body = s3.get_object(Bucket="lake", Key="export/genes/part-00003.tsv")["Body"].read()
    assert body.decode() == "gène\n"


def test_unsupported_scheme_is_a_clear_error():
    with pytest.raises(InputError, match=r"the gs:// scheme is not supported for data files"):
        fsio.ArrowIO.resolve("gs://bucket/x.csv")


def test_tasks_read_splits_and_write_and_read_matrix_files_on_s3(s3, tmp_path):
    rng = np.random.default_rng(11)
    m = (rng.random((40, 7)) < 0.35) * rng.integers(1, 30, (40, 7))
    local = tmp_path / "m.csv"
    _write_csv(local, m, [f"c{i}" for i in range(40)])
    s3.put_object(Bucket="lake", Key="raw/m.csv", Body=local.read_bytes())
    genes = [f"g{j}" for j in range(7)]
    ids, done = _run_csv_tasks("s3://lake/raw/m.csv", genes, "s3://lake/ds/matrix", 250)
    assert ids == [f"c{i}" for i in range(40)]
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="lake", Prefix="ds/")["Contents"])
    assert len(done) > 2
    # one object per split that holds lines, written in place: no temporary or directory-marker objects
    assert keys == [f"ds/matrix/part-{k:05d}.parquet" for k, _, _ in sorted(done)]
    c, g, v = blocks.read_gene_range([f"s3://lake/{k}" for k in keys], 2, 5)
    got = np.zeros_like(m)
    got[c, g] = v
    want = np.zeros_like(m)
    want[:, 2:5] = m[:, 2:5]
    np.testing.assert_array_equal(got, want)


def test_worker_prepare_rereads_a_zip_only_when_it_changed(tmp_path, monkeypatch):
    if not (3, 10) <= sys.version_info[:2] < (3, 12):
        pytest.skip("the CPython behaviour this works around exists on 3.10 and 3.11 only")
    import zipimport

    archive = tmp_path / "mods.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("zipped_mod_for_test.py", "VALUE = 1\n")
    monkeypatch.syspath_prepend(str(archive))
    importlib.import_module("zipped_mod_for_test")
    worker.prepare()
    patched = zipimport.zipimporter.invalidate_caches
    worker.prepare()  # idempotent: never wraps twice (task functions may arrive with fresh globals)
    assert zipimport.zipimporter.invalidate_caches is patched
    reads = []
    real = zipimport._read_directory
    monkeypatch.setattr(zipimport, "_read_directory", lambda path: reads.append(path) or real(path))
    for _ in range(3):
        importlib.invalidate_caches()
    assert reads.count(str(archive)) <= 1  # at most the first sighting re-reads it
    before = reads.count(str(archive))
    with zipfile.ZipFile(archive, "a") as z:
        z.writestr("another_mod_for_test.py", "VALUE = 2\n")
    importlib.invalidate_caches()
    assert reads.count(str(archive)) == before + 1  # a changed archive is re-read, as before
    assert importlib.import_module("another_mod_for_test").VALUE == 2
    sys.modules.pop("zipped_mod_for_test", None)
    sys.modules.pop("another_mod_for_test", None)


def test_task_modules_do_not_import_pandas_or_spark_sql():
    """A fresh Python worker imports only what the task functions' modules need: importing pandas
    alone takes about half a second, paid by every new worker before its first task."""
    import subprocess

    code = (
        "import sys\n"
        "from emr_patterns.jobs.widematrix import blocks, csvtasks\n"
        "heavy = [m for m in ('pandas', 'pyspark.sql', 'h5py') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
