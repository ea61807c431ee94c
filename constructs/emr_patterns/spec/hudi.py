"""CDC tables for Hudi: a typed table spec that renders HoodieStreamer's arguments and properties.

AWS DMS writes the changes of a MySQL table to S3 as Parquet (full-load files without an ``Op``
column unless ``IncludeOpForFullLoad`` is on, CDC files with ``Op`` = ``I``/``U``/``D``, and the
commit time in the column named by the endpoint's ``TimestampColumnName``). HoodieStreamer reads
those files with ``ParquetDFSSource``, adds a missing ``Op`` with ``AWSDmsTransformer`` and merges
them into a Hudi table with ``AWSDmsAvroPayload``, which deletes a record whose ``Op`` is ``D``.

A :class:`HudiCdcTable` names the source table, its columns, the record key (the primary key),
the partition fields, the table type and the catalog to sync. It validates itself on construction
(one :class:`~emr_patterns.errors.EmrPatternsValidationError` naming prop, value and fix) and
renders, from the same data:

* :meth:`HudiCdcTable.properties`: the ``--props`` file's keys (record key, key generator,
  ordering field = the DMS timestamp column, DFS root, parallelism, sync settings);
* :meth:`HudiCdcTable.streamer_arguments`: HoodieStreamer's own arguments;
* :meth:`HudiCdcTable.streamer_step`: the EMR step (``spark-submit`` of HoodieStreamer) with them.

Every run is an ``UPSERT``, the first (full-load) run included: a ``BULK_INSERT`` first run would
write the DMS delete records captured while the full load ran as rows and would not merge
duplicate keys. Because ``ParquetDFSSource`` takes only files modified after the last commit's
checkpoint, the full-load files and the CDC files can stay in the one DMS folder: nothing has to
be moved between the full load and the first incremental run.

Hudi 1.0 trap (merge modes): Hudi 1.0 records the table's ``hoodie.record.merge.mode`` in
``hoodie.properties``, inferred from the payload class: ``CUSTOM`` for ``AWSDmsAvroPayload``. Hudi
1.0.2 keeps ``CUSTOM`` whatever merge mode is configured (the CDC tests write a table with
``EVENT_TIME_ORDERING`` set and read back ``CUSTOM``), and later releases map payload classes to
merge modes of their own, so a configured merge mode is at best ignored and misleads whoever
reads the job. The rendered properties never set ``hoodie.record.merge.mode`` or
``hoodie.record.merge.strategy.id``, and ``extra_properties`` may not either.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from emr_patterns._tokens import is_unresolved
from emr_patterns.errors import problem, raise_if_problems
from emr_patterns.spec.steps import ActionOnFailure, SparkSubmitStep

__all__ = [
    "AWS_DMS_PAYLOAD",
    "AWS_DMS_TRANSFORMER",
    "DMS_OP_COLUMN",
    "EMR_HUDI_UTILITIES_JAR",
    "HOODIE_STREAMER_CLASS",
    "HUDI_SPARK_CONF",
    "MYSQL_CDC_PARAMETERS",
    "PARQUET_DFS_SOURCE",
    "RESERVED_PROPERTIES",
    "HudiCdcTable",
    "HudiSyncTarget",
    "HudiTableType",
    "dms_table_mappings",
    "identifier_problems",
    "java_properties",
]

HOODIE_STREAMER_CLASS = "org.apache.hudi.utilities.streamer.HoodieStreamer"
"""HoodieStreamer's main class (``HoodieDeltaStreamer`` is its deprecated old name)."""
PARQUET_DFS_SOURCE = "org.apache.hudi.utilities.sources.ParquetDFSSource"
"""Reads the Parquet files under ``hoodie.streamer.source.dfs.root`` modified after the checkpoint."""
AWS_DMS_TRANSFORMER = "org.apache.hudi.utilities.transform.AWSDmsTransformer"
"""Adds an empty ``Op`` column to rows that have none (DMS full-load files)."""
AWS_DMS_PAYLOAD = "org.apache.hudi.common.model.AWSDmsAvroPayload"
"""Latest record wins; a record whose ``Op`` is ``D`` deletes the key."""
DMS_OP_COLUMN = "Op"
"""The column DMS writes the operation to (``I``, ``U``, ``D``)."""
EMR_HUDI_UTILITIES_JAR = "/usr/lib/hudi/hudi-utilities-bundle.jar"
"""Where EMR installs the Hudi utilities bundle (HoodieStreamer) on every node."""

MYSQL_CDC_PARAMETERS: Mapping[str, str] = MappingProxyType(
    {"binlog_format": "ROW", "binlog_row_image": "FULL", "binlog_checksum": "NONE"}
)
"""The MySQL settings DMS change capture needs (the CDC source's DB parameter group): row-based
binary logs with full before/after images and no binlog checksums."""

HUDI_SPARK_CONF: Mapping[str, str] = MappingProxyType(
    {
        "spark.serializer": "org.apache.spark.serializer.KryoSerializer",
        "spark.kryo.registrator": "org.apache.spark.HoodieSparkKryoRegistrar",
        "spark.sql.extensions": "org.apache.spark.sql.hudi.HoodieSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.hudi.catalog.HoodieCatalog",
    }
)
"""The Spark settings Hudi 1.0 asks for (quick-start guide)."""

RESERVED_PROPERTIES: Mapping[str, str] = MappingProxyType(
    {
        "hoodie.record.merge.mode": "leave it unset: Hudi 1.0 infers CUSTOM from AWSDmsAvroPayload "
        "and keeps it whatever is configured",
        "hoodie.write.record.merge.mode": "leave it unset: Hudi 1.0 infers it from the payload class",
        "hoodie.record.merge.strategy.id": "leave it unset: Hudi 1.0 infers it from the payload class",
        "hoodie.datasource.write.payload.class": "the payload is always AWSDmsAvroPayload (deletes apply)",
        "hoodie.datasource.write.recordkey.field": "set record_key",
        "hoodie.datasource.write.partitionpath.field": "set partition_fields",
        "hoodie.datasource.write.precombine.field": "set timestamp_column (the DMS TimestampColumnName)",
        "hoodie.datasource.write.keygenerator.class": "it follows from record_key and partition_fields",
        "hoodie.streamer.source.dfs.root": "pass source_root to streamer_arguments",
        "hoodie.deltastreamer.source.dfs.root": "pass source_root to streamer_arguments",
        "hoodie.table.name": "set target_table",
        "hoodie.datasource.write.operation": "every run is an UPSERT",
    }
)
"""Keys ``extra_properties`` may not set, each with the reason (the spec owns them)."""

# MySQL identifiers as DMS table mappings name them literally: no wildcards.
_MYSQL_NAME = re.compile(r"^[A-Za-z0-9_$]{1,64}$")
# Glue and Hive: lower-case letters, digits and underscores.
_CATALOG_NAME = re.compile(r"^[a-z0-9_]{1,255}$")
_COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


class HudiTableType(StrEnum):
    """Hudi table type (``--table-type``)."""

    COPY_ON_WRITE = "COPY_ON_WRITE"
    """Each commit rewrites the changed Parquet files: simplest to read (default)."""
    MERGE_ON_READ = "MERGE_ON_READ"
    """Changes go to log files merged at read and by compaction: cheaper frequent upserts."""


class HudiSyncTarget(StrEnum):
    """Where each commit registers the table."""

    GLUE = "glue"
    """The AWS Glue Data Catalog, through Hudi's ``AwsGlueCatalogSyncTool`` (default)."""
    HIVE = "hive"
    """A Hive metastore, through ``HiveSyncTool`` in ``hms`` mode."""
    NONE = "none"
    """No catalog: read the table by path."""


_SYNC_TOOL = {
    HudiSyncTarget.GLUE: "org.apache.hudi.aws.sync.AwsGlueCatalogSyncTool",
    HudiSyncTarget.HIVE: "org.apache.hudi.hive.HiveSyncTool",
}


def identifier_problems(prop: str, value: object, *, kind: str = "mysql") -> list[str]:
    """Pure validator for a literal name: a MySQL schema/table (``kind="mysql"``), a catalog name
    (``"catalog"``) or a column (``"column"``). ``%`` and other wildcards are refused."""
    if not isinstance(value, str):
        return [problem(prop, value, "is not a string", "pass the name as a str")]
    if is_unresolved(value):
        return []
    if "%" in value or "*" in value or "?" in value:
        return [
            problem(
                prop,
                value,
                "is a wildcard; the CDC allowlist names each table",
                "list every schema and table by its exact name",
            )
        ]
    pattern, rule = {
        "mysql": (_MYSQL_NAME, "1-64 letters, digits, _ or $"),
        "catalog": (_CATALOG_NAME, "1-255 lower-case letters, digits or _ (Glue and Hive names)"),
        "column": (_COLUMN, "a letter or _ then up to 63 letters, digits or _"),
    }[kind]
    if not pattern.match(value):
        return [problem(prop, value, f"is not {rule}", "rename it or pick another")]
    return []


@dataclass(frozen=True, kw_only=True)
class HudiCdcTable:
    """One MySQL table replicated by DMS into one Hudi table.

    Example::

        HudiCdcTable(
            source_database="shop", source_table="orders",
            columns=("order_id", "customer_id", "status", "amount", "updated_at", "order_date"),
            record_key=("order_id",), partition_fields=("order_date",),
            target_database="shop_lake",
        )
    """

    source_database: str
    """The MySQL database (DMS "schema") holding the table; an exact name, no ``%``."""
    source_table: str
    """The MySQL table; an exact name, no ``%``."""
    columns: Sequence[str]
    """The source table's columns (DMS copies them as they are). The DMS timestamp column and
    ``Op`` are added by DMS and must not be among them."""
    record_key: Sequence[str]
    """The primary key columns: Hudi's record key. A table without a primary key cannot be
    replicated as changes (DMS cannot tell which row an update or delete is for)."""
    timestamp_column: str = "dms_ts"
    """The DMS S3 endpoint's ``TimestampColumnName``: the commit time of each change (transfer
    time for the full load), used as Hudi's ordering (precombine) field. Default: ``dms_ts``."""
    partition_fields: Sequence[str] = ()
    """Columns whose values partition the Hudi table (Hive-style ``col=value`` folders). A
    partitioned table gets the ``GLOBAL_SIMPLE`` index, so an update that changes a partition value
    moves the record instead of leaving a copy behind (a non-global index looks only in the new
    partition). Default: none (an unpartitioned table)."""
    table_type: HudiTableType | str = HudiTableType.COPY_ON_WRITE
    """``COPY_ON_WRITE`` or ``MERGE_ON_READ``. Default: ``COPY_ON_WRITE``."""
    target_database: str = "cdc"
    """The Glue/Hive database the table is synced to. Default: ``cdc``."""
    target_table: str | None = None
    """The Hudi (and catalog) table name. Default: the source table's name in lower case."""
    sync: HudiSyncTarget | str = HudiSyncTarget.GLUE
    """Catalog to register the table in after each commit. Default: the Glue Data Catalog."""
    shuffle_parallelism: int = 200
    """``hoodie.{upsert,insert,bulkinsert,delete}.shuffle.parallelism``: tasks that write each
    commit; about the input size / 128 MiB, at least the cluster's executor cores. Default: 200."""
    max_file_size_bytes: int = 128 * 1024 * 1024
    """``hoodie.parquet.max.file.size``: target size of the base files. Default: 128 MiB."""
    small_file_limit_bytes: int = 100 * 1024 * 1024
    """``hoodie.parquet.small.file.limit``: files below it receive new inserts. Default: 100 MiB."""
    extra_properties: Mapping[str, str] = field(default_factory=dict)
    """More ``hoodie.*`` properties (cleaning, clustering, compaction, metadata table...). The keys
    in :data:`RESERVED_PROPERTIES` are refused. Default: none."""

    def __post_init__(self) -> None:
        for name in ("columns", "record_key", "partition_fields"):
            value = getattr(self, name)
            if isinstance(value, str):
                value = (value,)
            object.__setattr__(self, name, tuple(value) if isinstance(value, Sequence) else value)
        if isinstance(self.table_type, str) and self.table_type in HudiTableType.__members__:
            object.__setattr__(self, "table_type", HudiTableType(self.table_type))
        if isinstance(self.sync, str) and self.sync in tuple(HudiSyncTarget):
            object.__setattr__(self, "sync", HudiSyncTarget(self.sync))
        object.__setattr__(self, "extra_properties", MappingProxyType(dict(self.extra_properties)))
        raise_if_problems("HudiCdcTable", self.problems("table"))

    # -- validation -------------------------------------------------------------------------

    def problems(self, prop: str) -> list[str]:
        """Pure validator: every problem of this table spec, each naming prop, value and fix."""
        out: list[str] = []
        out += identifier_problems(f"{prop}.source_database", self.source_database)
        out += identifier_problems(f"{prop}.source_table", self.source_table)
        columns = tuple(self.columns)
        if not columns:
            out.append(problem(f"{prop}.columns", columns, "is empty", "list the source table's columns"))
        for i, column in enumerate(columns):
            out += identifier_problems(f"{prop}.columns[{i}]", column, kind="column")
        lowered = [str(c).lower() for c in columns]
        dupes = sorted({c for c in lowered if lowered.count(c) > 1})
        if dupes:
            out.append(problem(f"{prop}.columns", dupes, "are listed twice", "list each column once"))
        if not self.record_key:
            out.append(
                problem(
                    f"{prop}.record_key",
                    tuple(self.record_key),
                    f"is empty: table {self.source_database}.{self.source_table} has no primary key, so "
                    "DMS changes cannot be matched to rows",
                    "add a primary key to the source table (or name a unique, not-null column set) and "
                    "pass it as record_key",
                )
            )
        known = set(lowered)
        for name in ("record_key", "partition_fields"):
            for column in getattr(self, name):
                if isinstance(column, str) and column.lower() not in known:
                    out.append(
                        problem(
                            f"{prop}.{name}",
                            column,
                            "is not a column of the source table",
                            f"pick from columns {list(columns)}",
                        )
                    )
        if not isinstance(self.timestamp_column, str) or not self.timestamp_column:
            out.append(
                problem(
                    f"{prop}.timestamp_column",
                    self.timestamp_column,
                    "is missing: Hudi needs the DMS commit timestamp to order changes",
                    "set the DMS S3 endpoint's TimestampColumnName and pass the same name (e.g. 'dms_ts')",
                )
            )
        else:
            out += identifier_problems(f"{prop}.timestamp_column", self.timestamp_column, kind="column")
            if self.timestamp_column.lower() in known:
                out.append(
                    problem(
                        f"{prop}.timestamp_column",
                        self.timestamp_column,
                        "is already a source column; DMS adds this column itself",
                        "pick a name the source table does not use",
                    )
                )
        if DMS_OP_COLUMN.lower() in known:
            out.append(
                problem(
                    f"{prop}.columns",
                    DMS_OP_COLUMN,
                    "collides with the column DMS writes the operation to",
                    "rename the source column",
                )
            )
        if self.table_type not in tuple(HudiTableType):
            out.append(
                problem(
                    f"{prop}.table_type",
                    self.table_type,
                    "is not a Hudi table type",
                    "use HudiTableType.COPY_ON_WRITE or MERGE_ON_READ",
                )
            )
        if self.sync not in tuple(HudiSyncTarget):
            out.append(
                problem(
                    f"{prop}.sync", self.sync, "is not a sync target", "use HudiSyncTarget.GLUE, HIVE or NONE"
                )
            )
        out += identifier_problems(f"{prop}.target_database", self.target_database, kind="catalog")
        if self.target_table is not None or not identifier_problems("t", self.source_table):
            out += identifier_problems(f"{prop}.target_table", self.table_name, kind="catalog")
        for name, low in (
            ("shuffle_parallelism", 1),
            ("max_file_size_bytes", 1024 * 1024),
            ("small_file_limit_bytes", 0),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                out.append(
                    problem(f"{prop}.{name}", value, f"must be an integer >= {low}", "pass a larger int")
                )
        if (
            isinstance(self.small_file_limit_bytes, int)
            and isinstance(self.max_file_size_bytes, int)
            and self.small_file_limit_bytes >= self.max_file_size_bytes
        ):
            out.append(
                problem(
                    f"{prop}.small_file_limit_bytes",
                    self.small_file_limit_bytes,
                    f"is not below max_file_size_bytes={self.max_file_size_bytes}",
                    "keep the small-file limit below the target file size",
                )
            )
        for key, value in self.extra_properties.items():
            if key in RESERVED_PROPERTIES:
                out.append(
                    problem(f"{prop}.extra_properties", key, "is set by the spec", RESERVED_PROPERTIES[key])
                )
            elif not isinstance(key, str) or not key.startswith("hoodie."):
                out.append(
                    problem(
                        f"{prop}.extra_properties",
                        key,
                        "is not a hoodie.* property",
                        "pass Hudi properties only (Spark settings belong to the step)",
                    )
                )
            if not isinstance(value, str) or "\n" in value:
                out.append(
                    problem(
                        f"{prop}.extra_properties[{key!r}]",
                        value,
                        "is not a one-line string",
                        "pass the value as a str",
                    )
                )
        return out

    # -- rendering --------------------------------------------------------------------------

    @property
    def table_name(self) -> str:
        """The Hudi and catalog table name."""
        return self.target_table if self.target_table is not None else str(self.source_table).lower()

    @property
    def key_generator(self) -> str:
        """The key generator the record key and partition fields call for."""
        if not self.partition_fields:
            return "org.apache.hudi.keygen.NonpartitionedKeyGenerator"
        if len(self.record_key) == 1 and len(self.partition_fields) == 1:
            return "org.apache.hudi.keygen.SimpleKeyGenerator"
        return "org.apache.hudi.keygen.ComplexKeyGenerator"

    def dms_folder(self, bucket_prefix: str) -> str:
        """The folder DMS writes this table to under an S3 target's ``bucket_prefix``:
        ``<prefix>/<database>/<table>/`` (DMS's ``schema/table`` layout)."""
        return f"{bucket_prefix.rstrip('/')}/{self.source_database}/{self.source_table}/"

    def properties(self) -> dict[str, str]:
        """The keys of HoodieStreamer's ``--props`` file: everything but the DMS folder, which
        :meth:`streamer_arguments` passes as ``--hoodie-conf`` (it holds the bucket name, known to
        CloudFormation only at deploy time, while the file is a synth-time asset)."""
        parallelism = str(self.shuffle_parallelism)
        props: dict[str, str] = {
            "hoodie.datasource.write.recordkey.field": ",".join(self.record_key),
            "hoodie.datasource.write.partitionpath.field": ",".join(self.partition_fields),
            "hoodie.datasource.write.keygenerator.class": self.key_generator,
            "hoodie.datasource.write.hive_style_partitioning": "true",
            "hoodie.datasource.write.precombine.field": self.timestamp_column,
            "hoodie.datasource.write.payload.class": AWS_DMS_PAYLOAD,
            "hoodie.upsert.shuffle.parallelism": parallelism,
            "hoodie.insert.shuffle.parallelism": parallelism,
            "hoodie.bulkinsert.shuffle.parallelism": parallelism,
            "hoodie.delete.shuffle.parallelism": parallelism,
            "hoodie.parquet.max.file.size": str(self.max_file_size_bytes),
            "hoodie.parquet.small.file.limit": str(self.small_file_limit_bytes),
        }
        if self.partition_fields:
            # A source row whose partition value changes must move, not be duplicated: only a
            # global index finds the old copy in its old partition.
            props["hoodie.index.type"] = "GLOBAL_SIMPLE"
            props["hoodie.simple.index.update.partition.path"] = "true"
        if self.sync is not HudiSyncTarget.NONE:
            props.update(
                {
                    "hoodie.datasource.hive_sync.database": self.target_database,
                    "hoodie.datasource.hive_sync.table": self.table_name,
                    "hoodie.datasource.hive_sync.partition_fields": ",".join(self.partition_fields),
                    "hoodie.datasource.hive_sync.partition_extractor_class": (
                        "org.apache.hudi.hive.MultiPartKeysValueExtractor"
                        if self.partition_fields
                        else "org.apache.hudi.hive.NonPartitionedExtractor"
                    ),
                }
            )
            if self.sync is HudiSyncTarget.HIVE:
                props["hoodie.datasource.hive_sync.mode"] = "hms"
        props.update(self.extra_properties)
        return props

    def streamer_arguments(self, *, source_root: str, target_base_path: str, props_uri: str) -> list[str]:
        """HoodieStreamer's own arguments (after the jar in ``spark-submit``).

        Args:
            source_root: the folder DMS writes this table's Parquet files to (see
                :meth:`dms_folder`), passed as ``--hoodie-conf hoodie.streamer.source.dfs.root=...``.
            target_base_path: the Hudi table's folder (``s3://bucket/prefix/table``).
            props_uri: where the :meth:`properties` file is (``s3://.../table.properties``).
        """
        raise_if_problems(
            "HudiCdcTable.streamer_arguments",
            [
                problem(name, value, "is empty", f"pass the {name.replace('_', ' ')}")
                for name, value in (
                    ("source_root", source_root),
                    ("target_base_path", target_base_path),
                    ("props_uri", props_uri),
                )
                if not isinstance(value, str) or not value
            ],
        )
        args = [
            "--props",
            props_uri,
            "--table-type",
            str(self.table_type),
            "--op",
            "UPSERT",
            "--source-class",
            PARQUET_DFS_SOURCE,
            "--transformer-class",
            AWS_DMS_TRANSFORMER,
            "--payload-class",
            AWS_DMS_PAYLOAD,
            "--source-ordering-field",
            self.timestamp_column,
            "--target-base-path",
            target_base_path,
            "--target-table",
            self.table_name,
            "--hoodie-conf",
            f"hoodie.streamer.source.dfs.root={source_root}",
        ]
        if self.sync is not HudiSyncTarget.NONE:
            args += ["--enable-sync", "--sync-tool-classes", _SYNC_TOOL[HudiSyncTarget(self.sync)]]
        return args

    def streamer_step(
        self,
        *,
        source_root: str,
        target_base_path: str,
        props_uri: str,
        name: str | None = None,
        jar: str = EMR_HUDI_UTILITIES_JAR,
        spark_conf: Mapping[str, str] | None = None,
        action_on_failure: ActionOnFailure | str = ActionOnFailure.CONTINUE,
    ) -> SparkSubmitStep:
        """The EMR step that runs HoodieStreamer once for this table (``spark-submit --class
        HoodieStreamer <jar> <streamer_arguments>``, with :data:`HUDI_SPARK_CONF`).

        Args:
            source_root: the table's DMS folder (see :meth:`streamer_arguments`).
            target_base_path: the Hudi table's folder.
            props_uri: where the :meth:`properties` file is.
            name: the step name. Default: ``hudi-<table>``.
            jar: the HoodieStreamer jar on the nodes. Default: EMR's
                ``/usr/lib/hudi/hudi-utilities-bundle.jar``.
            spark_conf: more ``--conf`` sizing settings (executor memory, cores...). Default: none.
            action_on_failure: what EMR does when the step fails. Default: ``CONTINUE`` (the
                pipeline fails and terminates the cluster).
        """
        conf = {**HUDI_SPARK_CONF, **dict(spark_conf or {})}
        return SparkSubmitStep(
            name=name or f"hudi-{self.table_name}",
            main_class=HOODIE_STREAMER_CLASS,
            jars=(jar if "://" in jar or jar.startswith("file:") else f"file:{jar}",),
            args=tuple(
                self.streamer_arguments(
                    source_root=source_root, target_base_path=target_base_path, props_uri=props_uri
                )
            ),
            spark_conf=conf,
            extra_allowed_spark_conf=tuple(HUDI_SPARK_CONF),
            action_on_failure=action_on_failure,
        )

    def properties_file(self) -> str:
        """:meth:`properties` as the text of the ``--props`` file."""
        return java_properties(self.properties())


def java_properties(values: Mapping[str, str]) -> str:
    """``values`` as a properties file Hudi's ``DFSPropertiesConfiguration`` reads: one
    ``key=value`` a line, sorted by key. Hudi splits each line at its first ``=`` and trims, with no
    escapes, so a key holding ``=`` or white space, or a value holding a line break, is refused."""
    bad = [
        problem(
            "properties",
            key,
            "cannot be written to a Hudi properties file",
            "use keys without '=' or white space and one-line values",
        )
        for key, value in values.items()
        if not key or "=" in key or any(c.isspace() for c in key) or "\n" in value or "\r" in value
    ]
    raise_if_problems("java_properties", bad)
    return "".join(f"{key}={value.strip()}\n" for key, value in sorted(values.items()))


def dms_table_mappings(tables: Sequence[HudiCdcTable]) -> dict[str, object]:
    """The DMS task's ``TableMappings``: one ``include`` selection rule per table, by exact name.

    Names come from :class:`HudiCdcTable`, which refuses wildcards, so the task replicates the
    allowlist and nothing else (a new table at the source is not picked up by accident)."""
    problems: list[str] = []
    if not tables:
        problems.append(problem("tables", tables, "is empty", "list at least one HudiCdcTable"))
    seen: set[tuple[str, str]] = set()
    for i, table in enumerate(tables):
        if not isinstance(table, HudiCdcTable):
            problems.append(problem(f"tables[{i}]", table, "is not a HudiCdcTable", "build one per table"))
            continue
        pair = (table.source_database.lower(), table.source_table.lower())
        if pair in seen:
            problems.append(
                problem(f"tables[{i}]", ".".join(pair), "is listed twice", "list each table once")
            )
        seen.add(pair)
    raise_if_problems("dms_table_mappings", problems)
    return {
        "rules": [
            {
                "rule-type": "selection",
                "rule-id": str(i + 1),
                "rule-name": f"include-{t.source_database}-{t.source_table}",
                "object-locator": {"schema-name": t.source_database, "table-name": t.source_table},
                "rule-action": "include",
            }
            for i, t in enumerate(tables)
        ]
    }
