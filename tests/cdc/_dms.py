"""What AWS DMS does for the CDC tests: watch a real MariaDB table change and write the Parquet
files a MySQL-source, S3-target DMS task would write for it.

The test runs every INSERT/UPDATE/DELETE on the real table through :class:`CapturedTable`, which
records the row image DMS's binlog reader sees (the row after an insert or update, the row before
a delete) with a commit timestamp. :class:`DmsS3Writer` writes those records in DMS's S3 Parquet
shape, as the ``DmsToS3`` endpoint settings configure it:

* full-load files ``LOAD00000001.parquet``... without an ``Op`` column (the shape of a task
  without ``IncludeOpForFullLoad``; ``AWSDmsTransformer`` must add it);
* CDC files ``<yyyymmdd-hhmmssfff>.parquet`` with ``Op`` (``I``/``U``/``D``) as the first column;
* the ``TimestampColumnName`` column as a STRING ``yyyy-MM-dd HH:mm:ss.SSSSSS`` (transfer time for
  the full load, commit time for CDC); DATETIME columns as millisecond Parquet timestamps
  (``ParquetTimestampInMillisecond``);
* each file's modification time strictly later than every file before it (DMS writes files in
  order; ``ParquetDFSSource`` takes only files newer than the last checkpoint).

This is the one part of the pipeline that is not the real service: DMS itself does not run here.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

COLUMNS = ("order_id", "customer", "status", "amount", "updated_at", "region")
KEY = "order_id"
DDL = """
CREATE TABLE {table} (
  order_id INT NOT NULL PRIMARY KEY,
  customer VARCHAR(40) NULL,
  status VARCHAR(16) NOT NULL,
  amount DECIMAL(10,2) NOT NULL,
  updated_at DATETIME(3) NOT NULL,
  region VARCHAR(8) NOT NULL
) ENGINE=InnoDB
"""
ARROW_SCHEMA = pa.schema(
    [
        ("order_id", pa.int32()),
        ("customer", pa.string()),
        ("status", pa.string()),
        ("amount", pa.decimal128(10, 2)),
        ("updated_at", pa.timestamp("ms", tz="UTC")),
        ("region", pa.string()),
    ]
)
SELECT = (
    "SELECT order_id, customer, status, CAST(amount AS CHAR), "
    "DATE_FORMAT(updated_at, '%Y-%m-%d %H:%i:%s.%f'), region FROM {table}"
)


class MariaDb:
    """The ``mariadb`` command-line client on the fixture's socket (no Python driver needed)."""

    def __init__(self, db: Any) -> None:
        self.db = db

    def run(self, sql: str) -> list[list[str | None]]:
        argv = [
            "mariadb",
            f"--socket={self.db.socket}",
            f"-u{self.db.user}",
            f"-p{self.db.password}",
            "--batch",
            "--skip-column-names",
            "-e",
            sql,
        ]
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"mariadb failed on {sql!r}: {done.stderr}")
        rows = [line.split("\t") for line in done.stdout.splitlines() if line]
        return [[None if v == "NULL" else v for v in row] for row in rows]


def normalise(row: Sequence[Any]) -> tuple[str | None, ...]:
    """One row as comparable strings: key, customer, status, amount (2 dp), updated_at (ms), region."""
    order_id, customer, status, amount, updated_at, region = row
    if isinstance(updated_at, dt.datetime):
        stamp = updated_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:23]
    else:
        stamp = str(updated_at).replace("T", " ")[:23].split("+")[0]
        if len(stamp) == 19:
            stamp += ".000"
    return (str(int(order_id)), customer, status, f"{Decimal(str(amount)):.2f}", stamp, region)


class CapturedTable:
    """A real table whose every change is recorded as DMS's binlog reader would see it."""

    def __init__(self, client: MariaDb, table: str, clock: dt.datetime) -> None:
        self.client, self.table, self.clock = client, table, clock
        self.pending: list[dict[str, Any]] = []

    def tick(self) -> str:
        self.clock += dt.timedelta(milliseconds=7)
        return self.clock.strftime("%Y-%m-%d %H:%M:%S.%f")

    def rows(self) -> list[tuple[str | None, ...]]:
        """The table now, normalised, ordered by key."""
        rows = [normalise(r) for r in self.client.run(SELECT.format(table=self.table))]
        return sorted(rows, key=lambda r: int(r[0] or 0))

    def _image(self, key: int) -> dict[str, Any]:
        found = self.client.run(SELECT.format(table=self.table) + f" WHERE order_id = {int(key)}")
        assert len(found) == 1, f"order {key} not in the table"
        order_id, customer, status, amount, updated_at, region = found[0]
        return {
            "order_id": int(order_id or 0),
            "customer": customer,
            "status": status,
            "amount": Decimal(str(amount)),
            "updated_at": dt.datetime.strptime(str(updated_at)[:23], "%Y-%m-%d %H:%M:%S.%f").replace(
                tzinfo=dt.UTC
            ),
            "region": region,
        }

    def insert(self, order_id: int, customer: str | None, status: str, amount: str, region: str) -> None:
        stamp = self.tick()
        who = "NULL" if customer is None else f"'{customer}'"
        self.client.run(
            f"INSERT INTO {self.table} VALUES "
            f"({order_id}, {who}, '{status}', {amount}, '{stamp[:23]}', '{region}')"
        )
        self.pending.append({"Op": "I", "dms_ts": stamp, **self._image(order_id)})

    def update(self, order_id: int, **changes: str) -> None:
        stamp = self.tick()
        sets = ", ".join(f"{k} = '{v}'" for k, v in changes.items())
        self.client.run(
            f"UPDATE {self.table} SET {sets}, updated_at = '{stamp[:23]}' WHERE order_id = {order_id}"
        )
        self.pending.append({"Op": "U", "dms_ts": stamp, **self._image(order_id)})

    def delete(self, order_id: int) -> None:
        image = self._image(order_id)
        stamp = self.tick()
        self.client.run(f"DELETE FROM {self.table} WHERE order_id = {order_id}")
        self.pending.append({"Op": "D", "dms_ts": stamp, **image})

    def take(self) -> list[dict[str, Any]]:
        """The changes since the last call, in commit order."""
        out, self.pending = self.pending, []
        return out


class DmsS3Writer:
    """Writes DMS-shaped Parquet files into one table folder, each newer than the last."""

    def __init__(self, folder: Path, timestamp_column: str = "dms_ts") -> None:
        self.folder, self.timestamp_column = folder, timestamp_column
        folder.mkdir(parents=True, exist_ok=True)
        self.mtime_ns = (int(dt.datetime.now(dt.UTC).timestamp()) - 7200) * 1_000_000_000
        self.load_files = 0

    def _write(self, name: str, records: list[dict[str, Any]], *, with_op: bool) -> Path:
        fields = list(ARROW_SCHEMA)
        columns = [pa.array([r[f.name] for r in records], type=f.type) for f in fields]
        names = [f.name for f in fields]
        names.append(self.timestamp_column)
        columns.append(pa.array([r["dms_ts"] for r in records], type=pa.string()))
        if with_op:
            names.insert(0, "Op")
            columns.insert(0, pa.array([r["Op"] for r in records], type=pa.string()))
        path = self.folder / name
        pq.write_table(pa.Table.from_arrays(columns, names=names), path)
        self.mtime_ns += 5_000_000_000  # 5 s after the previous file
        os.utime(path, ns=(self.mtime_ns, self.mtime_ns))
        return path

    def full_load(self, captured: CapturedTable, rows_per_file: int = 3) -> list[Path]:
        """What the full-load phase writes: every row as it is now, transfer time as timestamp."""
        keys = [int(r[0] or 0) for r in captured.rows()]
        records = [{"dms_ts": captured.tick(), **captured._image(k)} for k in keys]
        paths = []
        for start in range(0, len(records), rows_per_file):
            self.load_files += 1
            paths.append(
                self._write(
                    f"LOAD{self.load_files:08d}.parquet",
                    records[start : start + rows_per_file],
                    with_op=False,
                )
            )
        return paths

    def cdc(self, changes: list[dict[str, Any]], *, reverse_halves: bool = True) -> list[Path]:
        """What the CDC phase writes for ``changes``. With ``reverse_halves`` the later half of the
        changes goes to the older file: the rows' timestamps, not file order, must decide."""
        half = len(changes) // 2
        parts = [changes[half:], changes[:half]] if reverse_halves and half else [changes]
        paths = []
        for i, part in enumerate(parts):
            stamp = dt.datetime.fromtimestamp(self.mtime_ns / 1e9 + 5, dt.UTC).strftime("%Y%m%d-%H%M%S%f")[
                :-3
            ]
            paths.append(self._write(f"{stamp}{i}.parquet", part, with_op=True))
        return paths
