"""EventBridge as the triggers' tests need it: moto routing for event patterns, an input renderer.

moto 5.2.5 has no ``TestEventPattern`` (it raises NotImplementedError), so the patterns are put
on a moto rule whose target is an SQS queue, and the events that arrive are the ones that
matched. moto's input transformer inserts a string placeholder outside quotes without quotes,
which is not what EventBridge does, so :func:`render_input_transformer` is a stand-in renderer
for the documented behaviour instead: a placeholder standing alone as a JSON value becomes the
value's JSON (a string gains quotes, ``null`` stays ``null``), and a placeholder inside a JSON
string becomes the value's text, escaped for that string (see the ``InputTransformer`` page of the
EventBridge API reference: ``{"myInstance": <instance>, "myStatus": "<instance> is in state
\\"<status>\\""}``).
"""

from __future__ import annotations

import json
from typing import Any

from .conftest import resolve_tokens

REGION = "eu-west-1"


def resolve_deep(value: Any) -> Any:
    """A template value with every ``Ref``/``GetAtt``/``Fn::Join`` replaced by its placeholder string."""
    if isinstance(value, dict):
        if len(value) == 1 and next(iter(value)) in {"Ref", "Fn::GetAtt", "Fn::Join"}:
            return resolve_tokens(value)
        return {k: resolve_deep(v) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_deep(v) for v in value]
    return value


def _path_value(event: dict[str, Any], path: str) -> Any:
    assert path.startswith("$."), path
    value: Any = event
    for part in path[2:].split("."):
        value = value[part]
    return value


def render_input_transformer(transformer: dict[str, Any], event: dict[str, Any]) -> str:
    """The text EventBridge sends for ``event`` through ``InputTemplate``/``InputPathsMap``."""
    template: str = transformer["InputTemplate"]
    paths: dict[str, str] = transformer.get("InputPathsMap", {})
    out: list[str] = []
    in_string = escaped = False
    i = 0
    while i < len(template):
        char = template[i]
        if char == "<":
            end = template.index(">", i)
            name = template[i + 1 : end]
            value = _path_value(event, paths[name])
            if in_string:
                text = value if isinstance(value, str) else json.dumps(value)
                out.append(json.dumps(text)[1:-1])
            else:
                out.append(json.dumps(value))
            i = end + 1
            continue
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        out.append(char)
        i += 1
    return "".join(out)


def matching(pattern: dict[str, Any], events: list[dict[str, Any]]) -> list[int]:
    """Indexes of ``events`` that a moto EventBridge rule with ``pattern`` delivers to its target."""
    import boto3
    from moto import mock_aws

    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        bridge = boto3.client("events", region_name=REGION)
        url = sqs.create_queue(QueueName="matched")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        bridge.put_rule(Name="under-test", EventPattern=json.dumps(pattern))
        bridge.put_targets(Rule="under-test", Targets=[{"Id": "queue", "Arn": arn}])
        for i, event in enumerate(events):
            detail = {**event["detail"], "_index": i}
            response = bridge.put_events(
                Entries=[
                    {
                        "Source": event["source"],
                        "DetailType": event["detail-type"],
                        "Detail": json.dumps(detail),
                        "Resources": event.get("resources", []),
                    }
                ]
            )
            assert response["FailedEntryCount"] == 0, response
        found = []
        while True:
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                break
            for message in messages:
                found.append(json.loads(message["Body"])["detail"]["_index"])
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return sorted(found)


def botocore_problems(service: str, operation: str, params: dict[str, Any]) -> str:
    """botocore's validation report for ``params`` of ``service.operation`` ('' when valid)."""
    import botocore.session
    import botocore.validate

    model = botocore.session.get_session().get_service_model(service)
    shape = model.operation_model(operation).input_shape
    report = botocore.validate.ParamValidator().validate(params, shape)
    return report.generate_report() if report.has_errors() else ""
