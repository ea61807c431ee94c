"""CDK token detection for every layer, without importing ``aws_cdk`` in the pure spec layer.

A CDK token is a placeholder for a value known only at deploy time. CDK encodes it in the
value's own type: a string token is ``"${Token[...]}"``, a list token is ``["#{Token[...]}"]`` and
a number token is a special double (``Token.as_number(...)``, ``Lazy.number(...)``). Validators
skip unresolved values and renderers pass them through unchanged.

The spec layer must stay importable (and fast) without CDK, so this module never imports
``aws_cdk`` itself. It asks ``aws_cdk.Token.is_unresolved`` only when ``aws_cdk`` is already in
:data:`sys.modules`. That is exact, not a guess: a number, list or object token can only be made
by ``aws_cdk``, so if it was never imported no such token can exist and every number, list and
object is a plain value. String tokens are recognised by CDK's own marker (``${Token[``, or
``#{Token[`` inside a list token), with or without CDK, so a spec holding a token string
validates the same way in both cases.
"""

from __future__ import annotations

import re
import sys
from typing import Any

__all__ = ["STRING_TOKEN", "is_unresolved", "token_str"]

_STRING_MARKERS = ("${Token[", "#{Token[", "Token[TOKEN.")
#: One whole CDK string token inside a string, for code that must keep tokens intact (escaping).
STRING_TOKEN = re.compile(r"\$\{Token\[[^\]]*\]\}")


def _cdk_token_class() -> Any | None:
    cdk = sys.modules.get("aws_cdk")
    return getattr(cdk, "Token", None) if cdk is not None else None


def is_unresolved(value: object) -> bool:
    """True if ``value`` is a CDK token (string, number, list or ``IResolvable``), else False.

    Plain ``bool``, ``int`` and ``None`` are never tokens (CDK number tokens are floats).
    """
    if value is None or isinstance(value, (bool, int)):
        return False
    if isinstance(value, str):
        # Every CDK string token holds the "${Token[" marker (this is what CDK itself matches), so
        # strings need no round trip to the jsii kernel, which validators would pay per value.
        return any(marker in value for marker in _STRING_MARKERS)
    token = _cdk_token_class()
    if token is None:
        return False
    if isinstance(value, float):
        return bool(token.is_unresolved(value))
    if isinstance(value, (list, tuple)):
        return (
            bool(value)
            and all(isinstance(item, str) for item in value)
            and any(is_unresolved(item) for item in value)
            and bool(token.is_unresolved(list(value)))
        )
    if getattr(type(value), "__jsii_type__", None) is not None:
        return bool(token.is_unresolved(value))
    return False


def token_str(value: Any) -> str:
    """``str(value)``, except that a number or list token becomes its CDK string token.

    Use it wherever a number is written into a string (a JDBC URL, a configuration property):
    ``str()`` of a number token would give the encoded double (``-1.888e+289``), not a reference.
    """
    if not isinstance(value, str) and is_unresolved(value):
        token = _cdk_token_class()
        if token is not None:
            return str(token.as_string(value))
    return str(value)
