"""Every bad foundation input fails at synth with the prop, the value and the fix."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Annotations, Match, Template

from emr_patterns import EmrPatternsValidationError
from emr_patterns.foundation.network import REQUIRED_ENDPOINTS, DataPlatformNetwork
from emr_patterns.foundation.options import SecurityOptions
from emr_patterns.foundation.platform import EmrPlatform
from emr_patterns.foundation.storage import DataLakeStorage, LakeLayout

pytestmark = pytest.mark.cdk


def _stack(context: dict | None = None) -> Stack:
    return Stack(App(context=context or {}), "Test")


def _message(excinfo: pytest.ExceptionInfo) -> str:
    assert isinstance(excinfo.value, ValueError)
    return str(excinfo.value)


def test_public_subnets_where_private_are_required():
    stack = _stack()
    vpc = ec2.Vpc(
        stack,
        "PublicOnly",
        subnet_configuration=[ec2.SubnetConfiguration(name="pub", subnet_type=ec2.SubnetType.PUBLIC)],
        max_azs=2,
    )
    with pytest.raises(EmrPatternsValidationError) as err:
        DataPlatformNetwork(stack, "Net", vpc=vpc, create_missing_endpoints=True)
    msg = _message(err)
    assert "vpc=" in msg and "no private or isolated subnets" in msg and "Fix: add private subnets" in msg


def test_vpc_without_endpoints_names_each_missing_endpoint():
    stack = _stack()
    vpc = ec2.Vpc(stack, "Bare", max_azs=2, nat_gateways=1)
    with pytest.raises(EmrPatternsValidationError) as err:
        DataPlatformNetwork(stack, "Net", vpc=vpc, existing_endpoints=["s3"])
    msg = _message(err)
    assert "endpoint 's3'" not in msg
    for name in REQUIRED_ENDPOINTS:
        if name != "s3":
            assert f"endpoint '{name}'" in msg, name
    assert "create_missing_endpoints=True" in msg
    assert len(err.value.problems) == len(REQUIRED_ENDPOINTS) - 1


def test_brought_vpc_with_endpoints_in_the_app_is_accepted():
    stack = _stack()
    vpc = ec2.Vpc(stack, "Own", max_azs=2, nat_gateways=1)
    vpc.add_gateway_endpoint("S3", service=ec2.GatewayVpcEndpointAwsService.S3)
    net = DataPlatformNetwork(
        stack, "Net", vpc=vpc, existing_endpoints=[n for n in REQUIRED_ENDPOINTS if n != "s3"]
    )
    assert net.endpoints == {}
    assert len(net.private_subnets) == 2


def test_single_zone_vpc_rejected():
    stack = _stack()
    vpc = ec2.Vpc(stack, "OneAz", max_azs=1, nat_gateways=1)
    with pytest.raises(EmrPatternsValidationError, match="fewer than 2 zones"):
        DataPlatformNetwork(stack, "Net", vpc=vpc, create_missing_endpoints=True)


def test_max_azs_below_two_rejected():
    with pytest.raises(EmrPatternsValidationError, match=r"max_azs=1: .*Fix: use 2 or more"):
        DataPlatformNetwork(_stack(), "Net", max_azs=1)


@pytest.mark.parametrize(
    "make_key",
    [
        lambda s: kms.Alias.from_alias_name(s, "Alias", "alias/data"),
        lambda s: kms.Key.from_key_arn(s, "KeyId", "arn:aws:kms:us-east-1:123456789012:alias/data"),
        lambda s: "1234abcd-12ab-34cd-56ef-1234567890ab",
        lambda s: "alias/data",
    ],
    ids=["IAlias", "alias-arn", "bare-key-id", "alias-string"],
)
def test_kms_alias_or_key_id_where_a_key_is_required(make_key):
    stack = _stack()
    with pytest.raises(EmrPatternsValidationError) as err:
        DataLakeStorage(stack, "Storage", encryption_key=make_key(stack))
    msg = _message(err)
    assert "encryption_key=" in msg and "Fix:" in msg and "kms" in msg.lower()


def test_full_key_arn_accepted():
    stack = _stack()
    key = kms.Key.from_key_arn(
        stack, "K", "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    )
    DataLakeStorage(stack, "Storage", encryption_key=key)
    Template.from_stack(stack).resource_count_is("AWS::KMS::Key", 0)


def _cert_bucket(stack: Stack, name: str = "my-certs") -> s3.IBucket:
    return s3.Bucket.from_bucket_name(stack, "CertBucket", name)


@pytest.mark.parametrize(
    ("with_bucket", "key", "prop"),
    [
        (True, None, "certificate_key"),  # a brought bucket with no key
        (False, "emr/tls.zip", "certificate_bucket"),  # a key with no bucket
        (True, "emr/tls.tar", "certificate_key"),
        (True, "emr/../tls.zip", "certificate_key"),
        (True, "/emr/tls.zip", "certificate_key"),
    ],
)
def test_brought_certificate_needs_a_bucket_and_a_zip_key(with_bucket, key, prop):
    stack = _stack()
    bucket = _cert_bucket(stack) if with_bucket else None
    with pytest.raises(EmrPatternsValidationError) as err:
        EmrPlatform(
            stack, "Platform", security=SecurityOptions(certificate_bucket=bucket, certificate_key=key)
        )
    msg = _message(err)
    assert f"{prop}=" in msg and "Fix:" in msg


def test_brought_certificate_is_used_and_readable_by_the_nodes():
    stack = _stack()
    EmrPlatform(
        stack,
        "Platform",
        security=SecurityOptions(certificate_bucket=_cert_bucket(stack), certificate_key="emr/tls.zip"),
    )
    t = Template.from_stack(stack)
    t.resource_count_is("Custom::EmrTlsCertificate", 0)
    t.has_resource_properties(
        "AWS::EMR::SecurityConfiguration",
        {
            "SecurityConfiguration": Match.object_like(
                {
                    "EncryptionConfiguration": Match.object_like(
                        {
                            "InTransitEncryptionConfiguration": {
                                "TLSCertificateConfiguration": {
                                    "CertificateProviderType": "PEM",
                                    "S3Object": "s3://my-certs/emr/tls.zip",
                                }
                            }
                        }
                    )
                }
            )
        },
    )
    # The nodes can read exactly that object, through a customer-managed policy on the instance role.
    stack_json = t.to_json()["Resources"]
    (role_id,) = [k for k, v in stack_json.items() if v["Type"] == "AWS::IAM::Role" and "InstanceRole" in k]
    t.resource_count_is("AWS::IAM::Policy", 0)
    readers = [
        statement
        for policy in t.find_resources("AWS::IAM::ManagedPolicy").values()
        if {"Ref": role_id} in policy["Properties"].get("Roles", [])
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "s3:GetObject" in statement["Action"]
        and "my-certs/emr/tls.zip" in json.dumps(statement["Resource"])
    ]
    assert readers, "the instance role cannot read the brought certificate"
    (resource,) = (
        [r for r in readers[0]["Resource"]]
        if isinstance(readers[0]["Resource"], list)
        else [readers[0]["Resource"]]
    )
    assert json.dumps(resource).endswith(':s3:::my-certs/emr/tls.zip"]]}'), resource


def test_destroy_without_context_flag_reverts_to_retain_with_warning():
    stack = _stack()
    DataLakeStorage(stack, "Storage", removal_policy=RemovalPolicy.DESTROY)
    t = Template.from_stack(stack)
    for bucket in t.find_resources("AWS::S3::Bucket").values():
        assert bucket["DeletionPolicy"] == "Retain"
    t.resource_count_is("Custom::S3AutoDeleteObjects", 0)
    warnings = Annotations.from_stack(stack).find_warning(
        "*", Match.string_like_regexp("removal_policy=RemovalPolicy.DESTROY")
    )
    assert warnings and "emr-patterns:removeDataOnDestroy" in warnings[0].entry.data


def test_destroy_with_context_flag_deletes_data():
    stack = _stack({"emr-patterns:removeDataOnDestroy": True})
    DataLakeStorage(stack, "Storage")
    t = Template.from_stack(stack)
    for bucket in t.find_resources("AWS::S3::Bucket").values():
        assert bucket["DeletionPolicy"] == "Delete"
    t.resource_count_is("Custom::S3AutoDeleteObjects", 6)


@pytest.mark.parametrize(
    "prefix",
    ["Acme", "acme..lake", "acme.", "acme_lake", "-acme", "x" * 60, "xn--acme"],
)
def test_bad_bucket_name_prefix(prefix):
    with pytest.raises(EmrPatternsValidationError) as err:
        DataLakeStorage(_stack(), "Storage", bucket_name_prefix=prefix)
    assert "bucket_name_prefix=" in _message(err)


def test_good_bucket_name_prefix_names_buckets():
    stack = _stack()
    DataLakeStorage(stack, "Storage", bucket_name_prefix="acme-emr")
    names = {
        b["Properties"]["BucketName"]
        for b in Template.from_stack(stack).find_resources("AWS::S3::Bucket").values()
    }
    assert names == {f"acme-emr-{p}" for p in ("raw", "work", "curated", "logs", "artifacts", "access-logs")}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("emr_logs_prefix", "emr/../x/"),
        ("temporary_prefix", "/tmp/"),
        ("artifacts_prefix", "emr"),
        ("temporary_prefix", ""),
    ],
)
def test_bad_prefixes(field, value):
    with pytest.raises(EmrPatternsValidationError) as err:
        DataLakeStorage(_stack(), "Storage", layout=LakeLayout(**{field: value}))
    assert f"layout.{field}=" in _message(err)


def test_security_configuration_as_json_string_rejected():
    with pytest.raises(EmrPatternsValidationError) as err:
        EmrPlatform(
            _stack(),
            "Platform",
            security=SecurityOptions(additional_configuration='{"AuthenticationConfiguration": {}}'),
        )
    msg = _message(err)
    assert "additional_configuration=" in msg and "JSON string" in msg and "pass a dict" in msg


def test_security_configuration_sections_we_own_cannot_be_replaced():
    with pytest.raises(EmrPatternsValidationError, match="would replace a section"):
        EmrPlatform(
            _stack(),
            "Platform",
            security=SecurityOptions(additional_configuration={"EncryptionConfiguration": {}}),
        )


def test_all_problems_reported_at_once():
    with pytest.raises(EmrPatternsValidationError) as err:
        DataLakeStorage(
            _stack(),
            "Storage",
            bucket_name_prefix="BAD",
            layout=LakeLayout(emr_logs_prefix="../", temporary_prefix="x"),
        )
    assert len(err.value.problems) >= 3


def test_grant_pass_roles_only_to_the_two_roles_with_passed_to_service():
    from aws_cdk import aws_iam as iam

    stack = _stack()
    platform = EmrPlatform(stack, "Platform")
    launcher = iam.Role(stack, "Launcher", assumed_by=iam.ServicePrincipal("states.amazonaws.com"))
    grant = platform.roles.grant_pass_roles(launcher)
    assert grant.success
    platform.roles.grant_create_cleanup_role(launcher)
    policy = next(iter(Template.from_stack(stack).find_resources("AWS::IAM::Policy").values()))
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    passes = [s for s in statements if s["Action"] == "iam:PassRole"]
    assert len(passes) == 2
    services = sorted(str(s["Condition"]) for s in passes)
    assert "elasticmapreduce.amazonaws.com" in services[1] or "elasticmapreduce.amazonaws.com" in services[0]
    assert all("iam:PassedToService" in str(s["Condition"]) for s in passes)
    slr = next(s for s in statements if s["Action"] == "iam:CreateServiceLinkedRole")
    assert slr["Condition"] == {"StringLike": {"iam:AWSServiceName": "elasticmapreduce.amazonaws.com"}}
    assert "AWSServiceRoleForEMRCleanup" in str(slr["Resource"])


def _isolated_vpc(stack: Stack, max_azs: int = 2) -> ec2.Vpc:
    return ec2.Vpc(
        stack,
        "Vpc",
        max_azs=max_azs,
        subnet_configuration=[ec2.SubnetConfiguration(name="p", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)],
    )


def test_imported_vpc_without_cidr_gets_our_error_not_cdks():
    stack = _stack()
    vpc = ec2.Vpc.from_vpc_attributes(
        stack, "Vpc", vpc_id="vpc-1", availability_zones=["a", "b"], isolated_subnet_ids=["s-1", "s-2"]
    )
    with pytest.raises(EmrPatternsValidationError) as err:
        DataPlatformNetwork(stack, "Network", vpc=vpc, create_missing_endpoints=True)
    msg = _message(err)
    assert "vpc='Test/Vpc': was imported without vpc_cidr_block" in msg and "Fix: pass vpc_cidr_block" in msg


def test_one_zone_error_names_the_zone_not_a_token():
    stack = _stack()
    with pytest.raises(EmrPatternsValidationError) as err:
        DataPlatformNetwork(
            stack, "Network", vpc=_isolated_vpc(stack, max_azs=1), create_missing_endpoints=True
        )
    msg = _message(err)
    assert "${Token" not in msg and "zone #1 of the stack's region" in msg


def _endpoint_sg_findings(vpc_stack_builder) -> list:
    from emr_patterns.gates import nag_findings

    app = App()
    stack = Stack(app, "P")
    vpc = vpc_stack_builder(app, stack)
    DataPlatformNetwork(stack, "Network", vpc=vpc, create_missing_endpoints=True)
    return [f for f in nag_findings(app) if "EndpointSecurityGroup" in f.construct_path]


def test_vpc_from_another_stack_passes_the_packs_with_its_literal_cidr():
    def build(app, _stack):
        return _isolated_vpc(Stack(app, "Net"))

    assert _endpoint_sg_findings(build) == []


def test_vpc_with_a_deploy_time_cidr_passes_the_packs_and_the_acknowledgement_is_needed(monkeypatch):
    from aws_cdk import Fn

    def build(_app, stack):
        return ec2.Vpc.from_vpc_attributes(
            stack,
            "Vpc",
            vpc_id="vpc-1",
            vpc_cidr_block=Fn.import_value("shared-vpc-cidr"),
            availability_zones=["a", "b"],
            isolated_subnet_ids=["s-1", "s-2"],
            isolated_subnet_route_table_ids=["rtb-1", "rtb-2"],
        )

    assert _endpoint_sg_findings(build) == []
    import emr_patterns.nag

    monkeypatch.setattr(emr_patterns.nag, "_ENABLED", False)
    rules = {f.rule_id for f in _endpoint_sg_findings(build)}
    assert {"AwsSolutions-EC23", "HIPAA.Security-EC2RestrictedCommonPorts"} <= rules
