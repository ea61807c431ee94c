"""Publish EMR stacks as a Service Catalog portfolio (usage mode 3), inside the nag gate.

`tests/constructs/test_examples.py` synthesizes this app with the five cdk-nag packs: it must
produce no finding (cdk-nag 3 checks the resources inside the product stacks too).
"""

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_iam as iam

from emr_patterns import EmrServiceCatalog, PlatformBaseStack, PortfolioSpec, publish_as_product
from emr_patterns.app_factory import add_nag_plugins
from emr_patterns.stacks.clusters import GravitonSparkClusterStack
from emr_patterns.stacks.self_service import DefaultEmrProductStack

env = cdk.Environment(account="111122223333", region="eu-west-1")
app = cdk.App()
base = PlatformBaseStack(app, "DataPlatform", env=env)


class EmrCatalog(cdk.Stack):
    def __init__(self, scope, id, *, platform, **kwargs):
        super().__init__(scope, id, **kwargs)
        engineers = iam.Group.from_group_name(self, "Engineers", "data-engineers")
        self.catalog = EmrServiceCatalog(
            self,
            "Catalog",
            platform=platform,
            portfolios=[PortfolioSpec("DataEngineering", "Data Engineering", principals=[engineers])],
            tag_options={"cost-center": ["genomics", "analytics"]},
            tags={"owner": "platform-team"},
            asset_bucket_name="acme-emr-catalog-assets-111122223333",
            # Each version's template is kept here; commit the folder. Keep the default
            # (locked) in a release pipeline: a changed template then needs a new version name.
            snapshot_directory=str(Path(__file__).with_name("product-stack-snapshots")),
            lock_current_versions=False,
        )
        # Any prebuilt stack of ours becomes a product ...
        publish_as_product(self.catalog, GravitonSparkClusterStack, product_name="Spark on Graviton")
        # ... and so does a stack whose parameters users fill in when they provision.
        self.catalog.add_product(
            "DefaultEmr",
            stack_class=DefaultEmrProductStack,
            product_name="Default EMR",
            portfolios=["DataEngineering"],
            current_version="emr-7.13.0",
            stack_props={"release_label": "emr-7.13.0", "max_cluster_size": 5},
        )


EmrCatalog(app, "EmrCatalog", env=env, platform=base.platform)
add_nag_plugins(app)
app.synth()
