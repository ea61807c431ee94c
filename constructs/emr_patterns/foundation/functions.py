"""PlatformFunction: a Lambda handler in the platform VPC and, for custom resources, its Provider."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from aws_cdk import Duration, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import custom_resources as cr
from constructs import Construct, IConstruct

from emr_patterns import _perms
from emr_patterns._assets import lambda_dir
from emr_patterns._cfn import nag_arn_ref
from emr_patterns._context import resolve_removal_policy
from emr_patterns._retention import retention_days
from emr_patterns.defaults import LOG_GROUP_RETENTION_DAYS
from emr_patterns.nag import acknowledge, acknowledge_rules, cfn_lint_ignore, checkov_skip, rule_in_packs

__all__ = ["LAMBDA_DEPS_TARGET", "PlatformFunction", "vendored_asset_problem"]

RUNTIME = lambda_.Runtime.PYTHON_3_14
#: Retention of the functions' log groups (emr_patterns.defaults).
_LOG_RETENTION = retention_days("log retention", LOG_GROUP_RETENTION_DAYS, [])
#: The vendored wheels are built for this architecture (``make lambda-deps``); keep them in step.
ARCHITECTURE = lambda_.Architecture.X86_64
#: The Makefile target that vendors a handler's ``requirements.txt`` into its ``_vendor/``.
LAMBDA_DEPS_TARGET = "lambda-deps"
#: Memory of the provider framework functions (Node.js relays of a few KB of JSON).
FRAMEWORK_MEMORY_MIB = 256
_XRAY_ACTIONS = ("xray:PutTraceSegments", "xray:PutTelemetryRecords")
#: What Step Functions needs to deliver its own execution logs (CloudWatch Logs vended delivery).
_SFN_LOG_DELIVERY_ACTIONS = (
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
)


def vendored_asset_problem(handler_dir: str | Path) -> str | None:
    """Why the handler folder cannot be shipped yet, or ``None``.

    A handler with a ``requirements.txt`` needs ``_vendor/VENDORED.txt`` holding the same text:
    ``make lambda-deps`` writes both the wheels and that stamp (the installed wheel ships them).
    """
    folder = Path(handler_dir)
    requirements = folder / "requirements.txt"
    if not requirements.is_file():
        return None
    stamp = folder / "_vendor" / "VENDORED.txt"
    if not stamp.is_file():
        return (
            f"Lambda handler '{folder.name}' needs its vendored dependencies in {folder / '_vendor'}, "
            f"which are missing: run `make {LAMBDA_DEPS_TARGET}` (part of `make install`) in the "
            "source tree, or install the cdk-emr-patterns wheel, which ships them"
        )
    if stamp.read_text() != requirements.read_text():
        return (
            f"Lambda handler '{folder.name}': {stamp} does not match {requirements.name} (stale "
            f"vendored dependencies): run `make {LAMBDA_DEPS_TARGET}` again"
        )
    return None


class PlatformFunction(Construct):
    """A handler shipped in ``lambdas/<handler>``, run in the platform's private subnets.

    Children (stable ids): ``Logs`` (KMS-encrypted log group, one year; every log group here is
    retained on stack deletion unless ``emr-patterns:removeDataOnDestroy`` is set), ``Role`` (Lambda service
    role without inline policies), ``Policy`` (customer-managed: ``statements``, writing its own
    logs, X-Ray, and the VPC network-interface actions plus ``unscoped_actions`` on ``*``),
    ``SecurityGroup`` (HTTPS out only), ``Resource`` (the function, entry ``<module>.<entry>``),
    ``IsComplete`` (a second function on the same code, entry ``handler.<is_complete_entry>``,
    when given), and for custom resources ``Provider`` (``custom_resources.Provider``) with
    ``FrameworkLogs``, ``FrameworkRole`` and ``FrameworkPolicy`` (customer-managed: invoke the
    user functions, start the waiter, logs, X-Ray) and, with ``IsComplete``, ``WaiterLogs`` and
    ``WaiterPolicy`` (the waiter state machine's role, customer-managed instead of aws-cdk's
    inline default policy).

    The user functions run in the VPC. The provider framework functions run outside it: they
    only relay the CloudFormation event to the user function and the result to CloudFormation's
    pre-signed S3 URL, and the platform's isolated subnets have no route to the Lambda and Step
    Functions APIs they call (no NAT, no ``lambda``/``states`` endpoint).

    Every function has X-Ray tracing, explicit memory and timeout, and runs on
    ``PYTHON_3_14``/x86_64 (the vendored wheels' platform). A handler folder with a
    ``requirements.txt`` must hold the vendored wheels (``make lambda-deps``); synthesis fails
    naming that target otherwise.

    Args:
        scope: parent construct.
        id: construct id.
        handler: folder name under ``lambdas/``.
        description: what the function does.
        vpc: the platform VPC.
        vpc_subnets: the private subnets the functions run in.
        key: key for the log groups and the framework functions' environment.
        statements: the function's own scoped permissions.
        entry: function name in the module. Default: ``on_event``.
        module: the module of ``lambdas/<handler>/`` that holds ``entry`` (two functions of one
            folder share its code and vendored dependencies). Default: ``handler``.
        custom_resource: build a ``custom_resources.Provider`` for the function (then
            ``service_token`` is available). Default: True.
        is_complete_entry: function name of an ``isComplete`` handler in the same module; the
            provider then waits (needs ``custom_resource``). Default: none (no waiting).
        query_interval: how often the provider calls ``is_complete``. Default: 30 seconds.
        total_timeout: how long the provider waits in total. Default: 30 minutes.
        unscoped_actions: actions that support no resource scoping (e.g. ``ec2:Describe*``),
            granted on ``*`` beside the network-interface actions. Default: none.
        scoped_wildcards: granular ``Resource::...`` ids of wildcard resources in ``statements``
            -> reason, acknowledged on the policy. Default: none.
        timeout: function timeout. Default: 5 minutes.
        memory_size: MiB. Default: 256.
        dead_letter_queue: queue for failed asynchronous invocations (the function may send to
            it). Default: none, acknowledged for functions invoked synchronously or on a schedule.
        invocation: how often the function runs, as the reason it reserves no concurrency.
            Default: "Runs once per stack operation or once a day".
        outside_vpc_reason: run the user functions outside the VPC (``vpc`` and ``vpc_subnets``
            are then not used: no security group, no network-interface actions), for this
            reason, which acknowledges ``LambdaInsideVPC`` on them. For a handler whose only
            AWS API has no endpoint in the platform VPC. Default: none (in the VPC).
        environment: environment variables of the user functions (no secrets), encrypted with
            ``key``. Default: none.
        no_dead_letter_reason: why a function invoked synchronously by something other than the
            provider framework (an API, say) has no dead-letter queue. Default: the provider's or
            the scheduled check's reason.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        handler: str,
        description: str,
        vpc: ec2.IVpc,
        vpc_subnets: ec2.SubnetSelection,
        key: kms.IKey,
        statements: Sequence[iam.PolicyStatement],
        entry: str = "on_event",
        module: str = "handler",
        custom_resource: bool = True,
        is_complete_entry: str | None = None,
        query_interval: Duration | None = None,
        total_timeout: Duration | None = None,
        unscoped_actions: Sequence[str] = (),
        scoped_wildcards: Mapping[str, str] | None = None,
        timeout: Duration | None = None,
        memory_size: int = 256,
        dead_letter_queue: sqs.IQueue | None = None,
        invocation: str = "Runs once per stack operation or once a day",
        outside_vpc_reason: str | None = None,
        environment: Mapping[str, str] | None = None,
        no_dead_letter_reason: str | None = None,
    ) -> None:
        super().__init__(scope, id)
        if is_complete_entry is not None and not custom_resource:
            raise ValueError(
                f"PlatformFunction '{self.node.path}': is_complete_entry={is_complete_entry!r} needs "
                "custom_resource=True (the provider calls it); drop it or build the provider"
            )
        asset_dir = lambda_dir(handler)
        problem = vendored_asset_problem(asset_dir)
        if problem:
            raise FileNotFoundError(problem)
        self.key = key
        # Logs are kept on stack deletion unless the destroy context flag is set.
        self._log_removal = resolve_removal_policy(self, None, "function logs")
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            encryption_key=key,
            retention=_LOG_RETENTION,
            removal_policy=self._log_removal,
        )
        self.role = iam.Role(
            self, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"), description=description
        )
        self.policy = iam.ManagedPolicy(
            self,
            "Policy",
            description=f"{description}: own permissions, logs, tracing, VPC network interfaces",
            statements=[
                *statements,
                *(
                    [
                        iam.PolicyStatement(
                            sid="SendToDeadLetterQueue",
                            actions=["sqs:SendMessage"],
                            resources=[dead_letter_queue.queue_arn],
                        )
                    ]
                    if dead_letter_queue is not None
                    else []
                ),
                iam.PolicyStatement(
                    sid="WriteOwnLogs",
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[self.log_group.log_group_arn, f"{self.log_group.log_group_arn}:*"],
                ),
                iam.PolicyStatement(
                    sid="UnscopedActions",
                    actions=[
                        *(_perms.ENI_ACTIONS if outside_vpc_reason is None else ()),
                        *_XRAY_ACTIONS,
                        *unscoped_actions,
                    ],
                    resources=["*"],
                ),
            ],
            roles=[self.role],
        )
        acknowledge(
            self.policy,
            "AwsSolutions-IAM5[Resource::*]",
            (
                "Lambda's VPC network-interface actions, the X-Ray trace upload actions (and any listed "
                "ec2:Describe* or cloudwatch:PutMetricData action) support no resource-level permissions; "
                "every other statement is scoped."
            )
            if outside_vpc_reason is None
            else "The X-Ray trace upload actions (and any listed unscoped action) support no "
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
            "Only actions without resource-level permissions (VPC network interfaces, X-Ray, "
            "ec2:Describe*, cloudwatch:PutMetricData) use Resource '*'; the function's own statements "
            "are scoped.",
        )
        #: The functions' security group; ``None`` outside the VPC.
        self.security_group: ec2.SecurityGroup | None = None
        if outside_vpc_reason is None:
            self.security_group = ec2.SecurityGroup(
                self,
                "SecurityGroup",
                vpc=vpc,
                description=f"{description}: HTTPS out to the VPC endpoints only",
                allow_all_outbound=False,
            )
            self.security_group.add_egress_rule(
                ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS to VPC endpoints"
            )
        code = lambda_.Code.from_asset(asset_dir, exclude=["__pycache__", "*.pyc"])
        # Grants aws-cdk would add to the role (X-Ray for tracing) are in the managed policy.
        function_role = self.role.without_policy_updates()

        def user_function(fid: str, entry_point: str) -> lambda_.Function:
            function = lambda_.Function(
                self,
                fid,
                runtime=RUNTIME,
                architecture=ARCHITECTURE,
                handler=f"{module}.{entry_point}",
                code=code,
                description=description,
                timeout=timeout or Duration.minutes(5),
                memory_size=memory_size,
                role=function_role,
                vpc=vpc if self.security_group is not None else None,
                vpc_subnets=vpc_subnets if self.security_group is not None else None,
                security_groups=[self.security_group] if self.security_group is not None else None,
                log_group=self.log_group,
                tracing=lambda_.Tracing.ACTIVE,
                dead_letter_queue=dead_letter_queue,
                environment=dict(environment) if environment else None,
                environment_encryption=key if environment else None,
            )
            function.node.add_dependency(self.policy)
            # aws-cdk adds a construct-level DependsOn on the role that the GetAtt already implies;
            # cfn-lint reports it as W3005. Harmless, so ignored on this one resource.
            cfn_lint_ignore(function, "W3005")
            self._acknowledge_user_function(
                function,
                invoked_by_provider=custom_resource,
                has_dead_letter_queue=dead_letter_queue is not None,
                invocation=invocation,
                has_environment=bool(environment),
                no_dead_letter_reason=no_dead_letter_reason,
            )
            if outside_vpc_reason is not None:
                acknowledge_rules(function, rule_in_packs("LambdaInsideVPC"), outside_vpc_reason)
                checkov_skip(function, "CKV_AWS_117", outside_vpc_reason)
            return function

        self.function = user_function("Resource", entry)
        self.is_complete_function = (
            user_function("IsComplete", is_complete_entry) if is_complete_entry is not None else None
        )
        self.provider: cr.Provider | None = None
        #: What a custom resource on this provider must be created after (and deleted before),
        #: beyond what its ServiceToken already implies: the provider's customer-managed policies.
        self.provider_policies: list[iam.ManagedPolicy] = []
        if custom_resource:
            self.provider = self._provider(description, query_interval, total_timeout)

    # ---- the provider ---------------------------------------------------------------------------
    def _provider(
        self, description: str, query_interval: Duration | None, total_timeout: Duration | None
    ) -> cr.Provider:
        user_functions = [f for f in (self.function, self.is_complete_function) if f is not None]
        waits = self.is_complete_function is not None
        framework_logs = logs.LogGroup(
            self,
            "FrameworkLogs",
            encryption_key=self.key,
            retention=_LOG_RETENTION,
            removal_policy=self._log_removal,
        )
        framework_role = iam.Role(
            self,
            "FrameworkRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Provider framework: {description}",
        )
        waiter_logs = (
            logs.LogGroup(
                self,
                "WaiterLogs",
                # Step Functions vended log delivery needs no resource-policy entry for this prefix.
                log_group_name=f"/aws/vendedlogs/states/{_deployed_stack_name(self)}-{self.node.addr}",
                encryption_key=self.key,
                retention=_LOG_RETENTION,
                removal_policy=self._log_removal,
            )
            if waits
            else None
        )
        # The provider's own grants (invoke, start the waiter) would go into inline policies of a
        # mutable role; on the immutable view they are dropped and FrameworkPolicy holds them.
        immutable = framework_role.without_policy_updates()
        provider = cr.Provider(
            self,
            "Provider",
            on_event_handler=self.function,
            is_complete_handler=self.is_complete_function,
            query_interval=(query_interval or Duration.seconds(30)) if waits else None,
            total_timeout=(total_timeout or Duration.minutes(30)) if waits else None,
            framework_on_event_role=immutable,
            framework_complete_and_timeout_role=immutable if waits else None,
            log_group=framework_logs,
            provider_function_env_encryption=self.key,
            waiter_state_machine_log_options=(
                cr.LogOptions(destination=waiter_logs, level=sfn.LogLevel.ALL, include_execution_data=False)
                if waiter_logs is not None
                else None
            ),
            disable_waiter_state_machine_logging=False if waits else None,
        )
        statements = [
            iam.PolicyStatement(
                sid="InvokeUserFunctions",
                actions=["lambda:InvokeFunction", "lambda:GetFunction"],
                resources=[f.function_arn for f in user_functions],
            ),
            iam.PolicyStatement(
                sid="WriteFrameworkLogs",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[framework_logs.log_group_arn, f"{framework_logs.log_group_arn}:*"],
            ),
            iam.PolicyStatement(
                sid="DecryptEnvironment", actions=["kms:Decrypt"], resources=[self.key.key_arn]
            ),
            iam.PolicyStatement(sid="Tracing", actions=list(_XRAY_ACTIONS), resources=["*"]),
        ]
        waiter = provider.node.try_find_child("waiter-state-machine")
        if waiter is not None:
            waiter_resource = waiter.node.find_child("Resource")
            assert isinstance(waiter_resource, sfn.CfnStateMachine)
            statements.append(
                iam.PolicyStatement(
                    sid="StartWaiter", actions=["states:StartExecution"], resources=[waiter_resource.ref]
                )
            )
        self.framework_policy = iam.ManagedPolicy(
            self,
            "FrameworkPolicy",
            description=f"Provider framework: {description}: invoke, wait, logs, tracing",
            statements=statements,
            roles=[framework_role],
        )
        self.provider_policies.append(self.framework_policy)
        acknowledge(
            self.framework_policy,
            "AwsSolutions-IAM5[Resource::*]",
            "X-Ray trace upload actions support no resource-level permissions; every other statement "
            "names the user functions, the waiter state machine, the log group or the key.",
        )
        acknowledge(
            self.framework_policy,
            f"AwsSolutions-IAM5[Resource::{nag_arn_ref(framework_logs)}:*]",
            "Log streams are created by Lambda with run-time names inside the framework's own log group.",
        )
        checkov_skip(
            self.framework_policy,
            "CKV_AWS_111",
            "Only the X-Ray trace upload actions use Resource '*': they support no resource-level "
            "permissions.",
        )
        for name in ("framework-onEvent", "framework-isComplete", "framework-onTimeout"):
            framework_function = provider.node.try_find_child(name)
            if isinstance(framework_function, lambda_.Function):
                self._harden_framework_function(framework_function)
        if waiter is not None:
            self._own_waiter_role(waiter, provider, description)
        return provider

    def _harden_framework_function(self, function: lambda_.Function) -> None:
        invoked_by_cloudformation = function.node.id == "framework-onEvent"
        # Set on the L1 itself (not as overrides) so that cdk-nag sees them too.
        resource = function.node.default_child
        assert isinstance(resource, lambda_.CfnFunction)
        resource.memory_size = FRAMEWORK_MEMORY_MIB
        resource.tracing_config = lambda_.CfnFunction.TracingConfigProperty(mode="Active")
        acknowledge_rules(
            function,
            rule_in_packs("LambdaInsideVPC"),
            "Provider framework relay: it passes the CloudFormation event to the user function (which "
            "runs in the VPC) and the result to CloudFormation's pre-signed S3 URL, handles no data, "
            "and the isolated subnets have no route to the Lambda and Step Functions APIs it calls.",
        )
        reason_dlq = (
            "Invoked by CloudFormation: a failed relay is answered FAILED by the framework itself, and "
            "an event it could not relay cannot be replayed (its pre-signed response URL expires), so "
            "CloudFormation fails the resource after its service timeout; a queue would not change that."
            if invoked_by_cloudformation
            else "Invoked synchronously by the provider's waiter state machine, which retries it and "
            "then answers FAILED through onTimeout; a dead-letter queue only applies to asynchronous "
            "invocations."
        )
        acknowledge_rules(function, rule_in_packs("LambdaDLQ"), reason_dlq)
        acknowledge_rules(
            function,
            rule_in_packs("LambdaConcurrency"),
            "Runs once per stack operation; reserving concurrency would fail to deploy in accounts at the "
            "10-execution minimum of unreserved concurrency.",
        )
        cfn_lint_ignore(function, "W3005")  # aws-cdk's DependsOn on the role beside its GetAtt
        checkov_skip(function, "CKV_AWS_116", reason_dlq)
        checkov_skip(function, "CKV_AWS_115", "Runs once per stack operation; see LambdaConcurrency.")
        checkov_skip(function, "CKV_AWS_117", "Relay outside the isolated subnets; see LambdaInsideVPC.")

    def _own_waiter_role(self, waiter: IConstruct, provider: cr.Provider, description: str) -> None:
        """Replace aws-cdk's inline default policy of the waiter role with a customer-managed one."""
        role = waiter.node.find_child("Role")
        assert isinstance(role, iam.Role)
        role.node.try_remove_child("DefaultPolicy")
        invoked = [
            f.function_arn
            for f in (
                provider.node.try_find_child("framework-isComplete"),
                provider.node.try_find_child("framework-onTimeout"),
            )
            if isinstance(f, lambda_.Function)
        ]
        self.waiter_policy = iam.ManagedPolicy(
            self,
            "WaiterPolicy",
            description=f"Provider waiter: {description}: invoke the framework, log delivery, tracing",
            statements=[
                iam.PolicyStatement(
                    sid="InvokeFramework", actions=["lambda:InvokeFunction"], resources=invoked
                ),
                iam.PolicyStatement(
                    sid="DeliverLogsAndTraces",
                    actions=[
                        *_SFN_LOG_DELIVERY_ACTIONS,
                        "xray:PutTraceSegments",
                        "xray:PutTelemetryRecords",
                        "xray:GetSamplingRules",
                        "xray:GetSamplingTargets",
                    ],
                    resources=["*"],
                ),
            ],
            roles=[role],
        )
        self.provider_policies.append(self.waiter_policy)
        state_machine = waiter.node.find_child("Resource")
        assert isinstance(state_machine, sfn.CfnStateMachine)
        state_machine.tracing_configuration = sfn.CfnStateMachine.TracingConfigurationProperty(enabled=True)
        state_machine.node.add_dependency(self.waiter_policy)
        cfn_lint_ignore(state_machine, "W3005")  # aws-cdk's DependsOn on the role beside its GetAtt
        acknowledge(
            self.waiter_policy,
            "AwsSolutions-IAM5[Resource::*]",
            "Step Functions' CloudWatch Logs delivery actions and the X-Ray actions support no "
            "resource-level permissions; the invoke statement names the two framework functions.",
        )
        checkov_skip(
            self.waiter_policy,
            "CKV_AWS_111",
            "Only log-delivery and X-Ray actions, which support no resource-level permissions, use '*'.",
        )

    # ---- acknowledgements of the user functions -------------------------------------------------
    def _acknowledge_user_function(
        self,
        function: lambda_.Function,
        *,
        invoked_by_provider: bool,
        has_dead_letter_queue: bool,
        invocation: str,
        has_environment: bool = False,
        no_dead_letter_reason: str | None = None,
    ) -> None:
        acknowledge_rules(
            function,
            rule_in_packs("LambdaConcurrency"),
            f"{invocation}; reserving concurrency would fail to deploy in accounts at the "
            "10-execution minimum of unreserved concurrency.",
        )
        checkov_skip(function, "CKV_AWS_115", f"{invocation}; see LambdaConcurrency.")
        if not has_environment:
            checkov_skip(function, "CKV_AWS_173", "The function has no environment variables to encrypt.")
        if has_dead_letter_queue:
            return
        if no_dead_letter_reason is not None:
            reason_dlq = no_dead_letter_reason
        elif invoked_by_provider:
            reason_dlq = (
                "Invoked synchronously by the custom-resource provider framework, which reports any "
                "error to CloudFormation; a dead-letter queue only applies to asynchronous invocations."
            )
        else:
            reason_dlq = (
                "Scheduled check: a failed run publishes no datapoint, and its alarm treats missing data "
                "as breaching, so a failure alarms; a queued copy of the schedule event holds nothing to "
                "replay."
            )
        acknowledge_rules(function, rule_in_packs("LambdaDLQ"), reason_dlq)
        checkov_skip(function, "CKV_AWS_116", reason_dlq)

    @property
    def function_arn(self) -> str:
        """ARN of the (``on_event`` or scheduled) user function."""
        return self.function.function_arn

    @property
    def service_token(self) -> str:
        """Service token for a ``CustomResource``: the provider framework's entry point."""
        if self.provider is None:
            raise ValueError(
                f"PlatformFunction '{self.node.path}' has no provider (custom_resource=False); "
                "it cannot back a CustomResource"
            )
        return self.provider.service_token


def _deployed_stack_name(scope: Construct) -> str:
    """The name the stack of ``scope`` is deployed under: its own name, except in a Service
    Catalog product, where each provisioned product is a stack of its own (``SC-...``), so
    names must follow ``AWS::StackName`` for two provisioned copies not to collide."""
    from aws_cdk import Aws
    from aws_cdk import aws_servicecatalog as servicecatalog

    stack = Stack.of(scope)
    return Aws.STACK_NAME if isinstance(stack, servicecatalog.ProductStack) else stack.stack_name
