"""CSV on S3 to Parquet, with an external Hive table over the Parquet (the Hive platform's step).

Usage (an EMR step; ``sparkfs.py`` beside it with ``--py-files``)::

    spark-submit --py-files s3://code/sparkfs.py csv_to_parquet.py \\
        --input s3://lake/covid_data/csv/covid_cases.csv \\
        --output s3://lake/covid_data/parquet/covid_cases/ \\
        --database covid --table covid_cases --partition-by state

Input: delimited text with a header row, one file or a prefix, with at least the ``--columns``
(by name, any order; other columns are dropped). Each value is converted to its column's type;
an empty value becomes NULL, a value that does not convert is bad input.

Output: Parquet under ``--output`` (replaced on every run; with ``--partition-by`` in
``<column>=<value>/`` folders), and ``<database>.<table>`` in the Hive metastore: an EXTERNAL
table ``STORED AS PARQUET`` at ``--output`` (the database is created if missing). Re-running is
idempotent: the data is replaced, the table is kept (its partitions re-read with ``MSCK REPAIR
TABLE``). A table of that name that is not this one (another location, other columns or
partitions, or a managed table) is bad input: the job never drops a table.

Athena reads the table through the Athena Hive metastore connector (``AthenaHiveCatalog``).

Exit status: 0 on success, 2 on bad input (one line on stderr naming the option, the column or the
file), 1 otherwise. Python 3.9; the standard library and pyspark only.
"""

import argparse
import re
import sys
import traceback
from typing import Any, Dict, List, Optional, Sequence, Tuple

try:  # the package, when installed (tests, local runs)
    from emr_patterns.jobs import sparkfs
except ImportError:  # on the cluster: shipped beside the job with --py-files
    import sparkfs  # type: ignore[no-redef]

PROG = "csv_to_parquet"
EXIT_BAD_INPUT = 2
EXIT_FAILED = 1
#: The columns of the bundled COVID-19 sample (the seed pattern's data).
DEFAULT_COLUMNS = "date:date,state:string,fips:string,cases:bigint,deaths:bigint"
SUPPORTED_SCHEMES = ("s3", "s3a", "s3n", "hdfs", "file")
_TYPES = ("string", "int", "bigint", "double", "boolean", "date", "timestamp")
_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,127}$")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")


class InputError(ValueError):
    """Bad input or arguments: the message names the option, the column or the file."""


def error(message: str) -> None:
    """``csv_to_parquet: error: <message>`` on the real stderr, also under spark-submit (whose
    Python driver has its stderr merged into stdout: there the JVM's ``System.err`` writes it)."""
    line = f"{PROG}: {message}"
    try:
        from pyspark import SparkContext

        jvm = SparkContext._jvm
        if jvm is not None:
            jvm.java.lang.System.err.println(line)
            return
    except Exception:  # no JVM: the Python stderr is the best we have
        pass
    print(line, file=sys.stderr, flush=True)


def build_parser() -> argparse.ArgumentParser:
    """The command line of the job."""
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Convert CSV to Parquet and put an external Hive table over it.",
        epilog="exit status: 0 success, 2 bad input (one line on stderr), 1 other errors",
    )
    p.add_argument(
        "--input", required=True, help="CSV with a header row: s3://bucket/key, a file or a prefix"
    )
    p.add_argument("--output", required=True, help="the Parquet location, s3://bucket/prefix/ (replaced)")
    p.add_argument("--database", default="default", help="Hive database (created if missing)")
    p.add_argument("--table", required=True, help="Hive table name (lower case)")
    p.add_argument("--partition-by", default="", help="comma-separated columns to partition by")
    p.add_argument("--columns", default=DEFAULT_COLUMNS, help=f"name:type,... (types: {', '.join(_TYPES)})")
    p.add_argument("--delimiter", default=",", help="field delimiter")
    p.add_argument("--log-level", default="WARN", help="Spark log level when the job creates the session")
    return p


def parse_columns(text: str) -> List[Tuple[str, str]]:
    """``name:type,...`` as (name, type) pairs; raises :class:`InputError`."""
    out: List[Tuple[str, str]] = []
    for item in text.split(","):
        name, sep, kind = item.strip().partition(":")
        name, kind = name.strip().lower(), kind.strip().lower()
        if not sep or not _NAME.match(name):
            raise InputError(f"--columns item {item.strip()!r} is not name:type with a lower-case name")
        if kind not in _TYPES:
            raise InputError(f"--columns {name}: type {kind!r} is not one of {', '.join(_TYPES)}")
        if name in (n for n, _ in out):
            raise InputError(f"--columns {name} is named twice")
        out.append((name, kind))
    return out


def check_args(args: argparse.Namespace) -> Tuple[List[Tuple[str, str]], List[str]]:
    """The columns and partition columns; raises :class:`InputError` before Spark starts."""
    for option in ("database", "table"):
        value = getattr(args, option)
        if not _NAME.match(value):
            raise InputError(
                f"--{option} {value!r} is not a Hive name; use lower-case letters, digits and _ "
                "(not starting with a digit)"
            )
    for option in ("input", "output"):
        uri = getattr(args, option)
        match = _SCHEME.match(uri)
        if match and match.group(1).lower() not in SUPPORTED_SCHEMES:
            raise InputError(
                f"--{option} {uri}: unsupported URI scheme '{match.group(1)}://'; use s3://bucket/key, "
                "hdfs://, file:// or a plain path"
            )
    if args.input.rstrip("/") == args.output.rstrip("/"):
        raise InputError(f"--output {args.output} is --input: the Parquet would replace the CSV")
    columns = parse_columns(args.columns)
    names = [n for n, _ in columns]
    partitions = [p.strip().lower() for p in args.partition_by.split(",") if p.strip()]
    for p in partitions:
        if p not in names:
            raise InputError(f"--partition-by {p} is not one of the columns ({', '.join(names)})")
    if len(set(partitions)) != len(partitions):
        raise InputError(f"--partition-by {args.partition_by} names a column twice")
    if len(partitions) >= len(names):
        raise InputError("--partition-by names every column: at least one must stay in the files")
    return columns, partitions


def _quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def convert(df: Any, columns: Sequence[Tuple[str, str]], source: str) -> Any:
    """``df`` (all strings) with ``columns`` cast to their types; raises on a missing column or a
    value that does not convert (the first such column, with a count and an example)."""
    from pyspark.sql import functions as fn

    present = {c.strip().lower(): c for c in df.columns}
    missing = [n for n, _ in columns if n not in present]
    if missing:
        raise InputError(
            f"--input {source} has no column {', '.join(missing)} (its header: {', '.join(df.columns)})"
        )
    raw = df.select(
        *[
            fn.when(fn.trim(fn.col(f"`{present[n]}`")) == "", None)
            .otherwise(fn.trim(fn.col(f"`{present[n]}`")))
            .alias(n)
            for n, _ in columns
        ]
    )
    typed = raw.select(
        *[fn.col(n).alias(f"_raw_{n}") for n, _ in columns],
        *[
            (fn.to_date(fn.col(n), "yyyy-MM-dd") if kind == "date" else fn.col(n).cast(kind)).alias(n)
            for n, kind in columns
        ],
    )
    checks = [
        fn.sum(fn.when(fn.col(f"_raw_{n}").isNotNull() & fn.col(n).isNull(), 1).otherwise(0)).alias(n)
        for n, kind in columns
        if kind != "string"
    ]
    if checks:
        bad: Dict[str, int] = typed.agg(*checks).first().asDict()
        for name, kind in columns:
            if bad.get(name):
                example = (
                    typed.where(fn.col(f"_raw_{name}").isNotNull() & fn.col(name).isNull())
                    .select(f"_raw_{name}")
                    .first()[0]
                )
                raise InputError(
                    f"--input {source} column {name}: {bad[name]} value(s) are not {kind} (e.g. {example!r})"
                )
    return typed.select(*[n for n, _ in columns])


def _existing_table(spark: Any, database: str, table: str) -> Optional[Dict[str, str]]:
    """``DESCRIBE FORMATTED`` of an existing table as {key: value}, or None."""
    if not spark.catalog.tableExists(f"{database}.{table}"):
        return None
    info: Dict[str, str] = {}
    columns: List[str] = []
    partitions: List[str] = []
    section = "columns"
    for row in spark.sql(f"DESCRIBE FORMATTED `{database}`.`{table}`").collect():
        name, kind = (row[0] or "").strip(), (row[1] or "").strip()
        if name == "# Partition Information":
            section = "partitions"
        elif name.startswith("# Detailed Table Information") or name == "":
            section = "detail" if name else section
        elif name.startswith("#"):
            continue
        elif section == "columns":
            columns.append(f"{name}:{kind}")
        elif section == "partitions":
            partitions.append(name)
        else:
            info[name.rstrip(":")] = kind
    info["columns"] = ",".join(columns)
    info["partitions"] = ",".join(partitions)
    return info


def _same_location(a: str, b: str) -> bool:
    def norm(uri: str) -> str:
        uri = uri.rstrip("/")
        return re.sub(r"^(s3a|s3n):", "s3:", re.sub(r"^file:/+", "file:///", uri))

    return norm(a) == norm(b)


def ensure_table(
    spark: Any,
    args: argparse.Namespace,
    columns: Sequence[Tuple[str, str]],
    partitions: Sequence[str],
    location: str,
) -> str:
    """Create the external table if missing, check it if present; ``created`` or ``kept``."""
    db, table = args.database, args.table
    spark.sql(f"CREATE DATABASE IF NOT EXISTS `{db}`")
    data_columns = [(n, k) for n, k in columns if n not in partitions]
    kinds = dict(columns)
    existing = _existing_table(spark, db, table)
    if existing is not None:
        want_columns = ",".join(f"{n}:{kinds[n]}" for n in [*(n for n, _ in data_columns), *partitions])
        # DESCRIBE lists the partition columns among the columns too (after the data columns).
        problems = []
        if existing.get("Type", "").upper() != "EXTERNAL":
            problems.append(f"is {existing.get('Type', 'not EXTERNAL')}, not EXTERNAL")
        if not _same_location(existing.get("Location", ""), location):
            problems.append(f"is at {existing.get('Location')}, not {location}")
        if existing["columns"] != want_columns:
            problems.append(f"has columns {existing['columns']}, not {want_columns}")
        if existing["partitions"] != ",".join(partitions):
            problems.append(f"is partitioned by '{existing['partitions']}', not '{','.join(partitions)}'")
        if problems:
            raise InputError(
                f"--table {db}.{table} exists and {'; '.join(problems)}: use another --table or drop it"
            )
        status = "kept"
    else:
        cols = ", ".join(f"`{n}` {k}" for n, k in data_columns)
        parts = ", ".join(f"`{p}` {kinds[p]}" for p in partitions)
        spark.sql(
            f"CREATE EXTERNAL TABLE IF NOT EXISTS `{db}`.`{table}` ({cols})"
            + (f" PARTITIONED BY ({parts})" if parts else "")
            + f" STORED AS PARQUET LOCATION {_quote(location)}"
        )
        status = "created"
    if partitions:
        spark.sql(f"MSCK REPAIR TABLE `{db}`.`{table}`")
    spark.sql(f"REFRESH TABLE `{db}`.`{table}`")
    return status


def run(spark: Any, args: argparse.Namespace) -> Dict[str, Any]:
    """Read, convert, write the Parquet, create or check the table; a summary."""
    columns, partitions = check_args(args)
    if not sparkfs.path_exists(spark, args.input):
        raise InputError(f"--input {args.input} does not exist")
    df = (
        spark.read.option("header", "true")
        .option("sep", args.delimiter)
        .option("inferSchema", "false")
        .option("mode", "FAILFAST")
        .csv(args.input)
    )
    if not df.columns:
        raise InputError(f"--input {args.input} holds no header row")
    typed = convert(df, columns, args.input)
    location = args.output.rstrip("/")
    if partitions:
        # A NULL partition value would become __HIVE_DEFAULT_PARTITION__; refuse it instead.
        from pyspark.sql import functions as fn

        for p in partitions:
            if typed.where(fn.col(p).isNull()).limit(1).count():
                raise InputError(f"--input {args.input} column {p}: empty values cannot be a partition")
    spark.sparkContext._jsc.hadoopConfiguration().set(
        "mapreduce.fileoutputcommitter.marksuccessfuljobs", "false"
    )
    writer = typed.write.mode("overwrite")
    if partitions:
        writer = writer.partitionBy(*partitions)
    writer.parquet(location)
    status = ensure_table(spark, args, columns, partitions, location)
    rows = spark.table(f"`{args.database}`.`{args.table}`").count()
    return {
        "table": f"{args.database}.{args.table}",
        "location": location,
        "rows": rows,
        "table_status": status,
    }


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the job; 0 on success, 2 on bad input, 1 on any other error."""
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        check_args(args)
    except InputError as exc:
        error(f"error: {exc}")
        return EXIT_BAD_INPUT
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    created = SparkContext._active_spark_context is None
    spark = SparkSession.builder.appName("hive-csv-to-parquet").enableHiveSupport().getOrCreate()
    if created:
        spark.sparkContext.setLogLevel(args.log_level)
    try:
        summary = run(spark, args)
    except InputError as exc:
        error(f"error: {exc}")
        return EXIT_BAD_INPUT
    except Exception as exc:  # one line for the step's stderr, the trace after it
        java = getattr(exc, "java_exception", None)
        text = str(java.toString()) if java is not None else f"{type(exc).__name__}: {exc}"
        error(f"failed: {text.splitlines()[0] if text else type(exc).__name__}")
        traceback.print_exc()
        return EXIT_FAILED
    print(
        f"{PROG}: wrote {summary['rows']} rows to {summary['location']}; table {summary['table']} "
        f"{summary['table_status']}",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
