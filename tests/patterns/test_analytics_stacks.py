"""DataBrewMlStack and DataLakeWarehouseStack: the deployed machines, their API payloads against the
botocore models, the IAM each Task needs, the warehouse's settings, and bad props.

Every check reads the synthesized templates of the prebuilt app (the ``synthesized`` fixture).
"""

from __future__ import annotations

import json
import re
from typing import Any

import botocore.session
import botocore.validate
import pytest
from aws_cdk import App, Stack

from emr_patterns.orchestration.diagram import definition_of
from emr_patterns.spec.warehouse import covid_state_daily_table

pytestmark = pytest.mark.cdk

ML, WAREHOUSE = "DataBrewMlStack", "DataLakeWarehouseStack"
RUN = "run-1"
#: Step Functions service name in ``aws-sdk:<service>:<action>`` -> the IAM prefix and botocore name.
SDK_SERVICES = {"redshiftdata": ("redshift-data", "redshift-data"), "s3": ("s3", "s3")}
#: Optimized integrations -> the IAM actions they call (Step Functions' documentation).
OPTIMIZED = {
    "databrew:startJobRun.sync": {"databrew:StartJobRun", "databrew:StopJobRun", "databrew:ListJobRuns"},
    "states:startExecution.sync:2": {
        "states:StartExecution",
        "states:DescribeExecution",
        "states:StopExecution",
    },
    "sns:publish": {"sns:Publish"},
}


def _machine(synthesized, stack: str, prefix: str) -> dict[str, Any]:
    return definition_of(synthesized.template_json(stack), prefix)


def _policy_statements(synthesized, stack: str, path_part: str) -> list[dict[str, Any]]:
    template = synthesized.template_json(stack)
    out = []
    for logical_id, r in template["Resources"].items():
        if r["Type"] == "AWS::IAM::ManagedPolicy" and logical_id.startswith(path_part):
            out += r["Properties"]["PolicyDocument"]["Statement"]
    return out


def _actions(statements: list[dict[str, Any]]) -> set[str]:
    out: set[str] = set()
    for s in statements:
        acts = s["Action"] if isinstance(s["Action"], list) else [s["Action"]]
        out |= set(acts)
    return out


def _split_args(text: str) -> list[str]:
    """Top-level comma-separated arguments of an intrinsic call body (quotes and parentheses aware)."""
    args, depth, quoted, start, i = [], 0, False, 0, 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == "'":
            quoted = not quoted
        elif not quoted and c == "(":
            depth += 1
        elif not quoted and c == ")":
            depth -= 1
        elif not quoted and depth == 0 and c == ",":
            args.append(text[start:i].strip())
            start = i + 1
        i += 1
    args.append(text[start:].strip())
    return args


def _literal(arg: str) -> str:
    assert arg.startswith("'") and arg.endswith("'"), arg
    return re.sub(r"\\(.)", r"\1", arg[1:-1])


def _evaluate(expression: str) -> Any:
    """The value of the intrinsics these machines use, with ``$$.Execution.Name`` = ``run-1``."""
    if expression.startswith("States.Array("):
        return [_evaluate(a) for a in _split_args(expression[len("States.Array(") : -1])]
    if expression.startswith("States.Format("):
        template, *values = _split_args(expression[len("States.Format(") : -1])
        assert all(v == "$$.Execution.Name" for v in values), values
        text = _literal(template)
        for _ in values:
            text = re.sub(r"(?<!\\)\{\}", RUN, text, count=1)
        return text
    return _literal(expression)


# ---- the warehouse pipeline ----------------------------------------------------------------------


def test_warehouse_machine_checks_the_manifest_before_one_batch_and_polls_to_an_end(synthesized):
    asl = _machine(synthesized, WAREHOUSE, "Pipeline")
    states = asl["States"]
    assert asl["StartAt"] == "ValidateInput"
    assert states["ValidateInput"]["Default"] == "Curate-Run"
    assert states["Curate-Run"]["Next"] == "LoadReadManifest"
    assert states["LoadReadManifest"]["Next"] == "LoadReadManifestCheck"
    assert states["LoadReadManifestCheck"]["Default"] == "LoadColumns"
    assert states["LoadColumns"]["Next"] == "LoadCheckColumns"
    assert states["LoadCheckColumns"]["Default"] == "LoadColumnsMismatch"
    assert states["LoadStart"]["Next"] == "LoadPolls"
    assert states["LoadCheckColumns"]["Choices"] == [
        {
            "Variable": "$.manifest.check.columns",
            "StringEquals": json.dumps(list(covid_state_daily_table().column_names), separators=(",", ":")),
            "Next": "LoadStart",
        }
    ]
    assert states["LoadColumnsMismatch"] == {
        "Type": "Fail",
        "Error": "ParquetColumnsMismatch",
        "Cause": states["LoadColumnsMismatch"]["Cause"],
    }
    assert states["Curate-Run"]["Catch"][0]["Next"] == "CurateFailed"
    check = {c.get("StringEquals", "polls"): c["Next"] for c in states["LoadCheck"]["Choices"]}
    assert check == {
        "FINISHED": "LoadDone",
        "FAILED": "LoadFailed",
        "ABORTED": "LoadAborted",
        "polls": "LoadCancel",
    }
    assert states["LoadCheck"]["Default"] == "LoadWait"
    assert states["LoadFailed"] == {
        "Type": "Fail",
        "Error": "RedshiftLoadFailed",
        "CausePath": "$.load.status.Error",
    }
    assert states["LoadCancel"]["Next"] == "LoadTimedOut" and states["LoadDone"]["Next"] == "Succeeded"
    # Every Task has a timeout; the nested run is never retried (it would curate twice).
    for name, state in states.items():
        if state["Type"] == "Task":
            assert state["TimeoutSeconds"] > 0, name
    assert "Retry" not in states["Curate-Run"]


def test_the_batch_is_the_tables_load_statements_and_a_valid_request(synthesized):
    start = _machine(synthesized, WAREHOUSE, "Pipeline")["States"]["LoadStart"]
    assert start["Resource"].endswith(":states:::aws-sdk:redshiftdata:batchExecuteStatement")
    params = dict(start["Parameters"])
    sqls = _evaluate(params.pop("Sqls.$"))
    table = covid_state_daily_table()
    (copy,) = [s for s in sqls if s.startswith("COPY ")]
    uri = re.search(r"FROM '([^']+)'", copy).group(1)
    role = re.search(r"IAM_ROLE '([^']+)'", copy).group(1)
    assert uri.endswith(f"/warehouse/covid_state_daily/runs/{RUN}/data/")
    # The rendered batch is exactly the spec's statements for this run, in order.
    bucket = uri.split("/")[2]
    fake_role = "arn:aws:iam::123456789012:role/copy"
    deployed = [q.replace(bucket, "curated-bucket").replace(role, fake_role) for q in sqls]
    assert deployed == table.load_statements(uri.replace(bucket, "curated-bucket"), fake_role)
    assert "SecretArn" not in params and "DbUser" not in params  # temporary IAM credentials
    request = {
        **{k: v for k, v in params.items() if not k.endswith(".$")},
        "Sqls": sqls,
        "ClientToken": "0123456789abcdef0123456789abcdef",
    }
    model = botocore.session.get_session().get_service_model("redshift-data")
    botocore.validate.validate_parameters(request, model.operation_model("BatchExecuteStatement").input_shape)
    for action, operation in (
        ("describeStatement", "DescribeStatement"),
        ("cancelStatement", "CancelStatement"),
    ):
        (state,) = [
            s for s in _machine(synthesized, WAREHOUSE, "Pipeline")["States"].values()
            if s.get("Resource", "").endswith(f"redshiftdata:{action}")
        ]  # fmt: skip
        assert state["Parameters"] == {"Id.$": "$.load.statement.Id"}
        botocore.validate.validate_parameters(
            {"Id": "01234567-89ab-cdef-0123-456789abcdef"}, model.operation_model(operation).input_shape
        )


@pytest.mark.parametrize(
    ("stack", "prefix", "policy"),
    [(WAREHOUSE, "Pipeline", "PipelineEmrPolicy"), (ML, "Pipeline", "PipelineEmrPolicy")],
)
def test_every_task_has_its_iam_actions_and_nothing_broader(synthesized, stack, prefix, policy):
    asl = _machine(synthesized, stack, prefix)
    statements = _policy_statements(synthesized, stack, policy)
    actions = _actions(statements)
    for name, state in asl["States"].items():
        if state["Type"] != "Task":
            continue
        resource = state["Resource"].split(":::")[1]
        if resource.startswith("aws-sdk:"):
            _, service, action = resource.split(":")
            needed = {f"{SDK_SERVICES[service][0]}:{action[0].upper()}{action[1:]}"}
        else:
            needed = OPTIMIZED[resource]
        assert needed <= actions, (name, needed - actions)
    assert not [a for a in actions if a.endswith(":*") or a == "*"]


def test_warehouse_data_api_rights_are_scoped_to_the_workgroup_and_own_statements(synthesized):
    statements = {s.get("Sid"): s for s in _policy_statements(synthesized, WAREHOUSE, "PipelineEmrPolicy")}
    workgroup = {
        "Fn::GetAtt": [
            _logical_id(synthesized, WAREHOUSE, "AWS::RedshiftServerless::Workgroup"),
            "Workgroup.WorkgroupArn",
        ]
    }
    assert statements["LoadBatch"]["Resource"] == workgroup
    assert statements["TemporaryCredentials"]["Resource"] == workgroup
    own = statements["OwnStatements"]
    assert own["Resource"] == "*"
    assert own["Condition"] == {"StringEquals": {"redshift-data:statement-owner-iam-userid": "${aws:userid}"}}


def _logical_id(synthesized, stack: str, kind: str) -> str:
    (logical_id,) = [k for k, r in synthesized.template_json(stack)["Resources"].items() if r["Type"] == kind]
    return logical_id


def test_the_warehouse_is_private_encrypted_with_a_managed_password_in_three_zones(synthesized):
    resources = synthesized.template_json(WAREHOUSE)["Resources"]
    (namespace,) = [
        r["Properties"] for r in resources.values() if r["Type"] == "AWS::RedshiftServerless::Namespace"
    ]
    (workgroup,) = [r for r in resources.values() if r["Type"] == "AWS::RedshiftServerless::Workgroup"]
    assert namespace["ManageAdminPassword"] is True and "AdminUserPassword" not in namespace
    assert "KmsKeyId" in namespace and "AdminPasswordSecretKmsKeyId" in namespace
    assert sorted(namespace["LogExports"]) == ["connectionlog", "useractivitylog", "userlog"]
    props = workgroup["Properties"]
    assert props["EnhancedVpcRouting"] is True and props["PubliclyAccessible"] is False
    assert len(props["SubnetIds"]) == 3
    assert {"ParameterKey": "require_ssl", "ParameterValue": "true"} in props["ConfigParameters"]
    assert _logical_id(synthesized, WAREHOUSE, "AWS::RedshiftServerless::Namespace") in workgroup["DependsOn"]
    # The platform spans three zones in the prebuilt app (Redshift Serverless needs them).
    subnets = [
        r
        for r in synthesized.template_json("PlatformBaseStack")["Resources"].values()
        if r["Type"] == "AWS::EC2::Subnet"
    ]
    zones = {json.dumps(s["Properties"]["AvailabilityZone"]) for s in subnets}
    assert len(zones) == 3


def test_copy_role_reads_only_the_runs_prefix(synthesized):
    statements = {s.get("Sid"): s for s in _policy_statements(synthesized, WAREHOUSE, "WarehouseCopyRole")}
    assert set(statements) == {"CopyReadObjects", "CopyListPrefix", "CopyDecrypt"}
    assert statements["CopyListPrefix"]["Condition"] == {
        "StringLike": {"s3:prefix": ["warehouse/covid_state_daily/runs/*"]}
    }
    assert (
        statements["CopyReadObjects"]["Resource"]["Fn::Join"][1][-1] == "/warehouse/covid_state_daily/runs/*"
    )


# ---- the DataBrew ML pipeline --------------------------------------------------------------------


def test_ml_machine_prepares_trains_reads_metrics_and_publishes_the_auc(synthesized):
    states = _machine(synthesized, ML, "Pipeline")["States"]
    prepare = states["PrepareData"]
    assert prepare["Resource"].endswith(":states:::databrew:startJobRun.sync")
    assert prepare["Next"] == "Train" and prepare["Catch"][0]["Next"] == "PreparationFailed"
    assert states["Train"]["Resource"].endswith(":states:::states:startExecution.sync:2")
    assert states["Train"]["Parameters"]["Input"]["modes"] == ["TRAINING"]
    assert states["Train"]["Catch"][0]["Next"] == "TrainingFailed"
    assert states["Train"]["Next"] == "ReadMetrics"
    assert states["ReadMetrics"]["Next"] == "ReadMetricsCheck"
    assert states["ReadMetricsCheck"]["Default"] == "NotifyMetrics"
    assert states["ReadMetricsCheck"]["Choices"][0]["Next"] == "ReadMetricsIncomplete"
    message = states["NotifyMetrics"]["Parameters"]["Message.$"]
    assert "$.metrics.value.validation.auc" in message and "$.metrics.value.test.auc" in message
    assert states["Succeeded"] == {"Type": "Succeed", "OutputPath": "$.metrics.value"}
    # The job run is the DataBrew job of the stack, by name.
    template = synthesized.template_json(ML)
    (job,) = [k for k, r in template["Resources"].items() if r["Type"] == "AWS::DataBrew::Job"]
    assert prepare["Parameters"] == {"Name": f"${{{job}}}"}


def test_ml_payloads_are_valid_requests(synthesized):
    states = _machine(synthesized, ML, "Pipeline")["States"]
    session = botocore.session.get_session()
    databrew = session.get_service_model("databrew").operation_model("StartJobRun").input_shape
    botocore.validate.validate_parameters({"Name": "census-income-job"}, databrew)
    notify = dict(states["NotifyMetrics"]["Parameters"])
    notify["Message"] = notify.pop("Message.$")
    notify["TopicArn"] = "arn:aws:sns:us-east-1:123456789012:topic"
    assert len(notify["Subject"]) <= 100
    botocore.validate.validate_parameters(
        notify, session.get_service_model("sns").operation_model("Publish").input_shape
    )


def test_ml_policy_runs_only_its_job_and_publishes_only_to_its_topic(synthesized):
    statements = {s.get("Sid"): s for s in _policy_statements(synthesized, ML, "PipelineEmrPolicy")}
    assert sorted(statements["RunRecipeJob"]["Action"]) == [
        "databrew:ListJobRuns",
        "databrew:StartJobRun",
        "databrew:StopJobRun",
    ]
    assert "job/" in json.dumps(statements["RunRecipeJob"]["Resource"])
    assert statements["PublishMetrics"]["Action"] == "sns:Publish"
    assert "Ref" in statements["PublishMetrics"]["Resource"]


# ---- bad props -----------------------------------------------------------------------------------


def test_a_warehouse_on_a_two_zone_platform_is_refused_naming_the_fix():
    from emr_patterns.foundation.platform import EmrPlatform
    from emr_patterns.patterns.redshift import RedshiftWarehouse

    stack = Stack(App(), "S")
    platform = EmrPlatform(stack, "Platform")
    with pytest.raises(ValueError, match=r"subnets=.*fewer than the three.*NetworkOptions\(max_azs=3\)"):
        RedshiftWarehouse(stack, "W", platform=platform)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"namespace_name": "Bad_Name"}, "namespace_name='Bad_Name'"),
        ({"base_capacity": 12}, "base_capacity=12: is not 8-1024 in steps of 8"),
        ({"max_capacity": 4}, "max_capacity=4: is below base_capacity"),
        ({"port": 80}, "port=80"),
        ({"database": "Dev"}, "database='Dev'"),
    ],
)
def test_bad_warehouse_props_name_the_prop(kwargs, message):
    from emr_patterns.foundation.options import NetworkOptions
    from emr_patterns.patterns.redshift import RedshiftWarehouse
    from emr_patterns.stacks.platform_base import PlatformBaseStack

    app = App()
    base = PlatformBaseStack(app, "Base", network=NetworkOptions(max_azs=3))
    with pytest.raises(ValueError, match=re.escape(message)):
        RedshiftWarehouse(Stack(app, "S"), "W", platform=base.platform, **kwargs)


def test_bad_load_props_name_the_prop():
    from emr_patterns.foundation.options import NetworkOptions
    from emr_patterns.patterns.redshift import RedshiftLoad, RedshiftWarehouse
    from emr_patterns.stacks.platform_base import PlatformBaseStack

    app = App()
    base = PlatformBaseStack(app, "Base", network=NetworkOptions(max_azs=3))
    stack = Stack(app, "S")
    warehouse = RedshiftWarehouse(stack, "W", platform=base.platform)
    with pytest.raises(ValueError, match=r"run_prefix='runs/': needs one '\{run\}'"):
        RedshiftLoad(
            stack, "Load", warehouse=warehouse.endpoint, table=covid_state_daily_table(),
            bucket=base.platform.data_buckets[2], run_prefix="runs/",
        )  # fmt: skip


def test_an_existing_workgroup_is_loaded_without_creating_a_warehouse():
    from emr_patterns.patterns.redshift import WarehouseEndpoint
    from emr_patterns.stacks.analytics import DataLakeWarehouseStack
    from emr_patterns.stacks.platform_base import PlatformBaseStack

    app = App()
    base = PlatformBaseStack(app, "Base")  # two zones: enough when the workgroup lives elsewhere
    stack = Stack(app, "Endpoints")
    endpoint = WarehouseEndpoint.existing(
        stack,
        "Analytics",
        workgroup_name="analytics",
        workgroup_id="0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0",
        database="dev",
        copy_role_arn="arn:aws:iam::123456789012:role/analytics-copy",
    )
    wh = DataLakeWarehouseStack(app, "Wh", platform=base.platform, warehouse=endpoint)
    template = app.synth().get_stack_by_name("Wh").template
    kinds = {r["Type"] for r in template["Resources"].values()}
    assert not {"AWS::RedshiftServerless::Namespace", "AWS::RedshiftServerless::Workgroup"} & kinds
    assert wh.warehouse is None
    statements = [
        s
        for logical_id, r in template["Resources"].items()
        if r["Type"] == "AWS::IAM::ManagedPolicy" and logical_id.startswith("PipelineEmrPolicy")
        for s in r["Properties"]["PolicyDocument"]["Statement"]
    ]
    (batch,) = [s for s in statements if s.get("Sid") == "LoadBatch"]
    assert "workgroup/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0" in json.dumps(batch["Resource"])
    with pytest.raises(ValueError, match="workgroup_id='abc': is not a workgroup id"):
        WarehouseEndpoint.existing(
            stack, "Bad", workgroup_name="analytics", workgroup_id="abc", database="dev",
            copy_role_arn="arn:aws:iam::123456789012:role/x",
        )  # fmt: skip
