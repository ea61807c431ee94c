"""EmrRoles: the EMR service role, the EC2 instance profile and optional autoscaling role."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from emr_patterns import _perms
from emr_patterns._cfn import nag_resource
from emr_patterns._iam import ManagedGrantsRole
from emr_patterns.errors import problem, raise_if_problems
from emr_patterns.foundation.storage import DATA_BUCKETS, DataLakeStorage
from emr_patterns.nag import acknowledge

__all__ = ["EmrRoles", "create_cleanup_role_statement", "pass_role_targets"]

SERVICE_POLICY_V2 = "service-role/AmazonEMRServicePolicy_v2"
AUTOSCALING_POLICY = "service-role/AmazonElasticMapReduceforAutoScalingRole"
SSM_CORE_POLICY = "AmazonSSMManagedInstanceCore"


def _iam4_id(policy: str) -> str:
    return f"AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/{policy}]"


class EmrRoles(Construct):
    """IAM for EMR on EC2: service role (v2), instance profile scoped to the platform, PassRole helpers.

    * Service role: trusted by ``elasticmapreduce.amazonaws.com`` for this account only
      (``aws:SourceAccount``/``aws:SourceArn``), with ``AmazonEMRServicePolicy_v2`` (which only
      acts on resources tagged ``for-use-with-amazon-emr-managed-policies=true``) plus a
      customer-managed policy for ``iam:PassRole`` of the instance role to EC2 and the key use
      EBS encryption needs.
    * Instance role and profile: a customer-managed policy that reads and writes only the
      platform's data buckets, writes only the EMR log prefix, reads only the artifacts prefix,
      uses only the platform key, and describes only clusters in this account and region.
      No ``s3:*``, no ``Resource: *`` data access. SSM Session Manager access by default
      (instead of an SSH key pair).
    * Optional autoscaling role for custom automatic scaling policies.

    Every policy is a customer-managed ``iam.ManagedPolicy`` (the HIPAA, NIST and PCI packs reject
    inline policies). Grants made on either role later (``bucket.grant_read(roles.instance_role)``,
    ``secret.grant_read(roles.service_role)``) go to a customer-managed ``GrantsPolicy`` under
    that role, not to an inline default policy (see :class:`~emr_patterns._iam.ManagedGrantsRole`).

    Args:
        scope: parent construct.
        id: construct id.
        storage: the platform's buckets and key.
        additional_read_buckets: more buckets the cluster may read. Default: none.
        additional_read_write_buckets: more buckets the cluster may read and write. Default: none.
        extra_keys: more KMS keys the cluster may use (e.g. a bucket you bring). Default: none.
        enable_ssm: attach ``AmazonSSMManagedInstanceCore`` so operators use Session Manager
            instead of SSH. Default: True.
        create_autoscaling_role: create ``EMR_AutoScaling``-style role. Default: False
            (managed scaling, the recommended option, needs no role).
        create_cleanup_service_linked_role: create ``AWSServiceRoleForEMRCleanup``. It exists once
            per account and CloudFormation fails if it exists already, so create it only in an
            account that never ran EMR. Default: False (EMR creates it on first use when the
            caller may ``iam:CreateServiceLinkedRole``; see ``grant_create_cleanup_role``).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        storage: DataLakeStorage,
        additional_read_buckets: Sequence[s3.IBucket] = (),
        additional_read_write_buckets: Sequence[s3.IBucket] = (),
        extra_keys: Sequence[kms.IKey] = (),
        enable_ssm: bool = True,
        create_autoscaling_role: bool = False,
        create_cleanup_service_linked_role: bool = False,
    ) -> None:
        super().__init__(scope, id)
        problems: list[str] = []
        if not isinstance(storage, DataLakeStorage):
            problems.append(
                problem("storage", storage, "is not a DataLakeStorage", "pass the platform's DataLakeStorage")
            )
        for prop, buckets in (
            ("additional_read_buckets", additional_read_buckets),
            ("additional_read_write_buckets", additional_read_write_buckets),
        ):
            for bucket in buckets:
                if isinstance(bucket, str):
                    problems.append(
                        problem(
                            prop,
                            bucket,
                            "is a string; an s3.IBucket is required",
                            "use s3.Bucket.from_bucket_name",
                        )
                    )
        for key in extra_keys:
            if isinstance(key, str):
                problems.append(
                    problem(
                        "extra_keys", key, "is a string; a kms.IKey is required", "use kms.Key.from_key_arn"
                    )
                )
        raise_if_problems(f"EmrRoles '{self.node.path}'", problems)
        self.storage = storage
        stack = Stack.of(self)
        keys = [storage.key, *extra_keys]

        # ---- instance role and profile ---------------------------------------------------
        self.instance_role = ManagedGrantsRole(
            self,
            "InstanceRole",
            assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
            description="EC2 instance role for EMR nodes of this platform",
        )
        self.instance_policy = iam.ManagedPolicy(
            self,
            "InstancePolicy",
            description="Data, log, artifact and key access of EMR nodes, scoped to the platform",
            statements=self._instance_statements(
                storage, list(additional_read_buckets), list(additional_read_write_buckets), keys
            ),
        )
        self.instance_role.add_managed_policy(self.instance_policy)
        logs_objects = storage.logs_bucket.arn_for_objects(f"{storage.layout.emr_logs_prefix}*")
        artifact_objects = storage.artifacts_bucket.arn_for_objects(f"{storage.layout.artifacts_prefix}*")
        acknowledge(
            self.instance_policy,
            f"AwsSolutions-IAM5[Resource::{nag_resource(self, self._clusters_arn())}]",
            "Nodes describe their own cluster, whose id is unknown until EMR creates it; scoped to "
            "clusters in this account and region.",
        )
        for objects, label in self._object_wildcards(
            storage, additional_read_buckets, additional_read_write_buckets
        ):
            acknowledge(
                self.instance_policy,
                f"AwsSolutions-IAM5[Resource::{objects}]",
                f"Spark and Hive read and write objects with run-time keys in the {label}; the statement "
                "is limited to this one bucket (no s3:*, no other buckets).",
            )
        acknowledge(
            self.instance_policy,
            f"AwsSolutions-IAM5[Resource::{nag_resource(self, logs_objects)}]",
            "EMR writes cluster logs under run-time paths (cluster and node ids) below the EMR log "
            "prefix; nothing else in the logs bucket is writable.",
        )
        acknowledge(
            self.instance_policy,
            f"AwsSolutions-IAM5[Resource::{nag_resource(self, artifact_objects)}]",
            "Nodes read job code, bootstrap scripts and TLS material below the artifacts prefix; read only.",
        )
        if enable_ssm:
            self.instance_role.add_managed_policy(
                iam.ManagedPolicy.from_aws_managed_policy_name(SSM_CORE_POLICY)
            )
            acknowledge(
                self.instance_role,
                _iam4_id(SSM_CORE_POLICY),
                "Session Manager replaces SSH key pairs for operator access; the AWS-managed policy "
                "tracks the SSM agent's needs and grants no data access.",
            )
        self.instance_profile = iam.InstanceProfile(self, "InstanceProfile", role=self.instance_role)

        # ---- service role -----------------------------------------------------------------
        self.service_role = ManagedGrantsRole(
            self,
            "ServiceRole",
            assumed_by=iam.ServicePrincipal(
                "elasticmapreduce.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {"aws:SourceArn": stack.format_arn(service="elasticmapreduce", resource="*")},
                },
            ),
            description="EMR service role (AmazonEMRServicePolicy_v2, tag-scoped)",
            managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name(SERVICE_POLICY_V2)],
        )
        acknowledge(
            self.service_role,
            _iam4_id(SERVICE_POLICY_V2),
            "AmazonEMRServicePolicy_v2 is the EMR-maintained service policy; it only acts on resources "
            "tagged for-use-with-amazon-emr-managed-policies=true, and EMR updates it with new features.",
        )
        self.service_policy = iam.ManagedPolicy(
            self,
            "ServicePolicy",
            description="PassRole of the instance role and EBS key use for the EMR service role",
            statements=[
                iam.PolicyStatement(
                    sid="PassInstanceRoleToEc2",
                    actions=["iam:PassRole"],
                    resources=[self.instance_role.role_arn],
                    conditions={"StringLike": {"iam:PassedToService": "ec2.amazonaws.com*"}},
                ),
                iam.PolicyStatement(
                    sid="UseKeyForEbsAndLogs",
                    actions=list(_perms.KMS_EBS_ACTIONS),
                    resources=[k.key_arn for k in keys],
                ),
                iam.PolicyStatement(
                    sid="GrantKeyToEbs",
                    actions=list(_perms.KMS_EBS_GRANT_ACTIONS),
                    resources=[k.key_arn for k in keys],
                    conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
                ),
            ],
        )
        self.service_role.add_managed_policy(self.service_policy)

        # ---- optional roles ---------------------------------------------------------------
        self.autoscaling_role: iam.Role | None = None
        if create_autoscaling_role:
            self.autoscaling_role = iam.Role(
                self,
                "AutoScalingRole",
                assumed_by=iam.CompositePrincipal(
                    iam.ServicePrincipal("elasticmapreduce.amazonaws.com"),
                    iam.ServicePrincipal("application-autoscaling.amazonaws.com"),
                ),
                description="EMR custom automatic scaling role",
                managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name(AUTOSCALING_POLICY)],
            )
            acknowledge(
                self.autoscaling_role,
                _iam4_id(AUTOSCALING_POLICY),
                "AWS-maintained policy for EMR automatic scaling; it only adjusts instance groups and "
                "CloudWatch alarms.",
            )
        self.cleanup_service_linked_role: iam.CfnServiceLinkedRole | None = None
        if create_cleanup_service_linked_role:
            self.cleanup_service_linked_role = iam.CfnServiceLinkedRole(
                self,
                "CleanupServiceLinkedRole",
                aws_service_name=_perms.EMR_CLEANUP_SERVICE,
                description="Lets EMR clean up EC2 resources of terminated clusters",
            )

    # ---- helpers ----------------------------------------------------------------------------
    def _clusters_arn(self) -> str:
        return Stack.of(self).format_arn(service="elasticmapreduce", resource="cluster", resource_name="*")

    def _object_wildcards(
        self,
        storage: DataLakeStorage,
        read: Sequence[s3.IBucket],
        read_write: Sequence[s3.IBucket],
    ) -> list[tuple[str, str]]:
        """(objects ARN as cdk-nag names it, label) of each bucket the instance policy names with ``/*``."""
        labelled: list[tuple[s3.IBucket, str]] = [
            (b, f"{purpose} bucket") for purpose, b in storage.buckets.items() if purpose in DATA_BUCKETS
        ]
        labelled += [(b, "additional bucket") for b in (*read, *read_write)]
        return [(nag_resource(self, b.arn_for_objects("*")), label) for b, label in labelled]

    def _instance_statements(
        self,
        storage: DataLakeStorage,
        read: list[s3.IBucket],
        read_write: list[s3.IBucket],
        keys: list[kms.IKey],
    ) -> list[iam.PolicyStatement]:
        layout = storage.layout
        rw = [*storage.data_buckets, *read_write]
        statements = [
            iam.PolicyStatement(
                sid="ListPlatformBuckets",
                # GetEncryptionConfiguration: the jobs check an output bucket's default encryption
                # (the platform key) before their tasks write to it with pyarrow.
                actions=list(_perms.S3_BUCKET_READ_ACTIONS),
                resources=[b.bucket_arn for b in (*rw, *read, storage.logs_bucket, storage.artifacts_bucket)],
            ),
            iam.PolicyStatement(
                sid="ReadWriteData",
                actions=[*_perms.S3_OBJECT_READ_ACTIONS, *_perms.S3_WRITE_ACTIONS],
                resources=[b.arn_for_objects("*") for b in rw],
            ),
            iam.PolicyStatement(
                sid="WriteEmrLogs",
                actions=["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"],
                resources=[storage.logs_bucket.arn_for_objects(f"{layout.emr_logs_prefix}*")],
            ),
            iam.PolicyStatement(
                sid="ReadArtifacts",
                actions=["s3:GetObject", "s3:GetObjectVersion"],
                resources=[storage.artifacts_bucket.arn_for_objects(f"{layout.artifacts_prefix}*")],
            ),
            iam.PolicyStatement(
                sid="UsePlatformKeys",
                actions=[*_perms.KMS_DATA_ACTIONS, "kms:DescribeKey"],
                resources=[k.key_arn for k in keys],
            ),
            iam.PolicyStatement(
                sid="DescribeOwnCluster",
                actions=list(_perms.EMR_INSTANCE_ACTIONS),
                resources=[self._clusters_arn()],
            ),
        ]
        if read:
            statements.append(
                iam.PolicyStatement(
                    sid="ReadAdditional",
                    actions=list(_perms.S3_OBJECT_READ_ACTIONS),
                    resources=[b.arn_for_objects("*") for b in read],
                )
            )
        return statements

    def _pass_role_targets(self) -> list[tuple[str, dict[str, Any]]]:
        """(role ARN, condition) for each role a launcher may pass, and the service it goes to."""
        return pass_role_targets(self.service_role, self.instance_role)

    def grant_pass_roles(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` pass the service role to EMR and the instance role to EC2 (and nothing else)."""
        grants = [
            iam.Grant.add_to_principal(
                grantee=grantee, actions=["iam:PassRole"], resource_arns=[arn], conditions=condition
            )
            for arn, condition in self._pass_role_targets()
        ]
        return grants[0].combine(grants[1])

    def statements_for_pass_roles(self) -> list[iam.PolicyStatement]:
        """The PassRole statements of :meth:`grant_pass_roles`, for a customer-managed policy."""
        return [
            iam.PolicyStatement(actions=["iam:PassRole"], resources=[arn], conditions=condition)
            for arn, condition in self._pass_role_targets()
        ]

    def grant_create_cleanup_role(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` create ``AWSServiceRoleForEMRCleanup`` (only that role) on first cluster launch."""
        statement = create_cleanup_role_statement(Stack.of(self))
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=statement.actions,
            resource_arns=statement.resources,
            conditions=statement.conditions,
        )


def pass_role_targets(service_role: iam.IRole, instance_role: iam.IRole) -> list[tuple[str, dict[str, Any]]]:
    """(role ARN, condition) for the two roles a cluster launcher may pass: the service role to
    EMR, the instance role to EC2 (``iam:PassedToService``)."""
    return [
        (service_role.role_arn, {"StringEquals": {"iam:PassedToService": "elasticmapreduce.amazonaws.com"}}),
        (instance_role.role_arn, {"StringLike": {"iam:PassedToService": "ec2.amazonaws.com*"}}),
    ]


def create_cleanup_role_statement(stack: Stack) -> iam.PolicyStatement:
    """``iam:CreateServiceLinkedRole`` for ``AWSServiceRoleForEMRCleanup`` only, which EMR needs
    on the first cluster launch in an account."""
    return iam.PolicyStatement(
        actions=["iam:CreateServiceLinkedRole"],
        resources=[
            stack.format_arn(
                service="iam",
                region="",
                resource="role",
                resource_name=f"aws-service-role/{_perms.EMR_CLEANUP_SERVICE}/{_perms.EMR_CLEANUP_ROLE_NAME}",
            )
        ],
        conditions={"StringLike": {"iam:AWSServiceName": _perms.EMR_CLEANUP_SERVICE}},
    )
