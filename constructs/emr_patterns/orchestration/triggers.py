"""Start a pipeline's state machine when an object lands in S3, or on a schedule.

:class:`S3UploadTrigger` is an EventBridge rule on the bucket's ``Object Created`` events;
:class:`PipelineSchedule` is an EventBridge Scheduler schedule. Both start the state machine with
a customer-managed role that may call ``states:StartExecution`` on that machine only, retry the
call, and park what they could not deliver in a KMS-encrypted dead-letter queue.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import Duration, Stack, TimeZone, Token
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as scheduler_targets
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from emr_patterns._iam import ManagedGrantsRole
from emr_patterns.errors import problem, raise_if_problems
from emr_patterns.foundation.platform import IEmrPlatform, check_platform
from emr_patterns.foundation.storage import event_bridge_notifications_enabled
from emr_patterns.orchestration._delivery import (
    DEFAULT_MAX_EVENT_AGE,
    DEFAULT_RETRY_ATTEMPTS,
    allow_eventbridge_to_encrypt_queues,
    dead_letter_queue,
    retry_problems,
    rule_arn,
    rule_name,
    static_input_problems,
)
from emr_patterns.spec.schedule import (
    SCHEDULER_CONTEXT_ATTRIBUTES,
    schedule_expression_problems,
    timezone_problems,
)

__all__ = ["SOURCE_FIELDS", "SOURCE_KEY", "PipelineSchedule", "S3UploadTrigger", "s3_key_matcher"]

#: The execution-input key :class:`S3UploadTrigger` fills with the uploaded object.
SOURCE_KEY = "source"
#: Field of the ``source`` object -> the JSONPath in the S3 ``Object Created`` event it comes from.
SOURCE_FIELDS: dict[str, str] = {
    "bucket": "$.detail.bucket.name",
    "key": "$.detail.object.key",
    "size": "$.detail.object.size",
    "etag": "$.detail.object.etag",
    "version": "$.detail.object.version-id",
    "time": "$.time",
}
#: S3 object keys are at most 1024 bytes.
_MAX_KEY = 1024
_MAX_DESCRIPTION = 512


def s3_key_matcher(prefix: str | None, suffix: str | None) -> list[dict[str, str]] | None:
    """The EventBridge matcher for ``detail.object.key``, or None to match every key.

    Values in one field's matcher list are OR-ed, so a prefix and a suffix together become one
    ``wildcard`` (``<prefix>*<suffix>``, with ``*`` and ``\\`` in them escaped): the key must start
    with the prefix and end with the suffix, and be at least as long as both.
    """
    if prefix and suffix:
        return [{"wildcard": f"{_wildcard_escape(prefix)}*{_wildcard_escape(suffix)}"}]
    if prefix:
        return [{"prefix": prefix}]
    if suffix:
        return [{"suffix": suffix}]
    return None


def _wildcard_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("*", "\\*")


def _state_machine_problems(state_machine: object) -> list[str]:
    if not hasattr(state_machine, "state_machine_arn") or not hasattr(state_machine, "grant_start_execution"):
        return [
            problem(
                "state_machine",
                type(state_machine).__name__,
                "is not an sfn.IStateMachine",
                "pass pipeline.state_machine, or sfn.StateMachine.from_state_machine_arn(...)",
            )
        ]
    return []


def _same_bucket(a: s3.IBucket, b: s3.IBucket) -> bool:
    if a is b or a.node.path == b.node.path:
        return True
    names = (a.bucket_name, b.bucket_name)
    return not any(Token.is_unresolved(n) for n in names) and names[0] == names[1]


def _affix_problems(prop: str, value: object) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, str):
        return [
            problem(
                prop, value, "is not a string", f"pass a key {prop} such as 'incoming/' or '.csv', or None"
            )
        ]
    if Token.is_unresolved(value):
        return []
    if not value:
        return [problem(prop, value, "is empty", f"pass None to match any {prop}")]
    if len(value.encode()) > _MAX_KEY:
        return [
            problem(prop, f"{len(value.encode())} bytes", "is longer than an S3 key can be", "shorten it")
        ]
    return []


def _bucket_problems(platform: IEmrPlatform, bucket: Any) -> list[str]:
    if not hasattr(bucket, "bucket_name") or not hasattr(bucket, "bucket_arn"):
        return [
            problem(
                "bucket",
                type(bucket).__name__,
                "is not an s3.IBucket",
                "pass platform.raw_bucket or another bucket",
            )
        ]
    for what, theirs in (("logs", platform.logs_bucket), ("artifacts", platform.artifacts_bucket)):
        if _same_bucket(bucket, theirs):
            return [
                problem(
                    "bucket",
                    bucket.node.path,
                    f"is the platform's {what} bucket, which does not send events to EventBridge "
                    + (
                        "(EMR writes logs there continuously)"
                        if what == "logs"
                        else "(it holds job code and TLS material, not data)"
                    ),
                    "pass one of platform.data_buckets (raw, work, curated) or a bucket of your own",
                )
            ]
    if event_bridge_notifications_enabled(bucket) is False:
        return [
            problem(
                "bucket",
                bucket.node.path,
                "does not send its events to EventBridge, so the rule would never match",
                "call emr_patterns.foundation.storage.enable_event_bridge_notifications(bucket) before "
                "creating the trigger (or create the bucket with event_bridge_enabled=True)",
            )
        ]
    return []


class S3UploadTrigger(Construct):
    """Starts a state machine each time an object is created in a bucket (optionally under a prefix,
    with a suffix).

    An EventBridge rule (``Rule``) matches the ``aws.s3`` ``Object Created`` events of ``bucket``
    whose ``detail.object.key`` starts with ``prefix`` and ends with ``suffix``, and starts an
    execution of ``state_machine``. Its input is ``input`` with one more key, ``source``::

        {"modes": ["full"], "source": {"bucket": "...", "key": "incoming/2030/01/a.csv",
         "size": 1024, "etag": "...", "version": "...", "time": "2030-01-31T08:00:00Z"}}

    ``source.bucket`` is ``detail.bucket.name``, ``key`` ``detail.object.key``, ``size``
    ``detail.object.size`` (bytes, a number), ``etag`` ``detail.object.etag``, ``version``
    ``detail.object.version-id`` (S3 sends it for versioned buckets; every platform bucket is
    versioned) and ``time`` the event's ``time``. A :class:`TransientClusterPipeline` step builder
    reads them as ``Arg.path("$.input.source.key")``.

    The bucket must send its events to EventBridge. The platform's data buckets (raw, work,
    curated) do (:class:`DataLakeStorage` sets the bucket's ``EventBridgeConfiguration``). A
    bucket defined in the app without it is refused; for an imported bucket, its owner must turn
    on "Send notifications to Amazon EventBridge". The platform's logs and artifacts buckets are
    refused. EventBridge delivers at least once: rarely, one upload starts two executions, so make
    the pipeline idempotent per ``source.key`` and ``source.etag``.

    Children (stable ids): ``DeadLetterQueue`` (SQS, SSE-KMS with the platform key, SSL only, 14
    days, retained unless ``emr-patterns:removeDataOnDestroy`` is set), ``Role`` (assumed by
    EventBridge only for this rule: ``aws:SourceArn`` and ``aws:SourceAccount``; its
    customer-managed ``GrantsPolicy`` allows ``states:StartExecution`` on ``state_machine``),
    ``Rule`` (named, so the role's trust policy can name its ARN).

    Args:
        scope: parent construct.
        id: construct id.
        platform: the platform whose key encrypts the dead-letter queue (same account and region).
        state_machine: the state machine to start, e.g. ``pipeline.state_machine``.
        bucket: the bucket whose uploads start it: one of ``platform.data_buckets``, or a bucket
            of your own that sends its events to EventBridge. Not the platform's logs or
            artifacts bucket.
        prefix: only keys that start with this. Default: any key.
        suffix: only keys that end with this, e.g. ``.csv``. Default: any key.
        input: static execution input (JSON, string keys, no ``source`` key, no ``<`` ``>``);
            ``source`` is added to it. Default: ``{}`` plus ``source``.
        retry_attempts: how often EventBridge retries a failed ``StartExecution``. Default 4.
        max_event_age: how long EventBridge keeps retrying one event, 1 minute to 24 hours.
            Default 6 hours.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        platform: IEmrPlatform,
        state_machine: sfn.IStateMachine,
        bucket: s3.IBucket,
        prefix: str | None = None,
        suffix: str | None = None,
        input: Mapping[str, Any] | None = None,
        retry_attempts: int = DEFAULT_RETRY_ATTEMPTS,
        max_event_age: Duration | None = None,
    ) -> None:
        super().__init__(scope, id)
        max_event_age = max_event_age or DEFAULT_MAX_EVENT_AGE
        problems = check_platform(self, "platform", platform)
        problems += _state_machine_problems(state_machine)
        if isinstance(platform, IEmrPlatform):
            problems += _bucket_problems(platform, bucket)
        problems += _affix_problems("prefix", prefix)
        problems += _affix_problems("suffix", suffix)
        if (
            isinstance(prefix, str)
            and isinstance(suffix, str)
            and len(prefix.encode() + suffix.encode()) > _MAX_KEY
        ):
            problems.append(
                problem("suffix", suffix, "with the prefix, is longer than an S3 key can be", "shorten them")
            )
        problems += static_input_problems(input, reserved=(SOURCE_KEY,))
        problems += retry_problems(retry_attempts, max_event_age)
        raise_if_problems(f"S3UploadTrigger '{self.node.path}'", problems)
        self.platform = platform
        self.state_machine = state_machine
        self.bucket = bucket
        self.prefix = prefix
        self.suffix = suffix
        stack = Stack.of(self)

        self.dead_letter_queue = dead_letter_queue(
            self, platform.key, "the upload trigger's EventBridge target"
        )
        allow_eventbridge_to_encrypt_queues(platform.key)

        name = rule_name(self)
        #: ARN of :attr:`rule`, known before the rule exists (its name is fixed).
        self.rule_arn = rule_arn(self, name)
        self.role = ManagedGrantsRole(
            self,
            "Role",
            description=f"EventBridge starts {self.node.path}'s state machine on upload",
            assumed_by=iam.ServicePrincipal(
                "events.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account, "aws:SourceArn": self.rule_arn}
                },
            ),
        )

        object_filter: dict[str, Any] = {}
        matcher = s3_key_matcher(prefix, suffix)
        if matcher is not None:
            object_filter["object"] = {"key": matcher}
        #: The execution input as the rule renders it (``source`` values are EventBridge fields).
        self.input: dict[str, Any] = {
            **dict(input or {}),
            SOURCE_KEY: {field: events.EventField.from_path(path) for field, path in SOURCE_FIELDS.items()},
        }
        self.rule = events.Rule(
            self,
            "Rule",
            rule_name=name,
            description=f"Uploads to {bucket.node.path} start a pipeline execution",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={"bucket": {"name": [bucket.bucket_name]}, **object_filter},
            ),
            targets=[
                targets.SfnStateMachine(
                    state_machine,
                    input=events.RuleTargetInput.from_object(self.input),
                    role=self.role,
                    dead_letter_queue=self.dead_letter_queue,
                    retry_attempts=retry_attempts,
                    max_event_age=max_event_age,
                )
            ],
        )


class PipelineSchedule(Construct):
    """Starts a state machine on a schedule (EventBridge Scheduler).

    ``expression`` is ``rate(N unit)``, ``cron(minutes hours day-of-month month day-of-week
    year)`` or ``at(yyyy-mm-ddThh:mm:ss)``, checked at synth
    (:func:`emr_patterns.spec.schedule.schedule_expression_problems`); ``cron`` and ``at`` are
    read in ``timezone``. The execution input is ``input`` (default ``{}``), which may use the
    placeholders Scheduler fills at each invocation: ``<aws.scheduler.scheduled-time>``,
    ``<aws.scheduler.execution-id>``, ``<aws.scheduler.attempt-number>`` and
    ``<aws.scheduler.schedule-arn>``, inside JSON strings (``{"date":
    "<aws.scheduler.scheduled-time>"}``).

    Children (stable ids): ``DeadLetterQueue`` (as for :class:`S3UploadTrigger`), ``Role``
    (assumed by ``scheduler.amazonaws.com`` for this account's ``default`` schedule group only;
    customer-managed ``GrantsPolicy``: ``states:StartExecution`` on ``state_machine``,
    ``sqs:SendMessage`` on the queue and the platform key's ``kms:GenerateDataKey``/
    ``kms:Decrypt``), ``Schedule`` (in the ``default`` group, its target input encrypted with the
    platform key, flexible time window off).

    Args:
        scope: parent construct.
        id: construct id.
        platform: the platform whose key encrypts the schedule and the dead-letter queue.
        state_machine: the state machine to start.
        expression: when to start it, e.g. ``cron(0 2 * * ? *)`` or ``rate(1 day)``.
        input: execution input (JSON, string keys; ``<...>`` only for the Scheduler
            placeholders above). Default: ``{}``.
        timezone: IANA time zone for ``cron`` and ``at``. Default ``UTC``.
        description: the schedule's description, at most 512 characters. Default: none.
        enabled: create the schedule enabled. Default True.
        retry_attempts: how often Scheduler retries a failed ``StartExecution``. Default 4.
        max_event_age: how long Scheduler keeps retrying one invocation, 1 minute to 24 hours.
            Default 6 hours.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        platform: IEmrPlatform,
        state_machine: sfn.IStateMachine,
        expression: str,
        input: Mapping[str, Any] | None = None,
        timezone: str = "UTC",
        description: str | None = None,
        enabled: bool = True,
        retry_attempts: int = DEFAULT_RETRY_ATTEMPTS,
        max_event_age: Duration | None = None,
    ) -> None:
        super().__init__(scope, id)
        max_event_age = max_event_age or DEFAULT_MAX_EVENT_AGE
        problems = check_platform(self, "platform", platform)
        problems += _state_machine_problems(state_machine)
        problems += schedule_expression_problems(expression, "expression")
        problems += timezone_problems(timezone, "timezone")
        problems += static_input_problems(input, placeholders=SCHEDULER_CONTEXT_ATTRIBUTES)
        if description is not None and (
            not isinstance(description, str) or len(description) > _MAX_DESCRIPTION
        ):
            problems.append(
                problem(
                    "description",
                    description,
                    f"must be a string of at most {_MAX_DESCRIPTION} characters",
                    "shorten it",
                )
            )
        if not isinstance(enabled, bool):
            problems.append(problem("enabled", enabled, "is not a bool", "pass True or False"))
        problems += retry_problems(retry_attempts, max_event_age)
        raise_if_problems(f"PipelineSchedule '{self.node.path}'", problems)
        self.platform = platform
        self.state_machine = state_machine
        self.expression = expression
        self.timezone = timezone
        stack = Stack.of(self)
        key = platform.key

        self.dead_letter_queue = dead_letter_queue(self, key, "the schedule's target")
        self.schedule_group_arn = stack.format_arn(
            service="scheduler", resource="schedule-group", resource_name="default"
        )
        self.role = ManagedGrantsRole(
            self,
            "Role",
            description=f"EventBridge Scheduler starts {self.node.path}'s state machine",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com",
                conditions={
                    "StringEquals": {
                        "aws:SourceAccount": stack.account,
                        "aws:SourceArn": self.schedule_group_arn,
                    }
                },
            ),
        )
        # Scheduler sends to the queue as the role; the queue is encrypted with the platform key.
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="EncryptDeadLetters",
                actions=["kms:GenerateDataKey", "kms:Decrypt"],
                resources=[key.key_arn],
            )
        )
        #: The execution input (JSON), before Scheduler fills its placeholders.
        self.input: dict[str, Any] = dict(input or {})
        self.schedule = scheduler.Schedule(
            self,
            "Schedule",
            schedule=scheduler.ScheduleExpression.expression(expression, TimeZone.of(timezone)),
            target=scheduler_targets.StepFunctionsStartExecution(
                state_machine,
                input=scheduler.ScheduleTargetInput.from_object(self.input),
                role=self.role,
                dead_letter_queue=self.dead_letter_queue,
                retry_attempts=retry_attempts,
                max_event_age=max_event_age,
            ),
            description=description,
            enabled=enabled,
            key=key,
            time_window=scheduler.TimeWindow.off(),
        )
