"""Fixtures for the spec-layer tests: placeholder platform bindings and a problem matcher."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from emr_patterns.errors import EmrPatternsValidationError
from emr_patterns.spec import ClusterSpec, InstanceFleetSpec, PlatformBindings

SECRET_ARN = "arn:aws:secretsmanager:us-east-1:111122223333:secret:hive-metastore-AbCdEf"
KMS_ARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def small_spark(**overrides: Any) -> ClusterSpec:
    """A valid two-fleet Graviton cluster (one primary, one core type); overrides replace fields."""
    props: dict[str, Any] = {
        "name": "spark",
        "primary_fleet": InstanceFleetSpec.primary(["m7g.xlarge"]),
        "core_fleet": InstanceFleetSpec.core(["m7g.2xlarge"]),
    }
    props.update(overrides)
    return ClusterSpec(**props)


@pytest.fixture
def bindings() -> PlatformBindings:
    """Placeholder platform values, as the construct layer would pass them."""
    return PlatformBindings(
        service_role="EmrServiceRole",
        instance_profile="EmrInstanceProfile",
        security_configuration="emr-patterns-secure",
        log_uri="s3://emr-logs-111122223333/clusters/",
        subnet_ids=("subnet-0aaa1111", "subnet-0bbb2222", "subnet-0ccc3333"),
        log_encryption_kms_key_id=KMS_ARN,
        emr_managed_primary_security_group="sg-0primary",
        emr_managed_core_security_group="sg-0core",
        service_access_security_group="sg-0service",
    )


ProblemCheck = Callable[..., EmrPatternsValidationError]


@pytest.fixture
def raises_problem() -> ProblemCheck:
    """``raises_problem(fn, prop=..., value=..., says=...)``: call ``fn``, expect one named problem.

    Checks the issue's contract: a ``ValueError`` whose problem line names the prop, the value and
    a fix (``Fix: ...``).
    """

    def check(
        fn: Callable[[], object], *, prop: str, value: object = None, says: str = ""
    ) -> EmrPatternsValidationError:
        with pytest.raises(ValueError) as info:
            fn()
        err = info.value
        assert isinstance(err, EmrPatternsValidationError)
        lines = [p for p in err.problems if p.startswith(prop)]
        assert lines, f"no problem for {prop!r} in {err.problems}"
        line = next((p for p in lines if says.lower() in p.lower()), None)
        assert line is not None, f"no problem for {prop!r} mentions {says!r}: {lines}"
        if value is not None:
            needle = value if isinstance(value, str) else repr(value)
            assert needle in line, f"value {needle!r} not named in: {line}"
        assert "Fix: " in line and line.split("Fix: ", 1)[1].strip(), line
        return err

    return check
