"""WideMatrixJobs: assets, the instance role's object-by-object read policy, the bootstrap action
and the spark-submit steps (valid against botocore's EMR model), none reaching the internet, and
zero nag findings on the construct's own resources."""

from __future__ import annotations

import dataclasses
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Environment, Stack
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Template

from emr_patterns import EmrPatternsValidationError
from emr_patterns._assets import asset_path
from emr_patterns.compute import WideMatrixJobs
from emr_patterns.compute.cluster import EmrCluster
from emr_patterns.compute.jobs import build_job_zip
from emr_patterns.foundation.options import SecurityOptions
from emr_patterns.foundation.platform import EmrPlatform
from emr_patterns.spec import ClusterSpec, InstanceFleetSpec

pytestmark = pytest.mark.cdk

ACCOUNT, REGION = "123456789012", "eu-west-1"


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory) -> str:
    """A wheelhouse-shaped folder (the construct only checks the layout; content is pip's)."""
    root = tmp_path_factory.mktemp("wheelhouse")
    for arch in ("x86_64", "aarch64"):
        (root / arch).mkdir()
        (root / arch / "requirements.txt").write_text("numpy==2.0.2\n", encoding="utf-8")
        (root / arch / f"numpy-2.0.2-cp39-cp39-manylinux_2_17_{arch}.whl").write_bytes(
            b"wheel " + arch.encode()
        )
    return str(root)


def _app(wheelhouse: str) -> tuple[App, Stack, EmrPlatform, WideMatrixJobs, EmrCluster]:
    app = App()
    stack = Stack(app, "Jobs", env=Environment(account=ACCOUNT, region=REGION))
    certs = s3.Bucket.from_bucket_name(stack, "Certs", "certs-bucket")
    platform = EmrPlatform(
        stack, "Platform", security=SecurityOptions(certificate_bucket=certs, certificate_key="emr/tls.zip")
    )
    jobs = WideMatrixJobs(stack, "WideMatrix", platform=platform, wheelhouse=wheelhouse)
    spec = ClusterSpec(
        name="jobs",
        primary_fleet=InstanceFleetSpec.primary(["m7g.xlarge"]),
        core_fleet=InstanceFleetSpec.core(["m7g.2xlarge"], on_demand_units=2),
        idle_timeout_seconds=3600,
        bootstrap_actions=[jobs.bootstrap_action()],
    )
    cluster = EmrCluster(stack, "Cluster", platform=platform, spec=spec)
    return app, stack, platform, jobs, cluster


@pytest.fixture(scope="module")
def built(wheelhouse):
    return _app(wheelhouse)


def _render(value: Any, stack: Stack) -> Any:
    """A resolved CloudFormation value as the string it becomes in this account and region."""
    if isinstance(value, list):
        return [_render(v, stack) for v in value]
    if isinstance(value, dict):
        if set(value) == {"Fn::Join"}:
            sep, parts = value["Fn::Join"]
            return sep.join(_render(p, stack) for p in parts)
        if set(value) == {"Fn::Sub"}:
            text = value["Fn::Sub"]
            return (
                text.replace("${AWS::AccountId}", ACCOUNT)
                .replace("${AWS::Region}", REGION)
                .replace("${AWS::Partition}", "aws")
            )
        if set(value) == {"Ref"}:
            return {"AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::Partition": "aws"}.get(
                value["Ref"], f"ref-{value['Ref'].lower()}"
            )
        if set(value) == {"Fn::GetAtt"}:
            return f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{value['Fn::GetAtt'][0].lower()}"
        return {k: _render(v, stack) for k, v in value.items()}
    return value


def _step(jobs: WideMatrixJobs, stack: Stack, *args: Any, **kwargs: Any) -> dict:
    return _render(stack.resolve(jobs.spark_step(*args, **kwargs)), stack)


def test_spark_step_is_valid_for_add_job_flow_steps(built):
    import botocore.session
    from botocore.validate import ParamValidator

    _, stack, platform, jobs, _ = built
    step = _step(jobs, stack, "ingest", ["--input", "s3://raw/x.zip", "--output", "s3://work/ds"])
    model = botocore.session.get_session().get_service_model("emr")
    shape = model.operation_model("AddJobFlowSteps").input_shape
    report = ParamValidator().validate({"JobFlowId": "j-ABCDEFGHIJKL", "Steps": [step]}, shape)
    assert not report.has_errors(), report.generate_report()
    broken = dict(step, HadoopJarStep={"Args": step["HadoopJarStep"]["Args"]})  # the check can fail
    assert ParamValidator().validate({"JobFlowId": "j-1", "Steps": [broken]}, shape).has_errors()

    assert step["Name"] == "widematrix-ingest" and step["ActionOnFailure"] == "CONTINUE"
    assert step["HadoopJarStep"]["Jar"] == "command-runner.jar"
    args = step["HadoopJarStep"]["Args"]
    assert args[:3] == ["spark-submit", "--deploy-mode", "cluster"]
    zip_uri = args[args.index("--py-files") + 1]
    assert re.fullmatch(rf"s3://cdk-hnb659fds-assets-{ACCOUNT}-{REGION}/[0-9a-f]{{64}}\.zip", zip_uri)
    entry = args[args.index("--py-files") + 2]
    assert entry.endswith(".py") and entry.startswith("s3://")
    assert args[args.index("--py-files") + 3 : args.index("--py-files") + 7] == [
        "--input",
        "s3://raw/x.zip",
        "--output",
        "s3://work/ds",
    ]
    key_arn = _render(stack.resolve(platform.key.key_arn), stack)
    assert args[args.index("--kms-key-arn") + 1] == key_arn
    buckets = _render(stack.resolve(",".join(b.bucket_name for b in platform.data_buckets)), stack)
    assert args[args.index("--allowed-buckets") + 1] == buckets and buckets.count(",") == 2


def test_spark_step_keeps_the_callers_key_and_buckets(built):
    _, stack, _, jobs, _ = built
    step = _step(
        jobs,
        stack,
        "aggregate",
        ["--dataset", "s3://w/ds", "--group-by", "c", "--output", "s3://w/v", "--allowed-buckets", "w"],
        name="agg",
        deploy_mode="client",
        spark_conf={"spark.executor.memory": "8g"},
    )
    args = step["HadoopJarStep"]["Args"]
    assert step["Name"] == "agg" and args[1:5] == [
        "--deploy-mode",
        "client",
        "--conf",
        "spark.executor.memory=8g",
    ]
    assert args.count("--allowed-buckets") == 1 and args[args.index("--allowed-buckets") + 1] == "w"
    assert args.count("--kms-key-arn") == 1
    entries = {a for a in args if a.endswith(".py")}
    ingest = _step(jobs, stack, "ingest", [])["HadoopJarStep"]["Args"]
    assert entries and entries.isdisjoint(a for a in ingest if a.endswith(".py"))  # two entry scripts


def test_bad_step_options_are_named(built):
    _, _, _, jobs, _ = built
    with pytest.raises(EmrPatternsValidationError, match="action_on_failure='STOP'"):
        jobs.spark_step("ingest", [], action_on_failure="STOP")
    with pytest.raises(EmrPatternsValidationError, match="job='transpose'"):
        jobs.spark_step("transpose", [])  # type: ignore[arg-type]
    with pytest.raises(EmrPatternsValidationError, match=r"spark\.jars\.packages"):
        jobs.spark_step("ingest", [], spark_conf={"spark.jars.packages": "org.example:x:1"})


def test_missing_wheelhouse_is_named_with_the_fix(tmp_path):
    app = App()
    stack = Stack(app, "S")
    platform = EmrPlatform(
        stack,
        "Platform",
        security=SecurityOptions(
            certificate_bucket=s3.Bucket.from_bucket_name(stack, "C", "certs-bucket"), certificate_key="k.zip"
        ),
    )
    (tmp_path / "x86_64").mkdir()
    with pytest.raises(EmrPatternsValidationError) as err:
        WideMatrixJobs(stack, "Jobs", platform=platform, wheelhouse=str(tmp_path))
    text = str(err.value)
    assert "x86_64/requirements.txt" in text and "aarch64/requirements.txt" in text
    assert "make emr-wheelhouse" in text


def test_assets_are_read_object_by_object_through_a_managed_policy(built):
    _, stack, platform, _, _ = built
    template = Template.from_stack(stack)
    policies = {
        k: v
        for k, v in template.find_resources("AWS::IAM::ManagedPolicy").items()
        if k.startswith("WideMatrixAssetsReadPolicy")
    }
    (policy,) = policies.values()
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Action"] == "s3:GetObject"
    resources = [_render(r, stack) for r in statement["Resource"]]
    assert len(resources) == 7  # zip, 3 entry scripts, 2 wheelhouses, bootstrap script
    for arn in resources:
        assert re.fullmatch(
            rf"arn:aws:s3:::cdk-hnb659fds-assets-{ACCOUNT}-{REGION}/[0-9a-f]{{64}}\.(zip|py|sh)", arn
        )
    role = _render(stack.resolve(platform.instance_role.role_name), stack)
    assert [_render(r, stack) for r in policy["Properties"]["Roles"]] == [role]
    assert [k for k in template.find_resources("AWS::IAM::Policy") if k.startswith("WideMatrix")] == []


def test_bootstrap_action_is_on_the_cluster_and_picks_the_architecture(built):
    _, stack, _, _, _ = built
    (cluster,) = Template.from_stack(stack).find_resources("AWS::EMR::Cluster").values()
    actions = [_render(a, stack) for a in cluster["Properties"]["BootstrapActions"]]
    ours = [a for a in actions if a["Name"] == "widematrix-python-deps"]
    assert len(ours) == 1
    script = ours[0]["ScriptBootstrapAction"]
    assert script["Path"].endswith(".sh")
    x86, arm, region = script["Args"]
    assert x86.endswith(".zip") and arm.endswith(".zip") and x86 != arm and region == REGION


def _strings(value: Any):
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)


def _internet_problems(text: str) -> list[str]:
    """What in a command or script could reach beyond S3: a package index or any http(s) URL."""
    problems = []
    for line in text.splitlines():
        code = line.split("#", 1)[0] if line.lstrip().startswith("#") else line
        if re.search(r"\bpip3?\b.*\binstall\b", code) and "--no-index" not in code:
            problems.append(f"pip install without --no-index: {line.strip()}")
        if re.search(r"\b(curl|wget)\b", code):
            problems.append(f"download tool: {line.strip()}")
    problems += [
        f"URL: {url}" for url in re.findall(r"[a-z][a-z0-9+.-]*://\S+", text) if not url.startswith("s3://")
    ]
    return problems


def test_internet_check_catches_what_it_is_for():
    assert _internet_problems("sudo python3 -m pip install numpy")
    assert _internet_problems("pip install --no-index -f https://example.com/whl x")
    assert _internet_problems("curl -sO s3://b/k")
    assert _internet_problems("spark-submit http://example.com/job.py") == ["URL: http://example.com/job.py"]
    assert (
        _internet_problems("aws s3 cp s3://b/k . && python3 -m pip install --no-index --find-links d x") == []
    )


def test_no_bootstrap_or_step_reaches_the_internet(built):
    app, stack, _, jobs, _ = built
    script = asset_path("jobs", "widematrix-deps-bootstrap.sh").read_text(encoding="utf-8")
    assert "--no-index" in script and "uname -m" in script
    assert _internet_problems(script) == []
    assembly = app.synth()
    for artifact in assembly.stacks:
        for resource in artifact.template.get("Resources", {}).values():
            props = resource.get("Properties", {})
            for key in ("BootstrapActions", "Steps"):
                for text in _strings(_render(props.get(key, []), stack)):
                    assert _internet_problems(text) == [], (key, text)
    for job in ("ingest", "aggregate"):
        step = _step(jobs, stack, job, ["--input", "s3://raw/x.zip", "--output", "s3://work/ds"])
        for text in step["HadoopJarStep"]["Args"]:
            assert _internet_problems(text) == [], text


def test_zero_nag_findings_on_the_construct(built, wheelhouse):
    from aws_cdk import aws_iam as iam

    from emr_patterns.gates import nag_findings

    app, _, _, jobs, _ = built
    assert [f for f in nag_findings(app) if f.construct_path.startswith(jobs.node.path + "/")] == []
    # the same walk does flag what the packs reject under the construct (an inline policy)
    app2, _, platform2, jobs2, _ = _app(wheelhouse)
    iam.Policy(
        jobs2,
        "Inline",
        roles=[platform2.instance_role],
        statements=[iam.PolicyStatement(actions=["s3:GetObject"], resources=["arn:aws:s3:::b/k"])],
    )
    flagged = {f.rule_id for f in nag_findings(app2) if f.construct_path.startswith(jobs2.node.path + "/")}
    assert any("IAMNoInlinePolicy" in rule for rule in flagged), flagged


def test_job_zip_is_reproducible_and_holds_only_the_package(tmp_path):
    one = build_job_zip(tmp_path / "a")
    two = build_job_zip(tmp_path / "b")
    assert one.read_bytes() == two.read_bytes()
    names = zipfile.ZipFile(one).namelist()
    expected = sorted(f"widematrix/{p.name}" for p in Path(asset_path("jobs", "widematrix")).glob("*.py"))
    assert names == expected and "widematrix/ingest.py" in names and "widematrix/__init__.py" in names


def test_platform_data_buckets_are_the_default_allowed_buckets(built):
    _, stack, platform, jobs, _ = built
    args = _step(jobs, stack, "ingest", [])["HadoopJarStep"]["Args"]
    names = _render(stack.resolve([b.bucket_name for b in platform.data_buckets]), stack)
    assert args[args.index("--allowed-buckets") + 1].split(",") == names
    assert dataclasses.is_dataclass(jobs.bootstrap_action())
