"""EmrCluster: a long-running EMR cluster on an EmrPlatform, rendered from a ClusterSpec."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import CustomResource, Stack, Tags
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_emr as emr
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from emr_patterns import _perms
from emr_patterns._cfn import cfn_of, depend_on
from emr_patterns._iam import managed_policy_grant
from emr_patterns.defaults import EMR_MANAGED_POLICY_TAG
from emr_patterns.errors import problem, raise_if_problems
from emr_patterns.foundation.functions import PlatformFunction
from emr_patterns.foundation.platform import IEmrPlatform, check_platform
from emr_patterns.nag import acknowledge, acknowledge_rules, rule_in_packs
from emr_patterns.spec import BootstrapAction, ClusterSpec, Configuration, PlatformBindings, ShellAccess
from emr_patterns.spec.release import Feature, feature_problems
from emr_patterns.spec.secrets import SECRET_ANNOTATION

__all__ = [
    "BootstrapScript",
    "EmrCluster",
    "cluster_security_groups",
    "platform_bindings",
    "platform_spec_problems",
]

EMR_SERVICE_PORT = 9443  # EMR service -> primary node, through the service-access group
EMR_AGENT_PORT = 8443  # service-access group -> cluster nodes


@dataclass(frozen=True)
class BootstrapScript:
    """A local script shipped as a content-hashed asset and run as a bootstrap action.

    Attributes:
        name: bootstrap action name.
        path: local file path of the script.
        args: script arguments (never secrets: pass a secret ARN and fetch it in the script).
        files: local files the script needs (a CA bundle, a config file), each shipped as its own
            content-hashed asset that the instance role may read; their ``s3://`` URLs are
            passed after ``args``, in order.
    """

    name: str
    path: str
    args: tuple[str, ...] = ()
    files: tuple[str, ...] = ()


def platform_spec_problems(spec: ClusterSpec) -> list[str]:
    """What a spec must meet to run on the platform: SSM shell access (no key pair) and a release
    that boots with IMDSv1 off (the platform's security configuration turns it off)."""
    problems: list[str] = []
    if spec.shell_access is not ShellAccess.SSM or spec.ec2_key_name:
        problems.append(
            problem(
                "spec.shell_access",
                str(spec.shell_access),
                "an SSH key pair is not allowed on platform clusters (SSM is the access policy)",
                "use ShellAccess.SSM and AWS Systems Manager Session Manager",
            )
        )
    problems += feature_problems(
        spec.release, Feature.IMDSV2_ONLY, prop="spec.release_label", value=spec.release_label
    )
    return problems


def platform_bindings(
    platform: IEmrPlatform,
    spec: ClusterSpec,
    groups: tuple[ec2.ISecurityGroup, ec2.ISecurityGroup, ec2.ISecurityGroup],
    *,
    log_encryption: bool,
    auto_scaling_role: bool = True,
) -> PlatformBindings:
    """The platform's roles, security configuration, logs and private subnets (all of them for
    fleets, the first for groups), and the (primary, core, service access) ``groups``."""
    subnets = list(platform.private_subnets)
    primary, core, service_access = groups
    scaling_role = platform.autoscaling_role if auto_scaling_role else None
    return PlatformBindings(
        service_role=platform.service_role.role_arn,
        instance_profile=platform.instance_profile.instance_profile_arn,
        security_configuration=platform.security_configuration_name,
        log_uri=platform.emr_log_uri,
        subnet_ids=tuple(s.subnet_id for s in subnets) if spec.uses_fleets else (subnets[0].subnet_id,),
        log_encryption_kms_key_id=platform.key.key_arn if log_encryption else None,
        emr_managed_primary_security_group=primary.security_group_id,
        emr_managed_core_security_group=core.security_group_id,
        service_access_security_group=service_access.security_group_id,
        auto_scaling_role=scaling_role.role_arn if scaling_role else None,
    )


def cluster_security_groups(
    scope: Construct, vpc: ec2.IVpc
) -> tuple[ec2.SecurityGroup, ec2.SecurityGroup, ec2.SecurityGroup]:
    """(primary, core/task, service access) security groups for an EMR cluster in private subnets.

    Created under ``scope`` as ``PrimarySecurityGroup``, ``CoreSecurityGroup`` and
    ``ServiceAccessSecurityGroup``, tagged for ``AmazonEMRServicePolicy_v2``, with the rules EMR
    needs: ``9443`` from the primary node to service access, ``8443`` from service access to the
    nodes. Service access has no other egress. Shared by :class:`EmrCluster` and the transient
    cluster pipeline.
    """

    def group(id: str, description: str) -> ec2.SecurityGroup:
        created = ec2.SecurityGroup(
            scope, id, vpc=vpc, description=description, allow_all_outbound=id != "ServiceAccessSecurityGroup"
        )
        Tags.of(created).add(*EMR_MANAGED_POLICY_TAG)
        return created

    primary = group("PrimarySecurityGroup", "EMR primary node")
    core = group("CoreSecurityGroup", "EMR core and task nodes")
    service_access = group("ServiceAccessSecurityGroup", "EMR service access for clusters in private subnets")
    service_access.add_ingress_rule(
        primary, ec2.Port.tcp(EMR_SERVICE_PORT), "EMR service from the primary node"
    )
    for node_group, label in ((primary, "primary"), (core, "core/task")):
        service_access.add_egress_rule(
            node_group, ec2.Port.tcp(EMR_AGENT_PORT), f"EMR service to the {label} nodes"
        )
        node_group.add_ingress_rule(service_access, ec2.Port.tcp(EMR_AGENT_PORT), "EMR service access")
    return primary, core, service_access


def _secret_arns(configurations: Sequence[Configuration]) -> list[str]:
    """Secret ARNs of every ``EMR.secret@`` property, nested configurations included."""
    found: list[str] = []
    for configuration in configurations:
        for key, value in configuration.properties.items():
            if key.startswith(SECRET_ANNOTATION):
                found.append(value)
        found += _secret_arns(configuration.configurations)
    return found


class EmrCluster(Construct):
    """A long-running EMR cluster (``AWS::EMR::Cluster``) on the platform's network, roles and encryption.

    The cluster is rendered from a :class:`~emr_patterns.spec.ClusterSpec`, so it shares every
    default and check with transient clusters that Step Functions creates from the same spec. On
    top of the spec it adds:

    * three security groups (primary, core/task, service access) with the rules EMR needs in a
      private subnet (``9443`` from primary to service access, ``8443`` from service access to the
      nodes), tagged for ``AmazonEMRServicePolicy_v2``; the cluster depends on every rule, so it
      never starts before its own network rules exist;
    * a deploy-time cleanup resource that revokes the rules EMR adds between those groups, so
      ``cdk destroy`` can delete them instead of failing with ``DependencyViolation``;
    * logs to the platform's logs bucket with log archive encryption under the platform key, the
      platform's security configuration, service role and instance profile;
    * bootstrap scripts from local files as content-hashed assets, readable by the instance role
      only object by object;
    * ``grant_submit_steps``, ``cluster_id``, ``cluster_arn`` and ``primary_dns_name`` (the
      construct adds no stack outputs; the prebuilt stacks do).

    Args:
        scope: parent construct.
        id: construct id.
        platform: the platform the cluster runs on (an ``EmrPlatform`` in this app, or one
            imported with ``EmrPlatform.from_platform_attributes``); same account and region.
        spec: what to run: release, applications, fleets or groups, configurations, scaling,
            termination. Must use SSM shell access (no key pair) and either auto-termination or
            termination protection.
        bootstrap_scripts: local scripts to upload and run on every node, after the spec's own
            bootstrap actions. Default: none.
        log_encryption: encrypt the log archive with the platform key (EMR 5.30.0+, not 6.0.0).
            Default: True.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        platform: IEmrPlatform,
        spec: ClusterSpec,
        bootstrap_scripts: Sequence[BootstrapScript] = (),
        log_encryption: bool = True,
    ) -> None:
        super().__init__(scope, id)
        problems: list[str] = []
        problems += check_platform(self, "platform", platform)
        if not isinstance(spec, ClusterSpec):
            problems.append(problem("spec", spec, "is not a ClusterSpec", "build one with emr_patterns.spec"))
        else:
            problems += platform_spec_problems(spec)
            if spec.idle_timeout_seconds is None and not spec.termination_protected:
                problems.append(
                    problem(
                        "spec",
                        spec.name,
                        "has neither auto-termination nor termination protection",
                        "set idle_timeout_seconds (transient or interactive) or termination_protected=True "
                        "(long-running)",
                    )
                )
        for i, script in enumerate(bootstrap_scripts):
            if not Path(script.path).is_file():
                problems.append(
                    problem(
                        f"bootstrap_scripts[{i}].path",
                        script.path,
                        "is not a file",
                        "give a local script path",
                    )
                )
            for j, file in enumerate(script.files):
                if not Path(file).is_file():
                    problems.append(
                        problem(
                            f"bootstrap_scripts[{i}].files[{j}]",
                            file,
                            "is not a file",
                            "give a local file path (a directory is not shipped)",
                        )
                    )
        raise_if_problems(f"EmrCluster '{self.node.path}'", problems)
        self.platform = platform
        vpc = platform.vpc

        # ---- security groups ------------------------------------------------------------------
        (
            self.primary_security_group,
            self.core_security_group,
            self.service_access_security_group,
        ) = cluster_security_groups(self, vpc)
        groups = (self.primary_security_group, self.core_security_group, self.service_access_security_group)
        #: The primary node's group: ``cluster.connections.allow_from(peer, port)`` opens e.g. Livy.
        self.connections = ec2.Connections(security_groups=[self.primary_security_group])

        # ---- bootstrap assets -----------------------------------------------------------------
        extra_actions: list[BootstrapAction] = []
        asset_statements: list[iam.PolicyStatement] = []
        for i, script in enumerate(bootstrap_scripts):
            asset = s3_assets.Asset(self, f"Bootstrap{i}", path=script.path)
            files = [
                s3_assets.Asset(self, f"Bootstrap{i}File{j}", path=file)
                for j, file in enumerate(script.files)
            ]
            extra_actions.append(
                BootstrapAction(
                    script.name, asset.s3_object_url, (*script.args, *(f.s3_object_url for f in files))
                )
            )
            asset_statements.append(
                iam.PolicyStatement(
                    actions=["s3:GetObject"],
                    resources=[a.bucket.arn_for_objects(a.s3_object_key) for a in (asset, *files)],
                )
            )
        self._bootstrap_policy: iam.ManagedPolicy | None = None
        if extra_actions:
            spec = dataclasses.replace(spec, bootstrap_actions=(*spec.bootstrap_actions, *extra_actions))
            self._bootstrap_policy = iam.ManagedPolicy(
                self,
                "BootstrapAssetsPolicy",
                description="Read this cluster's bootstrap scripts, object by object",
                statements=asset_statements,
                roles=[platform.instance_role],
            )
        self.spec = spec

        # ---- the cluster ------------------------------------------------------------------------
        bindings = platform_bindings(platform, spec, groups, log_encryption=log_encryption)
        props = spec.to_cfn_cluster_props(bindings)
        self.resource = emr.CfnCluster(
            self,
            "Resource",
            name=props["Name"],
            release_label=props["ReleaseLabel"],
            job_flow_role=props["JobFlowRole"],
            service_role=props["ServiceRole"],
            log_uri=props["LogUri"],
            security_configuration=platform.security_configuration_name,
            instances=emr.CfnCluster.JobFlowInstancesConfigProperty(),
        )
        typed = {
            "Name",
            "ReleaseLabel",
            "JobFlowRole",
            "ServiceRole",
            "LogUri",
            "SecurityConfiguration",
            "Tags",
        }
        for key, value in props.items():
            if key not in typed:
                self.resource.add_property_override(key, value)
        # Through the tag manager, so Tags.of(...) on a parent (a Service Catalog product's
        # tags, a stack's) reaches the cluster too instead of being overridden.
        for tag in props.get("Tags", ()):
            self.resource.tags.set_tag(tag["Key"], tag["Value"])
        # The cluster must not start before its own network rules and role policies exist. The
        # groups and roles themselves are already ordered by the GetAtts in the properties.
        for group in groups:
            for child in group.node.find_all():
                if isinstance(child, ec2.CfnSecurityGroupIngress | ec2.CfnSecurityGroupEgress):
                    depend_on(self.resource, child)
        for dependency in (*platform.deploy_dependencies, self._bootstrap_policy):
            if dependency is not None and Stack.of(dependency) is Stack.of(self):
                depend_on(self.resource, cfn_of(dependency))
            elif dependency is not None:
                self.resource.node.add_dependency(dependency)
        self._grant_configuration_secrets(spec)
        self.cluster_id = self.resource.ref
        self.primary_dns_name = self.resource.attr_master_public_dns
        self._acknowledge_cluster_rules()

        self.security_group_cleanup = self._security_group_cleanup(groups)
        self.resource.node.add_dependency(self.security_group_cleanup)

    # ---- grants ---------------------------------------------------------------------------------
    @property
    def cluster_arn(self) -> str:
        """ARN of the cluster."""
        return Stack.of(self).format_arn(
            service="elasticmapreduce", resource="cluster", resource_name=self.cluster_id
        )

    def grant_submit_steps(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` add, list, describe and cancel steps on this cluster only.

        For a role, user or group the statement goes to a customer-managed policy under this
        cluster (``SubmitSteps<principal>``), attached to the principal, so the grant passes the
        HIPAA, NIST and PCI packs.
        """
        return managed_policy_grant(
            self,
            "SubmitSteps",
            grantee,
            actions=_perms.EMR_SUBMIT_STEP_ACTIONS,
            resource_arns=[self.cluster_arn],
            description=f"Submit and watch steps on the EMR cluster {self.node.path}",
        )

    # ---- helpers --------------------------------------------------------------------------------
    def _grant_configuration_secrets(self, spec: ClusterSpec) -> None:
        """EMR resolves ``EMR.secret@`` properties with the *service* role: let it read those secrets.

        A customer-managed policy on the platform's service role, naming each secret ARN the
        configurations reference (and nothing else); the cluster waits for it.
        """
        arns = sorted(set(_secret_arns(spec.merged_configurations)), key=str)
        if not arns:
            return
        policy = iam.ManagedPolicy(
            self,
            "ConfigurationSecretsPolicy",
            description="EMR service role reads the secrets this cluster's configurations reference",
            statements=[
                iam.PolicyStatement(
                    sid="ReadConfigurationSecrets", actions=["secretsmanager:GetSecretValue"], resources=arns
                )
            ],
            roles=[self.platform.service_role],
        )
        depend_on(self.resource, cfn_of(policy))

    def _acknowledge_cluster_rules(self) -> None:
        acknowledge_rules(
            self.resource,
            ["AwsSolutions-EMR4", "AwsSolutions-EMR5"],
            "False positive: the security configuration nests local-disk and in-transit encryption under "
            "EncryptionConfiguration as EMR requires; cdk-nag looks for them at the top level. Our tests "
            "check the nested settings.",
        )
        acknowledge(
            self.resource,
            "AwsSolutions-EMR6",
            "No SSH key pair by policy: operators use SSM Session Manager (IAM-authenticated and logged) "
            "and jobs are submitted as steps through the EMR API.",
        )
        self._acknowledge_kerberos()

    def _acknowledge_kerberos(self) -> None:
        # A subclass whose security configuration authenticates users otherwise (EMR-native LDAP,
        # emr_patterns.patterns.hive) states its own reason instead.
        acknowledge_rules(
            self.resource,
            rule_in_packs("EMRKerberosEnabled"),
            "No interactive Hadoop users: access is through the IAM-authorized EMR API and SSM; "
            "add Kerberos with additional_security_configuration when users log in to the cluster.",
        )

    def _security_group_cleanup(self, groups: tuple[ec2.SecurityGroup, ...]) -> CustomResource:
        """Revoke the rules EMR adds between the groups on delete, once their interfaces are gone.

        The provider waits (``is_complete``, every 30 s, 30 minutes in all) for the terminated
        cluster's network interfaces to leave the groups; the handler fails naming the ones left
        after 25 minutes. The EC2 calls go through the network's ``ec2`` interface endpoint.
        """
        # Imported here: this method is the only part of the module this change touches.
        from typing import cast

        from aws_cdk import Duration
        from constructs import IDependable

        platform = self.platform
        stack = Stack.of(self)
        function = PlatformFunction(
            self,
            "SecurityGroupCleanupFunction",
            handler="emr_sg_cleanup",
            description="Revokes EMR-added rules between the cluster security groups on delete",
            vpc=platform.vpc,
            vpc_subnets=platform.vpc_subnets,
            key=platform.key,
            is_complete_entry="is_complete",
            query_interval=Duration.seconds(30),
            total_timeout=Duration.minutes(30),
            statements=[
                iam.PolicyStatement(
                    sid="RevokeClusterGroupRules",
                    actions=["ec2:RevokeSecurityGroupIngress", "ec2:RevokeSecurityGroupEgress"],
                    resources=[
                        stack.format_arn(
                            service="ec2", resource="security-group", resource_name=g.security_group_id
                        )
                        for g in groups
                    ],
                )
            ],
            unscoped_actions=["ec2:DescribeSecurityGroups", "ec2:DescribeNetworkInterfaces"],
        )
        cleanup = CustomResource(
            self,
            "SecurityGroupCleanup",
            service_token=function.service_token,
            resource_type="Custom::EmrSecurityGroupCleanup",
            properties={"SecurityGroupIds": [g.security_group_id for g in groups]},
            # on_event, up to 30 minutes of waiting, and the framework's own calls.
            service_timeout=Duration.minutes(40),
        )
        # Deleted after the cluster and before the groups, the provider's policies (the
        # ServiceToken orders it after the functions) and the VPC endpoints they call through.
        for policy in function.provider_policies:
            cleanup.node.add_dependency(policy)
        # The platform (its VPC endpoints among it) is a construct: in this stack the cleanup is
        # deleted before it, in another stack the stack order already says so.
        cleanup.node.add_dependency(cast(IDependable, platform))
        return cleanup
