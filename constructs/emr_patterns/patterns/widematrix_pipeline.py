"""WideMatrixPipeline: an uploaded matrix -> one Spark application -> bulk load -> checked -> switched.

The outer state machine (``state_machine``), started by an upload under
``<upload_prefix><dataset>/`` (:class:`~emr_patterns.orchestration.S3UploadTrigger`):

1. ``ValidateInput`` - ``source.bucket`` and ``source.key`` are strings, else ``InvalidInput``.
2. ``SplitKey``, ``KeyNamesDataset`` - the key must have a segment after the prefix (the dataset
   id), else ``InvalidKey``. ``NameVersion`` - the dataset id is that segment, the version id
   ``v`` + the MD5 of the execution ARN (32 hex digits: new for every execution, so a duplicated
   upload event loads a second version and never writes over the first).
3. ``CheckIds`` - the admin function checks both ids (``InvalidKey`` if the segment is not a
   dataset id). Nothing has been created yet.
4. ``Compute`` - runs the inner :class:`~emr_patterns.orchestration.TransientClusterPipeline`
   (``compute_pipeline``): a transient cluster runs ``jobs/widematrix/pipeline.py`` (ingest,
   aggregate and the HBase export in one Spark application) and is terminated whatever happens.
   A failure ends in ``ComputeFailed``: no table and no registry item exists yet.
5. ``Prepare`` - the admin function reads the export manifest, creates the version's empty tables
   on the HBase cluster and registers the version ``LOADING``; it returns the pointer's revision.
6. ``Load`` - runs the inner :class:`~emr_patterns.orchestration.ClusterStepsPipeline`
   (``load_pipeline``) on the long-running HBase cluster: per view, clear the HFile directory,
   ``hbase importtsv -Dimporttsv.bulk.output`` and ``hbase completebulkload``.
7. ``Validate`` - row and cell counts (and every row's version stamp) against the manifest, then
   ``READY``. ``Switch`` - the registry's transaction: the pointer moves to the new version only if
   it is still at the revision ``Prepare`` read.
8. Any failure of 5-7 goes to ``Abort``: the admin function drops the new version's tables and
   marks it ``FAILED``; the pointer is never touched (and ``Abort`` refuses the active version).
   Then ``LoadFailed``, with the original error and cause. If ``Abort`` itself fails,
   ``AbortFailed``; the scheduled cleanup drops what is left after ``STALE_LOADING_HOURS``.

The admin function (``admin``, ``lambdas/matrix_read/admin.py``) runs in the VPC beside the read
API's function and reaches the HBase Thrift server from its own security group. An hourly
EventBridge rule (``CleanupRule``) calls it with ``{"action": "cleanup"}``: the tables of versions
that are neither active nor loading are dropped once the pointer has not moved for the grace
period (so a reader holding a cached pointer, or a rollback, still finds them).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from typing import Any

from aws_cdk import Duration, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from emr_patterns._retention import retention_days
from emr_patterns._validation import validate_s3_prefix
from emr_patterns.compute.jobs import WideMatrixJobs
from emr_patterns.defaults import LOG_GROUP_RETENTION_DAYS
from emr_patterns.errors import problem, raise_if_problems
from emr_patterns.foundation.functions import PlatformFunction
from emr_patterns.foundation.platform import IEmrPlatform, check_platform
from emr_patterns.jobs.widematrix import serving as layout
from emr_patterns.nag import acknowledge_resource
from emr_patterns.orchestration import ClusterStepsPipeline, S3UploadTrigger, TransientClusterPipeline
from emr_patterns.orchestration._delivery import allow_eventbridge_to_encrypt_queues, dead_letter_queue
from emr_patterns.orchestration._machine import grant_start_execution as start_execution_grant
from emr_patterns.orchestration.stages import (
    OuterMachine,
    escape,
    example_input,
    run_pipeline,
    task,
    validate_input,
)
from emr_patterns.patterns.widematrix import SWITCH_ACTIONS, DatasetRegistry, HBaseServingCluster
from emr_patterns.spec import ClusterSpec
from emr_patterns.spec.steps import Arg, CommandRunnerStep, StepArg

__all__ = ["ADMIN_ACTIONS", "ADMIN_ERRORS", "COMPUTE_MODE", "LOAD_MODE", "WideMatrixPipeline"]

#: The registry actions the admin function needs: the pipeline's, plus a scan for the cleanup.
ADMIN_ACTIONS = (*SWITCH_ACTIONS, "dynamodb:Scan")
#: The errors the admin function raises by name (the machine catches them).
ADMIN_ERRORS = (
    "BadRequest",
    "ManifestError",
    "ValidationFailed",
    "RegistryError",
    "SwitchConflictError",
    "VersionNotReadyError",
    "HBaseUnavailable",
)
#: The one mode of each inner pipeline.
COMPUTE_MODE = "PIPELINE"
LOAD_MODE = "LOAD"
#: Lambda's own transient errors, retried on every invocation.
_LAMBDA_TRANSIENT = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
]
_SOURCE_FIELDS = {"source.bucket": "string", "source.key": "string"}
_ADMIN_TIMEOUT = Duration.minutes(15)
_SENTINELS = {"@TABLE@": "table", "@TSV@": "tsv", "@HFILES@": "hfiles"}
_GROUP_BY = re.compile(r"^[A-Za-z0-9_. -]{1,128}$")


def load_steps(stats: Sequence[str]) -> list[CommandRunnerStep]:
    """The EMR steps that load one version's views, reading the table and directories of each view
    from ``$.input.loads.<view>`` (what the admin function's ``prepare`` returns): clear the HFile
    directory, then the two commands of :func:`serving.bulk_load_commands`, per view."""
    out: list[CommandRunnerStep] = []
    for view in layout.VIEWS:
        base = f"$.input.loads.{view}"
        out.append(
            CommandRunnerStep(
                name=f"{view}-clear",
                args=("hadoop", "fs", "-rm", "-r", "-f", Arg.path(f"{base}.hfiles")),
            )
        )
        commands = layout.bulk_load_commands(view, stats, "@TABLE@", "@TSV@", "@HFILES@")
        for command in commands:
            args: list[StepArg] = []
            for arg in command:
                found = [(s, field) for s, field in _SENTINELS.items() if s in arg]
                if not found:
                    args.append(arg)
                    continue
                sentinel, field = found[0]
                head, tail = arg.split(sentinel)
                args.append(Arg.format(f"{head}{{}}{tail}", f"{base}.{field}"))
            out.append(CommandRunnerStep(name=f"{view}-{command[1]}", args=tuple(args)))
    return out


class WideMatrixPipeline(Construct):
    """An upload -> one Spark application on a transient cluster -> bulk load into a new version's
    HBase tables -> counts checked -> the registry's pointer switched; on failure, the new tables
    dropped and the pointer untouched.

    Children (stable ids): ``Admin`` (the admin function: ``lambdas/matrix_read/admin.py``, in the
    VPC, Thrift to the HBase cluster from its own security group), ``DeadLetterQueue``,
    ``CleanupRule`` (hourly ``{"action": "cleanup"}``), ``Compute`` (the inner
    :class:`~emr_patterns.orchestration.TransientClusterPipeline`), ``Load`` (the inner
    :class:`~emr_patterns.orchestration.ClusterStepsPipeline` on the HBase cluster), ``Trigger``
    (an :class:`~emr_patterns.orchestration.S3UploadTrigger`, unless ``trigger=False``) and the
    outer machine's ``Logs``, ``Role``, ``EmrPolicy`` and ``Resource``.

    Args:
        scope: parent construct.
        id: construct id.
        platform: the platform (same account and region).
        registry: the dataset registry the read API reads.
        serving: the HBase cluster the versions are loaded into.
        jobs: the packaged wide-matrix jobs (``pipeline.py`` runs as the one Spark step); its
            bootstrap action is added to ``spec`` when ``spec`` lacks it.
        spec: the transient compute cluster (as for ``TransientClusterPipeline``: idle timeout,
            no termination protection).
        group_by: the cell metadata column the views group by, e.g. ``cell_type``.
        stats: the statistics to compute and serve. Default: ``serving.DEFAULT_STATS``.
        upload_bucket: where researchers upload, a platform data bucket. Default:
            ``platform.data_buckets[0]`` (raw).
        upload_prefix: uploads are ``<upload_prefix><dataset id>/<file>`` (ZIP with a matrix and
            a metadata CSV, ``.h5ad`` or a 10x ``.h5``: a format that carries the cell metadata).
            Default ``widematrix/uploads/``.
        work_bucket: where each version's dataset, views, export and HFiles go. Default:
            ``platform.data_buckets[1]`` (work).
        work_prefix: key prefix of those, ending in ``/``. Default ``widematrix/versions/``.
        grace_period: how long the pointer must have stayed put before the cleanup drops the
            tables of versions no longer active. Default 24 hours (at least 1 hour).
        trigger: start an execution on every upload. Default True.
        timeout: longest an execution may run. Default 8 hours.
        compute_timeout: longest the Spark application (and its cluster) may run. Default 4 hours.
        load_timeout: longest the bulk load may run. Default 2 hours.
        log_retention_days: days the execution logs are kept. Default
            :data:`~emr_patterns.defaults.LOG_GROUP_RETENTION_DAYS`.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        platform: IEmrPlatform,
        registry: DatasetRegistry,
        serving: HBaseServingCluster,
        jobs: WideMatrixJobs,
        spec: ClusterSpec,
        group_by: str,
        stats: Sequence[str] = layout.DEFAULT_STATS,
        upload_bucket: s3.IBucket | None = None,
        upload_prefix: str = "widematrix/uploads/",
        work_bucket: s3.IBucket | None = None,
        work_prefix: str = "widematrix/versions/",
        grace_period: Duration | None = None,
        trigger: bool = True,
        timeout: Duration | None = None,
        compute_timeout: Duration | None = None,
        load_timeout: Duration | None = None,
        log_retention_days: int = LOG_GROUP_RETENTION_DAYS,
    ) -> None:
        super().__init__(scope, id)
        problems = check_platform(self, "platform", platform)
        hbase = serving
        if not isinstance(registry, DatasetRegistry):
            problems.append(problem("registry", registry, "is not a DatasetRegistry", "pass one"))
        if not isinstance(hbase, HBaseServingCluster):
            problems.append(problem("serving", hbase, "is not an HBaseServingCluster", "pass one"))
        if not isinstance(jobs, WideMatrixJobs):
            problems.append(problem("jobs", jobs, "is not a WideMatrixJobs", "pass WideMatrixJobs(...)"))
        if not isinstance(spec, ClusterSpec):
            problems.append(problem("spec", spec, "is not a ClusterSpec", "pass ClusterSpec(...)"))
        if not isinstance(group_by, str) or not _GROUP_BY.match(group_by):
            problems.append(
                problem(
                    "group_by",
                    group_by,
                    "is not a metadata column name",
                    "use 1-128 letters, digits, spaces, '_', '.' or '-', e.g. 'cell_type'",
                )
            )
        stats = tuple(stats) if isinstance(stats, (list, tuple)) else stats
        if (
            not isinstance(stats, tuple)
            or not stats
            or any(s not in layout.STATS for s in stats)
            or len(set(stats)) != len(stats)
        ):
            problems.append(
                problem(
                    "stats",
                    stats,
                    "is not a list of distinct statistics",
                    f"choose from {', '.join(layout.STATS)}",
                )
            )
        for name, prefix in (("upload_prefix", upload_prefix), ("work_prefix", work_prefix)):
            if not isinstance(prefix, str):
                problems.append(
                    problem(name, prefix, "is not a string", "pass a prefix such as 'widematrix/'")
                )
                continue
            problems += validate_s3_prefix(name, prefix)
            if not prefix.endswith("/") or prefix.startswith("/"):
                problems.append(
                    problem(
                        name, prefix, "must end with '/' and not start with it", "e.g. 'widematrix/uploads/'"
                    )
                )
        grace_period = grace_period or Duration.hours(24)
        if not isinstance(grace_period, Duration) or grace_period.to_seconds() < 3600:
            problems.append(
                problem(
                    "grace_period",
                    grace_period,
                    "is shorter than an hour",
                    "keep old tables at least an hour (readers cache the pointer; rollbacks need them)",
                )
            )
        retention = retention_days("log_retention_days", log_retention_days, problems)
        raise_if_problems(f"WideMatrixPipeline '{self.node.path}'", problems)
        upload_bucket = upload_bucket or platform.data_buckets[0]
        work_bucket = work_bucket or platform.data_buckets[1]
        self.platform, self.registry, self.serving, self.stats = platform, registry, hbase, stats
        self.upload_bucket, self.upload_prefix = upload_bucket, upload_prefix
        self.work_bucket, self.work_prefix = work_bucket, work_prefix
        timeout = timeout or Duration.hours(8)
        compute_timeout = compute_timeout or Duration.hours(4)
        load_timeout = load_timeout or Duration.hours(2)
        stack = Stack.of(self)

        # ---- the admin function ---------------------------------------------------------------
        key = platform.key
        self.dead_letter_queue = dead_letter_queue(
            self,
            key,
            "the cleanup rule's target and the admin function's asynchronous invocations",
            lambda_dead_letter_queue=True,
        )
        allow_eventbridge_to_encrypt_queues(key)
        versions = work_bucket.arn_for_objects(f"{work_prefix}*")
        self.admin = PlatformFunction(
            self,
            "Admin",
            handler="matrix_read",
            module="admin",
            entry="handler",
            custom_resource=False,
            description="Wide-matrix pipeline admin: version tables, counts, registry switch, cleanup",
            vpc=platform.vpc,
            vpc_subnets=platform.vpc_subnets,
            key=key,
            statements=[
                iam.PolicyStatement(actions=list(ADMIN_ACTIONS), resources=[registry.table.table_arn]),
                iam.PolicyStatement(
                    actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
                    resources=[registry.key.key_arn],
                ),
                iam.PolicyStatement(actions=["s3:GetObject"], resources=[versions]),
                iam.PolicyStatement(actions=["kms:Decrypt"], resources=[key.key_arn]),
            ],
            timeout=_ADMIN_TIMEOUT,
            memory_size=1024,
            dead_letter_queue=self.dead_letter_queue,
            invocation="Invoked a few times per upload by the pipeline and once an hour by the cleanup rule",
            environment={
                "REGISTRY_TABLE": registry.table.table_name,
                "HBASE_THRIFT_HOST": hbase.thrift_host,
                "HBASE_THRIFT_PORT": str(hbase.THRIFT_PORT),
                "THRIFT_TIMEOUT_MS": "30000",
                "CLEANUP_GRACE_HOURS": f"{grace_period.to_seconds() / 3600:g}",
                "STALE_LOADING_HOURS": f"{timeout.to_seconds() / 3600 + grace_period.to_seconds() / 3600:g}",
            },
        )
        acknowledge_resource(
            self.admin.policy,
            "AwsSolutions-IAM5",
            versions,
            "The export manifests of the versions, named at run time, under the pipeline's own prefix.",
        )
        admin_sg = self.admin.security_group
        assert admin_sg is not None  # in the VPC
        admin_sg.add_egress_rule(hbase.security_group, ec2.Port.tcp(hbase.THRIFT_PORT), "HBase Thrift")
        hbase.security_group.add_ingress_rule(
            admin_sg, ec2.Port.tcp(hbase.THRIFT_PORT), "Thrift from the wide-matrix pipeline's admin function"
        )
        self.cleanup_rule = events.Rule(
            self,
            "CleanupRule",
            description="Drop the HBase tables of wide-matrix versions past their grace period",
            schedule=events.Schedule.rate(Duration.hours(1)),
            targets=[
                targets.LambdaFunction(
                    self.admin.function,
                    event=events.RuleTargetInput.from_object({"action": "cleanup"}),
                    dead_letter_queue=self.dead_letter_queue,
                    retry_attempts=2,
                    max_event_age=Duration.hours(1),
                )
            ],
        )

        # ---- compute: one Spark application on a transient cluster ----------------------------
        if not any(b.path == jobs.bootstrap_asset.s3_object_url for b in spec.bootstrap_actions):
            spec = dataclasses.replace(
                spec, bootstrap_actions=(*spec.bootstrap_actions, jobs.bootstrap_action())
            )
        run_uri = f"s3://{work_bucket.bucket_name}/{work_prefix}{{}}/{{}}/"
        run_paths = ("$.input.run.dataset", "$.input.run.version")
        self.compute_pipeline = TransientClusterPipeline(
            self,
            "Compute",
            platform=platform,
            spec=spec,
            steps=[
                jobs.submit_step(
                    "pipeline",
                    [
                        "--input",
                        Arg.format("s3://{}/{}", "$.input.source.bucket", "$.input.source.key"),
                        "--dataset",
                        Arg.format(run_uri + "dataset", *run_paths),
                        "--group-by",
                        group_by,
                        "--stats",
                        ",".join(stats),
                        "--output",
                        Arg.format(run_uri + "views", *run_paths),
                        "--export",
                        Arg.format(run_uri + "export", *run_paths),
                        "--version-id",
                        Arg.path("$.input.run.version"),
                    ],
                    name="widematrix-pipeline",
                )
            ],
            input_fields={**_SOURCE_FIELDS, "run.dataset": "string", "run.version": "string"},
            timeout=compute_timeout,
            step_timeout=compute_timeout,
            log_retention_days=log_retention_days,
        )
        # ---- load: bulk load on the HBase cluster ----------------------------------------------
        self.load_pipeline = ClusterStepsPipeline(
            self,
            "Load",
            platform=platform,
            steps=load_steps(stats),
            input_fields={
                f"loads.{view}.{f}": "string" for view in layout.VIEWS for f in _SENTINELS.values()
            },
            timeout=load_timeout,
            step_timeout=load_timeout,
            log_retention_days=log_retention_days,
        )

        # ---- the outer machine -------------------------------------------------------------------
        definition = self._definition(
            stack, work_bucket, work_prefix, upload_prefix, hbase, compute_timeout, load_timeout
        )
        machine = OuterMachine(
            self,
            platform,
            definition=definition,
            nested=[self.compute_pipeline.state_machine, self.load_pipeline.state_machine],
            statements=[
                iam.PolicyStatement(
                    sid="InvokeAdmin",
                    actions=["lambda:InvokeFunction"],
                    resources=[self.admin.function.function_arn],
                )
            ],
            timeout=timeout,
            retention=retention,
            description=f"Step Functions pipeline {self.node.path}: wide matrix to HBase, then switch",
            policy_description="Run the compute and load pipelines; invoke the wide-matrix admin function",
            comment="Upload -> Spark on a transient cluster -> bulk load -> validate -> switch",
            wildcard_reason=None,
        )
        self.log_group, self.role, self.policy = machine.log_group, machine.role, machine.policy
        self.state_machine = machine.state_machine

        self.trigger: S3UploadTrigger | None = None
        if trigger:
            self.trigger = S3UploadTrigger(
                self,
                "Trigger",
                platform=platform,
                state_machine=self.state_machine,
                bucket=upload_bucket,
                prefix=upload_prefix,
            )

    # ---- the graph ----------------------------------------------------------------------------------
    def _admin(self, id: str, payload: dict[str, Any], result_path: str, comment: str) -> sfn.CustomState:
        state = task(
            self,
            id,
            "lambda:invoke",
            {"FunctionName": self.admin.function.function_arn, "Payload": payload},
            _ADMIN_TIMEOUT,
            result_path=result_path,
            result_selector={"value.$": "$.Payload"},
            comment=comment,
        )
        state.add_retry(
            errors=_LAMBDA_TRANSIENT, interval=Duration.seconds(2), max_attempts=3, backoff_rate=2
        )
        return state

    def _definition(
        self,
        stack: Stack,
        work_bucket: s3.IBucket,
        work_prefix: str,
        upload_prefix: str,
        hbase: HBaseServingCluster,
        compute_timeout: Duration,
        load_timeout: Duration,
    ) -> sfn.IChainable:
        ids = {"dataset.$": "$.run.dataset", "version.$": "$.run.version"}
        segments = upload_prefix.count("/")
        invalid_key = sfn.Fail(
            self,
            "InvalidKey",
            error="InvalidKey",
            cause=(
                f"Uploads must be named {upload_prefix}<dataset id>/<file>, the dataset id 1-40 "
                "lower-case letters, digits and inner hyphens. Nothing was created."
            ),
        )
        split = sfn.CustomState(
            self,
            "SplitKey",
            state_json={
                "Type": "Pass",
                "Comment": "The key's segments, to find the dataset id after the prefix.",
                "Parameters": {
                    "parts.$": "States.StringSplit($.source.key, '/')",
                },
                "ResultPath": "$.key",
            },
        )
        count = sfn.CustomState(
            self,
            "CountSegments",
            state_json={
                "Type": "Pass",
                "Parameters": {"parts.$": "$.key.parts", "count.$": "States.ArrayLength($.key.parts)"},
                "ResultPath": "$.key",
            },
        )
        name = sfn.CustomState(
            self,
            "NameVersion",
            state_json={
                "Type": "Pass",
                "Comment": "The dataset id (the segment after the prefix) and a new version id.",
                "Parameters": {
                    "dataset.$": f"States.ArrayGetItem($.key.parts, {segments})",
                    "version.$": "States.Format('v{}', States.Hash($$.Execution.Id, 'MD5'))",
                },
                "ResultPath": "$.run",
            },
        )
        has_dataset = (
            sfn.Choice(self, "KeyNamesDataset", comment="A segment after the prefix names the dataset.")
            .when(sfn.Condition.number_greater_than("$.key.count", segments + 1), name)
            .otherwise(invalid_key)
        )
        check = self._admin(
            "CheckIds",
            {"action": "check", **ids},
            "$.checked",
            "Check the dataset and version ids before anything is created.",
        )
        check.add_catch(invalid_key, errors=["BadRequest"], result_path="$.error")
        compute_failed = sfn.Fail(self, "ComputeFailed", error="ComputeFailed", cause_path="$.error.Cause")
        check_failed = sfn.Fail(self, "CheckFailed", error="CheckFailed", cause_path="$.error.Cause")
        check.add_catch(check_failed, errors=["States.ALL"], result_path="$.error")
        compute = run_pipeline(
            self,
            "Compute-Run",
            self.compute_pipeline.state_machine,
            input={"modes": [COMPUTE_MODE], "source.$": "$.source", "run.$": "$.run"},
            timeout=compute_timeout,
            result_path="$.compute",
            comment="Ingest, aggregate and export on a transient cluster (the inner pipeline ends it).",
        )
        compute.add_catch(compute_failed, errors=["States.ALL"], result_path="$.error")
        export = (
            f"States.Format('s3://{escape(work_bucket.bucket_name)}/{escape(work_prefix)}{{}}/{{}}/export/', "
            "$.run.dataset, $.run.version)"
        )
        prepare = self._admin(
            "Prepare",
            {"action": "prepare", **ids, "export.$": export},
            "$.prepared",
            "Read the export manifest, create the version's empty tables, register it LOADING.",
        )
        load = run_pipeline(
            self,
            "Load-Run",
            self.load_pipeline.state_machine,
            input={
                "ClusterId": hbase.cluster.cluster_id,
                "mode": LOAD_MODE,
                "input": {"loads.$": "$.prepared.value.loads"},
            },
            timeout=load_timeout,
            result_path="$.load",
            comment="ImportTsv bulk output and completebulkload per view, as steps on the HBase cluster.",
        )
        validate = self._admin(
            "Validate",
            {"action": "validate", **ids},
            "$.validated",
            "Row and cell counts and version stamps against the manifest; then READY.",
        )
        switch = self._admin(
            "Switch",
            {"action": "switch", **ids, "expected_revision.$": "$.prepared.value.expected_revision"},
            "$.switched",
            "Move the pointer to the new version if it is still at the revision Prepare read.",
        )
        succeeded = sfn.Succeed(self, "Succeeded")
        abort = self._admin(
            "Abort",
            {"action": "abort", **ids},
            "$.aborted",
            "Drop the new version's tables and mark it FAILED; the pointer is never moved.",
        )
        abort.add_retry(
            errors=["HBaseUnavailable"], interval=Duration.seconds(30), max_attempts=4, backoff_rate=2
        )
        load_failed = sfn.Fail(self, "LoadFailed", error="LoadFailed", cause_path="$.error.Cause")
        abort_failed = sfn.Fail(
            self,
            "AbortFailed",
            error="AbortFailed",
            cause=(
                "The load failed and its tables could not be dropped; the pointer was not moved. The "
                "scheduled cleanup drops them once the version is stale."
            ),
        )
        abort.add_catch(abort_failed, errors=["States.ALL"], result_path="$.abortError")
        abort.next(load_failed)
        for state in (prepare, validate):
            state.add_retry(
                errors=["HBaseUnavailable"], interval=Duration.seconds(30), max_attempts=3, backoff_rate=2
            )
        for state in (prepare, load, validate, switch):
            state.add_catch(abort, errors=["States.ALL"], result_path="$.error")
        split.next(count)
        count.next(has_dataset)
        name.next(check)
        check.next(compute)
        compute.next(prepare)
        prepare.next(load)
        load.next(validate)
        validate.next(switch)
        switch.next(succeeded)
        return validate_input(
            self, input_fields=_SOURCE_FIELDS, next_state=split, example=example_input(_SOURCE_FIELDS)
        )

    # ---- public -------------------------------------------------------------------------------------
    @property
    def state_machine_arn(self) -> str:
        """ARN of the outer state machine."""
        return self.state_machine.state_machine_arn

    def grant_start_execution(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` start executions (e.g. a reload of an existing upload) by a
        customer-managed policy."""
        return start_execution_grant(
            self,
            grantee,
            self.state_machine,
            f"Start executions of the wide-matrix pipeline {self.node.path}",
        )
