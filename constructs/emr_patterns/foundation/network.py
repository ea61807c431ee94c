"""DataPlatformNetwork: a VPC an EMR cluster can run in privately, or a checked one you bring."""

from __future__ import annotations

import enum
from collections.abc import Sequence

from aws_cdk import Annotations, Duration, RemovalPolicy, Stack, Tags, Token
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct, IConstruct

from emr_patterns._cfn import cfn_of, nag_arn_ref, undepend
from emr_patterns._context import resolve_removal_policy
from emr_patterns._kms import allow_cloudwatch_logs
from emr_patterns._retention import retention_days
from emr_patterns.defaults import (
    EMR_MANAGED_POLICY_TAG,
    KEY_PENDING_WINDOW_DAYS,
    LOG_GROUP_RETENTION_DAYS,
    VPC_CIDR,
    VPC_MAX_AZS,
)
from emr_patterns.errors import problem, raise_if_problems
from emr_patterns.nag import acknowledge, acknowledge_rules, checkov_skip, rule_in_packs

__all__ = [
    "EMR_MANAGED_POLICY_TAG",
    "GATEWAY_ENDPOINTS",
    "INTERFACE_ENDPOINTS",
    "DataPlatformNetwork",
    "SubnetMode",
]


#: Interface endpoints an EMR cluster in a private subnet without internet access needs.
INTERFACE_ENDPOINTS: dict[str, ec2.InterfaceVpcEndpointAwsService] = {
    "emr": ec2.InterfaceVpcEndpointAwsService.EMR,
    # The platform's deploy-time functions (security-group cleanup) call the EC2 API.
    "ec2": ec2.InterfaceVpcEndpointAwsService.EC2,
    "sts": ec2.InterfaceVpcEndpointAwsService.STS,
    "kms": ec2.InterfaceVpcEndpointAwsService.KMS,
    "secretsmanager": ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
    "logs": ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
    "monitoring": ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_MONITORING,
    "ssm": ec2.InterfaceVpcEndpointAwsService.SSM,
    "ssmmessages": ec2.InterfaceVpcEndpointAwsService.SSM_MESSAGES,
    "ec2messages": ec2.InterfaceVpcEndpointAwsService.EC2_MESSAGES,
}
GATEWAY_ENDPOINTS: dict[str, ec2.GatewayVpcEndpointAwsService] = {
    "s3": ec2.GatewayVpcEndpointAwsService.S3,
    "dynamodb": ec2.GatewayVpcEndpointAwsService.DYNAMODB,
}
REQUIRED_ENDPOINTS = (*GATEWAY_ENDPOINTS, *INTERFACE_ENDPOINTS)
_ENDPOINT_BY_SUFFIX = {name: name for name in REQUIRED_ENDPOINTS} | {"elasticmapreduce": "emr"}


class SubnetMode(enum.Enum):
    """How the private subnets reach AWS services and the internet."""

    #: No route to the internet; AWS services only through VPC endpoints. Cheapest and tightest;
    #: bootstrap actions cannot download from the internet (ship packages as artifacts instead).
    ISOLATED = "isolated"
    #: Private subnets with NAT gateways in public subnets, for clusters that must reach the internet.
    NAT = "nat"


class DataPlatformNetwork(Construct):
    """Private network for EMR: subnets in 2+ AZs, VPC endpoints, flow logs, closed default SG.

    Creates (default) a VPC with private subnets in ``max_azs`` zones, gateway endpoints for S3 and
    DynamoDB, the interface endpoints an EMR cluster needs without internet access (EMR, STS, KMS,
    Secrets Manager, CloudWatch Logs and metrics, SSM), flow logs of all traffic to a KMS-encrypted
    log group, the default security group stripped of rules, and every private subnet tagged
    ``for-use-with-amazon-emr-managed-policies=true`` as ``AmazonEMRServicePolicy_v2`` requires.

    Or validates a VPC you bring: it must have private (or isolated) subnets in at least two
    zones, and every required endpoint must either be declared present (``existing_endpoints``)
    or be created here (``create_missing_endpoints=True``).

    Args:
        scope: parent construct.
        id: construct id.
        vpc: a VPC to use instead of creating one. Default: a new VPC.
        subnet_mode: for a new VPC, isolated subnets or NAT. Default: ``SubnetMode.ISOLATED``.
        max_azs: zones for a new VPC (at least 2). Default: 2.
        cidr: IPv4 range of a new VPC. Default: ``10.40.0.0/16``.
        nat_gateways: NAT gateways in NAT mode. Default: one per zone.
        existing_endpoints: endpoints a brought VPC already has, by short name (``s3``,
            ``dynamodb``, ``emr``, ``ec2``, ``sts``, ``kms``, ``secretsmanager``, ``logs``, ``monitoring``,
            ``ssm``, ``ssmmessages``, ``ec2messages``). Default: none.
        create_missing_endpoints: create the required endpoints a brought VPC lacks.
            Default: False (a missing endpoint is an error).
        flow_log_key: KMS key for the flow-log group. Default: a new key with rotation.
        flow_log_retention_days: days flow logs are kept (a value CloudWatch Logs accepts).
            Default: 365.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        vpc: ec2.IVpc | None = None,
        subnet_mode: SubnetMode = SubnetMode.ISOLATED,
        max_azs: int = VPC_MAX_AZS,
        cidr: str = VPC_CIDR,
        nat_gateways: int | None = None,
        existing_endpoints: Sequence[str] = (),
        create_missing_endpoints: bool = False,
        flow_log_key: kms.IKey | None = None,
        flow_log_retention_days: int = LOG_GROUP_RETENTION_DAYS,
    ) -> None:
        super().__init__(scope, id)
        problems = self._validate_props(
            vpc, subnet_mode, max_azs, existing_endpoints, create_missing_endpoints
        )
        retention = retention_days("flow_log_retention_days", flow_log_retention_days, problems)
        raise_if_problems(f"DataPlatformNetwork '{self.node.path}'", problems)

        self.owns_vpc = vpc is None
        if vpc is None:
            self.vpc: ec2.IVpc = self._create_vpc(subnet_mode, max_azs, cidr, nat_gateways)
            missing: list[str] = list(REQUIRED_ENDPOINTS)
        else:
            self.vpc = vpc
            declared = set(existing_endpoints) | set(self._endpoints_in_tree(vpc))
            missing = [name for name in REQUIRED_ENDPOINTS if name not in declared]

        self.subnet_selection = ec2.SubnetSelection(subnets=self.private_subnets)
        self.endpoint_security_group = ec2.SecurityGroup(
            self,
            "EndpointSecurityGroup",
            vpc=self.vpc,
            description="HTTPS from inside the VPC to the interface endpoints",
            allow_all_outbound=False,
        )
        vpc_cidr = cidr if self.owns_vpc else _literal_cidr(self.vpc)
        self.endpoint_security_group.add_ingress_rule(
            ec2.Peer.ipv4(vpc_cidr), ec2.Port.tcp(443), "HTTPS from the VPC CIDR"
        )
        if Token.is_unresolved(vpc_cidr):
            # The CIDR of a VPC imported with a token (e.g. Fn::ImportValue) is known only at deploy
            # time, so the packs cannot tell it from 0.0.0.0/0 and report the rule.
            for rule in ("EC2RestrictedCommonPorts", "EC2RestrictedSSH"):
                acknowledge_rules(
                    self.endpoint_security_group,
                    rule_in_packs(rule),
                    "The only ingress rule is HTTPS (443) from the brought VPC's own CIDR, which is a "
                    "deploy-time value here; no other port and no address outside the VPC.",
                )
            acknowledge(
                self.endpoint_security_group,
                "AwsSolutions-EC23",
                "The only ingress rule is HTTPS (443) from the brought VPC's own CIDR, a deploy-time "
                "value the rule cannot read; it never admits 0.0.0.0/0.",
            )
        self.endpoints: dict[str, ec2.IVpcEndpoint] = {}
        for name in missing:
            if name in GATEWAY_ENDPOINTS:
                self.endpoints[name] = ec2.GatewayVpcEndpoint(
                    self,
                    f"{name.capitalize()}Endpoint",
                    vpc=self.vpc,
                    service=GATEWAY_ENDPOINTS[name],
                    subnets=[self.subnet_selection],
                )
            else:
                self.endpoints[name] = ec2.InterfaceVpcEndpoint(
                    self,
                    f"{name.capitalize()}Endpoint",
                    vpc=self.vpc,
                    service=INTERFACE_ENDPOINTS[name],
                    subnets=self.subnet_selection,
                    private_dns_enabled=True,
                    security_groups=[self.endpoint_security_group],
                    open=False,
                )

        if self.owns_vpc:
            # Flow logs are audit data: RETAIN, unless the app allows destroying data.
            removal = resolve_removal_policy(self, None, "flow logs")
            self.flow_log_key = flow_log_key or self._flow_log_key(removal)
            self.flow_log_group = logs.LogGroup(
                self,
                "FlowLogs",
                encryption_key=self.flow_log_key,
                retention=retention,
                removal_policy=removal,
            )
            flow_log_role = iam.Role(
                self,
                "FlowLogRole",
                assumed_by=iam.ServicePrincipal("vpc-flow-logs.amazonaws.com"),
                description="Delivers VPC flow logs to their log group",
            )
            flow_log_role.add_managed_policy(
                iam.ManagedPolicy(
                    self,
                    "FlowLogPolicy",
                    statements=[
                        iam.PolicyStatement(
                            actions=["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                            resources=[
                                self.flow_log_group.log_group_arn,
                                f"{self.flow_log_group.log_group_arn}:*",
                            ],
                        )
                    ],
                )
            )
            acknowledge(
                self.node.find_child("FlowLogPolicy"),
                f"AwsSolutions-IAM5[Resource::{nag_arn_ref(self.flow_log_group)}:*]",
                "Flow-log delivery creates log streams with run-time names (one per network interface) "
                "inside this one log group.",
            )
            self.flow_log = ec2.FlowLog(
                self,
                "FlowLog",
                resource_type=ec2.FlowLogResourceType.from_vpc(self.vpc),
                destination=ec2.FlowLogDestination.to_cloud_watch_logs(
                    self.flow_log_group, flow_log_role.without_policy_updates()
                ),
                traffic_type=ec2.FlowLogTrafficType.ALL,
            )
        else:
            Annotations.of(self).add_info(
                "Brought VPC: flow logs, default security group and subnet tags are the owner's "
                "responsibility; EMR's v2 service policy needs the subnets tagged "
                "for-use-with-amazon-emr-managed-policies=true."
            )
        for subnet in self.private_subnets:
            Tags.of(subnet).add(*EMR_MANAGED_POLICY_TAG)

    @property
    def private_subnets(self) -> list[ec2.ISubnet]:
        """The subnets EMR clusters and platform functions run in (private or isolated)."""
        return [*self.vpc.private_subnets, *self.vpc.isolated_subnets]

    @staticmethod
    def _validate_props(
        vpc: ec2.IVpc | None,
        subnet_mode: SubnetMode,
        max_azs: int,
        existing_endpoints: Sequence[str],
        create_missing_endpoints: bool,
    ) -> list[str]:
        problems: list[str] = []
        if not isinstance(subnet_mode, SubnetMode):
            problems.append(
                problem(
                    "subnet_mode",
                    subnet_mode,
                    "is not a SubnetMode",
                    "use SubnetMode.ISOLATED or SubnetMode.NAT",
                )
            )
        if vpc is None:
            if not isinstance(max_azs, int) or max_azs < 2:
                problems.append(
                    problem(
                        "max_azs", max_azs, "EMR fleets and endpoints need at least 2 zones", "use 2 or more"
                    )
                )
            return problems
        if isinstance(vpc, str):
            return [
                problem("vpc", vpc, "is a string; an ec2.IVpc is required", "pass ec2.Vpc.from_lookup(...)")
            ]
        unknown = sorted(set(existing_endpoints) - set(REQUIRED_ENDPOINTS))
        if unknown:
            problems.append(
                problem(
                    "existing_endpoints",
                    unknown,
                    "names endpoints this construct does not know",
                    f"use names from {list(REQUIRED_ENDPOINTS)}",
                )
            )
        private = [*vpc.private_subnets, *vpc.isolated_subnets]
        if not private:
            problems.append(
                problem(
                    "vpc",
                    vpc.node.path if hasattr(vpc, "node") else vpc,
                    "has no private or isolated subnets (only public ones); EMR clusters must not run in "
                    "public subnets",
                    "add private subnets (PRIVATE_WITH_EGRESS or PRIVATE_ISOLATED) in at least 2 zones",
                )
            )
        else:
            zones = {s.availability_zone for s in private}
            if len(zones) < 2:
                problems.append(
                    problem(
                        "vpc",
                        sorted(_zone_label(vpc, z) for z in zones),
                        "has private subnets in fewer than 2 zones",
                        "add private subnets in a second zone (max_azs=2 or more on the VPC)",
                    )
                )
            try:
                vpc.vpc_cidr_block  # noqa: B018 - raises for a VPC imported without its CIDR
            except RuntimeError as err:
                if "vpcCidrBlock" not in str(err):
                    raise
                problems.append(
                    problem(
                        "vpc",
                        vpc.node.path,
                        "was imported without vpc_cidr_block; the interface endpoints admit HTTPS from "
                        "the VPC's CIDR",
                        "pass vpc_cidr_block=... to ec2.Vpc.from_vpc_attributes (or use Vpc.from_lookup)",
                    )
                )
        if not create_missing_endpoints:
            declared = set(existing_endpoints) | set(DataPlatformNetwork._endpoints_in_tree(vpc))
            for name in REQUIRED_ENDPOINTS:
                if name not in declared:
                    problems.append(
                        problem(
                            "vpc",
                            f"endpoint '{name}'",
                            f"is missing: a private EMR cluster cannot reach {name} without it",
                            f"add the endpoint and list '{name}' in existing_endpoints, or set "
                            "create_missing_endpoints=True",
                        )
                    )
        return problems

    @staticmethod
    def _endpoints_in_tree(vpc: ec2.IVpc) -> list[str]:
        """Short names of endpoints defined in this app on ``vpc`` (imported VPCs have none)."""
        found: list[str] = []
        for child in vpc.node.find_all():
            if isinstance(child, ec2.CfnVPCEndpoint):
                suffix = _service_suffix(child.stack.resolve(child.service_name))
                if suffix in _ENDPOINT_BY_SUFFIX:
                    found.append(_ENDPOINT_BY_SUFFIX[suffix])
        return found

    def _create_vpc(self, mode: SubnetMode, max_azs: int, cidr: str, nat_gateways: int | None) -> ec2.Vpc:
        private_type = (
            ec2.SubnetType.PRIVATE_ISOLATED
            if mode is SubnetMode.ISOLATED
            else ec2.SubnetType.PRIVATE_WITH_EGRESS
        )
        subnets = [ec2.SubnetConfiguration(name="private", subnet_type=private_type, cidr_mask=20)]
        if mode is SubnetMode.NAT:
            subnets.insert(
                0,
                ec2.SubnetConfiguration(
                    name="public",
                    subnet_type=ec2.SubnetType.PUBLIC,
                    cidr_mask=24,
                    map_public_ip_on_launch=False,
                ),
            )
        vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(cidr),
            max_azs=max_azs,
            subnet_configuration=subnets,
            nat_gateways=(nat_gateways if nat_gateways is not None else max_azs)
            if mode is SubnetMode.NAT
            else 0,
            restrict_default_security_group=True,
            enable_dns_hostnames=True,
            enable_dns_support=True,
        )
        if mode is SubnetMode.NAT:
            for subnet in vpc.public_subnets:
                route = subnet.node.try_find_child("DefaultRoute")
                if route is not None:
                    acknowledge_rules(
                        route,
                        rule_in_packs("VPCNoUnrestrictedRouteToIGW"),
                        "NAT mode was chosen: this public subnet holds only the NAT gateway, whose "
                        "default route must reach the internet gateway; no instance runs here.",
                    )
        self._justify_restrict_default_sg_provider()
        return vpc

    def _justify_restrict_default_sg_provider(self) -> None:
        """checkov skips on the CDK-provided function that strips the default security group."""
        provider = Stack.of(self).node.try_find_child("Custom::VpcRestrictDefaultSGCustomResourceProvider")
        if provider is None:
            return
        handler = provider.node.try_find_child("Handler")
        if handler is None or cfn_of(handler).get_metadata("checkov"):
            return
        reason = (
            "aws-cdk's own deploy-time function that removes the default security group's rules; "
            "it runs once per stack operation, is invoked synchronously by CloudFormation and calls "
            "only the EC2 API."
        )
        for check in ("CKV_AWS_115", "CKV_AWS_116", "CKV_AWS_117"):
            checkov_skip(handler, check, reason)
        role = provider.node.try_find_child("Role")
        if role is not None:  # the handler already references the role with GetAtt (cfn-lint W3005)
            undepend(cfn_of(handler), cfn_of(role))

    def _flow_log_key(self, removal: RemovalPolicy) -> kms.Key:
        key = kms.Key(
            self,
            "FlowLogKey",
            description=f"cdk-emr-patterns VPC flow logs ({self.node.path})",
            enable_key_rotation=True,
            removal_policy=removal,
            pending_window=Duration.days(KEY_PENDING_WINDOW_DAYS)
            if removal == RemovalPolicy.DESTROY
            else None,
        )
        allow_cloudwatch_logs(key)
        return key


def _literal_cidr(vpc: ec2.IVpc) -> str:
    """The VPC's CIDR, as a literal when a VPC defined in this app declares it (its CfnVPC's
    ``cidr_block``), else the VPC's ``vpc_cidr_block`` (a token for a VPC in another stack)."""
    child = vpc.node.default_child
    if isinstance(child, ec2.CfnVPC):
        block = child.cidr_block
        if isinstance(block, str) and not Token.is_unresolved(block):
            return block
    return vpc.vpc_cidr_block


def _zone_label(scope: IConstruct, zone: str) -> str:
    """A zone for an error message: its name, or which of the region's zones a token selects."""
    if not Token.is_unresolved(zone):
        return zone
    resolved = Stack.of(scope).resolve(zone)
    if isinstance(resolved, dict) and "Fn::Select" in resolved:
        return f"zone #{int(resolved['Fn::Select'][0]) + 1} of the stack's region (chosen at deploy time)"
    return "a zone chosen at deploy time"


def _service_suffix(service_name: object) -> str:
    """Last dot-separated part of a (possibly Fn::Join'ed) endpoint service name."""
    if isinstance(service_name, dict) and "Fn::Join" in service_name:
        parts = [p for p in service_name["Fn::Join"][1] if isinstance(p, str)]
        service_name = parts[-1] if parts else ""
    return str(service_name).rsplit(".", 1)[-1]
