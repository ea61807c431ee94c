"""Prebuilt CDC stack: RDS MySQL -> DMS -> S3 -> Hudi on transient EMR, on the shared platform."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from emr_patterns.errors import raise_if_problems
from emr_patterns.foundation.platform import IEmrPlatform
from emr_patterns.patterns.cdc_hudi import DmsToS3, HudiCdcIngest, MySqlCdcSource
from emr_patterns.spec import ClusterSpec
from emr_patterns.spec.hudi import HudiCdcTable
from emr_patterns.stacks.pipelines import _email_problems, _platform, _watch

__all__ = ["CdcHudiStack", "example_tables"]


def example_tables() -> tuple[HudiCdcTable, ...]:
    """The stack's default allowlist: ``shop.orders``, partitioned by region, synced to Glue."""
    return (
        HudiCdcTable(
            source_database="shop",
            source_table="orders",
            columns=("order_id", "customer", "status", "amount", "updated_at", "region"),
            record_key=("order_id",),
            partition_fields=("region",),
            target_database="shop_lake",
        ),
    )


class CdcHudiStack(Stack):
    """A MySQL database replicated by DMS into Hudi tables, ingested every hour on transient EMR.

    Creates a :class:`~emr_patterns.patterns.cdc_hudi.MySqlCdcSource` (a new private RDS MySQL
    with the CDC binlog settings and the DMS user), :class:`~emr_patterns.patterns.cdc_hudi.DmsToS3`
    (full load and CDC of ``tables`` to ``s3://<raw>/dms/``) and
    :class:`~emr_patterns.patterns.cdc_hudi.HudiCdcIngest` (HoodieStreamer and reconciliation into
    ``s3://<curated>/hudi/``, Glue sync), with the sweeper and notifications of every run.

    Args:
        scope: parent construct.
        id: stack id.
        platform: the shared platform. Default: a platform of its own.
        tables: the allowlist. Default :func:`example_tables`.
        schedule: when to ingest. Default ``rate(1 hour)``.
        spec: the transient cluster. Default: ``cdc_cluster_spec()``.
        create_dms_service_roles: create ``dms-vpc-role`` and ``dms-cloudwatch-logs-role``
            (once per account; False when they exist). Default True.
        multi_az: Multi-AZ database and replication instance. Default True.
        notification_emails: addresses told how every run ended. Default: none.
        **kwargs: ``Stack`` props.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        platform: IEmrPlatform | None = None,
        tables: Sequence[HudiCdcTable] | None = None,
        schedule: str = "rate(1 hour)",
        spec: ClusterSpec | None = None,
        create_dms_service_roles: bool = True,
        multi_az: bool = True,
        notification_emails: Sequence[str] = (),
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("description", "cdk-emr-patterns: RDS MySQL -> DMS -> Hudi on EMR (pattern 8)")
        super().__init__(scope, id, **kwargs)
        raise_if_problems(f"CdcHudiStack '{id}'", _email_problems(notification_emails))
        self.platform = platform = _platform(self, id, platform)
        tables = tuple(tables) if tables is not None else example_tables()
        databases = sorted({t.source_database for t in tables}) if tables else ["shop"]
        self.source = MySqlCdcSource(
            self, "Source", platform=platform, databases=databases, multi_az=multi_az
        )
        self.dms = DmsToS3(
            self,
            "Dms",
            platform=platform,
            source=self.source,
            tables=tables,
            multi_az=multi_az,
            create_service_roles=create_dms_service_roles,
        )
        self.ingest = HudiCdcIngest(
            self,
            "Ingest",
            platform=platform,
            tables=tables,
            dms=self.dms,
            source=self.source,
            schedule=schedule,
            spec=spec,
        )
        self.sweeper, self.notifications = _watch(
            self, platform, self.ingest.pipeline.state_machine, notification_emails
        )
        CfnOutput(
            self,
            "DatabaseEndpoint",
            value=self.source.database.endpoint_address,
            description="The MySQL endpoint (TLS required)",
        )
        CfnOutput(
            self,
            "DatabaseSecretArn",
            value=self.source.database.secret.secret_arn,
            description="The admin credentials",
        )
        CfnOutput(
            self, "ReplicationTaskArn", value=self.dms.task_arn, description="Start it to begin the full load"
        )
