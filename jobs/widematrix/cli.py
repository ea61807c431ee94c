"""What both spark-submit entry points share: the help layout, the URI scheme check, the log level
and how errors reach the user (one line on stderr, exit status 2 for bad input, 1 otherwise).

Supported locations: a plain path (the default filesystem: HDFS on EMR, the local disk in local
mode), ``file://``, ``hdfs://`` and S3 as ``s3://`` (the form EMR documents; from EMR 7.10 it is
served by the S3A connector, like ``s3a://`` and ``s3n://``, which are accepted as the same
thing). Anything else (``ftp://``, ``gs://``, ``abfs://``, ``http://`` ...) is refused before
Spark starts, with a one-line message, instead of a Java stack trace from Hadoop.
"""

import argparse
import os
import re
import sys
import traceback
from typing import Any, Callable, Optional

from .errors import InputError

SUPPORTED_SCHEMES = ("file", "hdfs", "s3", "s3a", "s3n")
LOG_LEVELS = ("ALL", "DEBUG", "INFO", "WARN", "ERROR", "FATAL", "OFF", "TRACE")
DEFAULT_LOG_LEVEL = "WARN"
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults after each option's help (not for options without one), epilog kept as written."""

    def _get_help_string(self, action: argparse.Action) -> Optional[str]:
        if action.default is None or action.required:
            return action.help
        return super()._get_help_string(action)


def parser(prog: str, description: str, example: str) -> argparse.ArgumentParser:
    """An ``ArgumentParser`` with the shared help layout and ``--log-level``."""
    p = argparse.ArgumentParser(
        prog=prog,
        description=description,
        formatter_class=HelpFormatter,
        epilog=f"example:\n{example}\n\n"
        "exit status: 0 success, 2 bad input (one line on stderr), 1 other errors",
    )
    p.add_argument(
        "--log-level",
        default=DEFAULT_LOG_LEVEL,
        type=str.upper,
        choices=LOG_LEVELS,
        help="Spark's log level (log4j) for this run",
    )
    return p


def scheme_of(uri: str) -> str:
    """The URI scheme as Hadoop's ``Path`` reads it (``""`` for a plain path)."""
    match = _SCHEME.match(uri)
    return match.group(1).lower() if match else ""


def check_locations(**locations: Optional[str]) -> None:
    """Refuse a location whose scheme the jobs cannot read or write (``--input``, ``--output`` ...)."""
    for option, uri in locations.items():
        if not uri:
            continue
        scheme = scheme_of(uri)
        if scheme and scheme not in SUPPORTED_SCHEMES:
            name = "--" + option.replace("_", "-")
            raise InputError(
                f"{name} {uri}: unsupported URI scheme '{scheme}://'; use s3://bucket/key, hdfs://, "
                "file:// or a plain path (copy the data to S3 first)"
            )


def one_line(exc: BaseException) -> str:
    """A one-line summary of an unexpected error (a Py4J error: the Java exception's own line)."""
    java = getattr(exc, "java_exception", None)
    text = str(java.toString()) if java is not None else f"{type(exc).__name__}: {exc}"
    first = next((line.strip() for line in text.splitlines() if line.strip()), type(exc).__name__)
    return first[:500]


def error(prog: str, message: str) -> None:
    """``<prog>: error: <message>`` on stderr, the real one also under ``spark-submit``.

    spark-submit starts the Python driver with its stderr merged into its stdout
    (``PythonRunner``), so a plain ``print(file=sys.stderr)`` would reach spark-submit's stdout
    (an EMR step's ``stdout`` log). Under spark-submit (a gateway is waiting for us) the line is
    written by the JVM's ``System.err``, which is spark-submit's own stderr.
    """
    line = f"{prog}: error: {message}"
    if os.environ.get("PYSPARK_GATEWAY_PORT"):
        try:
            from pyspark import SparkContext

            SparkContext._ensure_initialized()
            jvm = SparkContext._jvm
            assert jvm is not None
            jvm.java.lang.System.err.println(line)
            return
        except Exception:  # no gateway after all: the Python stderr is the best we have
            pass
    print(line, file=sys.stderr)


def _set_jvm_log_level(level: str) -> None:
    """Under spark-submit, set log4j's root level before the SparkContext starts (its start-up
    logs at INFO before ``spark.log.level`` is applied)."""
    if not os.environ.get("PYSPARK_GATEWAY_PORT"):
        return
    from pyspark import SparkContext

    SparkContext._ensure_initialized()
    jvm = SparkContext._jvm
    assert jvm is not None
    log4j = jvm.org.apache.logging.log4j
    log4j.core.config.Configurator.setRootLevel(log4j.Level.toLevel(level))


def run(prog: str, args: argparse.Namespace, checks: Callable[[], None], body: Callable[[Any], int]) -> int:
    """Check the arguments, start (or reuse) Spark, run ``body(spark)``; errors as exit statuses."""
    try:
        checks()
    except InputError as exc:
        error(prog, str(exc))
        return 2
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName(f"widematrix-{prog.split('.')[0]}")
    created = SparkContext._active_spark_context is None
    if created:  # a session of the caller's (tests, notebooks) keeps its own level
        _set_jvm_log_level(args.log_level)
        builder = builder.config("spark.log.level", args.log_level)
    spark = builder.getOrCreate()
    if created:
        spark.sparkContext.setLogLevel(args.log_level)
    try:
        return body(spark)
    except InputError as exc:
        error(prog, str(exc))
        return 2
    except Exception as exc:
        traceback.print_exc(file=sys.stderr)
        error(prog, one_line(exc))
        return 1
