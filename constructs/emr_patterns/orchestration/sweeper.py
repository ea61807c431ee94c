"""EmrClusterSweeper: terminate the EMR clusters a stopped Step Functions execution left behind.

Stopping an execution, or its timing out, does not terminate a cluster it created with
``createCluster.sync``; neither does a failure that escapes the pipeline's Catch. The sweeper
listens for those executions' status changes and terminates the clusters tagged with the
execution's ARN.
"""

from __future__ import annotations

from collections.abc import Sequence

import jsii
from aws_cdk import Arn, ArnComponents, ArnFormat, Aws, Duration, Stack, Token
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct, IValidation

from emr_patterns._cfn import nag_resource
from emr_patterns.errors import problem, raise_if_problems
from emr_patterns.foundation.functions import PlatformFunction
from emr_patterns.foundation.platform import IEmrPlatform, check_platform
from emr_patterns.nag import acknowledge, checkov_skip
from emr_patterns.orchestration._delivery import dead_letter_queue

__all__ = ["DEFAULT_TAG_KEY", "SWEPT_STATUSES", "EmrClusterSweeper"]

#: The cluster tag that names the execution which created the cluster.
DEFAULT_TAG_KEY = "emr-patterns:execution-arn"
#: Execution statuses after which a cluster the execution created is orphaned.
SWEPT_STATUSES = ("ABORTED", "TIMED_OUT", "FAILED")
#: What the sweeper may do to a cluster carrying the tag of a swept execution.
TERMINATE_ACTIONS = ("elasticmapreduce:SetTerminationProtection", "elasticmapreduce:TerminateJobFlows")
_MAX_TAG_KEY = 128
#: How long EventBridge (and Lambda's asynchronous queue) keep retrying one event.
_MAX_EVENT_AGE = Duration.hours(6)


@jsii.implements(IValidation)
class _NeedsStateMachine:
    """Synthesis fails while the sweeper watches no state machine (its rule would match all)."""

    def __init__(self, sweeper: EmrClusterSweeper) -> None:
        self._sweeper = sweeper

    def validate(self) -> list[str]:
        if self._sweeper.state_machine_arns:
            return []
        return [
            problem(
                "state_machines",
                [],
                "the sweeper watches no state machine, so its rule would match every execution in the "
                "account",
                "pass state_machines=[...] or call add_state_machine(sm)",
            )
        ]


class EmrClusterSweeper(Construct):
    """Terminates the EMR clusters that an aborted, timed-out or failed execution left running.

    An EventBridge rule (``Rule``) matches "Step Functions Execution Status Change" events with
    status ``ABORTED``, ``TIMED_OUT`` or ``FAILED`` of exactly the given state machines and
    invokes a function (``Function``, a :class:`PlatformFunction` in the platform's private
    subnets, reaching EMR through the platform's ``emr`` interface endpoint). The function lists
    the clusters in ``STARTING``, ``BOOTSTRAPPING``, ``RUNNING`` or ``WAITING``, reads their tags
    and terminates those tagged ``<tag_key>=<the execution's ARN>``, turning termination
    protection off first where it is on (multi-primary clusters have it on automatically).
    Clusters without the tag, or with another execution's ARN, are left alone.

    The pipelines must tag every cluster they create with ``tag_key`` and ``$$.Execution.Id``.

    Children (stable ids): ``DeadLetterQueue`` (SQS, SSE-KMS with the platform key, SSL only,
    14 days, retained on stack deletion unless ``emr-patterns:removeDataOnDestroy`` is set:
    events EventBridge could not deliver and invocations that failed after Lambda's retries),
    ``Function`` (the :class:`PlatformFunction`), ``ClusterPolicy`` (customer-managed:
    the EMR actions and sending to the queue), ``Rule`` (4 delivery retries within 6 hours).

    IAM (all customer-managed): ``elasticmapreduce:ListClusters`` on ``*`` (it supports no
    resource scoping); ``elasticmapreduce:DescribeCluster`` on ``cluster/*`` (finding the tagged
    clusters means reading every active cluster's tags);
    ``elasticmapreduce:SetTerminationProtection`` and ``elasticmapreduce:TerminateJobFlows`` on
    ``cluster/*`` only where ``aws:ResourceTag/<tag_key>`` names an execution of one of the
    watched state machines; ``sqs:SendMessage`` and the key's ``kms:GenerateDataKey``/
    ``kms:Decrypt`` for the dead-letter queue. When the platform key is defined in this app its
    key policy lets EventBridge (this account) encrypt into the queue; for an imported key, add
    that statement to the key policy yourself.

    Args:
        scope: parent construct.
        id: construct id.
        platform: the platform whose VPC, private subnets and key the sweeper uses.
        state_machines: the state machines whose executions' clusters are swept; more can be
            added with :meth:`add_state_machine`. Synthesis fails while there are none.
            Default: none.
        tag_key: the cluster tag whose value is the ARN of the execution that created the
            cluster. Default: ``emr-patterns:execution-arn``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        platform: IEmrPlatform,
        state_machines: Sequence[sfn.IStateMachine] = (),
        tag_key: str = DEFAULT_TAG_KEY,
    ) -> None:
        super().__init__(scope, id)
        where = f"EmrClusterSweeper '{self.node.path}'"
        raise_if_problems(where, [*check_platform(self, "platform", platform), *_check_tag_key(tag_key)])
        self.platform = platform
        self.tag_key = tag_key
        #: ARNs of the watched state machines, in the order they were added.
        self.state_machine_arns: list[str] = []
        stack = Stack.of(self)
        key = platform.key

        self.dead_letter_queue = dead_letter_queue(
            self,
            key,
            "the sweeper's EventBridge target and of its function's asynchronous invocations",
            lambda_dead_letter_queue=True,
        )
        # EventBridge encrypts with the key when it parks an event in the queue.
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowEventBridgeToEncryptedQueues",
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            )
        )

        self.cluster_arn_pattern = stack.format_arn(
            service="elasticmapreduce", resource="cluster", resource_name="*"
        )
        self.policy = iam.ManagedPolicy(
            self,
            "ClusterPolicy",
            description="EMR cluster sweeper: find and terminate the clusters of stopped executions",
            statements=[
                iam.PolicyStatement(
                    sid="ListClusters", actions=["elasticmapreduce:ListClusters"], resources=["*"]
                ),
                iam.PolicyStatement(
                    sid="ReadClusterTags",
                    actions=["elasticmapreduce:DescribeCluster"],
                    resources=[self.cluster_arn_pattern],
                ),
                iam.PolicyStatement(
                    sid="EncryptDeadLetters",
                    actions=["kms:GenerateDataKey", "kms:Decrypt"],
                    resources=[key.key_arn],
                ),
            ],
        )
        acknowledge(
            self.policy,
            "AwsSolutions-IAM5[Resource::*]",
            "elasticmapreduce:ListClusters supports no resource-level permissions; it only lists "
            "cluster ids and states.",
        )
        acknowledge(
            self.policy,
            f"AwsSolutions-IAM5[Resource::{nag_resource(self, self.cluster_arn_pattern)}]",
            "The sweeper must read the tags of every active cluster (DescribeCluster) to find the ones an "
            "execution created; SetTerminationProtection and TerminateJobFlows on these clusters are "
            "allowed only where the cluster's execution tag names an execution of a watched state machine.",
        )

        self.function = PlatformFunction(
            self,
            "Function",
            handler="emr_sweeper",
            entry="handler",
            custom_resource=False,
            description="Terminates the EMR clusters of aborted, timed-out or failed executions",
            vpc=platform.vpc,
            vpc_subnets=platform.vpc_subnets,
            key=key,
            statements=[],
            timeout=Duration.minutes(5),
            dead_letter_queue=self.dead_letter_queue,
            invocation="Runs once per aborted, timed-out or failed execution",
        )
        self.policy.attach_to_role(self.function.role)
        self.function.function.node.add_dependency(self.policy)
        # Lambda's own asynchronous defaults apply: 2 retries within 6 hours, then the queue.

        self.rule = events.Rule(
            self,
            "Rule",
            description="Aborted, timed-out or failed executions whose EMR clusters are swept",
            event_pattern=events.EventPattern(
                source=["aws.states"],
                detail_type=["Step Functions Execution Status Change"],
                detail={"status": list(SWEPT_STATUSES)},
            ),
            targets=[
                targets.LambdaFunction(
                    self.function.function,
                    event=events.RuleTargetInput.from_object(
                        {"detail": events.EventField.from_path("$.detail"), "tagKey": tag_key}
                    ),
                    dead_letter_queue=self.dead_letter_queue,
                    retry_attempts=4,
                    max_event_age=_MAX_EVENT_AGE,
                )
            ],
        )
        self.node.add_validation(_NeedsStateMachine(self))
        for state_machine in state_machines:
            self.add_state_machine(state_machine)
        checkov_skip(
            self.policy,
            "CKV_AWS_111",
            "Only elasticmapreduce:ListClusters (no resource-level permissions) uses '*'; the write "
            "actions are on cluster ARNs under a tag condition.",
        )

    def add_state_machine(self, state_machine: sfn.IStateMachine) -> None:
        """Also sweep the clusters of ``state_machine``'s aborted, timed-out or failed executions."""
        arn = state_machine.state_machine_arn
        if arn in self.state_machine_arns:
            return
        self.state_machine_arns.append(arn)
        self.rule.add_event_pattern(detail={"stateMachineArn": [arn]})
        self._allow_terminate(arn)

    def _allow_terminate(self, state_machine_arn: str) -> None:
        """Let the function terminate clusters tagged with an execution of ``state_machine_arn``."""
        parts = Arn.split(state_machine_arn, ArnFormat.COLON_RESOURCE_NAME)
        executions = Arn.format(
            ArnComponents(
                partition=parts.partition,
                service="states",
                region=parts.region,
                account=parts.account,
                resource="execution",
                resource_name=f"{parts.resource_name}:*",
                arn_format=ArnFormat.COLON_RESOURCE_NAME,
            )
        )
        self.policy.add_statements(
            iam.PolicyStatement(
                sid=f"TerminateClustersOfSweptExecutions{len(self.state_machine_arns)}",
                actions=list(TERMINATE_ACTIONS),
                resources=[self.cluster_arn_pattern],
                conditions={"StringLike": {f"aws:ResourceTag/{self.tag_key}": executions}},
            )
        )


def _check_tag_key(tag_key: object) -> list[str]:
    if not isinstance(tag_key, str) or Token.is_unresolved(tag_key):
        if isinstance(tag_key, str):
            return []
        return [problem("tag_key", tag_key, "is not a string", f"pass a tag key such as {DEFAULT_TAG_KEY!r}")]
    if not tag_key or len(tag_key) > _MAX_TAG_KEY:
        return [problem("tag_key", tag_key, f"must be 1 to {_MAX_TAG_KEY} characters", "shorten it")]
    if tag_key.lower().startswith("aws:"):
        return [
            problem("tag_key", tag_key, "uses the 'aws:' prefix reserved for AWS", "choose another prefix")
        ]
    return []
