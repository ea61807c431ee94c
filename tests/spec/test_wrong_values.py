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
    InstanceFleetSpec,
    ReleaseLabel,
    UnknownReleaseWarning,
    latest_known_release,
)
from emr_patterns.spec.release import application_problems, known_applications


def spark(**overrides: Any) -> ClusterSpec:
    props: dict[str, Any] = {
        "name": "spark",
        "primary_fleet": InstanceFleetSpec.primary(["m7g.xlarge"]),
        "core_fleet": InstanceFleetSpec.core(["m7g.2xlarge"]),
    }
    props.update(overrides)
    return ClusterSpec(**props)


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
