"""cdk-emr-patterns: secure-by-default AWS CDK v2 constructs for Amazon EMR data platforms.

Public names are re-exported lazily, so importing a pure layer (``emr_patterns.spec``) or a
shipped asset package (``emr_patterns.jobs``, ``emr_patterns.lambdas``) never loads aws-cdk-lib.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("cdk-emr-patterns")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

_EXPORTS: dict[str, str] = {
    "EmrPatternsValidationError": "emr_patterns.errors",
    "DataPlatformNetwork": "emr_patterns.foundation.network",
    "SubnetMode": "emr_patterns.foundation.network",
    "DataLakeStorage": "emr_patterns.foundation.storage",
    "EmrRoles": "emr_patterns.foundation.roles",
    "EmrSecurityConfiguration": "emr_patterns.foundation.security_configuration",
    "EmrPlatform": "emr_patterns.foundation.platform",
    "EmrPlatformAttributes": "emr_patterns.foundation.platform",
    "IEmrPlatform": "emr_patterns.foundation.platform",
    "NetworkOptions": "emr_patterns.foundation.options",
    "RoleOptions": "emr_patterns.foundation.options",
    "SecurityOptions": "emr_patterns.foundation.options",
    "StorageOptions": "emr_patterns.foundation.options",
    "PlatformBaseStack": "emr_patterns.stacks.platform_base",
    "EmrCluster": "emr_patterns.compute.cluster",
    "BootstrapScript": "emr_patterns.compute.cluster",
    "WideMatrixJobs": "emr_patterns.compute.jobs",
    "TransientClusterPipeline": "emr_patterns.orchestration.pipeline",
    "ClusterStepsPipeline": "emr_patterns.orchestration.pipeline",
    "NestedPipelineStep": "emr_patterns.orchestration.pipeline",
    "PipelineStep": "emr_patterns.orchestration.pipeline",
    "NotebookPipeline": "emr_patterns.orchestration.notebooks",
    "NotebookRun": "emr_patterns.orchestration.notebooks",
    "NotebookParam": "emr_patterns.orchestration.notebooks",
    "NotebookFile": "emr_patterns.orchestration.notebooks",
    "S3UploadTrigger": "emr_patterns.orchestration.triggers",
    "PipelineSchedule": "emr_patterns.orchestration.triggers",
    "PipelineNotifications": "emr_patterns.orchestration.notifications",
    "EmrClusterSweeper": "emr_patterns.orchestration.sweeper",
    "DataBrewPreparation": "emr_patterns.patterns.databrew",
    "DataBrewMlPipeline": "emr_patterns.patterns.databrew_ml",
    "RedshiftWarehouse": "emr_patterns.patterns.redshift",
    "RedshiftLoad": "emr_patterns.patterns.redshift",
    "WarehouseEndpoint": "emr_patterns.patterns.redshift",
    "WarehousePipeline": "emr_patterns.patterns.warehouse",
    "DataBrewMlStack": "emr_patterns.stacks.analytics",
    "DataLakeWarehouseStack": "emr_patterns.stacks.analytics",
    "PrivateMySql": "emr_patterns.foundation.mysql",
    "ExistingMySql": "emr_patterns.foundation.mysql",
    "MySqlCdcSource": "emr_patterns.patterns.cdc_hudi",
    "DmsToS3": "emr_patterns.patterns.cdc_hudi",
    "HudiCdcIngest": "emr_patterns.patterns.cdc_hudi",
    "CdcHudiStack": "emr_patterns.stacks.cdc_hudi",
    "EmrServiceCatalog": "emr_patterns.patterns.catalog",
    "PortfolioSpec": "emr_patterns.patterns.catalog",
    "publish_as_product": "emr_patterns.patterns.catalog",
    "SelfServiceCatalogStack": "emr_patterns.stacks.self_service",
    "GravitonSparkClusterStack": "emr_patterns.stacks.clusters",
    "SpotFleetClusterStack": "emr_patterns.stacks.clusters",
    "HiveMetastoreAthenaStack": "emr_patterns.stacks.hive",
    "HiveLdapStack": "emr_patterns.stacks.hive",
    "HiveAcidStack": "emr_patterns.stacks.hive",
}

__all__ = [
    "BootstrapScript",
    "CdcHudiStack",
    "ClusterStepsPipeline",
    "DataBrewMlPipeline",
    "DataBrewMlStack",
    "DataBrewPreparation",
    "DataLakeStorage",
    "DataLakeWarehouseStack",
    "DataPlatformNetwork",
    "DmsToS3",
    "EmrCluster",
    "EmrClusterSweeper",
    "EmrPatternsValidationError",
    "EmrPlatform",
    "EmrPlatformAttributes",
    "EmrRoles",
    "EmrSecurityConfiguration",
    "EmrServiceCatalog",
    "ExistingMySql",
    "GravitonSparkClusterStack",
    "HiveAcidStack",
    "HiveLdapStack",
    "HiveMetastoreAthenaStack",
    "HudiCdcIngest",
    "IEmrPlatform",
    "MySqlCdcSource",
    "NestedPipelineStep",
    "NetworkOptions",
    "NotebookFile",
    "NotebookParam",
    "NotebookPipeline",
    "NotebookRun",
    "PipelineNotifications",
    "PipelineSchedule",
    "PipelineStep",
    "PlatformBaseStack",
    "PortfolioSpec",
    "PrivateMySql",
    "RedshiftLoad",
    "RedshiftWarehouse",
    "RoleOptions",
    "S3UploadTrigger",
    "SecurityOptions",
    "SelfServiceCatalogStack",
    "SpotFleetClusterStack",
    "StorageOptions",
    "SubnetMode",
    "TransientClusterPipeline",
    "WarehouseEndpoint",
    "WarehousePipeline",
    "WideMatrixJobs",
    "__version__",
    "publish_as_product",
]

if TYPE_CHECKING:  # pragma: no cover
    from emr_patterns.compute.cluster import BootstrapScript, EmrCluster
    from emr_patterns.compute.jobs import WideMatrixJobs
    from emr_patterns.errors import EmrPatternsValidationError
    from emr_patterns.foundation.mysql import ExistingMySql, PrivateMySql
    from emr_patterns.foundation.network import DataPlatformNetwork, SubnetMode
    from emr_patterns.foundation.options import NetworkOptions, RoleOptions, SecurityOptions, StorageOptions
    from emr_patterns.foundation.platform import EmrPlatform, EmrPlatformAttributes, IEmrPlatform
    from emr_patterns.foundation.roles import EmrRoles
    from emr_patterns.foundation.security_configuration import EmrSecurityConfiguration
    from emr_patterns.foundation.storage import DataLakeStorage
    from emr_patterns.orchestration.notebooks import (
        NotebookFile,
        NotebookParam,
        NotebookPipeline,
        NotebookRun,
    )
    from emr_patterns.orchestration.notifications import PipelineNotifications
    from emr_patterns.orchestration.pipeline import (
        ClusterStepsPipeline,
        NestedPipelineStep,
        PipelineStep,
        TransientClusterPipeline,
    )
    from emr_patterns.orchestration.sweeper import EmrClusterSweeper
    from emr_patterns.orchestration.triggers import PipelineSchedule, S3UploadTrigger
    from emr_patterns.patterns.catalog import EmrServiceCatalog, PortfolioSpec, publish_as_product
    from emr_patterns.patterns.cdc_hudi import DmsToS3, HudiCdcIngest, MySqlCdcSource
    from emr_patterns.patterns.databrew import DataBrewPreparation
    from emr_patterns.patterns.databrew_ml import DataBrewMlPipeline
    from emr_patterns.patterns.redshift import RedshiftLoad, RedshiftWarehouse, WarehouseEndpoint
    from emr_patterns.patterns.warehouse import WarehousePipeline
    from emr_patterns.stacks.analytics import DataBrewMlStack, DataLakeWarehouseStack
    from emr_patterns.stacks.cdc_hudi import CdcHudiStack
    from emr_patterns.stacks.clusters import GravitonSparkClusterStack, SpotFleetClusterStack
    from emr_patterns.stacks.hive import HiveAcidStack, HiveLdapStack, HiveMetastoreAthenaStack
    from emr_patterns.stacks.platform_base import PlatformBaseStack
    from emr_patterns.stacks.self_service import SelfServiceCatalogStack


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'emr_patterns' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
