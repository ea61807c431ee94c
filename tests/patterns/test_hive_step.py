"""HiveCluster.csv_to_parquet_step: the bundled Spark step (jobs/hive/csv_to_parquet.py, run for
real in tests/hive_metastore) as an EMR step, its assets and the read grant; bad props."""

from __future__ import annotations

import re
from typing import Any

import pytest
from aws_cdk.assertions import Template

from emr_patterns import EmrPatternsValidationError
from emr_patterns.jobs.hive import csv_to_parquet
from emr_patterns.patterns.hive import SAMPLE_COLUMNS, HiveCluster, HiveMetastoreDatabase
from emr_patterns.spec.steps import Arg

from ..orchestration.conftest import make_platform

pytestmark = pytest.mark.cdk


@pytest.fixture(scope="module")
def built() -> Any:
    _, stack, platform = make_platform()
    metastore = HiveMetastoreDatabase(stack, "Metastore", platform=platform)
    hive = HiveCluster(stack, "Hive", platform=platform, metastore=metastore)
    out = f"s3://{platform.data_buckets[2].bucket_name}/covid_data/parquet/covid_cases/"
    step = hive.csv_to_parquet_step(
        input=hive.sample_input_uri, output=out, database="covid", table="covid_cases", partition_by=["state"]
    )
    return stack, platform, hive, step, Template.from_stack(stack)


def test_the_step_runs_the_bundled_job_with_its_helper(built: Any) -> None:
    stack, _, _, step, _ = built
    config = stack.resolve(step.to_step_config())
    assert config["Name"] == "csv-to-parquet" and config["ActionOnFailure"] == "CONTINUE"
    args = config["HadoopJarStep"]["Args"]
    assert config["HadoopJarStep"]["Jar"] == "command-runner.jar"
    assert args[:3] == ["spark-submit", "--deploy-mode", "cluster"]
    joined = " ".join(str(a) for a in args)
    assert "--py-files" in args and ".py" in joined
    tail = args[args.index("--output") - 2 :]
    assert tail[0] == "--input" and tail[4:] == [
        "--database", "covid", "--table", "covid_cases", "--partition-by", "state"
    ]  # fmt: skip
    # The job accepts exactly these arguments (its own parser and checks, no Spark).
    parsed = csv_to_parquet.build_parser().parse_args(
        ["--input", "s3://b/k.csv", "--output", "s3://b/p/", *tail[4:]]
    )
    columns, partitions = csv_to_parquet.check_args(parsed)
    assert tuple(n for n, _ in columns) == SAMPLE_COLUMNS and partitions == ["state"]


def test_the_instance_role_reads_exactly_the_three_assets(built: Any) -> None:
    stack, platform, _, _, template = built
    role_id = stack.get_logical_id(platform.instance_role.node.default_child)
    policies = [
        p["Properties"]
        for p in template.find_resources("AWS::IAM::ManagedPolicy").values()
        if "CSV-to-Parquet" in str(p["Properties"].get("Description", ""))
    ]
    assert len(policies) == 1
    (statement,) = policies[0]["PolicyDocument"]["Statement"]
    assert statement["Action"] == "s3:GetObject" and len(statement["Resource"]) == 3
    assert {"Ref": role_id} in policies[0]["Roles"]


def test_the_sample_and_the_job_are_file_assets(built: Any) -> None:
    stack, _, hive, step, _ = built
    sample = stack.resolve(hive.sample_input_uri)["Fn::Sub"]
    assert sample.startswith("s3://cdk-") and sample.endswith(".csv")
    assert stack.resolve(step.main)["Fn::Sub"].endswith(".py")
    assert hive._step_programs() is hive._step_programs()  # one set of assets per cluster


def test_an_execution_input_arg_is_accepted(built: Any) -> None:
    _, _, hive, _, _ = built
    step = hive.csv_to_parquet_step(
        input=Arg.path("$.input"), output=Arg.path("$.output"), table="t", name="csv-to-parquet-arg"
    )
    assert "States.Array(" in step.to_sfn_step()["HadoopJarStep"]["Args.$"]


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"table": "Covid-Cases"}, "table"),
        ({"database": "1db"}, "database"),
        ({"input": "/local/covid.csv"}, "input"),
        ({"output": "gs://lake/p/"}, "output"),
        ({"partition_by": ["county"]}, "partition_by"),
        ({"partition_by": list(SAMPLE_COLUMNS)}, "partition_by"),
    ],
)
def test_bad_props_are_refused_at_synth(kwargs: dict[str, Any], expected: str) -> None:
    _, stack, platform = make_platform()
    hive = HiveCluster(
        stack,
        "Hive",
        platform=platform,
        metastore=HiveMetastoreDatabase(stack, "Metastore", platform=platform),
    )
    props = {"input": "s3://lake/covid.csv", "output": "s3://lake/parquet/", "table": "covid", **kwargs}
    with pytest.raises(EmrPatternsValidationError, match=re.escape(expected)):
        hive.csv_to_parquet_step(**props)


def test_the_metastore_url_can_name_the_server_ca() -> None:
    _, stack, platform = make_platform()
    db = HiveMetastoreDatabase(
        stack, "Metastore", platform=platform, server_ca_path="/etc/pki/rds/global-bundle.pem"
    )
    (site,) = db.hive_site()
    url = stack.resolve(site.properties["javax.jdo.option.ConnectionURL"])
    assert "&serverSslCert=/etc/pki/rds/global-bundle.pem" in str(url)
    assert "trustServerCertificate=false" in str(url)
    with pytest.raises(EmrPatternsValidationError, match="server_ca_path"):
        HiveMetastoreDatabase(stack, "Bad", platform=platform, server_ca_path="rds bundle.pem")
