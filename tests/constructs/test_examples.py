"""The examples in docs/examples synthesize with the nag packs on: any finding fails them."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

pytestmark = pytest.mark.cdk
EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "docs" / "examples").glob("*.py"))


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_example_synthesizes_under_the_gate(example, tmp_path, monkeypatch):
    monkeypatch.setenv("CDK_OUTDIR", str(tmp_path))
    # app.synth() raises when a validation plugin (the nag packs) reports a finding.
    namespace = runpy.run_path(str(example), run_name="__main__")
    assembly = namespace["app"].synth()
    assert assembly.stacks, f"{example.name} synthesized no stack"


def test_there_is_an_example():
    assert EXAMPLES
