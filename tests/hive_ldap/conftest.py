"""A private slapd (Debian's OpenLDAP 2.5) with a test directory, over LDAPS, for the session.

The directory (``dc=example,dc=com``, mdb backend, core/cosine/inetorgperson/nis schemas):

* ``uid=alice``: posixAccount + inetOrgPerson, member of ``cn=hive-users``;
* ``uid=bob``: posixAccount + inetOrgPerson, in no group;
* ``uid=carol``: inetOrgPerson only (outside the access filter ``(objectClass=posixAccount)``).

The server speaks LDAPS with a certificate for 127.0.0.1 signed by a test CA made at fixture time
with the ``cryptography`` package; clients trust that CA (``ca_pem``). It listens on plain
``ldap://`` too, on another loopback port, only for ``ldapadd`` to seed it.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import services

SUFFIX = "dc=example,dc=com"
ADMIN_DN = f"cn=admin,{SUFFIX}"
ADMIN_PASSWORD = "test-admin-password"
PEOPLE = f"ou=People,{SUFFIX}"
GROUPS = f"ou=Groups,{SUFFIX}"
#: user -> (password, posixAccount?, groups)
USERS = {
    "alice": ("alice-password", True, ("hive-users",)),
    "bob": ("bob-password", True, ()),
    "carol": ("carol-password", False, ()),
}


@dataclass
class Slapd:
    """Where the test directory listens and how to trust it."""

    service: services.Service
    ldaps_port: int
    ldap_port: int
    ca_pem: Path

    @property
    def ldaps_url(self) -> str:
        return f"ldaps://127.0.0.1:{self.ldaps_port}"


def _ldif() -> str:
    entries = [
        f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example",
        f"dn: {PEOPLE}\nobjectClass: organizationalUnit\nou: People",
        f"dn: {GROUPS}\nobjectClass: organizationalUnit\nou: Groups",
    ]
    for number, (user, (password, posix, _)) in enumerate(USERS.items()):
        lines = [
            f"dn: uid={user},{PEOPLE}",
            "objectClass: inetOrgPerson",
            *(["objectClass: posixAccount"] if posix else []),
            f"uid: {user}",
            f"cn: {user.title()}",
            f"sn: {user.title()}",
            f"userPassword: {password}",
        ]
        if posix:
            lines += [f"uidNumber: {10001 + number}", "gidNumber: 10000", f"homeDirectory: /home/{user}"]
        entries.append("\n".join(lines))
    groups: dict[str, list[str]] = {}
    for user, (_, _, member_of) in USERS.items():
        for group in member_of:
            groups.setdefault(group, []).append(f"uid={user},{PEOPLE}")
    for group, members in groups.items():
        entries.append(
            "\n".join(
                [f"dn: cn={group},{GROUPS}", "objectClass: groupOfNames", f"cn: {group}"]
                + [f"member: {m}" for m in members]
            )
        )
    return "\n\n".join(entries) + "\n"


def start_slapd(base: Path, *, timeout: float = 30.0) -> Slapd:
    """Debian's slapd on two free loopback ports (LDAPS and, for seeding, LDAP), seeded with ldapadd."""
    slapd = services.which("slapd")
    ldapadd = services.which("ldapadd")
    base.mkdir(parents=True, exist_ok=True)
    (base / "db").mkdir(exist_ok=True)
    ca_pem, cert_pem, key_pem = services.tls_certificates(base, "emr-patterns test LDAP CA")
    schema = Path("/etc/ldap/schema")
    modules = Path("/usr/lib/ldap")
    config = base / "slapd.conf"
    config.write_text(
        "\n".join(
            [
                *(f"include {schema / name}.schema" for name in ("core", "cosine", "inetorgperson", "nis")),
                f"pidfile {base / 'slapd.pid'}",
                f"argsfile {base / 'slapd.args'}",
                f"modulepath {modules}",
                "moduleload back_mdb",
                f"TLSCACertificateFile {ca_pem}",
                f"TLSCertificateFile {cert_pem}",
                f"TLSCertificateKeyFile {key_pem}",
                "database mdb",
                "maxsize 16777216",
                f'suffix "{SUFFIX}"',
                f'rootdn "{ADMIN_DN}"',
                f"rootpw {ADMIN_PASSWORD}",
                f"directory {base / 'db'}",
                # Users bind with their own password; everyone bound may read (Hive's filters search).
                "access to attrs=userPassword by self write by anonymous auth by * none",
                "access to * by users read by anonymous auth",
                "",
            ]
        )
    )
    ldaps_port, ldap_port = services.free_port(), services.free_port()
    service = services.start(
        "slapd",
        [
            slapd,
            "-d",
            "0",
            "-f",
            str(config),
            "-h",
            f"ldaps://127.0.0.1:{ldaps_port}/ ldap://127.0.0.1:{ldap_port}/",
        ],
        base,
        ports={"ldaps": ldaps_port, "ldap": ldap_port},
    )
    service.wait_until(
        lambda: services.port_open(ldaps_port) and services.port_open(ldap_port), timeout, "slapd listening"
    )
    seed = base / "seed.ldif"
    seed.write_text(_ldif())
    added = subprocess.run(
        [
            ldapadd,
            "-x",
            "-H",
            f"ldap://127.0.0.1:{ldap_port}",
            "-D",
            ADMIN_DN,
            "-w",
            ADMIN_PASSWORD,
            "-f",
            str(seed),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if added.returncode != 0:
        service.stop()
        raise services.ServiceUnavailable(f"ldapadd failed:\n{added.stdout}\n{added.stderr}")
    return Slapd(service, ldaps_port, ldap_port, ca_pem)


@pytest.fixture(scope="session")
def slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slapd]:
    """The test directory over LDAPS on 127.0.0.1, stopped by pid at the end of the session."""
    server = start_slapd(tmp_path_factory.mktemp("slapd"))
    yield server
    server.service.stop()
