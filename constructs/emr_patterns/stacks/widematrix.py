"""Prebuilt wide-matrix stack (pattern 1): upload a matrix, serve every view from HBase, switch atomically."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from emr_patterns.compute.jobs import WideMatrixJobs
from emr_patterns.errors import raise_if_problems
from emr_patterns.foundation.platform import IEmrPlatform
from emr_patterns.jobs.widematrix import serving as layout
from emr_patterns.orchestration import EmrClusterSweeper, PipelineNotifications
from emr_patterns.patterns.widematrix import DatasetRegistry, HBaseServingCluster, MatrixReadApi
from emr_patterns.patterns.widematrix_pipeline import WideMatrixPipeline
from emr_patterns.spec import ClusterSpec, InstanceFleetSpec
from emr_patterns.stacks.pipelines import _email_problems, _platform

__all__ = ["WideMatrixStack", "widematrix_compute_spec"]


def widematrix_compute_spec(name: str = "widematrix-compute") -> ClusterSpec:
    """The transient cluster of one upload: Spark on Graviton, memory-optimized core nodes (the
    aggregate holds a block of genes x groups per task), auto-termination after 30 idle minutes."""
    return ClusterSpec(
        name=name,
        applications=("Hadoop", "Spark"),
        primary_fleet=InstanceFleetSpec.primary(["m7g.xlarge", "m6g.xlarge"]),
        core_fleet=InstanceFleetSpec.core(["r7g.2xlarge", "r6g.2xlarge"], on_demand_units=2),
        idle_timeout_seconds=1800,
    )


class WideMatrixStack(Stack):
    """Seed pattern 1: a researcher uploads a matrix; minutes later every view of the new version is
    served from HBase, and no reader ever sees a mix of two versions.

    Creates a :class:`~emr_patterns.patterns.widematrix.DatasetRegistry`, a long-running
    :class:`~emr_patterns.patterns.widematrix.HBaseServingCluster` (HBase on S3), the
    :class:`~emr_patterns.patterns.widematrix.MatrixReadApi` (REST, IAM auth, WAF) and a
    :class:`~emr_patterns.patterns.widematrix_pipeline.WideMatrixPipeline` started by uploads to
    ``s3://<raw>/widematrix/uploads/<dataset id>/`` (a ZIP with a matrix and a metadata CSV, an
    ``.h5ad`` or a 10x ``.h5``), with the sweeper watching the transient compute clusters and a
    topic told how every execution ended.

    Args:
        scope: parent construct.
        id: stack id.
        platform: the shared platform, same account and region. Default: a platform of its own.
        group_by: the cell metadata column the views group by. Default ``cell_type``.
        stats: the statistics served. Default: ``serving.DEFAULT_STATS``.
        spec: the transient compute cluster. Default: :func:`widematrix_compute_spec`.
        notification_emails: addresses told how every execution ended. Default: none.
        **kwargs: ``Stack`` props.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        platform: IEmrPlatform | None = None,
        group_by: str = "cell_type",
        stats: Sequence[str] = layout.DEFAULT_STATS,
        spec: ClusterSpec | None = None,
        notification_emails: Sequence[str] = (),
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault(
            "description",
            "cdk-emr-patterns: wide single-cell matrices served from HBase with atomic version switches "
            "(pattern 1)",
        )
        super().__init__(scope, id, **kwargs)
        raise_if_problems(f"WideMatrixStack '{id}'", _email_problems(notification_emails))
        self.platform = platform = _platform(self, id, platform)
        self.registry = DatasetRegistry(self, "Registry", key=platform.key)
        self.serving = HBaseServingCluster(self, "HBase", platform=platform)
        self.api = MatrixReadApi(
            self,
            "ReadApi",
            platform=platform,
            registry=self.registry,
            thrift_host=self.serving.thrift_host,
            hbase_security_group=self.serving.security_group,
        )
        self.jobs = WideMatrixJobs(self, "Jobs", platform=platform)
        self.pipeline = WideMatrixPipeline(
            self,
            "Pipeline",
            platform=platform,
            registry=self.registry,
            serving=self.serving,
            jobs=self.jobs,
            spec=spec or widematrix_compute_spec(),
            group_by=group_by,
            stats=stats,
        )
        self.sweeper = EmrClusterSweeper(
            self, "Sweeper", platform=platform, state_machines=[self.pipeline.compute_pipeline.state_machine]
        )
        self.notifications = PipelineNotifications(
            self, "Notifications", state_machines=[self.pipeline.state_machine], emails=notification_emails
        )
        CfnOutput(self, "StateMachineArn", value=self.pipeline.state_machine_arn, description="The pipeline")
        CfnOutput(self, "ReadApiUrl", value=self.api.url, description="The read API (IAM-signed GET)")
        CfnOutput(
            self,
            "UploadPrefix",
            value=self.pipeline.upload_prefix,
            description="Upload <dataset id>/<matrix file> under this prefix of the platform's raw bucket",
        )
        CfnOutput(
            self,
            "NotificationTopicArn",
            value=self.notifications.topic.topic_arn,
            description="How every execution ended",
        )
