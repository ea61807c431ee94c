"""Prebuilt analytics stacks: DataBrew preparation with EMR training, and the lake-to-warehouse load.

* :class:`DataBrewMlStack` (pattern 3) - an upload of census-income CSV to the raw bucket runs
  a :class:`~emr_patterns.patterns.databrew_ml.DataBrewMlPipeline`: the bundled census-income
  recipe (DataBrew) writes Parquet to the curated bucket, a transient cluster trains and evaluates
  a random forest, and the validation and test AUC are published to the stack's topic.
* :class:`DataLakeWarehouseStack` (pattern 6) - an upload of daily COVID-19 case counts per state
  runs a :class:`~emr_patterns.patterns.warehouse.WarehousePipeline`: Spark on a transient cluster
  curates the text into Parquet with the table's columns, and one Data API transaction merges it
  into a table of a Redshift Serverless workgroup (created here, or an existing one).

Both run on the shared platform, with the sweeper watching the machine that creates clusters and
notifications of every ending.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from emr_patterns._validation import validate_s3_prefix
from emr_patterns.errors import problem, raise_if_problems
from emr_patterns.foundation.platform import IEmrPlatform
from emr_patterns.orchestration import EmrClusterSweeper, PipelineNotifications, S3UploadTrigger
from emr_patterns.patterns.databrew import DataBrewPreparation
from emr_patterns.patterns.databrew_ml import DataBrewMlPipeline
from emr_patterns.patterns.redshift import RedshiftWarehouse, WarehouseEndpoint
from emr_patterns.patterns.warehouse import WarehousePipeline
from emr_patterns.spec import ClusterSpec, InstanceFleetSpec
from emr_patterns.spec.databrew import census_income_recipe
from emr_patterns.spec.warehouse import WarehouseTable, covid_state_daily_table
from emr_patterns.stacks.pipelines import _email_problems, _platform

__all__ = ["DataBrewMlStack", "DataLakeWarehouseStack", "analytics_spec"]


def analytics_spec(name: str) -> ClusterSpec:
    """A small Graviton cluster for the bundled jobs: one primary, two core nodes, Spark,
    auto-termination after 30 idle minutes (the net for a stopped execution)."""
    return ClusterSpec(
        name=name,
        applications=("Hadoop", "Spark"),
        primary_fleet=InstanceFleetSpec.primary(["m7g.xlarge", "m6g.xlarge"]),
        core_fleet=InstanceFleetSpec.core(["m7g.2xlarge", "m6g.2xlarge"], on_demand_units=2),
        idle_timeout_seconds=1800,
    )


class DataBrewMlStack(Stack):
    """Census-income CSV uploaded -> DataBrew recipe job -> EMR training -> AUC published.

    Upload the census-income data (the UCI "adult" columns, with a header row) to ``input_key``
    in the platform's raw bucket, or start an execution with ``{}``. The recipe's Parquet lands
    under ``s3://<curated>/databrew/census-income-recipe/``; the model and ``metrics.json`` under
    ``s3://<curated>/ml/census-income-recipe/runs/<execution>/``.

    Args:
        scope: parent construct.
        id: stack id.
        platform: the shared platform, same account and region. Default: a platform of its own.
        spec: the training cluster. Default: :func:`analytics_spec`.
        input_key: the CSV the recipe job reads, in the raw bucket. Default ``census/adult.csv``.
        notification_emails: addresses told the AUC and how every execution ended. Default: none.
        **kwargs: ``Stack`` props.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        platform: IEmrPlatform | None = None,
        spec: ClusterSpec | None = None,
        input_key: str = "census/adult.csv",
        notification_emails: Sequence[str] = (),
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault(
            "description", "cdk-emr-patterns: DataBrew recipe and EMR model training (pattern 3)"
        )
        super().__init__(scope, id, **kwargs)
        raise_if_problems(f"DataBrewMlStack '{id}'", _email_problems(notification_emails))
        self.platform = platform = _platform(self, id, platform)
        self.preparation = DataBrewPreparation(
            self, "Preparation", platform=platform, recipe=census_income_recipe(), input_key=input_key
        )
        self.pipeline = DataBrewMlPipeline(
            self,
            "Pipeline",
            platform=platform,
            preparation=self.preparation,
            spec=spec or analytics_spec("census-ml"),
            notification_emails=notification_emails,
        )
        self.trigger = S3UploadTrigger(
            self,
            "UploadTrigger",
            platform=platform,
            state_machine=self.pipeline.state_machine,
            bucket=platform.data_buckets[0],
            prefix=input_key,
        )
        self.sweeper = EmrClusterSweeper(
            self, "Sweeper", platform=platform, state_machines=[self.pipeline.training_pipeline.state_machine]
        )
        CfnOutput(self, "StateMachineArn", value=self.pipeline.state_machine_arn, description="The pipeline")
        assert self.pipeline.notifications is not None
        CfnOutput(
            self,
            "NotificationTopicArn",
            value=self.pipeline.notifications.topic.topic_arn,
            description="The AUC of every run, and how every execution ended",
        )
        CfnOutput(
            self, "InputKey", value=input_key, description="Upload the census CSV here in the raw bucket"
        )


class DataLakeWarehouseStack(Stack):
    """Delimited text uploaded -> Spark on a transient cluster -> Parquet -> Redshift (one transaction).

    Upload daily case counts (``date,state,fips,cases,deaths`` with a header row, ``.csv`` or
    ``.csv.gz``) below ``upload_prefix`` in the platform's raw bucket, or start an execution with
    ``{"source": {"bucket": "...", "key": "..."}}``. The rows are merged into ``table`` by its key.

    Args:
        scope: parent construct.
        id: stack id.
        platform: the shared platform, same account and region. Default: a platform of its own
            (in three zones). A new warehouse needs the platform's private subnets in three zones
            (``NetworkOptions(max_azs=3)``).
        warehouse: an existing workgroup (``WarehouseEndpoint.existing(...)``). Default: a new
            :class:`~emr_patterns.patterns.redshift.RedshiftWarehouse` (``Warehouse``).
        table: the target table. Default: :func:`~emr_patterns.spec.warehouse.covid_state_daily_table`.
        spec: the curate cluster. Default: :func:`analytics_spec`.
        upload_prefix: key prefix in the raw bucket whose uploads start a run. Default ``covid/daily/``.
        notification_emails: addresses told how every execution ended. Default: none.
        **kwargs: ``Stack`` props.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        platform: IEmrPlatform | None = None,
        warehouse: WarehouseEndpoint | None = None,
        table: WarehouseTable | None = None,
        spec: ClusterSpec | None = None,
        upload_prefix: str = "covid/daily/",
        notification_emails: Sequence[str] = (),
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault(
            "description", "cdk-emr-patterns: Spark to Parquet to Redshift Serverless (pattern 6)"
        )
        super().__init__(scope, id, **kwargs)
        problems = _email_problems(notification_emails)
        problems += (
            validate_s3_prefix("upload_prefix", upload_prefix)
            if isinstance(upload_prefix, str)
            else [problem("upload_prefix", upload_prefix, "is not a string", "pass a prefix such as 'runs/'")]
        )
        raise_if_problems(f"DataLakeWarehouseStack '{id}'", problems)
        if platform is None:
            from emr_patterns.foundation.options import NetworkOptions
            from emr_patterns.foundation.platform import EmrPlatform

            platform = EmrPlatform(self, "Platform", network=NetworkOptions(max_azs=3))
        self.platform = platform
        self.warehouse: RedshiftWarehouse | None = None
        if warehouse is None:
            self.warehouse = RedshiftWarehouse(self, "Warehouse", platform=platform)
            warehouse = self.warehouse.endpoint
        self.table = table or covid_state_daily_table()
        self.pipeline = WarehousePipeline(
            self,
            "Pipeline",
            platform=platform,
            warehouse=warehouse,
            table=self.table,
            spec=spec or analytics_spec("warehouse-curate"),
        )
        self.trigger = S3UploadTrigger(
            self,
            "UploadTrigger",
            platform=platform,
            state_machine=self.pipeline.state_machine,
            bucket=platform.data_buckets[0],
            prefix=upload_prefix,
        )
        self.sweeper = EmrClusterSweeper(
            self, "Sweeper", platform=platform, state_machines=[self.pipeline.curate_pipeline.state_machine]
        )
        self.notifications = PipelineNotifications(
            self,
            "Notifications",
            state_machines=[self.pipeline.state_machine, self.pipeline.curate_pipeline.state_machine],
            emails=notification_emails,
        )
        CfnOutput(self, "StateMachineArn", value=self.pipeline.state_machine_arn, description="The pipeline")
        CfnOutput(
            self,
            "NotificationTopicArn",
            value=self.notifications.topic.topic_arn,
            description="How runs ended",
        )
        CfnOutput(self, "WorkgroupName", value=warehouse.workgroup_name, description="The Redshift workgroup")
        CfnOutput(
            self, "Table", value=self.table.qualified_name, description="The table each upload merges into"
        )
        CfnOutput(
            self, "UploadPrefix", value=upload_prefix, description="Upload case counts below this prefix"
        )
