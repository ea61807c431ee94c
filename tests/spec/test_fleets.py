"""Fleet, group, instance-type, Spot/On-Demand and EBS specs: rendering and bad input."""

from __future__ import annotations

import dataclasses

import pytest

from emr_patterns.spec import (
    EbsVolume,
    InstanceFleetSpec,
    InstanceGroupSpec,
    InstanceTypeSpec,
    MarketType,
    NodeRole,
    OnDemandAllocationStrategy,
    OnDemandSpec,
    SpotAllocationStrategy,
    SpotSpec,
    SpotTimeoutAction,
    diversified_instance_types,
    instance_type,
    vcpu_weighted,
)

ARM_TYPES = diversified_instance_types(min_vcpu=4, max_vcpu=64, count=30)


def test_vcpu_weighted_uses_catalog_vcpus() -> None:
    specs = vcpu_weighted("m7g.xlarge", "r6g.4xlarge", ["c8g.2xlarge"])
    assert [(s.instance_type, s.weighted_capacity) for s in specs] == [
        ("m7g.xlarge", 4),
        ("r6g.4xlarge", 16),
        ("c8g.2xlarge", 8),
    ]
    assert all(s.weighted_by_vcpu for s in specs)


def test_task_fleet_renders_spot_spec_with_defaults() -> None:
    fleet = InstanceFleetSpec.task(vcpu_weighted(ARM_TYPES[:10]), spot_units=64)
    api = fleet.to_api()
    assert api["InstanceFleetType"] == "TASK"
    assert api["TargetSpotCapacity"] == 64 and api["TargetOnDemandCapacity"] == 0
    assert api["LaunchSpecifications"]["SpotSpecification"] == {
        "TimeoutAction": "SWITCH_TO_ON_DEMAND",
        "TimeoutDurationMinutes": 60,
        "AllocationStrategy": "price-capacity-optimized",
    }
    assert "InstanceFleetType" not in fleet.to_cfn()
    assert fleet.max_instance_types == 30


def test_every_allocation_strategy_renders() -> None:
    for strategy in SpotAllocationStrategy:
        types = [InstanceTypeSpec("m7g.xlarge", priority=0), InstanceTypeSpec("m6g.xlarge", priority=1)]
        fleet = InstanceFleetSpec.task(types, spot_units=2, spot=SpotSpec(allocation_strategy=strategy))
        assert (
            fleet.to_api()["LaunchSpecifications"]["SpotSpecification"]["AllocationStrategy"]
            == strategy.value
        )
    for od in OnDemandAllocationStrategy:
        types = [InstanceTypeSpec("m7g.xlarge", priority=0), InstanceTypeSpec("m6g.xlarge", priority=1)]
        fleet = InstanceFleetSpec.core(types, on_demand_units=2, on_demand=OnDemandSpec(od))
        assert fleet.to_api()["LaunchSpecifications"]["OnDemandSpecification"] == {
            "AllocationStrategy": od.value
        }


def test_primary_fleet_and_groups_render() -> None:
    primary = InstanceFleetSpec.primary(["m7g.xlarge", "m6g.xlarge"], nodes=3)
    api = primary.to_api()
    assert api["InstanceFleetType"] == "MASTER" and api["TargetOnDemandCapacity"] == 3
    assert "LaunchSpecifications" not in api
    group = InstanceGroupSpec(NodeRole.CORE, "r7g.2xlarge", 4, ebs_volumes=(EbsVolume(256, iops=4000),))
    assert group.to_api() == {
        "InstanceRole": "CORE",
        "Name": "Core",
        "Market": "ON_DEMAND",
        "InstanceType": "r7g.2xlarge",
        "InstanceCount": 4,
        "EbsConfiguration": {
            "EbsBlockDeviceConfigs": [
                {
                    "VolumeSpecification": {"VolumeType": "gp3", "SizeInGB": 256, "Iops": 4000},
                    "VolumesPerInstance": 1,
                }
            ],
            "EbsOptimized": True,
        },
    }


# ---- bad input -----------------------------------------------------------------------------------


def test_spot_primary_fleet(raises_problem) -> None:
    raises_problem(
        lambda: InstanceFleetSpec(NodeRole.PRIMARY, ("m7g.xlarge",), target_spot_capacity=1),
        prop="primary_fleet.target_spot_capacity",
        value=1,
        says="Spot",
    )


def test_spot_primary_group(raises_problem) -> None:
    raises_problem(
        lambda: InstanceGroupSpec(NodeRole.PRIMARY, "m7g.xlarge", 1, market=MarketType.SPOT),
        prop="instance_groups.market",
        value="SPOT",
        says="Spot",
    )


@pytest.mark.parametrize("nodes", [0, 2, 4])
def test_primary_node_count_is_one_or_three(nodes: int, raises_problem) -> None:
    raises_problem(
        lambda: InstanceFleetSpec.primary(["m7g.xlarge"], nodes=nodes),
        prop="primary_fleet.target_on_demand_capacity",
        value=nodes,
        says="1 or 3",
    )
    raises_problem(
        lambda: InstanceGroupSpec(NodeRole.PRIMARY, "m7g.xlarge", nodes),
        prop="instance_groups.instance_count",
        value=nodes,
    )


def test_primary_fleet_weights_must_be_one(raises_problem) -> None:
    raises_problem(
        lambda: InstanceFleetSpec.primary(vcpu_weighted("m7g.xlarge")),
        prop="primary_fleet.instance_types",
        says="weighted_capacity 1",
    )


@pytest.mark.parametrize("action", ["SWITCH_TO_ONDEMAND", "terminate_cluster", "TERMINATE"])
def test_timeout_action_typo(action: str, raises_problem) -> None:
    raises_problem(lambda: SpotSpec(timeout_action=action), prop="spot.timeout_action", value=action)


@pytest.mark.parametrize("minutes", [0, 4, 1441, 10_000])
def test_timeout_duration_outside_5_to_1440(minutes: int, raises_problem) -> None:
    raises_problem(
        lambda: SpotSpec(timeout_minutes=minutes), prop="spot.timeout_minutes", value=minutes, says="5-1,440"
    )


@pytest.mark.parametrize("minutes", [5, 60, 1440])
def test_timeout_duration_bounds_are_accepted(minutes: int) -> None:
    assert (
        SpotSpec(SpotTimeoutAction.TERMINATE_CLUSTER, minutes).to_api()["TimeoutDurationMinutes"] == minutes
    )


def test_allocation_strategy_typos(raises_problem) -> None:
    raises_problem(
        lambda: SpotSpec(allocation_strategy="capacity_optimized"),
        prop="spot.allocation_strategy",
        value="capacity_optimized",
    )
    raises_problem(lambda: OnDemandSpec("cheapest"), prop="on_demand.allocation_strategy", value="cheapest")


def test_more_instance_types_than_emr_allows_with_strategy(raises_problem) -> None:
    names = diversified_instance_types(min_vcpu=4, max_vcpu=64, count=30)
    extra = diversified_instance_types(min_vcpu=4, max_vcpu=64, architecture="x86_64", count=1)
    raises_problem(
        lambda: InstanceFleetSpec.task([*names, *extra], spot_units=10),
        prop="task_fleets.instance_types",
        value="31 types",
        says="at most 30",
    )
    assert len(InstanceFleetSpec.task(names, spot_units=10).instance_types) == 30


def test_more_instance_types_than_emr_allows_without_strategy(raises_problem) -> None:
    names = ARM_TYPES[:6]
    err = raises_problem(
        lambda: InstanceFleetSpec.task(names, spot_units=10, spot=SpotSpec(allocation_strategy=None)),
        prop="task_fleets.instance_types",
        value="6 types",
        says="at most 5",
    )
    assert "allocation strategy" in err.problems[0]
    assert (
        InstanceFleetSpec.task(
            names[:5], spot_units=10, spot=SpotSpec(allocation_strategy=None)
        ).max_instance_types
        == 5
    )


def test_weighted_capacity_not_matching_catalog_under_vcpu_weighted(raises_problem) -> None:
    good = vcpu_weighted("m7g.2xlarge")[0]
    wrong = dataclasses.replace
    raises_problem(
        lambda: wrong(good, weighted_capacity=4),
        prop="instance_type.weighted_capacity",
        value=4,
        says="8 vCPUs",
    )
    raises_problem(
        lambda: InstanceTypeSpec("r6g.xlarge", weighted_capacity=1, weighted_by_vcpu=True),
        prop="instance_type.weighted_capacity",
        value=1,
        says="4 vCPUs",
    )


def test_vcpu_weighted_rejects_types_outside_the_catalog(raises_problem) -> None:
    raises_problem(
        lambda: vcpu_weighted("m7g.xlarge", "x9zz.xlarge"), prop="instance_types[1]", value="x9zz.xlarge"
    )


def test_fleet_mixing_vcpu_and_other_weights(raises_problem) -> None:
    raises_problem(
        lambda: InstanceFleetSpec.task(
            [*vcpu_weighted("m7g.xlarge"), InstanceTypeSpec("m6g.xlarge", 2)], spot_units=8
        ),
        prop="task_fleets.instance_types",
        value="m6g.xlarge",
        says="mixes vCPU-weighted",
    )


def test_prioritized_strategies_need_priorities(raises_problem) -> None:
    raises_problem(
        lambda: InstanceFleetSpec.core(
            ["m7g.xlarge"], on_demand=OnDemandSpec(OnDemandAllocationStrategy.PRIORITIZED)
        ),
        prop="core_fleet.instance_types",
        says="priority",
    )
    raises_problem(
        lambda: InstanceFleetSpec.task(
            ["m7g.xlarge"],
            spot_units=1,
            spot=SpotSpec(allocation_strategy=SpotAllocationStrategy.CAPACITY_OPTIMIZED_PRIORITIZED),
        ),
        prop="task_fleets.instance_types",
        says="priority",
    )


def test_fleet_structure_problems(raises_problem) -> None:
    raises_problem(
        lambda: InstanceFleetSpec.task([], spot_units=1), prop="task_fleets.instance_types", says="empty"
    )
    raises_problem(
        lambda: InstanceFleetSpec.task(["m7g.xlarge", "m7g.xlarge"], spot_units=1),
        prop="task_fleets.instance_types",
        says="twice",
    )
    raises_problem(
        lambda: InstanceFleetSpec.core(["m7g.xlarge"], on_demand_units=0), prop="core_fleet.target_*_capacity"
    )
    raises_problem(
        lambda: InstanceFleetSpec(NodeRole.TASK, ("m7g.xlarge",), target_spot_capacity=2, spot=None),
        prop="task_fleets.spot",
        says="Spot specification",
    )
    raises_problem(
        lambda: InstanceFleetSpec("WORKER", ("m7g.xlarge",)), prop="task_fleets.role", value="WORKER"
    )  # type: ignore[arg-type]


def test_instance_type_spec_problems(raises_problem) -> None:
    raises_problem(lambda: InstanceTypeSpec("m7g xlarge"), prop="instance_type", value="m7g xlarge")
    raises_problem(
        lambda: InstanceTypeSpec("m7g.xlarge", weighted_capacity=0), prop="instance_type.weighted_capacity"
    )
    raises_problem(
        lambda: InstanceTypeSpec("m7g.xlarge", bid_price="0.1", bid_price_as_percentage_of_on_demand=50),
        prop="instance_type.bid_price",
        says="together",
    )
    raises_problem(
        lambda: InstanceTypeSpec("m7g.xlarge", bid_price_as_percentage_of_on_demand=0),
        prop="instance_type.bid_price_as_percentage_of_on_demand",
    )
    raises_problem(lambda: InstanceTypeSpec("m7g.xlarge", priority=-1), prop="instance_type.priority")
    raises_problem(
        lambda: InstanceTypeSpec("m7g.xlarge", custom_ami_id="ami-xyz"), prop="instance_type.custom_ami_id"
    )


def test_group_problems(raises_problem) -> None:
    raises_problem(
        lambda: InstanceGroupSpec(NodeRole.CORE, "m7g.xlarge", 2, bid_price="0.2"),
        prop="instance_groups.bid_price",
    )
    raises_problem(
        lambda: InstanceGroupSpec(NodeRole.CORE, "m7g.xlarge", 0), prop="instance_groups.instance_count"
    )
    raises_problem(
        lambda: InstanceGroupSpec(NodeRole.TASK, "m7g.xlarge", 1, market="RESERVED"),
        prop="instance_groups.market",
    )
    raises_problem(lambda: InstanceGroupSpec(NodeRole.TASK, "bad", 1), prop="instance_groups.instance_type")


@pytest.mark.parametrize(
    ("volume", "prop"),
    [
        (lambda: EbsVolume(0), "ebs_volume.size_gib"),
        (lambda: EbsVolume(100, "gp4"), "ebs_volume.volume_type"),
        (lambda: EbsVolume(100, "io2"), "ebs_volume.iops"),
        (lambda: EbsVolume(100, "gp3", iops=100), "ebs_volume.iops"),
        (lambda: EbsVolume(100, "gp2", throughput_mibps=200), "ebs_volume.throughput_mibps"),
        (lambda: EbsVolume(100, "gp3", throughput_mibps=2000), "ebs_volume.throughput_mibps"),
        (lambda: EbsVolume(100, volumes_per_instance=0), "ebs_volume.volumes_per_instance"),
    ],
)
def test_ebs_volume_problems(volume, prop: str, raises_problem) -> None:
    raises_problem(volume, prop=prop)


def test_catalog_instance_lookup_used_by_vcpu_weighted() -> None:
    entry = instance_type("c7g.4xlarge")
    assert entry is not None
    assert vcpu_weighted("c7g.4xlarge")[0].weighted_capacity == entry.vcpu == 16
