"""The HBase fixture itself: a table written and read back through happybase over Thrift."""

from __future__ import annotations

from typing import Any

from tests.widematrix._hbase import drop_table


def test_put_and_get_through_thrift(hbase: Any) -> None:
    conn = hbase.connection()
    try:
        drop_table(conn, "fixture_probe")
        conn.create_table("fixture_probe", {"s": {"max_versions": 1}})
        table = conn.table("fixture_probe")
        table.put(b"row1", {b"s:a": b"1.5", b"s:b": b"\x00\xff"})
        assert table.row(b"row1") == {b"s:a": b"1.5", b"s:b": b"\x00\xff"}
        assert table.row(b"missing") == {}
    finally:
        drop_table(conn, "fixture_probe")
        conn.close()
