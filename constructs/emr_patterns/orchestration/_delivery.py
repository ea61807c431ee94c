"""What the triggers and notifications share: dead-letter queues, retry limits, static inputs, rule names."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from aws_cdk import Aws, Duration, Names, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from emr_patterns._context import resolve_removal_policy
from emr_patterns.errors import problem
from emr_patterns.nag import acknowledge, acknowledge_rules, rule_in_packs

#: How long an undelivered event or invocation stays in a dead-letter queue.
DLQ_RETENTION = Duration.days(14)
#: Default delivery retries and the longest EventBridge (or Scheduler) keeps retrying one event.
DEFAULT_RETRY_ATTEMPTS = 4
DEFAULT_MAX_EVENT_AGE = Duration.hours(6)
#: What EventBridge rules and Scheduler both accept for a target's retry policy.
MAX_RETRY_ATTEMPTS = 185
MIN_EVENT_AGE_SECONDS, MAX_EVENT_AGE_SECONDS = 60, 86400
#: An EventBridge ``InputTemplate`` and a Scheduler ``Input`` hold at most 8192 characters.
MAX_INPUT_CHARS = 8192
_RULE_NAME_MAX = 64


def dead_letter_queue(
    scope: Construct, key: kms.IKey, purpose: str, *, lambda_dead_letter_queue: bool = False
) -> sqs.Queue:
    """``DeadLetterQueue`` under ``scope``: SSE-KMS with ``key``, SSL only, 14 days, retained by default.

    ``lambda_dead_letter_queue``: the queue is also a function's dead-letter queue, a use cdk-nag
    recognises, so ``AwsSolutions-SQS3`` does not fire and is not acknowledged.
    """
    queue = sqs.Queue(
        scope,
        "DeadLetterQueue",
        encryption=sqs.QueueEncryption.KMS,
        encryption_master_key=key,
        data_key_reuse=Duration.hours(1),
        enforce_ssl=True,
        retention_period=DLQ_RETENTION,
        # Undelivered events are data: kept on stack deletion unless the destroy flag is set.
        removal_policy=resolve_removal_policy(scope, None, "dead-letter queue"),
    )
    acknowledge_rules(
        queue,
        rule_in_packs("SQSRedrivePolicy"),
        f"This queue is itself the dead-letter queue of {purpose}; a redrive policy would only move "
        "the same messages to another queue.",
    )
    if lambda_dead_letter_queue:
        return queue
    acknowledge(
        queue,
        "AwsSolutions-SQS3",
        f"This queue is the dead-letter queue of {purpose} (its DeadLetterConfig); cdk-nag recognises "
        "only SQS redrive and Lambda dead-letter use, not EventBridge or Scheduler targets.",
    )
    return queue


def allow_eventbridge_to_encrypt_queues(key: kms.IKey) -> None:
    """Let EventBridge (this account) encrypt into queues with ``key`` when it parks an event.

    The statement is the one :class:`EmrClusterSweeper` adds; aws-cdk renders identical
    statements once, so every construct that needs it may add it.
    """
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AllowEventBridgeToEncryptedQueues",
            principals=[iam.ServicePrincipal("events.amazonaws.com")],
            actions=["kms:Decrypt", "kms:GenerateDataKey"],
            resources=["*"],
            conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
        )
    )


def rule_name(scope: Construct) -> str:
    """A deterministic EventBridge rule name for ``scope``, unique in the app (at most 64 characters).

    Naming the rule lets a trust or key policy name its ARN (``aws:SourceArn``) without a
    reference to the rule, which would be a dependency cycle (the rule references the role, topic
    or key in turn).
    """
    return Names.unique_resource_name(scope, max_length=_RULE_NAME_MAX, separator="-")


def rule_arn(scope: Construct, name: str) -> str:
    """The ARN of the rule ``name`` on the default event bus of ``scope``'s account and region."""
    return Stack.of(scope).format_arn(service="events", resource="rule", resource_name=name)


def retry_problems(retry_attempts: object, max_event_age: object) -> list[str]:
    """Problems of a target's retry policy (0-185 retries, 1 minute to 24 hours)."""
    problems = []
    if isinstance(retry_attempts, bool) or not isinstance(retry_attempts, int):
        problems.append(problem("retry_attempts", retry_attempts, "is not a whole number", "pass 0-185"))
    elif not 0 <= retry_attempts <= MAX_RETRY_ATTEMPTS:
        problems.append(
            problem("retry_attempts", retry_attempts, f"must be 0-{MAX_RETRY_ATTEMPTS}", "pass 0-185")
        )
    if not isinstance(max_event_age, Duration):
        problems.append(
            problem("max_event_age", max_event_age, "is not a Duration", "pass e.g. Duration.hours(6)")
        )
    elif not Token.is_unresolved(max_event_age.to_seconds()):
        seconds = max_event_age.to_seconds()
        if not MIN_EVENT_AGE_SECONDS <= seconds <= MAX_EVENT_AGE_SECONDS or seconds != int(seconds):
            problems.append(
                problem(
                    "max_event_age",
                    max_event_age.to_human_string(),
                    "must be whole seconds from 1 minute to 24 hours",
                    "pass e.g. Duration.hours(6)",
                )
            )
    return problems


def _json_problems(prop: str, value: Any, path: str, problems: list[str], angle_ok: frozenset[str]) -> None:
    where = f"{prop}{path}"
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                problems.append(
                    problem(where, key, "has a key that is not a string", "use string keys (JSON objects)")
                )
                continue
            _json_problems(prop, key, f"{path}[{key!r}] (key)", problems, angle_ok)
            _json_problems(prop, item, f"{path}[{key!r}]", problems, angle_ok)
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _json_problems(prop, item, f"{path}[{i}]", problems, angle_ok)
    elif isinstance(value, str):
        if Token.is_unresolved(value):
            return
        for placeholder in _angle_brackets(value):
            if placeholder not in angle_ok:
                problems.append(
                    problem(
                        where,
                        value,
                        f"holds <{placeholder}>, which the service would read as a placeholder",
                        "remove the angle brackets"
                        + (
                            f" or use one of {', '.join(f'<{a}>' for a in sorted(angle_ok))}"
                            if angle_ok
                            else ""
                        ),
                    )
                )
    elif isinstance(value, float) and not math.isfinite(value):  # never hand NaN to jsii (JSON)
        problems.append(problem(where, value, "is not a finite number", "JSON has no NaN or Infinity"))
    elif value is not None and not isinstance(value, bool | int | float):
        problems.append(
            problem(
                where,
                type(value).__name__,
                "is not JSON (a string, number, boolean, null, list or mapping)",
                "pass JSON values only",
            )
        )


def _angle_brackets(text: str) -> list[str]:
    """The ``<...>`` placeholders in ``text``, and ``''`` for a lone ``<`` or ``>``."""
    found, rest = [], text
    while "<" in rest or ">" in rest:
        start, end = rest.find("<"), rest.find(">")
        if start == -1 or end == -1 or end < start:
            found.append("")
            break
        found.append(rest[start + 1 : end])
        rest = rest[end + 1 :]
    return found


def static_input_problems(
    input: object, *, reserved: tuple[str, ...] = (), placeholders: tuple[str, ...] = ()
) -> list[str]:
    """Problems of a static ``input`` mapping sent as (part of) a target's JSON input.

    It must be a mapping with string keys whose values are JSON, hold none of ``reserved`` as a
    top-level key, and no ``<...>`` except the ``placeholders`` the service fills.
    """
    if input is None:
        return []
    if not isinstance(input, Mapping):
        return [
            problem(
                "input", type(input).__name__, "is not a mapping", "pass a dict such as {'modes': ['full']}"
            )
        ]
    problems: list[str] = []
    for key in reserved:
        if key in input:
            problems.append(
                problem(
                    "input",
                    {key: input[key]},
                    f"uses the key {key!r}, which this construct fills from the event",
                    f"rename the key; the execution input carries {key!r} already",
                )
            )
    _json_problems("input", input, "", problems, frozenset(placeholders))
    if not problems:
        try:
            text = json.dumps(input, allow_nan=False)
        except (TypeError, ValueError) as err:  # e.g. a cycle
            return [
                problem(
                    "input",
                    type(input).__name__,
                    f"is not JSON-serializable ({err})",
                    "pass JSON values only",
                )
            ]
        if len(text) > MAX_INPUT_CHARS - 1024:
            problems.append(
                problem(
                    "input",
                    f"{len(text)} characters",
                    f"is too long: the target input holds at most {MAX_INPUT_CHARS} characters with this "
                    "construct's own fields",
                    "keep the static input under 7 KiB; pass large settings by S3 URI",
                )
            )
    return problems
