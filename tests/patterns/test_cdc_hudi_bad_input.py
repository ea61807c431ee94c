"""The CDC constructs refuse bad input at synth with the prop, the value and the fix."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from aws_cdk import aws_s3 as s3

from emr_patterns import EmrPatternsValidationError
from emr_patterns.patterns.cdc_hudi import DmsToS3, HudiCdcIngest, MySqlCdcSource
from emr_patterns.stacks.cdc_hudi import example_tables

from ..orchestration.conftest import make_platform

pytestmark = pytest.mark.cdk


@pytest.fixture
def env() -> Any:
    _, stack, platform = make_platform()
    source = MySqlCdcSource(stack, "Source", platform=platform, databases=["shop"])
    return stack, platform, source


def test_wildcard_databases_are_refused(env: Any) -> None:
    stack, platform, _ = env
    with pytest.raises(EmrPatternsValidationError) as err:
        MySqlCdcSource(stack, "Wild", platform=platform, databases=["shop%"], binlog_retention_hours=0)
    text = str(err.value)
    assert "databases[0]='shop%': is a wildcard" in text and "binlog_retention_hours=0" in text


def test_target_bucket_without_the_platform_key(env: Any) -> None:
    stack, platform, source = env
    plain = s3.Bucket(stack, "Plain", encryption=s3.BucketEncryption.S3_MANAGED)
    with pytest.raises(
        EmrPatternsValidationError, match="bucket='PipelineTest/Plain': is not encrypted with"
    ):
        DmsToS3(stack, "Dms", platform=platform, source=source, tables=example_tables(), bucket=plain)


def test_tables_of_another_database_or_twice(env: Any) -> None:
    stack, platform, source = env
    (orders,) = example_tables()
    other = dataclasses.replace(orders, source_database="crm")
    with pytest.raises(EmrPatternsValidationError) as err:
        DmsToS3(stack, "Dms", platform=platform, source=source, tables=(orders, orders, other))
    text = str(err.value)
    assert "is listed twice" in text and "tables[2].source_database='crm'" in text


def test_ingest_needs_the_tables_dms_replicates(env: Any) -> None:
    stack, platform, source = env
    (orders,) = example_tables()
    dms = DmsToS3(stack, "Dms", platform=platform, source=source, tables=(orders,))
    other = dataclasses.replace(orders, source_table="customers", target_table=None)
    with pytest.raises(EmrPatternsValidationError) as err:
        HudiCdcIngest(
            stack,
            "Ingest",
            platform=platform,
            tables=(other,),
            dms=dms,
            source=source,
            reconcile_tolerance=-1,
            lake_prefix="/hudi/",
            server_ca_path="/etc/ca.pem&sslMode=trust",
        )
    text = str(err.value)
    for fragment in (
        "is not replicated by dms",
        "reconcile_tolerance=-1",
        "lake_prefix='/hudi/'",
        "server_ca_path='/etc/ca.pem&sslMode=trust'",
    ):
        assert fragment in text


def test_an_existing_database_gets_the_set_up_and_rotation_and_passes_the_packs() -> None:
    """``ExistingMySql``: a database deployed elsewhere; the set-up, DMS user and its rotation
    are created here, with no nag finding."""
    from aws_cdk import aws_ec2 as ec2
    from aws_cdk import aws_secretsmanager as secretsmanager

    from emr_patterns.foundation.mysql import ExistingMySql
    from emr_patterns.gates import nag_findings

    app, stack, platform = make_platform()
    db = ExistingMySql(
        stack,
        "Existing",
        platform=platform,
        endpoint_address="orders.abc.eu-west-1.rds.amazonaws.com",
        port=3406,
        admin_secret=secretsmanager.Secret.from_secret_complete_arn(
            stack, "Admin", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:admin-AbCdEf"
        ),
        security_group=ec2.SecurityGroup.from_security_group_id(stack, "DbSg", "sg-0123456789abcdef0"),
    )
    source = MySqlCdcSource(stack, "Source", platform=platform, databases=["shop"], database=db)
    assert source.database is db
    template = app.synth().get_stack_by_name(stack.stack_name).template
    kinds = [r["Type"] for r in template["Resources"].values()]
    assert "AWS::RDS::DBInstance" not in kinds and "Custom::MySqlCdcSetup" in kinds
    assert kinds.count("AWS::SecretsManager::RotationSchedule") == 1  # the DMS user's secret
    ingress = [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::EC2::SecurityGroupIngress"
    ]
    assert ingress and all(r["GroupId"] == "sg-0123456789abcdef0" and r["FromPort"] == 3406 for r in ingress)
    assert [
        f for f in nag_findings(stack) if "Source" in f.construct_path or "Existing" in f.construct_path
    ] == []


def test_an_imported_platform_s_buckets_count_as_on_the_platform_key() -> None:
    """Imported platform buckets carry no key object; they are the platform's, so they pass."""
    from aws_cdk import App

    from emr_patterns.foundation.platform import EmrPlatform, EmrPlatformAttributes

    from ..constructs.test_platform_sharing import OUTPUTS, _pinned_stack

    stack = _pinned_stack(App(), "Other")
    platform = EmrPlatform.from_platform_attributes(
        stack, "Platform", EmrPlatformAttributes.from_stack_outputs(OUTPUTS)
    )
    source = MySqlCdcSource(stack, "Source", platform=platform, databases=["shop"])
    dms = DmsToS3(stack, "Dms", platform=platform, source=source, tables=example_tables())
    HudiCdcIngest(stack, "Ingest", platform=platform, tables=example_tables(), dms=dms, source=source)
    plain = s3.Bucket.from_bucket_name(stack, "Brought", "someone-elses-bucket")
    with pytest.raises(EmrPatternsValidationError, match="is not encrypted with the platform key"):
        DmsToS3(stack, "Dms2", platform=platform, source=source, tables=example_tables(), bucket=plain)
