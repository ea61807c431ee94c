"""A HoodieStreamer stand-in for the CDC tests, run in its own PySpark JVM with Hudi 1.0.2.

STAND-IN, and why: HoodieStreamer ships only in ``hudi-utilities(-slim)-bundle_2.12``, and the
Maven mirror these machines reach serves neither (probed ``hudi-utilities-slim-bundle_2.12`` 1.0.2
and 1.0.1, ``hudi-utilities-bundle_2.12`` 1.0.2 and ``hudi-utilities_2.12`` 1.0.2: "Could not
find artifact"). ``hudi-spark3.5-bundle_2.12:1.0.2`` is served, and it holds the whole Hudi writer
HoodieStreamer drives. So this driver takes **exactly the argument list and properties file the
spec renders** and does what HoodieStreamer does with them for ``ParquetDFSSource`` +
``AWSDmsTransformer``, in Python, around the real Hudi 1.0.2 write path:

* parses the arguments as HoodieStreamer's ``Config`` would, refusing any it does not know (so an
  argument the spec adds that this stand-in cannot honour fails the test instead of being dropped);
* reads ``--props`` with Hudi's own ``DFSPropertiesConfiguration`` (through py4j) and lays
  ``--hoodie-conf`` over it;
* selects files as ``DFSPathSelector`` does (names starting ``_`` or ``.`` skipped, empty files
  skipped, only files modified after the checkpoint, the checkpoint = the newest selected file's
  modification time in ms); the checkpoint is kept in a file beside the table (HoodieStreamer
  keeps it in the commit metadata);
* reads them with ``spark.read.parquet(...)`` as ``ParquetDFSSource`` does, adds ``Op`` = ``""``
  when missing as ``AWSDmsTransformer`` does;
* writes with the Hudi Spark datasource: the properties as they are, plus the arguments'
  counterparts (``--table-type`` -> ``hoodie.datasource.write.table.type``, ``--op`` ->
  ``hoodie.datasource.write.operation``, ``--source-ordering-field`` ->
  ``hoodie.datasource.write.precombine.field``, ``--payload-class`` ->
  ``hoodie.datasource.write.payload.class``, ``--target-table`` -> ``hoodie.table.name``).

Catalog sync is refused (``--enable-sync``): the tests render the spec with sync off.

Protocol: one JSON request a line on stdin, one ``@@RESULT <json>`` line on stdout per request.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import traceback
from typing import Any

RESULT = "@@RESULT "
STREAMER_FLAGS = ("--enable-sync", "--enable-hive-sync")


def session(jars: str) -> Any:
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master("local[2]")
        .appName("hudi-streamer-stand-in")
        .config("spark.jars", jars)
        .config("spark.serializer", "org.apache.spark.serializer.KryoSerializer")
        .config("spark.kryo.registrator", "org.apache.spark.HoodieSparkKryoRegistrar")
        .config("spark.sql.extensions", "org.apache.spark.sql.hudi.HoodieSparkSessionExtension")
        .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.hudi.catalog.HoodieCatalog")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.memory", "2g")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def streamer_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="HoodieStreamer", add_help=False, exit_on_error=False)
    p.add_argument("--props", required=True)
    p.add_argument("--table-type", required=True, choices=("COPY_ON_WRITE", "MERGE_ON_READ"))
    p.add_argument("--op", default="UPSERT", choices=("UPSERT", "INSERT", "BULK_INSERT"))
    p.add_argument("--source-class", required=True)
    p.add_argument("--transformer-class", action="append", default=[])
    p.add_argument("--payload-class", required=True)
    p.add_argument("--source-ordering-field", required=True)
    p.add_argument("--target-base-path", required=True)
    p.add_argument("--target-table", required=True)
    p.add_argument("--hoodie-conf", action="append", default=[])
    for flag in STREAMER_FLAGS:
        p.add_argument(flag, action="store_true")
    p.add_argument("--sync-tool-classes")
    return p


def load_props(spark: Any, uri: str) -> dict[str, str]:
    """The properties file read by Hudi's own parser (DFSPropertiesConfiguration)."""
    jvm = spark.sparkContext._jvm
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    path = jvm.org.apache.hudi.storage.StoragePath(uri)
    typed = jvm.org.apache.hudi.common.config.DFSPropertiesConfiguration(conf, path).getProps()
    return {str(k): str(typed.getProperty(k)) for k in typed.stringPropertyNames()}


def select_files(root: str, checkpoint_ms: int) -> tuple[list[str], int]:
    """DFSPathSelector's rule: eligible files modified after the checkpoint, oldest first."""
    local = root.removeprefix("file://")
    found: list[tuple[int, str]] = []
    for folder, dirs, files in os.walk(local):
        dirs[:] = [d for d in dirs if not d.startswith(("_", "."))]
        for name in files:
            if name.startswith(("_", ".")):
                continue
            path = os.path.join(folder, name)
            stat = os.stat(path)
            mtime_ms = stat.st_mtime_ns // 1_000_000
            if stat.st_size > 0 and mtime_ms > checkpoint_ms:
                found.append((mtime_ms, path))
    found.sort()
    newest = max((m for m, _ in found), default=checkpoint_ms)
    return ["file://" + p for _, p in found], newest


def run_streamer(spark: Any, argv: list[str]) -> dict[str, Any]:
    from pyspark.sql import functions as F  # noqa: N812

    args = streamer_parser().parse_args(argv)
    if args.enable_sync or args.enable_hive_sync or args.sync_tool_classes:
        raise ValueError("catalog sync is off in these tests: render the spec with sync=NONE")
    if args.source_class != "org.apache.hudi.utilities.sources.ParquetDFSSource":
        raise ValueError(f"this stand-in implements ParquetDFSSource only, not {args.source_class}")
    unknown = [
        t for t in args.transformer_class if t != "org.apache.hudi.utilities.transform.AWSDmsTransformer"
    ]
    if unknown:
        raise ValueError(f"this stand-in implements AWSDmsTransformer only, not {unknown}")
    props = load_props(spark, args.props)
    for pair in args.hoodie_conf:
        key, _, value = pair.partition("=")
        props[key] = value
    root = props.get("hoodie.streamer.source.dfs.root") or props["hoodie.deltastreamer.source.dfs.root"]
    checkpoint_file = args.target_base_path.removeprefix("file://").rstrip("/") + ".streamer-checkpoint"
    checkpoint = -1
    if os.path.exists(checkpoint_file):
        with open(checkpoint_file) as saved:
            checkpoint = int(saved.read())
    files, newest = select_files(root, checkpoint)
    if not files:
        return {"files": 0, "checkpoint": checkpoint, "committed": False}
    frame = spark.read.parquet(*files)
    if args.transformer_class and "Op" not in frame.columns:
        frame = frame.withColumn("Op", F.lit(""))
    options = {k: v for k, v in props.items() if k.startswith("hoodie.")}
    options.update(
        {
            "hoodie.table.name": args.target_table,
            "hoodie.datasource.write.table.type": args.table_type,
            "hoodie.datasource.write.operation": args.op.lower(),
            "hoodie.datasource.write.precombine.field": args.source_ordering_field,
            "hoodie.datasource.write.payload.class": args.payload_class,
        }
    )
    frame.write.format("hudi").options(**options).mode("append").save(args.target_base_path)
    with open(checkpoint_file, "w") as out:
        out.write(str(newest))
    return {"files": len(files), "checkpoint": newest, "committed": True, "rows_in": frame.count()}


def read_table(spark: Any, path: str, columns: list[str]) -> dict[str, Any]:
    rows = spark.read.format("hudi").load(path).select(*columns).collect()
    return {"rows": [[None if v is None else str(v) for v in row] for row in rows]}


def run_reconcile(spark: Any, argv: list[str], env: dict[str, str]) -> dict[str, Any]:
    from emr_patterns.jobs.cdc_hudi import reconcile

    os.environ.update(env)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = reconcile.main(argv)
    return {"status": status, "stdout": out.getvalue(), "stderr": err.getvalue()}


def main() -> int:
    spark = session(sys.argv[1])
    print(RESULT + json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        try:
            if request["cmd"] == "streamer":
                result = run_streamer(spark, request["args"])
            elif request["cmd"] == "read":
                result = read_table(spark, request["path"], request["columns"])
            elif request["cmd"] == "reconcile":
                result = run_reconcile(spark, request["argv"], request.get("env", {}))
            elif request["cmd"] == "quit":
                break
            else:
                raise ValueError(f"unknown command {request['cmd']!r}")
            reply = {"ok": True, **result}
        except BaseException as err:  # report to the test, keep serving
            reply = {"ok": False, "error": f"{type(err).__name__}: {err}", "trace": traceback.format_exc()}
        print(RESULT + json.dumps(reply), flush=True)
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
