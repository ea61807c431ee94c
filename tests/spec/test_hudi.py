"""HudiCdcTable: the HoodieStreamer arguments and properties it renders, and every bad input."""

from __future__ import annotations

from typing import Any

import pytest

from emr_patterns.errors import EmrPatternsValidationError
from emr_patterns.spec.hudi import (
    AWS_DMS_PAYLOAD,
    AWS_DMS_TRANSFORMER,
    HOODIE_STREAMER_CLASS,
    MYSQL_CDC_PARAMETERS,
    PARQUET_DFS_SOURCE,
    HudiCdcTable,
    HudiSyncTarget,
    HudiTableType,
    java_properties,
)

COLUMNS = ("order_id", "customer", "status", "amount", "updated_at", "region")


def table(**overrides: Any) -> HudiCdcTable:
    props: dict[str, Any] = {
        "source_database": "shop",
        "source_table": "orders",
        "columns": COLUMNS,
        "record_key": ("order_id",),
        "partition_fields": ("region",),
        "target_database": "shop_lake",
    }
    props.update(overrides)
    return HudiCdcTable(**props)


def problems_of(**overrides: Any) -> list[str]:
    with pytest.raises(EmrPatternsValidationError) as err:
        table(**overrides)
    assert isinstance(err.value, ValueError)
    return err.value.problems


def arg(args: list[str], flag: str) -> str:
    return args[args.index(flag) + 1]


def test_streamer_step_for_dms_parquet() -> None:
    step = table().streamer_step(
        source_root="s3://raw/dms/shop/orders/",
        target_base_path="s3://lake/hudi/orders",
        props_uri="s3://c/o.properties",
    )
    config = step.to_step_config()
    assert config["Name"] == "hudi-orders" and config["HadoopJarStep"]["Jar"] == "command-runner.jar"
    args = config["HadoopJarStep"]["Args"]
    assert args[:3] == ["spark-submit", "--deploy-mode", "cluster"]
    assert arg(args, "--class") == HOODIE_STREAMER_CLASS
    jar = args.index("file:/usr/lib/hudi/hudi-utilities-bundle.jar")
    assert args[jar + 1 :] == table().streamer_arguments(
        source_root="s3://raw/dms/shop/orders/",
        target_base_path="s3://lake/hudi/orders",
        props_uri="s3://c/o.properties",
    )
    assert arg(args, "--source-class") == PARQUET_DFS_SOURCE
    assert arg(args, "--transformer-class") == AWS_DMS_TRANSFORMER
    assert arg(args, "--payload-class") == AWS_DMS_PAYLOAD
    assert arg(args, "--source-ordering-field") == "dms_ts"
    assert arg(args, "--op") == "UPSERT"
    assert arg(args, "--table-type") == "COPY_ON_WRITE"
    assert arg(args, "--target-table") == "orders"
    assert arg(args, "--props") == "s3://c/o.properties"
    assert arg(args, "--hoodie-conf") == "hoodie.streamer.source.dfs.root=s3://raw/dms/shop/orders/"
    assert arg(args, "--sync-tool-classes") == "org.apache.hudi.aws.sync.AwsGlueCatalogSyncTool"
    assert "spark.serializer=org.apache.spark.serializer.KryoSerializer" in args


def test_properties_order_by_the_dms_timestamp_and_never_set_a_merge_mode() -> None:
    props = table().properties()
    assert props["hoodie.datasource.write.precombine.field"] == "dms_ts"
    assert props["hoodie.datasource.write.payload.class"] == AWS_DMS_PAYLOAD
    assert props["hoodie.datasource.write.recordkey.field"] == "order_id"
    assert props["hoodie.datasource.write.partitionpath.field"] == "region"
    assert props["hoodie.datasource.write.keygenerator.class"] == "org.apache.hudi.keygen.SimpleKeyGenerator"
    assert props["hoodie.index.type"] == "GLOBAL_SIMPLE"
    assert props["hoodie.datasource.hive_sync.partition_fields"] == "region"
    assert not any("merge.mode" in key or "merge.strategy" in key for key in props)


def test_key_generators_and_sync_targets() -> None:
    flat = table(partition_fields=(), sync=HudiSyncTarget.HIVE)
    props = flat.properties()
    assert props["hoodie.datasource.write.keygenerator.class"].endswith("NonpartitionedKeyGenerator")
    assert props["hoodie.datasource.hive_sync.mode"] == "hms"
    assert props["hoodie.datasource.hive_sync.partition_extractor_class"].endswith("NonPartitionedExtractor")
    assert "hoodie.index.type" not in props
    assert (
        arg(
            flat.streamer_arguments(source_root="s3://r/", target_base_path="s3://b/t", props_uri="s3://p"),
            "--sync-tool-classes",
        )
        == "org.apache.hudi.hive.HiveSyncTool"
    )
    multi = table(record_key=("order_id", "region"), partition_fields=("region", "status"))
    assert multi.key_generator.endswith("ComplexKeyGenerator")
    off = table(sync="none", table_type="MERGE_ON_READ")
    args = off.streamer_arguments(source_root="s3://r/", target_base_path="s3://b/t", props_uri="s3://p")
    assert "--enable-sync" not in args and arg(args, "--table-type") == "MERGE_ON_READ"
    assert off.table_type is HudiTableType.MERGE_ON_READ
    assert not any(k.startswith("hoodie.datasource.hive_sync") for k in off.properties())


def test_properties_file_is_what_hudi_parses() -> None:
    text = table().properties_file()
    lines = text.splitlines()
    assert lines == sorted(lines)
    assert not any("dfs.root" in line for line in lines)  # deploy-time value: an argument
    with pytest.raises(ValueError, match="cannot be written to a Hudi properties file"):
        java_properties({"hoodie.x": "a\nb"})


def test_dms_folder_and_cdc_parameters() -> None:
    assert table().dms_folder("s3://raw/dms/") == "s3://raw/dms/shop/orders/"
    assert dict(MYSQL_CDC_PARAMETERS) == {
        "binlog_format": "ROW",
        "binlog_row_image": "FULL",
        "binlog_checksum": "NONE",
    }


def test_table_without_primary_key() -> None:
    (found,) = problems_of(record_key=())
    assert found.startswith("table.record_key=()") and "has no primary key" in found and "Fix:" in found


def test_wildcards_where_an_allowlist_is_required() -> None:
    found = problems_of(source_table="ord%", source_database="%")
    assert len(found) == 2 and all("is a wildcard" in p and "exact name" in p for p in found)


def test_missing_timestamp_column() -> None:
    (found,) = problems_of(timestamp_column="")
    assert found.startswith("table.timestamp_column=''") and "TimestampColumnName" in found


def test_timestamp_column_that_is_already_a_source_column() -> None:
    (found,) = problems_of(timestamp_column="updated_at")
    assert "DMS adds this column itself" in found


def test_record_key_not_in_the_schema() -> None:
    found = problems_of(record_key=("id",), partition_fields=("country",))
    assert any(p.startswith("table.record_key='id'") and "not a column" in p for p in found)
    assert any(p.startswith("table.partition_fields='country'") for p in found)


@pytest.mark.parametrize(
    "key",
    [
        "hoodie.record.merge.mode",
        "hoodie.datasource.write.payload.class",
        "hoodie.datasource.write.precombine.field",
    ],
)
def test_reserved_properties_are_refused(key: str) -> None:
    (found,) = problems_of(extra_properties={key: "EVENT_TIME_ORDERING"})
    assert found.startswith(f"table.extra_properties='{key}'") and "is set by the spec" in found


def test_other_bad_props_are_all_named() -> None:
    found = problems_of(
        columns=("a", "A", "Op"),
        record_key=("a",),
        partition_fields=(),
        table_type="COW",
        sync="s3",
        target_database="Shop-Lake",
        shuffle_parallelism=0,
        small_file_limit_bytes=256 * 1024 * 1024,
        extra_properties={"spark.x": "1"},
    )
    text = "\n".join(found)
    for fragment in (
        "are listed twice",
        "collides with the column DMS writes",
        "table.table_type='COW'",
        "table.sync='s3'",
        "table.target_database='Shop-Lake'",
        "table.shuffle_parallelism=0",
        "is not below max_file_size_bytes",
        "is not a hoodie.* property",
    ):
        assert fragment in text


def test_dms_table_mappings_are_one_exact_include_rule_per_table() -> None:
    from emr_patterns.spec.hudi import dms_table_mappings

    mappings = dms_table_mappings([table(), table(source_table="customers", target_table="customers")])
    assert mappings == {
        "rules": [
            {
                "rule-type": "selection",
                "rule-id": "1",
                "rule-name": "include-shop-orders",
                "object-locator": {"schema-name": "shop", "table-name": "orders"},
                "rule-action": "include",
            },
            {
                "rule-type": "selection",
                "rule-id": "2",
                "rule-name": "include-shop-customers",
                "object-locator": {"schema-name": "shop", "table-name": "customers"},
                "rule-action": "include",
            },
        ]
    }
    with pytest.raises(ValueError, match="is listed twice"):
        dms_table_mappings([table(), table()])
    with pytest.raises(ValueError, match="tables=\\[\\]: is empty"):
        dms_table_mappings([])
