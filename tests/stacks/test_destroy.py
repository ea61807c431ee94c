"""With emr-patterns:removeDataOnDestroy=true, `cdk destroy` removes every stateful resource;
without it, every one is retained."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.cdk

STATEFUL = ("AWS::S3::Bucket", "AWS::KMS::Key", "AWS::Logs::LogGroup")


def _stateful(remove: bool) -> list[tuple[str, str, str, str | None]]:
    from aws_cdk import App

    from emr_patterns.app_factory import build_app

    from ..conftest import cdk_context

    context = {**cdk_context(), "emr-patterns:removeDataOnDestroy": remove}
    app = build_app(App(context=context), with_nag=False)
    assembly = app.synth()
    return [
        (stack.stack_name, logical_id, r["Type"], r.get("DeletionPolicy"))
        for stack in assembly.stacks
        for logical_id, r in stack.template["Resources"].items()
        if r["Type"] in STATEFUL
    ]


def test_flag_set_destroy_removes_every_stateful_resource():
    found = _stateful(True)
    assert {t for _, _, t, _ in found} == set(STATEFUL)
    kept = [f for f in found if f[3] != "Delete"]
    assert kept == [], f"kept on destroy although the flag is set: {kept}"


def test_flag_unset_every_stateful_resource_is_retained():
    kept = [f for f in _stateful(False) if f[3] != "Retain"]
    assert kept == [], f"deleted with the stack although the flag is not set: {kept}"
