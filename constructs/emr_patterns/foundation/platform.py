"""The platform every pattern runs on: ``IEmrPlatform``, ``EmrPlatform`` and its import.

A user deploys one platform (one VPC, one set of buckets, roles and security configuration) and
every pattern stack takes it as an :class:`IEmrPlatform`:

* in the same app, pass the ``EmrPlatform`` (``PlatformBaseStack(...).platform``); CDK turns the
  references into stack exports;
* from another app, import a deployed ``PlatformBaseStack`` with
  :meth:`EmrPlatform.from_platform_attributes` and :class:`EmrPlatformAttributes` (for example
  :meth:`EmrPlatformAttributes.from_stack_outputs` over ``cdk deploy --outputs-file``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from aws_cdk import Stack, Token
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct, IConstruct

from emr_patterns._validation import validate_kms_key_arn
from emr_patterns.errors import problem, raise_if_problems
from emr_patterns.foundation.network import DataPlatformNetwork
from emr_patterns.foundation.options import NetworkOptions, RoleOptions, SecurityOptions, StorageOptions
from emr_patterns.foundation.roles import EmrRoles
from emr_patterns.foundation.security_configuration import EmrSecurityConfiguration
from emr_patterns.foundation.storage import DataLakeStorage, LakeLayout

__all__ = [
    "EmrPlatform",
    "EmrPlatformAttributes",
    "IEmrPlatform",
    "check_platform",
]


@runtime_checkable
class IEmrPlatform(Protocol):
    """What a pattern needs of the platform it runs on.

    :class:`EmrPlatform` implements it, and so does the platform that
    :meth:`EmrPlatform.from_platform_attributes` imports. Roles are ``iam.IRole``, so a user who
    brings their own roles and security configuration can implement it too.
    """

    @property
    def node(self) -> Any:
        """The construct node (the platform is a construct in some stack of the app)."""

    @property
    def vpc(self) -> ec2.IVpc:
        """The VPC clusters and platform functions run in."""

    @property
    def private_subnets(self) -> Sequence[ec2.ISubnet]:
        """Private or isolated subnets (at least two zones) for clusters and functions."""

    @property
    def vpc_subnets(self) -> ec2.SubnetSelection:
        """:attr:`private_subnets` as a subnet selection."""

    @property
    def endpoint_security_group(self) -> ec2.ISecurityGroup | None:
        """Security group of the platform's interface endpoints (HTTPS from the VPC), if known."""

    @property
    def key(self) -> kms.IKey:
        """The platform's customer-managed key (buckets, logs, EBS, EMRFS)."""

    @property
    def service_role(self) -> iam.IRole:
        """EMR service role."""

    @property
    def instance_role(self) -> iam.IRole:
        """EC2 instance role of the cluster nodes."""

    @property
    def instance_profile(self) -> iam.IInstanceProfile:
        """Instance profile wrapping :attr:`instance_role`."""

    @property
    def autoscaling_role(self) -> iam.IRole | None:
        """Role for custom automatic scaling policies, if the platform has one."""

    @property
    def security_configuration_name(self) -> str:
        """Name of the EMR security configuration clusters use."""

    @property
    def layout(self) -> LakeLayout:
        """Key prefixes inside the platform buckets."""

    @property
    def logs_bucket(self) -> s3.IBucket:
        """Bucket for EMR logs (below ``layout.emr_logs_prefix``)."""

    @property
    def artifacts_bucket(self) -> s3.IBucket:
        """Bucket for job code, bootstrap scripts and TLS material (below ``layout.artifacts_prefix``)."""

    @property
    def data_buckets(self) -> Sequence[s3.IBucket]:
        """Buckets EMR jobs read and write: raw, work and curated."""

    @property
    def emr_log_uri(self) -> str:
        """``s3://`` URI of the EMR log prefix (a cluster's ``LogUri``)."""

    @property
    def deploy_dependencies(self) -> Sequence[IConstruct]:
        """Constructs in the app that a cluster must be created after (policies, network rules).

        Empty for an imported platform: it is deployed already.
        """


def check_platform(scope: Construct, prop: str, platform: Any) -> list[str]:
    """Problems with ``platform`` as given to ``scope``: not an :class:`IEmrPlatform`, or a
    platform in another environment (account or region) than ``scope``'s stack."""
    if not isinstance(platform, IEmrPlatform):
        return [
            problem(
                prop,
                type(platform).__name__,
                "is not an IEmrPlatform",
                "pass an EmrPlatform (e.g. PlatformBaseStack(...).platform) or "
                "EmrPlatform.from_platform_attributes(...)",
            )
        ]
    here, there = _deploying_stack(Stack.of(scope)), Stack.of(platform)  # type: ignore[arg-type]
    problems = []
    for what, mine, theirs in (
        ("account", here.account, there.account),
        ("region", here.region, there.region),
    ):
        same_kind = Token.is_unresolved(mine) == Token.is_unresolved(theirs)
        if not same_kind or (not Token.is_unresolved(mine) and mine != theirs):
            problems.append(
                problem(
                    prop,
                    platform.node.path,
                    f"is in stack {there.stack_name} with {what} {_shown(theirs)}, but {here.stack_name} "
                    f"has {what} {_shown(mine)}; a platform serves only its own environment",
                    "give both stacks the same env=Environment(account=..., region=...) (or neither), "
                    "or deploy a PlatformBaseStack in this environment",
                )
            )
    return problems


def _deploying_stack(stack: Stack) -> Stack:
    """The stack whose environment ``stack`` deploys into: a Service Catalog ``ProductStack`` is
    provisioned in the environment of the stack that publishes it (it has no ``env`` of its own)."""
    from aws_cdk import aws_servicecatalog as servicecatalog

    while isinstance(stack, servicecatalog.ProductStack) and stack.node.scope is not None:
        stack = Stack.of(stack.node.scope)
    return stack


def _shown(value: str) -> str:
    return "(environment-agnostic)" if Token.is_unresolved(value) else repr(value)


class _PlatformViews:
    """Attributes every platform derives the same way from its buckets and layout."""

    layout: LakeLayout
    logs_bucket: s3.IBucket
    artifacts_bucket: s3.IBucket

    @property
    def emr_log_uri(self) -> str:
        """``s3://`` URI of the EMR log prefix."""
        return self.logs_bucket.s3_url_for_object(self.layout.emr_logs_prefix)

    def artifacts_uri(self, key: str = "") -> str:
        """``s3://`` URI of ``key`` below the artifacts prefix."""
        return self.artifacts_bucket.s3_url_for_object(f"{self.layout.artifacts_prefix}{key}")


class EmrPlatform(_PlatformViews, Construct):
    """The secure base every EMR pattern in this library is built on; implements :class:`IEmrPlatform`.

    Bundles :class:`DataPlatformNetwork`, :class:`DataLakeStorage`, :class:`EmrRoles` and
    :class:`EmrSecurityConfiguration` under stable ids (``Network``, ``Storage``, ``Roles``,
    ``SecurityConfiguration``). Deploy one per environment and give it to every pattern.

    Args:
        scope: parent construct.
        id: construct id.
        network: VPC (new or brought), zones, CIDR, NAT, endpoints, flow logs.
            Default: ``NetworkOptions()`` (a new isolated VPC in 2 zones with every endpoint).
        storage: key, bucket names, layout, lifecycles, removal policy.
            Default: ``StorageOptions()`` (a new rotating key, RETAIN).
        roles: extra buckets and keys the nodes may use, SSM, optional roles.
            Default: ``RoleOptions()`` (platform buckets and key only, SSM on).
        security: TLS certificate (generated or brought), IMDS hop limit, extra sections.
            Default: ``SecurityOptions()`` (a generated certificate, hop limit 1).
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
    ) -> None:
        super().__init__(scope, id)
        problems = []
        for prop, value, cls in (
            ("network", network, NetworkOptions),
            ("storage", storage, StorageOptions),
            ("roles", roles, RoleOptions),
            ("security", security, SecurityOptions),
        ):
            if value is not None and not isinstance(value, cls):
                problems.append(
                    problem(
                        prop, type(value).__name__, f"is not a {cls.__name__}", f"pass {cls.__name__}(...)"
                    )
                )
        raise_if_problems(f"EmrPlatform '{self.node.path}'", problems)
        self.network = DataPlatformNetwork(self, "Network", **_kwargs(network or NetworkOptions()))
        self.storage = DataLakeStorage(self, "Storage", **_kwargs(storage or StorageOptions()))
        self.roles = EmrRoles(self, "Roles", storage=self.storage, **_kwargs(roles or RoleOptions()))
        self.security_configuration = EmrSecurityConfiguration(
            self,
            "SecurityConfiguration",
            key=self.storage.key,
            instance_role=self.roles.instance_role,
            vpc=self.network.vpc,
            vpc_subnets=self.network.subnet_selection,
            artifacts_bucket=self.storage.artifacts_bucket,
            certificate_prefix=f"{self.storage.layout.artifacts_prefix}tls/",
            **_kwargs(security or SecurityOptions()),
        )
        # The certificate function calls S3 and KMS through the network's endpoints (a dependency
        # on the whole network would repeat the VPC reference its groups already make: W3005).
        certificate = self.security_configuration.certificate
        if certificate is not None:
            for endpoint in self.network.endpoints.values():
                certificate.node.add_dependency(endpoint)
        self.layout = self.storage.layout
        self.logs_bucket = self.storage.logs_bucket
        self.artifacts_bucket = self.storage.artifacts_bucket

    # ---- IEmrPlatform ----------------------------------------------------------------------
    @property
    def vpc(self) -> ec2.IVpc:
        """The platform VPC."""
        return self.network.vpc

    @property
    def private_subnets(self) -> list[ec2.ISubnet]:
        """Private or isolated subnets of the VPC."""
        return self.network.private_subnets

    @property
    def vpc_subnets(self) -> ec2.SubnetSelection:
        """The private subnets as a selection."""
        return self.network.subnet_selection

    @property
    def endpoint_security_group(self) -> ec2.ISecurityGroup:
        """Security group of the interface endpoints."""
        return self.network.endpoint_security_group

    @property
    def key(self) -> kms.IKey:
        """The platform's customer-managed key."""
        return self.storage.key

    @property
    def service_role(self) -> iam.IRole:
        """EMR service role."""
        return self.roles.service_role

    @property
    def instance_role(self) -> iam.IRole:
        """EC2 instance role of the nodes."""
        return self.roles.instance_role

    @property
    def instance_profile(self) -> iam.IInstanceProfile:
        """Instance profile of the nodes."""
        return self.roles.instance_profile

    @property
    def autoscaling_role(self) -> iam.IRole | None:
        """Custom automatic scaling role, when ``RoleOptions(create_autoscaling_role=True)``."""
        return self.roles.autoscaling_role

    @property
    def security_configuration_name(self) -> str:
        """Name of the platform's EMR security configuration."""
        return self.security_configuration.name

    @property
    def data_buckets(self) -> list[s3.IBucket]:
        """Raw, work and curated buckets."""
        return self.storage.data_buckets

    @property
    def deploy_dependencies(self) -> list[IConstruct]:
        """The role policies a cluster needs in place before it starts."""
        return [self.roles.service_policy, self.roles.instance_policy]

    def attributes(self) -> EmrPlatformAttributes:
        """This platform's attributes, as another app would import them (tokens until deployed)."""
        return EmrPlatformAttributes(
            vpc_id=self.vpc.vpc_id,
            vpc_cidr_block=self.vpc.vpc_cidr_block,
            availability_zones=tuple(s.availability_zone for s in self.private_subnets),
            private_subnet_ids=tuple(s.subnet_id for s in self.private_subnets),
            endpoint_security_group_id=self.endpoint_security_group.security_group_id,
            key_arn=self.key.key_arn,
            service_role_arn=self.service_role.role_arn,
            instance_role_arn=self.instance_role.role_arn,
            instance_profile_arn=self.instance_profile.instance_profile_arn,
            autoscaling_role_arn=self.autoscaling_role.role_arn if self.autoscaling_role else None,
            security_configuration_name=self.security_configuration_name,
            logs_bucket_name=self.logs_bucket.bucket_name,
            artifacts_bucket_name=self.artifacts_bucket.bucket_name,
            data_bucket_names=tuple(b.bucket_name for b in self.data_buckets),
            layout=self.layout,
        )

    @staticmethod
    def from_platform_attributes(
        scope: Construct, id: str, attributes: EmrPlatformAttributes
    ) -> IEmrPlatform:
        """Import a deployed platform (for example a ``PlatformBaseStack`` of another app).

        Raises ``ValueError`` naming every missing or malformed attribute. Imported roles are
        immutable: grants on them are not added to the deployed roles (attach a managed policy
        in the platform's app instead).
        """
        return _ImportedPlatform(scope, id, attributes)


def _kwargs(options: Any) -> dict[str, Any]:
    """An options dataclass as constructor keyword arguments (shallow: constructs stay constructs)."""
    return {f.name: getattr(options, f.name) for f in dataclasses.fields(options)}


#: ``PlatformBaseStack`` output key -> attribute name (see :meth:`EmrPlatformAttributes.from_stack_outputs`).
OUTPUT_KEYS: dict[str, str] = {
    "VpcId": "vpc_id",
    "VpcCidrBlock": "vpc_cidr_block",
    "AvailabilityZones": "availability_zones",
    "PrivateSubnetIds": "private_subnet_ids",
    "EndpointSecurityGroupId": "endpoint_security_group_id",
    "KeyArn": "key_arn",
    "ServiceRoleArn": "service_role_arn",
    "InstanceRoleArn": "instance_role_arn",
    "InstanceProfileArn": "instance_profile_arn",
    "AutoScalingRoleArn": "autoscaling_role_arn",
    "SecurityConfigurationName": "security_configuration_name",
    "LogsBucketName": "logs_bucket_name",
    "ArtifactsBucketName": "artifacts_bucket_name",
    "DataBucketNames": "data_bucket_names",
    "EmrLogsPrefix": "emr_logs_prefix",
    "ArtifactsPrefix": "artifacts_prefix",
    "TemporaryPrefix": "temporary_prefix",
}
_LIST_ATTRIBUTES = ("availability_zones", "private_subnet_ids", "data_bucket_names")


@dataclass(frozen=True)
class EmrPlatformAttributes:
    """Everything needed to use a deployed platform from another app.

    Attributes:
        vpc_id: VPC id.
        vpc_cidr_block: the VPC's IPv4 CIDR.
        availability_zones: zone of each private subnet, in the same order.
        private_subnet_ids: private (or isolated) subnet ids, at least two zones.
        key_arn: full ARN of the platform key.
        service_role_arn: EMR service role ARN.
        instance_role_arn: EC2 instance role ARN.
        instance_profile_arn: instance profile ARN.
        security_configuration_name: EMR security configuration name.
        logs_bucket_name: bucket for EMR logs.
        artifacts_bucket_name: bucket for jobs, bootstrap scripts and TLS material.
        data_bucket_names: raw, work and curated bucket names. Default: none.
        endpoint_security_group_id: security group of the interface endpoints. Default: unknown.
        autoscaling_role_arn: custom automatic scaling role. Default: none.
        layout: key prefixes in the buckets. Default: ``LakeLayout()``.
    """

    vpc_id: str
    vpc_cidr_block: str
    availability_zones: tuple[str, ...]
    private_subnet_ids: tuple[str, ...]
    key_arn: str
    service_role_arn: str
    instance_role_arn: str
    instance_profile_arn: str
    security_configuration_name: str
    logs_bucket_name: str
    artifacts_bucket_name: str
    data_bucket_names: tuple[str, ...] = ()
    endpoint_security_group_id: str | None = None
    autoscaling_role_arn: str | None = None
    layout: LakeLayout = field(default_factory=LakeLayout)

    @classmethod
    def from_stack_outputs(cls, outputs: Mapping[str, str]) -> EmrPlatformAttributes:
        """Attributes from a ``PlatformBaseStack``'s outputs, e.g. one stack's entry of the JSON
        that ``cdk deploy PlatformBaseStack --outputs-file platform.json`` writes.

        Unknown keys are ignored; a missing required output is reported by the import.
        """
        values: dict[str, Any] = {}
        layout: dict[str, str] = {}
        for key, value in outputs.items():
            name = OUTPUT_KEYS.get(key)
            if name is None:
                continue
            if name in _LIST_ATTRIBUTES:
                values[name] = tuple(v for v in str(value).split(",") if v)
            elif name.endswith("_prefix"):
                layout[name] = str(value)
            elif value:
                values[name] = str(value)
        if layout:
            values["layout"] = LakeLayout(**layout)
        required = [f.name for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING]
        required = [r for r in required if r != "layout"]
        missing = [r for r in required if r not in values]
        if missing:
            raise_if_problems(
                "EmrPlatformAttributes.from_stack_outputs",
                [
                    problem(
                        f"outputs[{_output_key(name)!r}]",
                        "missing",
                        f"is needed for {name}",
                        "pass the outputs of a deployed PlatformBaseStack (cdk deploy --outputs-file)",
                    )
                    for name in missing
                ],
            )
        return cls(**values)

    def to_outputs(self) -> dict[str, str]:
        """The stack outputs :meth:`from_stack_outputs` reads back (lists comma-joined; unset
        optional attributes left out)."""
        outputs: dict[str, str] = {}
        for key, name in OUTPUT_KEYS.items():
            value = getattr(self.layout if name.endswith("_prefix") else self, name)
            if value is None:
                continue
            outputs[key] = ",".join(value) if isinstance(value, tuple) else value
        return outputs

    def problems(self) -> list[str]:
        """What is missing or malformed, each naming the attribute and the fix."""
        out: list[str] = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.default is dataclasses.MISSING and (value is None or value == "" or value == ()):
                out.append(
                    problem(
                        f"attributes.{f.name}",
                        value,
                        "is required to import a platform",
                        f"take it from the PlatformBaseStack output {_output_key(f.name)!r}",
                    )
                )
        zones, subnets = self.availability_zones, self.private_subnet_ids
        if zones and subnets and len(zones) != len(subnets):
            out.append(
                problem(
                    "attributes.availability_zones",
                    list(zones),
                    f"has {len(zones)} zones for {len(subnets)} private subnets",
                    "give one zone per subnet, in the same order",
                )
            )
        elif zones and len(set(zones)) < 2 and not any(Token.is_unresolved(z) for z in zones):
            out.append(
                problem(
                    "attributes.availability_zones",
                    list(zones),
                    "names fewer than 2 zones",
                    "EMR fleets and the platform need private subnets in at least 2 zones",
                )
            )
        if self.key_arn:
            out += validate_kms_key_arn("attributes.key_arn", self.key_arn)
        out += self.layout.problems()
        return out


def _output_key(attribute: str) -> str:
    return next((k for k, v in OUTPUT_KEYS.items() if v == attribute), attribute)


class _ImportedPlatform(_PlatformViews, Construct):
    """A deployed platform, imported by attributes (see :meth:`EmrPlatform.from_platform_attributes`)."""

    def __init__(self, scope: Construct, id: str, attributes: EmrPlatformAttributes) -> None:
        super().__init__(scope, id)
        if not isinstance(attributes, EmrPlatformAttributes):
            raise_if_problems(
                f"EmrPlatform.from_platform_attributes '{self.node.path}'",
                [
                    problem(
                        "attributes",
                        type(attributes).__name__,
                        "is not an EmrPlatformAttributes",
                        "build one, or use EmrPlatformAttributes.from_stack_outputs(...)",
                    )
                ],
            )
        raise_if_problems(f"EmrPlatform.from_platform_attributes '{self.node.path}'", attributes.problems())
        a = attributes
        self.attributes = a
        self.layout = a.layout
        self._vpc = ec2.Vpc.from_vpc_attributes(
            self,
            "Vpc",
            vpc_id=a.vpc_id,
            vpc_cidr_block=a.vpc_cidr_block,
            availability_zones=list(a.availability_zones),
            isolated_subnet_ids=list(a.private_subnet_ids),
        )
        self._endpoint_sg = (
            ec2.SecurityGroup.from_security_group_id(
                self, "EndpointSecurityGroup", a.endpoint_security_group_id, mutable=False
            )
            if a.endpoint_security_group_id
            else None
        )
        self._key = kms.Key.from_key_arn(self, "Key", a.key_arn)
        self._service_role = iam.Role.from_role_arn(self, "ServiceRole", a.service_role_arn, mutable=False)
        self._instance_role = iam.Role.from_role_arn(self, "InstanceRole", a.instance_role_arn, mutable=False)
        self._instance_profile = iam.InstanceProfile.from_instance_profile_attributes(
            self, "InstanceProfile", instance_profile_arn=a.instance_profile_arn, role=self._instance_role
        )
        self._autoscaling_role = (
            iam.Role.from_role_arn(self, "AutoScalingRole", a.autoscaling_role_arn, mutable=False)
            if a.autoscaling_role_arn
            else None
        )
        self.logs_bucket = s3.Bucket.from_bucket_name(self, "LogsBucket", a.logs_bucket_name)
        self.artifacts_bucket = s3.Bucket.from_bucket_name(self, "ArtifactsBucket", a.artifacts_bucket_name)
        self._data_buckets = [
            s3.Bucket.from_bucket_name(self, f"DataBucket{i}", name)
            for i, name in enumerate(a.data_bucket_names)
        ]

    @property
    def vpc(self) -> ec2.IVpc:
        """The imported VPC."""
        return self._vpc

    @property
    def private_subnets(self) -> list[ec2.ISubnet]:
        """The imported private subnets."""
        return list(self._vpc.isolated_subnets)

    @property
    def vpc_subnets(self) -> ec2.SubnetSelection:
        """The imported private subnets as a selection."""
        return ec2.SubnetSelection(subnets=self.private_subnets)

    @property
    def endpoint_security_group(self) -> ec2.ISecurityGroup | None:
        """The imported endpoint security group, if its id was given."""
        return self._endpoint_sg

    @property
    def key(self) -> kms.IKey:
        """The imported platform key."""
        return self._key

    @property
    def service_role(self) -> iam.IRole:
        """The imported service role."""
        return self._service_role

    @property
    def instance_role(self) -> iam.IRole:
        """The imported instance role."""
        return self._instance_role

    @property
    def instance_profile(self) -> iam.IInstanceProfile:
        """The imported instance profile."""
        return self._instance_profile

    @property
    def autoscaling_role(self) -> iam.IRole | None:
        """The imported autoscaling role, if given."""
        return self._autoscaling_role

    @property
    def security_configuration_name(self) -> str:
        """The imported security configuration name."""
        return self.attributes.security_configuration_name

    @property
    def data_buckets(self) -> list[s3.IBucket]:
        """The imported data buckets."""
        return list(self._data_buckets)

    @property
    def deploy_dependencies(self) -> list[IConstruct]:
        """None: the platform is deployed already."""
        return []
