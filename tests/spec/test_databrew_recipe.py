"""DataBrew recipes as code: rendered steps against the botocore model, the operations table, the
census-income recipe, and the local preview on a synthetic census sample."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from botocore.loaders import Loader
from botocore.model import ServiceModel, Shape
from botocore.validate import ParamValidator

from emr_patterns.errors import EmrPatternsValidationError
from emr_patterns.spec.databrew import (
    CENSUS_INCOME_COLUMNS,
    CENSUS_INCOME_LABEL_COLUMN,
    CENSUS_INCOME_OUTPUT_COLUMNS,
    CENSUS_INCOME_RECIPE,
    OPERATIONS,
    CategoricalMapping,
    ChangeDataType,
    ColumnDataType,
    ConditionExpression,
    DeleteColumns,
    RawStep,
    Recipe,
    RenameColumn,
    ReplaceText,
    ReplaceValue,
    census_income_recipe,
    mapped_column_name,
    regex_literal,
    validate_steps,
)
from emr_patterns.spec.databrew_local import PREVIEW_OPERATIONS, RecipePreviewError, apply_steps
from tests.census_data import COLUMNS, census_frame, census_rows


def _service() -> ServiceModel:
    return ServiceModel(Loader().load_service_model("databrew", "service-2"), "databrew")


def _create_recipe_shape() -> Shape:
    return _service().operation_model("CreateRecipe").input_shape


def _beyond_botocore(shape: Shape, value: Any, where: str = "") -> list[str]:
    """What botocore's ParamValidator leaves to the service: string ``pattern`` and ``max``."""
    out: list[str] = []
    if shape.type_name == "structure":
        for name, member in shape.members.items():
            if name in value:
                out += _beyond_botocore(member, value[name], f"{where}.{name}")
    elif shape.type_name == "list":
        for i, item in enumerate(value):
            out += _beyond_botocore(shape.member, item, f"{where}[{i}]")
    elif shape.type_name == "map":
        for key, item in value.items():
            out += _beyond_botocore(shape.key, key, f"{where} key {key!r}")
            out += _beyond_botocore(shape.value, item, f"{where}[{key!r}]")
    elif shape.type_name == "string":
        meta = shape.metadata
        if "pattern" in meta and not re.search(meta["pattern"], value):
            out.append(f"{where}: {value!r} does not match {meta['pattern']}")
        if "max" in meta and len(value) > meta["max"]:
            out.append(f"{where}: longer than {meta['max']}")
    return out


def assert_valid_create_recipe(request: dict[str, Any]) -> None:
    shape = _create_recipe_shape()
    report = ParamValidator().validate(request, shape)
    assert not report.has_errors(), report.generate_report()
    assert _beyond_botocore(shape, request) == []


EACH_STEP = [
    ReplaceValue("workclass", "?", "Private"),
    ReplaceText("name", r"\s+", " "),
    CategoricalMapping("sex", {"Male": 1, "Female": 2}),
    CategoricalMapping.top_values("occupation", ["Sales", "Tech-support", "Other-service"], 2),
    CategoricalMapping("c", {"a": "1"}, keep_others=True),
    CategoricalMapping("c", {"a": "1"}, target_column="c_code", delete_other_rows=True),
    DeleteColumns(("fnlwgt", "education")),
    DeleteColumns("fnlwgt"),
    RenameColumn("income_mapped", "label"),
    ChangeDataType("age", ColumnDataType.DOUBLE),
    RawStep("DELETE", {"sourceColumn": "fnlwgt"}),
    RenameColumn("a", "b", conditions=(ConditionExpression("IS_NOT_MISSING", "a"),)),
    ReplaceValue("x", "?", "y", conditions=(ConditionExpression("IS", "z", "1"),)),
]


def test_census_recipe_is_a_valid_create_recipe_request():
    request = CENSUS_INCOME_RECIPE.to_create_recipe_request()
    assert request["Name"] == "census-income-recipe" and request["Description"]
    assert_valid_create_recipe(request)
    for step in request["Steps"]:
        assert all(isinstance(v, str) for v in step["Action"]["Parameters"].values())


@pytest.mark.parametrize("step", EACH_STEP, ids=lambda s: type(s).__name__)
def test_each_step_type_renders_a_valid_create_recipe_request(step):
    recipe = Recipe("one-step", (step,))
    assert_valid_create_recipe(recipe.to_create_recipe_request())
    assert validate_steps(recipe.to_steps()) == []


def test_rendered_forms_of_each_operation():
    assert ReplaceValue("native-country", "?", "United-States").to_step() == {
        "Action": {
            "Operation": "REPLACE_TEXT",
            "Parameters": {"sourceColumn": "native-country", "pattern": r"^\?$", "value": "United-States"},
        }
    }
    mapping = CategoricalMapping.top_values("marital-status", ["A", "B", "C"], 2).to_step()
    params = mapping["Action"]["Parameters"]
    assert mapping["Action"]["Operation"] == "CATEGORICAL_MAPPING"
    assert json.loads(params["categoryMap"]) == {"A": "1", "B": "2"}
    assert params == {
        "sourceColumn": "marital-status",
        "categoryMap": params["categoryMap"],
        "mapType": "NUMERIC",
        "targetColumn": "marital_status_mapped",
        "keepOthers": "false",
        "deleteOtherRows": "false",
        "other": "0",
    }
    assert DeleteColumns(("a", "b")).to_step()["Action"] == {
        "Operation": "DELETE",
        "Parameters": {"sourceColumns": '["a","b"]'},
    }
    assert RenameColumn("a", "b").to_step()["Action"]["Parameters"] == {
        "sourceColumn": "a",
        "targetColumn": "b",
    }
    assert ChangeDataType("age", "int").to_step()["Action"] == {
        "Operation": "CHANGE_DATA_TYPE",
        "Parameters": {"sourceColumn": "age", "columnDataType": "int"},
    }
    conditioned = ReplaceValue("x", "?", "y", conditions=(ConditionExpression("IS", "z", "1"),)).to_step()
    assert conditioned["ConditionExpressions"] == [{"Condition": "IS", "TargetColumn": "z", "Value": "1"}]


def test_regex_literal_and_mapped_names():
    assert regex_literal("a.b?c(d)") == r"a\.b\?c\(d\)"
    assert regex_literal("United-States") == "United-States"  # '-' needs no escape outside [...]
    assert re.fullmatch(regex_literal("^$.|?*+()[]{}\\"), "^$.|?*+()[]{}\\")
    assert mapped_column_name("native-country") == "native_country_mapped"


def test_census_recipe_steps_follow_the_preparation():
    steps = CENSUS_INCOME_RECIPE.to_steps()
    ops = [s["Action"]["Operation"] for s in steps]
    assert ops.count("CHANGE_DATA_TYPE") == 5 and ops.count("REPLACE_TEXT") == 2
    maps = {
        s["Action"]["Parameters"]["sourceColumn"]: json.loads(s["Action"]["Parameters"]["categoryMap"])
        for s in steps
        if s["Action"]["Operation"] == "CATEGORICAL_MAPPING"
    }
    assert {k: len(v) for k, v in maps.items()} == {
        "occupation": 12,
        "workclass": 5,
        "native-country": 1,
        "marital-status": 7,
        "relationship": 6,
        "race": 5,
        "sex": 2,
        "income": 4,
    }
    assert "?" in maps["occupation"] and "Armed-Forces" not in maps["occupation"]
    assert maps["income"] == {"<=50K": "0", ">50K": "1", "<=50K.": "0", ">50K.": "1"}
    assert steps[-2]["Action"] == {
        "Operation": "RENAME",
        "Parameters": {"sourceColumn": "income_mapped", "targetColumn": "label"},
    }
    assert census_income_recipe("other-name").name == "other-name"
    assert CENSUS_INCOME_COLUMNS == COLUMNS


def test_to_cfn_steps_uses_the_jsii_member_names():
    recipe = Recipe("r", (ReplaceValue("x", "?", "y", conditions=(ConditionExpression("IS", "z", "1"),)),))
    assert recipe.to_cfn_steps() == [
        {
            "action": {
                "operation": "REPLACE_TEXT",
                "parameters": {"sourceColumn": "x", "pattern": r"^\?$", "value": "y"},
            },
            "conditionExpressions": [{"condition": "IS", "targetColumn": "z", "value": "1"}],
        }
    ]


@pytest.mark.cdk
def test_cfn_recipe_takes_the_cfn_steps_unchanged():
    """Through jsii into the template: every step, parameter and condition arrives as rendered."""
    import aws_cdk as cdk
    from aws_cdk import aws_databrew as databrew

    app = cdk.App()
    stack = cdk.Stack(app, "S")
    conditioned = Recipe("c", (RenameColumn("a", "b", conditions=(ConditionExpression("IS", "a", "1"),)),))
    for recipe in (CENSUS_INCOME_RECIPE, conditioned):
        databrew.CfnRecipe(stack, recipe.name, name=recipe.name, steps=recipe.to_cfn_steps())
    resources = app.synth().get_stack_by_name("S").template["Resources"]
    by_name = {r["Properties"]["Name"]: r["Properties"]["Steps"] for r in resources.values()}
    assert by_name["census-income-recipe"] == CENSUS_INCOME_RECIPE.to_steps()
    assert by_name["c"] == conditioned.to_steps()


def _problems(fn) -> list[str]:
    with pytest.raises(EmrPatternsValidationError) as info:
        fn()
    assert isinstance(info.value, ValueError)
    return info.value.problems


def test_unknown_operation_names_the_step_and_the_fix():
    steps = [
        RenameColumn("a", "b").to_step(),
        {"Action": {"Operation": "RENAM", "Parameters": {"sourceColumn": "a", "targetColumn": "b"}}},
    ]
    (line,) = _problems(lambda: Recipe.from_steps("r", steps))
    assert line.startswith("steps[1].Action.Operation='RENAM': is not an operation")
    assert "did you mean 'RENAME'?" in line and "CATEGORICAL_MAPPING" in line
    (line,) = _problems(lambda: RawStep("UPPER_CASE", {"sourceColumn": "a"}))
    assert "UPPER_CASE" in line and "Fix:" in line


def test_missing_parameter_names_step_operation_parameter_and_fix():
    steps = [
        DeleteColumns("x").to_step(),
        {"Action": {"Operation": "CATEGORICAL_MAPPING", "Parameters": {"sourceColumn": "sex"}}},
    ]
    lines = _problems(lambda: Recipe.from_steps("r", steps))
    assert len(lines) == 3, lines
    for param in ("categoryMap", "mapType", "targetColumn"):
        line = next(p for p in lines if f"steps[1].Action.Parameters.{param}=" in p)
        assert f"is missing; CATEGORICAL_MAPPING needs it. Fix: add '{param}'" in line
    (line,) = _problems(lambda: Recipe.from_steps("r", [{"Action": {"Operation": "DELETE"}}]))
    assert "steps[0].Action.Parameters.sourceColumn|sourceColumns" in line and "exactly one" in line


def test_wrong_types_and_encodings_are_refused():
    cases = {
        "RENAME": ({"sourceColumn": 3, "targetColumn": "b"}, "is of type int, not a string (RENAME)"),
        "DELETE": ({"sourceColumns": "a,b"}, "is not JSON (DELETE)"),
        "CHANGE_DATA_TYPE": ({"sourceColumn": "a", "columnDataType": "integer"}, "did you mean 'int'?"),
    }
    for op, (params, expected) in cases.items():
        (line,) = _problems(lambda op=op, params=params: RawStep(op, params))
        assert expected in line, line
    lines = _problems(
        lambda: Recipe.from_steps(
            "r",
            [
                {"Action": {"Operation": "RENAME", "Parameters": {"sourceColumn": "a", "targetColumn": ""}}},
                {
                    "Action": {
                        "Operation": "RENAME",
                        "Parameters": {"sourceColumn": "a", "targetColumn": "b", "x": "1"},
                    }
                },
                {"Action": {"Operation": "DELETE", "Parameters": {"sourceColumns": '["a", 1]'}}},
                {
                    "Action": {
                        "Operation": "CATEGORICAL_MAPPING",
                        "Parameters": {
                            "sourceColumn": "a",
                            "categoryMap": '{"x": "one"}',
                            "mapType": "NUMERIC",
                            "targetColumn": "b",
                            "keepOthers": "yes",
                        },
                    }
                },
                {
                    "Action": {
                        "Operation": "RENAME",
                        "Parameters": {"sourceColumn": "a", "targetColumn": "b"},
                    },
                    "X": 1,
                },
                "RENAME a b",
            ],
        )
    )
    text = "\n".join(lines)
    assert "steps[0].Action.Parameters.targetColumn='': is empty" in text
    assert "steps[1].Action.Parameters.x='1': is not a parameter of RENAME" in text
    assert "steps[2].Action.Parameters.sourceColumns" in text and "not a non-empty string" in text
    assert "steps[3].Action.Parameters.keepOthers='yes': is not 'true' or 'false'" in text
    assert "steps[4].X=1: is not a recipe step field" in text
    assert "steps[5]='RENAME a b': is not an object" in text


def test_typed_steps_refuse_bad_fields():
    assert "ReplaceValue.replacement=''" in _problems(lambda: ReplaceValue("a", "?", ""))[0]
    assert "ReplaceText.pattern" in _problems(lambda: ReplaceText("a", "(", "x"))[0]
    assert (
        "maps 'a' to a value that is not a number"
        in _problems(lambda: CategoricalMapping("c", {"a": "high"}))[0]
    )
    both = _problems(lambda: CategoricalMapping("c", {"a": 1}, other=0, keep_others=True))
    assert "cannot both stay and be replaced" in both[0]
    assert "is not 1..3" in _problems(lambda: CategoricalMapping.top_values("c", ["a", "b", "c"], 4))[0]
    assert "DeleteColumns.columns" in _problems(lambda: DeleteColumns(()))[0]
    assert "is the same name" in _problems(lambda: RenameColumn("a", "a"))[0]
    assert "did you mean 'double'?" in _problems(lambda: ChangeDataType("a", "doubel"))[0]


def test_recipe_refuses_bad_name_empty_steps_and_foreign_objects():
    assert _problems(lambda: Recipe("bad/name", (RenameColumn("a", "b"),)))[0].startswith("name='bad/name'")
    assert "is empty" in _problems(lambda: Recipe("r", ()))[0]
    line = _problems(lambda: Recipe("r", (RenameColumn("a", "b"), {"Action": {}})))[0]
    assert line.startswith("steps[1]=") and "Recipe.from_steps" in line


def test_from_steps_round_trips_the_rendered_form():
    again = Recipe.from_steps("census-income-recipe", CENSUS_INCOME_RECIPE.to_steps(), "d")
    assert again.to_steps() == CENSUS_INCOME_RECIPE.to_steps()
    assert json.loads(CENSUS_INCOME_RECIPE.to_json()) == CENSUS_INCOME_RECIPE.to_steps()


# --- local preview ------------------------------------------------------------------------------


def test_preview_implements_exactly_the_operations_table():
    assert frozenset(OPERATIONS) == PREVIEW_OPERATIONS


def _expected_row(raw: dict[str, Any]) -> dict[str, float]:
    """The census recipe worked by hand for one raw row (an independent reference)."""
    occupation = [
        "Prof-specialty", "Craft-repair", "Exec-managerial", "Adm-clerical", "Sales", "Other-service",
        "Machine-op-inspct", "?", "Transport-moving", "Handlers-cleaners", "Farming-fishing", "Tech-support",
    ]  # fmt: skip
    workclass = ["Private", "Self-emp-not-inc", "Local-gov", "State-gov", "Self-emp-inc"]
    marital = [
        "Married-civ-spouse", "Never-married", "Divorced", "Separated", "Widowed",
        "Married-spouse-absent", "Married-AF-spouse",
    ]  # fmt: skip
    relationship = ["Husband", "Not-in-family", "Own-child", "Unmarried", "Wife", "Other-relative"]
    race = ["White", "Black", "Asian-Pac-Islander", "Amer-Indian-Eskimo", "Other"]

    def code(values: list[str], value: str) -> float:
        return float(values.index(value) + 1) if value in values else 0.0

    wc = "Private" if raw["workclass"] == "?" else raw["workclass"]
    nc = "United-States" if raw["native-country"] == "?" else raw["native-country"]
    return {
        "age": float(raw["age"]),
        "workclass_mapped": code(workclass, wc),
        "education-num": float(raw["education-num"]),
        "marital_status_mapped": code(marital, raw["marital-status"]),
        "occupation_mapped": code(occupation, raw["occupation"]),
        "relationship_mapped": code(relationship, raw["relationship"]),
        "race_mapped": code(race, raw["race"]),
        "sex_mapped": code(["Male", "Female"], raw["sex"]),
        "capital-gain": float(raw["capital-gain"]),
        "capital-loss": float(raw["capital-loss"]),
        "hours-per-week": float(raw["hours-per-week"]),
        "native_country_mapped": 1.0 if nc == "United-States" else 0.0,
        "label": 1.0 if raw["income"] == ">50K" else 0.0,
    }


def test_preview_of_the_rendered_census_recipe_on_a_synthetic_sample():
    rows = census_rows(1500)
    frame = census_frame(1500)
    # The sample holds what the recipe must handle: '?', rare occupations, other countries.
    assert {"?", "Protective-serv", "Priv-house-serv"} <= set(frame["occupation"])
    assert "?" in set(frame["workclass"]) and "Mexico" in set(frame["native-country"])

    out = apply_steps(frame, CENSUS_INCOME_RECIPE.to_steps())

    assert tuple(out.columns) == CENSUS_INCOME_OUTPUT_COLUMNS
    assert len(out) == len(frame)
    assert all(str(t) == "float64" for t in out.dtypes)
    assert not out.isna().any().any()
    assert out.to_dict("records") == [_expected_row(r) for r in rows]
    assert set(out[CENSUS_INCOME_LABEL_COLUMN]) == {0.0, 1.0}
    assert list(frame.columns) == list(COLUMNS)  # the input is left as it was


def test_preview_accepts_a_recipe_and_the_test_file_income_spelling():
    frame = census_frame(20)
    frame.loc[0, "income"], frame.loc[1, "income"] = ">50K.", "<=50K."
    frame.loc[2, "income"] = "unknown"
    out = apply_steps(frame, CENSUS_INCOME_RECIPE)
    assert list(out["label"][:2]) == [1.0, 0.0]
    assert out["label"].isna().tolist()[2] is True  # an unmapped income leaves a null label


def test_preview_operations_one_by_one():
    import pandas as pd

    frame = pd.DataFrame({"a": ["x", "?", None, "y?"], "n": ["1", "2.7", "no", "300"], "b": [1, 2, 3, 4]})
    out = apply_steps(frame, [ReplaceValue("a", "?", "Q").to_step(), ReplaceText("a", r"\?", "!").to_step()])
    assert out["a"].tolist()[:2] == ["x", "Q"] and out["a"].tolist()[3] == "y!" and out["a"].isna()[2]
    out = apply_steps(frame, [ChangeDataType("n", "byte").to_step()])
    assert out["n"].tolist()[:2] == [1, 2] and out["n"].isna().tolist()[2:] == [True, True]
    out = apply_steps(
        frame, [ChangeDataType("b", "string").to_step(), ChangeDataType("n", "boolean").to_step()]
    )
    assert out["b"].tolist() == ["1", "2", "3", "4"] and out["n"].isna().tolist() == [True, True, False, True]
    keep = apply_steps(frame, [CategoricalMapping("n", {"1": 5}, keep_others=True).to_step()])
    assert keep["n_mapped"].tolist()[:2] == [5.0, 2.7] and list(keep.columns) == ["a", "n", "n_mapped", "b"]
    dropped = apply_steps(frame, [CategoricalMapping("a", {"x": 1}, delete_other_rows=True).to_step()])
    assert dropped["a_mapped"].tolist() == [1.0] and dropped.index.tolist() == [0]
    nulls = apply_steps(frame, [CategoricalMapping("a", {"x": 1}).to_step()])
    assert nulls["a_mapped"].isna().tolist() == [False, True, True, True]
    out = apply_steps(
        frame, [RawStep("DELETE", {"sourceColumn": "b"}).to_step(), RenameColumn("a", "c").to_step()]
    )
    assert list(out.columns) == ["c", "n"]


def test_preview_refuses_what_it_does_not_know_and_names_the_step():
    import pandas as pd

    frame = pd.DataFrame({"a": ["x"]})
    with pytest.raises(RecipePreviewError, match=r"steps\[1\] UPPER_CASE: the local preview does not know"):
        apply_steps(frame, [RenameColumn("a", "b").to_step(), {"Action": {"Operation": "UPPER_CASE"}}])
    with pytest.raises(RecipePreviewError, match="ConditionExpressions are not previewed"):
        apply_steps(
            frame, [RenameColumn("a", "b", conditions=(ConditionExpression("IS", "a", "x"),)).to_step()]
        )
    with pytest.raises(RecipePreviewError, match=r"steps\[0\] DELETE: column 'zz' is not in the data"):
        apply_steps(frame, [DeleteColumns("zz").to_step()])
    with pytest.raises(RecipePreviewError, match="already exists"):
        apply_steps(frame, [CategoricalMapping("a", {"x": 1}, target_column="a").to_step()])
    with pytest.raises(RecipePreviewError, match="not text"):
        apply_steps(pd.DataFrame({"a": [1]}), [ReplaceValue("a", "1", "2").to_step()])
    with pytest.raises(EmrPatternsValidationError, match="targetColumn"):
        apply_steps(frame, [{"Action": {"Operation": "RENAME", "Parameters": {"sourceColumn": "a"}}}])
    with pytest.raises(ValueError):  # RecipePreviewError and the validation error are both ValueErrors
        apply_steps(frame, [{"Action": {"Operation": "FOO"}}])
