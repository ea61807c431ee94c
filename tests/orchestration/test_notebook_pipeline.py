"""NotebookPipeline: graph invariants over the deployed ASL, botocore validity, IAM, gates, bad props.

Two pipelines are synthesized once: ``Notebooks`` on a transient cluster (two notebooks, the
second parameterized by the first's result and by the execution input) and ``OnCluster`` on an
existing cluster. Every check reads the synthesized ``DefinitionString``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import botocore.session
import botocore.validate
import pytest
from aws_cdk import Duration

from emr_patterns import EmrPatternsValidationError
from emr_patterns.orchestration.notebooks import (
    NOTEBOOK_APPLICATIONS,
    NotebookFile,
    NotebookParam,
    NotebookPipeline,
    NotebookRun,
)

from ..spec.test_acceptance import assert_botocore_valid
from .conftest import make_platform, make_spec, resolve_tokens
from .test_pipeline_asl import _failure_violations, _states, _tasks
from .test_pipeline_asl import _sampled as sample_paths

pytestmark = pytest.mark.cdk

NOTEBOOK_JSON = {
    "nbformat": 4,
    "nbformat_minor": 5,
    "metadata": {"kernelspec": {"name": "pysparkkernel", "display_name": "PySpark", "language": "python"}},
    "cells": [
        {
            "cell_type": "code",
            "metadata": {"tags": ["parameters"]},
            "source": "DATE = '2026-01-01'\nTOP_K = 5\nSTATES = []\nRESULT_URI = ''\n",
            "outputs": [],
            "execution_count": None,
        }
    ],
}


def notebook_file(tmp: Path) -> str:
    path = tmp / "top.ipynb"
    path.write_text(json.dumps(NOTEBOOK_JSON))
    return str(path)


def notebook_spec(**overrides: Any) -> Any:
    return make_spec(applications=NOTEBOOK_APPLICATIONS, **overrides)


def two_notebooks(platform: Any, path: str) -> list[NotebookRun]:
    return [
        NotebookRun(
            "top",
            NotebookFile(path),
            parameters={
                "DATE": NotebookParam.from_input("date", date_only=True),
                "TOP_K": 5,
                "STATES": ["TX"],
            },
            writes_result=True,
        ),
        NotebookRun(
            "trail",
            f"s3://{platform.artifacts_bucket.bucket_name}/notebooks/trail.ipynb",
            parameters={
                "STATE": NotebookParam.from_result("top_state"),
                "DATE": NotebookParam.from_input("date", date_only=True),
                "RUN": NotebookParam.execution_name(),
            },
            timeout=Duration.minutes(10),
        ),
    ]


class _App:
    def __init__(self, app: Any, stack: Any, template: dict[str, Any]) -> None:
        self.app, self.stack, self.template = app, stack, template

    def asl(self, prefix: str) -> dict[str, Any]:
        (machine,) = [
            r
            for k, r in self.template["Resources"].items()
            if r["Type"] == "AWS::StepFunctions::StateMachine" and k.startswith(prefix)
        ]
        return json.loads(resolve_tokens(machine["Properties"]["DefinitionString"]))

    def policy(self, prefix: str) -> dict[str, dict[str, Any]]:
        (policy,) = [
            r
            for k, r in self.template["Resources"].items()
            if r["Type"] == "AWS::IAM::ManagedPolicy" and k.startswith(prefix)
        ]
        return {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}


@pytest.fixture(scope="module")
def notebook_app(tmp_path_factory: pytest.TempPathFactory) -> _App:
    from aws_cdk import aws_iam as iam

    app, stack, platform = make_platform()
    path = notebook_file(tmp_path_factory.mktemp("notebooks"))
    pipeline = NotebookPipeline(
        stack,
        "Notebooks",
        platform=platform,
        spec=notebook_spec(),
        notebooks=two_notebooks(platform, path),
        input_fields={"date": "string"},
    )
    pipeline.grant_start_execution(iam.Role(stack, "Starter", assumed_by=iam.AccountRootPrincipal()))
    NotebookPipeline(
        stack,
        "OnCluster",
        platform=platform,
        cluster_id="j-2AXXXXXXGAPLF",
        notebooks=[NotebookRun("only", NotebookFile(path), parameters={"TOP_K": 3})],
    )
    template = app.synth().get_stack_by_name("PipelineTest").template
    return _App(app, stack, template)


# ---- graph invariants --------------------------------------------------------------------------


def test_failure_paths_after_creation_terminate_before_failing(notebook_app):
    asl = notebook_app.asl("Notebooks")
    assert _failure_violations(asl) == []
    run = asl["States"]["RunNotebooks"]
    assert run["Type"] == "Parallel"
    assert run["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "TerminateAfterFailure"}
    ]
    assert asl["States"]["TerminateAfterFailure"]["Next"] == "PipelineFailed"


def test_every_task_has_a_timeout_and_start_and_create_are_not_retried(notebook_app):
    for prefix, count in (("Notebooks", 10), ("OnCluster", 3)):
        asl = notebook_app.asl(prefix)
        tasks = [(n, s) for n, s, _ in _states(asl) if s["Type"] == "Task"]
        assert all(isinstance(s.get("TimeoutSeconds"), int) and s["TimeoutSeconds"] > 0 for _, s in tasks)
        assert asl["TimeoutSeconds"] == 12 * 3600
        starts = [s for n, s in tasks if n.startswith("Start-")]
        assert starts and not any(s.get("Retry") for s in starts)
        assert len(tasks) == count  # (create, terminate x2) + (start, describe, stop) x2 + read
    ((_, create),) = _tasks(notebook_app.asl("Notebooks"), "createCluster.sync")
    assert "Retry" not in create


def test_every_catch_keeps_the_cluster_id(notebook_app):
    asl = notebook_app.asl("Notebooks")
    catches = [c for _, s, _ in _states(asl) for c in s.get("Catch", [])]
    # The stop-after-timeout catch writes elsewhere so the timeout error is the one reported.
    assert {c["ResultPath"] for c in catches} == {"$.error", "$.stop_error"}
    assert all(c["ErrorEquals"] == ["States.ALL"] for c in catches)
    # No state inside the branch writes $.cluster.
    inner = [s for _, s, parent in _states(asl) if parent == "RunNotebooks"]
    assert not [s for s in inner if str(s.get("ResultPath", "")).startswith("$.cluster")]


def test_each_notebook_polls_until_an_end_status_and_is_bounded(notebook_app):
    states = {n: s for n, s, _ in _states(notebook_app.asl("Notebooks"))}
    check = states["Check-trail"]
    rules = {json.dumps(c, sort_keys=True): c["Next"] for c in check["Choices"]}
    assert any('"StringEquals": "FINISHED"' in r and n == "Done-trail" for r, n in rules.items())
    assert any("FAILED" in r and "STOPPED" in r and n == "Failed-trail" for r, n in rules.items())
    # 10 minutes at 30 s a poll: the 20th poll stops the notebook.
    (bound,) = [c for c in check["Choices"] if "NumericGreaterThanEquals" in c]
    assert bound == {
        "Variable": "$.notebook.polls.value",
        "NumericGreaterThanEquals": 20,
        "Next": "Stop-trail",
    }
    assert check["Default"] == "Wait-trail"
    assert states["Wait-trail"]["Seconds"] == 30 and states["Wait-trail"]["Next"] == "Describe-trail"
    assert states["Stop-trail"]["Next"] == "NotebookTimedOut-trail"
    assert states["NotebookTimedOut-trail"]["Error"] == "NotebookTimedOut"
    # A failed notebook fails with its LastStateChangeReason.
    failed = states["Failed-trail"]
    assert failed["Choices"][0] == {
        "Variable": "$.status.Execution.LastStateChangeReason",
        "IsPresent": True,
        "Next": "Reason-trail",
    }
    assert "LastStateChangeReason" in states["Reason-trail"]["Parameters"]["Cause.$"]
    assert states["NotebookFailed-trail"]["CausePath"] == "$.error.Cause"


def test_one_notebook_result_feeds_the_next_notebook_parameters(notebook_app):
    states = {n: s for n, s, _ in _states(notebook_app.asl("Notebooks"))}
    top = states["Params-top"]["Parameters"]
    assert top["RESULT_URI.$"].startswith("States.Format('s3://{}/notebook-runs/{}/top/result.json'")
    assert top["DATE.$"] == "States.ArrayGetItem(States.StringSplit($.date, 'T'), 0)"
    assert top["TOP_K"] == 5 and top["STATES"] == ["TX"]
    read = states["ReadResult-top"]
    assert read["Resource"] == "arn:aws:states:::aws-sdk:s3:getObject"
    assert read["ResultSelector"] == {"value.$": "States.StringToJson($.Body)"}
    assert read["ResultPath"] == "$.results.top"
    assert read["Next"] == "CheckResult-top"
    (rule,) = states["CheckResult-top"]["Choices"]
    assert rule["Or"] == [{"Variable": "$.results.top.value.top_state", "IsPresent": False}]
    assert states[rule["Next"]]["Error"] == "NotebookResultIncomplete"
    assert states[states["CheckResult-top"]["Default"]]["Next"] == "Params-trail"
    trail = states["Params-trail"]["Parameters"]
    assert trail["STATE.$"] == "$.results.top.value.top_state"
    assert trail["RUN.$"] == "$$.Execution.Name"
    assert "RESULT_URI.$" not in trail
    start = states["Start-trail"]["Parameters"]
    assert start["NotebookParams.$"] == "States.JsonToString($.params)"
    assert start["ExecutionEngine"]["Id.$"] == "$.cluster.ClusterId"


def test_bad_input_fails_before_any_cluster_exists(notebook_app):
    asl = notebook_app.asl("Notebooks")
    first = asl["States"][asl["StartAt"]]
    assert first["Type"] == "Choice" and first["Default"] == "CreateCluster"
    (choice,) = first["Choices"]
    assert {"Variable": "$.date", "IsString": False} in choice["Or"]
    assert asl["States"][choice["Next"]]["Error"] == "InvalidInput"


def test_the_existing_cluster_pipeline_creates_and_terminates_nothing(notebook_app):
    asl = notebook_app.asl("OnCluster")
    resources = [s.get("Resource", "") for _, s, _ in _states(asl)]
    assert not [r for r in resources if "elasticmapreduce:" in r]
    states = {n: s for n, s, _ in _states(asl)}
    assert states["Start-only"]["Parameters"]["ExecutionEngine"]["Id"] == "j-2AXXXXXXGAPLF"
    assert states["RunNotebooks"]["Catch"][0]["Next"] == "PipelineFailed"


# ---- botocore validity ---------------------------------------------------------------------------

SAMPLES = {
    "Id.$": "j-2AXXXXXXGAPLF",
    "Key.$": "notebook-runs/run-1/top",
    "NotebookExecutionName.$": "run-1-top",
    "NotebookParams.$": json.dumps({"DATE": "2026-12-01", "TOP_K": 5}),
    "Value.$": "arn:aws:states:us-east-1:111122223333:execution:Notebooks:run-1",
    "NotebookExecutionId.$": "ex-J02RHGRL3YTU3MQ6FV3Z2Q8IC",
}


def _sampled(value: Any) -> Any:
    return sample_paths(value, SAMPLES)


@pytest.mark.parametrize(
    ("service", "action", "operation"),
    [
        ("emr", "aws-sdk:emr:startNotebookExecution", "StartNotebookExecution"),
        ("emr", "aws-sdk:emr:describeNotebookExecution", "DescribeNotebookExecution"),
        ("emr", "aws-sdk:emr:stopNotebookExecution", "StopNotebookExecution"),
        ("s3", "aws-sdk:s3:getObject", "GetObject"),
    ],
)
def test_sdk_task_parameters_are_valid_requests(notebook_app, service, action, operation):
    model = botocore.session.get_session().get_service_model(service).operation_model(operation)
    for prefix in ("Notebooks", "OnCluster"):
        for _, state in _tasks(notebook_app.asl(prefix), action):
            # SDK integrations take the API's PascalCase member names.
            botocore.validate.validate_parameters(_sampled(state["Parameters"]), model.input_shape)


def test_create_cluster_runs_the_notebook_applications_with_the_engine_group(notebook_app):
    ((_, create),) = _tasks(notebook_app.asl("Notebooks"), "createCluster.sync")
    request = _sampled({k: v for k, v in create["Parameters"].items()})
    assert_botocore_valid(request)
    assert [a["Name"] for a in request["Applications"]] == list(NOTEBOOK_APPLICATIONS)
    (engine,) = request["Instances"]["AdditionalMasterSecurityGroups"]
    assert engine.startswith("GETATT-NotebooksEngineSecurityGroup")


# ---- IAM, network, gates -------------------------------------------------------------------------


def test_machine_iam_uses_the_real_emr_actions_and_passes_only_the_notebook_role(notebook_app):
    template = notebook_app.template
    rendered = json.dumps(template)
    assert '"emr:' not in rendered  # aws-cdk's CallAwsService would write emr:startNotebookExecution
    statements = notebook_app.policy("NotebooksEmrPolicy")
    assert set(statements["NotebookExecutions"]["Action"]) == {
        "elasticmapreduce:StartNotebookExecution",
        "elasticmapreduce:DescribeNotebookExecution",
        "elasticmapreduce:StopNotebookExecution",
        "elasticmapreduce:AddTags",
    }
    passed = statements["PassNotebookServiceRole"]
    assert passed["Resource"]["Fn::GetAtt"][0].startswith("NotebooksNotebookServiceRole")
    assert passed["Condition"] == {"StringEquals": {"iam:PassedToService": "elasticmapreduce.amazonaws.com"}}
    assert "PassServiceRole" in statements and "TransientClusters" in statements
    existing = notebook_app.policy("OnClusterEmrPolicy")
    assert "TransientClusters" not in existing and "PassServiceRole" not in existing


def test_notebook_service_role_reads_the_notebooks_and_writes_only_the_run_prefix(notebook_app):
    template = notebook_app.template
    (role,) = [
        r
        for k, r in template["Resources"].items()
        if k.startswith("NotebooksNotebookServiceRole") and r["Type"] == "AWS::IAM::Role"
    ]
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "elasticmapreduce.amazonaws.com"}
    assert "aws:SourceAccount" in trust["Condition"]["StringEquals"]
    statements = notebook_app.policy("NotebooksNotebookServicePolicy")
    write = json.dumps(statements["WriteRuns"]["Resource"])
    assert "/notebook-runs/*" in write and "PlatformStorageWork" in write
    read = json.dumps(statements["ReadNotebooks"]["Resource"])
    assert "notebooks/trail.ipynb" in read and ".ipynb" in read
    for sid in ("CreateNotebookInterfaces", "ManageTaggedInterfaces"):
        assert statements[sid]["Condition"] == {
            "StringEquals": {"aws:ResourceTag/for-use-with-amazon-emr-managed-policies": "true"}
        }


def test_engine_reachable_only_from_the_workspace_group(notebook_app):
    template = notebook_app.template
    groups = {
        k: r
        for k, r in template["Resources"].items()
        if r["Type"] == "AWS::EC2::SecurityGroup" and k.startswith(("NotebooksEngine", "NotebooksWorkspace"))
    }
    assert len(groups) == 2
    for group in groups.values():
        tags = {t["Key"]: t["Value"] for t in group["Properties"].get("Tags", [])}
        assert tags["for-use-with-amazon-emr-managed-policies"] == "true"
    ingress = [
        r["Properties"]
        for k, r in template["Resources"].items()
        if r["Type"] == "AWS::EC2::SecurityGroupIngress" and k.startswith("NotebooksEngine")
    ]
    assert len(ingress) == 1 and ingress[0]["FromPort"] == ingress[0]["ToPort"] == 18888
    assert ingress[0]["SourceSecurityGroupId"]["Fn::GetAtt"][0].startswith("NotebooksWorkspace")


def test_zero_nag_findings(notebook_app):
    from emr_patterns.gates import nag_findings

    assert nag_findings(notebook_app.app) == []


# ---- bad props -------------------------------------------------------------------------------------


def _build(tmp_path: Path, **overrides: Any) -> Any:
    _, stack, platform = make_platform()
    path = notebook_file(tmp_path)
    kwargs: dict[str, Any] = dict(
        platform=platform,
        spec=notebook_spec(),
        notebooks=two_notebooks(platform, path),
        input_fields={"date": "string"},
    )
    kwargs.update({k: (v(platform, path) if callable(v) else v) for k, v in overrides.items()})
    return NotebookPipeline(stack, "Notebooks", **kwargs)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"notebooks": lambda p, f: [NotebookRun("a", "s3://someone-elses-bucket/nb.ipynb")]},
            "outside the platform's buckets",
        ),
        (
            {"notebooks": lambda p, f: [NotebookRun("a", NotebookFile(f), parameters=["x"])]},
            "is not an object",
        ),
        (
            {"notebooks": lambda p, f: [NotebookRun("a", NotebookFile(f), parameters="x=1")]},
            "is not an object",
        ),
        (
            {
                "notebooks": lambda p, f: [
                    NotebookRun("a", NotebookFile(f), parameters={"D": NotebookParam.from_input("day")})
                ]
            },
            "untyped input",
        ),
        (
            {
                "notebooks": lambda p, f: [
                    NotebookRun("a", NotebookFile(f), parameters={"S": NotebookParam.from_result("x")})
                ]
            },
            "names no notebook before",
        ),
        (
            {
                "notebooks": lambda p, f: [
                    NotebookRun("a", NotebookFile(f)),
                    NotebookRun("b", NotebookFile(f), parameters={"S": NotebookParam.from_result("x")}),
                ]
            },
            "does not write a result",
        ),
        (
            {
                "notebooks": lambda p, f: [
                    NotebookRun("a", NotebookFile(f)),
                    NotebookRun("a", NotebookFile(f)),
                ]
            },
            "used twice",
        ),
        ({"notebooks": lambda p, f: [NotebookRun("a-b", NotebookFile(f))]}, "1-40 letters"),
        (
            {"notebooks": lambda p, f: [NotebookRun("a", NotebookFile(f), parameters={"x": {"p.$": "$.a"}})]},
            "not ending in",
        ),
        (
            {"notebooks": lambda p, f: [NotebookRun("a", NotebookFile(f), parameters={"x": object()})]},
            "not a JSON value",
        ),
        (
            {"notebooks": lambda p, f: [NotebookRun("a", NotebookFile(f), environment={"STAGE": "x"})]},
            "KERNEL_",
        ),
        (
            {"notebooks": lambda p, f: [NotebookRun("a", NotebookFile("/nonexistent/x.ipynb"))]},
            "is not an .ipynb file",
        ),
        ({"notebooks": []}, "non-empty sequence of NotebookRun"),
        (
            {"notebooks": lambda p, f: [NotebookRun("a", NotebookFile(f), parameters={"TOPK": 5})]},
            "NotebookParams key 'TOPK' is not a parameter of top.ipynb",
        ),
        ({"cluster_id": "j-ABC"}, "exactly one must be given"),
        ({"spec": None}, "exactly one must be given"),
        ({"spec": None, "cluster_id": "cluster-1"}, "is not a cluster id"),
        ({"spec": make_spec()}, "which notebook executions need"),
        ({"input_fields": {"date": "datetime"}}, "is not an input type"),
        ({"poll_interval": Duration.seconds(1)}, "10 s to 1 hour"),
        ({"output_bucket": lambda p, f: p.artifacts_bucket}, "not one of the platform's data buckets"),
    ],
)
def test_bad_props_raise_naming_the_prop(tmp_path, overrides, expected):
    with pytest.raises(EmrPatternsValidationError, match=expected) as caught:
        _build(tmp_path, **overrides)
    assert isinstance(caught.value, ValueError)


def test_a_notebook_in_the_platform_buckets_and_a_data_bucket_output_are_accepted(tmp_path):
    pipeline = _build(
        tmp_path,
        notebooks=lambda p, f: [NotebookRun("a", f"s3://{p.data_buckets[0].bucket_name}/nb/a.ipynb")],
        output_bucket=lambda p, f: p.data_buckets[2],
    )
    assert pipeline.output_bucket is pipeline.platform.data_buckets[2]


def test_docs_props_table_lists_every_prop():
    import inspect

    from ..constructs.test_docs import DOCS, _single_props_table

    params = set(inspect.signature(NotebookPipeline.__init__).parameters) - {"self", "scope", "id"}
    assert _single_props_table(DOCS / "notebook-pipeline.md", "## Props") == params
