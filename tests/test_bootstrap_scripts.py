"""The shell scripts we ship to clusters: every one shellcheck-clean, and the install-file bootstrap
action (HiveCluster places the Amazon RDS CA bundle with it) run in a sandbox with the real AWS
CLI pointed at moto_server.

``sudo`` is a named stand-in on PATH: the test runs unprivileged, so it runs the command as the
test's user, after recording it, into a destination under the test's folder.
"""

from __future__ import annotations

import os
import platform
import shutil
import stat
import subprocess
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests import services

SCRIPTS = sorted((services.REPO / "jobs").rglob("*.sh"))
INSTALL_FILE = services.REPO / "jobs" / "install-file-bootstrap.sh"
REGION = "us-east-1"

FAKE_SUDO = textwrap.dedent(
    """\
    #!/bin/bash
    # Stand-in for sudo (the test is unprivileged): record the command, then run it as is.
    printf '%s\\n' "$*" >> "$SUDO_RECORD"
    exec "$@"
    """
)


def test_every_shipped_script_is_found() -> None:
    assert INSTALL_FILE in SCRIPTS and len(SCRIPTS) >= 3


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: str(p.relative_to(services.REPO)))
def test_shellcheck_clean(script: Path) -> None:
    shellcheck = services.which("shellcheck")
    done = subprocess.run([shellcheck, str(script)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout


@pytest.fixture
def sandbox(tmp_path: Path, moto_endpoint: str) -> dict[str, Any]:
    import boto3

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    sudo = bin_dir / "sudo"
    sudo.write_text(FAKE_SUDO)
    sudo.chmod(0o755)
    client = boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    bucket = f"bootstrap-{uuid.uuid4().hex[:12]}"  # one per test: the server is shared
    client.create_bucket(Bucket=bucket)
    env = {
        **services.aws_cli_sandbox_env(tmp_path, bin_dir, moto_endpoint, REGION),
        "SUDO_RECORD": str(tmp_path / "sudo.log"),
    }
    return {"env": env, "s3": client, "tmp": tmp_path, "bucket": bucket}


def _install(sandbox: dict[str, Any], *args: str) -> subprocess.CompletedProcess[str]:
    return services.run_script(INSTALL_FILE, sandbox["env"], *args)


def test_the_rds_ca_bundle_lands_at_the_path_the_jdbc_url_names(sandbox: dict[str, Any]) -> None:
    from emr_patterns.foundation.mysql import rds_ca_bundle_file

    bundle = Path(rds_ca_bundle_file()).read_bytes()
    sandbox["s3"].put_object(Bucket=sandbox["bucket"], Key="assets/abc.pem", Body=bundle)
    dest = sandbox["tmp"] / "etc" / "pki" / "rds" / "rds-ca-bundle.pem"  # parents made by install -D
    done = _install(sandbox, str(dest), REGION, f"s3://{sandbox['bucket']}/assets/abc.pem")
    assert done.returncode == 0, done.stderr
    assert dest.read_bytes() == bundle
    assert stat.S_IMODE(dest.stat().st_mode) == 0o644  # every service (Hive, Spark) can read it
    assert (sandbox["tmp"] / "sudo.log").read_text().startswith("install -D -m 0644 ")
    assert not list(sandbox["tmp"].glob("install-file.*"))  # the work folder is gone


def test_a_missing_object_fails_the_node_and_installs_nothing(sandbox: dict[str, Any]) -> None:
    dest = sandbox["tmp"] / "ca.pem"
    done = _install(sandbox, str(dest), REGION, f"s3://{sandbox['bucket']}/assets/none.pem")
    assert done.returncode != 0
    assert not dest.exists() and not (sandbox["tmp"] / "sudo.log").exists()


def test_an_empty_object_is_refused(sandbox: dict[str, Any]) -> None:
    sandbox["s3"].put_object(Bucket=sandbox["bucket"], Key="assets/empty.pem", Body=b"")
    dest = sandbox["tmp"] / "ca.pem"
    done = _install(sandbox, str(dest), REGION, f"s3://{sandbox['bucket']}/assets/empty.pem")
    assert done.returncode == 1 and "is empty" in done.stderr
    assert not dest.exists()


def test_usage_errors(sandbox: dict[str, Any]) -> None:
    assert _install(sandbox).returncode == 2
    done = _install(sandbox, "relative/ca.pem", REGION, f"s3://{sandbox['bucket']}/x")
    assert done.returncode == 2 and "absolute path" in done.stderr


WIDEMATRIX_DEPS = services.REPO / "jobs" / "widematrix-deps-bootstrap.sh"
WHEELHOUSE = services.REPO / ".cache" / "emr-wheelhouse"
PRINT_VERSIONS = "import numpy, pyarrow; print(numpy.__version__, pyarrow.__version__)"


def _python39() -> str:
    """The Python 3.9 `make emr-test-venv` uses (EMR 7 nodes run 3.9)."""
    found = sorted(Path.home().glob(".pyenv/versions/3.9*/bin/python3.9")) or [
        Path(p) for p in [shutil.which("python3.9")] if p
    ]
    if not found:
        raise services.ServiceUnavailable("python3.9 not found: the EMR node's Python (see the Makefile)")
    return str(found[0])


def _stand_in(bin_dir: Path, name: str, body: str) -> None:
    path = bin_dir / name
    path.write_text(body)
    path.chmod(0o755)


@pytest.mark.slow
def test_the_widematrix_bootstrap_installs_the_wheelhouse_offline(sandbox: dict[str, Any]) -> None:
    """The real script, the real AWS CLI (moto's S3), the wheelhouse `make emr-wheelhouse` built,
    into a fresh Python 3.9 venv standing in for the node's /usr/bin/python3 (named stand-in: the
    test cannot install into the system Python). pip runs with --no-index: no package index."""
    import zipfile

    if not (WHEELHOUSE / ".done").exists():
        raise services.ServiceUnavailable("the EMR wheelhouse is missing: run `make emr-wheelhouse`")
    tmp = sandbox["tmp"]
    venv = tmp / "node-python"
    subprocess.run([_python39(), "-m", "venv", str(venv)], check=True, timeout=120)
    bin_dir = Path(sandbox["env"]["PATH"].split(os.pathsep)[0])
    # A wrapper, not a symlink: a symlinked venv python outside its venv runs as the base Python.
    _stand_in(bin_dir, "python3", f'#!/bin/bash\nexec "{venv}/bin/python" "$@"\n')
    for arch in ("x86_64", "aarch64"):
        archive = tmp / f"{arch}.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as z:
            for wheel in sorted((WHEELHOUSE / arch).iterdir()):
                z.write(wheel, wheel.name)
        sandbox["s3"].upload_file(str(archive), sandbox["bucket"], f"assets/{arch}.zip")
    uris = [f"s3://{sandbox['bucket']}/assets/{arch}.zip" for arch in ("x86_64", "aarch64")]
    done = services.run_script(WIDEMATRIX_DEPS, sandbox["env"], *uris, REGION)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"installed the job dependencies for {platform.machine()}" in done.stdout
    assert "--no-index" in (tmp / "sudo.log").read_text()
    versions = subprocess.run(
        [str(venv / "bin" / "python"), "-c", PRINT_VERSIONS],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    pinned = (WHEELHOUSE / platform.machine() / "requirements.txt").read_text()
    assert f"numpy=={versions[0]}" in pinned and f"pyarrow=={versions[1]}" in pinned
    assert not list(tmp.glob("widematrix-deps.*"))  # the work folder is gone

    # A node of another architecture gets no wheelhouse, and nothing is installed.
    _stand_in(bin_dir, "uname", "#!/bin/bash\necho riscv64\n")
    other = services.run_script(WIDEMATRIX_DEPS, sandbox["env"], *uris, REGION)
    assert other.returncode == 1 and "no wheelhouse for architecture riscv64" in other.stderr
