"""Bad input: each case fails with a message naming file, row, cell or column, and leaves no output."""

import json
import os
import zipfile

import pytest

from emr_patterns.jobs.widematrix import aggregate, ingest
from emr_patterns.jobs.widematrix.errors import InputError

pytestmark = pytest.mark.spark

GOOD = "cell,g1,g2,g3\nc1,0,1,2\nc2,3,0,0\nc3,0,0,1\n"
META = "cell,type\nc1,A\nc2,B\nc3,A\n"


def _write(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return str(path)


def _assert_no_output(tmp_path, out):
    assert not os.path.exists(out)
    assert [n for n in os.listdir(tmp_path) if n.startswith("_")] == []  # no temporary directory left


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "cell,g1,g2,g3\nc1,0,1,2\nc2,3,0\nc3,0,0,1\n",
            r"line 3 \(cell 'c2'\) has 2 values, expected 3.*ragged",
        ),
        ("cell,g1,g2,g3\nc1,0,1,2\nc2,3,0,0,4\n", r"line 3 \(cell 'c2'\) has 4 values, expected 3"),
        (
            "cell,g1,g2,g3\nc1,0,1,2\nc2,3,x7,0\n",
            r"line 3 \(cell 'c2'\), column 3 \(gene 'g2'\): non-numeric value 'x7'",
        ),
        (
            "cell,g1,g2,g3\nc1,0,1,2\nc2,3,0,-1\n",
            r"line 3 \(cell 'c2'\), column 4 \(gene 'g3'\): negative value '-1'",
        ),
        ("cell,g1,g2,g3\nc1,0,NaN,2\n", r"line 2 \(cell 'c1'\), column 3 \(gene 'g2'\): NaN value"),
        ("cell,g1,g2,g3\nc1,0,1,2\nc2,3,0,0\nc1,0,0,1\n", r"duplicate cell id 'c1' \(data rows \[1, 3\]\)"),
        ("cell,g1,g2,g1\nc1,0,1,2\n", r"duplicate gene name 'g1' in header columns 2 and 4"),
        ("cell,g1,g2\n", r"empty matrix \(a header but no cell rows\)"),
        ("cell\nc1\n", r"empty matrix"),
        ("", r"empty matrix|empty file"),
    ],
)
def test_bad_csv(spark, tmp_path, body, expected):
    src = _write(tmp_path / "matrix.csv", body)
    out = str(tmp_path / "dataset")
    with pytest.raises(InputError, match=expected) as info:
        ingest.run_ingest(spark, src, out)
    assert src in str(info.value)
    _assert_no_output(tmp_path, out)


def test_metadata_missing_cells_is_an_error(spark, tmp_path):
    src = _write(tmp_path / "matrix.csv", GOOD)
    meta = _write(tmp_path / "cells.csv", "cell,type\nc1,A\nc3,A\n")
    out = str(tmp_path / "dataset")
    with pytest.raises(InputError, match=r"cells.csv: 1 cell\(s\) of the matrix have no metadata row .*'c2'"):
        ingest.run_ingest(spark, src, out, metadata_uri=meta)
    _assert_no_output(tmp_path, out)


def test_metadata_extra_cells_is_a_warning(spark, tmp_path):
    src = _write(tmp_path / "matrix.csv", GOOD)
    meta = _write(tmp_path / "cells.csv", META + "c9,C\n")
    out = str(tmp_path / "dataset")
    with pytest.warns(UserWarning, match=r"1 metadata row\(s\) name cells that are not in the matrix.*'c9'"):
        manifest = ingest.run_ingest(spark, src, out, metadata_uri=meta)
    assert any("c9" in w for w in manifest["warnings"])
    with open(os.path.join(out, "manifest.json"), encoding="utf-8") as f:
        assert json.load(f)["warnings"] == manifest["warnings"]


@pytest.fixture(scope="module")
def small_dataset(spark, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("small")
    src = _write(tmp / "matrix.csv", GOOD)
    meta = _write(tmp / "cells.csv", META)
    out = str(tmp / "dataset")
    ingest.run_ingest(spark, src, out, metadata_uri=meta)
    return out


def test_unknown_group_by_column(spark, small_dataset, tmp_path):
    out = str(tmp_path / "views")
    with pytest.raises(InputError, match=r"unknown --group-by column 'cluster'.*\['cell_id', 'type'\]"):
        aggregate.run_aggregate(spark, small_dataset, "cluster", out)
    _assert_no_output(tmp_path, out)


def test_unknown_statistic(spark, small_dataset, tmp_path):
    out = str(tmp_path / "views")
    with pytest.raises(InputError, match=r"unknown statistic\(s\) \['mode'\]"):
        aggregate.run_aggregate(spark, small_dataset, "type", out, stats=["mean", "mode"])
    assert (
        aggregate.main(
            ["--dataset", small_dataset, "--group-by", "type", "--stats", "mean,mode", "--output", out]
        )
        == 2
    )
    _assert_no_output(tmp_path, out)


def test_cli_runs_and_refuses_to_overwrite(spark, small_dataset, tmp_path, capsys):
    out = str(tmp_path / "views")
    assert aggregate.main(["--dataset", small_dataset, "--group-by", "type", "--output", out]) == 0
    assert os.path.exists(os.path.join(out, "manifest.json"))
    assert aggregate.main(["--dataset", small_dataset, "--group-by", "type", "--output", out]) == 2
    assert "already exists; pass --overwrite" in capsys.readouterr().err
    assert (
        aggregate.main(["--dataset", small_dataset, "--group-by", "type", "--output", out, "--overwrite"])
        == 0
    )


def test_cli_hbase_export_is_on_by_default_and_can_be_skipped(spark, small_dataset, tmp_path):
    out = str(tmp_path / "views")
    assert aggregate.main(["--dataset", small_dataset, "--group-by", "type", "--output", out]) == 0
    assert os.path.isdir(os.path.join(out, "hbase", "gene_major"))
    with open(os.path.join(out, "manifest.json"), encoding="utf-8") as f:
        assert json.load(f)["hbase"]["gene_major"]["rows"] > 0
    for flag in ("--no-hbase-export", "--no-hbase"):
        skipped = str(tmp_path / flag.strip("-"))
        args = ["--dataset", small_dataset, "--group-by", "type", "--output", skipped, flag]
        assert aggregate.main(args) == 0
        assert not os.path.exists(os.path.join(skipped, "hbase"))
        with open(os.path.join(skipped, "manifest.json"), encoding="utf-8") as f:
            assert json.load(f)["hbase"] is None


def test_unfinished_dataset_is_refused(spark, small_dataset, tmp_path):
    import shutil

    broken = str(tmp_path / "broken")
    shutil.copytree(small_dataset, broken)
    os.remove(os.path.join(broken, "manifest.json"))
    with pytest.raises(InputError, match=r"no manifest\.json; this is not a finished widematrix dataset"):
        aggregate.run_aggregate(spark, broken, "type", str(tmp_path / "views"))


@pytest.mark.parametrize(
    ("members", "expected"),
    [
        ({"metadata.csv": META, "notes.csv": "a,b\n"}, r"exactly one matrix CSV .* found 0"),
        ({"matrix_a.csv": GOOD, "matrix_b.csv": GOOD}, r"exactly one matrix CSV .* found 2"),
    ],
)
def test_zip_without_exactly_one_matrix(spark, tmp_path, members, expected):
    src = str(tmp_path / "export.zip")
    with zipfile.ZipFile(src, "w") as z:
        for name, text in members.items():
            z.writestr(name, text)
    out = str(tmp_path / "dataset")
    with pytest.raises(InputError, match=expected):
        ingest.run_ingest(spark, src, out)
    _assert_no_output(tmp_path, out)


def test_ingest_cli_reports_bad_input(spark, tmp_path, capsys):
    src = _write(tmp_path / "matrix.csv", "cell,g1\nc1,abc\n")
    out = str(tmp_path / "dataset")
    assert ingest.main(["--input", src, "--output", out]) == 2
    err = capsys.readouterr().err
    assert "ingest: error:" in err and "non-numeric value 'abc'" in err
    _assert_no_output(tmp_path, out)


def test_matrix_market_with_a_repeated_coordinate(spark, tmp_path):
    mtx = tmp_path / "mtx"
    mtx.mkdir()
    # 10x orientation: 3 features (rows) x 2 barcodes (columns); (2, 1) is listed twice
    _write(
        mtx / "matrix.mtx",
        "%%MatrixMarket matrix coordinate integer general\n3 2 4\n1 1 5\n2 1 3\n3 2 1\n2 1 4\n",
    )
    _write(mtx / "barcodes.tsv", "AAAC-1\nTTTG-1\n")
    _write(
        mtx / "features.tsv",
        "ENSG1\tGeneA\tGene Expression\nENSG2\tGeneB\tGene Expression\nENSG3\tGeneC\tGene Expression\n",
    )
    out = str(tmp_path / "dataset")
    with pytest.raises(
        InputError, match=r"coordinate \(2, 1\) is listed 2 times \(cell 'AAAC-1', gene 'GeneB'\)"
    ):
        ingest.run_ingest(spark, str(mtx), out)
    _assert_no_output(tmp_path, out)
