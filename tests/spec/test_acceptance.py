"""Acceptance: every spec the validators accept renders a valid RunJobFlow and AWS::EMR::Cluster.

Hypothesis fuzzes fleet specs (valid and invalid values alike). A spec either raises
``EmrPatternsValidationError`` whose every problem names a fix, or renders a ``RunJobFlow`` request
that botocore's bundled EMR model accepts. A sample of accepted specs is also linted with cfn-lint.
Nothing is fetched from the network.
"""

from __future__ import annotations

import json
import warnings
from functools import cache
from typing import Any

import botocore.exceptions
import botocore.session
import botocore.validate
import pytest
from cfnlint.api import lint
from cfnlint.config import ManualArgs
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

from emr_patterns.errors import EmrPatternsValidationError
from emr_patterns.spec import (
    Architecture,
    ClusterSpec,
    EbsVolume,
    InstanceFleetSpec,
    InstanceGroupSpec,
    InstanceTypeSpec,
    ManagedScalingSpec,
    MarketType,
    NodeRole,
    OnDemandSpec,
    PlatformBindings,
    SpotAllocationStrategy,
    SpotSpec,
    SpotTimeoutAction,
    catalog,
    external_hive_metastore,
    glue_data_catalog,
    hbase_on_s3,
    hive_acid,
    vcpu_weighted,
)

from .conftest import KMS_ARN, SECRET_ARN

BINDINGS = PlatformBindings(
    service_role="EmrServiceRole",
    instance_profile="EmrInstanceProfile",
    security_configuration="emr-patterns-secure",
    log_uri="s3://emr-logs-111122223333/clusters/",
    subnet_ids=("subnet-0aaa1111", "subnet-0bbb2222"),
    log_encryption_kms_key_id=KMS_ARN,
    emr_managed_primary_security_group="sg-0primary",
    emr_managed_core_security_group="sg-0core",
    service_access_security_group="sg-0service",
)
ONE_SUBNET = PlatformBindings(**{**BINDINGS.__dict__, "subnet_ids": ("subnet-0aaa1111",)})

ARM = sorted(n for n, e in catalog().items() if e.architecture is Architecture.ARM64)
X86 = sorted(n for n, e in catalog().items() if e.architecture is Architecture.X86_64)
RELEASES = [
    "emr-7.13.0",
    "emr-7.0.0",
    "emr-6.15.0",
    "emr-6.12.0",
    "emr-6.10.0",
    "emr-6.9.1",
    "emr-6.1.0",
    "emr-5.36.2",
]


@cache
def run_job_flow_shape() -> Any:
    model = botocore.session.get_session().get_service_model("emr")
    return model.operation_model("RunJobFlow").input_shape


def enum_violations(value: Any, shape: Any, path: str = "RunJobFlow") -> list[str]:
    """Enum and range violations, which botocore's client-side validator does not check."""
    out: list[str] = []
    if shape.type_name == "structure" and isinstance(value, dict):
        for key, item in value.items():
            if key in shape.members:
                out.extend(enum_violations(item, shape.members[key], f"{path}.{key}"))
    elif shape.type_name == "list" and isinstance(value, list):
        for i, item in enumerate(value):
            out.extend(enum_violations(item, shape.member, f"{path}[{i}]"))
    elif shape.type_name == "map" and isinstance(value, dict):
        for item in value.values():
            out.extend(enum_violations(item, shape.value, f"{path}{{}}"))
    else:
        allowed = getattr(shape, "enum", None)
        if allowed and value not in allowed:
            out.append(f"{path}={value!r} not in {allowed}")
        top = shape.metadata.get("max")
        if top is not None and isinstance(value, (int, float)) and value > top:
            out.append(f"{path}={value!r} above {top}")
    return out


def assert_botocore_valid(request: dict[str, Any]) -> None:
    """Valid against botocore's bundled EMR model: types, required members, minimums and enums."""
    botocore.validate.validate_parameters(request, run_job_flow_shape())
    assert enum_violations(request, run_job_flow_shape()) == []


def cfn_lint_findings(props: dict[str, Any]) -> list[str]:
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {
            "Cluster": {
                "Type": "AWS::EMR::Cluster",
                "DeletionPolicy": "Delete",
                "UpdateReplacePolicy": "Delete",
                "Properties": props,
            }
        },
    }
    matches = lint(json.dumps(template), config=ManualArgs(regions=["us-east-1"]))
    return [f"{m.rule.id}: {m.message}" for m in matches]


# ---- strategies ------------------------------------------------------------------------------------


def mostly(valid: st.SearchStrategy[Any], *invalid: Any) -> st.SearchStrategy[Any]:
    """Valid values nine times in ten, else one of ``invalid`` (so both paths get exercised)."""
    return st.sampled_from([False] * 9 + [True]).flatmap(
        lambda bad: st.sampled_from(invalid) if bad and invalid else valid
    )


@st.composite
def type_specs(draw: st.DrawFn, names: list[str], *, max_types: int, primary: bool = False) -> list[Any]:
    chosen = draw(st.lists(st.sampled_from(names), min_size=1, max_size=max_types, unique=True))
    if not primary and draw(st.booleans()):
        return list(vcpu_weighted(chosen))
    prioritized = draw(st.booleans())
    specs: list[Any] = []
    for i, name in enumerate(chosen):
        if primary or draw(st.booleans()):
            specs.append(name)
            continue
        specs.append(
            InstanceTypeSpec(
                name,
                weighted_capacity=draw(st.integers(1, 64)),
                bid_price_as_percentage_of_on_demand=draw(st.none() | st.sampled_from([50.0, 80.0, 100.0])),
                priority=float(i) if prioritized else None,
                ebs_volumes=draw(st.sampled_from([(), (EbsVolume(64),), (EbsVolume(500, "st1"),)])),
            )
        )
    return specs


@st.composite
def spot_specs(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "timeout_action": draw(
            mostly(st.sampled_from([a.value for a in SpotTimeoutAction]), "SWITCH_TO_ONDEMAND")
        ),
        "timeout_minutes": draw(mostly(st.integers(5, 1440), 0, 4, 1441)),
        "allocation_strategy": draw(
            mostly(st.sampled_from([*(s.value for s in SpotAllocationStrategy), None]), "capacity_optimized")
        ),
    }


@st.composite
def fleet_cluster_kwargs(draw: st.DrawFn) -> dict[str, Any]:
    """Keyword arguments for a fleet ClusterSpec; may be invalid on purpose."""
    names = draw(mostly(st.sampled_from([ARM, X86]), ARM + X86))
    kwargs: dict[str, Any] = {
        "name": "fuzz",
        "release_label": draw(mostly(st.sampled_from(RELEASES[:3]), *RELEASES[3:])),
        "applications": draw(st.sampled_from([("Hadoop", "Spark"), ("Hadoop", "Hive"), ("Hadoop", "HBase")])),
        "primary": {
            "types": draw(type_specs(names, max_types=3, primary=True)),
            "nodes": draw(mostly(st.sampled_from([1, 1, 3]), 2, 0)),
        },
        "core": {
            "types": draw(type_specs(names, max_types=8)),
            "od": draw(mostly(st.integers(1, 20), 0)),
            "spot_units": draw(st.sampled_from([0, 0, 4])),
            "od_strategy": draw(mostly(st.just("lowest-price"), "prioritized")),
            "spot": draw(spot_specs()),
        },
        "task": None,
        "idle_timeout_seconds": draw(mostly(st.none() | st.integers(60, 604_800), 30, 604_801)),
        "termination_protected": draw(st.booleans()),
        "step_concurrency_level": draw(mostly(st.integers(1, 256), 0, 257)),
        "managed_scaling": draw(
            mostly(st.sampled_from([None, (1, 50, 10, 5), (2, 400, None, 8)]), (4, 2, None, None))
        ),
        "configurations": draw(
            mostly(st.sampled_from(["none", "acid_hms", "glue", "hbase_s3"]), "acid_glue")
        ),
    }
    if draw(st.booleans()):
        kwargs["task"] = {
            "types": draw(type_specs(names, max_types=32)),
            "spot_units": draw(st.integers(0, 500)),
            "od": draw(st.sampled_from([0, 0, 2])),
            "spot": draw(spot_specs()),
        }
    return kwargs


CONFIGS = {
    "none": (),
    "acid_hms": (
        hive_acid(),
        external_hive_metastore(host="hms.example.internal", password_secret_arn=SECRET_ARN),
    ),
    "glue": glue_data_catalog(),
    "acid_glue": (hive_acid(), glue_data_catalog()),
    "hbase_s3": hbase_on_s3(root_dir="s3://hbase-111122223333/root"),
}


def build(kwargs: dict[str, Any]) -> ClusterSpec:
    core = kwargs["core"]
    task = kwargs["task"]
    scaling = kwargs["managed_scaling"]
    return ClusterSpec(
        name=kwargs["name"],
        release_label=kwargs["release_label"],
        applications=kwargs["applications"],
        primary_fleet=InstanceFleetSpec.primary(kwargs["primary"]["types"], nodes=kwargs["primary"]["nodes"]),
        core_fleet=InstanceFleetSpec.core(
            core["types"],
            on_demand_units=core["od"],
            spot_units=core["spot_units"],
            on_demand=OnDemandSpec(core["od_strategy"]),
            spot=SpotSpec(**core["spot"]),
        ),
        task_fleets=()
        if task is None
        else (
            InstanceFleetSpec.task(
                task["types"],
                spot_units=task["spot_units"],
                on_demand_units=task["od"],
                spot=SpotSpec(**task["spot"]),
            ),
        ),
        idle_timeout_seconds=kwargs["idle_timeout_seconds"],
        termination_protected=kwargs["termination_protected"],
        step_concurrency_level=kwargs["step_concurrency_level"],
        managed_scaling=None if scaling is None else ManagedScalingSpec(*scaling),
        configurations=CONFIGS[kwargs["configurations"]],
    )


def build_or_none(kwargs: dict[str, Any]) -> ClusterSpec | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return build(kwargs)
        except EmrPatternsValidationError as err:
            assert err.problems and all("Fix: " in p for p in err.problems), err.problems
            return None


FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(fleet_cluster_kwargs())
def test_every_accepted_fleet_spec_renders_a_botocore_valid_run_job_flow(kwargs: dict[str, Any]) -> None:
    spec = build_or_none(kwargs)
    if spec is None:
        return
    request = spec.to_run_job_flow_request(BINDINGS)
    assert_botocore_valid(request)
    # invariants the validators promise
    assert {"Key": "for-use-with-amazon-emr-managed-policies", "Value": "true"} in request["Tags"]
    assert "Ec2KeyName" not in request["Instances"]
    fleets = request["Instances"]["InstanceFleets"]
    primary = fleets[0]
    assert primary["InstanceFleetType"] == "MASTER" and primary["TargetSpotCapacity"] == 0
    assert primary["TargetOnDemandCapacity"] in (1, 3)
    for fleet in fleets:
        limit = 30 if fleet.get("LaunchSpecifications") else 5
        assert len(fleet["InstanceTypeConfigs"]) <= limit
        spot = fleet.get("LaunchSpecifications", {}).get("SpotSpecification")
        if spot:
            assert spot["TimeoutAction"] in ("SWITCH_TO_ON_DEMAND", "TERMINATE_CLUSTER")
            assert 5 <= spot["TimeoutDurationMinutes"] <= 1440
    arches = {catalog()[c["InstanceType"]].architecture for f in fleets for c in f["InstanceTypeConfigs"]}
    assert len(arches) == 1
    if "AutoTerminationPolicy" in request:
        assert 60 <= request["AutoTerminationPolicy"]["IdleTimeout"] <= 604_800


def test_the_fuzzer_produces_accepted_specs() -> None:
    """Guard against a vacuous fuzz: the strategy does reach specs the validators accept."""
    found = find(
        fleet_cluster_kwargs(), lambda kw: build_or_none(kw) is not None, settings=settings(database=None)
    )
    assert build_or_none(found) is not None


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]
)
@given(fleet_cluster_kwargs())
def test_accepted_fleet_specs_pass_cfn_lint(kwargs: dict[str, Any]) -> None:
    spec = build_or_none(kwargs)
    if spec is None:
        return
    assert cfn_lint_findings(spec.to_cfn_cluster_props(BINDINGS)) == []


def canonical_specs() -> dict[str, ClusterSpec]:
    """One spec per documented use, built as docs/cluster-spec.md shows."""
    from emr_patterns.spec import diversified_instance_types

    graviton = ClusterSpec(
        name="graviton-spark",
        primary_fleet=InstanceFleetSpec.primary(["m7g.xlarge", "m6g.xlarge"]),
        core_fleet=InstanceFleetSpec.core(["r7g.2xlarge", "r6g.2xlarge"], on_demand_units=2),
        task_fleets=(
            InstanceFleetSpec.task(
                vcpu_weighted(
                    diversified_instance_types(min_vcpu=4, max_vcpu=32, memory_per_vcpu=8, count=15)
                ),
                spot_units=64,
            ),
        ),
        managed_scaling=ManagedScalingSpec(
            min_units=2, max_units=256, max_on_demand_units=8, max_core_units=8
        ),
        idle_timeout_seconds=3600,
    )
    spot = ClusterSpec(
        name="spot-task-fleet",
        release_label="emr-7.13.0",
        primary_fleet=InstanceFleetSpec.primary(["m6i.xlarge", "m7i.xlarge", "m5.xlarge"]),
        core_fleet=InstanceFleetSpec.core(["r6i.2xlarge", "r7i.2xlarge", "r5.2xlarge"], on_demand_units=2),
        task_fleets=(
            InstanceFleetSpec.task(
                vcpu_weighted(
                    diversified_instance_types(min_vcpu=4, max_vcpu=32, architecture="x86_64", count=15)
                ),
                spot_units=128,
                spot=SpotSpec(
                    SpotTimeoutAction.TERMINATE_CLUSTER, 60, SpotAllocationStrategy.CAPACITY_OPTIMIZED
                ),
            ),
        ),
        idle_timeout_seconds=1800,
    )
    hbase = ClusterSpec(
        name="hbase",
        applications=("Hadoop", "HBase", "ZooKeeper"),
        instance_groups=(
            InstanceGroupSpec(NodeRole.PRIMARY, "m7g.xlarge", 1),
            InstanceGroupSpec(NodeRole.CORE, "r7g.2xlarge", 3, ebs_volumes=(EbsVolume(512),)),
            InstanceGroupSpec(NodeRole.TASK, "r7g.2xlarge", 2, market=MarketType.SPOT),
        ),
        configurations=hbase_on_s3(root_dir="s3://hbase-111122223333/root"),
        termination_protected=True,
    )
    hive = ClusterSpec(
        name="hive-ha",
        applications=("Hadoop", "Hive", "Tez"),
        primary_fleet=InstanceFleetSpec.primary(["m7g.xlarge"], nodes=3),
        core_fleet=InstanceFleetSpec.core(["r7g.2xlarge", "r6g.2xlarge"], on_demand_units=3),
        configurations=(
            hive_acid(),
            external_hive_metastore(
                host="hms.cluster-abc.us-east-1.rds.amazonaws.com", password_secret_arn=SECRET_ARN
            ),
        ),
        termination_protected=True,
        multi_cluster=True,
    )
    return {"graviton": graviton, "spot": spot, "hbase": hbase, "hive": hive}


@pytest.mark.parametrize("use", ["graviton", "spot", "hbase", "hive"])
def test_documented_specs_render_valid_in_both_shapes(use: str) -> None:
    spec = canonical_specs()[use]
    bindings = ONE_SUBNET if not spec.uses_fleets else BINDINGS
    assert_botocore_valid(spec.to_run_job_flow_request(bindings))
    props = spec.to_cfn_cluster_props(bindings)
    assert cfn_lint_findings(props) == []
    assert props["SecurityConfiguration"] and props["LogUri"] and props["LogEncryptionKmsKeyId"]
    assert "Ec2KeyName" not in props["Instances"]
    assert props.get("AutoTerminationPolicy") or props["Instances"]["TerminationProtected"]


def test_botocore_check_catches_a_broken_request() -> None:
    """The oracle is not vacuous: botocore rejects a request outside its model."""
    request = canonical_specs()["graviton"].to_run_job_flow_request(BINDINGS)
    request["Instances"]["InstanceFleets"][0]["InstanceFleetType"] = "PRIMARY"
    assert enum_violations(request, run_job_flow_shape()) == [
        "RunJobFlow.Instances.InstanceFleets[0].InstanceFleetType='PRIMARY' not in ['MASTER', 'CORE', 'TASK']"
    ]
    request["Instances"]["Ec2KeyNames"] = "typo"
    with pytest.raises(botocore.exceptions.ParamValidationError):
        botocore.validate.validate_parameters(request, run_job_flow_shape())


def test_cfn_lint_check_catches_a_broken_template() -> None:
    props = canonical_specs()["graviton"].to_cfn_cluster_props(BINDINGS)
    props["Instances"]["InstanceFleets"] = []
    assert any("E3002" in f for f in cfn_lint_findings(props))
