"""Instance fleet and instance group specs for the primary, core and task nodes.

Every spec is a frozen dataclass that checks itself on construction and raises one
:class:`~emr_patterns.errors.EmrPatternsValidationError` listing every problem. Checks that need
the whole cluster (release, architecture, applications) live in :mod:`emr_patterns.spec.rules`.
Number props (capacities, weights, sizes, IOPS, timeouts) may be CDK number tokens, which the
checks skip.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeGuard, TypeVar, cast

from emr_patterns._tokens import is_unresolved
from emr_patterns.errors import problem, raise_if_problems
from emr_patterns.spec.catalog import ESCAPE_HATCH, instance_type, instance_type_problems
from emr_patterns.spec.typecheck import field_type_problems

__all__ = [
    "MAX_TYPES_PER_FLEET",
    "MAX_TYPES_PER_FLEET_WITHOUT_STRATEGY",
    "EbsVolume",
    "InstanceFleetSpec",
    "InstanceGroupSpec",
    "InstanceTypeSpec",
    "MarketType",
    "NodeRole",
    "OnDemandAllocationStrategy",
    "OnDemandSpec",
    "SpotAllocationStrategy",
    "SpotSpec",
    "SpotTimeoutAction",
    "vcpu_weighted",
]

MAX_TYPES_PER_FLEET = 30
"""EMR's limit of instance types per fleet when the fleet sets an allocation strategy."""
MAX_TYPES_PER_FLEET_WITHOUT_STRATEGY = 5
"""EMR's limit of instance types per fleet without an allocation strategy."""

_TYPE_NAME = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")
AMI_ID = re.compile(r"^ami-[0-9a-f]{8,17}$")
"""An EC2 AMI id (``ami-`` and 8 or 17 hex digits), for every ``custom_ami_id`` check."""


class NodeRole(StrEnum):
    """Node type; the value is the EMR API name (``MASTER`` is the API's word for primary)."""

    PRIMARY = "MASTER"
    CORE = "CORE"
    TASK = "TASK"


class MarketType(StrEnum):
    """Purchase option of an instance group."""

    ON_DEMAND = "ON_DEMAND"
    SPOT = "SPOT"


class SpotAllocationStrategy(StrEnum):
    """How EMR picks Spot pools for a fleet."""

    PRICE_CAPACITY_OPTIMIZED = "price-capacity-optimized"
    CAPACITY_OPTIMIZED = "capacity-optimized"
    CAPACITY_OPTIMIZED_PRIORITIZED = "capacity-optimized-prioritized"
    DIVERSIFIED = "diversified"
    LOWEST_PRICE = "lowest-price"


class OnDemandAllocationStrategy(StrEnum):
    """How EMR picks On-Demand types for a fleet."""

    LOWEST_PRICE = "lowest-price"
    PRIORITIZED = "prioritized"


class SpotTimeoutAction(StrEnum):
    """What EMR does when Spot capacity is not provisioned within the timeout."""

    SWITCH_TO_ON_DEMAND = "SWITCH_TO_ON_DEMAND"
    TERMINATE_CLUSTER = "TERMINATE_CLUSTER"


_ROLES = {r.value for r in NodeRole}
_VOLUME_TYPES = {"gp3", "gp2", "io1", "io2", "st1", "sc1", "standard"}


_T = TypeVar("_T")


def _known(value: _T | None) -> TypeGuard[_T]:
    """True for a value the spec can judge now: set, and not a CDK token (checks skip tokens)."""
    return value is not None and not is_unresolved(value)


def _may_be_positive(value: Any) -> bool:
    """True if a capacity is above zero or is a token (so it may be; a number token is negative)."""
    return is_unresolved(value) or value > 0


def _enum_problem(prop: str, value: Any, enum: type[StrEnum]) -> list[str]:
    allowed = [m.value for m in enum]
    if str(value) in allowed:
        return []
    return [
        problem(prop, value, f"is not one of {allowed}", f"use {enum.__name__}.<member>, e.g. '{allowed[0]}'")
    ]


@dataclass(frozen=True)
class EbsVolume:
    """EBS volumes attached to each instance (``EbsBlockDeviceConfigs`` entry)."""

    size_gib: int
    """Volume size in GiB."""
    volume_type: str = "gp3"
    """``gp3`` (default), ``gp2``, ``io1``, ``io2``, ``st1``, ``sc1`` or ``standard``."""
    iops: int | None = None
    """Provisioned IOPS (gp3: 3,000-16,000; required for io1/io2). Default: the type's baseline."""
    throughput_mibps: int | None = None
    """gp3 throughput in MiB/s (125-1,000). Default: 125."""
    volumes_per_instance: int = 1
    """How many such volumes per instance. Default 1."""

    def __post_init__(self) -> None:
        raise_if_problems("EbsVolume", self.problems("ebs_volume"))

    def problems(self, prop: str) -> list[str]:
        """Pure validator."""
        out = field_type_problems(self, prop)
        if out:
            return out
        if self.volume_type not in _VOLUME_TYPES:
            out.append(
                problem(f"{prop}.volume_type", self.volume_type, "is not an EBS volume type", "use 'gp3'")
            )
        if _known(self.size_gib) and not 1 <= self.size_gib <= 16384:
            out.append(
                problem(f"{prop}.size_gib", self.size_gib, "is outside 1-16,384 GiB", "pick a size in range")
            )
        if self.volume_type in {"io1", "io2"} and self.iops is None:
            out.append(
                problem(f"{prop}.iops", None, f"{self.volume_type} needs provisioned IOPS", "set iops")
            )
        if self.volume_type == "gp3" and _known(self.iops) and not 3000 <= self.iops <= 16000:
            out.append(
                problem(f"{prop}.iops", self.iops, "gp3 IOPS must be 3,000-16,000", "pick IOPS in range")
            )
        if self.throughput_mibps is not None:
            if self.volume_type != "gp3":
                out.append(
                    problem(
                        f"{prop}.throughput_mibps",
                        self.throughput_mibps,
                        "only gp3 takes a throughput",
                        "drop it",
                    )
                )
            elif _known(self.throughput_mibps) and not 125 <= self.throughput_mibps <= 1000:
                out.append(
                    problem(
                        f"{prop}.throughput_mibps",
                        self.throughput_mibps,
                        "is outside 125-1,000",
                        "pick one in range",
                    )
                )
        if _known(self.volumes_per_instance) and not 1 <= self.volumes_per_instance <= 25:
            out.append(
                problem(
                    f"{prop}.volumes_per_instance", self.volumes_per_instance, "is outside 1-25", "use 1-25"
                )
            )
        return out

    def to_api(self) -> dict[str, Any]:
        """``EbsBlockDeviceConfig`` (same shape in RunJobFlow and CloudFormation)."""
        spec: dict[str, Any] = {"VolumeType": self.volume_type, "SizeInGB": self.size_gib}
        if self.iops is not None:
            spec["Iops"] = self.iops
        if self.throughput_mibps is not None:
            spec["Throughput"] = self.throughput_mibps
        return {"VolumeSpecification": spec, "VolumesPerInstance": self.volumes_per_instance}


def _ebs_configuration(volumes: tuple[EbsVolume, ...]) -> dict[str, Any] | None:
    if not volumes:
        return None
    return {"EbsBlockDeviceConfigs": [v.to_api() for v in volumes], "EbsOptimized": True}


@dataclass(frozen=True)
class InstanceTypeSpec:
    """One instance type of a fleet (``InstanceTypeConfig``).

    The name's form is checked here; whether EMR runs the type is checked when the spec joins a
    fleet, so the error names the fleet's prop (``core_fleet.instance_types[2]``) and the fleet's
    ``allow_unknown_instance_types`` can accept a type newer than the catalog.
    """

    instance_type: str
    """EC2 type, e.g. ``m7g.2xlarge``."""
    weighted_capacity: int = 1
    """Units this type counts toward the fleet's targets. Default 1 (primary fleets need 1)."""
    bid_price_as_percentage_of_on_demand: float | None = None
    """Spot bid as % of the On-Demand price. Default: EMR's 100%."""
    bid_price: str | None = None
    """Spot bid in USD; prefer the percentage. Not with the percentage."""
    priority: float | None = None
    """Priority for prioritized strategies; lower number = higher priority."""
    ebs_volumes: tuple[EbsVolume, ...] = ()
    """EBS volumes per instance of this type. Default: EMR's default for the type."""
    custom_ami_id: str | None = None
    """AMI for this type (e.g. an arm64 AMI). Default: the cluster's AMI."""
    weighted_by_vcpu: bool = False
    """True if the weight must equal the catalog vCPUs (set by :func:`vcpu_weighted`)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "ebs_volumes", tuple(self.ebs_volumes))
        raise_if_problems(f"InstanceTypeSpec({self.instance_type})", self.problems("instance_type"))

    def problems(self, prop: str) -> list[str]:
        """Pure validator (self-contained checks only)."""
        out: list[str] = []
        if not isinstance(self.instance_type, str) or not _TYPE_NAME.match(self.instance_type):
            out.append(
                problem(prop, self.instance_type, "is not an EC2 instance type name", "use e.g. 'm7g.xlarge'")
            )
        typed = field_type_problems(self, prop)
        if typed:
            return out + typed
        if _known(self.weighted_capacity) and (
            not isinstance(self.weighted_capacity, int) or self.weighted_capacity < 1
        ):
            out.append(
                problem(
                    f"{prop}.weighted_capacity",
                    self.weighted_capacity,
                    "must be an integer >= 1",
                    "use 1 or more",
                )
            )
        if self.bid_price is not None and self.bid_price_as_percentage_of_on_demand is not None:
            out.append(
                problem(
                    f"{prop}.bid_price",
                    self.bid_price,
                    "is set together with bid_price_as_percentage_of_on_demand",
                    "set only one (prefer the percentage)",
                )
            )
        pct = self.bid_price_as_percentage_of_on_demand
        if _known(pct) and not 0 < pct <= 1000:
            out.append(
                problem(
                    f"{prop}.bid_price_as_percentage_of_on_demand", pct, "is outside 0-1000", "use e.g. 100"
                )
            )
        if _known(self.priority) and self.priority < 0:
            out.append(
                problem(f"{prop}.priority", self.priority, "must be >= 0", "use 0 for the top priority")
            )
        if self.custom_ami_id is not None and not AMI_ID.match(self.custom_ami_id):
            out.append(
                problem(f"{prop}.custom_ami_id", self.custom_ami_id, "is not an AMI id", "use 'ami-...'")
            )
        if self.weighted_by_vcpu:
            entry = instance_type(self.instance_type)
            if entry is None:
                out.append(
                    problem(
                        prop,
                        self.instance_type,
                        "is not in the instance catalog, so its vCPUs are unknown for vcpu_weighted",
                        "use a catalog type, or give weighted_capacity yourself without vcpu_weighted",
                    )
                )
            elif _known(self.weighted_capacity) and entry.vcpu != self.weighted_capacity:
                out.append(
                    problem(
                        f"{prop}.weighted_capacity",
                        self.weighted_capacity,
                        f"does not match the catalog's {entry.vcpu} vCPUs of {self.instance_type} "
                        "in a vcpu_weighted fleet",
                        f"use weighted_capacity={entry.vcpu} (or build the types with vcpu_weighted(...))",
                    )
                )
        for i, vol in enumerate(self.ebs_volumes):
            out.extend(vol.problems(f"{prop}.ebs_volumes[{i}]"))
        return out

    def to_api(self) -> dict[str, Any]:
        """``InstanceTypeConfig`` (same shape in RunJobFlow and CloudFormation, minus Configurations)."""
        out: dict[str, Any] = {"InstanceType": self.instance_type, "WeightedCapacity": self.weighted_capacity}
        if self.bid_price_as_percentage_of_on_demand is not None:
            out["BidPriceAsPercentageOfOnDemandPrice"] = float(self.bid_price_as_percentage_of_on_demand)
        if self.bid_price is not None:
            out["BidPrice"] = self.bid_price
        if self.priority is not None:
            out["Priority"] = float(self.priority)
        ebs = _ebs_configuration(self.ebs_volumes)
        if ebs:
            out["EbsConfiguration"] = ebs
        if self.custom_ami_id:
            out["CustomAmiId"] = self.custom_ami_id
        return out


def vcpu_weighted(
    *instance_types: str | Iterable[str],
    ebs_volumes: Iterable[EbsVolume] = (),
    bid_price_as_percentage_of_on_demand: float | None = None,
) -> tuple[InstanceTypeSpec, ...]:
    """Instance types weighted by their catalog vCPUs, so fleet targets count vCPUs (YARN vcores).

    Example: ``vcpu_weighted("m7g.xlarge", "m7g.2xlarge")`` gives weights 4 and 8. Every type must
    be in the catalog. Accepts names as separate arguments or as one iterable.
    """
    names: list[str] = []
    for item in instance_types:
        if isinstance(item, str):
            names.append(item)
        else:
            names.extend(item)
    problems: list[str] = []
    specs: list[InstanceTypeSpec] = []
    volumes = tuple(ebs_volumes)
    for i, name in enumerate(names):
        entry = instance_type(name)
        if entry is None:
            unknown = instance_type_problems(f"instance_types[{i}]", name)
            problems.extend(
                unknown
                or [
                    problem(
                        f"instance_types[{i}]",
                        name,
                        "is not in the instance catalog, so its vCPUs are unknown",
                        "use catalog types (see diversified_instance_types) or weight the types yourself",
                    )
                ]
            )
            continue
        specs.append(
            InstanceTypeSpec(
                name,
                weighted_capacity=entry.vcpu,
                bid_price_as_percentage_of_on_demand=bid_price_as_percentage_of_on_demand,
                ebs_volumes=volumes,
                weighted_by_vcpu=True,
            )
        )
    raise_if_problems("vcpu_weighted", problems)
    return tuple(specs)


@dataclass(frozen=True)
class SpotSpec:
    """Spot provisioning of a fleet (``SpotSpecification``)."""

    timeout_action: SpotTimeoutAction | str = SpotTimeoutAction.SWITCH_TO_ON_DEMAND
    """Action when Spot is not provisioned in time. Default ``SWITCH_TO_ON_DEMAND``."""
    timeout_minutes: int = 60
    """Minutes to wait for Spot capacity, 5-1,440. Default 60."""
    allocation_strategy: SpotAllocationStrategy | str | None = SpotAllocationStrategy.PRICE_CAPACITY_OPTIMIZED
    """Spot allocation strategy. Default ``price-capacity-optimized``. None: EMR's legacy behaviour
    (and at most 5 instance types)."""

    def __post_init__(self) -> None:
        raise_if_problems("SpotSpec", self.problems("spot"))

    def problems(self, prop: str) -> list[str]:
        """Pure validator."""
        out = _enum_problem(f"{prop}.timeout_action", self.timeout_action, SpotTimeoutAction)
        typed = field_type_problems(self, prop)
        if typed:
            return out + typed
        if _known(self.timeout_minutes) and (
            not isinstance(self.timeout_minutes, int) or not 5 <= self.timeout_minutes <= 1440
        ):
            out.append(
                problem(
                    f"{prop}.timeout_minutes",
                    self.timeout_minutes,
                    "is outside EMR's 5-1,440 minutes",
                    "use e.g. 60 (SWITCH_TO_ON_DEMAND for SLAs, TERMINATE_CLUSTER for cost caps)",
                )
            )
        if self.allocation_strategy is not None:
            out.extend(
                _enum_problem(f"{prop}.allocation_strategy", self.allocation_strategy, SpotAllocationStrategy)
            )
        return out

    def to_api(self) -> dict[str, Any]:
        """``SpotSpecification``."""
        out: dict[str, Any] = {
            "TimeoutAction": str(self.timeout_action),
            "TimeoutDurationMinutes": self.timeout_minutes,
        }
        if self.allocation_strategy is not None:
            out["AllocationStrategy"] = str(self.allocation_strategy)
        return out


@dataclass(frozen=True)
class OnDemandSpec:
    """On-Demand provisioning of a fleet (``OnDemandSpecification``)."""

    allocation_strategy: OnDemandAllocationStrategy | str = OnDemandAllocationStrategy.LOWEST_PRICE
    """On-Demand allocation strategy. Default ``lowest-price``."""

    def __post_init__(self) -> None:
        raise_if_problems("OnDemandSpec", self.problems("on_demand"))

    def problems(self, prop: str) -> list[str]:
        """Pure validator."""
        return _enum_problem(
            f"{prop}.allocation_strategy", self.allocation_strategy, OnDemandAllocationStrategy
        )

    def to_api(self) -> dict[str, Any]:
        """``OnDemandSpecification``."""
        return {"AllocationStrategy": str(self.allocation_strategy)}


def _as_type_specs(items: Iterable[str | InstanceTypeSpec]) -> tuple[InstanceTypeSpec, ...]:
    if isinstance(items, str):
        # tuple("m7g.xlarge") would be ten one-letter types.
        raise_if_problems(
            "InstanceFleetSpec",
            [
                problem(
                    "instance_types",
                    items,
                    "is a str, not a list of types (a str would be read letter by letter)",
                    f"write [{items!r}]",
                )
            ],
        )
    return tuple(i if isinstance(i, InstanceTypeSpec) else InstanceTypeSpec(i) for i in items)


def _names(items: Iterable[str]) -> tuple[str, ...]:
    """A tuple of names; a bare str is kept as is so the spec's validator names the mistake."""
    return cast("tuple[str, ...]", items) if isinstance(items, str) else tuple(items)


def _allowed_types_problems(prop: str, allowed: tuple[str, ...] | str, used: Iterable[str]) -> list[str]:
    """Problems of an ``allow_unknown_instance_types`` value (a tuple of names the spec uses)."""
    if isinstance(allowed, str):
        return [
            problem(
                prop,
                allowed,
                "is a str, not a tuple of names (a str would be read letter by letter)",
                f"write {ESCAPE_HATCH}=({allowed!r},)",
            )
        ]
    names = set(used)
    return [
        problem(prop, name, "is not an instance type of this fleet or group", "list only types it uses")
        for name in allowed
        if name not in names
    ]


@dataclass(frozen=True)
class InstanceFleetSpec:
    """An instance fleet. Prefer the :meth:`primary`, :meth:`core` and :meth:`task` constructors."""

    role: NodeRole
    """PRIMARY, CORE or TASK."""
    instance_types: tuple[InstanceTypeSpec, ...]
    """Types EMR may launch (plain names get weight 1). At most 30 with an allocation strategy, else 5."""
    target_on_demand_capacity: int = 0
    """On-Demand units to provision. Default 0."""
    target_spot_capacity: int = 0
    """Spot units to provision. Default 0."""
    on_demand: OnDemandSpec | None = field(default_factory=OnDemandSpec)
    """On-Demand provisioning. Default lowest-price."""
    spot: SpotSpec | None = field(default_factory=SpotSpec)
    """Spot provisioning. Default price-capacity-optimized, SWITCH_TO_ON_DEMAND after 60 minutes."""
    name: str | None = None
    """Fleet name. Default: ``Primary``, ``Core`` or ``Task``."""
    allow_unknown_instance_types: tuple[str, ...] = ()
    """Instance types of this fleet to accept although the catalog does not list them (types newer
    than this library), e.g. ``("m9g.xlarge",)``. Each must be one of the fleet's types; burstable
    ``t`` types stay refused. Default: none (every type must be one EMR runs)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "instance_types", _as_type_specs(self.instance_types))
        if not isinstance(self.allow_unknown_instance_types, str):
            object.__setattr__(self, "allow_unknown_instance_types", tuple(self.allow_unknown_instance_types))
        if str(self.role) in _ROLES:
            object.__setattr__(self, "role", NodeRole(str(self.role)))
        raise_if_problems(f"InstanceFleetSpec({self.role})", self.problems(self._prop))

    @property
    def _prop(self) -> str:
        return {"MASTER": "primary_fleet", "CORE": "core_fleet"}.get(str(self.role), "task_fleets")

    @classmethod
    def primary(
        cls,
        instance_types: Iterable[str | InstanceTypeSpec],
        *,
        nodes: int = 1,
        on_demand: OnDemandSpec | None = None,
        name: str = "Primary",
        allow_unknown_instance_types: Iterable[str] = (),
    ) -> InstanceFleetSpec:
        """Primary fleet of ``nodes`` (1, or 3 for high availability) On-Demand instances.

        ``allow_unknown_instance_types`` names types newer than the catalog (see the field).
        """
        return cls(
            NodeRole.PRIMARY,
            _as_type_specs(instance_types),
            target_on_demand_capacity=nodes,
            target_spot_capacity=0,
            on_demand=on_demand,
            spot=None,
            name=name,
            allow_unknown_instance_types=_names(allow_unknown_instance_types),
        )

    @classmethod
    def core(
        cls,
        instance_types: Iterable[str | InstanceTypeSpec],
        *,
        on_demand_units: int = 2,
        spot_units: int = 0,
        on_demand: OnDemandSpec | None = None,
        spot: SpotSpec | None = None,
        name: str = "Core",
        allow_unknown_instance_types: Iterable[str] = (),
    ) -> InstanceFleetSpec:
        """Core fleet. Default: 2 On-Demand units, lowest-price, no Spot.

        ``allow_unknown_instance_types`` names types newer than the catalog (see the field).
        """
        return cls(
            NodeRole.CORE,
            _as_type_specs(instance_types),
            target_on_demand_capacity=on_demand_units,
            target_spot_capacity=spot_units,
            on_demand=on_demand or OnDemandSpec(),
            spot=spot or SpotSpec(),
            name=name,
            allow_unknown_instance_types=_names(allow_unknown_instance_types),
        )

    @classmethod
    def task(
        cls,
        instance_types: Iterable[str | InstanceTypeSpec],
        *,
        spot_units: int,
        on_demand_units: int = 0,
        spot: SpotSpec | None = None,
        on_demand: OnDemandSpec | None = None,
        name: str = "Task",
        allow_unknown_instance_types: Iterable[str] = (),
    ) -> InstanceFleetSpec:
        """Task fleet, Spot by default (price-capacity-optimized, SWITCH_TO_ON_DEMAND after 60 min).

        ``allow_unknown_instance_types`` names types newer than the catalog (see the field).
        """
        return cls(
            NodeRole.TASK,
            _as_type_specs(instance_types),
            target_on_demand_capacity=on_demand_units,
            target_spot_capacity=spot_units,
            on_demand=on_demand or OnDemandSpec(),
            spot=spot or SpotSpec(),
            name=name,
            allow_unknown_instance_types=_names(allow_unknown_instance_types),
        )

    @property
    def renders_on_demand_spec(self) -> bool:
        """True if the On-Demand specification is rendered (On-Demand target, or a task fleet)."""
        return self.on_demand is not None and (
            _may_be_positive(self.target_on_demand_capacity)
            or (self.role is NodeRole.TASK and self.target_spot_capacity == 0)
        )

    @property
    def renders_spot_spec(self) -> bool:
        """True if the Spot specification is rendered (Spot target, or a task fleet starting at zero)."""
        return self.spot is not None and (
            _may_be_positive(self.target_spot_capacity)
            or (self.role is NodeRole.TASK and self.target_on_demand_capacity == 0)
        )

    @property
    def has_allocation_strategy(self) -> bool:
        """True if a rendered launch specification sets an allocation strategy (allows 30 types)."""
        return self.renders_on_demand_spec or (
            self.renders_spot_spec and self.spot is not None and self.spot.allocation_strategy is not None
        )

    @property
    def max_instance_types(self) -> int:
        """EMR's limit of instance types for this fleet."""
        return MAX_TYPES_PER_FLEET if self.has_allocation_strategy else MAX_TYPES_PER_FLEET_WITHOUT_STRATEGY

    @property
    def vcpu_weighted(self) -> bool:
        """True if any type in the fleet is weighted by vCPU."""
        return any(t.weighted_by_vcpu for t in self.instance_types)

    @property
    def uses_spot(self) -> bool:
        """True if the fleet asks for Spot capacity (False while the target is a CDK token)."""
        return _known(self.target_spot_capacity) and self.target_spot_capacity > 0

    def problems(self, prop: str) -> list[str]:
        """Pure validator (self-contained checks only)."""
        out = _enum_problem(f"{prop}.role", self.role, NodeRole)
        out.extend(field_type_problems(self, prop))
        if out:
            return out
        role = NodeRole(str(self.role))
        types = self.instance_types
        if not types:
            out.append(problem(f"{prop}.instance_types", (), "is empty", "give at least one instance type"))
        names = [t.instance_type for t in types]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            out.append(problem(f"{prop}.instance_types", dupes, "lists a type twice", "list each type once"))
        allowed = self.allow_unknown_instance_types
        out.extend(_allowed_types_problems(f"{prop}.{ESCAPE_HATCH}", allowed, names))
        for i, spec in enumerate(types):
            found = spec.problems(f"{prop}.instance_types[{i}]")
            out.extend(found)
            if not found:
                out.extend(
                    instance_type_problems(
                        f"{prop}.instance_types[{i}]",
                        spec.instance_type,
                        allow_unknown=() if isinstance(allowed, str) else allowed,
                    )
                )
        if self.on_demand is not None:
            out.extend(self.on_demand.problems(f"{prop}.on_demand"))
        if self.spot is not None:
            out.extend(self.spot.problems(f"{prop}.spot"))
        if out:
            return out
        limit = self.max_instance_types
        if len(types) > limit:
            why = (
                "with an allocation strategy"
                if limit == MAX_TYPES_PER_FLEET
                else "without an allocation strategy"
            )
            out.append(
                problem(
                    f"{prop}.instance_types",
                    f"{len(types)} types",
                    f"EMR allows at most {limit} instance types per fleet {why}",
                    f"list at most {limit} types"
                    + ("" if limit == MAX_TYPES_PER_FLEET else " or set an allocation strategy (allows 30)"),
                )
            )
        od, spot = self.target_on_demand_capacity, self.target_spot_capacity
        known_od, known_spot = _known(od), _known(spot)
        if (known_od and od < 0) or (known_spot and spot < 0):
            out.append(problem(f"{prop}.target_*_capacity", (od, spot), "is negative", "use 0 or more units"))
        if known_spot and spot > 0 and self.spot is None:
            out.append(
                problem(f"{prop}.spot", None, "a Spot target needs a Spot specification", "pass SpotSpec()")
            )
        if role is NodeRole.PRIMARY:
            if known_spot and spot > 0:
                out.append(
                    problem(
                        f"{prop}.target_spot_capacity",
                        spot,
                        "the primary node runs on Spot, so one interruption ends the cluster",
                        "use InstanceFleetSpec.primary(...) (On-Demand)",
                    )
                )
            elif known_od and od not in (1, 3):
                out.append(
                    problem(
                        f"{prop}.target_on_demand_capacity",
                        od,
                        "a cluster has 1 or 3 primary nodes",
                        "use nodes=1, or nodes=3 for high availability",
                    )
                )
            heavy = [
                t.instance_type for t in types if _known(t.weighted_capacity) and t.weighted_capacity != 1
            ]
            if heavy:
                out.append(
                    problem(
                        f"{prop}.instance_types",
                        heavy,
                        "primary fleet types must have weighted_capacity 1",
                        "drop the weights (and vcpu_weighted) from the primary fleet",
                    )
                )
        elif role is NodeRole.CORE and known_od and known_spot and od + spot == 0:
            out.append(
                problem(f"{prop}.target_*_capacity", (od, spot), "a core fleet needs capacity", "give units")
            )
        for strategy, ok in (
            (
                self.on_demand is not None
                and self.renders_on_demand_spec
                and str(self.on_demand.allocation_strategy) == OnDemandAllocationStrategy.PRIORITIZED,
                "On-Demand 'prioritized'",
            ),
            (
                self.spot is not None
                and self.renders_spot_spec
                and str(self.spot.allocation_strategy)
                == SpotAllocationStrategy.CAPACITY_OPTIMIZED_PRIORITIZED,
                "Spot 'capacity-optimized-prioritized'",
            ),
        ):
            if strategy and any(t.priority is None for t in types):
                out.append(
                    problem(
                        f"{prop}.instance_types",
                        [t.instance_type for t in types if t.priority is None],
                        f"{ok} needs a priority on every instance type",
                        "set InstanceTypeSpec(..., priority=N) (0 = highest)",
                    )
                )
        if self.vcpu_weighted and not all(t.weighted_by_vcpu for t in types):
            out.append(
                problem(
                    f"{prop}.instance_types",
                    [t.instance_type for t in types if not t.weighted_by_vcpu],
                    "mixes vCPU-weighted and other weights, so the targets mean nothing",
                    "build every type of the fleet with vcpu_weighted(...)",
                )
            )
        return out

    def to_api(self) -> dict[str, Any]:
        """``InstanceFleetConfig`` for RunJobFlow (with ``InstanceFleetType``)."""
        out = {"InstanceFleetType": str(self.role), **self._body()}
        return out

    def to_cfn(self) -> dict[str, Any]:
        """``InstanceFleetConfig`` for CloudFormation (the role is the property name instead)."""
        return self._body()

    def _body(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "Name": self.name or str(self.role).title().replace("Master", "Primary"),
            "TargetOnDemandCapacity": self.target_on_demand_capacity,
            "TargetSpotCapacity": self.target_spot_capacity,
            "InstanceTypeConfigs": [t.to_api() for t in self.instance_types],
        }
        launch: dict[str, Any] = {}
        if self.renders_on_demand_spec and self.on_demand is not None:
            launch["OnDemandSpecification"] = self.on_demand.to_api()
        if self.renders_spot_spec and self.spot is not None:
            launch["SpotSpecification"] = self.spot.to_api()
        if launch:
            out["LaunchSpecifications"] = launch
        return out


@dataclass(frozen=True)
class InstanceGroupSpec:
    """A uniform instance group (one type). Use fleets unless you need groups (e.g. HBase on HDFS)."""

    role: NodeRole
    """PRIMARY, CORE or TASK."""
    instance_type: str
    """EC2 type of every instance in the group."""
    instance_count: int
    """Instances in the group (primary: 1 or 3)."""
    market: MarketType | str = MarketType.ON_DEMAND
    """ON_DEMAND (default) or SPOT."""
    bid_price: str | None = None
    """Spot bid in USD. Default: the On-Demand price. Only with SPOT."""
    ebs_volumes: tuple[EbsVolume, ...] = ()
    """EBS volumes per instance. Default: EMR's default for the type."""
    custom_ami_id: str | None = None
    """AMI for this group. Default: the cluster's AMI."""
    name: str | None = None
    """Group name. Default: ``Primary``, ``Core`` or ``Task``."""
    allow_unknown_instance_types: tuple[str, ...] = ()
    """Accept ``instance_type`` although the catalog does not list it (a type newer than this
    library): ``allow_unknown_instance_types=("m9g.xlarge",)``. Burstable ``t`` types stay refused.
    Default: none (the type must be one EMR runs)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "ebs_volumes", tuple(self.ebs_volumes))
        if not isinstance(self.allow_unknown_instance_types, str):
            object.__setattr__(self, "allow_unknown_instance_types", tuple(self.allow_unknown_instance_types))
        if str(self.role) in _ROLES:
            object.__setattr__(self, "role", NodeRole(str(self.role)))
        raise_if_problems(f"InstanceGroupSpec({self.role})", self.problems("instance_groups"))

    @property
    def uses_spot(self) -> bool:
        """True for a Spot group."""
        return str(self.market) == MarketType.SPOT

    def problems(self, prop: str) -> list[str]:
        """Pure validator (self-contained checks only)."""
        out = _enum_problem(f"{prop}.role", self.role, NodeRole)
        out.extend(_enum_problem(f"{prop}.market", self.market, MarketType))
        out.extend(field_type_problems(self, prop))
        if out:
            return out
        role = NodeRole(str(self.role))
        allowed = self.allow_unknown_instance_types
        out.extend(_allowed_types_problems(f"{prop}.{ESCAPE_HATCH}", allowed, (self.instance_type,)))
        if not isinstance(self.instance_type, str) or not _TYPE_NAME.match(self.instance_type):
            out.append(
                problem(
                    f"{prop}.instance_type", self.instance_type, "is not an instance type", "use 'm7g.xlarge'"
                )
            )
        else:
            out.extend(
                instance_type_problems(
                    f"{prop}.instance_type",
                    self.instance_type,
                    allow_unknown=() if isinstance(allowed, str) else allowed,
                )
            )
        if role is NodeRole.PRIMARY:
            if self.uses_spot:
                out.append(
                    problem(
                        f"{prop}.market",
                        str(self.market),
                        "the primary node runs on Spot, so one interruption ends the cluster",
                        "use market=ON_DEMAND for the primary group",
                    )
                )
            if _known(self.instance_count) and self.instance_count not in (1, 3):
                out.append(
                    problem(
                        f"{prop}.instance_count",
                        self.instance_count,
                        "a cluster has 1 or 3 primary nodes",
                        "use 1 or 3",
                    )
                )
        elif _known(self.instance_count) and self.instance_count < (1 if role is NodeRole.CORE else 0):
            out.append(
                problem(f"{prop}.instance_count", self.instance_count, "is too small", "use 1 or more")
            )
        if self.bid_price is not None and not self.uses_spot:
            out.append(
                problem(f"{prop}.bid_price", self.bid_price, "only Spot groups take a bid price", "drop it")
            )
        if self.custom_ami_id is not None and not AMI_ID.match(self.custom_ami_id):
            out.append(
                problem(f"{prop}.custom_ami_id", self.custom_ami_id, "is not an AMI id", "use 'ami-...'")
            )
        for i, vol in enumerate(self.ebs_volumes):
            out.extend(vol.problems(f"{prop}.ebs_volumes[{i}]"))
        return out

    def _body(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "Name": self.name or str(self.role).title().replace("Master", "Primary"),
            "Market": str(self.market),
            "InstanceType": self.instance_type,
            "InstanceCount": self.instance_count,
        }
        if self.bid_price is not None:
            out["BidPrice"] = self.bid_price
        ebs = _ebs_configuration(self.ebs_volumes)
        if ebs:
            out["EbsConfiguration"] = ebs
        if self.custom_ami_id:
            out["CustomAmiId"] = self.custom_ami_id
        return out

    def to_api(self) -> dict[str, Any]:
        """``InstanceGroupConfig`` for RunJobFlow (with ``InstanceRole``)."""
        return {"InstanceRole": str(self.role), **self._body()}

    def to_cfn(self) -> dict[str, Any]:
        """``InstanceGroupConfig`` for CloudFormation (the role is the property name instead)."""
        return self._body()
