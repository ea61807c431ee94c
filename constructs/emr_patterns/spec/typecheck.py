"""Type checks of the number and bool fields of the spec dataclasses.

A value of the wrong type (``idle_timeout_seconds="3600"``) is named as a type error, not reported
as "out of range" and not left to fail later with a ``TypeError`` trace. ``bool`` is not accepted
where an ``int`` is required (Python counts ``True`` as ``1``; EMR does not), and ``int``/``float``
are not accepted where a ``bool`` is. CDK number tokens are skipped (``_tokens.is_unresolved``).

The helper is re-exported by :mod:`emr_patterns.spec.rules`; it lives in its own module because
``rules`` imports the fleet and cluster modules that call it.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from functools import cache
from typing import Any

from emr_patterns._tokens import is_unresolved
from emr_patterns.errors import problem

__all__ = ["field_type_problems", "scalar_type_problem"]

_KINDS = (bool, int, float)


@cache
def _scalar_fields(cls: type) -> tuple[tuple[str, type, bool], ...]:
    """``(name, kind, optional)`` for every field of ``cls`` typed bool, int or float (maybe None)."""
    hints = typing.get_type_hints(cls)
    out: list[tuple[str, type, bool]] = []
    for f in dataclasses.fields(cls):
        hint = hints.get(f.name)
        args = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
        kinds = [a for a in args if a is not type(None)]
        if len(kinds) == 1 and kinds[0] in _KINDS:
            out.append((f.name, kinds[0], type(None) in args))
    return tuple(out)


def _example(kind: type, value: object, default: object) -> str:
    if kind is bool:
        return "True or False"
    if isinstance(value, str):
        try:
            return repr(kind(value.strip()))
        except ValueError:
            pass
    if kind is int and isinstance(value, float) and value.is_integer():
        return repr(int(value))
    if isinstance(default, kind) and not isinstance(default, bool):
        return repr(default)
    return "1" if kind is int else "1.0"


def scalar_type_problem(
    prop: str, value: Any, kind: type, *, optional: bool = False, default: object = None
) -> str:
    """One problem if ``value`` is not a ``kind`` (bool, int or float), else ``""``.

    None passes when ``optional``; CDK tokens always pass. ``float`` accepts an ``int``; neither
    ``int`` nor ``float`` accepts a ``bool``.
    """
    if value is None and optional:
        return ""
    if is_unresolved(value):
        return ""
    if kind is bool:
        ok = isinstance(value, bool)
    elif kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if ok:
        return ""
    article = "an" if kind is int else "a"
    wanted = {bool: "bool", int: "int", float: "number (int or float)"}[kind]
    example = _example(kind, value, default)
    how = "without quotes" if isinstance(value, str) else f"as {article} {kind.__name__}"
    return problem(
        prop,
        value,
        f"is a {type(value).__name__}; {article} {wanted} is required (e.g. {example})",
        f"write {example} {how}" + (", or None for the default" if optional else ""),
    )


def field_type_problems(obj: object, prop: str) -> list[str]:
    """Type problems of every bool, int and float field of the dataclass ``obj``, named ``prop.field``.

    Pure validator. ``prop`` may be empty (then problems name the bare field, as on ``ClusterSpec``).
    """
    out: list[str] = []
    cls: type = type(obj)
    defaults = {f.name: f.default for f in dataclasses.fields(cls)}
    for name, kind, optional in _scalar_fields(cls):
        found = scalar_type_problem(
            f"{prop}.{name}" if prop else name,
            getattr(obj, name),
            kind,
            optional=optional,
            default=defaults[name],
        )
        if found:
            out.append(found)
    return out
