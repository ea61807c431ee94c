"""The Hive metastore user custom resource against a real server (Debian's MariaDB, offering TLS
like RDS) and moto's Secrets Manager.

Every call goes through ``on_event`` as the provider framework sends it, so the handler connects
over TLS exactly as on RDS, and the hive user's logins below are real TCP + TLS logins.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pymysql
import pytest

from emr_patterns._assets import lambda_dir
from emr_patterns.lambdas.mysql_cdc_setup import hive_metastore, mysql_admin
from tests.cdc._dms import MariaDb

USER, DATABASE = "hive_test", "hive_ms"
#: Names the database-level wildcard ``_`` of an unescaped grant on ``hive_ms`` would match.
NEIGHBOUR = "hivexms"
OTHER = "hive_other"


@pytest.fixture
def hive(mariadb: Any, aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    # The handler verifies the server against this CA file (on RDS: the bundled RDS CAs).
    monkeypatch.setenv(mysql_admin.CA_BUNDLE_ENV, str(mariadb.ca_pem))
    client = MariaDb(mariadb)
    client.run(
        f"DROP USER IF EXISTS '{USER}'@'%'; DROP USER IF EXISTS 'dbowner'@'%';"
        f"DROP DATABASE IF EXISTS {DATABASE}; DROP DATABASE IF EXISTS {OTHER};"
        f"CREATE DATABASE IF NOT EXISTS {NEIGHBOUR}"
    )
    mysql_admin._client = None
    sm = boto3.client("secretsmanager")
    admin = sm.create_secret(
        Name="admin", SecretString=json.dumps({"username": mariadb.user, "password": mariadb.password})
    )["ARN"]
    password = sm.create_secret(Name="hive-password", SecretString="pw-one-A1b2C3")["ARN"]
    props = {
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:x",
        "AdminSecretArn": admin,
        "PasswordSecretArn": password,
        "Host": mariadb.host,
        "Port": str(mariadb.port),
        "User": USER,
        "Database": DATABASE,
    }
    yield client, props, sm, mariadb
    mysql_admin._client = None


def event(request: str, props: dict[str, Any], old: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"RequestType": request, "ResourceProperties": props}
    if request != "Create":
        out["PhysicalResourceId"] = f"{USER}@{props['Host']}"
    if old is not None:
        out["OldResourceProperties"] = old
    return out


def login(db: Any, password: str, *, tls: bool = True) -> Any:
    """The hive user's own session over TCP (TLS unless ``tls=False``)."""
    return mysql_admin.connect(db.host, db.port, USER, password, tls=tls)


def run_as_hive(db: Any, password: str, sql: str) -> None:
    conn = login(db, password)
    try:
        with conn.cursor() as cursor:
            cursor.execute(sql)
    finally:
        conn.close()


def grants(client: MariaDb) -> set[str]:
    # The client's --batch output writes a backslash as two; undone here.
    return {str(row[0]).replace("\\\\", "\\") for row in client.run(f"SHOW GRANTS FOR '{USER}'@'%'")}


def databases(client: MariaDb) -> set[str]:
    return {row[0] for row in client.run("SHOW DATABASES")}


def user_exists(client: MariaDb, user: str = USER) -> bool:
    return bool(client.run(f"SELECT user FROM mysql.user WHERE user = '{user}'"))


def denied(db: Any, password: str, sql: str) -> int:
    """The MySQL error number of ``sql`` run as the hive user (fails the test if it succeeds)."""
    with pytest.raises(pymysql.err.MySQLError) as caught:
        run_as_hive(db, password, sql)
    return caught.value.args[0]


def test_create_makes_the_database_the_tls_user_and_one_grant(hive: Any) -> None:
    client, props, _, db = hive
    answer = hive_metastore.on_event(event("Create", props))
    assert answer == {
        "PhysicalResourceId": f"{USER}@{db.host}",
        "Data": {"User": USER, "Database": DATABASE},
    }
    assert DATABASE in databases(client)
    found = grants(client)
    assert found == {
        f"GRANT USAGE ON *.* TO `{USER}`@`%` IDENTIFIED BY PASSWORD '{_hash(client, 'pw-one-A1b2C3')}' "
        "REQUIRE SSL",
        f"GRANT ALL PRIVILEGES ON `hive\\_ms`.* TO `{USER}`@`%`",
    }, found
    assert client.run(f"SELECT ssl_type FROM mysql.user WHERE user = '{USER}'") == [["ANY"]]
    # The hive user works in the metastore schema over TLS, and nowhere else.
    run_as_hive(db, "pw-one-A1b2C3", f"CREATE TABLE {DATABASE}.DBS (DB_ID BIGINT PRIMARY KEY)")
    run_as_hive(db, "pw-one-A1b2C3", f"INSERT INTO {DATABASE}.DBS VALUES (1)")
    assert client.run(f"SELECT DB_ID FROM {DATABASE}.DBS") == [["1"]]
    client.run(f"CREATE DATABASE {OTHER}")
    for elsewhere in (NEIGHBOUR, OTHER, "mysql"):
        # 1142: table command denied; 1044: database access denied.
        assert denied(db, "pw-one-A1b2C3", f"CREATE TABLE {elsewhere}.t (x INT)") in (1142, 1044)


def test_create_again_is_idempotent_and_keeps_the_data(hive: Any) -> None:
    client, props, _, db = hive
    hive_metastore.on_event(event("Create", props))
    run_as_hive(db, "pw-one-A1b2C3", f"CREATE TABLE {DATABASE}.VERSION (VER_ID BIGINT)")
    before = grants(client)
    hive_metastore.on_event(event("Create", props))
    hive_metastore.on_event(event("Update", props, old=props))
    assert grants(client) == before
    assert client.run(f"SHOW TABLES FROM {DATABASE}") == [["VERSION"]]
    run_as_hive(db, "pw-one-A1b2C3", f"INSERT INTO {DATABASE}.VERSION VALUES (1)")


def test_update_after_a_manual_rotation_sets_the_new_password(hive: Any) -> None:
    client, props, sm, db = hive
    hive_metastore.on_event(event("Create", props))
    sm.put_secret_value(SecretId=props["PasswordSecretArn"], SecretString="pw-two-D4e5F6")
    hive_metastore.on_event(event("Update", props, old=props))
    stored = client.run(f"SELECT authentication_string FROM mysql.user WHERE user = '{USER}'")
    assert stored == [[_hash(client, "pw-two-D4e5F6")]]
    run_as_hive(db, "pw-two-D4e5F6", f"CREATE TABLE {DATABASE}.TBLS (TBL_ID BIGINT)")
    with pytest.raises(pymysql.err.OperationalError, match="Access denied"):
        login(db, "pw-one-A1b2C3").close()
    with pytest.raises(pymysql.err.OperationalError, match="Access denied"):  # REQUIRE SSL holds
        login(db, "pw-two-D4e5F6", tls=False).close()


def test_update_to_another_database_moves_the_grant(hive: Any) -> None:
    client, props, _, db = hive
    hive_metastore.on_event(event("Create", props))
    moved = {**props, "Database": OTHER}
    hive_metastore.on_event(event("Update", moved, old=props))
    assert grants(client) >= {f"GRANT ALL PRIVILEGES ON `hive\\_other`.* TO `{USER}`@`%`"}
    assert not any("hive\\_ms" in g for g in grants(client))
    assert {DATABASE, OTHER} <= databases(client)  # the old schema is kept
    run_as_hive(db, "pw-one-A1b2C3", f"CREATE TABLE {OTHER}.t (x INT)")
    assert denied(db, "pw-one-A1b2C3", f"CREATE TABLE {DATABASE}.t (x INT)") in (1142, 1044)
    # The old grant already gone (revoked by hand) does not fail the update.
    hive_metastore.on_event(event("Update", moved, old=props))


def test_delete_drops_the_user_and_keeps_the_database(hive: Any) -> None:
    client, props, _, db = hive
    hive_metastore.on_event(event("Create", props))
    run_as_hive(db, "pw-one-A1b2C3", f"CREATE TABLE {DATABASE}.DBS (DB_ID BIGINT)")
    answer = hive_metastore.on_event(event("Delete", props))
    assert answer == {"PhysicalResourceId": f"{USER}@{db.host}"}
    assert not user_exists(client)
    assert DATABASE in databases(client)
    assert client.run(f"SHOW TABLES FROM {DATABASE}") == [["DBS"]]
    hive_metastore.on_event(event("Delete", props))  # already gone: still a success


def _hash(client: MariaDb, password: str) -> str:
    (row,) = client.run(f"SELECT PASSWORD('{password}')")
    return str(row[0])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"Extra": "x"}, "unknown properties ['Extra']"),
        ({"User": None}, "user name None"),
        ({"User": "hive-user"}, "user name 'hive-user' must be 1-32 letters"),
        ({"User": "h'; DROP USER root; --"}, "must be 1-32 letters"),
        ({"User": "ROOT"}, "reserved account"),
        ({"User": "admin"}, "reserved account"),
        ({"Database": "mysql"}, "system schema"),
        ({"Database": "hive%"}, "exact MySQL database name"),
        ({"Database": "hive`; DROP DATABASE x; --"}, "exact MySQL database name"),
        ({"Database": ["hive"]}, "exact MySQL database name"),
        ({"Port": "x"}, "Port='x' must be an integer"),
        ({"Port": "0"}, "Port=0"),
        ({"Host": "db;rm"}, "Host='db;rm'"),
        ({"AdminSecretArn": "admin"}, "AdminSecretArn='admin': pass a Secrets Manager secret ARN"),
        ({"PasswordSecretArn": ""}, "PasswordSecretArn='': pass a Secrets Manager secret ARN"),
    ],
)
def test_bad_properties_are_named_and_nothing_runs(hive: Any, change: dict[str, Any], message: str) -> None:
    client, props, _, _ = hive
    for request in ("Create", "Update", "Delete"):
        with pytest.raises(hive_metastore.PropertyError, match=re.escape(message)):
            hive_metastore.on_event(event(request, {**props, **change}))
    assert not user_exists(client) and DATABASE not in databases(client)


def test_missing_properties_are_named(hive: Any) -> None:
    _, props, _, _ = hive
    partial = {k: v for k, v in props.items() if k not in ("User", "Database")}
    with pytest.raises(hive_metastore.PropertyError, match=r"missing properties \['Database', 'User'\]"):
        hive_metastore.on_event(event("Create", partial))
    with pytest.raises(hive_metastore.PropertyError, match="RequestType='Replace'"):
        hive_metastore.on_event(event("Replace", props))


def test_the_admin_account_is_never_the_hive_user(hive: Any) -> None:
    """A custom admin name (not in the reserved list) is refused too: Delete would drop it."""
    client, props, sm, db = hive
    client.run(
        "CREATE USER 'dbowner'@'%' IDENTIFIED BY 'owner-pw'; "
        "GRANT ALL PRIVILEGES ON *.* TO 'dbowner'@'%' WITH GRANT OPTION"
    )
    admin = sm.create_secret(
        Name="owner", SecretString=json.dumps({"username": "dbowner", "password": "owner-pw"})
    )["ARN"]
    as_owner = {**props, "AdminSecretArn": admin, "User": "DBOWNER"}
    for request in ("Create", "Delete"):
        with pytest.raises(hive_metastore.PropertyError, match="is the admin"):
            hive_metastore.on_event(event(request, as_owner))
    assert user_exists(client, "dbowner")
    # The same admin creates another user normally.
    hive_metastore.on_event(event("Create", {**props, "AdminSecretArn": admin}))
    run_as_hive(db, "pw-one-A1b2C3", f"CREATE TABLE {DATABASE}.t (x INT)")


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        (json.dumps({"username": "hive", "password": "x"}), "is a JSON object"),
    ],
)
def test_the_password_secret_must_be_plaintext(hive: Any, secret: str, message: str) -> None:
    client, props, sm, _ = hive
    sm.put_secret_value(SecretId=props["PasswordSecretArn"], SecretString=secret)
    with pytest.raises(hive_metastore.PropertyError, match=f"PasswordSecretArn: the secret {message}"):
        hive_metastore.on_event(event("Create", props))
    assert not user_exists(client) and DATABASE not in databases(client)


def test_a_plaintext_password_that_parses_as_json_scalar_is_used_verbatim(hive: Any) -> None:
    _, props, sm, db = hive
    sm.put_secret_value(SecretId=props["PasswordSecretArn"], SecretString="12345678901234567890")
    hive_metastore.on_event(event("Create", props))
    run_as_hive(db, "12345678901234567890", f"CREATE TABLE {DATABASE}.t (x INT)")


def test_the_admin_secret_must_be_json_with_credentials(hive: Any) -> None:
    client, props, sm, _ = hive
    sm.put_secret_value(SecretId=props["AdminSecretArn"], SecretString="just-a-password")
    with pytest.raises(hive_metastore.PropertyError, match="AdminSecretArn: the secret is not JSON"):
        hive_metastore.on_event(event("Create", props))
    sm.put_secret_value(SecretId=props["AdminSecretArn"], SecretString=json.dumps({"username": "root"}))
    with pytest.raises(hive_metastore.PropertyError, match="string username and password"):
        hive_metastore.on_event(event("Create", props))
    assert not user_exists(client) and DATABASE not in databases(client)


def test_both_entry_modules_import_as_the_lambda_runtime_does() -> None:
    """The folder is the code root in Lambda (``handler.on_event``, ``hive_metastore.on_event``):
    no package, no site-packages, PyMySQL only from ``_vendor``."""
    folder = Path(lambda_dir("mysql_cdc_setup"))
    assert (folder / "_vendor" / "VENDORED.txt").is_file(), "run `make lambda-deps` first"
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]); "
        "import handler, hive_metastore, mysql_admin, pymysql; "
        "assert hive_metastore._mysql is mysql_admin and handler._mysql is mysql_admin; "
        "print(pymysql.__file__)"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", probe, str(folder)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()).is_relative_to(folder / "_vendor"), done.stdout


def test_a_refused_admin_login_is_retried_with_the_secret_read_again(
    hive: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The admin secret mid-rotation: MySQL has the new password, the secret not yet; the
    rotation finishes while the handler waits."""
    client, props, sm, db = hive
    right = sm.get_secret_value(SecretId=props["AdminSecretArn"])["SecretString"]
    sm.put_secret_value(
        SecretId=props["AdminSecretArn"], SecretString=json.dumps({"username": db.user, "password": "stale"})
    )
    waits: list[float] = []

    def rotation_finishes(delay: float) -> None:
        waits.append(delay)
        sm.put_secret_value(SecretId=props["AdminSecretArn"], SecretString=right)

    monkeypatch.setattr(mysql_admin, "_sleep", rotation_finishes)
    hive_metastore.on_event(event("Create", props))
    assert waits == [mysql_admin.RETRY_DELAYS[0]]
    assert user_exists(client)


def test_a_wrong_admin_password_fails_after_the_retries(hive: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    client, props, sm, db = hive
    sm.put_secret_value(
        SecretId=props["AdminSecretArn"], SecretString=json.dumps({"username": db.user, "password": "wrong"})
    )
    waits: list[float] = []
    monkeypatch.setattr(mysql_admin, "_sleep", waits.append)
    with pytest.raises(pymysql.err.OperationalError, match="Access denied"):
        hive_metastore.on_event(event("Create", props))
    assert waits == list(mysql_admin.RETRY_DELAYS)
    assert not user_exists(client)


def test_a_new_password_revision_is_an_update_that_sets_the_password(hive: Any) -> None:
    _, props, sm, db = hive
    first = {**props, "PasswordRevision": "1"}
    hive_metastore.on_event(event("Create", first))
    sm.put_secret_value(SecretId=props["PasswordSecretArn"], SecretString="pw-three-G7h8I9")
    hive_metastore.on_event(event("Update", {**props, "PasswordRevision": "2026-12-02"}, old=first))
    run_as_hive(db, "pw-three-G7h8I9", f"CREATE TABLE {DATABASE}.t (x INT)")
    with pytest.raises(hive_metastore.PropertyError, match="PasswordRevision='a b'"):
        hive_metastore.on_event(event("Update", {**props, "PasswordRevision": "a b"}, old=first))


def test_the_one_secrets_manager_call_matches_the_service_model() -> None:
    """The handlers call ``GetSecretValue(SecretId=...)`` and read ``SecretString`` (moto checks
    the call too; this pins the shape against botocore's model)."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("secretsmanager")
    operation = model.operation_model("GetSecretValue")
    assert "SecretId" in operation.input_shape.required_members
    assert "SecretString" in operation.output_shape.members


def test_the_rds_cas_alone_refuse_a_server_they_did_not_sign(
    hive: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without ``MYSQL_CA_BUNDLE`` the handler trusts only the bundled Amazon RDS CAs: the test
    server's certificate (another CA) fails verification, so ``Create`` fails and creates nothing."""
    client, props, _, mariadb = hive
    monkeypatch.delenv(mysql_admin.CA_BUNDLE_ENV)
    monkeypatch.setattr(mysql_admin, "RETRY_DELAYS", ())
    assert Path(mysql_admin.RDS_CA_BUNDLE).is_file()
    with pytest.raises(pymysql.err.OperationalError, match="CERTIFICATE_VERIFY_FAILED"):
        hive_metastore.on_event(event("Create", props), None)
    assert not user_exists(client)
    # and the same CA file as the handler's, the server's own CA, lets it in
    monkeypatch.setenv(mysql_admin.CA_BUNDLE_ENV, str(mariadb.ca_pem))
    hive_metastore.on_event(event("Create", props), None)
    assert user_exists(client)
