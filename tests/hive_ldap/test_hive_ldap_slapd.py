"""The LDAP settings HiveLdapAuthentication renders, run against a real directory (slapd, LDAPS).

* hive-site path: the ``hive.server2.authentication.ldap.*`` settings are read from the
  synthesized cluster's ``hive-site`` and given (with the URL's host and port replaced by the
  test slapd's) to **Hive's own** ``org.apache.hive.service.auth.LdapAuthenticationProviderImpl``
  (hive-service 3.1.3, EMR 7's Hive) on Java 17, through a small driver compiled from
  ``HiveLdapCheck.java`` at test time. The provider does its real work: the bind as the user's DN
  (``userDNPattern`` / ``baseDN``), then the user and group filter chain over LDAPS.
* HiveServer2 3.1.3 itself needs Java 8, which these machines lack: its own settings
  (``hive.server2.authentication=LDAP``, ``hive.server2.use.SSL=true``) are checked as values.
* native path: EMR's on-cluster SSSD cannot run here; the rendered ``LDAPConfiguration`` (URL,
  user search base, access filter, bind credentials in EMR's one-pair secret format) drives an
  ldap3 search and bind the way SSSD uses them: search the user under the search base with the
  access filter as the bind DN, then bind as the found entry with the user's password.
"""

from __future__ import annotations

import json
import re
import ssl
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from tests import services
from tests.hive_ldap.conftest import ADMIN_DN, ADMIN_PASSWORD, GROUPS, PEOPLE, USERS, Slapd

HERE = Path(__file__).resolve().parent
DIRECTORY_URL = "ldaps://ldap.corp.example.com:636"


def _render_hive_site(**kwargs: Any) -> dict[str, str]:
    """The hive-site the synthesized Hive cluster carries with a HiveLdapAuthentication."""
    from aws_cdk import App, Stack
    from aws_cdk import aws_s3 as s3
    from aws_cdk.assertions import Template

    from emr_patterns.foundation.options import SecurityOptions
    from emr_patterns.foundation.platform import EmrPlatform
    from emr_patterns.patterns.hive import HiveCluster, HiveMetastoreDatabase
    from emr_patterns.patterns.hive_ldap import HiveLdapAuthentication, LdapPath

    stack = Stack(App(), "HiveLdapSlapd")
    certs = s3.Bucket.from_bucket_name(stack, "Certs", "certs-bucket")
    platform = EmrPlatform(
        stack, "Platform", security=SecurityOptions(certificate_bucket=certs, certificate_key="emr/tls.zip")
    )
    ldap = HiveLdapAuthentication(
        stack, "Ldap", platform=platform, server_url=DIRECTORY_URL, path=LdapPath.HIVE_SITE, **kwargs
    )
    metastore = HiveMetastoreDatabase(stack, "Metastore", platform=platform)
    HiveCluster(stack, "Hive", platform=platform, metastore=metastore, configurations=ldap.configurations)
    (cluster,) = Template.from_stack(stack).find_resources("AWS::EMR::Cluster").values()
    (site,) = [c for c in cluster["Properties"]["Configurations"] if c["Classification"] == "hive-site"]
    return {k: v for k, v in site["ConfigurationProperties"].items() if k.startswith("hive.server2.")}


def _render_native(**kwargs: Any) -> dict[str, Any]:
    from aws_cdk import App, Stack
    from aws_cdk import aws_s3 as s3

    from emr_patterns.foundation.options import SecurityOptions
    from emr_patterns.foundation.platform import EmrPlatform
    from emr_patterns.patterns.hive_ldap import HiveLdapAuthentication

    stack = Stack(App(), "HiveLdapNative")
    certs = s3.Bucket.from_bucket_name(stack, "Certs", "certs-bucket")
    platform = EmrPlatform(
        stack, "Platform", security=SecurityOptions(certificate_bucket=certs, certificate_key="emr/tls.zip")
    )
    ldap = HiveLdapAuthentication(
        stack,
        "Ldap",
        platform=platform,
        server_url=DIRECTORY_URL,
        certificate_secret="arn:aws:secretsmanager:us-east-1:111122223333:secret:ldap-ca-AbCdEf",
        bind_credentials_secret="arn:aws:secretsmanager:us-east-1:111122223333:secret:ldap-bind-AbCdEf",
        **kwargs,
    )
    document = stack.resolve(ldap.document)
    return document["AuthenticationConfiguration"]["LDAPConfiguration"]


def _at_test_directory(url: str, slapd: Slapd) -> str:
    """The rendered URL with its host and port replaced by the test slapd's (scheme kept)."""
    found = re.match(r"^(ldaps)://[^/:]+(:\d+)?/?$", url)
    assert found, f"rendered URL {url!r} is not one ldaps://host[:port]"
    return f"{found[1]}://127.0.0.1:{slapd.ldaps_port}"


class HiveProvider:
    """Hive's LdapAuthenticationProviderImpl on Java 17, trusting the test CA."""

    def __init__(self, work: Path, slapd: Slapd) -> None:
        self.work = work
        classes = work / "classes"
        classes.mkdir(parents=True, exist_ok=True)
        self.cp = services.classpath("hive-ldap")
        javac = services.JAVA_HOME / "bin" / "javac"
        built = subprocess.run(
            [str(javac), "-d", str(classes), "-cp", self.cp, str(HERE / "HiveLdapCheck.java")],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if built.returncode != 0:
            raise services.ServiceUnavailable(f"javac HiveLdapCheck failed:\n{built.stderr}")
        self.classes = classes
        self.truststore = work / "trust.p12"
        imported = subprocess.run(
            [
                str(services.JAVA_HOME / "bin" / "keytool"),
                "-importcert",
                "-noprompt",
                "-alias",
                "test-ldap-ca",
                "-file",
                str(slapd.ca_pem),
                "-keystore",
                str(self.truststore),
                "-storetype",
                "PKCS12",
                "-storepass",
                "changeit",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if imported.returncode != 0:
            raise services.ServiceUnavailable(f"keytool failed:\n{imported.stdout}{imported.stderr}")

    def authenticate(self, settings: dict[str, str], attempts: Iterable[tuple[str, str]]) -> dict[str, str]:
        """user -> "OK" or "DENIED <reason>" for each (user, password), in one JVM."""
        properties = self.work / "hive-ldap.properties"
        # java.util.Properties format: escape backslashes (none expected) and keep '=' in values.
        properties.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
        attempts = list(attempts)
        done = subprocess.run(
            [
                services.java(),
                *services.JDK17_FLAGS,
                f"-Djavax.net.ssl.trustStore={self.truststore}",
                "-Djavax.net.ssl.trustStorePassword=changeit",
                "-cp",
                f"{self.classes}:{self.cp}",
                "HiveLdapCheck",
                str(properties),
            ],
            input="".join(f"{u}\t{p}\n" for u, p in attempts),
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        results = [line for line in done.stdout.splitlines() if line.startswith(("OK ", "DENIED "))]
        assert done.returncode == 0 and len(results) == len(attempts), done.stdout + done.stderr[-3000:]
        return {f"{u}/{p}": line.split(" ", 2)[0] for (u, p), line in zip(attempts, results, strict=True)}


@pytest.fixture(scope="module")
def hive_provider(slapd: Slapd, tmp_path_factory: pytest.TempPathFactory) -> HiveProvider:
    return HiveProvider(tmp_path_factory.mktemp("hive-ldap"), slapd)


def _password(user: str) -> str:
    return USERS[user][0]


def test_hiveserver2_settings_as_values() -> None:
    # HiveServer2 3.1.3 needs Java 8 (not on these machines): its own settings are checked as values.
    site = _render_hive_site(user_dn_pattern=f"uid=%s,{PEOPLE}")
    assert site["hive.server2.authentication"] == "LDAP"
    assert site["hive.server2.use.SSL"] == "true"
    assert site["hive.server2.authentication.ldap.url"] == DIRECTORY_URL
    assert not [k for k in site if re.search("pass|pw|secret", k, re.IGNORECASE)]


def test_user_dn_pattern_and_group_filter_through_hive(slapd: Slapd, hive_provider: HiveProvider) -> None:
    site = _render_hive_site(
        user_dn_pattern=f"uid=%s,{PEOPLE}",
        group_filter=["hive-users"],
        group_dn_pattern=f"cn=%s,{GROUPS}",
    )
    site["hive.server2.authentication.ldap.url"] = _at_test_directory(
        site["hive.server2.authentication.ldap.url"], slapd
    )
    results = hive_provider.authenticate(
        site,
        [
            ("alice", _password("alice")),
            ("alice", "not-alices-password"),
            ("bob", _password("bob")),  # right password, not in hive-users
            ("mallory", "anything"),  # no such user
        ],
    )
    assert results == {
        f"alice/{_password('alice')}": "OK",
        "alice/not-alices-password": "DENIED",
        f"bob/{_password('bob')}": "DENIED",
        "mallory/anything": "DENIED",
    }


def test_base_dn_and_user_filter_through_hive(slapd: Slapd, hive_provider: HiveProvider) -> None:
    site = _render_hive_site(user_search_base=PEOPLE, user_filter=["alice", "carol"])
    assert "hive.server2.authentication.ldap.userDNPattern" not in site
    site["hive.server2.authentication.ldap.url"] = _at_test_directory(
        site["hive.server2.authentication.ldap.url"], slapd
    )
    results = hive_provider.authenticate(
        site,
        [
            ("alice", _password("alice")),
            ("carol", _password("carol")),
            ("bob", _password("bob")),  # outside the user filter
            ("carol", "wrong"),
        ],
    )
    assert results == {
        f"alice/{_password('alice')}": "OK",
        f"carol/{_password('carol')}": "OK",
        f"bob/{_password('bob')}": "DENIED",
        "carol/wrong": "DENIED",
    }


def test_plain_ldap_would_not_reach_the_ldaps_only_directory(
    slapd: Slapd, hive_provider: HiveProvider
) -> None:
    # The test directory's LDAPS port does not speak plain LDAP: an ldap:// URL (which the
    # construct refuses) cannot authenticate anyone there.
    site = _render_hive_site(user_dn_pattern=f"uid=%s,{PEOPLE}")
    site["hive.server2.authentication.ldap.url"] = f"ldap://127.0.0.1:{slapd.ldaps_port}"
    assert hive_provider.authenticate(site, [("alice", _password("alice"))]) == {
        f"alice/{_password('alice')}": "DENIED"
    }


# ---- native path ------------------------------------------------------------------------------


def _sssd_login(slapd: Slapd, ldap: dict[str, Any], bind_secret: str, user: str, password: str) -> bool:
    """SSSD's use of the native settings: search as the bind DN, then bind as the user found."""
    import ldap3

    url = _at_test_directory(ldap["LDAPServerURL"], slapd)
    port = int(url.rsplit(":", 1)[1])
    tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=str(slapd.ca_pem))
    server = ldap3.Server("127.0.0.1", port=port, use_ssl=True, tls=tls)
    ((bind_dn, bind_password),) = json.loads(bind_secret).items()  # EMR's one-pair format
    with ldap3.Connection(server, bind_dn, bind_password, auto_bind=True) as conn:
        query = f"(&(uid={ldap3.utils.conv.escape_filter_chars(user)}){ldap['LDAPAccessFilter']})"
        conn.search(ldap["LDAPUserSearchBase"], query, attributes=["uid"])
        found = [e.entry_dn for e in conn.entries]
    if len(found) != 1:
        return False
    user_conn = ldap3.Connection(server, found[0], password)
    try:
        return bool(user_conn.bind())
    finally:
        user_conn.unbind()


def test_native_settings_let_in_exactly_the_filtered_users(slapd: Slapd) -> None:
    ldap = _render_native(user_search_base=PEOPLE, group_search_base=GROUPS)
    assert ldap["LDAPAccessFilter"] == "(objectClass=posixAccount)"
    bind_secret = json.dumps({ADMIN_DN: ADMIN_PASSWORD})
    assert _sssd_login(slapd, ldap, bind_secret, "alice", _password("alice"))
    assert _sssd_login(slapd, ldap, bind_secret, "bob", _password("bob"))
    assert not _sssd_login(slapd, ldap, bind_secret, "alice", "wrong")
    # carol exists with the right password but is no posixAccount: outside the access filter.
    assert not _sssd_login(slapd, ldap, bind_secret, "carol", _password("carol"))


def test_native_access_filter_is_what_narrows(slapd: Slapd) -> None:
    # A narrower access filter (posix accounts named alice) lets bob out with his right password.
    ldap = _render_native(user_search_base=PEOPLE, access_filter="(&(objectClass=posixAccount)(uid=alice))")
    bind_secret = json.dumps({ADMIN_DN: ADMIN_PASSWORD})
    assert _sssd_login(slapd, ldap, bind_secret, "alice", _password("alice"))
    assert not _sssd_login(slapd, ldap, bind_secret, "bob", _password("bob"))
