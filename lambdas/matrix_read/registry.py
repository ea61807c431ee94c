"""The dataset registry: which version of each dataset readers see, switched atomically.

One DynamoDB table, key ``dataset`` (string) + ``item`` (string):

* ``item = "pointer"``: ``active_version``, ``revision`` (a number that grows by one on every
  switch, never reused), ``previous_version``, ``switched_at``.
* ``item = "version#<id>"``: ``version``, ``status`` (``LOADING`` -> ``READY`` | ``FAILED``;
  ``READY`` -> ``RETIRED`` when its tables are dropped, or ``FAILED`` when it is aborted),
  ``manifest`` (tables, groups, statistics, row and cell counts, the export it came from and its
  ``checksum``), ``created_at``, ``updated_at``.

A switch is one ``TransactWriteItems``: a condition check that the candidate version is
``READY`` and an update of the pointer conditioned on the revision the caller read. Both hold or
nothing is written. A lost race is a :class:`SwitchConflictError`; a switch to the version that is already
active is a no-op success (so a retried step or a re-run pipeline is harmless); a rollback is a
switch to an older ``READY`` version. Readers read the pointer with a consistent read.

A version leaves service (``FAILED`` or ``RETIRED``, before its tables are dropped) by
:meth:`Registry.take_out_of_service`: one transaction of the status change and a condition check
that the pointer does not name the version. A switch needs the version ``READY``, so once that
transaction holds, no switch can name the version again: its tables can be dropped safely.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

POINTER = "pointer"
VERSION_PREFIX = "version#"
LOADING, READY, FAILED, RETIRED = "LOADING", "READY", "FAILED", "RETIRED"
STATUSES = (LOADING, READY, FAILED, RETIRED)


class RegistryError(Exception):
    """A registry call refused (the message says why and what to do)."""


class SwitchConflictError(RegistryError):
    """The pointer moved since the caller read it (another switch won)."""


class VersionNotReadyError(RegistryError):
    """The candidate version is unknown or not ``READY``."""


@dataclass(frozen=True)
class Pointer:
    """The active version of a dataset and the revision it was switched at."""

    dataset: str
    active_version: str | None
    revision: int
    previous_version: str | None = None
    #: When the pointer last moved (ISO 8601, UTC); None before the first switch.
    switched_at: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class SwitchResult:
    """What a switch did: ``changed`` is False for the no-op re-run."""

    pointer: Pointer
    changed: bool


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def _plain(value: Any) -> Any:
    """DynamoDB's Decimals back to int/float, recursively."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _dynamo(value: Any) -> Any:
    """int/float to Decimal for the resource API (floats as their exact text)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: _dynamo(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_dynamo(v) for v in value]
    return value


class Registry:
    """The protocol over one table (``client`` is a boto3 DynamoDB client)."""

    def __init__(self, table_name: str, client: Any) -> None:
        self.table_name = table_name
        self.client = client
        from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

        self._ser = TypeSerializer()
        self._de = TypeDeserializer()

    def _key(self, dataset: str, item: str) -> dict[str, Any]:
        return {"dataset": {"S": dataset}, "item": {"S": item}}

    def _item(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        return {k: _plain(self._de.deserialize(v)) for k, v in raw.items()}

    def _values(self, values: Mapping[str, Any]) -> dict[str, Any]:
        return {k: self._ser.serialize(_dynamo(v)) for k, v in values.items()}

    # versions -----------------------------------------------------------------------------
    def register_version(self, dataset: str, version: str, manifest: Mapping[str, Any]) -> None:
        """A new version in ``LOADING`` (refused if the id was used before)."""
        now = _now()
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item={
                    **self._key(dataset, VERSION_PREFIX + version),
                    **self._values(
                        {
                            "version": version,
                            "status": LOADING,
                            "manifest": dict(manifest),
                            "created_at": now,
                            "updated_at": now,
                        }
                    ),
                },
                ConditionExpression="attribute_not_exists(#i)",
                ExpressionAttributeNames={"#i": "item"},
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            raise RegistryError(f"{dataset} version {version} exists; version ids are never reused") from None

    def set_status(
        self,
        dataset: str,
        version: str,
        status: str,
        expected: str,
        manifest: Mapping[str, Any] | None = None,
    ) -> None:
        """Move a version from ``expected`` to ``status`` (and replace its manifest if given)."""
        if status not in STATUSES:
            raise ValueError(f"status {status!r}: one of {', '.join(STATUSES)}")
        sets = "#s = :s, updated_at = :t" + (", manifest = :m" if manifest is not None else "")
        values = {":s": status, ":e": expected, ":t": _now()}
        if manifest is not None:
            values[":m"] = dict(manifest)
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=self._key(dataset, VERSION_PREFIX + version),
                UpdateExpression="SET " + sets,
                ConditionExpression="attribute_exists(#i) AND #s = :e",
                ExpressionAttributeNames={"#s": "status", "#i": "item"},
                ExpressionAttributeValues=self._values(values),
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            raise RegistryError(
                f"{dataset} version {version} is not {expected}; not moved to {status}"
            ) from None

    def get_version(self, dataset: str, version: str, consistent: bool = True) -> dict[str, Any] | None:
        raw = self.client.get_item(
            TableName=self.table_name,
            Key=self._key(dataset, VERSION_PREFIX + version),
            ConsistentRead=consistent,
        ).get("Item")
        return self._item(raw) if raw else None

    def versions(self, dataset: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "dataset = :d AND begins_with(#i, :p)",
            "ExpressionAttributeNames": {"#i": "item"},
            "ExpressionAttributeValues": {":d": {"S": dataset}, ":p": {"S": VERSION_PREFIX}},
            "ConsistentRead": True,
        }
        while True:
            page = self.client.query(**kwargs)
            out += [self._item(i) for i in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return out
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    # pointer ------------------------------------------------------------------------------
    def pointer(self, dataset: str, consistent: bool = True) -> Pointer:
        raw = self.client.get_item(
            TableName=self.table_name, Key=self._key(dataset, POINTER), ConsistentRead=consistent
        ).get("Item")
        if not raw:
            return Pointer(dataset, None, 0)
        item = self._item(raw)
        return Pointer(
            dataset,
            item.get("active_version") or None,
            int(item.get("revision", 0)),
            item.get("previous_version") or None,
            item.get("switched_at") or None,
        )

    def datasets(self) -> list[str]:
        """Every dataset with an item in the table (a pointer or a version), sorted."""
        found: set[str] = set()
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "ProjectionExpression": "dataset",
            "ConsistentRead": True,
        }
        while True:
            page = self.client.scan(**kwargs)
            found.update(i["dataset"]["S"] for i in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return sorted(found)
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def take_out_of_service(
        self, dataset: str, version: str, status: str, expected: Sequence[str]
    ) -> str | None:
        """Move ``version`` to ``status`` (``FAILED`` or ``RETIRED``) from one of ``expected``, in one
        transaction with a check that the pointer does not name it.

        Returns the status the version had (``status`` itself when it was already there: nothing
        written), or None for an unknown version (nothing written). Raises :class:`RegistryError`
        when the pointer names the version, or its status is neither ``status`` nor in ``expected``.
        """
        if status not in (FAILED, RETIRED):
            raise ValueError(f"status {status!r}: {FAILED} or {RETIRED}")
        active = self.pointer(dataset).active_version
        if active == version:
            raise RegistryError(
                f"{dataset} version {version} is the active version; switch to another version first"
            )
        item = self.get_version(dataset, version)
        if item is None:
            return None
        had = item["status"]
        if had == status:
            return had
        if had not in expected:
            raise RegistryError(f"{dataset} version {version} is {had}; not moved to {status}")
        not_active = {
            "TableName": self.table_name,
            "Key": self._key(dataset, POINTER),
            "ConditionExpression": "attribute_not_exists(active_version) OR active_version <> :v",
            "ExpressionAttributeValues": self._values({":v": version}),
        }
        move = {
            "TableName": self.table_name,
            "Key": self._key(dataset, VERSION_PREFIX + version),
            "UpdateExpression": "SET #s = :s, updated_at = :t",
            "ConditionExpression": "#s = :e",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": self._values({":s": status, ":e": had, ":t": _now()}),
        }
        try:
            self.client.transact_write_items(TransactItems=[{"ConditionCheck": not_active}, {"Update": move}])
        except self.client.exceptions.TransactionCanceledException as exc:
            reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
            if reasons and reasons[0] == "ConditionalCheckFailed":
                raise RegistryError(
                    f"{dataset} version {version} became the active version; not moved to {status}"
                ) from None
            raise RegistryError(
                f"{dataset} version {version} changed status while being moved to {status}; try again"
            ) from None
        return had

    def switch(self, dataset: str, version: str, expected_revision: int) -> SwitchResult:
        """Point ``dataset`` at ``version`` if it is ``READY`` and the pointer is at ``expected_revision``."""
        current = self.pointer(dataset)
        if current.active_version == version:
            return SwitchResult(current, False)
        new_revision = expected_revision + 1
        update: dict[str, Any] = {
            "Key": self._key(dataset, POINTER),
            "TableName": self.table_name,
            "UpdateExpression": (
                "SET active_version = :v, revision = :n, previous_version = :p, switched_at = :t"
            ),
            "ExpressionAttributeValues": self._values(
                {
                    ":v": version,
                    ":n": new_revision,
                    ":e": expected_revision,
                    ":t": _now(),
                    ":p": current.active_version if current.active_version else "",
                }
            ),
        }
        if expected_revision == 0:
            update["ConditionExpression"] = "attribute_not_exists(revision) OR revision = :e"
        else:
            update["ConditionExpression"] = "revision = :e"
        try:
            self.client.transact_write_items(
                TransactItems=[
                    {
                        "ConditionCheck": {
                            "TableName": self.table_name,
                            "Key": self._key(dataset, VERSION_PREFIX + version),
                            "ConditionExpression": "#s = :r",
                            "ExpressionAttributeNames": {"#s": "status"},
                            "ExpressionAttributeValues": {":r": {"S": READY}},
                        }
                    },
                    {"Update": update},
                ]
            )
        except self.client.exceptions.TransactionCanceledException as exc:
            reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
            if reasons and reasons[0] == "ConditionalCheckFailed":
                found = self.get_version(dataset, version)
                status = found["status"] if found else "unknown"
                raise VersionNotReadyError(
                    f"{dataset} version {version} is {status}, not {READY}; not switched"
                ) from None
            after = self.pointer(dataset)
            if after.active_version == version:  # the same switch won elsewhere: done
                return SwitchResult(after, False)
            raise SwitchConflictError(
                f"{dataset}: pointer is at revision {after.revision} ({after.active_version}), "
                f"not {expected_revision}; read it again and decide"
            ) from None
        return SwitchResult(Pointer(dataset, version, new_revision, current.active_version or None), True)

    def rollback(self, dataset: str, version: str, expected_revision: int) -> SwitchResult:
        """The same switch, to an older version that is still ``READY``."""
        return self.switch(dataset, version, expected_revision)


def manifest_checksum(export_manifest: Mapping[str, Any]) -> str:
    """``sha256:<hex>`` of the export manifest as canonical JSON (sorted keys, no spaces).

    The export manifest names the version, the source file's SHA-256, the statistics, the groups
    and every table's row and cell count, so this identifies one version's content; readers
    return it with every answer."""
    text = json.dumps(export_manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def version_manifest(
    export_manifest: Mapping[str, Any], tables: Mapping[str, str], export: str | None = None
) -> dict[str, Any]:
    """The registry's manifest of a version: the export's groups, statistics and counts, plus
    the names of the tables it was loaded into (the only table names readers ever use), the
    export's location (when given) and :func:`manifest_checksum`."""
    out = {
        "version": export_manifest["version"],
        "group_by": export_manifest.get("group_by"),
        "stats": list(export_manifest["stats"]),
        "groups": [dict(g) for g in export_manifest["groups"]],
        "genes": int(export_manifest["genes"]),
        "source_sha256": export_manifest.get("source_sha256"),
        "tables": {
            view: {"name": tables[view], "rows": int(spec["rows"]), "cells": int(spec["cells"])}
            for view, spec in export_manifest["tables"].items()
        },
        "checksum": manifest_checksum(export_manifest),
    }
    if export is not None:
        out["export"] = export
    return out
