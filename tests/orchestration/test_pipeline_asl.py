"""Graph invariants of TransientClusterPipeline over the ASL CloudFormation deploys.

Every check reads the synthesized ``DefinitionString`` (see ``conftest.resolve_tokens``), not the
Python objects: failure paths after creation reach a terminate before any Fail, every Task has
``TimeoutSeconds``, createCluster is never retried, every Catch keeps the input (``$.error``), and
the EMR parameters are valid against botocore's EMR model.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import botocore.session
import botocore.validate
import pytest

from emr_patterns import EmrPatternsValidationError
from emr_patterns.orchestration import EXECUTION_ARN_TAG, PipelineStep, TransientClusterPipeline
from emr_patterns.spec import ManagedScalingSpec, ShellAccess
from emr_patterns.spec.steps import Arg, SparkSubmitStep

from ..spec.test_acceptance import assert_botocore_valid, enum_violations
from .conftest import make_platform, make_spec, make_steps

pytestmark = pytest.mark.cdk

TERMINATE = "elasticmapreduce:terminateCluster.sync"


def _states(
    machine: dict[str, Any], parent: str | None = None
) -> Iterator[tuple[str, dict[str, Any], str | None]]:
    """(name, state, enclosing Map or Parallel name) of every state, Map iterators and Parallel
    branches included."""
    for name, state in machine["States"].items():
        yield name, state, parent
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            yield from _states(processor, name)
        for branch in state.get("Branches", []):
            yield from _states(branch, name)


def _by_name(asl: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: state for name, state, _ in _states(asl)}


def _tasks(asl: dict[str, Any], action: str) -> list[tuple[str, dict[str, Any]]]:
    return [(n, s) for n, s, _ in _states(asl) if s.get("Type") == "Task" and s["Resource"].endswith(action)]


def _is_terminate(state: dict[str, Any]) -> bool:
    return state.get("Type") == "Task" and state["Resource"].endswith(TERMINATE)


def _failure_violations(asl: dict[str, Any]) -> list[str]:
    """Paths from a state after createCluster to a failed execution that skip the terminate.

    Edges: Next, Default, Choices, Catch; a Task, Map or Parallel without a ``States.ALL`` catch
    also fails the execution (the terminate tasks too: a failed terminate must be retried and
    reported). Inside a Map no state may catch or fail: an error fails the Map, whose catch counts.
    """
    states = asl["States"]
    ((_, create),) = _tasks(asl, "createCluster.sync")
    violations: list[str] = []
    seen: set[tuple[str, bool]] = set()
    todo = [(create["Next"], False)]
    while todo:
        name, terminated = todo.pop()
        if (name, terminated) in seen:
            continue
        seen.add((name, terminated))
        state = states[name]
        terminated = terminated or _is_terminate(state)
        kind = state["Type"]
        if kind == "Fail" and not terminated:
            violations.append(f"{name} is reached without terminating the cluster")
        targets = [state.get("Next"), state.get("Default"), *[c["Next"] for c in state.get("Choices", [])]]
        catches = state.get("Catch", [])
        targets += [c["Next"] for c in catches]
        if kind in {"Task", "Map", "Parallel"} and not any("States.ALL" in c["ErrorEquals"] for c in catches):
            violations.append(f"{name} can fail the execution without a States.ALL catch")
        if kind == "Map":
            for inner_name, inner, _ in _states(state.get("ItemProcessor") or state["Iterator"]):
                for catch in inner.get("Catch", []):
                    violations.append(f"{inner_name} catches into {catch['Next']} inside the Map")
                if inner["Type"] == "Fail":
                    violations.append(f"{inner_name} is a Fail inside the Map")
        todo += [(t, terminated) for t in targets if t]
    return violations


def test_failure_paths_after_creation_terminate_before_failing(pipeline_app):
    asl = pipeline_app.asl
    assert _failure_violations(asl) == []
    names = _by_name(asl)
    # The failure path really is terminate-then-fail.
    terminate_after = names["TerminateAfterFailure"]
    assert _is_terminate(terminate_after)
    assert names[terminate_after["Next"]]["Type"] == "Fail"
    # The terminates write to a path of their own, so $.error and $.cluster reach the Fail state.
    assert [s.get("ResultPath") for s in names.values() if _is_terminate(s)] == ["$.termination"] * 2
    assert names[terminate_after["Next"]]["ErrorPath"] == "$.error.Error"
    assert names[terminate_after["Next"]]["CausePath"] == "$.error.Cause"


def test_the_check_finds_a_path_that_skips_the_terminate(pipeline_app):
    asl = copy.deepcopy(pipeline_app.asl)
    asl["States"]["ForEachMode"]["Catch"][0]["Next"] = "PipelineFailed"
    assert _failure_violations(asl) == ["PipelineFailed is reached without terminating the cluster"]
    asl = copy.deepcopy(pipeline_app.asl)
    del asl["States"]["TerminateCluster"]["Catch"]
    assert _failure_violations(asl) == ["TerminateCluster can fail the execution without a States.ALL catch"]


def test_every_task_has_a_timeout_and_the_machine_has_one(pipeline_app):
    asl = pipeline_app.asl
    tasks = [(n, s) for n, s, _ in _states(asl) if s["Type"] == "Task"]
    assert len(tasks) == 6  # create, three steps, terminate, terminate-after-failure
    assert all(isinstance(s.get("TimeoutSeconds"), int) and s["TimeoutSeconds"] > 0 for _, s in tasks)
    assert asl["TimeoutSeconds"] == 12 * 3600


def test_create_cluster_is_never_retried_on_states_all(pipeline_app):
    ((_, create),) = _tasks(pipeline_app.asl, "createCluster.sync")
    assert not any("States.ALL" in r["ErrorEquals"] for r in create.get("Retry", []))
    assert create["Resource"] == "arn:aws:states:::elasticmapreduce:createCluster.sync"


def test_every_catch_keeps_the_input_in_error(pipeline_app):
    catches = [c for _, s, _ in _states(pipeline_app.asl) for c in s.get("Catch", [])]
    assert len(catches) >= 4
    assert {c["ResultPath"] for c in catches} == {"$.error"}
    assert all(c["ErrorEquals"] == ["States.ALL"] for c in catches)


def test_bad_input_fails_before_creation(pipeline_app):
    asl = pipeline_app.asl
    first = asl["States"][asl["StartAt"]]
    assert first["Type"] == "Choice" and first["Default"] == "CreateCluster"
    (choice,) = first["Choices"]
    invalid = asl["States"][choice["Next"]]
    assert invalid["Type"] == "Fail" and invalid["Error"] == "InvalidInput" and "modes" in invalid["Cause"]
    assert {"Variable": "$.modes", "IsPresent": False} in choice["Or"]


def test_modes_run_one_at_a_time_with_deterministic_step_names(pipeline_app):
    asl = pipeline_app.asl
    modes = asl["States"]["ForEachMode"]
    assert modes["Type"] == "Map" and modes["MaxConcurrency"] == 1 and modes["ItemsPath"] == "$.modes"
    steps = _tasks(asl, "addStep.sync")
    assert [s["Parameters"]["Step"]["Name.$"] for _, s in steps] == [
        "States.Format('{}-01-extract', $.mode)",
        "States.Format('{}-02-load', $.mode)",
        "States.Format('{}-03-publish', $.mode)",
    ]
    # The first step's output location is the second step's input.
    extract_args, load_args, _ = (s["Parameters"]["Step"]["HadoopJarStep"]["Args.$"] for _, s in steps)
    output = "States.Format('s3://work/{}/{}/extract/', $$.Execution.Name, $.mode)"
    assert output in extract_args and output in load_args
    # Quotes and braces that are not placeholders are escaped as AWS documents (\' \{ \}).
    assert "'it\\'s \\{x\\}'" in load_args


# ---- botocore validity ---------------------------------------------------------------------------

SAMPLES = {
    "ClusterId.$": "j-2AXXXXXXGAPLF",
    "Value.$": "arn:aws:states:us-east-1:111122223333:execution:Pipeline:run-1",
    "Name.$": "full-01-extract",
    "Args.$": ["spark-submit", "s3://jobs/extract.py", "--mode", "full"],
}


def _sampled(value: Any, samples: dict[str, Any] = SAMPLES) -> Any:
    """``value`` with every ``.$`` field replaced by a typed sample under its plain name."""
    if isinstance(value, dict):
        out = {}
        for key, inner in value.items():
            if key.endswith(".$"):
                assert key in samples, f"no sample for JSONPath field {key}"
                out[key[:-2]] = samples[key]
            else:
                out[key] = _sampled(inner, samples)
        return out
    if isinstance(value, list):
        return [_sampled(v, samples) for v in value]
    return value


def test_create_cluster_parameters_are_a_valid_run_job_flow_request(pipeline_app):
    ((_, create),) = _tasks(pipeline_app.asl, "createCluster.sync")
    request = _sampled(create["Parameters"])
    assert_botocore_valid(request)
    tags = {t["Key"]: t["Value"] for t in request["Tags"]}
    assert tags[EXECUTION_ARN_TAG] == SAMPLES["Value.$"]
    assert tags["for-use-with-amazon-emr-managed-policies"] == "true"
    assert {"Key": EXECUTION_ARN_TAG, "Value.$": "$$.Execution.Id"} in create["Parameters"]["Tags"]
    assert request["AutoTerminationPolicy"] == {"IdleTimeout": 3600}
    assert request["Instances"]["KeepJobFlowAliveWhenNoSteps"] is True
    assert "Steps" not in request
    assert request["Instances"]["ServiceAccessSecurityGroup"].startswith("GETATT-PipelineServiceAccess")


def test_each_add_step_is_a_valid_add_job_flow_steps_request(pipeline_app):
    operation = botocore.session.get_session().get_service_model("emr").operation_model("AddJobFlowSteps")
    steps = _tasks(pipeline_app.asl, "addStep.sync")
    assert len(steps) == 3
    for _, state in steps:
        params = _sampled(state["Parameters"])
        request = {"JobFlowId": params["ClusterId"], "Steps": [params["Step"]]}
        botocore.validate.validate_parameters(request, operation.input_shape)
        assert enum_violations(request, operation.input_shape, "AddJobFlowSteps") == []


# ---- IAM and gates -------------------------------------------------------------------------------


def _policies(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == "AWS::IAM::ManagedPolicy"}


def test_no_inline_policy_and_pass_role_only_for_the_cluster_roles(pipeline_app):
    template = pipeline_app.template
    assert not [k for k, r in template["Resources"].items() if r["Type"] == "AWS::IAM::Policy"]
    # (The platform's own aws-cdk VPC custom resource provider is not this construct's.)
    assert not [
        k
        for k, r in template["Resources"].items()
        if k.startswith(("Pipeline", "Starter")) and r.get("Properties", {}).get("Policies")
    ]
    (emr,) = [p for k, p in _policies(template).items() if k.startswith("PipelineEmrPolicy")]
    statements = {s["Sid"]: s for s in emr["Properties"]["PolicyDocument"]["Statement"]}
    assert statements["PassServiceRole"]["Condition"] == {
        "StringEquals": {"iam:PassedToService": "elasticmapreduce.amazonaws.com"}
    }
    assert statements["PassInstanceRole"]["Condition"] == {
        "StringLike": {"iam:PassedToService": "ec2.amazonaws.com*"}
    }
    passed = [s["Resource"]["Fn::GetAtt"][0] for s in statements.values() if s["Action"] == "iam:PassRole"]
    assert sorted(passed) == sorted(
        [
            k
            for k in template["Resources"]
            if k.startswith(("PlatformRolesServiceRole", "PlatformRolesInstanceRole"))
        ]
    )
    rules = [resolve for resolve in statements["SyncIntegrationRules"]["Resource"]]
    rendered = " ".join(str(r) for r in rules)
    for rule in (
        "StepFunctionsGetEventForEMRRunJobFlowRule",
        "StepFunctionsGetEventForEMRAddJobFlowStepsRule",
        "StepFunctionsGetEventForEMRTerminateJobFlowsRule",
    ):
        assert rule in rendered
    cleanup = statements["CreateEmrCleanupRole"]
    assert cleanup["Action"] == "iam:CreateServiceLinkedRole"
    assert cleanup["Condition"] == {"StringLike": {"iam:AWSServiceName": "elasticmapreduce.amazonaws.com"}}
    assert "AWSServiceRoleForEMRCleanup" in str(cleanup["Resource"])
    actions = set(statements["TransientClusters"]["Action"])
    assert {
        "elasticmapreduce:RunJobFlow",
        "elasticmapreduce:AddTags",
        "elasticmapreduce:CancelSteps",
    } <= actions


def test_logging_all_encrypted_and_tracing(pipeline_app):
    template = pipeline_app.template
    props = pipeline_app.state_machine["Properties"]
    assert props["TracingConfiguration"] == {"Enabled": True}
    assert props["LoggingConfiguration"]["Level"] == "ALL"
    (group,) = [
        r
        for k, r in template["Resources"].items()
        if r["Type"] == "AWS::Logs::LogGroup" and k.startswith("PipelineLogs")
    ]
    assert group["Properties"]["KmsKeyId"]["Fn::GetAtt"][0].startswith("PlatformStorageKey")
    assert group["Properties"]["RetentionInDays"] == 365
    assert group["DeletionPolicy"] == "Retain"


def test_grant_start_execution_is_a_managed_policy_on_this_machine(pipeline_app):
    (policy,) = [
        p for k, p in _policies(pipeline_app.template).items() if k.startswith("PipelineStartExecution")
    ]
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Action"] == "states:StartExecution"
    assert statement["Resource"]["Ref"].startswith("Pipeline")


def test_zero_nag_findings(pipeline_app):
    from emr_patterns.gates import nag_findings

    findings = nag_findings(pipeline_app.app)
    assert findings == []


def test_the_sweeper_watches_the_pipeline_by_the_tag_the_pipeline_sets(pipeline_app):
    from emr_patterns.orchestration import DEFAULT_TAG_KEY

    machine_id = next(
        k
        for k, r in pipeline_app.template["Resources"].items()
        if r["Type"] == "AWS::StepFunctions::StateMachine"
    )
    watched = [
        r
        for r in pipeline_app.template["Resources"].values()
        if r["Type"] == "AWS::Events::Rule"
        and "stateMachineArn" in str(r["Properties"].get("EventPattern", {}))
        and machine_id in str(r["Properties"]["EventPattern"])
    ]
    assert len(watched) == 1
    assert EXECUTION_ARN_TAG == DEFAULT_TAG_KEY


def test_cfn_lint_clean(pipeline_app):
    from emr_patterns.gates import run_cfn_lint

    passed, output = run_cfn_lint([pipeline_app.template_path])
    assert passed, output


# ---- bad props -----------------------------------------------------------------------------------


def _build(**overrides: Any) -> TransientClusterPipeline:
    _, stack, platform = make_platform()
    kwargs: dict[str, Any] = dict(
        platform=platform, spec=make_spec(), steps=make_steps(), input_fields={"date": "string"}
    )
    kwargs.update(overrides)
    return TransientClusterPipeline(stack, "Pipeline", **kwargs)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"steps": []}, "steps=[]: must be a non-empty sequence of steps"),
        ({"spec": make_spec(idle_timeout_seconds=None)}, "spec.idle_timeout_seconds=None"),
        ({"spec": make_spec(termination_protected=True)}, "spec.termination_protected=True"),
        (
            {"spec": make_spec(managed_scaling=ManagedScalingSpec(2, 8, scaling_strategy="ADVANCED"))},
            "spec.managed_scaling.scaling_strategy='ADVANCED'",
        ),
        ({"steps": [PipelineStep("a", ["x"]), PipelineStep("a", ["y"])]}, "steps[1].name='a': is used twice"),
        ({"steps": [PipelineStep("a/b", ["x"])]}, "steps[0].name='a/b'"),
        ({"steps": [PipelineStep("a", ["x", "{previous_output}"])]}, "{previous_output} in the first step"),
        ({"log_retention_days": 42}, "log_retention_days=42"),
        (
            {"spec": make_spec(shell_access=ShellAccess.SSH_KEY_PAIR, ec2_key_name="ops")},
            "spec.shell_access='ssh-key-pair'",
        ),
        (
            {"steps": ["spark-submit"]},
            "steps[0]='spark-submit': is not a PipelineStep, NestedPipelineStep or a step builder",
        ),
        ({"input_fields": None}, "steps[2]='$.input.date': reads a JSONPath from untyped input"),
        (
            {"steps": [SparkSubmitStep(name="p", main="s3://code/p.py", args=(Arg.path("$.date"),))]},
            "steps[0]='$.date': reads a JSONPath from untyped input",
        ),
        ({"input_fields": {"date": "text"}}, "input_fields['date']='text': is not an input type"),
        ({"input_fields": {"modes": "array"}}, "declares 'modes'"),
    ],
)
def test_bad_props_name_prop_value_and_fix(overrides, expected):
    with pytest.raises(EmrPatternsValidationError) as err:
        _build(**overrides)
    assert expected in str(err.value) and "Fix:" in str(err.value)
    assert isinstance(err.value, ValueError)


def test_docs_props_table_lists_every_prop():
    import inspect

    from ..constructs.test_docs import DOCS, _single_props_table

    params = set(inspect.signature(TransientClusterPipeline.__init__).parameters) - {"self", "scope", "id"}
    assert _single_props_table(DOCS / "transient-pipeline.md", "## Props") == params


def test_cdk_tokens_in_dynamic_step_args_are_resolved():
    import json

    from aws_cdk.assertions import Template

    from .conftest import resolve_tokens

    _, stack, platform = make_platform()
    TransientClusterPipeline(
        stack,
        "Pipeline",
        platform=platform,
        spec=make_spec(),
        steps=[PipelineStep("run", ["spark-submit", platform.artifacts_uri("jobs/run.py"), "{mode}"])],
    )
    (machine,) = Template.from_stack(stack).find_resources("AWS::StepFunctions::StateMachine").values()
    asl = json.loads(resolve_tokens(machine["Properties"]["DefinitionString"]))
    ((_, step),) = _tasks(asl, "addStep.sync")
    args = step["Parameters"]["Step"]["HadoopJarStep"]["Args.$"]
    assert "'s3://REF-PlatformStorageArtifacts" in args and "Token" not in args


def test_instance_groups_render_a_valid_request_in_one_subnet():
    import json

    from aws_cdk.assertions import Template

    from emr_patterns.spec import ClusterSpec, InstanceGroupSpec, NodeRole

    from .conftest import resolve_tokens

    _, stack, platform = make_platform()
    spec = ClusterSpec(
        name="groups",
        instance_groups=(
            InstanceGroupSpec(NodeRole.PRIMARY, "m7g.xlarge", 1),
            InstanceGroupSpec(NodeRole.CORE, "m7g.xlarge", 2),
        ),
        idle_timeout_seconds=600,
    )
    TransientClusterPipeline(
        stack, "Pipeline", platform=platform, spec=spec, steps=make_steps(), input_fields={"date": "string"}
    )
    (machine,) = Template.from_stack(stack).find_resources("AWS::StepFunctions::StateMachine").values()
    asl = json.loads(resolve_tokens(machine["Properties"]["DefinitionString"]))
    ((_, create),) = _tasks(asl, "createCluster.sync")
    request = _sampled(create["Parameters"])
    assert_botocore_valid(request)
    instances = request["Instances"]
    assert len(instances.get("Ec2SubnetIds") or [instances["Ec2SubnetId"]]) == 1
    assert "InstanceGroups" in request["Instances"] and "AutoScalingRole" not in request
