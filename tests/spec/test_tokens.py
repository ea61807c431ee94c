"""CDK tokens: one detector for every layer, and number tokens accepted by every numeric check.

Each validated number prop gets a number token (``Token.as_number(Fn.ref(...))``): the spec must
not judge it, and both renderers must pass it through so it resolves to the reference.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from typing import Any

import jsii
import pytest
from aws_cdk import Fn, INumberProducer, IResolveContext, Lazy, Stack, Token

from emr_patterns import _tokens, _validation
from emr_patterns.spec import (
    ClusterSpec,
    EbsVolume,
    InstanceFleetSpec,
    InstanceGroupSpec,
    InstanceTypeSpec,
    ManagedScalingSpec,
    NodeRole,
    PlatformBindings,
    SpotSpec,
    external_hive_metastore,
    hive_acid,
)

from .conftest import SECRET_ARN


def number(name: str) -> float:
    """A number token standing for the template parameter ``name``."""
    return Token.as_number(Fn.ref(name))


@jsii.implements(INumberProducer)
class _Five:
    def produce(self, context: IResolveContext) -> float:
        return 5


# ---- the detector --------------------------------------------------------------------------------


def test_is_unresolved_knows_string_number_and_list_tokens() -> None:
    assert _tokens.is_unresolved(Fn.ref("Name"))
    assert _tokens.is_unresolved(number("Port"))
    assert _tokens.is_unresolved(Lazy.number(_Five()))
    assert _tokens.is_unresolved(Token.as_list(Fn.ref("Subnets")))
    assert _tokens.is_unresolved("${Token[TOKEN.123]}")
    for plain in (None, True, 0, 3306, 1.5, -1e300, "", "hive", ["a", "b"], ("a",), {"a": 1}, object()):
        assert not _tokens.is_unresolved(plain), plain


def test_validation_layer_uses_the_same_detector() -> None:
    assert _validation.is_unresolved(number("Size"))
    assert _validation.is_unresolved(Fn.ref("Bucket"))
    assert not _validation.is_unresolved(10)


def test_without_cdk_only_token_strings_exist(monkeypatch: pytest.MonkeyPatch) -> None:
    encoded = number("Port")
    monkeypatch.delitem(sys.modules, "aws_cdk")
    # A number token can only be made by aws_cdk; with it unloaded every float is a plain value.
    assert not _tokens.is_unresolved(encoded)
    assert _tokens.is_unresolved("${Token[TOKEN.7]}")
    assert _tokens.token_str(3306) == "3306"


def test_token_str_turns_a_number_token_into_a_reference() -> None:
    text = f"host:{_tokens.token_str(number('Port'))}/db"
    assert Stack().resolve(text) == {"Fn::Join": ["", ["host:", {"Ref": "Port"}, "/db"]]}
    assert _tokens.token_str(3306) == "3306"
    assert _tokens.token_str("x") == "x"


# ---- every numeric prop takes a number token -----------------------------------------------------

PRIMARY = InstanceFleetSpec.primary(["m7g.xlarge"])
CORE = InstanceFleetSpec.core(["r7g.2xlarge"], on_demand_units=2)


def _core_type(**kwargs: Any) -> ClusterSpec:
    return ClusterSpec(
        name="t",
        primary_fleet=PRIMARY,
        core_fleet=InstanceFleetSpec.core([InstanceTypeSpec("r7g.2xlarge", **kwargs)], on_demand_units=2),
    )


def _ebs(**kwargs: Any) -> ClusterSpec:
    return _core_type(ebs_volumes=(EbsVolume(**{"size_gib": 64, **kwargs}),))


def _scaling(**kwargs: Any) -> ClusterSpec:
    limits: dict[str, Any] = {"min_units": 2, "max_units": 20, **kwargs}
    return ClusterSpec(
        name="t", primary_fleet=PRIMARY, core_fleet=CORE, managed_scaling=ManagedScalingSpec(**limits)
    )


def _groups(primary: Any = 1, core: Any = 2) -> ClusterSpec:
    return ClusterSpec(
        name="t",
        instance_groups=(
            InstanceGroupSpec(NodeRole.PRIMARY, "m7g.xlarge", primary),
            InstanceGroupSpec(NodeRole.CORE, "r7g.2xlarge", core),
        ),
    )


CORE_TYPE = ("Instances", "CoreInstanceFleet", "InstanceTypeConfigs", 0)
EBS = (*CORE_TYPE, "EbsConfiguration", "EbsBlockDeviceConfigs", 0)
LIMITS = ("ManagedScalingPolicy", "ComputeLimits")

# prop -> (spec built with the token, path of the token in the AWS::EMR::Cluster properties)
CASES: dict[str, tuple[Callable[[float], ClusterSpec], tuple[str | int, ...]]] = {
    "idle_timeout_seconds": (
        lambda t: ClusterSpec(name="t", primary_fleet=PRIMARY, core_fleet=CORE, idle_timeout_seconds=t),
        ("AutoTerminationPolicy", "IdleTimeout"),
    ),
    "step_concurrency_level": (
        lambda t: ClusterSpec(name="t", primary_fleet=PRIMARY, core_fleet=CORE, step_concurrency_level=t),
        ("StepConcurrencyLevel",),
    ),
    "ebs_root_volume_size_gib": (
        lambda t: ClusterSpec(name="t", primary_fleet=PRIMARY, core_fleet=CORE, ebs_root_volume_size_gib=t),
        ("EbsRootVolumeSize",),
    ),
    "managed_scaling.min_units": (lambda t: _scaling(min_units=t), (*LIMITS, "MinimumCapacityUnits")),
    "managed_scaling.max_units": (lambda t: _scaling(max_units=t), (*LIMITS, "MaximumCapacityUnits")),
    "managed_scaling.max_on_demand_units": (
        lambda t: _scaling(max_on_demand_units=t),
        (*LIMITS, "MaximumOnDemandCapacityUnits"),
    ),
    "managed_scaling.max_core_units": (
        lambda t: _scaling(max_core_units=t),
        (*LIMITS, "MaximumCoreCapacityUnits"),
    ),
    "managed_scaling.utilization_performance_index": (
        lambda t: _scaling(scaling_strategy="ADVANCED", utilization_performance_index=t),
        ("ManagedScalingPolicy", "UtilizationPerformanceIndex"),
    ),
    "ebs_volume.size_gib": (lambda t: _ebs(size_gib=t), (*EBS, "VolumeSpecification", "SizeInGB")),
    "ebs_volume.iops": (lambda t: _ebs(iops=t), (*EBS, "VolumeSpecification", "Iops")),
    "ebs_volume.throughput_mibps": (
        lambda t: _ebs(throughput_mibps=t),
        (*EBS, "VolumeSpecification", "Throughput"),
    ),
    "ebs_volume.volumes_per_instance": (lambda t: _ebs(volumes_per_instance=t), (*EBS, "VolumesPerInstance")),
    "instance_type.weighted_capacity": (
        lambda t: _core_type(weighted_capacity=t),
        (*CORE_TYPE, "WeightedCapacity"),
    ),
    "instance_type.bid_price_as_percentage_of_on_demand": (
        lambda t: _core_type(bid_price_as_percentage_of_on_demand=t),
        (*CORE_TYPE, "BidPriceAsPercentageOfOnDemandPrice"),
    ),
    "instance_type.priority": (lambda t: _core_type(priority=t), (*CORE_TYPE, "Priority")),
    "spot.timeout_minutes": (
        lambda t: ClusterSpec(
            name="t",
            primary_fleet=PRIMARY,
            core_fleet=CORE,
            task_fleets=(
                InstanceFleetSpec.task(["m7g.2xlarge"], spot_units=4, spot=SpotSpec(timeout_minutes=t)),
            ),
        ),
        (
            "Instances",
            "TaskInstanceFleets",
            0,
            "LaunchSpecifications",
            "SpotSpecification",
            "TimeoutDurationMinutes",
        ),
    ),
    "primary_fleet.target_on_demand_capacity": (
        lambda t: ClusterSpec(name="t", primary_fleet=InstanceFleetSpec.primary(["m7g.xlarge"], nodes=t)),
        ("Instances", "MasterInstanceFleet", "TargetOnDemandCapacity"),
    ),
    "core_fleet.target_on_demand_capacity": (
        lambda t: ClusterSpec(
            name="t",
            primary_fleet=PRIMARY,
            core_fleet=InstanceFleetSpec.core(["r7g.2xlarge"], on_demand_units=t),
        ),
        ("Instances", "CoreInstanceFleet", "TargetOnDemandCapacity"),
    ),
    "core_fleet.target_spot_capacity": (
        lambda t: ClusterSpec(
            name="t",
            primary_fleet=PRIMARY,
            core_fleet=InstanceFleetSpec.core(["r7g.2xlarge"], on_demand_units=0, spot_units=t),
        ),
        ("Instances", "CoreInstanceFleet", "TargetSpotCapacity"),
    ),
    "task_fleets.target_spot_capacity": (
        lambda t: ClusterSpec(
            name="t",
            primary_fleet=PRIMARY,
            core_fleet=CORE,
            task_fleets=(InstanceFleetSpec.task(["m7g.2xlarge"], spot_units=t),),
        ),
        ("Instances", "TaskInstanceFleets", 0, "TargetSpotCapacity"),
    ),
    "instance_groups[PRIMARY].instance_count": (
        lambda t: _groups(primary=t),
        ("Instances", "MasterInstanceGroup", "InstanceCount"),
    ),
    "instance_groups[CORE].instance_count": (
        lambda t: _groups(core=t),
        ("Instances", "CoreInstanceGroup", "InstanceCount"),
    ),
}


def _at(tree: Any, path: tuple[str | int, ...]) -> Any:
    for step in path:
        tree = tree[step]
    return tree


@pytest.mark.parametrize("prop", sorted(CASES))
def test_number_token_passes_validation_and_renders(prop: str, bindings: PlatformBindings) -> None:
    build, path = CASES[prop]
    spec = build(number("Value"))
    bindings = dataclasses.replace(bindings, subnet_ids=bindings.subnet_ids[:1])  # groups take one
    props = Stack().resolve(spec.to_cfn_cluster_props(bindings))
    assert _at(props, path) == {"Ref": "Value"}
    request = Stack().resolve(spec.to_run_job_flow_request(bindings))
    assert _count_refs(request, "Value") == _count_refs(props, "Value") == 1


def _count_refs(tree: Any, name: str) -> int:
    if tree == {"Ref": name}:
        return 1
    if isinstance(tree, dict):
        return sum(_count_refs(v, name) for v in tree.values())
    if isinstance(tree, list):
        return sum(_count_refs(v, name) for v in tree)
    return 0


def test_token_capacities_still_render_their_launch_specifications(bindings: PlatformBindings) -> None:
    # A number token is encoded as a large negative double: it must not read as "no capacity".
    spec = CASES["core_fleet.target_spot_capacity"][0](number("Spot"))
    core = spec.to_cfn_cluster_props(bindings)["Instances"]["CoreInstanceFleet"]
    assert "SpotSpecification" in core["LaunchSpecifications"]
    spec = CASES["core_fleet.target_on_demand_capacity"][0](number("OnDemand"))
    core = spec.to_cfn_cluster_props(bindings)["Instances"]["CoreInstanceFleet"]
    assert "OnDemandSpecification" in core["LaunchSpecifications"]


def test_metastore_port_token_becomes_part_of_the_jdbc_url() -> None:
    (config,) = external_hive_metastore(
        host="db.internal", password_secret_arn=SECRET_ARN, port=number("Port")
    )
    url = Stack().resolve(config.properties["javax.jdo.option.ConnectionURL"])
    assert url == {
        "Fn::Join": [
            "",
            [
                "jdbc:mysql://db.internal:",
                {"Ref": "Port"},
                "/hive?createDatabaseIfNotExist=true&useSSL=true&trustServerCertificate=false",
            ],
        ]
    }


def test_hive_acid_worker_threads_token_renders_as_a_reference() -> None:
    (config,) = hive_acid(compactor_worker_threads=number("Threads"))
    assert Stack().resolve(config.properties["hive.compactor.worker.threads"]) == {"Ref": "Threads"}
