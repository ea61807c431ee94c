"""Instance catalog: vCPU, memory, architecture and generation of the EC2 types EMR runs on.

The catalog ships as data (``data/instance_types.json``), so adding a type is a data change. Types
outside the catalog are still allowed in specs; for them the architecture is inferred from the
family name (a ``g`` in the attribute letters after the generation digit means Graviton/arm64),
and helpers that need vCPUs (``vcpu_weighted``) reject them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib.resources import files
from types import MappingProxyType

from emr_patterns.errors import EmrPatternsValidationError, problem
from emr_patterns.spec.release import ReleaseLabel

__all__ = [
    "Architecture",
    "InstanceCategory",
    "InstanceType",
    "architecture_of",
    "catalog",
    "diversified_instance_types",
    "family_of",
    "instance_type",
    "is_graviton",
    "release_supports_type",
]

_TYPE_NAME = re.compile(r"^(?P<family>[a-z]+(?P<gen>\d+)(?P<attrs>[a-z-]*))\.(?P<size>[a-z0-9]+)$")


class Architecture(StrEnum):
    """CPU architecture of an instance type. One cluster uses one architecture."""

    ARM64 = "arm64"
    X86_64 = "x86_64"


class InstanceCategory(StrEnum):
    """Catalog category of a family, which fixes its memory-to-vCPU ratio (2, 4 or 8 GiB)."""

    GENERAL = "general"
    COMPUTE = "compute"
    MEMORY = "memory"


@dataclass(frozen=True)
class InstanceType:
    """One catalog entry."""

    name: str
    """EC2 instance type, e.g. ``m7g.2xlarge``."""
    family: str
    """Family, e.g. ``m7g``."""
    vcpu: int
    """vCPUs (YARN vcores by default on EMR)."""
    memory_gib: float
    """EC2 nominal memory in GiB."""
    architecture: Architecture
    """``arm64`` (Graviton) or ``x86_64``."""
    generation: int
    """Family generation digit, e.g. 7 for ``m7g``."""
    processor: str
    """``graviton2``, ``graviton3``, ``graviton4``, ``intel`` or ``amd``."""
    category: InstanceCategory
    """General purpose, compute optimized or memory optimized."""
    local_storage: bool
    """True for ``d`` variants with local NVMe instance storage."""
    min_release: str | None
    """First release of the 6.x-and-later line that supports the family (None: every release here)."""
    min_release_5x: str | None
    """First 5.x release that supports the family (None: every 5.x release, or none for Graviton)."""

    @property
    def memory_per_vcpu(self) -> float:
        """GiB of memory per vCPU."""
        return self.memory_gib / self.vcpu


@cache
def catalog() -> Mapping[str, InstanceType]:
    """Every catalog entry by type name (read once from ``data/instance_types.json``)."""
    text = files("emr_patterns.spec.data").joinpath("instance_types.json").read_text(encoding="utf-8")
    raw = json.loads(text)
    families = raw["families"]
    entries: dict[str, InstanceType] = {}
    for name, size in raw["types"].items():
        fam_name = name.split(".", 1)[0]
        fam = families[fam_name]
        entries[name] = InstanceType(
            name=name,
            family=fam_name,
            vcpu=int(size["vcpu"]),
            memory_gib=float(size["memory_gib"]),
            architecture=Architecture(fam["architecture"]),
            generation=int(fam["generation"]),
            processor=fam["processor"],
            category=InstanceCategory(fam["category"]),
            local_storage=bool(fam["local_storage"]),
            min_release=fam.get("min_release"),
            min_release_5x=fam.get("min_release_5x"),
        )
    return MappingProxyType(entries)


def instance_type(name: str) -> InstanceType | None:
    """The catalog entry for ``name``, or None if the catalog does not list it."""
    return catalog().get(name)


def family_of(name: str) -> str | None:
    """Family of an instance type name (``r6gd.4xlarge`` -> ``r6gd``), None if malformed."""
    found = _TYPE_NAME.match(name)
    return found["family"] if found else None


def architecture_of(name: str) -> Architecture | None:
    """Architecture from the catalog, else inferred from the name; None if the name is malformed."""
    entry = instance_type(name)
    if entry is not None:
        return entry.architecture
    found = _TYPE_NAME.match(name)
    if not found:
        return None
    return Architecture.ARM64 if "g" in found["attrs"] else Architecture.X86_64


def is_graviton(name: str) -> bool:
    """True if ``name`` is an arm64 (Graviton) type."""
    return architecture_of(name) is Architecture.ARM64


def release_supports_type(release: ReleaseLabel, name: str) -> bool:
    """True if ``release`` supports instance type ``name``.

    Catalog Graviton families carry their first supporting release; other catalog types and unknown
    x86 types are assumed supported; unknown arm64 types need the Graviton2 release.
    """
    entry = instance_type(name)
    if entry is None:
        if architecture_of(name) is not Architecture.ARM64:
            return True
        low_new, low_5x = "emr-6.1.0", "emr-5.31.0"
    else:
        if entry.min_release is None:
            return True
        low_new, low_5x = entry.min_release, entry.min_release_5x or ""
    if release.major >= 6:
        return release.at_least(low_new)
    if release.major == 5:
        return bool(low_5x) and release.at_least(low_5x)
    return False


def diversified_instance_types(
    *,
    min_vcpu: int,
    max_vcpu: int | None = None,
    memory_per_vcpu: float | None = None,
    architecture: Architecture | str = Architecture.ARM64,
    count: int = 15,
    min_generation: int | None = None,
    local_storage: bool | None = None,
    release: ReleaseLabel | str | None = None,
) -> tuple[str, ...]:
    """Pick up to ``count`` catalog types of one architecture for a diversified (Spot) fleet.

    Args:
        min_vcpu: smallest size to include, in vCPUs.
        max_vcpu: largest size to include. Default: ``4 * min_vcpu``.
        memory_per_vcpu: wanted GiB per vCPU (2 compute, 4 general, 8 memory); types within 25% of
            it qualify. Default: any ratio.
        architecture: ``arm64`` (default, Graviton) or ``x86_64``; never mixed.
        count: how many types to return, 1-30 (EMR's limit with an allocation strategy). Default 15.
        min_generation: oldest family generation to include. Default: any.
        local_storage: True for only ``d`` variants, False for none. Default: both.
        release: drop families the release does not support. Default: no filter.

    Returns:
        Type names, spread round-robin across families (newest generation first) and sizes
        (smallest first), so the first few already cover several Spot pools.
    """
    arch = Architecture(architecture)
    problems: list[str] = []
    if not 1 <= count <= 30:
        problems.append(problem("count", count, "is outside 1-30", "ask for 1 to 30 types"))
    if min_vcpu < 1:
        problems.append(problem("min_vcpu", min_vcpu, "must be at least 1", "give a positive vCPU count"))
    upper = max_vcpu if max_vcpu is not None else 4 * max(min_vcpu, 1)
    if upper < min_vcpu:
        problems.append(
            problem("max_vcpu", max_vcpu, "is below min_vcpu", "give max_vcpu >= min_vcpu or leave it unset")
        )
    if memory_per_vcpu is not None and memory_per_vcpu <= 0:
        problems.append(
            problem("memory_per_vcpu", memory_per_vcpu, "must be positive", "use 2, 4 or 8 GiB per vCPU")
        )
    parsed_release = ReleaseLabel.parse(release) if isinstance(release, str) else release
    if problems:
        raise EmrPatternsValidationError("diversified_instance_types", problems)

    def fits(entry: InstanceType) -> bool:
        if entry.architecture is not arch or not min_vcpu <= entry.vcpu <= upper:
            return False
        ratio = memory_per_vcpu
        if ratio is not None and abs(entry.memory_per_vcpu - ratio) > 0.25 * ratio:
            return False
        if min_generation is not None and entry.generation < min_generation:
            return False
        if local_storage is not None and entry.local_storage != local_storage:
            return False
        return parsed_release is None or release_supports_type(parsed_release, entry.name)

    by_family: dict[str, list[InstanceType]] = {}
    for entry in catalog().values():
        if fits(entry):
            by_family.setdefault(entry.family, []).append(entry)
    if not by_family:
        raise EmrPatternsValidationError(
            "diversified_instance_types",
            [
                problem(
                    "min_vcpu/max_vcpu/memory_per_vcpu",
                    (min_vcpu, upper, memory_per_vcpu),
                    f"no {arch.value} catalog type matches",
                    "widen the vCPU range, change memory_per_vcpu, or drop min_generation",
                )
            ],
        )
    families = sorted(
        by_family,
        key=lambda fam: (by_family[fam][0].local_storage, -by_family[fam][0].generation, fam),
    )
    queues = [sorted(by_family[fam], key=lambda e: (e.vcpu, e.name)) for fam in families]
    picked: list[str] = []
    depth = 0
    while len(picked) < count and any(depth < len(q) for q in queues):
        for queue in queues:
            if depth < len(queue) and len(picked) < count:
                picked.append(queue[depth].name)
        depth += 1
    return tuple(picked)


def unknown_types(names: Iterable[str]) -> list[str]:
    """Names in ``names`` the catalog does not list."""
    return [n for n in names if instance_type(n) is None]
