"""Prebuilt Hive stack: metastore on RDS MySQL, three-primary Hive cluster, Athena on the metastore."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from emr_patterns.foundation.platform import IEmrPlatform
from emr_patterns.patterns.hive import AthenaHiveCatalog, HiveCluster, HiveMetastoreDatabase
from emr_patterns.stacks.pipelines import _platform

__all__ = ["HiveMetastoreAthenaStack"]


class HiveMetastoreAthenaStack(Stack):
    """Seed pattern 4: a Hive metastore on RDS MySQL, Hive on three primary nodes, Athena on it.

    Creates a :class:`~emr_patterns.patterns.hive.HiveMetastoreDatabase` (private RDS MySQL and
    the hive user's plaintext ``EMR.secret@`` secret), a
    :class:`~emr_patterns.patterns.hive.HiveCluster` (Hive, Spark and Tez on three primaries,
    termination protection, the metastore database open to its primary group only) and an
    :class:`~emr_patterns.patterns.hive.AthenaHiveCatalog` (the SAR connector, the ``HIVE`` data
    catalog, the users policy and the ``engineers``/``analysts`` example groups). The stack
    parameter ``AthenaMetastoreHost...`` fails Athena over to another primary node.

    Args:
        scope: parent construct.
        id: stack id.
        platform: the shared platform. Default: a platform of its own.
        acid: Hive ACID on the cluster. Default False (see ``HiveAcidStack`` in issue 11).
        hue: add Hue. Default False.
        catalog_name: the Athena data catalog name. Default ``hive``.
        multi_az: Multi-AZ metastore database. Default True.
        **kwargs: ``Stack`` props.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        platform: IEmrPlatform | None = None,
        acid: bool = False,
        hue: bool = False,
        catalog_name: str = "hive",
        multi_az: bool = True,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault(
            "description", "cdk-emr-patterns: Hive metastore on RDS MySQL, 3-primary Hive, Athena (pattern 4)"
        )
        super().__init__(scope, id, **kwargs)
        self.platform = platform = _platform(self, id, platform)
        self.metastore = HiveMetastoreDatabase(self, "Metastore", platform=platform, multi_az=multi_az)
        self.hive = HiveCluster(self, "Hive", platform=platform, metastore=self.metastore, acid=acid, hue=hue)
        self.athena = AthenaHiveCatalog(
            self, "Athena", platform=platform, cluster=self.hive, catalog_name=catalog_name
        )
        CfnOutput(self, "ClusterId", value=self.hive.cluster.cluster_id, description="The Hive cluster")
        CfnOutput(
            self,
            "MetastoreEndpoint",
            value=self.metastore.database.endpoint_address,
            description="The metastore's MySQL endpoint (TLS required)",
        )
        CfnOutput(
            self,
            "HivePasswordSecretArn",
            value=self.metastore.password_secret.secret_arn,
            description="The hive user's plaintext password secret (EMR.secret@)",
        )
        CfnOutput(
            self, "AthenaCatalog", value=catalog_name, description="Query with SELECT ... FROM <catalog>.db.t"
        )
