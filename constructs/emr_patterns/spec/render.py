"""Renderers of a :class:`~emr_patterns.spec.ClusterSpec`: CloudFormation props and RunJobFlow.

Both shapes share :func:`_common` (top-level cluster settings) and :func:`_instances_common`
(``Instances`` settings); they differ in how fleets, groups and configurations are keyed. Use them
through :meth:`ClusterSpec.to_cfn_cluster_props` and :meth:`ClusterSpec.to_run_job_flow_request`.
CDK tokens (string or number) pass through unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from emr_patterns.errors import raise_if_problems
from emr_patterns.spec.cluster import MANAGED_POLICY_TAG, PlatformBindings, ScalingUnit, ShellAccess
from emr_patterns.spec.fleets import NodeRole
from emr_patterns.spec.rules import bindings_problems

if TYPE_CHECKING:
    from emr_patterns.spec.cluster import ClusterSpec

__all__ = ["cfn_cluster_props", "run_job_flow_request"]


def _tags(spec: ClusterSpec) -> list[dict[str, str]]:
    key, value = MANAGED_POLICY_TAG
    tags = {key: value, **dict(spec.tags)}
    tags[key] = value
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def _common(spec: ClusterSpec, bindings: PlatformBindings) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Name": spec.name,
        "ReleaseLabel": spec.release_label,
        "Applications": [{"Name": a} for a in spec.applications],
        "ServiceRole": bindings.service_role,
        "JobFlowRole": bindings.instance_profile,
        "SecurityConfiguration": bindings.security_configuration,
        "LogUri": bindings.log_uri,
        "VisibleToAllUsers": spec.visible_to_all_users,
        "Tags": _tags(spec),
        "ScaleDownBehavior": spec.scale_down_behavior,
    }
    if bindings.log_encryption_kms_key_id:
        out["LogEncryptionKmsKeyId"] = bindings.log_encryption_kms_key_id
    if bindings.auto_scaling_role:
        out["AutoScalingRole"] = bindings.auto_scaling_role
    if spec.bootstrap_actions:
        out["BootstrapActions"] = [b.to_api() for b in spec.bootstrap_actions]
    if spec.step_concurrency_level != 1:
        out["StepConcurrencyLevel"] = spec.step_concurrency_level
    if spec.managed_scaling is not None:
        unit = ScalingUnit.INSTANCE_FLEET_UNITS if spec.uses_fleets else ScalingUnit.INSTANCES
        out["ManagedScalingPolicy"] = spec.managed_scaling.to_api(unit)
    if spec.idle_timeout_seconds is not None:
        out["AutoTerminationPolicy"] = {"IdleTimeout": spec.idle_timeout_seconds}
    if spec.custom_ami_id:
        out["CustomAmiId"] = spec.custom_ami_id
    if spec.ebs_root_volume_size_gib is not None:
        out["EbsRootVolumeSize"] = spec.ebs_root_volume_size_gib
    if spec.os_release_label:
        out["OSReleaseLabel"] = spec.os_release_label
    if spec.primary_node_count == 3:
        out["PlacementGroupConfigs"] = [{"InstanceRole": "MASTER", "PlacementStrategy": "SPREAD"}]
    return out


def _instances_common(spec: ClusterSpec, bindings: PlatformBindings) -> dict[str, Any]:
    out: dict[str, Any] = {
        "TerminationProtected": spec.termination_protected,
        "KeepJobFlowAliveWhenNoSteps": spec.keep_alive_when_no_steps,
    }
    if spec.uses_fleets:
        out["Ec2SubnetIds"] = list(bindings.subnet_ids)
    else:
        out["Ec2SubnetId"] = bindings.subnet_ids[0]
    for key, value in (
        ("EmrManagedMasterSecurityGroup", bindings.emr_managed_primary_security_group),
        ("EmrManagedSlaveSecurityGroup", bindings.emr_managed_core_security_group),
        ("ServiceAccessSecurityGroup", bindings.service_access_security_group),
    ):
        if value:
            out[key] = value
    if bindings.additional_primary_security_groups:
        out["AdditionalMasterSecurityGroups"] = list(bindings.additional_primary_security_groups)
    if bindings.additional_core_security_groups:
        out["AdditionalSlaveSecurityGroups"] = list(bindings.additional_core_security_groups)
    if spec.unhealthy_node_replacement is not None:
        out["UnhealthyNodeReplacement"] = spec.unhealthy_node_replacement
    if spec.shell_access is ShellAccess.SSH_KEY_PAIR and spec.ec2_key_name:
        out["Ec2KeyName"] = spec.ec2_key_name
    return out


def _checked(spec: ClusterSpec, bindings: PlatformBindings) -> None:
    raise_if_problems(f"ClusterSpec({spec.name}) render", bindings_problems(spec, bindings))


def cfn_cluster_props(spec: ClusterSpec, bindings: PlatformBindings) -> dict[str, Any]:
    """``Properties`` of an ``AWS::EMR::Cluster`` (see :meth:`ClusterSpec.to_cfn_cluster_props`)."""
    _checked(spec, bindings)
    props = _common(spec, bindings)
    instances = _instances_common(spec, bindings)
    if spec.uses_fleets:
        if spec.primary_fleet is not None:
            instances["MasterInstanceFleet"] = spec.primary_fleet.to_cfn()
        if spec.core_fleet is not None:
            instances["CoreInstanceFleet"] = spec.core_fleet.to_cfn()
        if spec.task_fleets:
            instances["TaskInstanceFleets"] = [f.to_cfn() for f in spec.task_fleets]
    else:
        for group in spec.instance_groups:
            body = group.to_cfn()
            if group.role is NodeRole.PRIMARY:
                instances["MasterInstanceGroup"] = body
            elif group.role is NodeRole.CORE:
                instances["CoreInstanceGroup"] = body
            else:
                instances.setdefault("TaskInstanceGroups", []).append(body)
    props["Instances"] = instances
    if spec.merged_configurations:
        props["Configurations"] = [c.to_cfn() for c in spec.merged_configurations]
    return props


def run_job_flow_request(spec: ClusterSpec, bindings: PlatformBindings) -> dict[str, Any]:
    """The ``RunJobFlow`` request (see :meth:`ClusterSpec.to_run_job_flow_request`)."""
    _checked(spec, bindings)
    request = _common(spec, bindings)
    instances = _instances_common(spec, bindings)
    if spec.uses_fleets:
        instances["InstanceFleets"] = [f.to_api() for f in spec.fleets]
    else:
        instances["InstanceGroups"] = [g.to_api() for g in spec.instance_groups]
    request["Instances"] = instances
    if spec.merged_configurations:
        request["Configurations"] = [c.to_api() for c in spec.merged_configurations]
    return request
