"""PlatformBaseStack resources carry the secure defaults the README promises."""

from __future__ import annotations

import re

import pytest
from aws_cdk.assertions import Match

from emr_patterns.app_factory import PLATFORM_ZONES
from emr_patterns.defaults import (
    DEFAULT_SETTINGS,
    IMDS_HOP_LIMIT,
    INCOMPLETE_UPLOAD_ABORT_DAYS,
    LOG_GROUP_RETENTION_DAYS,
    NONCURRENT_VERSION_EXPIRATION_DAYS,
    TEMPORARY_DATA_EXPIRATION_DAYS,
    VPC_MAX_AZS,
)
from emr_patterns.foundation.network import GATEWAY_ENDPOINTS, INTERFACE_ENDPOINTS

pytestmark = pytest.mark.cdk
STACK = "PlatformBaseStack"


@pytest.fixture(scope="module")
def template(synthesized):
    return synthesized.template(STACK)


@pytest.fixture(scope="module")
def resources(synthesized):
    return synthesized.template_json(STACK)["Resources"]


def _of_type(resources, type_):
    return {k: v for k, v in resources.items() if v["Type"] == type_}


def test_buckets_encrypted_private_versioned_logged_and_retained(resources):
    buckets = _of_type(resources, "AWS::S3::Bucket")
    assert len(buckets) == 6
    kms_buckets = 0
    for logical_id, bucket in buckets.items():
        props = bucket["Properties"]
        assert bucket["DeletionPolicy"] == "Retain" and bucket["UpdateReplacePolicy"] == "Retain", logical_id
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        assert props["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
        sse = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        rules = {r["Id"]: r for r in props["LifecycleConfiguration"]["Rules"]}
        assert rules["expire-noncurrent-versions"]["NoncurrentVersionExpiration"]["NoncurrentDays"] == (
            NONCURRENT_VERSION_EXPIRATION_DAYS
        )
        assert (
            rules["expire-noncurrent-versions"]["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"]
            == INCOMPLETE_UPLOAD_ABORT_DAYS
        )
        if "AccessLogs" in logical_id:
            assert sse["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
            assert "LoggingConfiguration" not in props
        else:
            kms_buckets += 1
            assert sse["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
            assert sse["ServerSideEncryptionByDefault"]["KMSMasterKeyID"] == {
                "Fn::GetAtt": ["PlatformStorageKey773013F5", "Arn"]
            }
            assert sse["BucketKeyEnabled"] is True
            assert props["LoggingConfiguration"]["DestinationBucketName"] == {
                "Ref": "PlatformStorageAccessLogs600BAA84"
            }
    assert kms_buckets == 5


def test_temporary_data_expires_in_work_bucket(resources):
    rules = resources["PlatformStorageWork04EA9598"]["Properties"]["LifecycleConfiguration"]["Rules"]
    tmp = next(r for r in rules if r["Id"] == "expire-temporary-data")
    assert tmp["Prefix"] == "tmp/" and tmp["ExpirationInDays"] == TEMPORARY_DATA_EXPIRATION_DAYS


def test_only_the_data_buckets_send_events_to_event_bridge(resources):
    sending = sorted(
        k
        for k, b in _of_type(resources, "AWS::S3::Bucket").items()
        if b["Properties"]
        .get("NotificationConfiguration", {})
        .get("EventBridgeConfiguration", {})
        .get("EventBridgeEnabled")
        is True
    )
    assert [re.sub(r"[0-9A-F]{8}$", "", k) for k in sending] == [
        "PlatformStorageCurated",
        "PlatformStorageRaw",
        "PlatformStorageWork",
    ]
    # No custom-resource Lambda does it (aws-cdk's event_bridge_enabled=True would add one).
    assert not _of_type(resources, "Custom::S3BucketNotifications")


def test_every_bucket_policy_denies_insecure_transport(resources):
    policies = _of_type(resources, "AWS::S3::BucketPolicy")
    assert len(policies) == 6
    for logical_id, policy in policies.items():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        ssl = [
            s
            for s in statements
            if s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
        ]
        tls = [s for s in statements if "s3:TlsVersion" in s.get("Condition", {}).get("NumericLessThan", {})]
        assert ssl and all(s["Effect"] == "Deny" for s in ssl), logical_id
        assert tls, f"{logical_id} does not enforce TLS 1.2"


def test_tls_material_readable_only_by_emr_nodes(resources):
    statements = resources["PlatformStorageArtifactsPolicyD2D68AC6"]["Properties"]["PolicyDocument"][
        "Statement"
    ]
    deny = next(s for s in statements if s.get("Sid") == "TlsMaterialOnlyForEmrNodes")
    assert deny["Effect"] == "Deny" and deny["Principal"] == {"AWS": "*"}
    allowed = deny["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]
    assert {"Fn::GetAtt": ["PlatformRolesInstanceRole01FED7FE", "Arn"]} in allowed
    assert {"Fn::GetAtt": ["PlatformSecurityConfigurationCertificateFunctionRole17E2FD4A", "Arn"]} in allowed
    assert {"Fn::GetAtt": ["PlatformSecurityConfigurationExpiryCheckFunctionRole11F3E23B", "Arn"]} in allowed
    assert len(allowed) == 3
    # Only the writer may replace or delete the material nodes launched later will trust.
    write_deny = next(s for s in statements if s.get("Sid") == "TlsMaterialWrittenOnlyByItsFunction")
    assert write_deny["Effect"] == "Deny" and write_deny["Principal"] == {"AWS": "*"}
    assert set(write_deny["Action"]) == {"s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"}
    assert write_deny["Resource"] == deny["Resource"]
    assert write_deny["Condition"]["ArnNotEquals"]["aws:PrincipalArn"] == {
        "Fn::GetAtt": ["PlatformSecurityConfigurationCertificateFunctionRole17E2FD4A", "Arn"]
    }


def test_key_rotates_and_is_retained(resources):
    key = resources["PlatformStorageKey773013F5"]
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "Retain"


def test_stateful_logical_ids_are_stable(resources):
    """Renaming these would replace data-bearing resources: change only with a migration note."""
    stateful = {
        k
        for k, v in resources.items()
        if v["Type"] in ("AWS::S3::Bucket", "AWS::KMS::Key", "AWS::Logs::LogGroup", "AWS::EC2::VPC")
    }
    assert stateful == {
        "PlatformStorageKey773013F5",
        "PlatformStorageAccessLogs600BAA84",
        "PlatformStorageRawACDC92A6",
        "PlatformStorageWork04EA9598",
        "PlatformStorageCurated6890D9CD",
        "PlatformStorageLogs98F2AFC6",
        "PlatformStorageArtifacts4C224948",
        "PlatformNetworkVpcED8BFD03",
        "PlatformNetworkFlowLogs54E55310",
        "PlatformNetworkFlowLogKeyA8CBA491",
        "PlatformSecurityConfigurationCertificateFunctionLogsB224B493",
        "PlatformSecurityConfigurationCertificateFunctionFrameworkLogs7EF088D4",
        "PlatformSecurityConfigurationExpiryCheckFunctionLogs9B729EF5",
    }


def test_network_private_only_with_endpoints_and_flow_logs(template, resources):
    subnets = _of_type(resources, "AWS::EC2::Subnet")
    # The prebuilt app's platform spans three zones (Redshift Serverless needs them), each in a
    # zone of its own; the library's default is VPC_MAX_AZS (two).
    assert len(subnets) == PLATFORM_ZONES
    zones = {str(s["Properties"]["AvailabilityZone"]) for s in subnets.values()}
    assert len(zones) == PLATFORM_ZONES
    for subnet in subnets.values():
        assert subnet["Properties"]["MapPublicIpOnLaunch"] is False
        assert {"Key": "for-use-with-amazon-emr-managed-policies", "Value": "true"} in subnet["Properties"][
            "Tags"
        ]
    assert not _of_type(resources, "AWS::EC2::InternetGateway")
    assert not _of_type(resources, "AWS::EC2::NatGateway")
    endpoints = _of_type(resources, "AWS::EC2::VPCEndpoint")
    gateway = [e for e in endpoints.values() if e["Properties"].get("VpcEndpointType") == "Gateway"]
    interface = [e for e in endpoints.values() if e["Properties"].get("VpcEndpointType") == "Interface"]
    assert len(gateway) == len(GATEWAY_ENDPOINTS) and len(interface) == len(INTERFACE_ENDPOINTS)
    assert all(e["Properties"]["PrivateDnsEnabled"] is True for e in interface)
    template.has_resource_properties("AWS::EC2::FlowLog", {"TrafficType": "ALL", "ResourceType": "VPC"})
    template.has_resource_properties(
        "AWS::Logs::LogGroup", {"RetentionInDays": LOG_GROUP_RETENTION_DAYS, "KmsKeyId": Match.any_value()}
    )
    template.resource_count_is("Custom::VpcRestrictDefaultSG", 1)


def test_no_admin_or_wildcard_actions(resources):
    for logical_id, resource in resources.items():
        if resource["Type"] not in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy", "AWS::IAM::Role"):
            continue
        props = resource["Properties"]
        docs = [props.get("PolicyDocument")] + [p["PolicyDocument"] for p in props.get("Policies", [])]
        for doc in filter(None, docs):
            for st in doc["Statement"]:
                actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
                assert not any(a == "*" or a.endswith(":*") for a in actions), (logical_id, actions)
    assert not _of_type(resources, "AWS::IAM::Policy"), "inline policies break the HIPAA/NIST packs"


def test_instance_policy_scoped_to_platform(resources):
    statements = resources["PlatformRolesInstancePolicy660232D2"]["Properties"]["PolicyDocument"]["Statement"]
    listing = next(s for s in statements if s["Sid"] == "ListPlatformBuckets")
    # The jobs read an output bucket's default encryption before writing to it.
    assert "s3:GetEncryptionConfiguration" in listing["Action"]
    assert {"Fn::GetAtt": ["PlatformStorageCurated6890D9CD", "Arn"]} in listing["Resource"]
    for st in statements:
        resources_ = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
        assert "*" not in resources_, st


def test_service_role_uses_v2_policy_with_confused_deputy_guard(resources):
    role = resources["PlatformRolesServiceRole642FC297"]["Properties"]
    principal_statement = role["AssumeRolePolicyDocument"]["Statement"][0]
    assert principal_statement["Principal"] == {"Service": "elasticmapreduce.amazonaws.com"}
    assert "aws:SourceAccount" in principal_statement["Condition"]["StringEquals"]
    assert "aws:SourceArn" in principal_statement["Condition"]["ArnLike"]
    arns = [str(a) for a in role["ManagedPolicyArns"]]
    assert any("AmazonEMRServicePolicy_v2" in a for a in arns)
    assert not any("AmazonElasticMapReduceRole" in a for a in arns)


def test_security_configuration_nests_encryption_and_requires_imdsv2(resources):
    config = next(iter(_of_type(resources, "AWS::EMR::SecurityConfiguration").values()))
    doc = config["Properties"]["SecurityConfiguration"]
    assert isinstance(doc, dict), "must be an object, not a JSON string"
    enc = doc["EncryptionConfiguration"]
    assert enc["EnableAtRestEncryption"] is True and enc["EnableInTransitEncryption"] is True
    key = {"Fn::GetAtt": ["PlatformStorageKey773013F5", "Arn"]}
    at_rest = enc["AtRestEncryptionConfiguration"]
    assert at_rest["S3EncryptionConfiguration"] == {"EncryptionMode": "SSE-KMS", "AwsKmsKey": key}
    assert at_rest["LocalDiskEncryptionConfiguration"] == {
        "EncryptionKeyProviderType": "AwsKms",
        "AwsKmsKey": key,
        "EnableEbsEncryption": True,
    }
    tls = enc["InTransitEncryptionConfiguration"]["TLSCertificateConfiguration"]
    assert tls["CertificateProviderType"] == "PEM"
    assert tls["S3Object"] == {"Fn::GetAtt": ["PlatformSecurityConfigurationCertificateE5CA9449", "S3Uri"]}
    assert doc["InstanceMetadataServiceConfiguration"] == {
        "MinimumInstanceMetadataServiceVersion": 2,
        "HttpPutResponseHopLimit": IMDS_HOP_LIMIT,
    }
    for forbidden in ("EnableAtRestEncryption", "EnableInTransitEncryption"):
        assert forbidden not in doc, "top-level encryption keys are rejected by EMR"


def test_certificate_custom_resource_gets_no_secret(resources):
    cr = resources["PlatformSecurityConfigurationCertificateE5CA9449"]
    assert cr["Type"] == "Custom::EmrTlsCertificate"
    props = cr["Properties"]
    assert set(props) == {
        "ServiceToken",
        "ServiceTimeout",
        "Bucket",
        "KeyPrefix",
        "KmsKeyArn",
        "CommonName",
        "ValidityDays",
        "Generation",
    }
    assert props["KeyPrefix"] == "emr/tls/"
    assert props["Generation"] == "1"
    fn = resources["PlatformSecurityConfigurationCertificateFunction56901A63"]
    assert fn["Type"] == "AWS::Lambda::Function"
    assert fn["Properties"]["Handler"] == "handler.on_event"
    assert "Environment" not in fn["Properties"]
    assert fn["Properties"]["VpcConfig"]["SubnetIds"]


def _readme_defaults() -> dict[str, str]:
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    rows = {}
    in_table = False
    for line in readme.splitlines():
        if line.startswith("## Default settings"):
            in_table = True
            continue
        if in_table and line.startswith("## "):
            break
        if (
            in_table
            and line.startswith("| ")
            and not line.startswith("| Setting")
            and not line.startswith("| ---")
        ):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            rows[cells[0]] = cells[1]
    return rows


def test_readme_default_settings_table_is_the_defaults_module():
    assert _readme_defaults() == DEFAULT_SETTINGS


def _numbers(text: str, pattern: str) -> list[int]:
    return [int(n) for n in re.findall(pattern, text)]


def test_readme_default_settings_hold_in_the_synthesized_templates(synthesized, resources):
    """Every figure and name in the README's table, read back from what the app synthesizes."""
    rows = _readme_defaults()
    buckets = _of_type(resources, "AWS::S3::Bucket")

    def rule_days(rule_id: str, field: str) -> set[int]:
        found = set()
        for bucket in buckets.values():
            for rule in bucket["Properties"]["LifecycleConfiguration"]["Rules"]:
                if rule["Id"] == rule_id:
                    value = rule[field]
                    found.add(value["NoncurrentDays"] if isinstance(value, dict) else value)
        return found

    cluster = next(
        r
        for stack_id in synthesized.stacks
        for r in synthesized.template_json(stack_id)["Resources"].values()
        if r["Type"] == "AWS::EMR::Cluster"
    )
    assert f"`{cluster['Properties']['ReleaseLabel']}`" in rows["EMR release"]
    # The table gives the library's default; the prebuilt app asks for PLATFORM_ZONES instead.
    zones = len(_of_type(resources, "AWS::EC2::Subnet"))
    assert zones == PLATFORM_ZONES
    assert _numbers(rows["Network"], r"(\d+) AZs") == [VPC_MAX_AZS]
    flow_logs = next(v for k, v in _of_type(resources, "AWS::Logs::LogGroup").items() if "FlowLogs" in k)
    assert _numbers(rows["VPC flow logs"], r"(\d+) days") == [flow_logs["Properties"]["RetentionInDays"]]
    assert {_numbers(rows["Bucket versioning"], r"(\d+) days")[0]} == rule_days(
        "expire-noncurrent-versions", "NoncurrentVersionExpiration"
    )
    assert {_numbers(rows["Temporary data"], r"(\d+) days")[0]} == rule_days(
        "expire-temporary-data", "ExpirationInDays"
    )
    log_days = rule_days("expire-logs", "ExpirationInDays") | rule_days(
        "expire-access-logs", "ExpirationInDays"
    )
    assert {_numbers(rows["Log retention"], r"(\d+) days")[0]} == log_days
    certificate = next(iter(_of_type(resources, "Custom::EmrTlsCertificate").values()))
    assert _numbers(rows["In-transit encryption"], r"valid (\d+) days") == [
        int(certificate["Properties"]["ValidityDays"])
    ]
    config = next(iter(_of_type(resources, "AWS::EMR::SecurityConfiguration").values()))
    imds = config["Properties"]["SecurityConfiguration"]["InstanceMetadataServiceConfiguration"]
    assert _numbers(rows["Instance metadata"], r"hop limit (\d+)") == [imds["HttpPutResponseHopLimit"]]
    assert "IMDSv2 only" in rows["Instance metadata"] and imds["MinimumInstanceMetadataServiceVersion"] == 2
    # Endpoints: every interface endpoint the README names is in the template, and no other.
    names = {
        str(e["Properties"]["ServiceName"]).rsplit(".", 1)[-1].strip("'\"]}")
        for e in _of_type(resources, "AWS::EC2::VPCEndpoint").values()
    }
    assert len(names) == len(GATEWAY_ENDPOINTS) + len(INTERFACE_ENDPOINTS)
    listed = rows["VPC endpoints"]
    for label, short in (("EC2", "ec2"), ("EMR", "elasticmapreduce"), ("KMS", "kms"), ("STS", "sts")):
        assert (label in listed) == (short in names), (label, names)
