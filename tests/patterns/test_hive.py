"""Hive metastore database and three-primary Hive cluster: template assertions and bad input.

The Athena Hive metastore connector is a Serverless Application Repository application (not on
Maven Central), so it cannot run here; HiveServer2 and the metastore services are for a later
session. These tests read the synthesized CloudFormation.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from aws_cdk import Stack
from aws_cdk.assertions import Match, Template

from emr_patterns import EmrPatternsValidationError
from emr_patterns.patterns.hive import (
    ATHENA_HIVE_CONNECTOR_APPLICATION_ID,
    ATHENA_HIVE_CONNECTOR_VERSION,
    AthenaHiveCatalog,
    HiveCluster,
    HiveMetastoreDatabase,
)
from emr_patterns.spec import glue_data_catalog

from ..orchestration.conftest import make_platform

pytestmark = pytest.mark.cdk

_PASSWORD_KEY = "EMR.secret@javax.jdo.option.ConnectionPassword"


@pytest.fixture(scope="module")
def built() -> Any:
    _, stack, platform = make_platform()
    metastore = HiveMetastoreDatabase(stack, "Metastore", platform=platform)
    hive = HiveCluster(stack, "Hive", platform=platform, metastore=metastore, acid=True)
    return stack, platform, metastore, hive, Template.from_stack(stack)


def _hive_site(template: Template) -> dict[str, Any]:
    (cluster,) = template.find_resources("AWS::EMR::Cluster").values()
    (site,) = [c for c in cluster["Properties"]["Configurations"] if c["Classification"] == "hive-site"]
    return site["ConfigurationProperties"]


def test_password_is_only_an_arn_under_the_secret_key(built: Any) -> None:
    stack, _, metastore, _, template = built
    site = _hive_site(template)
    assert "javax.jdo.option.ConnectionPassword" not in site
    secret_id = stack.get_logical_id(metastore.password_secret.node.default_child)
    assert site[_PASSWORD_KEY] == {"Ref": secret_id}
    # The generated secret is never a literal: the template only has a generator spec.
    secret = template.to_json()["Resources"][secret_id]["Properties"]
    assert "SecretString" not in secret and "GenerateSecretString" in secret
    assert "SecretStringTemplate" not in secret["GenerateSecretString"]  # plaintext, not JSON
    assert [k for k in site if "password" in k.lower()] == [_PASSWORD_KEY]


def test_service_role_reads_the_secret(built: Any) -> None:
    stack, platform, metastore, _, template = built
    secret_id = stack.get_logical_id(metastore.password_secret.node.default_child)
    policies = template.find_resources("AWS::IAM::ManagedPolicy")
    role_id = stack.get_logical_id(platform.service_role.node.default_child)
    grants = [
        st
        for p in policies.values()
        if {"Ref": role_id} in p["Properties"].get("Roles", [])
        for st in p["Properties"]["PolicyDocument"]["Statement"]
        if {"Ref": secret_id} in ([st["Resource"]] if isinstance(st["Resource"], dict) else st["Resource"])
        or st.get("Condition", {}).get("StringEquals", {}).get("kms:EncryptionContext:SecretARN")
        == {"Ref": secret_id}
    ]
    actions = {
        a for st in grants for a in ([st["Action"]] if isinstance(st["Action"], str) else st["Action"])
    }
    assert {"secretsmanager:GetSecretValue", "kms:Decrypt"} <= actions


def test_three_primaries_with_termination_protection_and_acid(built: Any) -> None:
    template = built[-1]
    (cluster,) = template.find_resources("AWS::EMR::Cluster").values()
    instances = cluster["Properties"]["Instances"]
    assert instances["TerminationProtected"] is True
    assert instances["MasterInstanceFleet"]["TargetOnDemandCapacity"] == 3
    assert "AutoTerminationPolicy" not in cluster["Properties"]
    apps = {a["Name"] for a in cluster["Properties"]["Applications"]}
    assert {"Hive", "Spark"} <= apps and "Hue" not in apps
    site = _hive_site(template)
    assert site["hive.txn.manager"] == "org.apache.hadoop.hive.ql.lockmgr.DbTxnManager"
    assert site["hive.compactor.initiator.on"] == "true"
    assert site["hive.compactor.worker.threads"] == "1"
    assert site["javax.jdo.option.ConnectionURL"]


def test_nodes_get_the_rds_ca_bundle_the_jdbc_url_names(built: Any) -> None:
    """The default ``server_ca_path``: a bootstrap action installs the shipped RDS CA bundle at
    the path the URL's ``serverSslCert`` names, from a content-hashed asset the instance role may
    read."""
    from emr_patterns.foundation.mysql import RDS_CA_BUNDLE_NODE_PATH

    _, _, metastore, _, template = built
    url = _hive_site(template)["javax.jdo.option.ConnectionURL"]
    assert f"serverSslCert={RDS_CA_BUNDLE_NODE_PATH}" in json.dumps(url)
    assert "trustServerCertificate=false" in json.dumps(url)
    (cluster,) = template.find_resources("AWS::EMR::Cluster").values()
    actions = {a["Name"]: a["ScriptBootstrapAction"] for a in cluster["Properties"]["BootstrapActions"]}
    action = actions["install-rds-ca-bundle"]
    # Assets are named by content hash: the script is a .sh object, the bundle a .pem one.
    assert action["Path"]["Fn::Sub"].endswith(".sh")
    dest, region, source = action["Args"]
    assert dest == RDS_CA_BUNDLE_NODE_PATH and region == {"Ref": "AWS::Region"}
    assert source["Fn::Sub"].startswith("s3://") and source["Fn::Sub"].endswith(".pem")
    assert metastore.ca_bundle_bootstrap is not None


def test_another_ca_path_adds_no_bootstrap_action() -> None:
    _, stack, platform = make_platform()
    metastore = HiveMetastoreDatabase(stack, "Metastore", platform=platform, server_ca_path="/opt/ca.pem")
    HiveCluster(stack, "Hive", platform=platform, metastore=metastore)
    template = Template.from_stack(stack)
    (cluster,) = template.find_resources("AWS::EMR::Cluster").values()
    names = [a["Name"] for a in cluster["Properties"].get("BootstrapActions", [])]
    assert "install-rds-ca-bundle" not in names
    assert "serverSslCert=/opt/ca.pem" in json.dumps(_hive_site(template)["javax.jdo.option.ConnectionURL"])
    assert metastore.ca_bundle_bootstrap is None


def test_database_open_only_to_the_primary_group_and_the_user_function_on_its_port(built: Any) -> None:
    stack, _, metastore, hive, template = built
    db_sg = stack.get_logical_id(metastore.database.security_group.node.default_child)
    primary = stack.get_logical_id(hive.primary_security_group.node.default_child)
    assert metastore.user_function.security_group is not None
    setup = stack.get_logical_id(metastore.user_function.security_group.node.default_child)
    rules = [
        r["Properties"]
        for r in template.find_resources("AWS::EC2::SecurityGroupIngress").values()
        if r["Properties"]["GroupId"] == {"Fn::GetAtt": [db_sg, "GroupId"]}
    ]
    literal = [r for r in rules if r["FromPort"] == 3406]
    assert all(r["ToPort"] == 3406 for r in literal)
    assert sorted(r["SourceSecurityGroupId"]["Fn::GetAtt"][0] for r in literal) == sorted([primary, setup])
    assert not any("CidrIp" in r for r in rules)
    template.has_resource_properties(
        "AWS::RDS::DBInstance",
        {
            "Port": "3406",
            "DeletionProtection": True,
            "StorageEncrypted": True,
            "MultiAZ": True,
            "PubliclyAccessible": False,
            "EnableCloudwatchLogsExports": Match.any_value(),
        },
    )


def test_acid_with_glue_is_refused() -> None:
    _, stack, platform = make_platform()
    metastore = HiveMetastoreDatabase(stack, "Metastore", platform=platform)
    with pytest.raises(EmrPatternsValidationError) as err:
        HiveCluster(
            stack,
            "Hive",
            platform=platform,
            metastore=metastore,
            acid=True,
            configurations=glue_data_catalog(),
        )
    assert "acid=True" in str(err.value) and "drop glue_data_catalog()" in str(err.value)
    assert isinstance(err.value, ValueError)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"acid": True, "compactor_worker_threads": 0}, "compactor_worker_threads=0"),
        ({"configurations": glue_data_catalog()}, "configurations='glue_data_catalog()'"),
    ],
)
def test_bad_cluster_props(kwargs: dict[str, Any], expected: str) -> None:
    _, stack, platform = make_platform()
    metastore = HiveMetastoreDatabase(stack, "Metastore", platform=platform)
    with pytest.raises(EmrPatternsValidationError, match=re.escape(expected)):
        HiveCluster(stack, "Hive", platform=platform, metastore=metastore, **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"user": "root"}, "user='root'"),
        ({"port": 3306}, "port=3306"),
        ({"backup_retention_days": 40}, "backup_retention_days=40"),
        ({"user": "rdsrepladmin"}, "user='rdsrepladmin'"),
        ({"database_name": "mysql"}, "database_name='mysql': is a MySQL system schema"),
        ({"password_revision": "a b"}, "password_revision='a b': is not a revision label"),
    ],
)
def test_bad_database_props(kwargs: dict[str, Any], expected: str) -> None:
    _, stack, platform = make_platform()
    with pytest.raises(EmrPatternsValidationError, match=expected):
        HiveMetastoreDatabase(stack, "Metastore", platform=platform, **kwargs)


def test_the_database_is_in_the_private_subnets_and_a_public_only_vpc_is_refused(built: Any) -> None:
    """No prop places the metastore: it takes the platform's private subnets, and a platform on a
    brought VPC with public subnets only is refused before any database exists."""
    from aws_cdk import App
    from aws_cdk import aws_ec2 as ec2
    from aws_cdk import aws_s3 as s3

    from emr_patterns.foundation.options import NetworkOptions, SecurityOptions
    from emr_patterns.foundation.platform import EmrPlatform

    stack, platform, _, _, template = built
    (group,) = template.find_resources("AWS::RDS::DBSubnetGroup").values()
    private = [stack.resolve(s.subnet_id) for s in platform.private_subnets]
    assert group["Properties"]["SubnetIds"] == private
    with pytest.raises(TypeError):
        HiveMetastoreDatabase(stack, "Elsewhere", platform=platform, vpc_subnets="public")  # type: ignore[call-arg]

    other = Stack(App(), "PublicOnly", env={"account": "111111111111", "region": "us-east-1"})
    vpc = ec2.Vpc(
        other,
        "Vpc",
        max_azs=2,
        nat_gateways=0,
        subnet_configuration=[ec2.SubnetConfiguration(name="pub", subnet_type=ec2.SubnetType.PUBLIC)],
    )
    certs = s3.Bucket.from_bucket_name(other, "Certs", "certs-bucket")
    with pytest.raises(EmrPatternsValidationError, match="only public ones"):
        EmrPlatform(
            other,
            "Platform",
            network=NetworkOptions(vpc=vpc),
            security=SecurityOptions(certificate_bucket=certs, certificate_key="emr/tls.zip"),
        )


def test_no_literal_secret_in_the_template(built: Any) -> None:
    stack, *_ = built
    text = json.dumps(Template.from_stack(Stack.of(stack)).to_json())
    assert 'ConnectionPassword":' not in text.replace(f'{_PASSWORD_KEY}":', "")


def _resource_id(stack: Stack, construct: Any) -> str:
    return stack.get_logical_id(construct.node.default_child)


def test_the_hive_user_is_a_custom_resource_on_the_secrets_not_a_password(built: Any) -> None:
    stack, _, metastore, _, template = built
    ((user_id, user),) = template.find_resources("Custom::HiveMetastoreUser").items()
    assert user_id == _resource_id(stack, metastore.user_setup)
    props = user["Properties"]
    admin_secret = stack.resolve(metastore.database.secret.secret_arn)
    assert props == {
        "ServiceToken": stack.resolve(metastore.user_function.service_token),
        "AdminSecretArn": admin_secret,
        "PasswordSecretArn": {"Ref": _resource_id(stack, metastore.password_secret)},
        "Host": {"Fn::GetAtt": [_resource_id(stack, metastore.database.instance), "Endpoint.Address"]},
        "Port": "3406",
        "User": "hive",
        "Database": "hive",
    }
    assert "PasswordRevision" not in props  # only when asked for
    # Nothing but references to the secrets: no password (or anything password-like) in it.
    literal = {k: v for k, v in props.items() if isinstance(v, str)}
    assert literal == {"Port": "3406", "User": "hive", "Database": "hive"}
    # Deleting it drops the user only: the database and the password secret are retained.
    assert user["DeletionPolicy"] == "Delete"
    resources = template.to_json()["Resources"]
    assert resources[_resource_id(stack, metastore.database.instance)]["DeletionPolicy"] == "Retain"
    assert resources[_resource_id(stack, metastore.password_secret)]["DeletionPolicy"] == "Retain"


def test_the_user_function_runs_hive_metastore_in_the_private_subnets(built: Any) -> None:
    stack, platform, metastore, _, template = built
    function = template.to_json()["Resources"][_resource_id(stack, metastore.user_function.function)]
    props = function["Properties"]
    assert props["Handler"] == "hive_metastore.on_event"
    assert props["VpcConfig"]["SubnetIds"] == [stack.resolve(s.subnet_id) for s in platform.private_subnets]
    group = metastore.user_function.security_group
    assert group is not None
    assert props["VpcConfig"]["SecurityGroupIds"] == [{"Fn::GetAtt": [_resource_id(stack, group), "GroupId"]}]
    db_group = {"Fn::GetAtt": [_resource_id(stack, metastore.database.security_group), "GroupId"]}
    (egress,) = [
        r["Properties"]
        for r in template.find_resources("AWS::EC2::SecurityGroupEgress").values()
        if r["Properties"]["GroupId"] == {"Fn::GetAtt": [_resource_id(stack, group), "GroupId"]}
    ]
    assert egress["DestinationSecurityGroupId"] == db_group
    assert (egress["FromPort"], egress["ToPort"]) == (3406, 3406)


def test_the_user_function_reads_only_the_two_secrets_through_secrets_manager(built: Any) -> None:
    stack, platform, metastore, _, template = built
    policy = template.to_json()["Resources"][_resource_id(stack, metastore.user_function.policy)]
    statements = {st.get("Sid"): st for st in policy["Properties"]["PolicyDocument"]["Statement"]}
    secrets = [
        stack.resolve(metastore.database.secret.secret_arn),
        {"Ref": _resource_id(stack, metastore.password_secret)},
    ]
    assert statements["ReadSecrets"]["Action"] == "secretsmanager:GetSecretValue"
    assert statements["ReadSecrets"]["Resource"] == secrets
    decrypt = statements["DecryptSecrets"]
    assert decrypt["Action"] == "kms:Decrypt"
    assert decrypt["Resource"] == stack.resolve(platform.key.key_arn)
    condition = decrypt["Condition"]["StringEquals"]
    assert condition["kms:EncryptionContext:SecretARN"] == secrets
    assert "secretsmanager." in json.dumps(condition["kms:ViaService"])
    assert not any("secretsmanager:*" in json.dumps(st["Action"]) for st in statements.values())


def test_the_user_is_created_after_its_network_path_and_permissions(built: Any) -> None:
    """CloudFormation creates the resource after, and deletes it before, the two security-group
    rules and the policies, so Create and Delete both reach the database."""
    stack, _, metastore, _, template = built
    (user,) = template.find_resources("Custom::HiveMetastoreUser").values()
    resources = template.to_json()["Resources"]
    rules = {
        k
        for k, r in resources.items()
        if r["Type"] in ("AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress")
        and "UserFunction" in k
    }
    assert len(rules) == 2
    policies = {_resource_id(stack, metastore.user_function.policy)} | {
        _resource_id(stack, p) for p in metastore.user_function.provider_policies
    }
    assert rules | policies <= set(user["DependsOn"])


def test_a_password_revision_is_passed_to_the_user_resource() -> None:
    _, stack, platform = make_platform()
    HiveMetastoreDatabase(stack, "Metastore", platform=platform, password_revision="2026-12-02")
    Template.from_stack(stack).has_resource_properties(
        "Custom::HiveMetastoreUser", {"PasswordRevision": "2026-12-02", "User": "hive"}
    )


@pytest.fixture(scope="module")
def athena() -> Any:
    _, stack, platform = make_platform()
    metastore = HiveMetastoreDatabase(stack, "Metastore", platform=platform)
    hive = HiveCluster(stack, "Hive", platform=platform, metastore=metastore)
    catalog = AthenaHiveCatalog(stack, "Athena", platform=platform, cluster=hive)
    return stack, hive, catalog, Template.from_stack(stack)


def test_data_catalog_is_hive_with_the_connector(athena: Any) -> None:
    stack, _, catalog, template = athena
    (dc,) = template.find_resources("AWS::Athena::DataCatalog").values()
    props = dc["Properties"]
    assert props["Type"] == "HIVE" and props["Name"] == "hive"
    assert set(props["Parameters"]) == {"metadata-function"}
    assert stack.resolve(catalog.function_arn) == props["Parameters"]["metadata-function"]
    app = template.to_json()["Resources"][stack.get_logical_id(catalog.application)]
    assert app["Properties"]["Location"] == {
        "ApplicationId": ATHENA_HIVE_CONNECTOR_APPLICATION_ID,
        "SemanticVersion": ATHENA_HIVE_CONNECTOR_VERSION,
    }
    params = app["Properties"]["Parameters"]
    assert params["LambdaFuncName"] == catalog.function_name
    # the names and forms of the application's template (awslabs/aws-athena-hive-metastore,
    # hms-tools/athena-hive-metastore.yaml): SpillLocation is bucket/prefix (it adds s3://)
    assert set(params) == {
        "LambdaFuncName",
        "HMSUris",
        "SpillLocation",
        "VPCSubnetIds",
        "VPCSecurityGroupIds",
    }
    spill = json.dumps(params["SpillLocation"])
    assert "athena-hive-spill" in spill and "s3://" not in spill and not spill.rstrip('"').endswith("/")


def test_failover_parameter_picks_the_metastore_host(athena: Any) -> None:
    stack, _, catalog, template = athena
    param_id = stack.get_logical_id(catalog.host_parameter)
    assert template.to_json()["Parameters"][param_id]["Default"] == ""
    uris = json.dumps(template.to_json()["Resources"][stack.get_logical_id(catalog.application)])
    assert f'"Ref": "{param_id}"' in uris and "MasterPublicDNS" in uris and ":9083" in uris


def test_connector_and_metastore_security_group_rules(athena: Any) -> None:
    stack, hive, catalog, template = athena
    conn = {"Fn::GetAtt": [stack.get_logical_id(catalog.security_group.node.default_child), "GroupId"]}
    primary = {
        "Fn::GetAtt": [stack.get_logical_id(hive.primary_security_group.node.default_child), "GroupId"]
    }
    ingress = [r["Properties"] for r in template.find_resources("AWS::EC2::SecurityGroupIngress").values()]
    assert any(
        r["GroupId"] == primary
        and r["SourceSecurityGroupId"] == conn
        and r["FromPort"] == r["ToPort"] == 9083
        for r in ingress
    )
    (sg,) = [
        r["Properties"]
        for lid, r in template.find_resources("AWS::EC2::SecurityGroup").items()
        if lid == conn["Fn::GetAtt"][0]
    ]
    egress = sg.get("SecurityGroupEgress", [])
    egress += [
        r["Properties"]
        for r in template.find_resources("AWS::EC2::SecurityGroupEgress").values()
        if r["Properties"]["GroupId"] == conn
    ]
    assert {(e["FromPort"], e["ToPort"]) for e in egress} == {(9083, 9083), (443, 443)}
    assert not any(e.get("CidrIp") == "0.0.0.0/0" for e in egress)


def test_engineers_have_the_catalog_policy_analysts_do_not(athena: Any) -> None:
    stack, _, catalog, template = athena
    policy_id = stack.get_logical_id(catalog.users_policy.node.default_child)
    groups = template.find_resources("AWS::IAM::Group")
    engineers = groups[stack.get_logical_id(catalog.engineers.node.default_child)]["Properties"]
    analysts = groups[stack.get_logical_id(catalog.analysts.node.default_child)].get("Properties", {})
    assert engineers["ManagedPolicyArns"] == [{"Ref": policy_id}]
    assert not analysts.get("ManagedPolicyArns")
    doc = template.to_json()["Resources"][policy_id]["Properties"]["PolicyDocument"]
    by_sid = {st["Sid"]: st for st in doc["Statement"]}
    assert set(by_sid["InvokeConnector"]["Action"]) == {"lambda:InvokeFunction", "lambda:GetFunction"}
    assert "athena-hive-spill/*" in json.dumps(by_sid["SpillObjects"]["Resource"])


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"catalog_name": "bad name"}, "catalog_name='bad name'"),
        ({"function_name": "x" * 65}, "function_name="),
        ({"application_id": "AthenaHiveMetastoreFunction"}, "application_id='AthenaHiveMetastoreFunction'"),
        ({"semantic_version": "latest"}, "semantic_version='latest'"),
    ],
)
def test_bad_catalog_props(kwargs: dict[str, Any], expected: str) -> None:
    _, stack, platform = make_platform()
    metastore = HiveMetastoreDatabase(stack, "Metastore", platform=platform)
    hive = HiveCluster(stack, "Hive", platform=platform, metastore=metastore)
    with pytest.raises(EmrPatternsValidationError, match=re.escape(expected)):
        AthenaHiveCatalog(stack, "Athena", platform=platform, cluster=hive, **kwargs)
