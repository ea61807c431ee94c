"""EventBridge target: terminate the EMR clusters an aborted, timed-out or failed execution left.

Stopping a Step Functions execution (or its timing out, or a failure outside a Catch) does not
terminate a cluster it created. The pipelines tag each cluster ``<tag key>=<execution ARN>``; this
handler receives the "Step Functions Execution Status Change" event of such an execution and
terminates exactly the clusters carrying that tag.

``handler(event, context)``
    ``event["detail"]`` must hold ``executionArn`` and a ``status`` of ``ABORTED``,
    ``TIMED_OUT`` or ``FAILED``. Anything else is logged and ignored (the summary says why):
    the rule only sends those, so a malformed event is a misconfiguration, and raising would only
    make Lambda retry it into the dead-letter queue.

    Lists the clusters in ``STARTING``, ``BOOTSTRAPPING``, ``RUNNING`` or ``WAITING``
    (``ListClusters``, every page), reads each one's tags (``DescribeCluster``) and, for those
    tagged with the execution's ARN, turns termination protection off when it is on
    (multi-primary clusters have it on automatically) and calls ``TerminateJobFlows``.

    Returns ``{"execution": <ARN or None>, "terminated": [ids], "skipped": [ids]}``, where
    ``skipped`` are the active clusters that do not carry the tag (or carry another execution's
    ARN), and ``ignored`` (only for an ignored event) says why.

The tag key comes from the event's top-level ``tagKey`` (the construct's rule writes it with an
input transformer, so the function needs no environment variables), else the environment
variable ``TAG_KEY``, else ``emr-patterns:execution-arn``.

Throttling and transient errors are retried with backoff by botocore's ``standard`` retry mode;
any other API error propagates, so Lambda retries the asynchronous invocation and finally sends
the event to the function's dead-letter queue.

IAM actions needed: ``elasticmapreduce:ListClusters`` (resource ``*``),
``elasticmapreduce:DescribeCluster``, ``elasticmapreduce:SetTerminationProtection`` and
``elasticmapreduce:TerminateJobFlows`` (scopable to ``cluster/*``, the last two by tag).

Only cluster ids, the execution ARN and counts are logged.
"""

from __future__ import annotations

import logging
import os
from typing import Any

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)

DEFAULT_TAG_KEY = "emr-patterns:execution-arn"
#: Execution statuses after which a cluster the execution created is orphaned.
ORPHANING_STATUSES = frozenset({"ABORTED", "TIMED_OUT", "FAILED"})
#: Cluster states in which a cluster still runs (and costs).
ACTIVE_STATES = ("STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING")
#: botocore retry settings: standard mode retries throttling with exponential backoff and jitter.
RETRY_CONFIG = {"mode": "standard", "max_attempts": 8}

_EMR_CLIENT: Any = None


def _emr() -> Any:
    """The EMR client, created on first use (through the VPC's ``emr`` interface endpoint)."""
    global _EMR_CLIENT
    if _EMR_CLIENT is None:
        import boto3
        from botocore.config import Config

        _EMR_CLIENT = boto3.client("emr", config=Config(retries=dict(RETRY_CONFIG)))  # type: ignore[arg-type]
    return _EMR_CLIENT


def tag_key_of(event: Any) -> str:
    """The tag key naming the execution: ``event["tagKey"]``, ``$TAG_KEY`` or the default."""
    key = event.get("tagKey") if isinstance(event, dict) else None
    if isinstance(key, str) and key:
        return key
    return os.environ.get("TAG_KEY") or DEFAULT_TAG_KEY


def execution_of(event: Any) -> tuple[str | None, str | None]:
    """(execution ARN, None) for an orphaning status-change event, else (None, why it is ignored)."""
    if not isinstance(event, dict):
        return None, f"event is a {type(event).__name__}, not an object"
    detail = event.get("detail")
    if not isinstance(detail, dict):
        return None, "event has no 'detail' object"
    arn = detail.get("executionArn")
    if not isinstance(arn, str) or not arn.startswith("arn:") or ":execution:" not in arn:
        return None, f"detail.executionArn is missing or not an execution ARN: {arn!r}"
    status = detail.get("status")
    if status not in ORPHANING_STATUSES:
        return None, f"detail.status={status!r} is not one of {sorted(ORPHANING_STATUSES)}"
    return arn, None


def active_cluster_ids(emr: Any) -> list[str]:
    """Ids of every cluster in an active state, over all pages of ``ListClusters``."""
    ids: list[str] = []
    for page in emr.get_paginator("list_clusters").paginate(ClusterStates=list(ACTIVE_STATES)):
        ids.extend(cluster["Id"] for cluster in page.get("Clusters", []))
    return ids


def sweep(emr: Any, execution_arn: str, tag_key: str) -> dict[str, Any]:
    """Terminate the active clusters tagged ``tag_key=execution_arn``; return the summary."""
    terminated: list[str] = []
    skipped: list[str] = []
    for cluster_id in active_cluster_ids(emr):
        cluster = emr.describe_cluster(ClusterId=cluster_id)["Cluster"]
        tags = {tag.get("Key"): tag.get("Value") for tag in cluster.get("Tags", [])}
        if tags.get(tag_key) != execution_arn:
            skipped.append(cluster_id)
            continue
        if cluster.get("TerminationProtected"):
            logger.info("cluster %s: turning termination protection off", cluster_id)
            emr.set_termination_protection(JobFlowIds=[cluster_id], TerminationProtected=False)
        terminated.append(cluster_id)
    if terminated:
        emr.terminate_job_flows(JobFlowIds=terminated)
    logger.info(
        "execution %s: terminated %d cluster(s) %s, skipped %d",
        execution_arn,
        len(terminated),
        terminated,
        len(skipped),
    )
    return {"execution": execution_arn, "terminated": terminated, "skipped": skipped}


def handler(event: Any, context: Any) -> dict[str, Any]:
    """EventBridge entry point (see the module docstring)."""
    execution_arn, why = execution_of(event)
    if execution_arn is None:
        logger.warning("ignoring event: %s", why)
        return {"execution": None, "terminated": [], "skipped": [], "ignored": why}
    return sweep(_emr(), execution_arn, tag_key_of(event))
