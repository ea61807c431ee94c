"""PipelineNotifications: the rule, the message, the key, topic and queue policies, gates, bad input.

One app for the module: the platform and a TransientClusterPipeline (``conftest.make_platform``),
a notification construct with its own topic and two e-mail addresses, and a second one that
publishes only failures of an imported state machine to an imported topic. Patterns are checked
by routing realistic Step Functions status-change events through moto's EventBridge, and the
message by rendering the synthesized input transformer for them (``_eventbridge``).
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import pytest

from emr_patterns import EmrPatternsValidationError

from ._eventbridge import botocore_problems, matching, render_input_transformer, resolve_deep
from .conftest import make_platform, make_spec, make_steps, resolve_tokens

pytestmark = pytest.mark.cdk

DOCS = Path(__file__).resolve().parents[2] / "docs"
IMPORTED_MACHINE = "arn:aws:states:eu-west-1:123456789012:stateMachine:imported-pipeline"
IMPORTED_TOPIC = "arn:aws:sns:eu-west-1:123456789012:ops-alerts"
EMAILS = ["data-team@example.com", "on.call+emr@ops.example.co.uk"]


class Built:
    """The module's app, its template and the constructs under test."""

    def __init__(self, tmp: Path) -> None:
        from aws_cdk import aws_sns as sns
        from aws_cdk import aws_stepfunctions as sfn

        from emr_patterns.orchestration import TransientClusterPipeline
        from emr_patterns.orchestration.notifications import PipelineNotifications

        self.app, self.stack, self.platform = make_platform()
        self.pipeline = TransientClusterPipeline(
            self.stack,
            "Pipeline",
            platform=self.platform,
            spec=make_spec(),
            steps=make_steps(),
            input_fields={"date": "string"},
        )
        self.notify = PipelineNotifications(
            self.stack, "Notify", state_machines=[self.pipeline.state_machine], emails=EMAILS
        )
        self.imported = sfn.StateMachine.from_state_machine_arn(self.stack, "Imported", IMPORTED_MACHINE)
        self.failures = PipelineNotifications(
            self.stack,
            "Failures",
            state_machines=[self.imported],
            topic=sns.Topic.from_topic_arn(self.stack, "OpsAlerts", IMPORTED_TOPIC),
            statuses=["FAILED", "TIMED_OUT"],
        )
        self.failures.add_state_machine(self.pipeline.state_machine)
        self.failures.add_state_machine(self.imported)  # already watched: no-op
        artifact = self.app.synth().get_stack_by_name("PipelineTest")
        self.template: dict[str, Any] = artifact.template
        self.template_path = tmp / "PipelineTest.template.json"
        self.template_path.write_text(json.dumps(self.template))

    def logical_id(self, construct: Any) -> str:
        resource = construct.node.default_child
        return str(self.stack.resolve(resource.logical_id))

    def props(self, construct: Any) -> dict[str, Any]:
        return self.template["Resources"][self.logical_id(construct)]["Properties"]

    def resources(self, kind: str) -> dict[str, Any]:
        return {k: v for k, v in self.template["Resources"].items() if v["Type"] == kind}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return Built(tmp_path_factory.mktemp("notifications"))


def status_event(
    machine_arn: str,
    status: str,
    *,
    error: str | None = None,
    cause: str | None = None,
    source: str = "aws.states",
) -> dict[str, Any]:
    """A "Step Functions Execution Status Change" event as EventBridge delivers it."""
    name = "nightly-42"
    execution_arn = machine_arn.replace(":stateMachine:", ":execution:") + f":{name}"
    ended = status not in {"RUNNING", "PENDING_REDRIVE"}
    return {
        "version": "0",
        "id": "315c1398-40ff-a850-213b-158f73e60175",
        "detail-type": "Step Functions Execution Status Change",
        "source": source,
        "account": "123456789012",
        "time": "2030-01-31T09:00:00Z",
        "region": "eu-west-1",
        "resources": [execution_arn],
        "detail": {
            "executionArn": execution_arn,
            "stateMachineArn": machine_arn,
            "name": name,
            "status": status,
            "startDate": 1895900400000,
            "stopDate": 1895904000000 if ended else None,
            "input": '{"modes": ["full"]}',
            "output": '{"done": true}' if status == "SUCCEEDED" else None,
            "inputDetails": {"included": True},
            "outputDetails": {"included": True} if status == "SUCCEEDED" else None,
            "error": error,
            "cause": cause,
            "redriveCount": 0,
        },
    }


def _rule(built: Built, notifications: Any) -> dict[str, Any]:
    return built.props(notifications.rule)


# ---- the rule ---------------------------------------------------------------------------------------
def test_rule_matches_the_chosen_statuses_of_exactly_the_watched_machines(built: Built) -> None:
    pattern = _rule(built, built.notify)["EventPattern"]
    assert pattern == {
        "source": ["aws.states"],
        "detail-type": ["Step Functions Execution Status Change"],
        "detail": {
            "status": ["SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"],
            "stateMachineArn": [{"Ref": built.logical_id(built.pipeline.state_machine)}],
        },
    }
    failures = _rule(built, built.failures)["EventPattern"]["detail"]
    assert failures == {
        "status": ["FAILED", "TIMED_OUT"],
        "stateMachineArn": [IMPORTED_MACHINE, {"Ref": built.logical_id(built.pipeline.state_machine)}],
    }


def test_moto_eventbridge_delivers_only_watched_machines_and_statuses(built: Built) -> None:
    pattern = resolve_deep(_rule(built, built.notify)["EventPattern"])
    ours = pattern["detail"]["stateMachineArn"][0]
    events = [
        status_event(ours, "SUCCEEDED"),  # 0
        status_event(ours, "FAILED", error="States.TaskFailed", cause="boom"),  # 1
        status_event(ours, "TIMED_OUT"),  # 2
        status_event(ours, "ABORTED"),  # 3
        status_event(ours, "RUNNING"),
        status_event(ours, "PENDING_REDRIVE"),
        status_event(IMPORTED_MACHINE, "FAILED"),
        status_event(ours, "FAILED", source="my.app"),
    ]
    assert matching(pattern, events) == [0, 1, 2, 3]
    failures = resolve_deep(_rule(built, built.failures)["EventPattern"])
    assert matching(failures, events) == [1, 2, 6]


def test_message_names_the_machine_execution_status_error_and_cause(built: Built) -> None:
    (target,) = _rule(built, built.notify)["Targets"]
    machine = "arn:aws:states:eu-west-1:123456789012:stateMachine:Pipeline"
    cause = 'Step extract failed: {"errorMessage": "bad \\"row\\"",\n "line": 3}\ttab'
    rendered = render_input_transformer(
        target["InputTransformer"], status_event(machine, "FAILED", error="States.TaskFailed", cause=cause)
    )
    message = json.loads(rendered)
    assert message == {
        "summary": f"Step Functions execution nightly-42 of {machine}: FAILED",
        "stateMachineArn": machine,
        "execution": "nightly-42",
        "executionArn": "arn:aws:states:eu-west-1:123456789012:execution:Pipeline:nightly-42",
        "status": "FAILED",
        "error": "States.TaskFailed",
        "cause": cause,
        "startDate": 1895900400000,
        "stopDate": 1895904000000,
        "time": "2030-01-31T09:00:00Z",
    }
    assert botocore_problems("sns", "Publish", {"TopicArn": IMPORTED_TOPIC, "Message": rendered}) == ""
    succeeded = json.loads(
        render_input_transformer(target["InputTransformer"], status_event(machine, "SUCCEEDED"))
    )
    assert succeeded["status"] == "SUCCEEDED" and succeeded["error"] is None and succeeded["cause"] is None


def test_message_fields_are_the_documented_event_paths() -> None:
    from emr_patterns.orchestration.notifications import EXECUTION_STATUSES, MESSAGE_FIELDS

    assert MESSAGE_FIELDS["error"] == "$.detail.error" and MESSAGE_FIELDS["cause"] == "$.detail.cause"
    assert MESSAGE_FIELDS["stateMachineArn"] == "$.detail.stateMachineArn"
    assert set(EXECUTION_STATUSES) == {
        "RUNNING",
        "SUCCEEDED",
        "FAILED",
        "TIMED_OUT",
        "ABORTED",
        "PENDING_REDRIVE",
    }


def test_target_retries_then_the_dead_letter_queue(built: Built) -> None:
    (target,) = _rule(built, built.notify)["Targets"]
    assert target["Arn"] == {"Ref": built.logical_id(built.notify.topic)}
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 4, "MaximumEventAgeInSeconds": 6 * 3600}
    assert target["DeadLetterConfig"] == {
        "Arn": {"Fn::GetAtt": [built.logical_id(built.notify.dead_letter_queue), "Arn"]}
    }
    assert "RoleArn" not in target  # SNS is authorised by the topic policy
    (imported_target,) = _rule(built, built.failures)["Targets"]
    assert imported_target["Arn"] == IMPORTED_TOPIC


# ---- key, topic, queue --------------------------------------------------------------------------------
def _conditions_name_this_rule(built: Built, notifications: Any, condition: dict[str, Any]) -> None:
    name = _rule(built, notifications)["Name"]
    assert resolve_tokens(condition["ArnEquals"]["aws:SourceArn"]).endswith(
        f":events:REF-AWS::Region:REF-AWS::AccountId:rule/{name}"
    )
    assert condition["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}


def test_key_rotates_and_lets_eventbridge_use_it_only_for_this_rule(built: Built) -> None:
    resource = built.template["Resources"][built.logical_id(built.notify.key)]
    assert resource["DeletionPolicy"] == "Retain"
    key = resource["Properties"]
    assert key["EnableKeyRotation"] is True
    by_sid = {s.get("Sid"): s for s in key["KeyPolicy"]["Statement"]}
    events_statement = by_sid["AllowEventBridgeForThisRule"]
    assert events_statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert sorted(events_statement["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]
    _conditions_name_this_rule(built, built.notify, events_statement["Condition"])
    sns_statement = by_sid["AllowSnsDeadLettersInThisAccount"]
    assert sns_statement["Principal"] == {"Service": "sns.amazonaws.com"}
    assert sns_statement["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    # Without e-mails there is no SNS statement.
    failures_key = built.props(built.failures.key)
    assert {s.get("Sid") for s in failures_key["KeyPolicy"]["Statement"]} == {
        None,
        "AllowEventBridgeForThisRule",
    }


def test_topic_is_encrypted_ssl_only_and_publishable_only_by_this_rule(built: Built) -> None:
    topic = built.props(built.notify.topic)
    assert topic["KmsMasterKeyId"] == {"Fn::GetAtt": [built.logical_id(built.notify.key), "Arn"]}
    (policy,) = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in built.resources("AWS::SNS::TopicPolicy").values()
        if p["Properties"]["Topics"] == [{"Ref": built.logical_id(built.notify.topic)}]
    ]
    deny, allow = policy
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert allow["Principal"] == {"Service": "events.amazonaws.com"} and allow["Action"] == "sns:Publish"
    _conditions_name_this_rule(built, built.notify, allow["Condition"])
    # One topic in the app: the imported one is not recreated and its policy is not ours to change.
    mine = [k for k in built.resources("AWS::SNS::Topic") if k.startswith(("Notify", "Failures"))]
    assert mine == [built.logical_id(built.notify.topic)]
    assert not [k for k in built.resources("AWS::SNS::TopicPolicy") if k.startswith("Failures")]


def test_dead_letter_queue_takes_eventbridge_and_sns_dead_letters(built: Built) -> None:
    queue = built.template["Resources"][built.logical_id(built.notify.dead_letter_queue)]
    assert queue["DeletionPolicy"] == "Retain"
    assert queue["Properties"]["KmsMasterKeyId"] == {
        "Fn::GetAtt": [built.logical_id(built.notify.key), "Arn"]
    }
    (statements,) = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in built.resources("AWS::SQS::QueuePolicy").values()
        if p["Properties"]["Queues"] == [{"Ref": built.logical_id(built.notify.dead_letter_queue)}]
    ]
    by_principal = {json.dumps(s["Principal"]): s for s in statements}
    _conditions_name_this_rule(
        built, built.notify, by_principal['{"Service": "events.amazonaws.com"}']["Condition"]
    )
    assert by_principal['{"Service": "sns.amazonaws.com"}']["Condition"] == {
        "ArnEquals": {"aws:SourceArn": {"Ref": built.logical_id(built.notify.topic)}}
    }
    assert by_principal['{"AWS": "*"}']["Effect"] == "Deny"


def test_one_email_subscription_per_address_with_a_redrive_policy(built: Built) -> None:
    subscriptions = sorted(built.resources("AWS::SNS::Subscription").items())
    endpoints = {s["Properties"]["Endpoint"]: s["Properties"] for _, s in subscriptions}
    assert set(endpoints) == set(EMAILS)
    for props in endpoints.values():
        assert props["Protocol"] == "email"
        assert props["TopicArn"] == {"Ref": built.logical_id(built.notify.topic)}
        assert props["RedrivePolicy"] == {
            "deadLetterTargetArn": {"Fn::GetAtt": [built.logical_id(built.notify.dead_letter_queue), "Arn"]}
        }
    assert [c.node.id for c in built.notify.node.children if c.node.id.startswith("Email")] == [
        "Email0",
        "Email1",
    ]


# ---- gates --------------------------------------------------------------------------------------------
def test_zero_nag_findings(built: Built) -> None:
    from emr_patterns.gates import nag_findings

    findings = nag_findings(built.app)
    assert findings == [], "\n".join(f"{f.rule_id} at {f.construct_path}" for f in findings)


def test_cfn_lint_clean(built: Built) -> None:
    from emr_patterns.gates import run_cfn_lint

    passed, output = run_cfn_lint([built.template_path])
    assert passed, output


# ---- bad props -----------------------------------------------------------------------------------------
def _notifications(**overrides: Any) -> Any:
    from emr_patterns.orchestration import TransientClusterPipeline
    from emr_patterns.orchestration.notifications import PipelineNotifications

    _, stack, platform = make_platform()
    pipeline = TransientClusterPipeline(
        stack,
        "Pipeline",
        platform=platform,
        spec=make_spec(),
        steps=make_steps(),
        input_fields={"date": "string"},
    )
    kwargs: dict[str, Any] = dict(state_machines=[pipeline.state_machine])
    kwargs.update(overrides)
    return PipelineNotifications(stack, "Notify", **kwargs)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"state_machines": []}, "state_machines=[]: is empty, so the rule would match every execution"),
        ({"state_machines": "arn:aws:states:::stateMachine:x"}, "is not a sequence of state machines"),
        ({"state_machines": ["arn"]}, "state_machines[0]='str': is not an sfn.IStateMachine"),
        ({"topic": "arn:aws:sns:eu-west-1:1:t"}, "topic='str': is not an sns.ITopic"),
        ({"statuses": []}, "statuses=[]: is empty"),
        ({"statuses": "FAILED"}, "statuses='FAILED': is not a sequence of statuses"),
        ({"statuses": ["FAILED", "failed"]}, "statuses[1]='failed': is not an execution status"),
        ({"statuses": ["SUCCEEDED", "DONE"]}, "statuses[1]='DONE'"),
        ({"statuses": ["FAILED", "FAILED"]}, "statuses[1]='FAILED': is listed twice"),
        ({"emails": "a@example.com"}, "emails='a@example.com': is not a sequence of addresses"),
        ({"emails": ["not-an-address"]}, "emails[0]='not-an-address': is not local@domain"),
        ({"emails": ["a@b"]}, "emails[0]='a@b': has no valid domain"),
        ({"emails": ["a@example..com"]}, "has no valid domain"),
        ({"emails": ["a@-example.com"]}, "has no valid domain"),
        ({"emails": ["a b@example.com"]}, "has characters or dots an address cannot have"),
        ({"emails": [".a@example.com"]}, "has characters or dots"),
        ({"emails": ["a..b@example.com"]}, "has characters or dots"),
        ({"emails": ["a@10.0.0.1"]}, "ends in a number"),
        ({"emails": ["@example.com"]}, "is not local@domain"),
        ({"emails": ["x" * 65 + "@example.com"]}, "is too long"),
        ({"emails": [7]}, "emails[0]=7: is not a string"),
        ({"emails": ["a@example.com", "A@Example.com"]}, "emails[1]='A@Example.com': is listed twice"),
    ],
)
def test_bad_props_name_prop_value_and_fix(overrides: dict[str, Any], expected: str) -> None:
    with pytest.raises(EmrPatternsValidationError) as err:
        _notifications(**overrides)
    assert expected in str(err.value) and "Fix:" in str(err.value)
    assert isinstance(err.value, ValueError)


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(EmrPatternsValidationError) as err:
        _notifications(state_machines=[], statuses=["NOPE"], emails=["x"])
    assert len(err.value.problems) == 3


# ---- docs ---------------------------------------------------------------------------------------
def test_docs_props_table_equals_the_signature() -> None:
    from emr_patterns.orchestration.notifications import PipelineNotifications

    from ..constructs.test_docs import _single_props_table

    params = set(inspect.signature(PipelineNotifications.__init__).parameters) - {"self", "scope", "id"}
    assert _single_props_table(DOCS / "triggers.md", "## PipelineNotifications props") == params
