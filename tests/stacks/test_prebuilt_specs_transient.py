"""The prebuilt stacks' specs also render valid transient-cluster (RunJobFlow) requests.

The long-running stacks and a Step Functions pipeline built from the same spec must agree; this
checks the RunJobFlow side of the prebuilt specs against botocore's bundled EMR model.
"""

from __future__ import annotations

import pytest

from emr_patterns.spec import PlatformBindings
from emr_patterns.stacks.clusters import graviton_spark_spec, spot_fleet_spec

from ..spec.conftest import KMS_ARN
from ..spec.test_acceptance import assert_botocore_valid

BINDINGS = PlatformBindings(
    service_role="arn:aws:iam::111122223333:role/EmrServiceRole",
    instance_profile="arn:aws:iam::111122223333:instance-profile/EmrInstanceProfile",
    security_configuration="emr-patterns-secure",
    log_uri="s3://emr-logs-111122223333/emr/",
    subnet_ids=("subnet-0aaa1111", "subnet-0bbb2222"),
    log_encryption_kms_key_id=KMS_ARN,
    emr_managed_primary_security_group="sg-0primary",
    emr_managed_core_security_group="sg-0core",
    service_access_security_group="sg-0service",
)


@pytest.mark.parametrize("make_spec", [graviton_spark_spec, spot_fleet_spec], ids=["graviton", "spot"])
def test_prebuilt_specs_render_botocore_valid_run_job_flow(make_spec):
    request = make_spec().to_run_job_flow_request(BINDINGS)
    assert_botocore_valid(request)
    fleets = request["Instances"]["InstanceFleets"]
    assert [f["InstanceFleetType"] for f in fleets] == ["MASTER", "CORE", "TASK"]
    assert request["AutoTerminationPolicy"] == {"IdleTimeout": 3600}
    assert "Ec2KeyName" not in request["Instances"]
