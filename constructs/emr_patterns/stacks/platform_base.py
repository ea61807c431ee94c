"""PlatformBaseStack: the secure EMR platform base as a deployable stack."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from emr_patterns.foundation.platform import EmrPlatform

__all__ = ["PlatformBaseStack"]


class PlatformBaseStack(Stack):
    """Network, storage, EMR roles and security configuration, ready for clusters and pipelines.

    ``platform_props`` are passed to :class:`EmrPlatform`; other keyword arguments go to
    ``Stack``. Outputs: VPC id, private subnet ids, bucket names, key ARN, instance profile,
    service role and security configuration name.
    """

    def __init__(
        self, scope: Construct, id: str, *, platform_props: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        kwargs.setdefault(
            "description", "cdk-emr-patterns: secure EMR platform base (network, storage, IAM, encryption)"
        )
        super().__init__(scope, id, **kwargs)
        self.platform = EmrPlatform(self, "Platform", **(platform_props or {}))
        p = self.platform
        CfnOutput(self, "VpcId", value=p.vpc.vpc_id)
        CfnOutput(self, "PrivateSubnetIds", value=",".join(s.subnet_id for s in p.network.private_subnets))
        for purpose, bucket in p.storage.buckets.items():
            CfnOutput(self, f"{purpose.capitalize()}BucketName", value=bucket.bucket_name)
        CfnOutput(self, "KeyArn", value=p.key.key_arn)
        CfnOutput(self, "InstanceProfileName", value=p.roles.instance_profile.instance_profile_name)
        CfnOutput(self, "ServiceRoleName", value=p.roles.service_role.role_name)
        CfnOutput(self, "SecurityConfigurationName", value=p.security_configuration.name)
