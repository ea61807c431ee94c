"""Small catalog apps for the Service Catalog tests: an imported platform (no platform synth)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import App, Environment, Stack

# The deployed platform's outputs the platform-sharing tests import (account 111122223333).
from ..constructs.test_platform_sharing import ACCOUNT, OUTPUTS

REGION = "eu-west-1"


def catalog_app(outdir: Path, snapshots: Path, **catalog_props: Any) -> tuple[App, Stack, Any]:
    """(app, stack, catalog): an ``EmrServiceCatalog`` with one persona on an imported platform."""
    from emr_patterns.foundation.platform import EmrPlatform, EmrPlatformAttributes
    from emr_patterns.patterns.catalog import EmrServiceCatalog, PortfolioSpec

    app = App(outdir=str(outdir))
    stack = Stack(app, "Catalog", env=Environment(account=ACCOUNT, region=REGION))
    platform = EmrPlatform.from_platform_attributes(
        stack, "Platform", EmrPlatformAttributes.from_stack_outputs(OUTPUTS)
    )
    props: dict[str, Any] = {
        "portfolios": [PortfolioSpec("Engineers", "Data Engineering")],
        "snapshot_directory": str(snapshots),
        **catalog_props,
    }
    catalog = EmrServiceCatalog(stack, "Catalog", platform=platform, **props)
    return app, stack, catalog
