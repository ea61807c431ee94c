"""Once-per-process set-up of the Python workers that run the jobs' tasks.

PySpark's worker calls ``importlib.invalidate_caches()`` before every task. On Python 3.10 and
3.11 that makes every ``zipimport`` importer on ``sys.path`` re-read its whole archive
directory in pure Python (CPython issue 103200, fixed in 3.12; SPARK-54744), and Spark always
puts ``pyspark.zip`` and the py4j zip there: about 0.1 s of CPU per task, more than many of our
tasks compute. ``prepare()`` makes the re-read happen only when the archive actually changed
(size or modification time), which keeps the invalidation's meaning and drops its cost for every
later task the reused worker runs. Python 3.9 (EMR's default) and 3.12+ need nothing.
"""

import os
import sys
from typing import Dict, Tuple

_MARK = "_widematrix_invalidate_if_changed"


def prepare() -> None:
    """Idempotent per process; called at the start of each task function.

    The mark lives on the patched function, not in a module global: a task function shipped by
    value (spark-submit of a single script) brings fresh module globals with every task.
    """
    if not (3, 10) <= sys.version_info[:2] < (3, 12):
        return
    import zipimport

    if getattr(zipimport.zipimporter.invalidate_caches, _MARK, False):
        return
    original = zipimport.zipimporter.invalidate_caches
    seen: Dict[str, Tuple[int, int]] = {}

    def invalidate_if_changed(self: "zipimport.zipimporter") -> None:
        try:
            st = os.stat(self.archive)
            stamp = (st.st_size, st.st_mtime_ns)
        except OSError:
            stamp = (-1, -1)
        if seen.get(self.archive) != stamp:
            seen[self.archive] = stamp
            original(self)

    setattr(invalidate_if_changed, _MARK, True)
    zipimport.zipimporter.invalidate_caches = invalidate_if_changed  # type: ignore[method-assign]


def ship_package(spark: "object") -> None:
    """spark-submit of ``ingest.py``/``aggregate.py`` as a script: zip this package and add it to
    the job's Python path (``SparkContext.addPyFile``), so executors import the task functions'
    modules by name, like any library, without ``--py-files``. When the package itself was
    imported from a zip (``spark-submit --py-files widematrix.zip``), that zip is already on every
    executor's path and nothing is added."""
    import tempfile
    import zipfile

    package_dir = os.path.dirname(os.path.abspath(__file__))
    if not os.path.isdir(package_dir):  # imported from a zip: ``--py-files`` already ships it
        return
    name = os.path.basename(package_dir)
    target = os.path.join(tempfile.mkdtemp(prefix="widematrix-pkg-"), f"{name}.zip")
    # stored, not deflated: compressing costs the driver more time than the bytes saved
    with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as z:
        for entry in sorted(os.listdir(package_dir)):
            if entry.endswith(".py"):
                z.write(os.path.join(package_dir, entry), f"{name}/{entry}")
    spark.sparkContext.addPyFile(target)  # type: ignore[attr-defined]
