"""Tests for the DataBrew recipe publisher custom resource (``emr_patterns.lambdas.databrew_publish``).

DataBrew is moto's in-process ``mock_aws`` (moto implements ``CreateRecipe``, ``PublishRecipe``
and ``DescribeRecipe``, with ``DescribeRecipe`` without a version returning the latest published
one, as the service documents). The requests the handler makes are also checked against the
botocore service model.
"""

from __future__ import annotations

from typing import Any

import boto3
import botocore.session
import botocore.validate
import pytest

from emr_patterns.lambdas.databrew_publish import handler as pub
from emr_patterns.spec.databrew import census_income_recipe

from .conftest import REGION, STACK_ID, lambda_context

SERVICE_TOKEN = "arn:aws:lambda:us-east-1:123456789012:function:databrew-publish"
RECIPE = census_income_recipe()


@pytest.fixture(autouse=True)
def fresh_client(aws_env: None) -> Any:
    pub._client = None
    yield
    pub._client = None


def event(request: str, properties: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    props = {"ServiceToken": SERVICE_TOKEN, "RecipeName": RECIPE.name, "StepsHash": "abc"}
    if properties is not None:
        props = {"ServiceToken": SERVICE_TOKEN, **properties}
    return {
        "RequestType": request,
        "StackId": STACK_ID,
        "RequestId": "r-1",
        "LogicalResourceId": "PublishedVersion",
        "ResourceType": "Custom::DataBrewRecipeVersion",
        "ResourceProperties": props,
        **extra,
    }


def create_recipe() -> Any:
    client = boto3.client("databrew", region_name=REGION)
    client.create_recipe(**RECIPE.to_create_recipe_request())
    return client


def test_create_publishes_and_returns_the_first_version():
    client = create_recipe()
    out = pub.on_event(event("Create"), lambda_context())
    assert out["Data"] == {"RecipeVersion": "1.0"}
    assert out["PhysicalResourceId"] == f"{RECIPE.name}:1.0"
    published = client.describe_recipe(Name=RECIPE.name, RecipeVersion="1.0")
    assert published["Steps"] == RECIPE.to_steps()


def test_update_publishes_the_changed_steps_as_the_next_version():
    client = create_recipe()
    pub.on_event(event("Create"), lambda_context())
    changed = census_income_recipe().to_steps()[:-1]
    client.update_recipe(Name=RECIPE.name, Steps=changed)
    out = pub.on_event(
        event("Update", PhysicalResourceId=f"{RECIPE.name}:1.0", OldResourceProperties={}), lambda_context()
    )
    assert out["Data"] == {"RecipeVersion": "2.0"}
    assert client.describe_recipe(Name=RECIPE.name, RecipeVersion="2.0")["Steps"] == changed


def test_delete_makes_no_call():
    # No recipe exists: a call would fail.
    out = pub.on_event(event("Delete", PhysicalResourceId=f"{RECIPE.name}:1.0"), lambda_context())
    assert out == {"PhysicalResourceId": f"{RECIPE.name}:1.0"}


def test_a_failed_publish_raises_naming_the_recipe_and_the_error():
    with pytest.raises(pub.PublishError, match=r"census-income-recipe.*publish_recipe failed with "):
        pub.on_event(event("Create"), lambda_context())


@pytest.mark.parametrize(
    ("properties", "expected"),
    [
        ({"StepsHash": "abc"}, "RecipeName=None"),
        ({"RecipeName": "", "StepsHash": "abc"}, "RecipeName=''"),
        ({"RecipeName": "r"}, "StepsHash=None"),
        ({"RecipeName": "r", "StepsHash": "abc", "Steps": []}, "Unknown properties Steps"),
        ({"RecipeName": "r", "StepsHash": "abc", "Description": "x" * 1025}, "Description="),
    ],
)
def test_bad_properties_raise_naming_the_property(properties, expected):
    with pytest.raises(pub.PropertyError, match=expected):
        pub.on_event(event("Create", properties), lambda_context())


def test_requests_are_valid_against_the_botocore_model(monkeypatch):
    create_recipe()
    model = botocore.session.get_session().get_service_model("databrew")
    calls: list[tuple[str, dict[str, Any]]] = []
    real = pub.databrew()

    class Recording:
        def __getattr__(self, name: str) -> Any:
            def call(**kwargs: Any) -> Any:
                calls.append((name, kwargs))
                return getattr(real, name)(**kwargs)

            return call

    monkeypatch.setattr(pub, "_client", Recording())
    pub.on_event(event("Create", {"RecipeName": RECIPE.name, "StepsHash": "h", "Description": "v"}))
    assert [c[0] for c in calls] == ["publish_recipe", "describe_recipe"]
    for name, kwargs in calls:
        operation = "".join(part.title() for part in name.split("_"))
        shape = model.operation_model(operation).input_shape
        report = botocore.validate.ParamValidator().validate(kwargs, shape)
        assert not report.has_errors(), report.generate_report()
