"""Pure validators shared by the foundation constructs. Each returns a list of problems."""

from __future__ import annotations

import re
from typing import Any

from emr_patterns import _tokens
from emr_patterns.errors import problem

__all__ = [
    "is_unresolved",
    "validate_bucket_name",
    "validate_kms_key_arn",
    "validate_s3_prefix",
    "validate_s3_uri",
]

_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IP_RE = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")
_KMS_KEY_ARN_RE = re.compile(
    r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/(mrk-[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$"
)
_PREFIX_RE = re.compile(r"^[A-Za-z0-9!_.*'()/=-]+$")


def is_unresolved(value: Any) -> bool:
    """True for CDK tokens, which are only known at deploy time and are not validated.

    Delegates to :func:`emr_patterns._tokens.is_unresolved` (string, number and list tokens).
    """
    return _tokens.is_unresolved(value)


def validate_bucket_name(prop: str, name: str) -> list[str]:
    """S3 general purpose bucket naming rules (length, characters, no ``..``, not an IP)."""
    if is_unresolved(name):
        return []
    fix = "use 3-63 lowercase letters, digits, '.' or '-', starting and ending with a letter or digit"
    if not _BUCKET_RE.match(name):
        return [problem(prop, name, "is not a valid S3 bucket name", fix)]
    if ".." in name or ".-" in name or "-." in name:
        return [problem(prop, name, "contains '..', '.-' or '-.'", fix)]
    if _IP_RE.match(name):
        return [problem(prop, name, "is formatted as an IP address", fix)]
    if name.startswith(("xn--", "sthree-", "amzn-s3-demo-")) or name.endswith(
        ("-s3alias", "--ol-s3", "--x-s3")
    ):
        return [problem(prop, name, "uses a prefix or suffix that S3 reserves", fix)]
    return []


def validate_s3_prefix(prop: str, prefix: str) -> list[str]:
    """An S3 key prefix: relative, no ``..`` segment, safe characters, ends with ``/``."""
    if is_unresolved(prefix):
        return []
    fix = "use a relative prefix of safe characters such as 'emr/logs/' (no leading '/', no '..')"
    if not prefix or prefix.startswith("/") or ".." in prefix or not _PREFIX_RE.match(prefix):
        return [problem(prop, prefix, "is not a safe S3 key prefix", fix)]
    if not prefix.endswith("/"):
        return [problem(prop, prefix, "must end with '/' so it names a folder", f"use {prefix + '/'!r}")]
    return []


def validate_kms_key_arn(prop: str, value: str) -> list[str]:
    """A full KMS key ARN (EMR needs the ARN; an alias or a bare key id is rejected)."""
    if is_unresolved(value):
        return []
    if _KMS_KEY_ARN_RE.match(value):
        return []
    kind = "a KMS alias" if "alias/" in value else "not a KMS key ARN"
    return [
        problem(
            prop,
            value,
            f"is {kind}; EMR requires the full key ARN",
            "pass a kms.IKey (e.g. kms.Key.from_key_arn(...)) or "
            "'arn:aws:kms:<region>:<account>:key/<key-id>'",
        )
    ]


def validate_s3_uri(prop: str, value: str, *, suffix: str | None = None) -> list[str]:
    """An ``s3://bucket/key`` URI with a valid bucket and a key, optionally with a suffix."""
    if is_unresolved(value):
        return []
    fix = f"use 's3://<bucket>/<key>{suffix or ''}'"
    if not isinstance(value, str) or not value.startswith("s3://"):
        return [problem(prop, value, "is not an s3:// location", fix)]
    bucket, _, key = value[len("s3://") :].partition("/")
    problems = validate_bucket_name(prop, bucket)
    if not key or ".." in key.split("/"):
        problems.append(problem(prop, value, "has no object key or a '..' segment", fix))
    elif suffix and not key.endswith(suffix):
        problems.append(problem(prop, value, f"does not name a {suffix} object", fix))
    return problems
