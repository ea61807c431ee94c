"""cfn-lint and checkov over every synthesized prebuilt stack and every Service Catalog product
template (the current versions in the assembly and every committed version snapshot)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from emr_patterns.app_factory import PREBUILT_STACKS
from emr_patterns.gates import load_product_templates, run_cfn_lint, run_checkov

pytestmark = pytest.mark.cdk

REPO = Path(__file__).resolve().parents[2]
CHECKOV = REPO / ".tools" / "checkov" / "bin" / "checkov"
SNAPSHOTS = REPO / "product-stack-snapshots"


def _products(synthesized):
    return load_product_templates(synthesized.assembly_dir, SNAPSHOTS)


def _templates(synthesized) -> list[Path]:
    stacks = [synthesized.assembly_dir / f"{stack_id}.template.json" for stack_id in sorted(PREBUILT_STACKS)]
    return stacks + [p.template_path for p in _products(synthesized)]


def _resources(synthesized):
    for stack_id in PREBUILT_STACKS:
        yield from synthesized.template_json(stack_id)["Resources"].items()
    for product in _products(synthesized):
        yield from product.resources.items()


def test_product_templates_are_gated(synthesized):
    """Three products in the assembly, each with two versions (two EMR releases) in the snapshots."""
    products = _products(synthesized)
    current = [p for p in products if p.template_path.parent == synthesized.assembly_dir]
    snapshots = [p for p in products if p.template_path.parent == SNAPSHOTS]
    assert len(current) == 3 and len(snapshots) == 6
    assert {p.template_path for p in products} <= set(_templates(synthesized))


def test_cfn_lint_clean_at_warning_level(synthesized):
    ok, output = run_cfn_lint(_templates(synthesized))
    assert ok, output


def test_cfn_lint_ignores_are_rare_and_targeted(synthesized):
    for logical_id, resource in _resources(synthesized):
        ignored = resource.get("Metadata", {}).get("cfn-lint", {}).get("config", {}).get("ignore_checks", [])
        assert set(ignored) <= {"W3005"}, f"{logical_id} ignores {ignored}"


@pytest.mark.skipif(not CHECKOV.exists() and not shutil.which("checkov"), reason="run `make install` first")
def test_checkov_zero_failures(synthesized):
    checkov = str(CHECKOV) if CHECKOV.exists() else shutil.which("checkov")
    ok, failed = run_checkov(checkov, _templates(synthesized))
    assert ok, failed


def test_checkov_skips_carry_a_justification(synthesized):
    for logical_id, resource in _resources(synthesized):
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            assert skip.get("id", "").startswith("CKV"), (logical_id, skip)
            assert len(skip.get("comment", "")) >= 30, f"{logical_id}: {skip['id']} skipped without a reason"


def test_earlier_product_versions_raise_no_rule_the_current_version_does_not_acknowledge(synthesized):
    """cdk-nag over each committed snapshot (loaded with ``CfnInclude``, as cdk-nag's README shows
    for templates that are not CDK): no rule fires that the current version of the same product
    does not acknowledge with a reason. Acknowledgements are construct metadata and do not travel
    with a template, so the acknowledged rules themselves do fire here."""
    from aws_cdk import App, Stack
    from aws_cdk import cloudformation_include as cfn_inc

    from emr_patterns.gates import acknowledged_rules, nag_findings

    catalog = synthesized.stacks["SelfServiceCatalogStack"]
    acknowledged = acknowledged_rules(synthesized.app)
    checked = 0
    for published in catalog.products.values():
        prefix = published.product_stack.node.path + "/"
        allowed = {rule.split("[", 1)[0] for path, rule, _ in acknowledged if path.startswith(prefix)}
        versions = SNAPSHOTS.glob(f"*.{published.product_stack.artifact_id}.*.product.template.json")
        for snapshot in sorted(versions):
            app = App()
            stack = Stack(app, "Snapshot")
            cfn_inc.CfnInclude(stack, "Template", template_file=str(snapshot))
            fired = {f.rule_id.split("[", 1)[0] for f in nag_findings(app)}
            assert "AwsSolutions-EMR6" in fired, "the packs did not look at the included template"
            assert fired <= allowed, (snapshot.name, sorted(fired - allowed))
            checked += 1
    assert checked == 6
