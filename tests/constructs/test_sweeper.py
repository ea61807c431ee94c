"""EmrClusterSweeper: the rule, its target, the function, the IAM it grants, and the gates.

One app, built once for the module: a platform stack (``EmrPlatform``) and a pipeline stack with
a sample state machine (one Pass state, logged and traced, with a customer-managed role policy
so that the sample itself is nag-clean) and the sweeper watching it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk.assertions import Match, Template

from emr_patterns import nag
from emr_patterns.errors import EmrPatternsValidationError
from emr_patterns.foundation.functions import _SFN_LOG_DELIVERY_ACTIONS, _XRAY_ACTIONS
from emr_patterns.foundation.options import SecurityOptions
from emr_patterns.foundation.platform import EmrPlatform
from emr_patterns.gates import acknowledged_rules, nag_findings, run_cfn_lint, run_checkov
from emr_patterns.lambdas.emr_sweeper import handler as sweeper_handler
from emr_patterns.nag import acknowledge, cfn_lint_ignore
from emr_patterns.orchestration import DEFAULT_TAG_KEY, SWEPT_STATUSES, EmrClusterSweeper

pytestmark = pytest.mark.cdk

ENV = {"account": "123456789012", "region": "eu-west-1"}
REPO = Path(__file__).resolve().parents[2]
CHECKOV = REPO / ".tools" / "checkov" / "bin" / "checkov"
#: What the sample state machine's role needs to trace (beside the log-delivery actions).
_SAMPLING = (*_XRAY_ACTIONS, "xray:GetSamplingRules", "xray:GetSamplingTargets")
IMPORTED_ARN = "arn:aws:states:eu-west-1:123456789012:stateMachine:imported-pipeline"


def _platform(app: App) -> EmrPlatform:
    stack = Stack(app, "Platform", env=ENV)
    certs = s3.Bucket.from_bucket_name(stack, "Certs", "certs-bucket")
    return EmrPlatform(
        stack, "Platform", security=SecurityOptions(certificate_bucket=certs, certificate_key="emr/tls.zip")
    )


def sample_state_machine(scope: Stack, id: str, platform: EmrPlatform) -> sfn.StateMachine:
    """A logged, traced one-Pass-state machine whose role has only a customer-managed policy."""
    log_group = logs.LogGroup(
        scope, f"{id}Logs", encryption_key=platform.key, retention=logs.RetentionDays.ONE_YEAR
    )
    role = iam.Role(scope, f"{id}Role", assumed_by=iam.ServicePrincipal("states.amazonaws.com"))
    policy = iam.ManagedPolicy(
        scope,
        f"{id}Policy",
        roles=[role],
        statements=[iam.PolicyStatement(actions=[*_SFN_LOG_DELIVERY_ACTIONS, *_SAMPLING], resources=["*"])],
    )
    acknowledge(
        policy,
        "AwsSolutions-IAM5[Resource::*]",
        "Test sample: log delivery and X-Ray actions support no resource-level permissions.",
    )
    state_machine = sfn.StateMachine(
        scope,
        id,
        definition_body=sfn.DefinitionBody.from_chainable(sfn.Pass(scope, f"{id}Start")),
        role=role.without_policy_updates(),
        tracing_enabled=True,
        logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL),
    )
    state_machine.node.add_dependency(policy)
    cfn_lint_ignore(state_machine, "W3005")  # aws-cdk's DependsOn on the role beside its GetAtt
    return state_machine


class Built:
    """The module's app: platform stack, pipeline stack, sample state machine and sweeper."""

    def __init__(self) -> None:
        self.app = App()
        self.platform = _platform(self.app)
        self.stack = Stack(self.app, "Pipelines", env=ENV)
        self.state_machine = sample_state_machine(self.stack, "Pipeline", self.platform)
        self.sweeper = EmrClusterSweeper(
            self.stack, "Sweeper", platform=self.platform, state_machines=[self.state_machine]
        )
        self.template = Template.from_stack(self.stack)
        self.json: dict[str, Any] = self.template.to_json()

    def resources(self, kind: str) -> dict[str, Any]:
        return {k: v for k, v in self.json["Resources"].items() if v["Type"] == kind}


@pytest.fixture(scope="module")
def built() -> Built:
    return Built()


def _logical_id(construct: Any) -> str:
    resource = construct.node.default_child
    return str(Stack.of(resource).resolve(resource.logical_id))


def _sweeper_rule(built: Built) -> dict[str, Any]:
    return built.json["Resources"][_logical_id(built.sweeper.rule)]["Properties"]


def _statements(built: Built) -> list[dict[str, Any]]:
    policy = built.json["Resources"][_logical_id(built.sweeper.policy)]
    return list(policy["Properties"]["PolicyDocument"]["Statement"])


# ---- the rule ---------------------------------------------------------------------------------
def test_rule_matches_the_three_statuses_of_exactly_the_watched_state_machine(built: Built) -> None:
    pattern = _sweeper_rule(built)["EventPattern"]
    assert pattern["source"] == ["aws.states"]
    assert pattern["detail-type"] == ["Step Functions Execution Status Change"]
    assert sorted(pattern["detail"]["status"]) == ["ABORTED", "FAILED", "TIMED_OUT"]
    assert pattern["detail"]["stateMachineArn"] == [{"Ref": _logical_id(built.state_machine)}]
    assert set(pattern) == {"source", "detail-type", "detail"}
    assert set(pattern["detail"]) == {"status", "stateMachineArn"}


def test_statuses_and_tag_key_agree_with_the_handler() -> None:
    assert set(SWEPT_STATUSES) == sweeper_handler.ORPHANING_STATUSES
    assert DEFAULT_TAG_KEY == sweeper_handler.DEFAULT_TAG_KEY


def test_target_has_dead_letter_queue_retries_and_the_tag_key(built: Built) -> None:
    (target,) = _sweeper_rule(built)["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [_logical_id(built.sweeper.function.function), "Arn"]}
    assert target["DeadLetterConfig"]["Arn"] == {
        "Fn::GetAtt": [_logical_id(built.sweeper.dead_letter_queue), "Arn"]
    }
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 4, "MaximumEventAgeInSeconds": 6 * 3600}
    transformer = target["InputTransformer"]
    assert transformer["InputPathsMap"] == {"detail": "$.detail"}
    rendered = transformer["InputTemplate"].replace("<detail>", '{"status": "FAILED"}')
    assert json.loads(rendered) == {"detail": {"status": "FAILED"}, "tagKey": DEFAULT_TAG_KEY}


# ---- the function and its queue -----------------------------------------------------------------
def test_function_runs_in_the_platform_subnets_with_its_own_dead_letter_queue(built: Built) -> None:
    function = built.json["Resources"][_logical_id(built.sweeper.function.function)]["Properties"]
    assert function["Handler"] == "handler.handler"
    assert function["TracingConfig"] == {"Mode": "Active"}
    assert len(function["VpcConfig"]["SubnetIds"]) >= 2
    assert function["DeadLetterConfig"]["TargetArn"] == {
        "Fn::GetAtt": [_logical_id(built.sweeper.dead_letter_queue), "Arn"]
    }
    assert "Environment" not in function
    # Lambda checks at creation that the role may send to the queue.
    depends = built.json["Resources"][_logical_id(built.sweeper.function.function)]["DependsOn"]
    assert _logical_id(built.sweeper.policy) in depends


def test_dead_letter_queue_is_encrypted_with_the_platform_key_and_ssl_only(built: Built) -> None:
    resource = built.json["Resources"][_logical_id(built.sweeper.dead_letter_queue)]
    assert resource["DeletionPolicy"] == "Retain"  # undelivered events outlive the stack by default
    queue = resource["Properties"]
    assert "Fn::ImportValue" in json.dumps(queue["KmsMasterKeyId"])  # the platform stack's key
    assert queue["MessageRetentionPeriod"] == 14 * 24 * 3600
    built.template.has_resource_properties(
        "AWS::SQS::QueuePolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Action": "sqs:*",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        ),
                        Match.object_like(
                            {
                                "Effect": "Allow",
                                "Action": "sqs:SendMessage",
                                "Principal": {"Service": "events.amazonaws.com"},
                            }
                        ),
                    ]
                )
            }
        },
    )


def test_platform_key_lets_eventbridge_encrypt_dead_letters(built: Built) -> None:
    platform = Template.from_stack(Stack.of(built.platform))
    platform.has_resource_properties(
        "AWS::KMS::Key",
        {
            "KeyPolicy": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Sid": "AllowEventBridgeToEncryptedQueues",
                                "Principal": {"Service": "events.amazonaws.com"},
                                "Condition": {
                                    "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
                                },
                            }
                        )
                    ]
                )
            }
        },
    )


# ---- IAM --------------------------------------------------------------------------------------
def test_iam_list_on_star_describe_on_clusters_terminate_only_by_tag(built: Built) -> None:
    by_sid = {s["Sid"]: s for s in _statements(built)}
    cluster_arn = {
        "Fn::Join": [
            "",
            ["arn:", {"Ref": "AWS::Partition"}, ":elasticmapreduce:eu-west-1:123456789012:cluster/*"],
        ]
    }
    assert by_sid["ListClusters"]["Action"] == "elasticmapreduce:ListClusters"
    assert by_sid["ListClusters"]["Resource"] == "*"
    assert by_sid["ReadClusterTags"]["Action"] == "elasticmapreduce:DescribeCluster"
    assert by_sid["ReadClusterTags"]["Resource"] == cluster_arn
    terminate = by_sid["TerminateClustersOfSweptExecutions1"]
    assert sorted(terminate["Action"]) == [
        "elasticmapreduce:SetTerminationProtection",
        "elasticmapreduce:TerminateJobFlows",
    ]
    assert terminate["Resource"] == cluster_arn
    (condition,) = terminate["Condition"]["StringLike"].items()
    assert condition[0] == f"aws:ResourceTag/{DEFAULT_TAG_KEY}"
    rendered = json.dumps(condition[1])
    assert ":execution:" in rendered and rendered.endswith('":*"]]}')
    assert _logical_id(built.state_machine) in rendered
    # No other statement carries a write action.
    actions = {
        a
        for s in _statements(built)
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert actions == {
        "elasticmapreduce:ListClusters",
        "elasticmapreduce:DescribeCluster",
        "elasticmapreduce:SetTerminationProtection",
        "elasticmapreduce:TerminateJobFlows",
        "sqs:SendMessage",
        "kms:GenerateDataKey",
        "kms:Decrypt",
    }


def test_no_inline_iam_policy(built: Built) -> None:
    assert built.resources("AWS::IAM::Policy") == {}
    for role in built.resources("AWS::IAM::Role").values():
        assert "Policies" not in role["Properties"]


# ---- add_state_machine, validation --------------------------------------------------------------
def test_add_state_machine_widens_the_rule_and_the_grant() -> None:
    app = App()
    platform = _platform(app)
    stack = Stack(app, "Pipelines", env=ENV)
    first = sample_state_machine(stack, "First", platform)
    sweeper = EmrClusterSweeper(stack, "Sweeper", platform=platform, state_machines=[first], tag_key="run")
    sweeper.add_state_machine(sfn.StateMachine.from_state_machine_arn(stack, "Imported", IMPORTED_ARN))
    sweeper.add_state_machine(first)  # already watched: no-op
    resources = Template.from_stack(stack).to_json()["Resources"]
    rule = resources[_logical_id(sweeper.rule)]["Properties"]
    assert rule["EventPattern"]["detail"]["stateMachineArn"] == [{"Ref": _logical_id(first)}, IMPORTED_ARN]
    assert '"tagKey":"run"' in rule["Targets"][0]["InputTransformer"]["InputTemplate"]
    statements = resources[_logical_id(sweeper.policy)]["Properties"]["PolicyDocument"]["Statement"]
    terminate = [s for s in statements if s["Sid"].startswith("TerminateClustersOfSweptExecutions")]
    assert len(terminate) == 2
    assert terminate[1]["Condition"] == {
        "StringLike": {
            "aws:ResourceTag/run": "arn:aws:states:eu-west-1:123456789012:execution:imported-pipeline:*"
        }
    }


def test_no_state_machine_fails_synthesis() -> None:
    app = App()
    platform = _platform(app)
    stack = Stack(app, "Pipelines", env=ENV)
    EmrClusterSweeper(stack, "Sweeper", platform=platform)
    with pytest.raises(Exception, match="watches no state machine"):
        app.synth()


@pytest.mark.parametrize(
    ("tag_key", "message"),
    [
        ("", "1 to 128 characters"),
        ("k" * 129, "1 to 128 characters"),
        ("aws:run", "reserved for AWS"),
        (7, "not a string"),
    ],
)
def test_bad_tag_key_rejected(tag_key: Any, message: str) -> None:
    app = App()
    platform = _platform(app)
    stack = Stack(app, "Pipelines", env=ENV)
    with pytest.raises(EmrPatternsValidationError, match=message) as err:
        EmrClusterSweeper(stack, "Sweeper", platform=platform, tag_key=tag_key)
    assert "tag_key=" in str(err.value)


# ---- gates ------------------------------------------------------------------------------------
def test_zero_nag_findings_in_all_five_packs(built: Built) -> None:
    assert nag_findings(built.app) == []


def test_dead_letter_rules_hold_and_every_other_acknowledgement_is_needed(
    built: Built, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without acknowledgements: LambdaDLQ (HIPAA, NIST, Serverless) and EventBusDLQ hold, because
    both queues exist; every other rule acknowledged under the sweeper is then reported."""
    monkeypatch.setattr(nag, "_ENABLED", False)
    unacknowledged = Built()
    found = [
        (f.rule_id, f.construct_path)
        for f in nag_findings(unacknowledged.app)
        if f.construct_path.startswith("Pipelines/Sweeper/")
    ]
    assert not [(r, p) for r, p in found if "DLQ" in r], found
    for path, rule, _ in acknowledged_rules(built.sweeper):
        if rule.endswith("-LambdaDLQ"):
            continue  # PlatformFunction's default for plain functions; nothing left to silence here
        assert any(r == rule and (p == path or p.startswith(f"{path}/")) for r, p in found), (path, rule)


def test_checkov_skips_on_the_function_exclude_the_dead_letter_check(built: Built) -> None:
    function = built.json["Resources"][_logical_id(built.sweeper.function.function)]
    skipped = {skip["id"] for skip in function["Metadata"]["checkov"]["skip"]}
    assert skipped == {"CKV_AWS_115", "CKV_AWS_173"}


def test_cfn_lint_clean(built: Built, tmp_path: Path) -> None:
    """The sweeper's stack (the platform stack's dummy zones are the test app's, not ours)."""
    path = tmp_path / "Pipelines.template.json"
    path.write_text(json.dumps(built.json))
    ok, output = run_cfn_lint([path])
    assert ok, output


@pytest.mark.skipif(not CHECKOV.exists() and not shutil.which("checkov"), reason="run `make install` first")
def test_checkov_clean(built: Built, tmp_path: Path) -> None:
    checkov = str(CHECKOV) if CHECKOV.exists() else str(shutil.which("checkov"))
    path = tmp_path / "Pipelines.template.json"
    path.write_text(json.dumps(built.json))
    ok, failed = run_checkov(checkov, [path])
    assert ok, failed
