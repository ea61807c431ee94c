"""Orchestration: what runs transient EMR work from Step Functions, and what cleans up after it.

``TransientClusterPipeline`` creates a cluster from a ``ClusterSpec``, runs steps on it for every
item of the input's ``modes`` and terminates it, also when anything fails. ``EmrClusterSweeper``
terminates the clusters an aborted, timed-out or failed execution left running. This layer
imports only ``spec``, ``foundation`` and ``compute``.
"""

from emr_patterns.orchestration.pipeline import EXECUTION_ARN_TAG, PipelineStep, TransientClusterPipeline
from emr_patterns.orchestration.sweeper import DEFAULT_TAG_KEY, SWEPT_STATUSES, EmrClusterSweeper

__all__ = [
    "DEFAULT_TAG_KEY",
    "EXECUTION_ARN_TAG",
    "SWEPT_STATUSES",
    "EmrClusterSweeper",
    "PipelineStep",
    "TransientClusterPipeline",
]
