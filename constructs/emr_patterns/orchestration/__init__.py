"""Orchestration: Step Functions pipelines on transient EMR clusters."""

from emr_patterns.orchestration.pipeline import EXECUTION_ARN_TAG, PipelineStep, TransientClusterPipeline

__all__ = ["EXECUTION_ARN_TAG", "PipelineStep", "TransientClusterPipeline"]
