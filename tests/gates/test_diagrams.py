"""The state-machine diagrams in the docs are the ones the synthesized prebuilt stacks deploy."""

from __future__ import annotations

import pytest

from emr_patterns.orchestration.diagram import DIAGRAM_RE, update_diagrams

from ..conftest import REPO

pytestmark = pytest.mark.cdk
PAGES = {
    "transient-pipeline.md": "TransientSparkPipelineStack",
    "notebook-pipeline.md": "NotebookPipelineStack",
    # Two machines in these stacks: the marker names the outer one by its logical id.
    "databrew-ml.md": "DataBrewMlStack/Pipeline",
    "data-lake-warehouse.md": "DataLakeWarehouseStack/Pipeline",
}


@pytest.mark.parametrize(("page", "stack_id"), PAGES.items())
def test_each_pipeline_page_shows_its_deployed_machine(synthesized, page, stack_id):
    text = (REPO / "docs" / page).read_text()
    marked = [m["stack"] + (f"/{m['machine']}" if m["machine"] else "") for m in DIAGRAM_RE.finditer(text)]
    assert marked == [stack_id]
    templates = {s: synthesized.template_json(s) for s in synthesized.stacks}
    assert update_diagrams(text, templates) == text, f"docs/{page} is stale: run `make diagrams`"


def test_a_stale_diagram_is_detected(synthesized):
    templates = {s: synthesized.template_json(s) for s in synthesized.stacks}
    stale = "<!-- diagram: NotebookPipelineStack -->\n```mermaid\nflowchart TD\n```\n<!-- /diagram -->\n"
    redrawn = update_diagrams(stale, templates)
    assert redrawn != stale and "Start-trailing_n_days" in redrawn and "createCluster.sync" in redrawn
