"""The cluster stacks: encryption, logging, network rules, fleets, one shared VPC."""

from __future__ import annotations

import pytest

from emr_patterns.spec import Architecture, architecture_of, instance_type

pytestmark = pytest.mark.cdk
CLUSTER_STACKS = ("GravitonSparkClusterStack", "SpotFleetClusterStack")


def _cluster(synthesized, stack_id):
    resources = synthesized.template_json(stack_id)["Resources"]
    ((logical_id, cluster),) = [(k, v) for k, v in resources.items() if v["Type"] == "AWS::EMR::Cluster"]
    return logical_id, cluster, resources


@pytest.mark.parametrize("stack_id", CLUSTER_STACKS)
def test_cluster_is_encrypted_logged_tagged_keyless_and_terminates(synthesized, stack_id):
    _, cluster, _ = _cluster(synthesized, stack_id)
    props = cluster["Properties"]
    # Platform resources come from the shared PlatformBaseStack, through its exports.
    assert synthesized.imported_resource(props["SecurityConfiguration"])["Type"] == (
        "AWS::EMR::SecurityConfiguration"
    )
    prefix, bucket, path = props["LogUri"]["Fn::Join"][1]
    assert (prefix, path) == ("s3://", "/emr/")
    assert synthesized.imported_resource(bucket)["Type"] == "AWS::S3::Bucket"
    _, key_arn = synthesized.resolve_import(props["LogEncryptionKmsKeyId"])
    assert key_arn["Fn::GetAtt"][1] == "Arn"
    assert synthesized.imported_resource(props["LogEncryptionKmsKeyId"])["Type"] == "AWS::KMS::Key"
    assert {"Key": "for-use-with-amazon-emr-managed-policies", "Value": "true"} in props["Tags"]
    assert "Ec2KeyName" not in props["Instances"]
    assert "AutoTerminationPolicy" in props or props["Instances"].get("TerminationProtected") is True
    assert props["AutoTerminationPolicy"]["IdleTimeout"] == 3600
    assert props["ReleaseLabel"] == "emr-7.13.0"
    assert props["Instances"]["KeepJobFlowAliveWhenNoSteps"] is True


@pytest.mark.parametrize("stack_id", CLUSTER_STACKS)
def test_security_groups_and_ordering(synthesized, stack_id):
    _, cluster, resources = _cluster(synthesized, stack_id)
    instances = cluster["Properties"]["Instances"]
    service_sg = instances["ServiceAccessSecurityGroup"]["Fn::GetAtt"][0]
    primary_sg = instances["EmrManagedMasterSecurityGroup"]["Fn::GetAtt"][0]
    ingress = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::EC2::SecurityGroupIngress"
        and r["Properties"]["GroupId"]["Fn::GetAtt"][0] == service_sg
    ]
    assert any(
        p["FromPort"] == 9443 and p["SourceSecurityGroupId"]["Fn::GetAtt"][0] == primary_sg for p in ingress
    )
    for group in (service_sg, primary_sg, instances["EmrManagedSlaveSecurityGroup"]["Fn::GetAtt"][0]):
        tags = resources[group]["Properties"]["Tags"]
        assert {"Key": "for-use-with-amazon-emr-managed-policies", "Value": "true"} in tags
        for rule_id, rule in resources.items():
            if rule["Type"].startswith("AWS::EC2::SecurityGroup") and rule_id != group:
                refs = str(rule["Properties"].get("GroupId", ""))
                if group in refs:
                    assert rule_id in cluster["DependsOn"], f"cluster may race rule {rule_id}"
    cleanup = [k for k, v in resources.items() if v["Type"] == "Custom::EmrSecurityGroupCleanup"]
    assert len(cleanup) == 1 and cleanup[0] in cluster["DependsOn"]
    ids = resources[cleanup[0]]["Properties"]["SecurityGroupIds"]
    assert len(ids) == 3


def test_graviton_stack_is_arm64_only_with_managed_scaling(synthesized):
    _, cluster, _ = _cluster(synthesized, "GravitonSparkClusterStack")
    props = cluster["Properties"]
    fleets = [props["Instances"]["MasterInstanceFleet"], props["Instances"]["CoreInstanceFleet"]]
    fleets += props["Instances"].get("TaskInstanceFleets", [])
    types = [c["InstanceType"] for f in fleets for c in f["InstanceTypeConfigs"]]
    assert types and all(architecture_of(t) is Architecture.ARM64 for t in types), types
    limits = props["ManagedScalingPolicy"]["ComputeLimits"]
    assert limits["UnitType"] == "InstanceFleetUnits" and limits["MinimumCapacityUnits"] >= 1
    assert limits["MaximumCapacityUnits"] > limits["MinimumCapacityUnits"]


def test_spot_stack_fleets(synthesized):
    _, cluster, _ = _cluster(synthesized, "SpotFleetClusterStack")
    instances = cluster["Properties"]["Instances"]
    for key in ("MasterInstanceFleet", "CoreInstanceFleet"):
        fleet = instances[key]
        assert fleet.get("TargetSpotCapacity", 0) == 0 and fleet["TargetOnDemandCapacity"] >= 1
        assert fleet["LaunchSpecifications"]["OnDemandSpecification"]["AllocationStrategy"] == "lowest-price"
        assert len(fleet["InstanceTypeConfigs"]) >= 3
    (task,) = instances["TaskInstanceFleets"]
    assert task["TargetSpotCapacity"] > 0 and task.get("TargetOnDemandCapacity", 0) == 0
    configs = task["InstanceTypeConfigs"]
    assert len(configs) >= 10
    for c in configs:
        assert c["WeightedCapacity"] == instance_type(c["InstanceType"]).vcpu, c
    spot = task["LaunchSpecifications"]["SpotSpecification"]
    assert spot["AllocationStrategy"] in ("capacity-optimized", "price-capacity-optimized")
    assert spot["TimeoutDurationMinutes"] == 60 and spot["TimeoutAction"] == "SWITCH_TO_ON_DEMAND"
    platform = synthesized.template_json("PlatformBaseStack")["Resources"]
    subnets = [k for k, v in platform.items() if v["Type"] == "AWS::EC2::Subnet"]
    used = [synthesized.resolve_import(s) for s in instances["Ec2SubnetIds"]]
    assert sorted(value["Ref"] for _, value in used) == sorted(subnets)
    assert {stack for stack, _ in used} == {"PlatformBaseStack"} and len(subnets) >= 2


def test_the_app_has_one_vpc_and_every_pattern_stack_uses_it(synthesized):
    vpcs = [
        (stack_id, logical_id)
        for stack_id in synthesized.stacks
        for logical_id, r in synthesized.template_json(stack_id)["Resources"].items()
        if r["Type"] == "AWS::EC2::VPC"
    ]
    assert [stack for stack, _ in vpcs] == ["PlatformBaseStack"], vpcs
    for stack_id in CLUSTER_STACKS:
        _, cluster, _ = _cluster(synthesized, stack_id)
        for subnet in cluster["Properties"]["Instances"]["Ec2SubnetIds"]:
            assert synthesized.resolve_import(subnet)[0] == "PlatformBaseStack"
