"""jobs/hive_ldap/beeline_ldap.sh: shellcheck-clean, and run in a sandbox with the real AWS CLI
pointed at moto_server.

``beeline`` itself is a named stand-in: the real one connects to HiveServer2 3.1.3, which needs
Java 8 (not on these machines). The stand-in on PATH records its arguments, reads the password
file it is given with ``-w`` (checking its mode), and scans every process's command line while
it runs, the way ``ps`` would show them, for the password.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests import services

SCRIPT = services.REPO / "jobs" / "hive_ldap" / "beeline_ldap.sh"
REGION = "us-east-1"
PASSWORD = "s3cr3t-Pa55-for-alice"

FAKE_BEELINE = textwrap.dedent(
    """\
    #!{python}
    # Stand-in for beeline (HiveServer2 3.1.3 needs Java 8): records what it was given.
    import json, os, stat, sys
    args = sys.argv[1:]
    password_file = args[args.index("-w") + 1]
    mode = stat.S_IMODE(os.stat(password_file).st_mode)
    with open(password_file) as f:
        password = f.read()
    seen = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{{pid}}/cmdline", "rb") as f:
                    cmdline = f.read().replace(b"\\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if password and password in cmdline:
                seen.append(cmdline)
    with open(os.environ["BEELINE_RECORD"], "w") as out:
        json.dump({{"args": args, "password": password, "mode": mode, "file": password_file,
                   "in_cmdlines": seen}}, out)
    """
)


@pytest.fixture
def sandbox(tmp_path: Path, moto_endpoint: str) -> dict[str, Any]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    beeline = bin_dir / "beeline"
    beeline.write_text(FAKE_BEELINE.format(python=sys.executable))
    beeline.chmod(0o755)
    env = {
        **services.aws_cli_sandbox_env(tmp_path, bin_dir, moto_endpoint, REGION),
        "BEELINE_RECORD": str(tmp_path / "beeline.json"),
    }
    return {"env": env, "record": tmp_path / "beeline.json", "tmp": tmp_path}


def _put_secret(endpoint: str, name: str, value: str) -> str:
    import boto3

    client = boto3.client(
        "secretsmanager",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    return str(client.create_secret(Name=name, SecretString=value)["ARN"])


def _run(sandbox: dict[str, Any], *args: str) -> subprocess.CompletedProcess[str]:
    return services.run_script(SCRIPT, sandbox["env"], *args)


def test_shellcheck_clean() -> None:
    shellcheck = services.which("shellcheck")
    done = subprocess.run([shellcheck, str(SCRIPT)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout


@pytest.mark.parametrize(
    "secret",
    [
        json.dumps({"username": "alice", "password": PASSWORD}),
        json.dumps({"alice": PASSWORD}),  # EMR's one-pair form
    ],
)
def test_password_reaches_beeline_only_through_a_private_file(
    sandbox: dict[str, Any], moto_endpoint: str, secret: str
) -> None:
    arn = _put_secret(moto_endpoint, f"hive/alice-{len(secret)}", secret)
    done = _run(
        sandbox,
        "--secret-id",
        arn,
        "--host",
        "primary.internal",
        "--truststore",
        "/etc/t.jks",
        "--",
        "-e",
        "show databases",
    )
    assert done.returncode == 0, done.stderr
    record = json.loads(sandbox["record"].read_text())
    args = record["args"]
    assert args[: args.index("-w")] == [
        "-u",
        "jdbc:hive2://primary.internal:10000/default;ssl=true;sslTrustStore=/etc/t.jks",
        "-n",
        "alice",
    ]
    assert args[-2:] == ["-e", "show databases"]
    assert record["password"] == PASSWORD
    assert record["mode"] == 0o600
    assert not any(PASSWORD in a for a in args)
    assert record["in_cmdlines"] == []  # nowhere in any process's command line
    assert not Path(record["file"]).exists()  # removed after beeline ended
    assert PASSWORD not in done.stdout + done.stderr


def test_missing_secret_fails_before_beeline(sandbox: dict[str, Any]) -> None:
    done = _run(sandbox, "--secret-id", "hive/nobody")
    assert done.returncode != 0
    assert "cannot read secret hive/nobody" in done.stderr
    assert not sandbox["record"].exists()


def test_malformed_secret_is_refused(sandbox: dict[str, Any], moto_endpoint: str) -> None:
    arn = _put_secret(moto_endpoint, "hive/two-pairs", json.dumps({"a": "1", "b": "2"}))
    done = _run(sandbox, "--secret-id", arn)
    assert done.returncode != 0 and "one pair" in done.stderr
    assert not sandbox["record"].exists()
    assert not list(sandbox["tmp"].glob("beeline-ldap.*"))  # the work folder is gone too


def test_usage_errors(sandbox: dict[str, Any]) -> None:
    assert _run(sandbox).returncode == 2
    done = _run(sandbox, "--secret-id", "x", "--port", "ten")
    assert done.returncode == 2 and "--port must be a number" in done.stderr
