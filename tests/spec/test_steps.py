"""Step builders: botocore-valid StepConfig, exact addStep.sync parameters, every bad input of issue 9."""

from __future__ import annotations

import json
import re
import time
from functools import cache
from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator
from hypothesis import given, settings
from hypothesis import strategies as st

from emr_patterns.spec import (
    SPARK_CONF_ALLOWED_KEYS,
    ActionOnFailure,
    Arg,
    CommandRunnerStep,
    DeployMode,
    HiveScriptStep,
    ScriptRunnerStep,
    SparkSubmitStep,
    script_runner_jar,
    spark_conf_key_allowed,
    step_from_dict,
)
from tests.spec.test_acceptance import enum_violations

SAMPLE = {"$.input_uri": "s3://raw/2026/12/01/", "$.run": "r-42", "$$.Execution.Name": "exec-1"}


@cache
def add_job_flow_steps_shape() -> Any:
    model = botocore.session.get_session().get_service_model("emr")
    return model.operation_model("AddJobFlowSteps").input_shape


def assert_add_job_flow_steps_valid(step_config: dict[str, Any]) -> None:
    """Valid input for ``AddJobFlowSteps`` by botocore's EMR model: types, required members, enums."""
    request = {"JobFlowId": "j-ABCDEFGHIJKL", "Steps": [step_config]}
    report = ParamValidator().validate(request, add_job_flow_steps_shape())
    assert not report.has_errors(), report.generate_report()
    assert enum_violations(request, add_job_flow_steps_shape(), "AddJobFlowSteps") == []


def all_steps() -> list[Any]:
    return [
        SparkSubmitStep(
            name="ingest",
            main="s3://code/jobs/ingest.py",
            py_files=("s3://code/jobs/lib.zip",),
            jars=("s3://code/jars/delta.jar",),
            args=("--input", Arg.path("$.input_uri"), Arg.format("--run={}", "$.run")),
            spark_conf={"spark.executor.memory": "8g", "spark.dynamicAllocation.maxExecutors": "40"},
            deploy_mode=DeployMode.CLIENT,
            action_on_failure=ActionOnFailure.CANCEL_AND_WAIT,
        ),
        SparkSubmitStep(
            name="pi",
            main_class="org.apache.spark.examples.SparkPi",
            jars=("file:/usr/lib/spark/examples/jars/spark-examples.jar",),
            args=("10",),
        ),
        HiveScriptStep(
            name="load",
            script="s3://code/hive/load.hql",
            variables={"INPUT": Arg.path("$.input_uri"), "DAY": "2026-12-01"},
            action_on_failure="TERMINATE_CLUSTER",
        ),
        CommandRunnerStep(
            name="copy", args=("s3-dist-cp", "--src", Arg.path("$.input_uri"), "--dest", "hdfs:///in")
        ),
        ScriptRunnerStep(
            name="prep", script="s3://code/sh/prep.sh", region="eu-west-1", args=(Arg.path("$.run"),)
        ),
        ScriptRunnerStep(
            name="legacy",
            script="s3://code/sh/a.sh",
            region="us-east-1",
            action_on_failure="TERMINATE_JOB_FLOW",
        ),
    ]


@pytest.mark.parametrize("step", all_steps(), ids=lambda s: f"{type(s).__name__}-{s.name}")
def test_every_step_config_is_valid_for_add_job_flow_steps(step):
    config = step.to_step_config(SAMPLE)
    assert_add_job_flow_steps_valid(config)
    assert all(isinstance(a, str) for a in config["HadoopJarStep"]["Args"])
    # The check can fail: the same step without its Jar is refused.
    broken = {**config, "HadoopJarStep": {"Args": config["HadoopJarStep"]["Args"]}}
    assert (
        ParamValidator()
        .validate({"JobFlowId": "j-1", "Steps": [broken]}, add_job_flow_steps_shape())
        .has_errors()
    )


def test_enum_check_can_fail():
    config = CommandRunnerStep(name="c", args=("true",)).to_step_config()
    assert enum_violations(
        {"JobFlowId": "j-1", "Steps": [{**config, "ActionOnFailure": "RETRY"}]},
        add_job_flow_steps_shape(),
    )


def test_spark_step_renders_spark_submit_in_order():
    step = all_steps()[0]
    assert step.to_step_config(SAMPLE) == {
        "Name": "ingest",
        "ActionOnFailure": "CANCEL_AND_WAIT",
        "HadoopJarStep": {
            "Jar": "command-runner.jar",
            "Args": [
                "spark-submit",
                "--deploy-mode",
                "client",
                "--conf",
                "spark.executor.memory=8g",
                "--conf",
                "spark.dynamicAllocation.maxExecutors=40",
                "--jars",
                "s3://code/jars/delta.jar",
                "--py-files",
                "s3://code/jobs/lib.zip",
                "s3://code/jobs/ingest.py",
                "--input",
                "s3://raw/2026/12/01/",
                "--run=r-42",
            ],
        },
    }
    assert step.json_paths == ("$.input_uri", "$.run")


def test_main_class_uses_first_jar_as_application():
    step = SparkSubmitStep(
        name="app",
        main_class="com.example.Main",
        jars=("s3://code/app.jar", "s3://code/dep1.jar", "s3://code/dep2.jar"),
        args=("--x", "1"),
    )
    assert step.step_args() == (
        "spark-submit",
        "--deploy-mode",
        "cluster",
        "--class",
        "com.example.Main",
        "--jars",
        "s3://code/dep1.jar,s3://code/dep2.jar",
        "s3://code/app.jar",
        "--x",
        "1",
    )


def test_mixed_literal_and_path_args_render_as_states_array_exactly():
    step = CommandRunnerStep(
        name="copy",
        args=(
            "s3-dist-cp",
            "--src",
            Arg.path("$.input_uri"),
            Arg.format("--dest=s3://out/{}/{}", "$.run", "$$.Execution.Name"),
            "--note=it's {raw} \\ done",
        ),
    )
    assert step.to_sfn_parameters() == {
        "ClusterId.$": "$.ClusterId",
        "Step": {
            "Name": "copy",
            "ActionOnFailure": "CONTINUE",
            "HadoopJarStep": {
                "Jar": "command-runner.jar",
                "Args.$": "States.Array('s3-dist-cp', '--src', $.input_uri, "
                "States.Format('--dest=s3://out/{}/{}', $.run, $$.Execution.Name), "
                "'--note=it\\'s \\{raw\\} \\\\ done')",
            },
        },
    }
    assert "Args" not in step.to_sfn_step()["HadoopJarStep"]


def test_all_literal_args_render_as_plain_args():
    step = ScriptRunnerStep(
        name="prep", script="s3://code/a.sh", region="us-west-2", args=("--day", "2026-12-01")
    )
    assert step.to_sfn_parameters(cluster_id="j-LITERAL") == {
        "ClusterId": "j-LITERAL",
        "Step": {
            "Name": "prep",
            "ActionOnFailure": "CONTINUE",
            "HadoopJarStep": {
                "Jar": "s3://us-west-2.elasticmapreduce/libs/script-runner/script-runner.jar",
                "Args": ["s3://code/a.sh", "--day", "2026-12-01"],
            },
        },
    }
    assert (
        step.to_sfn_parameters(cluster_id=Arg.path("$.cluster.ClusterId"))["ClusterId.$"]
        == "$.cluster.ClusterId"
    )


def test_hive_variables_from_input_go_through_states_format():
    step = all_steps()[2]
    assert step.to_sfn_step()["HadoopJarStep"]["Args.$"] == (
        "States.Array('hive-script', '--run-hive-script', '--args', '-f', 's3://code/hive/load.hql', "
        "'-d', States.Format('INPUT={}', $.input_uri), '-d', 'DAY=2026-12-01')"
    )
    assert step.to_step_config(SAMPLE)["HadoopJarStep"]["Args"][-4:] == [
        "-d",
        "INPUT=s3://raw/2026/12/01/",
        "-d",
        "DAY=2026-12-01",
    ]


def test_cdk_string_tokens_are_not_escaped():
    token = "${Token[AWS.Region.12]}"
    step = CommandRunnerStep(
        name="t", args=("aws", f"--region={token}", Arg.format(f"s3://b-{token}/{{}}", "$.run"))
    )
    rendered = step.to_sfn_step()["HadoopJarStep"]["Args.$"]
    assert f"'--region={token}'" in rendered
    assert f"States.Format('s3://b-{token}/{{}}', $.run)" in rendered
    region_step = ScriptRunnerStep(name="s", script="s3://c/a.sh", region=token)
    assert region_step.jar() == f"s3://{token}.elasticmapreduce/libs/script-runner/script-runner.jar"


def _run_pass_state(parameters: dict[str, Any], execution_input: dict[str, Any], name: str) -> dict[str, Any]:
    """Evaluate ``parameters`` in a Pass state on moto's Step Functions interpreter."""
    boto3 = pytest.importorskip("boto3")
    moto = pytest.importorskip("moto")
    definition = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": parameters, "End": True}}}
    with moto.mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        client = boto3.client("stepfunctions", region_name="us-east-1")
        arn = client.create_state_machine(
            name="steps", definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/sfn"
        )["stateMachineArn"]
        run = client.start_execution(stateMachineArn=arn, name=name, input=json.dumps(execution_input))
        for _ in range(100):
            described = client.describe_execution(executionArn=run["executionArn"])
            if described["status"] != "RUNNING":
                break
            time.sleep(0.05)
    assert described["status"] == "SUCCEEDED", described
    return json.loads(described["output"])


def test_addstep_parameters_evaluate_to_the_boto3_step_config():
    """The intrinsic form, run by an ASL interpreter, gives the same StepConfig as the boto3 form.

    moto's interpreter does not implement the documented escapes (``\\'``, ``\\{``), so the literals
    here hold no reserved character; the escaped form is pinned exactly above.
    """
    step = SparkSubmitStep(
        name="ingest",
        main="s3://code/jobs/ingest.py",
        args=(
            "--input",
            Arg.path("$.input_uri"),
            Arg.format("--run={}-{}", "$.run", "$$.Execution.Name"),
            "--x",
        ),
        spark_conf={"spark.sql.shuffle.partitions": "64"},
    )
    output = _run_pass_state(
        step.to_sfn_parameters(),
        {"ClusterId": "j-ABC", "input_uri": SAMPLE["$.input_uri"], "run": "r-42"},
        "exec-1",
    )
    assert output == {"ClusterId": "j-ABC", "Step": step.to_step_config(SAMPLE)}
    assert_add_job_flow_steps_valid(output["Step"])


def test_step_names_are_deterministic():
    assert [s.to_sfn_parameters() for s in all_steps()] == [s.to_sfn_parameters() for s in all_steps()]
    assert [s.name for s in all_steps()] == ["ingest", "pi", "load", "copy", "prep", "legacy"]
    assert hash(all_steps()[0]) == hash(all_steps()[0])


def test_script_runner_jar_path():
    assert (
        script_runner_jar("ap-south-1")
        == "s3://ap-south-1.elasticmapreduce/libs/script-runner/script-runner.jar"
    )


def test_allowlist():
    assert {
        "spark.executor.memory",
        "spark.sql.shuffle.partitions",
        "spark.yarn.maxAppAttempts",
    } <= SPARK_CONF_ALLOWED_KEYS
    assert spark_conf_key_allowed("spark.dynamicAllocation.minExecutors")
    assert spark_conf_key_allowed("spark.sql.adaptive.coalescePartitions.enabled")
    for key in (
        "spark.jars.packages",
        "spark.jars",
        "spark.driver.extraJavaOptions",
        "spark.executor.extraClassPath",
        "spark.plugins",
        "spark.sql.extensions",
        "spark.authenticate",
        "spark.sql.adaptive.customCostEvaluatorClass",
    ):
        assert not spark_conf_key_allowed(key), key
    assert spark_conf_key_allowed("spark.jars.packages", ("spark.jars.packages",))


def test_escape_hatch_allows_named_keys_only():
    step = SparkSubmitStep(
        name="delta",
        main="s3://code/a.py",
        spark_conf={"spark.jars.packages": "io.delta:delta-spark_2.12:3.2.0"},
        extra_allowed_spark_conf=("spark.jars.packages",),
    )
    assert "spark.jars.packages=io.delta:delta-spark_2.12:3.2.0" in step.step_args()


def test_step_from_dict_builds_each_type():
    spark = step_from_dict(
        {
            "type": "spark",
            "name": "ingest",
            "main": "s3://code/a.py",
            "args": ["--input", {"path": "$.input_uri"}, {"format": "--run={}", "paths": ["$.run"]}],
        }
    )
    assert spark == SparkSubmitStep(
        name="ingest",
        main="s3://code/a.py",
        args=("--input", Arg.path("$.input_uri"), Arg.format("--run={}", "$.run")),
    )
    hive = step_from_dict(
        {"type": "hive", "name": "h", "script": "s3://c/q.hql", "variables": {"X": {"path": "$.x"}}}
    )
    assert isinstance(hive, HiveScriptStep) and hive.variables["X"] == Arg.path("$.x")
    assert isinstance(step_from_dict({"type": "command", "name": "c", "args": ["true"]}), CommandRunnerStep)
    script = step_from_dict({"type": "script", "name": "s", "script": "s3://c/a.sh", "region": "us-east-1"})
    assert isinstance(script, ScriptRunnerStep)


# --- bad inputs, each a named problem with its value and a fix -------------------------------------


def test_unknown_step_type(raises_problem):
    raises_problem(
        lambda: step_from_dict({"type": "sparkk", "name": "x"}), prop="type", value="sparkk", says="spark"
    )


def test_unknown_and_missing_fields_in_dict(raises_problem):
    err = raises_problem(
        lambda: step_from_dict({"type": "hive", "name": "h", "scrpt": "s3://c/q.hql"}),
        prop="scrpt",
        says="not a field",
    )
    assert any(p.startswith("script=") and "missing" in p for p in err.problems)


def test_spark_conf_key_outside_allowlist(raises_problem):
    raises_problem(
        lambda: SparkSubmitStep(
            name="s", main="s3://c/a.py", spark_conf={"spark.driver.extraJavaOptions": "-javaagent:x"}
        ),
        prop="step.spark_conf",
        value="spark.driver.extraJavaOptions",
        says="extra_allowed_spark_conf",
    )


def test_main_not_s3(raises_problem):
    raises_problem(
        lambda: SparkSubmitStep(name="s", main="hdfs:///jobs/a.py"),
        prop="step.main",
        value="hdfs:///jobs/a.py",
        says="s3://",
    )
    raises_problem(
        lambda: SparkSubmitStep(name="s", main="s3://c/a.txt"),
        prop="step.main",
        value="s3://c/a.txt",
        says=".py",
    )


def test_both_main_and_main_class(raises_problem):
    raises_problem(
        lambda: SparkSubmitStep(
            name="s", main="s3://c/a.jar", main_class="com.example.Main", jars=("s3://c/a.jar",)
        ),
        prop="step.main_class",
        value="com.example.Main",
        says="not both",
    )


def test_neither_main_nor_main_class(raises_problem):
    raises_problem(lambda: SparkSubmitStep(name="s"), prop="step.main", says="missing")


def test_main_class_without_jars(raises_problem):
    raises_problem(
        lambda: SparkSubmitStep(name="s", main_class="com.example.Main"), prop="step.jars", says="empty"
    )


def test_empty_name(raises_problem):
    raises_problem(lambda: CommandRunnerStep(name="", args=("true",)), prop="step.name", says="1-256")


def test_name_over_256_chars(raises_problem):
    long_name = "n" * 257
    raises_problem(lambda: CommandRunnerStep(name=long_name, args=("true",)), prop="step.name", says="1-256")
    assert CommandRunnerStep(name="n" * 256, args=("true",)).name == "n" * 256


def test_action_on_failure_not_in_enum(raises_problem):
    raises_problem(
        lambda: HiveScriptStep(name="h", script="s3://c/q.hql", action_on_failure="RETRY"),
        prop="step.action_on_failure",
        value="RETRY",
        says="ActionOnFailure",
    )


@pytest.mark.parametrize(
    "bad", ["$.input_uri", "--input=$.input_uri", "$$.Execution.Name", "States.Format('{}', $.x)", "$"]
)
def test_untyped_jsonpath_in_args(raises_problem, bad):
    raises_problem(
        lambda: CommandRunnerStep(name="c", args=("aws", bad)),
        prop="step.args[1]",
        value=bad,
        says="JSONPath",
    )


def test_untyped_jsonpath_elsewhere(raises_problem):
    raises_problem(
        lambda: SparkSubmitStep(name="s", main="s3://c/a.py", args=("--day", "$.day")),
        prop="step.args[1]",
        says="Arg.path",
    )
    raises_problem(
        lambda: HiveScriptStep(name="h", script="s3://c/q.hql", variables={"IN": "$.input_uri"}),
        prop="step.variables['IN']",
        says="JSONPath",
    )
    raises_problem(
        lambda: ScriptRunnerStep(
            name="s", script="s3://c/a.sh", region="us-east-1", args=("States.Array($.x)",)
        ),
        prop="step.args[0]",
        says="intrinsic",
    )


def test_dollar_signs_that_are_not_paths_are_allowed():
    step = CommandRunnerStep(name="c", args=("bash", "-c", "echo $HOME ${USER} costs $5", "UnitedStates.csv"))
    assert step.to_sfn_step()["HadoopJarStep"]["Args"][2] == "echo $HOME ${USER} costs $5"


def test_bad_arg_paths_and_templates(raises_problem):
    raises_problem(lambda: Arg.path("input_uri"), prop="arg.paths", value="input_uri", says="JSONPath")
    raises_problem(lambda: Arg.path("$.a[?(@.x)]"), prop="arg.paths", says="JSONPath")
    raises_problem(lambda: Arg.format("--a={} --b={}", "$.a"), prop="arg.template", says="1 path")
    raises_problem(lambda: Arg.format("--a={x}{}", "$.a"), prop="arg.template", says="brace")


def test_missing_value_for_a_path_in_boto3_form(raises_problem):
    step = CommandRunnerStep(name="c", args=("aws", Arg.path("$.input_uri")))
    raises_problem(lambda: step.to_step_config(), prop="values", value="$.input_uri", says="no value")


def test_other_bad_inputs_collected_together():
    with pytest.raises(ValueError) as info:
        SparkSubmitStep(
            name="",
            main="s3://c/a.py",
            py_files=("/local/lib.zip",),
            jars=("s3://c/x.tar",),
            deploy_mode="yarn",
            action_on_failure="STOP",
            spark_conf={"spark.jars.packages": "x"},
            args=("$.x",),
        )
    props = [p.split("=", 1)[0] for p in info.value.problems]  # type: ignore[attr-defined]
    assert props == [
        "step.name",
        "step.action_on_failure",
        "step.jars[0]",
        "step.py_files[0]",
        "step.args[0]",
        "step.spark_conf",
        "step.deploy_mode",
    ]


def test_script_steps_bad_inputs(raises_problem):
    raises_problem(
        lambda: ScriptRunnerStep(name="s", script="s3://c/a.sh", region="Virginia"),
        prop="step.region",
        value="Virginia",
    )
    raises_problem(
        lambda: ScriptRunnerStep(name="s", script="./a.sh", region="us-east-1"),
        prop="step.script",
        value="./a.sh",
    )
    raises_problem(
        lambda: HiveScriptStep(name="h", script="s3://c/q.hql", variables={"BAD-NAME": "x"}),
        prop="step.variables",
    )
    raises_problem(lambda: CommandRunnerStep(name="c", args=()), prop="step.args", says="empty")
    raises_problem(
        lambda: CommandRunnerStep(name="c", args=(Arg.path("$.cmd"),)), prop="step.args[0]", says="program"
    )


def test_docs_example_runs_and_renders():
    """The example in docs/cluster-spec.md's Steps section builds and renders as shown."""
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "cluster-spec.md").read_text()
    section = text.split("## Steps (`spec/steps.py`)", 1)[1].split("\n## ", 1)[0]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    scope: dict[str, Any] = {}
    exec(compile(code, "cluster-spec.md", "exec"), scope)
    step = scope["step"]
    assert_add_job_flow_steps_valid(
        step.to_step_config({"$.input_uri": "s3://raw/day/", "$$.Execution.Name": "r1"})
    )
    assert "Args.$" in step.to_sfn_parameters()["Step"]["HadoopJarStep"]
    for key in sorted(SPARK_CONF_ALLOWED_KEYS):
        leaf = key.rsplit(".", 1)[1]
        assert f"`{key}`" in section or f"`.{leaf}`" in section, key


def test_spark_conf_numbers_and_bools_become_spark_strings():
    step = SparkSubmitStep(
        name="s", main="s3://c/a.py", spark_conf={"spark.executor.instances": 4, "spark.speculation": True}
    )
    assert dict(step.spark_conf) == {"spark.executor.instances": "4", "spark.speculation": "true"}
    assert_add_job_flow_steps_valid(step.to_step_config())


def test_path_inside_a_uri_is_refused(raises_problem):
    raises_problem(
        lambda: CommandRunnerStep(name="c", args=("aws", "s3", "cp", "s3://b/$.key", ".")),
        prop="step.args[3]",
        value="s3://b/$.key",
        says="JSONPath",
    )


def _unquote_states_array(rendered: str) -> list[str | tuple[str, str]]:
    """Split ``States.Array(...)`` by the documented rules: literals in ``'...'`` with ``\\'``,
    ``\\{``, ``\\}`` and ``\\\\`` escapes; anything else (a path or a nested call) is kept raw."""
    assert rendered.startswith("States.Array(") and rendered.endswith(")")
    body = rendered[len("States.Array(") : -1]
    out: list[str | tuple[str, str]] = []
    i = 0
    while i < len(body):
        if body[i] == "'":
            i += 1
            text = ""
            while body[i] != "'":
                if body[i] == "\\":
                    assert body[i + 1] in "'{}\\", body[i : i + 2]
                    text += body[i + 1]
                    i += 2
                else:
                    assert body[i] not in "{}", body
                    text += body[i]
                    i += 1
            out.append(text)
            i += 1
        else:
            end = body.find(", ", i)
            end = len(body) if end == -1 else end
            out.append(("raw", body[i:end]))
            i = end
        if body.startswith(", ", i):
            i += 2
    return out


literal_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=0, max_size=40
).filter(lambda t: not re.search(r"\$|States\.|\$\{Token\[", t))


@settings(max_examples=200, deadline=None)
@given(literals=st.lists(literal_text, min_size=1, max_size=6))
def test_states_array_literals_round_trip(literals):
    step = CommandRunnerStep(name="c", args=("echo", *literals, Arg.path("$.x")))
    parsed = _unquote_states_array(step.to_sfn_step()["HadoopJarStep"]["Args.$"])
    assert parsed == ["echo", *literals, ("raw", "$.x")]
