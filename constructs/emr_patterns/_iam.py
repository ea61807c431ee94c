"""A role whose grants land in a customer-managed policy instead of an inline one."""

from __future__ import annotations

from typing import Any

from aws_cdk import aws_iam as iam
from constructs import Construct

__all__ = ["ManagedGrantsRole"]


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
