"""EMR release labels: parsing, ordering and the release that introduced each feature.

A release label is ``emr-X.Y.Z``. Anything else (``emr-6.10``, ``6.10.0``) is rejected. A well-formed
label this library does not know (a typo such as ``emr-7.31.0``, or a release EMR never published)
is an error naming the nearest known labels. A release newer than the known list (which comes from
``ListReleaseLabels`` and may lag) is accepted with ``allow_unknown=True``
(``ClusterSpec(allow_unknown_release=True)``), with an :class:`UnknownReleaseWarning`, so a new EMR
release never needs a library release.
"""

from __future__ import annotations

import difflib
import json
import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache, total_ordering
from importlib.resources import files
from typing import Any

from emr_patterns._tokens import is_unresolved
from emr_patterns.defaults import DEFAULT_EMR_RELEASE
from emr_patterns.errors import EmrPatternsValidationError, problem

__all__ = [
    "DEFAULT_RELEASE",
    "Feature",
    "ReleaseLabel",
    "UnknownReleaseWarning",
    "application_problems",
    "feature_problems",
    "known_applications",
    "known_release_labels",
    "latest_known_release",
    "nearest_release_labels",
]

DEFAULT_RELEASE = DEFAULT_EMR_RELEASE
"""The release every spec uses unless told otherwise (alias of ``defaults.DEFAULT_EMR_RELEASE``)."""

_LABEL = re.compile(r"^emr-(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")


class UnknownReleaseWarning(UserWarning):
    """A well-formed release label this library does not know (newer, or never published)."""


@cache
def known_release_labels() -> tuple[str, ...]:
    """Release labels this library knows, newest first (shipped as ``data/release_labels.json``)."""
    return tuple(_release_data()["labels"])


@cache
def _release_data() -> dict[str, Any]:
    text = files("emr_patterns.spec.data").joinpath("release_labels.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


@cache
def _application_bounds() -> dict[str, tuple[str | None, str | None]]:
    return {
        name: (bounds.get("first"), bounds.get("last"))
        for name, bounds in _release_data()["applications"].items()
    }


@total_ordering
@dataclass(frozen=True)
class ReleaseLabel:
    """A parsed ``emr-X.Y.Z`` release label, ordered by version.

    Build one with :meth:`parse`; comparing two labels compares ``(major, minor, patch)``.
    """

    major: int
    """Major version, the ``X`` in ``emr-X.Y.Z``."""
    minor: int
    """Minor version, the ``Y``."""
    patch: int
    """Patch version, the ``Z``."""
    label: str = field(compare=False)
    """The label as given, e.g. ``emr-7.13.0``."""

    @classmethod
    def parse(
        cls, value: str | ReleaseLabel, *, prop: str = "release_label", allow_unknown: bool = False
    ) -> ReleaseLabel:
        """Parse ``value``; raise :class:`EmrPatternsValidationError` if it is malformed or unknown.

        Args:
            value: ``emr-X.Y.Z``, or an already parsed label (returned as is).
            prop: prop name used in the error message.
            allow_unknown: accept a well-formed label this library does not know (a release newer
                than its list) with an :class:`UnknownReleaseWarning` instead of an error. Default
                False: an unknown label is an error naming the nearest known labels.
        """
        if isinstance(value, ReleaseLabel):
            return value
        found = _LABEL.match(value) if isinstance(value, str) else None
        if not found:
            raise EmrPatternsValidationError(
                "ReleaseLabel",
                [
                    problem(
                        prop,
                        value,
                        "is not an EMR release label of the form emr-X.Y.Z",
                        f"write the full label, e.g. '{DEFAULT_RELEASE}'",
                    )
                ],
            )
        parsed = cls(int(found[1]), int(found[2]), int(found[3]), value)
        if value not in known_release_labels():
            newest = latest_known_release()
            if parsed > newest:
                why = f"is newer than the newest release this library knows ({newest.label})"
            else:
                why = "is not a release label EMR has published, as far as this library knows"
            if not allow_unknown:
                nearest = ", ".join(repr(n) for n in nearest_release_labels(parsed))
                raise EmrPatternsValidationError(
                    "ReleaseLabel",
                    [
                        problem(
                            prop,
                            value,
                            why,
                            f"use a known label (nearest: {nearest}); for a release newer than this "
                            "library, set allow_unknown_release=True on the ClusterSpec "
                            "(ReleaseLabel.parse(..., allow_unknown=True))",
                        )
                    ],
                )
            warnings.warn(
                f"{prop}={value!r} {why}; feature gates assume it supports everything its "
                "predecessors do. Check the label against 'aws emr list-release-labels'.",
                UnknownReleaseWarning,
                stacklevel=2,
            )
        return parsed

    @property
    def version(self) -> tuple[int, int, int]:
        """``(major, minor, patch)``."""
        return (self.major, self.minor, self.patch)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, ReleaseLabel):
            return NotImplemented
        return self.version < other.version

    def at_least(self, label: str) -> bool:
        """True if this release is ``label`` or newer (``label`` must be well formed)."""
        return self.version >= _version(label)

    def supports(self, feature: Feature) -> bool:
        """True if this release supports ``feature`` (see :class:`Feature` for the releases)."""
        return any(
            self.version >= _version(low) and (high is None or self.version < _version(high))
            for low, high in _GATES[feature]
        )

    def __str__(self) -> str:
        return self.label


def latest_known_release() -> ReleaseLabel:
    """The newest release label this library knows."""
    newest = known_release_labels()[0]
    found = _LABEL.match(newest)
    assert found is not None
    return ReleaseLabel(int(found[1]), int(found[2]), int(found[3]), newest)


def nearest_release_labels(release: ReleaseLabel, count: int = 3) -> tuple[str, ...]:
    """Known labels nearest to ``release``: the neighbours by version, then look-alikes (typos).

    Example: ``emr-7.31.0`` gives the newest 7.x label and ``emr-7.3.0``/``emr-7.13.0``.
    """
    known = known_release_labels()
    below = next((k for k in known if _version(k) < release.version), None)
    above = next((k for k in reversed(known) if _version(k) > release.version), None)
    alike = difflib.get_close_matches(release.label, known, n=count, cutoff=0.8)
    picked = [k for k in (below, above, *alike) if k is not None]
    return tuple(dict.fromkeys(picked))[:count]


def _version(label: str) -> tuple[int, int, int]:
    found = _LABEL.match(label)
    if not found:
        raise ValueError(f"internal: malformed release label {label!r} in a feature gate")
    return (int(found[1]), int(found[2]), int(found[3]))


class Feature(StrEnum):
    """Features gated by the EMR release that introduced them.

    The value is a human name used in error messages; :data:`FEATURE_RELEASES` lists the releases.
    """

    GRAVITON2 = "Graviton2 instance types (m6g, c6g, r6g)"
    MULTIPLE_PRIMARY_NODES_GROUPS = "three primary nodes with instance groups"
    MULTIPLE_PRIMARY_NODES_FLEETS = "three primary nodes with instance fleets"
    HIVE_ACID = "Hive ACID transactions"
    NATIVE_LDAP = "EMR-native LDAP authentication (security configuration)"
    RUNTIME_ROLES = "runtime roles for steps"
    AUTO_TERMINATION = "auto-termination policy"
    IMDSV2_ONLY = "IMDSv2-only instance metadata"
    LOG_ENCRYPTION = "log archive encryption with a KMS key"
    MANAGED_SCALING = "managed scaling"
    STEP_CONCURRENCY = "concurrent steps"
    CUSTOM_AMI = "custom AMI"
    INSTANCE_FLEETS = "instance fleets"


# Each gate is a list of [low, high) release intervals; high None means "and every later release".
# Sources: EMR Management Guide and API reference (see docs/cluster-spec.md for the list).
_GATES: dict[Feature, tuple[tuple[str, str | None], ...]] = {
    Feature.GRAVITON2: (("emr-5.31.0", "emr-6.0.0"), ("emr-6.1.0", None)),
    Feature.MULTIPLE_PRIMARY_NODES_GROUPS: (("emr-5.23.0", None),),
    Feature.MULTIPLE_PRIMARY_NODES_FLEETS: (
        ("emr-5.36.1", "emr-6.0.0"),
        ("emr-6.8.1", "emr-6.9.0"),
        ("emr-6.9.1", "emr-6.10.0"),
        ("emr-6.10.1", "emr-6.11.0"),
        ("emr-6.11.1", "emr-6.12.0"),
        ("emr-6.12.0", None),
    ),
    Feature.HIVE_ACID: (("emr-6.1.0", None),),
    Feature.NATIVE_LDAP: (("emr-6.12.0", None),),
    Feature.RUNTIME_ROLES: (("emr-6.7.0", None),),
    Feature.AUTO_TERMINATION: (("emr-5.30.0", "emr-6.0.0"), ("emr-6.1.0", None)),
    Feature.IMDSV2_ONLY: (
        ("emr-5.23.1", "emr-5.24.0"),
        ("emr-5.27.1", "emr-5.28.0"),
        ("emr-5.32.0", "emr-6.0.0"),
        ("emr-6.2.0", None),
    ),
    Feature.LOG_ENCRYPTION: (("emr-5.30.0", "emr-6.0.0"), ("emr-6.1.0", None)),
    Feature.MANAGED_SCALING: (("emr-5.30.0", "emr-6.0.0"), ("emr-6.1.0", None)),
    Feature.STEP_CONCURRENCY: (("emr-5.28.0", None),),
    Feature.CUSTOM_AMI: (("emr-5.7.0", None),),
    Feature.INSTANCE_FLEETS: (("emr-4.8.0", "emr-5.0.0"), ("emr-5.1.0", None)),
}

FEATURE_RELEASES: dict[Feature, str] = {
    feature: ", ".join(f"{low}+" if high is None else f"{low} up to {high} (excl.)" for low, high in gates)
    for feature, gates in _GATES.items()
}
"""Human-readable release ranges per feature, used in messages and the docs."""


def feature_problems(release: ReleaseLabel, feature: Feature, *, prop: str, value: object) -> list[str]:
    """One problem if ``release`` does not support ``feature``, else none."""
    if release.supports(feature):
        return []
    return [
        problem(
            prop,
            value,
            f"{feature.value} needs EMR {FEATURE_RELEASES[feature]}, but the release is {release.label}",
            f"use release_label='{DEFAULT_RELEASE}' (or another supporting release), or drop the setting",
        )
    ]


def known_applications(release: ReleaseLabel | None = None) -> tuple[str, ...]:
    """EMR application names (``Applications[].Name``), sorted; with ``release``, those it ships.

    Names come from ``data/release_labels.json``; first and last releases are recorded where the
    EMR Release Guide states them (Ganglia last in 6.15.0, MXNet 5.10.0 to 7.2.0, the CloudWatch
    agent from 7.0.0). Default: every name, whatever the release.
    """
    return tuple(
        sorted(
            name
            for name, (first, last) in _application_bounds().items()
            if release is None
            or (
                (first is None or release.at_least(first))
                and (last is None or not release > _parse_known(last))
            )
        )
    )


def _parse_known(label: str) -> ReleaseLabel:
    major, minor, patch = _version(label)
    return ReleaseLabel(major, minor, patch, label)


def application_problems(
    names: Iterable[object],
    release: ReleaseLabel | None,
    *,
    prop: str = "applications",
    allow_unknown: Iterable[str] = (),
) -> list[str]:
    """Problems of application ``names`` for ``release`` (pure validator; tokens are skipped).

    A name EMR does not know is an error suggesting the nearest names (``Sparkk`` -> ``Spark``), a
    name in the wrong case suggests EMR's spelling (``spark`` -> ``Spark``), and a known name the
    release does not ship (Ganglia on 7.x) names the releases that do. Names in ``allow_unknown``
    (applications newer than this library) skip the unknown-name check only.
    """
    out: list[str] = []
    everything = _application_bounds()
    by_lower = {n.lower(): n for n in everything}
    allowed = {allow_unknown} if isinstance(allow_unknown, str) else set(allow_unknown)
    for i, name in enumerate(names):
        where = f"{prop}[{i}]"
        if not isinstance(name, str):
            out.append(
                problem(
                    where, name, f"is a {type(name).__name__}, not an application name", "write e.g. 'Spark'"
                )
            )
            continue
        if is_unresolved(name) or (name in allowed and name not in everything):
            continue
        if name not in everything:
            if name.lower() in by_lower:
                right = by_lower[name.lower()]
                out.append(problem(where, name, f"is spelled {right!r} by EMR", f"write {right!r}"))
                continue
            close = difflib.get_close_matches(name.lower(), list(by_lower), n=3, cutoff=0.6)
            hint = (
                "did you mean " + " or ".join(repr(by_lower[c]) for c in close)
                if close
                else f"use one of {', '.join(known_applications(release))}"
            )
            out.append(
                problem(
                    where,
                    name,
                    "is not an application EMR installs, as far as this library knows",
                    f"{hint}; for an application newer than this library, add "
                    f"allow_unknown_applications=({name!r},) to the ClusterSpec",
                )
            )
            continue
        first, last = everything[name]
        if release is None:
            continue
        if first is not None and not release.at_least(first):
            out.append(
                problem(
                    where,
                    name,
                    f"ships from {first} on, not in {release.label}",
                    f"use release_label='{DEFAULT_RELEASE}' or drop it",
                )
            )
        elif last is not None and release > _parse_known(last):
            fix = "use AmazonCloudWatchAgent for monitoring" if name == "Ganglia" else "drop it"
            out.append(
                problem(
                    where,
                    name,
                    f"was last shipped in {last}, so {release.label} does not install it",
                    f"{fix}, or use release_label='{last}'",
                )
            )
    return out
