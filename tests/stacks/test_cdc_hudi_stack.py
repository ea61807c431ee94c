"""CdcHudiStack as synthesized on the app's shared platform: the MySQL source, DMS and the ingest.

What matters is checked property by property: the database's security settings and binlog
parameters, the DMS roles' fixed names and their order before the subnet group, the endpoints'
TLS, Parquet and KMS settings, the task's allowlist, and the pipeline's HoodieStreamer steps,
which must carry exactly the arguments the table spec renders.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from emr_patterns.foundation.mysql import MYSQL_LOG_EXPORTS
from emr_patterns.spec.hudi import MYSQL_CDC_PARAMETERS, dms_table_mappings
from emr_patterns.stacks.cdc_hudi import example_tables

from ..orchestration.test_pipeline_asl import _failure_violations, _tasks
from .test_pipeline_stacks import _of_type, resolve

pytestmark = pytest.mark.cdk
STACK = "CdcHudiStack"


def one(synthesized: Any, kind: str) -> dict[str, Any]:
    (resource,) = _of_type(synthesized, STACK, kind).values()
    return resource


def machine(synthesized: Any, prefix: str) -> dict[str, Any]:
    (found,) = [
        r
        for k, r in _of_type(synthesized, STACK, "AWS::StepFunctions::StateMachine").items()
        if k.startswith(prefix)
    ]
    return json.loads(resolve(found["Properties"]["DefinitionString"]))


def test_database_is_private_encrypted_tls_only_and_kept(synthesized: Any) -> None:
    db = one(synthesized, "AWS::RDS::DBInstance")
    props = db["Properties"]
    assert db["DeletionPolicy"] == "Retain" and props["DeletionProtection"] is True
    assert props["MultiAZ"] is True and props["PubliclyAccessible"] is False
    assert props["StorageEncrypted"] is True and "KmsKeyId" in props
    assert props["Port"] == "3406" and props["BackupRetentionPeriod"] == 7
    assert sorted(props["EnableCloudwatchLogsExports"]) == sorted(MYSQL_LOG_EXPORTS)
    assert props["EnableIAMDatabaseAuthentication"] is True and props["MonitoringInterval"] == 60
    params = one(synthesized, "AWS::RDS::DBParameterGroup")["Properties"]["Parameters"]
    assert params == {"require_secure_transport": "1", **MYSQL_CDC_PARAMETERS}
    options = one(synthesized, "AWS::RDS::OptionGroup")["Properties"]["OptionConfigurations"]
    assert options[0]["OptionName"] == "MARIADB_AUDIT_PLUGIN"
    rotations = _of_type(synthesized, STACK, "AWS::SecretsManager::RotationSchedule")
    assert len(rotations) == 2  # the admin and the DMS user
    ingress = _of_type(synthesized, STACK, "AWS::EC2::SecurityGroupIngress")
    assert ingress and all("CidrIp" not in r["Properties"] for r in ingress.values())


def test_cdc_setup_sets_binlog_retention_and_the_dms_user(synthesized: Any) -> None:
    setup = one(synthesized, "Custom::MySqlCdcSetup")["Properties"]
    assert setup["Databases"] == ["shop"] and setup["BinlogRetentionHours"] == "24"
    assert {"AdminSecretArn", "DmsSecretArn", "Host", "Port"} <= set(setup)


def test_dms_roles_have_fixed_names_and_come_before_the_subnet_group(synthesized: Any) -> None:
    resources = synthesized.template_json(STACK)["Resources"]
    roles = {
        r["Properties"].get("RoleName"): k for k, r in resources.items() if r["Type"] == "AWS::IAM::Role"
    }
    assert {"dms-vpc-role", "dms-cloudwatch-logs-role"} <= set(roles)
    for kind in ("AWS::DMS::ReplicationSubnetGroup", "AWS::DMS::ReplicationInstance"):
        ((_, resource),) = _of_type(synthesized, STACK, kind).items()
        assert {roles["dms-vpc-role"], roles["dms-cloudwatch-logs-role"]} <= set(resource["DependsOn"])
    instance = one(synthesized, "AWS::DMS::ReplicationInstance")["Properties"]
    assert instance["PubliclyAccessible"] is False and "KmsKeyId" in instance and instance["MultiAZ"] is True


def test_endpoints_and_task(synthesized: Any) -> None:
    endpoints = {
        r["Properties"]["EndpointType"]: r["Properties"]
        for r in _of_type(synthesized, STACK, "AWS::DMS::Endpoint").values()
    }
    source, target = endpoints["source"], endpoints["target"]
    assert source["EngineName"] == "mysql" and source["SslMode"] == "require"
    assert {"SecretsManagerSecretId", "SecretsManagerAccessRoleArn"} <= set(source["MySqlSettings"])
    s3 = target["S3Settings"]
    assert s3["DataFormat"] == "parquet" and s3["TimestampColumnName"] == "dms_ts"
    assert s3["ParquetTimestampInMillisecond"] is True and s3["IncludeOpForFullLoad"] is True
    assert s3["EncryptionMode"] == "SSE_KMS" and "ServerSideEncryptionKmsKeyId" in s3
    assert s3["BucketFolder"] == "dms"
    task = one(synthesized, "AWS::DMS::ReplicationTask")["Properties"]
    assert task["MigrationType"] == "full-load-and-cdc"
    assert json.loads(task["TableMappings"]) == dms_table_mappings(example_tables())
    settings = json.loads(task["ReplicationTaskSettings"])
    assert settings["Logging"]["EnableLogging"] is True
    assert settings["ValidationSettings"]["EnableValidation"] is True


def test_pipeline_runs_the_rendered_streamer_then_reconciliation(synthesized: Any) -> None:
    asl = machine(synthesized, "IngestPipeline")
    assert _failure_violations(asl) == []
    steps = _tasks(asl, "addStep.sync")
    assert [n for n, _ in steps] == ["Step1-hudi-orders", "Step2-reconcile-orders"]
    streamer = steps[0][1]["Parameters"]["Step"]["HadoopJarStep"]
    args = streamer.get("Args") or streamer["Args.$"]
    (table,) = example_tables()
    rendered = table.streamer_arguments(source_root="DMS", target_base_path="BASE", props_uri="PROPS")
    flat = json.dumps(args)
    for flag in (
        "--table-type",
        "--op",
        "--source-class",
        "--transformer-class",
        "--payload-class",
        "--source-ordering-field",
        "--target-table",
        "--sync-tool-classes",
    ):
        value = rendered[rendered.index(flag) + 1]
        assert flag in flat and value in flat, (flag, value)
    assert "hoodie.streamer.source.dfs.root=s3://" in flat and "/dms/shop/orders/" in flat
    reconcile = json.dumps(steps[1][1]["Parameters"]["Step"]["HadoopJarStep"])
    assert (
        "--secret-id" in reconcile
        and "shop.orders" in reconcile
        and "mariadb-connector-java.jar" in reconcile
    )


def test_reconciliation_verifies_rds_with_the_bundle_the_cluster_installs(synthesized: Any) -> None:
    from emr_patterns.foundation.mysql import RDS_CA_BUNDLE_NODE_PATH

    asl = machine(synthesized, "IngestPipeline")
    ((_, create),) = _tasks(asl, "createCluster.sync")
    actions = {a["Name"]: a["ScriptBootstrapAction"] for a in create["Parameters"]["BootstrapActions"]}
    dest, _region, bundle = actions["install-rds-ca-bundle"]["Args"]
    assert dest == RDS_CA_BUNDLE_NODE_PATH and bundle.startswith("s3://") and bundle.endswith(".pem")
    reconcile = json.dumps(_tasks(asl, "addStep.sync")[1][1]["Parameters"]["Step"]["HadoopJarStep"])
    assert f"?sslMode=verify-full&serverSslCert={RDS_CA_BUNDLE_NODE_PATH}" in reconcile
    assert "sslMode=trust" not in reconcile


def test_gate_waits_for_the_full_load_and_one_writer(synthesized: Any) -> None:
    asl = machine(synthesized, "IngestGate")
    states = asl["States"]
    assert states["ListRunningIngests"]["Resource"].endswith(":aws-sdk:sfn:listExecutions")
    assert states["DescribeTableStatistics"]["Resource"].endswith(
        ":aws-sdk:databasemigration:describeTableStatistics"
    )
    choices = json.dumps(states["FullLoadDone"]["Choices"])
    assert "$.counts.pending" in choices and "$.counts.tables" in choices
    assert states["RunPipeline"]["Resource"].endswith(":states:startExecution")
    schedules = _of_type(synthesized, STACK, "AWS::Scheduler::Schedule")
    assert len(schedules) == 1


@pytest.mark.parametrize(
    ("state", "service", "operation"),
    [
        ("ListRunningIngests", "stepfunctions", "ListExecutions"),
        ("DescribeTableStatistics", "dms", "DescribeTableStatistics"),
    ],
)
def test_gate_calls_are_valid_against_the_botocore_model(
    synthesized: Any, state: str, service: str, operation: str
) -> None:
    import botocore.session
    import botocore.validate

    params = machine(synthesized, "IngestGate")["States"][state]["Parameters"]
    model = botocore.session.get_session().get_service_model(service)
    shape = model.operation_model(operation).input_shape
    # Step Functions' SDK integrations take every parameter in PascalCase, also where the API
    # (Step Functions' own) names it in camelCase.
    members = {name[0].upper() + name[1:]: name for name in shape.members}
    assert set(params) <= set(members), (set(params), set(members))
    botocore.validate.validate_parameters({members[k]: v for k, v in params.items()}, shape)
