"""EmrServiceCatalog and publish_as_product: guardrails and bad input, on small apps."""

from __future__ import annotations

import json
import re

import pytest
from aws_cdk import Stack
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Match, Template
from constructs import Construct

from emr_patterns.errors import EmrPatternsValidationError
from emr_patterns.patterns.catalog import launch_permissions, product_resource_types, publish_as_product
from emr_patterns.stacks.clusters import GravitonSparkClusterStack
from emr_patterns.stacks.self_service import DefaultEmrProductStack

from ._catalog import catalog_app

pytestmark = pytest.mark.cdk


def _messages(err: pytest.ExceptionInfo) -> str:
    return str(err.value)


# ---- bad input ------------------------------------------------------------------------------------
def test_tag_option_with_an_empty_value_is_refused(tmp_path):
    with pytest.raises(EmrPatternsValidationError) as err:
        catalog_app(tmp_path / "out", tmp_path, tag_options={"cost-center": ["analytics", ""]})
    assert "tag_options['cost-center']=''" in _messages(err) and "1-256 characters" in _messages(err)


def test_tag_option_key_without_values_is_refused(tmp_path):
    with pytest.raises(EmrPatternsValidationError, match=r"tag_options\['environment'\]"):
        catalog_app(tmp_path / "out", tmp_path, tag_options={"environment": []})


@pytest.mark.parametrize(
    "account", ["12345", "1111222233334", "11112222333a", "arn:aws:iam::111122223333:root"]
)
def test_portfolio_shared_to_an_account_id_that_is_not_12_digits_is_refused(tmp_path, account):
    with pytest.raises(EmrPatternsValidationError) as err:
        catalog_app(tmp_path / "out", tmp_path, share_with_accounts=["444455556666", account])
    assert f"share_with_accounts={account!r}" in _messages(err) and "12-digit" in _messages(err)


def test_a_product_stack_with_a_docker_asset_is_refused(tmp_path):
    (tmp_path / "image").mkdir()
    (tmp_path / "image" / "Dockerfile").write_text("FROM scratch\n")

    class DockerStack(Stack):
        def __init__(self, scope: Construct, id: str, *, platform, **kwargs) -> None:
            super().__init__(scope, id, **kwargs)
            ecr_assets.DockerImageAsset(self, "Image", directory=str(tmp_path / "image"))

    _, _, catalog = catalog_app(tmp_path / "out", tmp_path)
    with pytest.raises(EmrPatternsValidationError) as err:
        publish_as_product(catalog, DockerStack, id="Docker")
    assert "stack_class='DockerStack'" in _messages(err) and "Docker image asset" in _messages(err)


def test_a_version_name_reused_with_a_changed_template_is_refused(tmp_path):
    snapshots = tmp_path / "snapshots"
    app, _, catalog = catalog_app(tmp_path / "v1", snapshots, lock_current_versions=True)
    catalog.add_product(
        "Default",
        stack_class=DefaultEmrProductStack,
        product_name="Default EMR",
        portfolios=["Engineers"],
        current_version="emr-7.13.0",
        stack_props={"max_cluster_size": 10},
    )
    app.synth()
    written = sorted(p.name for p in snapshots.iterdir())
    assert len(written) == 1 and written[0].endswith(".emr-7.13.0.product.template.json")
    # Same version name, another template (a different size limit): the snapshot is locked.
    app, _, catalog = catalog_app(tmp_path / "v1-changed", snapshots, lock_current_versions=True)
    catalog.add_product(
        "Default",
        stack_class=DefaultEmrProductStack,
        product_name="Default EMR",
        portfolios=["Engineers"],
        current_version="emr-7.13.0",
        stack_props={"max_cluster_size": 5},
    )
    with pytest.raises(RuntimeError, match=r"Template has changed for ProductStack Version emr-7\.13\.0"):
        app.synth()
    # A new version name for the changed template is fine, and the first stays provisionable.
    app, _, catalog = catalog_app(tmp_path / "v2", snapshots, lock_current_versions=True)
    published = catalog.add_product(
        "Default",
        stack_class=DefaultEmrProductStack,
        product_name="Default EMR",
        portfolios=["Engineers"],
        current_version="emr-7.13.0-small",
        previous_versions=["emr-7.13.0"],
        stack_props={"max_cluster_size": 5},
    )
    app.synth()
    product = Template.from_stack(Stack.of(published.product)).find_resources(
        "AWS::ServiceCatalog::CloudFormationProduct"
    )
    (props,) = [r["Properties"] for r in product.values()]
    assert [v["Name"] for v in props["ProvisioningArtifactParameters"]] == ["emr-7.13.0", "emr-7.13.0-small"]


def test_a_previous_version_without_its_snapshot_is_refused(tmp_path):
    _, _, catalog = catalog_app(tmp_path / "out", tmp_path / "empty")
    with pytest.raises(EmrPatternsValidationError) as err:
        catalog.add_product(
            "Default",
            stack_class=DefaultEmrProductStack,
            product_name="Default EMR",
            portfolios=["Engineers"],
            current_version="emr-7.13.0",
            previous_versions=["emr-7.12.0"],
        )
    assert "previous_versions='emr-7.12.0'" in _messages(err) and "current_version='emr-7.12.0'" in _messages(
        err
    )


def test_unknown_portfolio_and_bad_names_are_refused(tmp_path):
    _, _, catalog = catalog_app(tmp_path / "out", tmp_path)
    with pytest.raises(EmrPatternsValidationError) as err:
        catalog.add_product(
            "Default",
            stack_class=DefaultEmrProductStack,
            product_name="x" * 101,
            portfolios=["Analysts"],
            current_version="emr 7.13",
        )
    text = _messages(err)
    assert "portfolios=['Analysts']" in text and "product_name=" in text and "version='emr 7.13'" in text


def test_a_resource_type_without_launch_permissions_is_refused(tmp_path):
    class BucketStack(Stack):
        def __init__(self, scope: Construct, id: str, *, platform, **kwargs) -> None:
            super().__init__(scope, id, **kwargs)
            s3.Bucket(self, "Bucket")

    _, _, catalog = catalog_app(tmp_path / "out", tmp_path)
    with pytest.raises(EmrPatternsValidationError) as err:
        publish_as_product(catalog, BucketStack, id="Bucket")
    assert "resource type='AWS::S3::Bucket'" in _messages(err) and "launch_permissions" in _messages(err)


def test_product_parameter_defaults_outside_the_allowed_values_are_refused(tmp_path):
    _, _, catalog = catalog_app(tmp_path / "out", tmp_path)
    for props, expected in (
        ({"default_compute_type": "GPU"}, "default_compute_type='GPU'"),
        ({"default_cluster_size": 11}, "default_cluster_size=11"),
        ({"default_cluster_size": 0}, "default_cluster_size=0"),
        ({"max_cluster_size": 0}, "max_cluster_size=0"),
    ):
        with pytest.raises(EmrPatternsValidationError) as err:
            catalog.add_product(
                f"P{len(catalog.products)}",
                stack_class=DefaultEmrProductStack,
                product_name="Default EMR",
                portfolios=["Engineers"],
                current_version="v1",
                stack_props=props,
            )
        assert expected in _messages(err), _messages(err)


# ---- publishing a prebuilt stack ------------------------------------------------------------------
@pytest.fixture(scope="module")
def graviton_product(tmp_path_factory):
    """GravitonSparkClusterStack, published as a product."""
    from emr_patterns.gates import nag_findings

    tmp = tmp_path_factory.mktemp("graviton")
    app, stack, catalog = catalog_app(tmp / "out", tmp / "snapshots", tags={"team": "platform"})
    published = publish_as_product(catalog, GravitonSparkClusterStack)
    findings = nag_findings(app)
    product_template = next((tmp / "out").glob("*.product.template.json"))
    return app, stack, catalog, published, findings, json.loads(product_template.read_text())


def test_publish_as_product_turns_a_prebuilt_stack_into_a_product(graviton_product):
    _, stack, catalog, published, findings, template = graviton_product
    assert findings == [], [f"{f.rule_id} {f.construct_path}" for f in findings]
    assert catalog.products["GravitonSparkCluster"] is published
    assert "AWS::EMR::Cluster" in published.resource_types
    assert {r["Type"] for r in template["Resources"].values()} == set(published.resource_types)
    t = Template.from_stack(stack)
    t.has_resource_properties(
        "AWS::ServiceCatalog::CloudFormationProduct",
        {"Name": "GravitonSparkCluster", "Description": Match.string_like_regexp("Graviton")},
    )
    role_id = stack.get_logical_id(published.launch_role.node.default_child)
    t.has_resource_properties("AWS::IAM::Role", {"RoleName": "EmrPatternsLaunchGravitonSparkCluster"})
    # A local launch role: the constraint names the role, so each shared account uses its own.
    t.has_resource_properties(
        "AWS::ServiceCatalog::LaunchRoleConstraint", {"LocalRoleName": {"Ref": role_id}}
    )
    assert not t.find_resources(
        "AWS::ServiceCatalog::LaunchRoleConstraint", {"Properties": {"RoleArn": Match.any_value()}}
    )


def test_tags_reach_every_taggable_resource_of_the_product(graviton_product):
    *_, template = graviton_product
    tagged = 0
    for logical_id, resource in template["Resources"].items():
        tags = resource["Properties"].get("Tags")
        if tags is None:
            continue
        tagged += 1
        keys = {t["Key"] for t in tags} if isinstance(tags, list) else set(tags)
        assert {"team", "emr-patterns:product"} <= keys, (logical_id, keys)
        assert "managed-by" not in keys  # replaced by the catalog's own tags=...
    cluster = next(r for r in template["Resources"].values() if r["Type"] == "AWS::EMR::Cluster")
    assert {"Key": "team", "Value": "platform"} in cluster["Properties"]["Tags"]
    assert tagged >= 5


def test_launch_permissions_follow_the_construct_tree(graviton_product):
    _, _, catalog, published, _, _ = graviton_product
    assert product_resource_types(published.product_stack) == published.resource_types
    statements = launch_permissions(
        catalog, published.resource_types, catalog.platform, [catalog.asset_bucket]
    )
    actions = {a for s in statements for a in s.actions}
    assert "elasticmapreduce:RunJobFlow" in actions and "lambda:CreateFunction" in actions
    assert not any(a == "*" or a.endswith(":*") for a in actions)


def test_sharing_with_an_account_shares_tag_options_and_the_product_assets(tmp_path):
    _, stack, catalog = catalog_app(tmp_path / "out", tmp_path, share_with_accounts=["444455556666"])
    catalog.add_product(
        "Default",
        stack_class=DefaultEmrProductStack,
        product_name="Default EMR",
        portfolios=["Engineers"],
        current_version="emr-7.13.0",
    )
    t = Template.from_stack(stack)
    t.has_resource_properties(
        "AWS::ServiceCatalog::PortfolioShare", {"AccountId": "444455556666", "ShareTagOptions": True}
    )
    # The shared account reads the product assets: bucket policy and key policy name it.
    bucket_policies = t.find_resources("AWS::S3::BucketPolicy")
    asset_policy = next(
        p["Properties"]["PolicyDocument"]
        for p in bucket_policies.values()
        if p["Properties"]["Bucket"] == {"Ref": stack.get_logical_id(catalog.asset_bucket.node.default_child)}
    )
    readers = [s for s in asset_policy["Statement"] if "444455556666" in json.dumps(s.get("Principal", {}))]
    assert readers and all(s["Effect"] == "Allow" for s in readers)
    assert any("s3:GetObject" in json.dumps(s["Action"]) for s in readers)
    key = t.find_resources("AWS::KMS::Key")[stack.get_logical_id(catalog.asset_key.node.default_child)]
    assert "444455556666" in json.dumps(key["Properties"]["KeyPolicy"])


def test_portfolios_are_associated_with_groups_users_and_roles(tmp_path):
    from aws_cdk import aws_iam as iam

    from emr_patterns.patterns.catalog import EmrServiceCatalog, PortfolioSpec

    _, stack, catalog = catalog_app(tmp_path / "out", tmp_path)
    group = iam.Group.from_group_name(stack, "Engineers", "data-engineers")
    user = iam.User.from_user_name(stack, "Analyst", "ana")
    role = iam.Role.from_role_name(stack, "Scientists", "data-scientists")
    EmrServiceCatalog(
        stack,
        "Second",
        platform=catalog.platform,
        portfolios=[PortfolioSpec("Mixed", "Mixed personas", principals=[group, user, role])],
        snapshot_directory=str(tmp_path),
    )
    arns = [
        json.dumps(r["Properties"]["PrincipalARN"])
        for r in Template.from_stack(stack)
        .find_resources("AWS::ServiceCatalog::PortfolioPrincipalAssociation")
        .values()
    ]
    assert sorted(re.search(r"(group|user|role)/[a-z-]+", a).group(0) for a in arns) == [
        "group/data-engineers",
        "role/data-scientists",
        "user/ana",
    ]
