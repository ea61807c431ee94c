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
        )
    text = str(err.value)
    for fragment in ("is not replicated by dms", "reconcile_tolerance=-1", "lake_prefix='/hudi/'"):
        assert fragment in text
