"""cdk-nag acknowledgements, applied to exactly one construct with a reason.

cdk-nag 3 reads acknowledgements from construct metadata under
``Validations.ACKNOWLEDGED_RULES_METADATA_KEY`` and applies them to the construct and its
descendants. ``Validations.of(x).acknowledge(...)`` rejects granular ids that contain ``::``
(``AwsSolutions-IAM4[Policy::arn:...]``), so this module writes the metadata directly, which
accepts both forms. Every acknowledgement made here is listed in the reviewed registry
``docs/nag-acknowledgements.toml``; a gate test fails when code and registry disagree.
"""

from __future__ import annotations

from collections.abc import Iterable

import jsii
from aws_cdk import Validations
from constructs import IConstruct, IValidation

from emr_patterns._cfn import cfn_of

__all__ = [
    "NAG_PACK_PREFIXES",
    "acknowledge",
    "acknowledge_resource",
    "acknowledge_rules",
    "cfn_lint_ignore",
    "checkov_skip",
    "rule_in_packs",
]

NAG_PACK_PREFIXES = ("AwsSolutions", "HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321", "Serverless")
_MIN_REASON = 20
#: Tests turn this off to prove that every acknowledgement is still needed.
_ENABLED = True


def acknowledge(scope: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledge ``rule_id`` (plain or granular) on ``scope`` with a reason.

    Acknowledge on the resource itself (or the L2 that wraps exactly one resource), never on a
    stack or app: an acknowledgement applies to every descendant of ``scope``.
    """
    if not rule_id.startswith(NAG_PACK_PREFIXES):
        raise ValueError(f"rule_id={rule_id!r}: not a rule of {NAG_PACK_PREFIXES}")
    if len(reason.strip()) < _MIN_REASON:
        raise ValueError(f"reason for {rule_id} on {scope.node.path} is too short to be reviewed")
    if _ENABLED:
        scope.node.add_metadata(Validations.ACKNOWLEDGED_RULES_METADATA_KEY, {rule_id: reason})


@jsii.implements(IValidation)
class _ResourceAcknowledgement:
    """Adds a granular acknowledgement once references are final (a node validation runs after
    aws-cdk has turned cross-stack references into ``Fn::ImportValue``)."""

    def __init__(self, scope: IConstruct, rule: str, arn: str, reason: str) -> None:
        self.scope, self.rule, self.arn, self.reason = scope, rule, arn, reason

    def validate(self) -> list[str]:
        from emr_patterns._cfn import nag_resource

        acknowledge(self.scope, f"{self.rule}[Resource::{nag_resource(self.scope, self.arn)}]", self.reason)
        return []


def acknowledge_resource(scope: IConstruct, rule: str, arn: str, reason: str) -> None:
    """Acknowledge the granular finding ``rule[Resource::<arn as cdk-nag writes it>]`` on ``scope``.

    ``arn`` may hold tokens, also of another stack: the id is computed when the app is
    synthesized, after aws-cdk has made cross-stack references imports, so it matches what
    cdk-nag reports (``<Stack>:ExportsOutput...``) as well as same-stack ``<LogicalId.Arn>``.
    """
    if _ENABLED:
        scope.node.add_validation(_ResourceAcknowledgement(scope, rule, arn, reason))


def acknowledge_rules(scope: IConstruct, rule_ids: Iterable[str], reason: str) -> None:
    """Acknowledge several rules that share one reason (e.g. the same rule in three packs)."""
    for rule_id in rule_ids:
        acknowledge(scope, rule_id, reason)


def checkov_skip(construct: IConstruct, check_id: str, comment: str) -> None:
    """Skip one checkov check on one resource, with the justification in the template metadata."""
    resource = cfn_of(construct)
    meta = resource.get_metadata("checkov") or {"skip": []}
    meta["skip"] = [*meta.get("skip", []), {"id": check_id, "comment": comment}]
    resource.add_metadata("checkov", meta)


def cfn_lint_ignore(construct: IConstruct, rule: str) -> None:
    """Ignore one cfn-lint rule on one resource (template metadata ``cfn-lint.config.ignore_checks``)."""
    resource = cfn_of(construct)
    meta = resource.get_metadata("cfn-lint") or {"config": {"ignore_checks": []}}
    checks = meta.setdefault("config", {}).setdefault("ignore_checks", [])
    if rule not in checks:
        checks.append(rule)
    resource.add_metadata("cfn-lint", meta)


#: Compliance packs (beyond AwsSolutions) that carry each rule we acknowledge by name. A rule
#: acknowledged in a pack that lacks it would silence nothing, which a gate test catches.
_PACKS_OF_RULE: dict[str, tuple[str, ...]] = {
    "S3BucketReplicationEnabled": ("HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321"),
    "S3DefaultEncryptionKMS": ("HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321"),
    "LambdaDLQ": ("HIPAA.Security", "NIST.800.53.R5", "Serverless"),
    "LambdaConcurrency": ("HIPAA.Security", "NIST.800.53.R5"),
    "LambdaInsideVPC": ("HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321"),
    "LambdaTracing": ("Serverless",),
    "EMRKerberosEnabled": ("HIPAA.Security", "PCI.DSS.321"),
    "VPCNoUnrestrictedRouteToIGW": ("HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321"),
    "StepFunctionStateMachineXray": ("HIPAA.Security", "NIST.800.53.R5"),
    "EC2RestrictedCommonPorts": ("HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321"),
    "EC2RestrictedSSH": ("HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321"),
    "EventBusDLQ": ("Serverless",),
    "SQSRedrivePolicy": ("Serverless",),
    "IAMNoInlinePolicy": ("HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321"),
    "APIGWCacheEnabledAndEncrypted": ("HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321"),
    "APIGWSSLEnabled": ("HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321"),
    "SecretsManagerRotationEnabled": ("HIPAA.Security", "NIST.800.53.R5"),
    "IAMGroupHasUsers": ("HIPAA.Security", "PCI.DSS.321"),
}


def rule_in_packs(rule: str) -> list[str]:
    """The ids of ``rule`` (e.g. ``S3BucketReplicationEnabled``) in every compliance pack that has it."""
    try:
        packs = _PACKS_OF_RULE[rule]
    except KeyError:
        raise ValueError(
            f"rule={rule!r}: not in emr_patterns.nag._PACKS_OF_RULE; add its packs there"
        ) from None
    return [f"{pack}-{rule}" for pack in packs]
