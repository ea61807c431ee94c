"""HiveLdapStack and HiveAcidStack as synthesized on the app's shared platform, and one check over
every template of the app: no EMR cluster configuration holds a password literal.

HiveLdapStack: the directory's settings are stack parameters (their patterns accept what EMR
takes and refuse ``ldap://`` and non-ARNs), the LDAP security configuration carries the
parameters and the platform's in-transit encryption, and HiveServer2's port lets in only the
stack's ``HiveServer2Clients`` group. HiveAcidStack: ``hive-site`` has DbTxnManager and the
compactor on the external metastore (never the Glue catalog).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from emr_patterns.patterns.hive_ldap import HIVESERVER2_PORT
from emr_patterns.stacks.hive import LDAP_SECRET_ARN_PATTERN, LDAP_SERVER_URL_PATTERN

from .test_pipeline_stacks import _of_type

pytestmark = pytest.mark.cdk
LDAP = "HiveLdapStack"
ACID = "HiveAcidStack"
SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:ldap-ca-AbCdEf"


def _template(synthesized: Any, stack_id: str) -> dict[str, Any]:
    return synthesized.template_json(stack_id)


def _one(synthesized: Any, stack_id: str, kind: str) -> tuple[str, dict[str, Any]]:
    ((logical_id, resource),) = _of_type(synthesized, stack_id, kind).items()
    return logical_id, resource


def _cluster(synthesized: Any, stack_id: str) -> dict[str, Any]:
    return _one(synthesized, stack_id, "AWS::EMR::Cluster")[1]["Properties"]


def _hive_site(synthesized: Any, stack_id: str) -> dict[str, Any]:
    (site,) = [
        c["ConfigurationProperties"]
        for c in _cluster(synthesized, stack_id)["Configurations"]
        if c["Classification"] == "hive-site"
    ]
    return site


def _matches(pattern: str, value: str) -> bool:
    # CloudFormation's AllowedPattern must match the whole value (Java regex; these patterns are
    # in the subset Python reads the same way).
    return re.fullmatch(pattern, value) is not None


# ---- HiveLdapStack ----------------------------------------------------------------------------
def test_ldap_parameters_and_their_patterns(synthesized):
    params = _template(synthesized, LDAP)["Parameters"]
    url = params["LdapServerUrl"]
    assert url["AllowedPattern"] == LDAP_SERVER_URL_PATTERN and url["ConstraintDescription"]
    assert "Default" not in url
    assert _matches(url["AllowedPattern"], "ldaps://ldap.example.com:636")
    for bad in ("ldap://ldap.example.com:389", "ldaps://", "ldaps://a b", "https://ldap.example.com"):
        assert not _matches(url["AllowedPattern"], bad), bad

    cert = params["LdapCertificateSecretArn"]
    assert cert["AllowedPattern"] == LDAP_SECRET_ARN_PATTERN and "Default" not in cert
    assert _matches(cert["AllowedPattern"], SECRET_ARN)
    assert _matches(cert["AllowedPattern"], SECRET_ARN.replace("arn:aws:", "arn:aws-us-gov:"))
    for bad in ("", "ldap-ca", "arn:aws:s3:::bucket/key", "-----BEGIN CERTIFICATE-----"):
        assert not _matches(cert["AllowedPattern"], bad), bad

    bind = params["LdapBindCredentialsSecretArn"]
    assert bind["Default"] == ""
    assert _matches(bind["AllowedPattern"], "") and _matches(bind["AllowedPattern"], SECRET_ARN)
    assert not _matches(bind["AllowedPattern"], "uid=admin,ou=People,dc=example,dc=com")
    # ARNs, not secrets: NoEcho only keeps aws-cdk's template validation (W2509) quiet.
    assert cert["NoEcho"] is True and bind["NoEcho"] is True

    base = params["LdapUserSearchBase"]
    assert "Default" not in base
    assert _matches(base["AllowedPattern"], "ou=People,dc=example,dc=com")
    assert _matches(base["AllowedPattern"], "cn=Users, dc=corp, dc=example, dc=com")
    assert not _matches(base["AllowedPattern"], "") and not _matches(base["AllowedPattern"], "People")

    access = params["LdapAccessFilter"]
    assert access["Default"] == "(objectClass=posixAccount)" and access["MinLength"] == 1
    assert _matches(access["AllowedPattern"], "(memberOf=cn=hive,ou=Groups,dc=example,dc=com)")
    assert not _matches(access["AllowedPattern"], "") and not _matches(access["AllowedPattern"], "uid=*")


def test_security_configuration_holds_the_parameters_and_in_transit_encryption(synthesized):
    template = _template(synthesized, LDAP)
    security_configuration_id, resource = _one(synthesized, LDAP, "AWS::EMR::SecurityConfiguration")
    document = resource["Properties"]["SecurityConfiguration"]
    ldap = document["AuthenticationConfiguration"]["LDAPConfiguration"]
    assert ldap["EnableLDAPAuthentication"] is True and ldap["EnableSSHLogin"] is False
    assert ldap["LDAPServerURL"] == {"Ref": "LdapServerUrl"}
    assert ldap["BindCertificateARN"] == {"Ref": "LdapCertificateSecretArn"}
    assert ldap["LDAPUserSearchBase"] == {"Ref": "LdapUserSearchBase"}
    assert ldap["LDAPAccessFilter"] == {"Ref": "LdapAccessFilter"}
    assert ldap["LDAPServerType"] == "OpenLDAP"
    # No bind credentials when the parameter is empty: the key is dropped, not sent empty.
    (condition,) = [k for k in template["Conditions"] if k.startswith("HasLdapBindCredentials")]
    assert template["Conditions"][condition] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "LdapBindCredentialsSecretArn"}, ""]}]
    }
    assert ldap["BindCredentialsARN"] == {
        "Fn::If": [condition, {"Ref": "LdapBindCredentialsSecretArn"}, {"Ref": "AWS::NoValue"}]
    }
    assert set(document["AuthenticationConfiguration"]) == {"LDAPConfiguration"}  # no Kerberos
    encryption = document["EncryptionConfiguration"]
    assert encryption["EnableInTransitEncryption"] is True and encryption["EnableAtRestEncryption"] is True
    assert "TLSCertificateConfiguration" in encryption["InTransitEncryptionConfiguration"]

    cluster = _cluster(synthesized, LDAP)
    assert cluster["SecurityConfiguration"] == {"Ref": security_configuration_id}
    apps = {a["Name"] for a in cluster["Applications"]}
    assert apps == {"Hadoop", "Hive", "Spark"}  # no Tez: EMR-native LDAP rejects it
    outputs = template["Outputs"]
    assert outputs["SecurityConfigurationName"]["Value"] == {"Ref": security_configuration_id}
    assert {"ClusterId", "HiveServer2ClientsSecurityGroupId", "BeelineUsage"} <= set(outputs)
    assert "beeline_ldap.sh --secret-id" in str(outputs["BeelineUsage"]["Value"])


def test_instance_role_reads_the_two_ldap_secrets_only(synthesized):
    policies = [
        r["Properties"]["PolicyDocument"]["Statement"]
        for k, r in _of_type(synthesized, LDAP, "AWS::IAM::ManagedPolicy").items()
        if k.startswith("LdapInstanceRoleReadsLdapSecrets")
    ]
    ((read, decrypt),) = policies
    assert read["Action"] == "secretsmanager:GetSecretValue"
    assert {"Ref": "LdapCertificateSecretArn"} in read["Resource"] and len(read["Resource"]) == 2
    assert decrypt["Action"] == "kms:Decrypt" and "kms:ViaService" in decrypt["Condition"]["StringEquals"]


def _covers(rule: dict[str, Any], port: int) -> bool:
    if str(rule.get("IpProtocol")) == "-1":
        return True
    return int(rule.get("FromPort", -1)) <= port <= int(rule.get("ToPort", -1))


def test_hiveserver2_lets_in_only_the_clients_group(synthesized):
    template = _template(synthesized, LDAP)
    resources = template["Resources"]
    clients_id = template["Outputs"]["HiveServer2ClientsSecurityGroupId"]["Value"]["Fn::GetAtt"][0]
    assert resources[clients_id]["Type"] == "AWS::EC2::SecurityGroup"
    primary_id = next(
        k
        for k, r in resources.items()
        if r["Type"] == "AWS::EC2::SecurityGroup" and k.startswith("HiveClusterPrimarySecurityGroup")
    )
    primary = {"Fn::GetAtt": [primary_id, "GroupId"]}
    # Standalone ingress rules on the primary group, plus any inline ones.
    rules = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::EC2::SecurityGroupIngress" and r["Properties"]["GroupId"] == primary
    ] + list(resources[primary_id]["Properties"].get("SecurityGroupIngress", []))
    reaching = [r for r in rules if _covers(r, HIVESERVER2_PORT)]
    assert reaching, "nothing may reach HiveServer2: the clients group is not let in"
    assert all(r.get("SourceSecurityGroupId") == {"Fn::GetAtt": [clients_id, "GroupId"]} for r in reaching)
    assert all("CidrIp" not in r and "CidrIpv6" not in r for r in reaching)
    # The clients group may go out to HiveServer2 on the primary group, and nowhere else.
    egress = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::EC2::SecurityGroupEgress"
        and r["Properties"]["GroupId"] == {"Fn::GetAtt": [clients_id, "GroupId"]}
    ]
    assert [(e["DestinationSecurityGroupId"], e["FromPort"], e["ToPort"]) for e in egress] == [
        (primary, HIVESERVER2_PORT, HIVESERVER2_PORT)
    ]
    inline = resources[clients_id]["Properties"].get("SecurityGroupEgress", [])
    assert all(e.get("CidrIp") == "255.255.255.255/32" for e in inline)  # CDK's "no traffic" rule


# ---- HiveAcidStack ----------------------------------------------------------------------------
def test_acid_hive_site_has_the_transaction_manager_and_the_compactor(synthesized):
    site = _hive_site(synthesized, ACID)
    assert site["hive.txn.manager"] == "org.apache.hadoop.hive.ql.lockmgr.DbTxnManager"
    assert site["hive.support.concurrency"] == "true"
    assert site["hive.exec.dynamic.partition.mode"] == "nonstrict"
    assert site["hive.compactor.initiator.on"] == "true"
    assert int(site["hive.compactor.worker.threads"]) >= 1
    # The external RDS metastore, never the Glue catalog (which has no Hive transactions).
    assert str(site["javax.jdo.option.ConnectionURL"]).count("jdbc:mysql://") == 1
    assert "hive.metastore.client.factory.class" not in site
    assert all("glue" not in c["Classification"] for c in _cluster(synthesized, ACID)["Configurations"])
    outputs = _template(synthesized, ACID)["Outputs"]
    assert {"ClusterId", "MetastoreEndpoint", "HivePasswordSecretArn"} <= set(outputs)
    assert _cluster(synthesized, ACID)["Instances"]["TerminationProtected"] is True


def test_ldap_stack_is_not_acid_and_both_use_their_own_metastore(synthesized):
    assert "hive.txn.manager" not in _hive_site(synthesized, LDAP)
    for stack_id in (LDAP, ACID):
        assert not _of_type(synthesized, stack_id, "AWS::EC2::VPC")
        (_, db) = _one(synthesized, stack_id, "AWS::RDS::DBInstance")
        assert db["DeletionPolicy"] == "Retain" and db["Properties"]["PubliclyAccessible"] is False


# ---- every template of the app ----------------------------------------------------------------
_ARN = re.compile(LDAP_SECRET_ARN_PATTERN)


def _password_problems(configurations: Any, where: str) -> tuple[list[str], int]:
    problems, annotated = [], 0
    for i, configuration in enumerate(configurations or []):
        if not isinstance(configuration, dict):
            continue  # an intrinsic (e.g. Fn::If) around a whole configuration: none here
        for key, value in (configuration.get("ConfigurationProperties") or {}).items():
            if "password" not in key.lower():
                continue
            if not key.startswith("EMR.secret@"):
                problems.append(f"{where}[{i}] {key}: not an EMR.secret@ key")
            elif isinstance(value, str) and not _ARN.match(value):
                problems.append(f"{where}[{i}] {key}: a string literal, not a secret reference")
            elif not isinstance(value, (str, dict)):
                problems.append(f"{where}[{i}] {key}: {type(value).__name__}")
            else:
                annotated += 1
        nested, count = _password_problems(configuration.get("Configurations"), f"{where}[{i}]")
        problems += nested
        annotated += count
    return problems, annotated


def test_no_emr_configuration_in_any_template_holds_a_password_literal(synthesized):
    import json

    templates = sorted(synthesized.assembly_dir.rglob("*.template.json"))
    assert {f"{s}.template.json" for s in synthesized.stacks} <= {t.name for t in templates}
    problems, annotated, clusters = [], 0, 0
    for path in templates:
        for logical_id, resource in json.loads(path.read_text()).get("Resources", {}).items():
            if resource.get("Type") != "AWS::EMR::Cluster":
                continue
            clusters += 1
            found, count = _password_problems(
                resource.get("Properties", {}).get("Configurations"), f"{path.name}:{logical_id}"
            )
            problems += found
            annotated += count
    assert not problems, "\n".join(problems)
    # Not vacuous: the three Hive stacks' metastore passwords are EMR.secret@ references.
    assert clusters >= 3 and annotated >= 3


def test_the_check_catches_a_literal():
    bad = [
        {
            "Classification": "hive-site",
            "ConfigurationProperties": {"javax.jdo.option.ConnectionPassword": "x"},
        }
    ]
    nested = [
        {
            "Classification": "x",
            "Configurations": [{"ConfigurationProperties": {"EMR.secret@a.password": "pw"}}],
        }
    ]
    assert len(_password_problems(bad, "t")[0]) == 1 and len(_password_problems(nested, "t")[0]) == 1
    good = [{"ConfigurationProperties": {"EMR.secret@a.password": {"Ref": "Secret"}}}]
    assert _password_problems(good, "t") == ([], 1)


# ---- the LDAP cluster refuses what EMR-native LDAP rejects ---------------------------------------
def test_hive_cluster_with_native_ldap_refuses_tez_and_a_second_security_configuration():
    from emr_patterns import EmrPatternsValidationError
    from emr_patterns.patterns.hive import HiveCluster, HiveMetastoreDatabase
    from emr_patterns.patterns.hive_ldap import HiveLdapAuthentication

    from ..orchestration.conftest import make_platform

    _, stack, platform = make_platform()
    ldap = HiveLdapAuthentication(
        stack,
        "Ldap",
        platform=platform,
        server_url="ldaps://ldap.example.com:636",
        certificate_secret=SECRET_ARN,
    )
    metastore = HiveMetastoreDatabase(stack, "Metastore", platform=platform)
    with pytest.raises(EmrPatternsValidationError, match=r"tez.*Tez.*pass tez=False"):
        HiveCluster(stack, "Hive", platform=platform, metastore=metastore, ldap=ldap)
    with pytest.raises(EmrPatternsValidationError, match=r"security_configuration_name"):
        HiveCluster(
            stack,
            "Hive2",
            platform=platform,
            metastore=metastore,
            ldap=ldap,
            tez=False,
            security_configuration_name="other",
        )
