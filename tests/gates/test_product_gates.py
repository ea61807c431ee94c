"""The gates check Service Catalog product templates, not only stacks: an insecure product fails."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from emr_patterns.gates import load_product_templates, main, nag_findings, run_cfn_lint, run_checkov
from emr_patterns.patterns.catalog import publish_as_product

from ..patterns._catalog import catalog_app

pytestmark = pytest.mark.cdk

REPO = Path(__file__).resolve().parents[2]
CHECKOV = REPO / ".tools" / "checkov" / "bin" / "checkov"


class OpenSshProductStack(Stack):
    """A deliberately insecure product: SSH open to the internet in the platform VPC."""

    def __init__(self, scope: Construct, id: str, *, platform, **kwargs) -> None:
        super().__init__(scope, id, **kwargs)
        ec2.CfnSecurityGroup(
            self,
            "OpenSsh",
            group_description="SSH from anywhere",
            vpc_id=platform.vpc.vpc_id,
            security_group_ingress=[
                ec2.CfnSecurityGroup.IngressProperty(
                    ip_protocol="tcp", from_port=22, to_port=22, cidr_ip="0.0.0.0/0"
                )
            ],
        )


@pytest.fixture(scope="module")
def insecure(tmp_path_factory):
    outdir = tmp_path_factory.mktemp("insecure.out")
    app, _, catalog = catalog_app(outdir, tmp_path_factory.mktemp("snapshots"))
    publish_as_product(catalog, OpenSshProductStack, id="OpenSsh")
    findings = nag_findings(app)  # synthesizes the app too
    return outdir, findings


def test_nag_flags_the_insecure_product_resource(insecure):
    _, findings = insecure
    at = {f.rule_id for f in findings if f.construct_path == "Catalog/Catalog/OpenSshStack/OpenSsh"}
    assert "AwsSolutions-EC23" in at, sorted(at)
    assert "HIPAA.Security-EC2RestrictedSSH" in at and "NIST.800.53.R5-EC2RestrictedSSH" in at
    # Nothing else in the catalog is flagged: the finding is the product's, not noise.
    assert {f.construct_path for f in findings} == {"Catalog/Catalog/OpenSshStack/OpenSsh"}


def test_the_product_template_is_found_and_linted(insecure):
    outdir, _ = insecure
    products = load_product_templates(outdir)
    assert len(products) == 1 and products[0].name.startswith("CatalogOpenSshStack")
    assert {r["Type"] for r in products[0].resources.values()} == {"AWS::EC2::SecurityGroup"}
    ok, output = run_cfn_lint([p.template_path for p in products])
    assert ok, output


@pytest.mark.skipif(not CHECKOV.exists() and not shutil.which("checkov"), reason="run `make install` first")
def test_checkov_and_the_gates_command_fail_on_the_insecure_product(insecure, capsys, tmp_path):
    outdir, _ = insecure
    checkov = str(CHECKOV) if CHECKOV.exists() else shutil.which("checkov")
    products = load_product_templates(outdir)
    ok, failed = run_checkov(checkov, [p.template_path for p in products])
    ids = {c["id"] for checks in failed.values() for c in checks}
    assert not ok and "CKV_AWS_24" in ids, failed
    # The command `make synth` runs: the stack template passes, the product fails the run.
    code = main(
        [
            str(outdir),
            "--checkov",
            checkov,
            "--snapshots",
            str(tmp_path),
            "--registry",
            str(tmp_path / "none"),
        ]
    )
    printed = capsys.readouterr().out
    assert code == 1
    assert "checkov CKV_AWS_24" in printed and ".product.template.json" in printed
    stack_line = next(line for line in printed.splitlines() if line.startswith("Catalog "))
    assert "checkov=pass" in stack_line
