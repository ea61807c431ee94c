"""AWS Glue DataBrew recipes as code: typed steps that render the ``Steps`` of ``CreateRecipe``.

A :class:`Recipe` holds typed steps (:class:`ReplaceValue`, :class:`CategoricalMapping`,
:class:`DeleteColumns`, :class:`RenameColumn`, :class:`ChangeDataType`, ... or a
:class:`RawStep` for an operation of the table with parameters you write yourself). It validates
itself on construction and renders three forms of the same data:

* :meth:`Recipe.to_steps`: the ``Steps`` list exactly as boto3 ``create_recipe`` /
  ``update_recipe`` and the DataBrew console's recipe JSON take it
  (``[{"Action": {"Operation": ..., "Parameters": {camelCase: str}}, "ConditionExpressions": [...]}]``);
* :meth:`Recipe.to_cfn_steps`: the same steps as plain dicts for
  ``aws_cdk.aws_databrew.CfnRecipe(steps=...)`` (jsii member names: ``action``, ``operation``,
  ``parameters``, ``conditionExpressions``, ``targetColumn``). A dict with Python names
  (``condition_expressions``) is silently dropped by jsii, so use this form, not your own;
* :meth:`Recipe.to_create_recipe_request`: the whole ``CreateRecipe`` request.

Nothing between you and DataBrew checks an operation's name or parameters: ``CfnRecipe`` takes
any string map, CloudFormation and cfn-lint accept ``"Operation": "FOO"``, and the job fails at run
time. So every rendered step is checked here against :data:`OPERATIONS`, a table of the
operations this library knows with their required and optional parameters and the encoding of
each value. Every parameter value is a string, as the API requires; lists and maps are
JSON-encoded strings (``"sourceColumns": "[\\"a\\",\\"b\\"]"``,
``"categoryMap": "{\\"A\\":\\"1\\"}"``), booleans are ``"true"``/``"false"``.

:func:`census_income_recipe` is the census-income (UCI Adult) preparation for a binary income
classifier: clean ``?``, map categories to numbers, drop unused columns, label ``income`` 0/1.

:mod:`emr_patterns.spec.databrew_local` runs the rendered steps on a pandas DataFrame so a recipe
can be previewed and tested without AWS.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any, ClassVar

from emr_patterns.errors import problem, raise_if_problems

__all__ = [
    "CENSUS_INCOME_COLUMNS",
    "CENSUS_INCOME_LABEL_COLUMN",
    "CENSUS_INCOME_OUTPUT_COLUMNS",
    "CENSUS_INCOME_RECIPE",
    "OPERATIONS",
    "CategoricalMapping",
    "ChangeDataType",
    "ColumnDataType",
    "ConditionExpression",
    "DeleteColumns",
    "MapType",
    "OperationSpec",
    "RawStep",
    "Recipe",
    "RecipeStep",
    "RenameColumn",
    "ReplaceText",
    "ReplaceValue",
    "census_income_recipe",
    "mapped_column_name",
    "regex_literal",
    "step_problems",
    "validate_steps",
]

_DOCS = "https://docs.aws.amazon.com/databrew/latest/dg/recipe-actions"
# Shapes of the botocore databrew model (CreateRecipe): what the service validates on its side.
_OPERATION_NAME = re.compile(r"^[A-Z_]+$")  # Operation and Condition: 1-128
_PARAMETER_NAME = re.compile(r"^[A-Za-z0-9]+$")  # ParameterName: 1-128
_PARAMETER_VALUE_MAX = 32768  # ParameterValue: 1-32768
_CONDITION_VALUE_MAX = 1024
_TARGET_COLUMN_MAX = 1024
_RECIPE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 .-]*$")  # RecipeName: 1-255
_RECIPE_NAME_MAX = 255
_RECIPE_DESCRIPTION_MAX = 1024
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_REGEX_SPECIAL = frozenset("\\^$.|?*+()[]{}")


class ColumnDataType(StrEnum):
    """The types ``CHANGE_DATA_TYPE`` converts a column to (its ``columnDataType`` values)."""

    BYTE = "byte"
    """1-byte signed integer."""
    SHORT = "short"
    """2-byte signed integer."""
    INT = "int"
    """4-byte signed integer."""
    LONG = "long"
    """8-byte signed integer."""
    FLOAT = "float"
    """4-byte floating point."""
    DOUBLE = "double"
    """8-byte floating point."""
    DECIMAL = "decimal"
    """Signed decimal, up to 38 digits, 18 after the point."""
    STRING = "string"
    """Character string."""
    BOOLEAN = "boolean"
    """``true``/``false`` (also read from ``yes``/``no``)."""
    TIMESTAMP = "timestamp"
    """Date and time of day."""
    DATE = "date"
    """Year, month and day."""


class MapType(StrEnum):
    """``CATEGORICAL_MAPPING``'s ``mapType``: the type of the mapped column."""

    NUMERIC = "NUMERIC"
    """Mapped values are numbers (the only map type the DataBrew reference documents)."""


@dataclass(frozen=True)
class OperationSpec:
    """One DataBrew recipe operation as this library knows it: its parameters and their encodings."""

    name: str
    """The ``Operation`` string, e.g. ``"CATEGORICAL_MAPPING"``."""
    summary: str
    """What the operation does, in one line."""
    required: frozenset[str] = frozenset()
    """Parameters every step of this operation must have."""
    optional: frozenset[str] = frozenset()
    """Parameters a step may have."""
    exactly_one_of: tuple[frozenset[str], ...] = ()
    """Groups of parameters of which a step gives exactly one (``DELETE``: ``sourceColumn`` or
    ``sourceColumns``)."""
    json_lists: frozenset[str] = frozenset()
    """Parameters whose value is a JSON-encoded list of non-empty strings."""
    json_maps: frozenset[str] = frozenset()
    """Parameters whose value is a JSON-encoded object of string to string."""
    booleans: frozenset[str] = frozenset()
    """Parameters whose value is ``"true"`` or ``"false"``."""
    choices: Mapping[str, frozenset[str]] = field(default_factory=lambda: MappingProxyType({}))
    """Parameters with a closed set of values."""
    reference: str = ""
    """The DataBrew developer guide page of the operation."""

    @property
    def parameters(self) -> frozenset[str]:
        """Every parameter name the operation takes."""
        grouped: set[str] = set()
        for group in self.exactly_one_of:
            grouped |= group
        return self.required | self.optional | grouped


OPERATIONS: Mapping[str, OperationSpec] = MappingProxyType(
    {
        spec.name: spec
        for spec in (
            OperationSpec(
                name="REPLACE_TEXT",
                summary="Replace every match of a regular expression in a column's values",
                required=frozenset({"sourceColumn", "pattern", "value"}),
                reference=f"{_DOCS}.REPLACE_TEXT.html",
            ),
            OperationSpec(
                name="CATEGORICAL_MAPPING",
                summary="Map categorical values to numbers into a new column",
                required=frozenset({"sourceColumn", "categoryMap", "mapType", "targetColumn"}),
                optional=frozenset({"keepOthers", "other", "deleteOtherRows"}),
                json_maps=frozenset({"categoryMap"}),
                booleans=frozenset({"keepOthers", "deleteOtherRows"}),
                choices=MappingProxyType({"mapType": frozenset(MapType)}),
                reference=f"{_DOCS}.CATEGORICAL_MAPPING.html",
            ),
            OperationSpec(
                name="DELETE",
                summary="Remove one column (sourceColumn) or several (sourceColumns)",
                exactly_one_of=(frozenset({"sourceColumn", "sourceColumns"}),),
                json_lists=frozenset({"sourceColumns"}),
                reference=f"{_DOCS}.DELETE.html",
            ),
            OperationSpec(
                name="RENAME",
                summary="Rename a column",
                required=frozenset({"sourceColumn", "targetColumn"}),
                reference=f"{_DOCS}.RENAME.html",
            ),
            OperationSpec(
                name="CHANGE_DATA_TYPE",
                summary="Change a column's type; values that do not convert become null",
                required=frozenset({"sourceColumn", "columnDataType"}),
                choices=MappingProxyType({"columnDataType": frozenset(ColumnDataType)}),
                reference=f"{_DOCS}.CHANGE_DATA_TYPE.html",
            ),
        )
    }
)
"""The recipe operations this library renders, validates and previews locally, by name.

``REPLACE_TEXT {sourceColumn, pattern, value}``; ``CATEGORICAL_MAPPING {sourceColumn, categoryMap
(JSON map), mapType (NUMERIC), targetColumn, [keepOthers], [other], [deleteOtherRows]}``;
``DELETE {sourceColumn | sourceColumns (JSON list)}``; ``RENAME {sourceColumn, targetColumn}``;
``CHANGE_DATA_TYPE {sourceColumn, columnDataType}``. ``targetColumn`` of ``CATEGORICAL_MAPPING``
is required here (DataBrew would name the column itself; a recipe that names it can be read)."""


def _close(word: str, options: Iterable[str]) -> str:
    found = difflib.get_close_matches(word, sorted(str(o) for o in options), n=1)
    return f"did you mean {found[0]!r}? " if found else ""


def _json_list_issue(text: str) -> str:
    try:
        value = json.loads(text)
    except ValueError:
        return "is not JSON"
    if not isinstance(value, list) or not value:
        return "is not a non-empty JSON list"
    if not all(isinstance(v, str) and v for v in value):
        return "holds an item that is not a non-empty string"
    if len(set(value)) != len(value):
        return "names a column twice"
    return ""


def _json_map_issue(text: str) -> str:
    try:
        value = json.loads(text)
    except ValueError:
        return "is not JSON"
    if not isinstance(value, dict) or not value:
        return "is not a non-empty JSON object"
    if not all(isinstance(v, str) for v in value.values()):
        return "has a value that is not a string (DataBrew reads them as strings)"
    return ""


def _is_number(text: str) -> bool:
    return bool(_NUMBER.match(text.strip()))


def _categorical_mapping_problems(where: str, params: Mapping[str, str]) -> list[str]:
    out: list[str] = []
    keep = params.get("keepOthers") == "true"
    delete = params.get("deleteOtherRows") == "true"
    if keep and "other" in params:
        out.append(
            problem(
                f"{where}.other",
                params["other"],
                "is given with keepOthers=true; unmapped values cannot both stay and be replaced",
                "drop one of other and keepOthers",
            )
        )
    if delete and (keep or "other" in params):
        out.append(
            problem(
                f"{where}.deleteOtherRows",
                "true",
                "is given with keepOthers or other; unmapped rows cannot both be deleted and kept",
                "keep only one way to handle unmapped values",
            )
        )
    if params.get("mapType") == MapType.NUMERIC:
        raw = params.get("categoryMap", "")
        try:
            mapping = json.loads(raw)
        except ValueError:
            mapping = {}
        if isinstance(mapping, dict):
            bad = [k for k, v in mapping.items() if not (isinstance(v, str) and _is_number(v))]
            if bad:
                out.append(
                    problem(
                        f"{where}.categoryMap",
                        raw,
                        f"maps {bad[0]!r} to a value that is not a number, with mapType NUMERIC",
                        'map every category to a number string such as "1"',
                    )
                )
        if "other" in params and not _is_number(params["other"]):
            out.append(
                problem(
                    f"{where}.other",
                    params["other"],
                    "is not a number, with mapType NUMERIC",
                    'give a number string such as "0"',
                )
            )
    return out


_EXTRA_CHECKS: Mapping[str, Callable[[str, Mapping[str, str]], list[str]]] = MappingProxyType(
    {"CATEGORICAL_MAPPING": _categorical_mapping_problems}
)


def _conditions_problems(where: str, conditions: object) -> list[str]:
    if not isinstance(conditions, list | tuple):
        return [problem(where, conditions, "is not a list", "pass a list of condition objects")]
    out: list[str] = []
    for j, cond in enumerate(conditions):
        at = f"{where}[{j}]"
        if not isinstance(cond, Mapping):
            out.append(problem(at, cond, "is not an object", "give {Condition, TargetColumn, Value}"))
            continue
        unknown = set(cond) - {"Condition", "TargetColumn", "Value"}
        for key in sorted(map(str, unknown)):
            out.append(problem(f"{at}.{key}", cond[key], "is not a condition field", "remove it"))
        name = cond.get("Condition")
        if not (isinstance(name, str) and _OPERATION_NAME.match(name) and len(name) <= 128):
            out.append(
                problem(
                    f"{at}.Condition",
                    name,
                    "is not a condition name",
                    "use an upper-case condition such as IS or IS_NOT",
                )
            )
        target = cond.get("TargetColumn")
        if not (isinstance(target, str) and 1 <= len(target) <= _TARGET_COLUMN_MAX):
            out.append(problem(f"{at}.TargetColumn", target, "is not a column name", "name the column"))
        if "Value" in cond and not (
            isinstance(cond["Value"], str) and len(cond["Value"]) <= _CONDITION_VALUE_MAX
        ):
            out.append(problem(f"{at}.Value", cond["Value"], "is not a string of at most 1024", "pass a str"))
    return out


def step_problems(where: str, step: object) -> list[str]:
    """Pure validator of one rendered step (``{"Action": {...}, "ConditionExpressions": [...]}``).

    ``where`` prefixes every problem (``"steps[3]"``). Checks the shape the API takes (names,
    lengths, string values) and the operation against :data:`OPERATIONS`: the operation is known,
    every required parameter is there, no parameter is unknown, and each value has its encoding.
    """
    if not isinstance(step, Mapping):
        return [problem(where, step, "is not an object", 'give {"Action": {"Operation": ...}}')]
    out: list[str] = []
    for key in sorted(map(str, set(step) - {"Action", "ConditionExpressions"})):
        out.append(problem(f"{where}.{key}", step[key], "is not a recipe step field", "remove it"))
    if "ConditionExpressions" in step:
        out.extend(_conditions_problems(f"{where}.ConditionExpressions", step["ConditionExpressions"]))
    action = step.get("Action")
    if not isinstance(action, Mapping):
        return [
            *out,
            problem(
                f"{where}.Action", action, "is missing or not an object", 'add "Action": {"Operation": ...}'
            ),
        ]
    for key in sorted(map(str, set(action) - {"Operation", "Parameters"})):
        out.append(problem(f"{where}.Action.{key}", action[key], "is not an action field", "remove it"))
    operation = action.get("Operation")
    spec = OPERATIONS.get(operation) if isinstance(operation, str) else None
    if spec is None:
        shown = operation if isinstance(operation, str) else repr(operation)
        out.append(
            problem(
                f"{where}.Action.Operation",
                operation,
                "is not an operation this library knows (nothing else checks it before the job runs)",
                f"{_close(str(shown), OPERATIONS)}use one of {', '.join(sorted(OPERATIONS))}, "
                "or add the operation to emr_patterns.spec.databrew.OPERATIONS",
            )
        )
        return out
    params = action.get("Parameters", {})
    prefix = f"{where}.Action.Parameters"
    if not isinstance(params, Mapping):
        return [*out, problem(prefix, params, "is not an object", "pass a map of camelCase name to string")]
    for name, value in params.items():
        at = f"{prefix}.{name}"
        if not (isinstance(name, str) and _PARAMETER_NAME.match(name) and len(name) <= 128):
            out.append(problem(prefix, name, "is not a parameter name", "use camelCase letters and digits"))
            continue
        if name not in spec.parameters:
            out.append(
                problem(
                    at,
                    value,
                    f"is not a parameter of {spec.name}",
                    f"{_close(name, spec.parameters)}use {', '.join(sorted(spec.parameters))}",
                )
            )
            continue
        if not isinstance(value, str):
            out.append(
                problem(
                    at,
                    value,
                    f"is of type {type(value).__name__}, not a string ({spec.name})",
                    "pass it as a string; DataBrew takes every parameter as a string "
                    "(JSON-encode lists and maps, booleans as 'true'/'false')",
                )
            )
            continue
        if not 1 <= len(value) <= _PARAMETER_VALUE_MAX:
            out.append(
                problem(
                    at, value, f"is empty or longer than {_PARAMETER_VALUE_MAX}", "give 1-32768 characters"
                )
            )
            continue
        issue = ""
        if name in spec.json_lists:
            issue = _json_list_issue(value)
            fix = 'JSON-encode the list, e.g. json.dumps(["a", "b"])'
        elif name in spec.json_maps:
            issue = _json_map_issue(value)
            fix = 'JSON-encode the map, e.g. json.dumps({"A": "1"})'
        elif name in spec.booleans and value not in ("true", "false"):
            issue, fix = "is not 'true' or 'false'", "pass 'true' or 'false'"
        elif name in spec.choices and value not in spec.choices[name]:
            issue = f"is not a {name} value"
            fix = f"{_close(value, spec.choices[name])}use one of {', '.join(sorted(spec.choices[name]))}"
        if issue:
            out.append(problem(at, value, f"{issue} ({spec.name})", fix))
    for name in sorted(spec.required - set(params)):
        out.append(
            problem(
                f"{prefix}.{name}",
                None,
                f"is missing; {spec.name} needs it",
                f"add {name!r} (required: {', '.join(sorted(spec.required))})",
            )
        )
    for group in spec.exactly_one_of:
        given = sorted(group & set(params))
        if len(given) != 1:
            out.append(
                problem(
                    f"{prefix}.{'|'.join(sorted(group))}",
                    given or None,
                    f"{spec.name} takes exactly one of {', '.join(sorted(group))}",
                    "give one of them",
                )
            )
    if not out and spec.name in _EXTRA_CHECKS:
        out.extend(_EXTRA_CHECKS[spec.name](prefix, params))
    return out


def validate_steps(steps: object) -> list[str]:
    """Pure validator of a whole rendered ``Steps`` list; problems name ``steps[i]``."""
    if not isinstance(steps, list | tuple):
        return [problem("steps", steps, "is not a list", "pass the list of recipe steps")]
    if not steps:
        return [problem("steps", steps, "is empty", "give at least one step")]
    return [p for i, step in enumerate(steps) for p in step_problems(f"steps[{i}]", step)]


def regex_literal(text: str) -> str:
    """``text`` as a regular expression that matches it literally (``?`` -> ``\\?``).

    Only the characters special in both Java and Python regular expressions are escaped, so the
    pattern reads the same to DataBrew (Java) and to the local preview (Python ``re``)."""
    return "".join("\\" + c if c in _REGEX_SPECIAL else c for c in text)


def mapped_column_name(source_column: str) -> str:
    """The column a categorical mapping writes by default: ``marital-status`` ->
    ``marital_status_mapped`` (the names DataBrew's console gives)."""
    return source_column.replace("-", "_").replace(" ", "_") + "_mapped"


def _text_problems(prop: str, value: object, what: str) -> list[str]:
    if not isinstance(value, str) or not value:
        return [problem(prop, value, "is not a non-empty string", f"pass the {what} as a str")]
    return []


@dataclass(frozen=True)
class ConditionExpression:
    """A condition on a step (``ConditionExpressions``): the step acts only on rows where it holds."""

    condition: str
    """The condition name, upper case (``IS``, ``IS_NOT``, ``GREATER_THAN`` ...)."""
    target_column: str
    """The column the condition tests."""
    value: str | None = None
    """The value the condition compares with. Default: none (conditions such as ``IS_MISSING``)."""

    def to_dict(self) -> dict[str, str]:
        """The API form, ``{"Condition", "TargetColumn", "Value"?}``."""
        out = {"Condition": self.condition, "TargetColumn": self.target_column}
        if self.value is not None:
            out["Value"] = self.value
        return out


@dataclass(frozen=True, kw_only=True)
class RecipeStep:
    """Base of every step: renders ``{"Action": ..., "ConditionExpressions"?: ...}`` and validates it."""

    operation: ClassVar[str] = ""
    conditions: tuple[ConditionExpression, ...] = ()
    """Conditions the step acts under. Default: none (the step acts on every row)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "conditions", tuple(self.conditions))
        own = self._field_problems()
        if not own:
            own = step_problems(type(self).__name__, self.to_step())
        raise_if_problems(type(self).__name__, own)

    def _field_problems(self) -> list[str]:
        return [
            problem(f"{type(self).__name__}.conditions", c, "is not a ConditionExpression", "wrap it")
            for c in self.conditions
            if not isinstance(c, ConditionExpression)
        ]

    def parameters(self) -> dict[str, str]:
        """The step's ``Parameters``: camelCase names, string values."""
        raise NotImplementedError

    def operation_name(self) -> str:
        """The ``Operation`` this step renders."""
        return self.operation

    def to_step(self) -> dict[str, Any]:
        """The API form of this step, as ``CreateRecipe`` takes it."""
        step: dict[str, Any] = {
            "Action": {"Operation": self.operation_name(), "Parameters": self.parameters()}
        }
        if self.conditions:
            step["ConditionExpressions"] = [c.to_dict() for c in self.conditions]
        return step


@dataclass(frozen=True)
class RawStep(RecipeStep):
    """A step of any operation in :data:`OPERATIONS`, with the parameters written out (strings).

    For the forms the typed steps do not produce (``DELETE`` of one ``sourceColumn``) and for
    recipes read from JSON (:meth:`Recipe.from_steps`). Validated like every step.
    """

    name: str
    """The ``Operation`` name, e.g. ``"RENAME"``."""
    params: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    """The ``Parameters``: camelCase names, string values."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))
        super().__post_init__()

    def operation_name(self) -> str:
        """The ``Operation`` given."""
        return self.name

    def parameters(self) -> dict[str, Any]:
        """The ``Parameters`` given, unchanged."""
        return dict(self.params)


@dataclass(frozen=True)
class ReplaceText(RecipeStep):
    """``REPLACE_TEXT``: replace every match of ``pattern`` (a regular expression) in a column."""

    operation: ClassVar[str] = "REPLACE_TEXT"
    source_column: str
    """The column to change."""
    pattern: str
    """A regular expression (DataBrew runs it as a Java regex); see :func:`regex_literal`."""
    value: str
    """The replacement text, non-empty (the API refuses an empty parameter value)."""

    def _field_problems(self) -> list[str]:
        out = super()._field_problems()
        out += _text_problems("ReplaceText.source_column", self.source_column, "column name")
        out += _text_problems("ReplaceText.pattern", self.pattern, "regular expression")
        out += _text_problems("ReplaceText.value", self.value, "replacement text")
        if not out:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                out.append(problem("ReplaceText.pattern", self.pattern, f"is not a regex ({exc})", "fix it"))
        return out

    def parameters(self) -> dict[str, str]:
        """``sourceColumn``, ``pattern``, ``value``."""
        return {"sourceColumn": self.source_column, "pattern": self.pattern, "value": self.value}


@dataclass(frozen=True)
class ReplaceValue(RecipeStep):
    """Replace a whole cell value by another (the console's "Replace value"), e.g. ``?`` -> ``Private``.

    Renders ``REPLACE_TEXT`` with the pattern ``^<value>$`` (the value escaped), so only cells
    that are exactly ``value`` change.
    """

    operation: ClassVar[str] = "REPLACE_TEXT"
    source_column: str
    """The column to change."""
    value: str
    """The cell value to replace, matched exactly."""
    replacement: str
    """The new value, non-empty (the API refuses an empty parameter value)."""

    def _field_problems(self) -> list[str]:
        out = super()._field_problems()
        out += _text_problems("ReplaceValue.source_column", self.source_column, "column name")
        out += _text_problems("ReplaceValue.value", self.value, "value to replace")
        out += _text_problems("ReplaceValue.replacement", self.replacement, "new value")
        return out

    def parameters(self) -> dict[str, str]:
        """``sourceColumn``, ``pattern`` (``^value$``), ``value`` (the replacement)."""
        return {
            "sourceColumn": self.source_column,
            "pattern": f"^{regex_literal(self.value)}$",
            "value": self.replacement,
        }


def _code(value: object) -> object:
    """A mapped value as the string DataBrew takes (``1`` -> ``"1"``); other types left as they are."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    return value


@dataclass(frozen=True)
class CategoricalMapping(RecipeStep):
    """``CATEGORICAL_MAPPING``: map category values to numbers into a new column.

    Build it with :meth:`top_values` (the N most frequent categories to ``1..N``, the rest to
    ``other``) or give the mapping yourself. Values not in the mapping are handled by one of
    ``other``, ``keep_others`` or ``delete_other_rows``; with none of them they become null.
    """

    operation: ClassVar[str] = "CATEGORICAL_MAPPING"
    source_column: str
    """The categorical column."""
    mapping: Mapping[str, Any] | tuple[tuple[str, str], ...]
    """Category -> number (``{"Male": 1, "Female": 2}``); numbers are rendered as strings. Kept as
    a tuple of pairs, in the order given."""
    target_column: str = ""
    """The new column. Default: :func:`mapped_column_name` of the source (``sex`` -> ``sex_mapped``)."""
    other: str | int | None = None
    """The value for categories not in ``mapping``. Default: none."""
    keep_others: bool = False
    """Keep unmapped values as they are. Default: False."""
    delete_other_rows: bool = False
    """Delete rows whose value is not mapped. Default: False."""
    map_type: MapType = MapType.NUMERIC
    """The mapped column's type. Default: ``NUMERIC``."""

    def __post_init__(self) -> None:
        pairs = self.mapping.items() if isinstance(self.mapping, Mapping) else self.mapping
        object.__setattr__(self, "mapping", tuple((k, _code(v)) for k, v in pairs))
        if self.other is not None:
            object.__setattr__(self, "other", _code(self.other))
        if not self.target_column and isinstance(self.source_column, str) and self.source_column:
            object.__setattr__(self, "target_column", mapped_column_name(self.source_column))
        super().__post_init__()

    @classmethod
    def top_values(
        cls,
        source_column: str,
        ranked_values: Sequence[str],
        n: int | None = None,
        *,
        other: str | int | None = 0,
        target_column: str = "",
        first_code: int = 1,
    ) -> CategoricalMapping:
        """Map the first ``n`` of ``ranked_values`` (most frequent first) to ``first_code``,
        ``first_code + 1``, ... and every other value to ``other``.

        ``n`` defaults to all of ``ranked_values`` (the console's "Map all values"); ``other``
        defaults to ``0``, so a category unseen when the recipe was written still maps to a number.
        """
        if isinstance(ranked_values, str):
            ranked_values = [ranked_values]
        count = len(ranked_values) if n is None else n
        if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= len(ranked_values):
            raise_if_problems(
                "CategoricalMapping.top_values",
                [problem("n", n, f"is not 1..{len(ranked_values)}", "give at most as many as ranked_values")],
            )
        top = list(ranked_values)[:count]
        return cls(
            source_column,
            {value: first_code + i for i, value in enumerate(top)},
            target_column=target_column,
            other=other,
        )

    def _field_problems(self) -> list[str]:
        out = super()._field_problems()
        out += _text_problems("CategoricalMapping.source_column", self.source_column, "column name")
        out += _text_problems("CategoricalMapping.target_column", self.target_column, "new column name")
        assert isinstance(self.mapping, tuple)
        if not self.mapping:
            out.append(problem("CategoricalMapping.mapping", {}, "is empty", "map at least one category"))
        keys = [k for k, _ in self.mapping]
        for key, value in self.mapping:
            if not isinstance(key, str):
                out.append(
                    problem("CategoricalMapping.mapping", key, "has a key that is not a str", "use str")
                )
            if not isinstance(value, str):
                out.append(
                    problem(
                        f"CategoricalMapping.mapping[{key!r}]", value, "is not a number or str", "use 1, 2..."
                    )
                )
        if len(set(keys)) != len(keys):
            out.append(problem("CategoricalMapping.mapping", keys, "maps a category twice", "map each once"))
        if self.other is not None and not isinstance(self.other, str):
            out.append(problem("CategoricalMapping.other", self.other, "is not a number or str", "use 0"))
        for name in ("keep_others", "delete_other_rows"):
            if not isinstance(getattr(self, name), bool):
                out.append(
                    problem(f"CategoricalMapping.{name}", getattr(self, name), "is not a bool", "use True")
                )
        if self.map_type not in tuple(MapType):
            out.append(
                problem("CategoricalMapping.map_type", self.map_type, "is not a MapType", "use NUMERIC")
            )
        return out

    def parameters(self) -> dict[str, str]:
        """``sourceColumn``, ``categoryMap`` (JSON), ``mapType``, ``targetColumn``, ``keepOthers``,
        ``deleteOtherRows`` and, when set, ``other``."""
        out = {
            "sourceColumn": self.source_column,
            "categoryMap": json.dumps(dict(self.mapping), separators=(",", ":")),  # type: ignore[arg-type]
            "mapType": str(self.map_type),
            "targetColumn": self.target_column,
            "keepOthers": "true" if self.keep_others else "false",
            "deleteOtherRows": "true" if self.delete_other_rows else "false",
        }
        if self.other is not None:
            out["other"] = str(self.other)
        return out


@dataclass(frozen=True)
class DeleteColumns(RecipeStep):
    """``DELETE``: remove columns (rendered as ``sourceColumns``, a JSON list, as the console does)."""

    operation: ClassVar[str] = "DELETE"
    columns: tuple[str, ...]
    """The columns to remove; a single str is one column."""

    def __post_init__(self) -> None:
        cols = (self.columns,) if isinstance(self.columns, str) else tuple(self.columns)
        object.__setattr__(self, "columns", cols)
        super().__post_init__()

    def _field_problems(self) -> list[str]:
        out = super()._field_problems()
        if not self.columns:
            out.append(problem("DeleteColumns.columns", (), "is empty", "name at least one column"))
        for i, col in enumerate(self.columns):
            out += _text_problems(f"DeleteColumns.columns[{i}]", col, "column name")
        return out

    def parameters(self) -> dict[str, str]:
        """``sourceColumns``: the JSON-encoded list of columns."""
        return {"sourceColumns": json.dumps(list(self.columns), separators=(",", ":"))}


@dataclass(frozen=True)
class RenameColumn(RecipeStep):
    """``RENAME``: give a column a new name."""

    operation: ClassVar[str] = "RENAME"
    source_column: str
    """The column's current name."""
    target_column: str
    """The new name."""

    def _field_problems(self) -> list[str]:
        out = super()._field_problems()
        out += _text_problems("RenameColumn.source_column", self.source_column, "column name")
        out += _text_problems("RenameColumn.target_column", self.target_column, "new column name")
        if not out and self.source_column == self.target_column:
            out.append(
                problem("RenameColumn.target_column", self.target_column, "is the same name", "drop it")
            )
        return out

    def parameters(self) -> dict[str, str]:
        """``sourceColumn``, ``targetColumn``."""
        return {"sourceColumn": self.source_column, "targetColumn": self.target_column}


@dataclass(frozen=True)
class ChangeDataType(RecipeStep):
    """``CHANGE_DATA_TYPE``: convert a column; values that do not convert become null."""

    operation: ClassVar[str] = "CHANGE_DATA_TYPE"
    source_column: str
    """The column to convert."""
    data_type: ColumnDataType | str
    """The new type (:class:`ColumnDataType`)."""

    def _field_problems(self) -> list[str]:
        out = super()._field_problems()
        out += _text_problems("ChangeDataType.source_column", self.source_column, "column name")
        if self.data_type not in tuple(ColumnDataType):
            out.append(
                problem(
                    "ChangeDataType.data_type",
                    self.data_type,
                    "is not a DataBrew column type",
                    f"{_close(str(self.data_type), ColumnDataType)}use a ColumnDataType",
                )
            )
        return out

    def parameters(self) -> dict[str, str]:
        """``sourceColumn``, ``columnDataType``."""
        return {"sourceColumn": self.source_column, "columnDataType": str(self.data_type)}


@dataclass(frozen=True)
class Recipe:
    """A DataBrew recipe: a name, steps in order and a description; validated on construction."""

    name: str
    """The recipe name, 1-255 letters, digits, hyphens, periods and spaces. A new name replaces
    the ``AWS::DataBrew::Recipe`` resource."""
    steps: tuple[RecipeStep, ...]
    """The steps, applied in order."""
    description: str = ""
    """What the recipe does, at most 1024 characters. Default: none."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "steps", tuple(self.steps))
        out: list[str] = []
        if not (
            isinstance(self.name, str)
            and len(self.name) <= _RECIPE_NAME_MAX
            and _RECIPE_NAME.match(self.name)
        ):
            out.append(
                problem(
                    "name",
                    self.name,
                    "is not a recipe name",
                    "use 1-255 letters, digits, '-', '.' or spaces, starting with a letter or digit",
                )
            )
        if not isinstance(self.description, str) or len(self.description) > _RECIPE_DESCRIPTION_MAX:
            out.append(problem("description", self.description, "is not a str of at most 1024", "shorten it"))
        typed = [s for s in self.steps if isinstance(s, RecipeStep)]
        for i, step in enumerate(self.steps):
            if not isinstance(step, RecipeStep):
                out.append(
                    problem(
                        f"steps[{i}]",
                        step,
                        "is not a recipe step",
                        "use a step class (ReplaceValue, CategoricalMapping ...), or Recipe.from_steps "
                        "for rendered dicts",
                    )
                )
        if len(typed) == len(self.steps):
            out.extend(validate_steps([s.to_step() for s in typed]))
        raise_if_problems(f"Recipe {self.name!r}", out)

    @classmethod
    def from_steps(cls, name: str, steps: Sequence[Mapping[str, Any]], description: str = "") -> Recipe:
        """A recipe from rendered steps (the console's recipe JSON, or :meth:`to_steps`).

        Every step is checked against :data:`OPERATIONS`; problems name ``steps[i]``.
        """
        raise_if_problems(f"Recipe {name!r}", validate_steps(steps))
        out: list[RecipeStep] = []
        for step in steps:
            conditions = tuple(
                ConditionExpression(c["Condition"], c["TargetColumn"], c.get("Value"))
                for c in step.get("ConditionExpressions", ())
            )
            action = step["Action"]
            out.append(RawStep(action["Operation"], action.get("Parameters", {}), conditions=conditions))
        return cls(name, tuple(out), description)

    def to_steps(self) -> list[dict[str, Any]]:
        """The ``Steps`` list as ``CreateRecipe`` / ``UpdateRecipe`` take it (PascalCase structure,
        camelCase string parameters)."""
        return [step.to_step() for step in self.steps]

    def to_cfn_steps(self) -> list[dict[str, Any]]:
        """The steps for ``aws_cdk.aws_databrew.CfnRecipe(steps=...)``: plain dicts with the jsii
        member names (``action``/``operation``/``parameters``, ``conditionExpressions`` with
        ``condition``/``targetColumn``/``value``)."""
        out: list[dict[str, Any]] = []
        for step in self.to_steps():
            action = step["Action"]
            cfn: dict[str, Any] = {
                "action": {"operation": action["Operation"], "parameters": dict(action["Parameters"])}
            }
            if "ConditionExpressions" in step:
                cfn["conditionExpressions"] = [
                    {
                        "condition": c["Condition"],
                        "targetColumn": c["TargetColumn"],
                        **({"value": c["Value"]} if "Value" in c else {}),
                    }
                    for c in step["ConditionExpressions"]
                ]
            out.append(cfn)
        return out

    def to_create_recipe_request(self) -> dict[str, Any]:
        """The whole ``CreateRecipe`` request: ``Name``, ``Steps`` and, when set, ``Description``."""
        request: dict[str, Any] = {"Name": self.name, "Steps": self.to_steps()}
        if self.description:
            request["Description"] = self.description
        return request

    def to_json(self) -> str:
        """The steps as recipe JSON (what the DataBrew console imports and downloads)."""
        return json.dumps(self.to_steps(), indent=2)


CENSUS_INCOME_COLUMNS: tuple[str, ...] = (
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education-num",
    "marital-status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital-gain",
    "capital-loss",
    "hours-per-week",
    "native-country",
    "income",
)
"""The columns of the census-income (UCI Adult) CSV, ``adult.data``, in order; ``income`` is
``<=50K`` or ``>50K`` (``<=50K.``/``>50K.`` in ``adult.test``). Values are read without the
space after each comma."""

CENSUS_INCOME_LABEL_COLUMN = "label"
"""The label column the census recipe writes: ``0.0`` for ``<=50K``, ``1.0`` for ``>50K``."""

CENSUS_INCOME_OUTPUT_COLUMNS: tuple[str, ...] = (
    "age",
    "workclass_mapped",
    "education-num",
    "marital_status_mapped",
    "occupation_mapped",
    "relationship_mapped",
    "race_mapped",
    "sex_mapped",
    "capital-gain",
    "capital-loss",
    "hours-per-week",
    "native_country_mapped",
    CENSUS_INCOME_LABEL_COLUMN,
)
"""The columns the census recipe leaves, in order (each mapped column where its source was): 12
numeric features and the label."""

# Categories by frequency in adult.data (32,561 rows), most frequent first.
_OCCUPATIONS = (
    "Prof-specialty",
    "Craft-repair",
    "Exec-managerial",
    "Adm-clerical",
    "Sales",
    "Other-service",
    "Machine-op-inspct",
    "?",
    "Transport-moving",
    "Handlers-cleaners",
    "Farming-fishing",
    "Tech-support",
    "Protective-serv",
    "Priv-house-serv",
    "Armed-Forces",
)
_WORKCLASSES = (  # after ? -> Private
    "Private",
    "Self-emp-not-inc",
    "Local-gov",
    "State-gov",
    "Self-emp-inc",
    "Federal-gov",
    "Without-pay",
    "Never-worked",
)
_MARITAL = (
    "Married-civ-spouse",
    "Never-married",
    "Divorced",
    "Separated",
    "Widowed",
    "Married-spouse-absent",
    "Married-AF-spouse",
)
_RELATIONSHIPS = ("Husband", "Not-in-family", "Own-child", "Unmarried", "Wife", "Other-relative")
_RACES = ("White", "Black", "Asian-Pac-Islander", "Amer-Indian-Eskimo", "Other")
_SEXES = ("Male", "Female")
_CONTINUOUS = ("age", "education-num", "capital-gain", "capital-loss", "hours-per-week")


def census_income_recipe(name: str = "census-income-recipe") -> Recipe:
    """The census-income preparation for a binary income classifier, as a recipe.

    1. Each continuous column (age, education-num, capital-gain, capital-loss, hours-per-week) is
       made a ``double``, whatever type the CSV was read as.
    2. ``?`` becomes ``Private`` in ``workclass`` and ``United-States`` in ``native-country``.
    3. ``occupation``: the 12 most frequent categories (``?`` among them) map to 1..12, the other
       three to 0; ``workclass``: top 5; ``native-country``: top 1; ``marital-status``,
       ``relationship``, ``race`` and ``sex``: every category. Each source column is deleted;
       unseen categories map to 0.
    4. ``fnlwgt`` (a sampling weight) and ``education`` (already coded as ``education-num``) are
       deleted.
    5. ``income`` maps to 0 (``<=50K``) / 1 (``>50K``), also with ``adult.test``'s trailing period,
       into ``label``; ``income`` is deleted. Any other value leaves a null label.

    The result has :data:`CENSUS_INCOME_OUTPUT_COLUMNS`.
    """
    steps: list[RecipeStep] = [ChangeDataType(c, ColumnDataType.DOUBLE) for c in _CONTINUOUS]
    steps += [
        ReplaceValue("workclass", "?", "Private"),
        ReplaceValue("native-country", "?", "United-States"),
        CategoricalMapping.top_values("occupation", _OCCUPATIONS, 12),
        DeleteColumns(("occupation",)),
        CategoricalMapping.top_values("workclass", _WORKCLASSES, 5),
        CategoricalMapping.top_values("native-country", ("United-States",), 1),
        DeleteColumns(("workclass", "native-country")),
        CategoricalMapping.top_values("marital-status", _MARITAL),
        CategoricalMapping.top_values("relationship", _RELATIONSHIPS),
        CategoricalMapping.top_values("race", _RACES),
        CategoricalMapping.top_values("sex", _SEXES),
        DeleteColumns(("marital-status", "relationship", "race", "sex")),
        DeleteColumns(("fnlwgt",)),
        DeleteColumns(("education",)),
        CategoricalMapping(
            "income",
            {"<=50K": 0, ">50K": 1, "<=50K.": 0, ">50K.": 1},
            target_column="income_mapped",
        ),
        RenameColumn("income_mapped", CENSUS_INCOME_LABEL_COLUMN),
        DeleteColumns(("income",)),
    ]
    return Recipe(
        name,
        tuple(steps),
        "Census income (UCI Adult): clean '?', map categories to numbers, label income >50K as 1",
    )


CENSUS_INCOME_RECIPE: Recipe = census_income_recipe()
"""The census-income recipe with its default name, ``census-income-recipe``."""
