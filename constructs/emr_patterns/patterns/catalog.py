"""EmrServiceCatalog: publish EMR stacks as AWS Service Catalog products, with guardrails.

Seed pattern 12 ("a self-service environment for each line of business"): an administrator
publishes approved cluster configurations as products in one portfolio per persona; users
provision them without access to the EMR console, IAM or the network. See
``docs/service-catalog.md``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from aws_cdk import CfnResource, Duration, Names, Stack, Tags, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3_deployment
from aws_cdk import aws_servicecatalog as servicecatalog
from constructs import Construct

from emr_patterns import _perms
from emr_patterns._cfn import cfn_of
from emr_patterns._context import resolve_removal_policy
from emr_patterns.defaults import (
    INCOMPLETE_UPLOAD_ABORT_DAYS,
    NONCURRENT_VERSION_EXPIRATION_DAYS,
    S3_LOG_RETENTION_DAYS,
)
from emr_patterns.errors import problem, raise_if_problems
from emr_patterns.foundation.platform import IEmrPlatform, check_platform
from emr_patterns.foundation.storage import access_logs_bucket, kms_bucket, log_access_to
from emr_patterns.nag import (
    acknowledge,
    acknowledge_resource,
    acknowledge_rules,
    cfn_lint_ignore,
    checkov_skip,
    rule_in_packs,
)

__all__ = [
    "DEFAULT_TAG_OPTIONS",
    "EmrServiceCatalog",
    "PortfolioSpec",
    "PublishedProduct",
    "launch_permissions",
    "product_resource_types",
    "publish_as_product",
]

#: Tag keys and values users pick from when they provision (Service Catalog TagOptions).
DEFAULT_TAG_OPTIONS: Mapping[str, tuple[str, ...]] = {
    "cost-center": ("data-engineering", "analytics", "data-science"),
    "environment": ("dev", "test", "prod"),
}
#: Every provisioned product is a CloudFormation stack whose name starts with this.
_SC_STACK_PREFIX = "SC-"
_ACCOUNT_ID = re.compile(r"^\d{12}$")
_BUCKET_DEPLOYMENT_ID = "Custom::CDKBucketDeployment8693BB64968944B69AAFB0CC9EB8756C"
_TOOL_METADATA_CONTEXT = ("aws:cdk:enable-path-metadata", "aws:cdk:enable-asset-metadata")


@dataclass(frozen=True)
class PortfolioSpec:
    """A portfolio for one persona.

    Attributes:
        id: construct id, also how products name the portfolios they join (``"DataEngineering"``).
        display_name: shown to users, 1-100 characters.
        description: up to 2000 characters. Default: none.
        principals: IAM roles, groups or users that may browse and provision its products.
            Default: none (associate principals later with ``portfolio.give_access_to_*``).
    """

    id: str
    display_name: str
    description: str = ""
    principals: Sequence[iam.IRole | iam.IGroup | iam.IUser] = field(default_factory=tuple)


@dataclass
class PublishedProduct:
    """A product :meth:`EmrServiceCatalog.add_product` created.

    Attributes:
        product: the ``CloudFormationProduct``.
        product_stack: the current version's ``ProductStack``.
        history: the snapshots of every version.
        launch_role: the role Service Catalog assumes to provision it.
        launch_policy: the customer-managed policy of that role.
        resource_types: CloudFormation types in the current version's template.
    """

    product: servicecatalog.CloudFormationProduct
    product_stack: servicecatalog.ProductStack
    history: servicecatalog.ProductStackHistory
    launch_role: iam.Role
    launch_policy: iam.ManagedPolicy
    resource_types: tuple[str, ...]


def product_resource_types(product_stack: servicecatalog.ProductStack) -> tuple[str, ...]:
    """The CloudFormation resource types in ``product_stack``'s template, sorted."""
    types = {
        cast(CfnResource, c).cfn_resource_type
        for c in product_stack.node.find_all()
        if CfnResource.is_cfn_resource(c) and Stack.of(c) is product_stack
    }
    return tuple(sorted(types))


def _arn(stack: Stack, service: str, resource: str, name: str | None = None, *, sep: str = "/") -> str:
    from aws_cdk import ArnFormat

    style = ArnFormat.COLON_RESOURCE_NAME if sep == ":" else ArnFormat.SLASH_RESOURCE_NAME
    return stack.format_arn(service=service, resource=resource, resource_name=name, arn_format=style)


def launch_permissions(
    scope: Construct, resource_types: Sequence[str], platform: IEmrPlatform, assets: Sequence[s3.IBucket]
) -> list[iam.PolicyStatement]:
    """The statements a launch role needs to create, update and delete ``resource_types``.

    One statement per type (``Sid`` names it), scoped to what a provisioned product creates:
    names that CloudFormation derives from the ``SC-...`` stack name, the platform's VPC and roles,
    the product asset buckets. A type without an entry raises, naming it: the role never lags
    the template.
    """
    stack = Stack.of(scope)
    sc = _SC_STACK_PREFIX + "*"
    roles = [platform.service_role.role_arn, platform.instance_role.role_arn]
    if platform.autoscaling_role is not None:
        roles.append(platform.autoscaling_role.role_arn)
    cluster = _arn(stack, "elasticmapreduce", "cluster", "*")
    group = _arn(stack, "ec2", "security-group", "*")
    own_roles = _arn(stack, "iam", "role", sc).replace(f":{stack.region}:", "::")
    function = _arn(stack, "lambda", "function", sc, sep=":")
    statements: dict[str, list[iam.PolicyStatement]] = {
        "AWS::EMR::Cluster": [
            iam.PolicyStatement(
                sid="EmrClusters", actions=list(_perms.LAUNCH_EMR_CLUSTER_ACTIONS), resources=[cluster]
            ),
            iam.PolicyStatement(
                sid="PassPlatformRolesToEmr",
                actions=["iam:PassRole"],
                resources=roles,
                conditions={
                    "StringEquals": {
                        "iam:PassedToService": ["elasticmapreduce.amazonaws.com", "ec2.amazonaws.com"]
                    }
                },
            ),
        ],
        "AWS::EMR::Step": [
            iam.PolicyStatement(
                sid="EmrSteps", actions=list(_perms.EMR_SUBMIT_STEP_ACTIONS), resources=[cluster]
            )
        ],
        "AWS::EC2::SecurityGroup": [
            iam.PolicyStatement(
                sid="SecurityGroups",
                actions=list(_perms.LAUNCH_SECURITY_GROUP_ACTIONS),
                resources=[group, _arn(stack, "ec2", "vpc", platform.vpc.vpc_id)],
            ),
            iam.PolicyStatement(
                sid="DescribeSecurityGroups", actions=["ec2:DescribeSecurityGroups"], resources=["*"]
            ),
        ],
        "AWS::EC2::SecurityGroupIngress": [
            iam.PolicyStatement(
                sid="SecurityGroupIngress",
                actions=list(_perms.LAUNCH_SECURITY_GROUP_RULE_ACTIONS),
                resources=[group],
            )
        ],
        "AWS::EC2::SecurityGroupEgress": [
            iam.PolicyStatement(
                sid="SecurityGroupEgress",
                actions=list(_perms.LAUNCH_SECURITY_GROUP_RULE_ACTIONS),
                resources=[group],
            )
        ],
        "AWS::IAM::Role": [
            iam.PolicyStatement(
                sid="OwnRoles", actions=list(_perms.LAUNCH_IAM_ROLE_ACTIONS), resources=[own_roles]
            ),
            iam.PolicyStatement(
                sid="PassOwnRoles",
                actions=["iam:PassRole"],
                resources=[own_roles],
                conditions={
                    "StringEquals": {"iam:PassedToService": ["lambda.amazonaws.com", "states.amazonaws.com"]}
                },
            ),
        ],
        "AWS::IAM::ManagedPolicy": [
            iam.PolicyStatement(
                sid="OwnManagedPolicies",
                actions=list(_perms.LAUNCH_IAM_POLICY_ACTIONS),
                resources=[_arn(stack, "iam", "policy", sc).replace(f":{stack.region}:", "::")],
            )
        ],
        "AWS::Lambda::Function": [
            iam.PolicyStatement(
                sid="OwnFunctions", actions=list(_perms.LAUNCH_LAMBDA_ACTIONS), resources=[function]
            ),
            iam.PolicyStatement(
                sid="DescribeFunctionNetwork", actions=list(_perms.LAUNCH_LAMBDA_VPC_ACTIONS), resources=["*"]
            ),
            iam.PolicyStatement(
                sid="ReadProductAssets",
                actions=["s3:GetObject", "s3:GetObjectVersion"],
                resources=[b.arn_for_objects("*") for b in assets],
            ),
            iam.PolicyStatement(
                sid="EncryptFunctionSettings",
                actions=list(_perms.LAUNCH_KMS_ACTIONS),
                resources=[platform.key.key_arn],
            ),
        ],
        "AWS::Logs::LogGroup": [
            iam.PolicyStatement(
                sid="OwnLogGroups",
                actions=list(_perms.LAUNCH_LOG_GROUP_ACTIONS),
                resources=[
                    _arn(stack, "logs", "log-group", f"{sc}", sep=":"),
                    _arn(stack, "logs", "log-group", f"/aws/vendedlogs/states/{sc}", sep=":"),
                ],
            ),
            iam.PolicyStatement(
                sid="DescribeLogGroups",
                actions=["logs:DescribeLogGroups", "logs:DescribeResourcePolicies"],
                resources=["*"],
            ),
        ],
        "AWS::StepFunctions::StateMachine": [
            iam.PolicyStatement(
                sid="StateMachines",
                actions=list(_perms.LAUNCH_STATE_MACHINE_ACTIONS),
                resources=[_arn(stack, "states", "stateMachine", "*", sep=":")],
            ),
            iam.PolicyStatement(
                sid="StateMachineLogDelivery",
                actions=list(_perms.LAUNCH_LOG_DELIVERY_ACTIONS),
                resources=["*"],
            ),
        ],
    }
    custom = [
        iam.PolicyStatement(
            sid="InvokeOwnCustomResources", actions=["lambda:InvokeFunction"], resources=[function]
        )
    ]
    out: dict[str, iam.PolicyStatement] = {}
    unknown: list[str] = []
    for type_ in resource_types:
        if type_.startswith("Custom::") or type_ == "AWS::CloudFormation::CustomResource":
            found = custom
        elif type_ in statements:
            found = statements[type_]
        else:
            unknown.append(type_)
            continue
        for statement in found:
            out.setdefault(statement.sid or "", statement)
    raise_if_problems(
        f"launch role of '{scope.node.path}'",
        [
            problem(
                "resource type",
                type_,
                "has no launch permissions in emr_patterns.patterns.catalog.launch_permissions",
                "add the type's create, update, delete and tag actions there (scoped to SC-* names)",
            )
            for type_ in unknown
        ],
    )
    return list(out.values())


def _tag_option_problems(tag_options: Mapping[str, Sequence[str]]) -> list[str]:
    out: list[str] = []
    if not tag_options:
        out.append(problem("tag_options", dict(tag_options), "is empty", "give at least one key with values"))
    for key, values in tag_options.items():
        if not isinstance(key, str) or not 1 <= len(key) <= 128 or key.lower().startswith("aws:"):
            out.append(
                problem(f"tag_options[{key!r}]", key, "is not a tag key", "use 1-128 characters, not aws:")
            )
        if isinstance(values, str) or not values:
            out.append(
                problem(
                    f"tag_options[{key!r}]",
                    values,
                    "is not a non-empty list of values",
                    'use ("dev", "prod")',
                )
            )
            continue
        for value in values:
            if not isinstance(value, str) or not value.strip() or len(value) > 256:
                out.append(
                    problem(
                        f"tag_options[{key!r}]",
                        value,
                        "is not a tag value of 1-256 characters",
                        "drop empty values or give a real one",
                    )
                )
    return out


class EmrServiceCatalog(Construct):
    """Service Catalog portfolios of EMR products, one per persona, with guardrails.

    * **Portfolios** from :class:`PortfolioSpec` (data engineering, data analysts, ...), each
      associated with its IAM principals and the catalog's TagOptions.
    * **Products** (:meth:`add_product`, :func:`publish_as_product`) built from ``ProductStack``
      versions of our stacks on the shared platform. Each version is kept as a
      ``ProductStackHistory`` snapshot (``*.product.template.json`` in ``snapshot_directory``,
      committed to the repository), so earlier releases stay provisionable side by side.
    * **Assets** (Lambda code of the products) go through a KMS-encrypted, versioned, SSL-only
      asset bucket with server access logs; Service Catalog reads them with the launch role.
    * **A launch role per product**, never admin: its customer-managed policy is derived from
      the resource types of the product's template (:func:`launch_permissions`), scoped to the
      ``SC-*`` names provisioned stacks create, with no ``*:*``. The role has a fixed name and is
      set as a *local* launch role, so a shared account that deploys the same role name works.
    * **Tags** on everything a product creates, a tag-update constraint (users may change the
      TagOptions they picked), principal associations.

    Args:
        scope: parent construct (a regular ``Stack``: product stacks need one as parent).
        id: construct id.
        platform: the platform every product runs on (same account and region).
        portfolios: one per persona; at least one.
        provider_name: shown as the portfolios' provider, 1-50 characters. Default:
            ``"cdk-emr-patterns"``.
        tag_options: tag keys and the values users may pick. Default: :data:`DEFAULT_TAG_OPTIONS`.
        tags: tags added to every resource of every product. Default: ``{"managed-by":
            "cdk-emr-patterns"}``.
        asset_bucket_name: literal name of the product asset bucket (Service Catalog product
            stacks need one). Default: ``emr-patterns-sc-assets-<hash of this construct's path>``,
            the same in every environment (set a name of your own: bucket names are global).
        share_with_accounts: 12-digit account ids the portfolios are shared with (TagOptions
            shared too). Each needs the platform and the launch role names deployed. Default: none.
        snapshot_directory: where product version snapshots are written and read. Default:
            ``"product-stack-snapshots"`` (relative to the working directory, as aws-cdk does).
        lock_current_versions: refuse a current version whose template changed under the same
            name (aws-cdk's ``currentVersionLocked``). Default: True.
        launch_role_name_prefix: prefix of the launch role names (``<prefix><product id>``).
            Default: ``"EmrPatternsLaunch"``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        platform: IEmrPlatform,
        portfolios: Sequence[PortfolioSpec],
        provider_name: str = "cdk-emr-patterns",
        tag_options: Mapping[str, Sequence[str]] | None = None,
        tags: Mapping[str, str] | None = None,
        asset_bucket_name: str | None = None,
        share_with_accounts: Sequence[str] = (),
        snapshot_directory: str = "product-stack-snapshots",
        lock_current_versions: bool = True,
        launch_role_name_prefix: str = "EmrPatternsLaunch",
    ) -> None:
        super().__init__(scope, id)
        # No aws:cdk:path or aws:asset:* metadata under the catalog: the CDK CLI turns them on and
        # plain synthesis does not, so the committed product snapshots (and a locked version)
        # would change with the tool that synthesized them.
        for flag in _TOOL_METADATA_CONTEXT:
            self.node.set_context(flag, False)
        problems = check_platform(self, "platform", platform)
        options = dict(DEFAULT_TAG_OPTIONS if tag_options is None else tag_options)
        problems += _tag_option_problems(options)
        if not portfolios:
            problems.append(
                problem("portfolios", list(portfolios), "is empty", "give one PortfolioSpec per persona")
            )
        ids = [p.id for p in portfolios]
        if len(set(ids)) != len(ids):
            problems.append(problem("portfolios", ids, "repeats an id", "give each persona its own id"))
        for p in portfolios:
            if not 1 <= len(p.display_name) <= 100:
                problems.append(
                    problem(
                        f"portfolios[{p.id}].display_name",
                        p.display_name,
                        "is not 1-100 characters",
                        "shorten it",
                    )
                )
        if not 1 <= len(provider_name) <= 50:
            problems.append(problem("provider_name", provider_name, "is not 1-50 characters", "shorten it"))
        for account in share_with_accounts:
            if not isinstance(account, str) or (
                not Token.is_unresolved(account) and not _ACCOUNT_ID.match(account)
            ):
                problems.append(
                    problem(
                        "share_with_accounts",
                        account,
                        "is not a 12-digit AWS account id",
                        "give e.g. '111122223333'",
                    )
                )
        catalog_tags = dict({"managed-by": "cdk-emr-patterns"} if tags is None else tags)
        for key, value in catalog_tags.items():
            if not 1 <= len(key) <= 128 or key.lower().startswith("aws:") or len(value) > 256:
                problems.append(
                    problem(f"tags[{key!r}]", value, "is not a valid tag", "use a 1-128 key, a value <= 256")
                )
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9+=,.@_-]{0,40}", launch_role_name_prefix):
            problems.append(
                problem(
                    "launch_role_name_prefix",
                    launch_role_name_prefix,
                    "is not an IAM role name prefix",
                    "use letters and digits, up to 41",
                )
            )
        name = asset_bucket_name or self._default_bucket_name()
        from emr_patterns._validation import validate_bucket_name

        problems += validate_bucket_name("asset_bucket_name", name)
        if Token.is_unresolved(name):
            problems.append(
                problem(
                    "asset_bucket_name",
                    name,
                    "is a token; product stacks need a literal bucket name",
                    "give a plain string",
                )
            )
        raise_if_problems(f"EmrServiceCatalog '{self.node.path}'", problems)

        self.platform = platform
        self.snapshot_directory = snapshot_directory
        self.lock_current_versions = lock_current_versions
        self.launch_role_name_prefix = launch_role_name_prefix
        self.tags = catalog_tags
        self._share_with_accounts = tuple(share_with_accounts)

        # ---- asset bucket -----------------------------------------------------------------------
        policy = resolve_removal_policy(self, None, "removal_policy")
        #: Key of the asset bucket (yearly rotation).
        self.asset_key = kms.Key(
            self,
            "AssetKey",
            description=f"cdk-emr-patterns Service Catalog product assets ({self.node.path})",
            enable_key_rotation=True,
            removal_policy=policy,
        )
        expire = s3.LifecycleRule(
            id="expire-noncurrent-versions",
            noncurrent_version_expiration=Duration.days(NONCURRENT_VERSION_EXPIRATION_DAYS),
            abort_incomplete_multipart_upload_after=Duration.days(INCOMPLETE_UPLOAD_ABORT_DAYS),
            expired_object_delete_marker=True,
        )
        #: Server access logs of the asset bucket.
        self.access_logs_bucket = access_logs_bucket(
            self,
            "AssetAccessLogs",
            bucket_name=None,
            lifecycle_rules=[
                expire,
                s3.LifecycleRule(id="expire-access-logs", expiration=Duration.days(S3_LOG_RETENTION_DAYS)),
            ],
            removal_policy=policy,
        )
        #: The bucket product assets are copied to (earlier versions keep reading them: RETAIN
        #: unless ``emr-patterns:removeDataOnDestroy`` is set).
        self.asset_bucket = kms_bucket(
            self,
            "AssetBucket",
            bucket_name=name,
            encryption_key=self.asset_key,
            lifecycle_rules=[expire],
            removal_policy=policy,
        )
        log_access_to(self.access_logs_bucket, self.asset_bucket, "assets/")
        # On the CfnBucket: aws-cdk puts the ProductStack asset deployment under the L2 bucket.
        acknowledge_rules(
            cfn_of(self.asset_bucket),
            rule_in_packs("S3BucketReplicationEnabled"),
            "Product assets are content-hashed copies of code in this repository, versioned and "
            "retained; they are re-published by the next deploy, so replication adds nothing.",
        )

        # ---- TagOptions and portfolios ------------------------------------------------------------
        #: The TagOptions every portfolio (and so every product) offers.
        self.tag_options = servicecatalog.TagOptions(
            self, "TagOptions", allowed_values_for_tags={k: list(v) for k, v in options.items()}
        )
        #: Portfolios by persona id.
        self.portfolios: dict[str, servicecatalog.Portfolio] = {}
        for spec in portfolios:
            portfolio = servicecatalog.Portfolio(
                self,
                spec.id,
                display_name=spec.display_name,
                provider_name=provider_name,
                description=spec.description or None,
                tag_options=self.tag_options,
            )
            for principal in spec.principals:
                if hasattr(principal, "group_arn"):
                    portfolio.give_access_to_group(cast(iam.IGroup, principal))
                elif hasattr(principal, "user_arn"):
                    portfolio.give_access_to_user(cast(iam.IUser, principal))
                else:
                    portfolio.give_access_to_role(cast(iam.IRole, principal))
            for account in self._share_with_accounts:
                portfolio.share_with_account(account, share_tag_options=True)
            Tags.of(portfolio).add("persona", spec.id)
            self.portfolios[spec.id] = portfolio
        #: Products by id.
        self.products: dict[str, PublishedProduct] = {}
        #: The platform product stacks are built on (imported from its PlatformBaseStack exports).
        self.product_platform = self._platform_for_products(platform)

    def _default_bucket_name(self) -> str:
        # The same in every environment: the name is written into the product templates and
        # their committed snapshots, which must not depend on where the app was synthesized.
        digest = hashlib.sha256(self.node.path.encode()).hexdigest()[:12]
        return f"emr-patterns-sc-assets-{digest}"

    def _platform_for_products(self, platform: IEmrPlatform) -> IEmrPlatform:
        """The platform as product stacks see it: imported by the exports of its ``PlatformBaseStack``.

        A ``ProductStack`` has no environment of its own, so it cannot reference resources of a
        stack with a pinned ``env``, and a provisioned product is a stack of its own that reads
        the platform only through exports. ``PlatformBaseStack`` exports every attribute under a
        fixed name (``platform_exports``); product templates import those. A platform outside a
        ``PlatformBaseStack`` is referenced as it is (aws-cdk's own exports: same app,
        environment-agnostic stacks only).
        """
        from aws_cdk import Fn

        from emr_patterns.foundation.platform import (
            _LIST_ATTRIBUTES,
            OUTPUT_KEYS,
            EmrPlatform,
            EmrPlatformAttributes,
        )

        exports = getattr(Stack.of(platform), "platform_exports", None)  # type: ignore[arg-type]
        found = getattr(platform, "attributes", None)
        attributes = found() if callable(found) else found
        if not isinstance(attributes, EmrPlatformAttributes) or not isinstance(exports, dict):
            return platform
        imported: dict[str, Any] = {}
        for key in attributes.to_outputs():
            name = OUTPUT_KEYS[key]
            if name.endswith("_prefix") or key not in exports:
                continue
            token = Fn.import_value(exports[key])
            if name in _LIST_ATTRIBUTES:
                imported[name] = tuple(Fn.split(",", token, len(getattr(attributes, name))))
            else:
                imported[name] = token
        product_platform = EmrPlatform.from_platform_attributes(
            self, "ProductPlatform", EmrPlatformAttributes(**imported, layout=attributes.layout)
        )
        from aws_cdk import Annotations

        Annotations.of(cast(Construct, product_platform)).acknowledge_warning(
            "@aws-cdk/aws-ec2:noSubnetRouteTableId",
            "Products place clusters and functions in the platform's subnets; no route table is read.",
        )
        return product_platform

    # ---- products -------------------------------------------------------------------------------
    def add_product(
        self,
        id: str,
        *,
        stack_class: type,
        product_name: str,
        portfolios: Sequence[str],
        current_version: str,
        previous_versions: Sequence[str] = (),
        stack_props: Mapping[str, Any] | None = None,
        description: str = "",
        owner: str = "cdk-emr-patterns",
        support_email: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> PublishedProduct:
        """Publish ``stack_class`` on the platform as a product in ``portfolios``.

        The class is built as a ``ProductStack`` (``stack_class(scope, id, platform=..., **stack_props)``;
        it must pass extra keyword arguments on to ``Stack``, as every prebuilt stack does).

        Args:
            id: construct id of the product (also names its launch role).
            stack_class: a ``Stack`` subclass taking ``platform`` (e.g. one of ``emr_patterns.stacks``).
            product_name: shown to users, 1-100 characters.
            portfolios: ids of the catalog's portfolios to add it to; at least one.
            current_version: name of the version built now (e.g. the EMR release, ``"emr-7.13.0"``).
            previous_versions: versions kept from their committed snapshots, oldest first.
                Default: none.
            stack_props: further keyword arguments of ``stack_class``. Default: none.
            description: product description. Default: none.
            owner: product owner shown to users. Default: ``"cdk-emr-patterns"``.
            support_email: support contact. Default: none.
            tags: tags added to every resource of this product (after the catalog's). Default: none.

        Raises:
            EmrPatternsValidationError: unknown portfolio, bad names, a missing snapshot, a stack
                that uses Docker image assets, or a resource type without launch permissions.
        """
        problems: list[str] = []
        if id in self.products:
            problems.append(problem("id", id, "is already a product of this catalog", "give another id"))
        unknown = [p for p in portfolios if p not in self.portfolios]
        if not portfolios or unknown:
            problems.append(
                problem(
                    "portfolios",
                    list(portfolios),
                    "names no or unknown portfolios",
                    f"use some of {sorted(self.portfolios)}",
                )
            )
        if not 1 <= len(product_name) <= 100:
            problems.append(problem("product_name", product_name, "is not 1-100 characters", "shorten it"))
        versions = [*previous_versions, current_version]
        for version in versions:
            if (
                not isinstance(version, str)
                or not 1 <= len(version) <= 100
                or not re.fullmatch(r"[\w.+-]+", version)
            ):
                problems.append(problem("version", version, "is not a version name", "use e.g. 'emr-7.13.0'"))
        if len(set(versions)) != len(versions):
            problems.append(
                problem("previous_versions", versions, "repeats a version name", "name each version once")
            )
        if not (isinstance(stack_class, type) and issubclass(stack_class, Stack)):
            problems.append(
                problem(
                    "stack_class",
                    stack_class,
                    "is not a Stack subclass",
                    "pass e.g. GravitonSparkClusterStack",
                )
            )
        role_name = f"{self.launch_role_name_prefix}{id}"
        if not re.fullmatch(r"[A-Za-z0-9+=,.@_-]{1,64}", role_name):
            problems.append(
                problem("id", id, f"makes launch role name {role_name!r} invalid", "use letters and digits")
            )
        raise_if_problems(f"EmrServiceCatalog.add_product '{id}'", problems)

        product_stack = _build_product_stack(
            self, f"{id}Stack", stack_class, self.product_platform, dict(stack_props or {}), self
        )
        for key, value in {**self.tags, **dict(tags or {})}.items():
            Tags.of(product_stack).add(key, value)
        Tags.of(product_stack).add("emr-patterns:product", id)

        history = servicecatalog.ProductStackHistory(
            self,
            f"{id}History",
            product_stack=product_stack,
            current_version_name=current_version,
            current_version_locked=self.lock_current_versions,
            directory=self.snapshot_directory,
        )
        missing = []
        for version in previous_versions:
            snapshot = self.snapshot_path(history, product_stack, version)
            if not snapshot.is_file():
                missing.append(
                    problem(
                        "previous_versions",
                        version,
                        f"has no snapshot {snapshot}",
                        f"build once with current_version={version!r} and commit {snapshot.name}",
                    )
                )
        raise_if_problems(f"EmrServiceCatalog.add_product '{id}'", missing)
        product_versions = [history.version_from_snapshot(v) for v in previous_versions]
        product_versions.append(history.current_version())
        product = servicecatalog.CloudFormationProduct(
            self,
            id,
            product_name=product_name,
            owner=owner,
            description=description or None,
            support_email=support_email,
            product_versions=product_versions,
            tag_options=self.tag_options,
        )

        resource_types = product_resource_types(product_stack)
        launch_role = iam.Role(
            self,
            f"{id}LaunchRole",
            role_name=role_name,
            assumed_by=iam.ServicePrincipal("servicecatalog.amazonaws.com"),
            description=f"Service Catalog launch role of the {product_name} product (least privilege)",
        )
        statements = [
            *_provisioning_statements(self),
            *launch_permissions(self, resource_types, self.platform, [self.asset_bucket]),
        ]
        statements.append(
            iam.PolicyStatement(
                sid="ReadProductAssetsKey",
                actions=["kms:Decrypt", "kms:DescribeKey"],
                resources=[self.asset_key.key_arn],
            )
        )
        launch_policy = iam.ManagedPolicy(
            self,
            f"{id}LaunchPolicy",
            description=f"Create, update and delete what the {product_name} product's template holds",
            statements=statements,
            roles=[launch_role],
        )
        _acknowledge_launch_policy(launch_policy, statements)
        for portfolio_id in portfolios:
            portfolio = self.portfolios[portfolio_id]
            portfolio.add_product(product)
            portfolio.set_local_launch_role(product, launch_role)
            portfolio.constrain_tag_updates(product, allow=True)
        self._acknowledge_asset_deployment()
        published = PublishedProduct(
            product, product_stack, history, launch_role, launch_policy, resource_types
        )
        self.products[id] = published
        return published

    def snapshot_path(
        self,
        history: servicecatalog.ProductStackHistory,
        product_stack: servicecatalog.ProductStack,
        version: str,
    ) -> Path:
        """The snapshot file of ``version`` (as ``ProductStackHistory`` names it)."""
        return Path(self.snapshot_directory) / (
            f"{Names.unique_id(history)}.{product_stack.artifact_id}.{version}.product.template.json"
        )

    def _acknowledge_asset_deployment(self) -> None:
        """aws-cdk copies product assets with its singleton ``BucketDeployment`` function."""
        stack = Stack.of(self)
        function = stack.node.try_find_child(_BUCKET_DEPLOYMENT_ID)
        if function is None or getattr(self, "_deployment_acknowledged", False):
            return
        self._deployment_acknowledged = True
        resource = cfn_of(function)
        role = cfn_of(function.node.find_child("ServiceRole"))
        inline = function.node.find_child("ServiceRole").node.find_child("DefaultPolicy")
        why_function = (
            "aws-cdk's own BucketDeployment function (ProductStack asset copy), run once per deploy by "
            "CloudFormation: "
        )
        acknowledge(
            resource, "AwsSolutions-L1", why_function + "aws-cdk pins its runtime with the library version."
        )
        for check, why in (
            ("CKV_AWS_116", "invoked synchronously by CloudFormation, which reports every failure."),
            ("CKV_AWS_117", "it copies between S3 buckets over the AWS API and serves no network clients."),
            ("CKV_AWS_115", "one invocation per deployment, so reserved concurrency protects nothing."),
            ("CKV_AWS_173", "its environment holds no secrets, only aws-cdk's own settings."),
        ):
            checkov_skip(resource, check, why_function + why)
        cfn_lint_ignore(resource, "W3005")
        acknowledge_rules(
            resource,
            rule_in_packs("LambdaInsideVPC"),
            why_function + "it copies between S3 buckets over the AWS API and serves no network clients.",
        )
        acknowledge_rules(
            resource,
            rule_in_packs("LambdaDLQ"),
            why_function
            + "invoked synchronously by CloudFormation, which reports every failure; a DLQ gets nothing.",
        )
        acknowledge_rules(
            resource,
            rule_in_packs("LambdaConcurrency"),
            why_function + "one invocation per deployment, so reserved concurrency protects nothing.",
        )
        acknowledge_rules(
            resource,
            [*rule_in_packs("LambdaTracing"), "Serverless-LambdaLatestVersion"],
            why_function + "aws-cdk owns its tracing and versions; CloudFormation events record each run.",
        )
        acknowledge(
            role,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
            why_function + "the basic execution role only lets it write its own CloudWatch logs.",
        )
        acknowledge_rules(
            inline,
            [*rule_in_packs("IAMNoInlinePolicy")],
            why_function + "aws-cdk generates this policy on its singleton role; it reads the CDK staging "
            "bucket and writes the asset bucket only.",
        )
        for action in (
            "s3:GetBucket*",
            "s3:GetObject*",
            "s3:List*",
            "s3:Abort*",
            "s3:DeleteObject*",
            "kms:GenerateDataKey*",
            "kms:ReEncrypt*",
        ):
            acknowledge(
                inline,
                f"AwsSolutions-IAM5[Action::{action}]",
                why_function + "aws-cdk's grant on the staging and asset buckets and the asset key only.",
            )
        from aws_cdk import DefaultStackSynthesizer

        qualifier = DefaultStackSynthesizer.DEFAULT_QUALIFIER
        acknowledge_resource(
            inline,
            "AwsSolutions-IAM5",
            f"arn:{stack.partition}:s3:::cdk-{qualifier}-assets-{stack.account}-{stack.region}/*",
            why_function + "reads the content-hashed asset zips from the CDK staging bucket.",
        )
        acknowledge_resource(
            inline,
            "AwsSolutions-IAM5",
            self.asset_bucket.arn_for_objects("*"),
            why_function + "writes the content-hashed product assets into the asset bucket.",
        )


def _provisioning_statements(scope: Construct) -> list[iam.PolicyStatement]:
    """What every launch role needs: run the provisioned product's stack and read its template."""
    stack = Stack.of(scope)
    return [
        iam.PolicyStatement(
            sid="ProvisionedProductStacks",
            actions=list(_perms.LAUNCH_CLOUDFORMATION_ACTIONS),
            resources=[_arn(stack, "cloudformation", "stack", f"{_SC_STACK_PREFIX}*")],
        ),
        iam.PolicyStatement(
            sid="ValidateTemplates",
            actions=["cloudformation:GetTemplateSummary", "cloudformation:ValidateTemplate"],
            resources=["*"],
        ),
        # Service Catalog's documented launch-role statement: only objects it tagged for provisioning.
        iam.PolicyStatement(
            sid="ReadProductTemplates",
            actions=["s3:GetObject"],
            resources=["*"],
            conditions={"StringEquals": {"s3:ExistingObjectTag/servicecatalog:provisioning": "true"}},
        ),
    ]


def _acknowledge_launch_policy(policy: iam.ManagedPolicy, statements: Sequence[iam.PolicyStatement]) -> None:
    """Each wildcard resource of the launch policy, acknowledged with why it cannot be narrower."""
    reasons = {
        "*": "Describe, list and validate calls (and Service Catalog's tagged-template read) have no "
        "resource-level permissions; every mutating action is scoped to SC-* names or the platform.",
    }
    default = (
        "A provisioned product creates this resource under a name CloudFormation derives from its "
        "SC-* stack name, unknown before provisioning; the pattern limits the role to such names."
    )
    seen: set[str] = set()
    for statement in statements:
        for resource in statement.resources:
            if "*" not in json.dumps(Stack.of(policy).resolve(resource)) or resource in seen:
                continue
            seen.add(resource)
            acknowledge_resource(policy, "AwsSolutions-IAM5", resource, reasons.get(resource, default))


def _build_product_stack(
    scope: Construct,
    id: str,
    stack_class: type,
    platform: IEmrPlatform,
    stack_props: dict[str, Any],
    catalog: EmrServiceCatalog,
) -> servicecatalog.ProductStack:
    """``stack_class`` built as a ``ProductStack`` whose assets go to the catalog's asset bucket."""
    if issubclass(stack_class, servicecatalog.ProductStack):
        product_class = stack_class
    else:
        product_class = type(f"{stack_class.__name__}Product", (stack_class, servicecatalog.ProductStack), {})
    kwargs = {
        "platform": platform,
        **stack_props,
        "asset_bucket": catalog.asset_bucket,
        "server_side_encryption": s3_deployment.ServerSideEncryption.AWS_KMS,
        "server_side_encryption_aws_kms_key_id": catalog.asset_key.key_id,
        # No CDKMetadata: the CDK CLI adds it and plain synthesis does not, so the committed
        # snapshots would change with the tool that synthesized them.
        "analytics_reporting": False,
    }
    try:
        return cast(servicecatalog.ProductStack, product_class(scope, id, **kwargs))
    except RuntimeError as err:
        if "cannot use Assets" in str(err):
            raise_if_problems(
                f"EmrServiceCatalog.add_product '{id}'",
                [
                    problem(
                        "stack_class",
                        stack_class.__name__,
                        "uses a Docker image asset, which Service Catalog product stacks cannot hold",
                        "push the image to ECR in a stack of its own and reference it by URI",
                    )
                ],
            )
        raise


def publish_as_product(
    catalog: EmrServiceCatalog,
    stack_class: type,
    *,
    id: str | None = None,
    product_name: str | None = None,
    portfolios: Sequence[str] | None = None,
    current_version: str = "v1",
    previous_versions: Sequence[str] = (),
    description: str = "",
    **stack_props: Any,
) -> PublishedProduct:
    """Turn a prebuilt stack of ours (any ``Stack`` subclass taking ``platform``) into a product.

    Args:
        catalog: the catalog to publish in.
        stack_class: e.g. ``GravitonSparkClusterStack``.
        id: product id. Default: the class name without ``Stack``.
        product_name: Default: ``id``.
        portfolios: Default: every portfolio of the catalog.
        current_version: Default: ``"v1"``.
        previous_versions: versions kept from their snapshots. Default: none.
        description: Default: the class's first docstring line.
        **stack_props: further keyword arguments of ``stack_class`` (e.g. ``spec=...``).
    """
    name = id or stack_class.__name__.removesuffix("Stack")
    doc = (stack_class.__doc__ or "").strip().splitlines()
    return catalog.add_product(
        name,
        stack_class=stack_class,
        product_name=product_name or name,
        portfolios=list(portfolios) if portfolios is not None else list(catalog.portfolios),
        current_version=current_version,
        previous_versions=previous_versions,
        stack_props=stack_props,
        description=description or (doc[0] if doc else ""),
    )
