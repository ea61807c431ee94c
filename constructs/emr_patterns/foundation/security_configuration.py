"""EmrSecurityConfiguration: encryption at rest and in transit, IMDSv2, TLS material, its expiry alarm."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import Aws, CfnCondition, CustomResource, Duration, Fn, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_emr as emr
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from emr_patterns._cfn import nag_arn_ref
from emr_patterns._validation import is_unresolved, validate_s3_prefix
from emr_patterns.defaults import (
    CERTIFICATE_ALARM_DAYS,
    CERTIFICATE_VALIDITY_DAYS,
    IMDS_HOP_LIMIT,
    security_configuration_document,
)
from emr_patterns.errors import problem, raise_if_problems
from emr_patterns.foundation.functions import PlatformFunction
from emr_patterns.nag import acknowledge_rules, rule_in_packs

__all__ = ["EmrSecurityConfiguration"]

_RESERVED_SECTIONS = ("EncryptionConfiguration", "InstanceMetadataServiceConfiguration")
_ALLOWED_SECTIONS = (
    "AuthenticationConfiguration",
    "AuthorizationConfiguration",
    "LakeFormationConfiguration",
)
#: The generated zip's file name under ``certificate_prefix`` (the handler writes the same name).
GENERATED_OBJECT_NAME = "emr-tls.zip"
#: The daily check's metric (the handler publishes it).
METRIC_NAMESPACE = "cdk-emr-patterns/TLS"
METRIC_NAME = "DaysToExpiry"
#: CloudFormation waits this long for the certificate custom resource.
CERTIFICATE_SERVICE_TIMEOUT = Duration.minutes(10)


class EmrSecurityConfiguration(Construct):
    """EMR security configuration: SSE-KMS for EMRFS, KMS local-disk and EBS encryption, TLS, IMDSv2.

    The JSON nests every encryption setting under ``EncryptionConfiguration`` as EMR requires
    (cdk-nag's EMR4/EMR5 look for them at the top level and report a correct configuration;
    clusters that use this configuration acknowledge those two rules with that reason, and our own
    tests check the encryption).

    TLS material for in-transit encryption is either a PEM zip you bring
    (``certificate_bucket`` + ``certificate_key``; the instance role gets ``s3:GetObject`` on
    exactly that object through a customer-managed policy) or, by default, a self-signed
    certificate generated at deploy time by a custom resource (``CertificateFunction``). The
    generated private key never appears in a template, an output or a log: the function writes
    the zip to the stable key ``<certificate_prefix>emr-tls.zip`` in ``artifacts_bucket``, SSE-KMS
    encrypted with ``key``, and the bucket policy lets only the instance role, the writer and the
    expiry check read the TLS prefix and only the writer put or delete there.

    Renewal writes a new object *version* at the same key (raise ``certificate_generation``, or
    change the validity): the S3 URI, and so this security configuration and the clusters using
    it, stay. A different bucket, key or prefix, or any other property change, replaces the
    security configuration, and with it every long-running cluster that uses it.

    A daily check (``ExpiryCheckFunction``, EventBridge ``ExpirySchedule``) reads the chain from
    the zip and publishes ``DaysToExpiry``; ``ExpiryAlarm`` fires below
    ``expiry_alarm_days`` (and when the datapoint is missing) to ``AlarmTopic`` (KMS-encrypted,
    SSL only). Subscribe to ``alarm_topic``.

    Args:
        scope: parent construct.
        id: construct id.
        key: the platform key (S3, local disk, EBS, logs, the alarm topic).
        instance_role: the EMR instance role (the certificate's reader on the nodes).
        vpc: the platform VPC (the certificate functions run in it).
        vpc_subnets: the private subnets the functions run in.
        artifacts_bucket: bucket for the generated certificate. Required unless a certificate
            is brought.
        certificate_prefix: key prefix of the generated zip. Default: ``emr/tls/``.
        certificate_bucket: bucket holding your own PEM zip (``privateKey.pem``,
            ``certificateChain.pem``, ``trustedCertificates.pem``). Default: a generated
            self-signed certificate for the region's internal EC2 domain.
        certificate_key: object key of your zip, ending ``.zip`` (with ``certificate_bucket``).
        certificate_encryption_key: the KMS key your zip is encrypted with, if not ``key``
            (decrypt is granted with the read). Default: ``key`` or SSE-S3.
        certificate_validity_days: validity of a generated certificate. Default: 365.
        certificate_generation: raise it to renew the generated certificate in place. Default: 1.
        expiry_alarm_days: alarm when fewer days remain. Default: 30.
        imds_hop_limit: IMDSv2 ``HttpPutResponseHopLimit`` (1-64). Default: 1.
        additional_configuration: extra top-level sections as a dict, e.g.
            ``AuthenticationConfiguration``. Default: none.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        key: kms.IKey | None = None,
        instance_role: iam.IRole | None = None,
        vpc: ec2.IVpc | None = None,
        vpc_subnets: ec2.SubnetSelection | None = None,
        artifacts_bucket: s3.IBucket | None = None,
        certificate_prefix: str | None = None,
        certificate_bucket: s3.IBucket | None = None,
        certificate_key: str | None = None,
        certificate_encryption_key: kms.IKey | None = None,
        certificate_validity_days: int = CERTIFICATE_VALIDITY_DAYS,
        certificate_generation: int = 1,
        expiry_alarm_days: int = CERTIFICATE_ALARM_DAYS,
        imds_hop_limit: int = IMDS_HOP_LIMIT,
        additional_configuration: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(scope, id)
        certificate_prefix = "emr/tls/" if certificate_prefix is None else certificate_prefix
        problems: list[str] = []
        brought = certificate_bucket is not None or certificate_key is not None
        for name, value in (
            ("key", key),
            ("instance_role", instance_role),
            ("vpc", vpc),
            ("vpc_subnets", vpc_subnets),
        ):
            if value is None:
                problems.append(problem(name, None, "is required", f"pass the platform's {name}"))
        if certificate_key is not None and certificate_bucket is None:
            problems.append(
                problem(
                    "certificate_bucket",
                    None,
                    "is missing while certificate_key is set",
                    "pass the s3.IBucket holding the zip (s3.Bucket.from_bucket_name(...)), or drop "
                    "certificate_key to generate a certificate",
                )
            )
        if certificate_bucket is not None and certificate_key is None:
            problems.append(
                problem(
                    "certificate_key",
                    None,
                    "is missing while certificate_bucket is set",
                    "pass the object key of the zip, e.g. 'emr/tls/my-cert.zip', or drop "
                    "certificate_bucket to generate a certificate",
                )
            )
        if (
            certificate_key is not None
            and not is_unresolved(certificate_key)
            and (
                not certificate_key.endswith(".zip")
                or certificate_key.startswith(("/", "s3://"))
                or ".." in certificate_key
            )
        ):
            problems.append(
                problem(
                    "certificate_key",
                    certificate_key,
                    "is not a relative object key ending in .zip",
                    "give the key of the PEM zip without 's3://' or a leading '/', e.g. 'tls/cert.zip'",
                )
            )
        if not brought:
            if artifacts_bucket is None:
                problems.append(
                    problem(
                        "artifacts_bucket",
                        None,
                        "is required to generate the certificate",
                        "pass the platform's artifacts bucket, or bring a certificate with "
                        "certificate_bucket and certificate_key",
                    )
                )
            problems += validate_s3_prefix("certificate_prefix", certificate_prefix)
        if not isinstance(certificate_validity_days, int) or not 1 <= certificate_validity_days <= 3650:
            problems.append(
                problem(
                    "certificate_validity_days",
                    certificate_validity_days,
                    "is out of range",
                    "use 1-3650 days",
                )
            )
        if (
            not isinstance(certificate_generation, int)
            or isinstance(certificate_generation, bool)
            or certificate_generation < 1
        ):
            problems.append(
                problem(
                    "certificate_generation",
                    certificate_generation,
                    "is not a positive whole number",
                    "use 1, and raise it by one to renew the certificate",
                )
            )
        if not isinstance(expiry_alarm_days, int) or not 1 <= expiry_alarm_days <= 365:
            problems.append(
                problem("expiry_alarm_days", expiry_alarm_days, "is out of range", "use 1-365 days")
            )
        elif (
            isinstance(certificate_validity_days, int)
            and not brought
            and expiry_alarm_days >= certificate_validity_days
        ):
            problems.append(
                problem(
                    "expiry_alarm_days",
                    expiry_alarm_days,
                    f"is not below certificate_validity_days ({certificate_validity_days}): it would "
                    "alarm at once",
                    "use fewer days than the validity",
                )
            )
        if not isinstance(imds_hop_limit, int) or not 1 <= imds_hop_limit <= 64:
            problems.append(
                problem("imds_hop_limit", imds_hop_limit, "is out of range", "use 1-64 (1 is safest)")
            )
        if additional_configuration is not None:
            problems += self._validate_additional(additional_configuration)
        raise_if_problems(f"EmrSecurityConfiguration '{self.node.path}'", problems)
        assert key is not None and instance_role is not None and vpc is not None and vpc_subnets is not None

        self.key = key
        self.instance_role = instance_role
        self.certificate_function: lambda_.Function | None = None
        #: The custom resource that generates the certificate (None for a brought one).
        self.certificate: CustomResource | None = None
        self.certificate_read_policy: iam.ManagedPolicy | None = None
        readers: list[iam.IRole] = []
        if certificate_bucket is not None and certificate_key is not None:
            bucket, object_key = certificate_bucket, certificate_key
            self.certificate_s3_uri = f"s3://{bucket.bucket_name}/{object_key}"
            read = [
                iam.PolicyStatement(
                    sid="ReadBroughtCertificate",
                    actions=["s3:GetObject"],
                    resources=[bucket.arn_for_objects(object_key)],
                )
            ]
            if certificate_encryption_key is not None:
                read.append(
                    iam.PolicyStatement(
                        sid="DecryptBroughtCertificate",
                        actions=["kms:Decrypt"],
                        resources=[certificate_encryption_key.key_arn],
                    )
                )
            self.certificate_read_policy = iam.ManagedPolicy(
                self,
                "CertificateReadPolicy",
                description="EMR nodes read the in-transit TLS zip (this one object)",
                statements=read,
                roles=[instance_role],
            )
            check_reads = read
        else:
            assert artifacts_bucket is not None
            bucket = artifacts_bucket
            prefix = certificate_prefix
            object_key = f"{prefix}{GENERATED_OBJECT_NAME}"
            check_reads = [
                iam.PolicyStatement(
                    sid="ReadCertificateZip",
                    actions=["s3:GetObject"],
                    resources=[bucket.arn_for_objects(object_key)],
                ),
                iam.PolicyStatement(
                    sid="DecryptCertificateZip", actions=["kms:Decrypt"], resources=[key.key_arn]
                ),
            ]

        checker = PlatformFunction(
            self,
            "ExpiryCheckFunction",
            handler="tls_certificate",
            entry="check_expiry",
            custom_resource=False,
            description="Publishes the days to expiry of the EMR in-transit TLS certificate",
            vpc=vpc,
            vpc_subnets=vpc_subnets,
            key=key,
            statements=check_reads,
            unscoped_actions=["cloudwatch:PutMetricData"],
            timeout=Duration.minutes(1),
        )
        readers.append(checker.role)

        if not (certificate_bucket is not None and certificate_key is not None):
            self.certificate_s3_uri = self._generated_certificate(
                bucket,
                prefix,
                vpc,
                vpc_subnets,
                certificate_validity_days,
                certificate_generation,
                readers,
            )
            assert self.certificate is not None  # set by _generated_certificate
            object_key = self.certificate.get_att_string("ObjectKey")
        self.certificate_bucket = bucket
        self.certificate_key = object_key
        self._expiry_alarm(checker, bucket, object_key, expiry_alarm_days)

        self.document = security_configuration_document(
            key_arn=key.key_arn,
            certificate_s3_uri=self.certificate_s3_uri,
            hop_limit=imds_hop_limit,
            additional=additional_configuration,
        )
        self.resource = emr.CfnSecurityConfiguration(self, "Resource", security_configuration=self.document)
        if self.certificate_read_policy is not None:
            self.resource.node.add_dependency(self.certificate_read_policy)
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
                        "use the construct's props (certificate_bucket, certificate_key, "
                        "imds_hop_limit) instead",
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
        self,
        bucket: s3.IBucket,
        prefix: str,
        vpc: ec2.IVpc,
        vpc_subnets: ec2.SubnetSelection,
        validity_days: int,
        generation: int,
        readers: list[iam.IRole],
    ) -> str:
        key = self.key
        writer = PlatformFunction(
            self,
            "CertificateFunction",
            handler="tls_certificate",
            description="Generates the self-signed TLS zip for EMR in-transit encryption",
            vpc=vpc,
            vpc_subnets=vpc_subnets,
            key=key,
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
                    resources=[key.key_arn],
                ),
            ],
            unscoped_actions=["cloudwatch:PutMetricData"],
            scoped_wildcards={
                f"Resource::{nag_arn_ref(bucket)}/{prefix}*": "The certificate zip and, after a move "
                "from an earlier release, its old random name live under the TLS prefix; access is "
                "limited to that prefix.",
            },
        )
        self.certificate_function = writer.function
        writer_arn = writer.role.role_arn
        readers_arns = [self.instance_role.role_arn, writer_arn, *(r.role_arn for r in readers)]
        tls_objects = bucket.arn_for_objects(f"{prefix}*")
        # Only the EMR nodes, the writer and the expiry check may read the private key material,
        # and only the writer may replace or delete it (nodes launched later trust what is there).
        bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="TlsMaterialOnlyForEmrNodes",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["s3:GetObject", "s3:GetObjectVersion"],
                resources=[tls_objects],
                conditions={"ArnNotEquals": {"aws:PrincipalArn": readers_arns}},
            )
        )
        bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="TlsMaterialWrittenOnlyByItsFunction",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"],
                resources=[tls_objects],
                conditions={"ArnNotEquals": {"aws:PrincipalArn": writer_arn}},
            )
        )

        us_east_1 = CfnCondition(self, "InUsEast1", expression=Fn.condition_equals(Aws.REGION, "us-east-1"))
        common_name = Fn.condition_if(
            us_east_1.logical_id, "*.ec2.internal", Fn.join("", ["*.", Aws.REGION, ".compute.internal"])
        ).to_string()
        self.certificate = CustomResource(
            self,
            "Certificate",
            service_token=writer.service_token,
            resource_type="Custom::EmrTlsCertificate",
            service_timeout=CERTIFICATE_SERVICE_TIMEOUT,
            properties={
                "Bucket": bucket.bucket_name,
                "KeyPrefix": prefix,
                "KmsKeyArn": key.key_arn,
                "CommonName": common_name,
                "ValidityDays": str(validity_days),
                "Generation": str(generation),
            },
        )
        # Created after the provider's policies and deleted before them (the ServiceToken already
        # orders it after the functions).
        for policy in writer.provider_policies:
            self.certificate.node.add_dependency(policy)
        return self.certificate.get_att_string("S3Uri")

    def _expiry_alarm(
        self, checker: PlatformFunction, bucket: s3.IBucket, object_key: str, days: int
    ) -> None:
        uri = f"s3://{bucket.bucket_name}/{object_key}"
        self.expiry_schedule = events.Rule(
            self,
            "ExpirySchedule",
            description="Daily check of the EMR in-transit TLS certificate's expiry",
            schedule=events.Schedule.rate(Duration.days(1)),
            targets=[
                targets.LambdaFunction(
                    checker.function,
                    event=events.RuleTargetInput.from_object(
                        {"Bucket": bucket.bucket_name, "Key": object_key}
                    ),
                    retry_attempts=2,
                    max_event_age=Duration.hours(2),
                )
            ],
        )
        acknowledge_rules(
            self.expiry_schedule,
            rule_in_packs("EventBusDLQ"),
            "The only target is the daily expiry check: an event EventBridge fails to deliver (after "
            "2 retries) is a missed check, which the expiry alarm reports, because it treats the "
            "missing datapoint as breaching; a queued copy would hold nothing to replay.",
        )
        self.alarm_topic = sns.Topic(
            self,
            "AlarmTopic",
            display_name="EMR TLS certificate expiry",
            master_key=self.key,
            enforce_ssl=True,
        )
        # CloudWatch publishes to the encrypted topic with the platform key.
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsToEncryptedTopics",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
            )
        )
        metric = cloudwatch.Metric(
            namespace=METRIC_NAMESPACE,
            metric_name=METRIC_NAME,
            dimensions_map={"Certificate": uri},
            statistic="Minimum",
            period=Duration.days(1),
        )
        self.expiry_alarm = cloudwatch.Alarm(
            self,
            "ExpiryAlarm",
            alarm_description=(
                f"The EMR in-transit TLS certificate {uri} expires in fewer than {days} days, or its daily "
                "check did not run: renew it (see docs/tls-rotation.md)"
            ),
            metric=metric,
            threshold=days,
            comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.BREACHING,
        )
        self.expiry_alarm.add_alarm_action(cw_actions.SnsAction(self.alarm_topic))
