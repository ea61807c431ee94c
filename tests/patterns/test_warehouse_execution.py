"""The warehouse pipeline's control flow, executed by moto's ASL interpreter.

The machine is the one ``DataLakeWarehouseStack`` deploys (its ``DefinitionString``). moto cannot
run ``startExecution.sync:2``, ``aws-sdk:s3:getObject`` with a body, or the Redshift Data API, so
those Tasks are **stand-ins**, on moto's DynamoDB:

* ``Curate-Run``, ``LoadStart`` and ``LoadCancel`` append a line to the execution's ledger
  (``LoadStart``'s line is its real ``Sqls`` intrinsic, evaluated by the interpreter) and fail on
  demand (the test seeds the line into the item's ``fail`` set);
* ``LoadReadManifest`` reads the manifest JSON the test seeded (``getItem``, the same
  ``States.StringToJson`` of the body);
* ``LoadDescribe`` reads the statement's status and error the test seeded.

Only ``Resource``, ``Parameters`` and ``ResultSelector`` of those Tasks change, and ``LoadWait``
waits 0 s instead of 15 (test speed). Every Choice rule, Fail state, ``Next``, ``Catch`` and
``ResultPath`` is the deployed one.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from emr_patterns.orchestration.diagram import definition_of
from emr_patterns.spec.warehouse import covid_state_daily_table

from ..orchestration.test_pipeline_execution import TABLE, _Runner, _stand_in, moto_interpreter

pytestmark = pytest.mark.cdk

STATUS_TABLE = "Statements"
MANIFEST_TABLE = "Manifests"
STATEMENT_ID = "01234567-89ab-cdef-0123-456789abcdef"
COLUMNS = list(covid_state_daily_table().column_names)


def _get_item(state: dict[str, Any], table: str, selector: dict[str, str]) -> None:
    state["Resource"] = "arn:aws:states:::dynamodb:getItem"
    state["Parameters"] = {"TableName": table, "Key": {"pk": {"S.$": "$$.Execution.Name"}}}
    state["ResultSelector"] = selector


def stand_in(asl: dict[str, Any]) -> dict[str, Any]:
    # References render as ${...} placeholders; CloudFormation deploys plain names there.
    asl = json.loads(
        re.sub(
            r"\$\{([A-Za-z0-9:.]+)\}",
            lambda m: m[1].split(":")[-1].split(".")[0].lower()[:40],
            json.dumps(asl),
        )
    )
    states = asl["States"]
    _stand_in(states["Curate-Run"], "States.Format('curate')")
    states["Curate-Run"]["ResultSelector"] = {"output": {}, "execution": "stand-in"}
    # moto's intrinsic grammar has no escaped quote (\\' in a literal, which Step Functions
    # accepts): the SQL's quotes become double quotes in the stand-in only, and back in the test.
    sqls = states["LoadStart"]["Parameters"]["Sqls.$"].replace("\\'", '"')
    _stand_in(states["LoadStart"], f"States.JsonToString({sqls})", "States.Format('batch')")
    states["LoadStart"]["ResultSelector"] = {"Id": STATEMENT_ID}
    _stand_in(
        states["LoadCancel"], "States.Format('cancel {}', $.load.statement.Id)", "States.Format('cancel')"
    )
    _get_item(states["LoadReadManifest"], MANIFEST_TABLE, {"value.$": "States.StringToJson($.Item.body.S)"})
    _get_item(
        states["LoadDescribe"], STATUS_TABLE, {"Status.$": "$.Item.status.S", "Error.$": "$.Item.error.S"}
    )
    states["LoadWait"]["Seconds"] = 0
    for name, state in states.items():
        resource = state.get("Resource", "")
        assert "redshiftdata" not in resource and "s3:getObject" not in resource, name
    return asl


@pytest.fixture(scope="module")
def warehouse(synthesized):
    asl = definition_of(synthesized.template_json("DataLakeWarehouseStack"), "Pipeline")
    with moto_interpreter() as (sfn, dynamodb, role):
        for table in (STATUS_TABLE, MANIFEST_TABLE):
            dynamodb.create_table(
                TableName=table,
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
        arn = sfn.create_state_machine(name="warehouse", definition=json.dumps(stand_in(asl)), roleArn=role)[
            "stateMachineArn"
        ]
        yield _Warehouse(sfn, dynamodb, arn)


class _Warehouse(_Runner):
    def load(
        self,
        name: str,
        *,
        manifest: dict[str, Any] | None = None,
        status: str = "FINISHED",
        error: str = "",
        fail: tuple[str, ...] = (),
    ) -> tuple[dict[str, Any], list[str]]:
        body = manifest if manifest is not None else {"columns": COLUMNS, "rows": 3}
        self.dynamodb.put_item(
            TableName=MANIFEST_TABLE, Item={"pk": {"S": name}, "body": {"S": json.dumps(body)}}
        )
        self.dynamodb.put_item(
            TableName=STATUS_TABLE, Item={"pk": {"S": name}, "status": {"S": status}, "error": {"S": error}}
        )
        return self.run(name, {"source": {"bucket": "raw", "key": "covid/daily/2021-03-02.csv"}}, fail)


def test_a_good_run_curates_then_runs_the_tables_batch_once(warehouse):
    described, ledger = warehouse.load("good")
    assert described["status"] == "SUCCEEDED", (described.get("error"), described.get("cause"), ledger)
    assert ledger[0] == "curate"
    sqls = [q.replace('"', "'") for q in json.loads(ledger[1])]
    (copy_sql,) = [s for s in sqls if s.startswith("COPY ")]
    assert "/warehouse/covid_state_daily/runs/good/data/" in copy_sql  # the execution's own run
    assert [s.split(" ")[0] for s in sqls] == ["CREATE", "LOCK", "CREATE", "COPY", "DELETE", "INSERT", "DROP"]
    assert len(ledger) == 2  # no cancel


@pytest.mark.parametrize(
    ("manifest", "error"),
    [
        ({"columns": ["state", "date", "fips", "cases", "deaths"], "rows": 3}, "ParquetColumnsMismatch"),
        ({"columns": COLUMNS[:-1], "rows": 3}, "ParquetColumnsMismatch"),
        ({"columns": COLUMNS}, "ManifestIncomplete"),
        ({"columns": "date,state", "rows": 3}, "ManifestIncomplete"),
    ],
)
def test_a_bad_manifest_fails_before_any_sql(warehouse, manifest, error):
    described, ledger = warehouse.load(f"manifest-{error}-{len(str(manifest))}", manifest=manifest)
    assert described["status"] == "FAILED" and described["error"] == error, described
    assert ledger == ["curate"]


def test_a_failed_batch_fails_with_the_statements_error(warehouse):
    message = 'ERROR: Spectrum Scan Error: column "cases" has type bigint, file has string'
    described, ledger = warehouse.load("failed", status="FAILED", error=message)
    assert (described["status"], described["error"], described["cause"]) == (
        "FAILED",
        "RedshiftLoadFailed",
        message,
    )
    assert len(ledger) == 2


def test_an_aborted_batch_fails_as_aborted(warehouse):
    described, _ = warehouse.load("aborted", status="ABORTED")
    assert (described["status"], described["error"]) == ("FAILED", "RedshiftLoadAborted")


def test_a_batch_that_never_ends_is_cancelled_then_fails(warehouse):
    described, ledger = warehouse.load("stuck", status="STARTED")
    assert (described["status"], described["error"]) == ("FAILED", "RedshiftLoadTimedOut"), described
    assert ledger[-1] == f"cancel {STATEMENT_ID}"


def test_a_failed_curate_fails_without_a_load(warehouse):
    described, ledger = warehouse.load("curate-fails", fail=("curate",))
    assert (described["status"], described["error"]) == ("FAILED", "CurateFailed"), described
    assert ledger == []


def test_bad_input_fails_before_anything_runs(warehouse):
    described, ledger = warehouse.run("no-source", {"source": {"bucket": "raw"}})
    assert (described["status"], described["error"]) == ("FAILED", "InvalidInput")
    assert ledger == []
    assert TABLE  # the ledger table of the shared interpreter
