"""Tests for the EMR security-group cleanup custom resource (``emr_patterns.lambdas.emr_sg_cleanup``).

EC2 is moto's in-process ``mock_aws``; CloudFormation's pre-signed ``ResponseURL`` is a real HTTP
server on 127.0.0.1 that records every PUT. The fixture groups carry the rules EMR adds between
its managed groups, plus a CIDR range and a reference to an outside group inside the same
permission, which must survive the cleanup.

moto does not enforce EC2's ``DependencyViolation`` (it deletes a security group that other groups
still reference), so ``delete_like_ec2`` emulates that check: it refuses to delete a group that a
rule of another group still references, which is exactly what makes ``cdk destroy`` fail.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any, NamedTuple

import boto3
import pytest

from emr_patterns.lambdas.emr_sg_cleanup import handler as sgc

from .conftest import REGION, STACK_ID, ResponseEndpoint, lambda_context

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
    url: str,
    properties: dict[str, Any],
    physical_id: str | None = None,
    old_properties: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A CloudFormation custom-resource request."""
    event: dict[str, Any] = {
        "RequestType": request_type,
        "ResponseURL": url,
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


def run_delete(cfn_endpoint: ResponseEndpoint, group_ids: list[str], **kwargs: Any) -> dict[str, Any]:
    """Run a Delete for ``group_ids`` and return the (only) response."""
    physical_id = expected_physical_id(group_ids)
    event = make_event("Delete", cfn_endpoint.url, {"SecurityGroupIds": group_ids}, physical_id=physical_id)
    sgc.handler(event, kwargs.get("context", lambda_context()))
    return cfn_endpoint.pop()


# ---------------------------------------------------------------------------------------------
# Delete
# ---------------------------------------------------------------------------------------------


def test_delete_revokes_exactly_the_cross_references(
    ec2: Any, emr_groups: EmrGroups, handler_ec2: HandlerClient, cfn_endpoint: ResponseEndpoint
) -> None:
    """Pairs between managed groups go; CIDRs, the outside group and default egress stay."""
    g = emr_groups
    managed = set(g.managed)
    before = rules_of(ec2, g.managed)
    cross = {rule for rule in before if rule.target in managed}
    # 3 protocols x 2 sources x 2 groups + 8443 x 2 + 22 from core + 9443 in, 8443 x 2 + 9443 out
    assert len(cross) == 12 + 2 + 1 + 1 + 2 + 1
    assert referencing_groups(ec2, g.primary) == {g.core, g.service}  # the fixture reproduces the bug

    response = run_delete(cfn_endpoint, g.managed)
    assert response["Status"] == "SUCCESS", response["Reason"]
    assert response["PhysicalResourceId"] == expected_physical_id(g.managed)
    assert f"revoked {len(cross)} group reference(s) in 3 group(s)" in response["Reason"]

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


def test_second_delete_is_idempotent(
    ec2: Any, emr_groups: EmrGroups, handler_ec2: HandlerClient, cfn_endpoint: ResponseEndpoint
) -> None:
    """A repeated Delete describes the groups again, finds nothing to revoke and succeeds."""
    assert run_delete(cfn_endpoint, emr_groups.managed)["Status"] == "SUCCESS"
    after_first = rules_of(ec2, emr_groups.managed)
    handler_ec2.calls.clear()

    response = run_delete(cfn_endpoint, emr_groups.managed)
    assert response["Status"] == "SUCCESS", response["Reason"]
    assert "revoked 0 group reference(s)" in response["Reason"]
    assert handler_ec2.calls == ["DescribeNetworkInterfaces"] + ["DescribeSecurityGroups"] * 3
    assert rules_of(ec2, emr_groups.managed) == after_first


def test_groups_still_in_use_are_left_alone(
    ec2: Any, emr_groups: EmrGroups, handler_ec2: HandlerClient, cfn_endpoint: ResponseEndpoint
) -> None:
    """After an update that replaced one group, the old set's Delete must not cut a live cluster."""
    g = emr_groups
    subnet = ec2.create_subnet(VpcId=g.vpc_id, CidrBlock="10.0.200.0/24")["Subnet"]["SubnetId"]
    ec2.create_network_interface(SubnetId=subnet, Groups=[g.core])
    before = rules_of(ec2, g.managed)

    response = run_delete(cfn_endpoint, g.managed)
    assert response["Status"] == "SUCCESS", response["Reason"]
    assert "nothing revoked: 1 network interface(s) still use these groups" in response["Reason"]
    assert rules_of(ec2, g.managed) == before
    assert "RevokeSecurityGroupIngress" not in handler_ec2.calls


def test_missing_groups_are_skipped(
    ec2: Any, emr_groups: EmrGroups, handler_ec2: HandlerClient, cfn_endpoint: ResponseEndpoint
) -> None:
    """A group that no longer exists is skipped; the others are still cleaned."""
    ids = [*emr_groups.managed, MISSING_GROUP]
    response = run_delete(cfn_endpoint, ids)
    assert response["Status"] == "SUCCESS", response["Reason"]
    assert "1 group(s) missing" in response["Reason"]
    for group_id in emr_groups.managed:
        delete_like_ec2(ec2, group_id)


def test_all_groups_gone_is_success(
    ec2: Any, emr_groups: EmrGroups, handler_ec2: HandlerClient, cfn_endpoint: ResponseEndpoint
) -> None:
    """Delete after the groups were removed out of band (or by an earlier attempt) succeeds."""
    for group_id in emr_groups.managed:
        ec2.delete_security_group(GroupId=group_id)  # moto allows it; EC2 would need the cleanup
    response = run_delete(cfn_endpoint, emr_groups.managed)
    assert response["Status"] == "SUCCESS", response["Reason"]
    assert "3 group(s) missing" in response["Reason"]
    assert (
        handler_ec2.count("RevokeSecurityGroupIngress") == handler_ec2.count("RevokeSecurityGroupEgress") == 0
    )


def test_rules_revoked_concurrently_are_skipped(
    ec2: Any, emr_groups: EmrGroups, handler_ec2: HandlerClient, cfn_endpoint: ResponseEndpoint
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
    response = run_delete(cfn_endpoint, g.managed)
    assert done, "the hook did not run"
    assert response["Status"] == "SUCCESS", response["Reason"]
    assert "2 already gone" in response["Reason"]
    assert not {rule for rule in rules_of(ec2, g.managed) if rule.target in set(g.managed)}


def test_outside_groups_are_never_modified(
    ec2: Any, emr_groups: EmrGroups, handler_ec2: HandlerClient, cfn_endpoint: ResponseEndpoint
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
    assert run_delete(cfn_endpoint, g.managed)["Status"] == "SUCCESS"
    assert rules_of(ec2, [g.outside]) == before
    with pytest.raises(AssertionError, match="DependencyViolation"):
        delete_like_ec2(ec2, g.primary)  # the user's own reference still blocks, as it should


def test_per_rule_error_continues_then_fails(
    ec2: Any, emr_groups: EmrGroups, handler_ec2: HandlerClient, cfn_endpoint: ResponseEndpoint
) -> None:
    """An error revoking in one group is logged, the other groups are cleaned, the answer is FAILED."""
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
    response = run_delete(cfn_endpoint, g.managed)
    assert response["Status"] == "FAILED"
    assert "UnauthorizedOperation" in response["Reason"] and g.core in response["Reason"]
    assert "4 error(s)" in response["Reason"]  # tcp, udp, icmp from primary+core, 8443 from service
    assert "retry the delete" in response["Reason"]
    assert response["PhysicalResourceId"] == expected_physical_id(g.managed)
    left = {rule for rule in rules_of(ec2, g.managed) if rule.target in set(g.managed)}
    assert left and {rule.group for rule in left} == {g.core}
    assert {rule.direction for rule in left} == {"ingress"}


def test_describe_error_fails_with_code(
    emr_groups: EmrGroups, handler_ec2: HandlerClient, cfn_endpoint: ResponseEndpoint
) -> None:
    """A describe that is denied answers FAILED with the error code and the log stream."""

    def deny(**_: Any) -> tuple[Any, dict[str, Any]]:
        error = {
            "Code": "UnauthorizedOperation",
            "Message": "You are not authorized to perform this operation.",
        }
        return SimpleNamespace(status_code=403, headers={}), {"Error": error, "ResponseMetadata": {}}

    handler_ec2.client.meta.events.register("before-call.ec2.DescribeSecurityGroups", deny)
    response = run_delete(cfn_endpoint, emr_groups.managed)
    assert response["Status"] == "FAILED"
    assert "UnauthorizedOperation" in response["Reason"] and "log stream" in response["Reason"]


def test_delete_stops_before_the_lambda_deadline(
    offline_ec2: HandlerClient, cfn_endpoint: ResponseEndpoint
) -> None:
    """With no time left, the handler answers FAILED (retryable) instead of timing out silently."""
    response = run_delete(cfn_endpoint, IDS, context=lambda_context(0))
    assert response["Status"] == "FAILED"
    assert "TimeoutError" in response["Reason"] and "retry" in response["Reason"]
    assert offline_ec2.calls == []


def test_delete_with_invalid_properties_is_a_noop(
    offline_ec2: HandlerClient, cfn_endpoint: ResponseEndpoint
) -> None:
    """The rollback of a Create that failed validation must succeed without touching EC2."""
    event = make_event(
        "Delete", cfn_endpoint.url, {"SecurityGroupIds": "sg-1"}, physical_id="emr-sg-cleanup-failed-req-0001"
    )
    sgc.handler(event, lambda_context())
    response = cfn_endpoint.last
    assert response["Status"] == "SUCCESS", response["Reason"]
    assert response["PhysicalResourceId"] == "emr-sg-cleanup-failed-req-0001"
    assert offline_ec2.calls == []


def test_logs_only_ids_and_counts(
    emr_groups: EmrGroups,
    handler_ec2: HandlerClient,
    cfn_endpoint: ResponseEndpoint,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The handler's log lines carry group ids and counts, never CIDRs, ports or the response URL."""
    caplog.set_level("INFO", logger=sgc.logger.name)
    assert run_delete(cfn_endpoint, emr_groups.managed)["Status"] == "SUCCESS"
    text = "\n".join(r.getMessage() for r in caplog.records if r.name == sgc.logger.name)
    assert emr_groups.primary in text
    for secret in (ADMIN_CIDR, VPC_CIDR, "X-Amz-Signature", "127.0.0.1", "8443", "added by EMR"):
        assert secret not in text


# ---------------------------------------------------------------------------------------------
# Create / Update / properties
# ---------------------------------------------------------------------------------------------


def test_create_and_update_make_no_ec2_calls(
    offline_ec2: HandlerClient, cfn_endpoint: ResponseEndpoint
) -> None:
    """Create and Update only validate and answer; the id depends only on the set of groups."""
    expected = expected_physical_id(IDS)
    sgc.handler(make_event("Create", cfn_endpoint.url, {"SecurityGroupIds": IDS}), lambda_context())
    created = cfn_endpoint.pop()
    assert created["Status"] == "SUCCESS", created["Reason"]
    assert created["PhysicalResourceId"] == expected
    assert expected == "emr-sg-cleanup-" + hashlib.sha1(",".join(IDS).encode()).hexdigest()[:12]

    reordered = [IDS[2], IDS[0], IDS[1], IDS[0]]
    update = make_event(
        "Update", cfn_endpoint.url, {"SecurityGroupIds": reordered}, expected, {"SecurityGroupIds": IDS}
    )
    sgc.handler(update, lambda_context())
    assert cfn_endpoint.pop()["PhysicalResourceId"] == expected  # same set: same id, no replacement

    changed = [*IDS[:2], "sg-0ddddddddddddddd4"]
    update = make_event(
        "Update", cfn_endpoint.url, {"SecurityGroupIds": changed}, expected, {"SecurityGroupIds": IDS}
    )
    sgc.handler(update, lambda_context())
    response = cfn_endpoint.pop()
    assert response["Status"] == "SUCCESS"
    assert response["PhysicalResourceId"] == expected_physical_id(changed) != expected
    assert offline_ec2.calls == []


def test_create_does_not_build_a_client(
    monkeypatch: pytest.MonkeyPatch, cfn_endpoint: ResponseEndpoint
) -> None:
    """The EC2 client is lazy: Create never even constructs one."""
    monkeypatch.setattr(sgc, "_EC2_CLIENT", None)

    def no_client(*_: Any, **__: Any) -> None:
        raise AssertionError("boto3.client called on Create")

    monkeypatch.setattr(boto3, "client", no_client)
    sgc.handler(make_event("Create", cfn_endpoint.url, {"SecurityGroupIds": IDS[:2]}), lambda_context())
    assert cfn_endpoint.last["Status"] == "SUCCESS"
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
    offline_ec2: HandlerClient, cfn_endpoint: ResponseEndpoint, properties: dict[str, Any], named: str
) -> None:
    """FAILED, a Reason naming the property and the fix, a placeholder id, no AWS call."""
    sgc.handler(make_event("Create", cfn_endpoint.url, properties), lambda_context())
    response = cfn_endpoint.last
    assert response["Status"] == "FAILED"
    assert named in response["Reason"]
    assert (
        "set SecurityGroupIds to a list of 2 to 10" in response["Reason"] or "allowed" in response["Reason"]
    )
    assert response["PhysicalResourceId"] == "emr-sg-cleanup-failed-req-0001"
    assert offline_ec2.calls == []


def test_ten_groups_are_accepted(offline_ec2: HandlerClient, cfn_endpoint: ResponseEndpoint) -> None:
    """The upper bound is inclusive; 8-hex (old-style) ids are valid too."""
    ids = [f"sg-{i:017x}" for i in range(9)] + ["sg-1234abcd"]
    sgc.handler(make_event("Create", cfn_endpoint.url, {"SecurityGroupIds": ids}), lambda_context())
    assert cfn_endpoint.last["Status"] == "SUCCESS", cfn_endpoint.last["Reason"]


def test_invalid_update_keeps_existing_id(offline_ec2: HandlerClient, cfn_endpoint: ResponseEndpoint) -> None:
    """A bad Update answers FAILED with the existing id so the rollback is clean."""
    old_id = expected_physical_id(IDS)
    event = make_event(
        "Update", cfn_endpoint.url, {"SecurityGroupIds": []}, old_id, {"SecurityGroupIds": IDS}
    )
    sgc.handler(event, lambda_context())
    response = cfn_endpoint.last
    assert response["Status"] == "FAILED" and "SecurityGroupIds" in response["Reason"]
    assert response["PhysicalResourceId"] == old_id


# ---------------------------------------------------------------------------------------------
# Pieces and wire format
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


def test_response_wire_format(offline_ec2: HandlerClient, cfn_endpoint: ResponseEndpoint) -> None:
    """One PUT to the pre-signed path, empty Content-Type, JSON with exactly the CFN fields."""
    event = make_event("Create", cfn_endpoint.url, {"SecurityGroupIds": IDS})
    returned = sgc.handler(event, lambda_context())
    assert len(cfn_endpoint.requests) == 1
    request = cfn_endpoint.requests[0]
    assert request.method == "PUT"
    assert request.path == "/cfn-response?X-Amz-Signature=abc123"
    content_type = {k.lower(): v for k, v in request.headers.items()}["content-type"]
    assert content_type == ""
    assert request.body == returned
    assert set(request.body) == {
        "Status",
        "Reason",
        "PhysicalResourceId",
        "StackId",
        "RequestId",
        "LogicalResourceId",
        "Data",
    }
    for name in ("StackId", "RequestId", "LogicalResourceId"):
        assert request.body[name] == event[name]
    assert request.body["Data"] == {}


def test_unsupported_request_type_fails(offline_ec2: HandlerClient, cfn_endpoint: ResponseEndpoint) -> None:
    """Anything but Create/Update/Delete is answered FAILED."""
    sgc.handler(make_event("Replace", cfn_endpoint.url, {"SecurityGroupIds": IDS}), lambda_context())
    response = cfn_endpoint.last
    assert response["Status"] == "FAILED" and "Replace" in response["Reason"]
    assert offline_ec2.calls == []


def test_unreachable_response_url_does_not_raise(
    offline_ec2: HandlerClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A response URL that refuses connections is retried, logged, and does not raise."""
    sleeps: list[float] = []
    monkeypatch.setattr(sgc.time, "sleep", sleeps.append)
    dead = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = dead.server_port
    dead.server_close()  # nothing listens on this port any more
    event = make_event("Create", f"http://127.0.0.1:{port}/x", {"SecurityGroupIds": IDS})
    body = sgc.handler(event, None)
    assert body["Status"] == "SUCCESS"
    assert len(sleeps) == 3
