"""The two prebuilt pipeline stacks, as synthesized on the app's one shared platform.

TransientSparkPipelineStack: a .csv upload below ``sensor-readings/`` in the raw bucket starts a
transient-cluster pipeline that runs the bundled preprocess.py then model.py for TRAINING, then
SCORING. NotebookPipelineStack: a daily schedule runs the two bundled notebooks, the second
parameterized by the first's result. Both: sweeper, notifications, no VPC of their own.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from emr_patterns.jobs.notebooks import NOTEBOOKS, parameter_names

from ..orchestration.test_pipeline_asl import _failure_violations, _states, _tasks

pytestmark = pytest.mark.cdk
PIPELINE_STACKS = ("TransientSparkPipelineStack", "NotebookPipelineStack")


def resolve(value: Any) -> Any:
    """A CloudFormation value as the string it deploys to, references as placeholders."""
    if isinstance(value, dict) and len(value) == 1:
        ((fn, arg),) = value.items()
        if fn == "Fn::Join":
            return arg[0].join(resolve(p) for p in arg[1])
        if fn == "Ref":
            return "aws" if arg == "AWS::Partition" else f"REF-{arg}"
        if fn == "Fn::GetAtt":
            return f"GETATT-{arg[0]}-{arg[1]}"
        if fn == "Fn::ImportValue":
            return f"IMPORT-{arg}"
        if fn == "Fn::Sub":
            return arg.replace("${AWS::AccountId}", "123456789012").replace("${AWS::Region}", "us-east-1")
    if isinstance(value, str):
        return value
    raise AssertionError(f"unexpected CloudFormation value {value!r}")


def _of_type(synthesized, stack_id: str, kind: str) -> dict[str, dict[str, Any]]:
    resources = synthesized.template_json(stack_id)["Resources"]
    return {k: r for k, r in resources.items() if r["Type"] == kind}


def _asl(synthesized, stack_id: str) -> dict[str, Any]:
    (machine,) = _of_type(synthesized, stack_id, "AWS::StepFunctions::StateMachine").values()
    return json.loads(resolve(machine["Properties"]["DefinitionString"]))


@pytest.mark.parametrize("stack_id", PIPELINE_STACKS)
def test_runs_on_the_shared_platform_with_sweeper_and_notifications(synthesized, stack_id):
    assert not _of_type(synthesized, stack_id, "AWS::EC2::VPC")
    asl = _asl(synthesized, stack_id)
    assert _failure_violations(asl) == []
    ((machine_id, _),) = _of_type(synthesized, stack_id, "AWS::StepFunctions::StateMachine").items()
    rules = _of_type(synthesized, stack_id, "AWS::Events::Rule")
    watching = [
        r["Properties"]["EventPattern"]
        for r in rules.values()
        if r["Properties"].get("EventPattern", {}).get("source") == ["aws.states"]
    ]
    assert len(watching) == 2  # the sweeper and the notifications
    for pattern in watching:
        assert json.dumps(pattern["detail"]["stateMachineArn"]).count(machine_id) == 1
    (topic,) = _of_type(synthesized, stack_id, "AWS::SNS::Topic").values()
    assert "KmsMasterKeyId" in topic["Properties"]
    (create,) = [s for _, s in _tasks(asl, "createCluster.sync")]
    assert create["Parameters"]["ServiceRole"].startswith("IMPORT-PlatformBaseStack:")


def test_spark_pipeline_runs_both_programs_per_mode_on_the_uploaded_file(synthesized):
    stack_id = "TransientSparkPipelineStack"
    asl = _asl(synthesized, stack_id)
    steps = _tasks(asl, "addStep.sync")
    assert [n for n, _ in steps] == ["Step1-preprocess", "Step2-model"]
    preprocess, model = (s["Parameters"]["Step"]["HadoopJarStep"]["Args.$"] for _, s in steps)
    # Each runs its own program asset (content-hashed keys).
    main_of = [a.split("', '")[3] for a in (preprocess, model)]
    assert main_of[0] != main_of[1] and all(m.startswith("s3://cdk-") and m.endswith(".py") for m in main_of)
    assert "States.Format('s3://{}/{}', $.input.source.bucket, $.input.source.key)" in preprocess
    # What preprocess writes is what model reads.
    features = "sensor-anomaly/runs/{}/{}/preprocess/', $$.Execution.Name, $.mode)"
    assert features in preprocess and features in model
    assert "'--model-location'" in model and "sensor-anomaly/models/{}/" in model
    # Input is checked before any cluster exists: modes and the uploaded object.
    first = asl["States"][asl["StartAt"]]
    variables = {c["Variable"] for c in first["Choices"][0]["Or"]}
    assert {"$.modes", "$.source.bucket", "$.source.key"} <= variables
    # The programs are assets the instance role may read, object by object.
    (read,) = [
        p
        for k, p in _of_type(synthesized, stack_id, "AWS::IAM::ManagedPolicy").items()
        if k.startswith("ProgramsReadPolicy")
    ]
    (statement,) = read["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Action"] == "s3:GetObject" and len(statement["Resource"]) == 2
    assert synthesized.imported_resource(read["Properties"]["Roles"][0])["Type"] == "AWS::IAM::Role"


def test_an_upload_of_a_csv_below_the_prefix_starts_training_then_scoring(synthesized):
    stack_id = "TransientSparkPipelineStack"
    rules = _of_type(synthesized, stack_id, "AWS::Events::Rule")
    (upload,) = [
        r["Properties"] for r in rules.values() if r["Properties"]["EventPattern"]["source"] == ["aws.s3"]
    ]
    pattern = upload["EventPattern"]
    assert pattern["detail-type"] == ["Object Created"]
    assert pattern["detail"]["object"]["key"] == [{"wildcard": "sensor-readings/*.csv"}]
    (bucket,) = pattern["detail"]["bucket"]["name"]
    assert synthesized.imported_resource(bucket)["Type"] == "AWS::S3::Bucket"
    assert "Raw" in synthesized.resolve_import(bucket)[1]["Ref"]
    (target,) = upload["Targets"]
    template = target["InputTransformer"]["InputTemplate"]
    assert '"modes":["TRAINING","SCORING"]' in template.replace(" ", "")
    assert "DeadLetterConfig" in target and target["RetryPolicy"]["MaximumRetryAttempts"] == 4


def test_notebook_pipeline_chains_the_bundled_notebooks_daily(synthesized):
    stack_id = "NotebookPipelineStack"
    asl = _asl(synthesized, stack_id)
    states = {n: s for n, s, _ in _states(asl)}
    first, second = states["Params-daily_top_states"], states["Params-trailing_n_days"]
    assert first["Parameters"]["TOP_K"] == 6
    assert (
        first["Parameters"]["DATE.$"] == "States.ArrayGetItem(States.StringSplit($.scheduled_time, 'T'), 0)"
    )
    assert second["Parameters"]["STATE.$"] == "$.results.daily_top_states.value.top_state"
    # Only names the notebooks' parameters cells assign.
    for name, state in (("daily_top_states", first), ("trailing_n_days", second)):
        passed = {k.removesuffix(".$") for k in state["Parameters"]}
        assert passed <= set(parameter_names(NOTEBOOKS[name])), name
    (schedule,) = _of_type(synthesized, stack_id, "AWS::Scheduler::Schedule").values()
    props = schedule["Properties"]
    assert props["ScheduleExpression"] == "cron(0 9 * * ? *)"
    assert props["ScheduleExpressionTimezone"] == "UTC"
    assert json.loads(props["Target"]["Input"]) == {"scheduled_time": "<aws.scheduler.scheduled-time>"}
    assert "DeadLetterConfig" in props["Target"] and "KmsKeyArn" in props
    (create,) = [s for _, s in _tasks(asl, "createCluster.sync")]
    apps = [a["Name"] for a in create["Parameters"]["Applications"]]
    assert {"Livy", "JupyterEnterpriseGateway", "Spark", "Hadoop"} <= set(apps)


@pytest.mark.parametrize(
    ("stack", "kwargs", "expected"),
    [
        ("TransientSparkPipelineStack", {"notification_emails": "ops@example.com"}, "notification_emails"),
        ("NotebookPipelineStack", {"top_k": 0}, "top_k=0"),
        ("NotebookPipelineStack", {"schedule": "cron(0 9 * * * *)"}, "day-of-month and day-of-week"),
        ("NotebookPipelineStack", {"timezone": "Mars/Base"}, "timezone='Mars/Base'"),
        ("TransientSparkPipelineStack", {"upload_prefix": 123}, "prefix=123"),
    ],
)
def test_bad_props_raise_with_the_prop(stack, kwargs, expected):
    from aws_cdk import App

    from emr_patterns import EmrPatternsValidationError
    from emr_patterns.stacks import pipelines

    with pytest.raises(EmrPatternsValidationError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        getattr(pipelines, stack)(App(), "Bad", **kwargs)
