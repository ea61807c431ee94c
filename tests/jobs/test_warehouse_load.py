"""The warehouse flow on real parts: the curate job on local Spark writes Parquet and its manifest,
and the load statements run in one transaction against Debian's PostgreSQL.

Stand-in, named: PostgreSQL has no ``COPY ... FORMAT AS PARQUET``. The ``COPY`` statement of the
batch is replaced by an ``INSERT`` into the same stage table of the same rows, read from the
Parquet files the job wrote, in file column order (as COPY fills by position). Every other
statement runs exactly as the pipeline sends it to the Redshift Data API, inside one transaction
as ``BatchExecuteStatement`` runs its ``Sqls``.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from emr_patterns.jobs.warehouse import curate
from emr_patterns.spec.warehouse import covid_state_daily_table, parquet_column_problems

pytestmark = [pytest.mark.spark]

ROOT = Path(__file__).resolve().parents[2]
VENV39 = ROOT / ".cache" / "emr-py39-venv" / "bin" / "python"
ROLE = "arn:aws:iam::123456789012:role/warehouse-copy"
COLUMNS = covid_state_daily_table().spark_columns()
DAY1 = """date,state,fips,cases,deaths
2021-03-01,Washington,53,340000,5000
2021-03-01,Oregon,41,157000,2200
2021-03-01,Texas,48,2600000,44000
"""
DAY2 = """date,state,fips,cases,deaths
2021-03-01,Oregon,41,157100,2210
2021-03-02,Washington,53,341000,5010
2021-03-02,Washington,53,341500,5011
2021-03-02,Idaho,16,not-a-number,1900
2021-03-02,,99,5,0
2021-03-02,Oregon,41,157500,2215
"""


def _curate(tmp_path: Path, name: str, text: str) -> tuple[Path, dict]:
    source = tmp_path / f"{name}.csv"
    source.write_text(text)
    out = tmp_path / "runs" / name
    assert (
        curate.main(
            ["--input", str(source), "--output", f"file://{out}", "--columns", COLUMNS, "--key", "date,state"]
        )
        == 0
    )
    return out, json.loads((out / "manifest.json").read_text())


def _connect(postgres):
    psycopg = pytest.importorskip("psycopg")
    return psycopg.connect(
        host=postgres.host,
        port=postgres.port,
        user=postgres.user,
        password=postgres.password,
        dbname="postgres",
    )


def _run_batch(conn, statements: list[str], data: Path, *, before_commit=None, after_copy=None) -> None:
    """One transaction, as BatchExecuteStatement: COPY stood in for by an INSERT (module docstring)."""
    table = pq.read_table(data)
    with conn.transaction(), conn.cursor() as cur:
        for sql in statements:
            if sql.startswith("COPY "):
                stage = sql.split()[1]
                names = table.column_names
                placeholders = ", ".join(["%s"] * len(names))
                rows = [tuple(r[n] for n in names) for r in table.to_pylist()]
                cur.executemany(f"INSERT INTO {stage} VALUES ({placeholders})", rows)
                if after_copy:
                    after_copy(cur, stage)
            else:
                cur.execute(sql)
        if before_commit:
            before_commit(cur)


def _rows(conn) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute(
            "SELECT date::text, state, fips, cases, deaths FROM public.covid_state_daily ORDER BY 1, 2"
        )
        return cur.fetchall()


def test_curate_writes_the_table_columns_in_order_and_counts_what_it_left_out(spark, tmp_path):
    out, manifest = _curate(tmp_path, "day2", DAY2)
    assert manifest["columns"] == list(covid_state_daily_table().column_names)
    assert parquet_column_problems(covid_state_daily_table(), manifest["columns"]) == []
    assert manifest["rows"] == 3  # Oregon 03-01, Washington 03-02 (one of two), Oregon 03-02
    assert (
        manifest["rejected_bad_value"],
        manifest["rejected_null_key"],
        manifest["duplicates_dropped"],
    ) == (1, 1, 1)
    assert not list((out / "data").glob("_SUCCESS"))  # a COPY of the prefix reads every object
    kept = {(r["state"], str(r["date"])): r["cases"] for r in pq.read_table(out / "data").to_pylist()}
    assert kept[("Washington", "2021-03-02")] == 341500  # the greatest of the duplicates, every run


def test_curate_bad_input_exits_2_naming_the_problem(spark, tmp_path, capsys):
    source = tmp_path / "x.csv"
    source.write_text("date,state\n2021-03-01,Ohio\n")
    args = ["--input", str(source), "--output", str(tmp_path / "o"), "--key", "date,state"]
    assert curate.main([*args, "--columns", COLUMNS]) == 2
    assert "has no column(s) fips, cases, deaths" in capsys.readouterr().err
    assert curate.main([*args, "--columns", "date:date,state:text"]) == 2
    assert "type 'text' is not one of" in capsys.readouterr().err
    assert curate.main([*args[:-1], "zip", "--columns", "date:date,state:string"]) == 2
    assert "--key column(s) zip not in --columns" in capsys.readouterr().err


def test_loads_merge_in_one_transaction_and_a_failed_batch_changes_nothing(spark, postgres, tmp_path):
    table = covid_state_daily_table()
    out1, m1 = _curate(tmp_path, "day1", DAY1)
    out2, _ = _curate(tmp_path, "day2", DAY2)
    conn = _connect(postgres)
    try:
        _run_batch(
            conn,
            table.load_statements(f"s3://curated/{out1.name}/data/", ROLE, parquet_columns=m1["columns"]),
            out1 / "data",
        )
        first = _rows(conn)
        assert [r[:2] for r in first] == [
            ("2021-03-01", "Oregon"),
            ("2021-03-01", "Texas"),
            ("2021-03-01", "Washington"),
        ]

        # A failure after the DELETE (here, at the very end of the batch) rolls everything back.
        def fail(cur):
            cur.execute("SELECT 1/0")

        with pytest.raises(Exception, match="division by zero"):
            _run_batch(
                conn,
                table.load_statements("s3://curated/day2/data/", ROLE),
                out2 / "data",
                before_commit=fail,
            )
        assert _rows(conn) == first

        _run_batch(conn, table.load_statements("s3://curated/day2/data/", ROLE), out2 / "data")
        merged = {(r[0], r[1]): r[3] for r in _rows(conn)}
        assert merged == {
            ("2021-03-01", "Oregon"): 157100,  # replaced by key
            ("2021-03-01", "Texas"): 2600000,  # kept
            ("2021-03-01", "Washington"): 340000,
            ("2021-03-02", "Oregon"): 157500,  # added
            ("2021-03-02", "Washington"): 341500,
        }
        # The stage was temporary and dropped: nothing is left beside the table.
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_tables WHERE tablename LIKE '%\\_\\_stage'")
            assert cur.fetchone()[0] == 0
    finally:
        conn.close()


def test_concurrent_loads_of_one_table_serialize_and_both_apply(spark, postgres, tmp_path):
    """Two loads of overlapping keys at once (two sessions, as two executions would be): the
    second waits on the table lock, then merges over the first's rows; neither fails."""
    table = covid_state_daily_table(name="covid_concurrent")
    out1, _ = _curate(tmp_path, "day1", DAY1)
    out2, _ = _curate(tmp_path, "day2", DAY2)
    first_copied = threading.Event()
    errors: list[BaseException] = []
    order: list[str] = []

    def load(name: str, out: Path) -> None:
        conn = _connect(postgres)
        try:

            def hold(cur, stage):
                if name == "day1":
                    first_copied.set()
                    time.sleep(1.0)  # the other load starts while this one holds the lock

            _run_batch(conn, table.load_statements("s3://curated/x/", ROLE), out / "data", after_copy=hold)
            order.append(name)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            conn.close()

    # Created beforehand: two *first* loads racing on CREATE TABLE IF NOT EXISTS can fail one
    # (a catalog unique violation in PostgreSQL), which the docs tell (create it, or let one run first).
    conn = _connect(postgres)
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(table.create_statement())
    conn.close()
    one = threading.Thread(target=load, args=("day1", out1))
    two = threading.Thread(target=load, args=("day2", out2))
    one.start()
    assert first_copied.wait(30)
    two.start()
    for t in (one, two):
        t.join(60)
    assert not errors, errors
    assert order == ["day1", "day2"]
    conn = _connect(postgres)
    with conn.cursor() as cur:
        cur.execute("SELECT state, date::text, cases FROM public.covid_concurrent ORDER BY 1, 2")
        rows = cur.fetchall()
    conn.close()
    assert len(rows) == 5 and ("Oregon", "2021-03-01", 157100) in rows  # day2's value won


def test_job_runs_under_python_39():
    """EMR 7 runs Python 3.9: the job and sparkfs compile there, and --help runs."""
    if not VENV39.exists():
        pytest.fail(f"{VENV39} is missing: run `make emr-test-venv` (part of `make install`)")
    files = [str(ROOT / "jobs" / "warehouse" / "curate.py"), str(ROOT / "jobs" / "sparkfs.py")]
    run = subprocess.run(
        [str(VENV39), "-m", "py_compile", *files], capture_output=True, text=True, timeout=60, check=False
    )
    assert run.returncode == 0, run.stderr
    run = subprocess.run(
        [str(VENV39), files[0], "--help"], capture_output=True, text=True, timeout=60, check=False,
        cwd=str(ROOT / "jobs"), env={"PYTHONPATH": str(ROOT / "jobs"), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert run.returncode == 0 and "--columns" in run.stdout, run.stderr
