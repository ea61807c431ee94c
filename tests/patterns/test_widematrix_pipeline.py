"""WideMatrixPipeline and WideMatrixStack: the deployed machines' control flow (executed by moto's
ASL interpreter), the bulk-load steps against ``serving.bulk_load_commands``, the API payloads
against the botocore models, the admin function's wiring, and bad props.

The outer machine is the one ``WideMatrixStack`` deploys. moto cannot run
``startExecution.sync:2`` nor invoke a Lambda function in the VPC, so the Tasks are **stand-ins**:
each appends a line to the execution's ledger on moto's DynamoDB (its text an intrinsic over the
state's real input paths, evaluated by the interpreter) and fails on demand; ``Prepare`` returns a
fixed revision and loads. Every Pass, Choice, Fail, ``Next``, ``Catch`` and ``ResultPath`` is the
deployed one, so the tests show which states run, in which order, after which failure.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from typing import Any

import botocore.session
import botocore.validate
import pytest
from aws_cdk import App, Duration, Stack

from emr_patterns.jobs.widematrix import serving
from emr_patterns.orchestration.diagram import definition_of

from ..orchestration.test_pipeline_execution import _Runner, _stand_in, moto_interpreter, stand_in_asl

pytestmark = pytest.mark.cdk

STACK = "WideMatrixStack"
REVISION = 7
LOADS = {
    view: {
        "table": f"wm_brain_vstandin_{view}",
        "tsv": f"s3://work/widematrix/versions/brain/vstandin/export/{view}/",
        "hfiles": f"s3://work/widematrix/versions/brain/vstandin/export-hfiles/{view}/",
    }
    for view in serving.VIEWS
}
ADMIN_TASKS = ("CheckIds", "Prepare", "Validate", "Switch", "Abort")


def _asl(synthesized: Any, machine: str) -> dict[str, Any]:
    return definition_of(synthesized.template_json(STACK), machine)


def _placeholders(asl: dict[str, Any]) -> dict[str, Any]:
    # References render as ${...} placeholders; CloudFormation deploys plain names there.
    return json.loads(
        re.sub(
            r"\$\{([A-Za-z0-9:.]+)\}",
            lambda m: m[1].split(":")[-1].split(".")[0].lower()[:40],
            json.dumps(asl),
        )
    )


def stand_in(asl: dict[str, Any]) -> dict[str, Any]:
    asl = _placeholders(asl)
    states = asl["States"]
    ledger = {
        "CheckIds": "States.Format('check {} {}', $.run.dataset, $.run.version)",
        "Compute-Run": "States.Format('compute {} {} {}', $.source.key, $.run.dataset, $.run.version)",
        "Prepare": f"States.Format('prepare {{}}', {states['Prepare']['Parameters']['Payload']['export.$']})",
        "Load-Run": "States.Format('load {}', $.prepared.value.loads.genes.table)",
        "Validate": "States.Format('validate {}', $.run.version)",
        "Switch": "States.Format('switch {} {}', $.run.version, $.prepared.value.expected_revision)",
        "Abort": "States.Format('abort {}', $.run.version)",
    }
    for name, entry in ledger.items():
        word = name.split("-")[0].lower().replace("checkids", "check")
        _stand_in(states[name], entry, f"States.Format('{word}')")
        states[name]["ResultSelector"] = {"value": {"stand_in": name}}
    states["Prepare"]["ResultSelector"] = {"value": {"expected_revision": REVISION, "loads": LOADS}}
    for name, state in states.items():
        assert "lambda:invoke" not in state.get("Resource", ""), name
        assert "startExecution" not in state.get("Resource", ""), name
    return asl


@pytest.fixture(scope="module")
def account():
    """One moto account (the ledger table) for both machines of the module."""
    with moto_interpreter() as clients:
        yield clients


@pytest.fixture(scope="module")
def outer(synthesized, account):
    sfn, dynamodb, role = account
    asl = _asl(synthesized, "Pipeline")
    arn = sfn.create_state_machine(name="widematrix", definition=json.dumps(stand_in(asl)), roleArn=role)[
        "stateMachineArn"
    ]
    return _Runner(sfn, dynamodb, arn)


def _upload(key: str) -> dict[str, Any]:
    return {"source": {"bucket": "raw", "key": key, "etag": "e", "size": 10}}


def _version(outer: _Runner, name: str) -> str:
    execution = f"{outer.arn.replace(':stateMachine:', ':execution:')}:{name}"
    return "v" + hashlib.md5(execution.encode()).hexdigest()


def _words(ledger: list[str]) -> list[str]:
    return [line.split(" ")[0] for line in ledger]


def test_a_good_run_computes_prepares_loads_validates_then_switches(outer):
    described, ledger = outer.run("good", _upload("widematrix/uploads/brain-2024/matrix.zip"))
    assert described["status"] == "SUCCEEDED", (described.get("error"), described.get("cause"), ledger)
    version = _version(outer, "good")
    assert serving.VERSION_ID.match(version)
    # the work bucket's name is a cross-stack import, a placeholder here
    assert re.fullmatch(
        rf"prepare s3://[a-z0-9]+/widematrix/versions/brain-2024/{version}/export/", ledger[2]
    )
    assert ledger[:2] + ledger[3:] == [
        f"check brain-2024 {version}",
        f"compute widematrix/uploads/brain-2024/matrix.zip brain-2024 {version}",
        f"load {LOADS['genes']['table']}",
        f"validate {version}",
        f"switch {version} {REVISION}",
    ]


def test_every_execution_gets_a_new_version(outer):
    _, first = outer.run("dup-1", _upload("widematrix/uploads/brain/m.zip"))
    _, second = outer.run("dup-2", _upload("widematrix/uploads/brain/m.zip"))
    assert first[0] != second[0]  # a duplicated upload event loads a second version, never the same


@pytest.mark.parametrize("failing", ["prepare", "load", "validate", "switch"])
def test_a_failure_after_compute_drops_the_new_tables_and_never_switches(outer, failing):
    described, ledger = outer.run(f"fail-{failing}", _upload("widematrix/uploads/brain/m.zip"), (failing,))
    assert described["status"] == "FAILED"
    assert described["error"] == "LoadFailed"
    words = _words(ledger)
    assert words[-1] == "abort"
    assert words.count("abort") == 1
    assert "switch" not in words[: words.index("abort")] or failing == "switch"
    # the failed state wrote no line; nothing after it ran except the abort
    order = ["check", "compute", "prepare", "load", "validate", "switch"]
    assert words[:-1] == order[: order.index(failing)]


def test_a_failed_compute_ends_before_any_table_exists(outer):
    described, ledger = outer.run("fail-compute", _upload("widematrix/uploads/brain/m.zip"), ("compute",))
    assert (described["status"], described["error"]) == ("FAILED", "ComputeFailed")
    assert _words(ledger) == ["check"]  # no prepare, so no abort either


def test_a_failed_abort_is_reported_as_such(outer):
    described, ledger = outer.run(
        "fail-abort", _upload("widematrix/uploads/brain/m.zip"), ("validate", "abort")
    )
    assert (described["status"], described["error"]) == ("FAILED", "AbortFailed")
    assert _words(ledger) == ["check", "compute", "prepare", "load"]


@pytest.mark.parametrize(
    "key",
    ["widematrix/uploads/matrix.zip", "widematrix/uploads/"],
)
def test_a_key_without_a_dataset_segment_fails_before_anything(outer, key):
    described, ledger = outer.run(f"key-{len(key)}", _upload(key))
    assert (described["status"], described["error"]) == ("FAILED", "InvalidKey")
    assert ledger == []


def test_missing_source_fails_before_anything(outer):
    described, ledger = outer.run("no-source", {"modes": ["x"]})
    assert (described["status"], described["error"]) == ("FAILED", "InvalidInput")
    assert ledger == []


def test_ids_refused_by_the_admin_function_end_in_invalid_key(synthesized):
    states = _asl(synthesized, "Pipeline")["States"]
    catches = {c["ErrorEquals"][0]: c["Next"] for c in states["CheckIds"]["Catch"]}
    assert catches["BadRequest"] == "InvalidKey"
    assert states["CheckIds"]["Next"] == "Compute-Run"


def test_every_state_after_prepare_is_caught_into_abort_and_abort_never_switches(synthesized):
    states = _asl(synthesized, "Pipeline")["States"]
    for name in ("Prepare", "Load-Run", "Validate", "Switch"):
        (catch,) = states[name]["Catch"]
        assert catch == {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Abort"}, name
    assert states["Abort"]["Next"] == "LoadFailed"
    assert states["Abort"]["Parameters"]["Payload"]["action"] == "abort"
    # Switch is reachable only from Validate, Validate only from Load-Run
    nexts = {n: s.get("Next") for n, s in states.items()}
    assert [n for n, nxt in nexts.items() if nxt == "Switch"] == ["Validate"]
    assert [n for n, nxt in nexts.items() if nxt == "Validate"] == ["Load-Run"]
    assert states["Switch"]["Next"] == "Succeeded"


def test_admin_payloads_are_the_contract_and_valid_invoke_requests(synthesized):
    states = _asl(synthesized, "Pipeline")["States"]
    model = botocore.session.get_session().get_service_model("lambda")
    validator = botocore.validate.ParamValidator()
    actions = {}
    for name in ADMIN_TASKS:
        state = states[name]
        assert state["Resource"].endswith(":states:::lambda:invoke")
        assert state["TimeoutSeconds"] <= 900
        params = {"FunctionName": "admin", "Payload": json.dumps(state["Parameters"]["Payload"]).encode()}
        report = validator.validate(params, model.operation_model("Invoke").input_shape)
        assert not report.has_errors(), report.generate_report()
        payload = state["Parameters"]["Payload"]
        actions[payload["action"]] = set(payload) - {"action"}
        retried = {e for r in state.get("Retry", []) for e in r["ErrorEquals"]}
        assert "Lambda.ServiceException" in retried
        assert "States.ALL" not in retried
    assert actions == {
        "check": {"dataset.$", "version.$"},
        "prepare": {"dataset.$", "version.$", "export.$"},
        "validate": {"dataset.$", "version.$"},
        "switch": {"dataset.$", "version.$", "expected_revision.$"},
        "abort": {"dataset.$", "version.$"},
    }
    # no retry of a refusal: a lost race or a count mismatch must go to Abort at once
    for name in ("Validate", "Switch"):
        retried = {e for r in states[name].get("Retry", []) for e in r["ErrorEquals"]}
        assert not retried & {"ValidationFailed", "SwitchConflictError", "VersionNotReadyError"}


@pytest.fixture(scope="module")
def load_ledger(synthesized, account):
    sfn, dynamodb, role = account
    asl = _placeholders(_asl(synthesized, "PipelineLoad"))
    arn = sfn.create_state_machine(name="load", definition=json.dumps(stand_in_asl(asl)), roleArn=role)[
        "stateMachineArn"
    ]
    described, ledger = _Runner(sfn, dynamodb, arn).run(
        "load", {"ClusterId": "j-HBASE", "mode": "LOAD", "input": {"loads": copy.deepcopy(LOADS)}}
    )
    assert described["status"] == "SUCCEEDED", described.get("cause")
    return ledger


def test_the_load_steps_are_serving_bulk_load_commands_per_view(load_ledger, synthesized):
    stats = list(serving.DEFAULT_STATS)
    expected: list[tuple[str, list[str]]] = []
    for view in serving.VIEWS:
        spec = LOADS[view]
        expected.append((f"{view}-clear", ["hadoop", "fs", "-rm", "-r", "-f", spec["hfiles"]]))
        for command in serving.bulk_load_commands(view, stats, spec["table"], spec["tsv"], spec["hfiles"]):
            expected.append((f"{view}-{command[1]}", command))
    got = []
    for line in load_ledger:
        name, rest = line.split(" on ", 1)
        cluster, args = rest.split(": ", 1)
        assert cluster == "j-HBASE"
        # the interpreter prints the evaluated States.Array as [a, b, ...] (no argument holds ", ")
        assert args.startswith("[") and args.endswith("]")
        got.append((name.split("-", 2)[2], args[1:-1].split(", ")))
    assert got == expected


def test_the_load_steps_continue_on_failure_and_are_valid_requests(synthesized):
    states = _asl(synthesized, "PipelineLoad")["States"]
    model = botocore.session.get_session().get_service_model("emr")
    steps = [s for s in states.values() if s.get("Resource", "").endswith("addStep.sync")]
    assert len(steps) == 3 * len(serving.VIEWS)
    for state in steps:
        step = copy.deepcopy(state["Parameters"]["Step"])
        assert step["ActionOnFailure"] == "CONTINUE"  # never terminate the serving cluster
        step["Name"] = step.pop("Name.$")[:10]
        jar = step["HadoopJarStep"]
        if "Args.$" in jar:
            jar["Args"] = ["x"]
            del jar["Args.$"]
        report = botocore.validate.ParamValidator().validate(
            {"JobFlowId": "j-1", "Steps": [step]}, model.operation_model("AddJobFlowSteps").input_shape
        )
        assert not report.has_errors(), report.generate_report()


def _resources(synthesized: Any, kind: str) -> dict[str, Any]:
    return {k: r for k, r in synthesized.template_json(STACK)["Resources"].items() if r["Type"] == kind}


def test_the_admin_function_runs_admin_py_in_the_vpc_with_its_settings(synthesized):
    functions = _resources(synthesized, "AWS::Lambda::Function")
    (admin,) = [f for k, f in functions.items() if k.startswith("PipelineAdmin")]
    props = admin["Properties"]
    assert props["Handler"] == "admin.handler"
    assert props["VpcConfig"]["SubnetIds"]
    assert props["Timeout"] == 900
    env = props["Environment"]["Variables"]
    assert set(env) >= {"REGISTRY_TABLE", "HBASE_THRIFT_HOST", "HBASE_THRIFT_PORT", "CLEANUP_GRACE_HOURS"}
    assert env["CLEANUP_GRACE_HOURS"] == "24"
    assert float(env["STALE_LOADING_HOURS"]) > 24
    assert "DeadLetterConfig" in props


def test_thrift_is_open_only_to_the_read_api_and_the_admin_function(synthesized):
    template = synthesized.template_json(STACK)
    ingress = [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::EC2::SecurityGroupIngress" and r["Properties"].get("FromPort") == 9090
    ]
    sources = sorted(p["SourceSecurityGroupId"]["Fn::GetAtt"][0] for p in ingress)
    assert len(sources) == 2
    assert sources[0].startswith("PipelineAdmin") and sources[1].startswith("ReadApiHandler")
    assert all("CidrIp" not in p for p in ingress)


def test_the_cleanup_runs_hourly_with_a_dead_letter_queue(synthesized):
    (rule,) = [
        r
        for k, r in _resources(synthesized, "AWS::Events::Rule").items()
        if k.startswith("PipelineCleanupRule")
    ]
    assert rule["Properties"]["ScheduleExpression"] == "rate(1 hour)"
    (target,) = rule["Properties"]["Targets"]
    assert json.loads(target["Input"]) == {"action": "cleanup"}
    assert "DeadLetterConfig" in target and target["RetryPolicy"]["MaximumRetryAttempts"] == 2


def test_uploads_under_the_prefix_start_the_pipeline(synthesized):
    rules = _resources(synthesized, "AWS::Events::Rule")
    (trigger,) = [r for k, r in rules.items() if k.startswith("PipelineTriggerRule")]
    pattern = trigger["Properties"]["EventPattern"]
    assert pattern["detail"]["object"]["key"] == [{"prefix": "widematrix/uploads/"}]


# ---- bad props ------------------------------------------------------------------------------------


def _build(**overrides: Any) -> None:
    from emr_patterns.compute.jobs import WideMatrixJobs
    from emr_patterns.foundation.platform import EmrPlatform
    from emr_patterns.patterns.widematrix import DatasetRegistry, HBaseServingCluster
    from emr_patterns.patterns.widematrix_pipeline import WideMatrixPipeline
    from emr_patterns.stacks.widematrix import widematrix_compute_spec

    stack = Stack(App(), "T")
    platform = EmrPlatform(stack, "Platform")
    props: dict[str, Any] = {
        "platform": platform,
        "registry": DatasetRegistry(stack, "Registry", key=platform.key),
        "serving": HBaseServingCluster(stack, "HBase", platform=platform),
        "jobs": WideMatrixJobs(stack, "Jobs", platform=platform),
        "spec": widematrix_compute_spec(),
        "group_by": "cell_type",
    }
    props.update(overrides)
    WideMatrixPipeline(stack, "Pipeline", **props)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"group_by": "cell\ttype"}, "group_by"),
        ({"stats": ["mean", "mode"]}, "choose from"),
        ({"stats": []}, "stats"),
        ({"stats": ["mean", "mean"]}, "distinct"),
        ({"upload_prefix": "uploads"}, "must end with '/'"),
        ({"work_prefix": "/versions/"}, "work_prefix"),
        ({"upload_prefix": "a/../b/"}, "upload_prefix"),
        ({"grace_period": Duration.minutes(5)}, "grace_period"),
        ({"registry": "table"}, "registry"),
    ],
)
def test_bad_props_name_prop_value_and_fix(overrides, expected):
    with pytest.raises(ValueError, match=re.escape(expected)):
        _build(**overrides)


def test_the_jobs_bootstrap_action_is_added_when_the_spec_lacks_it(synthesized):
    states = _asl(synthesized, "Pipeline")["States"]
    assert states["Compute-Run"]["Resource"].endswith("startExecution.sync:2")
    compute = _asl(synthesized, "PipelineCompute")["States"]
    create = compute["CreateCluster"]["Parameters"]
    names = [b["Name"] for b in create["BootstrapActions"]]
    assert "widematrix-python-deps" in names
