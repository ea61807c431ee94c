"""DataBrewPreparation: the synthesized recipe, the published version the job pins, encryption,
IAM scoping, the gates (cdk-nag packs, cfn-lint) and bad props.

One app is synthesized per module: the platform and two preparations in one stack, ``Census``
with every default (a prefix of the raw bucket in, the curated bucket out) and ``Exact`` on one
object with its own output bucket and prefix.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Any

import pytest

from emr_patterns import EmrPatternsValidationError
from emr_patterns.patterns.databrew import DataBrewPreparation, steps_hash
from emr_patterns.spec.databrew import DeleteColumns, Recipe, census_income_recipe

from ..orchestration.conftest import make_platform

pytestmark = pytest.mark.cdk

RECIPE = census_income_recipe()
SMALL = Recipe("small-recipe", (DeleteColumns(("fnlwgt",)),), "Drop the sampling weight")


class _App:
    def __init__(self, app: Any, stack: Any, platform: Any, census: Any, exact: Any) -> None:
        self.app, self.stack, self.platform, self.census, self.exact = app, stack, platform, census, exact
        assembly = app.synth()
        self.template_path = Path(assembly.directory) / "PipelineTest.template.json"
        self.template: dict[str, Any] = assembly.get_stack_by_name("PipelineTest").template

    def logical_id(self, construct: Any) -> str:
        from aws_cdk import CfnElement

        element = construct if isinstance(construct, CfnElement) else construct.node.default_child
        return self.stack.resolve(self.stack.get_logical_id(element))

    def resource(self, construct: Any) -> dict[str, Any]:
        return self.template["Resources"][self.logical_id(construct)]

    def props(self, construct: Any) -> dict[str, Any]:
        return self.resource(construct)["Properties"]

    def ref(self, construct: Any) -> dict[str, Any]:
        return {"Ref": self.logical_id(construct)}

    def statements(self, policy: Any) -> dict[str, dict[str, Any]]:
        doc = self.props(policy)["PolicyDocument"]
        return {s.get("Sid", ""): s for s in doc["Statement"]}


@pytest.fixture(scope="module")
def brew() -> _App:
    from aws_cdk import aws_iam as iam

    app, stack, platform = make_platform()
    census = DataBrewPreparation(stack, "Census", platform=platform, recipe=RECIPE, input_key="census/")
    exact = DataBrewPreparation(
        stack,
        "Exact",
        platform=platform,
        recipe=SMALL,
        input_key="adult/adult.csv",
        output_bucket=platform.data_buckets[1],
        output_prefix="prepared/small/",
        job_timeout_minutes=30,
        max_capacity=2,
    )
    census.grant_start_job_run(iam.Role(stack, "Starter", assumed_by=iam.AccountRootPrincipal()))
    return _App(app, stack, platform, census, exact)


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def _key_arn(brew: _App) -> Any:
    return brew.stack.resolve(brew.platform.key.key_arn)


# ---- recipe and published version -----------------------------------------------------------------


def test_recipe_steps_are_the_api_form_of_the_recipe(brew):
    props = brew.props(brew.census.recipe_resource)
    assert props["Name"] == RECIPE.name
    assert props["Description"] == RECIPE.description
    # to_cfn_steps() (jsii names) synthesizes to exactly the CreateRecipe form.
    assert props["Steps"] == RECIPE.to_steps()
    assert brew.props(brew.exact.recipe_resource)["Steps"] == SMALL.to_steps()


def test_the_custom_resource_publishes_this_recipe_and_reruns_on_new_steps(brew):
    resource = brew.resource(brew.census.published)
    assert resource["Type"] == "Custom::DataBrewRecipeVersion"
    props = resource["Properties"]
    assert props["RecipeName"] == brew.ref(brew.census.recipe_resource)
    assert props["StepsHash"] == steps_hash(RECIPE)
    assert props["ServiceToken"] == brew.stack.resolve(brew.census.publisher.service_token)
    assert set(props) == {"ServiceToken", "RecipeName", "StepsHash"}
    fewer = Recipe(RECIPE.name, RECIPE.steps[:-1], RECIPE.description)
    redescribed = dataclasses.replace(RECIPE, description="other")
    assert len({steps_hash(RECIPE), steps_hash(fewer), steps_hash(redescribed)}) == 3
    assert steps_hash(census_income_recipe()) == steps_hash(RECIPE)


def test_the_job_pins_the_published_version(brew):
    job = brew.props(brew.census.job)
    assert job["Type"] == "RECIPE"
    assert job["Recipe"] == {
        "Name": brew.ref(brew.census.recipe_resource),
        "Version": {"Fn::GetAtt": [brew.logical_id(brew.census.published), "RecipeVersion"]},
    }
    assert brew.stack.resolve(brew.census.recipe_version) == job["Recipe"]["Version"]
    assert job["DatasetName"] == brew.ref(brew.census.dataset)


def test_the_dataset_reads_csv_with_a_header_from_the_raw_bucket(brew):
    dataset = brew.props(brew.census.dataset)
    assert dataset["Format"] == "CSV"
    assert dataset["FormatOptions"] == {"Csv": {"Delimiter": ",", "HeaderRow": True}}
    assert dataset["Input"] == {
        "S3InputDefinition": {
            "Bucket": brew.stack.resolve(brew.platform.data_buckets[0].bucket_name),
            "Key": "census/",
        }
    }


def test_output_is_kms_encrypted_parquet_with_logging_timeout_and_capacity(brew):
    job = brew.props(brew.census.job)
    assert job["EncryptionMode"] == "SSE-KMS"
    assert job["EncryptionKeyArn"] == _key_arn(brew)
    assert job["LogSubscription"] == "ENABLE"
    assert (job["Timeout"], job["MaxCapacity"]) == (60, 5)
    (output,) = job["Outputs"]
    assert output["Format"] == "PARQUET"
    assert output["Location"] == {
        "Bucket": brew.stack.resolve(brew.platform.data_buckets[2].bucket_name),
        "Key": f"databrew/{RECIPE.name}/",
    }
    exact = brew.props(brew.exact.job)
    assert (exact["Timeout"], exact["MaxCapacity"]) == (30, 2)
    assert exact["Outputs"][0]["Location"]["Key"] == "prepared/small/"
    assert brew.stack.resolve(brew.exact.output_uri) == {
        "Fn::Join": [
            "",
            ["s3://", brew.stack.resolve(brew.platform.data_buckets[1].bucket_name), "/prepared/small/"],
        ]
    }


def test_job_name_is_the_job(brew):
    assert brew.stack.resolve(brew.census.job_name) == brew.ref(brew.census.job)
    name = brew.props(brew.census.job)["Name"]
    assert 1 <= len(name) <= 240


# ---- IAM -------------------------------------------------------------------------------------------


def test_the_publisher_may_publish_and_describe_this_recipe_only(brew):
    statements = brew.statements(brew.census.publisher.policy)
    publish = statements["PublishRecipe"]
    assert sorted(publish["Action"]) == ["databrew:DescribeRecipe", "databrew:PublishRecipe"]
    assert publish["Resource"]["Fn::Join"][1][-1].endswith(f":recipe/{RECIPE.name}")
    everything = [a for s in statements.values() for a in _actions(s)]
    assert [a for a in everything if a.startswith("databrew:")] == [
        "databrew:PublishRecipe",
        "databrew:DescribeRecipe",
    ]
    # Outside the VPC: no network-interface actions.
    assert not [a for a in everything if a.startswith("ec2:")]


def test_the_publisher_runs_outside_the_vpc_with_the_reason_acknowledged(brew):
    function = brew.props(brew.census.publisher.function)
    assert "VpcConfig" not in function
    assert brew.census.publisher.security_group is None
    from aws_cdk import Validations

    reasons = {
        rule: reason
        for entry in brew.census.publisher.function.node.metadata
        if entry.type == Validations.ACKNOWLEDGED_RULES_METADATA_KEY
        for rule, reason in entry.data.items()
    }
    for rule in (
        "HIPAA.Security-LambdaInsideVPC",
        "NIST.800.53.R5-LambdaInsideVPC",
        "PCI.DSS.321-LambdaInsideVPC",
    ):
        assert "no DataBrew interface endpoint" in reasons[rule]


def test_job_role_trusts_databrew_from_this_account_only(brew):
    trust = brew.props(brew.census.job_role)["AssumeRolePolicyDocument"]["Statement"]
    assert trust == [
        {
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}},
            "Effect": "Allow",
            "Principal": {"Service": "databrew.amazonaws.com"},
        }
    ]
    assert "Policies" not in brew.props(brew.census.job_role)
    assert brew.props(brew.census.job_policy)["Roles"] == [brew.ref(brew.census.job_role)]


def _join(brew: _App, bucket: Any, suffix: str) -> Any:
    return {"Fn::Join": ["", [brew.stack.resolve(bucket.bucket_arn), suffix]]}


def test_job_policy_reads_the_input_writes_the_output_prefix_and_uses_the_key(brew):
    raw, work, curated = brew.platform.data_buckets
    census = brew.statements(brew.census.job_policy)
    assert census["ReadInput"]["Action"] == "s3:GetObject"
    assert census["ReadInput"]["Resource"] == _join(brew, raw, "/census/*")
    assert census["ListInput"]["Condition"] == {"StringLike": {"s3:prefix": ["census/*"]}}
    assert census["WriteOutput"]["Resource"] == _join(brew, curated, f"/databrew/{RECIPE.name}/*")
    assert census["ListOutput"]["Resource"] == brew.stack.resolve(curated.bucket_arn)
    assert census["UsePlatformKey"]["Resource"] == _key_arn(brew)
    logs = brew.stack.resolve(census["WriteJobLogs"]["Resource"])
    assert all(":log-group:/aws-glue-databrew/*" in str(r) for r in logs)
    exact = brew.statements(brew.exact.job_policy)
    assert exact["ReadInput"]["Resource"] == _join(brew, raw, "/adult/adult.csv")
    assert exact["WriteOutput"]["Resource"] == _join(brew, work, "/prepared/small/*")
    actions = [a for s in census.values() for a in _actions(s)]
    assert not [a for a in actions if "*" in a]


def test_grant_start_job_run_names_the_job_in_a_managed_policy(brew):
    policies = [
        r
        for k, r in brew.template["Resources"].items()
        if r["Type"] == "AWS::IAM::ManagedPolicy" and k.startswith("CensusStartJobRun")
    ]
    (policy,) = policies
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Action"] == "databrew:StartJobRun"
    assert brew.ref(brew.census.job) in statement["Resource"]["Fn::Join"][1]
    assert not [r for r in brew.template["Resources"].values() if r["Type"] == "AWS::IAM::Policy"]


# ---- gates -----------------------------------------------------------------------------------------


def test_zero_nag_findings(brew):
    from emr_patterns.gates import nag_findings

    assert nag_findings(brew.app) == []


def test_cfn_lint_clean_at_warning_level(brew):
    from emr_patterns.gates import run_cfn_lint

    ok, output = run_cfn_lint([brew.template_path])
    assert ok, output


REPO = Path(__file__).resolve().parents[2]
CHECKOV = REPO / ".tools" / "checkov" / "bin" / "checkov"


@pytest.mark.skipif(not CHECKOV.exists() and not shutil.which("checkov"), reason="run `make install` first")
def test_checkov_zero_failures(brew):
    from emr_patterns.gates import run_checkov

    checkov = str(CHECKOV) if CHECKOV.exists() else shutil.which("checkov")
    assert checkov is not None
    ok, failed = run_checkov(checkov, [brew.template_path])
    assert ok, failed


# ---- bad props -------------------------------------------------------------------------------------


def _build(**overrides: Any) -> Any:
    _, stack, platform = make_platform()
    kwargs: dict[str, Any] = dict(platform=platform, recipe=RECIPE, input_key="census/")
    for key, value in overrides.items():
        kwargs[key] = value(platform) if callable(value) else value
    return DataBrewPreparation(stack, "Prep", **kwargs)


def _foreign_bucket(platform: Any) -> Any:
    from aws_cdk import Stack
    from aws_cdk import aws_s3 as s3

    return s3.Bucket.from_bucket_name(Stack.of(platform), "Foreign", "someone-elses-bucket")


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"recipe": RECIPE.to_steps()}, r"recipe='list': is not a Recipe"),
        ({"recipe": "census-income-recipe"}, r"recipe='str': is not a Recipe"),
        ({"input_key": ""}, r"input_key='': is not an S3 key or prefix"),
        ({"input_key": "   "}, r"input_key='   '"),
        ({"input_key": "/census/"}, r"input_key='/census/'.*without a leading '/'"),
        (
            {"output_bucket": _foreign_bucket},
            r"output_bucket='someone-elses-bucket': is not one of the platform's",
        ),
        ({"output_prefix": "out"}, r"output_prefix='out': is not a key prefix ending in '/'"),
        ({"output_prefix": "/out/"}, r"output_prefix='/out/'"),
        (
            {"job_timeout_minutes": 0},
            r"job_timeout_minutes=0: is not a whole number of minutes of at least 1",
        ),
        ({"job_timeout_minutes": 1.5}, r"job_timeout_minutes=1.5"),
        ({"job_timeout_minutes": True}, r"job_timeout_minutes=True"),
        ({"max_capacity": 0}, r"max_capacity=0: is not a whole number of DataBrew nodes"),
        ({"max_capacity": "5"}, r"max_capacity='5'"),
    ],
)
def test_bad_props_raise_naming_the_prop(overrides, expected):
    with pytest.raises(EmrPatternsValidationError, match=expected) as caught:
        _build(**overrides)
    assert isinstance(caught.value, ValueError)
    assert "Fix:" in str(caught.value)


def test_every_problem_is_reported_at_once():
    with pytest.raises(EmrPatternsValidationError) as caught:
        _build(recipe=None, input_key="", job_timeout_minutes=-1, max_capacity=0)
    assert len(caught.value.problems) == 4


def test_docs_props_table_lists_every_prop():
    import inspect

    from ..constructs.test_docs import DOCS, _single_props_table

    params = set(inspect.signature(DataBrewPreparation.__init__).parameters) - {"self", "scope", "id"}
    assert (
        _single_props_table(DOCS / "databrew-recipes.md", "## Running a recipe: DataBrewPreparation")
        == params
    )


def test_construct_and_handler_agree_on_properties_and_the_version_attribute(brew):
    from emr_patterns.lambdas.databrew_publish import handler as pub

    props = brew.props(brew.census.published)
    assert set(props) - pub.IGNORED_PROPERTIES <= pub.KNOWN_PROPERTIES
    assert pub.parse_properties({"RecipeName": RECIPE.name, "StepsHash": props["StepsHash"]}) == (
        RECIPE.name,
        None,
    )
    assert brew.props(brew.census.publisher.function)["Handler"] == "handler.on_event"
    # The job reads the attribute on_event returns under Data.
    assert brew.props(brew.census.job)["Recipe"]["Version"]["Fn::GetAtt"][1] == "RecipeVersion"
