"""EmrPlatform: network, storage, roles and security configuration, shared by every pattern."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from constructs import Construct

from emr_patterns.foundation.network import DataPlatformNetwork, SubnetMode
from emr_patterns.foundation.roles import EmrRoles
from emr_patterns.foundation.security_configuration import EmrSecurityConfiguration
from emr_patterns.foundation.storage import DataLakeStorage, LakeLayout

__all__ = ["EmrPlatform"]


class EmrPlatform(Construct):
    """The secure base every EMR pattern in this library is built on.

    Bundles :class:`DataPlatformNetwork`, :class:`DataLakeStorage`, :class:`EmrRoles` and
    :class:`EmrSecurityConfiguration` under stable ids (``Network``, ``Storage``, ``Roles``,
    ``SecurityConfiguration``), and is the one input later patterns take.

    Args:
        scope: parent construct.
        id: construct id.
        vpc: bring your own VPC (validated). Default: a new private VPC.
        subnet_mode: isolated or NAT subnets for a new VPC. Default: ``SubnetMode.ISOLATED``.
        existing_endpoints: endpoints a brought VPC already has. Default: none.
        create_missing_endpoints: create the endpoints a brought VPC lacks. Default: False.
        encryption_key: key for data and logs. Default: a new KMS key with rotation.
        bucket_name_prefix: name buckets ``<prefix>-<purpose>``. Default: generated names.
        layout: key prefixes. Default: ``LakeLayout()``.
        certificate_s3_uri: TLS PEM zip for in-transit encryption. Default: generated.
        additional_security_configuration: extra security configuration sections. Default: none.
        removal_policy: stateful resources' removal policy. Default: RETAIN (DESTROY needs the
            ``emr-patterns:removeDataOnDestroy`` context flag).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        vpc: ec2.IVpc | None = None,
        subnet_mode: SubnetMode = SubnetMode.ISOLATED,
        existing_endpoints: tuple[str, ...] = (),
        create_missing_endpoints: bool = False,
        encryption_key: kms.IKey | None = None,
        bucket_name_prefix: str | None = None,
        layout: LakeLayout | None = None,
        certificate_s3_uri: str | None = None,
        additional_security_configuration: Mapping[str, Any] | None = None,
        removal_policy: RemovalPolicy | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.network = DataPlatformNetwork(
            self,
            "Network",
            vpc=vpc,
            subnet_mode=subnet_mode,
            existing_endpoints=existing_endpoints,
            create_missing_endpoints=create_missing_endpoints,
        )
        self.storage = DataLakeStorage(
            self,
            "Storage",
            encryption_key=encryption_key,
            bucket_name_prefix=bucket_name_prefix,
            layout=layout,
            removal_policy=removal_policy,
        )
        self.roles = EmrRoles(self, "Roles", storage=self.storage)
        self.security_configuration = EmrSecurityConfiguration(
            self,
            "SecurityConfiguration",
            storage=self.storage,
            roles=self.roles,
            network=self.network,
            certificate_s3_uri=certificate_s3_uri,
            additional_configuration=additional_security_configuration,
        )

    @property
    def vpc(self) -> ec2.IVpc:
        """The platform VPC."""
        return self.network.vpc

    @property
    def key(self) -> kms.IKey:
        """The platform's customer-managed key."""
        return self.storage.key
