"""One platform, many stacks: the IEmrPlatform contract, importing a deployed platform, and the
bad inputs around it (a missing attribute, a platform from another environment)."""

from __future__ import annotations

import dataclasses
import inspect
import json

import pytest
from aws_cdk import App, Environment, Stack
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk.assertions import Template

from emr_patterns import (
    EmrPatternsValidationError,
    EmrPlatform,
    EmrPlatformAttributes,
    GravitonSparkClusterStack,
    IEmrPlatform,
    NetworkOptions,
    PlatformBaseStack,
    RoleOptions,
    SecurityOptions,
    StorageOptions,
)
from emr_patterns.compute.cluster import EmrCluster
from emr_patterns.foundation.network import DataPlatformNetwork
from emr_patterns.foundation.platform import OUTPUT_KEYS
from emr_patterns.foundation.roles import EmrRoles
from emr_patterns.foundation.security_configuration import EmrSecurityConfiguration
from emr_patterns.foundation.storage import DataLakeStorage
from emr_patterns.stacks.clusters import graviton_spark_spec

pytestmark = pytest.mark.cdk

ACCOUNT = "111122223333"
KEY_ARN = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
OUTPUTS = {
    "VpcId": "vpc-0123456789abcdef0",
    "VpcCidrBlock": "10.40.0.0/16",
    "AvailabilityZones": "eu-west-1a,eu-west-1b",
    "PrivateSubnetIds": "subnet-aaaa1111,subnet-bbbb2222",
    "EndpointSecurityGroupId": "sg-0123456789abcdef0",
    "KeyArn": KEY_ARN,
    "ServiceRoleArn": f"arn:aws:iam::{ACCOUNT}:role/emr-service",
    "InstanceRoleArn": f"arn:aws:iam::{ACCOUNT}:role/emr-nodes",
    "InstanceProfileArn": f"arn:aws:iam::{ACCOUNT}:instance-profile/emr-nodes",
    "SecurityConfigurationName": "platform-security",
    "LogsBucketName": "acme-emr-logs",
    "ArtifactsBucketName": "acme-emr-artifacts",
    "DataBucketNames": "acme-emr-raw,acme-emr-work,acme-emr-curated",
    "EmrLogsPrefix": "emr/",
    "ArtifactsPrefix": "emr/",
    "TemporaryPrefix": "tmp/",
    "SomethingElse": "ignored",
}


def _pinned_stack(app: App, id: str, region: str = "eu-west-1") -> Stack:
    return Stack(app, id, env=Environment(account=ACCOUNT, region=region))


def test_platform_base_stack_outputs_every_attribute(synthesized):
    outputs = synthesized.template_json("PlatformBaseStack")["Outputs"]
    assert set(OUTPUT_KEYS) - {"AutoScalingRoleArn"} <= set(outputs)
    assert isinstance(synthesized.stacks["PlatformBaseStack"].platform, IEmrPlatform)


def test_imported_platform_runs_a_cluster_on_the_deployed_parts():
    app = App()
    stack = _pinned_stack(app, "Other")
    platform = EmrPlatform.from_platform_attributes(
        stack, "Platform", EmrPlatformAttributes.from_stack_outputs(OUTPUTS)
    )
    assert isinstance(platform, IEmrPlatform)
    cluster = EmrCluster(stack, "Cluster", platform=platform, spec=graviton_spark_spec())
    t = Template.from_stack(stack)
    props = t.find_resources("AWS::EMR::Cluster")[stack.get_logical_id(cluster.resource)]["Properties"]
    assert props["SecurityConfiguration"] == "platform-security"
    assert props["ServiceRole"] == OUTPUTS["ServiceRoleArn"]
    assert props["JobFlowRole"] == OUTPUTS["InstanceProfileArn"]
    assert props["LogUri"] == "s3://acme-emr-logs/emr/"
    assert props["LogEncryptionKmsKeyId"] == KEY_ARN
    assert props["Instances"]["Ec2SubnetIds"] == ["subnet-aaaa1111", "subnet-bbbb2222"]
    # Nothing of the platform is created again: no VPC, no bucket, no key, no role but the cleanup's.
    for type_ in ("AWS::EC2::VPC", "AWS::S3::Bucket", "AWS::KMS::Key", "AWS::EMR::SecurityConfiguration"):
        t.resource_count_is(type_, 0)
    groups = t.find_resources("AWS::EC2::SecurityGroup")
    assert all(g["Properties"]["VpcId"] == OUTPUTS["VpcId"] for g in groups.values())


@pytest.mark.parametrize(
    "missing", ["KeyArn", "InstanceProfileArn", "SecurityConfigurationName", "PrivateSubnetIds"]
)
def test_import_from_outputs_names_the_missing_output(missing):
    outputs = {k: v for k, v in OUTPUTS.items() if k != missing}
    with pytest.raises(EmrPatternsValidationError) as err:
        EmrPlatformAttributes.from_stack_outputs(outputs)
    assert f"outputs[{missing!r}]=" in str(err.value) and "Fix:" in str(err.value)


def test_import_with_an_empty_attribute_names_it_and_the_output():
    attributes = dataclasses.replace(
        EmrPlatformAttributes.from_stack_outputs(OUTPUTS), instance_role_arn="", availability_zones=("a",)
    )
    with pytest.raises(EmrPatternsValidationError) as err:
        EmrPlatform.from_platform_attributes(_pinned_stack(App(), "S"), "Platform", attributes)
    msg = str(err.value)
    assert "attributes.instance_role_arn=" in msg and "'InstanceRoleArn'" in msg
    assert "attributes.availability_zones=" in msg and "1 zones for 2 private subnets" in msg


def test_import_rejects_a_key_alias():
    attributes = dataclasses.replace(
        EmrPlatformAttributes.from_stack_outputs(OUTPUTS),
        key_arn=f"arn:aws:kms:eu-west-1:{ACCOUNT}:alias/emr",
    )
    with pytest.raises(EmrPatternsValidationError, match=r"attributes\.key_arn="):
        EmrPlatform.from_platform_attributes(_pinned_stack(App(), "S"), "Platform", attributes)


@pytest.mark.parametrize(
    ("platform_env", "pattern_env", "what"),
    [
        (("eu-west-1", ACCOUNT), ("us-east-1", ACCOUNT), "region"),
        (("eu-west-1", ACCOUNT), ("eu-west-1", "444455556666"), "account"),
        (("eu-west-1", ACCOUNT), None, "account"),
    ],
)
def test_pattern_stack_refuses_a_platform_from_another_environment(platform_env, pattern_env, what):
    app = App()
    base = PlatformBaseStack(app, "Base", env=Environment(region=platform_env[0], account=platform_env[1]))
    env = Environment(region=pattern_env[0], account=pattern_env[1]) if pattern_env else None
    with pytest.raises(EmrPatternsValidationError) as err:
        GravitonSparkClusterStack(app, "Spark", env=env, platform=base.platform)
    msg = str(err.value)
    assert "platform='Base/Platform'" in msg and f"with {what}" in msg and "same env=Environment" in msg


def test_pattern_stack_refuses_something_that_is_not_a_platform():
    app = App()
    with pytest.raises(EmrPatternsValidationError, match="is not an IEmrPlatform"):
        GravitonSparkClusterStack(app, "Spark", platform=Stack(app, "NotAPlatform"))


def test_options_must_be_the_typed_dataclasses():
    with pytest.raises(EmrPatternsValidationError) as err:
        EmrPlatform(Stack(App(), "S"), "Platform", network={"max_azs": 3})  # type: ignore[arg-type]
    assert "network='dict': is not a NetworkOptions" in str(err.value)


@pytest.mark.parametrize(
    ("options", "construct", "given_by_platform"),
    [
        (NetworkOptions, DataPlatformNetwork, set()),
        (StorageOptions, DataLakeStorage, set()),
        (RoleOptions, EmrRoles, {"storage"}),
        (
            SecurityOptions,
            EmrSecurityConfiguration,
            {"key", "instance_role", "vpc", "vpc_subnets", "artifacts_bucket", "certificate_prefix"},
        ),
    ],
)
def test_options_carry_exactly_the_constructs_props(options, construct, given_by_platform):
    params = set(inspect.signature(construct.__init__).parameters) - {"self", "scope", "id"}
    assert {f.name for f in dataclasses.fields(options)} == params - given_by_platform


def test_options_reach_the_parts():
    stack = _pinned_stack(App(), "S")  # a pinned env, so a new VPC can use three zones
    lake = s3.Bucket.from_bucket_name(stack, "Lake", "existing-lake")
    EmrPlatform(
        stack,
        "Platform",
        network=NetworkOptions(max_azs=3, cidr="10.50.0.0/16", flow_log_retention_days=90),
        storage=StorageOptions(bucket_name_prefix="acme-emr"),
        roles=RoleOptions(additional_read_buckets=[lake], enable_ssm=False),
    )
    t = Template.from_stack(stack)
    t.resource_count_is("AWS::EC2::Subnet", 3)
    t.has_resource_properties("AWS::EC2::VPC", {"CidrBlock": "10.50.0.0/16"})
    t.has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": 90})
    t.has_resource_properties("AWS::S3::Bucket", {"BucketName": "acme-emr-raw"})
    policies = json.dumps(t.find_resources("AWS::IAM::ManagedPolicy"))
    assert "existing-lake/*" in policies
    roles = json.dumps(t.find_resources("AWS::IAM::Role"))
    assert "AmazonSSMManagedInstanceCore" not in roles


def test_grants_on_platform_roles_land_in_managed_policies_and_pass_the_gate():
    """What a user adds (an existing data lake, a secret) must not trip IAMNoInlinePolicy."""
    from emr_patterns.gates import nag_findings

    app = App()
    stack = Stack(app, "S")
    platform = EmrPlatform(stack, "Platform")
    lake = s3.Bucket.from_bucket_name(stack, "Lake", "existing-lake")
    secret = secretsmanager.Secret.from_secret_name_v2(stack, "Password", "hive/metastore")
    assert lake.grant_read(platform.instance_role, "curated/*").success
    assert secret.grant_read(platform.service_role).success
    t = Template.from_stack(stack)
    t.resource_count_is("AWS::IAM::Policy", 0)
    granted = [
        p
        for k, p in t.find_resources("AWS::IAM::ManagedPolicy").items()
        if "GrantsPolicy" in k and "existing-lake" in json.dumps(p)
    ]
    assert len(granted) == 1
    inline = [
        f
        for f in nag_findings(app)
        if "IAMNoInlinePolicy" in f.rule_id or "IAMPolicyNoStatements" in f.rule_id
    ]
    assert inline == []


def test_attributes_round_trip_through_stack_outputs():
    attributes = EmrPlatformAttributes.from_stack_outputs(OUTPUTS)
    assert EmrPlatformAttributes.from_stack_outputs(attributes.to_outputs()) == attributes
    assert set(attributes.to_outputs()) == set(OUTPUTS) - {"SomethingElse"}
