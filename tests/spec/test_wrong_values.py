"""Issue 15.4: wrong values fail at synth, not at deploy (ClusterSpec-level cases).

Release labels, application names, configurations in EMR's JSON shape and instance types; the
number/bool type checks are in ``test_types.py``.
"""

from __future__ import annotations

import warnings
from typing import Any

import pytest

from emr_patterns.spec import (
    DEFAULT_RELEASE,
    ClusterSpec,
    Configuration,
    InstanceFleetSpec,
    InstanceGroupSpec,
    InstanceTypeSpec,
    NodeRole,
    ReleaseLabel,
    UnknownReleaseWarning,
    diversified_instance_types,
    env_exports,
    latest_known_release,
    merge_configurations,
    vcpu_weighted,
)
from emr_patterns.spec.release import application_problems, known_applications

from .conftest import small_spark

spark = small_spark


# ---- release labels ---------------------------------------------------------------------------


def test_unknown_release_is_an_error_by_default(raises_problem) -> None:
    err = raises_problem(
        lambda: spark(release_label="emr-7.31.0"), prop="release_label", value="emr-7.31.0", says="newer"
    )
    assert "allow_unknown_release=True" in err.problems[0]
    assert f"'{latest_known_release().label}'" in err.problems[0]


def test_allow_unknown_release_keeps_the_warning() -> None:
    with pytest.warns(UnknownReleaseWarning, match="emr-7.31.0"):
        spec = spark(release_label="emr-7.31.0", allow_unknown_release=True)
    assert spec.release.label == "emr-7.31.0"
    assert spec.release > latest_known_release()


def test_known_release_does_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnknownReleaseWarning)
        assert spark(release_label="emr-7.12.0").release.label == "emr-7.12.0"


# ---- application names ------------------------------------------------------------------------


def test_misspelled_application_suggests_the_name(raises_problem) -> None:
    err = raises_problem(
        lambda: spark(applications=("Hadoop", "Sparkk")),
        prop="applications[1]",
        value="Sparkk",
        says="did you mean 'Spark'",
    )
    assert "allow_unknown_applications=('Sparkk',)" in err.problems[0]


def test_wrong_case_suggests_emrs_spelling(raises_problem) -> None:
    raises_problem(
        lambda: spark(applications=("hadoop", "Spark")),
        prop="applications[0]",
        value="hadoop",
        says="'Hadoop'",
    )
    raises_problem(
        lambda: spark(applications=("Hadoop", "Spark", "jupyterenterprisegateway")),
        prop="applications[2]",
        says="'JupyterEnterpriseGateway'",
    )


def test_a_bare_string_is_refused_not_read_letter_by_letter(raises_problem) -> None:
    err = raises_problem(
        lambda: spark(applications="Spark"), prop="applications", value="Spark", says="not a tuple"
    )
    assert "applications=('Spark',)" in err.problems[0]
    assert not any(p.startswith("applications[") for p in err.problems), err.problems


def test_applications_the_release_does_not_ship(raises_problem) -> None:
    raises_problem(
        lambda: spark(applications=("Hadoop", "Ganglia")),
        prop="applications[1]",
        value="Ganglia",
        says="last shipped in emr-6.15.0",
    )
    raises_problem(lambda: spark(applications=("Hadoop", "MXNet")), prop="applications[1]", says="emr-7.2.0")
    raises_problem(
        lambda: spark(applications=("Hadoop", "AmazonCloudWatchAgent"), release_label="emr-6.15.0"),
        prop="applications[1]",
        says="ships from emr-7.0.0",
    )
    assert spark(applications=("Hadoop", "MXNet"), release_label="emr-7.2.0").has_application("MXNet")
    assert spark(applications=("Hadoop", "Ganglia"), release_label="emr-6.15.0").has_application("Ganglia")


def test_every_emr_7_application_is_accepted() -> None:
    names = [
        "AmazonCloudWatchAgent",
        "Delta",
        "Flink",
        "HBase",
        "HCatalog",
        "Hadoop",
        "Hive",
        "Hudi",
        "Hue",
        "Iceberg",
        "JupyterEnterpriseGateway",
        "JupyterHub",
        "Livy",
        "Oozie",
        "Phoenix",
        "Pig",
        "Presto",
        "Spark",
        "Sqoop",
        "TensorFlow",
        "Tez",
        "Trino",
        "Zeppelin",
        "ZooKeeper",
    ]
    assert set(names) <= set(known_applications(ReleaseLabel.parse(DEFAULT_RELEASE)))
    for name in names:
        assert ClusterSpec(
            name="apps",
            primary_fleet=InstanceFleetSpec.primary(["m7g.xlarge"]),
            applications=(name,),
            termination_protected=True,
        ).has_application(name)


def test_allow_unknown_applications_accepts_a_newer_application(raises_problem) -> None:
    spec = spark(applications=("Hadoop", "Spark", "NewEngine"), allow_unknown_applications=("NewEngine",))
    assert spec.applications == ("Hadoop", "Spark", "NewEngine")
    raises_problem(
        lambda: spark(allow_unknown_applications=("NewEngine",)),
        prop="allow_unknown_applications",
        value="NewEngine",
        says="not in applications",
    )
    # the escape hatch does not waive the release check of a name the library knows
    raises_problem(
        lambda: spark(applications=("Hadoop", "Ganglia"), allow_unknown_applications=("Ganglia",)),
        prop="applications[1]",
        says="last shipped",
    )
    raises_problem(
        lambda: spark(applications=("Hadoop", "New"), allow_unknown_applications="New"),
        prop="allow_unknown_applications",
        says="not a tuple",
    )


def test_application_problems_is_pure_and_collects_all() -> None:
    problems = application_problems(["Sparkk", "hive", 3], None)
    assert [p.split("=", 1)[0] for p in problems] == ["applications[0]", "applications[1]", "applications[2]"]


# ---- configurations in EMR's JSON shape --------------------------------------------------------

EMR_JSON = [
    {"Classification": "spark-defaults", "Properties": {"spark.executor.memory": "4g"}},
    {
        "Classification": "spark-env",
        "Configurations": [
            {"Classification": "export", "Properties": {"PYSPARK_PYTHON": "/usr/bin/python3"}}
        ],
    },
]


def test_from_emr_json_converts_recursively() -> None:
    configs = Configuration.from_emr_json(EMR_JSON)
    assert configs == (
        Configuration("spark-defaults", {"spark.executor.memory": "4g"}),
        env_exports("spark-env", {"PYSPARK_PYTHON": "/usr/bin/python3"}),
    )
    assert [c.to_api() for c in configs] == EMR_JSON
    assert Configuration.from_emr_json(EMR_JSON[0]) == configs[:1]
    cfn = {"Classification": "core-site", "ConfigurationProperties": {"fs.s3.maxRetries": "20"}}
    assert Configuration.from_emr_json(cfn)[0].properties == {"fs.s3.maxRetries": "20"}


def test_cluster_spec_accepts_emr_json_as_a_list_or_item_by_item() -> None:
    as_list = spark(configurations=EMR_JSON)
    as_items = spark(configurations=(EMR_JSON[0], EMR_JSON[1]))
    typed = spark(configurations=Configuration.from_emr_json(EMR_JSON))
    assert as_list.configurations == as_items.configurations == typed.configurations
    mixed = spark(configurations=(EMR_JSON, Configuration("core-site", {"fs.s3.maxRetries": "20"})))
    assert [c.classification for c in mixed.configurations] == ["spark-defaults", "spark-env", "core-site"]


@pytest.mark.parametrize(
    ("item", "prop", "says"),
    [
        ({"classification": "spark-defaults"}, "configurations[0].classification", "'Classification'"),
        ({"Classification": "spark-defaults", "Props": {}}, "configurations[0].Props", "'Properties'"),
        ({"Properties": {"a": "b"}}, "configurations[0].Classification", "is required"),
        ({"Classification": "spark-defaults", "Properties": "a=b"}, "configurations[0].Properties", "dict"),
        (
            {"Classification": "spark-env", "Configurations": {"Classification": "export"}},
            "configurations[0].Configurations",
            "wrap the nested configuration in a list",
        ),
        (
            {"Classification": "spark-env", "Configurations": [{"Classification": "export", "Prop": {}}]},
            "configurations[0].Configurations[0].Prop",
            "'Properties'",
        ),
        ({"Classification": "spark-default"}, "configurations[0].classification", "not an EMR configuration"),
        ("spark-defaults", "configurations[0]", "not a configuration"),
    ],
)
def test_bad_emr_json_is_refused_with_the_fix(item: Any, prop: str, says: str, raises_problem) -> None:
    raises_problem(lambda: spark(configurations=(item,)), prop=prop, says=says)
    raises_problem(lambda: Configuration.from_emr_json([item]), prop=prop, says=says)


def test_every_emr_json_problem_is_raised_at_once(raises_problem) -> None:
    err = raises_problem(
        lambda: spark(
            configurations=[
                {"classification": "spark-defaults"},
                {"Classification": "hive-site", "Props": {}},
            ]
        ),
        prop="configurations[0].classification",
    )
    assert any(p.startswith("configurations[1].Props") for p in err.problems), err.problems


def test_merge_and_nested_configurations_accept_emr_json() -> None:
    merged = merge_configurations(EMR_JSON, {"Classification": "spark-defaults", "Properties": {"a": "1"}})
    assert merged[0].properties == {"spark.executor.memory": "4g", "a": "1"}
    nested = Configuration("spark-env", {}, ({"Classification": "export", "Properties": {"X": "1"}},))  # type: ignore[arg-type]
    assert nested == env_exports("spark-env", {"X": "1"})


# ---- instance types ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        ("r7g.2xlarg", "did you mean 'r7g.2xlarge'"),
        ("p9.huge", "family 'p9' is unknown"),
        ("r7q.2xlarge", "'r7g.2xlarge'"),
        ("t3.large", "EMR does not support burstable t-family instances"),
        ("t4g.xlarge", "EMR does not support burstable t-family instances"),
    ],
)
def test_core_fleet_type_outside_the_catalog(bad: str, says: str, raises_problem) -> None:
    raises_problem(
        lambda: InstanceFleetSpec.core(["r7g.xlarge", "r6g.xlarge", bad]),
        prop="core_fleet.instance_types[2]",
        value=bad,
        says=says,
    )


def test_the_fix_names_the_escape_hatch_except_for_burstable_types(raises_problem) -> None:
    err = raises_problem(
        lambda: InstanceFleetSpec.core(["m9g.xlarge"]), prop="core_fleet.instance_types[0]", says="unknown"
    )
    assert "allow_unknown_instance_types=('m9g.xlarge',)" in err.problems[0]
    assert "'m8g.xlarge'" in err.problems[0]
    err = raises_problem(
        lambda: InstanceFleetSpec.core(["t4g.xlarge"]), prop="core_fleet.instance_types[0]", says="burstable"
    )
    assert "allow_unknown" not in err.problems[0] and "'m7g.xlarge'" in err.problems[0]


@pytest.mark.parametrize(
    ("build", "prop"),
    [
        (lambda: InstanceFleetSpec.primary(["m7g.xlarge", "m7g.xlarg"]), "primary_fleet.instance_types[1]"),
        (lambda: InstanceFleetSpec.task(["r7g.2xlarg"], spot_units=4), "task_fleets.instance_types[0]"),
        (lambda: InstanceGroupSpec(NodeRole.CORE, "r7g.2xlarg", 2), "instance_groups.instance_type"),
        (lambda: vcpu_weighted("m7g.xlarge", "r7g.2xlarg"), "instance_types[1]"),
        (
            lambda: spark(core_fleet=InstanceFleetSpec.core([InstanceTypeSpec("r7g.2xlarg", 8)])),
            "core_fleet.instance_types[0]",
        ),
    ],
)
def test_every_place_types_enter_a_spec_checks_them(build, prop: str, raises_problem) -> None:
    raises_problem(build, prop=prop, says="did you mean")


def test_allow_unknown_instance_types_accepts_a_newer_type(raises_problem) -> None:
    fleet = InstanceFleetSpec.core(["m9g.xlarge", "m8g.xlarge"], allow_unknown_instance_types=("m9g.xlarge",))
    assert fleet.allow_unknown_instance_types == ("m9g.xlarge",)
    spec = spark(
        primary_fleet=InstanceFleetSpec.primary(["m9g.xlarge"], allow_unknown_instance_types=["m9g.xlarge"]),
        core_fleet=fleet,
    )
    assert "m9g.xlarge" in spec.instance_type_names
    assert "allow_unknown" not in str(fleet.to_api()) + str(fleet.to_cfn())
    group = InstanceGroupSpec(NodeRole.CORE, "m9g.xlarge", 2, allow_unknown_instance_types=("m9g.xlarge",))
    assert group.to_api()["InstanceType"] == "m9g.xlarge"
    # the escape hatch covers only the types it names, never a burstable type, and must name a used type
    raises_problem(
        lambda: InstanceFleetSpec.core(
            ["m9g.xlarge", "m9g.2xlarg"], allow_unknown_instance_types=("m9g.xlarge",)
        ),
        prop="core_fleet.instance_types[1]",
        value="m9g.2xlarg",
    )
    raises_problem(
        lambda: InstanceFleetSpec.core(["t4g.large"], allow_unknown_instance_types=("t4g.large",)),
        prop="core_fleet.instance_types[0]",
        says="burstable",
    )
    raises_problem(
        lambda: InstanceFleetSpec.core(["m7g.xlarge"], allow_unknown_instance_types=("m9g.xlarge",)),
        prop="core_fleet.allow_unknown_instance_types",
        value="m9g.xlarge",
    )
    raises_problem(
        lambda: InstanceGroupSpec(NodeRole.CORE, "m9g.xlarge", 2, allow_unknown_instance_types="m9g.xlarge"),
        prop="instance_groups.allow_unknown_instance_types",
        says="not a tuple",
    )


def test_types_emr_runs_without_catalog_sizes_are_accepted() -> None:
    for name in ("i4i.2xlarge", "g5.xlarge", "c6in.4xlarge", "x2gd.xlarge", "d3.2xlarge", "p4d.24xlarge"):
        assert InstanceFleetSpec.core([name]).instance_types[0].instance_type == name


def test_diversified_lists_are_all_catalog_types() -> None:
    types = diversified_instance_types(min_vcpu=4, max_vcpu=64, count=30)
    assert InstanceFleetSpec.task(vcpu_weighted(types), spot_units=64).instance_types


def test_a_bare_string_of_types_is_refused(raises_problem) -> None:
    raises_problem(lambda: InstanceFleetSpec.core("m7g.xlarge"), prop="instance_types", says="[")  # type: ignore[arg-type]
