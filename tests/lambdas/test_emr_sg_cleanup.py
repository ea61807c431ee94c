"""Tests for the EMR security-group cleanup custom resource (``emr_patterns.lambdas.emr_sg_cleanup``).

The handler is a ``custom_resources.Provider`` user function pair (``on_event``, ``is_complete``)
that returns or raises. EC2 is moto's in-process ``mock_aws``. The fixture groups carry the rules
EMR adds between its managed groups, plus a CIDR range and a reference to an outside group inside the same
permission, which must survive the cleanup.

Stand-in, with the reason: moto (5.x) does not enforce EC2's ``DependencyViolation`` (it deletes a
security group that other groups still reference, and one that a network interface still uses),
so ``delete_like_ec2`` emulates the first check: it refuses to delete a group that a rule of
another group still references, which is exactly what makes ``cdk destroy`` fail. The interface
wait needs no stand-in: moto's ``DescribeNetworkInterfaces`` honours the ``group-id`` filter.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, NamedTuple

import boto3
import pytest

from emr_patterns.lambdas.emr_sg_cleanup import handler as sgc

from .conftest import REGION, STACK_ID, lambda_context

SERVICE_TOKEN = "arn:aws:lambda:us-east-1:123456789012:function:emr-sg-cleanup"
VPC_CIDR = "10.0.0.0/16"
ADMIN_CIDR = "10.20.0.0/16"
MISSING_GROUP = "sg-0123456789abcdef0"
#: Well-formed ids for tests that make no EC2 call.
IDS = ["sg-0aaaaaaaaaaaaaaa1", "sg-0bbbbbbbbbbbbbbb2", "sg-0ccccccccccccccc3"]


# ---------------------------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def aws(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """moto for every AWS call (see conftest) and a fresh lazily created EC2 client."""
    monkeypatch.setattr(sgc, "_EC2_CLIENT", None)


@pytest.fixture(scope="module")
def session() -> boto3.session.Session:
    """One boto3 session for the module, so the EC2 service model is loaded only once.

    moto hooks into every botocore session, so clients made from it inside ``mock_aws`` are mocked.
    """
    return boto3.session.Session(region_name=REGION)


@pytest.fixture
def ec2(aws: None, session: boto3.session.Session) -> Any:
    """A moto EC2 client for the test's own set-up and checks (not the handler's client)."""
    return session.client("ec2")


@dataclass
class HandlerClient:
    """The EC2 client injected into the handler, with every operation it calls recorded."""

    client: Any
    calls: list[str]

    def count(self, operation: str) -> int:
        """How often ``operation`` was called."""
        return self.calls.count(operation)


@pytest.fixture
def handler_ec2(aws: None, session: boto3.session.Session, monkeypatch: pytest.MonkeyPatch) -> HandlerClient:
    """Give the handler a moto client whose calls are recorded by a botocore ``before-call`` hook."""
    client = session.client("ec2")
    calls: list[str] = []

    def record(model: Any, **_: Any) -> None:
        calls.append(model.name)

    client.meta.events.register("before-call.ec2", record)
    monkeypatch.setattr(sgc, "_EC2_CLIENT", client)
    return HandlerClient(client, calls)


@pytest.fixture
def offline_ec2(session: boto3.session.Session, monkeypatch: pytest.MonkeyPatch) -> HandlerClient:
    """A recorded handler client for tests that expect no EC2 call at all (no moto needed).

    Any call is recorded and answered locally with an error, so nothing can leave the process.
    """
    client = session.client("ec2", aws_access_key_id="testing", aws_secret_access_key="testing")
    calls: list[str] = []

    def record_and_refuse(model: Any, **_: Any) -> tuple[Any, dict[str, Any]]:
        calls.append(model.name)
        error = {"Code": "UnexpectedCall", "Message": "this test expects no EC2 call"}
        return SimpleNamespace(status_code=400, headers={}), {"Error": error, "ResponseMetadata": {}}

    client.meta.events.register("before-call.ec2", record_and_refuse)
    monkeypatch.setattr(sgc, "_EC2_CLIENT", client)
    return HandlerClient(client, calls)


@dataclass
class EmrGroups:
    """The EMR managed groups of one cluster and a group outside the cluster."""

    vpc_id: str
    primary: str
    core: str
    service: str
    outside: str

    @property
    def managed(self) -> list[str]:
        """The ids passed as ``SecurityGroupIds``."""
        return [self.primary, self.core, self.service]


def _pairs(*group_ids: str) -> list[dict[str, str]]:
    return [{"GroupId": group_id} for group_id in group_ids]


def _all_traffic_between(*group_ids: str) -> list[dict[str, Any]]:
    """All TCP, all UDP and all ICMP from ``group_ids``, as EMR adds between primary and core."""
    return [
        {"IpProtocol": "tcp", "FromPort": 0, "ToPort": 65535, "UserIdGroupPairs": _pairs(*group_ids)},
        {"IpProtocol": "udp", "FromPort": 0, "ToPort": 65535, "UserIdGroupPairs": _pairs(*group_ids)},
        {"IpProtocol": "icmp", "FromPort": -1, "ToPort": -1, "UserIdGroupPairs": _pairs(*group_ids)},
    ]


@pytest.fixture
def emr_groups(ec2: Any) -> EmrGroups:
    """A VPC with EMR's three managed groups wired the way EMR wires them (private subnet)."""
    vpc_id = ec2.create_vpc(CidrBlock=VPC_CIDR)["Vpc"]["VpcId"]

    def group(name: str) -> str:
        return ec2.create_security_group(GroupName=name, Description=name, VpcId=vpc_id)["GroupId"]

    g = EmrGroups(vpc_id, group("emr-primary"), group("emr-core"), group("emr-service"), group("bastion"))
    ingress = ec2.authorize_security_group_ingress
    egress = ec2.authorize_security_group_egress

    ingress(GroupId=g.primary, IpPermissions=_all_traffic_between(g.primary, g.core))
    ingress(
        GroupId=g.primary,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 8443, "ToPort": 8443, "UserIdGroupPairs": _pairs(g.service)},
            # One permission mixing a CIDR, an outside group and a managed group: only the
            # managed-group pair may go.
            {
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                "IpRanges": [{"CidrIp": ADMIN_CIDR, "Description": "admin network"}],
                "UserIdGroupPairs": [
                    {"GroupId": g.outside, "Description": "bastion"},
                    {"GroupId": g.core, "Description": "added by EMR"},
                ],
            },
        ],
    )
    ingress(GroupId=g.core, IpPermissions=_all_traffic_between(g.primary, g.core))
    ingress(
        GroupId=g.core,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 8443, "ToPort": 8443, "UserIdGroupPairs": _pairs(g.service)}
        ],
    )
    ingress(
        GroupId=g.service,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 9443, "ToPort": 9443, "UserIdGroupPairs": _pairs(g.primary)}
        ],
    )
    egress(
        GroupId=g.service,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 8443,
                "ToPort": 8443,
                "UserIdGroupPairs": _pairs(g.primary, g.core),
            }
        ],
    )
    egress(
        GroupId=g.primary,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 9443,
                "ToPort": 9443,
                "IpRanges": [{"CidrIp": VPC_CIDR}],
                "UserIdGroupPairs": _pairs(g.service),
            }
        ],
    )
    egress(
        GroupId=g.core,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "UserIdGroupPairs": _pairs(g.outside)}
        ],
    )
    return g


class Rule(NamedTuple):
    """One flattened rule: a single source/destination of one permission."""

    group: str
    direction: str
    protocol: str
    from_port: int | None
    to_port: int | None
    target: str


def rules_of(ec2: Any, group_ids: list[str]) -> set[Rule]:
    """Every rule of the given groups, one entry per CIDR, prefix list or group pair."""
    found: set[Rule] = set()
    for group in ec2.describe_security_groups(GroupIds=group_ids)["SecurityGroups"]:
        for direction, key in (("ingress", "IpPermissions"), ("egress", "IpPermissionsEgress")):
            for perm in group.get(key, []):
                targets = [r["CidrIp"] for r in perm.get("IpRanges", [])]
                targets += [r["CidrIpv6"] for r in perm.get("Ipv6Ranges", [])]
                targets += [p["PrefixListId"] for p in perm.get("PrefixListIds", [])]
                targets += [p["GroupId"] for p in perm.get("UserIdGroupPairs", [])]
                for target in targets:
                    found.add(
                        Rule(
                            group["GroupId"],
                            direction,
                            perm["IpProtocol"],
                            perm.get("FromPort"),
                            perm.get("ToPort"),
                            target,
                        )
                    )
    return found


def referencing_groups(ec2: Any, group_id: str) -> set[str]:
    """Other groups with a rule that references ``group_id`` (EC2's DependencyViolation check)."""
    referencing: set[str] = set()
    for group in ec2.describe_security_groups()["SecurityGroups"]:
        if group["GroupId"] == group_id:
            continue
        for perm in [*group.get("IpPermissions", []), *group.get("IpPermissionsEgress", [])]:
            if any(pair.get("GroupId") == group_id for pair in perm.get("UserIdGroupPairs", [])):
                referencing.add(group["GroupId"])
    return referencing


def delete_like_ec2(ec2: Any, group_id: str) -> None:
    """Delete a group, but fail like real EC2 does while another group still references it."""
    blockers = referencing_groups(ec2, group_id)
    if blockers:
        raise AssertionError(f"DependencyViolation: {group_id} is referenced by {sorted(blockers)}")
    ec2.delete_security_group(GroupId=group_id)


def make_event(
    request_type: str,
    properties: dict[str, Any],
    physical_id: str | None = None,
    old_properties: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A CloudFormation custom-resource request as the provider framework passes it on."""
    event: dict[str, Any] = {
        "RequestType": request_type,
        "StackId": STACK_ID,
        "RequestId": "req-0001",
        "ResourceType": "Custom::EmrSecurityGroupCleanup",
        "LogicalResourceId": "EmrSgCleanup",
        "ResourceProperties": {"ServiceToken": SERVICE_TOKEN, **properties},
    }
    if physical_id is not None:
        event["PhysicalResourceId"] = physical_id
    if old_properties is not None:
        event["OldResourceProperties"] = {"ServiceToken": SERVICE_TOKEN, **old_properties}
    return event


def expected_physical_id(group_ids: list[str]) -> str:
    """The documented id: prefix plus 12 hex of sha1 over the sorted, comma-joined distinct ids."""
    return "emr-sg-cleanup-" + hashlib.sha1(",".join(sorted(set(group_ids))).encode()).hexdigest()[:12]


def run_delete(group_ids: list[str], **kwargs: Any) -> dict[str, Any]:
    """Run on_event's Delete for ``group_ids`` and return its result (errors propagate)."""
    event = make_event("Delete", {"SecurityGroupIds": group_ids}, physical_id=expected_physical_id(group_ids))
    return sgc.on_event(event, kwargs.get("context", lambda_context()))


def summary(result: dict[str, Any]) -> str:
    """The cleanup summary in a result's Data."""
    return str(result["Data"]["Summary"])


# ---------------------------------------------------------------------------------------------
# Delete
# ---------------------------------------------------------------------------------------------


def test_delete_revokes_exactly_the_cross_references(
    ec2: Any, emr_groups: EmrGroups, handler_ec2: HandlerClient
) -> None:
    """Pairs between managed groups go; CIDRs, the outside group and default egress stay."""
    g = emr_groups
    managed = set(g.managed)
    before = rules_of(ec2, g.managed)
    cross = {rule for rule in before if rule.target in managed}
    # 3 protocols x 2 sources x 2 groups + 8443 x 2 + 22 from core + 9443 in, 8443 x 2 + 9443 out
    assert len(cross) == 12 + 2 + 1 + 1 + 2 + 1
    assert referencing_groups(ec2, g.primary) == {g.core, g.service}  # the fixture reproduces the bug

    response = run_delete(g.managed)
    assert response["PhysicalResourceId"] == expected_physical_id(g.managed)
    assert f"revoked {len(cross)} group reference(s) in 3 group(s)" in summary(response)
    assert dt.datetime.fromisoformat(response["Data"]["DeleteStartedAt"]) <= dt.datetime.now(dt.UTC)

    after = rules_of(ec2, g.managed)
    assert after == before - cross
    kept = {
        Rule(g.primary, "ingress", "tcp", 22, 22, ADMIN_CIDR),
        Rule(g.primary, "ingress", "tcp", 22, 22, g.outside),
        Rule(g.primary, "egress", "tcp", 9443, 9443, VPC_CIDR),
        Rule(g.core, "egress", "tcp", 443, 443, g.outside),
        *(Rule(group, "egress", "-1", None, None, "0.0.0.0/0") for group in g.managed),
    }
    assert kept <= after
    # Descriptions of the surviving parts are untouched.
    primary = ec2.describe_security_groups(GroupIds=[g.primary])["SecurityGroups"][0]
    ssh = next(p for p in primary["IpPermissions"] if p.get("FromPort") == 22)
    assert ssh["IpRanges"] == [{"CidrIp": ADMIN_CIDR, "Description": "admin network"}]
    assert [(p["GroupId"], p.get("Description")) for p in ssh["UserIdGroupPairs"]] == [(g.outside, "bastion")]
    assert handler_ec2.count("DescribeSecurityGroups") == 3

    # moto does not raise DependencyViolation itself; delete_like_ec2 performs EC2's check.
    for group_id in g.managed:
        delete_like_ec2(ec2, group_id)
    remaining = {group["GroupId"] for group in ec2.describe_security_groups()["SecurityGroups"]}
    assert remaining.isdisjoint(managed) and g.outside in remaining


def test_second_delete_is_idempotent(ec2: Any, emr_groups: EmrGroups, handler_ec2: HandlerClient) -> None:
    """A repeated Delete describes the groups again, finds nothing to revoke and succeeds."""
    run_delete(emr_groups.managed)
    after_first = rules_of(ec2, emr_groups.managed)
    handler_ec2.calls.clear()

    response = run_delete(emr_groups.managed)
    assert "revoked 0 group reference(s)" in summary(response)
    assert handler_ec2.calls == ["DescribeNetworkInterfaces"] + ["DescribeSecurityGroups"] * 3
    assert rules_of(ec2, emr_groups.managed) == after_first


def test_groups_still_in_use_are_left_alone_until_their_interfaces_go(
    ec2: Any, emr_groups: EmrGroups, handler_ec2: HandlerClient
) -> None:
    """While an interface uses a group, nothing is revoked and is_complete answers not complete;
    once the interface is deleted, is_complete revokes and answers complete."""
    g = emr_groups
    subnet = ec2.create_subnet(VpcId=g.vpc_id, CidrBlock="10.0.200.0/24")["Subnet"]["SubnetId"]
    eni = ec2.create_network_interface(SubnetId=subnet, Groups=[g.core], Description="EMR core node")
    eni_id = eni["NetworkInterface"]["NetworkInterfaceId"]
    before = rules_of(ec2, g.managed)

    started = run_delete(g.managed)
    assert "nothing revoked yet: 1 network interface(s) still use these groups" in summary(started)
    assert rules_of(ec2, g.managed) == before
    assert "RevokeSecurityGroupIngress" not in handler_ec2.calls

    waiting = {**make_event("Delete", {"SecurityGroupIds": g.managed}), **started}
    assert sgc.is_complete(waiting, lambda_context()) == {"IsComplete": False}  # no Data allowed
    assert sgc.is_complete(waiting, lambda_context()) == {"IsComplete": False}
    assert rules_of(ec2, g.managed) == before

    ec2.delete_network_interface(NetworkInterfaceId=eni_id)
    done = sgc.is_complete(waiting, lambda_context())
    assert done["IsComplete"] is True
    assert "revoked 19 group reference(s) in 3 group(s)" in summary(done)
    assert not {rule for rule in rules_of(ec2, g.managed) if rule.target in set(g.managed)}
    for group_id in g.managed:
        delete_like_ec2(ec2, group_id)


def test_is_complete_fails_naming_the_interfaces_after_the_wait_limit(
    ec2: Any, emr_groups: EmrGroups, handler_ec2: HandlerClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past WAIT_LIMIT_SECONDS the wait ends in an error naming id, status and description."""
    g = emr_groups
    subnet = ec2.create_subnet(VpcId=g.vpc_id, CidrBlock="10.0.200.0/24")["Subnet"]["SubnetId"]
    eni = ec2.create_network_interface(SubnetId=subnet, Groups=[g.primary], Description="EMR primary node")
    eni_id = eni["NetworkInterface"]["NetworkInterfaceId"]
    started = run_delete(g.managed)
    waiting = {**make_event("Delete", {"SecurityGroupIds": g.managed}), **started}
    start = dt.datetime.fromisoformat(started["Data"]["DeleteStartedAt"])

    monkeypatch.setattr(sgc, "_now", lambda: start + dt.timedelta(seconds=sgc.WAIT_LIMIT_SECONDS - 1))
    assert sgc.is_complete(waiting, lambda_context()) == {"IsComplete": False}
    monkeypatch.setattr(sgc, "_now", lambda: start + dt.timedelta(seconds=sgc.WAIT_LIMIT_SECONDS))
    with pytest.raises(sgc.CleanupError) as raised:
        sgc.is_complete(waiting, lambda_context())
    message = str(raised.value)
    assert eni_id in message and "available" in message and "EMR primary node" in message
    assert "retry the stack delete" in message
    assert "RevokeSecurityGroupIngress" not in handler_ec2.calls


def test_is_complete_without_a_start_time_never_waits_unbounded(
    ec2: Any, emr_groups: EmrGroups, handler_ec2: HandlerClient
) -> None:
    """An event without DeleteStartedAt fails at once while interfaces remain (never a silent SUCCESS)."""
    g = emr_groups
    subnet = ec2.create_subnet(VpcId=g.vpc_id, CidrBlock="10.0.200.0/24")["Subnet"]["SubnetId"]
    ec2.create_network_interface(SubnetId=subnet, Groups=[g.service])
    with pytest.raises(sgc.CleanupError, match="1 network interface"):
        sgc.is_complete(make_event("Delete", {"SecurityGroupIds": g.managed}), lambda_context())


def test_is_complete_on_create_and_update_is_immediate(offline_ec2: HandlerClient) -> None:
    """Only Delete waits; Create and Update make no EC2 call."""
    for request_type in ("Create", "Update"):
        assert sgc.is_complete(make_event(request_type, {"SecurityGroupIds": IDS})) == {"IsComplete": True}
    assert offline_ec2.calls == []


def test_missing_groups_are_skipped(ec2: Any, emr_groups: EmrGroups, handler_ec2: HandlerClient) -> None:
    """A group that no longer exists is skipped; the others are still cleaned."""
    ids = [*emr_groups.managed, MISSING_GROUP]
    response = run_delete(ids)
    assert "1 group(s) missing" in summary(response)
    for group_id in emr_groups.managed:
        delete_like_ec2(ec2, group_id)


def test_all_groups_gone_is_success(ec2: Any, emr_groups: EmrGroups, handler_ec2: HandlerClient) -> None:
    """Delete after the groups were removed out of band (or by an earlier attempt) succeeds."""
    for group_id in emr_groups.managed:
        ec2.delete_security_group(GroupId=group_id)  # moto allows it; EC2 would need the cleanup
    response = run_delete(emr_groups.managed)
    assert "3 group(s) missing" in summary(response)
    assert (
        handler_ec2.count("RevokeSecurityGroupIngress") == handler_ec2.count("RevokeSecurityGroupEgress") == 0
    )


def test_rules_revoked_concurrently_are_skipped(
    ec2: Any, emr_groups: EmrGroups, handler_ec2: HandlerClient
) -> None:
    """InvalidPermission.NotFound after the describe: the rest of the permission is revoked pair by pair."""
    g = emr_groups
    done: list[str] = []

    def revoke_behind_the_back(parsed: dict[str, Any], **_: Any) -> None:
        described = [group["GroupId"] for group in parsed.get("SecurityGroups", [])]
        if done or described != [g.primary]:
            return
        done.append("x")
        # Part of a two-pair permission and a whole one-pair permission disappear between the
        # handler's describe and its revoke.
        ec2.revoke_security_group_ingress(
            GroupId=g.primary,
            IpPermissions=[
                {"IpProtocol": "tcp", "FromPort": 0, "ToPort": 65535, "UserIdGroupPairs": _pairs(g.core)}
            ],
        )
        ec2.revoke_security_group_ingress(
            GroupId=g.primary,
            IpPermissions=[
                {"IpProtocol": "tcp", "FromPort": 8443, "ToPort": 8443, "UserIdGroupPairs": _pairs(g.service)}
            ],
        )

    handler_ec2.client.meta.events.register("after-call.ec2.DescribeSecurityGroups", revoke_behind_the_back)
    response = run_delete(g.managed)
    assert done, "the hook did not run"
    assert "2 already gone" in summary(response)
    assert not {rule for rule in rules_of(ec2, g.managed) if rule.target in set(g.managed)}


def test_outside_groups_are_never_modified(
    ec2: Any, emr_groups: EmrGroups, handler_ec2: HandlerClient
) -> None:
    """A group outside the set keeps its references to the managed groups (it is not ours)."""
    g = emr_groups
    ec2.authorize_security_group_egress(
        GroupId=g.outside,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "UserIdGroupPairs": _pairs(g.primary)}
        ],
    )
    before = rules_of(ec2, [g.outside])
    run_delete(g.managed)
    assert rules_of(ec2, [g.outside]) == before
    with pytest.raises(AssertionError, match="DependencyViolation"):
        delete_like_ec2(ec2, g.primary)  # the user's own reference still blocks, as it should


def test_per_rule_error_continues_then_fails(
    ec2: Any, emr_groups: EmrGroups, handler_ec2: HandlerClient
) -> None:
    """An error revoking in one group is logged, the other groups are cleaned, then the call raises."""
    g = emr_groups

    def deny_core(params: dict[str, Any], **_: Any) -> tuple[Any, dict[str, Any]] | None:
        if params["body"].get("GroupId") != g.core:
            return None
        error = {
            "Code": "UnauthorizedOperation",
            "Message": "You are not authorized to perform this operation.",
        }
        return SimpleNamespace(status_code=403, headers={}), {"Error": error, "ResponseMetadata": {}}

    handler_ec2.client.meta.events.register("before-call.ec2.RevokeSecurityGroupIngress", deny_core)
    with pytest.raises(sgc.CleanupError) as raised:
        run_delete(g.managed)
    reason = str(raised.value)
    assert "UnauthorizedOperation" in reason and g.core in reason
    assert "4 error(s)" in reason  # tcp, udp, icmp from primary+core, 8443 from service
    assert "retry the delete" in reason
    left = {rule for rule in rules_of(ec2, g.managed) if rule.target in set(g.managed)}
    assert left and {rule.group for rule in left} == {g.core}
    assert {rule.direction for rule in left} == {"ingress"}


def test_describe_error_fails_with_code(emr_groups: EmrGroups, handler_ec2: HandlerClient) -> None:
    """A describe that is denied raises with the error code (the framework reports it)."""

    def deny(**_: Any) -> tuple[Any, dict[str, Any]]:
        error = {
            "Code": "UnauthorizedOperation",
            "Message": "You are not authorized to perform this operation.",
        }
        return SimpleNamespace(status_code=403, headers={}), {"Error": error, "ResponseMetadata": {}}

    handler_ec2.client.meta.events.register("before-call.ec2.DescribeSecurityGroups", deny)
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError, match="UnauthorizedOperation"):
        run_delete(emr_groups.managed)


def test_delete_stops_before_the_lambda_deadline(offline_ec2: HandlerClient) -> None:
    """With no time left, the handler raises (retryable) instead of timing out silently."""
    with pytest.raises(TimeoutError, match="retry"):
        run_delete(IDS, context=lambda_context(0))
    assert offline_ec2.calls == []


def test_delete_with_invalid_properties_is_a_noop(offline_ec2: HandlerClient) -> None:
    """A Delete whose properties never validated succeeds in both entry points without touching EC2."""
    event = make_event("Delete", {"SecurityGroupIds": "sg-1"}, physical_id="emr-sg-cleanup-x")
    assert sgc.on_event(event, lambda_context()) == {"PhysicalResourceId": "emr-sg-cleanup-x", "Data": {}}
    assert sgc.is_complete(event, lambda_context()) == {"IsComplete": True}
    assert offline_ec2.calls == []


def test_logs_only_ids_and_counts(
    emr_groups: EmrGroups,
    handler_ec2: HandlerClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The handler's log lines carry group ids and counts, never CIDRs, ports or descriptions."""
    caplog.set_level("INFO", logger=sgc.logger.name)
    run_delete(emr_groups.managed)
    text = "\n".join(r.getMessage() for r in caplog.records if r.name == sgc.logger.name)
    assert emr_groups.primary in text
    for secret in (ADMIN_CIDR, VPC_CIDR, "8443", "added by EMR"):
        assert secret not in text


# ---------------------------------------------------------------------------------------------
# Create / Update / properties
# ---------------------------------------------------------------------------------------------


def test_create_and_update_make_no_ec2_calls(offline_ec2: HandlerClient) -> None:
    """Create and Update only validate and answer; the id depends only on the set of groups."""
    expected = expected_physical_id(IDS)
    created = sgc.on_event(make_event("Create", {"SecurityGroupIds": IDS}), lambda_context())
    assert created == {"PhysicalResourceId": expected, "Data": {}}
    assert expected == "emr-sg-cleanup-" + hashlib.sha1(",".join(IDS).encode()).hexdigest()[:12]

    reordered = [IDS[2], IDS[0], IDS[1], IDS[0]]
    update = make_event("Update", {"SecurityGroupIds": reordered}, expected, {"SecurityGroupIds": IDS})
    assert sgc.on_event(update)["PhysicalResourceId"] == expected  # same set: same id, no replacement

    changed = [*IDS[:2], "sg-0ddddddddddddddd4"]
    update = make_event("Update", {"SecurityGroupIds": changed}, expected, {"SecurityGroupIds": IDS})
    response = sgc.on_event(update)
    assert response["PhysicalResourceId"] == expected_physical_id(changed) != expected
    assert offline_ec2.calls == []


def test_create_does_not_build_a_client(monkeypatch: pytest.MonkeyPatch) -> None:
    """The EC2 client is lazy: Create never even constructs one."""
    monkeypatch.setattr(sgc, "_EC2_CLIENT", None)

    def no_client(*_: Any, **__: Any) -> None:
        raise AssertionError("boto3.client called on Create")

    monkeypatch.setattr(boto3, "client", no_client)
    sgc.on_event(make_event("Create", {"SecurityGroupIds": IDS[:2]}), lambda_context())
    sgc.is_complete(make_event("Create", {"SecurityGroupIds": IDS[:2]}), lambda_context())
    assert sgc._EC2_CLIENT is None


@pytest.mark.parametrize(
    ("properties", "named"),
    [
        ({}, "SecurityGroupIds"),
        ({"SecurityGroupIds": []}, "SecurityGroupIds"),
        ({"SecurityGroupIds": ",".join(IDS)}, "SecurityGroupIds"),
        ({"SecurityGroupIds": [IDS[0], "subnet-0123456789abcdef0"]}, "SecurityGroupIds"),
        ({"SecurityGroupIds": [IDS[0], "sg-0ABCDEF0123456789"]}, "SecurityGroupIds"),
        ({"SecurityGroupIds": [IDS[0], 12345678]}, "SecurityGroupIds"),
        ({"SecurityGroupIds": [IDS[0]]}, "SecurityGroupIds"),
        ({"SecurityGroupIds": [IDS[0], IDS[0]]}, "SecurityGroupIds"),
        ({"SecurityGroupIds": [f"sg-{i:017x}" for i in range(11)]}, "SecurityGroupIds"),
        ({"SecurityGroupId": IDS}, "SecurityGroupId"),
    ],
    ids=["missing", "empty", "string", "subnet", "uppercase", "int", "one", "duplicate", "eleven", "typo"],
)
def test_invalid_properties_fail_without_ec2_calls(
    offline_ec2: HandlerClient, properties: dict[str, Any], named: str
) -> None:
    """A PropertyError naming the property and the fix, and no AWS call."""
    with pytest.raises(sgc.PropertyError) as raised:
        sgc.on_event(make_event("Create", properties), lambda_context())
    reason = str(raised.value)
    assert named in reason
    assert "set SecurityGroupIds to a list of 2 to 10" in reason or "allowed" in reason
    assert offline_ec2.calls == []


def test_ten_groups_are_accepted(offline_ec2: HandlerClient) -> None:
    """The upper bound is inclusive; 8-hex (old-style) ids are valid too."""
    ids = [f"sg-{i:017x}" for i in range(9)] + ["sg-1234abcd"]
    result = sgc.on_event(make_event("Create", {"SecurityGroupIds": ids}), lambda_context())
    assert result["PhysicalResourceId"] == expected_physical_id(ids)


def test_invalid_update_raises(offline_ec2: HandlerClient) -> None:
    """A bad Update raises; the framework answers FAILED with the existing id, so the rollback is clean."""
    event = make_event(
        "Update", {"SecurityGroupIds": []}, expected_physical_id(IDS), {"SecurityGroupIds": IDS}
    )
    with pytest.raises(sgc.PropertyError, match="SecurityGroupIds"):
        sgc.on_event(event, lambda_context())


# ---------------------------------------------------------------------------------------------
# Pieces
# ---------------------------------------------------------------------------------------------


def test_referencing_permissions_keeps_only_in_set_pairs() -> None:
    """Ports as described (none for -1), only in-set pairs, output-only keys dropped."""
    inside = frozenset({"sg-0aaaaaaaaaaaaaaa1", "sg-0bbbbbbbbbbbbbbb2"})
    permissions = [
        {
            "IpProtocol": "-1",
            "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            "Ipv6Ranges": [{"CidrIpv6": "::/0"}],
            "PrefixListIds": [{"PrefixListId": "pl-12345678"}],
            "UserIdGroupPairs": [
                {"GroupId": "sg-0aaaaaaaaaaaaaaa1", "UserId": "123456789012", "Description": "emr"},
                {"GroupId": "sg-0ffffffffffffffff", "UserId": "123456789012"},
            ],
        },
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
        {
            "IpProtocol": "tcp",
            "FromPort": 8443,
            "ToPort": 8443,
            "UserIdGroupPairs": [
                {
                    "GroupId": "sg-0bbbbbbbbbbbbbbb2",
                    "PeeringStatus": "active",
                    "VpcId": "vpc-1",
                    "Description": "",
                }
            ],
        },
    ]
    assert sgc.referencing_permissions(permissions, inside) == [
        {
            "IpProtocol": "-1",
            "UserIdGroupPairs": [
                {"GroupId": "sg-0aaaaaaaaaaaaaaa1", "UserId": "123456789012", "Description": "emr"}
            ],
        },
        {
            "IpProtocol": "tcp",
            "FromPort": 8443,
            "ToPort": 8443,
            "UserIdGroupPairs": [{"GroupId": "sg-0bbbbbbbbbbbbbbb2", "VpcId": "vpc-1"}],
        },
    ]


def test_unsupported_request_type_raises(offline_ec2: HandlerClient) -> None:
    """Anything but Create/Update/Delete raises naming the type."""
    with pytest.raises(ValueError, match="Replace"):
        sgc.on_event(make_event("Replace", {"SecurityGroupIds": IDS}), lambda_context())
    assert offline_ec2.calls == []


def test_no_response_sending_code_left() -> None:
    """The provider framework answers CloudFormation; the module never talks to a ResponseURL."""
    from pathlib import Path

    source = Path(sgc.__file__).read_text()
    for needle in ("ResponseURL", "urllib", "_send_response", "_failure_physical_id"):
        assert needle not in source
