"""Reconcile a Hudi table with its MySQL source: fail the run when the row counts differ.

Run as an EMR step after HoodieStreamer::

    spark-submit --jars /usr/share/java/mariadb-connector-java.jar reconcile.py \
        --jdbc-url jdbc:mysql://db.example.internal:3306/ --secret-id arn:aws:secretsmanager:... \
        --table shop.orders --hudi-path s3://lake/hudi/orders --record-key order_id

What it does:

1. Counts the source table's rows over JDBC (``SELECT COUNT(*)``, one query, no table scan by
   Spark). The credentials come from a Secrets Manager secret holding ``username`` and
   ``password`` (the JSON of an RDS-managed secret), or for local runs from ``--user`` and the
   environment variable named by ``--password-env``; never from the command line, which EMR
   shows in ``DescribeStep``.
2. Counts the Hudi table's rows (a snapshot read) and its distinct record keys: a key present
   twice (for example after a partition value changed under a non-global index) is a mismatch
   even when the totals agree.
3. Prints one JSON line (``source_rows``, ``hudi_rows``, ``hudi_keys``, ``difference``,
   ``tolerance``, ``ok``) and writes it to ``--report`` when given.
4. Exits 0 when ``|source - hudi| <= --tolerance`` and the keys are unique, else 3, so the step
   fails and the pipeline's failure path runs. ``--tolerance`` (default 0) allows for changes
   committed at the source after the last DMS file the run took.

Bad arguments exit 2 with a message; an unreachable source or table exits 1 with the cause.
"""

import argparse
import json
import os
import re
import sys
from typing import Any, Dict, Optional, Sequence, Tuple

PROG = "cdc-hudi-reconcile"
MISMATCH = 3
_NAME = re.compile(r"^[A-Za-z0-9_$]{1,64}$")
_COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


class ReconcileError(Exception):
    """A problem with the arguments or the inputs (exit 2)."""


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    p = argparse.ArgumentParser(
        prog=PROG, description="Compare a Hudi table's row count with its MySQL source."
    )
    p.add_argument("--jdbc-url", required=True, help="jdbc:mysql://host:port/ of the source")
    p.add_argument("--table", required=True, help="database.table at the source")
    p.add_argument("--hudi-path", required=True, help="the Hudi table's base path")
    p.add_argument("--record-key", required=True, help="the record key column(s), comma-separated")
    p.add_argument("--secret-id", help="Secrets Manager secret with username and password")
    p.add_argument("--user", help="source user (local runs; use --secret-id on EMR)")
    p.add_argument("--password-env", help="environment variable holding the password (local runs)")
    p.add_argument("--driver", default="org.mariadb.jdbc.Driver", help="JDBC driver class")
    p.add_argument("--tolerance", type=int, default=0, help="allowed |source - hudi| (default 0)")
    p.add_argument("--report", help="also write the JSON result here (a path or s3:// URI)")
    p.add_argument("--region", help="AWS region of the secret (default: the cluster's)")
    return p


def split_table(table: str) -> Tuple[str, str]:
    """``database.table`` as two checked MySQL names."""
    parts = table.split(".")
    if len(parts) != 2 or not all(_NAME.match(part) for part in parts):
        raise ReconcileError(f"--table={table!r}: write it as database.table with plain MySQL names")
    return parts[0], parts[1]


def record_key_columns(value: str) -> Tuple[str, ...]:
    """The record key columns, checked."""
    columns = tuple(c.strip() for c in value.split(",") if c.strip())
    if not columns or not all(_COLUMN.match(c) for c in columns):
        raise ReconcileError(f"--record-key={value!r}: name the key column(s), comma-separated")
    return columns


def credentials(args: argparse.Namespace) -> Tuple[str, str]:
    """(user, password) from Secrets Manager or, for local runs, from --user and --password-env."""
    if args.secret_id:
        import boto3  # on every EMR node

        client = (
            boto3.client("secretsmanager", region_name=args.region)
            if args.region
            else boto3.client("secretsmanager")
        )
        secret = json.loads(client.get_secret_value(SecretId=args.secret_id)["SecretString"])
        return secret["username"], secret["password"]
    if args.user and args.password_env:
        if args.password_env not in os.environ:
            raise ReconcileError(
                f"--password-env={args.password_env!r}: that environment variable is not set"
            )
        return args.user, os.environ[args.password_env]
    raise ReconcileError("pass --secret-id (or --user with --password-env for a local run)")


def jdbc_url(url: str, driver: str) -> str:
    """The source URL as Spark and the driver need it.

    Spark picks its MySQL dialect (backtick quoting) only for ``jdbc:mysql:`` URLs, and MariaDB
    Connector/J 3 (the driver EMR ships) takes a ``jdbc:mysql:`` URL only with
    ``permitMysqlScheme`` in it, so that is added for the MariaDB driver.
    """
    if not url.startswith("jdbc:mysql://"):
        raise ReconcileError(f"--jdbc-url={url!r}: write it as jdbc:mysql://host:port/")
    if driver == "org.mariadb.jdbc.Driver" and "permitMysqlScheme" not in url:
        url += ("&" if "?" in url else "?") + "permitMysqlScheme"
    return url


def source_count(
    spark: Any, url: str, database: str, table: str, user: str, password: str, driver: str
) -> int:
    """``SELECT COUNT(*)`` at the source, run by the database (one row comes back)."""
    query = f"SELECT COUNT(*) AS n FROM `{database}`.`{table}`"
    frame = (
        spark.read.format("jdbc")
        .option("url", url)
        .option("driver", driver)
        .option("query", query)
        .option("user", user)
        .option("password", password)
        .load()
    )
    return int(frame.collect()[0][0])


def hudi_counts(spark: Any, path: str, key: Sequence[str]) -> Tuple[int, int]:
    """(rows, distinct record keys) of the Hudi table's latest snapshot."""
    from pyspark.sql import functions as F  # noqa: N812

    frame = spark.read.format("hudi").load(path)
    row = frame.agg(F.count(F.lit(1)).alias("rows"), F.countDistinct(*key).alias("keys")).collect()[0]
    return int(row["rows"]), int(row["keys"])


def compare(source_rows: int, hudi_rows: int, hudi_keys: int, tolerance: int = 0) -> Dict[str, Any]:
    """The reconciliation result: ``ok`` when the counts agree within ``tolerance`` and no key repeats."""
    difference = hudi_rows - source_rows
    return {
        "source_rows": source_rows,
        "hudi_rows": hudi_rows,
        "hudi_keys": hudi_keys,
        "difference": difference,
        "duplicate_keys": hudi_rows - hudi_keys,
        "tolerance": tolerance,
        "ok": abs(difference) <= tolerance and hudi_rows == hudi_keys,
    }


def write_report(spark: Any, target: str, text: str) -> None:
    """Write ``text`` to a local path or, through Hadoop's file system, to s3:// (EMRFS)."""
    if "://" not in target or target.startswith("file://"):
        with open(target.replace("file://", "", 1), "w", encoding="utf-8") as out:
            out.write(text + "\n")
        return
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(target)
    fs = path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    stream = fs.create(path, True)
    try:
        stream.write(bytearray((text + "\n").encode("utf-8")))
    finally:
        stream.close()


def reconcile(spark: Any, args: argparse.Namespace) -> Dict[str, Any]:
    """Count both sides and compare them."""
    database, table = split_table(args.table)
    key = record_key_columns(args.record_key)
    if args.tolerance < 0:
        raise ReconcileError(f"--tolerance={args.tolerance}: pass 0 or more")
    url = jdbc_url(args.jdbc_url, args.driver)
    user, password = credentials(args)
    src = source_count(spark, url, database, table, user, password, args.driver)
    rows, keys = hudi_counts(spark, args.hudi_path, key)
    result = compare(src, rows, keys, args.tolerance)
    result["table"] = args.table
    result["hudi_path"] = args.hudi_path
    return result


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command line entry point; returns the exit status (0 ok, 1 failure, 2 bad input, 3 mismatch)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.appName(PROG).getOrCreate()
    try:
        result = reconcile(spark, args)
    except ReconcileError as err:
        print(f"{PROG}: {err}", file=sys.stderr)
        return 2
    except Exception as err:  # the source or the table could not be read: say why, fail the step
        print(f"{PROG}: could not reconcile {args.table}: {type(err).__name__}: {err}", file=sys.stderr)
        return 1
    text = json.dumps(result, sort_keys=True)
    print(text)
    if args.report:
        write_report(spark, args.report, text)
    if not result["ok"]:
        print(
            f"{PROG}: MISMATCH for {args.table}: source has {result['source_rows']} rows, Hudi has "
            f"{result['hudi_rows']} rows and {result['hudi_keys']} distinct keys",
            file=sys.stderr,
        )
        return MISMATCH
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
