"""The warehouse load SQL: statement order, one batch, and the Parquet column check."""

from __future__ import annotations

import pytest

from emr_patterns.spec.warehouse import (
    MAX_BATCH_STATEMENTS,
    Column,
    WarehouseTable,
    covid_state_daily_table,
    parquet_column_problems,
)

URI = "s3://curated-bucket/warehouse/covid_state_daily/run-1/"
ROLE = "arn:aws:iam::123456789012:role/warehouse-copy"


def test_statements_stage_before_copy_before_merge_before_drop_in_one_batch() -> None:
    sqls = covid_state_daily_table().load_statements(URI, ROLE)
    kinds = [s.split(" (")[0].split(" FROM")[0] for s in sqls]
    assert kinds == [
        "CREATE TABLE IF NOT EXISTS public.covid_state_daily",
        "LOCK TABLE public.covid_state_daily",
        "CREATE TEMP TABLE covid_state_daily__stage",
        "COPY covid_state_daily__stage",
        "DELETE",
        "INSERT INTO public.covid_state_daily",
        "DROP TABLE covid_state_daily__stage",
    ]
    assert len(sqls) <= MAX_BATCH_STATEMENTS
    assert f"FROM '{URI}' IAM_ROLE '{ROLE}' FORMAT AS PARQUET" in sqls[3]
    assert "WHERE public.covid_state_daily.date = covid_state_daily__stage.date AND" in sqls[4]
    # No BEGIN/COMMIT: BatchExecuteStatement is the transaction; no statement Redshift refuses in one
    # (ALTER TABLE APPEND, VACUUM).
    assert not any(s.split()[0] in {"BEGIN", "COMMIT", "VACUUM"} or "APPEND" in s for s in sqls)


def test_replace_mode_deletes_every_row_of_the_target() -> None:
    table = WarehouseTable("public", "daily", (Column("day", "DATE"), Column("n", "INTEGER")), mode="replace")
    assert table.load_statements(URI, ROLE)[4] == "DELETE FROM public.daily"


def test_reordered_parquet_columns_are_refused_before_any_sql() -> None:
    table = covid_state_daily_table()
    assert parquet_column_problems(table, ["date", "state", "fips", "cases", "deaths"]) == []
    with pytest.raises(ValueError, match=r"another order.*by position"):
        table.load_statements(URI, ROLE, parquet_columns=["state", "date", "fips", "cases", "deaths"])
    with pytest.raises(ValueError, match=r"missing \['deaths'\], extra \['death_count'\]"):
        table.load_statements(URI, ROLE, parquet_columns=["date", "state", "fips", "cases", "death_count"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "Covid"}, "name='Covid': is not a lower-case identifier"),
        ({"name": "select"}, "reserved SQL word"),
        ({"mode": "upsert"}, "mode='upsert': is not a load mode"),
        ({"key": ()}, "is empty for a merge"),
        ({"key": ("fips",)}, "is a nullable column"),
        ({"key": ("zip",)}, "key='zip': is not a column"),
        ({"columns": (Column("a", "INT"),)}, "is not a column type a Parquet COPY fills"),
        ({"columns": (Column("a", "DECIMAL(40,2)"),)}, "precision outside 1-38"),
        ({"columns": (Column("a", "VARCHAR(70000)"),)}, "length outside 1-65535"),
        ({"columns": (Column("a", "DATE"), Column("a", "DATE"))}, "repeats a column"),
        ({"columns": ()}, "columns=(): is empty"),
    ],
)
def test_bad_tables_name_the_prop_and_the_fix(kwargs: dict, message: str) -> None:
    props = {
        "schema": "public",
        "name": "covid_state_daily",
        "columns": covid_state_daily_table().columns,
        "key": ("date", "state"),
    }
    props.update(kwargs)
    if "columns" in kwargs and "key" not in kwargs:
        props["key"] = ()
        props["mode"] = props.get("mode", "replace")
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        WarehouseTable(**props)


def test_bad_uri_and_role_are_refused() -> None:
    table = covid_state_daily_table()
    with pytest.raises(ValueError, match=r"source_uri.*not an s3:// URI"):
        table.load_statements("s3://bucket/x'; DROP TABLE t; --", ROLE)
    with pytest.raises(ValueError, match=r"iam_role_arn.*not an IAM role ARN"):
        table.load_statements(URI, "arn:aws:iam::123:user/x")
