"""Shared fixtures for the custom-resource handler tests.

The handlers are ``custom_resources.Provider`` user functions: they return or raise, and the
framework answers CloudFormation, so no response endpoint is needed. AWS calls go to moto's
in-process ``mock_aws`` with fake credentials and no proxies.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from moto import mock_aws

REGION = "us-east-1"
STACK_ID = "arn:aws:cloudformation:us-east-1:123456789012:stack/emr/11111111-2222-3333-4444-555555555555"


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
