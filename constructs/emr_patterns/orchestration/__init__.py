"""Orchestration: what runs transient EMR work from Step Functions, and what cleans up after it.

``TransientClusterPipeline`` creates a cluster from a ``ClusterSpec``, runs steps on it for every
item of the input's ``modes`` and terminates it, also when anything fails; a
``NestedPipelineStep`` runs a ``ClusterStepsPipeline`` (steps on a given cluster) inside it.
``NotebookPipeline`` runs EMR notebooks in order, one's result feeding the next's parameters.
``EmrClusterSweeper`` terminates the clusters an aborted, timed-out or failed execution left
running. This layer imports only ``spec``, ``foundation`` and ``compute``.
"""

from emr_patterns.orchestration.notebooks import (
    NOTEBOOK_APPLICATIONS,
    NotebookFile,
    NotebookParam,
    NotebookPipeline,
    NotebookRun,
)
from emr_patterns.orchestration.pipeline import (
    EXECUTION_ARN_TAG,
    ClusterStepsPipeline,
    NestedPipelineStep,
    PipelineStep,
    TransientClusterPipeline,
)
from emr_patterns.orchestration.sweeper import DEFAULT_TAG_KEY, SWEPT_STATUSES, EmrClusterSweeper

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
    "PipelineStep",
    "TransientClusterPipeline",
]
