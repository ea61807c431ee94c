"""S3UploadTrigger and PipelineSchedule: rules, schedules, roles, queues, gates and bad input.

One app for the module: the platform and a TransientClusterPipeline (``conftest.make_platform``)
with three triggers on it: uploads under ``incoming/`` ending ``.csv`` to the raw bucket, uploads
with any key to a bucket of the app's own (EventBridge turned on with
``enable_event_bridge_notifications``), and a nightly cron schedule in Europe/Paris. Event
patterns are checked by routing realistic S3 events through moto's EventBridge; inputs by
rendering the synthesized templates for those events and validating the result against
botocore's Step Functions and Scheduler models.
"""

from __future__ import annotations

import copy
import inspect
import json
from pathlib import Path
from typing import Any

import pytest

from emr_patterns import EmrPatternsValidationError
from emr_patterns.spec.schedule import (
    SCHEDULER_CONTEXT_ATTRIBUTES,
    cron_problems,
    schedule_expression_problems,
    timezone_problems,
)

from ._eventbridge import botocore_problems, matching, render_input_transformer, resolve_deep
from .conftest import make_platform, make_spec, make_steps, resolve_tokens

pytestmark = pytest.mark.cdk

DOCS = Path(__file__).resolve().parents[2] / "docs"
STATIC_INPUT = {"modes": ["full", "delta"], "team": {"name": "data", "tags": ["a", "b"]}, "retries": 2}
SCHEDULE_INPUT = {
    "modes": ["full"],
    "runDate": "<aws.scheduler.scheduled-time>",
    "id": "<aws.scheduler.execution-id>",
}


class Built:
    """The module's app, its template and the constructs under test."""

    def __init__(self, tmp: Path) -> None:
        from aws_cdk import aws_s3 as s3

        from emr_patterns.foundation.storage import enable_event_bridge_notifications
        from emr_patterns.nag import acknowledge_rules, rule_in_packs
        from emr_patterns.orchestration import TransientClusterPipeline
        from emr_patterns.orchestration.triggers import PipelineSchedule, S3UploadTrigger

        self.app, self.stack, self.platform = make_platform()
        self.pipeline = TransientClusterPipeline(
            self.stack,
            "Pipeline",
            platform=self.platform,
            spec=make_spec(),
            steps=make_steps(),
            input_fields={"date": "string"},
        )
        machine = self.pipeline.state_machine
        self.raw = self.platform.data_buckets[0]
        self.upload = S3UploadTrigger(
            self.stack,
            "OnUpload",
            platform=self.platform,
            state_machine=machine,
            bucket=self.raw,
            prefix="incoming/",
            suffix=".csv",
            input=STATIC_INPUT,
        )
        self.own_bucket = s3.Bucket(
            self.stack,
            "Landing",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.platform.key,
            enforce_ssl=True,
            versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        )
        # Access logs the platform's way (a bucket policy on its access-logs bucket, no ACLs).
        self.platform.storage._log_access_to(self.own_bucket, "landing/")
        enable_event_bridge_notifications(self.own_bucket)
        acknowledge_rules(
            self.own_bucket,
            rule_in_packs("S3BucketReplicationEnabled"),
            "Test sample: a landing bucket of the app's own; replication is the account's decision.",
        )
        self.any_key = S3UploadTrigger(
            self.stack, "OnAnyUpload", platform=self.platform, state_machine=machine, bucket=self.own_bucket
        )
        self.schedule = PipelineSchedule(
            self.stack,
            "Nightly",
            platform=self.platform,
            state_machine=machine,
            expression="cron(0 2 ? * MON-FRI *)",
            input=SCHEDULE_INPUT,
            timezone="Europe/Paris",
            description="Weekday nights",
        )
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
    import os

    os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
    return Built(tmp_path_factory.mktemp("triggers"))


def s3_event(
    bucket: str, key: str, *, detail_type: str = "Object Created", source: str = "aws.s3"
) -> dict[str, Any]:
    """An S3 event as EventBridge delivers it (the shape of the S3 user guide's example)."""
    return {
        "version": "0",
        "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": detail_type,
        "source": source,
        "account": "123456789012",
        "time": "2030-01-31T08:00:00Z",
        "region": "eu-west-1",
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": {
                "key": key,
                "size": 5120,
                "etag": "b1946ac92492d2347c6235b4d2611184",
                "version-id": "IYV3p45BT0ac8hjHg1houSdS1a.Mppz",
                "sequencer": "00617F08299329D189",
            },
            "request-id": "N4N7GDK58NMKJ12R",
            "requester": "123456789012",
            "source-ip-address": "10.40.0.7",
            "reason": "PutObject",
        },
    }


# ---- the upload rule ------------------------------------------------------------------------------
def _rule(built: Built, trigger: Any) -> dict[str, Any]:
    return built.props(trigger.rule)


def test_upload_rule_pattern_is_object_created_of_this_bucket_with_one_wildcard(built: Built) -> None:
    pattern = _rule(built, built.upload)["EventPattern"]
    assert pattern == {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {
            "bucket": {"name": [{"Ref": built.logical_id(built.raw)}]},
            "object": {"key": [{"wildcard": "incoming/*.csv"}]},
        },
    }
    # No key filter at all without prefix and suffix.
    assert _rule(built, built.any_key)["EventPattern"]["detail"] == {
        "bucket": {"name": [{"Ref": built.logical_id(built.own_bucket)}]}
    }


def test_moto_eventbridge_delivers_only_our_bucket_prefix_and_suffix(built: Built) -> None:
    pattern = resolve_deep(_rule(built, built.upload)["EventPattern"])
    ours = pattern["detail"]["bucket"]["name"][0]
    events = [
        s3_event(ours, "incoming/2030/01/31/orders.csv"),  # 0 match
        s3_event(ours, "incoming/orders.csv"),  # 1 match
        s3_event(ours, "incoming/orders.csv.tmp"),  # wrong suffix
        s3_event(ours, "archive/incoming/orders.csv"),  # wrong prefix
        s3_event(ours, "Incoming/orders.csv"),  # prefixes are case-sensitive
        s3_event("someone-elses-bucket", "incoming/orders.csv"),  # other bucket
        s3_event(ours, "incoming/orders.csv", detail_type="Object Deleted"),  # other event
        s3_event(ours, "incoming/orders.csv", source="my.app"),  # not from S3
        s3_event(ours, "incoming/a*b.csv"),  # 8 match: '*' in a key is an ordinary character
    ]
    assert matching(pattern, events) == [0, 1, 8]


def test_moto_eventbridge_delivers_every_key_of_the_own_bucket(built: Built) -> None:
    pattern = resolve_deep(_rule(built, built.any_key)["EventPattern"])
    ours = pattern["detail"]["bucket"]["name"][0]
    events = [s3_event(ours, "a"), s3_event(ours, "deep/er/key.parquet"), s3_event("other", "a")]
    assert matching(pattern, events) == [0, 1]


@pytest.mark.parametrize(
    ("prefix", "suffix", "key", "matches"),
    [
        ("in/", None, "in/x", True),
        ("in/", None, "out/in/x", False),
        (None, ".csv", "x.csv", True),
        (None, ".csv", "x.CSV", False),
        ("a*b/", ".c\\v", "a*b/x.c\\v", True),  # '*' and '\' are escaped in the wildcard
        ("a*b/", ".c\\v", "aXXb/x.c\\v", False),
        ("in/", ".csv", "in/.csv", True),
        ("in/", "/", "in/", False),  # prefix and suffix do not overlap: the key holds both
    ],
)
def test_key_matcher_semantics(prefix: str | None, suffix: str | None, key: str, matches: bool) -> None:
    from emr_patterns.orchestration.triggers import s3_key_matcher

    matcher = s3_key_matcher(prefix, suffix)
    pattern = {"source": ["aws.s3"], "detail": {"object": {"key": matcher}}}
    assert matching(pattern, [s3_event("b", key)]) == ([0] if matches else [])


def test_rendered_input_is_the_static_input_plus_source_and_a_valid_start_execution(built: Built) -> None:
    (target,) = _rule(built, built.upload)["Targets"]
    event = s3_event("raw-bucket", 'incoming/quote"and\\backslash.csv')
    rendered = render_input_transformer(target["InputTransformer"], event)
    document = json.loads(rendered)
    assert document == {
        **STATIC_INPUT,
        "source": {
            "bucket": "raw-bucket",
            "key": 'incoming/quote"and\\backslash.csv',
            "size": 5120,
            "etag": "b1946ac92492d2347c6235b4d2611184",
            "version": "IYV3p45BT0ac8hjHg1houSdS1a.Mppz",
            "time": "2030-01-31T08:00:00Z",
        },
    }
    machine_arn = "arn:aws:states:eu-west-1:123456789012:stateMachine:Pipeline"
    assert (
        botocore_problems(
            "stepfunctions", "StartExecution", {"stateMachineArn": machine_arn, "input": rendered}
        )
        == ""
    )
    assert len(target["InputTransformer"]["InputTemplate"]) <= 8192


def test_source_fields_are_the_documented_event_paths() -> None:
    from emr_patterns.orchestration.triggers import SOURCE_FIELDS

    assert SOURCE_FIELDS == {
        "bucket": "$.detail.bucket.name",
        "key": "$.detail.object.key",
        "size": "$.detail.object.size",
        "etag": "$.detail.object.etag",
        "version": "$.detail.object.version-id",
        "time": "$.time",
    }


def test_upload_target_role_retry_and_dead_letter_queue(built: Built) -> None:
    rule = _rule(built, built.upload)
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Ref": built.logical_id(built.pipeline.state_machine)}
    assert target["RoleArn"] == {"Fn::GetAtt": [built.logical_id(built.upload.role), "Arn"]}
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 4, "MaximumEventAgeInSeconds": 6 * 3600}
    assert target["DeadLetterConfig"]["Arn"] == {
        "Fn::GetAtt": [built.logical_id(built.upload.dead_letter_queue), "Arn"]
    }
    # The role is assumable by EventBridge for this rule only: the rule's fixed name in the ARN.
    role = built.props(built.upload.role)
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    source_arn = resolve_tokens(trust["Condition"]["StringEquals"]["aws:SourceArn"])
    assert source_arn.endswith(f":rule/{rule['Name']}") and ":events:" in source_arn
    assert trust["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}
    assert "Policies" not in role and "ManagedPolicyArns" not in role


def _grants(built: Built, role: Any) -> list[dict[str, Any]]:
    policy = built.props(role.grants_policy)
    assert policy["Roles"] == [{"Ref": built.logical_id(role)}]
    return list(policy["PolicyDocument"]["Statement"])


def test_upload_role_may_only_start_this_machine(built: Built) -> None:
    (statement,) = _grants(built, built.upload.role)
    assert statement["Action"] == "states:StartExecution"
    assert statement["Resource"] == {"Ref": built.logical_id(built.pipeline.state_machine)}


def test_dead_letter_queues_use_the_platform_key_ssl_only_and_are_retained(built: Built) -> None:
    key_arn = {"Fn::GetAtt": [built.logical_id(built.platform.key), "Arn"]}
    for trigger in (built.upload, built.any_key, built.schedule):
        resource = built.template["Resources"][built.logical_id(trigger.dead_letter_queue)]
        assert resource["DeletionPolicy"] == "Retain"
        assert resource["Properties"]["KmsMasterKeyId"] == key_arn
        assert resource["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
    policies = [
        p["Properties"]
        for p in built.resources("AWS::SQS::QueuePolicy").values()
        if p["Properties"]["Queues"] == [{"Ref": built.logical_id(built.upload.dead_letter_queue)}]
    ]
    (statements,) = [p["PolicyDocument"]["Statement"] for p in policies]
    deny, allow = statements
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert allow["Principal"] == {"Service": "events.amazonaws.com"} and allow["Action"] == "sqs:SendMessage"
    assert allow["Condition"] == {
        "ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [built.logical_id(built.upload.rule), "Arn"]}}
    }


def test_platform_key_lets_eventbridge_encrypt_dead_letters_once(built: Built) -> None:
    key = built.template["Resources"][built.logical_id(built.platform.key)]["Properties"]
    sids = [s.get("Sid") for s in key["KeyPolicy"]["Statement"]]
    assert sids.count("AllowEventBridgeToEncryptedQueues") == 1


def test_platform_data_buckets_send_events_to_eventbridge_without_a_custom_resource(built: Built) -> None:
    storage = built.platform.storage
    on = {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}
    for bucket in storage.data_buckets:
        assert built.props(bucket)["NotificationConfiguration"] == on
    for bucket in (storage.logs_bucket, storage.artifacts_bucket, storage.access_logs_bucket):
        assert "NotificationConfiguration" not in built.props(bucket)
    assert built.props(built.own_bucket)["NotificationConfiguration"] == on
    assert not built.resources("Custom::S3BucketNotifications")
    assert not [r for r in built.resources("AWS::Lambda::Function") if "Notifications" in r]


def test_enable_event_bridge_keeps_other_notification_settings() -> None:
    from aws_cdk import App, Stack
    from aws_cdk import aws_s3 as s3
    from aws_cdk.assertions import Template

    from emr_patterns.foundation.storage import (
        enable_event_bridge_notifications,
        event_bridge_notifications_enabled,
    )

    stack = Stack(App(), "S")
    bucket = s3.Bucket(stack, "B")
    assert event_bridge_notifications_enabled(bucket) is False
    cfn = bucket.node.default_child
    queue_config = s3.CfnBucket.QueueConfigurationProperty(
        event="s3:ObjectCreated:*", queue="arn:aws:sqs:eu-west-1:1:q"
    )
    cfn.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
        queue_configurations=[queue_config]
    )
    enable_event_bridge_notifications(bucket)
    assert event_bridge_notifications_enabled(bucket) is True
    (props,) = [
        r["Properties"] for r in Template.from_stack(stack).find_resources("AWS::S3::Bucket").values()
    ]
    assert props["NotificationConfiguration"]["EventBridgeConfiguration"] == {"EventBridgeEnabled": True}
    assert props["NotificationConfiguration"]["QueueConfigurations"][0]["Event"] == "s3:ObjectCreated:*"
    assert (
        event_bridge_notifications_enabled(s3.Bucket.from_bucket_name(stack, "Imported", "imported-bucket"))
        is None
    )
    assert event_bridge_notifications_enabled(s3.Bucket(stack, "L2", event_bridge_enabled=True)) is None


# ---- the schedule -----------------------------------------------------------------------------------
def _schedule(built: Built) -> dict[str, Any]:
    return built.props(built.schedule.schedule)


def test_schedule_expression_time_zone_key_and_window(built: Built) -> None:
    schedule = _schedule(built)
    assert schedule["ScheduleExpression"] == "cron(0 2 ? * MON-FRI *)"
    assert schedule["ScheduleExpressionTimezone"] == "Europe/Paris"
    assert schedule["KmsKeyArn"] == {"Fn::GetAtt": [built.logical_id(built.platform.key), "Arn"]}
    assert schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert schedule["State"] == "ENABLED"
    assert schedule["Description"] == "Weekday nights"
    assert "GroupName" not in schedule  # the default group, which the role's trust names


def test_schedule_target_is_a_valid_scheduler_target_with_retry_and_queue(built: Built) -> None:
    target = _schedule(built)["Target"]
    assert target["Arn"] == {"Ref": built.logical_id(built.pipeline.state_machine)}
    assert target["RoleArn"] == {"Fn::GetAtt": [built.logical_id(built.schedule.role), "Arn"]}
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 4, "MaximumEventAgeInSeconds": 6 * 3600}
    assert target["DeadLetterConfig"] == {
        "Arn": {"Fn::GetAtt": [built.logical_id(built.schedule.dead_letter_queue), "Arn"]}
    }
    sample = copy.deepcopy(target)
    sample["Arn"] = "arn:aws:states:eu-west-1:123456789012:stateMachine:Pipeline"
    sample["RoleArn"] = "arn:aws:iam::123456789012:role/scheduler"
    sample["DeadLetterConfig"]["Arn"] = "arn:aws:sqs:eu-west-1:123456789012:dlq"
    request = {
        "Name": "nightly",
        "ScheduleExpression": _schedule(built)["ScheduleExpression"],
        "ScheduleExpressionTimezone": "Europe/Paris",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "KmsKeyArn": "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "Target": sample,
    }
    assert botocore_problems("scheduler", "CreateSchedule", request) == ""


def test_schedule_input_keeps_the_context_attributes_and_starts_a_valid_execution(built: Built) -> None:
    raw = _schedule(built)["Target"]["Input"]
    assert json.loads(raw) == SCHEDULE_INPUT
    # What Scheduler sends at an invocation: its placeholders filled in.
    filled = raw.replace("<aws.scheduler.scheduled-time>", "2030-01-31T01:00:00Z").replace(
        "<aws.scheduler.execution-id>", "d7c6e1f0-3e2b-4d2b-9a7a-0c2f6b1a2e3d"
    )
    assert json.loads(filled)["runDate"] == "2030-01-31T01:00:00Z"
    machine_arn = "arn:aws:states:eu-west-1:123456789012:stateMachine:Pipeline"
    assert (
        botocore_problems(
            "stepfunctions", "StartExecution", {"stateMachineArn": machine_arn, "input": filled}
        )
        == ""
    )


def test_schedule_role_trust_and_grants(built: Built) -> None:
    role = built.props(built.schedule.role)
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert resolve_tokens(trust["Condition"]["StringEquals"]["aws:SourceArn"]).endswith(
        ":schedule-group/default"
    )
    assert trust["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}
    actions: dict[str, Any] = {}
    for statement in _grants(built, built.schedule.role):
        for action in [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]:
            actions.setdefault(action, []).append(statement["Resource"])
    key_arn = {"Fn::GetAtt": [built.logical_id(built.platform.key), "Arn"]}
    assert actions == {
        "states:StartExecution": [{"Ref": built.logical_id(built.pipeline.state_machine)}],
        "sqs:SendMessage": [{"Fn::GetAtt": [built.logical_id(built.schedule.dead_letter_queue), "Arn"]}],
        "kms:GenerateDataKey": [key_arn],
        "kms:Decrypt": [key_arn, key_arn],
    }


def test_rate_expression_and_disabled_schedule_render() -> None:
    from aws_cdk.assertions import Template

    from emr_patterns.orchestration import TransientClusterPipeline
    from emr_patterns.orchestration.triggers import PipelineSchedule

    _, stack, platform = make_platform()
    pipeline = TransientClusterPipeline(
        stack,
        "Pipeline",
        platform=platform,
        spec=make_spec(),
        steps=make_steps(),
        input_fields={"date": "string"},
    )
    PipelineSchedule(
        stack,
        "Hourly",
        platform=platform,
        state_machine=pipeline.state_machine,
        expression="rate(1 hour)",
        enabled=False,
    )
    (schedule,) = Template.from_stack(stack).find_resources("AWS::Scheduler::Schedule").values()
    props = schedule["Properties"]
    assert props["ScheduleExpression"] == "rate(1 hour)" and props["State"] == "DISABLED"
    assert props["Target"]["Input"] == "{}"


# ---- gates --------------------------------------------------------------------------------------------
def test_zero_nag_findings(built: Built) -> None:
    from emr_patterns.gates import nag_findings

    findings = nag_findings(built.app)
    assert findings == [], "\n".join(f"{f.rule_id} at {f.construct_path}" for f in findings)


def test_every_acknowledgement_on_the_triggers_is_needed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import emr_patterns.nag
    from emr_patterns.gates import acknowledged_rules, nag_findings

    (tmp_path / "on").mkdir()
    acknowledged = acknowledged_rules(Built(tmp_path / "on").app)
    mine = [(p, r) for p, r, _ in acknowledged if p.split("/")[1] in {"OnUpload", "OnAnyUpload", "Nightly"}]
    assert sorted(r for _, r in mine) == sorted(["AwsSolutions-SQS3", "Serverless-SQSRedrivePolicy"] * 3)
    monkeypatch.setattr(emr_patterns.nag, "_ENABLED", False)
    (tmp_path / "off").mkdir()
    found = {(f.rule_id, f.construct_path) for f in nag_findings(Built(tmp_path / "off").app)}
    for path, rule in mine:
        assert (rule, f"{path}/Resource") in found, (path, rule)


def test_cfn_lint_clean(built: Built) -> None:
    from emr_patterns.gates import run_cfn_lint

    passed, output = run_cfn_lint([built.template_path])
    assert passed, output


@pytest.mark.parametrize("env", [None, {"account": "123456789012", "region": "eu-west-1"}])
def test_platform_in_its_own_stack_synthesizes_without_cycles_or_findings(env: Any) -> None:
    """The shape users deploy: a platform stack and a pipeline stack. The triggers and the
    notifications add nothing to the platform stack that points back at the pipeline stack."""
    from aws_cdk import App, Stack
    from aws_cdk import aws_s3 as s3

    from emr_patterns.foundation.options import SecurityOptions
    from emr_patterns.foundation.platform import EmrPlatform
    from emr_patterns.gates import nag_findings
    from emr_patterns.orchestration import TransientClusterPipeline
    from emr_patterns.orchestration.notifications import PipelineNotifications
    from emr_patterns.orchestration.triggers import PipelineSchedule, S3UploadTrigger

    app = App()
    platform_stack = Stack(app, "Platform", env=env)
    certs = s3.Bucket.from_bucket_name(platform_stack, "Certs", "certs-bucket")
    platform = EmrPlatform(
        platform_stack,
        "Platform",
        security=SecurityOptions(certificate_bucket=certs, certificate_key="emr/tls.zip"),
    )
    stack = Stack(app, "Pipelines", env=env)
    pipeline = TransientClusterPipeline(
        stack,
        "Pipeline",
        platform=platform,
        spec=make_spec(),
        steps=make_steps(),
        input_fields={"date": "string"},
    )
    machine = pipeline.state_machine
    S3UploadTrigger(
        stack,
        "OnUpload",
        platform=platform,
        state_machine=machine,
        bucket=platform.data_buckets[1],
        prefix="in/",
    )
    PipelineSchedule(stack, "Daily", platform=platform, state_machine=machine, expression="rate(1 day)")
    PipelineNotifications(stack, "Notify", state_machines=[machine])
    cloud = app.synth()
    platform_template = json.dumps(cloud.get_stack_by_name("Platform").template)
    assert "Fn::ImportValue" not in platform_template and "Pipelines" not in platform_template
    assert nag_findings(app) == []


# ---- bad props -----------------------------------------------------------------------------------------
def _upload(**overrides: Any) -> Any:
    from emr_patterns.orchestration import TransientClusterPipeline
    from emr_patterns.orchestration.triggers import S3UploadTrigger

    _, stack, platform = make_platform()
    pipeline = TransientClusterPipeline(
        stack,
        "Pipeline",
        platform=platform,
        spec=make_spec(),
        steps=make_steps(),
        input_fields={"date": "string"},
    )
    kwargs: dict[str, Any] = dict(
        platform=platform, state_machine=pipeline.state_machine, bucket=platform.data_buckets[0]
    )
    for name, value in overrides.items():
        kwargs[name] = value(stack, platform) if callable(value) else value
    return S3UploadTrigger(stack, "Trigger", **kwargs)


def _plain_bucket(stack: Any, _: Any) -> Any:
    from aws_cdk import aws_s3 as s3

    return s3.Bucket(stack, "NoEvents")


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"prefix": 7}, "prefix=7: is not a string"),
        ({"prefix": ""}, "prefix='': is empty"),
        ({"suffix": ["csv"]}, "suffix=['csv']: is not a string"),
        ({"suffix": "x" * 1025}, "suffix='1025 bytes': is longer than an S3 key can be"),
        ({"prefix": "p" * 600, "suffix": "s" * 600}, "with the prefix, is longer than an S3 key"),
        ({"input": ["modes"]}, "input='list': is not a mapping"),
        ({"input": {"source": "mine"}}, "uses the key 'source'"),
        ({"input": {1: "a"}}, "has a key that is not a string"),
        ({"input": {"when": object()}}, "input['when']='object': is not JSON"),
        ({"input": {"x": float("nan")}}, "is not a finite number"),
        ({"input": {"note": "a <b> c"}}, "holds <b>, which the service would read as a placeholder"),
        ({"input": {"big": "x" * 8000}}, "is too long"),
        ({"bucket": lambda stack, platform: platform.logs_bucket}, "is the platform's logs bucket"),
        ({"bucket": lambda stack, platform: platform.artifacts_bucket}, "is the platform's artifacts bucket"),
        ({"bucket": _plain_bucket}, "does not send its events to EventBridge"),
        ({"bucket": "my-bucket"}, "bucket='str': is not an s3.IBucket"),
        (
            {"state_machine": "arn:aws:states:eu-west-1:1:stateMachine:x"},
            "state_machine='str': is not an sfn.IStateMachine",
        ),
        ({"platform": "platform"}, "platform='str': is not an IEmrPlatform"),
        ({"retry_attempts": 186}, "retry_attempts=186: must be 0-185"),
        ({"retry_attempts": True}, "retry_attempts=True: is not a whole number"),
        ({"max_event_age": 3600}, "max_event_age=3600: is not a Duration"),
    ],
)
def test_bad_upload_props_name_prop_value_and_fix(overrides: dict[str, Any], expected: str) -> None:
    with pytest.raises(EmrPatternsValidationError) as err:
        _upload(**overrides)
    assert expected in str(err.value) and "Fix:" in str(err.value)
    assert isinstance(err.value, ValueError)


def test_max_event_age_bounds() -> None:
    from aws_cdk import Duration

    for age in (Duration.seconds(59), Duration.hours(25)):
        with pytest.raises(
            EmrPatternsValidationError, match="must be whole seconds from 1 minute to 24 hours"
        ):
            _upload(max_event_age=age)


def test_imported_bucket_is_accepted() -> None:
    from aws_cdk import aws_s3 as s3

    trigger = _upload(
        bucket=lambda stack, _: s3.Bucket.from_bucket_name(stack, "Theirs", "their-landing-bucket")
    )
    assert trigger.bucket.bucket_name == "their-landing-bucket"


def _schedule_with(**overrides: Any) -> Any:
    from emr_patterns.orchestration import TransientClusterPipeline
    from emr_patterns.orchestration.triggers import PipelineSchedule

    _, stack, platform = make_platform()
    pipeline = TransientClusterPipeline(
        stack,
        "Pipeline",
        platform=platform,
        spec=make_spec(),
        steps=make_steps(),
        input_fields={"date": "string"},
    )
    kwargs: dict[str, Any] = dict(
        platform=platform, state_machine=pipeline.state_machine, expression="rate(1 day)"
    )
    kwargs.update(overrides)
    return PipelineSchedule(stack, "Schedule", **kwargs)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"expression": "cron(0 2 * * * *)"}, "exactly one of day-of-month and day-of-week must be '?'"),
        ({"expression": "every day"}, "is not rate(...), cron(...) or at(...)"),
        ({"expression": None}, "expression=None: is not a string"),
        ({"timezone": "Mars/Olympus"}, "timezone='Mars/Olympus': is not in the IANA time-zone database"),
        ({"timezone": ""}, "timezone='': is not a time-zone name"),
        ({"input": {"at": "<aws.scheduler.scheduled-tim>"}}, "holds <aws.scheduler.scheduled-tim>"),
        ({"input": {"source": 1, "x": [1, {"y": "<z>"}]}}, "input['x'][1]['y']='<z>'"),
        ({"description": "d" * 513}, "must be a string of at most 512 characters"),
        ({"enabled": "yes"}, "enabled='yes': is not a bool"),
        ({"retry_attempts": -1}, "retry_attempts=-1: must be 0-185"),
        ({"state_machine": None}, "state_machine='NoneType': is not an sfn.IStateMachine"),
    ],
)
def test_bad_schedule_props_name_prop_value_and_fix(overrides: dict[str, Any], expected: str) -> None:
    with pytest.raises(EmrPatternsValidationError) as err:
        _schedule_with(**overrides)
    assert expected in str(err.value) and "Fix:" in str(err.value)


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(EmrPatternsValidationError) as err:
        _schedule_with(expression="rate(2 hour)", timezone="Nowhere", enabled=1)
    assert len(err.value.problems) == 3


# ---- schedule expressions (pure) --------------------------------------------------------------------------
GOOD_EXPRESSIONS = [
    "rate(1 minute)",
    "rate(1 hour)",
    "rate(1 day)",
    "rate(5 minutes)",
    "rate(12 hours)",
    "rate(7 days)",
    "rate(1000 minutes)",
    "cron(0 10 * * ? *)",
    "cron(15 12 * * ? *)",
    "cron(0 18 ? * MON-FRI *)",
    "cron(0 8 1 * ? *)",
    "cron(0/15 * * * ? *)",
    "cron(0/10 * ? * MON-FRI *)",
    "cron(0/5 8-17 ? * MON-FRI *)",
    "cron(0 9 ? * 2#1 *)",
    "cron(0 9 ? * MON#5 *)",
    "cron(0 10 ? * 6L *)",
    "cron(0 10 ? * FRIL *)",
    "cron(0 10 ? * L *)",
    "cron(0 10 L * ? *)",
    "cron(0 10 15W * ? *)",
    "cron(0 0 1 JAN,APR,JUL,OCT ? *)",
    "cron(0 0 1 jan-mar ? 2030-2035)",
    "cron(*/5 * * * ? *)",
    "cron(5-55/10 * * * ? *)",
    "cron(59 23 31 12 ? 2199)",
    "cron(0 0 1 1 ? 1970/5)",
    "cron(0,30 0-6,18-23 ? * SUN,SAT *)",
    "cron(0 0 ? * 1-7 *)",
    "at(2030-01-31T08:00:00)",
    "at(2028-02-29T23:59:59)",
]

BAD_EXPRESSIONS = [
    ("", "is not rate(...), cron(...) or at(...)"),
    ("rate(1 hours)", "rate of 1 takes the singular unit: rate(1 hour)"),
    ("rate(2 minute)", "rate of 2 takes the plural unit: rate(2 minutes)"),
    ("rate(0 minutes)", "must be a whole number of at least 1"),
    ("rate(-1 minutes)", "must be a whole number of at least 1"),
    ("rate(1.5 hours)", "must be a whole number of at least 1"),
    ("rate(05 minutes)", "without leading zeros"),
    ("rate(5 weeks)", "rate unit 'weeks' must be minute(s), hour(s) or day(s)"),
    ("rate(5 Minutes)", "rate unit 'Minutes'"),
    ("rate(5minutes)", "a number and a unit separated by one space"),
    ("rate(5  minutes)", "a number and a unit separated by one space"),
    ("rate(5 minutes", "is not rate(...), cron(...) or at(...)"),
    (" rate(5 minutes)", "is not rate(...), cron(...) or at(...)"),
    ("RATE(5 minutes)", "is not rate(...), cron(...) or at(...)"),
    ("cron(0 10 * * ?)", "cron needs exactly six fields"),
    ("cron(0 10 * * ? * *)", "cron needs exactly six fields"),
    ("cron(0  10 * * ? *)", "cron needs exactly six fields"),
    ("cron(0 10 * * * *)", "exactly one of day-of-month and day-of-week must be '?'"),
    ("cron(0 10 ? * ? *)", "exactly one of day-of-month and day-of-week must be '?'"),
    ("cron(0 10 1 * MON *)", "exactly one of day-of-month and day-of-week must be '?'"),
    ("cron(60 10 * * ? *)", "minutes value '60' is not one of 0-59"),
    ("cron(0 24 * * ? *)", "hours value '24' is not one of 0-23"),
    ("cron(0 10 0 * ? *)", "day-of-month value '0' is not one of 1-31"),
    ("cron(0 10 32 * ? *)", "day-of-month value '32'"),
    ("cron(0 10 1 13 ? *)", "month value '13' is not one of 1-12 or JAN-DEC"),
    ("cron(0 10 1 JANUARY ? *)", "month value 'JANUARY'"),
    ("cron(0 10 ? * 8 *)", "day-of-week value '8' is not one of 1-7 or SUN-SAT"),
    ("cron(0 10 ? * 0 *)", "day-of-week value '0'"),
    ("cron(0 10 ? * MON-XYZ *)", "day-of-week value 'XYZ'"),
    ("cron(0 10 * * ? 1969)", "year value '1969' is not one of 1970-2199"),
    ("cron(0 10 * * ? 2200)", "year value '2200'"),
    ("cron(0 10 * ? ? *)", "month does not allow '?'"),
    ("cron(? 10 * * ? *)", "minutes does not allow '?'"),
    ("cron(0 10 ? * 1/2 *)", "day-of-week does not allow '/' increments"),
    ("cron(0/0 * * * ? *)", "increment '0' in '0/0' must be a whole number 1-59"),
    ("cron(0/60 * * * ? *)", "increment '60'"),
    ("cron(0/x * * * ? *)", "increment 'x'"),
    ("cron(30-10 * * * ? *)", "minutes range '30-10' runs backwards"),
    ("cron(0 10 ? * FRI-MON *)", "day-of-week range 'FRI-MON' runs backwards"),
    ("cron(0 10 1,,2 * ? *)", "day-of-month has an empty list item"),
    ("cron(0 10 1, * ? *)", "day-of-month has an empty list item"),
    ("cron(0 10 L,15 * ? *)", "cannot be combined with lists"),
    ("cron(0 10 32W * ? *)", "W needs a day 1-31 before it"),
    ("cron(0 10 W * ? *)", "W needs a day 1-31 before it"),
    ("cron(0 10 ? * 9L *)", "L needs a day 1-7 or SUN-SAT before it"),
    ("cron(0 10 ? * 3#6 *)", "the number after '#' must be 1-5"),
    ("cron(0 10 ? * 8#1 *)", "the day before '#' must be 1-7 or SUN-SAT"),
    ("cron(0 10 ? * 3#1,6#3 *)", "with '#' the field can hold only one expression"),
    ("cron(L 10 * * ? *)", "minutes item 'L' uses 'L'"),
    ("cron(0 10 * L ? *)", "month item 'L' uses 'L'"),
    ("cron(0 10 ? * 2W *)", "day-of-week item '2W' uses 'W'"),
    ("cron(0 10 1#2 * ? *)", "day-of-month item '1#2' uses '#'"),
    ("cron(0 10 1-L * ? *)", "uses 'L'"),
    ("cron(0 10 * * ? */x)", "increment 'x'"),
    ("at(2030-02-30T08:00:00)", "at() needs a date and time yyyy-mm-ddThh:mm:ss that exists"),
    ("at(2030-01-31 08:00:00)", "at() needs a date and time"),
    ("at(2030-01-31T08:00)", "at() needs a date and time"),
    ("at(2030-1-31T08:00:00)", "at() needs a date and time"),
    ("at(2030-01-31T24:00:00)", "at() needs a date and time"),
    ("at(2030-01-31T08:00:00Z)", "at() needs a date and time"),
    ("at()", "at() needs a date and time"),
]


@pytest.mark.parametrize("expression", GOOD_EXPRESSIONS)
def test_good_schedule_expressions_pass(expression: str) -> None:
    assert schedule_expression_problems(expression) == []


@pytest.mark.parametrize(("expression", "expected"), BAD_EXPRESSIONS)
def test_bad_schedule_expressions_name_the_mistake(expression: str, expected: str) -> None:
    problems = schedule_expression_problems(expression, "expression")
    assert problems, expression
    assert any(expected in p for p in problems), problems
    assert all(p.startswith(f"expression={expression!r}: ") and "Fix:" in p for p in problems)


def test_cron_collects_every_field_problem() -> None:
    assert len(cron_problems("60 24 32 13 8 1969")) == 7  # six ranges and the '?' rule


def test_tokens_and_time_zones() -> None:
    from aws_cdk import Aws

    assert schedule_expression_problems(Aws.STACK_NAME) == []
    assert timezone_problems("UTC") == [] and timezone_problems("America/New_York") == []
    assert timezone_problems("utc") != []  # names are case-sensitive
    assert len(SCHEDULER_CONTEXT_ATTRIBUTES) == 4


# ---- docs ---------------------------------------------------------------------------------------
def _props_table(heading: str) -> set[str]:
    from ..constructs.test_docs import _single_props_table

    return _single_props_table(DOCS / "triggers.md", heading)


@pytest.mark.parametrize(
    ("cls_name", "heading"),
    [("S3UploadTrigger", "## S3UploadTrigger props"), ("PipelineSchedule", "## PipelineSchedule props")],
)
def test_docs_props_tables_equal_the_signatures(cls_name: str, heading: str) -> None:
    from emr_patterns.orchestration import triggers

    params = set(inspect.signature(getattr(triggers, cls_name).__init__).parameters) - {"self", "scope", "id"}
    assert _props_table(heading) == params
