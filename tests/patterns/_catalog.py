"""Small catalog apps for the Service Catalog tests: an imported platform (no platform synth)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import App, Environment, Stack

ACCOUNT = "111122223333"
REGION = "eu-west-1"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
OUTPUTS = {
    "VpcId": "vpc-0123456789abcdef0",
    "VpcCidrBlock": "10.40.0.0/16",
    "AvailabilityZones": f"{REGION}a,{REGION}b",
    "PrivateSubnetIds": "subnet-aaaa1111,subnet-bbbb2222",
    "EndpointSecurityGroupId": "sg-0123456789abcdef0",
    "KeyArn": KEY_ARN,
    "ServiceRoleArn": f"arn:aws:iam::{ACCOUNT}:role/emr-service",
    "InstanceRoleArn": f"arn:aws:iam::{ACCOUNT}:role/emr-nodes",
    "InstanceProfileArn": f"arn:aws:iam::{ACCOUNT}:instance-profile/emr-nodes",
    "SecurityConfigurationName": "platform-security",
    "LogsBucketName": "acme-emr-logs",
    "ArtifactsBucketName": "acme-emr-artifacts",
    "DataBucketNames": "acme-emr-raw,acme-emr-work,acme-emr-curated",
}


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
