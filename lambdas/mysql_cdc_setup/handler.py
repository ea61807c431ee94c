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

Shared with ``hive_metastore`` (the Hive metastore user) through :mod:`mysql_admin`: the property
and name checks, the admin session over TLS (see there) and the user statements.
"""

from __future__ import annotations

import logging
from typing import Any

try:  # the package (tests, the wheel) or the Lambda bundle (the folder is the code root)
    from . import mysql_admin as _mysql
except ImportError:  # pragma: no cover - the Lambda runtime imports handler.py as a module
    import mysql_admin as _mysql  # type: ignore[no-redef]

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)

KNOWN_PROPERTIES = frozenset(
    {"AdminSecretArn", "Host", "Port", "DmsSecretArn", "Databases", "BinlogRetentionHours"}
)
PropertyError = _mysql.PropertyError
connect = _mysql.connect


def check(props: dict[str, Any]) -> dict[str, Any]:
    """The properties, checked: every problem raises PropertyError naming the property."""
    _mysql.check_keys(props, KNOWN_PROPERTIES)
    databases = props["Databases"]
    if not isinstance(databases, list) or not databases:
        raise PropertyError(f"Databases={databases!r}: pass a list of exact MySQL database names (no %)")
    for database in databases:
        if not isinstance(database, str) or not _mysql.NAME.match(database):
            raise PropertyError(f"Databases={databases!r}: pass a list of exact MySQL database names (no %)")
        _mysql.check_database(database, "Databases")
    try:
        hours = int(props["BinlogRetentionHours"])
    except (TypeError, ValueError):
        raise PropertyError(
            f"BinlogRetentionHours={props['BinlogRetentionHours']!r} must be an integer"
        ) from None
    if not 1 <= hours <= 168:
        raise PropertyError(f"BinlogRetentionHours={hours}: RDS accepts 1-168 hours")
    checked = _mysql.check_endpoint(props, ("DmsSecretArn",))
    return {**checked, "Databases": databases, "BinlogRetentionHours": hours}


def statements(dms_user: str, dms_password: str, databases: list[str], hours: int) -> list[tuple[str, tuple]]:
    """The SQL run on Create/Update, with parameters (names are checked, never interpolated raw)."""
    out: list[tuple[str, tuple]] = [
        ("CALL mysql.rds_set_configuration('binlog retention hours', %s)", (hours,)),
        *_mysql.user_statements(dms_user, dms_password),
        ("GRANT REPLICATION CLIENT, REPLICATION SLAVE ON *.* TO %s@'%%'", (dms_user,)),
    ]
    for database in databases:
        out.append((f"GRANT SELECT ON {_mysql.grant_level(database)} TO %s@'%%'", (dms_user,)))
    return out


def _dms_user(props: dict[str, Any], admin_user: str) -> tuple[str, str]:
    dms = _mysql.secret_json(props["DmsSecretArn"], "DmsSecretArn")
    user = _mysql.check_user(dms.get("username", ""), "DmsSecretArn", admin_user)
    return user, dms.get("password", "")


def apply(props: dict[str, Any], *, tls: bool = True) -> str:
    """Create/Update: run :func:`statements` as the admin user; returns the DMS user name."""
    with _mysql.admin_session(props, tls=tls) as (cursor, admin_user):
        user, password = _dms_user(props, admin_user)
        if not isinstance(password, str) or not password:
            raise PropertyError("DmsSecretArn: the secret has no password")
        for sql, params in statements(user, password, props["Databases"], props["BinlogRetentionHours"]):
            cursor.execute(sql, params)
    return user


def remove(props: dict[str, Any], *, tls: bool = True) -> None:
    """Delete: drop the DMS user."""
    with _mysql.admin_session(props, tls=tls) as (cursor, admin_user):
        user, _ = _dms_user(props, admin_user)
        cursor.execute(*_mysql.drop_user_statement(user))


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
