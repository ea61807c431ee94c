"""The cluster spec: one typed, validated description that renders both cluster shapes.

:class:`ClusterSpec` ties release, applications, fleets or groups, configurations, bootstrap
actions, scaling, termination and tags together, checks every cross-cutting rule on construction,
and renders

* :meth:`ClusterSpec.to_cfn_cluster_props` - the ``Properties`` of an ``AWS::EMR::Cluster``
  (deploy-time, long-running clusters), and
* :meth:`ClusterSpec.to_run_job_flow_request` - the ``RunJobFlow`` request Step Functions'
  ``elasticmapreduce:createCluster`` task sends (run-time, transient clusters).

The spec knows no CDK: platform values (roles, security configuration, logs, subnets, security
groups) come in as :class:`PlatformBindings`, which may hold CDK token strings. Every number prop
(counts, units, timeouts, sizes) also takes a CDK number token (``Token.as_number(...)``): checks
skip it and the renderers pass it through. Validators are in :mod:`emr_patterns.spec.rules`, the
renderers in :mod:`emr_patterns.spec.render`.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from emr_patterns._tokens import is_unresolved
from emr_patterns.defaults import EMR_MANAGED_POLICY_TAG
from emr_patterns.errors import problem, raise_if_problems
from emr_patterns.spec.catalog import Architecture, architecture_of
from emr_patterns.spec.configurations import (
    Configuration,
    configuration_conflicts,
    configurations_from,
    merge_configurations,
)
from emr_patterns.spec.fleets import InstanceFleetSpec, InstanceGroupSpec, NodeRole
from emr_patterns.spec.presets import external_metastore_url, uses_glue_catalog
from emr_patterns.spec.release import DEFAULT_RELEASE, ReleaseLabel, application_problems
from emr_patterns.spec.typecheck import field_type_problems

__all__ = [
    "MANAGED_POLICY_TAG",
    "BootstrapAction",
    "ClusterSpec",
    "EmrPatternsWarning",
    "ManagedScalingSpec",
    "PlatformBindings",
    "ScalingUnit",
    "ShellAccess",
]

MANAGED_POLICY_TAG = EMR_MANAGED_POLICY_TAG
"""Tag every cluster carries so the v2 EMR managed policies (``AmazonEMRServicePolicy_v2``) apply.

Alias of :data:`emr_patterns.defaults.EMR_MANAGED_POLICY_TAG`."""


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
        out = field_type_problems(self, prop)
        if out:
            return out
        known_min, known_max = not is_unresolved(self.min_units), not is_unresolved(self.max_units)
        if known_min and self.min_units < 1:
            out.append(problem(f"{prop}.min_units", self.min_units, "must be at least 1", "use 1 or more"))
        if known_min and known_max and self.max_units < self.min_units:
            out.append(
                problem(
                    f"{prop}.max_units", self.max_units, "is below min_units", "use max_units >= min_units"
                )
            )
        for name, value in (
            ("max_on_demand_units", self.max_on_demand_units),
            ("max_core_units", self.max_core_units),
        ):
            if value is None or is_unresolved(value):
                continue
            if value < 0 or (known_max and value > self.max_units):
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
        if upi is not None and not is_unresolved(upi) and upi not in {1, 25, 50, 75, 100}:
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


@dataclass(frozen=True, eq=False)
class ClusterSpec:
    """Everything about an EMR cluster except the platform (roles, network, logs, encryption).

    Raises :class:`~emr_patterns.errors.EmrPatternsValidationError` listing every problem, and
    warns with :class:`EmrPatternsWarning` for legal but risky setups. Give either fleets
    (``primary_fleet``, ``core_fleet``, ``task_fleets``) or ``instance_groups``, never both.

    Values this library's data does not know are errors, each with an explicit escape hatch:
    ``allow_unknown_release=True`` for a newer release, ``allow_unknown_applications=(...)`` for a
    newer application, and ``allow_unknown_instance_types=(...)`` on the fleet or group for a newer
    instance type.
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
    """Applications to install, spelled as EMR spells them (``"Spark"``, ``"JupyterEnterpriseGateway"``).
    A tuple: ``("Spark",)``, never the bare string ``"Spark"``. Unknown names, wrong case and names
    the release does not ship are errors. Default Hadoop and Spark."""
    configurations: tuple[
        Configuration | Mapping[str, Any] | Iterable[Configuration | Mapping[str, Any]], ...
    ] = ()
    """Configurations and presets; merged by classification, conflicting values are errors. EMR's
    own JSON shape (``[{"Classification": ..., "Properties": {...}, "Configurations": [...]}]``, as
    copied from the EMR console or docs) is accepted too, item by item or as one list."""
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
    allow_unknown_applications: tuple[str, ...] = ()
    """Application names to accept although this library does not know them (applications newer
    than its list), e.g. ``("NewEngine",)``. Each must be in ``applications``. Names the library
    knows are still checked against the release. Default: none (every unknown name is an error)."""
    allow_unknown_release: bool = False
    """Accept a well-formed ``release_label`` this library does not know (a release newer than its
    list), with an ``UnknownReleaseWarning``. Default False: an unknown label is an error naming the
    nearest known labels."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "task_fleets", tuple(self.task_fleets))
        object.__setattr__(self, "instance_groups", tuple(self.instance_groups))
        early: list[str] = []
        for name in ("applications", "allow_unknown_applications"):
            value = getattr(self, name)
            if isinstance(value, str):
                # tuple("Spark") would be five applications S, p, a, r, k.
                early.append(
                    problem(
                        name,
                        value,
                        "is a str, not a tuple of names (a str would be read letter by letter)",
                        f"write {name}=({value!r},)",
                    )
                )
                value = (value,)
            object.__setattr__(self, name, tuple(value))
        object.__setattr__(self, "bootstrap_actions", tuple(self.bootstrap_actions))
        object.__setattr__(self, "tags", MappingProxyType(dict(self.tags)))
        items = (self.configurations,) if isinstance(self.configurations, Mapping) else self.configurations
        flat, parse_problems = configurations_from(items)
        problems = early + parse_problems + configuration_conflicts(flat)
        if not problems:
            object.__setattr__(self, "configurations", merge_configurations(flat))
        else:
            object.__setattr__(self, "configurations", tuple(flat))
        try:
            release: ReleaseLabel | None = ReleaseLabel.parse(
                self.release_label, allow_unknown=self.allow_unknown_release is True
            )
        except ValueError as exc:
            release = None
            problems.extend(getattr(exc, "problems", [str(exc)]))
        object.__setattr__(self, "_release", release)
        # rules.py imports this module, so it is imported here, not at the top.
        from emr_patterns.spec.rules import cluster_problems, cluster_warnings

        typed = field_type_problems(self, "")
        problems.extend(typed)
        named = application_problems(
            self.applications, release, allow_unknown=self.allow_unknown_applications
        )
        problems.extend(named)
        problems.extend(
            problem(
                "allow_unknown_applications",
                name,
                "is not in applications",
                "list only names of applications that this library does not know",
            )
            for name in self.allow_unknown_applications
            if name not in self.applications
        )
        if not typed and not any(not isinstance(a, str) for a in self.applications):
            # The cross-cutting rules compare and add these numbers, so they run on typed values only.
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
        if release is not None:
            return release
        return ReleaseLabel.parse(self.release_label, allow_unknown=self.allow_unknown_release is True)

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

    # ---- renderers (emr_patterns.spec.render) -------------------------------------------------

    def to_cfn_cluster_props(self, bindings: PlatformBindings) -> dict[str, Any]:
        """``Properties`` of an ``AWS::EMR::Cluster`` (PascalCase, CloudFormation shape).

        Fleets render as ``MasterInstanceFleet``/``CoreInstanceFleet``/``TaskInstanceFleets``,
        groups as ``MasterInstanceGroup``/``CoreInstanceGroup``/``TaskInstanceGroups``, and
        configurations use ``ConfigurationProperties``.
        """
        from emr_patterns.spec.render import cfn_cluster_props

        return cfn_cluster_props(self, bindings)

    def to_run_job_flow_request(self, bindings: PlatformBindings) -> dict[str, Any]:
        """The ``RunJobFlow`` request (as Step Functions' ``createCluster`` sends it).

        Fleets render as ``Instances.InstanceFleets``, groups as ``Instances.InstanceGroups``, and
        configurations use ``Properties``. Valid against botocore's EMR model.
        """
        from emr_patterns.spec.render import run_job_flow_request

        return run_job_flow_request(self, bindings)
