"""WarehousePipeline: delimited text in the lake -> Spark on a transient cluster -> Parquet -> Redshift.

The outer state machine (``state_machine``):

1. ``ValidateInput`` - ``source.bucket`` and ``source.key`` (strings) present, else
   ``InvalidInput`` before anything runs (an :class:`~emr_patterns.orchestration.S3UploadTrigger`
   passes them).
2. ``Curate`` - runs the inner :class:`~emr_patterns.orchestration.TransientClusterPipeline`
   (``curate_pipeline``) to its end: a transient cluster runs ``jobs/warehouse/curate.py`` over the
   source, writing Parquet with exactly the table's columns, in order, and a manifest under
   ``s3://<output bucket>/<output prefix><execution>/``, and is terminated whatever happens.
3. The :class:`~emr_patterns.patterns.redshift.RedshiftLoad` states: the manifest's columns
   checked against the table before any SQL, then one ``BatchExecuteStatement`` transaction
   (stage, COPY, merge or replace, drop), polled to its end.
4. ``Succeeded``.

A failure of ``Curate`` fails the execution with ``CurateFailed`` (the inner execution has already
terminated its cluster); a failed load leaves the table as it was (the batch is one transaction).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from emr_patterns._assets import job_file
from emr_patterns._retention import retention_days
from emr_patterns._validation import validate_s3_prefix
from emr_patterns.compute.jobs import assets_read_policy
from emr_patterns.defaults import LOG_GROUP_RETENTION_DAYS
from emr_patterns.errors import problem, raise_if_problems
from emr_patterns.foundation.platform import IEmrPlatform, check_platform
from emr_patterns.orchestration import TransientClusterPipeline
from emr_patterns.orchestration.stages import OuterMachine, example_input, run_pipeline, validate_input
from emr_patterns.patterns.redshift import RedshiftLoad, WarehouseEndpoint
from emr_patterns.spec import ClusterSpec
from emr_patterns.spec.steps import Arg, SparkSubmitStep
from emr_patterns.spec.warehouse import WarehouseTable

__all__ = ["CURATE_MODE", "WarehousePipeline"]

#: The one mode the inner pipeline runs.
CURATE_MODE = "CURATE"
_SOURCE_FIELDS = {"source.bucket": "string", "source.key": "string"}


class WarehousePipeline(Construct):
    """Curate uploaded delimited text into Parquet on a transient cluster, then load it into Redshift.

    Children (stable ids): ``Programs`` (assets: ``curate.py`` and ``sparkfs.py``),
    ``ProgramsReadPolicy`` (the instance role reads those two objects), ``Curate`` (the inner
    :class:`~emr_patterns.orchestration.TransientClusterPipeline`), ``Load`` (the
    :class:`~emr_patterns.patterns.redshift.RedshiftLoad` states), and the outer machine's ``Logs``,
    ``Role``, ``EmrPolicy`` and ``Resource``.

    Args:
        scope: parent construct.
        id: construct id.
        platform: the platform (same account and region).
        warehouse: where to load (``RedshiftWarehouse(...).endpoint`` or
            ``WarehouseEndpoint.existing(...)``). Its copy role is granted read on the output.
        table: the target table; its columns become the job's ``--columns`` and the manifest check.
        spec: the transient cluster (as for ``TransientClusterPipeline``: idle timeout, no
            termination protection).
        output_bucket: where the Parquet and manifests go, a platform data bucket. Default:
            ``platform.data_buckets[2]`` (curated).
        output_prefix: key prefix of the runs, ending in ``/``. Default
            ``warehouse/<table name>/runs/``.
        delimiter: the source's field delimiter. Default ``,``.
        timeout: longest an execution may run. Default 6 hours.
        load_timeout: longest the load may run before it is cancelled. Default 1 hour.
        log_retention_days: days the execution logs are kept. Default
            :data:`~emr_patterns.defaults.LOG_GROUP_RETENTION_DAYS`.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        platform: IEmrPlatform,
        warehouse: WarehouseEndpoint,
        table: WarehouseTable,
        spec: ClusterSpec,
        output_bucket: s3.IBucket | None = None,
        output_prefix: str | None = None,
        delimiter: str = ",",
        timeout: Duration | None = None,
        load_timeout: Duration | None = None,
        log_retention_days: int = LOG_GROUP_RETENTION_DAYS,
    ) -> None:
        super().__init__(scope, id)
        problems = check_platform(self, "platform", platform)
        if not isinstance(table, WarehouseTable):
            problems.append(problem("table", table, "is not a WarehouseTable", "pass WarehouseTable(...)"))
            raise_if_problems(f"WarehousePipeline '{self.node.path}'", problems)
        output_bucket = output_bucket or platform.data_buckets[2]
        output_prefix = output_prefix if output_prefix is not None else f"warehouse/{table.name}/runs/"
        problems += (
            validate_s3_prefix("output_prefix", output_prefix)
            if isinstance(output_prefix, str)
            else [problem("output_prefix", output_prefix, "is not a string", "pass a prefix such as 'runs/'")]
        )
        if not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in "'\"\\\n":
            problems.append(
                problem("delimiter", delimiter, "is not one plain character", "use ',', ';', '|' or '\\t'")
            )
        retention = retention_days("log_retention_days", log_retention_days, problems)
        raise_if_problems(f"WarehousePipeline '{self.node.path}'", problems)
        self.platform, self.table, self.output_bucket, self.output_prefix = (
            platform,
            table,
            output_bucket,
            output_prefix,
        )

        programs = {
            name: s3_assets.Asset(self, f"Program-{name}", path=path)
            for name, path in (
                ("curate", job_file("warehouse", "curate.py")),
                ("sparkfs", job_file("sparkfs.py")),
            )
        }
        assets_read_policy(
            self,
            "ProgramsReadPolicy",
            platform,
            list(programs.values()),
            "Read the curate program and its helper, object by object",
        )
        run_uri = f"s3://{output_bucket.bucket_name}/{output_prefix}{{}}/"
        self.curate_pipeline = TransientClusterPipeline(
            self,
            "Curate",
            platform=platform,
            spec=spec,
            steps=[
                SparkSubmitStep(
                    name="curate",
                    main=programs["curate"].s3_object_url,
                    py_files=(programs["sparkfs"].s3_object_url,),
                    args=(
                        "--input",
                        Arg.format("s3://{}/{}", "$.input.source.bucket", "$.input.source.key"),
                        "--output",
                        Arg.format(run_uri, "$.input.run"),
                        "--columns",
                        table.spark_columns(),
                        "--key",
                        ",".join(table.key or table.column_names),
                        "--delimiter",
                        delimiter,
                    ),
                )
            ],
            input_fields={**_SOURCE_FIELDS, "run": "string"},
            timeout=Duration.hours(4),
            step_timeout=Duration.hours(3),
            log_retention_days=log_retention_days,
        )
        warehouse.grant_copy_from(output_bucket, output_prefix, platform.key)

        self.load = RedshiftLoad(
            self,
            "Load",
            warehouse=warehouse,
            table=table,
            bucket=output_bucket,
            run_prefix=f"{output_prefix}{{run}}/",
            key=platform.key,
            timeout=load_timeout,
        )
        succeeded = sfn.Succeed(self, "Succeeded")
        self.load.end.next(succeeded)
        curate_failed = sfn.Fail(
            self,
            "CurateFailed",
            error="CurateFailed",
            cause_path="$.error.Cause",
        )
        curate = run_pipeline(
            self,
            "Curate-Run",
            self.curate_pipeline.state_machine,
            input={
                "modes": [CURATE_MODE],
                "source.$": "$.source",
                "run.$": "$$.Execution.Name",
            },
            timeout=Duration.hours(4),
            result_path="$.curate",
            comment="Run the curate job on a transient cluster (the inner pipeline ends it).",
        )
        curate.add_catch(curate_failed, errors=["States.ALL"], result_path="$.error")
        curate.next(self.load.start)
        definition = validate_input(
            self, input_fields=_SOURCE_FIELDS, next_state=curate, example=example_input(_SOURCE_FIELDS)
        )
        machine = OuterMachine(
            self,
            platform,
            definition=definition,
            nested=[self.curate_pipeline.state_machine],
            statements=self.load.statements(),
            timeout=timeout or Duration.hours(6),
            retention=retention,
            description=f"Step Functions pipeline {self.node.path}: curate on EMR, load into Redshift",
            policy_description="Run the curate pipeline; load Parquet into Redshift through the Data API",
            comment=f"Curate delimited text into Parquet, then load {table.qualified_name}",
            wildcard_reason=(
                "DescribeStatement and CancelStatement support no resource-level permissions; the "
                "statement is limited to the role's own statements (statement-owner-iam-userid)."
            ),
        )
        self.log_group, self.role, self.policy = machine.log_group, machine.role, machine.policy
        self.state_machine = machine.state_machine
        self.load.acknowledge(machine.policy)

    @property
    def state_machine_arn(self) -> str:
        """ARN of the outer state machine."""
        return self.state_machine.state_machine_arn

    @staticmethod
    def example_input() -> Mapping[str, Any]:
        """An execution input: the object to curate and load."""
        return {"source": {"bucket": "raw-bucket", "key": "covid/us-states.csv"}}
