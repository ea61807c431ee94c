"""Warehouse tables and the SQL that loads Parquet into them in one transaction.

A :class:`WarehouseTable` declares a Redshift table: schema, name, typed columns in order, the key
columns and how a load changes the table (``merge``: rows with a key in the load replace the
table's rows with that key; ``replace``: the load becomes the table's whole content).
:meth:`WarehouseTable.load_statements` renders the statements a Redshift Data API
``BatchExecuteStatement`` runs as one transaction:

1. ``CREATE TABLE IF NOT EXISTS`` the target (the first load creates it, owned by the loader);
2. ``LOCK TABLE <target>``: loads of one table run one at a time. Without it two concurrent
   merges of the same key both delete the old row and both insert a new one: PostgreSQL fails
   the second on its primary key, Redshift with a serializable-isolation violation, and a
   Redshift table (whose keys are not enforced) could keep both rows. Taken first, before the
   stage is created ``LIKE`` the target: a later lock would deadlock against the other load's
   read lock. With it the second load waits, then merges over the first's rows. Readers of the
   target wait for the lock too, for the length of one load;
3. ``CREATE TEMP TABLE <name>__stage (LIKE <target>)``: private to the batch's session;
4. ``COPY <stage> FROM 's3://...' IAM_ROLE '...' FORMAT AS PARQUET``;
5. ``DELETE`` the target's rows the load replaces (by key for ``merge``, all for ``replace``);
6. ``INSERT INTO <target> (<columns>) SELECT <columns> FROM <stage>``;
7. ``DROP TABLE <stage>``.

A failure anywhere rolls the whole batch back: readers see the table before or after the load,
never between. COPY from Parquet fills columns **by position** and needs as many columns in the
file as in the table, so a file whose columns are not exactly the table's, in the table's order,
is refused before anything runs (:func:`parquet_column_problems`; the pipeline checks the
manifest the Spark job writes from the Parquet schema it wrote).

No CDK imports: the pipeline renders these statements into its state machine at synth, and the
tests run the same statements against PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from emr_patterns.errors import problem, raise_if_problems

__all__ = [
    "LOAD_MODES",
    "MAX_BATCH_STATEMENTS",
    "Column",
    "WarehouseTable",
    "covid_state_daily_table",
    "parquet_column_problems",
    "sql_literal",
]

#: How a load changes the target table.
LOAD_MODES = ("merge", "replace")
#: ``BatchExecuteStatement`` takes at most this many statements (botocore: ``SqlList`` max 40).
MAX_BATCH_STATEMENTS = 40
#: A Redshift identifier we accept: lower case (Redshift folds unquoted names), no quoting needed.
IDENTIFIER_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
#: Column types common to Redshift and PostgreSQL that COPY from Parquet fills.
_TYPE_RES = (
    re.compile(r"^(SMALLINT|INTEGER|BIGINT|REAL|DOUBLE PRECISION|BOOLEAN|DATE|TIMESTAMP|TIMESTAMPTZ)$"),
    re.compile(r"^DECIMAL\((\d{1,2}),(\d{1,2})\)$"),
    re.compile(r"^(VARCHAR|CHAR)\((\d{1,5})\)$"),
)
#: Words a table or column may not be named (reserved in Redshift or PostgreSQL).
_RESERVED = frozenset(
    [
        "all",
        "and",
        "any",
        "as",
        "asc",
        "between",
        "both",
        "case",
        "cast",
        "check",
        "column",
        "constraint",
        "create",
        "cross",
        "current_date",
        "current_time",
        "current_timestamp",
        "current_user",
        "default",
        "delete",
        "desc",
        "distinct",
        "do",
        "drop",
        "else",
        "end",
        "except",
        "false",
        "for",
        "foreign",
        "from",
        "full",
        "grant",
        "group",
        "having",
        "in",
        "inner",
        "insert",
        "intersect",
        "into",
        "is",
        "join",
        "leading",
        "left",
        "like",
        "limit",
        "localtime",
        "natural",
        "new",
        "not",
        "null",
        "off",
        "offset",
        "old",
        "on",
        "only",
        "or",
        "order",
        "outer",
        "primary",
        "references",
        "right",
        "select",
        "session_user",
        "some",
        "table",
        "then",
        "to",
        "trailing",
        "true",
        "union",
        "unique",
        "update",
        "user",
        "using",
        "verbose",
        "when",
        "where",
        "with",
        "identity",
        "ilike",
        "interval",
        "minus",
        "oid",
        "open",
        "partition",
        "percent",
        "pivot",
        "similar",
        "sysdate",
        "system",
        "tag",
        "timestamp",
        "top",
        "unnest",
        "unpivot",
    ]
)
#: Redshift type -> the Spark type written for it (Parquet physical type COPY accepts).
_SPARK_TYPES = {
    "SMALLINT": "smallint",
    "INTEGER": "int",
    "BIGINT": "bigint",
    "REAL": "float",
    "DOUBLE PRECISION": "double",
    "BOOLEAN": "boolean",
    "DATE": "date",
    "TIMESTAMP": "timestamp",
    "TIMESTAMPTZ": "timestamp",
    "VARCHAR": "string",
    "CHAR": "string",
}
_S3_URI_RE = re.compile(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[^'\\\x00-\x1f]*)?$")
_ROLE_ARN_RE = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")


def sql_literal(text: str) -> str:
    """``text`` as a single-quoted SQL string literal (quotes doubled)."""
    return "'" + text.replace("'", "''") + "'"


def _type_problems(prop: str, sql_type: Any) -> list[str]:
    if not isinstance(sql_type, str) or not any(r.match(sql_type) for r in _TYPE_RES):
        return [
            problem(
                prop,
                sql_type,
                "is not a column type a Parquet COPY fills",
                "use SMALLINT, INTEGER, BIGINT, REAL, DOUBLE PRECISION, BOOLEAN, DATE, TIMESTAMP, "
                "TIMESTAMPTZ, DECIMAL(p,s), VARCHAR(n) or CHAR(n), in upper case",
            )
        ]
    decimal = _TYPE_RES[1].match(sql_type)
    if decimal and not (1 <= int(decimal.group(1)) <= 38 and int(decimal.group(2)) <= int(decimal.group(1))):
        return [
            problem(
                prop, sql_type, "has a precision outside 1-38 or a scale above it", "use e.g. DECIMAL(18,2)"
            )
        ]
    text = _TYPE_RES[2].match(sql_type)
    if text and not 1 <= int(text.group(2)) <= 65535:
        return [problem(prop, sql_type, "has a length outside 1-65535", "use e.g. VARCHAR(256)")]
    return []


def _identifier_problems(prop: str, name: Any) -> list[str]:
    if not isinstance(name, str) or not IDENTIFIER_RE.match(name):
        return [
            problem(
                prop,
                name,
                "is not a lower-case identifier of letters, digits and '_' (at most 63)",
                "use e.g. 'covid_state_daily'",
            )
        ]
    if name in _RESERVED:
        return [problem(prop, name, "is a reserved SQL word", f"use e.g. '{name}_value'")]
    return []


@dataclass(frozen=True)
class Column:
    """A column of a :class:`WarehouseTable`.

    Attributes:
        name: lower-case identifier; the Parquet column of the same name fills it.
        type: a type COPY from Parquet fills (``INTEGER``, ``VARCHAR(64)``, ``DECIMAL(18,2)``,
            ``DATE``...).
        nullable: whether NULL is allowed. Key columns must not be nullable. Default True.
    """

    name: str
    type: str
    nullable: bool = True

    def problems(self, prop: str) -> list[str]:
        """What is wrong with the column (empty when valid)."""
        out = _identifier_problems(f"{prop}.name", self.name)
        out += _type_problems(f"{prop}.type", self.type)
        if not isinstance(self.nullable, bool):
            out.append(problem(f"{prop}.nullable", self.nullable, "is not a bool", "pass True or False"))
        return out

    def ddl(self) -> str:
        return f"{self.name} {self.type}" + ("" if self.nullable else " NOT NULL")

    @property
    def spark_type(self) -> str:
        """The Spark SQL type whose Parquet encoding COPY loads into :attr:`type`."""
        base = self.type.split("(")[0]
        if base == "DECIMAL":
            return self.type.lower().replace(" ", "")
        return _SPARK_TYPES[base]


@dataclass(frozen=True)
class WarehouseTable:
    """A Redshift table loaded from Parquet in one transaction.

    Attributes:
        schema: schema of the table (must exist; ``public`` always does).
        name: table name.
        columns: the columns, in the order the Parquet files have them.
        key: the columns that identify a row (``merge`` replaces rows by it). Required for
            ``merge``; each must be a non-nullable column.
        mode: ``merge`` (default) or ``replace`` (the load is the whole table afterwards).
    """

    schema: str
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    mode: str = "merge"

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "columns", tuple(self.columns) if isinstance(self.columns, Sequence) else self.columns
        )
        object.__setattr__(self, "key", tuple(self.key) if isinstance(self.key, (list, tuple)) else self.key)
        raise_if_problems(f"WarehouseTable {self.schema}.{self.name}", self.problems())

    def problems(self) -> list[str]:
        """What is wrong with the table (empty when valid)."""
        out = _identifier_problems("schema", self.schema) + _identifier_problems("name", self.name)
        if len(str(self.name)) > 63 - len("__stage"):
            out.append(
                problem(
                    "name", self.name, "leaves no room for the '__stage' suffix", "use at most 56 characters"
                )
            )
        if not isinstance(self.columns, tuple) or not self.columns:
            return [
                *out,
                problem("columns", self.columns, "is empty or not a sequence", "pass Column(...) items"),
            ]
        names: list[str] = []
        for index, column in enumerate(self.columns):
            if not isinstance(column, Column):
                out.append(problem(f"columns[{index}]", column, "is not a Column", "pass Column(name, type)"))
                continue
            out += column.problems(f"columns[{index}]")
            if column.name in names:
                out.append(
                    problem(f"columns[{index}].name", column.name, "repeats a column", "name each once")
                )
            names.append(column.name)
        if self.mode not in LOAD_MODES:
            out.append(problem("mode", self.mode, "is not a load mode", f"use one of {LOAD_MODES}"))
        if not isinstance(self.key, tuple):
            return [
                *out,
                problem("key", self.key, "is not a sequence of column names", "pass e.g. ('date', 'state')"),
            ]
        if self.mode == "merge" and not self.key:
            out.append(
                problem("key", self.key, "is empty for a merge", "name the columns that identify a row")
            )
        by_name = {c.name: c for c in self.columns if isinstance(c, Column)}
        for name in self.key:
            if name not in by_name:
                out.append(problem("key", name, "is not a column", f"use one of {sorted(by_name)}"))
            elif by_name[name].nullable:
                out.append(
                    problem(
                        "key", name, "is a nullable column", f"declare Column({name!r}, ..., nullable=False)"
                    )
                )
        if len(set(self.key)) != len(self.key):
            out.append(problem("key", self.key, "repeats a column", "name each once"))
        return out

    # ---- names --------------------------------------------------------------------------------------
    @property
    def qualified_name(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def stage_name(self) -> str:
        """The temporary stage table (session-private, so concurrent loads never meet)."""
        return f"{self.name}__stage"

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def spark_columns(self) -> str:
        """``name:type,...`` for ``jobs/warehouse/curate.py --columns``: the Spark types, in order."""
        return ",".join(f"{c.name}:{c.spark_type}" for c in self.columns)

    # ---- SQL ----------------------------------------------------------------------------------------
    def create_statement(self) -> str:
        """``CREATE TABLE IF NOT EXISTS`` with the columns and, when there is a key, its primary key
        (informational in Redshift, enforced in PostgreSQL)."""
        parts = [c.ddl() for c in self.columns]
        if self.key:
            parts.append(f"PRIMARY KEY ({', '.join(self.key)})")
        return f"CREATE TABLE IF NOT EXISTS {self.qualified_name} ({', '.join(parts)})"

    def copy_statement(self, source_uri: str, iam_role_arn: str) -> str:
        """The COPY of every Parquet file under ``source_uri`` into the stage table."""
        return (
            f"COPY {self.stage_name} FROM {sql_literal(source_uri)} IAM_ROLE {sql_literal(iam_role_arn)} "
            "FORMAT AS PARQUET"
        )

    def load_statements(
        self, source_uri: str, iam_role_arn: str, *, parquet_columns: Sequence[str] | None = None
    ) -> list[str]:
        """The statements of one load, in order (see the module docstring); one transaction when
        run as one ``BatchExecuteStatement``.

        Args:
            source_uri: ``s3://bucket/prefix/`` of the Parquet files (a CDK token is allowed: the
                pipeline passes one).
            iam_role_arn: the role COPY assumes to read them (a token is allowed).
            parquet_columns: the column names of the files, in order, when known; a file whose
                columns are not the table's, in order, raises ``ValueError`` before any SQL exists.
        """
        problems: list[str] = []
        if parquet_columns is not None:
            problems += parquet_column_problems(self, parquet_columns)
        if "${Token" not in source_uri and not _S3_URI_RE.match(source_uri):
            problems.append(
                problem("source_uri", source_uri, "is not an s3:// URI", "pass s3://bucket/prefix/")
            )
        if "${Token" not in iam_role_arn and not _ROLE_ARN_RE.match(iam_role_arn):
            problems.append(
                problem("iam_role_arn", iam_role_arn, "is not an IAM role ARN", "pass the COPY role's ARN")
            )
        raise_if_problems(f"load of {self.qualified_name}", problems)
        columns = ", ".join(self.column_names)
        target = self.qualified_name
        if self.mode == "merge":
            matches = " AND ".join(f"{target}.{k} = {self.stage_name}.{k}" for k in self.key)
            delete = f"DELETE FROM {target} USING {self.stage_name} WHERE {matches}"
        else:
            delete = f"DELETE FROM {target}"
        return [
            self.create_statement(),
            f"LOCK TABLE {target}",
            f"CREATE TEMP TABLE {self.stage_name} (LIKE {target})",
            self.copy_statement(source_uri, iam_role_arn),
            delete,
            f"INSERT INTO {target} ({columns}) SELECT {columns} FROM {self.stage_name}",
            f"DROP TABLE {self.stage_name}",
        ]


def parquet_column_problems(table: WarehouseTable, parquet_columns: Sequence[str]) -> list[str]:
    """Why Parquet files with ``parquet_columns`` (in order) cannot be COPYed into ``table``: COPY
    fills by position, so the names must be the table's, in the table's order."""
    found, wanted = list(parquet_columns), list(table.column_names)
    if found == wanted:
        return []
    if sorted(found) == sorted(wanted):
        why = "has the table's columns in another order (COPY from Parquet fills columns by position)"
    else:
        missing = [c for c in wanted if c not in found]
        extra = [c for c in found if c not in wanted]
        why = f"does not have the table's columns (missing {missing}, extra {extra})"
    return [problem("parquet_columns", found, why, f"write the columns {wanted}, in that order")]


def covid_state_daily_table(schema: str = "public", name: str = "covid_state_daily") -> WarehouseTable:
    """The bundled example: daily COVID-19 cases and deaths per US state (the curated output of
    ``jobs/warehouse/curate.py``), merged by (date, state)."""
    return WarehouseTable(
        schema=schema,
        name=name,
        columns=(
            Column("date", "DATE", nullable=False),
            Column("state", "VARCHAR(64)", nullable=False),
            Column("fips", "VARCHAR(2)"),
            Column("cases", "BIGINT"),
            Column("deaths", "BIGINT"),
        ),
        key=("date", "state"),
    )
