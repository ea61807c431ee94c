"""TLS lifecycle of EmrSecurityConfiguration and the custom-resource plumbing of PlatformFunction.

A brought certificate is a bucket plus a key that the instance role can read (through a
customer-managed policy); a generated one lives at a stable key, renews in place, and is watched
by a daily DaysToExpiry check with an alarm. The custom resources go through
``custom_resources.Provider`` with customer-managed policies only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Match, Template

from emr_patterns.errors import EmrPatternsValidationError
from emr_patterns.foundation import functions
from emr_patterns.foundation.security_configuration import EmrSecurityConfiguration
from emr_patterns.lambdas.emr_sg_cleanup import handler as sg_handler

pytestmark = pytest.mark.cdk


def _base() -> tuple[Stack, dict[str, Any]]:
    """A stack with the platform pieces the security configuration takes."""
    stack = Stack(App(), "Test", env={"account": "123456789012", "region": "eu-west-1"})
    vpc = ec2.Vpc(
        stack,
        "Vpc",
        nat_gateways=0,
        subnet_configuration=[
            ec2.SubnetConfiguration(name="private", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        ],
    )
    props = {
        "key": kms.Key(stack, "Key"),
        "instance_role": iam.Role(
            stack, "InstanceRole", assumed_by=iam.ServicePrincipal("ec2.amazonaws.com")
        ),
        "vpc": vpc,
        "vpc_subnets": ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
    }
    return stack, props


def _generated() -> tuple[Stack, EmrSecurityConfiguration, Template]:
    stack, props = _base()
    bucket = s3.Bucket(stack, "Artifacts", enforce_ssl=True)
    config = EmrSecurityConfiguration(stack, "SecurityConfiguration", artifacts_bucket=bucket, **props)
    return stack, config, Template.from_stack(stack)


def _problems(err: pytest.ExceptionInfo[EmrPatternsValidationError]) -> str:
    return "\n".join(err.value.problems)


# ---- brought certificate: validation ------------------------------------------------------------


def test_bucket_without_key_names_certificate_key() -> None:
    stack, props = _base()
    bucket = s3.Bucket.from_bucket_name(stack, "Certs", "my-certs")
    with pytest.raises(EmrPatternsValidationError) as err:
        EmrSecurityConfiguration(stack, "SecurityConfiguration", certificate_bucket=bucket, **props)
    msg = _problems(err)
    assert msg.startswith("certificate_key=None") and "Fix: pass the object key of the zip" in msg


def test_key_without_bucket_names_certificate_bucket() -> None:
    stack, props = _base()
    with pytest.raises(EmrPatternsValidationError) as err:
        EmrSecurityConfiguration(stack, "SecurityConfiguration", certificate_key="tls/cert.zip", **props)
    msg = _problems(err)
    assert msg.startswith("certificate_bucket=None") and "Fix: pass the s3.IBucket" in msg


@pytest.mark.parametrize("key", ["tls/cert.tar", "/tls/cert.zip", "tls/../cert.zip", "s3://my-certs/c.zip"])
def test_key_must_be_a_relative_zip_key(key: str) -> None:
    stack, props = _base()
    bucket = s3.Bucket.from_bucket_name(stack, "Certs", "my-certs")
    with pytest.raises(EmrPatternsValidationError) as err:
        EmrSecurityConfiguration(
            stack, "SecurityConfiguration", certificate_bucket=bucket, certificate_key=key, **props
        )
    msg = _problems(err)
    assert f"certificate_key={key!r}" in msg and "ending in .zip" in msg and "Fix: give the key" in msg


# ---- brought certificate: the instance role can read exactly that object -----------------------


def test_brought_certificate_is_readable_by_the_instance_role_through_a_managed_policy() -> None:
    stack, props = _base()
    bucket = s3.Bucket.from_bucket_name(stack, "Certs", "my-certs")
    config = EmrSecurityConfiguration(
        stack, "SecurityConfiguration", certificate_bucket=bucket, certificate_key="emr/tls.zip", **props
    )
    t = Template.from_stack(stack)
    t.resource_count_is("Custom::EmrTlsCertificate", 0)
    t.resource_count_is("AWS::IAM::Policy", 0)  # no inline policies anywhere
    role_id = stack.get_logical_id(props["instance_role"].node.default_child)
    instance_policies = [
        p
        for p in t.find_resources("AWS::IAM::ManagedPolicy").values()
        if {"Ref": role_id} in p["Properties"].get("Roles", [])
    ]
    statements = [s for p in instance_policies for s in p["Properties"]["PolicyDocument"]["Statement"]]
    object_arn = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":s3:::my-certs/emr/tls.zip"]]}
    reads = [s for s in statements if s["Effect"] == "Allow" and "s3:GetObject" in s["Action"]]
    assert reads and all(s["Resource"] == object_arn for s in reads)
    assert config.certificate_s3_uri == "s3://my-certs/emr/tls.zip"
    doc = t.find_resources("AWS::EMR::SecurityConfiguration")
    (security_configuration,) = doc.values()
    tls = security_configuration["Properties"]["SecurityConfiguration"]["EncryptionConfiguration"][
        "InTransitEncryptionConfiguration"
    ]["TLSCertificateConfiguration"]
    assert tls == {"CertificateProviderType": "PEM", "S3Object": "s3://my-certs/emr/tls.zip"}
    # The daily check reads the same object and the schedule names it.
    t.has_resource_properties(
        "AWS::Events::Rule",
        {
            "ScheduleExpression": "rate(1 day)",
            "Targets": [Match.object_like({"Input": '{"Bucket":"my-certs","Key":"emr/tls.zip"}'})],
        },
    )


# ---- generated certificate -----------------------------------------------------------------------


def test_generated_certificate_has_a_stable_uri_and_renews_by_generation() -> None:
    stack, config, t = _generated()
    (cr,) = t.find_resources("Custom::EmrTlsCertificate").values()
    props = cr["Properties"]
    assert props["KeyPrefix"] == "emr/tls/" and props["Generation"] == "1"
    assert props["ServiceTimeout"] == "600"
    assert stack.resolve(config.certificate_s3_uri) == {
        "Fn::GetAtt": [stack.get_logical_id(config.certificate.node.default_child), "S3Uri"]
    }


def test_expiry_alarm_breaches_on_missing_data_and_notifies_an_encrypted_ssl_only_topic() -> None:
    stack, config, t = _generated()
    t.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "cdk-emr-patterns/TLS",
            "MetricName": "DaysToExpiry",
            "Threshold": 30,
            "ComparisonOperator": "LessThanThreshold",
            "TreatMissingData": "breaching",
            "Period": 86400,
            "AlarmActions": [{"Ref": stack.get_logical_id(config.alarm_topic.node.default_child)}],
        },
    )
    t.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": Match.any_value()})
    (topic_policy,) = t.find_resources("AWS::SNS::TopicPolicy").values()
    statements = topic_policy["Properties"]["PolicyDocument"]["Statement"]
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in statements
    )
    t.has_resource_properties(
        "AWS::Lambda::Function", {"Handler": "handler.check_expiry", "TracingConfig": {"Mode": "Active"}}
    )


def test_expiry_alarm_days_must_be_below_the_validity() -> None:
    stack, props = _base()
    bucket = s3.Bucket(stack, "Artifacts")
    with pytest.raises(EmrPatternsValidationError) as err:
        EmrSecurityConfiguration(
            stack,
            "SecurityConfiguration",
            artifacts_bucket=bucket,
            certificate_validity_days=20,
            expiry_alarm_days=30,
            **props,
        )
    assert "expiry_alarm_days=30" in _problems(err)


def test_functions_are_python_3_14_x86_64_traced_and_the_stack_has_no_inline_policy() -> None:
    _, _, t = _generated()
    t.resource_count_is("AWS::IAM::Policy", 0)
    for function in t.find_resources("AWS::Lambda::Function").values():
        props = function["Properties"]
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert "MemorySize" in props and "Timeout" in props
        if props["Handler"].startswith("handler."):
            assert props["Runtime"] == "python3.14" and props["Architectures"] == ["x86_64"]
            assert props["VpcConfig"]["SubnetIds"]
        else:  # the provider framework relay runs outside the isolated subnets
            assert "VpcConfig" not in props
            assert "KmsKeyArn" in props  # its environment is encrypted with the platform key


# ---- the security-group cleanup provider waits ---------------------------------------------------


def test_sg_cleanup_waiter_outlasts_the_handlers_own_deadline(synthesized) -> None:
    t = synthesized.template_json("GravitonSparkClusterStack")
    resources = t["Resources"]
    (cleanup,) = [r for r in resources.values() if r["Type"] == "Custom::EmrSecurityGroupCleanup"]
    service_timeout = int(cleanup["Properties"]["ServiceTimeout"])
    machines = [r for r in resources.values() if r["Type"] == "AWS::StepFunctions::StateMachine"]
    (machine,) = machines
    assert machine["Properties"]["TracingConfiguration"] == {"Enabled": True}
    assert machine["Properties"]["LoggingConfiguration"]["Level"] == "ALL"
    definition = "".join(str(p) for p in machine["Properties"]["DefinitionString"]["Fn::Join"][1])
    assert '"IntervalSeconds":30' in definition and '"MaxAttempts":60' in definition
    total_timeout = 30 * 60
    assert sg_handler.WAIT_LIMIT_SECONDS < total_timeout < service_timeout <= 3600
    functions_ = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::Lambda::Function"]
    assert {"handler.on_event", "handler.is_complete"} <= {p["Handler"] for p in functions_}


# ---- vendored dependencies ------------------------------------------------------------------------


def test_missing_vendored_dependencies_fail_synth_naming_the_make_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    handler_dir = tmp_path / "tls_certificate"
    handler_dir.mkdir()
    (handler_dir / "handler.py").write_text("def on_event(event, context): return {}\n")
    (handler_dir / "requirements.txt").write_text("cryptography==50.0.2\n")
    monkeypatch.setattr(functions, "lambda_dir", lambda name: str(handler_dir))
    stack, props = _base()
    with pytest.raises(FileNotFoundError, match="make lambda-deps"):
        EmrSecurityConfiguration(
            stack, "SecurityConfiguration", artifacts_bucket=s3.Bucket(stack, "A"), **props
        )
    (handler_dir / "_vendor").mkdir()
    (handler_dir / "_vendor" / "VENDORED.txt").write_text("cryptography==49.0.0\n")
    assert "stale" in (functions.vendored_asset_problem(handler_dir) or "")
    (handler_dir / "_vendor" / "VENDORED.txt").write_text("cryptography==50.0.2\n")
    assert functions.vendored_asset_problem(handler_dir) is None


def test_the_tls_asset_holds_the_vendored_cryptography(synthesized) -> None:
    """The synthesized function asset is handler + the cp314/abi3 manylinux wheels."""
    assets = [d for d in synthesized.assembly_dir.glob("asset.*") if (d / "handler.py").is_file()]
    tls = [d for d in assets if "check_expiry" in (d / "handler.py").read_text()]
    assert len(tls) == 1, assets
    vendor = tls[0] / "_vendor"
    assert list(vendor.glob("cryptography/hazmat/bindings/_rust.abi3.so"))
    assert list(vendor.glob("_cffi_backend.cpython-314-x86_64-linux-gnu.so"))
    assert (vendor / "VENDORED.txt").read_text() == (tls[0] / "requirements.txt").read_text()
    assert not list(tls[0].rglob("__pycache__"))
