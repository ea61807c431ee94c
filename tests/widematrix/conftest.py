"""Fixtures for the read-API and admin tests: moto's DynamoDB registry (and S3 bucket) and
versions bulk loaded into the real HBase fixture."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from emr_patterns.lambdas.matrix_read import admin as admin_handler
from emr_patterns.lambdas.matrix_read import handler as read_handler
from emr_patterns.lambdas.matrix_read import registry as reg
from tests.widematrix._data import S3Mirror


def create_registry_table(client: Any, name: str = "registry") -> None:
    client.create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": "dataset", "KeyType": "HASH"},
            {"AttributeName": "item", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "dataset", "AttributeType": "S"},
            {"AttributeName": "item", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )


@pytest.fixture(scope="module")
def moto_registry() -> Iterator[reg.Registry]:
    """A registry table on moto (module-wide), wired into the read handler."""
    mp = pytest.MonkeyPatch()
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "REGISTRY_TABLE": "registry",
    }.items():
        mp.setenv(name, value)
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_registry_table(client)
        registry = reg.Registry("registry", client)
        mp.setattr(read_handler, "_REGISTRY", registry)
        yield registry
    mp.undo()


@pytest.fixture
def read_env(hbase: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The handler pointed at the HBase fixture's Thrift server, with a fresh cache and connection."""
    monkeypatch.setenv("HBASE_THRIFT_HOST", hbase.host)
    monkeypatch.setenv("HBASE_THRIFT_PORT", str(hbase.thrift_port))
    monkeypatch.setenv("THRIFT_TIMEOUT_MS", "5000")
    read_handler._drop_connection()
    read_handler.CACHE.clear()
    yield read_handler
    read_handler._drop_connection()
    read_handler.CACHE.clear()


@pytest.fixture(scope="module")
def admin_env(
    hbase: Any, moto_registry: reg.Registry, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    """The admin handler on the registry above, moto's S3 (bucket ``lake``, mirrored on disk for the
    bulk-load tools) and the HBase fixture's Thrift server; its AWS clients built by the handler."""
    from types import SimpleNamespace

    mp = pytest.MonkeyPatch()
    mp.setenv("HBASE_THRIFT_HOST", hbase.host)
    mp.setenv("HBASE_THRIFT_PORT", str(hbase.thrift_port))
    mp.setenv("THRIFT_TIMEOUT_MS", "20000")
    client = boto3.client("s3", region_name="us-east-1")
    client.create_bucket(Bucket="lake")
    mirror = S3Mirror(client, "lake", tmp_path_factory.mktemp("s3-lake"))
    admin_handler.reset_clients()
    yield SimpleNamespace(admin=admin_handler, registry=moto_registry, s3=client, mirror=mirror, hbase=hbase)
    admin_handler.reset_clients()
    mp.undo()
