"""EmrSecurityConfiguration: encryption at rest and in transit, IMDSv2, and the TLS material."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import Aws, CfnCondition, CustomResource, Fn
from aws_cdk import aws_emr as emr
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from emr_patterns._cfn import nag_arn_ref
from emr_patterns._validation import validate_s3_uri
from emr_patterns.defaults import CERTIFICATE_VALIDITY_DAYS, IMDS_HOP_LIMIT, security_configuration_document
from emr_patterns.errors import problem, raise_if_problems
from emr_patterns.foundation.functions import PlatformFunction
from emr_patterns.foundation.network import DataPlatformNetwork
from emr_patterns.foundation.roles import EmrRoles
from emr_patterns.foundation.storage import DataLakeStorage

__all__ = ["EmrSecurityConfiguration"]

_RESERVED_SECTIONS = ("EncryptionConfiguration", "InstanceMetadataServiceConfiguration")
_ALLOWED_SECTIONS = (
    "AuthenticationConfiguration",
    "AuthorizationConfiguration",
    "LakeFormationConfiguration",
)


class EmrSecurityConfiguration(Construct):
    """EMR security configuration: SSE-KMS for EMRFS, KMS local-disk and EBS encryption, TLS, IMDSv2.

    The JSON nests every encryption setting under ``EncryptionConfiguration`` as EMR requires
    (cdk-nag's EMR4/EMR5 look for them at the top level and report a correct configuration;
    clusters that use this configuration acknowledge those two rules with that reason, and our own
    tests check the encryption).

    TLS material for in-transit encryption is either a PEM zip you give as an ``s3://`` location,
    or, by default, a self-signed certificate generated at deploy time by a custom resource. The
    generated private key never appears in a template, an output or a log: the function writes the
    zip straight to the artifacts bucket, SSE-KMS encrypted with the platform key, and a bucket
    policy lets only the EMR instance role (and the generating function) read it.

    Args:
        scope: parent construct.
        id: construct id.
        storage: the platform's buckets and key.
        roles: the platform's EMR roles (the instance role is the certificate's only reader).
        network: the platform network (the certificate function runs in its private subnets).
        certificate_s3_uri: ``s3://bucket/key.zip`` holding ``privateKey.pem``,
            ``certificateChain.pem`` and ``trustedCertificates.pem``. Default: a generated
            self-signed certificate for the region's internal EC2 domain.
        certificate_validity_days: validity of a generated certificate. Default: 365.
        imds_hop_limit: IMDSv2 ``HttpPutResponseHopLimit`` (1-64). Default: 1.
        additional_configuration: extra top-level sections as a dict, e.g.
            ``AuthenticationConfiguration``. Default: none.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        storage: DataLakeStorage,
        roles: EmrRoles,
        network: DataPlatformNetwork,
        certificate_s3_uri: str | None = None,
        certificate_validity_days: int = CERTIFICATE_VALIDITY_DAYS,
        imds_hop_limit: int = IMDS_HOP_LIMIT,
        additional_configuration: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(scope, id)
        problems: list[str] = []
        if certificate_s3_uri is not None:
            problems += validate_s3_uri("certificate_s3_uri", certificate_s3_uri, suffix=".zip")
        if not isinstance(certificate_validity_days, int) or not 1 <= certificate_validity_days <= 3650:
            problems.append(
                problem(
                    "certificate_validity_days",
                    certificate_validity_days,
                    "is out of range",
                    "use 1-3650 days",
                )
            )
        if not isinstance(imds_hop_limit, int) or not 1 <= imds_hop_limit <= 64:
            problems.append(
                problem("imds_hop_limit", imds_hop_limit, "is out of range", "use 1-64 (1 is safest)")
            )
        if additional_configuration is not None:
            problems += self._validate_additional(additional_configuration)
        raise_if_problems(f"EmrSecurityConfiguration '{self.node.path}'", problems)

        self.storage = storage
        self.certificate_function: lambda_.Function | None = None
        if certificate_s3_uri is None:
            self.certificate_s3_uri = self._generated_certificate(
                storage, roles, network, certificate_validity_days
            )
        else:
            self.certificate_s3_uri = certificate_s3_uri

        self.document = security_configuration_document(
            key_arn=storage.key.key_arn,
            certificate_s3_uri=self.certificate_s3_uri,
            hop_limit=imds_hop_limit,
            additional=additional_configuration,
        )
        self.resource = emr.CfnSecurityConfiguration(self, "Resource", security_configuration=self.document)
        self.name = self.resource.ref

    @staticmethod
    def _validate_additional(additional: Any) -> list[str]:
        if isinstance(additional, str):
            return [
                problem(
                    "additional_configuration",
                    additional,
                    "is a JSON string; the nag rules and our checks need a dict",
                    "pass a dict, e.g. json.loads(text)",
                )
            ]
        if not isinstance(additional, Mapping):
            return [
                problem("additional_configuration", additional, "is not a dict", "pass a dict of sections")
            ]
        problems = []
        for section in additional:
            if section in _RESERVED_SECTIONS:
                problems.append(
                    problem(
                        "additional_configuration",
                        section,
                        "would replace a section this construct owns",
                        "use the construct's props (certificate_s3_uri, imds_hop_limit) instead",
                    )
                )
            elif section not in _ALLOWED_SECTIONS:
                problems.append(
                    problem(
                        "additional_configuration",
                        section,
                        "is not an EMR security configuration section",
                        f"use one of {list(_ALLOWED_SECTIONS)}",
                    )
                )
        return problems

    def _generated_certificate(
        self, storage: DataLakeStorage, roles: EmrRoles, network: DataPlatformNetwork, validity_days: int
    ) -> str:
        prefix = f"{storage.layout.artifacts_prefix}tls/"
        bucket = storage.artifacts_bucket
        writer = PlatformFunction(
            self,
            "CertificateFunction",
            handler="tls_certificate",
            description="Generates the self-signed TLS zip for EMR in-transit encryption",
            network=network,
            key=storage.key,
            memory_size=1024,  # RSA key generation in pure Python: CPU scales with memory
            statements=[
                iam.PolicyStatement(
                    sid="WriteCertificateZip",
                    # GetObject: HeadObject on no-op updates reads back the certificate fingerprint.
                    actions=["s3:PutObject", "s3:GetObject", "s3:DeleteObject", "s3:DeleteObjectVersion"],
                    resources=[bucket.arn_for_objects(f"{prefix}*")],
                ),
                iam.PolicyStatement(
                    sid="ListCertificateVersions",
                    actions=["s3:ListBucketVersions", "s3:ListBucket"],
                    resources=[bucket.bucket_arn],
                    conditions={"StringLike": {"s3:prefix": [f"{prefix}*"]}},
                ),
                iam.PolicyStatement(
                    sid="EncryptWithPlatformKey",
                    actions=["kms:GenerateDataKey", "kms:Decrypt"],
                    resources=[storage.key.key_arn],
                ),
            ],
            scoped_wildcards={
                f"Resource::{nag_arn_ref(bucket)}/{prefix}*": "Each certificate zip gets a new random key "
                "under the TLS prefix; access is limited to that prefix.",
            },
        )
        self.certificate_function = writer.function
        role = writer.role

        # Only the EMR nodes (and the writer) may read the private key material.
        bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="TlsMaterialOnlyForEmrNodes",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["s3:GetObject", "s3:GetObjectVersion"],
                resources=[bucket.arn_for_objects(f"{prefix}*")],
                conditions={
                    "ArnNotEquals": {"aws:PrincipalArn": [roles.instance_role.role_arn, role.role_arn]}
                },
            )
        )

        us_east_1 = CfnCondition(self, "InUsEast1", expression=Fn.condition_equals(Aws.REGION, "us-east-1"))
        common_name = Fn.condition_if(
            us_east_1.logical_id, "*.ec2.internal", Fn.join("", ["*.", Aws.REGION, ".compute.internal"])
        ).to_string()
        self.certificate = CustomResource(
            self,
            "Certificate",
            service_token=writer.function_arn,
            resource_type="Custom::EmrTlsCertificate",
            properties={
                "Bucket": bucket.bucket_name,
                "KeyPrefix": prefix,
                "KmsKeyArn": storage.key.key_arn,
                "CommonName": common_name,
                "ValidityDays": str(validity_days),
            },
        )
        self.certificate.node.add_dependency(network)
        return self.certificate.get_att_string("S3Uri")
