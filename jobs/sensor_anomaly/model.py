"""Sensor anomaly detection, program 2 of 2: k-means model, training and scoring.

Input (``--input``): the output folder of ``preprocess.py`` (``features/`` Parquet and
``summary.json``).

``--mode TRAINING``
    Fits a pipeline (assemble the four measurements, scale them to mean 0 and standard deviation 1,
    k-means with the k that ``preprocess.py`` chose, or ``--k``) on the input, and measures each
    reading's distance to its cluster centre (Euclidean, in scaled units). The anomaly threshold
    is the ``--threshold-percentile`` percentile (default 99) of those distances. Saves the
    pipeline under ``--model-location``/``pipeline/`` and then ``model.json`` beside it (k,
    threshold, percentile, feature columns, training rows, centres, WSSSE); ``model.json`` is
    written last, so a half-saved model is never used.
``--mode SCORING``
    Loads the saved model (an error when there is none: run TRAINING first) and scores the input
    with the training data's scaling, centres and threshold.

Both modes flag a reading as an anomaly when its distance is above the threshold, and write
under ``--output``:

* ``anomalies/``: Parquet, the flagged readings: the six input columns, ``cluster`` (int) and
  ``distance`` (double).
* ``metrics.json``: ``mode``, ``input``, ``model_location``, ``k``, ``threshold``,
  ``threshold_percentile``, ``rows``, ``anomalies``, ``anomaly_rate``, ``max_distance``,
  ``clusters`` (per cluster: ``cluster``, ``rows``, ``anomalies``, ``mean_distance``).

Outputs and the saved model are replaced when they exist. Exit status: 0 success, 2 bad input or
arguments (one line on stderr: ``model.py: error: ...``), 1 other errors.

This file is self-contained (standard library and pyspark only) so spark-submit can run it on
its own: ``spark-submit --deploy-mode cluster s3://bucket/code/model.py --mode SCORING ...``.
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

PROG = "model.py"
FEATURES_DIR = "features"
SUMMARY = "summary.json"
PIPELINE_DIR = "pipeline"
MODEL_JSON = "model.json"
ANOMALIES_DIR = "anomalies"
METRICS = "metrics.json"
#: Relative error of the distance percentile (``approxQuantile``): one row in ten thousand.
QUANTILE_ERROR = 1e-4


def load_prepared(spark: Any, uri: str) -> Dict[str, Any]:
    """``preprocess.py``'s summary and clean rows, or an ``InputError`` saying what is missing."""
    summary_uri = join(uri, SUMMARY)
    if not exists(spark, summary_uri):
        raise InputError(f"--input {uri}: no {SUMMARY}; point --input at the --output of preprocess.py")
    summary = read_json(spark, summary_uri)
    if summary.get("feature_columns") != list(FEATURE_COLUMNS):
        raise InputError(
            f"--input {uri}: feature columns {summary.get('feature_columns')} are not "
            f"{list(FEATURE_COLUMNS)}; rerun preprocess.py"
        )
    features_uri = join(uri, FEATURES_DIR)
    if not exists(spark, features_uri):
        raise InputError(f"--input {uri}: no {FEATURES_DIR}/ folder; rerun preprocess.py")
    frame = spark.read.parquet(features_uri)
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(f"--input {features_uri}: missing column(s) {', '.join(missing)}")
    return {"summary": summary, "frame": frame.select(*COLUMNS)}


def fit(frame: Any, k: int, seed: int, max_iter: int) -> Any:
    """The pipeline: measurements -> vector -> scaled (mean 0, standard deviation 1) -> k-means."""
    from pyspark.ml import Pipeline
    from pyspark.ml.clustering import KMeans
    from pyspark.ml.feature import StandardScaler, VectorAssembler

    return Pipeline(
        stages=[
            VectorAssembler(inputCols=list(FEATURE_COLUMNS), outputCol="features"),
            StandardScaler(inputCol="features", outputCol="scaled", withMean=True, withStd=True),
            KMeans(k=k, seed=seed, maxIter=max_iter, featuresCol="scaled", predictionCol="cluster"),
        ]
    ).fit(frame)


def centres(model: Any) -> List[List[float]]:
    """The k-means cluster centres, in scaled units."""
    return [[float(x) for x in centre] for centre in model.stages[-1].clusterCenters()]


def with_distance(model: Any, frame: Any) -> Any:
    """The input columns plus ``cluster`` and ``distance`` (to the cluster's centre, scaled units).

    Computed with Spark SQL functions on the JVM: no Python worker touches the rows."""
    from pyspark.ml.functions import vector_to_array

    table = F.array(*[F.array(*[F.lit(x) for x in centre]) for centre in centres(model)])
    point = vector_to_array(F.col("scaled"))
    centre = F.element_at(table, F.col("cluster") + 1)
    squares = F.zip_with(point, centre, lambda a, b: (a - b) * (a - b))
    distance = F.sqrt(F.aggregate(squares, F.lit(0.0), lambda total, x: total + x))
    return model.transform(frame).select(
        *COLUMNS, F.col("cluster").cast("int").alias("cluster"), distance.alias("distance")
    )


def metrics(scored: Any, threshold: float) -> Dict[str, Any]:
    """Row and anomaly counts, overall and per cluster."""
    flagged = (F.col("distance") > F.lit(threshold)).cast("int")
    per_cluster = (
        scored.groupBy("cluster")
        .agg(
            F.count(F.lit(1)).alias("rows"),
            F.sum(flagged).alias("anomalies"),
            F.avg("distance").alias("mean_distance"),
            F.max("distance").alias("max_distance"),
        )
        .orderBy("cluster")
        .collect()
    )
    rows = sum(r["rows"] for r in per_cluster)
    anomalies = sum(r["anomalies"] for r in per_cluster)
    return {
        "rows": rows,
        "anomalies": anomalies,
        "anomaly_rate": anomalies / rows if rows else 0.0,
        "max_distance": max((float(r["max_distance"]) for r in per_cluster), default=0.0),
        "clusters": [
            {
                "cluster": int(r["cluster"]),
                "rows": int(r["rows"]),
                "anomalies": int(r["anomalies"]),
                "mean_distance": float(r["mean_distance"]),
            }
            for r in per_cluster
        ],
    }


def train(spark: Any, args: Any, prepared: Dict[str, Any]) -> Dict[str, Any]:
    """Fit, set the threshold, save the model; the saved model's description."""
    summary = prepared["summary"]
    k = args.k if args.k is not None else summary.get("chosen_k")
    if k is None:
        raise InputError(
            f"--input {args.input}: no chosen k in {SUMMARY} (preprocess.py ran with --mode "
            f"{summary.get('mode')}); run preprocess.py --mode TRAINING first, or pass --k"
        )
    frame = prepared["frame"].cache()
    rows = frame.count()
    if rows < k:
        raise InputError(f"--input {args.input}: {rows} row(s), fewer than k={k} clusters")
    model = fit(frame, int(k), args.seed, args.max_iter)
    scored = with_distance(model, frame)
    (threshold,) = scored.approxQuantile("distance", [args.threshold_percentile / 100.0], QUANTILE_ERROR)
    model.write().overwrite().save(join(args.model_location, PIPELINE_DIR))
    description = {
        "k": int(k),
        "threshold": float(threshold),
        "threshold_percentile": args.threshold_percentile,
        "feature_columns": list(FEATURE_COLUMNS),
        "training_rows": rows,
        "training_input": args.input,
        "wssse": float(model.stages[-1].summary.trainingCost),
        "centres": centres(model),
        "seed": args.seed,
    }
    write_json(spark, join(args.model_location, MODEL_JSON), description)
    return {"model": model, "description": description, "frame": frame}


def load_model(spark: Any, location: str) -> Dict[str, Any]:
    """The saved pipeline and its description, or an ``InputError`` saying to train first."""
    from pyspark.ml import PipelineModel

    description_uri = join(location, MODEL_JSON)
    if not exists(spark, description_uri):
        raise InputError(
            f"--model-location {location}: no trained model ({MODEL_JSON} not found); "
            "run model.py --mode TRAINING first"
        )
    description = read_json(spark, description_uri)
    if description.get("feature_columns") != list(FEATURE_COLUMNS):
        raise InputError(
            f"--model-location {location}: the model was trained on {description.get('feature_columns')}, "
            f"not {list(FEATURE_COLUMNS)}; run model.py --mode TRAINING again"
        )
    return {"model": PipelineModel.load(join(location, PIPELINE_DIR)), "description": description}


def model_run(spark: Any, args: Any) -> Dict[str, Any]:
    """Run the program's work; return the metrics it wrote."""
    prepared = load_prepared(spark, args.input)
    if args.mode == "TRAINING":
        trained = train(spark, args, prepared)
        frame = trained["frame"]
    else:
        trained = load_model(spark, args.model_location)
        frame = prepared["frame"].cache()
    description = trained["description"]
    threshold = description["threshold"]
    scored = with_distance(trained["model"], frame).cache()
    result = {
        "mode": args.mode,
        "input": args.input,
        "model_location": args.model_location,
        "k": description["k"],
        "threshold": threshold,
        "threshold_percentile": description["threshold_percentile"],
        **metrics(scored, threshold),
    }
    anomalies = scored.filter(scored["distance"] > threshold).orderBy(scored["distance"].desc())
    anomalies.write.mode("overwrite").parquet(join(args.output, ANOMALIES_DIR))
    write_json(spark, join(args.output, METRICS), result)
    scored.unpersist()
    frame.unpersist()
    return result


def percentile(text: str) -> float:
    value = float(text)
    if not 0.0 < value < 100.0:
        raise argparse.ArgumentTypeError(f"{text} is not between 0 and 100 (exclusive)")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = parser(
        PROG,
        "Fit (TRAINING) or apply (SCORING) the k-means anomaly model to preprocess.py's output.",
        "  spark-submit model.py --mode SCORING --input s3://bucket/work/SCORING/preprocess/ \\\n"
        "      --model-location s3://bucket/models/sensors/ --output s3://bucket/work/SCORING/model/",
    )
    p.add_argument("--input", required=True, help="the --output folder of preprocess.py")
    p.add_argument("--model-location", required=True, help="folder of the saved model (written by TRAINING)")
    p.add_argument("--output", required=True, help="folder for anomalies/ and metrics.json")
    p.add_argument(
        "--threshold-percentile",
        type=percentile,
        default=99.0,
        help="TRAINING: distance percentile above which a reading is an anomaly (default 99)",
    )
    p.add_argument("--k", type=int, default=None, help="TRAINING: clusters (default: preprocess.py's choice)")
    p.add_argument("--seed", type=int, default=42, help="TRAINING: k-means random start value (default 42)")
    p.add_argument("--max-iter", type=int, default=20, help="TRAINING: k-means iterations (default 20)")
    return p


def check_args(args: Any) -> None:
    problems = []
    if args.k is not None and args.k < 2:
        problems.append(f"--k {args.k} must be at least 2")
    if args.max_iter < 1:
        problems.append(f"--max-iter {args.max_iter} must be at least 1")
    if problems:
        raise InputError("; ".join(problems))
    for option in ("input", "model_location", "output"):
        check_location("--" + option.replace("_", "-"), getattr(args, option))


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command line entry point; returns the exit status."""
    args = parse(build_parser(), argv)
    if isinstance(args, int):
        return args

    def body(spark: Any) -> int:
        result = model_run(spark, args)
        print(
            f"{PROG}: {args.mode}: {result['anomalies']} anomalies in {result['rows']} rows "
            f"(k={result['k']}, threshold {result['threshold']:.4f}) -> {args.output}"
        )
        return 0

    return run(PROG, args, lambda: check_args(args), body)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
