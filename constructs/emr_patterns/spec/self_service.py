"""Self-service product parameters, derived from the spec validators (one source of truth).

The Service Catalog products of :mod:`emr_patterns.patterns.catalog` expose a few CloudFormation
parameters to end users (cluster name, compute type, cluster size, job type and artifacts,
maximum capacity). Their ``AllowedValues``, ``MinValue``/``MaxValue``, length limits and
``AllowedPattern`` are not written by hand: each is computed here by asking the same validators
that check a :class:`~emr_patterns.spec.ClusterSpec` or a step, so a value CloudFormation lets
through is one the spec accepts, and the reverse. Pure Python, no CDK.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from emr_patterns.errors import EmrPatternsValidationError, problem
from emr_patterns.spec.cluster import ClusterSpec, ManagedScalingSpec
from emr_patterns.spec.fleets import InstanceGroupSpec, NodeRole
from emr_patterns.spec.rules import CLUSTER_NAME_MAX_LENGTH, CLUSTER_NAME_MIN_LENGTH
from emr_patterns.spec.steps import HiveScriptStep, SparkSubmitStep

__all__ = [
    "COMPUTE_TYPES",
    "JOB_TYPES",
    "PRIMARY_INSTANCE_TYPE",
    "ProductParameter",
    "artifacts_accepted",
    "cluster_name_parameter",
    "cluster_size_parameter",
    "compute_type_parameter",
    "job_artifacts_parameter",
    "job_step_args",
    "job_type_parameter",
    "max_capacity_parameter",
    "self_service_spec",
]

#: Compute type a user picks -> the core nodes' instance type (Graviton, 8 vCPUs).
COMPUTE_TYPES: Mapping[str, str] = {"CPU": "c7g.2xlarge", "Memory": "r7g.2xlarge", "General": "m7g.2xlarge"}
#: The primary node of every self-service cluster.
PRIMARY_INSTANCE_TYPE = "m7g.xlarge"
#: Job types of the ETL product, each rendered by a spec step class.
JOB_TYPES: tuple[str, ...] = ("Spark", "Hive")
#: Idle time after which a self-service cluster terminates itself.
SELF_SERVICE_IDLE_TIMEOUT_SECONDS = 3600
#: The largest number a size or capacity limit is probed up to.
_PROBE_LIMIT = 1000
# A token of the JobArtifacts value: no whitespace (the value is split on single spaces).
_ARTIFACT_TOKEN = r"\S+"


@dataclass(frozen=True)
class ProductParameter:
    """A CloudFormation parameter of a product, with the constraints the spec layer accepts.

    Attributes:
        name: logical id of the parameter.
        type: ``String`` or ``Number``.
        description: what the user sees in the console.
        default: the value used when the user gives none (``None``: the user must give one).
        allowed_values: the only accepted values. Default: any.
        allowed_pattern: regular expression a ``String`` must match in full. Default: any.
        min_length: shortest ``String``. Default: no limit.
        max_length: longest ``String``. Default: no limit.
        min_value: smallest ``Number``. Default: no limit.
        max_value: largest ``Number``. Default: no limit.
        constraint_description: the message CloudFormation shows for a rejected value.
    """

    name: str
    type: Literal["String", "Number"]
    description: str
    default: str | int | None
    allowed_values: tuple[str, ...] = ()
    allowed_pattern: str | None = None
    min_length: int | None = None
    max_length: int | None = None
    min_value: int | None = None
    max_value: int | None = None
    constraint_description: str | None = None

    def problems(self, value: Any, prop: str) -> list[str]:
        """Why CloudFormation would reject ``value`` for this parameter (empty when accepted)."""
        out: list[str] = []
        if self.type == "Number":
            if isinstance(value, bool) or not isinstance(value, int):
                return [problem(prop, value, f"is not a whole number for {self.name}", "give an int")]
            if self.min_value is not None and value < self.min_value:
                out.append(
                    problem(prop, value, f"is below {self.name}'s minimum", f"use {self.min_value} or more")
                )
            if self.max_value is not None and value > self.max_value:
                out.append(
                    problem(prop, value, f"is above {self.name}'s maximum", f"use {self.max_value} or less")
                )
            return out
        if not isinstance(value, str):
            return [problem(prop, value, f"is not a string for {self.name}", "give a str")]
        if self.allowed_values and value not in self.allowed_values:
            out.append(
                problem(
                    prop, value, f"is not an allowed {self.name}", f"use one of {list(self.allowed_values)}"
                )
            )
        if self.min_length is not None and len(value) < self.min_length:
            out.append(problem(prop, value, f"is shorter than {self.min_length} characters", "lengthen it"))
        if self.max_length is not None and len(value) > self.max_length:
            out.append(problem(prop, value, f"is longer than {self.max_length} characters", "shorten it"))
        if self.allowed_pattern is not None and not re.fullmatch(self.allowed_pattern, value):
            out.append(
                problem(
                    prop,
                    value,
                    f"does not match {self.name}'s pattern {self.allowed_pattern}",
                    self.constraint_description or "",
                )
            )
        return out

    def with_default(self, value: Any, prop: str) -> ProductParameter:
        """This parameter with another default, which must itself be accepted."""
        found = self.problems(value, prop)
        if found:
            raise EmrPatternsValidationError(f"ProductParameter({self.name})", found)
        return ProductParameter(**{**self.__dict__, "default": value})

    def to_cfn(self) -> dict[str, Any]:
        """Keyword arguments of ``aws_cdk.CfnParameter`` (snake case)."""
        out: dict[str, Any] = {"type": self.type, "description": self.description}
        if self.default is not None:
            out["default"] = self.default
        for key in (
            "allowed_values",
            "allowed_pattern",
            "min_length",
            "max_length",
            "min_value",
            "max_value",
        ):
            value = getattr(self, key)
            if value not in (None, ()):
                out[key] = list(value) if isinstance(value, tuple) else value
        if self.constraint_description:
            out["constraint_description"] = self.constraint_description
        return out


def self_service_spec(
    *,
    name: str,
    compute_type: str,
    cluster_size: Any,
    release_label: str,
    applications: Sequence[str] = ("Hadoop", "Spark"),
    max_capacity: Any = None,
) -> ClusterSpec:
    """The cluster a self-service product provisions: instance groups (one primary, ``cluster_size``
    core nodes of the compute type's instance type), idle auto-termination, SSM access, and
    managed scaling from ``cluster_size`` up to ``max_capacity`` when given.

    ``cluster_size``, ``max_capacity`` and ``name`` may be CDK tokens (the product's parameters).
    """
    if compute_type not in COMPUTE_TYPES:
        raise EmrPatternsValidationError(
            "self_service_spec",
            [
                problem(
                    "compute_type",
                    compute_type,
                    "is not a compute type",
                    f"use one of {sorted(COMPUTE_TYPES)}",
                )
            ],
        )
    scaling = (
        ManagedScalingSpec(min_units=cluster_size, max_units=max_capacity)
        if max_capacity is not None
        else None
    )
    return ClusterSpec(
        name=name,
        release_label=release_label,
        applications=tuple(applications),
        instance_groups=(
            InstanceGroupSpec(NodeRole.PRIMARY, PRIMARY_INSTANCE_TYPE, 1),
            InstanceGroupSpec(NodeRole.CORE, COMPUTE_TYPES[compute_type], cluster_size),
        ),
        managed_scaling=scaling,
        idle_timeout_seconds=SELF_SERVICE_IDLE_TIMEOUT_SECONDS,
    )


def _accepts(**kwargs: Any) -> bool:
    try:
        self_service_spec(**kwargs)
    except (EmrPatternsValidationError, ValueError):
        return False
    return True


def cluster_name_parameter(default: str = "self-service-emr") -> ProductParameter:
    """``ClusterName``: the length limits of ``ClusterSpec.name``."""
    return ProductParameter(
        "ClusterName",
        "String",
        "Name of the EMR cluster",
        default,
        min_length=CLUSTER_NAME_MIN_LENGTH,
        max_length=CLUSTER_NAME_MAX_LENGTH,
        constraint_description=f"{CLUSTER_NAME_MIN_LENGTH}-{CLUSTER_NAME_MAX_LENGTH} characters",
    )


def compute_type_parameter(
    release_labels: Sequence[str], applications: Sequence[str], default: str = "CPU"
) -> ProductParameter:
    """``ComputeType``: every compute type whose instance type the spec accepts on every release."""
    allowed = tuple(
        kind
        for kind in COMPUTE_TYPES
        if all(
            _accepts(
                name="probe", compute_type=kind, cluster_size=2, release_label=r, applications=applications
            )
            for r in release_labels
        )
    )
    return ProductParameter(
        "ComputeType",
        "String",
        "CPU, memory or general purpose core nodes: "
        + ", ".join(f"{k} = {COMPUTE_TYPES[k]}" for k in allowed),
        default,
        allowed_values=allowed,
        constraint_description=f"one of {', '.join(allowed)}",
    )


def _lowest_accepted(where: str, prop: str, upper: int, **probe: Any) -> int:
    """The smallest value of the one probe argument set to ``None`` that the spec accepts;
    raises naming ``prop`` when ``upper`` is below it."""
    (name,) = [k for k, v in probe.items() if v is None]
    low = next((n for n in range(_PROBE_LIMIT) if _accepts(**{**probe, name: n})), None)
    if low is None or upper < low:
        raise EmrPatternsValidationError(
            where, [problem(prop, upper, f"is below the spec's minimum {low}", f"use {low} or more")]
        )
    return low


def cluster_size_parameter(max_size: int, release_label: str, default: int = 2) -> ProductParameter:
    """``ClusterSize``: core nodes, from the smallest count the spec accepts up to ``max_size``."""
    low = _lowest_accepted(
        "cluster_size_parameter",
        "max_cluster_size",
        max_size,
        name="probe",
        compute_type=next(iter(COMPUTE_TYPES)),
        cluster_size=None,
        release_label=release_label,
    )
    return ProductParameter(
        "ClusterSize",
        "Number",
        "Number of core nodes",
        default,
        min_value=low,
        max_value=max_size,
        constraint_description=f"{low}-{max_size} core nodes",
    )


def max_capacity_parameter(
    max_capacity: int, min_units: int, release_label: str, default: int = 10
) -> ProductParameter:
    """``MaximumCapacity``: managed scaling's upper bound, from what ``ManagedScalingSpec`` accepts
    above ``min_units`` up to ``max_capacity``."""
    low = _lowest_accepted(
        "max_capacity_parameter",
        "max_capacity",
        max_capacity,
        name="probe",
        compute_type=next(iter(COMPUTE_TYPES)),
        cluster_size=min_units,
        max_capacity=None,
        release_label=release_label,
        applications=("Hadoop", "Hive"),
    )
    return ProductParameter(
        "MaximumCapacity",
        "Number",
        "Most instances managed scaling may run (core and task)",
        default,
        min_value=low,
        max_value=max_capacity,
        constraint_description=f"{low}-{max_capacity} instances",
    )


def job_type_parameter(default: str = "Spark") -> ProductParameter:
    """``JobType``: the step kinds of :data:`JOB_TYPES`."""
    return ProductParameter(
        "JobType",
        "String",
        "Engine that runs the job artifacts",
        default,
        allowed_values=JOB_TYPES,
        constraint_description=f"one of {', '.join(JOB_TYPES)}",
    )


def job_artifacts_parameter(default: str | None = None) -> ProductParameter:
    """``JobArtifacts``: ``<s3:// script> [arg ...]``, single spaces, as the step classes accept."""
    return ProductParameter(
        "JobArtifacts",
        "String",
        "S3 URI of the script, then its arguments, separated by single spaces "
        "(Spark: s3://bucket/job.py s3://in/ s3://out/; Hive: s3://bucket/q.sql -d INPUT=s3://in/)",
        default,
        allowed_pattern=rf"s3://{_ARTIFACT_TOKEN}( {_ARTIFACT_TOKEN})*",
        constraint_description="an s3:// script URI, then arguments separated by single spaces",
    )


#: A script URI standing in for the user's, so the step classes render the fixed part of the args.
_SENTINEL = "s3://self-service-artifacts/job.py"


def job_step_args(job_type: str) -> tuple[str, ...]:
    """The fixed ``command-runner.jar`` arguments before the user's artifacts, as the spec's step
    class for ``job_type`` renders them (``spark-submit --deploy-mode cluster`` or
    ``hive-script --run-hive-script --args -f``)."""
    step: SparkSubmitStep | HiveScriptStep
    if job_type == "Spark":
        step = SparkSubmitStep(name="job", main=_SENTINEL)
    elif job_type == "Hive":
        step = HiveScriptStep(name="job", script=_SENTINEL)
    else:
        raise EmrPatternsValidationError(
            "job_step_args",
            [problem("job_type", job_type, "is not a job type", f"use one of {list(JOB_TYPES)}")],
        )
    args = [str(a) for a in step.step_args()]
    return tuple(args[: args.index(_SENTINEL)])


def artifacts_accepted(job_type: str, artifacts: str) -> bool:
    """True if the spec's step class for ``job_type`` accepts ``artifacts`` (split on single spaces)."""
    parts = artifacts.split(" ")
    if not parts or any(not p or p != p.strip() or re.search(r"\s", p) for p in parts):
        return False
    try:
        if job_type == "Spark":
            SparkSubmitStep(name="job", main=parts[0], args=tuple(parts[1:]))
        else:
            HiveScriptStep(name="job", script=parts[0])
    except (EmrPatternsValidationError, ValueError):
        return False
    return True
