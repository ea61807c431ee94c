"""PipelineNotifications: an SNS message when an execution of a watched state machine changes status."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import jsii
from aws_cdk import Duration, RemovalPolicy, Stack, Token
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from emr_patterns._context import resolve_removal_policy
from emr_patterns.defaults import KEY_PENDING_WINDOW_DAYS
from emr_patterns.errors import problem, raise_if_problems
from emr_patterns.orchestration._delivery import (
    DEFAULT_MAX_EVENT_AGE,
    DEFAULT_RETRY_ATTEMPTS,
    dead_letter_queue,
    rule_arn,
    rule_name,
)

__all__ = [
    "DEFAULT_NOTIFIED_STATUSES",
    "EXECUTION_STATUSES",
    "MESSAGE_FIELDS",
    "PipelineNotifications",
    "email_problems",
]

#: Every ``status`` a "Step Functions Execution Status Change" event can carry.
EXECUTION_STATUSES = ("RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE")
#: The statuses notified unless ``statuses`` says otherwise: every way an execution ends.
DEFAULT_NOTIFIED_STATUSES = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")
#: Field of the SNS message -> the JSONPath in the status-change event it comes from.
MESSAGE_FIELDS: dict[str, str] = {
    "stateMachineArn": "$.detail.stateMachineArn",
    "execution": "$.detail.name",
    "executionArn": "$.detail.executionArn",
    "status": "$.detail.status",
    "error": "$.detail.error",
    "cause": "$.detail.cause",
    "startDate": "$.detail.startDate",
    "stopDate": "$.detail.stopDate",
    "time": "$.time",
}
_MAX_EMAIL = 254
_MAX_LOCAL_PART = 64
_LOCAL_PART_CHARS = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|}~."
)
_LABEL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")


def email_problems(prop: str, email: object) -> list[str]:
    """Problems of one e-mail address (``local@domain.tld``, ASCII, as SNS e-mail subscriptions take)."""
    fix = "pass an address such as 'data-team@example.com'"
    if not isinstance(email, str):
        return [problem(prop, email, "is not a string", fix)]
    if Token.is_unresolved(email):
        return []
    local, at, domain = email.rpartition("@")
    issue = None
    if not at or not local or not domain:
        issue = "is not local@domain"
    elif len(email) > _MAX_EMAIL or len(local) > _MAX_LOCAL_PART:
        issue = f"is too long (at most {_MAX_LOCAL_PART} characters before '@' and {_MAX_EMAIL} in all)"
    elif not set(local) <= _LOCAL_PART_CHARS or local.startswith(".") or local.endswith(".") or ".." in local:
        issue = "has characters or dots an address cannot have before '@'"
    else:
        labels = domain.split(".")
        if len(labels) < 2 or any(
            not label
            or len(label) > 63
            or not set(label) <= _LABEL_CHARS
            or label[0] == "-"
            or label[-1] == "-"
            for label in labels
        ):
            issue = "has no valid domain after '@' (labels of letters, digits and '-', with a dot)"
        elif labels[-1].isdigit():
            issue = "ends in a number, not a top-level domain"
    return [problem(prop, email, issue, fix)] if issue else []


def _statuses_problems(statuses: object) -> list[str]:
    fix = f"pass a non-empty sequence of {', '.join(EXECUTION_STATUSES)}"
    if isinstance(statuses, str) or not isinstance(statuses, Sequence):
        return [problem("statuses", statuses, "is not a sequence of statuses", fix)]
    if not statuses:
        return [problem("statuses", list(statuses), "is empty, so nothing would be notified", fix)]
    problems, seen = [], set()
    for i, status in enumerate(statuses):
        if status not in EXECUTION_STATUSES:
            problems.append(problem(f"statuses[{i}]", status, "is not an execution status", fix))
        elif status in seen:
            problems.append(problem(f"statuses[{i}]", status, "is listed twice", "list each status once"))
        seen.add(status)
    return problems


def _emails_problems(emails: object) -> list[str]:
    if isinstance(emails, str) or not isinstance(emails, Sequence):
        return [
            problem(
                "emails", emails, "is not a sequence of addresses", "pass ['data-team@example.com'] or ()"
            )
        ]
    problems: list[str] = []
    seen: set[str] = set()
    for i, email in enumerate(emails):
        problems += email_problems(f"emails[{i}]", email)
        if isinstance(email, str) and email.lower() in seen:
            problems.append(problem(f"emails[{i}]", email, "is listed twice", "list each address once"))
        seen.add(str(email).lower())
    return problems


def _state_machines_problems(state_machines: object) -> list[str]:
    fix = "pass [pipeline.state_machine, ...]"
    if isinstance(state_machines, str) or not isinstance(state_machines, Sequence):
        return [problem("state_machines", state_machines, "is not a sequence of state machines", fix)]
    if not state_machines:
        return [
            problem(
                "state_machines",
                [],
                "is empty, so the rule would match every execution in the account",
                fix,
            )
        ]
    return [
        problem(f"state_machines[{i}]", type(sm).__name__, "is not an sfn.IStateMachine", fix)
        for i, sm in enumerate(state_machines)
        if not hasattr(sm, "state_machine_arn")
    ]


@jsii.implements(events.IRuleTarget)
class _TopicTarget:
    """The topic as a rule target with a dead-letter queue and retries; the caller writes the
    policies (aws-cdk's ``SnsTopic`` would add a topic policy without source conditions)."""

    def __init__(self, owner: PipelineNotifications, message: events.RuleTargetInput) -> None:
        self._owner = owner
        self._message = message

    def bind(self, rule: events.IRule, id: str | None = None) -> events.RuleTargetConfig:
        owner = self._owner
        return events.RuleTargetConfig(
            arn=owner.topic.topic_arn,
            input=self._message,
            dead_letter_config=events.CfnRule.DeadLetterConfigProperty(arn=owner.dead_letter_queue.queue_arn),
            retry_policy=events.CfnRule.RetryPolicyProperty(
                maximum_retry_attempts=DEFAULT_RETRY_ATTEMPTS,
                maximum_event_age_in_seconds=int(DEFAULT_MAX_EVENT_AGE.to_seconds()),
            ),
            target_resource=owner.topic,
        )


class PipelineNotifications(Construct):
    """Publishes an SNS message when an execution of one of the watched state machines reaches one
    of ``statuses``.

    An EventBridge rule (``Rule``) matches "Step Functions Execution Status Change" events (source
    ``aws.states``) whose ``detail.stateMachineArn`` is one of ``state_machines`` and whose
    ``detail.status`` is one of ``statuses``, and publishes to ``topic`` a JSON message::

        {"summary": "Step Functions execution nightly-42 of arn:...:stateMachine:Pipeline: FAILED",
         "stateMachineArn": "...", "execution": "nightly-42", "executionArn": "...",
         "status": "FAILED", "error": "States.TaskFailed", "cause": "...",
         "startDate": 1767225600000, "stopDate": 1767229200000, "time": "2030-01-01T01:00:00Z"}

    ``error`` and ``cause`` are what the execution failed with (``null`` for a success, and for a
    timeout or stop that gave none); the dates are epoch milliseconds (``stopDate`` is ``null``
    while running).

    Children (stable ids): ``Key`` (a customer-managed KMS key with yearly rotation, retained on
    stack deletion unless ``emr-patterns:removeDataOnDestroy`` is set; its policy lets
    EventBridge use it only for this rule, by ``aws:SourceArn`` and ``aws:SourceAccount``: it
    encrypts the topic it creates and the dead-letter queue), ``Topic`` (only when ``topic`` is not
    given: SSE-KMS with ``Key``, SSL-only topic policy), ``DeadLetterQueue`` (SQS, SSE-KMS with
    ``Key``, SSL only, 14 days), ``Email0``, ``Email1``, ... (one e-mail subscription per address;
    each recipient must confirm), ``Rule`` (named, so the key and topic policies can name its ARN;
    4 retries within 6 hours, then the queue).

    The topic policy gets a statement letting ``events.amazonaws.com`` publish for this rule. For
    an imported ``topic`` aws-cdk cannot change its policy: allow ``sns:Publish`` to
    ``events.amazonaws.com`` with ``aws:SourceArn`` = :attr:`rule_arn` yourself, and, if the topic
    is encrypted, let EventBridge use its key (``kms:GenerateDataKey``, ``kms:Decrypt``).

    Args:
        scope: parent construct.
        id: construct id.
        state_machines: the state machines whose executions are reported (at least one); more
            with :meth:`add_state_machine`.
        topic: the topic to publish to. Default: a new topic encrypted with ``Key``.
        statuses: the statuses reported, of ``RUNNING``, ``SUCCEEDED``, ``FAILED``,
            ``TIMED_OUT``, ``ABORTED``, ``PENDING_REDRIVE``. Default: ``SUCCEEDED``, ``FAILED``,
            ``TIMED_OUT``, ``ABORTED``.
        emails: addresses subscribed to the topic by e-mail. Default: none.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        state_machines: Sequence[sfn.IStateMachine],
        topic: sns.ITopic | None = None,
        statuses: Sequence[str] = DEFAULT_NOTIFIED_STATUSES,
        emails: Sequence[str] = (),
    ) -> None:
        super().__init__(scope, id)
        problems = _state_machines_problems(state_machines)
        if topic is not None and not hasattr(topic, "topic_arn"):
            problems.append(
                problem("topic", type(topic).__name__, "is not an sns.ITopic", "pass a topic or None")
            )
        problems += _statuses_problems(statuses)
        problems += _emails_problems(emails)
        raise_if_problems(f"PipelineNotifications '{self.node.path}'", problems)
        self.statuses = tuple(statuses)
        self.emails = tuple(emails)
        #: ARNs of the watched state machines, in the order they were added.
        self.state_machine_arns: list[str] = []
        stack = Stack.of(self)
        name = rule_name(self)
        #: ARN of :attr:`rule`, known before the rule exists (its name is fixed).
        self.rule_arn = rule_arn(self, name)
        from_this_rule = {
            "StringEquals": {"aws:SourceAccount": stack.account},
            "ArnEquals": {"aws:SourceArn": self.rule_arn},
        }

        removal = resolve_removal_policy(self, None, "notification key")
        self.key = kms.Key(
            self,
            "Key",
            description=f"cdk-emr-patterns pipeline notifications ({self.node.path})",
            enable_key_rotation=True,
            removal_policy=removal,
            pending_window=Duration.days(KEY_PENDING_WINDOW_DAYS)
            if removal == RemovalPolicy.DESTROY
            else None,
        )
        # EventBridge encrypts with the key when it publishes to the topic or parks an event.
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowEventBridgeForThisRule",
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["kms:GenerateDataKey", "kms:Decrypt"],
                resources=["*"],
                conditions=from_this_rule,
            )
        )
        self.topic: sns.ITopic = topic or sns.Topic(
            self,
            "Topic",
            display_name="Pipeline executions",
            master_key=self.key,
            enforce_ssl=True,
        )
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowEventBridgeToPublishForThisRule",
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions=from_this_rule,
            )
        )
        self.dead_letter_queue = dead_letter_queue(self, self.key, "the notification rule's SNS target")
        self.dead_letter_queue.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowEventBridgeDeadLetters",
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["sqs:SendMessage"],
                resources=[self.dead_letter_queue.queue_arn],
                conditions=from_this_rule,
            )
        )
        if self.emails:
            # SNS parks e-mails it could not deliver in the same queue, encrypting with the key.
            self.key.add_to_resource_policy(
                iam.PolicyStatement(
                    sid="AllowSnsDeadLettersInThisAccount",
                    principals=[iam.ServicePrincipal("sns.amazonaws.com")],
                    actions=["kms:GenerateDataKey", "kms:Decrypt"],
                    resources=["*"],
                    conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
                )
            )
        for i, email in enumerate(self.emails):
            sns.Subscription(
                self,
                f"Email{i}",
                topic=self.topic,
                endpoint=email,
                protocol=sns.SubscriptionProtocol.EMAIL,
                dead_letter_queue=self.dead_letter_queue,
            )

        #: The message as the rule renders it (values are EventBridge fields).
        self.message: dict[str, Any] = {
            "summary": (
                f"Step Functions execution {events.EventField.from_path('$.detail.name')} of "
                f"{events.EventField.from_path('$.detail.stateMachineArn')}: "
                f"{events.EventField.from_path('$.detail.status')}"
            ),
            **{field: events.EventField.from_path(path) for field, path in MESSAGE_FIELDS.items()},
        }
        self.rule = events.Rule(
            self,
            "Rule",
            rule_name=name,
            description="Pipeline executions whose status is notified",
            event_pattern=events.EventPattern(
                source=["aws.states"],
                detail_type=["Step Functions Execution Status Change"],
                detail={"status": list(self.statuses)},
            ),
            targets=[
                cast(events.IRuleTarget, _TopicTarget(self, events.RuleTargetInput.from_object(self.message)))
            ],
        )
        for state_machine in state_machines:
            self.add_state_machine(state_machine)

    def add_state_machine(self, state_machine: sfn.IStateMachine) -> None:
        """Also notify the status changes of ``state_machine``'s executions."""
        arn = state_machine.state_machine_arn
        if arn in self.state_machine_arns:
            return
        self.state_machine_arns.append(arn)
        self.rule.add_event_pattern(detail={"stateMachineArn": [arn]})
