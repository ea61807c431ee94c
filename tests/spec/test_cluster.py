"""ClusterSpec: every cross-cutting bad input of issue 3, and both renderers."""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

import pytest

from emr_patterns.spec import (
    MANAGED_POLICY_TAG,
    BootstrapAction,
    ClusterSpec,
    Configuration,
    EmrPatternsWarning,
    InstanceFleetSpec,
    InstanceGroupSpec,
    ManagedScalingSpec,
    MarketType,
    NodeRole,
    PlatformBindings,
    ShellAccess,
    UnknownReleaseWarning,
    cluster_problems,
    cluster_warnings,
    diversified_instance_types,
    env_exports,
    external_hive_metastore,
    glue_data_catalog,
    hbase_on_s3,
    hive_acid,
    hiveserver2_ldap,
    vcpu_weighted,
)

from .conftest import SECRET_ARN

TASK_TYPES = diversified_instance_types(min_vcpu=4, max_vcpu=32, memory_per_vcpu=8, count=12)


def spark(**overrides: Any) -> ClusterSpec:
    """A valid Graviton Spark cluster; overrides replace fields."""
    fields: dict[str, Any] = {
        "name": "spark",
        "primary_fleet": InstanceFleetSpec.primary(["m7g.xlarge", "m6g.xlarge"]),
        "core_fleet": InstanceFleetSpec.core(["r7g.2xlarge", "r6g.2xlarge"], on_demand_units=2),
        "task_fleets": (InstanceFleetSpec.task(vcpu_weighted(TASK_TYPES), spot_units=64),),
        "idle_timeout_seconds": 3600,
    }
    fields.update(overrides)
    return ClusterSpec(**fields)


def hbase(**overrides: Any) -> ClusterSpec:
    fields: dict[str, Any] = {
        "name": "hbase",
        "applications": ("Hadoop", "HBase", "ZooKeeper"),
        "primary_fleet": InstanceFleetSpec.primary(["m7g.xlarge"]),
        "core_fleet": InstanceFleetSpec.core(["r7g.2xlarge"], on_demand_units=3),
        "configurations": (hbase_on_s3(root_dir="s3://hbase-111122223333/root"),),
        "termination_protected": True,
    }
    fields.update(overrides)
    return ClusterSpec(**fields)


# ---- renderers -----------------------------------------------------------------------------------


def test_fleet_cluster_renders_both_shapes(bindings: PlatformBindings) -> None:
    spec = spark(
        configurations=(
            env_exports("spark-env", {"PYSPARK_PYTHON": "python3"}),
            Configuration("spark-defaults", {"a": "b"}),
        ),
        bootstrap_actions=(BootstrapAction("setup", "s3://assets/setup.sh", ("--x",)),),
        managed_scaling=ManagedScalingSpec(2, 200, max_on_demand_units=10, max_core_units=4),
        step_concurrency_level=4,
        tags={"team": "data"},
    )
    cfn = spec.to_cfn_cluster_props(bindings)
    api = spec.to_run_job_flow_request(bindings)
    for shape in (cfn, api):
        assert shape["ReleaseLabel"] == "emr-7.13.0"
        assert {"Key": MANAGED_POLICY_TAG[0], "Value": "true"} in shape["Tags"]
        assert {"Key": "team", "Value": "data"} in shape["Tags"]
        assert shape["SecurityConfiguration"] == bindings.security_configuration
        assert (
            shape["LogUri"] == bindings.log_uri
            and shape["LogEncryptionKmsKeyId"] == bindings.log_encryption_kms_key_id
        )
        assert shape["AutoTerminationPolicy"] == {"IdleTimeout": 3600}
        assert shape["ManagedScalingPolicy"]["ComputeLimits"]["UnitType"] == "InstanceFleetUnits"
        assert shape["Instances"]["Ec2SubnetIds"] == list(bindings.subnet_ids)
        assert shape["Instances"]["KeepJobFlowAliveWhenNoSteps"] is True
        assert shape["Instances"]["ServiceAccessSecurityGroup"] == "sg-0service"
        assert "Ec2KeyName" not in shape["Instances"]
        assert shape["StepConcurrencyLevel"] == 4
    assert cfn["Instances"]["MasterInstanceFleet"]["TargetOnDemandCapacity"] == 1
    assert cfn["Instances"]["TaskInstanceFleets"][0]["TargetSpotCapacity"] == 64
    assert cfn["Configurations"][0]["Configurations"][0]["ConfigurationProperties"] == {
        "PYSPARK_PYTHON": "python3"
    }
    assert [f["InstanceFleetType"] for f in api["Instances"]["InstanceFleets"]] == ["MASTER", "CORE", "TASK"]
    assert api["Configurations"][1] == {"Classification": "spark-defaults", "Properties": {"a": "b"}}


def test_group_cluster_renders_one_subnet(bindings: PlatformBindings) -> None:
    spec = ClusterSpec(
        name="groups",
        instance_groups=(
            InstanceGroupSpec(NodeRole.PRIMARY, "m5.xlarge", 1),
            InstanceGroupSpec(NodeRole.CORE, "r5.2xlarge", 2),
            InstanceGroupSpec(NodeRole.TASK, "r5.2xlarge", 4, market=MarketType.SPOT),
        ),
        managed_scaling=ManagedScalingSpec(3, 20),
    )
    one = dataclasses.replace(bindings, subnet_ids=("subnet-0aaa1111",))
    cfn = spec.to_cfn_cluster_props(one)
    assert cfn["Instances"]["Ec2SubnetId"] == "subnet-0aaa1111"
    assert cfn["Instances"]["MasterInstanceGroup"]["InstanceCount"] == 1
    assert cfn["Instances"]["TaskInstanceGroups"][0]["Market"] == "SPOT"
    assert cfn["ManagedScalingPolicy"]["ComputeLimits"]["UnitType"] == "Instances"
    api = spec.to_run_job_flow_request(one)
    assert [g["InstanceRole"] for g in api["Instances"]["InstanceGroups"]] == ["MASTER", "CORE", "TASK"]


def test_groups_with_several_subnets_fail_at_render(bindings: PlatformBindings, raises_problem) -> None:
    spec = ClusterSpec(name="g", instance_groups=(InstanceGroupSpec(NodeRole.PRIMARY, "m5.xlarge", 1),))
    raises_problem(
        lambda: spec.to_cfn_cluster_props(bindings), prop="bindings.subnet_ids", says="exactly one subnet"
    )


def test_bindings_are_checked_at_render(bindings: PlatformBindings, raises_problem) -> None:
    raises_problem(
        lambda: spark().to_run_job_flow_request(dataclasses.replace(bindings, log_uri="logs/")),
        prop="bindings.log_uri",
        value="logs/",
    )
    raises_problem(
        lambda: spark().to_run_job_flow_request(dataclasses.replace(bindings, security_configuration="")),
        prop="bindings.security_configuration",
    )
    old = spark(
        release_label="emr-5.29.0",
        primary_fleet=InstanceFleetSpec.primary(["m5.xlarge"]),
        core_fleet=InstanceFleetSpec.core(["r5.2xlarge"]),
        task_fleets=(),
        idle_timeout_seconds=None,
    )
    raises_problem(
        lambda: old.to_cfn_cluster_props(bindings), prop="bindings.log_encryption_kms_key_id", says="5.30.0"
    )
    tokens = dataclasses.replace(bindings, log_uri="${Token[TOKEN.42]}", subnet_ids=("${Token[TOKEN.7]}",))
    assert spark().to_cfn_cluster_props(tokens)["LogUri"] == "${Token[TOKEN.42]}"


def test_multi_primary_renders_spread_placement(bindings: PlatformBindings) -> None:
    spec = spark(
        primary_fleet=InstanceFleetSpec.primary(["m7g.xlarge"], nodes=3),
        idle_timeout_seconds=None,
        termination_protected=True,
        applications=("Hadoop", "Spark", "Hive"),
        configurations=(external_hive_metastore(host="db", password_secret_arn=SECRET_ARN),),
    )
    assert spec.primary_node_count == 3
    props = spec.to_cfn_cluster_props(bindings)
    assert props["PlacementGroupConfigs"] == [{"InstanceRole": "MASTER", "PlacementStrategy": "SPREAD"}]


# ---- bad input (issue 3) -------------------------------------------------------------------------


def test_mixed_cpu_architectures(raises_problem) -> None:
    raises_problem(
        lambda: spark(core_fleet=InstanceFleetSpec.core(["r6i.2xlarge"])),
        prop="instance_types",
        value="r6i.2xlarge",
        says="mixes CPU architectures",
    )


def test_graviton_type_on_a_release_before_graviton(raises_problem) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnknownReleaseWarning)
        raises_problem(
            lambda: spark(release_label="emr-6.0.0", idle_timeout_seconds=None),
            prop="instance_types",
            value="m7g.xlarge",
            says="does not support these Graviton types",
        )
    raises_problem(
        lambda: spark(release_label="emr-6.9.0", idle_timeout_seconds=None),
        prop="instance_types",
        value="m7g.xlarge",
    )
    ok = spark(
        release_label="emr-6.1.0",
        primary_fleet=InstanceFleetSpec.primary(["m6g.xlarge"]),
        core_fleet=InstanceFleetSpec.core(["r6g.2xlarge"]),
        task_fleets=(),
    )
    assert ok.release.label == "emr-6.1.0"


def test_three_primaries_on_a_release_without_fleet_support(raises_problem) -> None:
    raises_problem(
        lambda: spark(
            release_label="emr-6.10.0",
            primary_fleet=InstanceFleetSpec.primary(["m6g.xlarge"], nodes=3),
            core_fleet=InstanceFleetSpec.core(["r6g.2xlarge"]),
            task_fleets=(),
            idle_timeout_seconds=None,
        ),
        prop="primary_fleet",
        value=3,
        says="three primary nodes with instance fleets",
    )
    # the same release supports three primaries with instance groups
    groups = ClusterSpec(
        name="ha",
        release_label="emr-6.10.0",
        instance_groups=(
            InstanceGroupSpec(NodeRole.PRIMARY, "m5.xlarge", 3),
            InstanceGroupSpec(NodeRole.CORE, "m5.xlarge", 2),
        ),
    )
    assert groups.primary_node_count == 3


def test_three_primaries_with_groups_before_5_23(raises_problem) -> None:
    raises_problem(
        lambda: ClusterSpec(
            name="ha",
            release_label="emr-5.22.0",
            instance_groups=(InstanceGroupSpec(NodeRole.PRIMARY, "m5.xlarge", 3),),
        ),
        prop="instance_groups[PRIMARY].instance_count",
        value=3,
    )


def test_three_primaries_with_auto_termination(raises_problem) -> None:
    raises_problem(
        lambda: spark(primary_fleet=InstanceFleetSpec.primary(["m7g.xlarge"], nodes=3)),
        prop="idle_timeout_seconds",
        value=3600,
        says="termination protection",
    )


def test_three_primaries_with_hive_need_an_external_metastore(raises_problem) -> None:
    raises_problem(
        lambda: spark(
            primary_fleet=InstanceFleetSpec.primary(["m7g.xlarge"], nodes=3),
            idle_timeout_seconds=None,
            applications=("Hadoop", "Hive"),
        ),
        prop="configurations",
        says="external metastore",
    )


def test_spot_primary_in_a_cluster(raises_problem) -> None:
    raises_problem(
        lambda: ClusterSpec(
            name="x", instance_groups=(InstanceGroupSpec(NodeRole.PRIMARY, "m5.xlarge", 1, market="SPOT"),)
        ),
        prop="instance_groups.market",
        value="SPOT",
    )


def test_spot_core_on_hbase_cluster(raises_problem) -> None:
    raises_problem(
        lambda: hbase(core_fleet=InstanceFleetSpec.core(["r7g.2xlarge"], on_demand_units=1, spot_units=2)),
        prop="core_fleet.target_spot_capacity",
        value=2,
        says="HBase",
    )
    allowed = hbase(
        core_fleet=InstanceFleetSpec.core(["r7g.2xlarge"], on_demand_units=1, spot_units=2),
        allow_spot_core=True,
    )
    assert allowed.uses_spot_core


def test_spot_core_on_hdfs_heavy_cluster(raises_problem) -> None:
    raises_problem(
        lambda: ClusterSpec(
            name="hdfs",
            hdfs_heavy=True,
            instance_groups=(
                InstanceGroupSpec(NodeRole.PRIMARY, "m5.xlarge", 1),
                InstanceGroupSpec(NodeRole.CORE, "r5.2xlarge", 3, market=MarketType.SPOT),
            ),
        ),
        prop="instance_groups[CORE].market",
        value="SPOT",
        says="HDFS-heavy",
    )
    # a Spot core on a plain Spark cluster is allowed
    assert spark(
        core_fleet=InstanceFleetSpec.core(["r7g.2xlarge"], on_demand_units=1, spot_units=1)
    ).uses_spot_core


@pytest.mark.parametrize("seconds", [0, 59, 604_801, 10**7])
def test_idle_timeout_outside_range(seconds: int, raises_problem) -> None:
    raises_problem(
        lambda: spark(idle_timeout_seconds=seconds),
        prop="idle_timeout_seconds",
        value=seconds,
        says="60-604,800",
    )


@pytest.mark.parametrize("seconds", [60, 604_800])
def test_idle_timeout_bounds(seconds: int) -> None:
    assert spark(idle_timeout_seconds=seconds).idle_timeout_seconds == seconds


def test_auto_termination_before_its_release(raises_problem) -> None:
    raises_problem(
        lambda: ClusterSpec(
            name="old",
            release_label="emr-5.29.0",
            instance_groups=(InstanceGroupSpec(NodeRole.PRIMARY, "m5.xlarge", 1),),
            idle_timeout_seconds=3600,
        ),
        prop="idle_timeout_seconds",
        says="auto-termination policy needs EMR",
    )


def test_auto_termination_on_hbase_cluster(raises_problem) -> None:
    raises_problem(
        lambda: hbase(idle_timeout_seconds=3600), prop="idle_timeout_seconds", value=3600, says="HBase"
    )


def test_hive_acid_with_glue_data_catalog(raises_problem) -> None:
    raises_problem(
        lambda: spark(applications=("Hadoop", "Hive"), configurations=(hive_acid(), glue_data_catalog())),
        prop="configurations[hive-site][hive.txn.manager]",
        says="Glue Data Catalog does not support Hive ACID",
    )


def test_hive_acid_before_6_1(raises_problem) -> None:
    raises_problem(
        lambda: ClusterSpec(
            name="acid",
            release_label="emr-5.36.2",
            applications=("Hive",),
            configurations=(hive_acid(),),
            instance_groups=(InstanceGroupSpec(NodeRole.PRIMARY, "m5.xlarge", 1),),
        ),
        prop="configurations[hive-site]",
        says="Hive ACID transactions needs EMR",
    )


def test_hive_acid_without_external_metastore_on_multi_cluster_warns() -> None:
    with pytest.warns(EmrPatternsWarning, match="Hive ACID on a multi-cluster setup"):
        spark(applications=("Hadoop", "Hive"), configurations=(hive_acid(),), multi_cluster=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        spark(applications=("Hadoop", "Hive"), configurations=(hive_acid(),))
        spark(
            applications=("Hadoop", "Hive"),
            multi_cluster=True,
            configurations=(hive_acid(), external_hive_metastore(host="db", password_secret_arn=SECRET_ARN)),
        )


def test_metastore_url_without_tls(raises_problem) -> None:
    raises_problem(
        lambda: spark(
            configurations=(
                Configuration("hive-site", {"javax.jdo.option.ConnectionURL": "jdbc:mysql://db:3306/hive"}),
            )
        ),
        prop="configurations[hive-site][javax.jdo.option.ConnectionURL]",
        says="TLS",
    )


def test_literal_password_in_any_configuration(raises_problem) -> None:
    raises_problem(
        lambda: spark(
            configurations=(Configuration("hive-site", {"javax.jdo.option.ConnectionPassword": "hunter2"}),)
        ),
        prop="properties[hive-site][javax.jdo.option.ConnectionPassword]",
        value="<redacted>",
        says="literal value",
    )


def test_unknown_classification_in_a_cluster(raises_problem) -> None:
    raises_problem(
        lambda: spark(configurations=(Configuration("spark-default", {"spark.x": "1"}),)),
        prop="classification",
        value="spark-default",
    )


def test_conflicting_configurations_in_a_cluster(raises_problem) -> None:
    raises_problem(
        lambda: spark(
            configurations=(
                Configuration("spark-defaults", {"a": "1"}),
                Configuration("spark-defaults", {"a": "2"}),
            )
        ),
        prop="configurations[spark-defaults][a]",
        says="conflicts",
    )


def test_export_at_top_level(raises_problem) -> None:
    raises_problem(
        lambda: spark(configurations=(Configuration("export", {"A": "1"}),)),
        prop="configurations",
        value="export",
    )


def test_ec2_key_name_when_ssm_is_the_policy(raises_problem, bindings: PlatformBindings) -> None:
    raises_problem(lambda: spark(ec2_key_name="ops-key"), prop="ec2_key_name", value="ops-key", says="SSM")
    raises_problem(
        lambda: spark(shell_access=ShellAccess.SSH_KEY_PAIR), prop="ec2_key_name", says="needs a key pair"
    )
    explicit = spark(shell_access=ShellAccess.SSH_KEY_PAIR, ec2_key_name="ops-key")
    assert explicit.to_cfn_cluster_props(bindings)["Instances"]["Ec2KeyName"] == "ops-key"


def test_malformed_release_in_a_cluster(raises_problem) -> None:
    raises_problem(lambda: spark(release_label="emr-7.13"), prop="release_label", value="emr-7.13")


def test_instances_structure(raises_problem) -> None:
    raises_problem(lambda: ClusterSpec(name="none"), prop="primary_fleet", says="no instances")
    raises_problem(
        lambda: spark(instance_groups=(InstanceGroupSpec(NodeRole.PRIMARY, "m7g.xlarge", 1),)),
        prop="instance_groups",
        says="never both",
    )
    raises_problem(lambda: spark(primary_fleet=None), prop="primary_fleet", says="need a primary fleet")
    raises_problem(
        lambda: spark(task_fleets=(InstanceFleetSpec.task(["m7g.xlarge"], spot_units=1),) * 2),
        prop="task_fleets",
        says="one task fleet",
    )
    raises_problem(
        lambda: spark(core_fleet=InstanceFleetSpec.task(["m7g.xlarge"], spot_units=1)), prop="core_fleet.role"
    )
    raises_problem(
        lambda: spark(task_fleets=(InstanceFleetSpec.core(["m7g.xlarge"]),)), prop="task_fleets[0].role"
    )
    raises_problem(
        lambda: ClusterSpec(name="g", instance_groups=(InstanceGroupSpec(NodeRole.CORE, "m5.xlarge", 1),)),
        prop="instance_groups",
        says="exactly one primary",
    )


def test_misc_cluster_problems(raises_problem) -> None:
    raises_problem(lambda: spark(step_concurrency_level=0), prop="step_concurrency_level", value=0)
    raises_problem(lambda: spark(custom_ami_id="ami-nope"), prop="custom_ami_id", value="ami-nope")
    raises_problem(
        lambda: spark(ebs_root_volume_size_gib=10), prop="ebs_root_volume_size_gib", value=10, says="15-100"
    )
    raises_problem(lambda: spark(scale_down_behavior="NOW"), prop="scale_down_behavior")
    raises_problem(lambda: spark(applications=("Spark", "spark")), prop="applications")
    raises_problem(lambda: spark(name=""), prop="name")
    raises_problem(lambda: spark(tags={"aws:x": "1"}), prop="tags[aws:x]")
    raises_problem(
        lambda: spark(tags={MANAGED_POLICY_TAG[0]: "false"}), prop=f"tags[{MANAGED_POLICY_TAG[0]}]"
    )
    raises_problem(
        lambda: spark(managed_scaling=ManagedScalingSpec(1, 10, unit_type="Instances")),
        prop="managed_scaling.unit_type",
    )
    raises_problem(
        lambda: spark(bootstrap_actions=tuple(BootstrapAction(f"b{i}", "s3://b/x.sh") for i in range(17))),
        prop="bootstrap_actions",
    )


def test_managed_scaling_and_bootstrap_problems(raises_problem) -> None:
    raises_problem(lambda: ManagedScalingSpec(0, 10), prop="managed_scaling.min_units")
    raises_problem(lambda: ManagedScalingSpec(5, 4), prop="managed_scaling.max_units", value=4)
    raises_problem(
        lambda: ManagedScalingSpec(1, 10, max_on_demand_units=11), prop="managed_scaling.max_on_demand_units"
    )
    raises_problem(
        lambda: ManagedScalingSpec(1, 10, max_core_units=-1), prop="managed_scaling.max_core_units"
    )
    raises_problem(lambda: ManagedScalingSpec(1, 10, unit_type="Nodes"), prop="managed_scaling.unit_type")
    raises_problem(
        lambda: ManagedScalingSpec(1, 10, scaling_strategy="FAST"), prop="managed_scaling.scaling_strategy"
    )
    raises_problem(
        lambda: ManagedScalingSpec(1, 10, utilization_performance_index=42),
        prop="managed_scaling.utilization",
    )
    raises_problem(lambda: BootstrapAction("x", "https://example.com/x.sh"), prop="bootstrap_actions.path")
    raises_problem(lambda: BootstrapAction("", "s3://b/x.sh"), prop="bootstrap_actions.name")


def test_warnings_for_risky_setups() -> None:
    with pytest.warns(EmrPatternsWarning, match="EMR-native LDAP"):
        spark(configurations=(hiveserver2_ldap(url="ldaps://ad:636", base_dn="dc=example"),))
    with pytest.warns(EmrPatternsWarning, match="does not track"):
        spark(applications=("Hadoop", "Trino"))
    with pytest.warns(EmrPatternsWarning, match="HBase cluster on HDFS"):
        hbase(configurations=(), termination_protected=False)


def test_pure_validators_agree_with_the_constructor() -> None:
    spec = spark()
    assert cluster_problems(spec) == []
    assert cluster_warnings(spec) == []
    assert spec.architecture is not None and spec.architecture.value == "arm64"
