"""Self-service EMR (seed pattern 12): the product stacks and ``SelfServiceCatalogStack``.

Three products, as the seed describes them, each a stack on the shared platform whose
CloudFormation parameters carry the constraints :mod:`emr_patterns.spec.self_service` derives
from the spec validators:

* :class:`DefaultEmrProductStack`: cluster name, compute type (CPU, memory, general) and size;
  the platform's least-privilege instance role, automatic tags.
* :class:`EtlEngineProductStack`: job type (Spark or Hive) and job artifacts, run as an EMR step
  on the provisioned cluster; updating the provisioned product with new artifacts runs a new step.
* :class:`HiveAutoScalingProductStack`: Hive and Hue for analysts, with EMR managed scaling.

:class:`SelfServiceCatalogStack` publishes them in two portfolios (data engineering, data
analysts), with two EMR releases side by side as product versions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import CfnCondition, CfnMapping, CfnOutput, CfnParameter, Fn, Stack, Token
from aws_cdk import aws_emr as emr
from aws_cdk import aws_iam as iam
from constructs import Construct

from emr_patterns.compute.cluster import EmrCluster
from emr_patterns.errors import EmrPatternsValidationError, raise_if_problems
from emr_patterns.foundation.platform import IEmrPlatform, check_platform
from emr_patterns.nag import acknowledge_resource
from emr_patterns.patterns.catalog import EmrServiceCatalog, PortfolioSpec, PublishedProduct
from emr_patterns.spec import COMMAND_RUNNER_JAR, DEFAULT_RELEASE
from emr_patterns.spec.self_service import (
    COMPUTE_TYPES,
    JOB_TYPES,
    ProductParameter,
    cluster_name_parameter,
    cluster_size_parameter,
    compute_type_parameter,
    job_artifacts_parameter,
    job_step_args,
    job_type_parameter,
    max_capacity_parameter,
    self_service_spec,
)

__all__ = [
    "CATALOG_RELEASES",
    "DefaultEmrProductStack",
    "EtlEngineProductStack",
    "HiveAutoScalingProductStack",
    "SelfServiceCatalogStack",
]

#: EMR releases the prebuilt catalog offers side by side, oldest first (the last is current).
CATALOG_RELEASES: tuple[str, ...] = ("emr-7.12.0", DEFAULT_RELEASE)
_ETL_APPLICATIONS = ("Hadoop", "Spark", "Hive")
_HIVE_APPLICATIONS = ("Hadoop", "Hive", "Hue")
_HIVE_MIN_NODES = 2


def _parameter(scope: Construct, spec: ProductParameter) -> CfnParameter:
    return CfnParameter(scope, spec.name, **spec.to_cfn())


def _checked(where: str, parameter: ProductParameter, value: Any, prop: str) -> ProductParameter:
    try:
        return parameter.with_default(value, prop)
    except EmrPatternsValidationError as err:
        raise_if_problems(where, err.problems)
        raise


class _ProductClusterStack(Stack):
    """A product's cluster: parameters from the spec layer, ``EmrCluster`` on the platform."""

    applications: tuple[str, ...] = ("Hadoop", "Spark")

    def _cluster(
        self,
        platform: IEmrPlatform,
        *,
        release_label: str,
        name: ProductParameter,
        compute_type: ProductParameter | None,
        cluster_size: ProductParameter | None,
        max_capacity: ProductParameter | None = None,
        fixed_size: int = _HIVE_MIN_NODES,
    ) -> EmrCluster:
        raise_if_problems(type(self).__name__, check_platform(self, "platform", platform))
        name_value = _parameter(self, name).value_as_string
        size_value: Any = _parameter(self, cluster_size).value_as_number if cluster_size else fixed_size
        kind = compute_type.default if compute_type else next(iter(COMPUTE_TYPES))
        capacity = _parameter(self, max_capacity).value_as_number if max_capacity else None
        spec = self_service_spec(
            name=name_value,
            compute_type=str(kind),
            cluster_size=size_value,
            release_label=release_label,
            applications=self.applications,
            max_capacity=capacity,
        )
        cluster = EmrCluster(self, "Cluster", platform=platform, spec=spec)
        if compute_type is not None:
            kind_value = _parameter(self, compute_type).value_as_string
            mapping = CfnMapping(
                self,
                "ComputeTypes",
                mapping={k: {"CoreInstanceType": COMPUTE_TYPES[k]} for k in compute_type.allowed_values},
            )
            cluster.resource.add_property_override(
                "Instances.CoreInstanceGroup.InstanceType",
                mapping.find_in_map(kind_value, "CoreInstanceType"),
            )
        CfnOutput(self, "ClusterId", value=cluster.cluster_id, description="EMR cluster id")
        CfnOutput(
            self,
            "PrimaryDnsName",
            value=cluster.primary_dns_name,
            description="Private DNS name of the primary node (reach it through SSM Session Manager)",
        )
        CfnOutput(
            self,
            "ReleaseLabel",
            value=release_label,
            description="EMR release of this product version",
        )
        return cluster


class DefaultEmrProductStack(_ProductClusterStack):
    """Default EMR: a Spark cluster whose users pick a name, a compute type and a size.

    The platform's instance role (least privilege: platform buckets and key only) and service
    role, the platform's network and security configuration, idle auto-termination after one
    hour; the catalog tags every resource.

    Args:
        scope: parent construct.
        id: stack id.
        platform: the shared platform.
        release_label: EMR release of this version. Default: ``emr-7.13.0``.
        max_cluster_size: most core nodes a user may ask for. Default: 10.
        default_compute_type: preselected compute type. Default: ``"CPU"``.
        default_cluster_size: preselected number of core nodes. Default: 2.
        **kwargs: ``Stack`` (or ``ProductStack``) props.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        platform: IEmrPlatform,
        release_label: str = DEFAULT_RELEASE,
        max_cluster_size: int = 10,
        default_compute_type: str = "CPU",
        default_cluster_size: int = 2,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault(
            "description", f"cdk-emr-patterns self-service: default EMR cluster ({release_label})"
        )
        where = f"{type(self).__name__} '{id}'"
        compute = _checked(
            where,
            compute_type_parameter([release_label], self.applications),
            default_compute_type,
            "default_compute_type",
        )
        size = _checked(
            where,
            cluster_size_parameter(max_cluster_size, release_label),
            default_cluster_size,
            "default_cluster_size",
        )
        super().__init__(scope, id, **kwargs)
        self.cluster = self._cluster(
            platform,
            release_label=release_label,
            name=cluster_name_parameter("default-emr"),
            compute_type=compute,
            cluster_size=size,
        )


class EtlEngineProductStack(_ProductClusterStack):
    """EMR ETL engine: a cluster that runs the user's Spark or Hive job as an EMR step.

    ``JobArtifacts`` is the script's ``s3://`` URI followed by its arguments; the job type picks
    the step the spec layer renders (``spark-submit --deploy-mode cluster`` or ``hive-script
    --run-hive-script --args -f``). Updating the provisioned product with other artifacts runs a
    new step on the same cluster. Scripts and data must be in the platform's buckets (the
    instance role reads nothing else).

    Args:
        scope: parent construct.
        id: stack id.
        platform: the shared platform.
        release_label: EMR release of this version. Default: ``emr-7.13.0``.
        max_cluster_size: most core nodes. Default: 10.
        default_job_type: ``"Spark"`` or ``"Hive"``. Default: ``"Spark"``.
        **kwargs: ``Stack`` (or ``ProductStack``) props.
    """

    applications = _ETL_APPLICATIONS

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        platform: IEmrPlatform,
        release_label: str = DEFAULT_RELEASE,
        max_cluster_size: int = 10,
        default_job_type: str = "Spark",
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("description", f"cdk-emr-patterns self-service: EMR ETL engine ({release_label})")
        where = f"{type(self).__name__} '{id}'"
        job_type = _checked(where, job_type_parameter(), default_job_type, "default_job_type")
        compute = compute_type_parameter([release_label], self.applications)
        size = cluster_size_parameter(max_cluster_size, release_label)
        super().__init__(scope, id, **kwargs)
        self.cluster = self._cluster(
            platform,
            release_label=release_label,
            name=cluster_name_parameter("etl-engine"),
            compute_type=compute,
            cluster_size=size,
        )
        job_type_value = _parameter(self, job_type).value_as_string
        artifacts = _parameter(self, job_artifacts_parameter(None)).value_as_string
        is_spark = CfnCondition(
            self, "IsSparkJob", expression=Fn.condition_equals(job_type_value, JOB_TYPES[0])
        )

        def args(kind: str) -> list[str]:
            return Fn.split(" ", Fn.join(" ", [*job_step_args(kind), artifacts]))

        #: The job, as an EMR step on the cluster.
        self.step = emr.CfnStep(
            self,
            "JobStep",
            job_flow_id=self.cluster.cluster_id,
            name=Fn.join("-", [job_type_value, "job"]),
            action_on_failure="CONTINUE",
            hadoop_jar_step=emr.CfnStep.HadoopJarStepConfigProperty(
                jar=COMMAND_RUNNER_JAR,
                args=Token.as_list(
                    Fn.condition_if(is_spark.logical_id, args(JOB_TYPES[0]), args(JOB_TYPES[1]))
                ),
            ),
        )
        CfnOutput(self, "JobStepId", value=self.step.ref, description="EMR step id of the job")


class HiveAutoScalingProductStack(_ProductClusterStack):
    """Auto-scaling Hive for analysts: Hive and Hue, EMR managed scaling from 2 instances up to
    the ``MaximumCapacity`` the user picks.

    Args:
        scope: parent construct.
        id: stack id.
        platform: the shared platform.
        release_label: EMR release of this version. Default: ``emr-7.13.0``.
        max_capacity: the largest ``MaximumCapacity`` a user may pick. Default: 20.
        default_max_capacity: preselected ``MaximumCapacity``. Default: 10.
        **kwargs: ``Stack`` (or ``ProductStack``) props.
    """

    applications = _HIVE_APPLICATIONS

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        platform: IEmrPlatform,
        release_label: str = DEFAULT_RELEASE,
        max_capacity: int = 20,
        default_max_capacity: int = 10,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault(
            "description", f"cdk-emr-patterns self-service: auto-scaling Hive ({release_label})"
        )
        where = f"{type(self).__name__} '{id}'"
        capacity = _checked(
            where,
            max_capacity_parameter(max_capacity, _HIVE_MIN_NODES, release_label),
            default_max_capacity,
            "default_max_capacity",
        )
        super().__init__(scope, id, **kwargs)
        self.cluster = self._cluster(
            platform,
            release_label=release_label,
            name=cluster_name_parameter("hive-analytics"),
            compute_type=None,
            cluster_size=None,
            max_capacity=capacity,
        )
        CfnOutput(
            self,
            "HueEndpoint",
            value=Fn.join(":", [self.cluster.primary_dns_name, "8888"]),
            description="Hue on the primary node; open it through SSM port forwarding",
        )


#: Persona id -> (display name, description), as the seed's two portfolios.
PERSONAS: Mapping[str, tuple[str, str]] = {
    "DataEngineering": ("Data Engineering", "EMR clusters and a Spark/Hive ETL engine for data engineers"),
    "DataAnalysts": ("Data Analysts", "EMR clusters and auto-scaling Hive for SQL analysts"),
}
#: Product id -> (stack class, product name, portfolios, description).
PRODUCTS: Mapping[str, tuple[type, str, tuple[str, ...], str]] = {
    "DefaultEmr": (
        DefaultEmrProductStack,
        "Default EMR",
        ("DataEngineering", "DataAnalysts"),
        "A Spark cluster: pick a name, a compute type and a size",
    ),
    "EtlEngine": (
        EtlEngineProductStack,
        "EMR ETL Engine",
        ("DataEngineering",),
        "Run a Spark or Hive job from S3 on its own cluster",
    ),
    "HiveAutoScaling": (
        HiveAutoScalingProductStack,
        "Auto-scaling EMR",
        ("DataAnalysts",),
        "Hive and Hue with EMR managed scaling",
    ),
}
#: What a persona's role may do in Service Catalog: browse, provision, update and terminate.
END_USER_PRODUCT_ACTIONS = (
    "servicecatalog:DescribeProduct",
    "servicecatalog:DescribeProductView",
    "servicecatalog:DescribeProvisioningParameters",
    "servicecatalog:ListLaunchPaths",
    "servicecatalog:ListProvisioningArtifacts",
    "servicecatalog:DescribeProvisioningArtifact",
    "servicecatalog:ProvisionProduct",
)
END_USER_ACCOUNT_ACTIONS = (
    "servicecatalog:SearchProducts",
    "servicecatalog:SearchProvisionedProducts",
    "servicecatalog:ScanProvisionedProducts",
    "servicecatalog:DescribeProvisionedProduct",
    "servicecatalog:DescribeRecord",
    "servicecatalog:ListRecordHistory",
    "servicecatalog:UpdateProvisionedProduct",
    "servicecatalog:TerminateProvisionedProduct",
    "servicecatalog:GetProvisionedProductOutputs",
)


class SelfServiceCatalogStack(Stack):
    """Seed pattern 12: EMR as a self-service catalog, one portfolio per persona.

    Two portfolios (Data Engineering, Data Analysts), each with a role its users assume
    (``<persona>Role``, trusted by this account, allowed to browse, provision, update and
    terminate only) and three products (:data:`PRODUCTS`), each offered on the EMR releases
    of :data:`CATALOG_RELEASES` as product versions.

    Args:
        scope: parent construct.
        id: stack id.
        platform: the shared platform (``PlatformBaseStack(...).platform``).
        releases: product versions, oldest first; every release but the last must have a
            committed snapshot. Default: :data:`CATALOG_RELEASES`.
        principals: extra IAM principals per persona id. Default: none.
        share_with_accounts: accounts the portfolios are shared with. Default: none.
        lock_current_versions: refuse a changed template under the current version name.
            Default: the context flag ``emr-patterns:lockProductVersions`` (false when unset, so
            library changes regenerate the current snapshot; lock in a release pipeline).
        **kwargs: ``Stack`` props; ``asset_bucket_name`` defaults to the context value
            ``emr-patterns:catalogAssetBucketName`` when set.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        platform: IEmrPlatform,
        releases: Sequence[str] = CATALOG_RELEASES,
        principals: Mapping[str, Sequence[iam.IRole | iam.IGroup | iam.IUser]] | None = None,
        share_with_accounts: Sequence[str] = (),
        lock_current_versions: bool | None = None,
        asset_bucket_name: str | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault(
            "description", "cdk-emr-patterns: self-service EMR through AWS Service Catalog (pattern 12)"
        )
        super().__init__(scope, id, **kwargs)
        if lock_current_versions is None:
            flag = self.node.try_get_context("emr-patterns:lockProductVersions")
            lock_current_versions = str(flag).lower() == "true"
        #: The role each persona's users assume, by persona id.
        self.persona_roles: dict[str, iam.Role] = {
            persona: iam.Role(
                self,
                f"{persona}Role",
                assumed_by=iam.AccountRootPrincipal(),
                description=f"{PERSONAS[persona][0]} users: provision the portfolio's EMR products",
            )
            for persona in PERSONAS
        }
        extra = dict(principals or {})
        self.catalog = EmrServiceCatalog(
            self,
            "Catalog",
            platform=platform,
            portfolios=[
                PortfolioSpec(
                    persona,
                    display,
                    description,
                    principals=(self.persona_roles[persona], *extra.get(persona, ())),
                )
                for persona, (display, description) in PERSONAS.items()
            ],
            share_with_accounts=share_with_accounts,
            lock_current_versions=lock_current_versions,
            asset_bucket_name=asset_bucket_name
            or self.node.try_get_context("emr-patterns:catalogAssetBucketName"),
        )
        *previous, current = releases
        #: Products by id.
        self.products: dict[str, PublishedProduct] = {}
        for product_id, (stack_class, name, portfolios, description) in PRODUCTS.items():
            self.products[product_id] = self.catalog.add_product(
                product_id,
                stack_class=stack_class,
                product_name=name,
                portfolios=portfolios,
                current_version=current,
                previous_versions=previous,
                stack_props={"release_label": current},
                description=description,
            )
        self._end_user_policies()

    def _end_user_policies(self) -> None:
        for persona, role in self.persona_roles.items():
            products = [
                p.product.product_arn
                for product_id, p in self.products.items()
                if persona in PRODUCTS[product_id][2]
            ]
            policy = iam.ManagedPolicy(
                self,
                f"{persona}EndUserPolicy",
                description=f"{PERSONAS[persona][0]}: browse and provision the portfolio's products",
                statements=[
                    iam.PolicyStatement(
                        sid="PortfolioProducts", actions=list(END_USER_PRODUCT_ACTIONS), resources=products
                    ),
                    iam.PolicyStatement(
                        sid="ProvisionedProducts", actions=list(END_USER_ACCOUNT_ACTIONS), resources=["*"]
                    ),
                ],
                roles=[role],
            )
            acknowledge_resource(
                policy,
                "AwsSolutions-IAM5",
                "*",
                "Service Catalog's search, record and provisioned-product calls have no resource-level "
                "permissions; users act only on products of portfolios their role is associated with.",
            )
