"""Let the cluster read an existing data lake and a secret, inside the nag gate.

`tests/constructs/test_examples.py` synthesizes this app with the five cdk-nag packs: it must
produce no finding.
"""

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager

from emr_patterns import EmrCluster, EmrPlatform, RoleOptions
from emr_patterns.app_factory import add_nag_plugins
from emr_patterns.stacks.clusters import graviton_spark_spec


class AnalyticsPlatform(cdk.Stack):
    def __init__(self, scope, id, **kwargs):
        super().__init__(scope, id, **kwargs)
        lake = s3.Bucket.from_bucket_name(self, "Lake", "acme-existing-data-lake")
        lake_key = kms.Key.from_key_arn(
            self, "LakeKey", "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
        )
        # 1. At creation: the nodes may read the lake and use its key (in the instance policy).
        self.platform = EmrPlatform(
            self, "Platform", roles=RoleOptions(additional_read_buckets=[lake], extra_keys=[lake_key])
        )
        # 2. Later, with aws-cdk's own grants: they land in a customer-managed policy on the role.
        token = secretsmanager.Secret.from_secret_name_v2(self, "ApiToken", "analytics/api-token")
        token.grant_read(self.platform.instance_role)
        self.cluster = EmrCluster(self, "Cluster", platform=self.platform, spec=graviton_spark_spec())


app = cdk.App()
AnalyticsPlatform(app, "AnalyticsPlatform", env=cdk.Environment(account="111122223333", region="eu-west-1"))
add_nag_plugins(app)
app.synth()
