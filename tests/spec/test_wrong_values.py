"""Issue 15.4: wrong values fail at synth, not at deploy (ClusterSpec-level cases).

Release labels, application names, configurations in EMR's JSON shape and instance types; the
number/bool type checks are in ``test_types.py``.
"""

from __future__ import annotations

import warnings
from typing import Any

import pytest

from emr_patterns.spec import (
    ClusterSpec,
    InstanceFleetSpec,
    UnknownReleaseWarning,
    latest_known_release,
)


def spark(**overrides: Any) -> ClusterSpec:
    props: dict[str, Any] = {
        "name": "spark",
        "primary_fleet": InstanceFleetSpec.primary(["m7g.xlarge"]),
        "core_fleet": InstanceFleetSpec.core(["m7g.2xlarge"]),
    }
    props.update(overrides)
    return ClusterSpec(**props)


# ---- release labels ---------------------------------------------------------------------------


def test_unknown_release_is_an_error_by_default(raises_problem) -> None:
    err = raises_problem(
        lambda: spark(release_label="emr-7.31.0"), prop="release_label", value="emr-7.31.0", says="newer"
    )
    assert "allow_unknown_release=True" in err.problems[0]
    assert f"'{latest_known_release().label}'" in err.problems[0]


def test_allow_unknown_release_keeps_the_warning() -> None:
    with pytest.warns(UnknownReleaseWarning, match="emr-7.31.0"):
        spec = spark(release_label="emr-7.31.0", allow_unknown_release=True)
    assert spec.release.label == "emr-7.31.0"
    assert spec.release > latest_known_release()


def test_known_release_does_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnknownReleaseWarning)
        assert spark(release_label="emr-7.12.0").release.label == "emr-7.12.0"
