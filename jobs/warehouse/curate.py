"""Curate delimited text into Parquet for a warehouse load, with a manifest of what was written.

Usage (spark-submit; ``sparkfs.py`` beside it with ``--py-files``)::

    spark-submit --py-files s3://code/sparkfs.py curate.py \\
        --input s3://raw/covid/us-states.csv --output s3://curated/warehouse/covid/runs/r1/ \\
        --columns date:date,state:string,fips:string,cases:bigint,deaths:bigint --key date,state

Input: delimited text with a header row (``.gz`` and ``.bz2`` are read as such), one file or a
prefix. ``--columns`` names the columns to keep, in the warehouse table's order, each with its
Spark type (``string``, ``smallint``, ``int``, ``bigint``, ``float``, ``double``, ``boolean``,
``date``, ``timestamp``, ``decimal(p,s)``); timestamps are written as INT64 microseconds, which a
warehouse COPY reads. A row is rejected (and counted) when a key column is empty or when a non-empty
value does not convert to its column's type; of rows with the same key one is kept (the greatest
by the other columns, so reruns keep the same one).

Output (``--output``)::

    data/          Parquet, exactly the --columns in that order (no _SUCCESS marker: a warehouse
                   COPY of the prefix reads every object under it)
    manifest.json  the column names read back from the Parquet written, rows written, rows
                   rejected and duplicates dropped; written last

Exit status: 0 on success, 2 on bad input (one line on stderr naming the option, the column or the
file), 1 otherwise. Python 3.9; the standard library and pyspark only.
"""

import argparse
import json
import re
import sys
import traceback
from typing import Any, Dict, List, Optional, Sequence, Tuple

try:  # the package, when installed (tests, local runs)
    from emr_patterns.jobs import sparkfs
except ImportError:  # on the cluster: shipped beside the job with --py-files
    import sparkfs  # type: ignore[no-redef]

PROG = "curate"
EXIT_BAD_INPUT = 2
EXIT_FAILED = 1
_TYPES = re.compile(
    r"^(string|smallint|int|bigint|float|double|boolean|date|timestamp|decimal\((\d{1,2}),(\d{1,2})\))$"
)
_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class InputError(ValueError):
    """Bad input or arguments: the message names the option, the column or the file."""


def build_parser() -> argparse.ArgumentParser:
    """The command line of the job."""
    p = argparse.ArgumentParser(
        prog=PROG, description="Curate delimited text into Parquet for a warehouse load."
    )
    p.add_argument("--input", required=True, help="delimited text with a header row: a file or a prefix")
    p.add_argument("--output", required=True, help="where data/ and manifest.json go")
    p.add_argument("--columns", required=True, help="name:type,... in the warehouse table's order")
    p.add_argument("--key", required=True, help="comma-separated key columns (rows are unique by them)")
    p.add_argument("--delimiter", default=",", help="field delimiter (default ',')")
    p.add_argument("--log-level", default="WARN", help="Spark log level when the job creates the session")
    return p


def parse_columns(text: str) -> List[Tuple[str, str]]:
    """``name:type,...`` as a list of (name, Spark type); raises :class:`InputError`."""
    out: List[Tuple[str, str]] = []
    # decimal(p,s) holds a comma: split on commas not inside parentheses
    for item in re.split(r",(?![^()]*\))", text):
        name, sep, kind = item.strip().partition(":")
        if not sep or not _NAME.match(name):
            raise InputError(f"--columns item {item.strip()!r} is not name:type with a lower-case name")
        if not _TYPES.match(kind.strip()):
            raise InputError(
                f"--columns {name}: type {kind.strip()!r} is not one of string, smallint, int, bigint, "
                "float, double, boolean, date, timestamp, decimal(p,s)"
            )
        if name in [n for n, _ in out]:
            raise InputError(f"--columns names {name!r} twice")
        out.append((name, kind.strip()))
    return out


def parse_key(text: str, columns: Sequence[Tuple[str, str]]) -> List[str]:
    """The key column names; each must be one of ``columns``."""
    names = [n for n, _ in columns]
    key = [k.strip() for k in text.split(",") if k.strip()]
    if not key:
        raise InputError("--key names no column")
    unknown = [k for k in key if k not in names]
    if unknown:
        raise InputError(f"--key column(s) {', '.join(unknown)} not in --columns ({', '.join(names)})")
    return key


def curate(df: Any, columns: Sequence[Tuple[str, str]], key: Sequence[str]) -> Tuple[Any, Dict[str, int]]:
    """The curated frame (the columns cast, bad rows and duplicates out) and the counts."""
    from pyspark.sql import Window
    from pyspark.sql import functions as sf

    header = [c.strip() for c in df.columns]
    missing = [n for n, _ in columns if n not in header]
    if missing:
        raise InputError(f"--input has no column(s) {', '.join(missing)} (its header: {', '.join(header)})")
    df = df.toDF(*header)
    raw = {n: sf.trim(sf.col(n)) for n, _ in columns}
    cast = {n: sf.when(raw[n] == "", sf.lit(None)).otherwise(raw[n]).cast(kind) for n, kind in columns}
    bad_value = sf.lit(False)
    for n, _ in columns:
        bad_value = bad_value | (raw[n].isNotNull() & (raw[n] != "") & cast[n].isNull())
    null_key = sf.lit(False)
    for k in key:
        null_key = null_key | cast[k].isNull()
    flagged = df.select(
        *[cast[n].alias(n) for n, _ in columns],
        bad_value.alias("__bad_value"),
        null_key.alias("__null_key"),
    ).cache()
    counts = flagged.agg(
        sf.count(sf.lit(1)).alias("input"),
        sf.sum(sf.col("__bad_value").cast("int")).alias("bad_value"),
        sf.sum((sf.col("__null_key") & ~sf.col("__bad_value")).cast("int")).alias("null_key"),
    ).first()
    good = flagged.where(~sf.col("__bad_value") & ~sf.col("__null_key")).drop("__bad_value", "__null_key")
    others = [n for n, _ in columns if n not in key]
    order = [sf.col(n).desc_nulls_last() for n in others] or [sf.lit(1)]
    ranked = good.withColumn("__rank", sf.row_number().over(Window.partitionBy(*key).orderBy(*order)))
    curated = ranked.where(sf.col("__rank") == 1).drop("__rank")
    stats = {
        "input": int(counts["input"] or 0),
        "rejected_bad_value": int(counts["bad_value"] or 0),
        "rejected_null_key": int(counts["null_key"] or 0),
    }
    return curated, stats


def run(spark: Any, args: argparse.Namespace) -> Dict[str, Any]:
    """Read, curate, write ``data/`` then ``manifest.json``; returns the manifest."""
    columns = parse_columns(args.columns)
    key = parse_key(args.key, columns)
    if not sparkfs.path_exists(spark, args.input):
        raise InputError(f"--input {args.input} does not exist")
    df = (
        spark.read.option("header", "true")
        .option("sep", args.delimiter)
        .option("inferSchema", "false")
        .csv(args.input)
    )
    if not df.columns:
        raise InputError(f"--input {args.input} holds no header row")
    curated, stats = curate(df, columns, key)
    data_uri = sparkfs.join(args.output, "data")
    spark.sparkContext._jsc.hadoopConfiguration().set(
        "mapreduce.fileoutputcommitter.marksuccessfuljobs", "false"
    )
    spark.conf.set("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
    curated.write.mode("overwrite").parquet(data_uri)
    written = spark.read.parquet(data_uri)
    rows = written.count()
    if rows == 0:
        raise InputError(f"--input {args.input} has no valid row ({stats['input']} read, all rejected)")
    manifest: Dict[str, Any] = {
        "input": args.input,
        "data": data_uri + "/",
        "columns": list(written.columns),
        "types": {f.name: f.dataType.simpleString() for f in written.schema.fields},
        "key": list(key),
        "rows": rows,
        "rows_read": stats["input"],
        "rejected_bad_value": stats["rejected_bad_value"],
        "rejected_null_key": stats["rejected_null_key"],
        "duplicates_dropped": stats["input"]
        - stats["rejected_bad_value"]
        - stats["rejected_null_key"]
        - rows,
    }
    sparkfs.write_text(
        spark, sparkfs.join(args.output, "manifest.json"), json.dumps(manifest, indent=2) + "\n"
    )
    return manifest


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the job; 0 on success, 2 on bad input, 1 on any other error."""
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        parse_key(args.key, parse_columns(args.columns))
    except InputError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    created = SparkContext._active_spark_context is None
    spark = SparkSession.builder.appName("warehouse-curate").getOrCreate()
    if created:
        spark.sparkContext.setLogLevel(args.log_level)
    try:
        manifest = run(spark, args)
    except InputError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as exc:
        traceback.print_exc(file=sys.stderr)
        print(
            f"{PROG}: error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
            file=sys.stderr,
        )
        return EXIT_FAILED
    m = manifest
    print(
        f"{PROG}: wrote {m['rows']} rows to {m['data']} ({m['rejected_bad_value']} with a bad value, "
        f"{m['rejected_null_key']} without a key, {m['duplicates_dropped']} duplicates left out)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
