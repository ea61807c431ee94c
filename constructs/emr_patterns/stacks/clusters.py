"""Prebuilt cluster stacks: Spark on Graviton fleets, and a Spot task fleet cluster."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from emr_patterns.compute.cluster import EmrCluster
from emr_patterns.errors import raise_if_problems
from emr_patterns.foundation.platform import EmrPlatform, IEmrPlatform, check_platform
from emr_patterns.spec import (
    Architecture,
    ClusterSpec,
    Configuration,
    InstanceFleetSpec,
    ManagedScalingSpec,
    OnDemandAllocationStrategy,
    OnDemandSpec,
    SpotAllocationStrategy,
    SpotSpec,
    SpotTimeoutAction,
    diversified_instance_types,
    vcpu_weighted,
)

__all__ = ["GravitonSparkClusterStack", "SpotFleetClusterStack", "graviton_spark_spec", "spot_fleet_spec"]

_SPARK_DEFAULTS = Configuration(
    "spark-defaults",
    {"spark.dynamicAllocation.enabled": "true", "spark.sql.adaptive.enabled": "true"},
)


def graviton_spark_spec(name: str = "graviton-spark", *, max_vcpus: int = 256) -> ClusterSpec:
    """Spark on Graviton (arm64) fleets only: vCPU-weighted core and task fleets, managed scaling
    between 16 and ``max_vcpus`` vCPUs, auto-termination after one idle hour."""
    general = diversified_instance_types(
        min_vcpu=8, max_vcpu=16, memory_per_vcpu=4, count=6, min_generation=6
    )
    spot_pool = diversified_instance_types(min_vcpu=8, max_vcpu=32, count=15, min_generation=6)
    return ClusterSpec(
        name=name,
        applications=("Hadoop", "Spark"),
        primary_fleet=InstanceFleetSpec.primary(["m7g.xlarge", "m6g.xlarge", "m8g.xlarge"]),
        core_fleet=InstanceFleetSpec.core(vcpu_weighted(general), on_demand_units=16),
        task_fleets=(
            InstanceFleetSpec.task(
                vcpu_weighted(spot_pool),
                spot_units=16,
                spot=SpotSpec(allocation_strategy=SpotAllocationStrategy.PRICE_CAPACITY_OPTIMIZED),
            ),
        ),
        managed_scaling=ManagedScalingSpec(min_units=16, max_units=max_vcpus, max_core_units=64),
        idle_timeout_seconds=3600,
        configurations=(_SPARK_DEFAULTS,),
    )


def spot_fleet_spec(name: str = "spot-fleet", *, task_vcpus: int = 128) -> ClusterSpec:
    """On-Demand primary and core fleets (lowest price across several types) and a task fleet of
    15 Spot types weighted by vCPU, price-capacity-optimized, switching to On-Demand after 60
    minutes without Spot capacity; auto-termination after one idle hour."""
    task_types = diversified_instance_types(
        min_vcpu=4, max_vcpu=16, count=15, architecture=Architecture.X86_64, min_generation=5
    )
    lowest_price = OnDemandSpec(OnDemandAllocationStrategy.LOWEST_PRICE)
    return ClusterSpec(
        name=name,
        applications=("Hadoop", "Spark"),
        primary_fleet=InstanceFleetSpec.primary(
            ["m6i.xlarge", "m5.xlarge", "m7i.xlarge"], on_demand=lowest_price
        ),
        core_fleet=InstanceFleetSpec.core(
            vcpu_weighted("m6i.2xlarge", "m5.2xlarge", "m7i.2xlarge", "m6a.2xlarge"),
            on_demand_units=16,
            on_demand=lowest_price,
        ),
        task_fleets=(
            InstanceFleetSpec.task(
                vcpu_weighted(task_types),
                spot_units=task_vcpus,
                spot=SpotSpec(
                    timeout_action=SpotTimeoutAction.SWITCH_TO_ON_DEMAND,
                    timeout_minutes=60,
                    allocation_strategy=SpotAllocationStrategy.PRICE_CAPACITY_OPTIMIZED,
                ),
            ),
        ),
        idle_timeout_seconds=3600,
        configurations=(_SPARK_DEFAULTS,),
    )


class _ClusterStack(Stack):
    """A cluster stack: the subclass names its default spec and description."""

    _default_spec: Callable[[], ClusterSpec]
    _description: str

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        platform: IEmrPlatform | None = None,
        spec: ClusterSpec | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("description", self._description)
        super().__init__(scope, id, **kwargs)
        if platform is None:
            platform = EmrPlatform(self, "Platform")
        else:
            raise_if_problems(f"{type(self).__name__} '{id}'", check_platform(self, "platform", platform))
        self.platform = platform
        spec = spec or type(self)._default_spec()
        self.cluster = EmrCluster(self, "Cluster", platform=platform, spec=spec)
        CfnOutput(
            self, "ClusterId", value=self.cluster.cluster_id, description=f"EMR cluster id of {spec.name}"
        )
        CfnOutput(
            self,
            "PrimaryDnsName",
            value=self.cluster.primary_dns_name,
            description="Private DNS name of the primary node",
        )


class GravitonSparkClusterStack(_ClusterStack):
    """A Spark cluster on Graviton fleets only, with managed scaling and idle auto-termination.

    Args:
        scope: parent construct.
        id: stack id.
        platform: the shared platform (e.g. ``PlatformBaseStack(...).platform``), same account
            and region. Default: a platform of its own in this stack.
        spec: replaces :func:`graviton_spark_spec`. Default: ``graviton_spark_spec()``.
        **kwargs: ``Stack`` props (``env``, ``description``, ...).
    """

    _default_spec = staticmethod(graviton_spark_spec)
    _description = "cdk-emr-patterns: Spark on Graviton instance fleets (pattern 2)"


class SpotFleetClusterStack(_ClusterStack):
    """A cluster with On-Demand primary/core fleets and a diversified Spot task fleet.

    Args:
        scope: parent construct.
        id: stack id.
        platform: the shared platform (e.g. ``PlatformBaseStack(...).platform``), same account
            and region. Default: a platform of its own in this stack.
        spec: replaces :func:`spot_fleet_spec`. Default: ``spot_fleet_spec()``.
        **kwargs: ``Stack`` props (``env``, ``description``, ...).
    """

    _default_spec = staticmethod(spot_fleet_spec)
    _description = "cdk-emr-patterns: instance fleets with a diversified Spot task fleet (pattern 7)"
