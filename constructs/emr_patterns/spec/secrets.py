"""Secret detection for configuration properties, and the ``EMR.secret@`` annotation.

Secrets never appear as values: a property whose key looks like a password, secret or credential
must use EMR's annotation, ``EMR.secret@<key>`` with the Secrets Manager secret ARN as the value.
EMR strips the annotation, fetches the (plaintext) secret and shows only the ARN in
``DescribeCluster``.

Detection is by key name: a key matches a secret word (``password``, ``secret``, ``credential``,
``token``, ``access.key``, ``bindpw``, ...) unless it ends in a word that names a mechanism rather
than a value (``.provider``, ``.class``, ``.path``, ``.enabled``, ``.timeout``, ...). A key that
still matches but holds no secret (``hadoop.security.token.service.use_ip``) is passed with the
escape hatch ``Configuration(..., not_secret_keys=("hadoop.security.token.service.use_ip",))``;
the error for a flagged key names it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from emr_patterns._tokens import is_unresolved
from emr_patterns.errors import problem

__all__ = [
    "SECRET_ANNOTATION",
    "bare_key",
    "is_secret_reference",
    "looks_secret",
    "secret_property",
    "secret_value_problems",
]

SECRET_ANNOTATION = "EMR.secret@"
"""Prefix EMR reads on a property key: the value is a Secrets Manager secret ARN to fetch."""

_SECRET_KEY = re.compile(
    r"(password|passwd|passphrase|secret|credential|private[._-]?key|access[._-]?key|token"
    r"|(^|[._-])(bind)?pw$)",
    re.IGNORECASE,
)
# Keys that name a mechanism rather than hold a secret (provider classes, paths, switches, timings).
_NOT_A_SECRET = re.compile(
    r"[._-](provider|providers|class|classname|file|path|location|dir|enabled|enable|type|expiry|ttl"
    r"|timeout|interval|manager|lifetime|kind|mode|size|alias|principal|keytab|method|mechanism|user"
    r"|username|renew|renewer)$",
    re.IGNORECASE,
)
_SECRET_ARN = re.compile(r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$")


def bare_key(key: str) -> str:
    """``key`` without the ``EMR.secret@`` annotation."""
    return key[len(SECRET_ANNOTATION) :] if key.startswith(SECRET_ANNOTATION) else key


def looks_secret(key: str) -> bool:
    """True if a property key looks like it holds a password, secret or credential."""
    bare = bare_key(key)
    return bool(_SECRET_KEY.search(bare)) and not _NOT_A_SECRET.search(bare)


def is_secret_reference(value: str) -> bool:
    """True if ``value`` is a Secrets Manager secret ARN (or a CDK token standing for one)."""
    return bool(_SECRET_ARN.match(value)) or is_unresolved(value)


def secret_property(key: str, secret_arn: str) -> dict[str, str]:
    """``{"EMR.secret@<key>": secret_arn}``: a property EMR fills from Secrets Manager at launch."""
    return {f"{SECRET_ANNOTATION}{key}": secret_arn}


def secret_value_problems(
    classification: str,
    properties: Mapping[str, str],
    *,
    prop: str,
    not_secret_keys: Iterable[str] = (),
) -> list[str]:
    """Problems for secret-looking keys with literal values, and annotations that are not ARNs.

    Keys in ``not_secret_keys`` are declared not to be secrets and are not flagged.
    """
    allowed = frozenset(not_secret_keys)
    problems: list[str] = []
    for key, value in properties.items():
        where = f"{prop}[{classification}][{key}]"
        if key.startswith(SECRET_ANNOTATION):
            if not is_secret_reference(value):
                problems.append(
                    problem(
                        where,
                        "<redacted>",
                        "an EMR.secret@ key must hold a Secrets Manager secret ARN",
                        "set the value to the secret's full ARN (arn:aws:secretsmanager:...:secret:...)",
                    )
                )
        elif looks_secret(key) and value != "" and key not in allowed:
            problems.append(
                problem(
                    where,
                    "<redacted>",
                    "looks like a password, secret or credential but has a literal value, which "
                    "DescribeCluster would show in plaintext",
                    f"store it in Secrets Manager (plaintext secret) and use "
                    f"secret_property({key!r}, secret_arn), i.e. key '{SECRET_ANNOTATION}{key}'; "
                    f"if it is not a secret, declare it with "
                    f"Configuration(..., not_secret_keys=({key!r},))",
                )
            )
    return problems
