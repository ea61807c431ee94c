"""API Gateway (REST, Lambda proxy) handler of the wide-matrix read API.

Endpoints (``GET``; ``{dataset}`` is a dataset id, ``[a-z0-9-]``)::

    /datasets/{dataset}                         the active version's metadata (registry only)
    /datasets/{dataset}/slice?stat=S&gene=G...  genes x groups for one statistic (1-200 genes,
                                                repeat ``gene``; names may hold commas)
    /datasets/{dataset}/top?stat=S&group=G&n=N  the top N (1-1000) genes of a group

Every answer names the ``version``, ``revision`` and ``checksum`` it was read from (also in the
``X-Dataset-Version`` and ``X-Dataset-Checksum`` headers), and all of it comes from that one
version: table names come only from the registry's manifest of the version the pointer names
(never from the request), and every row read must carry that version's stamp (``s:_v``). The
checksum is the registry manifest's ``checksum`` (``registry.manifest_checksum``: SHA-256 of the
version's export manifest), so a client can tell which version, and which content, an answer
belongs to.

The pointer is read from DynamoDB with a consistent read and cached for at most
``POINTER_CACHE_S`` seconds (default 5) per dataset, at most ``POINTER_CACHE_ENTRIES`` datasets.
A cached pointer may be a switch behind; its version's tables are kept for the pipeline's grace
period (hours), far longer than the cache, so such a read is still entirely the older version.

Inputs are checked before any HBase call: unknown statistic, too many genes, names longer than
``MAX_NAME_BYTES`` bytes, control or invisible characters (NUL, bidi controls, zero-width),
text not in NFC, names mixing scripts (a Cyrillic or Greek look-alike inside a Latin name) and
malformed dataset ids (``hbase:meta``) are 400. Unknown dataset, gene or group: 404. HBase
unreachable or refusing: 503 with ``Retry-After``. No answer within the Thrift timeout
(``THRIFT_TIMEOUT_MS``, default 3000, kept below the function's remaining time and so below the
Lambda and API Gateway limits): 504. Anything else: 500 with a request id, never a stack trace.

Environment: ``REGISTRY_TABLE``, ``HBASE_THRIFT_HOST``, ``HBASE_THRIFT_PORT`` (default 9090),
``THRIFT_TIMEOUT_MS``, ``POINTER_CACHE_S``, ``POINTER_CACHE_ENTRIES``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import re
import sys
import threading
import time
import unicodedata
import uuid
from collections import OrderedDict
from typing import Any

_VENDOR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_vendor")
if os.path.isdir(_VENDOR) and _VENDOR not in sys.path:
    sys.path.append(_VENDOR)

try:  # the package (tests, the wheel) or the Lambda bundle (the folder is the code root)
    from . import registry as _registry
except ImportError:  # pragma: no cover - the Lambda runtime imports handler.py as a module
    import registry as _registry  # type: ignore[no-redef]

LOG = logging.getLogger("matrix_read")
LOG.setLevel(logging.INFO)

# The serving layout (jobs/widematrix/serving.py; a test keeps these equal to it).
FAMILY = "s"
VERSION_QUALIFIER = "_v"
GENE_QUALIFIER = "g"
VALUE_QUALIFIER = "v"
GROUP_DIGITS = 5
KEY_SEP = "|"
VALUE_SEP = ","
TOP_MAX = 1000
DATASET_ID = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
STATS = ("mean", "fraction", "variance", "std", "median", "q25", "q75", "trimmed_mean", "count")

MAX_GENES = 200
MAX_NAME_BYTES = 256
MAX_QUERY_BYTES = 64 * 1024
RETRY_AFTER_S = 5
_SCRIPTS = ("LATIN", "CYRILLIC", "GREEK", "ARMENIAN", "CHEROKEE", "COPTIC", "GEORGIAN")


class HttpError(Exception):
    """An answer other than 200: status, message and extra headers."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


# --- input checks (no I/O) ------------------------------------------------------------------
def check_name(kind: str, text: str) -> str:
    """A gene or group name: bounded, printable, NFC, one script. 400 otherwise."""
    if not isinstance(text, str) or not text:
        raise HttpError(400, f"{kind}: empty")
    if len(text.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        raise HttpError(400, f"{kind}: longer than {MAX_NAME_BYTES} bytes")
    if text.isascii() and text.isprintable():  # the common case: one script, no controls, NFC
        return text
    for ch in text:
        cat = unicodedata.category(ch)
        if cat in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            raise HttpError(
                400, f"{kind} {ascii(text)[:80]}: holds a control or invisible character (U+{ord(ch):04X})"
            )
    if unicodedata.normalize("NFC", text) != text:
        raise HttpError(400, f"{kind} {ascii(text)[:80]}: not in Unicode NFC form")
    scripts = set()
    for ch in text:
        if ch.isalpha():
            word = unicodedata.name(ch, "").split(" ", 1)[0]
            if word in _SCRIPTS:
                scripts.add(word)
    if len(scripts) > 1:
        raise HttpError(
            400,
            f"{kind} {ascii(text)[:80]}: mixes scripts ({', '.join(sorted(scripts))}); look-alike letters?",
        )
    return text


def check_dataset(dataset: Any) -> str:
    if not isinstance(dataset, str) or not DATASET_ID.match(dataset):
        raise HttpError(400, "dataset: use the dataset id (lower-case letters, digits, hyphens)")
    return dataset


def check_stat(stat: Any) -> str:
    if not isinstance(stat, str) or stat not in STATS:
        raise HttpError(400, f"stat: one of {', '.join(STATS)}")
    return stat


def _one(params: dict[str, list[str]], name: str, required: bool = True) -> str | None:
    values = params.get(name) or []
    if len(values) > 1:
        raise HttpError(400, f"{name}: give it once")
    if not values:
        if required:
            raise HttpError(400, f"{name}: required")
        return None
    return values[0]


def _params(event: dict[str, Any]) -> dict[str, list[str]]:
    multi = event.get("multiValueQueryStringParameters") or {}
    single = event.get("queryStringParameters") or {}
    params = {k: list(v) for k, v in multi.items() if v is not None} or {k: [v] for k, v in single.items()}
    if sum(len(k) + sum(len(x) for x in v) for k, v in params.items()) > MAX_QUERY_BYTES:
        raise HttpError(400, f"query string longer than {MAX_QUERY_BYTES} bytes")
    return params


# --- registry, with a short bounded cache ------------------------------------------------------
class PointerCache:
    """dataset -> (pointer, version item), each entry kept ``ttl`` seconds, at most ``size`` entries."""

    def __init__(self, ttl: float, size: int) -> None:
        self.ttl, self.size = ttl, size
        self._entries: OrderedDict[str, tuple[float, Any, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, registry: Any, dataset: str) -> tuple[Any, dict[str, Any]]:
        now = time.monotonic()
        with self._lock:
            hit = self._entries.get(dataset)
            if hit and hit[0] > now:
                return hit[1], hit[2]
        pointer = registry.pointer(dataset, consistent=True)
        if not pointer.active_version:
            raise HttpError(404, f"dataset {dataset}: unknown (no active version)")
        item = registry.get_version(dataset, pointer.active_version, consistent=True)
        if not item or item.get("status") != _registry.READY:
            raise HttpError(503, f"dataset {dataset}: its active version is not available", _retry())
        with self._lock:
            self._entries[dataset] = (now + self.ttl, pointer, item)
            self._entries.move_to_end(dataset)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return pointer, item

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


CACHE = PointerCache(float(os.environ.get("POINTER_CACHE_S", "5")), _env_int("POINTER_CACHE_ENTRIES", 128))
_REGISTRY: Any = None
#: The warm Thrift connection, one per thread (a happybase connection is not thread-safe; Lambda
#: runs one request at a time per container, a test or a benchmark may run several threads).
_LOCAL = threading.local()


def _retry() -> dict[str, str]:
    return {"Retry-After": str(RETRY_AFTER_S)}


def registry() -> Any:
    global _REGISTRY
    if _REGISTRY is None:
        import boto3
        from botocore.config import Config

        client = boto3.client(
            "dynamodb",
            config=Config(connect_timeout=1, read_timeout=2, retries={"mode": "standard", "max_attempts": 2}),
        )
        _REGISTRY = _registry.Registry(os.environ["REGISTRY_TABLE"], client)
    return _REGISTRY


# --- HBase ------------------------------------------------------------------------------------
def _timeout_ms(context: Any) -> int:
    limit = _env_int("THRIFT_TIMEOUT_MS", 3000)
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is not None:
        limit = min(limit, max(100, int(remaining()) - 500))  # answer before Lambda stops us
    return limit


def _connection(timeout_ms: int) -> Any:
    """The warm connection (reused across invocations); a new one when the timeout must change."""
    import happybase

    if getattr(_LOCAL, "conn", None) is not None and timeout_ms != _LOCAL.timeout:
        _drop_connection()
    if getattr(_LOCAL, "conn", None) is None:
        host = os.environ["HBASE_THRIFT_HOST"]
        port = _env_int("HBASE_THRIFT_PORT", 9090)
        conn = happybase.Connection(host, port, timeout=timeout_ms, autoconnect=False)
        conn.open()
        _LOCAL.conn, _LOCAL.timeout = conn, timeout_ms
    return _LOCAL.conn


def _drop_connection() -> None:
    conn = getattr(_LOCAL, "conn", None)
    if conn is not None:
        with contextlib.suppress(Exception):  # already broken
            conn.close()
    _LOCAL.conn = None


def _hbase_call(fn: Any, timeout_ms: int) -> Any:
    """Run ``fn(connection)``; transport failures become 503, a timeout 504."""
    from thriftpy2.thrift import TApplicationException
    from thriftpy2.transport import TTransportException

    try:
        return fn(_connection(timeout_ms))
    except TimeoutError:
        _drop_connection()
        raise HttpError(504, f"HBase did not answer within {timeout_ms} ms") from None
    except (TTransportException, ConnectionError, OSError):
        _drop_connection()
        raise HttpError(503, "HBase is unreachable; try again shortly", _retry()) from None
    except TApplicationException:
        _drop_connection()
        raise HttpError(503, "HBase refused the request; try again shortly", _retry()) from None
    except Exception as exc:
        if type(exc).__name__ in ("IOError", "IllegalArgument", "TIOError"):  # Hbase.thrift's errors
            _drop_connection()
            raise HttpError(
                503, "HBase could not serve the version's tables; try again shortly", _retry()
            ) from None
        raise


def _stamp_ok(row: dict[bytes, bytes], version: str) -> bool:
    return row.get(f"{FAMILY}:{VERSION_QUALIFIER}".encode()) == version.encode()


def _inconsistent(version: str) -> HttpError:
    LOG.error("rows without the stamp of version %s", version)
    return HttpError(503, "the dataset's tables do not match its registry entry; try again shortly", _retry())


def _decode_vector(text: bytes, n: int) -> list[float]:
    parts = text.decode("ascii").split(VALUE_SEP)
    if len(parts) != n:
        raise ValueError(f"{len(parts)} values for {n} groups")
    return [float(p) for p in parts]


def _json_number(value: float) -> float | None:
    return value if math.isfinite(value) else None  # JSON has no NaN or infinity


# --- endpoints --------------------------------------------------------------------------------
def _checksum(item: dict[str, Any]) -> str | None:
    return item.get("manifest", {}).get("checksum")


def metadata(dataset: str, pointer: Any, item: dict[str, Any]) -> dict[str, Any]:
    m = item.get("manifest", {})
    return {
        "dataset": dataset,
        "version": pointer.active_version,
        "revision": pointer.revision,
        "checksum": _checksum(item),
        "previous_version": pointer.previous_version or None,
        "group_by": m.get("group_by"),
        "groups": [g["group"] for g in m.get("groups", [])],
        "cells": {g["group"]: g["cells"] for g in m.get("groups", [])},
        "stats": m.get("stats", []),
        "genes": m.get("genes"),
        "created_at": item.get("created_at"),
    }


def _manifest_stat(item: dict[str, Any], stat: str) -> None:
    stats = item.get("manifest", {}).get("stats", [])
    if stat not in stats:
        raise HttpError(400, f"stat {stat}: this dataset has {', '.join(stats)}")


def slice_(
    dataset: str, params: dict[str, list[str]], pointer: Any, item: dict[str, Any], timeout_ms: int
) -> dict:
    stat = check_stat(_one(params, "stat"))
    genes = params.get("gene") or []
    if not genes:
        raise HttpError(400, "gene: give at least one (repeat gene=... for more)")
    if len(genes) > MAX_GENES:
        raise HttpError(400, f"gene: at most {MAX_GENES} per request, not {len(genes)}")
    genes = [check_name("gene", g) for g in genes]
    _manifest_stat(item, stat)
    groups = [g["group"] for g in item["manifest"]["groups"]]
    version = pointer.active_version
    table_name = item["manifest"]["tables"]["genes"]["name"]
    column = f"{FAMILY}:{stat}".encode()
    keys = list(dict.fromkeys(g.encode("utf-8") for g in genes))

    def read(conn: Any) -> list[tuple[bytes, dict[bytes, bytes]]]:
        return conn.table(table_name).rows(keys, columns=[f"{FAMILY}:{VERSION_QUALIFIER}".encode(), column])

    rows = dict(_hbase_call(read, timeout_ms))
    missing = [k.decode() for k in keys if k not in rows]
    if missing:
        raise HttpError(404, f"unknown gene(s) in {dataset} {version}: {', '.join(missing[:20])}")
    values: dict[str, list[float | None]] = {}
    for key in keys:
        row = rows[key]
        if not _stamp_ok(row, version) or column not in row:
            raise _inconsistent(version)
        values[key.decode()] = [_json_number(v) for v in _decode_vector(row[column], len(groups))]
    return {
        "dataset": dataset,
        "version": version,
        "revision": pointer.revision,
        "checksum": _checksum(item),
        "stat": stat,
        "groups": groups,
        "values": values,
    }


def top(
    dataset: str, params: dict[str, list[str]], pointer: Any, item: dict[str, Any], timeout_ms: int
) -> dict:
    stat = check_stat(_one(params, "stat"))
    group = check_name("group", _one(params, "group") or "")
    n_text = _one(params, "n", required=False) or "100"
    if not n_text.isascii() or not n_text.isdigit() or not 1 <= int(n_text) <= TOP_MAX:
        raise HttpError(400, f"n: a whole number from 1 to {TOP_MAX}")
    n = int(n_text)
    _manifest_stat(item, stat)
    groups = [g["group"] for g in item["manifest"]["groups"]]
    if group not in groups:
        raise HttpError(404, f"unknown group {group!r} in {dataset} {pointer.active_version}")
    version = pointer.active_version
    table_name = item["manifest"]["tables"]["top"]["name"]
    prefix = f"{stat}{KEY_SEP}{groups.index(group):0{GROUP_DIGITS}d}{KEY_SEP}".encode()

    def read(conn: Any) -> list[tuple[bytes, dict[bytes, bytes]]]:
        return list(conn.table(table_name).scan(row_prefix=prefix, limit=n, batch_size=min(n, 1000)))

    rows = _hbase_call(read, timeout_ms)
    out = []
    for _, row in rows:
        if not _stamp_ok(row, version):
            raise _inconsistent(version)
        value = float(row[f"{FAMILY}:{VALUE_QUALIFIER}".encode()])
        out.append(
            {"gene": row[f"{FAMILY}:{GENE_QUALIFIER}".encode()].decode("utf-8"), "value": _json_number(value)}
        )
    return {
        "dataset": dataset,
        "version": version,
        "revision": pointer.revision,
        "checksum": _checksum(item),
        "stat": stat,
        "group": group,
        "n": n,
        "genes": out,
    }


ROUTES = {"": "metadata", "slice": "slice", "top": "top"}


def _route(event: dict[str, Any]) -> tuple[str, str]:
    if (event.get("httpMethod") or "GET") != "GET":
        raise HttpError(405, "only GET", {"Allow": "GET"})
    path = event.get("path") or ""
    parts = [p for p in path.split("/") if p]
    if len(parts) < 2 or parts[0] != "datasets" or len(parts) > 3:
        raise HttpError(404, "no such endpoint: /datasets/{dataset}[/slice|/top]")
    dataset = (event.get("pathParameters") or {}).get("dataset") or parts[1]
    endpoint = parts[2] if len(parts) == 3 else ""
    if endpoint not in ROUTES:
        raise HttpError(404, "no such endpoint: /datasets/{dataset}[/slice|/top]")
    return check_dataset(dataset), ROUTES[endpoint]


def _answer(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json", "Cache-Control": "no-store", **(headers or {})},
        "body": json.dumps(body, allow_nan=False, ensure_ascii=False),
    }


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """The API Gateway proxy entry point: always an HTTP answer, never an exception."""
    request_id = getattr(context, "aws_request_id", None) or uuid.uuid4().hex
    try:
        dataset, endpoint = _route(event)
        params = _params(event)
        timeout_ms = _timeout_ms(context)
        if endpoint == "slice":  # check what needs no registry first
            check_stat(_one(params, "stat"))
        try:
            pointer, item = CACHE.get(registry(), dataset)
        except HttpError:
            raise
        except Exception:
            LOG.exception("registry read failed (request %s)", request_id)
            raise HttpError(503, "the dataset registry is unreachable; try again shortly", _retry()) from None
        if endpoint == "metadata":
            body = metadata(dataset, pointer, item)
        elif endpoint == "slice":
            body = slice_(dataset, params, pointer, item, timeout_ms)
        else:
            body = top(dataset, params, pointer, item, timeout_ms)
        headers = {"X-Dataset-Version": str(pointer.active_version)}
        if body.get("checksum"):
            headers["X-Dataset-Checksum"] = body["checksum"]
        return _answer(200, body, headers)
    except HttpError as exc:
        return _answer(exc.status, {"message": exc.message, "request_id": request_id}, exc.headers)
    except Exception:
        LOG.exception("unexpected error (request %s)", request_id)
        return _answer(500, {"message": "internal error", "request_id": request_id})
