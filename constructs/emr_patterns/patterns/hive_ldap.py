"""LDAP authentication for HiveServer2: EMR-native LDAP (6.12+) or the hive-site path.

:class:`HiveLdapAuthentication` renders one of two ways of making HiveServer2 ask a directory for
passwords:

* ``LdapPath.NATIVE`` (EMR 6.12.0 and later): an EMR security configuration of its own with the
  platform's encryption (at rest and, as EMR requires for LDAP, in transit) plus
  ``AuthenticationConfiguration.LDAPConfiguration``: ``ldaps://`` only, the bind credentials and
  the directory's CA certificate as Secrets Manager secret ARNs, a non-empty access filter, no
  Kerberos block (EMR sets up its own KDC), OpenLDAP or Active Directory (with ``ADDomain``). EMR
  then configures HiveServer2, Livy, Trino, Presto and Hue itself.
* ``LdapPath.HIVE_SITE`` (older releases, or a directory the native path cannot serve):
  ``hive-site`` with ``hive.server2.authentication=LDAP``, the URL, ``baseDN`` or
  ``userDNPattern`` (or ``Domain`` for Active Directory), optional user and group filters, and
  HiveServer2 TLS. Hive 3.1.3 (EMR 7) has no bind-DN keys (``hive.server2.authentication.ldap
  .binddn`` arrived in Hive 4): it binds as the user logging in, so this path carries no password
  at all.

Either way HiveServer2's port (10000) is opened only to the security groups named in
``client_security_groups``, and no password is ever a literal: a literal in a secret slot or in
``extra_properties`` is refused.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

from aws_cdk import Stack, Token
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_emr as emr
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from emr_patterns.defaults import DEFAULT_EMR_RELEASE
from emr_patterns.errors import problem, raise_if_problems
from emr_patterns.foundation.platform import EmrPlatform, IEmrPlatform, check_platform
from emr_patterns.spec import Configuration
from emr_patterns.spec.configurations import Classification
from emr_patterns.spec.release import FEATURE_RELEASES, Feature, ReleaseLabel
from emr_patterns.spec.secrets import is_secret_reference, secret_value_problems

__all__ = [
    "HIVESERVER2_PORT",
    "LDAP_CONFIGURE_YOURSELF_APPLICATIONS",
    "NATIVE_LDAP_APPLICATIONS",
    "HiveLdapAuthentication",
    "LdapPath",
    "LdapServerType",
    "native_ldap_configuration",
]

#: HiveServer2's Thrift (binary) port on the primary nodes.
HIVESERVER2_PORT = 10000
#: Applications EMR-native LDAP configures itself (EMR Management Guide, "Application support and
#: considerations with LDAP"), lower case.
NATIVE_LDAP_APPLICATIONS = frozenset({"livy", "hive", "trino", "presto", "prestosql", "hue"})
#: Applications EMR lets you install beside native LDAP but does not configure for it.
LDAP_CONFIGURE_YOURSELF_APPLICATIONS = frozenset({"spark", "hadoop"})


class LdapPath(StrEnum):
    """Where the LDAP settings go."""

    NATIVE = "native"
    """EMR-native LDAP in the security configuration (EMR 6.12.0+)."""
    HIVE_SITE = "hive-site"
    """HiveServer2's own LDAP provider, configured in ``hive-site`` (any release)."""


class LdapServerType(StrEnum):
    """The directory's kind.

    The value is what the native path writes as ``LDAPServerType``. EMR's documentation names the
    two kinds ("OpenLDAP", "Active Directory") but shows no JSON literal for either, and none
    could be found in public code: ``OpenLDAP`` and ``ActiveDirectory`` are this library's
    reading. Pass ``server_type_value`` to :class:`HiveLdapAuthentication` to write another
    literal if the EMR console's generated JSON for your configuration shows a different one.
    """

    OPENLDAP = "OpenLDAP"
    """OpenLDAP (and directories that authenticate like it: a bind with the user's DN)."""
    ACTIVE_DIRECTORY = "ActiveDirectory"
    """Microsoft Active Directory (a bind with the user principal name ``user@domain``)."""


_DN = re.compile(r"^[A-Za-z][\w-]*=[^,]+(,\s*[A-Za-z][\w-]*=[^,]+)*$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_URL = re.compile(r"^ldaps://[A-Za-z0-9.-]+(:\d{1,5})?/?$")


def _is_token(value: Any) -> bool:
    return isinstance(value, str) and Token.is_unresolved(value)


def native_ldap_configuration(
    *,
    server_url: str,
    certificate_secret_arn: str,
    access_filter: str,
    user_search_base: str | None,
    group_search_base: str | None,
    server_type: str,
    bind_credentials_secret_arn: str | None = None,
    ad_domain: str | None = None,
    enable_ssh_login: bool = False,
) -> dict[str, Any]:
    """The ``AuthenticationConfiguration`` section of an EMR security configuration for
    EMR-native LDAP (no validation: :class:`HiveLdapAuthentication` checks the props)."""
    ldap: dict[str, Any] = {
        "EnableLDAPAuthentication": True,
        "LDAPServerURL": server_url,
        "BindCertificateARN": certificate_secret_arn,
        "LDAPAccessFilter": access_filter,
        "LDAPServerType": server_type,
        "EnableSSHLogin": enable_ssh_login,
    }
    if bind_credentials_secret_arn:
        ldap["BindCredentialsARN"] = bind_credentials_secret_arn
    if user_search_base:
        ldap["LDAPUserSearchBase"] = user_search_base
    if group_search_base:
        ldap["LDAPGroupSearchBase"] = group_search_base
    if ad_domain:
        ldap["ActiveDirectoryConfigurations"] = {"ADDomain": ad_domain}
    return {"LDAPConfiguration": ldap}


class HiveLdapAuthentication(Construct):
    """HiveServer2 users log in with their directory password (EMR-native LDAP or hive-site).

    Give the cluster :attr:`security_configuration_name` (native path; the platform's
    configuration on the hive-site path) and :attr:`configurations` (hive-site path; none on
    the native path), then call :meth:`open_hiveserver2` with the cluster's primary security
    group (``HiveCluster(..., configurations=auth.configurations,
    security_configuration_name=auth.security_configuration_name)``; ``HiveLdapStack`` does it).

    Native path (``LdapPath.NATIVE``, default; EMR 6.12.0+): a new ``AWS::EMR::SecurityConfiguration``
    (``SecurityConfiguration``) holding ``base_security_configuration`` (default: the platform's
    own document, so the same key and TLS certificate) plus ``AuthenticationConfiguration
    .LDAPConfiguration``. The platform's instance role gets ``secretsmanager:GetSecretValue`` on
    the certificate and bind-credential secrets (EMR's secret agent on the nodes reads them) and
    ``kms:Decrypt`` on the platform key through Secrets Manager. EMR requires in-transit
    encryption, refuses a Kerberos block, IAM runtime roles and Lake Formation next to LDAP, and
    rejects at cluster creation any application outside Livy, Hive, Trino, Presto and Hue
    (Spark and Hadoop may be installed and configured by you): each is refused here at synth.

    hive-site path (``LdapPath.HIVE_SITE``): :attr:`configurations` is one ``hive-site`` with
    ``hive.server2.authentication=LDAP``, ``...ldap.url``, ``...ldap.baseDN`` and/or
    ``...ldap.userDNPattern`` (OpenLDAP) or ``...ldap.Domain`` (Active Directory), the user,
    group and custom-query filters given, and ``hive.server2.use.SSL=true`` (the platform's
    in-transit encryption gives HiveServer2 its certificate). The directory must still be
    ``ldaps://``; a private CA must be in the nodes' Java trust store (a bootstrap action).

    Args:
        scope: parent construct.
        id: construct id.
        platform: the platform (instance role, key; on the native path its security
            configuration document is the base unless ``base_security_configuration`` is given).
        server_url: ``ldaps://host[:port]`` of the directory (space-separated URLs are refused:
            give one, or a load balancer). May be a token (a stack parameter); then it is not
            checked here.
        server_type: OpenLDAP or Active Directory. Default ``LdapServerType.OPENLDAP``.
        path: native or hive-site. Default ``LdapPath.NATIVE``.
        release_label: the cluster's release; the native path needs ``emr-6.12.0`` or later.
            Default: the library's default release.
        applications: the cluster's applications, checked against what native LDAP supports.
            Default ``("Hadoop", "Hive", "Spark")``.
        certificate_secret: (native) the secret holding the PEM of the CA that signed the
            directory's certificate (a blank secret for a public CA); a secret or its ARN.
            Required on the native path.
        bind_credentials_secret: (native) the secret holding ``{"<bind DN>": "<password>"}``, a
            secret or its ARN. Default: none (EMR binds as each user; Active Directory usually
            needs one for SSSD).
        access_filter: (native) who may log in, an LDAP filter, never empty. Default
            ``(objectClass=posixAccount)``.
        user_search_base: (native) base DN of users, e.g. ``ou=People,dc=example,dc=com``; on
            the hive-site path it is ``baseDN`` too. Default: none.
        group_search_base: (native) base DN of groups. Default: none.
        ad_domain: the Active Directory domain (``ADDomain`` natively, ``...ldap.Domain`` in
            hive-site); required with Active Directory.
        enable_ssh_login: (native) let directory users SSH to the nodes; needs bind
            credentials. Default False (the platform's access is SSM).
        server_type_value: (native) the literal written as ``LDAPServerType``. Default: the
            value of ``server_type`` (see :class:`LdapServerType` for why this can be changed).
        base_security_configuration: (native) the security configuration document to add LDAP
            to; must turn in-transit encryption on and hold no Kerberos, runtime-role or Lake
            Formation section. Default: the platform's document (an :class:`EmrPlatform` only;
            pass it for an imported platform).
        user_dn_pattern: (hive-site) ``uid=%s,ou=People,dc=example,dc=com`` (colon-separated for
            several). Default: none (Hive builds ``uid=<user>,<baseDN>``).
        user_filter: (hive-site) user names allowed to log in. Default: all users the bind finds.
        group_filter: (hive-site) group names whose members may log in. Default: no group check.
        group_dn_pattern: (hive-site) ``cn=%s,ou=Groups,dc=example,dc=com`` for the group check.
            Default: none.
        custom_query: (hive-site) an LDAP query whose results may log in (replaces the filters).
            Default: none.
        extra_properties: (hive-site) further ``hive.server2.authentication.ldap.*`` settings
            (``guidKey``, ``groupMembershipKey``, ``groupClassKey``, ...); a key that looks like
            a password is refused. Default: none.
        client_security_groups: the groups whose members may reach HiveServer2 on 10000 (a
            bastion's, a BI tool's). Default: none (nothing outside the cluster can connect).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        platform: IEmrPlatform,
        server_url: str,
        server_type: LdapServerType = LdapServerType.OPENLDAP,
        path: LdapPath = LdapPath.NATIVE,
        release_label: str = DEFAULT_EMR_RELEASE,
        applications: Sequence[str] = ("Hadoop", "Hive", "Spark"),
        certificate_secret: secretsmanager.ISecret | str | None = None,
        bind_credentials_secret: secretsmanager.ISecret | str | None = None,
        access_filter: str = "(objectClass=posixAccount)",
        user_search_base: str | None = None,
        group_search_base: str | None = None,
        ad_domain: str | None = None,
        enable_ssh_login: bool = False,
        server_type_value: str | None = None,
        base_security_configuration: Mapping[str, Any] | None = None,
        user_dn_pattern: str | None = None,
        user_filter: Sequence[str] = (),
        group_filter: Sequence[str] = (),
        group_dn_pattern: str | None = None,
        custom_query: str | None = None,
        extra_properties: Mapping[str, str] | None = None,
        client_security_groups: Sequence[ec2.ISecurityGroup] = (),
    ) -> None:
        super().__init__(scope, id)
        problems = check_platform(self, "platform", platform)
        problems += self._common_problems(server_url, server_type, path, ad_domain)
        native = path == LdapPath.NATIVE
        if native:
            problems += self._native_problems(
                platform,
                release_label,
                applications,
                certificate_secret,
                bind_credentials_secret,
                access_filter,
                user_search_base,
                group_search_base,
                enable_ssh_login,
                base_security_configuration,
            )
        else:
            problems += self._hive_site_problems(
                server_type,
                user_search_base,
                user_dn_pattern,
                group_filter,
                group_dn_pattern,
                extra_properties,
            )
        for i, group in enumerate(client_security_groups):
            if not hasattr(group, "security_group_id"):
                problems.append(
                    problem(
                        f"client_security_groups[{i}]",
                        type(group).__name__,
                        "is not a security group",
                        "pass ec2.ISecurityGroup objects (the clients' groups, never a CIDR)",
                    )
                )
        raise_if_problems(f"HiveLdapAuthentication '{self.node.path}'", problems)

        self.platform = platform
        self.path = LdapPath(path)
        self.server_type = LdapServerType(server_type)
        self.server_url = server_url
        self.client_security_groups: tuple[ec2.ISecurityGroup, ...] = tuple(client_security_groups)
        #: hive-site configurations for the cluster (empty on the native path).
        self.configurations: tuple[Configuration, ...] = ()
        #: The native path's ``LDAPConfiguration`` block (``None`` on the hive-site path).
        self.ldap_configuration: dict[str, Any] | None = None
        #: The native path's security configuration resource (``None`` on the hive-site path).
        self.security_configuration: emr.CfnSecurityConfiguration | None = None
        self.secrets_policy: iam.ManagedPolicy | None = None
        if native:
            assert certificate_secret is not None
            certificate_arn = _secret_arn(certificate_secret)
            bind_arn = _secret_arn(bind_credentials_secret) if bind_credentials_secret is not None else None
            section = native_ldap_configuration(
                server_url=server_url,
                certificate_secret_arn=certificate_arn,
                access_filter=access_filter,
                user_search_base=user_search_base,
                group_search_base=group_search_base,
                server_type=server_type_value or str(self.server_type),
                bind_credentials_secret_arn=bind_arn,
                ad_domain=ad_domain if self.server_type is LdapServerType.ACTIVE_DIRECTORY else None,
                enable_ssh_login=enable_ssh_login,
            )
            self.ldap_configuration = section["LDAPConfiguration"]
            document = copy.deepcopy(dict(_base_document(platform, base_security_configuration)))
            document["AuthenticationConfiguration"] = section
            #: The security configuration JSON (the platform's encryption plus LDAP).
            self.document = document
            self.security_configuration = emr.CfnSecurityConfiguration(
                self, "SecurityConfiguration", security_configuration=document
            )
            #: Name to give the cluster's ``SecurityConfiguration``.
            self.security_configuration_name: str = self.security_configuration.ref
            self.secrets_policy = self._grant_secrets([a for a in (certificate_arn, bind_arn) if a])
        else:
            self.document = {}
            self.security_configuration_name = platform.security_configuration_name
            self.configurations = (
                Configuration(
                    Classification.HIVE_SITE,
                    self._hive_site_properties(
                        user_search_base,
                        ad_domain,
                        user_dn_pattern,
                        user_filter,
                        group_filter,
                        group_dn_pattern,
                        custom_query,
                        extra_properties,
                    ),
                ),
            )

    # ---- checks -----------------------------------------------------------------------------
    @staticmethod
    def _common_problems(server_url: Any, server_type: Any, path: Any, ad_domain: str | None) -> list[str]:
        problems: list[str] = []
        if not isinstance(server_url, str) or not server_url:
            problems.append(problem("server_url", server_url, "is empty", "use ldaps://host:636"))
        elif not _is_token(server_url):
            if server_url.lower().startswith("ldap://"):
                problems.append(
                    problem(
                        "server_url",
                        server_url,
                        "is plain ldap://: passwords would cross the network in clear (EMR-native LDAP "
                        "accepts only LDAPS)",
                        f"use {server_url.replace('ldap://', 'ldaps://', 1).split(':389')[0]}:636 (LDAPS)",
                    )
                )
            elif not _URL.match(server_url):
                problems.append(
                    problem(
                        "server_url",
                        server_url,
                        "is not one ldaps://host[:port] URL",
                        "use ldaps://host:636 (one URL; put several servers behind one name)",
                    )
                )
        try:
            LdapServerType(server_type)
        except ValueError:
            problems.append(
                problem(
                    "server_type",
                    server_type,
                    "is not a directory kind",
                    "use LdapServerType.OPENLDAP or LdapServerType.ACTIVE_DIRECTORY",
                )
            )
        try:
            LdapPath(path)
        except ValueError:
            problems.append(
                problem("path", path, "is not an LDAP path", "use LdapPath.NATIVE or LdapPath.HIVE_SITE")
            )
        if server_type == LdapServerType.ACTIVE_DIRECTORY and not ad_domain:
            problems.append(
                problem(
                    "ad_domain",
                    ad_domain,
                    "is required with Active Directory (users bind as user@domain)",
                    "pass the AD domain, e.g. ad_domain='corp.example.com'",
                )
            )
        elif ad_domain and not _is_token(ad_domain) and not _DOMAIN.match(ad_domain):
            problems.append(
                problem("ad_domain", ad_domain, "is not a DNS domain", "use e.g. 'corp.example.com'")
            )
        return problems

    @staticmethod
    def _native_problems(
        platform: IEmrPlatform,
        release_label: str,
        applications: Sequence[str],
        certificate_secret: Any,
        bind_credentials_secret: Any,
        access_filter: Any,
        user_search_base: str | None,
        group_search_base: str | None,
        enable_ssh_login: bool,
        base: Mapping[str, Any] | None,
    ) -> list[str]:
        problems: list[str] = []
        try:
            release = ReleaseLabel.parse(release_label, allow_unknown=True)
        except ValueError as err:
            problems.append(str(err))
        else:
            if not release.supports(Feature.NATIVE_LDAP):
                problems.append(
                    problem(
                        "release_label",
                        release_label,
                        f"has no EMR-native LDAP (needs {FEATURE_RELEASES[Feature.NATIVE_LDAP]})",
                        "use emr-6.12.0 or later, or path=LdapPath.HIVE_SITE for HiveServer2 alone",
                    )
                )
        for app in applications:
            name = str(app).lower()
            if name not in NATIVE_LDAP_APPLICATIONS | LDAP_CONFIGURE_YOURSELF_APPLICATIONS:
                problems.append(
                    problem(
                        "applications",
                        app,
                        "is not supported with EMR-native LDAP (EMR rejects the cluster): supported are "
                        "Livy, Hive, Trino, Presto and Hue, and Spark and Hadoop may be installed",
                        f"drop {app}, or use path=LdapPath.HIVE_SITE (HiveServer2 LDAP only)",
                    )
                )
        if certificate_secret is None:
            problems.append(
                problem(
                    "certificate_secret",
                    None,
                    "is required on the native path (EMR verifies the directory's certificate with it)",
                    "pass the secret holding the CA's PEM (a blank secret for a public CA)",
                )
            )
        for prop, value in (
            ("certificate_secret", certificate_secret),
            ("bind_credentials_secret", bind_credentials_secret),
        ):
            if isinstance(value, str) and not is_secret_reference(value):
                problems.append(
                    problem(
                        prop,
                        "<redacted>",
                        "is not a Secrets Manager secret ARN; a literal would be visible in the template "
                        "and DescribeSecurityConfiguration",
                        "store it in Secrets Manager and pass the secret (or its ARN)",
                    )
                )
            elif value is not None and not isinstance(value, str) and not hasattr(value, "secret_arn"):
                problems.append(
                    problem(prop, type(value).__name__, "is not a secret", "pass a secretsmanager.ISecret")
                )
        if not isinstance(access_filter, str) or not access_filter.strip():
            problems.append(
                problem(
                    "access_filter",
                    access_filter,
                    "is empty; EMR-native LDAP needs a filter for who may log in",
                    "use e.g. '(objectClass=posixAccount)' or '(memberOf=cn=hive,ou=Groups,dc=example,dc=com)'",  # noqa: E501
                )
            )
        elif not _is_token(access_filter) and not (
            access_filter.startswith("(")
            and access_filter.endswith(")")
            and access_filter.count("(") == access_filter.count(")")
        ):
            problems.append(
                problem(
                    "access_filter",
                    access_filter,
                    "is not an LDAP filter in parentheses",
                    "use e.g. '(objectClass=posixAccount)'",
                )
            )
        for prop, dn in (("user_search_base", user_search_base), ("group_search_base", group_search_base)):
            if dn and not _is_token(dn) and not _DN.match(dn):
                problems.append(
                    problem(prop, dn, "is not a distinguished name", "use e.g. 'ou=People,dc=example,dc=com'")
                )
        if enable_ssh_login and bind_credentials_secret is None:
            problems.append(
                problem(
                    "enable_ssh_login",
                    enable_ssh_login,
                    "needs bind credentials (SSSD looks users up with them)",
                    "pass bind_credentials_secret, or leave SSH login off (SSM is the platform's access)",
                )
            )
        if base is None and not isinstance(platform, EmrPlatform):
            problems.append(
                problem(
                    "base_security_configuration",
                    None,
                    "is required with an imported platform (its security configuration document is not "
                    "known here)",
                    "pass the platform's security configuration JSON as a dict",
                )
            )
        elif base is not None:
            problems += _base_problems(base)
        return problems

    @staticmethod
    def _hive_site_problems(
        server_type: Any,
        user_search_base: str | None,
        user_dn_pattern: str | None,
        group_filter: Sequence[str],
        group_dn_pattern: str | None,
        extra_properties: Mapping[str, str] | None,
    ) -> list[str]:
        problems: list[str] = []
        if server_type == LdapServerType.OPENLDAP and not (user_search_base or user_dn_pattern):
            problems.append(
                problem(
                    "user_search_base/user_dn_pattern",
                    None,
                    "neither is set: HiveServer2 cannot build the user's DN",
                    "set user_search_base='ou=People,dc=example,dc=com' or "
                    "user_dn_pattern='uid=%s,ou=People,dc=example,dc=com'",
                )
            )
        if user_dn_pattern and "%s" not in user_dn_pattern:
            problems.append(
                problem(
                    "user_dn_pattern",
                    user_dn_pattern,
                    "has no %s for the user name",
                    "use e.g. 'uid=%s,ou=People,dc=example,dc=com'",
                )
            )
        if group_filter and not group_dn_pattern and not user_search_base:
            problems.append(
                problem(
                    "group_dn_pattern",
                    None,
                    "is needed with group_filter (Hive finds the groups with it, or under baseDN)",
                    "set group_dn_pattern='cn=%s,ou=Groups,dc=example,dc=com'",
                )
            )
        if extra_properties:
            problems += secret_value_problems("hive-site", dict(extra_properties), prop="extra_properties")
            for key in extra_properties:
                if not key.startswith("hive.server2.authentication.ldap."):
                    problems.append(
                        problem(
                            "extra_properties",
                            key,
                            "is not a hive.server2.authentication.ldap.* setting",
                            "put other hive-site settings in the cluster's configurations",
                        )
                    )
        return problems

    # ---- rendering ----------------------------------------------------------------------------
    def _hive_site_properties(
        self,
        base_dn: str | None,
        ad_domain: str | None,
        user_dn_pattern: str | None,
        user_filter: Sequence[str],
        group_filter: Sequence[str],
        group_dn_pattern: str | None,
        custom_query: str | None,
        extra: Mapping[str, str] | None,
    ) -> dict[str, str]:
        prefix = "hive.server2.authentication.ldap."
        props: dict[str, str] = {
            "hive.server2.authentication": "LDAP",
            f"{prefix}url": self.server_url,
            "hive.server2.use.SSL": "true",
        }
        if self.server_type is LdapServerType.ACTIVE_DIRECTORY and ad_domain:
            props[f"{prefix}Domain"] = ad_domain
        if base_dn:
            props[f"{prefix}baseDN"] = base_dn
        if user_dn_pattern:
            props[f"{prefix}userDNPattern"] = user_dn_pattern
        if user_filter:
            props[f"{prefix}userFilter"] = ",".join(user_filter)
        if group_filter:
            props[f"{prefix}groupFilter"] = ",".join(group_filter)
        if group_dn_pattern:
            props[f"{prefix}groupDNPattern"] = group_dn_pattern
        if custom_query:
            props[f"{prefix}customLDAPQuery"] = custom_query
        props.update(extra or {})
        return props

    def _grant_secrets(self, arns: list[str]) -> iam.ManagedPolicy:
        stack = Stack.of(self)
        return iam.ManagedPolicy(
            self,
            "InstanceRoleReadsLdapSecrets",
            description=f"EMR nodes read the LDAP certificate and bind credentials of {self.node.path}",
            statements=[
                iam.PolicyStatement(
                    sid="ReadLdapSecrets", actions=["secretsmanager:GetSecretValue"], resources=arns
                ),
                iam.PolicyStatement(
                    sid="DecryptLdapSecrets",
                    actions=["kms:Decrypt"],
                    resources=[self.platform.key.key_arn],
                    conditions={
                        "StringEquals": {
                            "kms:ViaService": f"secretsmanager.{stack.region}.{stack.url_suffix}"
                        }
                    },
                ),
            ],
            roles=[self.platform.instance_role],
        )

    # ---- wiring -------------------------------------------------------------------------------
    def open_hiveserver2(self, primary_security_group: ec2.ISecurityGroup) -> None:
        """Let each of :attr:`client_security_groups` reach HiveServer2 (10000) on the primary nodes."""
        for group in self.client_security_groups:
            primary_security_group.add_ingress_rule(
                group, ec2.Port.tcp(HIVESERVER2_PORT), "HiveServer2 (LDAP login) from a named client group"
            )

    def check_applications(self, applications: Sequence[str]) -> list[str]:
        """Problems with running ``applications`` under this authentication (native path only)."""
        if self.path is not LdapPath.NATIVE:
            return []
        return [
            problem(
                "applications",
                app,
                "is not supported with EMR-native LDAP (EMR rejects the cluster)",
                f"drop {app} from the cluster, or use path=LdapPath.HIVE_SITE",
            )
            for app in applications
            if app.lower() not in NATIVE_LDAP_APPLICATIONS | LDAP_CONFIGURE_YOURSELF_APPLICATIONS
        ]


def _secret_arn(secret: secretsmanager.ISecret | str) -> str:
    return secret if isinstance(secret, str) else secret.secret_arn


def _base_document(platform: IEmrPlatform, base: Mapping[str, Any] | None) -> Mapping[str, Any]:
    if base is not None:
        return base
    assert isinstance(platform, EmrPlatform)
    return platform.security_configuration.document


def _base_problems(base: Any) -> list[str]:
    if not isinstance(base, Mapping):
        return [
            problem(
                "base_security_configuration",
                type(base).__name__,
                "is not a dict",
                "pass the security configuration JSON as a dict (json.loads(text))",
            )
        ]
    problems: list[str] = []
    encryption = base.get("EncryptionConfiguration") or {}
    if encryption.get("EnableInTransitEncryption") is not True:
        problems.append(
            problem(
                "base_security_configuration",
                "EncryptionConfiguration.EnableInTransitEncryption",
                "is not true: EMR-native LDAP requires in-transit encryption in the same security "
                "configuration (passwords reach the cluster over TLS only)",
                "turn in-transit encryption on with a TLS certificate (the platform's document does)",
            )
        )
    authentication = base.get("AuthenticationConfiguration") or {}
    if "KerberosConfiguration" in authentication:
        problems.append(
            problem(
                "base_security_configuration",
                "AuthenticationConfiguration.KerberosConfiguration",
                "is set: EMR-native LDAP sets up its own KDC and refuses a Kerberos block",
                "drop the Kerberos configuration",
            )
        )
    authorization = base.get("AuthorizationConfiguration") or {}
    if (
        "IAMConfiguration" in authorization
        or "LakeFormationConfiguration" in base
        or ("LakeFormationConfiguration" in authorization)
    ):
        problems.append(
            problem(
                "base_security_configuration",
                "IAM runtime roles / Lake Formation",
                "cannot be combined with EMR-native LDAP",
                "drop AuthorizationConfiguration.IAMConfiguration and LakeFormationConfiguration",
            )
        )
    return problems
