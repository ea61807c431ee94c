"""Orchestration: what runs transient EMR work from Step Functions, and what cleans up after it.

``EmrClusterSweeper`` terminates the clusters an aborted, timed-out or failed execution left
running. This layer imports only ``spec``, ``foundation`` and ``compute``.
"""

from emr_patterns.orchestration.sweeper import DEFAULT_TAG_KEY, SWEPT_STATUSES, EmrClusterSweeper

__all__ = ["DEFAULT_TAG_KEY", "SWEPT_STATUSES", "EmrClusterSweeper"]
