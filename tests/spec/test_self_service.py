"""Self-service product parameters: derived from the spec validators, checked like CloudFormation."""

from __future__ import annotations

import pytest

from emr_patterns.errors import EmrPatternsValidationError
from emr_patterns.spec.self_service import (
    COMPUTE_TYPES,
    artifacts_accepted,
    cluster_name_parameter,
    cluster_size_parameter,
    compute_type_parameter,
    job_artifacts_parameter,
    job_step_args,
    max_capacity_parameter,
    self_service_spec,
)


def test_a_graviton_compute_type_is_not_offered_on_a_release_without_graviton():
    # emr-5.30.0 predates Graviton2 on EMR 5 (emr-5.31.0): none of the c7g/r7g/m7g types runs.
    assert compute_type_parameter(["emr-5.30.0"], ("Hadoop", "Spark")).allowed_values == ()
    assert compute_type_parameter(["emr-7.13.0"], ("Hadoop", "Spark")).allowed_values == tuple(COMPUTE_TYPES)


def test_cfn_keyword_arguments_leave_out_what_is_unset():
    assert cluster_name_parameter("x").to_cfn() == {
        "type": "String",
        "description": "Name of the EMR cluster",
        "default": "x",
        "min_length": 1,
        "max_length": 256,
        "constraint_description": "1-256 characters",
    }
    assert "default" not in job_artifacts_parameter().to_cfn()


def test_values_are_checked_as_cloudformation_would():
    size = cluster_size_parameter(10, "emr-7.13.0")
    assert size.problems(1, "p") == [] and size.problems(10, "p") == []
    assert "use 1 or more" in size.problems(0, "p")[0] and "use 10 or less" in size.problems(11, "p")[0]
    assert "whole number" in size.problems("3", "p")[0] and size.problems(True, "p")
    kind = compute_type_parameter(["emr-7.13.0"], ("Hadoop", "Spark"))
    assert kind.problems("Memory", "p") == [] and "use one of" in kind.problems("GPU", "p")[0]
    artifacts = job_artifacts_parameter()
    assert artifacts.problems("s3://b/job.py a b", "p") == []
    assert "pattern" in artifacts.problems("s3://b/job.py  a", "p")[0]


def test_a_default_outside_the_constraints_names_the_prop():
    with pytest.raises(EmrPatternsValidationError, match=r"default_cluster_size=0"):
        cluster_size_parameter(10, "emr-7.13.0").with_default(0, "default_cluster_size")
    assert cluster_size_parameter(10, "emr-7.13.0").with_default(4, "x").default == 4


def test_limits_below_the_spec_minimum_are_refused():
    with pytest.raises(EmrPatternsValidationError, match=r"max_capacity=1: is below the spec's minimum 2"):
        max_capacity_parameter(1, 2, "emr-7.13.0")


def test_job_steps_render_through_the_step_classes():
    assert job_step_args("Spark") == ("spark-submit", "--deploy-mode", "cluster")
    assert job_step_args("Hive") == ("hive-script", "--run-hive-script", "--args", "-f")
    with pytest.raises(EmrPatternsValidationError, match="job_type='Pig'"):
        job_step_args("Pig")
    assert artifacts_accepted("Spark", "s3://b/job.py s3://in/")
    assert not artifacts_accepted("Spark", "s3://b/query.sql")  # spark-submit needs .py or .jar
    assert artifacts_accepted("Hive", "s3://b/query.sql -d INPUT=s3://in/")


def test_an_unknown_compute_type_is_refused_by_the_spec_builder():
    with pytest.raises(EmrPatternsValidationError, match="compute_type='GPU'"):
        self_service_spec(name="x", compute_type="GPU", cluster_size=2, release_label="emr-7.13.0")
