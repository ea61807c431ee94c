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


def _fleets(**fields: Any) -> ClusterSpec:
    """A small fleet cluster; ``fields`` replace or add ClusterSpec fields."""
    return ClusterSpec(**{"name": "t", "primary_fleet": PRIMARY, "core_fleet": CORE, **fields})


def _core_type(**kwargs: Any) -> ClusterSpec:
    types = [InstanceTypeSpec("r7g.2xlarge", **kwargs)]
    return _fleets(core_fleet=InstanceFleetSpec.core(types, on_demand_units=2))


def _ebs(**kwargs: Any) -> ClusterSpec:
    return _core_type(ebs_volumes=(EbsVolume(**{"size_gib": 64, **kwargs}),))


def _scaling(**kwargs: Any) -> ClusterSpec:
    limits: dict[str, Any] = {"min_units": 2, "max_units": 20, **kwargs}
    return _fleets(managed_scaling=ManagedScalingSpec(**limits))


def _groups(primary: Any = 1, core: Any = 2) -> ClusterSpec:
    return ClusterSpec(
        name="t",
        instance_groups=(
            InstanceGroupSpec(NodeRole.PRIMARY, "m7g.xlarge", primary),
            InstanceGroupSpec(NodeRole.CORE, "r7g.2xlarge", core),
        ),
    )


def _primary(nodes: Any) -> ClusterSpec:
    return _fleets(primary_fleet=InstanceFleetSpec.primary(["m7g.xlarge"], nodes=nodes), core_fleet=None)


def _core(on_demand_units: Any = 0, spot_units: Any = 0) -> ClusterSpec:
    fleet = InstanceFleetSpec.core(["r7g.2xlarge"], on_demand_units=on_demand_units, spot_units=spot_units)
    return _fleets(core_fleet=fleet)


def _task(spot_units: Any = 4, timeout_minutes: Any = 60) -> ClusterSpec:
    spot = SpotSpec(timeout_minutes=timeout_minutes)
    return _fleets(task_fleets=(InstanceFleetSpec.task(["m7g.2xlarge"], spot_units=spot_units, spot=spot),))


INSTANCES, LIMITS = "Instances", ("ManagedScalingPolicy", "ComputeLimits")
CORE_TYPE = (INSTANCES, "CoreInstanceFleet", "InstanceTypeConfigs", 0)
EBS = (*CORE_TYPE, "EbsConfiguration", "EbsBlockDeviceConfigs", 0, "VolumeSpecification")
TASK = (INSTANCES, "TaskInstanceFleets", 0)

# (builder, the prop it takes the token as, path of the token in the AWS::EMR::Cluster properties)
Case = tuple[Callable[..., ClusterSpec], str, tuple[str | int, ...]]
CASES: dict[str, Case] = {
    "idle_timeout_seconds": (_fleets, "idle_timeout_seconds", ("AutoTerminationPolicy", "IdleTimeout")),
    "step_concurrency_level": (_fleets, "step_concurrency_level", ("StepConcurrencyLevel",)),
    "ebs_root_volume_size_gib": (_fleets, "ebs_root_volume_size_gib", ("EbsRootVolumeSize",)),
    "managed_scaling.min_units": (_scaling, "min_units", (*LIMITS, "MinimumCapacityUnits")),
    "managed_scaling.max_units": (_scaling, "max_units", (*LIMITS, "MaximumCapacityUnits")),
    "managed_scaling.max_on_demand_units": (
        _scaling,
        "max_on_demand_units",
        (*LIMITS, "MaximumOnDemandCapacityUnits"),
    ),
    "managed_scaling.max_core_units": (_scaling, "max_core_units", (*LIMITS, "MaximumCoreCapacityUnits")),
    "managed_scaling.utilization_performance_index": (
        _scaling,
        "utilization_performance_index",
        ("ManagedScalingPolicy", "UtilizationPerformanceIndex"),
    ),
    "ebs_volume.size_gib": (_ebs, "size_gib", (*EBS, "SizeInGB")),
    "ebs_volume.iops": (_ebs, "iops", (*EBS, "Iops")),
    "ebs_volume.throughput_mibps": (_ebs, "throughput_mibps", (*EBS, "Throughput")),
    "ebs_volume.volumes_per_instance": (_ebs, "volumes_per_instance", (*EBS[:-1], "VolumesPerInstance")),
    "instance_type.weighted_capacity": (_core_type, "weighted_capacity", (*CORE_TYPE, "WeightedCapacity")),
    "instance_type.bid_price_as_percentage_of_on_demand": (
        _core_type,
        "bid_price_as_percentage_of_on_demand",
        (*CORE_TYPE, "BidPriceAsPercentageOfOnDemandPrice"),
    ),
    "instance_type.priority": (_core_type, "priority", (*CORE_TYPE, "Priority")),
    "spot.timeout_minutes": (
        _task,
        "timeout_minutes",
        (*TASK, "LaunchSpecifications", "SpotSpecification", "TimeoutDurationMinutes"),
    ),
    "primary_fleet.target_on_demand_capacity": (
        _primary,
        "nodes",
        (INSTANCES, "MasterInstanceFleet", "TargetOnDemandCapacity"),
    ),
    "core_fleet.target_on_demand_capacity": (
        _core,
        "on_demand_units",
        (INSTANCES, "CoreInstanceFleet", "TargetOnDemandCapacity"),
    ),
    "core_fleet.target_spot_capacity": (
        _core,
        "spot_units",
        (INSTANCES, "CoreInstanceFleet", "TargetSpotCapacity"),
    ),
    "task_fleets.target_spot_capacity": (_task, "spot_units", (*TASK, "TargetSpotCapacity")),
    "instance_groups[PRIMARY].instance_count": (
        _groups,
        "primary",
        (INSTANCES, "MasterInstanceGroup", "InstanceCount"),
    ),
    "instance_groups[CORE].instance_count": (
        _groups,
        "core",
        (INSTANCES, "CoreInstanceGroup", "InstanceCount"),
    ),
}


def _with_token(prop: str, token: float) -> ClusterSpec:
    build, arg, _ = CASES[prop]
    return build(**{arg: token})


def _at(tree: Any, path: tuple[str | int, ...]) -> Any:
    for step in path:
        tree = tree[step]
    return tree


@pytest.mark.parametrize("prop", sorted(CASES))
def test_number_token_passes_validation_and_renders(prop: str, bindings: PlatformBindings) -> None:
    spec, path = _with_token(prop, number("Value")), CASES[prop][2]
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
    spec = _with_token("core_fleet.target_spot_capacity", number("Spot"))
    core = spec.to_cfn_cluster_props(bindings)["Instances"]["CoreInstanceFleet"]
    assert "SpotSpecification" in core["LaunchSpecifications"]
    spec = _with_token("core_fleet.target_on_demand_capacity", number("OnDemand"))
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
                "/hive?createDatabaseIfNotExist=true&permitMysqlScheme=true&useMysqlMetadata=true"
                "&useSSL=true&trustServerCertificate=false",
            ],
        ]
    }


def test_hive_acid_worker_threads_token_renders_as_a_reference() -> None:
    (config,) = hive_acid(compactor_worker_threads=number("Threads"))
    assert Stack().resolve(config.properties["hive.compactor.worker.threads"]) == {"Ref": "Threads"}
