"""HiveLdapAuthentication: what each path renders, and every bad input the issue names.

The rendered settings are run against a real slapd in ``tests/hive_ldap/``; here they are read
from the synthesized CloudFormation and the construct's attributes.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk.assertions import Template

from emr_patterns import EmrPatternsValidationError
from emr_patterns.patterns.hive import HiveCluster, HiveMetastoreDatabase
from emr_patterns.patterns.hive_ldap import (
    HIVESERVER2_PORT,
    HiveLdapAuthentication,
    LdapPath,
    LdapServerType,
)

from ..orchestration.conftest import make_platform

pytestmark = pytest.mark.cdk

CERT_ARN = "arn:aws:secretsmanager:us-east-1:111122223333:secret:ldap-ca-AbCdEf"
BIND_ARN = "arn:aws:secretsmanager:us-east-1:111122223333:secret:ldap-bind-AbCdEf"
URL = "ldaps://ldap.example.com:636"


def _native(stack: Stack, platform: Any, **kwargs: Any) -> HiveLdapAuthentication:
    props: dict[str, Any] = {
        "platform": platform,
        "server_url": URL,
        "certificate_secret": CERT_ARN,
        "bind_credentials_secret": BIND_ARN,
        "user_search_base": "ou=People,dc=example,dc=com",
        "group_search_base": "ou=Groups,dc=example,dc=com",
    }
    props.update(kwargs)
    return HiveLdapAuthentication(stack, "Ldap", **props)


@pytest.fixture(scope="module")
def native_built() -> Any:
    _, stack, platform = make_platform()
    client = ec2.SecurityGroup(stack, "Bastion", vpc=platform.vpc, description="bastion")
    ldap = _native(stack, platform, client_security_groups=[client])
    metastore = HiveMetastoreDatabase(stack, "Metastore", platform=platform)
    hive = HiveCluster(
        stack,
        "Hive",
        platform=platform,
        metastore=metastore,
        configurations=ldap.configurations,
        security_configuration_name=ldap.security_configuration_name,
        tez=False,
    )
    ldap.open_hiveserver2(hive.primary_security_group)
    return stack, platform, ldap, hive, client, Template.from_stack(stack)


def _security_configurations(template: Template) -> dict[str, dict[str, Any]]:
    return {
        k: v["Properties"]["SecurityConfiguration"]
        for k, v in template.find_resources("AWS::EMR::SecurityConfiguration").items()
    }


def test_native_path_security_configuration(native_built: Any) -> None:
    stack, platform, ldap, _, _, template = native_built
    ours = stack.get_logical_id(ldap.security_configuration)
    document = _security_configurations(template)[ours]
    ldap_block = document["AuthenticationConfiguration"]["LDAPConfiguration"]
    assert ldap_block["EnableLDAPAuthentication"] is True
    assert ldap_block["LDAPServerURL"] == URL
    assert ldap_block["BindCertificateARN"] == CERT_ARN
    assert ldap_block["BindCredentialsARN"] == BIND_ARN
    assert ldap_block["LDAPAccessFilter"] == "(objectClass=posixAccount)"
    assert ldap_block["LDAPServerType"] == "OpenLDAP"
    assert ldap_block["LDAPUserSearchBase"] == "ou=People,dc=example,dc=com"
    assert "ActiveDirectoryConfigurations" not in ldap_block
    assert "KerberosConfiguration" not in document["AuthenticationConfiguration"]
    # The platform's encryption, in transit included, is carried over.
    encryption = document["EncryptionConfiguration"]
    assert encryption["EnableInTransitEncryption"] is True and encryption["EnableAtRestEncryption"] is True
    platform_document = stack.resolve(platform.security_configuration.document)
    assert json.dumps(encryption, sort_keys=True) == json.dumps(
        platform_document["EncryptionConfiguration"], sort_keys=True
    )
    # The cluster uses it, not the platform's.
    (cluster,) = template.find_resources("AWS::EMR::Cluster").values()
    assert cluster["Properties"]["SecurityConfiguration"] == {"Ref": ours}
    apps = {a["Name"] for a in cluster["Properties"]["Applications"]}
    assert "Tez" not in apps and {"Hive", "Spark", "Hadoop"} <= apps
    assert ldap.configurations == ()


def test_native_path_instance_role_reads_only_the_two_secrets(native_built: Any) -> None:
    stack, platform, ldap, _, _, template = native_built
    policy = template.to_json()["Resources"][stack.get_logical_id(ldap.secrets_policy.node.default_child)]
    props = policy["Properties"]
    assert props["Roles"] == [{"Ref": stack.get_logical_id(platform.instance_role.node.default_child)}]
    read, decrypt = props["PolicyDocument"]["Statement"]
    assert read["Action"] == "secretsmanager:GetSecretValue"
    assert sorted(read["Resource"]) == sorted([CERT_ARN, BIND_ARN])
    assert decrypt["Action"] == "kms:Decrypt" and "kms:ViaService" in decrypt["Condition"]["StringEquals"]


def test_hiveserver2_open_only_to_named_groups(native_built: Any) -> None:
    stack, _, _, hive, client, template = native_built
    primary = {
        "Fn::GetAtt": [stack.get_logical_id(hive.primary_security_group.node.default_child), "GroupId"]
    }
    rules = [
        r["Properties"]
        for r in template.find_resources("AWS::EC2::SecurityGroupIngress").values()
        if r["Properties"].get("FromPort") == HIVESERVER2_PORT
    ]
    assert rules, "HiveServer2 is not opened to the named client group"
    client_id = {"Fn::GetAtt": [stack.get_logical_id(client.node.default_child), "GroupId"]}
    assert all(r["GroupId"] == primary and r["SourceSecurityGroupId"] == client_id for r in rules)
    assert all("CidrIp" not in r for r in rules)


def test_active_directory_native_block() -> None:
    _, stack, platform = make_platform()
    ldap = _native(stack, platform, server_type=LdapServerType.ACTIVE_DIRECTORY, ad_domain="corp.example.com")
    assert ldap.ldap_configuration is not None
    assert ldap.ldap_configuration["ActiveDirectoryConfigurations"] == {"ADDomain": "corp.example.com"}
    assert ldap.ldap_configuration["LDAPServerType"] == "ActiveDirectory"


def test_server_type_literal_can_be_overridden() -> None:
    _, stack, platform = make_platform()
    ldap = _native(stack, platform, server_type_value="OPEN_LDAP")
    assert ldap.ldap_configuration is not None and ldap.ldap_configuration["LDAPServerType"] == "OPEN_LDAP"


def test_hive_site_path_renders_no_password() -> None:
    _, stack, platform = make_platform()
    ldap = HiveLdapAuthentication(
        stack,
        "Ldap",
        platform=platform,
        server_url=URL,
        path=LdapPath.HIVE_SITE,
        release_label="emr-6.10.0",
        user_search_base="ou=People,dc=example,dc=com",
        user_dn_pattern="uid=%s,ou=People,dc=example,dc=com",
        group_filter=["hive-users"],
        group_dn_pattern="cn=%s,ou=Groups,dc=example,dc=com",
    )
    assert ldap.security_configuration is None
    assert ldap.security_configuration_name == platform.security_configuration_name
    (site,) = ldap.configurations
    props = dict(site.properties)
    assert props == {
        "hive.server2.authentication": "LDAP",
        "hive.server2.authentication.ldap.url": URL,
        "hive.server2.use.SSL": "true",
        "hive.server2.authentication.ldap.baseDN": "ou=People,dc=example,dc=com",
        "hive.server2.authentication.ldap.userDNPattern": "uid=%s,ou=People,dc=example,dc=com",
        "hive.server2.authentication.ldap.groupFilter": "hive-users",
        "hive.server2.authentication.ldap.groupDNPattern": "cn=%s,ou=Groups,dc=example,dc=com",
    }
    assert not any("pass" in k.lower() or "pw" in k.lower() for k in props)


def test_hive_site_active_directory_uses_domain() -> None:
    _, stack, platform = make_platform()
    ldap = HiveLdapAuthentication(
        stack,
        "Ldap",
        platform=platform,
        server_url=URL,
        path=LdapPath.HIVE_SITE,
        server_type=LdapServerType.ACTIVE_DIRECTORY,
        ad_domain="corp.example.com",
    )
    (site,) = ldap.configurations
    assert site.properties["hive.server2.authentication.ldap.Domain"] == "corp.example.com"
    assert "hive.server2.authentication.ldap.baseDN" not in site.properties


def _raises(**kwargs: Any) -> str:
    _, stack, platform = make_platform()
    props: dict[str, Any] = {
        "platform": platform,
        "server_url": URL,
        "certificate_secret": CERT_ARN,
        "user_search_base": "ou=People,dc=example,dc=com",
    }
    props.update(kwargs)
    with pytest.raises(EmrPatternsValidationError) as err:
        HiveLdapAuthentication(stack, "Ldap", **props)
    assert isinstance(err.value, ValueError)
    return str(err.value)


@pytest.mark.parametrize(
    ("kwargs", "names", "fix"),
    [
        (
            {"server_url": "ldap://ldap.example.com:389"},
            "server_url='ldap://ldap.example.com:389'",
            "ldaps://",
        ),
        (
            {"server_url": "ldap://ldap.example.com", "path": LdapPath.HIVE_SITE},
            "server_url='ldap://ldap.example.com'",
            "ldaps://ldap.example.com:636",
        ),
        ({"applications": ("Hive", "Flink")}, "applications='Flink'", "drop Flink"),
        ({"applications": ("Hive", "Tez")}, "applications='Tez'", "path=LdapPath.HIVE_SITE"),
        ({"release_label": "emr-6.11.0"}, "release_label='emr-6.11.0'", "emr-6.12.0 or later"),
        ({"access_filter": ""}, "access_filter=''", "(objectClass=posixAccount)"),
        ({"access_filter": "   "}, "access_filter='   '", "(objectClass=posixAccount)"),
        (
            {"bind_credentials_secret": "Sup3rSecret!"},
            "bind_credentials_secret='<redacted>'",
            "Secrets Manager",
        ),
        ({"certificate_secret": None}, "certificate_secret=None", "CA's PEM"),
        ({"server_type": LdapServerType.ACTIVE_DIRECTORY}, "ad_domain=None", "ad_domain='corp.example.com'"),
        ({"enable_ssh_login": True}, "enable_ssh_login=True", "bind_credentials_secret"),
        (
            {
                "base_security_configuration": {
                    "EncryptionConfiguration": {"EnableInTransitEncryption": False}
                }
            },
            "EnableInTransitEncryption",
            "turn in-transit encryption on",
        ),
        (
            {
                "base_security_configuration": {
                    "EncryptionConfiguration": {"EnableInTransitEncryption": True},
                    "AuthenticationConfiguration": {
                        "KerberosConfiguration": {"Provider": "ClusterDedicatedKdc"}
                    },
                }
            },
            "KerberosConfiguration",
            "drop the Kerberos configuration",
        ),
        (
            {
                "path": LdapPath.HIVE_SITE,
                "extra_properties": {"hive.server2.authentication.ldap.bindpw": "hunter2"},
            },
            "hive.server2.authentication.ldap.bindpw",
            "EMR.secret@",
        ),
        (
            {"path": LdapPath.HIVE_SITE, "user_search_base": None},
            "user_search_base/user_dn_pattern=None",
            "user_dn_pattern='uid=%s,ou=People,dc=example,dc=com'",
        ),
    ],
)
def test_bad_input_names_prop_value_and_fix(kwargs: dict[str, Any], names: str, fix: str) -> None:
    message = _raises(**kwargs)
    assert names in message and fix in message, message
    assert "Fix:" in message
    assert "Sup3rSecret!" not in message and "hunter2" not in message


def test_secret_objects_are_accepted() -> None:
    _, stack, platform = make_platform()
    cert = secretsmanager.Secret(stack, "Ca", encryption_key=platform.key)
    ldap = _native(stack, platform, certificate_secret=cert, bind_credentials_secret=None)
    assert ldap.ldap_configuration is not None
    assert stack.resolve(ldap.ldap_configuration["BindCertificateARN"]) == {
        "Ref": stack.get_logical_id(cert.node.default_child)
    }
    assert "BindCredentialsARN" not in ldap.ldap_configuration
