"""The code stays ruff-clean and type-checks, as part of `make test`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=False)


def test_ruff_clean():
    proc = _run(str(BIN / "ruff"), "check", ".")
    assert proc.returncode == 0, proc.stdout[-6000:]


@pytest.mark.slow
def test_mypy_clean_on_constructs():
    proc = _run(str(BIN / "mypy"))
    assert proc.returncode == 0, proc.stdout[-6000:]
