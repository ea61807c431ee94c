"""CloudFormation custom resource: publish a DataBrew recipe and return the published version.

``AWS::DataBrew::Recipe`` manages only the recipe's working version, and a recipe job runs a
published one. This handler publishes the recipe after CloudFormation created or changed it, so
the job can pin the version it returns.

Entry point of a ``custom_resources.Provider`` (it returns or raises; the framework answers
CloudFormation, and reports a raised error as FAILED with its message):

``on_event``
    ResourceProperties: ``RecipeName`` (1-255 characters), ``StepsHash`` (the hash of the
    rendered steps: a new hash makes CloudFormation send an Update, so the new steps are
    published), optional ``Description`` of the published version (at most 1024).
    ``ServiceToken`` and ``ServiceTimeout`` are ignored; any other property is rejected.

    Create / Update: ``PublishRecipe(Name=RecipeName)``, then ``DescribeRecipe(Name=RecipeName)``
    (without a version it returns the latest published one). Data: ``RecipeVersion`` (e.g.
    ``"1.0"``). PhysicalResourceId: ``<RecipeName>:<RecipeVersion>``. A failed call raises
    :class:`PublishError` naming the recipe, the call and the service's error code and message.

    Delete: no AWS call. DataBrew deletes a recipe's versions with the recipe, which
    CloudFormation deletes itself.

IAM actions needed: ``databrew:PublishRecipe`` and ``databrew:DescribeRecipe`` on the recipe.
"""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)

IGNORED_PROPERTIES = frozenset({"ServiceToken", "ServiceTimeout"})
KNOWN_PROPERTIES = frozenset({"RecipeName", "StepsHash", "Description"})
NAME_MAX = 255
DESCRIPTION_MAX = 1024

_client: Any = None


class PropertyError(ValueError):
    """A ResourceProperties value is missing or invalid; the message names the property and fix."""


class PublishError(RuntimeError):
    """DataBrew refused to publish or describe the recipe; the message names the call and why."""


def databrew() -> Any:
    """The DataBrew client, created on first use."""
    global _client
    if _client is None:
        import boto3

        _client = boto3.client("databrew")
    return _client


def parse_properties(properties: dict[str, Any] | None) -> tuple[str, str | None]:
    """Validate ResourceProperties; return the recipe name and the version description."""
    props = properties or {}
    unknown = sorted(set(props) - KNOWN_PROPERTIES - IGNORED_PROPERTIES)
    if unknown:
        raise PropertyError(
            f"Unknown properties {', '.join(unknown)}; the allowed properties are "
            f"{', '.join(sorted(KNOWN_PROPERTIES))}"
        )
    name = props.get("RecipeName")
    if not isinstance(name, str) or not 1 <= len(name) <= NAME_MAX:
        raise PropertyError(f"RecipeName={name!r}: set it to the recipe's name (1-{NAME_MAX} characters)")
    steps_hash = props.get("StepsHash")
    if not isinstance(steps_hash, str) or not steps_hash:
        raise PropertyError(f"StepsHash={steps_hash!r}: set it to the hash of the recipe's rendered steps")
    description = props.get("Description")
    if description is not None and (not isinstance(description, str) or len(description) > DESCRIPTION_MAX):
        raise PropertyError(f"Description={description!r}: give a string of at most {DESCRIPTION_MAX}")
    return name, description or None


def _call(recipe: str, operation: str, **kwargs: Any) -> dict[str, Any]:
    from botocore.exceptions import ClientError

    try:
        result: dict[str, Any] = getattr(databrew(), operation)(**kwargs)
    except ClientError as err:
        error = err.response.get("Error", {})
        raise PublishError(
            f"Recipe {recipe!r}: {operation} failed with {error.get('Code', 'an error')}: "
            f"{error.get('Message', str(err))}"
        ) from err
    return result


def publish(name: str, description: str | None = None) -> str:
    """Publish recipe ``name``; return the version DataBrew gave it."""
    kwargs: dict[str, Any] = {"Name": name}
    if description:
        kwargs["Description"] = description
    _call(name, "publish_recipe", **kwargs)
    described = _call(name, "describe_recipe", Name=name)
    version = described.get("RecipeVersion")
    if not isinstance(version, str) or not version:
        raise PublishError(f"Recipe {name!r}: DescribeRecipe returned no RecipeVersion after PublishRecipe")
    return version


def on_event(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Create / Update: publish and return ``RecipeVersion``. Delete: nothing to do."""
    request = event.get("RequestType")
    if request == "Delete":
        return {"PhysicalResourceId": event.get("PhysicalResourceId", "databrew-publish")}
    if request not in ("Create", "Update"):
        raise PropertyError(f"RequestType={request!r}: expected Create, Update or Delete")
    name, description = parse_properties(event.get("ResourceProperties"))
    version = publish(name, description)
    logger.info("Published recipe %s as version %s", name, version)
    return {"PhysicalResourceId": f"{name}:{version}", "Data": {"RecipeVersion": version}}
