"""Wide-matrix serving: the dataset registry that says which HBase tables readers see.

The protocol (items, switch by transaction, conflicts, rollback) is
``emr_patterns.lambdas.matrix_read.registry``; this module holds the table it runs on and the
grants the pipeline and the read API need. See ``docs/wide-matrix-serving.md``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from aws_cdk import ArnFormat, Duration, Names, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_backup as backup
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from emr_patterns._context import resolve_removal_policy
from emr_patterns.compute.cluster import EmrCluster
from emr_patterns.errors import problem, raise_if_problems
from emr_patterns.foundation.functions import PlatformFunction
from emr_patterns.foundation.platform import IEmrPlatform, check_platform
from emr_patterns.nag import acknowledge, acknowledge_rules, checkov_skip, rule_in_packs
from emr_patterns.spec import ClusterSpec, InstanceFleetSpec
from emr_patterns.spec.presets import hbase_on_s3

__all__ = [
    "READ_ACTIONS",
    "READ_ROUTES",
    "SWITCH_ACTIONS",
    "DatasetRegistry",
    "HBaseServingCluster",
    "MatrixReadApi",
]

#: What a reader needs: the pointer and a version item, with consistent reads.
READ_ACTIONS = ("dynamodb:GetItem", "dynamodb:Query", "dynamodb:DescribeTable")
#: What the pipeline needs: register versions, move their status, switch the pointer.
SWITCH_ACTIONS = (*READ_ACTIONS, "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem")


class DatasetRegistry(Construct):
    """The DynamoDB table of dataset pointers and versions (key ``dataset`` + ``item``).

    Encrypted with a customer-managed key, point-in-time recovery on, deletion protection on,
    on-demand capacity, retained on stack deletion unless ``emr-patterns:removeDataOnDestroy``,
    and in an AWS Backup plan (daily, kept 35 days, in a vault under the same key) so a pointer
    history survives beyond PITR's 35-day window and a deleted table can be restored.

    Children (stable ids): ``Resource`` (``AWS::DynamoDB::Table``), ``BackupVault``,
    ``BackupPlan`` (with its selection of the table).

    Args:
        scope: parent construct.
        id: construct id.
        key: the customer-managed key that encrypts the table (the platform's key, say).
        removal_policy: what stack deletion does to the table. Default: RETAIN (DESTROY only
            with the ``emr-patterns:removeDataOnDestroy`` context flag).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        key: kms.IKey,
        removal_policy: RemovalPolicy | None = None,
    ) -> None:
        super().__init__(scope, id)
        if key is None:
            raise ValueError("key=None: pass the customer-managed kms.IKey that encrypts the registry")
        #: The customer-managed key of the table.
        self.key = key
        #: The registry table.
        self.table = dynamodb.Table(
            self,
            "Resource",
            partition_key=dynamodb.Attribute(name="dataset", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="item", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            deletion_protection=True,
            removal_policy=resolve_removal_policy(self, removal_policy, "removal_policy"),
        )
        #: The vault of the table's backups (encrypted with ``key``, retained).
        self.backup_vault = backup.BackupVault(
            self, "BackupVault", encryption_key=key, removal_policy=RemovalPolicy.RETAIN
        )
        #: Daily backups of the table, kept 35 days.
        self.backup_plan = backup.BackupPlan.daily35_day_retention(self, "BackupPlan", self.backup_vault)
        selection = self.backup_plan.add_selection(
            "Table", resources=[backup.BackupResource.from_dynamo_db_table(self.table)]
        )
        acknowledge(
            selection.node.find_child("Role"),
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AWSBackupServiceRolePolicyForBackup]",
            "The role AWS Backup assumes to back up this one table: AWS's own service-role policy for "
            "the backup service, maintained by AWS as the service's needs change; the selection limits "
            "it to the registry table.",
        )

    @property
    def table_name(self) -> str:
        """The table's name (the handlers' ``REGISTRY_TABLE``)."""
        return self.table.table_name

    def grant_read(self, grantee: iam.IGrantable) -> iam.Grant:
        """Read the pointer and version items (the read API)."""
        self.key.grant_decrypt(grantee)
        return self.table.grant(grantee, *READ_ACTIONS)

    def grant_switch(self, grantee: iam.IGrantable) -> iam.Grant:
        """Register versions, set their status and switch the pointer (the pipeline)."""
        self.key.grant_encrypt_decrypt(grantee)
        return self.table.grant(grantee, *SWITCH_ACTIONS)


#: The read API's paths and the query parameters each requires (API Gateway validates them).
READ_ROUTES: dict[str, dict[str, bool]] = {
    "": {},
    "slice": {"stat": True, "gene": True},
    "top": {"stat": True, "group": True, "n": False},
}


class MatrixReadApi(Construct):
    """The wide-matrix read API: API Gateway REST (IAM auth, request validation, stage
    throttling, access and execution logs, X-Ray, WAF) in front of the ``matrix_read`` Lambda
    in the platform VPC, which reads the registry and HBase through Thrift.

    Children (stable ids): ``Handler`` (a :class:`PlatformFunction`), ``AccessLogs``,
    ``Resource`` (``AWS::ApiGateway::RestApi`` with stage ``v1``), ``Validator``, ``WebAcl``,
    ``WebAclAssociation``, ``WafLogs``, ``WafLogging``.

    Thrift has no TLS in happybase: the handler reaches HBase over plain TCP inside the
    platform's private subnets, and this construct opens the Thrift port on
    ``hbase_security_group`` to the function's security group only (see
    ``docs/wide-matrix-serving.md``, "Thrift transport").

    Args:
        scope: parent construct.
        id: construct id.
        platform: the platform (VPC, subnets, key).
        registry: the dataset registry the handler reads.
        thrift_host: DNS name of the HBase primary node running the Thrift server.
        hbase_security_group: the HBase cluster's security group (its Thrift port is opened to
            the handler only).
        thrift_port: the Thrift server's port. Default: 9090.
        thrift_timeout_ms: the handler's Thrift timeout; must be below the function timeout.
            Default: 3000.
        throttle_rate: stage steady-state requests per second. Default: 50.
        throttle_burst: stage burst. Default: 100.
        waf_rate_limit: requests per 5 minutes from one IP before WAF blocks it. Default: 2000.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        platform: IEmrPlatform,
        registry: DatasetRegistry,
        thrift_host: str,
        hbase_security_group: ec2.ISecurityGroup,
        thrift_port: int = 9090,
        thrift_timeout_ms: int = 3000,
        throttle_rate: int = 50,
        throttle_burst: int = 100,
        waf_rate_limit: int = 2000,
    ) -> None:
        super().__init__(scope, id)
        problems: list[str] = []
        if not isinstance(registry, DatasetRegistry):
            problems.append(
                problem("registry", type(registry).__name__, "is not a DatasetRegistry", "pass one")
            )
        if not isinstance(thrift_port, int) or not 1 <= thrift_port <= 65535:
            problems.append(
                problem("thrift_port", thrift_port, "is not a TCP port", "use 1-65535, e.g. 9090")
            )
        if (
            not isinstance(thrift_timeout_ms, int)
            or not 100 <= thrift_timeout_ms <= FUNCTION_TIMEOUT_S * 1000 - 1000
        ):
            problems.append(
                problem(
                    "thrift_timeout_ms",
                    thrift_timeout_ms,
                    "must leave the function time to answer",
                    f"use 100-{FUNCTION_TIMEOUT_S * 1000 - 1000} "
                    f"(the function times out after {FUNCTION_TIMEOUT_S} s)",
                )
            )
        for name, value in (("throttle_rate", throttle_rate), ("throttle_burst", throttle_burst)):
            if not isinstance(value, int) or value < 1:
                problems.append(problem(name, value, "must be a positive whole number", "e.g. 50"))
        if not isinstance(waf_rate_limit, int) or not 100 <= waf_rate_limit <= 2_000_000_000:
            problems.append(
                problem("waf_rate_limit", waf_rate_limit, "is outside WAF's range", "use 100-2000000000")
            )
        problems += check_platform(self, "platform", platform)
        raise_if_problems(f"MatrixReadApi '{self.node.path}'", problems)
        stack = Stack.of(self)
        key = platform.key
        self.handler = PlatformFunction(
            self,
            "Handler",
            handler="matrix_read",
            entry="handler",
            custom_resource=False,
            description="Wide-matrix read API: registry pointer, then the active version HBase tables",
            vpc=platform.vpc,
            vpc_subnets=platform.vpc_subnets,
            key=key,
            statements=[
                iam.PolicyStatement(actions=list(READ_ACTIONS), resources=[registry.table.table_arn]),
                iam.PolicyStatement(actions=["kms:Decrypt"], resources=[registry.key.key_arn]),
            ],
            timeout=Duration.seconds(FUNCTION_TIMEOUT_S),
            memory_size=512,
            invocation="Invoked by API Gateway per request, limited by the stage's throttling",
            no_dead_letter_reason=(
                "Invoked synchronously by API Gateway, which returns any error to the caller; a "
                "dead-letter queue only applies to asynchronous invocations."
            ),
            environment={
                "REGISTRY_TABLE": registry.table.table_name,
                "HBASE_THRIFT_HOST": thrift_host,
                "HBASE_THRIFT_PORT": str(thrift_port),
                "THRIFT_TIMEOUT_MS": str(thrift_timeout_ms),
                "POINTER_CACHE_S": "5",
            },
        )
        sg = self.handler.security_group
        assert sg is not None  # in the VPC
        sg.add_egress_rule(hbase_security_group, ec2.Port.tcp(thrift_port), "HBase Thrift")
        hbase_security_group.add_ingress_rule(sg, ec2.Port.tcp(thrift_port), "Thrift from the read API only")

        self.access_logs = logs.LogGroup(
            self,
            "AccessLogs",
            encryption_key=key,
            retention=logs.RetentionDays.ONE_YEAR,
            removal_policy=resolve_removal_policy(self, None, "access logs"),
        )
        self.api = apigw.RestApi(
            self,
            "Resource",
            description="Wide-matrix read API (slices, top-N, metadata)",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=RemovalPolicy.RETAIN,
            deploy_options=apigw.StageOptions(
                stage_name="v1",
                throttling_rate_limit=throttle_rate,
                throttling_burst_limit=throttle_burst,
                access_log_destination=apigw.LogGroupLogDestination(self.access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=True,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=True,
                ),
                logging_level=apigw.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,
                metrics_enabled=True,
                tracing_enabled=True,
            ),
            default_method_options=apigw.MethodOptions(authorization_type=apigw.AuthorizationType.IAM),
        )
        validator = self.api.add_request_validator(
            "Validator", validate_request_parameters=True, validate_request_body=True
        )
        integration = apigw.LambdaIntegration(self.handler.function, proxy=True)
        dataset = self.api.root.add_resource("datasets").add_resource("{dataset}")
        for path, params in READ_ROUTES.items():
            resource = dataset.add_resource(path) if path else dataset
            resource.add_method(
                "GET",
                integration,
                request_validator=validator,
                request_parameters={
                    "method.request.path.dataset": True,
                    **{f"method.request.querystring.{k}": v for k, v in params.items()},
                },
            )
        role = self.api.node.try_find_child("CloudWatchRole")
        if role is not None:
            acknowledge(
                role,
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AmazonAPIGatewayPushToCloudWatchLogs]",
                "The account-level role API Gateway assumes to write execution logs: AWS's own policy "
                "for that one purpose, maintained by AWS.",
            )
        stage = self.api.deployment_stage
        no_cache = (
            "No response cache on purpose: answers follow the registry pointer, and a cache would "
            "keep serving a switched-away version for its TTL beyond the handler's bounded lag."
        )
        acknowledge_rules(stage, rule_in_packs("APIGWCacheEnabledAndEncrypted"), no_cache)
        checkov_skip(stage, "CKV_AWS_120", no_cache)
        acknowledge_rules(
            stage,
            rule_in_packs("APIGWSSLEnabled"),
            "The integration is a Lambda function (AWS_PROXY), not an HTTP back end, so there is no "
            "back-end TLS connection for a client certificate to authenticate.",
        )
        for method in self.api.methods:
            acknowledge(
                method,
                "AwsSolutions-COG4",
                "IAM (SigV4) authorization, the default here: callers are AWS principals of the "
                "research platform; a Cognito user pool would add a second identity store.",
            )

        self.web_acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=_visibility("matrix-read-api"),
            rules=[
                _managed_rule("AWSManagedRulesCommonRuleSet", 0),
                _managed_rule("AWSManagedRulesKnownBadInputsRuleSet", 1),
                wafv2.CfnWebACL.RuleProperty(
                    name="rate-limit",
                    priority=2,
                    action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                            limit=waf_rate_limit, aggregate_key_type="IP"
                        )
                    ),
                    visibility_config=_visibility("rate-limit"),
                ),
            ],
        )
        wafv2.CfnWebACLAssociation(
            self, "WebAclAssociation", resource_arn=stage.stage_arn, web_acl_arn=self.web_acl.attr_arn
        )
        waf_logs = logs.LogGroup(
            self,
            "WafLogs",
            log_group_name=f"aws-waf-logs-{Names.unique_id(self)[-40:].lower()}",
            encryption_key=key,
            retention=logs.RetentionDays.ONE_YEAR,
            removal_policy=resolve_removal_policy(self, None, "WAF logs"),
        )
        wafv2.CfnLoggingConfiguration(
            self,
            "WafLogging",
            resource_arn=self.web_acl.attr_arn,
            log_destination_configs=[
                stack.format_arn(
                    service="logs",
                    resource="log-group",
                    resource_name=waf_logs.log_group_name,
                    arn_format=ArnFormat.COLON_RESOURCE_NAME,
                )
            ],
        )

    @property
    def url(self) -> str:
        """The stage's invoke URL."""
        return self.api.url

    def grant_invoke(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``execute-api:Invoke`` on the API's GET methods."""
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["execute-api:Invoke"],
            resource_arns=[self.api.arn_for_execute_api("GET", "/datasets/*", "v1")],
        )


FUNCTION_TIMEOUT_S = 10
_ROOT_PREFIX = re.compile(r"[A-Za-z0-9!_.*'()-]+(?:/[A-Za-z0-9!_.*'()-]+)*")


def _visibility(name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=name, sampled_requests_enabled=True
    )


def _managed_rule(name: str, priority: int) -> wafv2.CfnWebACL.RuleProperty:
    return wafv2.CfnWebACL.RuleProperty(
        name=name,
        priority=priority,
        override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
        statement=wafv2.CfnWebACL.StatementProperty(
            managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                vendor_name="AWS", name=name
            )
        ),
        visibility_config=_visibility(name),
    )


class HBaseServingCluster(Construct):
    """A long-running EMR cluster serving the wide-matrix versions from HBase on Amazon S3.

    HBase of the release (emr-7.13.0: HBase 2.6.4) with its root directory on S3 in a platform
    bucket, so the tables outlive the cluster; On-Demand core nodes only (a lost core node would
    lose the RegionServer's write-ahead log); termination protection on. The Thrift server HBase
    runs on the primary node is reachable only from what ``allow_thrift_from`` names
    (:class:`MatrixReadApi` does that for its function).

    Children (stable ids): ``Resource`` (an :class:`~emr_patterns.compute.cluster.EmrCluster`).

    Args:
        scope: parent construct.
        id: construct id.
        platform: the platform the cluster runs on.
        root_bucket: bucket of the HBase root directory. Default: ``platform.data_buckets[2]``
            (curated).
        root_prefix: key prefix of the root directory. Default: ``hbase/widematrix``.
        primary_instance_types: primary fleet instance types. Default: ``("m7g.xlarge",)``.
        core_instance_types: core fleet instance types (memory for the block cache).
            Default: ``("r7g.2xlarge",)``.
        core_nodes: On-Demand core units. Default: 2.
        name: cluster name. Default: ``widematrix-hbase``.
    """

    #: The HBase Thrift 1 server's port on the primary node (``hbase.regionserver.thrift.port``).
    THRIFT_PORT = 9090

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        platform: IEmrPlatform,
        root_bucket: s3.IBucket | None = None,
        root_prefix: str = "hbase/widematrix",
        primary_instance_types: Sequence[str] = ("m7g.xlarge",),
        core_instance_types: Sequence[str] = ("r7g.2xlarge",),
        core_nodes: int = 2,
        name: str = "widematrix-hbase",
    ) -> None:
        super().__init__(scope, id)
        problems = check_platform(self, "platform", platform)
        if (
            not isinstance(root_prefix, str)
            or not re.fullmatch(r"[A-Za-z0-9!_.*'()/-]{1,512}", root_prefix)
            or (root_prefix.startswith("/") or root_prefix.endswith("/"))
        ):
            problems.append(
                problem(
                    "root_prefix",
                    root_prefix,
                    "is not a key prefix",
                    "use e.g. 'hbase/widematrix' (no leading or trailing '/')",
                )
            )
        if not isinstance(core_nodes, int) or core_nodes < 1:
            problems.append(problem("core_nodes", core_nodes, "must be at least 1", "use 2 or more"))
        raise_if_problems(f"HBaseServingCluster '{self.node.path}'", problems)
        bucket = root_bucket if root_bucket is not None else platform.data_buckets[2]
        #: ``s3://`` URI of the HBase root directory.
        self.root_dir = f"s3://{bucket.bucket_name}/{root_prefix}"
        spec = ClusterSpec(
            name=name,
            applications=("Hadoop", "HBase", "ZooKeeper"),
            primary_fleet=InstanceFleetSpec.primary(list(primary_instance_types)),
            core_fleet=InstanceFleetSpec.core(list(core_instance_types), on_demand_units=core_nodes),
            configurations=hbase_on_s3(root_dir=self.root_dir),
            termination_protected=True,
            idle_timeout_seconds=None,
        )
        #: The EMR cluster.
        self.cluster = EmrCluster(self, "Resource", platform=platform, spec=spec)
        #: The primary node's security group (the Thrift server listens there).
        self.security_group: ec2.ISecurityGroup = self.cluster.primary_security_group
        #: DNS name of the primary node (the Thrift host).
        self.thrift_host: str = self.cluster.primary_dns_name
