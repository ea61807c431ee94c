"""A local preview of DataBrew recipes: run rendered ``Steps`` on a pandas DataFrame.

    import pandas as pd
    from emr_patterns.spec.databrew import CENSUS_INCOME_RECIPE
    from emr_patterns.spec.databrew_local import apply_steps

    prepared = apply_steps(pd.read_csv("adult.csv", skipinitialspace=True), CENSUS_INCOME_RECIPE)

It reads the rendered form (:meth:`~emr_patterns.spec.databrew.Recipe.to_steps`, or recipe JSON
from the console), not the Python step objects, so what it previews is what DataBrew receives. It
implements exactly the operations of :data:`~emr_patterns.spec.databrew.OPERATIONS` and refuses
any other with :class:`RecipePreviewError`, as it refuses steps with ``ConditionExpressions``.

It is a preview, not DataBrew: patterns run with Python's ``re`` (the library's own patterns are
written to read the same in Java), ``decimal`` is previewed as ``double``, and a new mapped column
is placed right after its source column, as the console shows it. pandas is imported when a
recipe is applied; the library itself does not depend on it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from emr_patterns.spec.databrew import ColumnDataType, MapType, Recipe, validate_steps

__all__ = ["PREVIEW_OPERATIONS", "RecipePreviewError", "apply_steps"]


class RecipePreviewError(ValueError):
    """A step cannot run on the data given (or at all here); names the step index and operation."""

    def __init__(self, index: int, operation: object, message: str) -> None:
        self.index = index
        self.operation = operation
        super().__init__(f"steps[{index}] {operation}: {message}")


_INTEGER_RANGES = {
    ColumnDataType.BYTE: (-(2**7), 2**7 - 1, "Int8"),
    ColumnDataType.SHORT: (-(2**15), 2**15 - 1, "Int16"),
    ColumnDataType.INT: (-(2**31), 2**31 - 1, "Int32"),
    ColumnDataType.LONG: (-(2**63), 2**63 - 1, "Int64"),
}
_TRUE = frozenset({"true", "yes"})
_FALSE = frozenset({"false", "no"})


def _pd() -> Any:
    try:
        import pandas
    except ImportError as exc:  # pragma: no cover - pandas is in the dev extra
        raise ImportError("the recipe preview needs pandas: pip install pandas") from exc
    return pandas


def _need_column(frame: Any, column: str, fail: Callable[[str], Exception]) -> None:
    if column not in frame.columns:
        raise fail(f"column {column!r} is not in the data (columns: {', '.join(map(str, frame.columns))})")


def _need_free(frame: Any, column: str, fail: Callable[[str], Exception]) -> None:
    if column in frame.columns:
        raise fail(f"column {column!r} already exists; name the new column something else")


def _replace_text(frame: Any, params: Mapping[str, str], fail: Callable[[str], Exception]) -> Any:
    pd = _pd()
    column = params["sourceColumn"]
    _need_column(frame, column, fail)
    values = frame[column]
    if not (pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)):
        raise fail(f"column {column!r} is {values.dtype}, not text; change its type to string first")
    try:
        pattern = re.compile(params["pattern"])
    except re.error as exc:
        raise fail(f"pattern {params['pattern']!r} is not a regular expression here ({exc})") from exc
    replacement = params["value"].replace("\\", "\\\\")
    out = frame.copy()
    out[column] = values.map(lambda v: pattern.sub(replacement, str(v)) if isinstance(v, str) else v)
    return out


def _categorical_mapping(frame: Any, params: Mapping[str, str], fail: Callable[[str], Exception]) -> Any:
    pd = _pd()
    source, target = params["sourceColumn"], params["targetColumn"]
    _need_column(frame, source, fail)
    _need_free(frame, target, fail)
    mapping: dict[str, str] = json.loads(params["categoryMap"])
    values = frame[source]
    mapped = values.map(lambda v: None if v is None or v != v else mapping.get(str(v)))
    unmapped = mapped.isna()
    out = frame.copy()
    if params.get("deleteOtherRows") == "true":
        keep = ~unmapped
        out, mapped = out[keep], mapped[keep]
    elif params.get("keepOthers") == "true":
        mapped = mapped.where(~unmapped, values)
    elif "other" in params:
        mapped = mapped.where(~unmapped, params["other"])
    if params["mapType"] == MapType.NUMERIC:
        mapped = pd.to_numeric(mapped, errors="coerce").astype("float64")
    out.insert(list(out.columns).index(source) + 1, target, mapped)
    return out.reset_index(drop=True)


def _delete(frame: Any, params: Mapping[str, str], fail: Callable[[str], Exception]) -> Any:
    columns = json.loads(params["sourceColumns"]) if "sourceColumns" in params else [params["sourceColumn"]]
    for column in columns:
        _need_column(frame, column, fail)
    return frame.drop(columns=columns)


def _rename(frame: Any, params: Mapping[str, str], fail: Callable[[str], Exception]) -> Any:
    source, target = params["sourceColumn"], params["targetColumn"]
    _need_column(frame, source, fail)
    if target != source:
        _need_free(frame, target, fail)
    return frame.rename(columns={source: target})


def _to_bool(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        return True if text in _TRUE else False if text in _FALSE else None
    return None


def _change_data_type(frame: Any, params: Mapping[str, str], fail: Callable[[str], Exception]) -> Any:
    pd = _pd()
    column = params["sourceColumn"]
    _need_column(frame, column, fail)
    kind = ColumnDataType(params["columnDataType"])
    values = frame[column]
    if kind in _INTEGER_RANGES:
        low, high, dtype = _INTEGER_RANGES[kind]
        numbers = pd.to_numeric(values, errors="coerce").astype("float64")
        in_range = numbers.where((numbers >= low) & (numbers <= high))  # out of range -> null
        converted = in_range.map(lambda v: None if v != v else int(v)).astype(dtype)  # truncates
    elif kind == ColumnDataType.FLOAT:
        converted = pd.to_numeric(values, errors="coerce").astype("float32")
    elif kind in (ColumnDataType.DOUBLE, ColumnDataType.DECIMAL):
        converted = pd.to_numeric(values, errors="coerce").astype("float64")
    elif kind == ColumnDataType.STRING:
        converted = values.map(lambda v: None if v is None or v != v else str(v)).astype("object")
    elif kind == ColumnDataType.BOOLEAN:
        converted = values.map(_to_bool).astype("boolean")
    elif kind == ColumnDataType.TIMESTAMP:
        converted = pd.to_datetime(values, errors="coerce")
    else:
        converted = pd.to_datetime(values, errors="coerce").dt.normalize()
    out = frame.copy()
    out[column] = converted
    return out


_HANDLERS: Mapping[str, Callable[[Any, Mapping[str, str], Callable[[str], Exception]], Any]] = {
    "REPLACE_TEXT": _replace_text,
    "CATEGORICAL_MAPPING": _categorical_mapping,
    "DELETE": _delete,
    "RENAME": _rename,
    "CHANGE_DATA_TYPE": _change_data_type,
}

PREVIEW_OPERATIONS: frozenset[str] = frozenset(_HANDLERS)
"""The operations the preview runs: the same set as ``OPERATIONS`` (a test keeps them equal)."""


def apply_steps(frame: Any, steps: Recipe | Sequence[Mapping[str, Any]]) -> Any:
    """Run rendered recipe steps on a copy of ``frame`` (a pandas DataFrame) and return the result.

    ``steps`` is a :class:`~emr_patterns.spec.databrew.Recipe` (its :meth:`to_steps` form is
    used) or a ``Steps`` list as ``CreateRecipe`` takes it. An operation the preview does not
    implement, or a step with ``ConditionExpressions``, raises :class:`RecipePreviewError`; steps
    that are not valid against the operations table raise the library's ``ValueError`` listing
    every problem; a step that cannot run on this data (a missing column) raises
    :class:`RecipePreviewError` naming the step.
    """
    from emr_patterns.errors import raise_if_problems

    rendered = steps.to_steps() if isinstance(steps, Recipe) else list(steps)
    for i, step in enumerate(rendered):
        action = step.get("Action") if isinstance(step, Mapping) else None
        operation = action.get("Operation") if isinstance(action, Mapping) else None
        if operation not in _HANDLERS:
            raise RecipePreviewError(
                i, operation, f"the local preview does not know this operation (it runs {sorted(_HANDLERS)})"
            )
        if isinstance(step, Mapping) and step.get("ConditionExpressions"):
            raise RecipePreviewError(i, operation, "steps with ConditionExpressions are not previewed")
    raise_if_problems("apply_steps", validate_steps(rendered))
    out = frame.copy()
    for i, step in enumerate(rendered):
        operation = step["Action"]["Operation"]

        def fail(message: str, i: int = i, operation: str = operation) -> Exception:
            return RecipePreviewError(i, operation, message)

        out = _HANDLERS[operation](out, step["Action"].get("Parameters", {}), fail)
    return out
