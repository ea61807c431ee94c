"""EmrCluster construct: bad input, bootstrap assets, grants."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Template

from emr_patterns import EmrPatternsValidationError
from emr_patterns.compute.cluster import BootstrapScript, EmrCluster
from emr_patterns.foundation.options import SecurityOptions
from emr_patterns.foundation.platform import EmrPlatform
from emr_patterns.spec import ClusterSpec, InstanceFleetSpec, ShellAccess

pytestmark = pytest.mark.cdk


def _platform() -> tuple[Stack, EmrPlatform]:
    stack = Stack(App(), "Test")
    certs = s3.Bucket.from_bucket_name(stack, "Certs", "certs-bucket")
    return stack, EmrPlatform(
        stack, "Platform", security=SecurityOptions(certificate_bucket=certs, certificate_key="emr/tls.zip")
    )


def _spec(**overrides) -> ClusterSpec:
    kwargs = dict(
        name="test",
        primary_fleet=InstanceFleetSpec.primary(["m7g.xlarge"]),
        core_fleet=InstanceFleetSpec.core(["m7g.2xlarge"], on_demand_units=2),
        idle_timeout_seconds=3600,
    )
    kwargs.update(overrides)
    return ClusterSpec(**kwargs)


def test_key_pair_rejected_when_ssm_is_the_policy():
    stack, platform = _platform()
    spec = _spec(shell_access=ShellAccess.SSH_KEY_PAIR, ec2_key_name="ops")
    with pytest.raises(EmrPatternsValidationError) as err:
        EmrCluster(stack, "Cluster", platform=platform, spec=spec)
    assert "spec.shell_access=" in str(err.value) and "Session Manager" in str(err.value)


def test_neither_auto_termination_nor_protection_rejected():
    stack, platform = _platform()
    with pytest.raises(
        EmrPatternsValidationError, match="neither auto-termination nor termination protection"
    ):
        EmrCluster(stack, "Cluster", platform=platform, spec=_spec(idle_timeout_seconds=None))


def test_termination_protected_long_running_cluster_accepted():
    stack, platform = _platform()
    EmrCluster(
        stack, "Cluster", platform=platform, spec=_spec(idle_timeout_seconds=None, termination_protected=True)
    )
    (cluster,) = Template.from_stack(stack).find_resources("AWS::EMR::Cluster").values()
    assert cluster["Properties"]["Instances"]["TerminationProtected"] is True
    assert "AutoTerminationPolicy" not in cluster["Properties"]


@pytest.mark.parametrize("missing", ["script", "file"])
def test_missing_bootstrap_script_or_file_rejected(tmp_path, missing):
    script = tmp_path / "install.sh"
    if missing == "file":
        script.write_text("#!/bin/bash\n")
    bootstrap = BootstrapScript("x", str(script), files=(str(tmp_path / "no.pem"),))
    prop = r"bootstrap_scripts\[0\].path" if missing == "script" else r"bootstrap_scripts\[0\].files\[0\]"
    stack, platform = _platform()
    with pytest.raises(EmrPatternsValidationError, match=prop):
        EmrCluster(stack, "Cluster", platform=platform, spec=_spec(), bootstrap_scripts=[bootstrap])


def test_bootstrap_script_is_an_asset_readable_object_by_object(tmp_path):
    script = tmp_path / "install.sh"
    script.write_text("#!/bin/bash\nset -euo pipefail\necho ok\n")
    stack, platform = _platform()
    EmrCluster(
        stack,
        "Cluster",
        platform=platform,
        spec=_spec(),
        bootstrap_scripts=[BootstrapScript("install", str(script), ("a",))],
    )
    t = Template.from_stack(stack)
    (cluster,) = t.find_resources("AWS::EMR::Cluster").values()
    (action,) = cluster["Properties"]["BootstrapActions"]
    assert action["Name"] == "install" and action["ScriptBootstrapAction"]["Args"] == ["a"]
    assert "s3://" in str(action["ScriptBootstrapAction"]["Path"])
    policies = [
        p
        for p in t.find_resources("AWS::IAM::ManagedPolicy").values()
        if "bootstrap" in p["Properties"].get("Description", "")
    ]
    (policy,) = policies
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Action"] == "s3:GetObject" and ".sh" in str(statement["Resource"])


def test_bootstrap_files_ship_as_assets_passed_after_the_args(tmp_path):
    script, bundle = tmp_path / "install.sh", tmp_path / "ca.pem"
    script.write_text("#!/bin/bash\nset -euo pipefail\necho ok\n")
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    stack, platform = _platform()
    EmrCluster(
        stack,
        "Cluster",
        platform=platform,
        spec=_spec(),
        bootstrap_scripts=[BootstrapScript("install", str(script), ("/etc/x.pem",), (str(bundle),))],
    )
    t = Template.from_stack(stack)
    (cluster,) = t.find_resources("AWS::EMR::Cluster").values()
    (action,) = cluster["Properties"]["BootstrapActions"]
    first, url = action["ScriptBootstrapAction"]["Args"]
    assert first == "/etc/x.pem" and "s3://" in json.dumps(url) and ".pem" in json.dumps(url)
    (policy,) = [
        p
        for p in t.find_resources("AWS::IAM::ManagedPolicy").values()
        if "bootstrap" in p["Properties"].get("Description", "")
    ]
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    resources = json.dumps(statement["Resource"])
    assert statement["Action"] == "s3:GetObject" and ".sh" in resources and ".pem" in resources


def test_grant_submit_steps_scoped_to_this_cluster():
    stack, platform = _platform()
    cluster = EmrCluster(stack, "Cluster", platform=platform, spec=_spec())
    role = iam.Role(stack, "Submitter", assumed_by=iam.AccountRootPrincipal())
    assert cluster.grant_submit_steps(role).success
    t = Template.from_stack(stack)
    t.resource_count_is("AWS::IAM::Policy", 0)  # no inline policy: the packs reject those
    (policy,) = [
        p
        for k, p in t.find_resources("AWS::IAM::ManagedPolicy").items()
        if k.startswith("ClusterSubmitSteps")
    ]
    assert policy["Properties"]["Roles"] == [{"Ref": stack.get_logical_id(role.node.default_child)}]
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert "elasticmapreduce:AddJobFlowSteps" in statement["Action"]
    cluster_id = stack.get_logical_id(cluster.resource)
    assert statement["Resource"] == {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":elasticmapreduce:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                ":cluster/",
                {"Ref": cluster_id},
            ],
        ]
    }


def test_instance_groups_use_one_subnet():
    from emr_patterns.spec import InstanceGroupSpec, NodeRole

    stack, platform = _platform()
    spec = ClusterSpec(
        name="groups",
        instance_groups=(
            InstanceGroupSpec(NodeRole.PRIMARY, "m7g.xlarge", 1),
            InstanceGroupSpec(NodeRole.CORE, "m7g.xlarge", 2),
        ),
        idle_timeout_seconds=600,
    )
    EmrCluster(stack, "Cluster", platform=platform, spec=spec)
    (cluster,) = Template.from_stack(stack).find_resources("AWS::EMR::Cluster").values()
    assert "Ec2SubnetId" in cluster["Properties"]["Instances"]


def test_release_without_imdsv2_only_support_rejected():
    stack, platform = _platform()
    spec = ClusterSpec(
        name="old",
        release_label="emr-5.29.0",
        primary_fleet=InstanceFleetSpec.primary(["m5.xlarge"]),
        core_fleet=InstanceFleetSpec.core(["m5.2xlarge"], on_demand_units=2),
        termination_protected=True,
    )
    with pytest.raises(EmrPatternsValidationError) as err:
        EmrCluster(stack, "Cluster", platform=platform, spec=spec)
    assert "spec.release_label='emr-5.29.0'" in str(err.value) and "IMDSv2" in str(err.value)


def test_granted_submitter_passes_the_gate():
    from emr_patterns.gates import nag_findings

    stack, platform = _platform()
    cluster = EmrCluster(stack, "Cluster", platform=platform, spec=_spec())
    role = iam.Role(stack, "Submitter", assumed_by=iam.AccountRootPrincipal())
    cluster.grant_submit_steps(role)
    mine = [
        f
        for f in nag_findings(stack.node.root)
        if f.construct_path.startswith(("Test/Submitter", "Test/Cluster/Submit"))
    ]
    assert mine == [], [(f.rule_id, f.construct_path) for f in mine]


def test_metastore_password_secret_is_readable_by_the_service_role():
    """EMR resolves EMR.secret@ properties with the service role; without this the cluster cannot start."""
    from emr_patterns.spec import external_hive_metastore

    secret = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:hive-metastore-AbCdEf"
    stack, platform = _platform()
    spec = _spec(
        applications=("Hadoop", "Hive"),
        configurations=external_hive_metastore(host="db.example.internal", password_secret_arn=secret),
    )
    cluster = EmrCluster(stack, "Cluster", platform=platform, spec=spec)
    t = Template.from_stack(stack)
    (logical_id,) = [k for k in t.find_resources("AWS::IAM::ManagedPolicy") if "ConfigurationSecrets" in k]
    policy = t.find_resources("AWS::IAM::ManagedPolicy")[logical_id]["Properties"]
    assert policy["PolicyDocument"]["Statement"] == [
        {
            "Sid": "ReadConfigurationSecrets",
            "Effect": "Allow",
            "Action": "secretsmanager:GetSecretValue",
            "Resource": secret,
        }
    ]
    service_role = stack.get_logical_id(platform.roles.service_role.node.default_child)
    assert policy["Roles"] == [{"Ref": service_role}]
    cluster_json = t.find_resources("AWS::EMR::Cluster")[stack.get_logical_id(cluster.resource)]
    assert logical_id in cluster_json["DependsOn"]


def test_no_secret_no_secrets_policy():
    stack, platform = _platform()
    EmrCluster(stack, "Cluster", platform=platform, spec=_spec())
    assert not [
        k for k in Template.from_stack(stack).find_resources("AWS::IAM::ManagedPolicy") if "Secrets" in k
    ]
