"""CDC end to end on real parts: MariaDB -> DMS-shaped Parquet -> Hudi 1.0.2 on Spark 3.5 -> readers.

Real: Debian's MariaDB (the source of truth, binlog on), Hudi 1.0.2's Spark 3.5 bundle from Maven
Central on Java 17 (the writer, AWSDmsAvroPayload, the merge-mode inference, the key generators,
the global index, the metadata table), Spark's and hudi-rs's (``hudi`` on PyPI) readers, the
reconciliation job over JDBC.

Stand-ins, named with the reason:
* DMS itself (``tests/cdc/_dms.py``): it does not run outside AWS. The helper writes the files a
  DMS task writes for the changes the real table went through.
* HoodieStreamer's driver (``tests/cdc/_streamer.py``): its jar is not served by the Maven mirror
  these machines reach. The stand-in consumes exactly the argument list and properties file the
  spec renders for the EMR step, through Hudi's own properties parser, and drives the real Hudi
  write path as HoodieStreamer does.

What differs from the EMR step, and only this: the paths are local (``file://``) instead of
``s3://``, and catalog sync is off (``sync=HudiSyncTarget.NONE``): the first test checks that.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from emr_patterns.spec.hudi import (
    MYSQL_CDC_PARAMETERS,
    HudiCdcTable,
    HudiSyncTarget,
)
from tests.cdc._dms import COLUMNS, DDL, CapturedTable, DmsS3Writer, MariaDb, normalise

SPEC = HudiCdcTable(
    source_database="shop",
    source_table="orders",
    columns=COLUMNS,
    record_key=("order_id",),
    partition_fields=("region",),
    target_database="shop_lake",
    shuffle_parallelism=2,
)
LOCAL = dataclasses.replace(SPEC, sync=HudiSyncTarget.NONE)
EMR_PATHS = {
    "base": "s3://lake/hudi/orders",
    "props": "s3://lake/conf/orders.properties",
    "dms": "s3://raw/dms",
}


def test_local_run_differs_from_the_emr_step_only_in_paths_and_sync(tmp_path: Path) -> None:
    local_paths = {
        "base": f"file://{tmp_path}/hudi",
        "props": f"file://{tmp_path}/p",
        "dms": f"file://{tmp_path}/dms/shop/orders/",
    }
    emr_paths = {
        "base": "s3://lake/hudi/orders",
        "props": "s3://lake/conf/orders.properties",
        "dms": SPEC.dms_folder("s3://raw/dms"),
    }

    def render(spec: HudiCdcTable, paths: dict[str, str]) -> list[str]:
        return spec.streamer_arguments(
            source_root=paths["dms"], target_base_path=paths["base"], props_uri=paths["props"]
        )

    emr, local = render(SPEC, emr_paths), render(LOCAL, local_paths)
    sync = emr.index("--enable-sync")
    assert emr[sync : sync + 3] == [
        "--enable-sync",
        "--sync-tool-classes",
        "org.apache.hudi.aws.sync.AwsGlueCatalogSyncTool",
    ]
    emr = emr[:sync] + emr[sync + 3 :]
    swap = {emr_paths[k]: local_paths[k] for k in emr_paths}
    swap[f"hoodie.streamer.source.dfs.root={emr_paths['dms']}"] = (
        f"hoodie.streamer.source.dfs.root={local_paths['dms']}"
    )
    assert [swap.get(v, v) for v in emr] == local
    emr_props, local_props = SPEC.properties(), LOCAL.properties()
    sync_keys = {k for k in emr_props if k.startswith("hoodie.datasource.hive_sync.")}
    assert sync_keys and not sync_keys & set(local_props)
    assert {k: v for k, v in emr_props.items() if k not in sync_keys} == local_props


@pytest.fixture(scope="module")
def cdc(mariadb: Any, hudi_streamer: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One scenario for the module: a full load and three change batches, HoodieStreamer after each."""
    work = tmp_path_factory.mktemp("cdc")
    client = MariaDb(mariadb)
    for name, value in MYSQL_CDC_PARAMETERS.items():
        client.run(f"SET GLOBAL {name} = '{value}'")
    client.run("DROP DATABASE IF EXISTS shop; CREATE DATABASE shop")
    client.run(DDL.format(table="shop.orders"))
    table = CapturedTable(client, "shop.orders", dt.datetime(2025, 3, 1, 8, 0, tzinfo=dt.UTC))
    dms = DmsS3Writer(work / "dms" / "shop" / "orders")
    base = f"file://{work}/hudi/orders"
    props = work / "orders.properties"
    props.write_text(LOCAL.properties_file())
    args = LOCAL.streamer_arguments(
        source_root=LOCAL.dms_folder(f"file://{work}/dms"), target_base_path=base, props_uri=f"file://{props}"
    )
    runs: list[dict[str, Any]] = []

    def ingest(label: str) -> None:
        result = hudi_streamer.call("streamer", args=args)
        assert result["ok"], result.get("trace")
        read = hudi_streamer.call("read", path=base, columns=list(COLUMNS))
        assert read["ok"], read.get("trace")
        runs.append(
            {
                "label": label,
                "result": result,
                "expected": table.rows(),
                "spark": sorted((normalise(r) for r in read["rows"]), key=lambda r: int(r[0] or 0)),
                "hudi_rs": read_with_hudi_rs(base),
            }
        )

    # Rows that exist before the task starts: the full load copies them.
    for i, (who, region) in enumerate(
        [
            ("ann", "eu"),
            ("bob", "us"),
            ("cy", "eu"),
            ("dee", "ap"),
            ("eve", "us"),
            ("fay", "eu"),
            ("gus", "ap"),
        ],
        start=1,
    ):
        table.insert(i, who, "new", f"{10 * i}.50", region)
    table.take()
    dms.full_load(table)
    ingest("full load")

    # Batch 1: inserts, updates, a delete, and an update that moves a row to another partition.
    table.insert(8, "hal", "new", "80.00", "us")
    table.insert(9, None, "new", "90.25", "eu")
    table.update(1, status="paid")
    table.update(2, amount="21.00")
    table.delete(3)
    table.update(4, region="eu", status="moved")
    dms.cdc(table.take())
    ingest("batch 1")

    # Batch 2: update then delete of one key; insert then delete of a key Hudi never saw; two
    # updates of one key with the later one in the older file.
    table.update(5, status="paid")
    table.delete(5)
    table.insert(10, "ivy", "new", "100.00", "ap")
    table.delete(10)
    table.update(6, status="paid")
    table.update(7, status="shipped")
    table.update(6, status="shipped", amount="65.00")
    dms.cdc(table.take())
    ingest("batch 2")

    # No new files: HoodieStreamer commits nothing.
    runs.append({"label": "idle", "result": hudi_streamer.call("streamer", args=args)})

    # Batch 3: delete a row that came with the full load, update one from batch 1.
    table.delete(8)
    table.update(9, customer="ida")
    dms.cdc(table.take())
    ingest("batch 3")
    return {"runs": runs, "base": base, "client": client, "db": mariadb, "work": work, "table": table}


def read_with_hudi_rs(base: str) -> list[tuple[str | None, ...]] | None:
    """The table read by hudi-rs (the ``hudi`` PyPI package): an independent reader."""
    import pyarrow as pa
    from hudi import HudiTableBuilder

    batches = HudiTableBuilder.from_base_uri(base.removeprefix("file://")).build().read()
    rows = pa.Table.from_batches(batches).select(list(COLUMNS)).to_pylist()
    return sorted((normalise([r[c] for c in COLUMNS]) for r in rows), key=lambda r: int(r[0] or 0))


def test_binlog_settings_of_the_parameter_group_hold_on_the_source(cdc: dict[str, Any]) -> None:
    rows = dict(
        cdc["client"].run(
            "SHOW GLOBAL VARIABLES WHERE Variable_name IN "
            "('binlog_format', 'binlog_row_image', 'binlog_checksum')"
        )
    )
    assert rows == dict(MYSQL_CDC_PARAMETERS)


@pytest.mark.parametrize("label", ["full load", "batch 1", "batch 2", "batch 3"])
def test_hudi_table_equals_the_source_after_each_run(cdc: dict[str, Any], label: str) -> None:
    run = next(r for r in cdc["runs"] if r["label"] == label)
    assert run["result"]["committed"]
    assert run["spark"] == run["expected"]
    assert run["hudi_rs"] == run["expected"]


def test_the_changes_that_matter_landed(cdc: dict[str, Any]) -> None:
    final = {r[0]: r for r in cdc["runs"][-1]["spark"]}
    assert set(final) == {"1", "2", "4", "6", "7", "9"}  # 3, 5, 8 deleted; 10 never visible
    assert final["4"][5] == "eu" and final["4"][2] == "moved"  # moved partition, one copy
    assert final["6"][2:4] == ("shipped", "65.00")  # the later update, though in the older file
    assert final["9"][1] == "ida"
    full, batch1 = cdc["runs"][0], cdc["runs"][1]
    assert full["result"]["files"] == 3 and batch1["result"]["files"] == 2


def test_a_run_without_new_files_commits_nothing(cdc: dict[str, Any]) -> None:
    idle = next(r for r in cdc["runs"] if r["label"] == "idle")["result"]
    assert idle["ok"] and idle["files"] == 0 and not idle["committed"]


def test_merge_mode_is_inferred_from_the_payload(cdc: dict[str, Any]) -> None:
    """Hudi 1.0 writes the merge mode it inferred from AWSDmsAvroPayload; the spec never sets one."""
    props = Path(cdc["base"].removeprefix("file://"), ".hoodie", "hoodie.properties").read_text()
    table = dict(
        line.split("=", 1) for line in props.splitlines() if "=" in line and not line.startswith("#")
    )
    assert table["hoodie.record.merge.mode"] == "CUSTOM"
    assert table["hoodie.compaction.payload.class"] == "org.apache.hudi.common.model.AWSDmsAvroPayload"
    assert table["hoodie.table.precombine.field"] == "dms_ts"
    assert table["hoodie.table.version"] == "8"
    assert "hoodie.record.merge.mode" not in LOCAL.properties()


def reconcile_argv(cdc: dict[str, Any], *extra: str) -> list[str]:
    db = cdc["db"]
    return [
        "--jdbc-url",
        f"jdbc:mysql://127.0.0.1:{db.port}/",
        "--table",
        "shop.orders",
        "--hudi-path",
        cdc["base"],
        "--record-key",
        "order_id",
        "--user",
        db.user,
        "--password-env",
        "CDC_TEST_SOURCE_PASSWORD",
        *extra,
    ]


def test_reconciliation_passes_on_the_replicated_pair(cdc: dict[str, Any], hudi_streamer: Any) -> None:
    report = cdc["work"] / "reconcile.json"
    out = hudi_streamer.call(
        "reconcile",
        argv=reconcile_argv(cdc, "--report", str(report)),
        env={"CDC_TEST_SOURCE_PASSWORD": cdc["db"].password},
    )
    assert out["ok"], out.get("trace")
    assert out["status"] == 0, out["stderr"]
    assert '"ok": true' in report.read_text() and '"source_rows": 6' in report.read_text()


def test_reconciliation_fails_the_run_on_a_mismatch(cdc: dict[str, Any], hudi_streamer: Any) -> None:
    cdc["client"].run("INSERT INTO shop.orders VALUES (99, 'zed', 'new', 1.00, '2025-03-02 00:00:00', 'eu')")
    try:
        env = {"CDC_TEST_SOURCE_PASSWORD": cdc["db"].password}
        out = hudi_streamer.call("reconcile", argv=reconcile_argv(cdc), env=env)
        assert out["ok"], out.get("trace")
        assert out["status"] == 3
        assert "MISMATCH for shop.orders: source has 7 rows, Hudi has 6 rows" in out["stderr"]
        tolerant = hudi_streamer.call("reconcile", argv=reconcile_argv(cdc, "--tolerance", "1"), env=env)
        assert tolerant["status"] == 0, tolerant["stderr"]
    finally:
        cdc["client"].run("DELETE FROM shop.orders WHERE order_id = 99")


@pytest.mark.parametrize("trusted", ["rds-bundle-and-test-ca", "rds-bundle-only"])
def test_reconciliation_verifies_the_source_certificate_with_the_rendered_options(
    cdc: dict[str, Any], hudi_streamer: Any, trusted: str
) -> None:
    """The options HudiCdcIngest renders by default (``sslMode=verify-full`` and the RDS CA
    bundle as ``serverSslCert``) against the real MariaDB over TLS: a bundle holding the server's
    CA (the 115 RDS CAs with the test CA after them) verifies it; the RDS CAs alone refuse it."""
    from emr_patterns.foundation.mysql import rds_ca_bundle_file
    from emr_patterns.patterns.cdc_hudi import reconcile_jdbc_options

    bundle = cdc["work"] / f"{trusted}.pem"
    text = Path(rds_ca_bundle_file()).read_text()
    bundle.write_text(text + (cdc["db"].ca_pem.read_text() if trusted == "rds-bundle-and-test-ca" else ""))
    argv = reconcile_argv(cdc)
    argv[1] += "?" + reconcile_jdbc_options(str(bundle))
    out = hudi_streamer.call("reconcile", argv=argv, env={"CDC_TEST_SOURCE_PASSWORD": cdc["db"].password})
    assert out["ok"], out.get("trace")
    if trusted == "rds-bundle-and-test-ca":
        assert out["status"] == 0, out["stderr"]
    else:
        assert out["status"] == 1 and "could not reconcile shop.orders" in out["stderr"], out["stderr"]
        assert "certif" in out["stderr"].lower() or "pkix" in out["stderr"].lower(), out["stderr"]


def test_reconciliation_names_bad_input(cdc: dict[str, Any], hudi_streamer: Any) -> None:
    env = {"CDC_TEST_SOURCE_PASSWORD": cdc["db"].password}
    bad_table = reconcile_argv(cdc)
    bad_table[bad_table.index("shop.orders")] = "shop.%"
    out = hudi_streamer.call("reconcile", argv=bad_table, env=env)
    assert out["status"] == 2 and "--table='shop.%'" in out["stderr"]
    unset = reconcile_argv(cdc)
    unset[unset.index("CDC_TEST_SOURCE_PASSWORD")] = "CDC_TEST_NOT_SET"
    missing = hudi_streamer.call("reconcile", argv=unset, env=env)
    assert (
        missing["status"] == 2
        and "'CDC_TEST_NOT_SET': that environment variable is not set" in missing["stderr"]
    )
    url = reconcile_argv(cdc)
    url[1] = url[1].replace("jdbc:mysql:", "jdbc:postgresql:")
    assert hudi_streamer.call("reconcile", argv=url, env=env)["status"] == 2
    wrong = reconcile_argv(cdc)
    wrong[wrong.index("shop.orders")] = "shop.no_such_table"
    gone = hudi_streamer.call("reconcile", argv=wrong, env=env)
    assert gone["status"] == 1 and "could not reconcile shop.no_such_table" in gone["stderr"]


def test_a_configured_merge_mode_does_not_take_with_the_dms_payload(
    cdc: dict[str, Any], hudi_streamer: Any
) -> None:
    """Why the spec refuses ``hoodie.record.merge.mode``: Hudi 1.0.2 records CUSTOM anyway."""
    work = cdc["work"] / "merge-mode"
    DmsS3Writer(work / "dms" / "shop" / "orders").cdc(
        [{"Op": "I", "dms_ts": "2025-03-01 09:00:00.000000", **cdc["table"]._image(1)}], reverse_halves=False
    )
    props = work / "orders.properties"
    props.write_text(LOCAL.properties_file())
    base = f"file://{work}/hudi/orders"
    args = LOCAL.streamer_arguments(
        source_root=LOCAL.dms_folder(f"file://{work}/dms"), target_base_path=base, props_uri=f"file://{props}"
    )
    result = hudi_streamer.call(
        "streamer", args=[*args, "--hoodie-conf", "hoodie.record.merge.mode=EVENT_TIME_ORDERING"]
    )
    assert result["ok"] and result["committed"], result.get("trace")
    table = Path(work, "hudi", "orders", ".hoodie", "hoodie.properties").read_text()
    assert "hoodie.record.merge.mode=CUSTOM" in table.splitlines()
    with pytest.raises(ValueError, match=r"hoodie\.record\.merge\.mode"):
        dataclasses.replace(LOCAL, extra_properties={"hoodie.record.merge.mode": "EVENT_TIME_ORDERING"})
