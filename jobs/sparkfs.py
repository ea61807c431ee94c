"""Files through Hadoop's FileSystem from PySpark: ``s3://`` (EMRFS) on a cluster, ``file://`` here.

Shipped beside the jobs that use it (``spark-submit --py-files .../sparkfs.py``); standard library
and pyspark only, Python 3.9 compatible.
"""

from typing import Any, Tuple

__all__ = ["join", "path_exists", "read_text", "write_text"]


def _path(spark: Any, uri: str) -> Tuple[Any, Any]:
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(uri)
    return path, path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())


def join(base: str, name: str) -> str:
    """``base`` and ``name`` joined by one ``/``."""
    return base.rstrip("/") + "/" + name


def path_exists(spark: Any, uri: str) -> bool:
    """Whether a file or directory exists at ``uri``."""
    path, fs = _path(spark, uri)
    return bool(fs.exists(path))


def write_text(spark: Any, uri: str, text: str) -> None:
    """Write ``text`` (UTF-8) to the file ``uri``, replacing one there."""
    path, fs = _path(spark, uri)
    stream = fs.create(path, True)
    try:
        stream.write(bytearray(text.encode("utf-8")))
    finally:
        stream.close()


def read_text(spark: Any, uri: str) -> str:
    """The file ``uri`` as UTF-8 text."""
    path, fs = _path(spark, uri)
    stream = fs.open(path)
    try:
        jvm = spark.sparkContext._jvm
        return str(jvm.org.apache.commons.io.IOUtils.toString(stream, "UTF-8"))
    finally:
        stream.close()
