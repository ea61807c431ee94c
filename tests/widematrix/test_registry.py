"""The dataset registry protocol on moto's DynamoDB: switch by transaction, conflicts, re-runs,
rollback, refusal of a version that is not READY, and concurrent switches."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from emr_patterns.lambdas.matrix_read import registry as reg
from tests.widematrix.conftest import create_registry_table


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[reg.Registry]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_registry_table(client)
        yield reg.Registry("registry", client)


def ready(r: reg.Registry, version: str, manifest: dict[str, Any] | None = None) -> None:
    r.register_version("brain", version, manifest or {"groups": ["A", "B"], "rows": 3, "mean": 1.5})
    r.set_status("brain", version, reg.READY, expected=reg.LOADING)


def test_first_switch_then_next_revision(registry: reg.Registry) -> None:
    ready(registry, "v1")
    assert registry.pointer("brain") == reg.Pointer("brain", None, 0)
    done = registry.switch("brain", "v1", expected_revision=0)
    assert done.changed and done.pointer == reg.Pointer("brain", "v1", 1, None)
    ready(registry, "v2")
    done = registry.switch("brain", "v2", expected_revision=1)
    assert done.pointer == reg.Pointer("brain", "v2", 2, "v1")
    assert registry.pointer("brain") == reg.Pointer("brain", "v2", 2, "v1")
    assert registry.get_version("brain", "v2")["manifest"] == {"groups": ["A", "B"], "rows": 3, "mean": 1.5}


def test_rerun_of_the_same_switch_is_a_noop(registry: reg.Registry) -> None:
    ready(registry, "v1")
    registry.switch("brain", "v1", 0)
    again = registry.switch("brain", "v1", 0)  # the retried step still holds the old revision
    assert not again.changed and again.pointer.revision == 1


def test_stale_revision_is_a_conflict_and_writes_nothing(registry: reg.Registry) -> None:
    ready(registry, "v1")
    ready(registry, "v2")
    ready(registry, "v3")
    registry.switch("brain", "v1", 0)
    registry.switch("brain", "v2", 1)
    with pytest.raises(reg.SwitchConflictError, match="revision 2"):
        registry.switch("brain", "v3", 1)
    assert registry.pointer("brain") == reg.Pointer("brain", "v2", 2, "v1")


@pytest.mark.parametrize("status", [reg.LOADING, reg.FAILED, None])
def test_switch_to_a_version_not_ready_is_refused(registry: reg.Registry, status: str | None) -> None:
    ready(registry, "v1")
    registry.switch("brain", "v1", 0)
    if status is not None:
        registry.register_version("brain", "v2", {})
        if status == reg.FAILED:
            registry.set_status("brain", "v2", reg.FAILED, expected=reg.LOADING)
    with pytest.raises(reg.VersionNotReadyError, match=status or "unknown"):
        registry.switch("brain", "v2", 1)
    assert registry.pointer("brain").active_version == "v1"


def test_rollback_is_a_switch_to_an_older_ready_version(registry: reg.Registry) -> None:
    ready(registry, "v1")
    ready(registry, "v2")
    registry.switch("brain", "v1", 0)
    registry.switch("brain", "v2", 1)
    back = registry.rollback("brain", "v1", 2)
    assert back.pointer == reg.Pointer("brain", "v1", 3, "v2")
    registry.set_status("brain", "v2", reg.RETIRED, expected=reg.READY)
    with pytest.raises(reg.VersionNotReadyError):
        registry.rollback("brain", "v2", 3)


def test_version_ids_are_never_reused(registry: reg.Registry) -> None:
    ready(registry, "v1")
    with pytest.raises(reg.RegistryError, match="never reused"):
        registry.register_version("brain", "v1", {})


@pytest.fixture
def serialized_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[reg.Registry]:
    """moto behind a single-threaded HTTP server: each request (each transaction) runs alone, as
    DynamoDB serializes transactions on the items they touch. (moto in-process, or its threaded
    server, runs two transactions' condition checks and writes interleaved, which DynamoDB never
    does, so a race there would test moto, not the protocol.)"""
    from moto.server import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    server = make_server("127.0.0.1", 0, DomainDispatcherApplication(create_backend_app), threaded=False)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        client = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=f"http://{host}:{port}")
        create_registry_table(client)
        yield reg.Registry("registry", client)
    finally:
        server.shutdown()
        thread.join()


def test_concurrent_switches_one_wins_the_other_conflicts(serialized_registry: reg.Registry) -> None:
    registry = serialized_registry
    ready(registry, "v1")
    registry.switch("brain", "v1", 0)
    for k in range(5):
        candidates = [f"a{k}", f"b{k}"]
        for v in candidates:
            ready(registry, v)
        before = registry.pointer("brain")
        barrier = threading.Barrier(2)
        results: dict[str, Any] = {}

        def go(
            version: str,
            revision: int = before.revision,
            barrier: threading.Barrier = barrier,
            results: dict[str, Any] = results,
        ) -> None:
            barrier.wait()
            try:
                results[version] = registry.switch("brain", version, revision)
            except reg.RegistryError as exc:
                results[version] = exc

        threads = [threading.Thread(target=go, args=(v,)) for v in candidates]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        won = [v for v, r in results.items() if isinstance(r, reg.SwitchResult)]
        lost = [r for r in results.values() if isinstance(r, reg.SwitchConflictError)]
        assert len(won) == 1 and len(lost) == 1, results
        # nothing half done: the pointer is the winner's, one revision on, from the old version
        assert registry.pointer("brain") == reg.Pointer(
            "brain", won[0], before.revision + 1, before.active_version
        )


def test_take_out_of_service_never_takes_the_active_version(registry: reg.Registry) -> None:
    ready(registry, "v1")
    ready(registry, "v2")
    registry.switch("brain", "v1", 0)
    with pytest.raises(reg.RegistryError, match="active version"):
        registry.take_out_of_service("brain", "v1", reg.RETIRED, (reg.READY,))
    assert registry.take_out_of_service("brain", "v2", reg.RETIRED, (reg.READY,)) == reg.READY
    assert registry.get_version("brain", "v2")["status"] == reg.RETIRED
    assert registry.take_out_of_service("brain", "v2", reg.RETIRED, (reg.READY,)) == reg.RETIRED  # no-op
    with pytest.raises(reg.RegistryError, match="is RETIRED; not moved to FAILED"):
        registry.take_out_of_service("brain", "v2", reg.FAILED, (reg.LOADING, reg.READY))
    assert registry.take_out_of_service("brain", "v9", reg.FAILED, (reg.LOADING,)) is None
    assert registry.versions("brain")[-1]["version"] == "v2"  # nothing registered for v9
    assert registry.datasets() == ["brain"]


def test_manifest_checksum_is_canonical_and_per_version() -> None:
    m = {
        "version": "v1",
        "stats": ["mean"],
        "groups": [{"group": "A", "cells": 2}],
        "genes": 1,
        "tables": {"genes": {"rows": 1, "cells": 2}, "top": {"rows": 1, "cells": 3}},
    }
    reordered = dict(reversed(list(m.items())))
    assert reg.manifest_checksum(m) == reg.manifest_checksum(reordered)
    assert reg.manifest_checksum(m) != reg.manifest_checksum({**m, "version": "v2"})
    made = reg.version_manifest(m, {"genes": "g", "top": "t"}, export="s3://b/e/")
    assert made["checksum"] == reg.manifest_checksum(m) and made["export"] == "s3://b/e/"
