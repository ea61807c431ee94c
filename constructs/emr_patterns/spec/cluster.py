"""The cluster spec: one typed, validated description that renders both cluster shapes.

:class:`ClusterSpec` ties release, applications, fleets or groups, configurations, bootstrap
actions, scaling, termination and tags together, checks every cross-cutting rule on construction,
and renders

* :meth:`ClusterSpec.to_cfn_cluster_props` - the ``Properties`` of an ``AWS::EMR::Cluster``
  (deploy-time, long-running clusters), and
* :meth:`ClusterSpec.to_run_job_flow_request` - the ``RunJobFlow`` request Step Functions'
  ``elasticmapreduce:createCluster`` task sends (run-time, transient clusters).

The spec knows no CDK: platform values (roles, security configuration, logs, subnets, security
groups) come in as :class:`PlatformBindings`, which may hold CDK token strings.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from emr_patterns._tokens import is_unresolved
from emr_patterns.errors import problem, raise_if_problems
from emr_patterns.spec.catalog import Architecture, architecture_of, release_supports_type
from emr_patterns.spec.configurations import Configuration, configuration_conflicts, merge_configurations
from emr_patterns.spec.fleets import InstanceFleetSpec, InstanceGroupSpec, NodeRole
from emr_patterns.spec.presets import (
    external_metastore_url,
    hbase_storage_mode,
    jdbc_url_uses_tls,
    uses_glue_catalog,
    uses_hive_acid,
    uses_hiveserver2_ldap,
)
from emr_patterns.spec.release import DEFAULT_RELEASE, Feature, ReleaseLabel, feature_problems

__all__ = [
    "MANAGED_POLICY_TAG",
    "BootstrapAction",
    "ClusterSpec",
    "EmrPatternsWarning",
    "ManagedScalingSpec",
    "PlatformBindings",
    "ScalingUnit",
    "ShellAccess",
    "cluster_problems",
    "cluster_warnings",
]

MANAGED_POLICY_TAG = ("for-use-with-amazon-emr-managed-policies", "true")
"""Tag every cluster carries so the v2 EMR managed policies (``AmazonEMRServicePolicy_v2``) apply."""

IDLE_TIMEOUT_MIN = 60
IDLE_TIMEOUT_MAX = 604_800
_NON_YARN_APPS_WITHOUT_AUTO_TERMINATION = {"presto", "trino", "prestosql"}
_APPS_NEEDING_EXTERNAL_METASTORE_FOR_HA = {"hive", "hue", "oozie"}
_AMI = re.compile(r"^ami-[0-9a-f]{8,17}$")


class EmrPatternsWarning(UserWarning):
    """A spec that EMR accepts but that is probably not what you want."""


class ShellAccess(StrEnum):
    """How operators reach cluster nodes."""

    SSM = "ssm"
    """Session Manager only (default): no key pair is rendered."""
    SSH_KEY_PAIR = "ssh-key-pair"
    """An EC2 key pair (``Ec2KeyName``); must be chosen explicitly."""


class ScalingUnit(StrEnum):
    """Unit of managed scaling limits."""

    INSTANCE_FLEET_UNITS = "InstanceFleetUnits"
    INSTANCES = "Instances"
    VCPU = "VCPU"


@dataclass(frozen=True)
class ManagedScalingSpec:
    """EMR managed scaling limits (``ManagedScalingPolicy.ComputeLimits``)."""

    min_units: int
    """Lower bound of the cluster's capacity (core + task)."""
    max_units: int
    """Upper bound of the cluster's capacity (core + task)."""
    max_on_demand_units: int | None = None
    """Cap on On-Demand units; above it EMR adds Spot. Default: no cap."""
    max_core_units: int | None = None
    """Cap on core units; above it EMR adds task nodes. Default: no cap."""
    unit_type: ScalingUnit | str | None = None
    """Unit of the limits. Default: InstanceFleetUnits for fleets, Instances for groups."""
    scaling_strategy: str | None = None
    """``DEFAULT`` or ``ADVANCED``. Default: EMR's default."""
    utilization_performance_index: int | None = None
    """With ADVANCED: 1 (cost), 25, 50 (balanced), 75 or 100 (performance)."""

    def __post_init__(self) -> None:
        raise_if_problems("ManagedScalingSpec", self.problems("managed_scaling"))

    def problems(self, prop: str) -> list[str]:
        """Pure validator (self-contained checks)."""
        out: list[str] = []
        if self.min_units < 1:
            out.append(problem(f"{prop}.min_units", self.min_units, "must be at least 1", "use 1 or more"))
        if self.max_units < self.min_units:
            out.append(
                problem(
                    f"{prop}.max_units", self.max_units, "is below min_units", "use max_units >= min_units"
                )
            )
        for name, value in (
            ("max_on_demand_units", self.max_on_demand_units),
            ("max_core_units", self.max_core_units),
        ):
            if value is not None and not 0 <= value <= self.max_units:
                out.append(problem(f"{prop}.{name}", value, "must be between 0 and max_units", "lower it"))
        if self.unit_type is not None and str(self.unit_type) not in {u.value for u in ScalingUnit}:
            out.append(
                problem(
                    f"{prop}.unit_type", self.unit_type, "is not a ScalingUnit", "use ScalingUnit.<member>"
                )
            )
        if self.scaling_strategy is not None and self.scaling_strategy not in {"DEFAULT", "ADVANCED"}:
            out.append(
                problem(
                    f"{prop}.scaling_strategy", self.scaling_strategy, "is unknown", "use DEFAULT or ADVANCED"
                )
            )
        upi = self.utilization_performance_index
        if upi is not None and upi not in {1, 25, 50, 75, 100}:
            out.append(
                problem(f"{prop}.utilization_performance_index", upi, "is not 1/25/50/75/100", "use 50")
            )
        return out

    def to_api(self, default_unit: ScalingUnit) -> dict[str, Any]:
        """``ManagedScalingPolicy`` (same shape in RunJobFlow and CloudFormation)."""
        limits: dict[str, Any] = {
            "UnitType": str(self.unit_type or default_unit),
            "MinimumCapacityUnits": self.min_units,
            "MaximumCapacityUnits": self.max_units,
        }
        if self.max_on_demand_units is not None:
            limits["MaximumOnDemandCapacityUnits"] = self.max_on_demand_units
        if self.max_core_units is not None:
            limits["MaximumCoreCapacityUnits"] = self.max_core_units
        out: dict[str, Any] = {"ComputeLimits": limits}
        if self.scaling_strategy is not None:
            out["ScalingStrategy"] = self.scaling_strategy
        if self.utilization_performance_index is not None:
            out["UtilizationPerformanceIndex"] = self.utilization_performance_index
        return out


@dataclass(frozen=True)
class BootstrapAction:
    """A script every node runs before applications start."""

    name: str
    """Action name, 1-256 characters."""
    path: str
    """``s3://`` URI of the script (e.g. a CDK asset's S3 URL) or ``file:/`` path on the AMI."""
    args: tuple[str, ...] = ()
    """Script arguments. Never put secrets here: pass a secret ARN and fetch it in the script."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "args", tuple(self.args))
        raise_if_problems("BootstrapAction", self.problems("bootstrap_actions"))

    def problems(self, prop: str) -> list[str]:
        """Pure validator."""
        out: list[str] = []
        if not 1 <= len(self.name) <= 256:
            out.append(problem(f"{prop}.name", self.name, "must be 1-256 characters", "give a short name"))
        if not (is_unresolved(self.path) or self.path.startswith(("s3://", "file:/"))):
            out.append(
                problem(f"{prop}.path", self.path, "is not an s3:// or file:/ path", "upload it as an asset")
            )
        return out

    def to_api(self) -> dict[str, Any]:
        """``BootstrapActionConfig`` (same shape in RunJobFlow and CloudFormation)."""
        script: dict[str, Any] = {"Path": self.path}
        if self.args:
            script["Args"] = list(self.args)
        return {"Name": self.name, "ScriptBootstrapAction": script}


@dataclass(frozen=True)
class PlatformBindings:
    """Platform values the renderers need; strings may be CDK tokens.

    The construct layer fills this from ``EmrPlatform`` (roles, security configuration, log bucket
    and key, subnets, security groups).
    """

    service_role: str
    """EMR service role name or ARN (``ServiceRole``)."""
    instance_profile: str
    """EC2 instance profile name (``JobFlowRole``)."""
    security_configuration: str
    """Name of the EMR security configuration (encryption, IMDSv2, authentication)."""
    log_uri: str
    """``s3://`` prefix for cluster logs."""
    subnet_ids: tuple[str, ...]
    """Private subnet ids. Fleets take several (EMR picks the AZ); groups take exactly one."""
    log_encryption_kms_key_id: str | None = None
    """KMS key ARN for log archive encryption (EMR 5.30.0+, not 6.0.0). Default: not rendered."""
    emr_managed_primary_security_group: str | None = None
    """Security group id for the primary node (``EmrManagedMasterSecurityGroup``)."""
    emr_managed_core_security_group: str | None = None
    """Security group id for core and task nodes (``EmrManagedSlaveSecurityGroup``)."""
    service_access_security_group: str | None = None
    """Security group id for EMR service access (required in private subnets)."""
    additional_primary_security_groups: tuple[str, ...] = ()
    """Extra security groups on the primary node."""
    additional_core_security_groups: tuple[str, ...] = ()
    """Extra security groups on core and task nodes."""
    auto_scaling_role: str | None = None
    """Role for classic (non-managed) automatic scaling. Default: not rendered."""

    def __post_init__(self) -> None:
        for name in ("subnet_ids", "additional_primary_security_groups", "additional_core_security_groups"):
            value = getattr(self, name)
            object.__setattr__(self, name, (value,) if isinstance(value, str) else tuple(value))

    def problems(self, prop: str = "bindings") -> list[str]:
        """Pure validator (tokens are skipped)."""
        out: list[str] = []
        for name in ("service_role", "instance_profile", "security_configuration", "log_uri"):
            if not getattr(self, name):
                out.append(problem(f"{prop}.{name}", getattr(self, name), "is required", f"pass the {name}"))
        if self.log_uri and not (is_unresolved(self.log_uri) or self.log_uri.startswith(("s3://", "s3n://"))):
            out.append(
                problem(
                    f"{prop}.log_uri", self.log_uri, "is not an s3:// URI", "use s3://<logs-bucket>/<prefix>/"
                )
            )
        if not self.subnet_ids:
            out.append(problem(f"{prop}.subnet_ids", (), "is empty", "pass the private subnet ids"))
        if len(set(self.subnet_ids)) != len(self.subnet_ids):
            out.append(
                problem(f"{prop}.subnet_ids", self.subnet_ids, "lists a subnet twice", "list each once")
            )
        return out


def _default_fleet_name(role: NodeRole) -> str:
    return {NodeRole.PRIMARY: "Primary", NodeRole.CORE: "Core", NodeRole.TASK: "Task"}[role]


@dataclass(frozen=True, eq=False)
class ClusterSpec:
    """Everything about an EMR cluster except the platform (roles, network, logs, encryption).

    Raises :class:`~emr_patterns.errors.EmrPatternsValidationError` listing every problem, and
    warns with :class:`EmrPatternsWarning` for legal but risky setups. Give either fleets
    (``primary_fleet``, ``core_fleet``, ``task_fleets``) or ``instance_groups``, never both.
    """

    name: str
    """Cluster name, 1-256 characters."""
    primary_fleet: InstanceFleetSpec | None = None
    """Primary fleet (1 or 3 On-Demand nodes). Required with fleets."""
    core_fleet: InstanceFleetSpec | None = None
    """Core fleet. Default: none (a single-node cluster)."""
    task_fleets: tuple[InstanceFleetSpec, ...] = ()
    """Task fleets (EMR allows one). Default: none."""
    instance_groups: tuple[InstanceGroupSpec, ...] = ()
    """Uniform instance groups, instead of fleets."""
    release_label: str = DEFAULT_RELEASE
    """EMR release, ``emr-X.Y.Z``. Default ``emr-7.13.0``."""
    applications: tuple[str, ...] = ("Hadoop", "Spark")
    """Applications to install. Default Hadoop and Spark."""
    configurations: tuple[Configuration | Iterable[Configuration], ...] = ()
    """Configurations and presets; merged by classification, conflicting values are errors."""
    bootstrap_actions: tuple[BootstrapAction, ...] = ()
    """Bootstrap actions, run in order (EMR allows 16)."""
    managed_scaling: ManagedScalingSpec | None = None
    """Managed scaling limits. Default: fixed size."""
    idle_timeout_seconds: int | None = None
    """Auto-termination after this much idle time, 60-604,800 s. Default: never (long-running)."""
    termination_protected: bool = False
    """Termination protection. Set it on long-running clusters; EMR forces it on with 3 primaries."""
    keep_alive_when_no_steps: bool = True
    """Keep the cluster after its last step. Default True (required by Step Functions' createCluster)."""
    step_concurrency_level: int = 1
    """Steps that may run at once, 1-256 (EMR 5.28.0+). Default 1."""
    custom_ami_id: str | None = None
    """Custom Amazon Linux AMI (EMR 5.7.0+). Default: the EMR AMI."""
    ebs_root_volume_size_gib: int | None = None
    """Root volume size, 15-100 GiB (10 before EMR 6.10). Default: EMR's default."""
    unhealthy_node_replacement: bool | None = None
    """Replace unhealthy core nodes. Default: EMR's default (not rendered)."""
    scale_down_behavior: str = "TERMINATE_AT_TASK_COMPLETION"
    """``TERMINATE_AT_TASK_COMPLETION`` (default) or ``TERMINATE_AT_INSTANCE_HOUR``."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Cluster tags. The managed-policy tag is always added."""
    hdfs_heavy: bool = False
    """True if data that matters lives on HDFS; then core nodes must be On-Demand."""
    allow_spot_core: bool = False
    """Accept Spot core nodes on an HBase or HDFS-heavy cluster (you can lose HDFS blocks)."""
    multi_cluster: bool = False
    """True if several clusters share these Hive tables (affects the Hive ACID checks)."""
    shell_access: ShellAccess = ShellAccess.SSM
    """SSM (default, no key pair) or SSH_KEY_PAIR (renders ``Ec2KeyName``)."""
    ec2_key_name: str | None = None
    """EC2 key pair; only with ``shell_access=ShellAccess.SSH_KEY_PAIR``."""
    visible_to_all_users: bool = True
    """Visible to all IAM users of the account (EMR's default, access is still IAM-controlled)."""
    os_release_label: str | None = None
    """Amazon Linux release for the nodes. Default: EMR's choice for the release."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "task_fleets", tuple(self.task_fleets))
        object.__setattr__(self, "instance_groups", tuple(self.instance_groups))
        object.__setattr__(self, "applications", tuple(self.applications))
        object.__setattr__(self, "bootstrap_actions", tuple(self.bootstrap_actions))
        object.__setattr__(self, "tags", MappingProxyType(dict(self.tags)))
        flat: list[Configuration] = []
        for item in self.configurations:
            if isinstance(item, Configuration):
                flat.append(item)
            else:
                flat.extend(item)
        problems = configuration_conflicts(flat)
        if not problems:
            object.__setattr__(self, "configurations", merge_configurations(flat))
        else:
            object.__setattr__(self, "configurations", tuple(flat))
        try:
            release: ReleaseLabel | None = ReleaseLabel.parse(self.release_label)
        except ValueError as exc:
            release = None
            problems.extend(getattr(exc, "problems", [str(exc)]))
        object.__setattr__(self, "_release", release)
        problems.extend(cluster_problems(self))
        raise_if_problems(f"ClusterSpec({self.name})", problems)
        for message in cluster_warnings(self):
            warnings.warn(message, EmrPatternsWarning, stacklevel=3)

    # ---- derived views ------------------------------------------------------------------------

    @property
    def merged_configurations(self) -> tuple[Configuration, ...]:
        """The configurations after merging by classification."""
        return tuple(c for c in self.configurations if isinstance(c, Configuration))

    @property
    def release(self) -> ReleaseLabel:
        """The parsed release label."""
        release = getattr(self, "_release", None)
        return release if release is not None else ReleaseLabel.parse(self.release_label)

    @property
    def uses_fleets(self) -> bool:
        """True for an instance-fleet cluster."""
        return self.primary_fleet is not None or self.core_fleet is not None or bool(self.task_fleets)

    @property
    def fleets(self) -> tuple[InstanceFleetSpec, ...]:
        """Primary, core and task fleets that are set."""
        return tuple(f for f in (self.primary_fleet, self.core_fleet, *self.task_fleets) if f is not None)

    @property
    def primary_node_count(self) -> int:
        """1 or 3."""
        if self.primary_fleet is not None:
            return self.primary_fleet.target_on_demand_capacity + self.primary_fleet.target_spot_capacity
        groups = [g for g in self.instance_groups if g.role is NodeRole.PRIMARY]
        return groups[0].instance_count if groups else 1

    @property
    def instance_type_names(self) -> tuple[str, ...]:
        """Every instance type the cluster may launch."""
        names = [t.instance_type for f in self.fleets for t in f.instance_types]
        names.extend(g.instance_type for g in self.instance_groups)
        return tuple(dict.fromkeys(names))

    @property
    def architecture(self) -> Architecture | None:
        """The cluster's CPU architecture (None if the types are mixed or unknown)."""
        archs = {architecture_of(n) for n in self.instance_type_names}
        return archs.pop() if len(archs) == 1 else None

    def has_application(self, name: str) -> bool:
        """Case-insensitive application check."""
        return name.lower() in {a.lower() for a in self.applications}

    @property
    def is_hbase(self) -> bool:
        """True if HBase is installed."""
        return self.has_application("HBase")

    @property
    def uses_spot_core(self) -> bool:
        """True if core capacity may come from Spot."""
        if self.core_fleet is not None:
            return self.core_fleet.uses_spot
        return any(g.uses_spot for g in self.instance_groups if g.role is NodeRole.CORE)

    @property
    def has_external_metastore(self) -> bool:
        """True if Hive uses an external JDBC metastore or the Glue Data Catalog."""
        return external_metastore_url(self.merged_configurations) is not None or uses_glue_catalog(
            self.merged_configurations
        )

    # ---- renderers ----------------------------------------------------------------------------

    def _tags(self) -> list[dict[str, str]]:
        tags = {MANAGED_POLICY_TAG[0]: MANAGED_POLICY_TAG[1], **dict(self.tags)}
        tags[MANAGED_POLICY_TAG[0]] = MANAGED_POLICY_TAG[1]
        return [{"Key": k, "Value": v} for k, v in tags.items()]

    def _check_bindings(self, bindings: PlatformBindings) -> None:
        problems = bindings.problems()
        if not self.uses_fleets and len(bindings.subnet_ids) > 1:
            problems.append(
                problem(
                    "bindings.subnet_ids",
                    bindings.subnet_ids,
                    "instance groups launch in exactly one subnet",
                    "pass one subnet, or use instance fleets so EMR picks the AZ",
                )
            )
        if bindings.log_encryption_kms_key_id:
            problems.extend(
                feature_problems(
                    self.release,
                    Feature.LOG_ENCRYPTION,
                    prop="bindings.log_encryption_kms_key_id",
                    value=bindings.log_encryption_kms_key_id,
                )
            )
        raise_if_problems(f"ClusterSpec({self.name}) render", problems)

    def _common(self, bindings: PlatformBindings) -> dict[str, Any]:
        out: dict[str, Any] = {
            "Name": self.name,
            "ReleaseLabel": self.release_label,
            "Applications": [{"Name": a} for a in self.applications],
            "ServiceRole": bindings.service_role,
            "JobFlowRole": bindings.instance_profile,
            "SecurityConfiguration": bindings.security_configuration,
            "LogUri": bindings.log_uri,
            "VisibleToAllUsers": self.visible_to_all_users,
            "Tags": self._tags(),
            "ScaleDownBehavior": self.scale_down_behavior,
        }
        if bindings.log_encryption_kms_key_id:
            out["LogEncryptionKmsKeyId"] = bindings.log_encryption_kms_key_id
        if bindings.auto_scaling_role:
            out["AutoScalingRole"] = bindings.auto_scaling_role
        if self.bootstrap_actions:
            out["BootstrapActions"] = [b.to_api() for b in self.bootstrap_actions]
        if self.step_concurrency_level != 1:
            out["StepConcurrencyLevel"] = self.step_concurrency_level
        if self.managed_scaling is not None:
            unit = ScalingUnit.INSTANCE_FLEET_UNITS if self.uses_fleets else ScalingUnit.INSTANCES
            out["ManagedScalingPolicy"] = self.managed_scaling.to_api(unit)
        if self.idle_timeout_seconds is not None:
            out["AutoTerminationPolicy"] = {"IdleTimeout": self.idle_timeout_seconds}
        if self.custom_ami_id:
            out["CustomAmiId"] = self.custom_ami_id
        if self.ebs_root_volume_size_gib is not None:
            out["EbsRootVolumeSize"] = self.ebs_root_volume_size_gib
        if self.os_release_label:
            out["OSReleaseLabel"] = self.os_release_label
        if self.primary_node_count == 3:
            out["PlacementGroupConfigs"] = [{"InstanceRole": "MASTER", "PlacementStrategy": "SPREAD"}]
        return out

    def _instances_common(self, bindings: PlatformBindings) -> dict[str, Any]:
        out: dict[str, Any] = {
            "TerminationProtected": self.termination_protected,
            "KeepJobFlowAliveWhenNoSteps": self.keep_alive_when_no_steps,
        }
        if self.uses_fleets:
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
        if self.unhealthy_node_replacement is not None:
            out["UnhealthyNodeReplacement"] = self.unhealthy_node_replacement
        if self.shell_access is ShellAccess.SSH_KEY_PAIR and self.ec2_key_name:
            out["Ec2KeyName"] = self.ec2_key_name
        return out

    def to_cfn_cluster_props(self, bindings: PlatformBindings) -> dict[str, Any]:
        """``Properties`` of an ``AWS::EMR::Cluster`` (PascalCase, CloudFormation shape).

        Fleets render as ``MasterInstanceFleet``/``CoreInstanceFleet``/``TaskInstanceFleets``,
        groups as ``MasterInstanceGroup``/``CoreInstanceGroup``/``TaskInstanceGroups``, and
        configurations use ``ConfigurationProperties``.
        """
        self._check_bindings(bindings)
        props = self._common(bindings)
        instances = self._instances_common(bindings)
        if self.uses_fleets:
            if self.primary_fleet is not None:
                instances["MasterInstanceFleet"] = self.primary_fleet.to_cfn()
            if self.core_fleet is not None:
                instances["CoreInstanceFleet"] = self.core_fleet.to_cfn()
            if self.task_fleets:
                instances["TaskInstanceFleets"] = [f.to_cfn() for f in self.task_fleets]
        else:
            for group in self.instance_groups:
                body = group.to_cfn()
                if group.role is NodeRole.PRIMARY:
                    instances["MasterInstanceGroup"] = body
                elif group.role is NodeRole.CORE:
                    instances["CoreInstanceGroup"] = body
                else:
                    instances.setdefault("TaskInstanceGroups", []).append(body)
        props["Instances"] = instances
        if self.merged_configurations:
            props["Configurations"] = [c.to_cfn() for c in self.merged_configurations]
        return props

    def to_run_job_flow_request(self, bindings: PlatformBindings) -> dict[str, Any]:
        """The ``RunJobFlow`` request (as Step Functions' ``createCluster`` sends it).

        Fleets render as ``Instances.InstanceFleets``, groups as ``Instances.InstanceGroups``, and
        configurations use ``Properties``. Valid against botocore's EMR model.
        """
        self._check_bindings(bindings)
        request = self._common(bindings)
        instances = self._instances_common(bindings)
        if self.uses_fleets:
            instances["InstanceFleets"] = [f.to_api() for f in self.fleets]
        else:
            instances["InstanceGroups"] = [g.to_api() for g in self.instance_groups]
        request["Instances"] = instances
        if self.merged_configurations:
            request["Configurations"] = [c.to_api() for c in self.merged_configurations]
        return request


# --------------------------------------------------------------------------------------------------
# Cross-cutting validators (pure: spec in, problem strings out)
# --------------------------------------------------------------------------------------------------


def _instances_problems(spec: ClusterSpec) -> list[str]:
    out: list[str] = []
    if spec.uses_fleets and spec.instance_groups:
        out.append(
            problem(
                "instance_groups",
                f"{len(spec.instance_groups)} groups",
                "a cluster uses instance fleets or instance groups, never both",
                "drop instance_groups or the fleets",
            )
        )
        return out
    if spec.uses_fleets:
        if spec.primary_fleet is None:
            out.append(
                problem(
                    "primary_fleet",
                    None,
                    "fleets need a primary fleet",
                    "pass InstanceFleetSpec.primary(...)",
                )
            )
        for prop, fleet, role in (
            ("primary_fleet", spec.primary_fleet, NodeRole.PRIMARY),
            ("core_fleet", spec.core_fleet, NodeRole.CORE),
        ):
            if fleet is not None and fleet.role is not role:
                out.append(
                    problem(
                        f"{prop}.role",
                        str(fleet.role),
                        f"must be {role.name}",
                        f"use InstanceFleetSpec.{role.name.lower()}(...)",
                    )
                )
        for i, fleet in enumerate(spec.task_fleets):
            if fleet.role is not NodeRole.TASK:
                out.append(
                    problem(
                        f"task_fleets[{i}].role",
                        str(fleet.role),
                        "must be TASK",
                        "use InstanceFleetSpec.task(...)",
                    )
                )
        if len(spec.task_fleets) > 1:
            out.append(
                problem(
                    "task_fleets",
                    f"{len(spec.task_fleets)} fleets",
                    "EMR allows one task fleet",
                    "merge them into one",
                )
            )
        out.extend(
            feature_problems(spec.release, Feature.INSTANCE_FLEETS, prop="primary_fleet", value="fleets")
        )
    elif spec.instance_groups:
        roles = [g.role for g in spec.instance_groups]
        if roles.count(NodeRole.PRIMARY) != 1:
            out.append(
                problem(
                    "instance_groups", [str(r) for r in roles], "needs exactly one primary group", "add one"
                )
            )
        if roles.count(NodeRole.CORE) > 1:
            out.append(
                problem(
                    "instance_groups", [str(r) for r in roles], "has more than one core group", "keep one"
                )
            )
        if roles.count(NodeRole.TASK) > 48:
            out.append(
                problem(
                    "instance_groups", roles.count(NodeRole.TASK), "EMR allows 48 task groups", "use fewer"
                )
            )
    else:
        out.append(
            problem(
                "primary_fleet",
                None,
                "no instances are given",
                "pass primary_fleet (and core_fleet), or instance_groups",
            )
        )
    return out


def _architecture_and_release_problems(spec: ClusterSpec) -> list[str]:
    out: list[str] = []
    names = spec.instance_type_names
    by_arch: dict[Architecture | None, list[str]] = {}
    for name in names:
        by_arch.setdefault(architecture_of(name), []).append(name)
    known = {a: v for a, v in by_arch.items() if a is not None}
    if len(known) > 1:
        majority = max(known, key=lambda a: len(known[a]))
        shown = {str(a): (f"{len(v)} types" if a is majority else v) for a, v in known.items()}
        out.append(
            problem(
                "instance_types",
                shown,
                "mixes CPU architectures in one cluster; bootstrap scripts, jars and AMIs are "
                "per architecture",
                "use only Graviton (arm64) or only x86_64 types (see diversified_instance_types)",
            )
        )
    unsupported = [n for n in names if not release_supports_type(spec.release, n)]
    if unsupported:
        out.append(
            problem(
                "instance_types",
                unsupported,
                f"release {spec.release.label} does not support these Graviton types "
                "(Graviton2 came with EMR 6.1.0 / 5.31.0; Graviton3/4 families later)",
                f"use release_label='{DEFAULT_RELEASE}' or x86_64 types",
            )
        )
    return out


def _primary_problems(spec: ClusterSpec) -> list[str]:
    out: list[str] = []
    if spec.primary_node_count != 3:
        return out
    feature = (
        Feature.MULTIPLE_PRIMARY_NODES_FLEETS if spec.uses_fleets else Feature.MULTIPLE_PRIMARY_NODES_GROUPS
    )
    prop = "primary_fleet" if spec.uses_fleets else "instance_groups[PRIMARY].instance_count"
    out.extend(feature_problems(spec.release, feature, prop=prop, value=3))
    if spec.idle_timeout_seconds is not None:
        out.append(
            problem(
                "idle_timeout_seconds",
                spec.idle_timeout_seconds,
                "EMR turns termination protection on and ignores auto-termination with 3 primary nodes",
                "drop idle_timeout_seconds, or use one primary node for a transient cluster",
            )
        )
    needs = sorted(a for a in spec.applications if a.lower() in _APPS_NEEDING_EXTERNAL_METASTORE_FOR_HA)
    if needs and not spec.has_external_metastore:
        out.append(
            problem(
                "configurations",
                needs,
                "Hive, Hue and Oozie need an external metastore on a cluster with 3 primary nodes",
                "add external_hive_metastore(...) or glue_data_catalog()",
            )
        )
    return out


def _storage_problems(spec: ClusterSpec) -> list[str]:
    out: list[str] = []
    if spec.uses_spot_core and (spec.is_hbase or spec.hdfs_heavy) and not spec.allow_spot_core:
        why = "HBase" if spec.is_hbase else "HDFS-heavy"
        prop = (
            "core_fleet.target_spot_capacity"
            if spec.core_fleet is not None
            else "instance_groups[CORE].market"
        )
        value = spec.core_fleet.target_spot_capacity if spec.core_fleet is not None else "SPOT"
        out.append(
            problem(
                prop,
                value,
                f"Spot core nodes on an {why} cluster lose HDFS blocks (and HBase WALs) when reclaimed",
                "use On-Demand core capacity and put Spot in the task fleet, or set allow_spot_core=True",
            )
        )
    return out


def _termination_problems(spec: ClusterSpec) -> list[str]:
    out: list[str] = []
    timeout = spec.idle_timeout_seconds
    if timeout is None:
        return out
    if not isinstance(timeout, int) or not IDLE_TIMEOUT_MIN <= timeout <= IDLE_TIMEOUT_MAX:
        out.append(
            problem(
                "idle_timeout_seconds",
                timeout,
                f"is outside EMR's {IDLE_TIMEOUT_MIN}-{IDLE_TIMEOUT_MAX:,} seconds",
                "use e.g. 3600 (one hour)",
            )
        )
    out.extend(
        feature_problems(spec.release, Feature.AUTO_TERMINATION, prop="idle_timeout_seconds", value=timeout)
    )
    if spec.is_hbase:
        out.append(
            problem(
                "idle_timeout_seconds",
                timeout,
                "auto-termination does not see HBase activity (not a YARN application) and would end a "
                "serving HBase cluster",
                "drop idle_timeout_seconds and set termination_protected=True",
            )
        )
    return out


def _hive_problems(spec: ClusterSpec) -> list[str]:
    out: list[str] = []
    configs = spec.merged_configurations
    if uses_hive_acid(configs):
        out.extend(
            feature_problems(
                spec.release, Feature.HIVE_ACID, prop="configurations[hive-site]", value="hive ACID"
            )
        )
        if uses_glue_catalog(configs):
            out.append(
                problem(
                    "configurations[hive-site][hive.txn.manager]",
                    "DbTxnManager",
                    "the AWS Glue Data Catalog does not support Hive ACID transactions",
                    "use external_hive_metastore(...) instead of glue_data_catalog(), or drop hive_acid()",
                )
            )
    url = external_metastore_url(configs)
    if url is not None and not is_unresolved(url) and not jdbc_url_uses_tls(url):
        out.append(
            problem(
                "configurations[hive-site][javax.jdo.option.ConnectionURL]",
                url,
                "the metastore connection does not require TLS with certificate checks",
                "use external_hive_metastore(...), which adds useSSL=true&trustServerCertificate=false",
            )
        )
    return out


def _access_problems(spec: ClusterSpec) -> list[str]:
    out: list[str] = []
    if str(spec.shell_access) not in {s.value for s in ShellAccess}:
        out.append(problem("shell_access", spec.shell_access, "is not a ShellAccess", "use ShellAccess.SSM"))
    elif spec.shell_access is ShellAccess.SSM and spec.ec2_key_name:
        out.append(
            problem(
                "ec2_key_name",
                spec.ec2_key_name,
                "an EC2 key pair is set while shell access is through SSM Session Manager",
                "drop ec2_key_name (use SSM), or set shell_access=ShellAccess.SSH_KEY_PAIR explicitly",
            )
        )
    elif spec.shell_access is ShellAccess.SSH_KEY_PAIR and not spec.ec2_key_name:
        out.append(problem("ec2_key_name", None, "SSH_KEY_PAIR access needs a key pair", "set ec2_key_name"))
    return out


def _misc_problems(spec: ClusterSpec) -> list[str]:
    out: list[str] = []
    release = spec.release
    if not 1 <= len(spec.name) <= 256:
        out.append(problem("name", spec.name, "must be 1-256 characters", "give a short name"))
    lowered = [a.lower() for a in spec.applications]
    if any(not a for a in spec.applications) or len(set(lowered)) != len(lowered):
        out.append(
            problem("applications", spec.applications, "has an empty or repeated name", "list each once")
        )
    level = spec.step_concurrency_level
    if not isinstance(level, int) or not 1 <= level <= 256:
        out.append(problem("step_concurrency_level", level, "is outside 1-256", "use 1-256"))
    elif level > 1:
        out.extend(
            feature_problems(release, Feature.STEP_CONCURRENCY, prop="step_concurrency_level", value=level)
        )
    if spec.custom_ami_id is not None:
        if not _AMI.match(spec.custom_ami_id):
            out.append(problem("custom_ami_id", spec.custom_ami_id, "is not an AMI id", "use 'ami-...'"))
        out.extend(
            feature_problems(release, Feature.CUSTOM_AMI, prop="custom_ami_id", value=spec.custom_ami_id)
        )
    size = spec.ebs_root_volume_size_gib
    if size is not None:
        low = 15 if release.at_least("emr-6.10.0") else 10
        if not low <= size <= 100:
            out.append(
                problem("ebs_root_volume_size_gib", size, f"is outside {low}-100 GiB", f"use {low}-100")
            )
    if spec.scale_down_behavior not in {"TERMINATE_AT_TASK_COMPLETION", "TERMINATE_AT_INSTANCE_HOUR"}:
        out.append(
            problem(
                "scale_down_behavior",
                spec.scale_down_behavior,
                "is unknown",
                "use TERMINATE_AT_TASK_COMPLETION",
            )
        )
    if spec.managed_scaling is not None:
        out.extend(
            feature_problems(
                release, Feature.MANAGED_SCALING, prop="managed_scaling", value="managed scaling"
            )
        )
        unit = spec.managed_scaling.unit_type
        if unit is not None:
            allowed = {"InstanceFleetUnits"} if spec.uses_fleets else {"Instances", "VCPU"}
            if str(unit) not in allowed:
                out.append(
                    problem(
                        "managed_scaling.unit_type",
                        str(unit),
                        f"must be one of {sorted(allowed)} here",
                        "drop it",
                    )
                )
    if len(spec.bootstrap_actions) > 16:
        out.append(
            problem("bootstrap_actions", len(spec.bootstrap_actions), "EMR allows 16", "combine scripts")
        )
    for key, value in spec.tags.items():
        if not 1 <= len(key) <= 128 or key.lower().startswith("aws:"):
            out.append(
                problem(f"tags[{key}]", key, "is not a valid tag key", "use 1-128 characters, not 'aws:'")
            )
        if len(value) > 256:
            out.append(problem(f"tags[{key}]", value, "is longer than 256 characters", "shorten it"))
    tag_key, tag_value = MANAGED_POLICY_TAG
    if tag_key in spec.tags and spec.tags[tag_key] != tag_value:
        out.append(
            problem(
                f"tags[{tag_key}]",
                spec.tags[tag_key],
                "the EMR v2 managed policies need this tag to be 'true'",
                "drop the tag; the spec always adds it",
            )
        )
    if any(c.classification == "export" for c in spec.merged_configurations):
        out.append(
            problem(
                "configurations",
                "export",
                "'export' is only valid inside a *-env classification",
                "use env_exports()",
            )
        )
    return out


def cluster_problems(spec: ClusterSpec) -> list[str]:
    """Every cross-cutting problem of ``spec`` (empty when valid). Pure; used by ``__post_init__``."""
    if getattr(spec, "_release", None) is None:
        return []
    problems = _instances_problems(spec)
    if problems:
        return problems
    for check in (
        _architecture_and_release_problems,
        _primary_problems,
        _storage_problems,
        _termination_problems,
        _hive_problems,
        _access_problems,
        _misc_problems,
    ):
        problems.extend(check(spec))
    return problems


def cluster_warnings(spec: ClusterSpec) -> list[str]:
    """Legal but risky setups, one message each. Pure; ``__post_init__`` emits them as warnings."""
    out: list[str] = []
    configs = spec.merged_configurations
    if uses_hive_acid(configs) and spec.multi_cluster and external_metastore_url(configs) is None:
        out.append(
            "configurations: Hive ACID on a multi-cluster setup without an external metastore: each "
            "cluster gets its own local metastore, so transactions and locks are not shared and tables "
            "can be corrupted. Fix: add external_hive_metastore(...) (not the Glue Data Catalog)."
        )
    if uses_hiveserver2_ldap(configs) and spec.release.supports(Feature.NATIVE_LDAP):
        out.append(
            f"configurations: HiveServer2 LDAP via hive-site on {spec.release.label}; EMR-native LDAP "
            "(security configuration, EMR 6.12.0+) covers HiveServer2, Livy, Trino and Hue. Fix: prefer "
            "LDAP in the security configuration."
        )
    if spec.idle_timeout_seconds is not None:
        blocked = sorted(a for a in spec.applications if a.lower() in _NON_YARN_APPS_WITHOUT_AUTO_TERMINATION)
        if blocked:
            out.append(
                f"idle_timeout_seconds: auto-termination does not track {blocked} (not YARN applications); "
                "the cluster may end while queries run. Fix: use termination_protected=True instead."
            )
    if spec.is_hbase and hbase_storage_mode(configs) == "hdfs" and not spec.termination_protected:
        out.append(
            "termination_protected: an HBase cluster on HDFS loses its data when terminated. Fix: set "
            "termination_protected=True or use hbase_on_s3(...)."
        )
    return out
