"""NotebookPipeline's control flow, executed by moto's ASL interpreter.

moto runs the deployed ASL (``execute_state_machine``) but implements neither EMR's ``.sync``
integrations nor ``startNotebookExecution``, and its ``aws-sdk:s3:getObject`` hands back a stream
where Step Functions hands back the body as a string. So these tasks are **stand-ins** on moto's
DynamoDB, named here with the reason:

* ``CreateCluster``, ``Terminate*``, ``Start-*`` and ``Stop-*``: an ``updateItem`` that appends a
  line to the execution's ledger item (the start line carries ``States.JsonToString($.params)``,
  the parameters the notebook would get) and fails on demand (see ``test_pipeline_execution``).
* ``Describe-*``: a ``getItem`` of the status the test seeded for that notebook and poll number
  (status, and the ``NotebookExecution`` object as JSON, parsed with ``States.StringToJson``).
* ``ReadResult-*``: a ``getItem`` of the result JSON the test seeded (the notebook's output),
  parsed with the same ``States.StringToJson`` the deployed state applies to ``Body``.

Only ``Resource``, ``Parameters``, those states' ``ResultSelector`` and the poll ``Wait``'s
``Seconds`` (0 instead of 30, so the test does not sleep) change; Choice rules, Parallel,
``Next``, ``Catch``, ``Retry``, ``ResultPath``, the parameter-building Pass states, the poll
counter and the Fail states' ``ErrorPath``/``CausePath`` are the ones CloudFormation deploys.
"""

from __future__ import annotations

import copy
import json
import time
from typing import Any

import pytest

from . import test_notebook_pipeline
from .test_pipeline_asl import _states
from .test_pipeline_execution import CLUSTER_ID, TABLE, _stand_in, moto_interpreter

pytestmark = pytest.mark.cdk

#: The two synthesized pipelines (module-scoped fixture of the ASL tests).
notebook_app = test_notebook_pipeline.notebook_app


def _get_item(state: dict[str, Any], key: str, selector: dict[str, Any]) -> None:
    state["Resource"] = "arn:aws:states:::dynamodb:getItem"
    state["Parameters"] = {"TableName": TABLE, "Key": {"pk": {"S.$": key}}}
    state["ResultSelector"] = selector


def stand_in_asl(asl: dict[str, Any]) -> dict[str, Any]:
    """The deployed ASL with the stand-ins of the module docstring."""
    asl = copy.deepcopy(asl)
    for name, state, _ in _states(asl):
        resource = state.get("Resource", "")
        notebook = name.split("-", 1)[-1]
        if state["Type"] == "Wait":
            state["Seconds"] = 0
        elif resource.endswith("createCluster.sync"):
            _stand_in(state, "States.Format('create')")
            state["ResultSelector"] = {"ClusterId": CLUSTER_ID}
        elif resource.endswith("terminateCluster.sync"):
            _stand_in(state, f"States.Format('{name} {{}}', $.cluster.ClusterId)")
        elif resource.endswith("startNotebookExecution"):
            engine = state["Parameters"]["ExecutionEngine"]
            engine_id = engine.get("Id.$") or f"'{engine['Id']}'"
            _stand_in(
                state,
                f"States.Format('start {notebook} on {{}} {{}}', {engine_id}, States.JsonToString($.params))",
                f"States.Format('start {notebook}')",
            )
            state["ResultSelector"] = {"NotebookExecutionId": f"ex-{notebook}", "polls": {"value": 0}}
        elif resource.endswith("stopNotebookExecution"):
            _stand_in(state, f"States.Format('stop {notebook}')")
        elif resource.endswith("describeNotebookExecution"):
            _get_item(
                state,
                f"States.Format('status#{{}}#{notebook}#{{}}', $$.Execution.Name, $.notebook.polls.value)",
                {"Status.$": "$.Item.status.S", "Execution.$": "States.StringToJson($.Item.execution.S)"},
            )
        elif resource.endswith("s3:getObject"):
            _get_item(
                state,
                f"States.Format('result#{{}}#{notebook}', $$.Execution.Name)",
                {"value.$": "States.StringToJson($.Item.body.S)"},
            )
        else:
            assert "elasticmapreduce" not in resource and "aws-sdk" not in resource, resource
    return asl


class _Runner:
    def __init__(self, sfn: Any, dynamodb: Any, arns: dict[str, str]) -> None:
        self.sfn, self.dynamodb, self.arns = sfn, dynamodb, arns

    def seed_statuses(
        self, execution: str, notebook: str, statuses: list[str], reason: str | None = None
    ) -> None:
        for poll, status in enumerate(statuses):
            described = {"NotebookExecutionId": f"ex-{notebook}", "Status": status}
            if reason is not None and poll == len(statuses) - 1:
                described["LastStateChangeReason"] = reason
            self.dynamodb.put_item(
                TableName=TABLE,
                Item={
                    "pk": {"S": f"status#{execution}#{notebook}#{poll}"},
                    "status": {"S": status},
                    "execution": {"S": json.dumps(described)},
                },
            )

    def seed_result(self, execution: str, notebook: str, result: dict[str, Any]) -> None:
        self.dynamodb.put_item(
            TableName=TABLE,
            Item={"pk": {"S": f"result#{execution}#{notebook}"}, "body": {"S": json.dumps(result)}},
        )

    def run(
        self, machine: str, name: str, payload: Any, fail: tuple[str, ...] = ()
    ) -> tuple[dict[str, Any], list[str]]:
        if fail:
            self.dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": name}, "fail": {"SS": list(fail)}})
        execution = self.sfn.start_execution(
            stateMachineArn=self.arns[machine], name=name, input=json.dumps(payload)
        )
        deadline = time.monotonic() + 60
        while True:
            described = self.sfn.describe_execution(executionArn=execution["executionArn"])
            if described["status"] != "RUNNING" or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        item = self.dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": name}}).get("Item", {})
        return described, [line["S"] for line in item.get("log", {}).get("L", [])]


@pytest.fixture(scope="module")
def runner(notebook_app):
    with moto_interpreter() as (sfn, dynamodb, role):
        arns = {
            prefix: sfn.create_state_machine(
                name=prefix, definition=json.dumps(stand_in_asl(notebook_app.asl(prefix))), roleArn=role
            )["stateMachineArn"]
            for prefix in ("Notebooks", "OnCluster")
        }
        yield _Runner(sfn, dynamodb, arns)


def _params(line: str) -> dict[str, Any]:
    return json.loads(line.split(" ", 4)[4])


def test_notebooks_run_in_order_and_the_first_result_parameterizes_the_second(runner):
    runner.seed_statuses("ok", "top", ["STARTING", "RUNNING", "FINISHED"])
    runner.seed_result("ok", "top", {"top_state": "Texas", "top_k": ["Texas", "Ohio"]})
    runner.seed_statuses("ok", "trail", ["FINISHED"])
    described, ledger = runner.run("Notebooks", "ok", {"date": "2026-12-01T09:00:00Z"})
    assert described["status"] == "SUCCEEDED", described.get("cause")
    assert [line.split(" on ")[0] for line in ledger] == [
        "create",
        "start top",
        "start trail",
        f"TerminateCluster {CLUSTER_ID}",
    ]
    top, trail = _params(ledger[1]), _params(ledger[2])
    assert ledger[1].startswith(f"start top on {CLUSTER_ID} ")
    assert top["DATE"] == "2026-12-01"  # the date part of the scheduled time
    assert top["TOP_K"] == 5 and top["STATES"] == ["TX"]
    assert top["RESULT_URI"].endswith("/notebook-runs/ok/top/result.json")
    assert trail == {"STATE": "Texas", "DATE": "2026-12-01", "RUN": "ok"}
    output = json.loads(described["output"])
    assert output["run"]["results"]["top"]["value"]["top_state"] == "Texas"


def test_a_failed_notebook_terminates_the_cluster_and_fails_with_its_reason(runner):
    runner.seed_statuses("nbfail", "top", ["RUNNING", "FAILED"], reason="Kernel died: out of memory")
    described, ledger = runner.run("Notebooks", "nbfail", {"date": "2026-12-01"})
    assert described["status"] == "FAILED"
    assert described["error"] == "NotebookFailed"
    assert described["cause"] == "Notebook top ended FAILED: Kernel died: out of memory"
    assert [line.split(" on ")[0] for line in ledger] == [
        "create",
        "start top",
        f"TerminateAfterFailure {CLUSTER_ID}",
    ]


def test_a_stopped_notebook_without_a_reason_still_names_its_status(runner):
    runner.seed_statuses("stopped", "top", ["STOPPED"])
    described, ledger = runner.run("Notebooks", "stopped", {"date": "2026-12-01"})
    assert described["status"] == "FAILED" and described["error"] == "NotebookFailed"
    assert described["cause"].startswith("Notebook top ended STOPPED without a reason: ")
    assert ledger[-1] == f"TerminateAfterFailure {CLUSTER_ID}"


def test_a_notebook_past_its_timeout_is_stopped_and_the_cluster_terminated(runner):
    runner.seed_statuses("slow", "top", ["FINISHED"])
    runner.seed_result("slow", "top", {"top_state": "Ohio"})
    runner.seed_statuses("slow", "trail", ["RUNNING"] * 20)  # 10 minutes at 30 s a poll
    described, ledger = runner.run("Notebooks", "slow", {"date": "2026-12-01"})
    assert described["status"] == "FAILED", described.get("cause")
    assert described["error"] == "NotebookTimedOut"
    assert [line.split(" on ")[0] for line in ledger][-3:] == [
        "start trail",
        "stop trail",
        f"TerminateAfterFailure {CLUSTER_ID}",
    ]


def test_a_result_without_the_field_the_next_notebook_needs_fails_and_terminates(runner):
    runner.seed_statuses("nofield", "top", ["FINISHED"])
    runner.seed_result("nofield", "top", {"something_else": 1})
    described, ledger = runner.run("Notebooks", "nofield", {"date": "2026-12-01"})
    assert described["status"] == "FAILED"
    assert described["error"] == "NotebookResultIncomplete", described["cause"]
    assert described["cause"].endswith("lacks one of the fields later notebooks read: top_state")
    assert [line.split(" on ")[0] for line in ledger] == [
        "create",
        "start top",
        f"TerminateAfterFailure {CLUSTER_ID}",
    ]


def test_a_failing_start_terminates_the_cluster(runner):
    described, ledger = runner.run("Notebooks", "nostart", {"date": "2026-12-01"}, fail=("start top",))
    assert described["status"] == "FAILED"
    assert described["error"] == "DynamoDB.ConditionalCheckFailedException"
    assert ledger == ["create", f"TerminateAfterFailure {CLUSTER_ID}"]


@pytest.mark.parametrize("payload", [{}, {"date": None}, {"date": 20261201}, {"date": ["2026-12-01"]}])
def test_bad_input_fails_before_any_cluster_exists(runner, payload):
    name = "bad-" + str(abs(hash(json.dumps(payload))))
    described, ledger = runner.run("Notebooks", name, payload)
    assert described["status"] == "FAILED" and described["error"] == "InvalidInput"
    assert "date (string)" in described["cause"]
    assert ledger == []


def test_on_an_existing_cluster_a_failure_fails_without_terminating_anything(runner):
    runner.seed_statuses("existing", "only", ["FINISHED"])
    described, ledger = runner.run("OnCluster", "existing", {})
    assert described["status"] == "SUCCEEDED", described.get("cause")
    assert ledger == ['start only on j-2AXXXXXXGAPLF {"TOP_K":3}']
    runner.seed_statuses("existing-bad", "only", ["FAILED"], reason="Cell 3 raised")
    described, ledger = runner.run("OnCluster", "existing-bad", {})
    assert (
        described["status"] == "FAILED" and described["cause"] == "Notebook only ended FAILED: Cell 3 raised"
    )
    assert [line.split(" on ")[0] for line in ledger] == ["start only"]
