"""NotebookPipeline: EMR notebooks run one after another by a Step Functions state machine.

Each notebook is started with ``StartNotebookExecution`` (the notebook file in S3, its
parameters as a JSON string, the output notebook written to the platform's work bucket), then
polled with ``DescribeNotebookExecution`` in a Wait/Choice loop until it finishes. A notebook may
write a small result JSON to the ``RESULT_URI`` it is given; the machine reads it and can pass
its values to later notebooks' parameters. The notebooks run on a transient cluster created from
a :class:`~emr_patterns.spec.ClusterSpec` (terminated whatever happens) or on an existing cluster.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aws_cdk import Duration, Stack, Tags
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from emr_patterns import _perms
from emr_patterns._iam import ManagedGrantsRole
from emr_patterns._retention import retention_days
from emr_patterns._tokens import is_unresolved
from emr_patterns.defaults import EMR_MANAGED_POLICY_TAG, LOG_GROUP_RETENTION_DAYS
from emr_patterns.errors import problem, raise_if_problems
from emr_patterns.foundation.platform import IEmrPlatform, check_platform
from emr_patterns.nag import acknowledge, acknowledge_resource
from emr_patterns.orchestration._machine import (
    EXECUTION_ARN_TAG,
    FIELD_RE,
    ClusterLifecycle,
    PipelineMachine,
    escape,
    example_input,
    input_fields_problems,
    task,
    validate_input,
)
from emr_patterns.orchestration._machine import (
    grant_start_execution as start_execution_grant,
)
from emr_patterns.orchestration.pipeline import _spec_problems
from emr_patterns.spec import ClusterSpec

__all__ = [
    "NOTEBOOK_APPLICATIONS",
    "NotebookFile",
    "NotebookParam",
    "NotebookPipeline",
    "NotebookRun",
]

#: Applications a cluster must run for notebook executions (EMR 6.2.0 and later).
NOTEBOOK_APPLICATIONS = ("Hadoop", "Spark", "Livy", "JupyterEnterpriseGateway")
#: The port the notebook service reaches the primary node's Jupyter Enterprise Gateway on.
NOTEBOOK_ENGINE_PORT = 18888
#: Statuses of a notebook execution that end it, and which of them are failures.
_FAILED_STATUSES = ("FAILED", "STOPPED")

_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,39}$")
_PARAM_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_ENV_RE = re.compile(r"^(KERNEL_[A-Za-z0-9_]{1,249}|LOG_CONTEXT)$")
_NOTEBOOK_PARAMS_MAX = 10280


@dataclass(frozen=True)
class NotebookFile:
    """A notebook file of this app (``.ipynb``), published as a content-hashed CDK asset."""

    path: str
    """Local path of the ``.ipynb`` file."""


@dataclass(frozen=True)
class NotebookParam:
    """A notebook parameter whose value is known only when the pipeline runs.

    Build it with :meth:`from_input`, :meth:`from_result` or :meth:`execution_name`; anything
    else in ``NotebookRun.parameters`` is passed as the literal JSON value it is.
    """

    source: str
    """``"input"``, ``"result"`` or ``"execution_name"``."""
    field: str = ""
    """The input field, or the result field (dotted for nested objects)."""
    notebook: str | None = None
    """For ``"result"``: the notebook whose result is read; None for the previous notebook."""
    date_only: bool = False
    """For ``"input"``: pass only the part before ``T`` (``2026-12-01T09:00:00Z`` -> ``2026-12-01``),
    e.g. for a schedule's ``<aws.scheduler.scheduled-time>``."""

    @classmethod
    def from_input(cls, field: str, *, date_only: bool = False) -> NotebookParam:
        """The execution input's ``field`` (declared in ``input_fields``, so it is checked first)."""
        return cls("input", field, date_only=date_only)

    @classmethod
    def from_result(cls, field: str, *, notebook: str | None = None) -> NotebookParam:
        """``field`` of the result JSON an earlier notebook wrote (default: the previous one)."""
        return cls("result", field, notebook)

    @classmethod
    def execution_name(cls) -> NotebookParam:
        """The Step Functions execution's name."""
        return cls("execution_name")


@dataclass(frozen=True)
class NotebookRun:
    """One notebook of the chain."""

    name: str
    """1-40 letters, digits or ``_``, starting with a letter; unique in the pipeline. The notebook
    execution is named ``<execution>-<name>``."""
    notebook: str | NotebookFile
    """``s3://<bucket>/<key>.ipynb`` in one of the platform's buckets (artifacts or data), or a
    :class:`NotebookFile` of this app."""
    parameters: Mapping[str, Any] = field(default_factory=dict)
    """Parameters for the notebook's ``parameters`` cell: JSON values or :class:`NotebookParam`.
    Default: none."""
    writes_result: bool = False
    """The notebook writes a JSON object to the ``s3://`` URI passed as ``result_parameter``;
    the machine reads it (later notebooks use it through :meth:`NotebookParam.from_result`).
    Default False."""
    result_parameter: str = "RESULT_URI"
    """Name of the parameter that carries the result URI. Default ``RESULT_URI``."""
    timeout: Duration = field(default_factory=lambda: Duration.hours(2))
    """Longest the notebook may run; then it is stopped and the pipeline fails. Default 2 hours."""
    environment: Mapping[str, str] = field(default_factory=dict)
    """Environment variables of the kernel (names ``KERNEL_...`` or ``LOG_CONTEXT``). Default: none."""


class NotebookPipeline(Construct):
    """A Step Functions state machine that runs EMR notebooks in order, on a transient or existing cluster.

    The graph (``state_machine``):

    1. ``ValidateInput`` - a Choice that fails with ``InvalidInput`` when a field of
       ``input_fields`` is missing or of another type, before anything is created.
    2. With ``spec``: ``CreateCluster`` (``createCluster.sync``, as in
       :class:`~emr_patterns.orchestration.TransientClusterPipeline`; never retried).
    3. ``RunNotebooks`` - a Parallel state with one branch holding, for every notebook ``n``:
       ``Params-n`` (a Pass building the parameters object), ``Start-n``
       (``aws-sdk:emr:startNotebookExecution``), a poll loop ``Wait-n`` -> ``Describe-n``
       (``aws-sdk:emr:describeNotebookExecution``) -> ``Count-n`` -> ``Check-n`` (Choice on the
       status), and, when the notebook writes a result, ``ReadResult-n`` (``aws-sdk:s3:getObject``,
       the body parsed with ``States.StringToJson`` into ``$.results.<n>.value``). A ``FAILED`` or
       ``STOPPED`` notebook fails the branch with ``NotebookFailed`` and its
       ``LastStateChangeReason``; one still running after its ``timeout`` is stopped
       (``StopNotebookExecution``) and fails it with ``NotebookTimedOut``.
    4. With ``spec``: ``TerminateCluster``; any failure of ``RunNotebooks`` goes to
       ``TerminateAfterFailure`` and then ``PipelineFailed`` with the error and cause. On an
       existing cluster a failure goes straight to ``PipelineFailed``.

    Every Task has ``TimeoutSeconds``; Describe and getObject are retried (idempotent reads),
    Start is not (a retry could start the notebook twice). The states are ``CustomState``s with
    the IAM written out in one customer-managed policy (the aws-cdk ``CallAwsService`` task
    derives ``emr:StartNotebookExecution``, an action that does not exist).

    Security: a notebook service role (``ServiceRole``, trusted by EMR for this account) that
    reads the notebook files and writes the output prefix; two security groups, the engine group
    on the primary node (port 18888 from the workspace group only) and the workspace group
    (egress to the engine group only), both tagged for ``AmazonEMRServicePolicy_v2``.

    Args:
        scope: parent construct.
        id: construct id.
        platform: the platform (same account and region).
        notebooks: the notebooks, in order. At least one; names unique.
        spec: the transient cluster to create, with the applications in
            :data:`NOTEBOOK_APPLICATIONS` and one primary node. Exactly one of ``spec`` and
            ``cluster_id``.
        cluster_id: an existing cluster (``j-...``) in the platform's VPC, running the
            applications in :data:`NOTEBOOK_APPLICATIONS`.
        input_fields: fields the execution input must have: dotted name -> ``"string"``,
            ``"number"``, ``"boolean"``, ``"array"``, ``"object"`` or ``"timestamp"``. Only these
            may feed :meth:`NotebookParam.from_input`. Default: none.
        output_bucket: where output notebooks and results go (one of the platform's data
            buckets). Default: the work bucket.
        output_prefix: key prefix of the runs; a run writes below
            ``<prefix>/<execution>/<notebook>/``. Default ``notebook-runs``.
        poll_interval: time between two status checks. 10 seconds to 1 hour. Default 30 seconds.
        timeout: longest an execution may run. Default 12 hours.
        create_timeout: longest cluster creation may take. Default 1 hour.
        terminate_timeout: longest termination may take. Default 1 hour.
        log_retention_days: days the execution logs are kept. Default
            :data:`~emr_patterns.defaults.LOG_GROUP_RETENTION_DAYS`.
        log_encryption: encrypt the cluster's log archive with the platform key. Default True.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        platform: IEmrPlatform,
        notebooks: Sequence[NotebookRun],
        spec: ClusterSpec | None = None,
        cluster_id: str | None = None,
        input_fields: Mapping[str, str] | None = None,
        output_bucket: s3.IBucket | None = None,
        output_prefix: str = "notebook-runs",
        poll_interval: Duration | None = None,
        timeout: Duration | None = None,
        create_timeout: Duration | None = None,
        terminate_timeout: Duration | None = None,
        log_retention_days: int = LOG_GROUP_RETENTION_DAYS,
        log_encryption: bool = True,
    ) -> None:
        super().__init__(scope, id)
        poll_interval = poll_interval or Duration.seconds(30)
        problems = check_platform(self, "platform", platform)
        problems += input_fields_problems("input_fields", input_fields)
        problems += _engine_problems(spec, cluster_id)
        problems += _output_problems(platform, output_bucket, output_prefix)
        problems += _poll_problems(poll_interval)
        problems += _notebooks_problems(platform, notebooks, dict(input_fields or {}), poll_interval)
        retention = retention_days("log_retention_days", log_retention_days, problems)
        raise_if_problems(f"NotebookPipeline '{self.node.path}'", problems)
        self.platform = platform
        self.notebooks = tuple(notebooks)
        self.spec = spec
        self.input_fields = dict(input_fields or {})
        self.output_bucket = output_bucket or platform.data_buckets[1]
        self.output_prefix = output_prefix.strip("/")
        timeout = timeout or Duration.hours(12)
        stack = Stack.of(self)

        # ---- network and the notebook service role ------------------------------------------------
        self.engine_security_group = ec2.SecurityGroup(
            self,
            "EngineSecurityGroup",
            vpc=platform.vpc,
            description="EMR notebook engine on the primary node",
            allow_all_outbound=False,
        )
        self.workspace_security_group = ec2.SecurityGroup(
            self,
            "WorkspaceSecurityGroup",
            vpc=platform.vpc,
            description="EMR notebook workspace: reaches the notebook engine only",
            allow_all_outbound=False,
        )
        self.engine_security_group.add_ingress_rule(
            self.workspace_security_group, ec2.Port.tcp(NOTEBOOK_ENGINE_PORT), "Notebook workspace to Jupyter"
        )
        self.workspace_security_group.add_egress_rule(
            self.engine_security_group, ec2.Port.tcp(NOTEBOOK_ENGINE_PORT), "To the notebook engine"
        )
        for group in (self.engine_security_group, self.workspace_security_group):
            Tags.of(group).add(*EMR_MANAGED_POLICY_TAG)

        self.notebook_assets: dict[str, s3_assets.Asset] = {}
        locations: dict[str, tuple[str, str, str]] = {}  # name -> (bucket, key, object ARN)
        for run in self.notebooks:
            if isinstance(run.notebook, NotebookFile):
                asset = s3_assets.Asset(self, f"Notebook-{run.name}", path=run.notebook.path)
                self.notebook_assets[run.name] = asset
                locations[run.name] = (
                    asset.s3_bucket_name,
                    asset.s3_object_key,
                    asset.bucket.arn_for_objects(asset.s3_object_key),
                )
            else:
                bucket, key = _split_s3(run.notebook)
                arn = stack.format_arn(
                    service="s3", region="", account="", resource=bucket, resource_name=key
                )
                locations[run.name] = (bucket, key, arn)
        self.service_role = ManagedGrantsRole(
            self,
            "NotebookServiceRole",
            assumed_by=iam.ServicePrincipal(
                "elasticmapreduce.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            ),
            description=f"EMR notebook executions of {self.node.path}",
        )
        self.service_policy = iam.ManagedPolicy(
            self,
            "NotebookServicePolicy",
            description="EMR notebook runs: read notebooks, write the run prefix, attach to the cluster",
            statements=self._service_statements([arn for _, _, arn in locations.values()]),
            roles=[self.service_role],
        )

        # ---- states -------------------------------------------------------------------------------
        self.cluster: ClusterLifecycle | None = None
        if spec is not None:
            self.cluster = ClusterLifecycle(
                self,
                platform,
                spec,
                create_timeout=create_timeout or Duration.hours(1),
                terminate_timeout=terminate_timeout or Duration.hours(1),
                log_encryption=log_encryption,
                extra_primary_security_groups=(self.engine_security_group.security_group_id,),
            )
            engine_id: dict[str, str] = {"Id.$": "$.cluster.ClusterId"}
        else:
            assert cluster_id is not None
            engine_id = {"Id": cluster_id}

        chain: sfn.Chain | None = None
        for index, run in enumerate(self.notebooks):
            bucket, key, _ = locations[run.name]
            states = self._notebook_states(index, run, bucket, key, engine_id, poll_interval)
            chain = states if chain is None else chain.next(states)
        assert chain is not None
        writes = any(r.writes_result for r in self.notebooks)
        if writes:  # the branch's output is the results object alone
            chain = chain.next(sfn.Pass(self, "CollectResults", output_path="$.results"))
        run_all = sfn.Parallel(
            self,
            "RunNotebooks",
            comment="Run the notebooks in order; any failure fails this state.",
            result_path="$.run",
            result_selector={"results.$": "States.ArrayGetItem($, 0)"} if writes else {"results": {}},
        )
        run_all.branch(chain)
        succeeded = sfn.Succeed(self, "Succeeded")
        if self.cluster is not None:
            run_all.add_catch(
                self.cluster.terminate_after_failure, errors=["States.ALL"], result_path="$.error"
            )
            terminate = self.cluster.terminate("Terminate the cluster after the last notebook.")
            self.cluster.create.next(run_all)
            run_all.next(terminate)
            terminate.next(succeeded)
            first: sfn.IChainable = self.cluster.create
        else:
            failed = sfn.Fail(
                self,
                "PipelineFailed",
                comment="A notebook failed.",
                error_path="$.error.Error",
                cause_path="$.error.Cause",
            )
            run_all.add_catch(failed, errors=["States.ALL"], result_path="$.error")
            run_all.next(succeeded)
            first = run_all
        validate = validate_input(
            self,
            input_fields=self.input_fields,
            next_state=first,
            example=example_input(self.input_fields),
        )

        # ---- the machine --------------------------------------------------------------------------
        statements = [*self.cluster.statements()] if self.cluster is not None else []
        statements += self._machine_statements()
        machine = PipelineMachine(
            self,
            platform,
            definition=validate,
            timeout=timeout,
            retention=retention,
            statements=statements,
            description=f"Step Functions notebook pipeline {self.node.path}",
            policy_description="Run EMR notebooks in order (and their transient cluster); read their results",
            comment=f"EMR notebooks {', '.join(r.name for r in self.notebooks)}"
            + (f" on a transient cluster {spec.name}" if spec is not None else " on an existing cluster"),
            wildcard_reason="StartNotebookExecution, DescribeNotebookExecution and StopNotebookExecution "
            "take notebook-execution ids known only at run time, and RunJobFlow supports no resource-level "
            "permissions; PassRole, the result prefix and the EventBridge rules are scoped.",
        )
        self.log_group = machine.log_group
        self.role = machine.role
        self.policy = machine.policy
        self.state_machine = machine.state_machine
        self._acknowledge()

    # ---- public -----------------------------------------------------------------------------------
    @property
    def state_machine_arn(self) -> str:
        """ARN of the state machine."""
        return self.state_machine.state_machine_arn

    def grant_start_execution(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` start executions of this state machine (a customer-managed policy)."""
        return start_execution_grant(
            self, grantee, self.state_machine, f"Start executions of the notebook pipeline {self.node.path}"
        )

    def run_prefix(self, notebook: str) -> str:
        """The ``States.Format`` expression of a notebook's run prefix (no trailing ``/``)."""
        return f"States.Format('{escape(self.output_prefix)}/{{}}/{notebook}', $$.Execution.Name)"

    # ---- states -----------------------------------------------------------------------------------
    def _notebook_states(
        self,
        index: int,
        run: NotebookRun,
        bucket: str,
        key: str,
        engine_id: Mapping[str, str],
        poll_interval: Duration,
    ) -> sfn.Chain:
        n = run.name
        previous = self.notebooks[index - 1].name if index else None
        params: dict[str, Any] = {}
        for pname, value in run.parameters.items():
            if isinstance(value, NotebookParam):
                params[f"{pname}.$"] = self._param_expression(value, previous)
            else:
                params[pname] = value
        if run.writes_result:
            params[f"{run.result_parameter}.$"] = (
                f"States.Format('s3://{{}}/{escape(self.output_prefix)}/{{}}/{n}/result.json', "
                f"'{escape(self.output_bucket.bucket_name)}', $$.Execution.Name)"
            )
        build = sfn.Pass(
            self,
            f"Params-{n}",
            comment=f"The parameters of notebook {n}.",
            parameters=params,
            result_path="$.params",
        )
        start_parameters: dict[str, Any] = {
            "ExecutionEngine": {
                **engine_id,
                "Type": "EMR",
                "MasterInstanceSecurityGroupId": self.engine_security_group.security_group_id,
            },
            "ServiceRole": self.service_role.role_arn,
            "NotebookInstanceSecurityGroupId": self.workspace_security_group.security_group_id,
            "NotebookS3Location": {"Bucket": bucket, "Key": key},
            "OutputNotebookS3Location": {
                "Bucket": self.output_bucket.bucket_name,
                "Key.$": self.run_prefix(n),
            },
            "OutputNotebookFormat": "HTML",
            "NotebookExecutionName.$": f"States.Format('{{}}-{n}', $$.Execution.Name)",
            "NotebookParams.$": "States.JsonToString($.params)",
            "Tags": [{"Key": EXECUTION_ARN_TAG, "Value.$": "$$.Execution.Id"}],
        }
        if run.environment:
            start_parameters["EnvironmentVariables"] = dict(run.environment)
        start = task(
            self,
            f"Start-{n}",
            "aws-sdk:emr:startNotebookExecution",
            start_parameters,
            Duration.minutes(5),
            result_path="$.notebook",
            result_selector={"NotebookExecutionId.$": "$.NotebookExecutionId", "polls": {"value": 0}},
            comment=f"Start notebook {n} (not retried: a retry could start it twice).",
        )
        wait = sfn.Wait(self, f"Wait-{n}", time=sfn.WaitTime.duration(poll_interval))
        describe = task(
            self,
            f"Describe-{n}",
            "aws-sdk:emr:describeNotebookExecution",
            {"NotebookExecutionId.$": "$.notebook.NotebookExecutionId"},
            Duration.minutes(2),
            result_path="$.status",
            result_selector={"Status.$": "$.NotebookExecution.Status", "Execution.$": "$.NotebookExecution"},
            comment=f"Status of notebook {n}.",
        )
        describe.add_retry(
            errors=["States.ALL"], interval=Duration.seconds(5), max_attempts=4, backoff_rate=2
        )
        count = sfn.Pass(
            self,
            f"Count-{n}",
            parameters={"value.$": "States.MathAdd($.notebook.polls.value, 1)"},
            result_path="$.notebook.polls",
        )
        max_polls = max(1, math.ceil(run.timeout.to_seconds() / poll_interval.to_seconds()))

        reason = sfn.Pass(
            self,
            f"Reason-{n}",
            parameters={
                "Error": "NotebookFailed",
                "Cause.$": f"States.Format('Notebook {n} ended {{}}: {{}}', $.status.Status, "
                "$.status.Execution.LastStateChangeReason)",
            },
            result_path="$.error",
        )
        no_reason = sfn.Pass(
            self,
            f"NoReason-{n}",
            parameters={
                "Error": "NotebookFailed",
                "Cause.$": f"States.Format('Notebook {n} ended {{}} without a reason: {{}}', "
                "$.status.Status, States.JsonToString($.status.Execution))",
            },
            result_path="$.error",
        )
        notebook_failed = sfn.Fail(
            self, f"NotebookFailed-{n}", error_path="$.error.Error", cause_path="$.error.Cause"
        )
        reason.next(notebook_failed)
        no_reason.next(notebook_failed)
        failed = (
            sfn.Choice(self, f"Failed-{n}")
            .when(sfn.Condition.is_present("$.status.Execution.LastStateChangeReason"), reason)
            .otherwise(no_reason)
        )
        stop = task(
            self,
            f"Stop-{n}",
            "aws-sdk:emr:stopNotebookExecution",
            {"NotebookExecutionId.$": "$.notebook.NotebookExecutionId"},
            Duration.minutes(2),
            result_path="$.stop",
            comment=f"Stop notebook {n}: it ran longer than its timeout.",
        )
        timed_out = sfn.Fail(
            self,
            f"NotebookTimedOut-{n}",
            error="NotebookTimedOut",
            cause=f"Notebook {n} ran longer than {int(run.timeout.to_seconds())} s and was stopped.",
        )
        stop.add_catch(timed_out, errors=["States.ALL"], result_path="$.stop_error")
        stop.next(timed_out)

        tail: sfn.INextable
        if run.writes_result:
            read = task(
                self,
                f"ReadResult-{n}",
                "aws-sdk:s3:getObject",
                {
                    "Bucket": self.output_bucket.bucket_name,
                    "Key.$": f"States.Format('{escape(self.output_prefix)}/{{}}/{n}/result.json', "
                    "$$.Execution.Name)",
                },
                Duration.minutes(2),
                result_path=f"$.results.{n}",
                result_selector={"value.$": "States.StringToJson($.Body)"},
                comment=f"Read the result notebook {n} wrote.",
            )
            read.add_retry(
                errors=["S3.NoSuchKey", "S3.S3Exception"],
                interval=Duration.seconds(5),
                max_attempts=3,
                backoff_rate=2,
            )
            head: sfn.IChainable = read
            tail = read
            fields = self._fields_read_from(n)
            if fields:
                # A missing field would be a States.Runtime error in the next Params state, which
                # no Catch handles: check for every field a later notebook reads, and fail here.
                ok = sfn.Pass(self, f"ResultOk-{n}", comment=f"The result of {n} has every field read later.")
                incomplete = sfn.Fail(
                    self,
                    f"ResultIncomplete-{n}",
                    error="NotebookResultIncomplete",
                    cause=f"The result JSON of notebook {n} lacks one of the fields later notebooks read: "
                    + ", ".join(fields),
                )
                read.next(
                    sfn.Choice(self, f"CheckResult-{n}")
                    .when(
                        sfn.Condition.or_(
                            *(sfn.Condition.is_not_present(f"$.results.{n}.value.{f}") for f in fields)
                        ),
                        incomplete,
                    )
                    .otherwise(ok)
                )
                tail = ok
        else:
            tail = sfn.Pass(self, f"Done-{n}", comment=f"Notebook {n} finished.")
            head = tail
        check = (
            sfn.Choice(self, f"Check-{n}")
            .when(sfn.Condition.string_equals("$.status.Status", "FINISHED"), head)
            .when(
                sfn.Condition.or_(
                    *(sfn.Condition.string_equals("$.status.Status", s) for s in _FAILED_STATUSES)
                ),
                failed,
            )
            .when(sfn.Condition.number_greater_than_equals("$.notebook.polls.value", max_polls), stop)
            .otherwise(wait)
        )
        build.next(start).next(wait).next(describe).next(count).next(check)
        return sfn.Chain.custom(build, [tail], tail)

    def _fields_read_from(self, notebook: str) -> list[str]:
        """The result fields of ``notebook`` that later notebooks read, in order."""
        names = [r.name for r in self.notebooks]
        fields: list[str] = []
        for later in self.notebooks[names.index(notebook) + 1 :]:
            previous = names[names.index(later.name) - 1]
            for value in later.parameters.values():
                if (
                    isinstance(value, NotebookParam)
                    and value.source == "result"
                    and (value.notebook or previous) == notebook
                    and value.field not in fields
                ):
                    fields.append(value.field)
        return fields

    def _param_expression(self, value: NotebookParam, previous: str | None) -> str:
        if value.source == "execution_name":
            return "$$.Execution.Name"
        if value.source == "input":
            path = f"$.{value.field}"
            return f"States.ArrayGetItem(States.StringSplit({path}, 'T'), 0)" if value.date_only else path
        notebook = value.notebook or previous
        return f"$.results.{notebook}.value.{value.field}"

    # ---- IAM --------------------------------------------------------------------------------------
    def _machine_statements(self) -> list[iam.PolicyStatement]:
        bucket = self.output_bucket
        return [
            iam.PolicyStatement(
                sid="NotebookExecutions",
                actions=[
                    "elasticmapreduce:StartNotebookExecution",
                    "elasticmapreduce:DescribeNotebookExecution",
                    "elasticmapreduce:StopNotebookExecution",
                    "elasticmapreduce:AddTags",
                ],
                resources=["*"],
            ),
            iam.PolicyStatement(
                sid="PassNotebookServiceRole",
                actions=["iam:PassRole"],
                resources=[self.service_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "elasticmapreduce.amazonaws.com"}},
            ),
            iam.PolicyStatement(
                sid="ReadNotebookResults",
                actions=["s3:GetObject"],
                resources=[bucket.arn_for_objects(f"{self.output_prefix}/*/result.json")],
            ),
            iam.PolicyStatement(
                sid="DecryptNotebookResults",
                actions=["kms:Decrypt"],
                resources=[self.platform.key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"s3.{Stack.of(self).region}.amazonaws.com"}},
            ),
        ]

    def _service_statements(self, notebook_arns: Sequence[str]) -> list[iam.PolicyStatement]:
        stack = Stack.of(self)
        tag_key, tag_value = EMR_MANAGED_POLICY_TAG

        def ec2_arn(resource: str) -> str:
            return stack.format_arn(service="ec2", resource=resource, resource_name="*")

        tagged = {"StringEquals": {f"aws:ResourceTag/{tag_key}": tag_value}}
        return [
            iam.PolicyStatement(sid="ReadNotebooks", actions=["s3:GetObject"], resources=list(notebook_arns)),
            iam.PolicyStatement(
                sid="WriteRuns",
                actions=["s3:PutObject", "s3:GetObject"],
                resources=[self.output_bucket.arn_for_objects(f"{self.output_prefix}/*")],
            ),
            iam.PolicyStatement(
                sid="ListRuns",
                actions=["s3:ListBucket", "s3:GetEncryptionConfiguration"],
                resources=[self.output_bucket.bucket_arn],
            ),
            iam.PolicyStatement(
                sid="UsePlatformKey",
                actions=["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
                resources=[self.platform.key.key_arn],
            ),
            iam.PolicyStatement(
                sid="DescribeNetwork",
                actions=list(_perms.EMR_NOTEBOOK_DESCRIBE_ACTIONS),
                resources=["*"],
            ),
            iam.PolicyStatement(
                sid="CreateNotebookInterfaces",
                actions=["ec2:CreateNetworkInterface"],
                resources=[ec2_arn("subnet"), ec2_arn("security-group")],
                conditions=tagged,
            ),
            iam.PolicyStatement(
                sid="CreateTaggedInterfaces",
                actions=["ec2:CreateNetworkInterface"],
                resources=[ec2_arn("network-interface")],
                conditions={"StringEquals": {f"aws:RequestTag/{tag_key}": tag_value}},
            ),
            iam.PolicyStatement(
                sid="TagNewInterfaces",
                actions=["ec2:CreateTags"],
                resources=[ec2_arn("network-interface")],
                conditions={"StringEquals": {"ec2:CreateAction": "CreateNetworkInterface"}},
            ),
            iam.PolicyStatement(
                sid="ManageTaggedInterfaces",
                actions=list(_perms.EMR_NOTEBOOK_INTERFACE_ACTIONS),
                resources=[ec2_arn("network-interface"), ec2_arn("instance"), ec2_arn("security-group")],
                conditions=tagged,
            ),
            iam.PolicyStatement(
                sid="ReadClusters",
                actions=["elasticmapreduce:DescribeCluster", "elasticmapreduce:ListInstances"],
                resources=[
                    stack.format_arn(service="elasticmapreduce", resource="cluster", resource_name="*")
                ],
            ),
        ]

    def _acknowledge(self) -> None:
        acknowledge(
            self.service_policy,
            "AwsSolutions-IAM5[Resource::*]",
            "EC2 Describe* calls support no resource-level permissions; the ENI, instance and security "
            "group actions are limited by the EMR managed-policy tag.",
        )
        stack = Stack.of(self)
        for resource in ("subnet", "security-group", "network-interface", "instance"):
            acknowledge_resource(
                self.service_policy,
                "AwsSolutions-IAM5",
                stack.format_arn(service="ec2", resource=resource, resource_name="*"),
                "The notebook service attaches to interfaces and groups it finds by the EMR managed-policy "
                "tag (the condition on the statement); their ids are not known at deploy time.",
            )
        acknowledge_resource(
            self.service_policy,
            "AwsSolutions-IAM5",
            stack.format_arn(service="elasticmapreduce", resource="cluster", resource_name="*"),
            "The cluster a notebook runs on is created by the execution; its id is not known at deploy time.",
        )
        for construct, objects in (
            (self.service_policy, f"{self.output_prefix}/*"),
            (self.policy, f"{self.output_prefix}/*/result.json"),
        ):
            acknowledge_resource(
                construct,
                "AwsSolutions-IAM5",
                self.output_bucket.arn_for_objects(objects),
                "The run prefix holds one folder per execution and notebook, named at run time.",
            )


def _split_s3(uri: str) -> tuple[str, str]:
    bucket, _, key = uri[len("s3://") :].partition("/")
    return bucket, key


def _bucket_names(platform: IEmrPlatform) -> list[str]:
    return [b.bucket_name for b in (platform.artifacts_bucket, *platform.data_buckets)]


def _engine_problems(spec: Any, cluster_id: Any) -> list[str]:
    if (spec is None) == (cluster_id is None):
        return [
            problem(
                "spec/cluster_id",
                f"spec={'set' if spec is not None else None}, cluster_id={cluster_id!r}",
                "exactly one must be given",
                "pass spec= for a transient cluster or cluster_id= for an existing one",
            )
        ]
    if cluster_id is not None:
        if not isinstance(cluster_id, str) or not (
            is_unresolved(cluster_id) or re.match(r"^j-[A-Z0-9]{1,64}$", cluster_id)
        ):
            return [problem("cluster_id", cluster_id, "is not a cluster id", "pass e.g. 'j-2AXXXXXXGAPLF'")]
        return []
    out = _spec_problems(spec)
    if not isinstance(spec, ClusterSpec):
        return out
    missing = [a for a in NOTEBOOK_APPLICATIONS if a not in spec.applications]
    if missing:
        out.append(
            problem(
                "spec.applications",
                spec.applications,
                f"lacks {missing}, which notebook executions need",
                f"add them: applications={(*spec.applications, *missing)}",
            )
        )
    if spec.primary_node_count > 1:
        out.append(
            problem(
                "spec.primary_fleet",
                spec.primary_node_count,
                "has more than one primary node; EMR notebooks do not run on multi-primary clusters",
                "use one primary node",
            )
        )
    return out


def _output_problems(platform: IEmrPlatform, bucket: Any, prefix: Any) -> list[str]:
    out = []
    if bucket is not None and bucket.bucket_name not in [b.bucket_name for b in platform.data_buckets]:
        out.append(
            problem(
                "output_bucket",
                bucket.bucket_name,
                "is not one of the platform's data buckets (the cluster writes results there)",
                "leave it None (the work bucket) or pass platform.data_buckets[i]",
            )
        )
    if not isinstance(prefix, str) or not re.match(
        r"^[A-Za-z0-9][A-Za-z0-9!_.*'()/-]{0,199}$", prefix.strip("/")
    ):
        out.append(problem("output_prefix", prefix, "is not a key prefix", "use e.g. 'notebook-runs'"))
    return out


def _poll_problems(poll_interval: Any) -> list[str]:
    seconds = poll_interval.to_seconds() if isinstance(poll_interval, Duration) else None
    if seconds is None or not 10 <= seconds <= 3600:
        return [
            problem(
                "poll_interval",
                poll_interval,
                "must be a Duration of 10 s to 1 hour",
                "use Duration.seconds(30)",
            )
        ]
    return []


def _json_problems(prop: str, value: Any) -> list[str]:
    """A static parameter must be plain JSON, with no key ending in ``.$`` (Step Functions would
    read it as a path)."""
    if isinstance(value, Mapping):
        out = []
        for k, v in value.items():
            if not isinstance(k, str) or k.endswith(".$"):
                out.append(problem(f"{prop} key", k, "must be a str not ending in '.$'", "rename the key"))
            out += _json_problems(f"{prop}.{k}", v)
        return out
    if isinstance(value, (list, tuple)):
        return [p for i, v in enumerate(value) for p in _json_problems(f"{prop}[{i}]", v)]
    if value is None or isinstance(value, (str, int, float, bool)):
        return []
    return [
        problem(
            prop,
            value,
            "is not a JSON value or NotebookParam",
            "pass str, number, bool, list, dict or a NotebookParam",
        )
    ]


def _notebook_file_problems(prop: str, notebook: NotebookFile) -> list[str]:
    path = Path(notebook.path)
    if path.suffix != ".ipynb" or not path.is_file():
        return [problem(prop, notebook.path, "is not an .ipynb file", "give the path of a notebook file")]
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        return [problem(prop, notebook.path, f"is not JSON ({exc})", "save it as a Jupyter notebook")]
    if (
        not isinstance(document, dict)
        or document.get("nbformat") != 4
        or not isinstance(document.get("cells"), list)
    ):
        return [
            problem(prop, notebook.path, "is not an nbformat 4 notebook", "save it with Jupyter 4 or later")
        ]
    return []


def _notebooks_problems(
    platform: IEmrPlatform, notebooks: Any, input_fields: Mapping[str, str], poll_interval: Duration
) -> list[str]:
    if isinstance(notebooks, (str, NotebookRun)) or not isinstance(notebooks, Sequence) or not notebooks:
        return [
            problem(
                "notebooks",
                notebooks,
                "must be a non-empty sequence of NotebookRun",
                "pass e.g. [NotebookRun('report', 's3://<artifacts bucket>/notebooks/report.ipynb')]",
            )
        ]
    out: list[str] = []
    seen: dict[str, bool] = {}  # name -> writes_result, of the notebooks before
    buckets = _bucket_names(platform)
    for i, run in enumerate(notebooks):
        prop = f"notebooks[{i}]"
        if not isinstance(run, NotebookRun):
            out.append(
                problem(prop, run, "is not a NotebookRun", "wrap it in NotebookRun(name, notebook, ...)")
            )
            continue
        if not isinstance(run.name, str) or not _NAME_RE.match(run.name):
            out.append(
                problem(
                    f"{prop}.name",
                    run.name,
                    "must be 1-40 letters, digits or '_', starting with a letter",
                    "use e.g. 'daily_report'",
                )
            )
        elif run.name in seen:
            out.append(problem(f"{prop}.name", run.name, "is used twice", "give every notebook its own name"))
        # the notebook file
        if isinstance(run.notebook, NotebookFile):
            out += _notebook_file_problems(f"{prop}.notebook", run.notebook)
        elif not isinstance(run.notebook, str) or not run.notebook.startswith("s3://"):
            out.append(
                problem(
                    f"{prop}.notebook",
                    run.notebook,
                    "is not an s3:// URI or a NotebookFile",
                    "pass 's3://<platform bucket>/<key>.ipynb' or NotebookFile('path/to/notebook.ipynb')",
                )
            )
        else:
            bucket, key = _split_s3(run.notebook)
            if bucket not in buckets:
                out.append(
                    problem(
                        f"{prop}.notebook",
                        run.notebook,
                        "is outside the platform's buckets (the notebook service role reads only those)",
                        "upload the notebook to the artifacts or a data bucket of the platform, or pass a "
                        "NotebookFile",
                    )
                )
            if not key.endswith(".ipynb"):
                out.append(
                    problem(
                        f"{prop}.notebook",
                        run.notebook,
                        "does not name an .ipynb object",
                        "end the key in .ipynb",
                    )
                )
        # parameters
        if not isinstance(run.parameters, Mapping):
            out.append(
                problem(
                    f"{prop}.parameters",
                    run.parameters,
                    "is not an object (a mapping of parameter name to value)",
                    'pass e.g. {"TOP_K": 5}',
                )
            )
        else:
            names = list(run.parameters)
            if run.writes_result:
                names.append(run.result_parameter)
                if run.result_parameter in run.parameters:
                    out.append(
                        problem(
                            f"{prop}.parameters",
                            run.result_parameter,
                            "is set, but it is the result parameter the pipeline fills in",
                            f"remove {run.result_parameter!r} from parameters",
                        )
                    )
            for name in names:
                if not isinstance(name, str) or not _PARAM_RE.match(name):
                    out.append(
                        problem(
                            f"{prop}.parameters key",
                            name,
                            "is not a parameter name",
                            "use a Python identifier",
                        )
                    )
            if isinstance(run.notebook, NotebookFile) and not _names_prop(out, f"{prop}.notebook"):
                out += _declared_parameter_problems(f"{prop}.parameters", run.notebook.path, names)
            static: dict[str, Any] = {}
            for name, value in run.parameters.items():
                if isinstance(value, NotebookParam):
                    out += _param_problems(f"{prop}.parameters[{name!r}]", value, input_fields, seen, i)
                else:
                    out += _json_problems(f"{prop}.parameters[{name!r}]", value)
                    static[name] = value
            try:
                size = len(json.dumps(static))
            except (TypeError, ValueError):
                size = 0
            if size > _NOTEBOOK_PARAMS_MAX - 2048:
                out.append(
                    problem(
                        f"{prop}.parameters",
                        f"{size} characters",
                        f"leave too little of the {_NOTEBOOK_PARAMS_MAX}-character NotebookParams limit",
                        "pass large values as an S3 URI the notebook reads",
                    )
                )
        if not isinstance(run.environment, Mapping) or any(
            not isinstance(k, str) or not _ENV_RE.match(k) or not isinstance(v, str)
            for k, v in run.environment.items()
        ):
            out.append(
                problem(
                    f"{prop}.environment",
                    run.environment,
                    "must map KERNEL_... (or LOG_CONTEXT) names to str values",
                    'use e.g. {"KERNEL_STAGE": "prod"}',
                )
            )
        seconds = run.timeout.to_seconds() if isinstance(run.timeout, Duration) else None
        if seconds is None or seconds < poll_interval.to_seconds():
            out.append(
                problem(
                    f"{prop}.timeout",
                    run.timeout,
                    "must be a Duration of at least the poll interval",
                    "use Duration.hours(2)",
                )
            )
        if isinstance(run.name, str):
            seen[run.name] = bool(run.writes_result)
    return out


def _names_prop(problems: Sequence[str], prop: str) -> bool:
    """Whether ``problems`` already name ``prop``."""
    return any(p.lstrip("- ").startswith(prop) for p in problems)


def _declared_parameter_problems(prop: str, path: str, names: Sequence[str]) -> list[str]:
    """A notebook file's parameters cell must assign every parameter the pipeline passes (papermill
    would add an unknown one silently, and the notebook would never read it)."""
    from emr_patterns.jobs.notebooks import check_params

    try:
        found = check_params(path, dict.fromkeys(n for n in names if isinstance(n, str)))
    except (OSError, SyntaxError, ValueError) as exc:
        return [
            problem(prop, path, f"has no readable parameters cell ({exc})", "tag one code cell 'parameters'")
        ]
    return [problem(prop, path, text, "pass only the names its parameters cell assigns") for text in found]


def _param_problems(
    prop: str, value: NotebookParam, input_fields: Mapping[str, str], seen: Mapping[str, bool], index: int
) -> list[str]:
    if value.source == "execution_name":
        return []
    if value.source == "input":
        if value.field not in input_fields:
            return [
                problem(
                    prop,
                    f"$.{value.field}",
                    "reads an input field that input_fields does not declare (untyped input)",
                    f"declare it: input_fields={{{value.field!r}: 'string'}}",
                )
            ]
        if value.date_only and input_fields[value.field] not in ("string", "timestamp"):
            return [
                problem(prop, value.field, "is not a string or timestamp field", "declare it as 'timestamp'")
            ]
        return []
    if value.source != "result":
        return [
            problem(prop, value.source, "is not a parameter source", "build it with NotebookParam.from_...")
        ]
    if not isinstance(value.field, str) or not FIELD_RE.match(value.field):
        return [problem(prop, value.field, "is not a result field name", "use e.g. 'top_state'")]
    notebook = value.notebook if value.notebook is not None else (list(seen)[-1] if seen else None)
    if notebook is None or notebook not in seen:
        return [
            problem(
                prop,
                value.notebook or "(previous)",
                f"names no notebook before notebooks[{index}]",
                "read the result of an earlier notebook",
            )
        ]
    if not seen[notebook]:
        return [
            problem(
                prop,
                notebook,
                "does not write a result",
                f"set writes_result=True on notebook {notebook!r} and write the JSON there",
            )
        ]
    return []
