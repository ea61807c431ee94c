"""Instance catalog: vCPU, memory, architecture and generation of the EC2 types EMR runs on.

The catalog ships as data (``data/instance_types.json``), so adding a type is a data change. It has
two parts: sizes (vCPU, memory, architecture) for the general, compute and memory families, and the
names of every other type EMR runs (storage, accelerated, older generations). A name in neither part
is an error wherever a spec takes an instance type (:func:`instance_type_problems`): a typo suggests
the nearest catalog names, a burstable ``t`` type is refused, and a type newer than the catalog is
accepted only when named in ``allow_unknown_instance_types`` on its fleet or group. For names
without sizes the architecture is inferred from the family name (a ``g`` in the attribute letters
after the generation digit means Graviton/arm64), and helpers that need vCPUs (``vcpu_weighted``)
reject them.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib.resources import files
from types import MappingProxyType

from emr_patterns._tokens import is_unresolved
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
    "instance_type_problems",
    "is_graviton",
    "is_known_instance_type",
    "known_instance_type_names",
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


@cache
def known_instance_type_names() -> frozenset[str]:
    """Every instance type name EMR runs, as far as this library knows (sizes or names only)."""
    text = files("emr_patterns.spec.data").joinpath("instance_types.json").read_text(encoding="utf-8")
    return frozenset(json.loads(text)["emr_supported"]) | frozenset(catalog())


@cache
def _sizes_by_family() -> Mapping[str, tuple[str, ...]]:
    out: dict[str, list[str]] = {}
    for name in sorted(known_instance_type_names()):
        out.setdefault(name.split(".", 1)[0], []).append(name)
    return MappingProxyType({fam: tuple(names) for fam, names in out.items()})


def is_known_instance_type(name: str) -> bool:
    """True if EMR runs ``name``, as far as this library knows."""
    return name in known_instance_type_names()


_BURSTABLE = re.compile(r"^t\d")
ESCAPE_HATCH = "allow_unknown_instance_types"
"""Name of the fleet and group field that accepts instance types newer than the catalog."""


def instance_type_problems(prop: str, name: object, *, allow_unknown: Iterable[str] = ()) -> list[str]:
    """One problem if EMR does not run ``name``, else none (pure validator; tokens are skipped).

    * a burstable ``t`` type (``t3.large``, ``t4g.xlarge``): EMR does not support it, whatever
      ``allow_unknown`` says;
    * a known family with an unknown size (``r7g.2xlarg``): the nearest sizes of the family;
    * an unknown family (``p9.huge``, ``r7q.2xlarge``): the nearest catalog names or families.

    Names in ``allow_unknown`` (types newer than the catalog) pass unless they are burstable.
    """
    if not isinstance(name, str) or is_unresolved(name) or is_known_instance_type(name):
        return []
    family = name.split(".", 1)[0]
    if _BURSTABLE.match(family):
        size = name.split(".", 1)[1] if "." in name else "xlarge"
        graviton = "g" in family[2:]
        same = [f"{fam}.{size}" for fam in (("m7g", "m6g") if graviton else ("m7i", "m6i"))]
        like = next(
            (n for n in same if is_known_instance_type(n)), "m7g.xlarge" if graviton else "m7i.xlarge"
        )
        return [
            problem(
                prop,
                name,
                "EMR does not support burstable t-family instances",
                f"use a general-purpose type such as {like!r} (m7g/m6g for Graviton, m7i/m6i for x86_64)",
            )
        ]
    allowed = {allow_unknown} if isinstance(allow_unknown, str) else set(allow_unknown)
    if name in allowed:
        return []
    escape = f"for a type newer than the catalog, add {ESCAPE_HATCH}=({name!r},) to this fleet or group"
    sizes = _sizes_by_family().get(family)
    if sizes is not None:
        close = difflib.get_close_matches(name, sizes, n=3, cutoff=0.6) or list(sizes[:6])
        return [
            problem(
                prop,
                name,
                f"is not a size EMR runs in the {family} family",
                f"did you mean {' or '.join(repr(c) for c in close)}? ({escape})",
            )
        ]
    close = difflib.get_close_matches(name, sorted(known_instance_type_names()), n=3, cutoff=0.8)
    if close:
        hint = f"did you mean {' or '.join(repr(c) for c in close)}?"
    else:
        families = difflib.get_close_matches(family, list(_sizes_by_family()), n=3, cutoff=0.5)
        hint = (
            f"nearest families EMR runs: {', '.join(families)}"
            if families
            else "use a catalog type (see diversified_instance_types)"
        )
    return [
        problem(
            prop,
            name,
            f"is not an instance type EMR runs (family {family!r} is unknown)",
            f"{hint}; {escape}",
        )
    ]


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
