"""Driver side: run a job's Spark work in one job group, and on failure stop it before cleaning up.

When one task fails, Spark fails the job at once, but its sibling tasks are only asked to stop:
a Python worker goes on until the executor's monitor kills it (``spark.python.task.killTimeout``
after the kill, seconds later), and meanwhile it may finish its part and write its file into the
output's temporary directory, which the driver has just deleted (``ArrowIO.write_parquet``
creates the parent directories again). ``JobGroup.cancel_and_wait`` cancels every job of the
group (``SparkContext.cancelJobGroup``, interrupting the task threads) and waits until the status
tracker shows none of the group's jobs running and none of their stages with an active task, so
the caller's cleanup really is the last write.
"""

import logging
import time
import uuid
from typing import Any, Optional

LOG = logging.getLogger("widematrix.jobgroup")
_GROUP_PROPERTY = "spark.jobGroup.id"
_DESCRIPTION_PROPERTY = "spark.job.description"
_INTERRUPT_PROPERTY = "spark.job.interruptOnCancel"


class JobGroup:
    """``with JobGroup(spark, "widematrix ingest") as group:`` puts every job the current thread
    starts into one group (the previous group, if any, is restored on exit)."""

    def __init__(self, spark: Any, description: str, timeout_s: float = 120.0) -> None:
        self.sc = spark.sparkContext
        self.group_id = f"widematrix-{uuid.uuid4().hex[:12]}"
        self.description = description
        self.timeout_s = timeout_s
        self._saved: Optional[tuple] = None

    def __enter__(self) -> "JobGroup":
        get = self.sc.getLocalProperty
        self._saved = (get(_GROUP_PROPERTY), get(_DESCRIPTION_PROPERTY), get(_INTERRUPT_PROPERTY))
        self.sc.setJobGroup(self.group_id, self.description, interruptOnCancel=True)
        return self

    def __exit__(self, *exc: Any) -> None:
        assert self._saved is not None
        for key, value in zip((_GROUP_PROPERTY, _DESCRIPTION_PROPERTY, _INTERRUPT_PROPERTY), self._saved):  # noqa: B905
            self.sc.setLocalProperty(key, value)

    def busy(self) -> bool:
        """True while a job of the group runs or one of its stages has a task running."""
        tracker = self.sc.statusTracker()
        for job_id in tracker.getJobIdsForGroup(self.group_id):
            job = tracker.getJobInfo(job_id)
            if job is None:
                continue
            if job.status in ("RUNNING", "UNKNOWN"):
                return True
            for stage_id in job.stageIds:
                stage = tracker.getStageInfo(stage_id)
                if stage is not None and stage.numActiveTasks > 0:
                    return True
        return False

    def cancel_and_wait(self) -> None:
        """Cancel the group's jobs and wait (up to ``timeout_s``) until none of their tasks runs."""
        self.sc.cancelJobGroup(self.group_id)
        deadline = time.monotonic() + self.timeout_s
        while self.busy():
            if time.monotonic() > deadline:
                LOG.warning("%s: tasks still running %.0f s after the cancel", self.group_id, self.timeout_s)
                return
            time.sleep(0.1)
