"""cdk-nag gates: zero unacknowledged findings, a registry equal to the code, no dead or leaking acks."""

from __future__ import annotations

from pathlib import Path

import pytest

from emr_patterns.app_factory import PREBUILT_STACKS
from emr_patterns.gates import acknowledged_rules, load_registry

pytestmark = pytest.mark.cdk

REGISTRY = Path(__file__).resolve().parents[2] / "docs" / "nag-acknowledgements.toml"


@pytest.mark.parametrize("stack_id", sorted(PREBUILT_STACKS))
def test_no_unacknowledged_findings(nag_findings, stack_id):
    mine = [f for f in nag_findings if f.construct_path.split("/", 1)[0] == stack_id]
    assert mine == [], "\n".join(f"{f.rule_id} at {f.construct_path}: {f.description[:160]}" for f in mine)


def test_registry_equals_code(synthesized):
    in_code = sorted(acknowledged_rules(synthesized.app))
    in_registry = sorted((e["path"], e["rule"], e["reason"]) for e in load_registry(REGISTRY))
    missing = sorted(set(in_code) - set(in_registry))
    stale = sorted(set(in_registry) - set(in_code))
    assert not missing and not stale, (
        f"acknowledgements in code but not in {REGISTRY.name} (review, then add):\n"
        + "\n".join(f"  {p} {r}: {why}" for p, r, why in missing)
        + f"\nentries in {REGISTRY.name} that the code no longer makes (remove):\n"
        + "\n".join(f"  {p} {r}" for p, r, _ in stale)
    )
    assert len(in_code) == len(set(in_code)), "the same acknowledgement is made twice"


def test_acknowledgements_are_narrow(synthesized):
    """On a resource or the L2 that wraps it: never on an app, a stack, a platform or a cluster."""
    from aws_cdk import CfnResource, Stack

    for path, rule, reason in acknowledged_rules(synthesized.app):
        node = synthesized.app.node.find_child(path.split("/", 1)[0])
        for part in path.split("/")[1:]:
            node = node.node.find_child(part)
        resources = [c for c in node.node.find_all() if CfnResource.is_cfn_resource(c)]
        assert not isinstance(node, Stack), f"{rule} acknowledged on a whole stack"
        assert 1 <= len(resources) <= 3, f"{rule} at {path} covers {len(resources)} resources"
        assert len(reason) >= 40, f"{rule} at {path}: reason too thin to review: {reason!r}"


@pytest.fixture(scope="module")
def unacknowledged_findings():
    """Findings of the same app built with every acknowledgement switched off."""
    from aws_cdk import App

    import emr_patterns.nag
    from emr_patterns.app_factory import build_app
    from emr_patterns.gates import nag_findings

    from ..conftest import cdk_context

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(emr_patterns.nag, "_ENABLED", False)
        app = build_app(App(context=cdk_context()), with_nag=False)
    return nag_findings(app)


def test_every_acknowledgement_is_needed(unacknowledged_findings):
    """Each registry entry silences a finding that really fires: no dead, misspelt or ignored acks."""
    dead = []
    for entry in load_registry(REGISTRY):
        hit = [
            f
            for f in unacknowledged_findings
            if f.rule_id == entry["rule"]
            and (f.construct_path == entry["path"] or f.construct_path.startswith(entry["path"] + "/"))
        ]
        if not hit:
            dead.append(f"{entry['path']} {entry['rule']}")
    assert not dead, "acknowledgements that silence nothing:\n" + "\n".join(dead)


def test_acknowledgement_does_not_leak_to_a_sibling():
    """A canary bucket next to the access-log bucket still gets the findings acknowledged there."""
    from aws_cdk import App, Stack
    from aws_cdk import aws_s3 as s3

    from emr_patterns.foundation.storage import DataLakeStorage
    from emr_patterns.gates import nag_findings

    app = App()
    stack = Stack(app, "Canary")
    DataLakeStorage(stack, "Storage")
    s3.Bucket(stack, "CanaryBucket", enforce_ssl=True, versioned=True)
    found = {(f.rule_id, f.construct_path) for f in nag_findings(app)}
    for rule in (
        "AwsSolutions-S1",
        "HIPAA.Security-S3BucketLoggingEnabled",
        "NIST.800.53.R5-S3DefaultEncryptionKMS",
    ):
        assert (rule, "Canary/CanaryBucket/Resource") in found, f"{rule} leaked to the sibling"
        assert (rule, "Canary/Storage/AccessLogs/Resource") not in found


def test_pinned_environment_passes_the_packs_too(monkeypatch):
    """Most production apps pin env=Environment(account, region): ARNs then carry the literal
    account and region, and every acknowledgement must still match its finding."""
    from aws_cdk import App

    from emr_patterns.app_factory import build_app
    from emr_patterns.gates import nag_findings

    from ..conftest import cdk_context

    monkeypatch.setenv("CDK_DEFAULT_ACCOUNT", "111122223333")
    monkeypatch.setenv("CDK_DEFAULT_REGION", "eu-west-1")
    app = build_app(App(context=cdk_context()), with_nag=False)
    assert app.node.find_child("PlatformBaseStack").region == "eu-west-1"
    findings = nag_findings(app)
    assert findings == [], "\n".join(f"{f.rule_id} at {f.construct_path}" for f in findings)
