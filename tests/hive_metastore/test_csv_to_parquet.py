"""The bundled Spark step (jobs/hive/csv_to_parquet.py) on local Spark against the real metastore.

Spark 3.5's built-in Hive 2.3.9 client talks to HMS 3.1.3 over Thrift. Two spark-submit runs in
all (2 cores): the job itself, then a second, separate session (its own JVM, so nothing cached
from the first) that reads the table back through the metastore, re-runs the job and runs the
bad-input cases.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from emr_patterns.jobs.hive import csv_to_parquet
from emr_patterns.jobs.hive.sample import make_sample
from tests import services

pytestmark = [pytest.mark.spark, pytest.mark.slow]

SAMPLE = Path(make_sample.__file__).with_name("covid_cases.csv")
SECOND_SESSION = Path(__file__).with_name("_second_session.py")


def _submit(hms, workdir: Path, script: str, *args: str) -> tuple[subprocess.CompletedProcess, float]:
    import pyspark

    spark_submit = os.path.join(os.path.dirname(pyspark.__file__), "bin", "spark-submit")
    env = services.java_env(
        PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable, SPARK_LOCAL_IP="127.0.0.1"
    )
    for key in ("PYTHONPATH", "SPARK_HOME"):
        env.pop(key, None)
    conf = {
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.sql.shuffle.partitions": "2",
        "spark.sql.catalogImplementation": "hive",
        "spark.hadoop.hive.metastore.uris": hms.uri,
        "spark.sql.warehouse.dir": (workdir / "spark-warehouse").as_uri(),
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={workdir}",
    }
    cmd = [spark_submit, "--master", "local[2]", "--driver-memory", "1g"]
    for key, value in conf.items():
        cmd += ["--conf", f"{key}={value}"]
    started = time.monotonic()
    done = subprocess.run(
        [*cmd, script, *args], env=env, cwd=workdir, capture_output=True, text=True, timeout=400, check=False
    )
    return done, time.monotonic() - started


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("hive-job")


@pytest.fixture(scope="module")
def job_args(work):
    return [
        "--input", str(SAMPLE),
        "--output", (work / "lake" / "covid_data" / "parquet" / "covid_cases").as_uri() + "/",
        "--database", "covid",
        "--table", "covid_cases",
        "--partition-by", "state",
    ]  # fmt: skip


@pytest.fixture(scope="module")
def first_run(hive_metastore, work, job_args):
    done, seconds = _submit(hive_metastore, work, csv_to_parquet.__file__, *job_args)
    print(f"first spark-submit (the job): {seconds:.1f} s")
    return done


@pytest.fixture(scope="module")
def second_session(hive_metastore, work, job_args, first_run):
    assert first_run.returncode == 0, first_run.stderr[-3000:]
    bad_dir = work / "bad"
    bad_dir.mkdir()
    no_deaths = bad_dir / "no_deaths.csv"
    no_deaths.write_text("date,state,fips,cases\n2020-03-01,Texas,48,3\n")
    bad_number = bad_dir / "bad_number.csv"
    bad_number.write_text("date,state,fips,cases,deaths\n2020-03-01,Texas,48,many,0\n")
    base = ["--database", "covid", "--partition-by", "state"]
    cases = {
        "missing_file": ["--input", str(bad_dir / "nope.csv"), "--output", str(bad_dir / "o1"),
                         "--table", "t1", *base],
        "missing_column": ["--input", str(no_deaths), "--output", str(bad_dir / "o2"), "--table", "t2",
                           *base],
        "bad_value": ["--input", str(bad_number), "--output", str(bad_dir / "o3"), "--table", "t3", *base],
        "other_location": ["--input", str(SAMPLE), "--output", str(bad_dir / "o4"),
                           "--table", "covid_cases", *base],
    }  # fmt: skip
    done, seconds = _submit(
        hive_metastore, work, str(SECOND_SESSION), json.dumps(job_args), json.dumps(cases)
    )
    print(f"second spark-submit (read back, re-run, bad input): {seconds:.1f} s")
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT:"))
    return json.loads(line[len("RESULT:") :]), done.stderr


def _sample_rows() -> list[list]:
    with SAMPLE.open(newline="") as f:
        return sorted(
            [r["date"], r["state"], r["fips"], int(r["cases"]), int(r["deaths"])] for r in csv.DictReader(f)
        )


def test_the_job_creates_an_external_parquet_table_in_the_metastore(first_run, hive_metastore, job_args):
    assert first_run.returncode == 0, first_run.stderr[-3000:]
    assert "csv_to_parquet: wrote 300 rows to" in first_run.stdout
    assert "table covid.covid_cases created" in first_run.stdout
    # What HMS wrote to its database: an EXTERNAL_TABLE on Parquet at --output, six partitions.
    rows = services.mariadb_sql(
        hive_metastore.database,
        "SELECT t.TBL_TYPE, s.LOCATION, s.INPUT_FORMAT FROM hive.TBLS t JOIN hive.DBS d USING (DB_ID) "
        "JOIN hive.SDS s USING (SD_ID) WHERE d.NAME = 'covid' AND t.TBL_NAME = 'covid_cases'",
    ).split("\t")
    assert rows[0] == "EXTERNAL_TABLE"
    assert rows[1].rstrip("/").endswith("/covid_data/parquet/covid_cases")
    assert rows[2].strip() == "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
    parts = services.mariadb_sql(
        hive_metastore.database, "SELECT PART_NAME FROM hive.PARTITIONS"
    ).splitlines()
    assert len(parts) == 6 and "state=Texas" in parts


def test_a_second_session_reads_the_same_rows_through_the_metastore(second_session):
    result, _ = second_session
    assert "covid" in result["databases"]
    assert sorted(result["rows"]) == _sample_rows()
    assert result["types"] == {
        "date": "date", "fips": "string", "cases": "bigint", "deaths": "bigint", "state": "string"
    }  # fmt: skip
    assert result["type"] == ["EXTERNAL"]
    assert len(result["partitions"]) == 6 and "state=New York" in result["partitions"]


def test_a_rerun_replaces_the_data_and_keeps_the_table(second_session, hive_metastore):
    result, _ = second_session
    assert result["rerun"] == 0
    assert result["rows_after_rerun"] == 300  # replaced, not appended
    assert result["tables_after_rerun"] == ["covid_cases"]
    count = services.mariadb_sql(hive_metastore.database, "SELECT COUNT(*) FROM hive.PARTITIONS").strip()
    assert count == "6"


def _messages(stderr: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    case = None
    for line in stderr.splitlines():
        if line.startswith("CASE "):
            case = line[5:].strip()
            out[case] = []
        elif case and line.startswith("csv_to_parquet: "):
            out[case].append(line)
    return out


def test_bad_input_is_one_line_and_exit_2(second_session):
    result, stderr = second_session
    assert result["bad"] == {"missing_file": 2, "missing_column": 2, "bad_value": 2, "other_location": 2}
    messages = _messages(stderr)
    assert all(len(lines) == 1 for lines in messages.values()), messages
    assert "nope.csv does not exist" in messages["missing_file"][0]
    assert "has no column deaths" in messages["missing_column"][0]
    assert "column cases: 1 value(s) are not bigint (e.g. 'many')" in messages["bad_value"][0]
    assert "--table covid.covid_cases exists and is at" in messages["other_location"][0]
    assert result["tables_after_rerun"] == ["covid_cases"]  # nothing half-made by the failures
