"""Orchestration: what runs transient EMR work from Step Functions, and what cleans up after it.

``TransientClusterPipeline`` creates a cluster from a ``ClusterSpec``, runs steps on it for every
item of the input's ``modes`` and terminates it, also when anything fails; a
``NestedPipelineStep`` runs a ``ClusterStepsPipeline`` (steps on a given cluster) inside it.
``NotebookPipeline`` runs EMR notebooks in order, one's result feeding the next's parameters.
``S3UploadTrigger`` and ``PipelineSchedule`` start a pipeline on an upload or a schedule;
``PipelineNotifications`` tells a topic how each execution ended. ``EmrClusterSweeper``
terminates the clusters an aborted, timed-out or failed execution left running.
``asl_to_mermaid`` draws a machine. This layer imports only ``spec``, ``foundation`` and
``compute``.
"""

from emr_patterns.orchestration.diagram import asl_to_mermaid
from emr_patterns.orchestration.notebooks import (
    NOTEBOOK_APPLICATIONS,
    NotebookFile,
    NotebookParam,
    NotebookPipeline,
    NotebookRun,
)
from emr_patterns.orchestration.notifications import PipelineNotifications
from emr_patterns.orchestration.pipeline import (
    EXECUTION_ARN_TAG,
    ClusterStepsPipeline,
    NestedPipelineStep,
    PipelineStep,
    TransientClusterPipeline,
)
from emr_patterns.orchestration.sweeper import DEFAULT_TAG_KEY, SWEPT_STATUSES, EmrClusterSweeper
from emr_patterns.orchestration.triggers import PipelineSchedule, S3UploadTrigger

__all__ = [
    "DEFAULT_TAG_KEY",
    "EXECUTION_ARN_TAG",
    "NOTEBOOK_APPLICATIONS",
    "SWEPT_STATUSES",
    "ClusterStepsPipeline",
    "EmrClusterSweeper",
    "NestedPipelineStep",
    "NotebookFile",
    "NotebookParam",
    "NotebookPipeline",
    "NotebookRun",
    "PipelineNotifications",
    "PipelineSchedule",
    "PipelineStep",
    "S3UploadTrigger",
    "TransientClusterPipeline",
    "asl_to_mermaid",
]
