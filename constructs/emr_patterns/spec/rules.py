"""Cross-cutting rules of a :class:`~emr_patterns.spec.ClusterSpec`: pure validators and warnings.

Each ``_*_problems`` function takes the whole spec and returns problem strings (empty when valid);
:func:`cluster_problems` runs them all and ``ClusterSpec.__post_init__`` raises them as one error.
:func:`cluster_warnings` lists setups EMR accepts but that are probably wrong. Unresolved CDK tokens
(string or number) are never judged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from emr_patterns._tokens import is_unresolved
from emr_patterns.errors import problem
from emr_patterns.spec.catalog import Architecture, architecture_of, release_supports_type
from emr_patterns.spec.cluster import MANAGED_POLICY_TAG, ShellAccess
from emr_patterns.spec.fleets import AMI_ID, NodeRole
from emr_patterns.spec.presets import (
    external_metastore_url,
    hbase_storage_mode,
    jdbc_url_uses_tls,
    uses_glue_catalog,
    uses_hive_acid,
    uses_hiveserver2_ldap,
)
from emr_patterns.spec.release import DEFAULT_RELEASE, Feature, feature_problems
from emr_patterns.spec.typecheck import field_type_problems, scalar_type_problem

if TYPE_CHECKING:
    from emr_patterns.spec.cluster import ClusterSpec, PlatformBindings

__all__ = [
    "CLUSTER_NAME_MAX_LENGTH",
    "CLUSTER_NAME_MIN_LENGTH",
    "IDLE_TIMEOUT_MAX",
    "IDLE_TIMEOUT_MIN",
    "bindings_problems",
    "cluster_problems",
    "cluster_warnings",
    "field_type_problems",
    "scalar_type_problem",
]

IDLE_TIMEOUT_MIN = 60
"""Shortest auto-termination idle timeout EMR accepts, in seconds."""
IDLE_TIMEOUT_MAX = 604_800
"""Longest auto-termination idle timeout EMR accepts, in seconds (7 days)."""
CLUSTER_NAME_MIN_LENGTH = 1
"""Shortest cluster name (EMR's ``Name``)."""
CLUSTER_NAME_MAX_LENGTH = 256
"""Longest cluster name (EMR's ``Name``)."""
_NON_YARN_APPS_WITHOUT_AUTO_TERMINATION = {"presto", "trino", "prestosql"}
_APPS_NEEDING_EXTERNAL_METASTORE_FOR_HA = {"hive", "hue", "oozie"}


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
    if not is_unresolved(timeout) and (
        not isinstance(timeout, int) or not IDLE_TIMEOUT_MIN <= timeout <= IDLE_TIMEOUT_MAX
    ):
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
    if not CLUSTER_NAME_MIN_LENGTH <= len(spec.name) <= CLUSTER_NAME_MAX_LENGTH:
        out.append(
            problem(
                "name",
                spec.name,
                f"must be {CLUSTER_NAME_MIN_LENGTH}-{CLUSTER_NAME_MAX_LENGTH} characters",
                "give a short name",
            )
        )
    lowered = [a.lower() for a in spec.applications]
    if any(not a for a in spec.applications) or len(set(lowered)) != len(lowered):
        out.append(
            problem("applications", spec.applications, "has an empty or repeated name", "list each once")
        )
    level = spec.step_concurrency_level
    if is_unresolved(level):
        pass
    elif not isinstance(level, int) or not 1 <= level <= 256:
        out.append(problem("step_concurrency_level", level, "is outside 1-256", "use 1-256"))
    elif level > 1:
        out.extend(
            feature_problems(release, Feature.STEP_CONCURRENCY, prop="step_concurrency_level", value=level)
        )
    if spec.custom_ami_id is not None:
        if not AMI_ID.match(spec.custom_ami_id):
            out.append(problem("custom_ami_id", spec.custom_ami_id, "is not an AMI id", "use 'ami-...'"))
        out.extend(
            feature_problems(release, Feature.CUSTOM_AMI, prop="custom_ami_id", value=spec.custom_ami_id)
        )
    size = spec.ebs_root_volume_size_gib
    if size is not None and not is_unresolved(size):
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


def bindings_problems(spec: ClusterSpec, bindings: PlatformBindings) -> list[str]:
    """Problems of ``bindings`` for rendering ``spec`` (empty when valid). Pure; run by the renderers."""
    problems = bindings.problems()
    if not spec.uses_fleets and len(bindings.subnet_ids) > 1:
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
                spec.release,
                Feature.LOG_ENCRYPTION,
                prop="bindings.log_encryption_kms_key_id",
                value=bindings.log_encryption_kms_key_id,
            )
        )
    return problems
