"""The MySQL CDC set-up custom resource against a real server (Debian's MariaDB) and moto's
Secrets Manager.

Stand-ins, named: ``mysql.rds_set_configuration`` is an RDS procedure; the test creates a
procedure of that name in MariaDB that records its arguments, so the real call the handler makes
is checked. The fixture's MariaDB offers TLS with a certificate from a test CA, which
``MYSQL_CA_BUNDLE`` points the handler at (on RDS it verifies against the bundled RDS CAs); the
admin calls here pass ``tls=False`` to show that the set-up does not depend on it, and the new
user's logins show its ``REQUIRE SSL``.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from emr_patterns.lambdas.mysql_cdc_setup import handler, mysql_admin
from tests.cdc._dms import MariaDb


@pytest.fixture
def setup(mariadb: Any, aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    from moto import mock_aws

    monkeypatch.setenv(mysql_admin.CA_BUNDLE_ENV, str(mariadb.ca_pem))

    client = MariaDb(mariadb)
    client.run(
        "CREATE DATABASE IF NOT EXISTS shop; CREATE DATABASE IF NOT EXISTS crm;"
        "CREATE TABLE IF NOT EXISTS mysql.rds_configuration_calls (name VARCHAR(64), value INT);"
        "DELETE FROM mysql.rds_configuration_calls; DROP PROCEDURE IF EXISTS mysql.rds_set_configuration;"
        "CREATE PROCEDURE mysql.rds_set_configuration(IN name VARCHAR(64), IN value INT) "
        "INSERT INTO mysql.rds_configuration_calls VALUES (name, value);"
        "DROP USER IF EXISTS 'dms_cdc'@'%'"
    )
    with mock_aws():
        mysql_admin._client = None
        sm = boto3.client("secretsmanager")
        admin = sm.create_secret(
            Name="admin", SecretString=json.dumps({"username": mariadb.user, "password": mariadb.password})
        )["ARN"]
        dms = sm.create_secret(
            Name="dms", SecretString=json.dumps({"username": "dms_cdc", "password": "s3cret-1"})
        )["ARN"]
        props = {
            "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:x",
            "AdminSecretArn": admin,
            "DmsSecretArn": dms,
            "Host": mariadb.host,
            "Port": str(mariadb.port),
            "Databases": ["shop"],
            "BinlogRetentionHours": "24",
        }
        yield client, props, sm
        mysql_admin._client = None


def grants(client: MariaDb) -> set[str]:
    return {row[0] for row in client.run("SHOW GRANTS FOR 'dms_cdc'@'%'")}


def test_create_sets_binlog_retention_and_grants_only_what_dms_needs(setup: Any) -> None:
    client, props, _ = setup
    assert handler.apply(handler.check(props), tls=False) == "dms_cdc"
    assert client.run("SELECT name, value FROM mysql.rds_configuration_calls") == [
        ["binlog retention hours", "24"]
    ]
    found = grants(client)
    # MariaDB names REPLICATION CLIENT "BINLOG MONITOR" (10.5+).
    assert any("GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.*" in g for g in found), found
    assert any("GRANT SELECT ON `shop`.*" in g for g in found), found
    assert not any("`crm`" in g for g in found)
    assert client.run("SELECT ssl_type FROM mysql.user WHERE user = 'dms_cdc'") == [["ANY"]]


def test_update_changes_the_password_and_adds_databases(setup: Any) -> None:
    client, props, sm = setup
    handler.apply(handler.check(props), tls=False)
    sm.put_secret_value(
        SecretId=props["DmsSecretArn"],
        SecretString=json.dumps({"username": "dms_cdc", "password": "s3cret-2"}),
    )
    handler.apply(handler.check({**props, "Databases": ["shop", "crm"]}), tls=False)
    assert any("GRANT SELECT ON `crm`.*" in g for g in grants(client))
    stored = client.run("SELECT authentication_string FROM mysql.user WHERE user = 'dms_cdc'")
    assert stored == client.run("SELECT PASSWORD('s3cret-2')")
    import pymysql

    with pytest.raises(pymysql.err.OperationalError, match="Access denied"):  # REQUIRE SSL holds
        handler.connect(props["Host"], int(props["Port"]), "dms_cdc", "s3cret-2", tls=False)
    # Over TLS (the fixture's server offers it, as RDS does) the new password logs in.
    handler.connect(props["Host"], int(props["Port"]), "dms_cdc", "s3cret-2").close()


def test_delete_drops_the_user(setup: Any) -> None:
    client, props, _ = setup
    handler.apply(handler.check(props), tls=False)
    handler.remove(handler.check(props), tls=False)
    assert client.run("SELECT user FROM mysql.user WHERE user = 'dms_cdc'") == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"Databases": ["shop%"]}, "exact MySQL database names"),
        ({"Databases": []}, "exact MySQL database names"),
        ({"BinlogRetentionHours": "500"}, "RDS accepts 1-168 hours"),
        ({"BinlogRetentionHours": "day"}, "must be an integer"),
        ({"Extra": "x"}, "unknown properties ['Extra']"),
    ],
)
def test_bad_properties_are_named(setup: Any, change: dict[str, Any], message: str) -> None:
    _, props, _ = setup
    with pytest.raises(handler.PropertyError, match=message.replace("[", r"\[").replace("]", r"\]")):
        handler.on_event({"RequestType": "Create", "ResourceProperties": {**props, **change}})
