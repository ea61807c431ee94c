"""PlatformFunction: a deploy-time Lambda function inside the platform VPC, gated for nag and checkov."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Duration
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from emr_patterns import _perms
from emr_patterns._assets import lambda_dir
from emr_patterns._cfn import nag_arn_ref
from emr_patterns.foundation.network import DataPlatformNetwork
from emr_patterns.nag import acknowledge, acknowledge_rules, cfn_lint_ignore, checkov_skip, rule_in_packs

__all__ = ["PlatformFunction"]

RUNTIME = lambda_.Runtime.PYTHON_3_14


class PlatformFunction(Construct):
    """A custom-resource function shipped in ``lambdas/<handler>``, run in the platform's private subnets.

    Children (stable ids): ``Logs`` (KMS-encrypted log group, one year), ``Role`` (Lambda service
    role without inline policies), ``Policy`` (customer-managed: ``statements``, writing its own
    logs, and the VPC network-interface actions plus ``unscoped_actions`` on ``*``),
    ``SecurityGroup`` (HTTPS out only) and ``Resource`` (the function).

    Custom-resource functions are invoked synchronously by CloudFormation once per stack
    operation, so they carry no dead-letter queue and no reserved concurrency; those nag rules
    and checkov checks are acknowledged here with that reason, once for every such function.

    Args:
        scope: parent construct.
        id: construct id.
        handler: folder name under ``lambdas/`` (entry point ``handler.handler``).
        description: what the function does.
        network: the platform network.
        key: key for the log group.
        statements: the function's own scoped permissions.
        unscoped_actions: actions that support no resource scoping (e.g. ``ec2:Describe*``),
            granted on ``*`` beside the network-interface actions. Default: none.
        scoped_wildcards: granular ``Resource::...`` ids of wildcard resources in ``statements``
            -> reason, acknowledged on the policy. Default: none.
        timeout: function timeout. Default: 5 minutes.
        memory_size: MiB. Default: 256.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        handler: str,
        description: str,
        network: DataPlatformNetwork,
        key: kms.IKey,
        statements: Sequence[iam.PolicyStatement],
        unscoped_actions: Sequence[str] = (),
        scoped_wildcards: Mapping[str, str] | None = None,
        timeout: Duration | None = None,
        memory_size: int = 256,
    ) -> None:
        super().__init__(scope, id)
        self.log_group = logs.LogGroup(
            self, "Logs", encryption_key=key, retention=logs.RetentionDays.ONE_YEAR
        )
        self.role = iam.Role(
            self, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"), description=description
        )
        self.policy = iam.ManagedPolicy(
            self,
            "Policy",
            description=f"{description}: own permissions, logs, VPC network interfaces",
            statements=[
                *statements,
                iam.PolicyStatement(
                    sid="WriteOwnLogs",
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[self.log_group.log_group_arn, f"{self.log_group.log_group_arn}:*"],
                ),
                iam.PolicyStatement(
                    sid="UnscopedActions",
                    actions=[*_perms.ENI_ACTIONS, *unscoped_actions],
                    resources=["*"],
                ),
            ],
            roles=[self.role],
        )
        acknowledge(
            self.policy,
            "AwsSolutions-IAM5[Resource::*]",
            "Lambda's VPC network-interface actions (and any listed ec2:Describe* action) support no "
            "resource-level permissions; every other statement is scoped.",
        )
        acknowledge(
            self.policy,
            f"AwsSolutions-IAM5[Resource::{nag_arn_ref(self.log_group)}:*]",
            "Log streams are created by Lambda with run-time names inside this function's own log group.",
        )
        for resource, reason in (scoped_wildcards or {}).items():
            acknowledge(self.policy, f"AwsSolutions-IAM5[{resource}]", reason)
        checkov_skip(
            self.policy,
            "CKV_AWS_111",
            "Only actions without resource-level permissions (VPC network interfaces, ec2:Describe*) use "
            "Resource '*'; the function's own statements are scoped.",
        )
        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=network.vpc,
            description=f"{description}: HTTPS out to the VPC endpoints only",
            allow_all_outbound=False,
        )
        self.security_group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS to VPC endpoints")
        self.function = lambda_.Function(
            self,
            "Resource",
            runtime=RUNTIME,
            handler="handler.handler",
            code=lambda_.Code.from_asset(lambda_dir(handler), exclude=["__pycache__", "*.pyc"]),
            description=description,
            timeout=timeout or Duration.minutes(5),
            memory_size=memory_size,
            role=self.role,
            vpc=network.vpc,
            vpc_subnets=network.subnet_selection,
            security_groups=[self.security_group],
            log_group=self.log_group,
        )
        self.function.node.add_dependency(self.policy)
        # aws-cdk adds a construct-level DependsOn on the role that the GetAtt already implies;
        # cfn-lint reports it as W3005. Harmless, so ignored on this one resource.
        cfn_lint_ignore(self.function, "W3005")
        reason_sync = (
            "CloudFormation invokes this custom-resource function synchronously and receives its "
            "result; a dead-letter queue only applies to asynchronous invocations."
        )
        acknowledge_rules(self.function, rule_in_packs("LambdaDLQ"), reason_sync)
        acknowledge_rules(
            self.function,
            rule_in_packs("LambdaConcurrency"),
            "Runs once per stack operation; reserving concurrency would fail to deploy in accounts at the "
            "10-execution minimum of unreserved concurrency.",
        )
        checkov_skip(self.function, "CKV_AWS_116", reason_sync)
        checkov_skip(self.function, "CKV_AWS_115", "Runs once per stack operation; see LambdaConcurrency.")
        checkov_skip(self.function, "CKV_AWS_173", "The function has no environment variables to encrypt.")

    @property
    def function_arn(self) -> str:
        """ARN of the function (the custom resource's service token)."""
        return self.function.function_arn
