"""Tests for the orphaned-cluster sweeper (``emr_patterns.lambdas.emr_sweeper``).

EMR is moto's in-process ``mock_aws`` (see conftest). moto moves a cluster straight from
``TERMINATING`` to ``TERMINATED`` inside ``TerminateJobFlows`` and refuses (``ValidationException``)
to terminate a termination-protected one, like EMR. moto pages ``ListClusters`` (``Marker``) at 50 clusters a
page, as EMR does, so the pagination test creates 103 active clusters and checks that the handler
followed the markers through all three pages (50, 50, 3), with the matching clusters on the last.
"""

from __future__ import annotations

from typing import Any

import boto3
import botocore.awsrequest
import pytest

from emr_patterns.lambdas.emr_sweeper import handler as sweeper

from .conftest import REGION, lambda_context

ACCOUNT = "123456789012"
FAILED = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:pipeline:run-1"
OTHER = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:pipeline:run-2"
TAG = sweeper.DEFAULT_TAG_KEY


@pytest.fixture
def emr(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A moto EMR client for set-up and checks, and a fresh lazily created handler client."""
    monkeypatch.setattr(sweeper, "_EMR_CLIENT", None)
    monkeypatch.delenv("TAG_KEY", raising=False)
    return boto3.client("emr", region_name=REGION)


def _cluster(
    emr: Any, name: str, tags: dict[str, str] | None = None, *, protected: bool = False, primaries: int = 1
) -> str:
    response = emr.run_job_flow(
        Name=name,
        ReleaseLabel="emr-7.13.0",
        JobFlowRole="EMR_EC2_DefaultRole",
        ServiceRole="EMR_DefaultRole",
        Instances={
            "InstanceGroups": [
                {"InstanceRole": "MASTER", "InstanceType": "m7g.xlarge", "InstanceCount": primaries},
                {"InstanceRole": "CORE", "InstanceType": "m7g.xlarge", "InstanceCount": 2},
            ],
            "KeepJobFlowAliveWhenNoSteps": True,
            "TerminationProtected": protected,
        },
        Tags=[{"Key": k, "Value": v} for k, v in (tags or {}).items()],
    )
    return str(response["JobFlowId"])


def _state(emr: Any, cluster_id: str) -> str:
    return str(emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["Status"]["State"])


def _event(arn: str | None = FAILED, status: str | None = "FAILED") -> dict[str, Any]:
    detail: dict[str, Any] = {"stateMachineArn": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:pipeline"}
    if arn is not None:
        detail["executionArn"] = arn
    if status is not None:
        detail["status"] = status
    return {
        "source": "aws.states",
        "detail-type": "Step Functions Execution Status Change",
        "detail": detail,
    }


@pytest.mark.parametrize("status", sorted(sweeper.ORPHANING_STATUSES))
def test_terminates_only_the_failed_executions_clusters(emr: Any, status: str) -> None:
    mine = _cluster(emr, "mine", {TAG: FAILED, "team": "data"})
    protected = _cluster(emr, "mine-protected", {TAG: FAILED}, protected=True)
    multi_primary = _cluster(emr, "mine-ha", {TAG: FAILED}, primaries=3)
    other = _cluster(emr, "other-run", {TAG: OTHER})
    untagged = _cluster(emr, "untagged")
    other_key = _cluster(emr, "other-key", {"execution": FAILED})
    done = _cluster(emr, "done", {TAG: FAILED})
    emr.terminate_job_flows(JobFlowIds=[done])
    assert emr.describe_cluster(ClusterId=multi_primary)["Cluster"]["TerminationProtected"] is True

    result = sweeper.handler(_event(status=status), lambda_context())

    assert result["execution"] == FAILED
    assert sorted(result["terminated"]) == sorted([mine, protected, multi_primary])
    assert sorted(result["skipped"]) == sorted([other, untagged, other_key])
    for cluster_id in (mine, protected, multi_primary):
        assert _state(emr, cluster_id) in {"TERMINATING", "TERMINATED"}
        assert emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["TerminationProtected"] is False
    for cluster_id in (other, untagged, other_key):
        assert _state(emr, cluster_id) == "WAITING"
    assert _state(emr, done) == "TERMINATED"


def test_other_clusters_keep_their_termination_protection(emr: Any) -> None:
    kept = _cluster(emr, "kept", {TAG: OTHER}, protected=True)
    sweeper.handler(_event(), lambda_context())
    described = emr.describe_cluster(ClusterId=kept)["Cluster"]
    assert described["TerminationProtected"] is True and described["Status"]["State"] == "WAITING"


def test_tag_key_from_environment(emr: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAG_KEY", "pipeline-run")
    custom = _cluster(emr, "custom", {"pipeline-run": FAILED})
    default = _cluster(emr, "default-key", {TAG: FAILED})
    result = sweeper.handler(_event(), lambda_context())
    assert result["terminated"] == [custom] and result["skipped"] == [default]


def test_tag_key_from_the_event_wins(emr: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAG_KEY", "ignored")
    custom = _cluster(emr, "custom", {"run": FAILED})
    result = sweeper.handler({**_event(), "tagKey": "run"}, lambda_context())
    assert result["terminated"] == [custom]


def test_no_cluster_to_sweep(emr: Any) -> None:
    assert sweeper.handler(_event(), lambda_context()) == {
        "execution": FAILED,
        "terminated": [],
        "skipped": [],
    }


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (_event(arn=None), "executionArn is missing"),
        (_event(arn="not-an-arn"), "not an execution ARN"),
        (_event(status="SUCCEEDED"), "'SUCCEEDED' is not one of"),
        (_event(status="RUNNING"), "'RUNNING' is not one of"),
        (_event(status=None), "None is not one of"),
        ({"detail-type": "Scheduled Event"}, "no 'detail' object"),
        ({"detail": "FAILED"}, "no 'detail' object"),
        ("FAILED", "not an object"),
        (None, "not an object"),
    ],
)
def test_malformed_event_is_logged_and_ignored(
    emr: Any, caplog: pytest.LogCaptureFixture, event: Any, reason: str
) -> None:
    tagged = _cluster(emr, "tagged", {TAG: FAILED})
    with caplog.at_level("WARNING", logger=sweeper.logger.name):
        result = sweeper.handler(event, lambda_context())
    assert result["execution"] is None and result["terminated"] == [] and reason in result["ignored"]
    assert any("ignoring event" in r.getMessage() and reason in r.getMessage() for r in caplog.records)
    assert _state(emr, tagged) == "WAITING"


def test_pagination_over_more_than_one_page(emr: Any) -> None:
    """103 active clusters take three pages of ListClusters; the matching ones are on the last."""
    filler = [_cluster(emr, f"filler-{i}", {TAG: OTHER}) for i in range(100)]
    mine = [_cluster(emr, f"mine-{i}", {TAG: FAILED}) for i in range(3)]
    markers: list[str | None] = []
    sizes: list[int] = []
    client = sweeper._emr()
    client.meta.events.register(
        "before-parameter-build.emr.ListClusters",
        lambda params, **_: markers.append(params.get("Marker")),
    )
    client.meta.events.register(
        "after-call.emr.ListClusters", lambda parsed, **_: sizes.append(len(parsed["Clusters"]))
    )
    result = sweeper.handler(_event(), lambda_context())
    assert sizes == [50, 50, 3]
    assert markers[0] is None and all(markers[1:]) and len(set(markers)) == 3
    assert sorted(result["terminated"]) == sorted(mine)
    assert len(result["skipped"]) == len(filler)
    assert all(_state(emr, c) in {"TERMINATING", "TERMINATED"} for c in mine)


def test_throttling_is_retried_with_backoff(emr: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two throttled ListClusters answers, then moto's: botocore's standard mode retries them."""
    mine = _cluster(emr, "mine", {TAG: FAILED})
    client = sweeper._emr()
    assert client.meta.config.retries["mode"] == "standard"
    throttled = []

    def throttle(request: Any, **_: Any) -> Any:
        if len(throttled) < 2:
            throttled.append(request.url)
            body = b'{"__type": "ThrottlingException", "message": "Rate exceeded"}'
            return botocore.awsrequest.AWSResponse(request.url, 400, {"x-amzn-requestid": "t"}, _Raw(body))
        return None

    # First in line, so its answer (not moto's) is the one botocore takes.
    client.meta.events.register_first("before-send.emr.ListClusters", throttle)
    monkeypatch.setattr("time.sleep", lambda seconds: None)  # the backoff itself is botocore's
    result = sweeper.handler(_event(), lambda_context())
    assert len(throttled) == 2
    assert result["terminated"] == [mine]


def test_other_api_errors_propagate(emr: Any) -> None:
    """An error that is not transient (here a cluster that vanished) fails the invocation."""
    from botocore.exceptions import ClientError

    mine = _cluster(emr, "mine", {TAG: FAILED})
    client = sweeper._emr()

    def deny(**_: Any) -> Any:
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "DescribeCluster")

    client.meta.events.register_first("before-call.emr.DescribeCluster", deny)
    with pytest.raises(ClientError, match="AccessDenied"):
        sweeper.handler(_event(), lambda_context())
    assert _state(emr, mine) == "WAITING"


class _Raw:
    """The raw body of a stubbed HTTP response (what ``AWSResponse`` streams from)."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Any:
        yield self._body
