"""The reconciliation job's pure parts (its Spark and JDBC path runs in tests/cdc against MariaDB)."""

from __future__ import annotations

import pytest

from emr_patterns.jobs.cdc_hudi import reconcile


def test_compare_passes_only_equal_counts_and_unique_keys() -> None:
    assert reconcile.compare(6, 6, 6)["ok"] is True
    assert reconcile.compare(7, 6, 6)["ok"] is False
    assert reconcile.compare(7, 6, 6, tolerance=1)["ok"] is True
    duplicated = reconcile.compare(6, 6, 5)
    assert duplicated["ok"] is False and duplicated["duplicate_keys"] == 1


def test_jdbc_url_gets_the_mysql_scheme_permission_for_the_mariadb_driver() -> None:
    url = reconcile.jdbc_url("jdbc:mysql://db:3406/", "org.mariadb.jdbc.Driver")
    assert url == "jdbc:mysql://db:3406/?permitMysqlScheme"
    assert reconcile.jdbc_url("jdbc:mysql://db:3406/?sslMode=trust", "org.mariadb.jdbc.Driver").endswith(
        "?sslMode=trust&permitMysqlScheme"
    )
    assert reconcile.jdbc_url("jdbc:mysql://db/", "com.mysql.cj.jdbc.Driver") == "jdbc:mysql://db/"
    with pytest.raises(reconcile.ReconcileError, match="--jdbc-url"):
        reconcile.jdbc_url("jdbc:postgresql://db/", "org.mariadb.jdbc.Driver")


@pytest.mark.parametrize("table", ["orders", "shop.orders.x", "shop.%", "sh op.orders"])
def test_table_must_be_database_dot_table(table: str) -> None:
    with pytest.raises(reconcile.ReconcileError, match="--table="):
        reconcile.split_table(table)


def test_bad_arguments_exit_2_before_spark_starts(capsys: pytest.CaptureFixture[str]) -> None:
    assert reconcile.main(["--table", "shop.orders"]) == 2
    assert "required" in capsys.readouterr().err
