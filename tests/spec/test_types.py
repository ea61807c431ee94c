"""Issue 15.4: a number or bool prop of the wrong type is named as a type error.

Before, ``idle_timeout_seconds="3600"`` was reported as "outside EMR's 60-604,800 seconds" and
``ebs_root_volume_size_gib="50"`` raised a bare ``TypeError`` from a comparison.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from emr_patterns.spec import (
    EbsVolume,
    InstanceFleetSpec,
    InstanceGroupSpec,
    InstanceTypeSpec,
    ManagedScalingSpec,
    NodeRole,
    SpotSpec,
)
from emr_patterns.spec.rules import field_type_problems, scalar_type_problem

from .conftest import small_spark

spark = small_spark


CASES: list[tuple[str, Callable[[], object], str, str]] = [
    ("idle timeout as str", lambda: spark(idle_timeout_seconds="3600"), "idle_timeout_seconds", "3600"),
    ("step concurrency as bool", lambda: spark(step_concurrency_level=True), "step_concurrency_level", "1"),
    ("root volume as str", lambda: spark(ebs_root_volume_size_gib="50"), "ebs_root_volume_size_gib", "50"),
    ("root volume as float", lambda: spark(ebs_root_volume_size_gib=50.0), "ebs_root_volume_size_gib", "50"),
    (
        "termination protection as str",
        lambda: spark(termination_protected="yes"),
        "termination_protected",
        "True",
    ),
    ("keep alive as int", lambda: spark(keep_alive_when_no_steps=1), "keep_alive_when_no_steps", "True"),
    ("hdfs heavy as str", lambda: spark(hdfs_heavy="false"), "hdfs_heavy", "False"),
    (
        "node replacement as str",
        lambda: spark(unhealthy_node_replacement="true"),
        "unhealthy_node_replacement",
        "True",
    ),
    ("scaling min as str", lambda: ManagedScalingSpec("2", 10), "managed_scaling.min_units", "2"),
    ("scaling max as float", lambda: ManagedScalingSpec(2, 10.5), "managed_scaling.max_units", "int"),
    ("ebs size as str", lambda: EbsVolume("100"), "ebs_volume.size_gib", "100"),
    ("ebs iops as bool", lambda: EbsVolume(100, iops=True), "ebs_volume.iops", "int"),
    ("weight as bool", lambda: InstanceTypeSpec("m7g.xlarge", True), "instance_type.weighted_capacity", "1"),
    (
        "bid percentage as str",
        lambda: InstanceTypeSpec("m7g.xlarge", bid_price_as_percentage_of_on_demand="80"),
        "instance_type.bid_price_as_percentage_of_on_demand",
        "80.0",
    ),
    ("spot timeout as str", lambda: SpotSpec(timeout_minutes="60"), "spot.timeout_minutes", "60"),
    (
        "fleet units as str",
        lambda: InstanceFleetSpec.core(["m7g.xlarge"], on_demand_units="2"),
        "core_fleet.target_on_demand_capacity",
        "2",
    ),
    (
        "primary nodes as float",
        lambda: InstanceFleetSpec.primary(["m7g.xlarge"], nodes=1.0),
        "primary_fleet.target_on_demand_capacity",
        "1",
    ),
    (
        "group count as str",
        lambda: InstanceGroupSpec(NodeRole.CORE, "m7g.xlarge", "2"),
        "instance_groups.instance_count",
        "2",
    ),
]


@pytest.mark.parametrize(("case", "build", "prop", "example"), CASES, ids=[c[0] for c in CASES])
def test_wrong_type_is_named_as_a_type_error(
    case: str, build, prop: str, example: str, raises_problem
) -> None:
    err = raises_problem(build, prop=prop, says="is required")
    line = next(p for p in err.problems if p.startswith(prop))
    assert "outside" not in line and example in line, line


def test_the_message_names_the_type_and_an_example(raises_problem) -> None:
    err = raises_problem(lambda: spark(idle_timeout_seconds="3600"), prop="idle_timeout_seconds")
    assert err.problems == [
        "idle_timeout_seconds='3600': is a str; an int is required (e.g. 3600). "
        "Fix: write 3600 without quotes, or None for the default"
    ]


def test_type_errors_are_collected_with_the_other_problems(raises_problem) -> None:
    err = raises_problem(
        lambda: spark(idle_timeout_seconds="3600", step_concurrency_level="2", release_label="emr-7"),
        prop="step_concurrency_level",
    )
    props = sorted(p.split("=", 1)[0] for p in err.problems)
    assert props == ["idle_timeout_seconds", "release_label", "step_concurrency_level"]


def test_right_types_and_none_pass() -> None:
    spec = spark(idle_timeout_seconds=3600, ebs_root_volume_size_gib=None, unhealthy_node_replacement=None)
    assert field_type_problems(spec, "") == []
    assert InstanceTypeSpec("m7g.xlarge", bid_price_as_percentage_of_on_demand=80).weighted_capacity == 1


def test_bool_is_not_an_int_and_int_is_not_a_bool() -> None:
    assert scalar_type_problem("n", True, int)
    assert scalar_type_problem("b", 1, bool)
    assert scalar_type_problem("f", False, float)
    assert not scalar_type_problem("f", 3, float)
    assert not scalar_type_problem("o", None, int, optional=True)
    assert scalar_type_problem("o", None, int)
