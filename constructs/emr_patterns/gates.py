"""Quality gates over a CDK app and its cloud assembly: cdk-nag, cfn-lint and checkov.

``python -m emr_patterns.gates cdk.out --checkov PATH`` runs cfn-lint (failing on warnings) and
checkov (``--framework cloudformation``, failing on any failed check) over every stack template in
a synthesized cloud assembly and every Service Catalog product template (``*.product.template.json``
in the assembly, and the committed version snapshots in ``--snapshots``), and prints one line per
template: resources, acknowledged nag findings, and each gate's status. cdk-nag itself runs as
validation plugins during synthesis (``app_factory.add_nag_plugins``); cdk-nag 3 walks product
stacks too, so a current product template that reaches this step passed it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "NagFinding",
    "StackTemplate",
    "acknowledged_rules",
    "load_product_templates",
    "load_registry",
    "load_stack_templates",
    "nag_findings",
    "run_cfn_lint",
    "run_checkov",
]


@dataclass(frozen=True)
class NagFinding:
    """One unacknowledged cdk-nag finding."""

    rule_id: str
    construct_path: str
    severity: str
    description: str


@dataclass
class StackTemplate:
    """A synthesized stack in a cloud assembly."""

    name: str
    template_path: Path
    template: dict[str, Any] = field(repr=False)

    @property
    def resources(self) -> dict[str, Any]:
        """Logical id -> resource."""
        return self.template.get("Resources", {})


def nag_findings(scope: Any, packs: list[Any] | None = None) -> list[NagFinding]:
    """Unacknowledged findings of the packs over ``scope`` (the same walk the plugins do).

    The app is synthesized first (once; aws-cdk caches the assembly), as the plugins see it:
    cross-stack references are imports by then, and the acknowledgements of such resources
    are made (:func:`emr_patterns.nag.acknowledge_resource`).
    """
    from aws_cdk import Stage

    from emr_patterns.app_factory import nag_packs

    root = scope.node.root
    if Stage.is_stage(root):
        root.synth()

    findings: list[NagFinding] = []
    for pack in packs if packs is not None else nag_packs(scope):
        report = pack.validate_scope(scope)
        for violation in report.violations:
            for resource in violation.violating_resources:
                findings.append(
                    NagFinding(
                        violation.rule_name,
                        resource.construct_path,
                        violation.severity,
                        violation.description,
                    )
                )
    return findings


def acknowledged_rules(scope: Any) -> list[tuple[str, str, str]]:
    """(construct path, rule id, reason) of every cdk-nag acknowledgement under ``scope``.

    Only rules of the three packs count; aws-cdk's own ``CloudFormation-Validate`` notes are not
    ours to review.
    """
    from aws_cdk import Validations

    from emr_patterns.nag import NAG_PACK_PREFIXES

    out: list[tuple[str, str, str]] = []
    for node in scope.node.find_all():
        for entry in node.node.metadata:
            if entry.type != Validations.ACKNOWLEDGED_RULES_METADATA_KEY or not entry.data:
                continue
            for rule_id, reason in entry.data.items():
                if rule_id.lower().startswith("annotation::"):
                    rule_id = rule_id.split("::", 1)[1]
                if rule_id.startswith(NAG_PACK_PREFIXES):
                    out.append((node.node.path, rule_id, reason))
    return out


def load_stack_templates(assembly_dir: Path) -> list[StackTemplate]:
    """Every CloudFormation stack in a cloud assembly, in manifest order."""
    manifest = json.loads((assembly_dir / "manifest.json").read_text())
    stacks = []
    for name, artifact in manifest.get("artifacts", {}).items():
        if artifact.get("type") != "aws:cloudformation:stack":
            continue
        path = assembly_dir / artifact["properties"]["templateFile"]
        stacks.append(StackTemplate(name, path, json.loads(path.read_text())))
    return stacks


PRODUCT_TEMPLATE_SUFFIX = ".product.template.json"


def load_product_templates(*directories: Path) -> list[StackTemplate]:
    """Every Service Catalog product template (``*.product.template.json``) in ``directories``:
    a cloud assembly (the current versions, written by ``ProductStack``) or a
    ``ProductStackHistory`` snapshot directory (every version), sorted by file name."""
    found = []
    for directory in directories:
        if not directory.is_dir():
            continue
        for path in sorted(directory.glob(f"*{PRODUCT_TEMPLATE_SUFFIX}")):
            name = path.name.removesuffix(PRODUCT_TEMPLATE_SUFFIX)
            found.append(StackTemplate(name, path, json.loads(path.read_text())))
    return found


def run_cfn_lint(paths: list[Path]) -> tuple[bool, str]:
    """cfn-lint at warning level over ``paths``. Returns (passed, output)."""
    cmd = [
        str(Path(sys.executable).parent / "cfn-lint"),
        "--non-zero-exit-code",
        "warning",
        "--",
        *map(str, paths),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    return proc.returncode == 0, (proc.stdout + proc.stderr).strip()


def run_checkov(checkov: str, paths: list[Path]) -> tuple[bool, dict[str, list[dict[str, Any]]]]:
    """checkov (CloudFormation framework) over ``paths``. Returns (passed, failed checks per file)."""
    failed: dict[str, list[dict[str, Any]]] = {}
    ok = True
    for path in paths:
        cmd = [
            checkov,
            "--framework",
            "cloudformation",
            "--quiet",
            "--compact",
            "-o",
            "json",
            "-f",
            str(path),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode not in (0, 1):
            raise RuntimeError(f"checkov failed to run on {path}: {proc.stderr.strip()[-2000:]}")
        data = json.loads(proc.stdout) if proc.stdout.strip() else {}
        results = data.get("results", {}) if isinstance(data, dict) else {}
        checks = [
            {"id": c["check_id"], "resource": c["resource"], "name": c.get("check_name", "")}
            for c in results.get("failed_checks", [])
        ]
        failed[str(path)] = checks
        ok = ok and proc.returncode == 0 and not checks
    return ok, failed


def load_registry(path: Path) -> list[dict[str, str]]:
    """Entries (path, rule, reason) of the reviewed acknowledgement registry (TOML)."""
    import tomllib

    return list(tomllib.loads(path.read_text()).get("acknowledgement", []))


_REGISTRY_HEADER = """\
# Reviewed registry of every cdk-nag acknowledgement in the prebuilt stacks.
# tests/gates/test_nag.py fails when this file and the code disagree; `make nag-registry`
# rewrites it from the code, so review the diff: each entry names the construct it sits on, the
# rule (granular where the pack reports one), and the reason, which must state the compensating
# control or why the rule does not apply.
"""


def render_registry(entries: list[tuple[str, str, str]]) -> str:
    """The registry TOML for (construct path, rule id, reason) entries, sorted."""

    def quoted(text: str) -> str:
        return json.dumps(text, ensure_ascii=False)

    blocks = [
        f"[[acknowledgement]]\npath = {quoted(p)}\nrule = {quoted(r)}\nreason = {quoted(why)}\n"
        for p, r, why in sorted(set(entries))
    ]
    return _REGISTRY_HEADER + "\n" + "\n".join(blocks)


def write_diagrams(docs: Path) -> list[Path]:
    """Redraw every marked state-machine diagram in ``docs/*.md`` from the prebuilt app's
    synthesized templates (``make diagrams``); returns the pages that changed."""
    from aws_cdk import App

    from emr_patterns.app_factory import build_app
    from emr_patterns.orchestration.diagram import update_diagrams

    cdk_json = Path("cdk.json")
    context = json.loads(cdk_json.read_text())["context"] if cdk_json.exists() else {}
    with tempfile.TemporaryDirectory() as outdir:
        assembly = build_app(App(context=context, outdir=outdir), with_nag=False).synth()
        templates = {stack.stack_name: stack.template for stack in assembly.stacks}
    changed = []
    for page in sorted(docs.glob("*.md")):
        text = page.read_text()
        updated = update_diagrams(text, templates)
        if updated != text:
            page.write_text(updated)
            changed.append(page)
    return changed


def write_registry(path: Path) -> int:
    """Rewrite the registry from the acknowledgements the prebuilt app makes; returns the count."""
    from aws_cdk import App

    from emr_patterns.app_factory import build_app

    cdk_json = Path("cdk.json")
    context = json.loads(cdk_json.read_text())["context"] if cdk_json.exists() else {}
    with tempfile.TemporaryDirectory() as outdir:
        app = build_app(App(context=context, outdir=outdir), with_nag=False)
        # Acknowledgements of cross-stack resources are made at synthesis (emr_patterns.nag).
        app.synth()
        entries = acknowledged_rules(app)
    path.write_text(render_registry(entries))
    return len(set(entries))


def _nag_status(template: StackTemplate, assembly: Path) -> str:
    """``pass`` for what the synthesis checked (stacks and current product versions), ``snapshot``
    for an earlier product version read from its committed snapshot (checked when it was current)."""
    return "pass" if template.template_path.parent.resolve() == assembly.resolve() else "snapshot"


def main(argv: list[str] | None = None) -> int:
    """Run cfn-lint and checkov over a cloud assembly and print one line per stack."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assembly", type=Path, help="cloud assembly directory (cdk.out)")
    parser.add_argument("--checkov", required=True, help="path of the checkov executable")
    parser.add_argument(
        "--registry",
        type=Path,
        default=Path("docs/nag-acknowledgements.toml"),
        help="reviewed registry of cdk-nag acknowledgements",
    )
    parser.add_argument(
        "--snapshots",
        type=Path,
        default=Path("product-stack-snapshots"),
        help="Service Catalog product version snapshots (ProductStackHistory) to check too",
    )
    args = parser.parse_args(argv)
    stacks = load_stack_templates(args.assembly)
    if not stacks:
        print(f"no stacks in {args.assembly}", file=sys.stderr)
        return 1
    products = load_product_templates(args.assembly, args.snapshots)
    registry = load_registry(args.registry) if args.registry.exists() else []
    failed = False
    for stack in [*stacks, *products]:
        acknowledged = sum(1 for entry in registry if entry["path"].split("/", 1)[0] == stack.name)
        lint_ok, lint_out = run_cfn_lint([stack.template_path])
        checkov_ok, checkov_failed = run_checkov(args.checkov, [stack.template_path])
        failed = failed or not (lint_ok and checkov_ok)
        print(
            f"{stack.name:<28} resources={len(stack.resources):<4} "
            f"acknowledged={acknowledged:<3} cdk-nag={_nag_status(stack, args.assembly)} "
            f"cfn-lint={'pass' if lint_ok else 'FAIL'} checkov={'pass' if checkov_ok else 'FAIL'}"
        )
        if not lint_ok:
            print(lint_out)
        for path, checks in checkov_failed.items():
            for check in checks:
                print(f"  checkov {check['id']} {check['resource']} ({check['name']}) in {path}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
