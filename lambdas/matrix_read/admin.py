"""The wide-matrix pipeline's admin handler: prepare, validate, switch and abort a dataset
version, and the scheduled cleanup of old versions' tables.

Invoked by the ``WideMatrixPipeline`` state machine (``LambdaInvoke``; the payload is the event,
the result the returned dict) and by an EventBridge schedule (``cleanup``). Every event has an
``action``; dataset and version ids follow ``serving.DATASET_ID`` / ``serving.VERSION_ID``.

``prepare`` ``{"dataset", "version", "export": "s3://bucket/prefix/"}``
    Reads ``<export>manifest.json`` (written last by ``jobs/widematrix/pipeline.py``), checks it
    (kind, version, statistics, groups, tables and their counts), registers the version
    ``LOADING`` with ``registry.version_manifest`` and creates its empty tables
    ``wm_<dataset>_<version>_genes`` and ``_top`` (family ``s``). A retry is a no-op: the same
    manifest already registered and empty tables are fine. A version id registered with another
    manifest, or in another status, or a table that already holds rows, is a ``RegistryError``.
    Returns ``{"dataset", "version", "expected_revision", "active_version", "loads": {view:
    {"table", "tsv", "hfiles", "columns"}}}``: ``tsv`` is ``<export><view>/``, ``hfiles``
    ``<export without its trailing slash>-hfiles/<view>/`` and ``columns`` the
    ``-Dimporttsv.columns`` value of the view (``serving.bulk_load_commands`` renders the rest).
``validate`` ``{"dataset", "version"}``
    Counts the rows and cells of each table (two batched Thrift scans per table: keys only, then
    the ``s:_v`` column) and compares them with the registry manifest; every row must carry the
    version's stamp and only the view's columns. Equal: ``LOADING`` -> ``READY``, returns
    ``{"dataset", "version", "counts": {view: {"rows", "cells"}}}``. Else ``ValidationFailed``
    naming each view, what was expected and what was found; the status stays as it was.
``switch`` ``{"dataset", "version", "expected_revision"}``
    ``Registry.switch``; returns ``{"dataset", "version", "revision", "changed",
    "previous_version"}``. A re-run is a no-op success (``changed`` false).
``abort`` ``{"dataset", "version"}``
    Never moves the pointer; refuses (``RegistryError``) the active version. Marks the version
    ``FAILED`` (from ``LOADING`` or ``READY``, in one transaction with a check that the pointer does
    not name it, so no switch can name it afterwards), then disables and drops its tables that
    exist. An unknown version is fine (its tables are dropped, nothing is registered). Idempotent.
    Returns ``{"dataset", "version", "dropped": [table names]}``.
``cleanup`` ``{}`` (optional ``"dataset"``; optional ``"now"``, an ISO 8601 time, for tests)
    For each dataset in the registry: when the pointer last moved more than
    ``CLEANUP_GRACE_HOURS`` ago (or never), every version that is neither active nor ``LOADING``
    leaves service: ``READY`` -> ``RETIRED`` (only when it became ``READY`` more than the grace
    period ago too, so a version validated a moment ago whose switch is on its way is kept),
    ``FAILED`` and ``RETIRED`` stay; the tables of all of them are dropped. ``LOADING`` versions
    created more than ``STALE_LOADING_HOURS`` ago -> ``FAILED``, tables dropped. The active
    version's tables are never dropped. Returns ``{"dropped": [table names], "retired":
    ["<dataset>/<version>"], "failed": ["<dataset>/<version>"]}``.

Errors are exceptions whose class names a state machine catches by name: ``BadRequest`` (a
``ValueError``: bad or unknown action, ids or fields), ``ManifestError`` (the export manifest is
missing, unreadable or inconsistent with the event), ``ValidationFailed`` (counts differ),
``RegistryError``, ``SwitchConflictError`` and ``VersionNotReadyError`` (the registry's own),
``HBaseUnavailable`` (Thrift unreachable, refusing, or not answering in time) and
``ConfigError`` (an environment variable that does not parse). Messages say what and what to do.

Environment: ``REGISTRY_TABLE``, ``HBASE_THRIFT_HOST``, ``HBASE_THRIFT_PORT`` (default 9090),
``THRIFT_TIMEOUT_MS`` (default 30000, per Thrift call, and kept below the function's remaining
time), ``CLEANUP_GRACE_HOURS`` (default 24), ``STALE_LOADING_HOURS`` (default 26). AWS clients
come from boto3's default session (region from the environment).
"""

from __future__ import annotations

import contextlib
import datetime
import json
import logging
import os
import re
import sys
import time
from collections.abc import Iterator
from typing import Any

_VENDOR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_vendor")
if os.path.isdir(_VENDOR) and _VENDOR not in sys.path:
    sys.path.append(_VENDOR)

try:  # the package (tests, the wheel) or the Lambda bundle (the folder is the code root)
    from . import registry as _registry
except ImportError:  # pragma: no cover - the Lambda runtime imports admin.py as a module
    import registry as _registry  # type: ignore[no-redef]

LOG = logging.getLogger("matrix_admin")
LOG.setLevel(logging.INFO)

# The serving layout (jobs/widematrix/serving.py; a test keeps these equal to it).
FAMILY = "s"
VERSION_QUALIFIER = "_v"
GENE_QUALIFIER = "g"
VALUE_QUALIFIER = "v"
TABLE_PREFIX = "wm"
VIEWS = ("genes", "top")
MAX_GROUPS = 10**5
DATASET_ID = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
VERSION_ID = re.compile(r"^v[a-z0-9]{1,40}$")
STATS = ("mean", "fraction", "variance", "std", "median", "q25", "q75", "trimmed_mean", "count")
EXPORT_KIND = "widematrix-hbase-export"

ACTIONS = ("check", "prepare", "validate", "switch", "abort", "cleanup")
#: ``s3://<bucket>/<prefix>/``: a bucket name and one or more key segments of safe characters.
EXPORT_URI = re.compile(r"^s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/((?:[A-Za-z0-9!_.*'()=+-]+/)+)$")
MAX_URI = 1024
MAX_MANIFEST_BYTES = 32 * 1024 * 1024
SCAN_BATCH = 1000
#: Stop scanning this long before the function's own time runs out, to answer with an error.
DEADLINE_MARGIN_MS = 3000

RegistryError = _registry.RegistryError
SwitchConflictError = _registry.SwitchConflictError
VersionNotReadyError = _registry.VersionNotReadyError


class BadRequest(ValueError):  # noqa: N818 - the name a state machine's Catch matches
    """The event is malformed: unknown action, bad ids or fields."""


class ManifestError(Exception):
    """The export manifest is missing, unreadable, or does not match the event."""


class ValidationFailed(Exception):  # noqa: N818 - the name a state machine's Catch matches
    """A loaded table does not hold what the manifest says (rows, cells, stamps, columns)."""


class HBaseUnavailable(Exception):  # noqa: N818 - the name a state machine's Catch matches
    """HBase's Thrift server is unreachable, refused the call, or did not answer in time."""


class ConfigError(Exception):
    """An environment variable of the function does not parse."""


# --- configuration ------------------------------------------------------------------------------
def _env_number(name: str, default: float, minimum: float) -> float:
    text = os.environ.get(name)
    if text is None or text == "":
        return default
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{name}={text!r}: give a number (default {default:g})") from None
    if not value >= minimum:
        raise ConfigError(f"{name}={text!r}: give a number >= {minimum:g}")
    return value


# --- the event ------------------------------------------------------------------------------------
def _show(value: Any) -> str:
    return ascii(value)[:80]


def _field(event: dict[str, Any], name: str) -> Any:
    if name not in event:
        raise BadRequest(f"{name}: required for action {event.get('action')!r}")
    return event[name]


def check_dataset(value: Any) -> str:
    if not isinstance(value, str) or not DATASET_ID.match(value):
        raise BadRequest(
            f"dataset {_show(value)}: use 1-40 lower-case letters, digits and inner hyphens, "
            "e.g. 'brain-2024'"
        )
    return value


def check_version(value: Any) -> str:
    if not isinstance(value, str) or not VERSION_ID.match(value):
        raise BadRequest(
            f"version {_show(value)}: use 'v' and 1-40 lower-case letters or digits, e.g. 'v20240501a'"
        )
    return value


def check_revision(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**53:
        raise BadRequest(
            f"expected_revision {_show(value)}: give the whole number prepare returned "
            "(the pointer's revision)"
        )
    return value


def check_export(value: Any) -> tuple[str, str, str]:
    """(URI ending in '/', bucket, key prefix ending in '/')."""
    if not isinstance(value, str) or len(value) > MAX_URI:
        raise BadRequest(f"export {_show(value)}: give the export's S3 URI, s3://bucket/prefix/")
    uri = value if value.endswith("/") else value + "/"
    match = EXPORT_URI.match(uri)
    segments = uri[5:].split("/")[1:-1]
    if not match or any(s in (".", "..") for s in segments):
        raise BadRequest(
            f"export {_show(value)}: give s3://<bucket>/<prefix>/ with a prefix of letters, digits "
            "and !_.*'()=+- (no '//', '.' or '..' segments)"
        )
    return uri, match.group(1), match.group(2)


def check_now(value: Any) -> datetime.datetime:
    if not isinstance(value, str):
        raise BadRequest(f"now {_show(value)}: an ISO 8601 time, e.g. '2026-01-31T12:00:00+00:00'")
    try:
        now = datetime.datetime.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"now {_show(value)}: an ISO 8601 time, e.g. '2026-01-31T12:00:00+00:00'") from None
    return now if now.tzinfo else now.replace(tzinfo=datetime.UTC)


# --- the layout -------------------------------------------------------------------------------------
def table_name(dataset: str, version: str, view: str) -> str:
    return f"{TABLE_PREFIX}_{dataset}_{version}_{view}"


def table_names(dataset: str, version: str) -> dict[str, str]:
    return {view: table_name(dataset, version, view) for view in VIEWS}


def view_columns(view: str, stats: list[str]) -> list[str]:
    """The ``family:qualifier`` columns of a view's rows (ImportTsv's columns after the row key)."""
    if view == "genes":
        return [f"{FAMILY}:{VERSION_QUALIFIER}"] + [f"{FAMILY}:{s}" for s in stats]
    return [f"{FAMILY}:{q}" for q in (VERSION_QUALIFIER, GENE_QUALIFIER, VALUE_QUALIFIER)]


def _time(text: Any) -> datetime.datetime | None:
    if not isinstance(text, str):
        return None
    try:
        when = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=datetime.UTC)


# --- AWS clients (lazy, reused across invocations) ------------------------------------------------
_REGISTRY: Any = None
_S3: Any = None


def _client_config() -> Any:
    from botocore.config import Config

    return Config(connect_timeout=3, read_timeout=10, retries={"mode": "standard", "max_attempts": 5})


def registry() -> Any:
    global _REGISTRY
    if _REGISTRY is None:
        import boto3

        table = os.environ.get("REGISTRY_TABLE")
        if not table:
            raise ConfigError("REGISTRY_TABLE: set it to the DatasetRegistry table's name")
        _REGISTRY = _registry.Registry(table, boto3.client("dynamodb", config=_client_config()))
    return _REGISTRY


def s3() -> Any:
    global _S3
    if _S3 is None:
        import boto3

        _S3 = boto3.client("s3", config=_client_config())
    return _S3


def reset_clients() -> None:
    """Forget the cached AWS clients (tests: a new moto context)."""
    global _REGISTRY, _S3
    _REGISTRY = _S3 = None


# --- HBase through Thrift -------------------------------------------------------------------------
class _Deadline:
    """The function's time budget: ``check`` raises before Lambda would stop the function."""

    def __init__(self, context: Any) -> None:
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        self.at = time.monotonic() + (int(remaining()) - DEADLINE_MARGIN_MS) / 1000 if remaining else None

    def left_ms(self) -> int | None:
        return None if self.at is None else int((self.at - time.monotonic()) * 1000)

    def check(self, what: str) -> None:
        left = self.left_ms()
        if left is not None and left <= 0:
            raise HBaseUnavailable(
                f"{what}: not finished within the function's time; raise the function's timeout "
                "or THRIFT_TIMEOUT_MS, then run the step again"
            )


def _thrift_error_name(exc: BaseException) -> str:
    return type(exc).__name__


@contextlib.contextmanager
def _thrift_errors(what: str) -> Iterator[None]:
    """Transport failures, timeouts and HBase's own errors as ``HBaseUnavailable``."""
    from thriftpy2.thrift import TApplicationException
    from thriftpy2.transport import TTransportException

    try:
        yield
    except TimeoutError:
        raise HBaseUnavailable(f"{what}: HBase did not answer within THRIFT_TIMEOUT_MS; try again") from None
    except (TTransportException, ConnectionError, OSError):
        raise HBaseUnavailable(f"{what}: HBase's Thrift server is unreachable; try again shortly") from None
    except TApplicationException:
        raise HBaseUnavailable(f"{what}: HBase's Thrift server refused the call; try again shortly") from None
    except Exception as exc:
        if _thrift_error_name(exc) in ("IOError", "IllegalArgument"):  # Hbase.thrift's errors
            detail = str(getattr(exc, "message", "") or exc).splitlines()[0][:300] if str(exc) else ""
            raise HBaseUnavailable(f"{what}: HBase refused: {detail}") from None
        raise


class HBase:
    """One Thrift connection for one invocation (opened on first use, closed at the end)."""

    def __init__(self, deadline: _Deadline) -> None:
        self.deadline = deadline
        self._conn: Any = None

    def conn(self) -> Any:
        if self._conn is None:
            import happybase

            host = os.environ.get("HBASE_THRIFT_HOST")
            if not host:
                raise ConfigError("HBASE_THRIFT_HOST: set it to the HBase cluster's primary node")
            port = int(_env_number("HBASE_THRIFT_PORT", 9090, 1))
            timeout = int(_env_number("THRIFT_TIMEOUT_MS", 30000, 100))
            left = self.deadline.left_ms()
            if left is not None:
                timeout = max(100, min(timeout, left))
            conn = happybase.Connection(host, port, timeout=timeout, autoconnect=False)
            with _thrift_errors("connect"):
                conn.open()
            self._conn = conn
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

    def tables(self) -> set[str]:
        with _thrift_errors("list tables"):
            return {t.decode("utf-8") for t in self.conn().tables()}

    def enabled(self, name: str) -> bool:
        with _thrift_errors(f"state of {name}"):
            return bool(self.conn().is_table_enabled(name))

    def has_rows(self, name: str) -> bool:
        with _thrift_errors(f"read {name}"):
            return any(True for _ in self.conn().table(name).scan(filter="KeyOnlyFilter()", limit=1))

    def create(self, name: str) -> bool:
        """Create the table; False when it exists already (a concurrent retry created it)."""
        with _thrift_errors(f"create {name}"):
            try:
                self.conn().create_table(name, {FAMILY: {"max_versions": 1}})
            except Exception as exc:
                if _thrift_error_name(exc) == "AlreadyExists":
                    return False
                raise
        return True

    def drop(self, name: str) -> None:
        with _thrift_errors(f"drop {name}"):
            conn = self.conn()
            if conn.is_table_enabled(name):  # a drop that stopped half way left it disabled
                conn.disable_table(name)
            conn.delete_table(name)

    def count(self, name: str, version: str, columns: list[str]) -> dict[str, Any]:
        """Rows and cells; up to 3 rows with a column not in ``columns``; rows with the stamp
        column (``stamped``), how many of them hold another stamp than ``version`` and the first."""
        wanted = {c.encode() for c in columns}
        stamp_column = f"{FAMILY}:{VERSION_QUALIFIER}".encode()
        out: dict[str, Any] = {"rows": 0, "cells": 0, "foreign": [], "stamped": 0, "wrong": 0, "first": None}
        with _thrift_errors(f"scan {name}"):
            table = self.conn().table(name)
            for key, row in table.scan(filter="KeyOnlyFilter()", batch_size=SCAN_BATCH):
                out["rows"] += 1
                out["cells"] += len(row)
                extra = set(row) - wanted
                if extra and len(out["foreign"]) < 3:
                    out["foreign"].append((key, sorted(extra)))
                if out["rows"] % SCAN_BATCH == 0:
                    self.deadline.check(f"validate {name}")
            for key, row in table.scan(columns=[stamp_column], batch_size=SCAN_BATCH):
                out["stamped"] += 1
                if row.get(stamp_column) != version.encode():
                    out["wrong"] += 1
                    out["first"] = out["first"] or (key, row.get(stamp_column))
                if out["stamped"] % SCAN_BATCH == 0:
                    self.deadline.check(f"validate {name}")
        return out


# --- the export manifest --------------------------------------------------------------------------
def _count(spec: Any, key: str) -> int | None:
    value = spec.get(key) if isinstance(spec, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def check_manifest(manifest: Any, version: str, where: str) -> list[str]:
    """What is wrong with an export manifest for ``version`` (empty: nothing)."""
    if not isinstance(manifest, dict):
        return [f"{where} is not a JSON object"]
    problems = []
    if manifest.get("kind") != EXPORT_KIND:
        problems.append(f"kind is {_show(manifest.get('kind'))}, not {EXPORT_KIND!r}")
    if manifest.get("version") != version:
        problems.append(
            f"it is the export of version {_show(manifest.get('version'))}, not {version}: "
            "the event and the export disagree"
        )
    stats = manifest.get("stats")
    if (
        not isinstance(stats, list)
        or not stats
        or any(s not in STATS for s in stats)
        or len(set(stats)) != len(stats)
    ):
        problems.append(
            f"stats {_show(stats)}: a non-empty list of distinct statistics of {', '.join(STATS)}"
        )
        stats = None
    groups = manifest.get("groups")
    if (
        not isinstance(groups, list)
        or not groups
        or len(groups) >= MAX_GROUPS
        or any(not isinstance(g, dict) or not isinstance(g.get("group"), str) for g in groups)
    ):
        problems.append("groups: a non-empty list of {'group': name, ...} objects")
    genes = _count(manifest, "genes")
    if genes is None:
        problems.append(f"genes {_show(manifest.get('genes'))}: a whole number of genes")
    tables = manifest.get("tables")
    if not isinstance(tables, dict) or sorted(tables) != sorted(VIEWS):
        problems.append(f"tables: an object with exactly {', '.join(VIEWS)}")
        return problems
    for view in VIEWS:
        spec = tables[view]
        rows, cells = _count(spec, "rows"), _count(spec, "cells")
        if rows is None or cells is None:
            problems.append(f"tables.{view}: rows and cells must be whole numbers")
            continue
        if stats is None:
            continue
        per_row = len(view_columns(view, stats))
        if cells != rows * per_row:
            problems.append(f"tables.{view}: {cells} cells is not {rows} rows x {per_row} columns")
        if view == "genes" and genes is not None and rows != genes:
            problems.append(f"tables.genes: {rows} rows for {genes} genes")
        columns = spec.get("columns")
        if columns is not None and columns != ["HBASE_ROW_KEY", *view_columns(view, stats)]:
            problems.append(f"tables.{view}.columns {_show(columns)} do not match the serving layout")
    return problems


def read_manifest(bucket: str, prefix: str, uri: str) -> dict[str, Any]:
    from botocore.exceptions import ClientError

    where = f"{uri}manifest.json"
    try:
        answer = s3().get_object(Bucket=bucket, Key=prefix + "manifest.json")
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("NoSuchKey", "404", "NotFound"):
            raise ManifestError(
                f"{where} does not exist: the export step has not finished (it writes manifest.json "
                "last) or the export location is wrong"
            ) from None
        if code == "NoSuchBucket":
            raise ManifestError(f"{where}: bucket {bucket} does not exist") from None
        if code in ("AccessDenied", "403", "KMS.AccessDeniedException"):
            raise ManifestError(
                f"{where}: access denied; the function's role needs s3:GetObject there "
                "(and kms:Decrypt on the bucket's key)"
            ) from None
        raise
    if int(answer.get("ContentLength") or 0) > MAX_MANIFEST_BYTES:
        raise ManifestError(f"{where} is larger than {MAX_MANIFEST_BYTES} bytes: not an export manifest")
    body = answer["Body"].read(MAX_MANIFEST_BYTES + 1)
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ManifestError(f"{where} is not JSON; run the export step again") from None


# --- actions --------------------------------------------------------------------------------------
def prepare(event: dict[str, Any], hbase: HBase) -> dict[str, Any]:
    dataset = check_dataset(_field(event, "dataset"))
    version = check_version(_field(event, "version"))
    uri, bucket, prefix = check_export(_field(event, "export"))
    export_manifest = read_manifest(bucket, prefix, uri)
    problems = check_manifest(export_manifest, version, f"{uri}manifest.json")
    if problems:
        raise ManifestError(f"{uri}manifest.json: " + "; ".join(problems))
    tables = table_names(dataset, version)
    manifest = _registry.version_manifest(export_manifest, tables, export=uri)
    reg = registry()

    def same(item: dict[str, Any]) -> None:
        """The registered version is this one, still LOADING (a retry); refuse anything else."""
        if item.get("status") != _registry.LOADING:
            raise RegistryError(
                f"{dataset} version {version} is {item.get('status')}; version ids are never reused: "
                "run the pipeline again with a new version id"
            )
        had = item.get("manifest", {})
        if had.get("checksum") != manifest["checksum"] or had.get("export") != uri:
            raise RegistryError(
                f"{dataset} version {version} is registered with another export manifest "
                f"({had.get('export')}); version ids are never reused: use a new version id"
            )

    existing = reg.get_version(dataset, version)
    if existing is not None:
        same(existing)
    present = hbase.tables()
    for name in tables.values():
        if name not in present:
            continue
        if not hbase.enabled(name):
            raise RegistryError(
                f"table {name} exists but is disabled (a drop stopped half way): run abort for "
                f"{dataset} {version}, then load with a new version id"
            )
        if hbase.has_rows(name):
            raise RegistryError(
                f"table {name} exists and holds rows: this version was loaded before; abort it and "
                "load with a new version id"
            )
    if existing is None:
        try:
            reg.register_version(dataset, version, manifest)
        except RegistryError:
            raced = reg.get_version(dataset, version)  # a concurrent retry registered it first
            if raced is None:
                raise
            same(raced)
    created = [name for name in tables.values() if name not in present and hbase.create(name)]
    pointer = reg.pointer(dataset)
    LOG.info("prepare %s %s: created %s; pointer at revision %d", dataset, version, created, pointer.revision)
    stats = list(export_manifest["stats"])
    return {
        "dataset": dataset,
        "version": version,
        "expected_revision": pointer.revision,
        "active_version": pointer.active_version,
        "loads": {
            view: {
                "table": tables[view],
                "tsv": f"{uri}{view}/",
                "hfiles": f"{uri.rstrip('/')}-hfiles/{view}/",
                "columns": ",".join(["HBASE_ROW_KEY", *view_columns(view, stats)]),
            }
            for view in VIEWS
        },
    }


def _version_item(dataset: str, version: str) -> dict[str, Any]:
    item = registry().get_version(dataset, version)
    if item is None:
        raise RegistryError(f"{dataset} version {version} is not registered: run prepare first")
    return item


def _key(key: bytes) -> str:
    return ascii(key.decode("utf-8", "replace"))[:60]


def validate(event: dict[str, Any], hbase: HBase) -> dict[str, Any]:
    dataset = check_dataset(_field(event, "dataset"))
    version = check_version(_field(event, "version"))
    item = _version_item(dataset, version)
    status = item.get("status")
    if status not in (_registry.LOADING, _registry.READY):
        raise RegistryError(f"{dataset} version {version} is {status}; only LOADING or READY is validated")
    manifest = item.get("manifest", {})
    expected = table_names(dataset, version)
    stats = list(manifest.get("stats", []))
    present = hbase.tables()
    problems, counts = [], {}
    for view in VIEWS:
        spec = manifest.get("tables", {}).get(view, {})
        if spec.get("name") != expected[view]:
            raise RegistryError(
                f"{dataset} version {version}: the registry names table {spec.get('name')} for {view}, "
                f"not {expected[view]}; the entry was not written by prepare"
            )
        want = f"{spec.get('rows')} rows and {spec.get('cells')} cells"
        if expected[view] not in present:
            problems.append(f"{view} table {expected[view]}: expected {want}, found no table")
            continue
        found = hbase.count(expected[view], version, view_columns(view, stats))
        counts[view] = {"rows": found["rows"], "cells": found["cells"]}
        if (found["rows"], found["cells"]) != (spec.get("rows"), spec.get("cells")):
            problems.append(
                f"{view} table {expected[view]}: expected {want} (the export manifest), "
                f"found {found['rows']} rows and {found['cells']} cells"
            )
        if found["foreign"]:
            shown = ", ".join(f"{_key(k)} has {b', '.join(c).decode()}" for k, c in found["foreign"])
            problems.append(f"{view} table {expected[view]}: columns outside the layout ({shown})")
        unstamped = found["wrong"] + max(0, found["rows"] - found["stamped"])
        if unstamped:
            first = found["first"]
            shown = f" (first: {_key(first[0])} stamped {_show(first[1])})" if first else ""
            problems.append(
                f"{view} table {expected[view]}: expected every row stamped {version}, found "
                f"{unstamped} row(s) without that stamp{shown}"
            )
    if problems:
        raise ValidationFailed(
            f"{dataset} version {version} does not match its manifest: "
            + "; ".join(problems)
            + ". Abort this version and load the export again under a new version id"
        )
    if status == _registry.LOADING:
        registry().set_status(dataset, version, _registry.READY, expected=_registry.LOADING)
    LOG.info("validate %s %s: %s", dataset, version, counts)
    return {"dataset": dataset, "version": version, "counts": counts}


def switch(event: dict[str, Any]) -> dict[str, Any]:
    dataset = check_dataset(_field(event, "dataset"))
    version = check_version(_field(event, "version"))
    revision = check_revision(_field(event, "expected_revision"))
    done = registry().switch(dataset, version, revision)
    LOG.info(
        "switch %s -> %s: revision %d, changed %s", dataset, version, done.pointer.revision, done.changed
    )
    return {
        "dataset": dataset,
        "version": version,
        "revision": done.pointer.revision,
        "changed": done.changed,
        "previous_version": done.pointer.previous_version or None,
    }


def _drop_tables(hbase: HBase, dataset: str, version: str, present: set[str] | None = None) -> list[str]:
    present = hbase.tables() if present is None else present
    dropped = []
    for name in table_names(dataset, version).values():
        if name in present:
            hbase.drop(name)
            present.discard(name)
            dropped.append(name)
    return dropped


def abort(event: dict[str, Any], hbase: HBase) -> dict[str, Any]:
    dataset = check_dataset(_field(event, "dataset"))
    version = check_version(_field(event, "version"))
    reg = registry()
    item = reg.get_version(dataset, version)
    if item is not None and item.get("status") == _registry.RETIRED:
        if reg.pointer(dataset).active_version == version:
            raise RegistryError(f"{dataset} version {version} is the active version; not aborted")
    else:  # FAILED first: from then on no switch can name it, so its tables can go
        reg.take_out_of_service(dataset, version, _registry.FAILED, (_registry.LOADING, _registry.READY))
    dropped = _drop_tables(hbase, dataset, version)
    LOG.info("abort %s %s: dropped %s", dataset, version, dropped)
    return {"dataset": dataset, "version": version, "dropped": dropped}


def cleanup(event: dict[str, Any], hbase: HBase) -> dict[str, Any]:
    now = check_now(event["now"]) if event.get("now") is not None else datetime.datetime.now(datetime.UTC)
    grace = datetime.timedelta(hours=_env_number("CLEANUP_GRACE_HOURS", 24, 0))
    stale = datetime.timedelta(hours=_env_number("STALE_LOADING_HOURS", 26, 0))
    only = check_dataset(event["dataset"]) if event.get("dataset") is not None else None
    reg = registry()
    datasets = [only] if only is not None else reg.datasets()
    dropped: list[str] = []
    retired: list[str] = []
    failed: list[str] = []
    present: set[str] | None = None

    def older(when: Any, age: datetime.timedelta) -> bool:
        moment = _time(when)
        return moment is None or now - moment >= age

    for dataset in datasets:
        pointer = reg.pointer(dataset)
        grace_over = pointer.switched_at is None or older(pointer.switched_at, grace)
        for item in reg.versions(dataset):
            version, status = item.get("version"), item.get("status")
            if not isinstance(version, str) or not VERSION_ID.match(version):
                continue
            if version == pointer.active_version:
                continue
            if status == _registry.LOADING:
                if not older(item.get("created_at"), stale):
                    continue
                target, outcome = _registry.FAILED, failed
            elif grace_over and status == _registry.READY and older(item.get("updated_at"), grace):
                target, outcome = _registry.RETIRED, retired
            elif grace_over and status in (_registry.FAILED, _registry.RETIRED):
                target, outcome = status, None
            else:
                continue
            try:
                reg.take_out_of_service(dataset, version, target, (status,))
            except RegistryError as exc:  # it became active, or moved on, meanwhile: leave it
                LOG.warning("cleanup %s %s: skipped (%s)", dataset, version, exc)
                continue
            if outcome is not None:
                outcome.append(f"{dataset}/{version}")
            if present is None:
                present = hbase.tables()
            dropped += _drop_tables(hbase, dataset, version, present)
    LOG.info("cleanup: dropped %s; retired %s; failed %s", dropped, retired, failed)
    return {"dropped": dropped, "retired": retired, "failed": failed}


def check(event: dict[str, Any]) -> dict[str, Any]:
    """The pipeline's first call, before any cluster exists: both ids well formed (the dataset id
    comes from the upload's key) and the version id not used before."""
    dataset = check_dataset(_field(event, "dataset"))
    version = check_version(_field(event, "version"))
    if registry().get_version(dataset, version) is not None:
        raise RegistryError(f"{dataset} version {version} exists; version ids are never reused")
    return {"dataset": dataset, "version": version}


def handler(event: Any, context: Any = None) -> dict[str, Any]:
    """The entry point: one action per event; errors are raised for the state machine to catch."""
    if not isinstance(event, dict):
        raise BadRequest("the event must be a JSON object with an 'action'")
    action = event.get("action")
    if action not in ACTIONS:
        raise BadRequest(f"action {_show(action)}: one of {', '.join(ACTIONS)}")
    if action == "check":
        return check(event)
    if action == "switch":
        return switch(event)
    hbase = HBase(_Deadline(context))
    try:
        if action == "prepare":
            return prepare(event, hbase)
        if action == "validate":
            return validate(event, hbase)
        if action == "abort":
            return abort(event, hbase)
        return cleanup(event, hbase)
    finally:
        hbase.close()
