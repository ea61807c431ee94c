"""Grants that land in customer-managed policies, never in inline ones (the packs reject those)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jsii
from aws_cdk import Names
from aws_cdk import aws_iam as iam
from constructs import Construct

__all__ = ["ManagedGrantsRole", "managed_policy_grant"]


class ManagedGrantsRole(iam.Role):
    """An ``iam.Role`` whose ``add_to_principal_policy`` (what every ``grant_*`` calls) adds the
    statement to a customer-managed policy ``GrantsPolicy`` under the role.

    aws-cdk would create an inline ``DefaultPolicy``, which the HIPAA, NIST and PCI packs reject
    (``IAMNoInlinePolicy``). So ``bucket.grant_read(platform.instance_role)`` and
    ``secret.grant_read(platform.service_role)`` stay inside the gate; what they grant is the
    caller's choice and is checked by the same packs (e.g. ``AwsSolutions-IAM5`` on wildcards).
    """

    def __init__(self, scope: Construct, id: str, **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)
        self._grants_policy: iam.ManagedPolicy | None = None

    @property
    def grants_policy(self) -> iam.ManagedPolicy | None:
        """The policy grants went to, once a grant was made."""
        return self._grants_policy

    def add_to_principal_policy(self, statement: iam.PolicyStatement) -> iam.AddToPrincipalPolicyResult:
        """Add ``statement`` to the role's customer-managed grants policy."""
        if self._grants_policy is None:
            self._grants_policy = iam.ManagedPolicy(
                self,
                "GrantsPolicy",
                description=f"Permissions granted to {self.node.path} by other constructs",
                roles=[self],
            )
        self._grants_policy.add_statements(statement)
        return iam.AddToPrincipalPolicyResult(statement_added=True, policy_dependable=self._grants_policy)

    def add_to_policy(self, statement: iam.PolicyStatement) -> bool:
        """Same as :meth:`add_to_principal_policy`."""
        return self.add_to_principal_policy(statement).statement_added


@jsii.implements(iam.IPrincipal)
class _ManagedPolicyPrincipal:
    """``principal`` as a grant sees it, with statements going to ``policy`` (customer-managed)."""

    def __init__(self, principal: iam.IPrincipal, policy: iam.ManagedPolicy) -> None:
        self._principal = principal
        self._policy = policy

    @property
    def assume_role_action(self) -> str:
        return self._principal.assume_role_action

    @property
    def grant_principal(self) -> iam.IPrincipal:
        return self

    @property
    def policy_fragment(self) -> iam.PrincipalPolicyFragment:
        return self._principal.policy_fragment

    @property
    def principal_account(self) -> str | None:
        return self._principal.principal_account

    def add_to_principal_policy(self, statement: iam.PolicyStatement) -> iam.AddToPrincipalPolicyResult:
        self._policy.add_statements(statement)
        return iam.AddToPrincipalPolicyResult(statement_added=True, policy_dependable=self._policy)

    def add_to_policy(self, statement: iam.PolicyStatement) -> bool:
        return self.add_to_principal_policy(statement).statement_added


def managed_policy_grant(
    scope: Construct,
    id_prefix: str,
    grantee: iam.IGrantable,
    *,
    actions: Sequence[str],
    resource_arns: Sequence[str],
    description: str,
) -> iam.Grant:
    """Like ``iam.Grant.add_to_principal``, but the statement lands in a customer-managed policy.

    For a role, user or group defined in the app (or imported), a policy is created under ``scope``
    (id ``<id_prefix><the principal's unique id>``, one per grantee) and attached to it, so the
    grant passes the HIPAA, NIST and PCI packs' ``IAMNoInlinePolicy``. Other principals (a service
    principal, one of our :class:`ManagedGrantsRole`) get aws-cdk's own grant.
    """
    principal: Any = grantee.grant_principal
    is_role = hasattr(principal, "role_arn") and hasattr(principal, "add_managed_policy")
    is_user, is_group = hasattr(principal, "user_arn"), hasattr(principal, "group_arn")
    # A ManagedGrantsRole already sends its grants to its customer-managed GrantsPolicy.
    if isinstance(principal, ManagedGrantsRole) or not (is_role or is_user or is_group):
        return iam.Grant.add_to_principal(
            grantee=grantee, actions=list(actions), resource_arns=list(resource_arns)
        )
    policy = iam.ManagedPolicy(
        scope,
        f"{id_prefix}{Names.unique_id(principal) if isinstance(principal, Construct) else 'Principal'}",
        description=description,
        roles=[principal] if is_role else None,
        users=[principal] if is_user else None,
        groups=[principal] if is_group else None,
    )
    return iam.Grant.add_to_principal(
        grantee=_ManagedPolicyGrantee(_ManagedPolicyPrincipal(principal, policy)),
        actions=list(actions),
        resource_arns=list(resource_arns),
    )


@jsii.implements(iam.IGrantable)
class _ManagedPolicyGrantee:
    def __init__(self, principal: _ManagedPolicyPrincipal) -> None:
        self._principal = principal

    @property
    def grant_principal(self) -> iam.IPrincipal:
        return self._principal
