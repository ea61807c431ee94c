"""Build the CDK app with every prebuilt stack; shared by ``app.py`` and the tests."""

from __future__ import annotations

import os
from typing import Any

from aws_cdk import App, Environment, Validations

from emr_patterns.foundation.options import NetworkOptions
from emr_patterns.stacks.analytics import DataBrewMlStack, DataLakeWarehouseStack
from emr_patterns.stacks.cdc_hudi import CdcHudiStack
from emr_patterns.stacks.clusters import GravitonSparkClusterStack, SpotFleetClusterStack
from emr_patterns.stacks.hive import HiveAcidStack, HiveLdapStack, HiveMetastoreAthenaStack
from emr_patterns.stacks.pipelines import NotebookPipelineStack, TransientSparkPipelineStack
from emr_patterns.stacks.platform_base import PlatformBaseStack
from emr_patterns.stacks.self_service import SelfServiceCatalogStack
from emr_patterns.stacks.widematrix import WideMatrixStack

__all__ = [
    "PATTERN_STACKS",
    "PLATFORM_STACK_ID",
    "PREBUILT_STACKS",
    "add_nag_plugins",
    "build_app",
    "nag_packs",
]

PLATFORM_STACK_ID = "PlatformBaseStack"
#: Stack id -> class of every pattern stack; each runs on the app's one platform.
PATTERN_STACKS: dict[str, Any] = {
    "GravitonSparkClusterStack": GravitonSparkClusterStack,
    "SpotFleetClusterStack": SpotFleetClusterStack,
    "TransientSparkPipelineStack": TransientSparkPipelineStack,
    "NotebookPipelineStack": NotebookPipelineStack,
    "DataBrewMlStack": DataBrewMlStack,
    "DataLakeWarehouseStack": DataLakeWarehouseStack,
    "CdcHudiStack": CdcHudiStack,
    "SelfServiceCatalogStack": SelfServiceCatalogStack,
    "HiveMetastoreAthenaStack": HiveMetastoreAthenaStack,
    "HiveLdapStack": HiveLdapStack,
    "HiveAcidStack": HiveAcidStack,
    "WideMatrixStack": WideMatrixStack,
}
#: The prebuilt platform spans three zones: Redshift Serverless (DataLakeWarehouseStack) needs them.
PLATFORM_ZONES = 3
#: Stack id -> class, for every prebuilt stack (``make synth`` and the gate tests use this).
PREBUILT_STACKS: dict[str, Any] = {PLATFORM_STACK_ID: PlatformBaseStack, **PATTERN_STACKS}


def nag_packs(scope: App) -> list[Any]:
    """The cdk-nag packs every prebuilt stack must pass (see :data:`emr_patterns.nag.NAG_PACK_PREFIXES`)."""
    try:
        from cdk_nag import (
            AwsSolutionsChecks,
            HIPAASecurityChecks,
            NIST80053R5Checks,
            PCIDSS321Checks,
            ServerlessChecks,
        )
    except ImportError as err:
        raise ImportError(
            "the nag gates need cdk-nag: pip install 'cdk-emr-patterns[nag]' (or [gates] for "
            "cfn-lint and checkov too), or build the app with build_app(with_nag=False)"
        ) from err

    return [
        # Acknowledgements stay in the construct tree and docs/nag-acknowledgements.toml, not in
        # template metadata: a Service Catalog product version is compared template by template
        # (ProductStackHistory), and must not change with whether the packs ran.
        AwsSolutionsChecks(scope, verbose=True),
        HIPAASecurityChecks(scope, verbose=True),
        NIST80053R5Checks(scope, verbose=True),
        PCIDSS321Checks(scope, verbose=True),
        ServerlessChecks(scope, verbose=True),
    ]


def add_nag_plugins(app: App) -> None:
    """Run the packs as validation plugins: synthesis fails on any unacknowledged finding."""
    Validations.of(app).add_plugins(*nag_packs(app))


def build_app(app: App | None = None, *, with_nag: bool = True) -> App:
    """Create (or fill) an app with the platform stack and every pattern stack on that platform."""
    app = app or App()
    account = os.environ.get("CDK_DEFAULT_ACCOUNT")
    region = os.environ.get("CDK_DEFAULT_REGION")
    env = Environment(account=account, region=region) if account and region else None
    base = PlatformBaseStack(app, PLATFORM_STACK_ID, env=env, network=NetworkOptions(max_azs=PLATFORM_ZONES))
    for stack_id, cls in PATTERN_STACKS.items():
        cls(app, stack_id, env=env, platform=base.platform)
    if with_nag:
        add_nag_plugins(app)
    return app
