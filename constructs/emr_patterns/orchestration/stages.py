"""Stages for composed pipelines: an outer state machine that runs other work in order.

A pattern that does more than run steps on a transient cluster (a DataBrew job first, a warehouse
load after, a notification with the result) builds an outer machine from these pieces, and runs
the cluster part as a nested :class:`~emr_patterns.orchestration.TransientClusterPipeline`
execution, so the cluster's create-run-terminate guarantees stay in one place:

* :func:`run_pipeline` - a ``states:startExecution.sync:2`` task that runs another pipeline to its
  end (the nested execution is named after the outer one and stopped with it);
* :func:`read_json_result` - ``aws-sdk:s3:getObject`` of a JSON file a job wrote, parsed with
  ``States.StringToJson``, then a Choice that fails catchably (with an error of the caller's) when
  a field later states read is missing: a missing field would otherwise be a ``States.Runtime``
  error, which no ``Catch`` handles;
* :class:`OuterMachine` - the machine (:class:`PipelineMachine`: KMS-encrypted logs, X-Ray,
  customer-managed policies) with the nested pipelines' permissions and their acknowledgement.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from emr_patterns.foundation.platform import IEmrPlatform
from emr_patterns.nag import acknowledge_resource
from emr_patterns.orchestration._machine import (
    FIELD_RE,
    PipelineMachine,
    escape,
    example_input,
    input_fields_problems,
    task,
    validate_input,
)
from emr_patterns.orchestration.pipeline import nested_execution_arns, nested_pipeline_statements

__all__ = [
    "FIELD_RE",
    "OuterMachine",
    "escape",
    "example_input",
    "input_fields_problems",
    "read_json_result",
    "read_json_statements",
    "run_pipeline",
    "task",
    "validate_input",
]


def run_pipeline(
    scope: Construct,
    id: str,
    machine: sfn.IStateMachine,
    *,
    input: Mapping[str, Any],
    timeout: Duration,
    result_path: str,
    comment: str,
) -> sfn.CustomState:
    """``states:startExecution.sync:2`` of ``machine`` with ``input`` (JSONPath values allowed,
    keys ending in ``.$``); the nested execution is named ``<outer execution>-<id>``, carries
    ``AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID`` (so stopping the outer one stops it), and its
    output (parsed JSON) goes to ``result_path``."""
    return task(
        scope,
        id,
        "states:startExecution.sync:2",
        {
            "StateMachineArn": machine.state_machine_arn,
            "Name.$": f"States.Format('{{}}-{escape(id)}', $$.Execution.Name)",
            "Input": {**dict(input), "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$": "$$.Execution.Id"},
        },
        timeout,
        result_path=result_path,
        result_selector={"output.$": "$.Output", "execution.$": "$.ExecutionArn"},
        comment=comment,
    )


def read_json_result(
    scope: Construct,
    id: str,
    *,
    bucket: s3.IBucket,
    key: str,
    result_path: str,
    fields: Mapping[str, str],
    error: str,
    next_state: sfn.IChainable,
    comment: str,
) -> sfn.IChainable:
    """``<id>`` (getObject of ``key`` in ``bucket``, the body parsed into ``<result_path>.value``),
    then ``<id>Check``: ``next_state`` when every field of ``fields`` (dotted name under the value
    -> ``string``/``number``/``boolean``/``array``/``object``/``timestamp``) is present with its type,
    else ``<id>Incomplete``, a Fail with ``error``. ``key`` is an intrinsic expression (e.g.
    ``States.Format('runs/{}/metrics.json', $$.Execution.Name)``) or a plain key. Retries a missing
    object three times (S3 consistency is strong; the retry covers a writer that closes late)."""
    params: dict[str, Any] = {"Bucket": bucket.bucket_name}
    if key.startswith("States."):
        params["Key.$"] = key
    else:
        params["Key"] = key
    read = task(
        scope,
        id,
        "aws-sdk:s3:getObject",
        params,
        Duration.minutes(2),
        result_path=result_path,
        result_selector={"value.$": "States.StringToJson($.Body)"},
        comment=comment,
    )
    read.add_retry(
        errors=["S3.NoSuchKey", "S3.S3Exception"],
        interval=Duration.seconds(5),
        max_attempts=3,
        backoff_rate=2,
    )
    if not fields:
        read.next(next_state)
        return read
    incomplete = sfn.Fail(
        scope,
        f"{id}Incomplete",
        error=error,
        cause="The JSON file lacks a field the next states read, or has it with another type: expected "
        + ", ".join(f"{name} ({kind})" for name, kind in fields.items()),
    )
    check = validate_input(
        scope,
        input_fields=fields,
        next_state=next_state,
        example=example_input(fields),
        prefix=f"{result_path}.value",
        choice_id=f"{id}Check",
        invalid=incomplete,
    )
    read.next(check)
    return read


def read_json_statements(
    bucket: s3.IBucket, key_pattern: str, key: kms.IKey | None
) -> list[iam.PolicyStatement]:
    """What :func:`read_json_result` needs: ``s3:GetObject`` on ``key_pattern`` objects of
    ``bucket`` (``*`` allowed) and ``kms:Decrypt`` with the bucket's key."""
    out = [iam.PolicyStatement(actions=["s3:GetObject"], resources=[bucket.arn_for_objects(key_pattern)])]
    if key is not None:
        out.append(iam.PolicyStatement(actions=["kms:Decrypt"], resources=[key.key_arn]))
    return out


class OuterMachine(PipelineMachine):
    """An outer pipeline's state machine under ``scope``: :class:`PipelineMachine` with the
    permissions to run ``nested`` to completion (start them; describe and stop their executions;
    Step Functions' managed rule), acknowledged on the one policy for the executions' run-time
    names."""

    def __init__(
        self,
        scope: Construct,
        platform: IEmrPlatform,
        *,
        definition: sfn.IChainable,
        nested: Sequence[sfn.IStateMachine],
        statements: Sequence[iam.PolicyStatement],
        timeout: Duration,
        retention: logs.RetentionDays,
        description: str,
        policy_description: str,
        comment: str,
        wildcard_reason: str | None,
    ) -> None:
        super().__init__(
            scope,
            platform,
            definition=definition,
            timeout=timeout,
            retention=retention,
            statements=[*statements, *nested_pipeline_statements(scope, nested)],
            description=description,
            policy_description=policy_description,
            comment=comment,
            wildcard_reason=wildcard_reason,
        )
        for execution in nested_execution_arns(scope, nested):
            acknowledge_resource(
                self.policy,
                "AwsSolutions-IAM5",
                execution,
                "The nested pipeline's executions are named at run time; the policy allows only the "
                "executions of that one state machine.",
            )
