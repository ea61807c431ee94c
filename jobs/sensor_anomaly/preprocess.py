"""Sensor anomaly detection, program 1 of 2: check and clean sensor readings, choose k for k-means.

Input (``--input``): CSV files with a header line holding at least these columns (any order,
names case-insensitive, extra columns ignored):

==============  =========  ==========================================================
column          type       meaning
==============  =========  ==========================================================
``sensor_id``   text       the sensor that took the reading
``timestamp``   timestamp  when, ISO 8601 (``2026-01-01T00:05:00Z``, ``2026-01-01 00:05:00``)
``temperature`` number     degrees Celsius
``vibration``   number     mm/s RMS
``pressure``    number     kPa
``humidity``    number     relative humidity, percent
==============  =========  ==========================================================

What it does, in order:

1. Checks the header: a missing column is an error naming every missing column.
2. Checks every value: a non-empty value that is not a number (or not a timestamp), or is NaN or
   infinite, makes a bad row. More than ``--max-bad-rows`` bad rows (default 0) is an error
   naming how many and the first few; up to that many are dropped and counted.
3. Drops rows with an empty value, then exact duplicate rows (all six columns equal).
4. ``--mode TRAINING`` only: scales the four measurements to mean 0, standard deviation 1
   (``StandardScaler``), fits k-means for every k from ``--k-min`` to ``--k-max`` and records the
   within-set sum of squared errors (WSSSE, k-means' ``trainingCost``) of each, and picks k by
   the elbow rule: the smallest k whose next step, k to k+1, lowers WSSSE by less than
   ``--min-gain`` (a fraction of WSSSE(k), default 0.10); ``--k-max`` when every step gains more.
   The fits start from ``--seed``, so a rerun on the same input picks the same k.

Output (``--output``):

* ``features/``: Parquet, the clean rows with the six columns above (measurements unscaled:
  ``model.py`` fits the scaler again inside its saved pipeline, so scoring data is scaled with
  the training data's statistics).
* ``summary.json``: ``mode``, ``input``, ``feature_columns``, ``rows`` (``input``, ``bad_dropped``,
  ``null_dropped``, ``duplicates_dropped``, ``output``), ``k_range``, ``wssse`` (k -> WSSSE),
  ``chosen_k``, ``min_gain``, ``seed``, ``scaler`` (``mean``, ``std``). With ``--mode SCORING``
  there is no k search: ``chosen_k`` is null and ``wssse`` empty.

Both are replaced when they exist. Exit status: 0 success, 2 bad input or arguments (one line on
stderr: ``preprocess.py: error: ...``), 1 other errors.

This file is self-contained (standard library and pyspark only) so spark-submit can run it on
its own: ``spark-submit --deploy-mode cluster s3://bucket/code/preprocess.py --mode TRAINING ...``.
"""

import argparse
import json
import os
import sys
import traceback
from typing import Any, Callable, Dict, List, Optional, Sequence

from pyspark.sql import functions as F  # noqa: N812

# --- shared part: the same in preprocess.py and model.py (a test keeps the two equal) ---
MODES = ("TRAINING", "SCORING")
SUPPORTED_SCHEMES = ("file", "hdfs", "s3", "s3a", "s3n")
LOG_LEVELS = ("ALL", "DEBUG", "INFO", "WARN", "ERROR", "FATAL", "OFF", "TRACE")
KEY_COLUMNS = ("sensor_id", "timestamp")
FEATURE_COLUMNS = ("temperature", "vibration", "pressure", "humidity")
COLUMNS = KEY_COLUMNS + FEATURE_COLUMNS


class InputError(ValueError):
    """Bad input or arguments: reported as one line, exit status 2."""


def join(base: str, *parts: str) -> str:
    """``base/part/...`` with exactly one slash between the parts."""
    out = base.rstrip("/")
    for part in parts:
        out = out + "/" + part.strip("/")
    return out


def check_location(option: str, uri: str) -> None:
    """Refuse a location Hadoop cannot open here (``gs://``, ``http://`` ...) before Spark starts."""
    scheme = uri.split("://", 1)[0].lower() if "://" in uri else ""
    if scheme and scheme not in SUPPORTED_SCHEMES:
        raise InputError(
            f"{option} {uri}: unsupported URI scheme '{scheme}://'; use s3://bucket/key, hdfs://, "
            "file:// or a plain path"
        )


def _fs_path(spark: Any, uri: str) -> Any:
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(uri)
    return path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), path


def exists(spark: Any, uri: str) -> bool:
    """Whether a file or folder exists, through Hadoop's FileSystem (EMRFS for s3:// on EMR)."""
    fs, path = _fs_path(spark, uri)
    return bool(fs.exists(path))


def write_json(spark: Any, uri: str, document: Dict[str, Any]) -> None:
    """Write a small JSON document, replacing the file, through Hadoop's FileSystem."""
    fs, path = _fs_path(spark, uri)
    data = (json.dumps(document, indent=2, sort_keys=True) + "\n").encode("utf-8")
    stream = fs.create(path, True)
    try:
        stream.write(bytearray(data))
    finally:
        stream.close()


def read_json(spark: Any, uri: str) -> Dict[str, Any]:
    """Read a small JSON document through Hadoop's FileSystem."""
    fs, path = _fs_path(spark, uri)
    jvm = spark.sparkContext._jvm
    buffer = jvm.java.io.ByteArrayOutputStream()
    jvm.org.apache.hadoop.io.IOUtils.copyBytes(fs.open(path), buffer, 65536, True)
    try:
        return json.loads(buffer.toString("UTF-8"))
    except ValueError as exc:
        raise InputError(f"{uri} is not valid JSON ({exc})") from None


def parser(prog: str, description: str, example: str) -> argparse.ArgumentParser:
    """An ``ArgumentParser`` with ``--mode`` and ``--log-level``."""
    p = argparse.ArgumentParser(
        prog=prog,
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=f"example:\n{example}\n\nexit status: 0 success, 2 bad input or arguments, 1 other errors",
    )
    p.add_argument("--mode", required=True, type=str.upper, choices=MODES, help="what this run does")
    p.add_argument(
        "--log-level", default="WARN", type=str.upper, choices=LOG_LEVELS, help="Spark's log level"
    )
    return p


def parse(p: argparse.ArgumentParser, argv: Optional[Sequence[str]]) -> Any:
    """Parsed arguments, or the exit status argparse chose (``--help`` 0, a usage error 2)."""
    try:
        return p.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2


def error(prog: str, message: str) -> None:
    """``<prog>: error: <message>`` on stderr; under spark-submit the JVM's stderr, because
    spark-submit merges the Python driver's stderr into its stdout."""
    line = f"{prog}: error: {message}"
    if os.environ.get("PYSPARK_GATEWAY_PORT"):
        try:
            from pyspark import SparkContext

            SparkContext._ensure_initialized()
            SparkContext._jvm.java.lang.System.err.println(line)
            return
        except Exception:  # no gateway after all: the Python stderr is the best we have
            pass
    print(line, file=sys.stderr)


def run(prog: str, args: Any, checks: Callable[[], None], body: Callable[[Any], int]) -> int:
    """Check the arguments, start (or reuse) Spark, run ``body(spark)``; errors as exit statuses."""
    try:
        checks()
    except InputError as exc:
        error(prog, str(exc))
        return 2
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    created = SparkContext._active_spark_context is None
    spark = SparkSession.builder.appName(f"sensor-anomaly-{prog.split('.')[0]}").getOrCreate()
    if created:  # a caller's session (tests, notebooks) keeps its own level
        spark.sparkContext.setLogLevel(args.log_level)
    try:
        return body(spark)
    except InputError as exc:
        error(prog, str(exc))
        return 2
    except Exception as exc:
        traceback.print_exc(file=sys.stderr)
        java = getattr(exc, "java_exception", None)
        text = str(java.toString()) if java is not None else f"{type(exc).__name__}: {exc}"
        error(prog, (text.strip().splitlines() or [type(exc).__name__])[0][:500])
        return 1


# --- end of the shared part ---

PROG = "preprocess.py"
FEATURES_DIR = "features"
SUMMARY = "summary.json"
#: How many bad rows an error message quotes.
QUOTED_BAD_ROWS = 5


def read_csv(spark: Any, uri: str) -> Any:
    """The CSV files at ``uri`` as text columns, named as in their header (trimmed, lower case)."""
    from pyspark.sql.utils import AnalysisException

    try:
        raw = spark.read.option("header", True).option("inferSchema", False).csv(uri)
        columns = raw.columns
    except AnalysisException as exc:
        text = str(exc)
        if "PATH_NOT_FOUND" in text or "Path does not exist" in text:
            raise InputError(f"--input {uri}: no such file or folder") from None
        if "UNABLE_TO_INFER_SCHEMA" in text or "Unable to infer schema" in text:
            raise InputError(f"--input {uri}: no CSV data (empty files or an empty folder)") from None
        raise
    if not columns:
        raise InputError(f"--input {uri}: no CSV data (empty files or an empty folder)")
    return raw.toDF(*[c.strip().lower() for c in columns])


def select_columns(raw: Any, uri: str) -> Any:
    """The six schema columns, or an ``InputError`` naming every missing one."""
    missing = [c for c in COLUMNS if c not in raw.columns]
    if missing:
        found = ", ".join(raw.columns) or "none"
        raise InputError(
            f"--input {uri}: missing column(s) {', '.join(missing)} (header has: {found}); "
            f"the header needs {', '.join(COLUMNS)}"
        )
    return raw.select(*COLUMNS)


def typed(raw: Any) -> Any:
    """Typed columns plus ``_bad``: the names of the columns whose value failed to parse."""
    cols = []
    bad = []
    for name in COLUMNS:
        text = F.trim(F.col(name))
        present = text.isNotNull() & (text != "")
        if name == "sensor_id":
            cols.append(F.when(present, text).alias(name))
            continue
        kind = "TIMESTAMP" if name == "timestamp" else "DOUBLE"
        value = F.expr(f"try_cast(trim(`{name}`) AS {kind})")
        failed = value.isNull()
        if kind == "DOUBLE":
            failed = failed | F.isnan(value) | (F.abs(value) == float("inf"))
        cols.append(F.when(present & ~failed, value).alias(name))
        bad.append(F.when(present & failed, F.lit(name)))
    return raw.select(
        *cols, F.concat_ws(",", *bad).alias("_bad"), *[F.col(c).alias(f"_raw_{c}") for c in COLUMNS]
    )


def bad_rows_message(uri: str, count: int, examples: List[Any], limit: int) -> str:
    quoted = "; ".join(
        "{" + ", ".join(f"{c}={row[f'_raw_{c}']!r}" for c in COLUMNS) + f"}} (bad: {row['_bad']})"
        for row in examples
    )
    return (
        f"--input {uri}: {count} row(s) with values that are not numbers or timestamps, more than "
        f"--max-bad-rows {limit}; first {len(examples)}: {quoted}"
    )


def clean(frame: Any, uri: str, max_bad_rows: int) -> Dict[str, Any]:
    """Drop bad (up to ``max_bad_rows``), null and duplicate rows; the rows and their counts."""
    frame = frame.cache()
    is_bad = F.col("_bad") != ""
    has_null = F.greatest(*[F.col(c).isNull() for c in COLUMNS])
    counts = frame.agg(
        F.count(F.lit(1)).alias("total"),
        F.sum(is_bad.cast("long")).alias("bad"),
        F.sum((~is_bad & has_null).cast("long")).alias("null"),
    ).first()
    total, bad_count, null_count = counts["total"], counts["bad"] or 0, counts["null"] or 0
    if total == 0:
        raise InputError(f"--input {uri}: the header has no data rows under it")
    if bad_count > max_bad_rows:
        examples = frame.filter(is_bad).limit(QUOTED_BAD_ROWS).collect()
        raise InputError(bad_rows_message(uri, bad_count, examples, max_bad_rows))
    rows = frame.filter(~is_bad).select(*COLUMNS).dropna(how="any").dropDuplicates(list(COLUMNS)).cache()
    out = rows.count()
    frame.unpersist()
    if out == 0:
        raise InputError(f"--input {uri}: no rows left after dropping rows with empty values")
    return {
        "frame": rows,
        "rows": {
            "input": total,
            "bad_dropped": bad_count,
            "null_dropped": null_count,
            "duplicates_dropped": total - bad_count - null_count - out,
            "output": out,
        },
    }


def scale(frame: Any) -> Any:
    """The measurements as a vector, scaled to mean 0 and standard deviation 1 (``scaled``)."""
    from pyspark.ml import Pipeline
    from pyspark.ml.feature import StandardScaler, VectorAssembler

    return Pipeline(
        stages=[
            VectorAssembler(inputCols=list(FEATURE_COLUMNS), outputCol="features"),
            StandardScaler(inputCol="features", outputCol="scaled", withMean=True, withStd=True),
        ]
    ).fit(frame)


def wssse_by_k(scaled: Any, k_min: int, k_max: int, seed: int, max_iter: int) -> Dict[int, float]:
    """k -> within-set sum of squared errors of k-means on the ``scaled`` column."""
    from pyspark.ml.clustering import KMeans

    out = {}
    for k in range(k_min, k_max + 1):
        model = KMeans(k=k, seed=seed, maxIter=max_iter, featuresCol="scaled").fit(scaled)
        out[k] = float(model.summary.trainingCost)
    return out


def choose_k(wssse: Dict[int, float], min_gain: float) -> int:
    """The elbow: the smallest k for which going to the next k lowers WSSSE by less than
    ``min_gain`` of WSSSE(k); the largest k when every step gains more."""
    ks = sorted(wssse)
    for k, following in zip(ks, ks[1:]):  # noqa: B905, RUF007 (Python 3.9)
        before = wssse[k]
        gain = (before - wssse[following]) / before if before > 0 else 0.0
        if gain < min_gain:
            return k
    return ks[-1]


def build_parser() -> argparse.ArgumentParser:
    p = parser(
        PROG,
        "Check and clean sensor readings (CSV), write them as Parquet; with --mode TRAINING also\n"
        "choose the number of k-means clusters by the elbow rule.",
        "  spark-submit preprocess.py --mode TRAINING --input s3://bucket/readings/ \\\n"
        "      --output s3://bucket/work/TRAINING/preprocess/",
    )
    p.add_argument("--input", required=True, help="CSV file or folder of CSV files, with a header line")
    p.add_argument("--output", required=True, help="folder for features/ and summary.json")
    p.add_argument("--k-min", type=int, default=2, help="smallest k tried (TRAINING; default 2)")
    p.add_argument("--k-max", type=int, default=8, help="largest k tried (TRAINING; default 8)")
    p.add_argument(
        "--min-gain",
        type=float,
        default=0.10,
        help="elbow rule: stop at the first k whose step to k+1 lowers WSSSE by less than this "
        "fraction (default 0.10)",
    )
    p.add_argument("--seed", type=int, default=42, help="k-means random start value (default 42)")
    p.add_argument("--max-iter", type=int, default=20, help="k-means iterations per fit (default 20)")
    p.add_argument(
        "--max-bad-rows",
        type=int,
        default=0,
        help="bad rows dropped before failing (default 0: any bad row fails the run)",
    )
    return p


def check_args(args: Any) -> None:
    problems = []
    if args.k_min < 2:
        problems.append(f"--k-min {args.k_min} must be at least 2")
    if args.k_max < args.k_min:
        problems.append(f"--k-max {args.k_max} must be at least --k-min {args.k_min}")
    if not 0.0 < args.min_gain < 1.0:
        problems.append(f"--min-gain {args.min_gain} must be between 0 and 1")
    if args.max_iter < 1:
        problems.append(f"--max-iter {args.max_iter} must be at least 1")
    if args.max_bad_rows < 0:
        problems.append(f"--max-bad-rows {args.max_bad_rows} must be 0 or more")
    if problems:
        raise InputError("; ".join(problems))
    check_location("--input", args.input)
    check_location("--output", args.output)


def preprocess(spark: Any, args: Any) -> Dict[str, Any]:
    """Run the program's work; return the summary it wrote."""
    raw = select_columns(read_csv(spark, args.input), args.input)
    cleaned = clean(typed(raw), args.input, args.max_bad_rows)
    rows = cleaned["frame"]
    summary: Dict[str, Any] = {
        "mode": args.mode,
        "input": args.input,
        "feature_columns": list(FEATURE_COLUMNS),
        "rows": cleaned["rows"],
        "k_range": None,
        "wssse": {},
        "chosen_k": None,
        "min_gain": None,
        "seed": None,
        "scaler": None,
    }
    if args.mode == "TRAINING":
        if cleaned["rows"]["output"] < args.k_max:
            raise InputError(
                f"--input {args.input}: {cleaned['rows']['output']} clean row(s), fewer than "
                f"--k-max {args.k_max}; k-means needs at least one row per cluster"
            )
        scaler_model = scale(rows)
        scaled = scaler_model.transform(rows).select("scaled").cache()
        wssse = wssse_by_k(scaled, args.k_min, args.k_max, args.seed, args.max_iter)
        scaled.unpersist()
        fitted = scaler_model.stages[-1]
        summary.update(
            k_range=[args.k_min, args.k_max],
            wssse={str(k): v for k, v in sorted(wssse.items())},
            chosen_k=choose_k(wssse, args.min_gain),
            min_gain=args.min_gain,
            seed=args.seed,
            scaler={"mean": list(fitted.mean.toArray()), "std": list(fitted.std.toArray())},
        )
        summary["scaler"] = {k: [float(x) for x in v] for k, v in summary["scaler"].items()}
    rows.write.mode("overwrite").parquet(join(args.output, FEATURES_DIR))
    write_json(spark, join(args.output, SUMMARY), summary)
    rows.unpersist()
    return summary


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command line entry point; returns the exit status."""
    args = parse(build_parser(), argv)
    if isinstance(args, int):
        return args

    def body(spark: Any) -> int:
        summary = preprocess(spark, args)
        chosen = f", chosen k={summary['chosen_k']}" if summary["chosen_k"] is not None else ""
        print(f"{PROG}: {args.mode}: {summary['rows']['output']} clean rows -> {args.output}{chosen}")
        return 0

    return run(PROG, args, lambda: check_args(args), body)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
