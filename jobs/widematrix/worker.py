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

_done = False


def prepare() -> None:
    """Idempotent; called at the start of each task function."""
    global _done
    if _done:
        return
    _done = True
    if not (3, 10) <= sys.version_info[:2] < (3, 12):
        return
    import zipimport

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

    zipimport.zipimporter.invalidate_caches = invalidate_if_changed  # type: ignore[method-assign]
