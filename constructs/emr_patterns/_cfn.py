"""Typed access to the L1 resource behind an L2 construct."""

from __future__ import annotations

from typing import cast

from aws_cdk import CfnResource, Stack
from constructs import IConstruct

__all__ = ["cfn_of", "depend_on", "nag_arn_ref", "nag_resource", "undepend"]


def cfn_of(construct: IConstruct) -> CfnResource:
    """The ``CfnResource`` an L2 construct wraps (its ``default_child``), or the resource itself."""
    if CfnResource.is_cfn_resource(construct):
        return cast(CfnResource, construct)
    child = construct.node.default_child
    if child is None or not CfnResource.is_cfn_resource(child):
        raise TypeError(f"{construct.node.path} has no CloudFormation resource as its default child")
    return cast(CfnResource, child)


def nag_arn_ref(construct: IConstruct) -> str:
    """How cdk-nag names ``construct``'s ARN in granular finding ids: ``<LogicalId.Arn>``."""
    resource = cfn_of(construct)
    return f"<{Stack.of(resource).get_logical_id(resource)}.Arn>"


def nag_resource(scope: IConstruct, value: str) -> str:
    """``value`` (an ARN, possibly with tokens) as cdk-nag writes it in granular finding ids.

    ``Ref`` of a pseudo parameter becomes ``<AWS::Region>``, ``Ref`` of a resource ``<LogicalId>``,
    ``Fn::GetAtt`` ``<LogicalId.Attr>``; literals stay literal. So the same acknowledgement fits an
    environment-agnostic stack (``<AWS::AccountId>``) and one with a pinned ``env`` (the account
    number itself), an imported bucket (its literal ARN) and one defined in the app.
    """
    resolved = Stack.of(scope).resolve(value)

    def render(part: object) -> str:
        if isinstance(part, str):
            return part
        if isinstance(part, dict) and "Ref" in part:
            return f"<{part['Ref']}>"
        if isinstance(part, dict) and "Fn::GetAtt" in part:
            logical_id, attribute = part["Fn::GetAtt"]
            return f"<{logical_id}.{attribute}>"
        if isinstance(part, dict) and "Fn::ImportValue" in part:  # a cross-stack reference
            return str(render(part["Fn::ImportValue"]))
        if isinstance(part, dict) and "Fn::Join" in part:
            separator, parts = part["Fn::Join"]
            return str(separator).join(render(p) for p in parts)
        raise TypeError(f"cannot name {part!r} as cdk-nag does")

    return render(resolved)


def depend_on(resource: CfnResource, target: CfnResource) -> None:
    """``resource`` DependsOn ``target``, on every aws-cdk-lib 2.x we support.

    ``add_resource_dependency`` is the current name (``add_dependency`` is deprecated); releases
    before 2.2xx only have the old one.
    """
    method = getattr(resource, "add_resource_dependency", None) or resource.add_dependency
    method(target)


def undepend(resource: CfnResource, target: CfnResource) -> None:
    """Remove an explicit DependsOn that :func:`depend_on` (or aws-cdk) added."""
    method = getattr(resource, "remove_resource_dependency", None) or resource.remove_dependency
    method(target)
