"""Shared fixtures for the custom-resource handler tests.

CloudFormation's pre-signed ``ResponseURL`` is a real HTTP server on 127.0.0.1 that records every
PUT; AWS calls go to moto's in-process ``mock_aws`` with fake credentials and no proxies.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any

import pytest
from moto import mock_aws

REGION = "us-east-1"
STACK_ID = "arn:aws:cloudformation:us-east-1:123456789012:stack/emr/11111111-2222-3333-4444-555555555555"


@dataclass
class CapturedRequest:
    """One request received by the fake CloudFormation endpoint."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class ResponseEndpoint:
    """A local stand-in for CloudFormation's pre-signed response URL."""

    url: str
    requests: list[CapturedRequest] = field(default_factory=list)

    @property
    def last(self) -> dict[str, Any]:
        """Body of the only response; fails if the handler answered zero or several times."""
        assert len(self.requests) == 1, f"expected exactly one response, got {len(self.requests)}"
        return self.requests[0].body

    def pop(self) -> dict[str, Any]:
        """Body of the only response so far, forgetting it (for multi-request tests)."""
        body = self.last
        self.requests.clear()
        return body


@pytest.fixture
def cfn_endpoint() -> Iterator[ResponseEndpoint]:
    """Serve PUTs on 127.0.0.1 and record them."""
    endpoint = ResponseEndpoint(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length)
            endpoint.requests.append(
                CapturedRequest("PUT", self.path, dict(self.headers.items()), json.loads(raw))
            )
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # silence stderr
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    endpoint.url = f"http://127.0.0.1:{server.server_port}/cfn-response?X-Amz-Signature=abc123"
    try:
        yield endpoint
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fake credentials, no proxies, and moto for every AWS call."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    for proxy in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(proxy, raising=False)
    with mock_aws():
        yield


def lambda_context(remaining_ms: int = 300_000) -> SimpleNamespace:
    """The parts of the Lambda context object the handlers use."""
    return SimpleNamespace(
        get_remaining_time_in_millis=lambda: remaining_ms,
        log_stream_name="2025/01/01/[$LATEST]0123456789abcdef",
    )
