"""Train a binary classifier on prepared census-income data and write the model and its metrics.

Usage (spark-submit entry point; ``--input`` and ``--output`` may be local, ``hdfs://`` or ``s3://``)::

    spark-submit jobs/census_ml/train.py --input s3://bucket/prepared/ --output s3://bucket/runs/r1 \\
        [--label-column label] [--feature-columns age,education-num,...] [--seed 42] \\
        [--validation-fraction 0.2] [--test-fraction 0.2] [--num-trees 50] [--max-depth 6] \\
        [--overwrite]

Input: Parquet, as the DataBrew census-income recipe job writes it: numeric feature columns and a
numeric label that is 0 or 1 (``label``, ``income`` mapped by the recipe). Features are every
numeric column except the label unless ``--feature-columns`` names them. Rows with a null or NaN
feature are left out and counted.

The rows are split at random (``--seed``) into train, validation and test; a random forest
(``RandomForestClassifier``) learns from train, and its area under the ROC curve is measured on
validation and test (``BinaryClassificationEvaluator``, ``areaUnderROC``).

Output (``--output``)::

    model/         the fitted PipelineModel (VectorAssembler + random forest): load it with
                   pyspark.ml.PipelineModel.load and transform prepared rows
    metrics.json   label and feature columns, row counts, validation and test AUC; written last

Files are written through Hadoop's FileSystem, so ``s3://`` (EMRFS) and ``file://`` both work.

Exit status: 0 on success, 2 on bad input (one line on stderr naming the column or the file), 1
otherwise. The job keeps to Python 3.9 and imports only the standard library and pyspark.
"""

import argparse
import json
import os
import sys
import traceback
from typing import Any, Dict, List, Optional, Sequence, Tuple

PROG = "train"
DEFAULT_LABEL_COLUMN = "label"
"""The label the census-income recipe writes (``income`` mapped to 0/1, renamed)."""
EXIT_BAD_INPUT = 2
EXIT_FAILED = 1
_NUMERIC_TYPES = (
    "ByteType",
    "ShortType",
    "IntegerType",
    "LongType",
    "FloatType",
    "DoubleType",
    "DecimalType",
)


class InputError(ValueError):
    """Bad input or arguments: the message names the column, the file or the option."""


def build_parser() -> argparse.ArgumentParser:
    """The command line of the job."""
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Train a random forest on prepared census-income Parquet; write model/ and metrics.json.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        epilog="exit status: 0 success, 2 bad input (one line on stderr), 1 other errors",
    )
    p.add_argument("--input", required=True, help="prepared Parquet (file or directory)")
    p.add_argument("--output", required=True, help="run directory: model/ and metrics.json go here")
    p.add_argument("--label-column", default=DEFAULT_LABEL_COLUMN, help="numeric 0/1 label column")
    p.add_argument(
        "--feature-columns",
        default=None,
        help="comma-separated feature columns (default: every numeric column except the label)",
    )
    p.add_argument("--seed", type=int, default=42, help="seed of the split and of the forest")
    p.add_argument("--validation-fraction", type=float, default=0.2, help="share of rows for validation")
    p.add_argument("--test-fraction", type=float, default=0.2, help="share of rows for test")
    p.add_argument("--num-trees", type=int, default=50, help="trees in the forest")
    p.add_argument("--max-depth", type=int, default=6, help="maximum depth of each tree")
    p.add_argument("--overwrite", action="store_true", help="replace model/ and metrics.json if present")
    p.add_argument("--log-level", default="WARN", type=str.upper, help="Spark's log level")
    return p


def check_arguments(args: argparse.Namespace) -> None:
    """Refuse arguments that cannot make a run (fractions, tree sizes)."""
    for name in ("validation_fraction", "test_fraction"):
        value = getattr(args, name)
        if not 0.0 < value < 1.0:
            option = "--" + name.replace("_", "-")
            raise InputError(f"{option} {value}: give a fraction between 0 and 1")
    if args.validation_fraction + args.test_fraction >= 1.0:
        total = args.validation_fraction + args.test_fraction
        raise InputError(
            f"--validation-fraction + --test-fraction = {total}: leave some rows to train on (sum below 1)"
        )
    if args.num_trees < 1:
        raise InputError(f"--num-trees {args.num_trees}: give at least 1")
    if not 1 <= args.max_depth <= 30:
        raise InputError(f"--max-depth {args.max_depth}: give 1 to 30 (Spark's limit)")


def _type_name(data_type: Any) -> str:
    return type(data_type).__name__


def choose_features(
    fields: Sequence[Tuple[str, str]], label: str, requested: Optional[Sequence[str]] = None
) -> List[str]:
    """The feature columns, from ``(name, Spark type name)`` pairs; raises :class:`InputError`.

    The label must be there and numeric. Named features must exist, be numeric and not be the
    label; by default every numeric column except the label is a feature.
    """
    types = dict(fields)
    names = ", ".join(name for name, _ in fields)
    if label not in types:
        raise InputError(
            f"label column {label!r} is not in the input (columns: {names}); pass --label-column"
        )
    if types[label] not in _NUMERIC_TYPES:
        raise InputError(
            f"label column {label!r} is {types[label]}, not numeric; "
            "map it to 0/1 first (the recipe's CATEGORICAL_MAPPING)"
        )
    if requested:
        missing = [c for c in requested if c not in types]
        if missing:
            raise InputError(f"feature column(s) {', '.join(missing)} not in the input (columns: {names})")
        if label in requested:
            raise InputError(f"feature columns include the label {label!r}; leave it out")
        text = [c for c in requested if types[c] not in _NUMERIC_TYPES]
        if text:
            raise InputError(
                f"feature column(s) {', '.join(text)} not numeric ({', '.join(types[c] for c in text)}); "
                "map or convert them in the recipe first"
            )
        if len(set(requested)) != len(requested):
            raise InputError(f"feature columns name a column twice: {', '.join(requested)}")
        return list(requested)
    features = [name for name, kind in fields if name != label and kind in _NUMERIC_TYPES]
    if not features:
        raise InputError(f"the input has no numeric column besides the label {label!r} to learn from")
    return features


def _jvm_path(spark: Any, uri: str) -> Tuple[Any, Any]:
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(uri)
    return path, path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())


def path_exists(spark: Any, uri: str) -> bool:
    """Whether ``uri`` exists, through Hadoop's FileSystem (EMRFS for ``s3://``)."""
    path, fs = _jvm_path(spark, uri)
    return bool(fs.exists(path))


def write_text(spark: Any, uri: str, text: str) -> None:
    """Write ``text`` (UTF-8) to ``uri`` through Hadoop's FileSystem, replacing a file there."""
    path, fs = _jvm_path(spark, uri)
    stream = fs.create(path, True)
    try:
        stream.write(bytearray(text.encode("utf-8")))
    finally:
        stream.close()


def _join(base: str, name: str) -> str:
    return base.rstrip("/") + "/" + name


def prepare(df: Any, label: str, features: Sequence[str]) -> Tuple[Any, int, int]:
    """Rows usable for training: label checked, rows with a null/NaN feature left out.

    Returns ``(frame, rows in, rows left out)``. Raises :class:`InputError` for an empty input, a
    null label, a label that is not 0/1, or a label with one class only. One Spark job counts
    rows per label value and rows with a complete feature vector.
    """
    from pyspark.sql import functions as sf

    kinds = {f.name: _type_name(f.dataType) for f in df.schema.fields}
    valid = sf.lit(True)
    for name in features:
        column = sf.col(_quote(name))
        ok = column.isNotNull()
        if kinds[name] in ("FloatType", "DoubleType"):
            ok = ok & ~sf.isnan(column)
        valid = valid & ok
    label_value = sf.col(_quote(label)).cast("double")
    per_label = (
        df.select(label_value.alias("v"), valid.cast("int").alias("ok"))
        .groupBy("v")
        .agg(sf.count(sf.lit(1)).alias("n"), sf.sum("ok").alias("ok"))
        .collect()
    )
    total = sum(row["n"] for row in per_label)
    if total == 0:
        raise InputError("the input has no rows")
    counts = {row["v"]: row["n"] for row in per_label}
    nulls = sum(n for v, n in counts.items() if v is None or v != v)
    if nulls:
        raise InputError(
            f"label column {label!r} has {nulls} null value(s) in {total} rows; every row needs a 0/1 "
            "label (an income the recipe did not map leaves a null)"
        )
    other = sorted(v for v in counts if v not in (0.0, 1.0))
    if other:
        raise InputError(f"label column {label!r} has values {other[:5]}; it must be 0 or 1")
    if len(counts) < 2:
        only = next(iter(counts))
        raise InputError(
            f"label column {label!r} has one class only ({only} in all {total} rows); "
            "a classifier needs both 0 and 1"
        )
    used = sum(row["ok"] or 0 for row in per_label)
    if used == 0:
        raise InputError(f"every row has a null or NaN in a feature column ({', '.join(features)})")
    columns = [sf.col(_quote(c)).cast("double").alias(c) for c in features]
    kept = df.where(valid).select(*columns, label_value.alias(label))
    return kept, total, total - used


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _rows_and_classes(df: Any, label: str) -> Tuple[int, int]:
    counts = df.groupBy(_quote(label)).count().collect()
    return sum(row["count"] for row in counts), len(counts)


def train_and_evaluate(
    df: Any,
    label: str,
    features: Sequence[str],
    seed: int,
    validation_fraction: float,
    test_fraction: float,
    num_trees: int,
    max_depth: int,
) -> Tuple[Any, Dict[str, Any]]:
    """Split, fit the pipeline on train, measure AUC on validation and test.

    Returns ``(PipelineModel, metrics)``; raises :class:`InputError` when a split is empty or
    holds one class only (too few rows for the fractions).
    """
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import RandomForestClassifier
    from pyspark.ml.evaluation import BinaryClassificationEvaluator
    from pyspark.ml.feature import VectorAssembler

    train_fraction = 1.0 - validation_fraction - test_fraction
    train, validation, test = df.randomSplit([train_fraction, validation_fraction, test_fraction], seed=seed)
    train, validation, test = train.cache(), validation.cache(), test.cache()
    rows = {}
    for name, part in (("train", train), ("validation", validation), ("test", test)):
        rows[name], classes = _rows_and_classes(part, label)
        if classes < 2:
            raise InputError(
                f"the {name} split has {rows[name]} row(s) and not both classes; "
                "give more rows or change the fractions"
            )
    pipeline = Pipeline(
        stages=[
            VectorAssembler(inputCols=list(features), outputCol="features"),
            RandomForestClassifier(
                featuresCol="features",
                labelCol=label,
                numTrees=num_trees,
                maxDepth=max_depth,
                seed=seed,
            ),
        ]
    )
    model = pipeline.fit(train)
    evaluator = BinaryClassificationEvaluator(
        labelCol=label, rawPredictionCol="rawPrediction", metricName="areaUnderROC"
    )
    auc = {
        "validation": float(evaluator.evaluate(model.transform(validation))),
        "test": float(evaluator.evaluate(model.transform(test))),
    }
    metrics = {
        "metric": "areaUnderROC",
        "validation": {"rows": rows["validation"], "auc": auc["validation"]},
        "test": {"rows": rows["test"], "auc": auc["test"]},
        "train": {"rows": rows["train"]},
    }
    for part in (train, validation, test):
        part.unpersist()
    return model, metrics


def run(spark: Any, args: argparse.Namespace) -> Dict[str, Any]:
    """The job: read, check, train, write ``model/`` then ``metrics.json``; returns the metrics."""
    model_uri = _join(args.output, "model")
    metrics_uri = _join(args.output, "metrics.json")
    if not path_exists(spark, args.input):
        raise InputError(f"--input {args.input} does not exist")
    if not args.overwrite:
        for uri in (model_uri, metrics_uri):
            if path_exists(spark, uri):
                raise InputError(f"{uri} already exists; pass --overwrite to replace it")
    try:
        df = spark.read.parquet(args.input)
    except Exception as exc:
        if "Unable to infer schema" in str(exc):
            raise InputError(f"--input {args.input} holds no Parquet rows (no schema to read)") from exc
        raise
    fields = [(f.name, _type_name(f.dataType)) for f in df.schema.fields]
    requested = None
    if args.feature_columns:
        requested = [c.strip() for c in args.feature_columns.split(",") if c.strip()]
    features = choose_features(fields, args.label_column, requested)
    prepared, total, left_out = prepare(df, args.label_column, features)
    model, metrics = train_and_evaluate(
        prepared,
        args.label_column,
        features,
        args.seed,
        args.validation_fraction,
        args.test_fraction,
        args.num_trees,
        args.max_depth,
    )
    writer = model.write()
    if args.overwrite:
        writer = writer.overwrite()
    writer.save(model_uri)
    metrics = dict(
        metrics,
        input=args.input,
        model=model_uri,
        label_column=args.label_column,
        feature_columns=list(features),
        rows={"input": total, "left_out_null_features": left_out, "used": total - left_out},
        seed=args.seed,
        classifier={
            "type": "RandomForestClassifier",
            "num_trees": args.num_trees,
            "max_depth": args.max_depth,
        },
    )
    write_text(spark, metrics_uri, json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    return metrics


def error(message: str) -> None:
    """``train: error: <message>`` on stderr, the real one also under spark-submit (which merges the
    Python driver's stderr into its stdout): there the JVM's ``System.err`` writes it."""
    line = f"{PROG}: error: {message}"
    if os.environ.get("PYSPARK_GATEWAY_PORT"):
        try:
            from pyspark import SparkContext

            SparkContext._ensure_initialized()
            SparkContext._jvm.java.lang.System.err.println(line)
            return
        except Exception:  # no gateway after all: the Python stderr is the best we have
            pass
    print(line, file=sys.stderr)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the job; 0 on success, 2 on bad input, 1 on any other error."""
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        check_arguments(args)
    except InputError as exc:
        error(str(exc))
        return EXIT_BAD_INPUT
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    created = SparkContext._active_spark_context is None
    spark = SparkSession.builder.appName("census-ml-train").getOrCreate()
    if created:  # a session of the caller's (tests, notebooks) keeps its own level
        spark.sparkContext.setLogLevel(args.log_level)
    try:
        metrics = run(spark, args)
    except InputError as exc:
        error(str(exc))
        return EXIT_BAD_INPUT
    except Exception as exc:
        traceback.print_exc(file=sys.stderr)
        first = str(exc).splitlines()[0] if str(exc) else ""
        error(f"{type(exc).__name__}: {first}")
        return EXIT_FAILED
    validation, test = metrics["validation"], metrics["test"]
    print(
        f"{PROG}: wrote {args.output} (validation AUC {validation['auc']:.4f} on {validation['rows']} rows, "
        f"test AUC {test['auc']:.4f} on {test['rows']} rows)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
