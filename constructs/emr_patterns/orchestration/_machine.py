"""The parts every pipeline state machine shares.

* :class:`ClusterLifecycle` - the transient cluster: its security groups, the ``createCluster.sync``
  state rendered from a :class:`~emr_patterns.spec.ClusterSpec`, the terminate states and the
  terminate-then-fail branch every state after creation catches into, and the IAM for them.
* :func:`validate_input` - the first state: a Choice that fails with ``InvalidInput`` before
  anything is created when a declared input field is missing or has the wrong type.
* :class:`PipelineMachine` - the state machine with its KMS-encrypted log group (``ALL``, with
  execution data), X-Ray tracing and a role whose policies are customer-managed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from emr_patterns import _perms
from emr_patterns._context import resolve_removal_policy
from emr_patterns._iam import ManagedGrantsRole, managed_policy_grant
from emr_patterns.compute.cluster import cluster_security_groups, platform_bindings
from emr_patterns.errors import problem
from emr_patterns.foundation.platform import IEmrPlatform
from emr_patterns.foundation.roles import create_cleanup_role_statement, pass_role_targets
from emr_patterns.nag import acknowledge, cfn_lint_ignore, checkov_skip
from emr_patterns.orchestration.sweeper import DEFAULT_TAG_KEY
from emr_patterns.spec import ClusterSpec
from emr_patterns.spec.steps import intrinsic_literal

#: Tag on every cluster a pipeline creates: the execution that owns it (the sweeper's key).
EXECUTION_ARN_TAG = DEFAULT_TAG_KEY

#: The types an input field may be declared with, and the Choice conditions that refute each.
INPUT_TYPES = ("string", "number", "boolean", "array", "object", "timestamp")
#: A field name: letters, digits and `_`, dotted for nested objects (input and result fields).
FIELD_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}(\.[A-Za-z_][A-Za-z0-9_]{0,63}){0,7}$")


def escape(text: str) -> str:
    """``text`` escaped for the inside of an intrinsic string literal (``\\``, ``'``, ``{``, ``}``),
    CDK string tokens kept whole (the step builders' escaping)."""
    return intrinsic_literal(text)[1:-1]


def task(
    scope: Construct,
    id: str,
    resource: str,
    parameters: dict[str, Any],
    timeout: Duration,
    *,
    result_path: str | None = None,
    result_selector: dict[str, Any] | None = None,
    comment: str,
) -> sfn.CustomState:
    """A Task state for ``arn:<partition>:states:::<resource>`` (e.g. ``elasticmapreduce:addStep.sync``
    or ``aws-sdk:emr:startNotebookExecution``) with a ``TimeoutSeconds``."""
    state: dict[str, Any] = {
        "Type": "Task",
        "Comment": comment,
        "Resource": f"arn:{Stack.of(scope).partition}:states:::{resource}",
        "Parameters": parameters,
        "TimeoutSeconds": int(timeout.to_seconds()),
    }
    if result_selector is not None:
        state["ResultSelector"] = result_selector
    # CustomState drops a null ResultPath, so outputs go to a path of their own instead.
    if result_path is not None:
        state["ResultPath"] = result_path
    return sfn.CustomState(scope, id, state_json=state)


def with_sid(statement: iam.PolicyStatement, sid: str) -> iam.PolicyStatement:
    """``statement`` with a statement id."""
    return iam.PolicyStatement(
        sid=sid, actions=statement.actions, resources=statement.resources, conditions=statement.conditions
    )


def input_fields_problems(prop: str, input_fields: Any) -> list[str]:
    """Pure validator of an ``input_fields`` mapping: dotted field names to :data:`INPUT_TYPES`."""
    if input_fields is None:
        return []
    if not isinstance(input_fields, Mapping):
        return [problem(prop, input_fields, "is not a mapping", 'pass e.g. {"date": "string"}')]
    out = []
    for name, kind in input_fields.items():
        if not isinstance(name, str) or not FIELD_RE.match(name):
            out.append(
                problem(
                    f"{prop} key",
                    name,
                    "is not a field name (letters, digits and '_', dotted for nested objects)",
                    'use e.g. "date" or "source.key"',
                )
            )
        if kind not in INPUT_TYPES:
            out.append(
                problem(f"{prop}[{name!r}]", kind, "is not an input type", f"use one of {INPUT_TYPES}")
            )
    return out


def _refutations(path: str, kind: str) -> list[sfn.Condition]:
    """Conditions any of which shows the value at ``path`` is not a present ``kind``."""
    missing = [sfn.Condition.is_not_present(path), sfn.Condition.is_null(path)]
    if kind == "string":
        return [*missing, sfn.Condition.is_not_string(path)]
    if kind == "timestamp":
        return [*missing, sfn.Condition.is_not_timestamp(path)]
    if kind == "number":
        return [*missing, sfn.Condition.is_not_numeric(path)]
    if kind == "boolean":
        return [*missing, sfn.Condition.is_not_boolean(path)]
    scalar = [
        sfn.Condition.is_string(path),
        sfn.Condition.is_numeric(path),
        sfn.Condition.is_boolean(path),
    ]
    if kind == "array":  # a non-empty array: ASL has no IsArray, an item [0] is the test
        return [*missing, *scalar, sfn.Condition.is_not_present(f"{path}[0]")]
    # an object: not a scalar and not a non-empty array
    return [*missing, *scalar, sfn.Condition.is_present(f"{path}[0]")]


def validate_input(
    scope: Construct,
    *,
    input_fields: Mapping[str, str],
    next_state: sfn.IChainable,
    example: str,
    prefix: str = "$",
    choice_id: str = "ValidateInput",
    invalid: sfn.Fail | None = None,
) -> sfn.IChainable:
    """``ValidateInput``: a Choice that goes to ``next_state`` only when every declared field of
    the execution input is present with its type, else to ``InvalidInput`` (a Fail state whose
    cause lists the expected fields). Nothing has been created when it fails. With no declared
    field there is nothing to check, and ``next_state`` is returned (a Choice needs a rule).

    ``prefix`` (a JSONPath, default ``$``), ``choice_id`` and ``invalid`` (a Fail state of the
    caller's) check fields of another object the same way, e.g. a result a task read."""
    if not input_fields:
        return next_state
    if invalid is None:
        expected = ", ".join(f"{name} ({kind})" for name, kind in input_fields.items())
        invalid = sfn.Fail(
            scope,
            "InvalidInput",
            error="InvalidInput",
            cause=f"The input needs {expected}, e.g. {example}. Nothing was created.",
        )
    conditions = [c for name, kind in input_fields.items() for c in _refutations(f"{prefix}.{name}", kind)]
    comment = (
        "Fail before anything is created on bad input."
        if prefix == "$"
        else f"Fail on a missing or mistyped field of {prefix}."
    )
    choice = sfn.Choice(scope, choice_id, comment=comment)
    return choice.when(sfn.Condition.or_(*conditions), invalid).otherwise(next_state)


def example_input(input_fields: Mapping[str, str]) -> str:
    """A JSON example of an input with ``input_fields`` (for error causes and docs)."""
    samples = {
        "string": "text",
        "number": 1,
        "boolean": True,
        "array": ["full"],
        "object": {},
        "timestamp": "2026-01-01T00:00:00Z",
    }
    root: dict[str, Any] = {}
    for name, kind in input_fields.items():
        node = root
        *parents, leaf = name.split(".")
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = samples[kind]
    return json.dumps(root)


class ClusterLifecycle:
    """The transient cluster of a pipeline, as states and IAM, built under ``scope``.

    Children of ``scope`` (stable ids): ``PrimarySecurityGroup``, ``CoreSecurityGroup``,
    ``ServiceAccessSecurityGroup``; states ``CreateCluster`` (never retried; a failure goes to
    ``ClusterCreationFailed``), ``TerminateAfterFailure`` (retried three times, then
    ``PipelineFailed`` with the caught ``Error`` and ``Cause``) and, from :meth:`terminate`,
    ``TerminateCluster``. The cluster id is at ``$.cluster.ClusterId``; failures are caught with
    ``ResultPath`` ``$.error``.
    """

    def __init__(
        self,
        scope: Construct,
        platform: IEmrPlatform,
        spec: ClusterSpec,
        *,
        create_timeout: Duration,
        terminate_timeout: Duration,
        log_encryption: bool,
        extra_primary_security_groups: Sequence[str] = (),
    ) -> None:
        self.scope = scope
        self.platform = platform
        self.terminate_timeout = terminate_timeout
        (
            self.primary_security_group,
            self.core_security_group,
            self.service_access_security_group,
        ) = cluster_security_groups(scope, platform.vpc)
        groups = (self.primary_security_group, self.core_security_group, self.service_access_security_group)
        # No autoscaling role: the machine may pass only the service and instance roles.
        bindings = platform_bindings(
            platform, spec, groups, log_encryption=log_encryption, auto_scaling_role=False
        )
        request = spec.to_run_job_flow_request(bindings)
        request["Tags"] = [
            *[t for t in request.get("Tags", []) if t.get("Key") != EXECUTION_ARN_TAG],
            {"Key": EXECUTION_ARN_TAG, "Value.$": "$$.Execution.Id"},
        ]
        if extra_primary_security_groups:
            instances = request["Instances"]
            instances["AdditionalMasterSecurityGroups"] = [
                *instances.get("AdditionalMasterSecurityGroups", []),
                *extra_primary_security_groups,
            ]
        #: The createCluster ``Parameters`` (RunJobFlow fields; ``Tags`` holds one JSONPath value).
        self.request = request

        self.failed = sfn.Fail(
            scope,
            "PipelineFailed",
            comment="The pipeline failed; its cluster was terminated.",
            error_path="$.error.Error",
            cause_path="$.error.Cause",
        )
        self.terminate_after_failure = task(
            scope,
            "TerminateAfterFailure",
            "elasticmapreduce:terminateCluster.sync",
            {"ClusterId.$": "$.cluster.ClusterId"},
            terminate_timeout,
            result_path="$.termination",  # $.error and $.cluster reach the Fail state
            comment="Terminate the cluster, then fail with what failed.",
        )
        self.terminate_after_failure.add_retry(
            errors=["States.ALL"], interval=Duration.seconds(30), max_attempts=3, backoff_rate=2
        )
        self.terminate_after_failure.add_catch(self.failed, errors=["States.ALL"], result_path="$.error")
        self.terminate_after_failure.next(self.failed)

        creation_failed = sfn.Fail(
            scope,
            "ClusterCreationFailed",
            comment="createCluster failed; EMR terminates a cluster that fails to start.",
            error_path="$.error.Error",
            cause_path="$.error.Cause",
        )
        self.create = task(
            scope,
            "CreateCluster",
            "elasticmapreduce:createCluster.sync",
            request,
            create_timeout,
            result_path="$.cluster",
            result_selector={"ClusterId.$": "$.ClusterId"},
            comment=f"Create the transient cluster {spec.name} (never retried).",
        )
        self.create.add_catch(creation_failed, errors=["States.ALL"], result_path="$.error")

    def terminate(self, comment: str) -> sfn.CustomState:
        """``TerminateCluster``: the last state of a successful run (failures go to the
        terminate-then-fail branch)."""
        state = task(
            self.scope,
            "TerminateCluster",
            "elasticmapreduce:terminateCluster.sync",
            {"ClusterId.$": "$.cluster.ClusterId"},
            self.terminate_timeout,
            result_path="$.termination",
            comment=comment,
        )
        state.add_catch(self.terminate_after_failure, errors=["States.ALL"], result_path="$.error")
        return state

    def statements(self) -> list[iam.PolicyStatement]:
        """Create, step and terminate clusters; pass only the two cluster roles; the ``.sync``
        EventBridge rules; EMR's cleanup service-linked role."""
        stack = Stack.of(self.scope)
        platform = self.platform
        return [
            iam.PolicyStatement(
                sid="TransientClusters", actions=list(_perms.EMR_PIPELINE_ACTIONS), resources=["*"]
            ),
            *(
                iam.PolicyStatement(sid=sid, actions=["iam:PassRole"], resources=[arn], conditions=condition)
                for sid, (arn, condition) in zip(
                    ("PassServiceRole", "PassInstanceRole"),
                    pass_role_targets(platform.service_role, platform.instance_role),
                    strict=True,
                )
            ),
            iam.PolicyStatement(
                sid="SyncIntegrationRules",
                actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                resources=[
                    stack.format_arn(service="events", resource="rule", resource_name=r)
                    for r in _perms.EMR_SYNC_RULES
                ],
            ),
            with_sid(create_cleanup_role_statement(stack), "CreateEmrCleanupRole"),
        ]


def grant_start_execution(
    scope: Construct, grantee: iam.IGrantable, machine: sfn.IStateMachine, description: str
) -> iam.Grant:
    """A customer-managed policy letting ``grantee`` start executions of ``machine`` only."""
    return managed_policy_grant(
        scope,
        "StartExecution",
        grantee,
        actions=["states:StartExecution"],
        resource_arns=[machine.state_machine_arn],
        description=description,
    )


class PipelineMachine:
    """A pipeline's state machine under ``scope``: ``Logs`` (KMS, ``/aws/vendedlogs/states/...``),
    ``Role`` (customer-managed grants), ``EmrPolicy`` (``statements``) and ``Resource``."""

    def __init__(
        self,
        scope: Construct,
        platform: IEmrPlatform,
        *,
        definition: sfn.IChainable,
        timeout: Duration,
        retention: logs.RetentionDays,
        statements: Sequence[iam.PolicyStatement],
        description: str,
        policy_description: str,
        comment: str,
        wildcard_reason: str | None = (
            "RunJobFlow supports no resource-level permissions, and the cluster ids of the other EMR "
            "actions are only known at run time (the clusters this machine creates); PassRole and the "
            "EventBridge rules are scoped."
        ),
    ) -> None:
        self.log_group = logs.LogGroup(
            scope,
            "Logs",
            # Step Functions vended log delivery needs no resource-policy entry for this prefix.
            log_group_name=f"/aws/vendedlogs/states/{Stack.of(scope).stack_name}-{scope.node.addr}",
            encryption_key=platform.key,
            retention=retention,
            removal_policy=resolve_removal_policy(scope, None, "pipeline logs"),
        )
        self.role = ManagedGrantsRole(
            scope, "Role", assumed_by=iam.ServicePrincipal("states.amazonaws.com"), description=description
        )
        self.policy = iam.ManagedPolicy(
            scope, "EmrPolicy", description=policy_description, statements=list(statements), roles=[self.role]
        )
        self.state_machine = sfn.StateMachine(
            scope,
            "Resource",
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            role=self.role,
            timeout=timeout,
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=True
            ),
            comment=comment,
        )
        self.state_machine.node.add_dependency(self.policy)
        # aws-cdk adds a DependsOn on the role that the RoleArn GetAtt already implies (W3005).
        cfn_lint_ignore(self.state_machine, "W3005")
        if wildcard_reason is not None:  # None: no statement has a "*" resource
            acknowledge(self.policy, "AwsSolutions-IAM5[Resource::*]", wildcard_reason)
            checkov_skip(self.policy, "CKV_AWS_111", wildcard_reason)
        acknowledge(
            self.role,
            "AwsSolutions-IAM5[Resource::*]",
            "Step Functions log delivery (logs:*LogDelivery*, DescribeLogGroups) and X-Ray trace upload "
            "support no resource-level permissions.",
        )
