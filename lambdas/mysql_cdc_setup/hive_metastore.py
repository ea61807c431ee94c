"""CloudFormation custom resource: the Hive metastore's database and MySQL user.

Entry point of a ``custom_resources.Provider`` (it returns or raises; the framework answers
CloudFormation, and reports a raised error as FAILED with its message), in the same folder as
the CDC set-up (``handler``) and sharing :mod:`mysql_admin` with it:

``on_event``
    ResourceProperties: ``AdminSecretArn`` (the RDS admin secret, JSON with ``username`` and
    ``password``), ``Host`` and ``Port`` (the endpoint), ``PasswordSecretArn`` (the hive user's
    password: a *plaintext* secret, the one EMR resolves with ``EMR.secret@``, so it is read as
    the string it is, never parsed as JSON), ``User`` (the hive user) and ``Database`` (the
    metastore schema). ``ServiceToken`` and ``ServiceTimeout`` are ignored; any other property is
    rejected, and every name is checked before any SQL runs (the user is not the admin account or
    a reserved one; the database is not a system schema). Optional ``PasswordRevision`` is not
    read: changing it makes CloudFormation send an Update, which sets the secret's current
    password (after a manual rotation of the secret, which changes no property).

    Create / Update, in one session over TLS as the admin:

    1. ``CREATE DATABASE IF NOT EXISTS`` the metastore schema (RDS creates it with the instance;
       this covers a database that was created without it).
    2. ``CREATE USER IF NOT EXISTS '<User>'@'%' ... REQUIRE SSL``, then ``ALTER USER`` to the
       secret's current password: an update after a manual rotation of the secret sets it.
    3. ``GRANT ALL PRIVILEGES ON <Database>.*`` (``_`` escaped: that schema only) and nothing
       else; after an update that moves the user to another ``Database``, its grant on the old
       one is revoked.

    Data: ``User``, ``Database``. PhysicalResourceId: ``<User>@<Host>`` (a new user or host is a
    replacement: the new user is created, then the old one dropped).

    Delete: ``DROP USER IF EXISTS`` the hive user. The metastore database is **never** dropped:
    like the RDS instance (``RETAIN``) and the password secret, the metastore's data outlives the
    stack; a later deployment on the same database creates the user again.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

try:  # the package (tests, the wheel) or the Lambda bundle (the folder is the code root)
    from . import mysql_admin as _mysql
except ImportError:  # pragma: no cover - the Lambda runtime imports hive_metastore.py as a module
    import mysql_admin as _mysql  # type: ignore[no-redef]

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)

KNOWN_PROPERTIES = frozenset({"AdminSecretArn", "Host", "Port", "PasswordSecretArn", "User", "Database"})
#: Not read: a new value makes CloudFormation send an Update, which sets the current password.
OPTIONAL_PROPERTIES = frozenset({"PasswordRevision"})
_REVISION = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
PropertyError = _mysql.PropertyError


def check(props: dict[str, Any]) -> dict[str, Any]:
    """The properties, checked: every problem raises PropertyError naming the property."""
    _mysql.check_keys(props, KNOWN_PROPERTIES, OPTIONAL_PROPERTIES)
    revision = props.get("PasswordRevision", "-")
    if not isinstance(revision, str) or not _REVISION.match(revision):
        raise PropertyError(f"PasswordRevision={revision!r}: pass 1-64 letters, digits or ._:-")
    _mysql.check_user(props["User"], "User")
    _mysql.check_database(props["Database"], "Database")
    return _mysql.check_endpoint(props, ("PasswordSecretArn",))


def read_password(arn: str) -> str:
    """The hive user's password: the plaintext secret as stored (what ``EMR.secret@`` sends)."""
    password = _mysql.secret_text(arn)
    if not password:
        raise PropertyError("PasswordSecretArn: the secret is empty; store the hive user's password")
    try:
        parsed = json.loads(password)
    except ValueError:
        return password
    if isinstance(parsed, dict):
        raise PropertyError(
            "PasswordSecretArn: the secret is a JSON object, but EMR.secret@ passes it to Hive verbatim; "
            "store the plain password"
        )
    return password


def statements(
    user: str, password: str, database: str, old_database: str | None = None
) -> list[tuple[str, tuple[Any, ...]]]:
    """The SQL run on Create/Update, with parameters (names are checked and quoted, values bound)."""
    out: list[tuple[str, tuple[Any, ...]]] = [
        (f"CREATE DATABASE IF NOT EXISTS {_mysql.quoted(database)}", ()),
        *_mysql.user_statements(user, password),
        (f"GRANT ALL PRIVILEGES ON {_mysql.grant_level(database)} TO %s@'%%'", (user,)),
    ]
    if old_database is not None and old_database != database:
        out.append((f"REVOKE ALL PRIVILEGES ON {_mysql.grant_level(old_database)} FROM %s@'%%'", (user,)))
    return out


def _old_database(props: dict[str, Any], old: dict[str, Any] | None) -> str | None:
    """The database the same user on the same host was granted before this update, if another."""
    if not old or old.get("User") != props["User"] or old.get("Host") != props["Host"]:
        return None
    return _mysql.check_database(old.get("Database"), "OldResourceProperties.Database")


def apply(props: dict[str, Any], old: dict[str, Any] | None = None, *, tls: bool = True) -> str:
    """Create/Update: run :func:`statements` as the admin; returns the user name."""
    old_database = _old_database(props, old)
    password = read_password(props["PasswordSecretArn"])
    with _mysql.admin_session(props, tls=tls) as (cursor, admin_user):
        user = _mysql.check_user(props["User"], "User", admin_user)
        for sql, params in statements(user, password, props["Database"], old_database):
            try:
                cursor.execute(sql, params)
            except Exception as err:  # a REVOKE of a grant already gone is done, not failed
                if not (sql.startswith("REVOKE") and err.args[:1] == (_mysql.ER_NONEXISTING_GRANT,)):
                    raise
    return user


def remove(props: dict[str, Any], *, tls: bool = True) -> None:
    """Delete: drop the user; the database is kept (see the module docstring)."""
    with _mysql.admin_session(props, tls=tls) as (cursor, admin_user):
        user = _mysql.check_user(props["User"], "User", admin_user)
        cursor.execute(*_mysql.drop_user_statement(user))


def on_event(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Provider entry point (see the module docstring)."""
    request = event.get("RequestType")
    props = check(dict(event.get("ResourceProperties") or {}))
    if request in ("Create", "Update"):
        old = event.get("OldResourceProperties") if request == "Update" else None
        user = apply(props, old)
        logger.info(
            "Hive metastore user %s ready on %s (database %s)", user, props["Host"], props["Database"]
        )
        return {
            "PhysicalResourceId": f"{user}@{props['Host']}",
            "Data": {"User": user, "Database": props["Database"]},
        }
    if request == "Delete":
        remove(props)
        return {"PhysicalResourceId": event.get("PhysicalResourceId")}
    raise PropertyError(f"RequestType={request!r}: expected Create, Update or Delete")
