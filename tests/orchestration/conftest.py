"""A small app holding one TransientClusterPipeline, and its ASL resolved from the template.

The ASL is read from the synthesized ``DefinitionString`` (an ``Fn::Join``), with every token
replaced by a placeholder string, so the tests check what CloudFormation deploys, not the Python
objects that rendered it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

PIPELINE_STEPS = (
    ("extract", ["spark-submit", "s3://jobs/extract.py", "--mode", "{mode}", "--out", "{output}"]),
    # A quote and braces that are not placeholders stay literal (escaped in the intrinsic).
    ("load", ["spark-submit", "s3://jobs/load.py", "--input", "{previous_output}", "--note", "it's {x}"]),
)


def resolve_tokens(value: Any) -> Any:
    """A CloudFormation value as the string it deploys to, with placeholders for references."""
    if isinstance(value, dict) and len(value) == 1:
        ((fn, arg),) = value.items()
        if fn == "Fn::Join":
            separator, parts = arg
            return separator.join(resolve_tokens(p) for p in parts)
        if fn == "Ref":
            return "aws" if arg == "AWS::Partition" else f"REF-{arg}"
        if fn == "Fn::GetAtt":
            return f"GETATT-{arg[0]}-{arg[1]}"
        if fn == "Fn::Sub" and isinstance(arg, str):  # the CDK assets bucket's name
            return arg.replace("${AWS::AccountId}", "123456789012").replace("${AWS::Region}", "us-east-1")
    if isinstance(value, str):
        return value
    raise AssertionError(f"unexpected CloudFormation value {value!r}")


@dataclass
class PipelineApp:
    """The app, its stack, the pipeline construct, the template and the deployed ASL."""

    app: Any
    stack: Any
    pipeline: Any
    template: dict[str, Any]
    template_path: Path

    @property
    def state_machine(self) -> dict[str, Any]:
        (machine,) = [
            r for r in self.template["Resources"].values() if r["Type"] == "AWS::StepFunctions::StateMachine"
        ]
        return machine

    @property
    def asl(self) -> dict[str, Any]:
        return json.loads(resolve_tokens(self.state_machine["Properties"]["DefinitionString"]))


def make_spec(**overrides: Any) -> Any:
    from emr_patterns.spec import ClusterSpec, InstanceFleetSpec

    kwargs: dict[str, Any] = dict(
        name="nightly",
        primary_fleet=InstanceFleetSpec.primary(["m7g.xlarge"]),
        core_fleet=InstanceFleetSpec.core(["m7g.2xlarge", "m6g.2xlarge"], on_demand_units=2),
        idle_timeout_seconds=3600,
    )
    kwargs.update(overrides)
    return ClusterSpec(**kwargs)


def make_platform() -> tuple[Any, Any, Any]:
    from aws_cdk import App, Stack
    from aws_cdk import aws_s3 as s3

    from emr_patterns.foundation.options import SecurityOptions
    from emr_patterns.foundation.platform import EmrPlatform

    app = App()
    stack = Stack(app, "PipelineTest")
    certs = s3.Bucket.from_bucket_name(stack, "Certs", "certs-bucket")
    platform = EmrPlatform(
        stack, "Platform", security=SecurityOptions(certificate_bucket=certs, certificate_key="emr/tls.zip")
    )
    return app, stack, platform


def make_steps() -> list[Any]:
    from emr_patterns.orchestration import PipelineStep
    from emr_patterns.spec.steps import Arg, SparkSubmitStep

    return [
        PipelineStep(
            "extract", PIPELINE_STEPS[0][1], output_location="s3://work/{execution}/{mode}/extract/"
        ),
        PipelineStep("load", PIPELINE_STEPS[1][1]),
        # A step builder of emr_patterns.spec.steps: its Arg paths read the Map item.
        SparkSubmitStep(
            name="publish",
            main="s3://jobs/publish.py",
            args=("--mode", Arg.path("$.mode"), "--date", Arg.path("$.input.date")),
        ),
    ]


@pytest.fixture(scope="session")
def pipeline_app(tmp_path_factory: pytest.TempPathFactory) -> PipelineApp:
    """The platform and one pipeline in one stack, synthesized once."""
    from aws_cdk import aws_iam as iam

    from emr_patterns.orchestration import EmrClusterSweeper, TransientClusterPipeline

    app, stack, platform = make_platform()
    pipeline = TransientClusterPipeline(
        stack,
        "Pipeline",
        platform=platform,
        spec=make_spec(),
        steps=make_steps(),
        input_fields={"date": "string"},
    )
    starter = iam.Role(stack, "Starter", assumed_by=iam.AccountRootPrincipal())
    pipeline.grant_start_execution(starter)
    # The second net: the sweeper terminates the clusters of stopped or timed-out executions.
    EmrClusterSweeper(stack, "Sweeper", platform=platform, state_machines=[pipeline.state_machine])
    outdir = tmp_path_factory.mktemp("pipeline.out")
    cloud = app.synth()
    artifact = cloud.get_stack_by_name("PipelineTest")
    path = outdir / "PipelineTest.template.json"
    path.write_text(json.dumps(artifact.template))
    return PipelineApp(app, stack, pipeline, artifact.template, path)
