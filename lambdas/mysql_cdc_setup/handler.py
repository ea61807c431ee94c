"""CloudFormation custom resource: prepare a MySQL database for DMS change capture.

Entry point of a ``custom_resources.Provider`` (it returns or raises; the framework answers
CloudFormation, and reports a raised error as FAILED with its message):

``on_event``
    ResourceProperties: ``AdminSecretArn`` (the RDS admin secret, JSON with ``username``,
    ``password`` and optionally ``host``/``port``), ``Host`` and ``Port`` (the endpoint),
    ``DmsSecretArn`` (the DMS user's secret, JSON with ``username`` and ``password``),
    ``Databases`` (the databases DMS may read), ``BinlogRetentionHours`` (1-168).
    ``ServiceToken`` and ``ServiceTimeout`` are ignored; any other property is rejected.

    Create / Update, in one session over TLS:

    1. ``CALL mysql.rds_set_configuration('binlog retention hours', N)``: RDS purges binary logs
       soon after use by default; DMS needs them kept until it has read them.
    2. ``CREATE USER IF NOT EXISTS`` the DMS user ``REQUIRE SSL``, then ``ALTER USER`` to the
       secret's current password (an update after rotation).
    3. ``GRANT REPLICATION CLIENT, REPLICATION SLAVE ON *.*`` (the binlog) and ``GRANT SELECT``
       on each database in ``Databases``: what the DMS MySQL source needs, nothing else.

    Data: ``DmsUser``. PhysicalResourceId: ``<DmsUser>@<Host>``.

    Delete: ``DROP USER IF EXISTS`` the DMS user (DMS is deleted first; it depends on this).

TLS: the connection is encrypted (RDS has ``require_secure_transport=ON``); the RDS CA bundle is
not shipped in the function, so the server certificate is not verified: the function reaches the
database only inside the VPC, through its security group.
"""

from __future__ import annotations

import json
import logging
import re
import ssl
from typing import Any

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)

IGNORED_PROPERTIES = frozenset({"ServiceToken", "ServiceTimeout"})
KNOWN_PROPERTIES = frozenset(
    {"AdminSecretArn", "Host", "Port", "DmsSecretArn", "Databases", "BinlogRetentionHours"}
)
_NAME = re.compile(r"^[A-Za-z0-9_$]{1,64}$")
_USER = re.compile(r"^[A-Za-z0-9_]{1,32}$")

_client: Any = None


class PropertyError(ValueError):
    """A ResourceProperties value is missing or invalid; the message names the property and fix."""


def secrets() -> Any:
    """The Secrets Manager client, created on first use."""
    global _client
    if _client is None:
        import boto3

        _client = boto3.client("secretsmanager")
    return _client


def read_secret(arn: str) -> dict[str, Any]:
    """The JSON of a secret's current version."""
    value = secrets().get_secret_value(SecretId=arn)["SecretString"]
    return json.loads(value)


def check(props: dict[str, Any]) -> dict[str, Any]:
    """The properties, checked: every problem raises PropertyError naming the property."""
    unknown = sorted(set(props) - KNOWN_PROPERTIES - IGNORED_PROPERTIES)
    if unknown:
        raise PropertyError(f"unknown properties {unknown}: pass only {sorted(KNOWN_PROPERTIES)}")
    missing = sorted(KNOWN_PROPERTIES - set(props))
    if missing:
        raise PropertyError(f"missing properties {missing}")
    databases = props["Databases"]
    if (
        not isinstance(databases, list)
        or not databases
        or not all(isinstance(d, str) and _NAME.match(d) for d in databases)
    ):
        raise PropertyError(f"Databases={databases!r}: pass a list of exact MySQL database names (no %)")
    try:
        hours = int(props["BinlogRetentionHours"])
        port = int(props["Port"])
    except (TypeError, ValueError):
        raise PropertyError(
            f"BinlogRetentionHours={props['BinlogRetentionHours']!r} and Port={props['Port']!r} "
            "must be integers"
        ) from None
    if not 1 <= hours <= 168:
        raise PropertyError(f"BinlogRetentionHours={hours}: RDS accepts 1-168 hours")
    return {**props, "Databases": databases, "BinlogRetentionHours": hours, "Port": port}


def connect(host: str, port: int, user: str, password: str, *, tls: bool = True) -> Any:
    """A PyMySQL connection (TLS without certificate verification; see the module docstring)."""
    import pymysql

    context = None
    if tls:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return pymysql.connect(
        host=host, port=port, user=user, password=password, ssl=context, connect_timeout=10, autocommit=True
    )


def statements(dms_user: str, dms_password: str, databases: list[str], hours: int) -> list[tuple[str, tuple]]:
    """The SQL run on Create/Update, with parameters (names are checked, never interpolated raw)."""
    out: list[tuple[str, tuple]] = [
        ("CALL mysql.rds_set_configuration('binlog retention hours', %s)", (hours,)),
        ("CREATE USER IF NOT EXISTS %s@'%%' IDENTIFIED BY %s REQUIRE SSL", (dms_user, dms_password)),
        ("ALTER USER %s@'%%' IDENTIFIED BY %s REQUIRE SSL", (dms_user, dms_password)),
        ("GRANT REPLICATION CLIENT, REPLICATION SLAVE ON *.* TO %s@'%%'", (dms_user,)),
    ]
    for database in databases:
        out.append((f"GRANT SELECT ON `{database}`.* TO %s@'%%'", (dms_user,)))
    return out


def apply(props: dict[str, Any], *, tls: bool = True) -> str:
    """Create/Update: run :func:`statements` as the admin user; returns the DMS user name."""
    admin = read_secret(props["AdminSecretArn"])
    dms = read_secret(props["DmsSecretArn"])
    user = dms.get("username", "")
    if not _USER.match(user):
        raise PropertyError(f"DmsSecretArn: username={user!r} must be 1-32 letters, digits or _")
    conn = connect(props["Host"], props["Port"], admin["username"], admin["password"], tls=tls)
    try:
        with conn.cursor() as cursor:
            for sql, params in statements(
                user, dms["password"], props["Databases"], props["BinlogRetentionHours"]
            ):
                cursor.execute(sql, params)
    finally:
        conn.close()
    return user


def remove(props: dict[str, Any], *, tls: bool = True) -> None:
    """Delete: drop the DMS user."""
    admin = read_secret(props["AdminSecretArn"])
    user = read_secret(props["DmsSecretArn"]).get("username", "")
    conn = connect(props["Host"], props["Port"], admin["username"], admin["password"], tls=tls)
    try:
        with conn.cursor() as cursor:
            cursor.execute("DROP USER IF EXISTS %s@'%%'", (user,))
    finally:
        conn.close()


def on_event(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Provider entry point (see the module docstring)."""
    request = event.get("RequestType")
    props = check(dict(event.get("ResourceProperties") or {}))
    if request in ("Create", "Update"):
        user = apply(props)
        logger.info("DMS user %s ready on %s (databases %s)", user, props["Host"], props["Databases"])
        return {"PhysicalResourceId": f"{user}@{props['Host']}", "Data": {"DmsUser": user}}
    if request == "Delete":
        remove(props)
        return {"PhysicalResourceId": event.get("PhysicalResourceId")}
    raise PropertyError(f"RequestType={request!r}: expected Create, Update or Delete")
