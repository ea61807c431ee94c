"""csv_to_parquet refuses bad arguments before Spark starts, and the bundled sample is the
generator's output (no Spark here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from emr_patterns.jobs.hive import csv_to_parquet
from emr_patterns.jobs.hive.sample import make_sample

GOOD = [
    "--input",
    "s3://lake/covid/csv/covid.csv",
    "--output",
    "s3://lake/covid/parquet/",
    "--table",
    "covid",
]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--table", "Covid-Cases"], "--table 'Covid-Cases' is not a Hive name"),
        (["--database", "1db"], "--database '1db' is not a Hive name"),
        (["--output", "gs://lake/parquet/"], "--output gs://lake/parquet/: unsupported URI scheme 'gs://'"),
        (["--partition-by", "county"], "--partition-by county is not one of the columns"),
        (["--partition-by", "state,state"], "names a column twice"),
        (["--columns", "date:date,cases:money"], "--columns cases: type 'money' is not one of"),
        (["--output", "s3://lake/covid/csv/covid.csv"], "the Parquet would replace the CSV"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(extra, message, capsys):
    assert csv_to_parquet.main([*GOOD, *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("csv_to_parquet: error: ") and message in err[0], err


def test_good_arguments_pass_the_checks():
    args = csv_to_parquet.build_parser().parse_args([*GOOD, "--partition-by", "state"])
    columns, partitions = csv_to_parquet.check_args(args)
    assert [n for n, _ in columns] == ["date", "state", "fips", "cases", "deaths"]
    assert partitions == ["state"]


def test_the_bundled_sample_is_the_generators_output(tmp_path: Path):
    bundled = Path(make_sample.__file__).with_name("covid_cases.csv")
    assert make_sample.main([str(tmp_path / "again.csv")]) == 0
    assert (tmp_path / "again.csv").read_bytes() == bundled.read_bytes()
    lines = bundled.read_text().splitlines()
    assert lines[0] == "date,state,fips,cases,deaths" and len(lines) == 301
