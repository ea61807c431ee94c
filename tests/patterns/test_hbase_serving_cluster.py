"""HBaseServingCluster with MatrixReadApi: HBase on S3 of the release, On-Demand core, termination
protection, Thrift reachable only from the read function, and the nag packs over both."""

from __future__ import annotations

from typing import Any

import pytest

from emr_patterns import EmrPatternsValidationError
from emr_patterns.patterns.widematrix import DatasetRegistry, HBaseServingCluster, MatrixReadApi

from ..orchestration.conftest import make_platform

pytestmark = pytest.mark.cdk


@pytest.fixture(scope="module")
def synthesized() -> Any:
    app, stack, platform = make_platform()
    hbase = HBaseServingCluster(stack, "HBase", platform=platform)
    registry = DatasetRegistry(stack, "Registry", key=platform.key)
    api = MatrixReadApi(
        stack,
        "ReadApi",
        platform=platform,
        registry=registry,
        thrift_host=hbase.thrift_host,
        hbase_security_group=hbase.security_group,
        thrift_port=HBaseServingCluster.THRIFT_PORT,
    )
    template = app.synth().get_stack_by_name("PipelineTest").template
    return stack, hbase, api, template


def test_hbase_on_s3_on_demand_core_termination_protected(synthesized: Any) -> None:
    _, _, _, template = synthesized
    (cluster,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::EMR::Cluster"]
    props = cluster["Properties"]
    assert props["ReleaseLabel"] == "emr-7.13.0"
    assert {a["Name"] for a in props["Applications"]} >= {"HBase", "Hadoop"}
    assert props["Instances"]["TerminationProtected"] is True
    core = props["Instances"]["CoreInstanceFleet"]
    assert core["TargetOnDemandCapacity"] == 2 and core.get("TargetSpotCapacity", 0) == 0
    configs = {c["Classification"]: c.get("ConfigurationProperties", {}) for c in props["Configurations"]}
    assert configs["hbase"]["hbase.emr.storageMode"] == "s3"
    assert "hbase.rootdir" in configs["hbase-site"]


def test_thrift_port_open_only_to_the_read_function(synthesized: Any) -> None:
    stack, hbase, api, template = synthesized
    primary = stack.resolve(stack.get_logical_id(hbase.security_group.node.default_child))
    fn_sg = stack.resolve(stack.get_logical_id(api.handler.security_group.node.default_child))
    rules = [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::EC2::SecurityGroupIngress"
        and r["Properties"]["GroupId"] == {"Fn::GetAtt": [primary, "GroupId"]}
        and r["Properties"].get("FromPort") == 9090
    ]
    assert len(rules) == 1 and rules[0]["SourceSecurityGroupId"] == {"Fn::GetAtt": [fn_sg, "GroupId"]}
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::EC2::SecurityGroup":
            for rule in resource["Properties"].get("SecurityGroupIngress", []):
                assert rule.get("CidrIp") != "0.0.0.0/0"


def test_nag_packs_find_nothing_on_the_serving_constructs(synthesized: Any) -> None:
    from emr_patterns.gates import nag_findings

    stack, hbase, api, _ = synthesized
    paths = (hbase.node.path + "/", api.node.path + "/")
    assert [f for f in nag_findings(stack.node.scope) if f.construct_path.startswith(paths)] == []


@pytest.mark.parametrize(
    ("kwargs", "prop"), [({"root_prefix": "/x/"}, "root_prefix"), ({"core_nodes": 0}, "core_nodes")]
)
def test_bad_props_are_named(kwargs: dict, prop: str) -> None:
    _, stack, platform = make_platform()
    with pytest.raises(EmrPatternsValidationError, match=prop):
        HBaseServingCluster(stack, "HBase", platform=platform, **kwargs)


def test_cfn_lint_and_checkov_clean(synthesized: Any) -> None:
    import shutil
    from pathlib import Path

    from emr_patterns.gates import run_cfn_lint, run_checkov

    stack = synthesized[0]
    path = Path(stack.node.scope.synth().directory) / "PipelineTest.template.json"
    ok, output = run_cfn_lint([path])
    assert ok, output
    local = Path(__file__).resolve().parents[2] / ".tools" / "checkov" / "bin" / "checkov"
    checkov = str(local) if local.exists() else shutil.which("checkov")
    if checkov is None:
        pytest.skip("run `make install` first (checkov)")
    ok, failed = run_checkov(checkov, [path])
    assert ok, failed
