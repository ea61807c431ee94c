"""The job CLI a user trusts: a failed run leaves nothing behind even while sibling tasks still
run, errors are one line on stderr with the exit code, ``--help`` shows defaults and an example,
and unsupported URI schemes are refused before Spark starts."""

import os
import time

import numpy as np
import pytest

from emr_patterns.jobs.widematrix import aggregate, ingest
from emr_patterns.jobs.widematrix.errors import InputError


def _running_tasks(sc) -> int:
    """Tasks still running in the application (every executor; the driver's in local mode)."""
    infos = sc._jsc.sc().statusTracker().getExecutorInfos()
    return sum(int(infos[i].numRunningTasks()) for i in range(len(infos)))


def _wide_csv(path, rows: int, genes: int, bad_row: int) -> None:
    """A wide CSV of ``rows`` cells whose row ``bad_row`` has a non-numeric value."""
    rng = np.random.default_rng(7)
    values = rng.integers(0, 4, size=(rows, genes))
    with open(path, "w", encoding="utf-8") as f:
        f.write("cell," + ",".join(f"g{j}" for j in range(genes)) + "\n")
        for i in range(rows):
            cells = [str(v) for v in values[i]]
            if i == bad_row:
                cells[1] = "oops"
            f.write(f"c{i}," + ",".join(cells) + "\n")


@pytest.mark.spark
@pytest.mark.slow
def test_failed_ingest_waits_for_sibling_tasks_and_leaves_nothing(spark, tmp_path):
    """Split 0 fails at once; split 1 is still parsing and then writes its matrix file. The run
    must not return before that task is gone, and nothing may appear afterwards, run after run."""
    src = tmp_path / "in"
    src.mkdir()
    csv = src / "bad.csv"
    _wide_csv(csv, rows=6000, genes=400, bad_row=1)
    size = os.path.getsize(csv)
    sc = spark.sparkContext
    old = spark.conf.get("spark.sql.files.maxPartitionBytes")
    spark.conf.set("spark.sql.files.maxPartitionBytes", str(size // 2 + 1))
    try:
        for attempt in range(3):
            out = tmp_path / f"out{attempt}"
            out.mkdir()
            with pytest.raises(InputError, match="non-numeric value 'oops'"):
                ingest.run_ingest(spark, str(csv), str(out / "ds"))
            assert _running_tasks(sc) == 0, f"attempt {attempt}: the ingest returned while its tasks ran"
            deadline = time.time() + 10
            while _running_tasks(sc) and time.time() < deadline:
                time.sleep(0.2)
            time.sleep(0.5)
            left = sorted(str(p.relative_to(out)) for p in out.rglob("*"))
            assert left == [], f"attempt {attempt}: left behind {left}"
    finally:
        spark.conf.set("spark.sql.files.maxPartitionBytes", old)


@pytest.mark.parametrize(
    "uri",
    [
        "ftp://example.invalid/m.csv",
        "gs://bucket/m.csv",
        "abfs://c@acct.dfs.core.windows.net/m.csv",
        "https://example.invalid/m.csv",
    ],
)
def test_unsupported_scheme_is_one_line_exit_2(uri, tmp_path, capsys):
    """Refused before Spark starts: no Java trace, one line naming the option and the fix."""
    assert ingest.main(["--input", uri, "--output", str(tmp_path / "ds")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    scheme = uri.split("://")[0]
    assert len(err) == 1 and err[0].startswith(
        f"ingest: error: --input {uri}: unsupported URI scheme '{scheme}://'"
    )
    assert aggregate.main(["--dataset", str(tmp_path), "--group-by", "g", "--output", uri]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--output" in err[0] and "use s3://" in err[0]


def test_s3_forms_and_plain_paths_are_accepted():
    """s3:// (EMR's documented form) and s3a:// / s3n:// (the same S3A connector from EMR 7.10)."""
    from emr_patterns.jobs.widematrix import cli

    cli.check_locations(input="s3://b/k", output="s3a://b/k", metadata="s3n://b/m.csv")
    cli.check_locations(input="/data/m.csv", output="hdfs:///user/x/ds", metadata="file:///tmp/m.csv")
    with pytest.raises(InputError, match="--dataset gs://b/ds: unsupported URI scheme 'gs://'"):
        cli.check_locations(dataset="gs://b/ds")


@pytest.mark.parametrize(
    ("job", "defaults"),
    [
        (
            ingest,
            [
                "--format {auto,zip,csv,10x-h5,h5ad,mtx}",
                "(default: auto)",
                "(default: name)",
                "(default: WARN)",
            ],
        ),
        (aggregate, ["(default: 0.25)", "(default: mean,fraction,variance,std,median)", "(default: WARN)"]),
    ],
)
def test_help_shows_defaults_and_an_example(job, defaults, capsys):
    with pytest.raises(SystemExit) as stop:
        job.main(["--help"])
    assert stop.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    for text in defaults:
        assert text in out
    assert "example: spark-submit --deploy-mode cluster --py-files" in out
    assert "exit status: 0 success, 2 bad input" in out
    assert "(default: None)" not in out


@pytest.mark.spark
def test_unexpected_error_is_one_last_line_and_exit_1(spark, tmp_path, capsys):
    """Not bad input (the output's parent is a file): the trace, then one summary line, exit 1."""
    csv = tmp_path / "m.csv"
    csv.write_text("cell,g1\nc1,1\n", encoding="utf-8")
    blocker = tmp_path / "file"
    blocker.write_text("not a directory", encoding="utf-8")
    assert ingest.main(["--input", str(csv), "--output", str(blocker / "ds")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("ingest: error: ") and "file" in err[-1]
    assert "Traceback" in "\n".join(err[:-1])


def test_split_size_is_read_without_building_the_sql_state(spark):
    """A CSV ingest reads ``spark.sql.files.maxPartitionBytes`` from the SparkConf while the
    session's SQL state does not exist (building it costs about 1.5 s of CPU cold), and from
    ``spark.conf`` (``spark.conf.set`` included) once it does."""
    from emr_patterns.jobs.widematrix import ingest_csv

    key = "spark.sql.files.maxPartitionBytes"
    fresh = spark.newSession()  # same SparkContext, its own SQL state, not built yet
    assert not ingest_csv._sql_state_built(fresh)
    before = ingest_csv._bytes_conf(fresh, key, 128 << 20)  # the default write_csv_matrix passes
    assert not ingest_csv._sql_state_built(fresh)  # reading the size did not build it
    built = fresh.conf.get(key)  # this builds it: the value it holds is the one read before
    assert ingest_csv._sql_state_built(fresh)
    jutils = spark.sparkContext._jvm.org.apache.spark.network.util.JavaUtils
    assert before == int(jutils.byteStringAsBytes(built))
    fresh.conf.set(key, "3m")
    assert ingest_csv._bytes_conf(fresh, key, 1) == 3 << 20
