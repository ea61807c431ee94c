"""SelfServiceCatalogStack: the seed's portfolios and products, their parameters and launch roles."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from emr_patterns.errors import EmrPatternsValidationError
from emr_patterns.gates import load_product_templates
from emr_patterns.spec import ClusterSpec, InstanceGroupSpec, ManagedScalingSpec, NodeRole
from emr_patterns.spec.self_service import (
    COMPUTE_TYPES,
    JOB_TYPES,
    PRIMARY_INSTANCE_TYPE,
    artifacts_accepted,
    job_step_args,
)
from emr_patterns.stacks.self_service import CATALOG_RELEASES, PERSONAS, PRODUCTS

pytestmark = pytest.mark.cdk
#: CloudWatch Logs vended delivery (Step Functions logging): the API has no resource-level permissions.
LOG_DELIVERY = {"logs:CreateLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery"}

REPO = Path(__file__).resolve().parents[2]
SNAPSHOTS = REPO / "product-stack-snapshots"
STACK = "SelfServiceCatalogStack"


@pytest.fixture(scope="module")
def catalog(synthesized):
    return synthesized.stacks[STACK]


@pytest.fixture(scope="module")
def products(synthesized, catalog):
    """Product id -> current product template (from the assembly)."""
    by_file = {p.template_path.name: p.template for p in load_product_templates(synthesized.assembly_dir)}
    return {
        product_id: by_file[f"{published.product_stack.artifact_id}.product.template.json"]
        for product_id, published in catalog.products.items()
    }


def _resources(template, type_):
    return [r for r in template["Resources"].values() if r["Type"] == type_]


# ---- the spec layer is the one source of truth for the parameters ---------------------------------
def _spec_accepts(**kwargs) -> bool:
    """Whether the spec (not the product helpers) accepts a self-service cluster with these values."""
    groups = (
        InstanceGroupSpec(NodeRole.PRIMARY, PRIMARY_INSTANCE_TYPE, 1),
        InstanceGroupSpec(NodeRole.CORE, kwargs["core_type"], kwargs.get("size", 2)),
    )
    scaling = None
    if "max_units" in kwargs:
        scaling = ManagedScalingSpec(min_units=kwargs.get("size", 2), max_units=kwargs["max_units"])
    ClusterSpec(
        name=kwargs.get("name", "probe"),
        release_label=kwargs["release"],
        applications=kwargs.get("applications", ("Hadoop", "Spark")),
        instance_groups=groups,
        managed_scaling=scaling,
        idle_timeout_seconds=3600,
    )
    return True


def _accepts(**kwargs) -> bool:
    try:
        return _spec_accepts(**kwargs)
    except EmrPatternsValidationError:
        return False


def test_compute_types_are_what_the_spec_accepts_on_every_release(products):
    candidates = {**COMPUTE_TYPES, "Burstable": "t3.2xlarge", "Made-up": "zz9.huge"}
    for product_id in ("DefaultEmr", "EtlEngine"):
        parameter = products[product_id]["Parameters"]["ComputeType"]
        accepted = [
            kind
            for kind, core_type in candidates.items()
            if all(
                _accepts(core_type=core_type, release=r, applications=("Hadoop", "Spark", "Hive"))
                for r in CATALOG_RELEASES
            )
        ]
        assert parameter["AllowedValues"] == accepted
        mapping = products[product_id]["Mappings"]["ComputeTypes"]
        assert {k: v["CoreInstanceType"] for k, v in mapping.items()} == {
            k: COMPUTE_TYPES[k] for k in accepted
        }


def test_cluster_size_limits_are_what_the_spec_accepts(products):
    for product_id in ("DefaultEmr", "EtlEngine"):
        parameter = products[product_id]["Parameters"]["ClusterSize"]
        for size in range(0, 16):
            in_range = parameter["MinValue"] <= size <= parameter["MaxValue"]
            spec_ok = _accepts(core_type="c7g.2xlarge", release=CATALOG_RELEASES[-1], size=size)
            # The spec's lower bound, the administrator's upper bound (max_cluster_size=10).
            assert in_range == (spec_ok and size <= 10), (product_id, size)


def test_maximum_capacity_limits_are_what_the_spec_accepts(products):
    parameter = products["HiveAutoScaling"]["Parameters"]["MaximumCapacity"]
    for units in range(0, 25):
        in_range = parameter["MinValue"] <= units <= parameter["MaxValue"]
        spec_ok = _accepts(core_type="c7g.2xlarge", release=CATALOG_RELEASES[-1], size=2, max_units=units)
        assert in_range == (spec_ok and units <= 20), units


def test_cluster_name_lengths_are_what_the_spec_accepts(products):
    for template in products.values():
        parameter = template["Parameters"]["ClusterName"]
        for length in (0, 1, 2, 255, 256, 257):
            in_range = parameter["MinLength"] <= length <= parameter["MaxLength"]
            assert in_range == _accepts(
                core_type="c7g.2xlarge", release=CATALOG_RELEASES[-1], name="n" * length
            )


def test_job_parameters_are_what_the_step_classes_accept(products):
    template = products["EtlEngine"]
    assert template["Parameters"]["JobType"]["AllowedValues"] == list(JOB_TYPES)
    pattern = template["Parameters"]["JobArtifacts"]["AllowedPattern"]
    for value in (
        "s3://bucket/job.py",
        "s3://bucket/scripts/spark_converter.py s3://in/toys.tsv.gz s3://out/spark/",
        "s3://bucket/hive_converter.sql -d INPUT=s3://in/ -d OUTPUT=s3://out/hive/",
        "s3://",
        "https://bucket/job.py",
        "/local/job.py",
        "s3://bucket/job.py  two-spaces",
        " s3://bucket/job.py",
        "s3://bucket/job.py\targ",
        "",
    ):
        # CloudFormation matches the whole value; the Hive step (any s3:// script) is the wider one.
        assert bool(re.fullmatch(pattern, value)) == artifacts_accepted("Hive", value), value
    # The step's fixed arguments are the ones the spec's step classes render.
    (step,) = _resources(template, "AWS::EMR::Step")
    branches = step["Properties"]["HadoopJarStep"]["Args"]["Fn::If"][1:]
    for kind, branch in zip(JOB_TYPES, branches, strict=True):
        head = branch["Fn::Split"][1]["Fn::Join"][1][0]
        assert head == " ".join(job_step_args(kind))
    assert step["Properties"]["HadoopJarStep"]["Jar"] == "command-runner.jar"


# ---- portfolios, versions, constraints -------------------------------------------------------------
def test_two_portfolios_with_principals_tag_options_and_their_products(synthesized, catalog):
    t = synthesized.template_json(STACK)
    resources = t["Resources"]
    portfolios = {k: r for k, r in resources.items() if r["Type"] == "AWS::ServiceCatalog::Portfolio"}
    assert sorted(r["Properties"]["DisplayName"] for r in portfolios.values()) == sorted(
        d for d, _ in PERSONAS.values()
    )
    principals = [
        r for r in resources.values() if r["Type"] == "AWS::ServiceCatalog::PortfolioPrincipalAssociation"
    ]
    assert len(principals) == 2 and all(p["Properties"]["PrincipalType"] == "IAM" for p in principals)
    associations = [
        r for r in resources.values() if r["Type"] == "AWS::ServiceCatalog::PortfolioProductAssociation"
    ]
    assert len(associations) == sum(len(p[2]) for p in PRODUCTS.values()) == 4
    options = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::ServiceCatalog::TagOption"]
    assert {(o["Key"], o["Value"]) for o in options} >= {
        ("environment", "prod"),
        ("cost-center", "analytics"),
    }
    tag_option_links = [
        r for r in resources.values() if r["Type"] == "AWS::ServiceCatalog::TagOptionAssociation"
    ]
    assert len(tag_option_links) == len(options) * (len(portfolios) + len(PRODUCTS))
    updates = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::ServiceCatalog::ResourceUpdateConstraint"
    ]
    assert len(updates) == 4 and {u["TagUpdateOnProvisionedProduct"] for u in updates} == {"ALLOWED"}
    launch = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::ServiceCatalog::LaunchRoleConstraint"
    ]
    assert len(launch) == 4 and all("LocalRoleName" in c and "RoleArn" not in c for c in launch)


def test_each_product_offers_two_emr_releases_side_by_side(synthesized, catalog):
    resources = synthesized.template_json(STACK)["Resources"]
    products = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::ServiceCatalog::CloudFormationProduct"
    ]
    assert sorted(p["Name"] for p in products) == sorted(p[1] for p in PRODUCTS.values())
    for product in products:
        assert [v["Name"] for v in product["ProvisioningArtifactParameters"]] == list(CATALOG_RELEASES)
    for product_id, published in catalog.products.items():
        for release in CATALOG_RELEASES:
            snapshot = catalog.catalog.snapshot_path(published.history, published.product_stack, release)
            assert snapshot.is_file(), f"commit {snapshot}"
            template = json.loads(
                (REPO / snapshot).read_text() if not snapshot.is_absolute() else snapshot.read_text()
            )
            (cluster,) = _resources(template, "AWS::EMR::Cluster")
            assert cluster["Properties"]["ReleaseLabel"] == release, (product_id, release)


def test_the_committed_current_snapshot_is_the_synthesized_template(products, catalog):
    for product_id, published in catalog.products.items():
        snapshot = catalog.catalog.snapshot_path(
            published.history, published.product_stack, CATALOG_RELEASES[-1]
        )
        assert json.loads(snapshot.read_text()) == products[product_id], (
            f"{snapshot.name} is stale: commit it"
        )


def test_products_run_on_the_shared_platform_through_exports(synthesized, products):
    outputs = synthesized.template_json("PlatformBaseStack")["Outputs"]
    exported = {o["Export"]["Name"] for o in outputs.values() if "Export" in o}
    for product_id, template in products.items():
        imports = set(re.findall(r'"Fn::ImportValue": "([^"]+)"', json.dumps(template)))
        assert imports and imports <= exported, product_id
        assert not _resources(template, "AWS::EC2::VPC"), "a product must not build its own network"
        (cluster,) = _resources(template, "AWS::EMR::Cluster")
        assert cluster["Properties"]["JobFlowRole"] == {
            "Fn::ImportValue": "PlatformBaseStack-InstanceProfileArn"
        }


def test_hive_product_scales_with_managed_scaling(products):
    (cluster,) = _resources(products["HiveAutoScaling"], "AWS::EMR::Cluster")
    limits = cluster["Properties"]["ManagedScalingPolicy"]["ComputeLimits"]
    assert (
        limits["MaximumCapacityUnits"] == {"Ref": "MaximumCapacity"} and limits["MinimumCapacityUnits"] == 2
    )
    assert {a["Name"] for a in cluster["Properties"]["Applications"]} == {"Hadoop", "Hive", "Hue"}


def test_every_resource_a_product_creates_is_tagged(products):
    for product_id, template in products.items():
        for logical_id, resource in template["Resources"].items():
            tags = resource.get("Properties", {}).get("Tags")
            if tags is None:
                continue
            keys = {t["Key"]: t["Value"] for t in tags} if isinstance(tags, list) else dict(tags)
            assert keys.get("managed-by") == "cdk-emr-patterns", (product_id, logical_id)
            assert keys.get("emr-patterns:product") == product_id, (product_id, logical_id)


def test_the_asset_bucket_is_encrypted_versioned_and_named(synthesized, catalog):
    resources = synthesized.template_json(STACK)["Resources"]
    bucket = resources[catalog.get_logical_id(catalog.catalog.asset_bucket.node.default_child)]["Properties"]
    assert bucket["BucketName"].startswith("emr-patterns-sc-assets-")
    rule = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert rule["SSEAlgorithm"] == "aws:kms" and "KMSMasterKeyID" in rule
    assert bucket["VersioningConfiguration"]["Status"] == "Enabled"
    assert "LoggingConfiguration" in bucket


# ---- launch roles: everything the template needs, nothing broader ---------------------------------
#: Resource type -> an action that creating it needs (independent of the library's table).
CREATE_ACTION = {
    "AWS::EMR::Cluster": "elasticmapreduce:RunJobFlow",
    "AWS::EMR::Step": "elasticmapreduce:AddJobFlowSteps",
    "AWS::EC2::SecurityGroup": "ec2:CreateSecurityGroup",
    "AWS::EC2::SecurityGroupIngress": "ec2:AuthorizeSecurityGroupIngress",
    "AWS::EC2::SecurityGroupEgress": "ec2:AuthorizeSecurityGroupEgress",
    "AWS::IAM::Role": "iam:CreateRole",
    "AWS::IAM::ManagedPolicy": "iam:CreatePolicy",
    "AWS::Lambda::Function": "lambda:CreateFunction",
    "AWS::Logs::LogGroup": "logs:CreateLogGroup",
    "AWS::StepFunctions::StateMachine": "states:CreateStateMachine",
}


def _launch_policy(synthesized, catalog, product_id):
    resources = synthesized.template_json(STACK)["Resources"]
    published = catalog.products[product_id]
    return resources[catalog.get_logical_id(published.launch_policy.node.default_child)]["Properties"]


def test_launch_role_covers_every_resource_type_in_the_product_template(synthesized, catalog, products):
    for product_id, template in products.items():
        document = _launch_policy(synthesized, catalog, product_id)["PolicyDocument"]
        actions = {
            a
            for s in document["Statement"]
            for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
        }
        types = {r["Type"] for r in template["Resources"].values()}
        for type_ in types:
            needed = "lambda:InvokeFunction" if type_.startswith("Custom::") else CREATE_ACTION[type_]
            assert needed in actions, (product_id, type_)
        assert {"cloudformation:CreateStack", "cloudformation:DeleteStack", "s3:GetObject"} <= actions
        assert types == set(catalog.products[product_id].resource_types)


def test_launch_role_is_never_admin(synthesized, catalog):
    for product_id in catalog.products:
        document = _launch_policy(synthesized, catalog, product_id)["PolicyDocument"]
        for statement in document["Statement"]:
            assert statement["Effect"] == "Allow"
            actions = [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
            assert not any(a in ("*", "*:*") or a.endswith(":*") for a in actions), (product_id, statement)
            resources = (
                statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            )
            if "*" in resources:
                # Unscoped only where the API has no resource-level permissions: reads, or a condition.
                assert all(
                    re.match(r"^[a-z0-9-]+:(Describe|Get|List|Validate)", a) or a in LOG_DELIVERY
                    for a in actions
                ) or ("Condition" in statement), (product_id, statement)
            if "iam:PassRole" in actions:
                assert "iam:PassedToService" in json.dumps(statement.get("Condition", {})), statement
        roles = synthesized.template_json(STACK)["Resources"]
        role = roles[catalog.get_logical_id(catalog.products[product_id].launch_role.node.default_child)]
        assert role["Properties"]["RoleName"] == f"EmrPatternsLaunch{product_id}"
        assert "ManagedPolicyArns" not in role["Properties"] or all(
            "AdministratorAccess" not in json.dumps(p) for p in role["Properties"]["ManagedPolicyArns"]
        )
        principal = role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]
        assert principal == {"Service": "servicecatalog.amazonaws.com"}


def test_stateful_resources_keep_their_logical_ids(synthesized):
    """Renaming these would replace the asset bucket (and with it earlier versions' assets)."""
    resources = synthesized.template_json(STACK)["Resources"]
    stateful = sorted(k for k, r in resources.items() if r["Type"] in ("AWS::S3::Bucket", "AWS::KMS::Key"))
    assert stateful == [
        "CatalogAssetAccessLogs4C00FA41",
        "CatalogAssetBucket798B9941",
        "CatalogAssetKeyA3479364",
    ]
