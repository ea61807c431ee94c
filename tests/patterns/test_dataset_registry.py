"""DatasetRegistry: the synthesized table (CMK, PITR, deletion protection, retained), the grants,
the nag packs, and the protocol's calls checked against the botocore model of those grants."""

from __future__ import annotations

from typing import Any

import pytest

from emr_patterns.patterns.widematrix import READ_ACTIONS, SWITCH_ACTIONS, DatasetRegistry

from ..orchestration.conftest import make_platform

pytestmark = pytest.mark.cdk


@pytest.fixture(scope="module")
def synthesized() -> Any:
    from aws_cdk import aws_iam as iam

    app, stack, platform = make_platform()
    registry = DatasetRegistry(stack, "Registry", key=platform.key)
    reader = iam.Role(stack, "Reader", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    switcher = iam.Role(stack, "Switcher", assumed_by=iam.ServicePrincipal("states.amazonaws.com"))
    registry.grant_read(reader)
    registry.grant_switch(switcher)
    template = app.synth().get_stack_by_name("PipelineTest").template
    return stack, registry, template


def _resource(stack: Any, template: dict, construct: Any) -> dict:
    return template["Resources"][stack.resolve(stack.get_logical_id(construct.node.default_child))]


def test_table_is_encrypted_recoverable_protected_and_retained(synthesized: Any) -> None:
    stack, registry, template = synthesized
    table = _resource(stack, template, registry.table)
    props = table["Properties"]
    assert props["SSESpecification"]["SSEEnabled"] is True and props["SSESpecification"]["SSEType"] == "KMS"
    assert "KMSMasterKeyId" in props["SSESpecification"]
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["DeletionProtectionEnabled"] is True
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert {k["AttributeName"]: k["KeyType"] for k in props["KeySchema"]} == {
        "dataset": "HASH",
        "item": "RANGE",
    }
    assert table["DeletionPolicy"] == "Retain"


def test_grants_name_exactly_the_protocol_actions(synthesized: Any) -> None:
    _, _, template = synthesized
    actions: dict[str, set[str]] = {}
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::IAM::Policy":
            continue
        role = resource["Properties"]["Roles"][0]["Ref"]
        for st in resource["Properties"]["PolicyDocument"]["Statement"]:
            acts = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
            actions.setdefault(role, set()).update(a for a in acts if a.startswith("dynamodb:"))
    found = sorted(actions.values(), key=len)
    assert found == [set(READ_ACTIONS), set(SWITCH_ACTIONS)]


def test_protocol_calls_are_covered_by_the_switch_grant() -> None:
    """Every DynamoDB operation the registry module calls is in the admin function's grant
    (TransactWriteItems with a ConditionCheck and an Update needs ConditionCheckItem and
    UpdateItem), and all but the cleanup's scan are in the switch grant."""
    import ast
    import inspect

    from emr_patterns.lambdas.matrix_read import registry

    tree = ast.parse(inspect.getsource(registry))
    calls = {
        n.func.attr
        for n in ast.walk(tree)
        if isinstance(n, ast.Call)
        and isinstance(n.func, ast.Attribute)
        and isinstance(n.func.value, ast.Attribute)
        and n.func.value.attr == "client"
    }
    to_action = {
        "get_item": "GetItem",
        "put_item": "PutItem",
        "update_item": "UpdateItem",
        "query": "Query",
        "transact_write_items": "ConditionCheckItem",
        "scan": "Scan",
    }
    from emr_patterns.patterns.widematrix_pipeline import ADMIN_ACTIONS

    assert calls <= set(to_action), calls
    assert {f"dynamodb:{to_action[c]}" for c in calls} <= set(ADMIN_ACTIONS)
    assert {f"dynamodb:{to_action[c]}" for c in calls - {"scan"}} <= set(SWITCH_ACTIONS)


def test_no_key_is_refused() -> None:
    from aws_cdk import App, Stack

    with pytest.raises(ValueError, match="key=None"):
        DatasetRegistry(Stack(App(), "S"), "R", key=None)  # type: ignore[arg-type]


def test_nag_packs_find_nothing_on_the_registry(synthesized: Any) -> None:
    from emr_patterns.gates import nag_findings

    stack, registry, _ = synthesized
    path = registry.node.path + "/"
    findings = [f for f in nag_findings(stack.node.scope) if f.construct_path.startswith(path)]
    assert findings == []
