"""Context keys and the removal-policy gate shared by every stateful construct."""

from __future__ import annotations

from aws_cdk import Annotations, RemovalPolicy
from constructs import IConstruct

__all__ = ["REMOVE_DATA_CONTEXT_KEY", "remove_data_on_destroy", "resolve_removal_policy"]

REMOVE_DATA_CONTEXT_KEY = "emr-patterns:removeDataOnDestroy"


def remove_data_on_destroy(scope: IConstruct) -> bool:
    """True only when the app context sets ``emr-patterns:removeDataOnDestroy`` to true."""
    value = scope.node.try_get_context(REMOVE_DATA_CONTEXT_KEY)
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return value is True


def resolve_removal_policy(scope: IConstruct, requested: RemovalPolicy | None, prop: str) -> RemovalPolicy:
    """Removal policy for a stateful resource.

    ``None`` means RETAIN, or DESTROY when the context flag is set. An explicit DESTROY without the
    flag reverts to RETAIN and leaves a warning annotation naming ``prop`` and the fix, so data
    is never deleted by accident.
    """
    flag = remove_data_on_destroy(scope)
    if requested is None:
        return RemovalPolicy.DESTROY if flag else RemovalPolicy.RETAIN
    if requested == RemovalPolicy.DESTROY and not flag:
        Annotations.of(scope).add_warning_v2(
            "emr-patterns:removal-policy-reverted",
            f"{prop}=RemovalPolicy.DESTROY ignored: data would be deleted with the stack. "
            f"Kept RETAIN. Fix: set the context flag {REMOVE_DATA_CONTEXT_KEY}=true "
            "(cdk.json or --context) to allow destructive removal.",
        )
        return RemovalPolicy.RETAIN
    return requested
