"""ReleaseLabel: parsing, ordering, unknown labels and feature gates."""

from __future__ import annotations

import warnings

import pytest

from emr_patterns.spec import (
    DEFAULT_RELEASE,
    Feature,
    ReleaseLabel,
    UnknownReleaseWarning,
    feature_problems,
    known_release_labels,
    latest_known_release,
    nearest_release_labels,
)


def parse_quietly(label: str) -> ReleaseLabel:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnknownReleaseWarning)
        return ReleaseLabel.parse(label, allow_unknown=True)


def test_default_release_is_known_and_parses_without_warning() -> None:
    assert DEFAULT_RELEASE == "emr-7.13.0"
    assert DEFAULT_RELEASE in known_release_labels()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        release = ReleaseLabel.parse(DEFAULT_RELEASE)
    assert release.version == (7, 13, 0)
    assert str(release) == DEFAULT_RELEASE


def test_ordering_is_numeric_not_lexical() -> None:
    labels = ["emr-6.10.0", "emr-6.9.1", "emr-5.36.2", "emr-7.0.0", "emr-6.9.0"]
    ordered = sorted(ReleaseLabel.parse(x) for x in labels)
    assert [r.label for r in ordered] == ["emr-5.36.2", "emr-6.9.0", "emr-6.9.1", "emr-6.10.0", "emr-7.0.0"]
    assert ReleaseLabel.parse("emr-6.10.0") > ReleaseLabel.parse("emr-6.9.1")
    assert ReleaseLabel.parse("emr-6.10.0") == ReleaseLabel.parse("emr-6.10.0")


@pytest.mark.parametrize(
    "label", ["emr-6.10", "6.10.0", "emr-6.10.0-beta", "EMR-6.10.0", "emr-06.1.0", "", "emr-7"]
)
def test_malformed_label_is_an_error_naming_prop_value_fix(label: str, raises_problem) -> None:
    raises_problem(lambda: ReleaseLabel.parse(label), prop="release_label", value=label, says="emr-X.Y.Z")


def test_non_string_label_is_an_error(raises_problem) -> None:
    raises_problem(lambda: ReleaseLabel.parse(6.10), prop="release_label", says="emr-X.Y.Z")  # type: ignore[arg-type]


def test_newer_unknown_label_is_accepted_with_a_warning_when_allowed() -> None:
    # Changed for issue 15.5: an unknown label is now an error unless allow_unknown=True.
    newest = latest_known_release()
    newer = f"emr-{newest.major}.{newest.minor + 1}.0"
    with pytest.warns(UnknownReleaseWarning, match="newer than the newest release"):
        release = ReleaseLabel.parse(newer, allow_unknown=True)
    assert release > newest
    assert release.supports(Feature.NATIVE_LDAP)


def test_unpublished_older_label_is_accepted_with_a_warning_when_allowed() -> None:
    # Changed for issue 15.5: as above, the opt-out keeps the old warning.
    with pytest.warns(UnknownReleaseWarning, match="not a release label EMR has published"):
        ReleaseLabel.parse("emr-6.16.0", allow_unknown=True)


def test_unknown_label_is_an_error_naming_the_nearest_known_labels(raises_problem) -> None:
    err = raises_problem(
        lambda: ReleaseLabel.parse("emr-7.31.0"), prop="release_label", value="emr-7.31.0", says="newer"
    )
    line = err.problems[0]
    assert f"'{latest_known_release().label}'" in line and "'emr-7.3.0'" in line
    assert "allow_unknown_release=True" in line
    err = raises_problem(
        lambda: ReleaseLabel.parse("emr-6.16.0"), prop="release_label", says="not a release label EMR"
    )
    assert "'emr-6.15.0'" in err.problems[0] and "'emr-7.0.0'" in err.problems[0]


def test_nearest_labels_are_neighbours_then_look_alikes() -> None:
    assert nearest_release_labels(parse_quietly("emr-6.16.0"))[:2] == ("emr-6.15.0", "emr-7.0.0")
    newest = latest_known_release()
    assert nearest_release_labels(parse_quietly("emr-99.0.0"))[0] == newest.label


def test_known_label_raises_nothing_and_warns_nothing() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ReleaseLabel.parse("emr-6.15.0").version == (6, 15, 0)
        assert ReleaseLabel.parse("emr-6.15.0", allow_unknown=True).version == (6, 15, 0)


@pytest.mark.parametrize(
    ("feature", "first", "before"),
    [
        (Feature.GRAVITON2, "emr-6.1.0", "emr-6.0.0"),
        (Feature.GRAVITON2, "emr-5.31.0", "emr-5.30.1"),
        (Feature.MULTIPLE_PRIMARY_NODES_GROUPS, "emr-5.23.0", "emr-5.22.0"),
        (Feature.MULTIPLE_PRIMARY_NODES_FLEETS, "emr-6.12.0", "emr-6.11.0"),
        (Feature.MULTIPLE_PRIMARY_NODES_FLEETS, "emr-6.8.1", "emr-6.8.0"),
        (Feature.MULTIPLE_PRIMARY_NODES_FLEETS, "emr-5.36.1", "emr-5.36.0"),
        (Feature.HIVE_ACID, "emr-6.1.0", "emr-6.0.0"),
        (Feature.NATIVE_LDAP, "emr-6.12.0", "emr-6.11.1"),
        (Feature.RUNTIME_ROLES, "emr-6.7.0", "emr-6.6.0"),
        (Feature.AUTO_TERMINATION, "emr-6.1.0", "emr-6.0.0"),
        (Feature.AUTO_TERMINATION, "emr-5.30.0", "emr-5.29.0"),
        (Feature.IMDSV2_ONLY, "emr-6.2.0", "emr-6.1.0"),
        (Feature.IMDSV2_ONLY, "emr-5.32.0", "emr-5.31.0"),
        (Feature.IMDSV2_ONLY, "emr-5.27.1", "emr-5.27.0"),
        (Feature.LOG_ENCRYPTION, "emr-5.30.0", "emr-5.29.0"),
        (Feature.LOG_ENCRYPTION, "emr-6.1.0", "emr-6.0.0"),
        (Feature.MANAGED_SCALING, "emr-5.30.0", "emr-5.29.0"),
        (Feature.STEP_CONCURRENCY, "emr-5.28.0", "emr-5.27.0"),
        (Feature.CUSTOM_AMI, "emr-5.7.0", "emr-5.6.0"),
        (Feature.INSTANCE_FLEETS, "emr-5.1.0", "emr-5.0.3"),
    ],
)
def test_feature_gates_open_at_the_introducing_release(feature: Feature, first: str, before: str) -> None:
    assert parse_quietly(first).supports(feature)
    assert not parse_quietly(before).supports(feature)
    assert ReleaseLabel.parse(DEFAULT_RELEASE).supports(feature)


def test_multi_primary_fleets_skip_the_unpatched_6_9_0_to_6_11_0() -> None:
    for label in ("emr-6.9.0", "emr-6.10.0", "emr-6.11.0"):
        assert not parse_quietly(label).supports(Feature.MULTIPLE_PRIMARY_NODES_FLEETS), label
    for label in ("emr-6.9.1", "emr-6.10.1", "emr-6.11.1"):
        assert parse_quietly(label).supports(Feature.MULTIPLE_PRIMARY_NODES_FLEETS), label


def test_log_encryption_excludes_6_0_0_only() -> None:
    assert parse_quietly("emr-5.36.2").supports(Feature.LOG_ENCRYPTION)
    assert not parse_quietly("emr-6.0.0").supports(Feature.LOG_ENCRYPTION)


def test_feature_problems_names_prop_value_and_fix() -> None:
    problems = feature_problems(parse_quietly("emr-6.11.1"), Feature.NATIVE_LDAP, prop="ldap", value="on")
    assert len(problems) == 1
    assert problems[0].startswith("ldap='on'") and "emr-6.12.0+" in problems[0] and "Fix: " in problems[0]
    assert feature_problems(parse_quietly("emr-6.12.0"), Feature.NATIVE_LDAP, prop="ldap", value="on") == []
