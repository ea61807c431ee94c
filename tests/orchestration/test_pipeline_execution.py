"""TransientClusterPipeline's control flow, executed by moto's ASL interpreter.

moto 5 runs state machines with its Step Functions parser (a port of LocalStack's interpreter)
when ``mock_aws(config={"stepfunctions": {"execute_state_machine": True}})`` is set. It cannot run
EMR's ``.sync`` integrations (``elasticmapreduce`` is unsupported there, and moto's EMR mock has
no step lifecycle), so each EMR task is swapped for a **stand-in**: a DynamoDB ``updateItem`` task
on moto that appends a line to the execution's ledger item and fails on demand (a
``ConditionExpression`` that fails when the test seeded that line into the item's ``fail`` set).
Only ``Resource``, ``Parameters`` and createCluster's ``ResultSelector`` (a fixed cluster id)
change; the control-flow fields (Choice rules, Map, ``Next``, ``Catch``, ``Retry``,
``ResultPath``, ``TimeoutSeconds``, the Fail states' ``ErrorPath``/``CausePath``) are the ones
CloudFormation deploys.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

pytestmark = pytest.mark.cdk

REGION = "us-east-1"
TABLE = "Ledger"
CLUSTER_ID = "j-STANDIN0000001"


def _stand_in(state: dict[str, Any], entry: str, name: str | None = None) -> None:
    """Swap an EMR task for a ledger update that appends ``entry`` (an intrinsic expression);
    it fails when the ``fail`` set holds ``name`` (default: the entry)."""
    state["Resource"] = "arn:aws:states:::dynamodb:updateItem"
    state["Parameters"] = {
        "TableName": TABLE,
        "Key": {"pk": {"S.$": "$$.Execution.Name"}},
        "UpdateExpression": "SET #log = list_append(if_not_exists(#log, :empty), :entry)",
        "ConditionExpression": "NOT contains(#fail, :entry_name)",
        "ExpressionAttributeNames": {"#log": "log", "#fail": "fail"},
        "ExpressionAttributeValues": {
            ":empty": {"L": []},
            ":entry": {"L": [{"S.$": entry}]},
            ":entry_name": {"S.$": name or entry},
        },
    }


def stand_in_asl(asl: dict[str, Any]) -> dict[str, Any]:
    """The deployed ASL with stand-ins for the EMR tasks (see the module docstring)."""
    asl = copy.deepcopy(asl)

    def walk(machine: dict[str, Any]) -> None:
        for name, state in machine["States"].items():
            processor = state.get("ItemProcessor")
            if processor:
                walk(processor)
            resource = state.get("Resource", "")
            if resource.endswith("createCluster.sync"):
                _stand_in(state, "States.Format('create')")
                state["ResultSelector"] = {"ClusterId": CLUSTER_ID}
            elif resource.endswith("addStep.sync"):
                step = state["Parameters"]["Step"]
                args = step["HadoopJarStep"].get("Args.$") or json.dumps(step["HadoopJarStep"]["Args"])
                # The step's own name and arguments expressions, evaluated by the interpreter.
                _stand_in(
                    state,
                    f"States.Format('{{}} on {{}}: {{}}', {step['Name.$']}, $.ClusterId, {args})",
                    step["Name.$"],
                )
            elif resource.endswith("terminateCluster.sync"):
                _stand_in(state, f"States.Format('{name} {{}}', $.cluster.ClusterId)")
            else:
                assert "elasticmapreduce" not in resource, resource

    walk(asl)
    return asl


@contextlib.contextmanager
def moto_interpreter() -> Iterator[tuple[Any, Any, str]]:
    """(Step Functions client, DynamoDB client, role ARN) of a moto account that executes state
    machines, with the stand-ins' ledger table."""
    logging.getLogger("moto.stepfunctions").setLevel(logging.CRITICAL)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        dynamodb.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        role = boto3.client("iam", region_name=REGION).create_role(
            RoleName="pipeline", AssumeRolePolicyDocument="{}"
        )["Role"]["Arn"]
        yield boto3.client("stepfunctions", region_name=REGION), dynamodb, role


@pytest.fixture(scope="module")
def machine(pipeline_app):
    """A moto account with the ledger table and the stand-in state machine."""
    with moto_interpreter() as (sfn, dynamodb, role):
        arn = sfn.create_state_machine(
            name="pipeline", definition=json.dumps(stand_in_asl(pipeline_app.asl)), roleArn=role
        )["stateMachineArn"]
        yield _Runner(sfn, dynamodb, arn)


class _Runner:
    def __init__(self, sfn: Any, dynamodb: Any, arn: str) -> None:
        self.sfn, self.dynamodb, self.arn = sfn, dynamodb, arn

    def run(self, name: str, payload: Any, fail: tuple[str, ...] = ()) -> tuple[dict[str, Any], list[str]]:
        """(DescribeExecution, ledger lines) of an execution; ``fail`` lines fail their stand-in."""
        if fail:
            self.dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": name}, "fail": {"SS": list(fail)}})
        execution = self.sfn.start_execution(stateMachineArn=self.arn, name=name, input=json.dumps(payload))
        deadline = time.monotonic() + 60
        while True:
            described = self.sfn.describe_execution(executionArn=execution["executionArn"])
            if described["status"] != "RUNNING" or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        item = self.dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": name}}).get("Item", {})
        return described, [line["S"] for line in item.get("log", {}).get("L", [])]


def _names(ledger: list[str]) -> list[str]:
    return [line.split(" on ")[0] for line in ledger]


def test_every_mode_runs_its_steps_in_order_then_the_cluster_terminates(machine):
    described, ledger = machine.run("ok", {"modes": ["full", "delta"], "date": "2026-12-01"})
    assert described["status"] == "SUCCEEDED", described.get("cause")
    assert _names(ledger) == [
        "create",
        "full-01-extract",
        "full-02-load",
        "full-03-publish",
        "delta-01-extract",
        "delta-02-load",
        "delta-03-publish",
        f"TerminateCluster {CLUSTER_ID}",
    ]
    # Steps run on the created cluster; one step's output location is the next one's input.
    extract, load = ledger[1], ledger[2]
    assert f"on {CLUSTER_ID}:" in extract
    assert "--out,s3://work/ok/full/extract/" in extract.replace(" ", "").replace('"', "")
    assert "--input,s3://work/ok/full/extract/" in load.replace(" ", "").replace('"', "")
    # (moto's intrinsic parser does not unescape \' \{ \}, so the literal "it's {x}" argument is
    # checked in the ASL test, against the escaping AWS documents, not here.)
    # The step builder's Arg paths read the mode and the execution input.
    assert "--mode,delta,--date,2026-12-01" in ledger[6].replace(" ", "").replace('"', "")


def test_a_failing_step_terminates_the_cluster_and_fails_with_the_cause(machine):
    described, ledger = machine.run(
        "boom", {"modes": ["full", "delta", "late"], "date": "2026-12-01"}, fail=("delta-01-extract",)
    )
    assert described["status"] == "FAILED"
    assert described["error"] == "DynamoDB.ConditionalCheckFailedException", described.get("cause")
    assert "conditional request failed" in described["cause"]
    # No later step or mode ran; the cluster id survived the Catch (ResultPath $.error).
    assert _names(ledger) == [
        "create",
        "full-01-extract",
        "full-02-load",
        "full-03-publish",
        f"TerminateAfterFailure {CLUSTER_ID}",
    ]


def test_a_failing_final_terminate_is_retried_by_the_failure_branch(machine):
    described, ledger = machine.run(
        "stuck", {"modes": ["full"], "date": "2026-12-01"}, fail=(f"TerminateCluster {CLUSTER_ID}",)
    )
    assert described["status"] == "FAILED"
    assert described["error"] == "DynamoDB.ConditionalCheckFailedException", described.get("cause")
    assert _names(ledger)[-1] == f"TerminateAfterFailure {CLUSTER_ID}"


def test_a_failed_creation_fails_without_steps(machine):
    described, ledger = machine.run("nocluster", {"modes": ["full"], "date": "2026-12-01"}, fail=("create",))
    assert described["status"] == "FAILED"
    assert described["error"] == "DynamoDB.ConditionalCheckFailedException", described.get("cause")
    assert ledger == []


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"modes": None},
        {"modes": "full"},
        {"modes": 3},
        {"modes": True},
        {"modes": []},
        {"modes": {"a": 1}},
        {"modes": ["full"]},
        {"modes": ["full"], "date": 20261201},
    ],
    ids=["missing", "null", "string", "number", "boolean", "empty", "object", "no-date", "numeric-date"],
)
def test_bad_input_fails_before_any_cluster_exists(machine, payload):
    name = "bad-" + str(abs(hash(json.dumps(payload))))
    described, ledger = machine.run(name, payload)
    assert described["status"] == "FAILED"
    assert described["error"] == "InvalidInput"
    assert "modes (array), date (string)" in described["cause"]
    assert ledger == []
