"""Typed options of the platform's four parts, as :class:`EmrPlatform` takes them.

Each dataclass carries exactly the keyword arguments of its construct (a test keeps the two
equal), so ``EmrPlatform(network=NetworkOptions(max_azs=3))`` and
``DataPlatformNetwork(scope, "Network", max_azs=3)`` mean the same. Defaults are those of
:mod:`emr_patterns.defaults`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from emr_patterns.defaults import (
    CERTIFICATE_ALARM_DAYS,
    CERTIFICATE_VALIDITY_DAYS,
    IMDS_HOP_LIMIT,
    LOG_GROUP_RETENTION_DAYS,
    VPC_CIDR,
    VPC_MAX_AZS,
)
from emr_patterns.foundation.network import SubnetMode
from emr_patterns.foundation.storage import LakeLayout

__all__ = ["NetworkOptions", "RoleOptions", "SecurityOptions", "StorageOptions"]


@dataclass(frozen=True)
class NetworkOptions:
    """Options of :class:`~emr_patterns.foundation.network.DataPlatformNetwork`.

    Attributes:
        vpc: bring your own VPC (validated: private subnets in 2+ zones, endpoints). Default: a
            new VPC.
        subnet_mode: isolated subnets or NAT, for a new VPC. Default: ``SubnetMode.ISOLATED``.
        max_azs: zones of a new VPC (at least 2). Default: 2.
        cidr: IPv4 range of a new VPC. Default: ``10.40.0.0/16``.
        nat_gateways: NAT gateways in NAT mode. Default: one per zone.
        existing_endpoints: endpoints a brought VPC already has, by short name. Default: none.
        create_missing_endpoints: create the endpoints a brought VPC lacks. Default: False.
        flow_log_key: key of the flow-log group. Default: a new key with rotation.
        flow_log_retention_days: days flow logs are kept. Default: 365.
    """

    vpc: ec2.IVpc | None = None
    subnet_mode: SubnetMode = SubnetMode.ISOLATED
    max_azs: int = VPC_MAX_AZS
    cidr: str = VPC_CIDR
    nat_gateways: int | None = None
    existing_endpoints: Sequence[str] = ()
    create_missing_endpoints: bool = False
    flow_log_key: kms.IKey | None = None
    flow_log_retention_days: int = LOG_GROUP_RETENTION_DAYS


@dataclass(frozen=True)
class StorageOptions:
    """Options of :class:`~emr_patterns.foundation.storage.DataLakeStorage`.

    Attributes:
        encryption_key: key for every data bucket. Default: a new KMS key with yearly rotation.
        bucket_name_prefix: name buckets ``<prefix>-<purpose>``. Default: generated names.
        layout: key prefixes inside the buckets. Default: ``LakeLayout()``.
        temporary_data_expiration: lifetime of the work bucket's temporary prefix. Default: 7 days.
        noncurrent_version_expiration: how long old object versions are kept. Default: 30 days.
        log_retention: how long EMR logs and server access logs are kept. Default: 365 days.
        removal_policy: what happens to buckets and key on removal. Default: RETAIN (DESTROY only
            with the ``emr-patterns:removeDataOnDestroy`` context flag).
    """

    encryption_key: kms.IKey | None = None
    bucket_name_prefix: str | None = None
    layout: LakeLayout | None = None
    temporary_data_expiration: Duration | None = None
    noncurrent_version_expiration: Duration | None = None
    log_retention: Duration | None = None
    removal_policy: RemovalPolicy | None = None


@dataclass(frozen=True)
class RoleOptions:
    """Options of :class:`~emr_patterns.foundation.roles.EmrRoles`.

    Attributes:
        additional_read_buckets: more buckets the nodes may read (e.g. an existing data lake).
            Default: none.
        additional_read_write_buckets: more buckets the nodes may read and write. Default: none.
        extra_keys: more KMS keys the nodes may use (the keys of those buckets). Default: none.
        enable_ssm: Session Manager access for operators instead of SSH. Default: True.
        create_autoscaling_role: a role for custom automatic scaling policies. Default: False.
        create_cleanup_service_linked_role: create ``AWSServiceRoleForEMRCleanup`` (only in an
            account that never ran EMR). Default: False.
    """

    additional_read_buckets: Sequence[s3.IBucket] = ()
    additional_read_write_buckets: Sequence[s3.IBucket] = ()
    extra_keys: Sequence[kms.IKey] = ()
    enable_ssm: bool = True
    create_autoscaling_role: bool = False
    create_cleanup_service_linked_role: bool = False


@dataclass(frozen=True)
class SecurityOptions:
    """Options of :class:`~emr_patterns.foundation.security_configuration.EmrSecurityConfiguration`.

    Attributes:
        certificate_bucket: bucket of a TLS PEM zip you bring (with ``certificate_key``); the
            instance role is granted read on that one object. Default: a generated self-signed
            certificate.
        certificate_key: object key of that zip (``.zip``). Default: none.
        certificate_encryption_key: the KMS key a brought zip is encrypted with, if not the
            platform key (decrypt is granted with the read). Default: the platform key or SSE-S3.
        certificate_validity_days: validity of a generated certificate. Default: 365.
        certificate_generation: raise it to renew the generated certificate in place (a new object
            version at the same key; the security configuration is not replaced). Default: 1.
        expiry_alarm_days: the expiry alarm fires when fewer days remain. Default: 30.
        imds_hop_limit: IMDSv2 ``HttpPutResponseHopLimit`` (1-64). Default: 1.
        additional_configuration: extra top-level sections such as ``AuthenticationConfiguration``.
            Default: none.
    """

    certificate_bucket: s3.IBucket | None = None
    certificate_key: str | None = None
    certificate_encryption_key: kms.IKey | None = None
    certificate_validity_days: int = CERTIFICATE_VALIDITY_DAYS
    certificate_generation: int = 1
    expiry_alarm_days: int = CERTIFICATE_ALARM_DAYS
    imds_hop_limit: int = IMDS_HOP_LIMIT
    additional_configuration: Mapping[str, Any] | None = None
