"""Fixtures for the CDC-to-Hudi tests: one Spark JVM with Hudi 1.0.2 for the whole session."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import services

HERE = Path(__file__).resolve().parent
RESULT = "@@RESULT "


class Streamer:
    """The stand-in HoodieStreamer driver (``_streamer.py``) in its own process, one request at a time."""

    def __init__(self, log_dir: Path) -> None:
        env = services.java_env(PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable)
        env["PYTHONPATH"] = os.pathsep.join([str(services.REPO), env.get("PYTHONPATH", "")])
        self.log = log_dir / "hudi-streamer.log"
        self._log = self.log.open("w")
        self.process = subprocess.Popen(
            [sys.executable, str(HERE / "_streamer.py"), services.classpath("hudi").replace(os.pathsep, ",")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            env=env,
            start_new_session=True,
        )
        self.read()

    def read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith(RESULT):
                return json.loads(line[len(RESULT) :])
        raise services.ServiceUnavailable(f"the streamer driver exited:\n{self.log.read_text()[-4000:]}")

    def call(self, cmd: str, **fields: Any) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"cmd": cmd, **fields}) + "\n")
        self.process.stdin.flush()
        return self.read()

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(Exception):  # stopping anyway
                self.call("quit")
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait(timeout=5)
        self._log.close()


@pytest.fixture(scope="session")
def hudi_streamer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Streamer]:
    """The HoodieStreamer stand-in on local Spark 3.5 with the Hudi 1.0.2 bundle (Java 17)."""
    streamer = Streamer(tmp_path_factory.mktemp("hudi-streamer"))
    yield streamer
    streamer.stop()
