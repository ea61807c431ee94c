"""Outer and inner machines: a TransientClusterPipeline whose steps run ClusterStepsPipelines.

The outer machine creates the cluster, loops over the modes and always terminates the cluster;
for every mode it runs two inner machines in order (preprocessing, then the model), each
running its steps on the cluster it is given. Checked on the deployed ASL, against botocore, in
the gates, and executed on moto's ASL interpreter (EMR tasks as stand-ins, see
``test_pipeline_execution``).

moto 5.2 cannot run ``states:startExecution.sync:2`` either: it calls boto3's ``start_execution``
with the integration's PascalCase members (``StateMachineArn``), which botocore drops, and its
backend fails with ``KeyError: 'StateMachineArn'``. So the outer's nested tasks are **stand-ins**
too (a ledger line with the Map item the nested ``Input`` is built from), and each inner machine
runs on moto on its own, from the input that Map item gives it.
"""

from __future__ import annotations

import json
import time
from typing import Any

import botocore.session
import botocore.validate
import pytest
from aws_cdk import Duration

from emr_patterns import EmrPatternsValidationError
from emr_patterns.orchestration import (
    ClusterStepsPipeline,
    NestedPipelineStep,
    PipelineStep,
    TransientClusterPipeline,
)
from emr_patterns.spec.steps import Arg, SparkSubmitStep

from .conftest import make_platform, make_spec, resolve_tokens
from .test_pipeline_asl import _failure_violations, _states, _tasks
from .test_pipeline_execution import CLUSTER_ID, TABLE, _stand_in, moto_interpreter, stand_in_asl

pytestmark = pytest.mark.cdk


class _Nested:
    def __init__(self, app: Any, template: dict[str, Any]) -> None:
        self.app, self.template = app, template

    def machine_id(self, prefix: str) -> str:
        (logical_id,) = [
            k
            for k, r in self.template["Resources"].items()
            if r["Type"] == "AWS::StepFunctions::StateMachine" and k.startswith(prefix)
        ]
        return logical_id

    def asl(self, prefix: str) -> dict[str, Any]:
        resource = self.template["Resources"][self.machine_id(prefix)]
        return json.loads(resolve_tokens(resource["Properties"]["DefinitionString"]))

    def statements(self, prefix: str) -> dict[str, dict[str, Any]]:
        (policy,) = [
            r
            for k, r in self.template["Resources"].items()
            if r["Type"] == "AWS::IAM::ManagedPolicy" and k.startswith(prefix)
        ]
        return {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}


def _inner(stack: Any, platform: Any, id: str, job: str) -> ClusterStepsPipeline:
    return ClusterStepsPipeline(
        stack,
        id,
        platform=platform,
        steps=[
            SparkSubmitStep(
                name=job,
                main=f"s3://code/{job}.py",
                args=("--mode", Arg.path("$.mode"), "--input", Arg.path("$.input.job_input")),
            )
        ],
        input_fields={"job_input": "string"},
    )


@pytest.fixture(scope="module")
def nested() -> _Nested:
    app, stack, platform = make_platform()
    preprocess = _inner(stack, platform, "Preprocess", "preprocess")
    model = _inner(stack, platform, "Model", "model")
    TransientClusterPipeline(
        stack,
        "Outer",
        platform=platform,
        spec=make_spec(),
        steps=[
            NestedPipelineStep("preprocess", preprocess.state_machine),
            NestedPipelineStep("model", model.state_machine, timeout=Duration.hours(2)),
        ],
        input_fields={"job_input": "string"},
    )
    return _Nested(app, app.synth().get_stack_by_name("PipelineTest").template)


def test_outer_failure_paths_terminate_and_nested_tasks_have_timeouts(nested):
    outer = nested.asl("Outer")
    assert _failure_violations(outer) == []
    runs = _tasks(outer, "states:startExecution.sync:2")
    assert [n for n, _ in runs] == ["Step1-preprocess", "Step2-model"]
    assert [s["TimeoutSeconds"] for _, s in runs] == [6 * 3600, 2 * 3600]
    # Both run inside the Map over modes, which catches into terminate-then-fail.
    parents = {name: parent for name, _, parent in _states(outer)}
    assert parents["Step1-preprocess"] == parents["Step2-model"] == "ForEachMode"


def test_nested_input_names_the_cluster_mode_and_outer_input(nested):
    outer = nested.asl("Outer")
    ((_, first), (_, second)) = _tasks(outer, "states:startExecution.sync:2")
    params = first["Parameters"]
    assert params["Input"] == {
        "ClusterId.$": "$.ClusterId",
        "mode.$": "$.mode",
        "input.$": "$.input",
        "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$": "$$.Execution.Id",
    }
    assert params["StateMachineArn"] == f"REF-{nested.machine_id('Preprocess')}"
    assert second["Parameters"]["StateMachineArn"] == f"REF-{nested.machine_id('Model')}"
    assert params["Name.$"] == "States.Format('{}-{}-01-preprocess', $$.Execution.Name, $.mode)"
    model = (
        botocore.session.get_session().get_service_model("stepfunctions").operation_model("StartExecution")
    )
    request = {
        "stateMachineArn": "arn:aws:states:us-east-1:111122223333:stateMachine:Preprocess",
        "name": "run-1-full-01-preprocess",
        "input": json.dumps({"ClusterId": CLUSTER_ID, "mode": "full", "input": {}}),
    }
    botocore.validate.validate_parameters(request, model.input_shape)
    assert set(params) == {"StateMachineArn", "Name.$", "Input"}  # the request's members, PascalCase


def test_inner_machine_validates_its_input_and_cannot_create_or_terminate(nested):
    inner = nested.asl("Preprocess")
    first = inner["States"][inner["StartAt"]]
    variables = {c["Variable"] for c in first["Choices"][0]["Or"]}
    assert variables == {"$.ClusterId", "$.mode", "$.input.job_input"}
    resources = {s.get("Resource") for _, s, _ in _states(inner) if s["Type"] == "Task"}
    assert resources == {"arn:aws:states:::elasticmapreduce:addStep.sync"}
    actions = {a for s in nested.statements("PreprocessEmrPolicy").values() for a in _list(s["Action"])}
    assert actions == {
        "elasticmapreduce:AddJobFlowSteps",
        "elasticmapreduce:DescribeStep",
        "elasticmapreduce:CancelSteps",
        "events:PutTargets",
        "events:PutRule",
        "events:DescribeRule",
    }


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_outer_may_start_only_its_inner_machines(nested):
    statements = nested.statements("OuterEmrPolicy")
    started = [r["Ref"] for r in statements["StartNestedPipelines"]["Resource"]]
    assert sorted(started) == sorted([nested.machine_id("Preprocess"), nested.machine_id("Model")])
    watched = json.dumps(statements["WatchNestedPipelines"]["Resource"])
    assert ":execution:" in watched and watched.count(":*") == 2
    assert set(statements["WatchNestedPipelines"]["Action"]) == {
        "states:DescribeExecution",
        "states:StopExecution",
    }
    assert "StepFunctionsGetEventsForStepFunctionsExecutionRule" in json.dumps(statements["NestedSyncRule"])


def test_zero_nag_findings(nested):
    from emr_patterns.gates import nag_findings

    assert nag_findings(nested.app) == []


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        (
            lambda stack, platform, inner: ClusterStepsPipeline(
                stack, "Bad", platform=platform, steps=[NestedPipelineStep("x", inner.state_machine)]
            ),
            "is a NestedPipelineStep",
        ),
        (
            lambda stack, platform, inner: ClusterStepsPipeline(
                stack,
                "Bad",
                platform=platform,
                steps=[SparkSubmitStep(name="p", main="s3://code/p.py", args=(Arg.path("$.input.day"),))],
            ),
            "untyped input",
        ),
        (
            lambda stack, platform, inner: TransientClusterPipeline(
                stack,
                "Bad",
                platform=platform,
                spec=make_spec(),
                steps=[NestedPipelineStep("x", "arn:aws:states:x")],
            ),
            "is not a state machine",
        ),
        (
            lambda stack, platform, inner: TransientClusterPipeline(
                stack,
                "Bad",
                platform=platform,
                spec=make_spec(),
                steps=[NestedPipelineStep("x", inner.state_machine, timeout=Duration.seconds(5))],
            ),
            "1 minute or more",
        ),
        (
            lambda stack, platform, inner: ClusterStepsPipeline(stack, "Bad", platform=platform, steps=[]),
            "non-empty sequence",
        ),
    ],
)
def test_bad_props(build, expected):
    _, stack, platform = make_platform()
    inner = ClusterStepsPipeline(stack, "Inner", platform=platform, steps=[PipelineStep("a", ["true"])])
    with pytest.raises(EmrPatternsValidationError, match=expected):
        build(stack, platform, inner)


# ---- executed on moto ------------------------------------------------------------------------------


def _outer_stand_in(asl: dict[str, Any]) -> dict[str, Any]:
    asl = stand_in_asl(asl)
    for _, state, _ in _states(asl):
        if state.get("Resource", "").endswith("startExecution.sync:2"):
            name = state["Parameters"]["Name.$"]
            _stand_in(state, f"States.Format('nested {{}} {{}}', {name}, States.JsonToString($))", name)
    return asl


@pytest.fixture(scope="module")
def runner(nested):
    with moto_interpreter() as (sfn, dynamodb, role):
        arns = {
            prefix: sfn.create_state_machine(
                name=prefix, definition=json.dumps(stand_in_asl(nested.asl(prefix))), roleArn=role
            )["stateMachineArn"]
            for prefix in ("Preprocess", "Model")
        }
        arns["Outer"] = sfn.create_state_machine(
            name="Outer", definition=json.dumps(_outer_stand_in(nested.asl("Outer"))), roleArn=role
        )["stateMachineArn"]
        yield sfn, dynamodb, arns


def _run(
    runner: Any, machine: str, name: str, payload: dict[str, Any], fail: tuple[str, ...] = ()
) -> tuple[dict, list[str]]:
    sfn, dynamodb, arns = runner
    if fail:
        dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": name}, "fail": {"SS": list(fail)}})
    execution = sfn.start_execution(stateMachineArn=arns[machine], name=name, input=json.dumps(payload))
    deadline = time.monotonic() + 60
    while True:
        described = sfn.describe_execution(executionArn=execution["executionArn"])
        if described["status"] != "RUNNING" or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    item = dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": name}}).get("Item", {})
    return described, [line["S"] for line in item.get("log", {}).get("L", [])]


def test_each_mode_runs_both_inner_machines_in_order_then_terminates(runner):
    described, ledger = _run(
        runner, "Outer", "ok", {"modes": ["TRAINING", "SCORING"], "job_input": "s3://in/"}
    )
    assert described["status"] == "SUCCEEDED", described.get("cause")
    assert [" ".join(line.split(" ")[:2]) for line in ledger] == [
        "create",
        "nested ok-TRAINING-01-preprocess",
        "nested ok-TRAINING-02-model",
        "nested ok-SCORING-01-preprocess",
        "nested ok-SCORING-02-model",
        f"TerminateCluster {CLUSTER_ID}",
    ]
    # What each inner machine is given: this cluster, the mode and the outer input.
    item = json.loads(ledger[1].split(" ", 2)[2])
    assert item == {
        "mode": "TRAINING",
        "ClusterId": CLUSTER_ID,
        "input": {"modes": ["TRAINING", "SCORING"], "job_input": "s3://in/"},
    }
    # The inner machine runs its steps on that cluster with that mode and input.
    inner, inner_ledger = _run(runner, "Preprocess", "ok-TRAINING-01-preprocess", item)
    assert inner["status"] == "SUCCEEDED", inner.get("cause")
    (line,) = inner_ledger
    assert line.startswith(f"TRAINING-01-preprocess on {CLUSTER_ID}:")
    assert "--mode,TRAINING,--input,s3://in/" in line.replace(" ", "").replace('"', "")


def test_a_failing_inner_machine_terminates_the_outer_cluster(runner):
    described, ledger = _run(
        runner,
        "Outer",
        "innerfail",
        {"modes": ["TRAINING", "SCORING"], "job_input": "s3://in/"},
        fail=("innerfail-TRAINING-02-model",),
    )
    assert described["status"] == "FAILED"
    assert [" ".join(line.split(" ")[:2]) for line in ledger] == [
        "create",
        "nested innerfail-TRAINING-01-preprocess",
        f"TerminateAfterFailure {CLUSTER_ID}",
    ]


def test_an_inner_machine_refuses_input_without_a_cluster(runner):
    described, ledger = _run(
        runner, "Model", "nocluster", {"mode": "TRAINING", "input": {"job_input": "s3://in/"}}
    )
    assert described["status"] == "FAILED" and described["error"] == "InvalidInput"
    assert "ClusterId (string)" in described["cause"] and ledger == []
    inner_failed, _ = _run(
        runner,
        "Model",
        "stepfail",
        {"mode": "SCORING", "ClusterId": CLUSTER_ID, "input": {"job_input": "s3://in/"}},
        fail=("SCORING-01-model",),
    )
    assert inner_failed["status"] == "FAILED"
    assert inner_failed["error"] == "DynamoDB.ConditionalCheckFailedException"
