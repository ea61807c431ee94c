"""CloudFormation custom resource: revoke EMR's cross-references between its managed security groups.

When EMR starts a cluster it adds rules to the managed security groups that reference each other
(all TCP/UDP/ICMP between primary and core/task, 8443 from service access to both, 9443 from
primary to service access, egress towards each other in private subnets). CloudFormation did not
create those rules, so on stack deletion it tries to delete groups that are still referenced by
their siblings and ``cdk destroy`` ends in ``DependencyViolation``. This handler runs on Delete,
after the cluster is gone and before the groups are deleted, and revokes exactly those references.

Entry points of a ``custom_resources.Provider`` (they return or raise; the framework answers
CloudFormation, and reports a raised error as FAILED with its message):

``on_event``
    ResourceProperties: ``SecurityGroupIds``, a list of 2 to 10 distinct ``sg-...`` ids (the
    cluster's primary, core/task and service-access groups). Duplicates are ignored.
    ``ServiceToken`` and ``ServiceTimeout`` are ignored; any other property is rejected.

    Create / Update: no AWS call. PhysicalResourceId is ``emr-sg-cleanup-`` followed by the
    first 12 hex digits of ``sha1(",".join(sorted(distinct ids)))``, so it only changes when the
    set of groups changes. Invalid properties raise.

    Delete: when no network interface uses the groups any more, revoke, ingress and egress,
    only the ``UserIdGroupPairs`` that reference a group *in the set* (CIDR, IPv6, prefix-list
    and outside-group parts of the same permission are left alone). Missing groups
    (``InvalidGroup.NotFound``) and rules already gone (``InvalidPermission.NotFound``) are
    skipped, so Delete is idempotent. While interfaces remain (the terminated cluster's, which
    EC2 releases minutes later) nothing is revoked yet. Data carries ``DeleteStartedAt``
    (ISO-8601) for ``is_complete``. A per-rule error (e.g. ``UnauthorizedOperation`` on one
    group) is logged, the remaining rules are still revoked, and the call then raises with a
    summary: answering SUCCESS would only move the failure to the group deletion, where a retry
    of the stack delete would no longer run this cleanup. Invalid properties on Delete are a
    no-op (the framework already skips the Delete that follows a failed Create).

``is_complete``
    Create / Update: complete. Delete: lists the network interfaces in any of the groups
    (``DescribeNetworkInterfaces`` with a ``group-id`` filter). None left: revoke as above (a
    no-op when ``on_event`` already did) and answer complete. Some left: not complete, and the
    provider asks again after its query interval; once :data:`WAIT_LIMIT_SECONDS` have passed
    since ``DeleteStartedAt`` it raises naming each interface (id, status, description), well
    before the provider's total timeout would answer only "Operation timed out". It never
    answers complete while an interface remains.

IAM actions needed: ``ec2:DescribeSecurityGroups`` and ``ec2:DescribeNetworkInterfaces``
(resource ``*``), ``ec2:RevokeSecurityGroupIngress`` and ``ec2:RevokeSecurityGroupEgress``
(scopable to the groups' ARNs).

Only group and interface ids, counts and error codes are logged; never rule contents.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)

# ---------------------------------------------------------------------------------------------
# Contract constants
# ---------------------------------------------------------------------------------------------

PROPERTY_NAME = "SecurityGroupIds"
MIN_GROUPS = 2
MAX_GROUPS = 10
PHYSICAL_ID_PREFIX = "emr-sg-cleanup-"

#: Properties CloudFormation/CDK add that do not describe the cleanup.
IGNORED_PROPERTIES = frozenset({"ServiceToken", "ServiceTimeout"})
KNOWN_PROPERTIES = frozenset({PROPERTY_NAME})

#: Seconds kept back from the Lambda deadline (the function returns its result to the framework).
DEADLINE_MARGIN_SECONDS = 10.0
#: How long ``is_complete`` waits for the groups' network interfaces to go before it fails naming
#: them; the CDK side sets the provider's total timeout above this (30 minutes).
WAIT_LIMIT_SECONDS = 25 * 60
#: Interfaces named in the failure message (CloudFormation caps a response at 4096 bytes).
MAX_INTERFACES_NAMED = 8

_SG_ID_RE = re.compile(r"^sg-(?:[0-9a-f]{8}|[0-9a-f]{17})$")
#: Keys of a described ``UserIdGroupPair`` that are valid in a revoke request (``PeeringStatus``
#: is output only). EC2 ignores ``Description`` when matching, but keeping it is harmless.
_PAIR_KEYS = ("GroupId", "UserId", "VpcId", "VpcPeeringConnectionId", "Description")
#: Error codes meaning "this security group does not exist (any more)".
GROUP_NOT_FOUND_CODES = frozenset({"InvalidGroup.NotFound", "InvalidSecurityGroupID.NotFound"})
PERMISSION_NOT_FOUND_CODE = "InvalidPermission.NotFound"


class PropertyError(ValueError):
    """A ResourceProperties value is missing or invalid; the message names the property and fix."""


class CleanupError(RuntimeError):
    """Some references could not be revoked; the message summarises what and why."""


# ---------------------------------------------------------------------------------------------
# Properties and physical id
# ---------------------------------------------------------------------------------------------


def parse_security_group_ids(properties: dict[str, Any] | None) -> tuple[str, ...]:
    """Validate ResourceProperties; return the distinct group ids, sorted.

    Raises :class:`PropertyError` naming the property and the fix.
    """
    props = properties or {}
    unknown = sorted(set(props) - KNOWN_PROPERTIES - IGNORED_PROPERTIES)
    if unknown:
        raise PropertyError(
            f"Unknown properties {', '.join(unknown)}; the only allowed property is {PROPERTY_NAME}"
        )
    fix = (
        f"set {PROPERTY_NAME} to a list of {MIN_GROUPS} to {MAX_GROUPS} security group ids "
        "(sg-...): the cluster's primary, core/task and service-access groups"
    )
    value = props.get(PROPERTY_NAME)
    if value is None:
        raise PropertyError(f"{PROPERTY_NAME} is required; {fix}")
    if not isinstance(value, list):
        raise PropertyError(f"{PROPERTY_NAME} must be a list, got {type(value).__name__}; {fix}")
    bad = [item for item in value if not isinstance(item, str) or not _SG_ID_RE.match(item)]
    if bad:
        shown = ", ".join(repr(item) for item in bad[:3])
        raise PropertyError(
            f"{PROPERTY_NAME} contains values that are not security group ids ({shown}); {fix}"
        )
    distinct = tuple(sorted(set(value)))
    if len(distinct) < MIN_GROUPS:
        raise PropertyError(f"{PROPERTY_NAME} has {len(distinct)} distinct id(s); {fix}")
    if len(distinct) > MAX_GROUPS:
        raise PropertyError(
            f"{PROPERTY_NAME} has {len(distinct)} distinct ids, more than {MAX_GROUPS}; {fix}"
        )
    return distinct


def physical_id_for(group_ids: Iterable[str]) -> str:
    """Deterministic PhysicalResourceId for a set of groups (order and duplicates do not matter)."""
    digest = hashlib.sha1(",".join(sorted(set(group_ids))).encode("ascii"), usedforsecurity=False)
    return PHYSICAL_ID_PREFIX + digest.hexdigest()[:12]


# ---------------------------------------------------------------------------------------------
# EC2
# ---------------------------------------------------------------------------------------------

_EC2_CLIENT: Any = None


def _ec2() -> Any:
    """The EC2 client, created on first use (so importing the module needs no AWS config)."""
    global _EC2_CLIENT
    if _EC2_CLIENT is None:
        import boto3
        from botocore.config import Config

        _EC2_CLIENT = boto3.client("ec2", config=Config(retries={"mode": "standard", "max_attempts": 8}))
    return _EC2_CLIENT


def _error_code(exc: Exception) -> str:
    """The AWS error code of a botocore ``ClientError`` (empty for anything else)."""
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def referencing_permissions(
    permissions: Iterable[dict[str, Any]], group_set: frozenset[str]
) -> list[dict[str, Any]]:
    """Revoke-ready copies of ``permissions`` holding only the pairs that reference ``group_set``.

    Protocol and ports are kept as described (``-1`` has none); ``IpRanges``, ``Ipv6Ranges``,
    ``PrefixListIds`` and pairs that reference other groups are dropped, so revoking the result
    never touches them. Permissions without such a pair are left out.
    """
    result: list[dict[str, Any]] = []
    for permission in permissions:
        pairs = [
            {key: pair[key] for key in _PAIR_KEYS if pair.get(key) not in (None, "")}
            for pair in permission.get("UserIdGroupPairs") or []
            if pair.get("GroupId") in group_set
        ]
        if not pairs:
            continue
        revoke: dict[str, Any] = {"IpProtocol": permission["IpProtocol"]}
        for port in ("FromPort", "ToPort"):
            if port in permission:
                revoke[port] = permission[port]
        revoke["UserIdGroupPairs"] = pairs
        result.append(revoke)
    return result


@dataclass
class CleanupReport:
    """Counts of one Delete run; ``errors`` holds one short line per failed revoke."""

    groups_checked: int = 0
    groups_missing: int = 0
    interfaces_in_use: int = 0
    revoked: int = 0
    already_gone: int = 0
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line for logs and the CloudFormation Reason."""
        if self.interfaces_in_use:
            return (
                f"nothing revoked yet: {self.interfaces_in_use} network interface(s) still use these groups"
            )
        return (
            f"revoked {self.revoked} group reference(s) in {self.groups_checked} group(s); "
            f"{self.already_gone} already gone, {self.groups_missing} group(s) missing, "
            f"{len(self.errors)} error(s)"
        )


def _check_deadline(deadline: float | None, report: CleanupReport) -> None:
    """Raise :class:`TimeoutError` once ``time.monotonic()`` has passed ``deadline``."""
    if deadline is not None and time.monotonic() > deadline:
        raise TimeoutError(
            f"stopped before the Lambda deadline ({report.summary()}); "
            "retry the stack delete (the cleanup is idempotent) or raise the function timeout"
        )


def _describe(group_id: str) -> dict[str, Any] | None:
    """The described group, or ``None`` when it does not exist."""
    from botocore.exceptions import ClientError

    try:
        for page in _ec2().get_paginator("describe_security_groups").paginate(GroupIds=[group_id]):
            for group in page.get("SecurityGroups", []):
                if group.get("GroupId") == group_id:
                    return dict(group)
    except ClientError as exc:
        if _error_code(exc) in GROUP_NOT_FOUND_CODES:
            return None
        raise
    return None


def interfaces_using(group_ids: Iterable[str]) -> list[dict[str, str]]:
    """``NetworkInterfaceId``, ``Status`` and ``Description`` of every interface in any of the groups."""
    paginator = _ec2().get_paginator("describe_network_interfaces")
    pages = paginator.paginate(Filters=[{"Name": "group-id", "Values": sorted(set(group_ids))}])
    return [
        {
            "NetworkInterfaceId": str(eni.get("NetworkInterfaceId", "")),
            "Status": str(eni.get("Status", "")),
            "Description": str(eni.get("Description", "")),
        }
        for page in pages
        for eni in page.get("NetworkInterfaces", [])
    ]


def _revoke(
    revoke_call: Callable[..., Any],
    group_id: str,
    direction: str,
    permission: dict[str, Any],
    report: CleanupReport,
    deadline: float | None,
) -> None:
    """Revoke one permission; fall back to pair by pair when part of it is already gone.

    EC2 revokes a request atomically: one pair that no longer exists fails the whole request
    with ``InvalidPermission.NotFound``, so a multi-pair permission is retried one pair at a time.
    """
    from botocore.exceptions import ClientError

    pairs = permission["UserIdGroupPairs"]
    _check_deadline(deadline, report)
    try:
        response = revoke_call(GroupId=group_id, IpPermissions=[permission])
    except ClientError as exc:
        code = _error_code(exc)
        if code == PERMISSION_NOT_FOUND_CODE and len(pairs) > 1:
            for pair in pairs:
                _revoke(
                    revoke_call,
                    group_id,
                    direction,
                    {**permission, "UserIdGroupPairs": [pair]},
                    report,
                    deadline,
                )
            return
        if code == PERMISSION_NOT_FOUND_CODE or code in GROUP_NOT_FOUND_CODES:
            report.already_gone += len(pairs)
            return
        report.errors.append(f"{group_id} {direction}: {code or type(exc).__name__}: {exc}")
        logger.error("Revoking %d %s reference(s) in %s failed: %s", len(pairs), direction, group_id, code)
        return
    unknown = sum(len(p.get("UserIdGroupPairs") or []) for p in response.get("UnknownIpPermissions") or [])
    if response.get("Return") is False and not unknown:
        report.errors.append(f"{group_id} {direction}: EC2 returned Return=false without details")
        logger.error("Revoking %d %s reference(s) in %s returned false", len(pairs), direction, group_id)
        return
    unknown = min(unknown, len(pairs))
    report.already_gone += unknown
    report.revoked += len(pairs) - unknown


def revoke_cross_references(group_ids: Iterable[str], deadline: float | None = None) -> CleanupReport:
    """Revoke every ingress/egress group pair between the given groups; return the counts.

    Rules referencing groups outside the set, CIDR ranges and prefix lists are never revoked.
    """
    group_set = frozenset(group_ids)
    report = CleanupReport()
    client = _ec2()
    # After an update that replaced only some of the groups, CloudFormation deletes the old set
    # while a live cluster still uses the rest: revoking then would cut the cluster's own traffic.
    _check_deadline(deadline, report)
    report.interfaces_in_use = len(interfaces_using(group_set))
    if report.interfaces_in_use:
        logger.info(
            "%d network interface(s) still use the groups; nothing revoked yet", report.interfaces_in_use
        )
        return report
    for group_id in sorted(group_set):
        _check_deadline(deadline, report)
        group = _describe(group_id)
        if group is None:
            report.groups_missing += 1
            logger.info("%s does not exist; skipped", group_id)
            continue
        report.groups_checked += 1
        for direction, key, revoke_call in (
            ("ingress", "IpPermissions", client.revoke_security_group_ingress),
            ("egress", "IpPermissionsEgress", client.revoke_security_group_egress),
        ):
            permissions = referencing_permissions(group.get(key) or [], group_set)
            before = report.revoked
            for permission in permissions:
                _revoke(revoke_call, group_id, direction, permission, report, deadline)
            if permissions:
                logger.info(
                    "%s: revoked %d %s reference(s) from %d permission(s)",
                    group_id,
                    report.revoked - before,
                    direction,
                    len(permissions),
                )
    return report


# ---------------------------------------------------------------------------------------------
# Provider entry points
# ---------------------------------------------------------------------------------------------


def _deadline(context: Any) -> float | None:
    """Monotonic time by which the EC2 work must stop, from the Lambda context."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return None
    seconds_left = float(remaining()) / 1000.0
    return time.monotonic() + max(seconds_left - DEADLINE_MARGIN_SECONDS, 0.0)


def _now() -> dt.datetime:
    """The current time (a seam for tests of the wait limit)."""
    return dt.datetime.now(dt.UTC)


def _delete_physical_id(event: dict[str, Any]) -> str:
    return str(event.get("PhysicalResourceId") or event.get("LogicalResourceId") or "emr-sg-cleanup")


def _revoke_or_raise(group_ids: Iterable[str], context: Any) -> CleanupReport:
    """Revoke the cross-references; raise :class:`CleanupError` if any revoke failed."""
    report = revoke_cross_references(group_ids, _deadline(context))
    logger.info("Delete: %s", report.summary())
    if report.errors:
        raise CleanupError(
            f"{report.summary()}. First error: {report.errors[0]}. Fix the cause (usually missing "
            "ec2:RevokeSecurityGroupIngress/Egress permissions) and retry the delete"
        )
    return report


def on_event(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Provider ``onEvent``: register the groups, or on Delete start the cleanup; raise on errors."""
    request_type = event.get("RequestType")
    properties = event.get("ResourceProperties")
    logger.info("%s request for %s", request_type, event.get("LogicalResourceId"))
    if request_type in ("Create", "Update"):
        group_ids = parse_security_group_ids(properties)
        physical_id = physical_id_for(group_ids)
        logger.info(
            "%s: %d group(s), physical id %s; nothing to do until Delete",
            request_type,
            len(group_ids),
            physical_id,
        )
        return {"PhysicalResourceId": physical_id, "Data": {}}
    if request_type == "Delete":
        physical_id = _delete_physical_id(event)
        started = _now().strftime("%Y-%m-%dT%H:%M:%SZ")
        try:
            group_ids = parse_security_group_ids(properties)
        except PropertyError as exc:
            logger.warning("Invalid properties on Delete; nothing to clean up: %s", exc)
            return {"PhysicalResourceId": physical_id, "Data": {}}
        report = _revoke_or_raise(group_ids, context)
        return {
            "PhysicalResourceId": physical_id,
            "Data": {"DeleteStartedAt": started, "Summary": report.summary()},
        }
    raise ValueError(f"Unsupported RequestType {request_type!r}; expected Create, Update or Delete")


def _started_at(event: dict[str, Any]) -> dt.datetime | None:
    """``DeleteStartedAt`` from the onEvent Data the framework passes on (``None`` if absent)."""
    value = (event.get("Data") or {}).get("DeleteStartedAt")
    if not isinstance(value, str):
        return None
    try:
        return dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        return None


def is_complete(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Provider ``isComplete``: on Delete, complete only once no interface uses the groups.

    Raises naming the interfaces once :data:`WAIT_LIMIT_SECONDS` have passed since the Delete
    started (a missing start time counts as passed: never wait without a bound).
    """
    if event.get("RequestType") != "Delete":
        return {"IsComplete": True}
    try:
        group_ids = parse_security_group_ids(event.get("ResourceProperties"))
    except PropertyError:
        return {"IsComplete": True}  # on_event already answered this no-op
    interfaces = interfaces_using(group_ids)
    if not interfaces:
        report = _revoke_or_raise(group_ids, context)
        return {"IsComplete": True, "Data": {"Summary": report.summary()}}
    started = _started_at(event)
    waited = (_now() - started).total_seconds() if started else None
    ids = ", ".join(i["NetworkInterfaceId"] for i in interfaces)
    if waited is not None and waited < WAIT_LIMIT_SECONDS:
        logger.info("Waiting for %d network interface(s) to go: %s", len(interfaces), ids)
        return {"IsComplete": False}
    named = "; ".join(
        f"{i['NetworkInterfaceId']} ({i['Status']}, {i['Description'] or 'no description'!r})"
        for i in interfaces[:MAX_INTERFACES_NAMED]
    )
    more = len(interfaces) - MAX_INTERFACES_NAMED
    if more > 0:
        named += f" and {more} more"
    elapsed = f"{int(waited)} s" if waited is not None else "an unknown time (no DeleteStartedAt)"
    raise CleanupError(
        f"{len(interfaces)} network interface(s) still use security groups {', '.join(group_ids)} after "
        f"{elapsed}: {named}. Delete or detach them (or end what still runs in these groups), then "
        "retry the stack delete; the cleanup is idempotent"
    )
