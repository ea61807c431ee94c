"""TransientClusterPipeline: a Step Functions state machine that runs steps on a cluster of its own.

The machine validates its input, creates an EMR cluster from a :class:`~emr_patterns.spec.ClusterSpec`
on the platform (``createCluster.sync``), runs the steps for every item of the input's ``modes``
array, one item at a time and the steps in order (``addStep.sync``), and terminates the cluster
(``terminateCluster.sync``). Any failure after creation terminates the cluster before the
execution fails, with the error and cause of what failed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from emr_patterns._retention import retention_days
from emr_patterns.compute.cluster import platform_spec_problems
from emr_patterns.defaults import LOG_GROUP_RETENTION_DAYS
from emr_patterns.errors import problem, raise_if_problems
from emr_patterns.foundation.platform import IEmrPlatform, check_platform
from emr_patterns.nag import acknowledge_resource
from emr_patterns.orchestration._machine import (
    EXECUTION_ARN_TAG,
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
from emr_patterns.spec import ClusterSpec
from emr_patterns.spec.steps import (
    CommandRunnerStep,
    HiveScriptStep,
    ScriptRunnerStep,
    SparkSubmitStep,
)

__all__ = [
    "EXECUTION_ARN_TAG",
    "AnyStep",
    "ClusterStepsPipeline",
    "NestedPipelineStep",
    "PipelineStep",
    "TransientClusterPipeline",
    "nested_execution_arns",
    "nested_pipeline_statements",
]


_GIVEN_CLUSTER = "The cluster is given in each execution's input; its id is not known at deploy time."
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$")
_PLACEHOLDER_RE = re.compile(r"\{(mode|execution|previous_output|output)\}")


@dataclass(frozen=True)
class PipelineStep:
    """One EMR step the pipeline adds for every mode (``command-runner.jar`` by default).

    Arguments may hold placeholders, filled in at run time: ``{mode}`` (the current item of
    ``$.modes``), ``{execution}`` (the execution name), ``{output}`` (this step's
    ``output_location``) and ``{previous_output}`` (the previous step's ``output_location``,
    so one step's output feeds the next).
    """

    name: str
    """Step name, 1-64 letters, digits, spaces, ``.``, ``_`` or ``-``; unique in the pipeline.
    The EMR step is named ``<mode>-<index>-<name>`` (deterministic)."""
    args: Sequence[str]
    """Arguments of the jar, e.g. ``("spark-submit", "--deploy-mode", "cluster", "s3://.../job.py")``."""
    jar: str = "command-runner.jar"
    """Jar to run. Default ``command-runner.jar``."""
    output_location: str | None = None
    """Where this step writes (may use ``{mode}`` and ``{execution}``); fills the next step's
    ``{previous_output}``. Default: none."""
    timeout: Duration = field(default_factory=lambda: Duration.hours(6))
    """Longest the step may run (the task's ``TimeoutSeconds``). Default 6 hours."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "args", tuple(self.args))


@dataclass(frozen=True)
class NestedPipelineStep:
    """A step that runs another state machine on the pipeline's cluster (``startExecution.sync:2``),
    typically a :class:`ClusterStepsPipeline`: the outer machine owns the cluster and the loop over
    modes, the inner one runs steps on the cluster it is given.

    The nested execution gets ``{"ClusterId", "mode", "input"}`` (``input`` is the outer
    execution's input) and is named ``<execution>-<mode>-<index>-<name>``; it is linked to the
    outer execution (``AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID``). Its failure fails the step,
    which terminates the cluster.
    """

    name: str
    """Step name, as for :class:`PipelineStep`."""
    state_machine: sfn.IStateMachine
    """The nested state machine."""
    timeout: Duration = field(default_factory=lambda: Duration.hours(6))
    """Longest the nested execution may run. Default 6 hours."""


AnyStep = (
    PipelineStep
    | SparkSubmitStep
    | HiveScriptStep
    | CommandRunnerStep
    | ScriptRunnerStep
    | NestedPipelineStep
)
"""What ``steps`` takes: a :class:`PipelineStep`, a step builder of :mod:`emr_patterns.spec.steps`
or a :class:`NestedPipelineStep`."""
_BUILDER_STEPS = (SparkSubmitStep, HiveScriptStep, CommandRunnerStep, ScriptRunnerStep)


def _intrinsic_literal(text: str) -> str:
    """``text`` as a quoted string literal of an ASL intrinsic function."""
    return f"'{escape(text)}'"


def _format(template: str, values: Mapping[str, str]) -> tuple[str, bool]:
    """(value, is_path): a literal, or a ``States.Format(...)`` over the placeholders in it."""
    parts = _PLACEHOLDER_RE.split(template)
    if len(parts) == 1:
        return template, False
    literal, paths = [], []
    for i, part in enumerate(parts):
        if i % 2:
            literal.append("{}")
            paths.append(values[part])
        else:
            literal.append(escape(part))
    return "States.Format('" + "".join(literal) + "', " + ", ".join(paths) + ")", True


class TransientClusterPipeline(Construct):
    """A Step Functions state machine that creates a transient EMR cluster, runs steps, terminates it.

    The graph (``state_machine``):

    1. ``ValidateInput`` - a Choice: fails with ``Error`` ``InvalidInput`` when ``$.modes`` is
       missing, not an array or empty, before any cluster exists.
    2. ``CreateCluster`` - ``elasticmapreduce:createCluster.sync`` with the spec's RunJobFlow
       request, the platform's roles, security configuration, log URI and private subnets, three
       security groups of this construct, and the tags ``emr-patterns:execution-arn`` =
       ``$$.Execution.Id`` (for :class:`~emr_patterns.orchestration.EmrClusterSweeper`) and
       ``for-use-with-amazon-emr-managed-policies``. Never retried (a retry after a timeout could
       start a second cluster); a failure goes straight to ``ClusterCreationFailed``.
    3. ``ForEachMode`` - a Map over ``$.modes`` with ``MaxConcurrency`` 1, running the steps in
       order as ``addStep.sync`` tasks named ``<mode>-<index>-<name>``.
    4. ``TerminateCluster`` - ``terminateCluster.sync``, then ``Succeeded``.

    Every state after creation catches ``States.ALL`` with ``ResultPath`` ``$.error`` (the cluster
    id in ``$.cluster`` is kept) into ``TerminateAfterFailure`` (``terminateCluster.sync``) and
    then ``PipelineFailed``, a Fail state that reports the caught ``Error`` and ``Cause``. Every task
    has ``TimeoutSeconds`` and the machine has a timeout. Stopping an execution does not terminate
    its cluster: the spec's ``AutoTerminationPolicy`` (required) and the sweeper are the nets.

    **Why a CustomState, not** ``tasks.EmrCreateCluster``: the aws-cdk task has no fields for the
    fleets' allocation strategies, ``OSReleaseLabel``, ``UnhealthyNodeReplacement``, placement
    groups and the service-role choice (it creates a role with the deprecated
    ``AmazonElasticMapReduceRole`` unless a feature flag is set), and it would render the cluster a
    second time, apart from the spec. The spec's own ``to_run_job_flow_request`` (checked against
    botocore's EMR model) is the single renderer; the IAM the task would add is written here, in
    customer-managed policies.

    Logs: ``LogLevel.ALL`` (execution data included) to a log group encrypted with the platform key,
    with X-Ray tracing.

    Args:
        scope: parent construct.
        id: construct id.
        platform: the platform (same account and region).
        spec: the cluster. Must have ``idle_timeout_seconds`` (the AutoTerminationPolicy net), SSM
            shell access, no termination protection, ``keep_alive_when_no_steps`` and no managed
            scaling strategy (Step Functions rejects ``ScalingStrategy``).
        steps: the steps, in order, run for every mode. At least one; names unique. Each is a
            :class:`PipelineStep` (``{mode}``, ``{previous_output}``... placeholders) or a step
            builder of :mod:`emr_patterns.spec.steps` (``SparkSubmitStep``, ``HiveScriptStep``,
            ``CommandRunnerStep``, ``ScriptRunnerStep``), whose ``Arg`` JSONPaths read the Map
            item: ``$.mode``, ``$.ClusterId`` and ``$.input`` (the execution input). Either way
            the EMR step is named ``<mode>-<index>-<name>``.
        timeout: longest an execution may run. Default 12 hours.
        step_timeout: longest a step builder's step may run (a ``PipelineStep`` has its own
            ``timeout``). Default 6 hours.
        create_timeout: longest cluster creation may take. Default 1 hour.
        terminate_timeout: longest termination may take. Default 1 hour.
        log_retention_days: days the execution logs are kept. Default
            :data:`~emr_patterns.defaults.LOG_GROUP_RETENTION_DAYS`.
        log_encryption: encrypt the cluster's log archive with the platform key. Default True.
        input_fields: more fields the execution input must have, besides ``modes``: dotted name ->
            ``"string"``, ``"number"``, ``"boolean"``, ``"array"`` (non-empty), ``"object"`` or
            ``"timestamp"``. ``ValidateInput`` fails the execution before any cluster exists when
            one is missing or of another type. Default: none.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        platform: IEmrPlatform,
        spec: ClusterSpec,
        steps: Sequence[AnyStep],
        timeout: Duration | None = None,
        step_timeout: Duration | None = None,
        create_timeout: Duration | None = None,
        terminate_timeout: Duration | None = None,
        log_retention_days: int = LOG_GROUP_RETENTION_DAYS,
        log_encryption: bool = True,
        input_fields: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(scope, id)
        problems = check_platform(self, "platform", platform)
        problems += _spec_problems(spec)
        problems += _steps_problems(steps)
        problems += input_fields_problems("input_fields", input_fields)
        problems += _untyped_input_problems(steps, input_fields or {})
        if input_fields and "modes" in input_fields:
            problems.append(
                problem(
                    "input_fields",
                    dict(input_fields),
                    "declares 'modes'",
                    "leave it out: it is always an array",
                )
            )
        retention = retention_days("log_retention_days", log_retention_days, problems)
        raise_if_problems(f"TransientClusterPipeline '{self.node.path}'", problems)
        self.platform = platform
        self.spec = spec
        self.steps = tuple(steps)
        timeout = timeout or Duration.hours(12)
        create_timeout = create_timeout or Duration.hours(1)
        terminate_timeout = terminate_timeout or Duration.hours(1)
        default_step_timeout = step_timeout or Duration.hours(6)

        self.cluster = ClusterLifecycle(
            self,
            platform,
            spec,
            create_timeout=create_timeout,
            terminate_timeout=terminate_timeout,
            log_encryption=log_encryption,
        )
        self.primary_security_group = self.cluster.primary_security_group
        self.core_security_group = self.cluster.core_security_group
        self.service_access_security_group = self.cluster.service_access_security_group
        #: The createCluster ``Parameters`` (RunJobFlow fields; ``Tags`` holds one JSONPath value).
        self.create_cluster_parameters = self.cluster.request
        create = self.cluster.create
        terminate_after_failure = self.cluster.terminate_after_failure

        chain, self.nested_state_machines = _step_chain(self, self.steps, default_step_timeout)
        for_each_mode = sfn.Map(
            self,
            "ForEachMode",
            comment="Run the steps for every item of $.modes, one item at a time, in order.",
            items_path="$.modes",
            max_concurrency=1,
            item_selector={
                "mode.$": "$$.Map.Item.Value",
                "ClusterId.$": "$.cluster.ClusterId",
                "input.$": "$$.Execution.Input",
            },
            result_path=sfn.JsonPath.DISCARD,
        )
        for_each_mode.item_processor(chain)
        for_each_mode.add_catch(terminate_after_failure, errors=["States.ALL"], result_path="$.error")

        terminate = self.cluster.terminate("Terminate the cluster after the last mode.")
        succeeded = sfn.Succeed(self, "Succeeded")
        validate = validate_input(
            self,
            input_fields={"modes": "array", **dict(input_fields or {})},
            next_state=create,
            example=example_input({"modes": "array", **dict(input_fields or {})}),
        )
        create.next(for_each_mode)
        for_each_mode.next(terminate)
        terminate.next(succeeded)

        # ---- the machine ----------------------------------------------------------------------------
        machine = PipelineMachine(
            self,
            platform,
            definition=validate,
            timeout=timeout,
            retention=retention,
            statements=[
                *self.cluster.statements(),
                *nested_pipeline_statements(self, self.nested_state_machines),
            ],
            description=f"Step Functions pipeline {self.node.path}: transient EMR clusters",
            policy_description="Create, step and terminate transient EMR clusters; pass two cluster roles",
            comment=f"Transient EMR cluster {spec.name}: create, run steps per mode, terminate",
        )
        self.log_group = machine.log_group
        self.role = machine.role
        self.emr_policy = machine.policy
        self.state_machine = machine.state_machine
        for execution in nested_execution_arns(self, self.nested_state_machines):
            acknowledge_resource(
                self.emr_policy,
                "AwsSolutions-IAM5",
                execution,
                "The nested pipeline's executions are named at run time; the policy allows only the "
                "executions of that one state machine.",
            )

    # ---- public -----------------------------------------------------------------------------------
    @property
    def state_machine_arn(self) -> str:
        """ARN of the state machine."""
        return self.state_machine.state_machine_arn

    def grant_start_execution(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` start executions of this state machine (a customer-managed policy)."""
        return start_execution_grant(
            self, grantee, self.state_machine, f"Start executions of the pipeline {self.node.path}"
        )


class ClusterStepsPipeline(Construct):
    """A state machine that runs steps, in order, on a cluster it is given: the inner machine.

    Its input is ``{"ClusterId": "j-...", "mode": "...", "input": {...}}``, which is what a
    :class:`NestedPipelineStep` of a :class:`TransientClusterPipeline` passes (the outer machine
    creates and always terminates the cluster, and loops over the modes); it can also run steps
    on a long-running cluster. ``ValidateInput`` checks ``ClusterId``, ``mode`` and the declared
    ``input_fields`` first. A failed step fails the execution with the step's error and cause.
    It creates and terminates no cluster, and its role cannot.

    Args:
        scope: parent construct.
        id: construct id.
        platform: the platform (same account and region).
        steps: the steps, in order (as for :class:`TransientClusterPipeline`, nested steps
            excepted).
        input_fields: fields of ``input`` the steps read, as for
            :class:`TransientClusterPipeline`. Default: none.
        timeout: longest an execution may run. Default 6 hours.
        step_timeout: longest a step builder's step may run. Default 6 hours.
        log_retention_days: days the execution logs are kept. Default
            :data:`~emr_patterns.defaults.LOG_GROUP_RETENTION_DAYS`.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        platform: IEmrPlatform,
        steps: Sequence[AnyStep],
        input_fields: Mapping[str, str] | None = None,
        timeout: Duration | None = None,
        step_timeout: Duration | None = None,
        log_retention_days: int = LOG_GROUP_RETENTION_DAYS,
    ) -> None:
        super().__init__(scope, id)
        problems = check_platform(self, "platform", platform)
        problems += _steps_problems(steps)
        problems += [
            problem(
                f"steps[{i}]", s.name, "is a NestedPipelineStep", "nest pipelines in the outer machine only"
            )
            for i, s in enumerate(steps if isinstance(steps, Sequence) else ())
            if isinstance(s, NestedPipelineStep)
        ]
        problems += input_fields_problems("input_fields", input_fields)
        problems += _untyped_input_problems(steps, input_fields or {})
        retention = retention_days("log_retention_days", log_retention_days, problems)
        raise_if_problems(f"ClusterStepsPipeline '{self.node.path}'", problems)
        self.platform = platform
        self.steps = tuple(steps)
        chain, _ = _step_chain(self, self.steps, step_timeout or Duration.hours(6))
        fields = {"ClusterId": "string", "mode": "string"}
        fields.update({f"input.{k}": v for k, v in (input_fields or {}).items()})
        validate = validate_input(self, input_fields=fields, next_state=chain, example=example_input(fields))
        stack = Stack.of(self)
        clusters = stack.format_arn(service="elasticmapreduce", resource="cluster", resource_name="*")
        machine = PipelineMachine(
            self,
            platform,
            definition=validate,
            timeout=timeout or Duration.hours(6),
            retention=retention,
            statements=[
                iam.PolicyStatement(
                    sid="ClusterSteps",
                    actions=[
                        "elasticmapreduce:AddJobFlowSteps",
                        "elasticmapreduce:DescribeStep",
                        "elasticmapreduce:CancelSteps",
                    ],
                    resources=[
                        stack.format_arn(service="elasticmapreduce", resource="cluster", resource_name="*")
                    ],
                ),
                iam.PolicyStatement(
                    sid="SyncIntegrationRule",
                    actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                    resources=[
                        stack.format_arn(
                            service="events",
                            resource="rule",
                            resource_name="StepFunctionsGetEventForEMRAddJobFlowStepsRule",
                        )
                    ],
                ),
            ],
            description=f"Step Functions pipeline {self.node.path}: steps on a given EMR cluster",
            policy_description="Add steps to EMR clusters and wait for them",
            comment="Run steps in order on the cluster in the input",
            wildcard_reason=None,  # no "*" resource; the cluster ARN pattern is acknowledged below
        )
        self.log_group = machine.log_group
        self.role = machine.role
        self.emr_policy = machine.policy
        self.state_machine = machine.state_machine
        acknowledge_resource(
            self.emr_policy,
            "AwsSolutions-IAM5",
            clusters,
            _GIVEN_CLUSTER,
        )

    @property
    def state_machine_arn(self) -> str:
        """ARN of the state machine."""
        return self.state_machine.state_machine_arn


def _step_chain(
    scope: Construct, steps: Sequence[AnyStep], default_step_timeout: Duration
) -> tuple[sfn.IChainable, list[sfn.IStateMachine]]:
    """The steps as ``addStep.sync`` (or nested ``startExecution.sync:2``) tasks in order, reading
    ``$.ClusterId``, ``$.mode`` and ``$.input``; and the nested state machines."""
    first: sfn.IChainable | None = None
    last: sfn.INextable | None = None
    previous: str | None = None
    nested: list[sfn.IStateMachine] = []
    for index, step in enumerate(steps, start=1):
        state: sfn.CustomState
        if isinstance(step, NestedPipelineStep):
            nested.append(step.state_machine)
            state = task(
                scope,
                f"Step{index}-{step.name}",
                "states:startExecution.sync:2",
                {
                    "StateMachineArn": step.state_machine.state_machine_arn,
                    "Name.$": f"States.Format('{{}}-{{}}-{index:02d}-{escape(step.name)}', "
                    "$$.Execution.Name, $.mode)",
                    "Input": {
                        "ClusterId.$": "$.ClusterId",
                        "mode.$": "$.mode",
                        "input.$": "$.input",
                        "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$": "$$.Execution.Id",
                    },
                },
                step.timeout,
                result_path="$.step",
                comment=f"Step {index} ({step.name}): run the nested pipeline on this cluster and mode.",
            )
        else:
            if isinstance(step, PipelineStep):
                step_json, output_value = _pipeline_step_json(step, previous)
                step_timeout = step.timeout
            else:
                step_json, output_value = dict(step.to_sfn_step()), None
                step_timeout = default_step_timeout
            step_json.pop("Name", None)
            step_json = {
                "Name.$": f"States.Format('{{}}-{index:02d}-{escape(step.name)}', $.mode)",
                **step_json,
            }
            state = task(
                scope,
                f"Step{index}-{step.name}",
                "elasticmapreduce:addStep.sync",
                {"ClusterId.$": "$.ClusterId", "Step": step_json},
                step_timeout,
                result_path="$.step",
                comment=f"Step {index} ({step.name}) for the current mode.",
            )
            previous = output_value if output_value is not None else previous
        if first is None:
            first = state
        else:
            assert last is not None
            last.next(state)
        last = state
    assert first is not None
    return first, nested


def _machine_name(stack: Stack, machine: sfn.IStateMachine) -> str:
    """The machine's name: its ``Name`` attribute when it is defined in the app, else parsed
    from its ARN."""
    name = getattr(machine, "state_machine_name", None)
    if isinstance(name, str):
        return name
    return str(stack.split_arn(machine.state_machine_arn, ArnFormat.COLON_RESOURCE_NAME).resource_name)


def nested_execution_arns(scope: Construct, machines: Sequence[sfn.IStateMachine]) -> list[str]:
    """ARN patterns of the executions of ``machines`` (``...:execution:<name>:*``)."""
    stack = Stack.of(scope)
    return [
        stack.format_arn(
            service="states",
            resource="execution",
            resource_name=f"{_machine_name(stack, m)}:*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        for m in machines
    ]


def nested_pipeline_statements(
    scope: Construct, machines: Sequence[sfn.IStateMachine]
) -> list[iam.PolicyStatement]:
    """What ``startExecution.sync:2`` needs: start the nested machines, watch and stop their
    executions, and Step Functions' managed EventBridge rule."""
    if not machines:
        return []
    stack = Stack.of(scope)
    executions = nested_execution_arns(scope, machines)
    return [
        iam.PolicyStatement(
            sid="StartNestedPipelines",
            actions=["states:StartExecution"],
            resources=[m.state_machine_arn for m in machines],
        ),
        iam.PolicyStatement(
            sid="WatchNestedPipelines",
            actions=["states:DescribeExecution", "states:StopExecution"],
            resources=executions,
        ),
        iam.PolicyStatement(
            sid="NestedSyncRule",
            actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
            resources=[
                stack.format_arn(
                    service="events",
                    resource="rule",
                    resource_name="StepFunctionsGetEventsForStepFunctionsExecutionRule",
                )
            ],
        ),
    ]


def _pipeline_step_json(step: PipelineStep, previous: str | None) -> tuple[dict[str, Any], str | None]:
    """(the ``Step`` object without its name, this step's output location expression)."""
    values = {"mode": "$.mode", "execution": "$$.Execution.Name", "previous_output": previous or "''"}
    output_value: str | None = None
    if step.output_location is not None:
        output_value, is_path = _format(step.output_location, values)
        output_value = output_value if is_path else _intrinsic_literal(output_value)
    values["output"] = output_value or "''"
    args: list[str] = []
    dynamic = False
    for arg in step.args:
        value, is_path = _format(arg, values)
        dynamic = dynamic or is_path
        args.append(value if is_path else _intrinsic_literal(value))
    hadoop: dict[str, Any] = {"Jar": step.jar}
    if dynamic:
        hadoop["Args.$"] = "States.Array(" + ", ".join(args) + ")"
    else:
        hadoop["Args"] = list(step.args)
    return {"ActionOnFailure": "CONTINUE", "HadoopJarStep": hadoop}, output_value


def _untyped_input_problems(steps: Any, input_fields: Mapping[str, str]) -> list[str]:
    """A step builder's JSONPaths may read only the Map item (``$.mode``, ``$.ClusterId``), the
    context object (``$$.``) and declared input fields (``$.input.<field>``): a path to anything
    else fails at run time with ``States.Runtime``, which no Catch handles."""
    if not isinstance(steps, Sequence) or isinstance(steps, str):
        return []
    out = []
    for i, step in enumerate(steps):
        if not isinstance(step, _BUILDER_STEPS):
            continue
        for path in step.json_paths:
            if path.startswith("$$.") or path in ("$.mode", "$.ClusterId"):
                continue
            field = path[len("$.input.") :] if path.startswith("$.input.") else None
            declared = field is not None and any(
                field == name or field.startswith(f"{name}.") or field.startswith(f"{name}[")
                for name in input_fields
            )
            if not declared:
                root = (field or path[2:]).split(".")[0]
                out.append(
                    problem(
                        f"steps[{i}]",
                        path,
                        "reads a JSONPath from untyped input (only $.mode, $.ClusterId, $$. and "
                        "$.input.<declared field> exist, and are checked before any cluster starts)",
                        f"declare the field: input_fields={{{root!r}: 'string'}}, "
                        "and read it as $.input.<field>",
                    )
                )
    return out


def _spec_problems(spec: Any) -> list[str]:
    if not isinstance(spec, ClusterSpec):
        return [problem("spec", spec, "is not a ClusterSpec", "build one with emr_patterns.spec")]
    out = []
    if spec.idle_timeout_seconds is None:
        out.append(
            problem(
                "spec.idle_timeout_seconds",
                None,
                "is not set; a transient cluster needs an AutoTerminationPolicy as the net for stopped "
                "or timed-out executions (stopping an execution does not terminate its cluster)",
                "set idle_timeout_seconds, e.g. 3600",
            )
        )
    if spec.termination_protected:
        out.append(
            problem(
                "spec.termination_protected",
                True,
                "would make terminateCluster fail and leave the cluster running",
                "use termination_protected=False for a transient cluster",
            )
        )
    if not spec.keep_alive_when_no_steps:
        out.append(
            problem(
                "spec.keep_alive_when_no_steps",
                False,
                "is rejected by Step Functions' createCluster (the steps come after creation)",
                "leave keep_alive_when_no_steps=True",
            )
        )
    out += platform_spec_problems(spec)
    if spec.managed_scaling is not None and spec.managed_scaling.scaling_strategy is not None:
        out.append(
            problem(
                "spec.managed_scaling.scaling_strategy",
                spec.managed_scaling.scaling_strategy,
                "is not accepted by Step Functions' createCluster",
                "leave scaling_strategy None for a pipeline cluster",
            )
        )
    return out


def _steps_problems(steps: Any) -> list[str]:
    if (
        isinstance(steps, (str, PipelineStep, NestedPipelineStep, *_BUILDER_STEPS))
        or not isinstance(steps, Sequence)
        or not steps
    ):
        return [
            problem(
                "steps",
                steps,
                "must be a non-empty sequence of steps (PipelineStep or a spec.steps builder)",
                'pass e.g. [PipelineStep("transform", ["spark-submit", "s3://.../job.py", "{mode}"])]',
            )
        ]
    out: list[str] = []
    seen: set[str] = set()
    for i, step in enumerate(steps):
        if not isinstance(step, (PipelineStep, NestedPipelineStep, *_BUILDER_STEPS)):
            out.append(
                problem(
                    f"steps[{i}]",
                    step,
                    "is not a PipelineStep, NestedPipelineStep or a step builder",
                    "wrap it in PipelineStep(...) or build a SparkSubmitStep, HiveScriptStep, "
                    "CommandRunnerStep or ScriptRunnerStep",
                )
            )
            continue
        if not isinstance(step.name, str) or not _NAME_RE.match(step.name):
            out.append(
                problem(
                    f"steps[{i}].name",
                    step.name,
                    "must be 1-64 letters, digits, spaces, '.', '_' or '-'",
                    "use a short name such as 'transform'",
                )
            )
        elif step.name in seen:
            out.append(
                problem(f"steps[{i}].name", step.name, "is used twice", "give every step its own name")
            )
        seen.add(step.name)
        if isinstance(step, NestedPipelineStep):
            if not hasattr(step.state_machine, "state_machine_arn"):
                out.append(
                    problem(
                        f"steps[{i}].state_machine",
                        step.state_machine,
                        "is not a state machine",
                        "pass ClusterStepsPipeline(...).state_machine or an imported state machine",
                    )
                )
            out += _timeout_problems(f"steps[{i}].timeout", step.timeout)
            continue
        if not isinstance(step, PipelineStep):
            continue
        if not step.args or any(not isinstance(a, str) for a in step.args):
            out.append(
                problem(
                    f"steps[{i}].args", step.args, "must be a non-empty sequence of str", "list the arguments"
                )
            )
        if i == 0 and any("{previous_output}" in a for a in step.args if isinstance(a, str)):
            out.append(
                problem(
                    f"steps[{i}].args",
                    step.args,
                    "uses {previous_output} in the first step",
                    "pass the input location explicitly",
                )
            )
        out += _timeout_problems(f"steps[{i}].timeout", step.timeout)
    return out


def _timeout_problems(prop: str, timeout: Any) -> list[str]:
    seconds = timeout.to_seconds() if isinstance(timeout, Duration) else None
    if seconds is None or seconds < 60:
        return [problem(prop, timeout, "must be a Duration of 1 minute or more", "use Duration.hours(6)")]
    return []
