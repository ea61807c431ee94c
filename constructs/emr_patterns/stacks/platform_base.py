"""PlatformBaseStack: the secure EMR platform base as a deployable stack, shared by every pattern."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Fn, Stack, Token
from constructs import Construct

from emr_patterns.foundation.options import NetworkOptions, RoleOptions, SecurityOptions, StorageOptions
from emr_patterns.foundation.platform import OUTPUT_KEYS, EmrPlatform

__all__ = ["PlatformBaseStack"]


class PlatformBaseStack(Stack):
    """Network, storage, EMR roles and security configuration: deploy one per environment and
    give ``.platform`` to every pattern stack (one VPC for the whole app).

    Its outputs are the platform's attributes (keys of
    :data:`emr_patterns.foundation.platform.OUTPUT_KEYS`), exported as ``<stack name>-<key>``
    (:attr:`platform_exports`), so another app can import it with
    ``EmrPlatform.from_platform_attributes(scope, id, EmrPlatformAttributes.from_stack_outputs(outputs))``.

    Args:
        scope: parent construct.
        id: stack id.
        network: ``NetworkOptions``. Default: a new isolated VPC in 2 zones. With ``max_azs`` above
            2 and no region given, the stack uses the region's first ``max_azs`` zones
            (``Fn::GetAZs``), where aws-cdk would use two: Redshift Serverless needs three.
        storage: ``StorageOptions``. Default: a new rotating key, RETAIN.
        roles: ``RoleOptions``. Default: platform buckets and key only, SSM on.
        security: ``SecurityOptions``. Default: a generated certificate, IMDSv2 hop limit 1.
        **kwargs: ``Stack`` props (``env``, ``description``, ...).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        network: NetworkOptions | None = None,
        storage: StorageOptions | None = None,
        roles: RoleOptions | None = None,
        security: SecurityOptions | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault(
            "description", "cdk-emr-patterns: secure EMR platform base (network, storage, IAM, encryption)"
        )
        super().__init__(scope, id, **kwargs)
        self._zones = (network.max_azs if network is not None else 0) or 0
        self.platform = EmrPlatform(
            self, "Platform", network=network, storage=storage, roles=roles, security=security
        )
        #: Output key -> export name (``<stack name>-<output key>``): Service Catalog products
        #: (and other stacks) import the platform by these names.
        self.platform_exports: dict[str, str] = {}
        for output, value in self.platform.attributes().to_outputs().items():
            export = f"{self.stack_name}-{output}"
            CfnOutput(
                self,
                output,
                value=value,
                description=f"EmrPlatformAttributes: {OUTPUT_KEYS[output]}",
                export_name=export,
            )
            self.platform_exports[output] = export

    @property
    def availability_zones(self) -> list[str]:
        """The zones the VPC spans: in an environment-agnostic stack, aws-cdk offers two
        (``Fn::Select`` over ``Fn::GetAZs``); with ``max_azs`` above two this offers that many."""
        if self._zones > 2 and Token.is_unresolved(self.region):
            return [Fn.select(i, Fn.get_azs()) for i in range(self._zones)]
        return list(super().availability_zones)
