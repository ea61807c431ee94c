"""The read handler against the real HBase fixture (happybase over Thrift) and moto's registry:
slices and top-N equal to the loaded data, bad input refused before any Thrift call, 404s,
HBase down -> 503 with Retry-After, a stalled server -> 504 within the timeout."""

from __future__ import annotations

import json
import socket
import threading
import time
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from emr_patterns.jobs.widematrix import serving
from emr_patterns.lambdas.matrix_read import handler as h
from emr_patterns.lambdas.matrix_read import registry as reg
from tests import services
from tests.widematrix._data import write_export
from tests.widematrix._hbase import bulk_load, drop_table

GENES = ["Gad1", "a,b", "Ménage", "Sst", "Pvalb", "zero"]
GROUPS = ["A", "B|x", "groupé"]


def call(path: str, context: Any = None, **params: Any) -> tuple[int, dict[str, Any], dict[str, str]]:
    multi = {k: (v if isinstance(v, list) else [v]) for k, v in params.items()}
    event = {
        "httpMethod": "GET",
        "path": path,
        "pathParameters": None,
        "multiValueQueryStringParameters": multi or None,
        "queryStringParameters": {k: v[-1] for k, v in multi.items()} or None,
    }
    answer = h.handler(event, context)
    return answer["statusCode"], json.loads(answer["body"]), answer["headers"]


@pytest.fixture(scope="module")
def dataset(hbase: Any, moto_registry: reg.Registry, tmp_path_factory: pytest.TempPathFactory) -> Any:
    rng = np.random.default_rng(3)
    values = {s: rng.integers(0, 5, (len(GENES), len(GROUPS))) * 0.25 for s in ("mean", "median")}
    values["mean"][GENES.index("zero")] = 0
    values["mean"][0, 0] = values["mean"][1, 0] = 7.0  # a tie in group A: broken by gene name
    tmp = tmp_path_factory.mktemp("read")
    manifest = write_export(tmp / "export", "v1", GENES, GROUPS, values)
    tables = bulk_load(hbase, str(tmp / "export"), "brain", "v1", tmp)
    moto_registry.register_version("brain", "v1", reg.version_manifest(manifest, tables))
    moto_registry.set_status("brain", "v1", reg.READY, expected=reg.LOADING)
    moto_registry.switch("brain", "v1", 0)
    yield SimpleNamespace(values=values, tables=tables, manifest=manifest)
    conn = hbase.connection()
    for t in tables.values():
        drop_table(conn, t)
    conn.close()


def test_metadata(dataset: Any, read_env: Any) -> None:
    status, body, headers = call("/datasets/brain")
    assert status == 200, body
    assert body["version"] == "v1" and body["revision"] == 1 and body["groups"] == GROUPS
    assert body["stats"] == ["mean", "median"] and body["genes"] == len(GENES)
    assert headers["X-Dataset-Version"] == "v1"
    assert body["checksum"] == reg.manifest_checksum(dataset.manifest) == headers["X-Dataset-Checksum"]


def test_slice_equals_the_loaded_values(dataset: Any, read_env: Any) -> None:
    status, body, _ = call("/datasets/brain/slice", stat="median", gene=["a,b", "Ménage", "zero"])
    assert status == 200, body
    assert body["groups"] == GROUPS and body["version"] == "v1"
    assert body["checksum"] == reg.manifest_checksum(dataset.manifest)
    for gene in ("a,b", "Ménage", "zero"):
        assert body["values"][gene] == dataset.values["median"][GENES.index(gene)].tolist()


def test_top_n_by_value_then_gene(dataset: Any, read_env: Any) -> None:
    status, body, _ = call("/datasets/brain/top", stat="mean", group="A", n="3")
    assert status == 200, body
    col = dataset.values["mean"][:, 0]
    want = sorted(((g, col[i]) for i, g in enumerate(GENES) if col[i] != 0), key=lambda t: (-t[1], t[0]))[:3]
    assert [(r["gene"], r["value"]) for r in body["genes"]] == want
    assert body["checksum"] == reg.manifest_checksum(dataset.manifest)
    assert body["genes"][0]["gene"] == "Gad1" and body["genes"][1]["gene"] == "a,b"  # the tie at 7.0


BAD = [
    ("/datasets/brain/slice", {"stat": "nope", "gene": "Gad1"}, "stat"),
    ("/datasets/brain/slice", {"stat": "hbase:meta", "gene": "Gad1"}, "stat"),
    ("/datasets/brain/slice", {"stat": "mean", "gene": [f"g{k}" for k in range(10_000)]}, "at most"),
    ("/datasets/hbase:meta/slice", {"stat": "mean", "gene": "Gad1"}, "dataset"),
    ("/datasets/hbase:meta", {}, "dataset"),
    ("/datasets/brain/slice", {"stat": "mean", "gene": "Gad1\x00"}, "control"),
    ("/datasets/brain/slice", {"stat": "mean", "gene": "G\u0430d1"}, "mixes scripts"),  # Cyrillic a
    ("/datasets/brain/slice", {"stat": "mean", "gene": "Gad\u200b1"}, "invisible"),
    ("/datasets/brain/slice", {"stat": "mean", "gene": "Me\u0301nage"}, "NFC"),
    ("/datasets/brain/slice", {"stat": "mean", "gene": "G" * 300}, "longer than"),
    ("/datasets/brain/slice", {"stat": "mean"}, "at least one"),
    ("/datasets/brain/slice", {"stat": "q25", "gene": "Gad1"}, "this dataset has"),
    ("/datasets/brain/top", {"stat": "mean", "group": "A", "n": "0"}, "whole number"),
    ("/datasets/brain/top", {"stat": "mean", "group": "A", "n": "\uff11\uff10"}, "whole number"),
    ("/datasets/brain/top", {"stat": "mean", "group": "A", "n": "1001"}, "whole number"),
    ("/datasets/brain/top", {"stat": "mean", "group": "A" * 300}, "longer than"),
    ("/datasets/brain/top", {"stat": ["mean", "median"], "group": "A"}, "once"),
]


@pytest.mark.parametrize(("path", "params", "message"), BAD, ids=[b[2] + str(k) for k, b in enumerate(BAD)])
def test_bad_input_is_400_without_a_thrift_call(
    dataset: Any, read_env: Any, monkeypatch: pytest.MonkeyPatch, path: str, params: dict, message: str
) -> None:
    def no_thrift(*_: Any) -> Any:
        raise AssertionError("a Thrift connection was opened for a bad request")

    monkeypatch.setattr(h, "_connection", no_thrift)
    status, body, _ = call(path, **params)
    assert status == 400, body
    assert message in body["message"] and "Traceback" not in json.dumps(body)


def test_unknown_dataset_gene_and_group_are_404(dataset: Any, read_env: Any) -> None:
    assert call("/datasets/nothing-here")[0] == 404
    status, body, _ = call("/datasets/brain/slice", stat="mean", gene=["Gad1", "NoSuchGene"])
    assert status == 404 and "NoSuchGene" in body["message"]
    assert call("/datasets/brain/top", stat="mean", group="Z")[0] == 404
    assert call("/datasets/brain/elsewhere")[0] == 404


def test_hbase_not_listening_is_503_with_retry_after(dataset: Any, read_env: Any, monkeypatch) -> None:
    monkeypatch.setenv("HBASE_THRIFT_PORT", str(services.free_port()))  # nothing listens there
    status, body, headers = call("/datasets/brain/slice", stat="mean", gene="Gad1")
    assert status == 503 and headers["Retry-After"] == "5", body
    assert "unreachable" in body["message"]


def test_stalled_server_is_504_within_the_timeout(dataset: Any, read_env: Any, monkeypatch) -> None:
    """A socket that accepts and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("HBASE_THRIFT_PORT", str(server.getsockname()[1]))
        monkeypatch.setenv("THRIFT_TIMEOUT_MS", "600")
        started = time.monotonic()
        status, body, _ = call("/datasets/brain/slice", stat="mean", gene="Gad1")
        elapsed = time.monotonic() - started
        assert status == 504, body
        assert 0.5 <= elapsed < 2.0, elapsed
    finally:
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()
        server.close()


def test_timeout_stays_below_the_lambda_remaining_time(read_env: Any, monkeypatch) -> None:
    monkeypatch.setenv("THRIFT_TIMEOUT_MS", "3000")
    assert h._timeout_ms(SimpleNamespace(get_remaining_time_in_millis=lambda: 1200)) == 700
    assert h._timeout_ms(SimpleNamespace(get_remaining_time_in_millis=lambda: 60_000)) == 3000


def test_rows_of_another_version_are_refused(
    dataset: Any, read_env: Any, moto_registry: reg.Registry
) -> None:
    """A registry entry naming tables whose rows carry another version's stamp: 503, not a mix."""
    manifest = reg.version_manifest({**dataset.manifest, "version": "v9"}, dataset.tables)
    moto_registry.register_version("liar", "v9", manifest)
    moto_registry.set_status("liar", "v9", reg.READY, expected=reg.LOADING)
    moto_registry.switch("liar", "v9", 0)
    status, body, _ = call("/datasets/liar/slice", stat="mean", gene="Gad1")
    assert status == 503 and "do not match" in body["message"]


def test_pointer_cache_is_short_and_bounded(dataset: Any, moto_registry: reg.Registry) -> None:
    for name in ("cache-a", "cache-b"):
        moto_registry.register_version(name, "v1", reg.version_manifest(dataset.manifest, dataset.tables))
        moto_registry.set_status(name, "v1", reg.READY, expected=reg.LOADING)
        moto_registry.switch(name, "v1", 0)
    cache = h.PointerCache(ttl=1.0, size=1)
    assert cache.get(moto_registry, "cache-a")[0].active_version == "v1"
    cache.get(moto_registry, "cache-b")
    assert list(cache._entries) == ["cache-b"]  # bounded: the oldest entry went
    moto_registry.register_version("cache-b", "v2", reg.version_manifest(dataset.manifest, dataset.tables))
    moto_registry.set_status("cache-b", "v2", reg.READY, expected=reg.LOADING)
    moto_registry.switch("cache-b", "v2", 1)
    assert cache.get(moto_registry, "cache-b")[0].active_version == "v1"  # within the TTL
    time.sleep(1.05)
    assert cache.get(moto_registry, "cache-b")[0].active_version == "v2"  # expired: read again


def test_layout_constants_match_the_export() -> None:
    assert (h.FAMILY, h.VERSION_QUALIFIER, h.GENE_QUALIFIER, h.VALUE_QUALIFIER) == (
        serving.FAMILY,
        serving.VERSION_QUALIFIER,
        serving.GENE_QUALIFIER,
        serving.VALUE_QUALIFIER,
    )
    assert (h.GROUP_DIGITS, h.KEY_SEP, h.VALUE_SEP, h.TOP_MAX) == (
        serving.GROUP_DIGITS,
        serving.KEY_SEP,
        serving.VALUE_SEP,
        serving.TOP_MAX,
    )
    assert h.DATASET_ID.pattern == serving.DATASET_ID.pattern
    from emr_patterns.lambdas.matrix_read import admin

    assert (admin.FAMILY, admin.VERSION_QUALIFIER, admin.GENE_QUALIFIER, admin.VALUE_QUALIFIER) == (
        serving.FAMILY,
        serving.VERSION_QUALIFIER,
        serving.GENE_QUALIFIER,
        serving.VALUE_QUALIFIER,
    )
    assert (admin.TABLE_PREFIX, admin.VIEWS, admin.MAX_GROUPS) == (
        serving.TABLE_PREFIX,
        serving.VIEWS,
        serving.MAX_GROUPS,
    )
    assert admin.DATASET_ID.pattern == serving.DATASET_ID.pattern
    assert admin.VERSION_ID.pattern == serving.VERSION_ID.pattern
    assert admin.table_names("brain", "v1") == serving.table_names("brain", "v1")
    for view in serving.VIEWS:
        assert ["HBASE_ROW_KEY", *admin.view_columns(view, ["mean", "q25"])] == serving.tsv_columns(
            view, ["mean", "q25"]
        )
    from emr_patterns.jobs.widematrix.pipeline import EXPORT_KIND

    assert admin.EXPORT_KIND == EXPORT_KIND
    assert admin.STATS == h.STATS
    from emr_patterns.jobs.widematrix.stats import STATS

    assert h.STATS == STATS
