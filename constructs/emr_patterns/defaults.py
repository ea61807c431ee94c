"""Secure defaults as pure functions and constants, in one place.

The README's "Default settings" table is rendered from :data:`DEFAULT_SETTINGS`; a test keeps the
two equal, and construct tests check the synthesized templates against the same values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "DEFAULT_EMR_RELEASE",
    "DEFAULT_SETTINGS",
    "EMR_MANAGED_POLICY_TAG",
    "IMDS_HOP_LIMIT",
    "security_configuration_document",
]

DEFAULT_EMR_RELEASE = "emr-7.13.0"
#: Tag that ``AmazonEMRServicePolicy_v2`` requires on every resource EMR may act on.
EMR_MANAGED_POLICY_TAG = ("for-use-with-amazon-emr-managed-policies", "true")
IMDS_HOP_LIMIT = 1
CERTIFICATE_VALIDITY_DAYS = 365
#: Days before a certificate's NotAfter at which its expiry alarm fires.
CERTIFICATE_ALARM_DAYS = 30

# ---- network ---------------------------------------------------------------------------------
VPC_MAX_AZS = 2
VPC_CIDR = "10.40.0.0/16"
#: Flow logs, platform function logs: days kept (a value CloudWatch Logs accepts).
LOG_GROUP_RETENTION_DAYS = 365

# ---- storage ---------------------------------------------------------------------------------
NONCURRENT_VERSION_EXPIRATION_DAYS = 30
TEMPORARY_DATA_EXPIRATION_DAYS = 7
#: EMR logs (logs bucket) and S3 server access logs.
S3_LOG_RETENTION_DAYS = 365
INCOMPLETE_UPLOAD_ABORT_DAYS = 7
#: KMS pending-deletion window when destruction is allowed (the KMS minimum).
KEY_PENDING_WINDOW_DAYS = 7
TLS_CERTIFICATE_FILES = ("privateKey.pem", "certificateChain.pem", "trustedCertificates.pem")


def security_configuration_document(
    *,
    key_arn: Any,
    certificate_s3_uri: Any,
    hop_limit: int = IMDS_HOP_LIMIT,
    additional: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The EMR security configuration JSON, with every encryption setting nested correctly.

    S3 (EMRFS) data: SSE-KMS with the key. Local disks and EBS volumes: KMS with EBS encryption.
    In transit: TLS with the PEM zip at ``certificate_s3_uri``. IMDSv2 only, with ``hop_limit``.
    ``additional`` adds top-level sections (e.g. ``AuthenticationConfiguration``); it may not
    replace the encryption or metadata sections.
    """
    doc: dict[str, Any] = {
        "EncryptionConfiguration": {
            "EnableAtRestEncryption": True,
            "EnableInTransitEncryption": True,
            "AtRestEncryptionConfiguration": {
                "S3EncryptionConfiguration": {"EncryptionMode": "SSE-KMS", "AwsKmsKey": key_arn},
                "LocalDiskEncryptionConfiguration": {
                    "EncryptionKeyProviderType": "AwsKms",
                    "AwsKmsKey": key_arn,
                    "EnableEbsEncryption": True,
                },
            },
            "InTransitEncryptionConfiguration": {
                "TLSCertificateConfiguration": {
                    "CertificateProviderType": "PEM",
                    "S3Object": certificate_s3_uri,
                }
            },
        },
        "InstanceMetadataServiceConfiguration": {
            "MinimumInstanceMetadataServiceVersion": 2,
            "HttpPutResponseHopLimit": hop_limit,
        },
    }
    for section, value in (additional or {}).items():
        doc[section] = value
    return doc


#: Setting -> default, as the README's "Default settings" table shows them.
DEFAULT_SETTINGS: dict[str, str] = {
    "EMR release": f"`{DEFAULT_EMR_RELEASE}` (Spark 3.5)",
    "Network": f"new VPC, {VPC_MAX_AZS} AZs, isolated private subnets, no NAT, no public subnets",
    "VPC endpoints": "gateway: S3, DynamoDB; interface: EMR, EC2, STS, KMS, Secrets Manager, Logs, "
    "Monitoring, SSM (x3)",
    "VPC flow logs": f"all traffic, KMS-encrypted log group, {LOG_GROUP_RETENTION_DAYS} days retention",
    "Default security group": "all rules removed",
    "Subnet tags": "`for-use-with-amazon-emr-managed-policies=true`",
    "Bucket encryption": "SSE-KMS, one customer-managed key with yearly rotation, S3 Bucket Keys",
    "Access-log bucket encryption": "SSE-S3 (S3 server access logging cannot deliver to SSE-KMS)",
    "Bucket access": "block all public access, SSL-only, TLS 1.2 minimum, ACLs disabled",
    "Bucket versioning": f"on; noncurrent versions expire after {NONCURRENT_VERSION_EXPIRATION_DAYS} days",
    "Temporary data": f"work bucket `tmp/` expires after {TEMPORARY_DATA_EXPIRATION_DAYS} days",
    "Bucket events": "raw, work and curated buckets send their events to EventBridge (for upload triggers)",
    "Log retention": f"EMR logs and access logs {S3_LOG_RETENTION_DAYS} days",
    "Removal policy": "RETAIN; DESTROY only with `emr-patterns:removeDataOnDestroy=true`",
    "EMR service role": "`AmazonEMRServicePolicy_v2`, confused-deputy conditions",
    "EMR instance profile": "platform buckets, log and artifact prefixes and key only; SSM access",
    "At-rest encryption": "S3 SSE-KMS; local disk and EBS with KMS",
    "In-transit encryption": "TLS, PEM zip; default a generated self-signed certificate, valid "
    f"{CERTIFICATE_VALIDITY_DAYS} days",
    "Instance metadata": f"IMDSv2 only, hop limit {IMDS_HOP_LIMIT}",
}
