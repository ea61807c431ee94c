"""The admin handler (lambdas/matrix_read/admin.py) against the real HBase fixture (happybase over
Thrift), moto's DynamoDB registry and moto's S3 (the export manifest): prepare, validate, switch,
abort, cleanup, and bad events refused before any call."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import boto3
import numpy as np
import pytest

from emr_patterns.jobs.widematrix import serving
from emr_patterns.lambdas.matrix_read import admin
from emr_patterns.lambdas.matrix_read import registry as reg
from tests import services
from tests.widematrix._data import write_export
from tests.widematrix._hbase import drop_table, load_prepared
from tests.widematrix.conftest import create_registry_table

GENES = ["Gad1", "a,b", "Ménage", "Sst", "Pvalb", "zero"]
GROUPS = ["A", "B|x", "groupé"]
STATS = ["mean", "median"]


def call(**event: Any) -> dict[str, Any]:
    return admin.handler(event, None)


def publish(env: Any, dataset: str, version: str, seed: int = 3, genes: list[str] = GENES) -> SimpleNamespace:
    """A small serving export (numpy, the pipeline's layout) on the mirrored bucket."""
    rng = np.random.default_rng(seed)
    values = {s: rng.integers(0, 5, (len(genes), len(GROUPS))) * 0.25 for s in STATS}
    prefix = f"exports/{dataset}/{version}-{seed}"
    manifest = write_export(env.mirror.path(prefix), version, genes, GROUPS, values)
    return SimpleNamespace(uri=env.mirror.publish(prefix), manifest=manifest, values=values)


def hbase_tables(env: Any) -> set[str]:
    conn = env.hbase.connection()
    try:
        return {t.decode() for t in conn.tables()}
    finally:
        conn.close()


def rows(env: Any, table: str) -> list[tuple[bytes, dict[bytes, bytes]]]:
    conn = env.hbase.connection()
    try:
        return list(conn.table(table).scan())
    finally:
        conn.close()


def prepared_ready(env: Any, dataset: str, version: str, seed: int = 3) -> dict[str, Any]:
    """A version prepared (empty tables) and marked READY directly in the registry (arrange only:
    switch, abort and cleanup do not look at the tables' rows)."""
    out = call(
        action="prepare", dataset=dataset, version=version, export=publish(env, dataset, version, seed).uri
    )
    env.registry.set_status(dataset, version, reg.READY, expected=reg.LOADING)
    return out


@pytest.fixture(scope="module", autouse=True)
def _drop_test_tables(admin_env: Any) -> Iterator[None]:
    yield
    conn = admin_env.hbase.connection()
    for t in conn.tables():
        if t.startswith(b"wm_adm-"):
            drop_table(conn, t.decode())
    conn.close()


# --- prepare --------------------------------------------------------------------------------------
def test_prepare_creates_empty_tables_registers_loading_and_a_retry_is_a_noop(admin_env: Any) -> None:
    export = publish(admin_env, "adm-prep", "v1")
    out = call(action="prepare", dataset="adm-prep", version="v1", export=export.uri)
    names = serving.table_names("adm-prep", "v1")
    base = export.uri.rstrip("/")
    assert out == {
        "dataset": "adm-prep",
        "version": "v1",
        "expected_revision": 0,
        "active_version": None,
        "loads": {
            view: {
                "table": names[view],
                "tsv": f"{export.uri}{view}/",
                "hfiles": f"{base}-hfiles/{view}/",
                "columns": ",".join(serving.tsv_columns(view, STATS)),
            }
            for view in serving.VIEWS
        },
    }
    assert set(names.values()) <= hbase_tables(admin_env)
    assert all(rows(admin_env, t) == [] for t in names.values())
    item = admin_env.registry.get_version("adm-prep", "v1")
    assert item["status"] == reg.LOADING
    assert item["manifest"] == reg.version_manifest(export.manifest, names, export=export.uri)
    assert item["manifest"]["checksum"].startswith("sha256:")

    again = call(action="prepare", dataset="adm-prep", version="v1", export=base)  # no trailing '/'
    assert again == out
    assert admin_env.registry.get_version("adm-prep", "v1") == item  # nothing rewritten


def test_prepare_refuses_a_reused_id_with_another_manifest(admin_env: Any) -> None:
    first = publish(admin_env, "adm-reuse", "v1", seed=1)
    call(action="prepare", dataset="adm-reuse", version="v1", export=first.uri)
    item = admin_env.registry.get_version("adm-reuse", "v1")
    other = publish(admin_env, "adm-reuse", "v1", seed=2, genes=[*GENES, "Vip"])
    with pytest.raises(reg.RegistryError, match="another export manifest") as info:
        call(action="prepare", dataset="adm-reuse", version="v1", export=other.uri)
    assert type(info.value).__name__ == "RegistryError"  # the name the state machine catches
    assert admin_env.registry.get_version("adm-reuse", "v1") == item
    # the same manifest at another location is another export too
    twin = admin_env.mirror.path("exports/adm-reuse/twin")
    twin.mkdir(parents=True)
    (twin / "manifest.json").write_text(json.dumps(first.manifest))
    with pytest.raises(reg.RegistryError, match="another export manifest"):
        call(
            action="prepare",
            dataset="adm-reuse",
            version="v1",
            export=admin_env.mirror.publish("exports/adm-reuse/twin"),
        )
    # a version that left LOADING is never prepared again
    call(action="abort", dataset="adm-reuse", version="v1")
    with pytest.raises(reg.RegistryError, match="never reused"):
        call(action="prepare", dataset="adm-reuse", version="v1", export=first.uri)
    assert not {t for t in hbase_tables(admin_env) if t.startswith("wm_adm-reuse_")}


def _bad_manifests() -> list[tuple[str, Any, str]]:
    good = {
        "kind": "widematrix-hbase-export",
        "version": "v1",
        "stats": ["mean"],
        "groups": [{"group": "A", "cells": 3}],
        "genes": 2,
        "tables": {"genes": {"rows": 2, "cells": 4}, "top": {"rows": 2, "cells": 6}},
    }
    return [
        ("missing", None, "does not exist"),
        ("not-json", b"{not json", "not JSON"),
        ("other-version", {**good, "version": "v2"}, "export of version 'v2', not v1"),
        ("kind", {**good, "kind": "something"}, "kind"),
        ("stat", {**good, "stats": ["mean", "bogus"]}, "stats"),
        (
            "cells",
            {**good, "tables": {**good["tables"], "genes": {"rows": 2, "cells": 5}}},
            "5 cells is not 2 rows",
        ),
        ("genes", {**good, "genes": 3}, "2 rows for 3 genes"),
        ("views", {**good, "tables": {"genes": good["tables"]["genes"]}}, "exactly genes, top"),
        ("array", [good], "not a JSON object"),
    ]


@pytest.mark.parametrize(
    ("case", "content", "message"), _bad_manifests(), ids=[c[0] for c in _bad_manifests()]
)
def test_prepare_refuses_a_bad_export_manifest(admin_env: Any, case: str, content: Any, message: str) -> None:
    dataset = f"adm-bad-{case}"
    key = f"exports/{dataset}/v1/manifest.json"
    if content is not None:
        body = content if isinstance(content, bytes) else json.dumps(content).encode()
        admin_env.s3.put_object(Bucket="lake", Key=key, Body=body)
    with pytest.raises(admin.ManifestError, match=message):
        call(action="prepare", dataset=dataset, version="v1", export=f"s3://lake/exports/{dataset}/v1/")
    assert admin_env.registry.get_version(dataset, "v1") is None  # nothing registered
    assert not {t for t in hbase_tables(admin_env) if t.startswith(f"wm_{dataset}_")}  # nor created


def test_prepare_refuses_a_table_that_holds_rows(admin_env: Any) -> None:
    export = publish(admin_env, "adm-full", "v1")
    conn = admin_env.hbase.connection()
    try:
        conn.create_table("wm_adm-full_v1_top", {"s": {"max_versions": 1}})
        conn.table("wm_adm-full_v1_top").put(b"mean|00000|0000000", {b"s:_v": b"v1"})
    finally:
        conn.close()
    with pytest.raises(reg.RegistryError, match="holds rows"):
        call(action="prepare", dataset="adm-full", version="v1", export=export.uri)
    assert admin_env.registry.get_version("adm-full", "v1") is None
    assert "wm_adm-full_v1_genes" not in hbase_tables(admin_env)


# --- validate (one real bulk load) ------------------------------------------------------------
@pytest.fixture(scope="module")
def loaded(admin_env: Any) -> SimpleNamespace:
    """Version v1 of adm-val prepared, then bulk loaded for real with the commands of its loads."""
    export = publish(admin_env, "adm-val", "v1", seed=7)
    prepared = call(action="prepare", dataset="adm-val", version="v1", export=export.uri)
    load_prepared(admin_env.hbase, prepared, STATS, admin_env.mirror.local)
    return SimpleNamespace(export=export, prepared=prepared, tables=serving.table_names("adm-val", "v1"))


@pytest.fixture
def loading(admin_env: Any, loaded: SimpleNamespace) -> SimpleNamespace:
    """The loaded version in LOADING (put back there if a test validated it)."""
    if admin_env.registry.get_version("adm-val", "v1")["status"] == reg.READY:
        admin_env.registry.set_status("adm-val", "v1", reg.LOADING, expected=reg.READY)
    return loaded


def test_validate_counts_pass_and_the_version_becomes_ready(admin_env: Any, loading: SimpleNamespace) -> None:
    tables = loading.export.manifest["tables"]
    want = {view: {"rows": tables[view]["rows"], "cells": tables[view]["cells"]} for view in serving.VIEWS}
    assert call(action="validate", dataset="adm-val", version="v1") == {
        "dataset": "adm-val",
        "version": "v1",
        "counts": want,
    }
    assert admin_env.registry.get_version("adm-val", "v1")["status"] == reg.READY
    # counted for real: the genes table holds every gene, and the top table what the export holds
    assert len(rows(admin_env, loading.tables["genes"])) == len(GENES)
    assert call(action="validate", dataset="adm-val", version="v1")["counts"] == want  # re-run: same
    assert admin_env.registry.get_version("adm-val", "v1")["status"] == reg.READY


def _missing_row(table: Any) -> Any:
    row = table.row(b"Sst")
    table.delete(b"Sst")
    return lambda: table.put(b"Sst", row)


def _missing_cell(table: Any) -> Any:
    row = table.row(b"Pvalb")
    table.delete(b"Pvalb", columns=[b"s:median"])
    return lambda: table.put(b"Pvalb", {b"s:median": row[b"s:median"]})


def _extra_cell(table: Any) -> Any:
    table.put(b"Gad1", {b"s:extra": b"1.0"})
    return lambda: table.delete(b"Gad1", columns=[b"s:extra"])


def _wrong_stamp(table: Any) -> Any:
    table.put("Ménage".encode(), {b"s:_v": b"v0"})
    return lambda: table.put("Ménage".encode(), {b"s:_v": b"v1"})


def _top_extra_row(table: Any) -> Any:
    key = serving.top_key("mean", 0, 9999).encode()
    table.put(key, {b"s:_v": b"v1", b"s:g": b"Gad1", b"s:v": b"1.0"})
    return lambda: table.delete(key)


TAMPERS = [
    (
        "missing-row",
        "genes",
        _missing_row,
        r"genes table wm_adm-val_v1_genes: expected 6 rows and 18 cells .*found 5 rows and 15 cells",
    ),
    ("missing-cell", "genes", _missing_cell, r"expected 6 rows and 18 cells .*found 6 rows and 17 cells"),
    (
        "extra-cell",
        "genes",
        _extra_cell,
        r"found 6 rows and 19 cells.*columns outside the layout \('Gad1' has s:extra\)",
    ),
    (
        "wrong-stamp",
        "genes",
        _wrong_stamp,
        r"expected every row stamped v1, found 1 row\(s\) without that stamp "
        r"\(first: 'M\\xe9nage' stamped b'v0'\)",
    ),
    ("top-extra-row", "top", _top_extra_row, r"top table wm_adm-val_v1_top: expected \d+ rows and \d+ cells"),
]


@pytest.mark.parametrize(("case", "view", "tamper", "message"), TAMPERS, ids=[t[0] for t in TAMPERS])
def test_validate_refuses_a_tampered_table_and_the_status_stays_loading(
    admin_env: Any, loading: SimpleNamespace, case: str, view: str, tamper: Any, message: str
) -> None:
    conn = admin_env.hbase.connection()
    try:
        restore = tamper(conn.table(loading.tables[view]))
        try:
            with pytest.raises(admin.ValidationFailed, match=message):
                call(action="validate", dataset="adm-val", version="v1")
            assert admin_env.registry.get_version("adm-val", "v1")["status"] == reg.LOADING
        finally:
            restore()
    finally:
        conn.close()


def test_validate_of_a_version_without_its_tables_or_registration(admin_env: Any) -> None:
    with pytest.raises(reg.RegistryError, match="not registered: run prepare first"):
        call(action="validate", dataset="adm-val", version="v404")
    export = publish(admin_env, "adm-notab", "v1")
    call(action="prepare", dataset="adm-notab", version="v1", export=export.uri)
    conn = admin_env.hbase.connection()
    drop_table(conn, "wm_adm-notab_v1_top")
    conn.close()
    with pytest.raises(
        admin.ValidationFailed, match=r"top table wm_adm-notab_v1_top: expected .* found no table"
    ):
        call(action="validate", dataset="adm-notab", version="v1")
    assert admin_env.registry.get_version("adm-notab", "v1")["status"] == reg.LOADING


# --- check --------------------------------------------------------------------------------------
def test_check_accepts_new_ids_and_refuses_a_used_version(admin_env: Any) -> None:
    assert call(action="check", dataset="adm-chk", version="v1") == {"dataset": "adm-chk", "version": "v1"}
    prepared_ready(admin_env, "adm-chk", "v1")
    with pytest.raises(reg.RegistryError, match="never reused"):
        call(action="check", dataset="adm-chk", version="v1")
    assert call(action="check", dataset="adm-chk", version="v2")["version"] == "v2"


# --- switch -------------------------------------------------------------------------------------
def test_switch_new_rerun_conflict_and_not_ready(admin_env: Any) -> None:
    for v in ("v1", "v2"):
        prepared_ready(admin_env, "adm-sw", v)
    first = call(action="switch", dataset="adm-sw", version="v1", expected_revision=0)
    assert first == {
        "dataset": "adm-sw",
        "version": "v1",
        "revision": 1,
        "changed": True,
        "previous_version": None,
    }
    rerun = call(action="switch", dataset="adm-sw", version="v1", expected_revision=0)  # a retried step
    assert rerun == {**first, "changed": False}
    with pytest.raises(reg.SwitchConflictError, match="revision 1") as info:
        call(action="switch", dataset="adm-sw", version="v2", expected_revision=0)
    assert type(info.value).__name__ == "SwitchConflictError"
    second = call(action="switch", dataset="adm-sw", version="v2", expected_revision=1)
    assert second == {
        "dataset": "adm-sw",
        "version": "v2",
        "revision": 2,
        "changed": True,
        "previous_version": "v1",
    }
    call(action="prepare", dataset="adm-sw", version="v3", export=publish(admin_env, "adm-sw", "v3").uri)
    with pytest.raises(reg.VersionNotReadyError, match="LOADING") as info:
        call(action="switch", dataset="adm-sw", version="v3", expected_revision=2)
    assert type(info.value).__name__ == "VersionNotReadyError"
    assert admin_env.registry.pointer("adm-sw") == reg.Pointer("adm-sw", "v2", 2, "v1")


# --- abort ----------------------------------------------------------------------------------------
def test_abort_drops_the_tables_marks_failed_and_leaves_the_pointer(admin_env: Any) -> None:
    prepared_ready(admin_env, "adm-ab", "v1")
    call(action="switch", dataset="adm-ab", version="v1", expected_revision=0)
    call(action="prepare", dataset="adm-ab", version="v2", export=publish(admin_env, "adm-ab", "v2").uri)
    prepared_ready(admin_env, "adm-ab", "v3")  # READY, never switched: abort takes it out too
    before = admin_env.registry.pointer("adm-ab")
    v2 = sorted(serving.table_names("adm-ab", "v2").values())

    assert call(action="abort", dataset="adm-ab", version="v2") == {
        "dataset": "adm-ab",
        "version": "v2",
        "dropped": v2,
    }
    assert not set(v2) & hbase_tables(admin_env)
    assert admin_env.registry.get_version("adm-ab", "v2")["status"] == reg.FAILED
    assert call(action="abort", dataset="adm-ab", version="v2")["dropped"] == []  # idempotent
    assert call(action="abort", dataset="adm-ab", version="v3")["dropped"] == sorted(
        serving.table_names("adm-ab", "v3").values()
    )
    assert admin_env.registry.get_version("adm-ab", "v3")["status"] == reg.FAILED
    with pytest.raises(reg.VersionNotReadyError):  # no switch can name an aborted version
        call(action="switch", dataset="adm-ab", version="v3", expected_revision=1)

    with pytest.raises(reg.RegistryError, match="active version") as info:
        call(action="abort", dataset="adm-ab", version="v1")
    assert type(info.value).__name__ == "RegistryError"
    assert set(serving.table_names("adm-ab", "v1").values()) <= hbase_tables(admin_env)
    assert admin_env.registry.get_version("adm-ab", "v1")["status"] == reg.READY
    assert admin_env.registry.pointer("adm-ab") == before


def test_abort_of_an_unknown_version_drops_its_tables_and_registers_nothing(admin_env: Any) -> None:
    conn = admin_env.hbase.connection()
    conn.create_table("wm_adm-ghost_v7_genes", {"s": {}})
    conn.disable_table("wm_adm-ghost_v7_genes")  # as a drop that stopped half way leaves it
    conn.close()
    assert call(action="abort", dataset="adm-ghost", version="v7")["dropped"] == ["wm_adm-ghost_v7_genes"]
    assert "wm_adm-ghost_v7_genes" not in hbase_tables(admin_env)
    assert admin_env.registry.versions("adm-ghost") == []
    assert admin_env.registry.pointer("adm-ghost") == reg.Pointer("adm-ghost", None, 0)


# --- cleanup --------------------------------------------------------------------------------------
@pytest.fixture
def own_registry(admin_env: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[reg.Registry]:
    """A registry table of its own (a cleanup over every dataset must not touch other tests')."""
    client = boto3.client("dynamodb", region_name="us-east-1")
    create_registry_table(client, "registry-cleanup")
    monkeypatch.setenv("REGISTRY_TABLE", "registry-cleanup")
    admin.reset_clients()
    yield reg.Registry("registry-cleanup", client)
    admin.reset_clients()
    client.delete_table(TableName="registry-cleanup")


def _at(hours: float) -> str:
    return (datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=hours)).isoformat()


def test_cleanup_honours_the_grace_period_and_never_drops_the_active_version(
    admin_env: Any, own_registry: reg.Registry
) -> None:
    env = SimpleNamespace(**{**vars(admin_env), "registry": own_registry})
    for v in ("v1", "v2"):
        prepared_ready(env, "adm-cl", v)
    call(action="switch", dataset="adm-cl", version="v1", expected_revision=0)
    call(action="switch", dataset="adm-cl", version="v2", expected_revision=1)
    prepared_ready(env, "adm-cl", "v3")
    own_registry.take_out_of_service("adm-cl", "v3", reg.FAILED, (reg.READY,))  # FAILED, tables left over
    call(action="prepare", dataset="adm-cl", version="v4", export=publish(env, "adm-cl", "v4").uri)
    call(action="prepare", dataset="adm-cl-new", version="v1", export=publish(env, "adm-cl-new", "v1").uri)
    names = {v: sorted(serving.table_names("adm-cl", v).values()) for v in ("v1", "v2", "v3", "v4")}
    fresh = sorted(serving.table_names("adm-cl-new", "v1").values())

    nothing = {"dropped": [], "retired": [], "failed": []}
    assert call(action="cleanup", now=_at(1)) == nothing  # within the grace period
    assert call(action="cleanup", now=_at(25)) == {
        "dropped": names["v1"] + names["v3"],
        "retired": ["adm-cl/v1"],
        "failed": [],
    }
    assert own_registry.get_version("adm-cl", "v1")["status"] == reg.RETIRED
    assert own_registry.get_version("adm-cl", "v3")["status"] == reg.FAILED
    assert own_registry.get_version("adm-cl", "v4")["status"] == reg.LOADING  # 25 h < STALE_LOADING_HOURS
    assert call(action="cleanup", dataset="adm-cl-new", now=_at(27)) == {
        "dropped": fresh,
        "retired": [],
        "failed": ["adm-cl-new/v1"],
    }
    assert call(action="cleanup", now=_at(27)) == {
        "dropped": names["v4"],
        "retired": [],
        "failed": ["adm-cl/v4"],
    }
    assert call(action="cleanup", now=_at(1000)) == nothing  # nothing left but the active version
    present = hbase_tables(admin_env)
    assert set(names["v2"]) <= present
    assert not (set(names["v1"]) | set(names["v3"]) | set(names["v4"]) | set(fresh)) & present
    assert own_registry.get_version("adm-cl", "v2")["status"] == reg.READY
    assert own_registry.pointer("adm-cl") == reg.Pointer("adm-cl", "v2", 2, "v1")
    with pytest.raises(reg.VersionNotReadyError):  # a retired version is no rollback target
        call(action="switch", dataset="adm-cl", version="v1", expected_revision=2)


def test_cleanup_keeps_a_version_that_became_ready_within_the_grace_period(
    admin_env: Any, own_registry: reg.Registry
) -> None:
    """The pointer moved long ago; a version validated a moment ago (its switch on its way) stays."""
    env = SimpleNamespace(**{**vars(admin_env), "registry": own_registry})
    prepared_ready(env, "adm-clr", "v1")
    call(action="switch", dataset="adm-clr", version="v1", expected_revision=0)
    long_ago = (datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=48)).isoformat(
        timespec="seconds"
    )
    own_registry.client.update_item(  # arrange: the last switch was two days ago
        TableName="registry-cleanup",
        Key={"dataset": {"S": "adm-clr"}, "item": {"S": "pointer"}},
        UpdateExpression="SET switched_at = :t",
        ExpressionAttributeValues={":t": {"S": long_ago}},
    )
    prepared_ready(env, "adm-clr", "v2")
    assert call(action="cleanup", dataset="adm-clr") == {"dropped": [], "retired": [], "failed": []}
    assert own_registry.get_version("adm-clr", "v2")["status"] == reg.READY
    assert call(action="switch", dataset="adm-clr", version="v2", expected_revision=1)["changed"]
    assert call(action="cleanup", dataset="adm-clr", now=_at(25))["retired"] == ["adm-clr/v1"]


# --- bad events, HBase down ----------------------------------------------------------------------
BAD_EVENTS = [
    ("not-an-object", ["prepare"], "JSON object"),
    ("no-action", {"dataset": "d", "version": "v1"}, "action None"),
    ("unknown-action", {"action": "drop"}, "action 'drop'"),
    ("no-dataset", {"action": "validate", "version": "v1"}, "dataset: required"),
    (
        "meta-dataset",
        {"action": "validate", "dataset": "hbase:meta", "version": "v1"},
        "dataset 'hbase:meta'",
    ),
    ("upper-version", {"action": "abort", "dataset": "d", "version": "V1"}, "version 'V1'"),
    ("path-version", {"action": "abort", "dataset": "d", "version": "v1/../v2"}, "version"),
    (
        "text-revision",
        {"action": "switch", "dataset": "d", "version": "v1", "expected_revision": "1"},
        "expected_revision",
    ),
    (
        "bool-revision",
        {"action": "switch", "dataset": "d", "version": "v1", "expected_revision": True},
        "expected_revision",
    ),
    (
        "negative-revision",
        {"action": "switch", "dataset": "d", "version": "v1", "expected_revision": -1},
        "expected_revision",
    ),
    ("no-export", {"action": "prepare", "dataset": "d", "version": "v1"}, "export: required"),
    (
        "http-export",
        {"action": "prepare", "dataset": "d", "version": "v1", "export": "https://lake/x/"},
        "s3://",
    ),
    ("root-export", {"action": "prepare", "dataset": "d", "version": "v1", "export": "s3://lake/"}, "s3://"),
    (
        "dotdot-export",
        {"action": "prepare", "dataset": "d", "version": "v1", "export": "s3://lake/a/../b/"},
        "'..'",
    ),
    (
        "space-export",
        {"action": "prepare", "dataset": "d", "version": "v1", "export": "s3://lake/a b/"},
        "s3://",
    ),
    ("check-upper", {"action": "check", "dataset": "Brain", "version": "v1"}, "dataset 'Brain'"),
    ("check-file", {"action": "check", "dataset": "matrix.zip", "version": "v1"}, "dataset 'matrix.zip'"),
    ("check-version", {"action": "check", "dataset": "d", "version": "V-1"}, "version 'V-1'"),
    ("bad-now", {"action": "cleanup", "now": "yesterday"}, "ISO 8601"),
    ("bad-cleanup-dataset", {"action": "cleanup", "dataset": "A_B"}, "dataset 'A_B'"),
]


@pytest.mark.parametrize(("case", "event", "message"), BAD_EVENTS, ids=[b[0] for b in BAD_EVENTS])
def test_bad_events_are_bad_request_before_any_call(
    admin_env: Any, monkeypatch: pytest.MonkeyPatch, case: str, event: Any, message: str
) -> None:
    class NoCalls:
        def __getattr__(self, name: str) -> Any:
            raise AssertionError(f"the registry was used ({name}) for a bad event")

    monkeypatch.setattr(admin, "_REGISTRY", NoCalls())
    monkeypatch.setattr(admin, "_S3", NoCalls())
    monkeypatch.setattr(admin.HBase, "conn", lambda self: pytest.fail("HBase was called for a bad event"))
    with pytest.raises(admin.BadRequest, match=message) as info:
        admin.handler(event, None)
    assert isinstance(info.value, ValueError)


def test_hbase_unreachable_is_hbase_unavailable(admin_env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    export = publish(admin_env, "adm-down", "v1")
    monkeypatch.setenv("HBASE_THRIFT_PORT", str(services.free_port()))  # nothing listens there
    with pytest.raises(admin.HBaseUnavailable, match="unreachable") as info:
        call(action="prepare", dataset="adm-down", version="v1", export=export.uri)
    assert type(info.value).__name__ == "HBaseUnavailable"
    with pytest.raises(admin.HBaseUnavailable):
        call(action="abort", dataset="adm-down", version="v1")


def test_a_bad_environment_variable_is_a_config_error(
    admin_env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLEANUP_GRACE_HOURS", "24h")
    with pytest.raises(admin.ConfigError, match="CLEANUP_GRACE_HOURS='24h'"):
        call(action="cleanup", dataset="adm-none")
