"""MatrixReadApi: the synthesized REST API (IAM auth, validated query parameters, throttling,
access logs, WAF), the handler in the VPC with Thrift open only to it, the nag packs, bad props."""

from __future__ import annotations

from typing import Any

import pytest

from emr_patterns import EmrPatternsValidationError
from emr_patterns.patterns.widematrix import DatasetRegistry, MatrixReadApi

from ..orchestration.conftest import make_platform

pytestmark = pytest.mark.cdk


def build(**kwargs: Any) -> tuple[Any, Any, Any, Any]:
    from aws_cdk import aws_ec2 as ec2

    app, stack, platform = make_platform()
    registry = DatasetRegistry(stack, "Registry", key=platform.key)
    hbase_sg = ec2.SecurityGroup(stack, "HBaseSg", vpc=platform.vpc, allow_all_outbound=False)
    api = MatrixReadApi(
        stack,
        "ReadApi",
        platform=platform,
        registry=registry,
        thrift_host="hbase.internal",
        hbase_security_group=hbase_sg,
        **kwargs,
    )
    return app, stack, api, hbase_sg


@pytest.fixture(scope="module")
def synthesized() -> Any:
    app, stack, api, hbase_sg = build()
    template = app.synth().get_stack_by_name("PipelineTest").template
    return app, stack, api, hbase_sg, template


def of_type(template: dict, kind: str) -> dict[str, dict]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def test_methods_use_iam_and_validate_their_query_parameters(synthesized: Any) -> None:
    *_, template = synthesized
    methods = list(of_type(template, "AWS::ApiGateway::Method").values())
    assert len(methods) == 3
    assert all(m["Properties"]["AuthorizationType"] == "AWS_IAM" for m in methods)
    assert all("RequestValidatorId" in m["Properties"] for m in methods)
    params = sorted(tuple(sorted(m["Properties"]["RequestParameters"].items())) for m in methods)
    assert (
        ("method.request.path.dataset", True),
        ("method.request.querystring.gene", True),
        ("method.request.querystring.stat", True),
    ) in params
    (validator,) = of_type(template, "AWS::ApiGateway::RequestValidator").values()
    assert validator["Properties"]["ValidateRequestParameters"] is True


def test_stage_throttles_logs_and_traces(synthesized: Any) -> None:
    *_, template = synthesized
    (stage,) = of_type(template, "AWS::ApiGateway::Stage").values()
    props = stage["Properties"]
    assert props["TracingEnabled"] is True and "AccessLogSetting" in props
    (setting,) = props["MethodSettings"]
    assert setting["ThrottlingRateLimit"] == 50 and setting["ThrottlingBurstLimit"] == 100
    assert setting["LoggingLevel"] == "ERROR" and setting["DataTraceEnabled"] is False


def test_waf_guards_the_stage(synthesized: Any) -> None:
    *_, template = synthesized
    (acl,) = of_type(template, "AWS::WAFv2::WebACL").values()
    names = [r["Name"] for r in acl["Properties"]["Rules"]]
    assert names == ["AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet", "rate-limit"]
    assert len(of_type(template, "AWS::WAFv2::WebACLAssociation")) == 1
    assert len(of_type(template, "AWS::WAFv2::LoggingConfiguration")) == 1


def test_handler_in_the_vpc_and_thrift_open_only_to_it(synthesized: Any) -> None:
    _, stack, api, hbase_sg, template = synthesized
    fn = template["Resources"][stack.resolve(stack.get_logical_id(api.handler.function.node.default_child))]
    assert "VpcConfig" in fn["Properties"]
    env = fn["Properties"]["Environment"]["Variables"]
    assert env["HBASE_THRIFT_HOST"] == "hbase.internal" and env["HBASE_THRIFT_PORT"] == "9090"
    assert "KmsKeyArn" in fn["Properties"]
    hbase_id = stack.resolve(stack.get_logical_id(hbase_sg.node.default_child))
    fn_sg = stack.resolve(stack.get_logical_id(api.handler.security_group.node.default_child))
    ingress = [
        r["Properties"]
        for r in of_type(template, "AWS::EC2::SecurityGroupIngress").values()
        if r["Properties"]["GroupId"] == {"Fn::GetAtt": [hbase_id, "GroupId"]}
    ]
    assert ingress == [
        {
            "IpProtocol": "tcp",
            "FromPort": 9090,
            "ToPort": 9090,
            "Description": "Thrift from the read API only",
            "GroupId": {"Fn::GetAtt": [hbase_id, "GroupId"]},
            "SourceSecurityGroupId": {"Fn::GetAtt": [fn_sg, "GroupId"]},
        }
    ]


def test_nag_packs_find_nothing_on_the_api(synthesized: Any) -> None:
    from emr_patterns.gates import nag_findings

    _, stack, api, _, _ = synthesized
    findings = [f for f in nag_findings(stack.node.scope) if f.construct_path.startswith(api.node.path + "/")]
    assert findings == []


@pytest.mark.parametrize(
    ("kwargs", "prop"),
    [
        ({"thrift_port": 0}, "thrift_port"),
        ({"thrift_timeout_ms": 20_000}, "thrift_timeout_ms"),
        ({"throttle_rate": 0}, "throttle_rate"),
        ({"waf_rate_limit": 5}, "waf_rate_limit"),
    ],
)
def test_bad_props_are_named(kwargs: dict, prop: str) -> None:
    with pytest.raises(EmrPatternsValidationError, match=prop):
        build(**kwargs)


@pytest.fixture(scope="module")
def template_path(synthesized: Any) -> Any:
    from pathlib import Path

    app = synthesized[0]
    return Path(app.synth().directory) / "PipelineTest.template.json"


def test_cfn_lint_clean_at_warning_level(template_path: Any) -> None:
    from emr_patterns.gates import run_cfn_lint

    ok, output = run_cfn_lint([template_path])
    assert ok, output


def test_checkov_zero_failures(template_path: Any) -> None:
    import shutil
    from pathlib import Path

    from emr_patterns.gates import run_checkov

    local = Path(__file__).resolve().parents[2] / ".tools" / "checkov" / "bin" / "checkov"
    checkov = str(local) if local.exists() else shutil.which("checkov")
    if checkov is None:
        pytest.skip("run `make install` first (checkov)")
    ok, failed = run_checkov(checkov, [template_path])
    assert ok, failed
