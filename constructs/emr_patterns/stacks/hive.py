"""Prebuilt Hive stacks on RDS MySQL metastores: Athena on the metastore (pattern 4), LDAP login for
HiveServer2 (pattern 10) and Hive ACID transactions (pattern 11)."""

from __future__ import annotations

from typing import Any

from aws_cdk import Aws, CfnCondition, CfnOutput, CfnParameter, Fn, Stack
from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from emr_patterns.foundation.platform import IEmrPlatform
from emr_patterns.patterns.hive import AthenaHiveCatalog, HiveCluster, HiveMetastoreDatabase
from emr_patterns.patterns.hive_ldap import HIVESERVER2_PORT, HiveLdapAuthentication, LdapServerType
from emr_patterns.stacks.pipelines import _platform

__all__ = [
    "LDAP_SECRET_ARN_PATTERN",
    "LDAP_SERVER_URL_PATTERN",
    "HiveAcidStack",
    "HiveLdapStack",
    "HiveMetastoreAthenaStack",
]

#: ``AllowedPattern`` of the ``LdapServerUrl`` parameter: one LDAPS URL.
LDAP_SERVER_URL_PATTERN = r"^ldaps://[^\s]+$"
#: ``AllowedPattern`` of the secret ARN parameters: a Secrets Manager secret ARN, any partition.
LDAP_SECRET_ARN_PATTERN = r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+$"
_DN_PATTERN = r"^[A-Za-z][A-Za-z0-9-]*=[^,]+(,[ ]*[A-Za-z][A-Za-z0-9-]*=[^,]+)*$"


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
        acid: Hive ACID on the cluster. Default False (``HiveAcidStack`` is the ACID stack).
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
        _metastore_outputs(self, self.metastore)
        CfnOutput(
            self, "AthenaCatalog", value=catalog_name, description="Query with SELECT ... FROM <catalog>.db.t"
        )


def _metastore_outputs(stack: Stack, metastore: HiveMetastoreDatabase) -> None:
    CfnOutput(
        stack,
        "MetastoreEndpoint",
        value=metastore.database.endpoint_address,
        description="The metastore's MySQL endpoint (TLS required)",
    )
    CfnOutput(
        stack,
        "HivePasswordSecretArn",
        value=metastore.password_secret.secret_arn,
        description="The hive user's plaintext password secret (EMR.secret@)",
    )


class HiveLdapStack(Stack):
    """Seed pattern 10: HiveServer2 users log in with their LDAP directory password (EMR-native LDAP).

    Creates a :class:`~emr_patterns.patterns.hive.HiveMetastoreDatabase`, a
    :class:`~emr_patterns.patterns.hive_ldap.HiveLdapAuthentication` on the EMR-native path (its
    own security configuration: the platform's encryption, in transit included, plus
    ``AuthenticationConfiguration.LDAPConfiguration``), a
    :class:`~emr_patterns.patterns.hive.HiveCluster` on it (Hadoop, Hive and Spark, Hue by
    choice; no Tez, which EMR-native LDAP does not accept) and the security group
    ``HiveServer2Clients``: the only source HiveServer2's port (10000) on the primary nodes lets
    in. Attach it to the instances (a bastion, a BI tool's hosts) that run beeline or JDBC.

    The directory belongs to the user, so its settings are stack parameters: ``LdapServerUrl``
    (``ldaps://`` only), ``LdapCertificateSecretArn`` (the secret holding the PEM of the CA that
    signed the directory's certificate; a blank secret for a public CA),
    ``LdapBindCredentialsSecretArn`` (optional: ``{"<bind DN>": "<password>"}``; empty = none),
    ``LdapUserSearchBase`` and ``LdapAccessFilter`` (who may log in; never empty). The nodes'
    instance role may read exactly those two secrets.

    Args:
        scope: parent construct.
        id: stack id.
        platform: the shared platform (an ``EmrPlatform``: its security configuration document
            is the base of the LDAP one). Default: a platform of its own.
        server_type: OpenLDAP or Active Directory. Default ``LdapServerType.OPENLDAP``.
        ad_domain: the Active Directory domain; required with Active Directory. Default: none.
        hue: add Hue (EMR-native LDAP configures it too). Default False.
        multi_az: Multi-AZ metastore database. Default True.
        **kwargs: ``Stack`` props.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        platform: IEmrPlatform | None = None,
        server_type: LdapServerType = LdapServerType.OPENLDAP,
        ad_domain: str | None = None,
        hue: bool = False,
        multi_az: bool = True,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault(
            "description", "cdk-emr-patterns: LDAP login for HiveServer2, EMR-native LDAP (pattern 10)"
        )
        super().__init__(scope, id, **kwargs)
        self.platform = platform = _platform(self, id, platform)
        self.server_url = CfnParameter(
            self,
            "LdapServerUrl",
            type="String",
            allowed_pattern=LDAP_SERVER_URL_PATTERN,
            constraint_description="must be one LDAPS URL, e.g. ldaps://ldap.example.com:636 "
            "(EMR-native LDAP accepts no plain ldap://)",
            description="The directory: ldaps://host[:port]",
        )
        self.certificate_secret_arn = CfnParameter(
            self,
            "LdapCertificateSecretArn",
            type="String",
            allowed_pattern=LDAP_SECRET_ARN_PATTERN,
            constraint_description="must be a Secrets Manager secret ARN",
            # An ARN, not a secret: NoEcho only because aws-cdk's template validation (W2509) takes
            # a parameter named "...Secret..." for a password. It costs the ARN's display in
            # DescribeStacks; updates keep it with UsePreviousValue.
            no_echo=True,
            description="ARN of the secret holding the PEM of the CA that signed the directory's "
            "certificate (a blank secret for a public CA)",
        )
        self.bind_credentials_secret_arn = CfnParameter(
            self,
            "LdapBindCredentialsSecretArn",
            type="String",
            default="",
            allowed_pattern=f"^$|{LDAP_SECRET_ARN_PATTERN}",
            constraint_description="must be empty or a Secrets Manager secret ARN",
            no_echo=True,  # an ARN, not a secret (see LdapCertificateSecretArn)
            description='Optional: ARN of the secret holding {"<bind DN>": "<password>"}; empty = no '
            "bind credentials (Active Directory usually needs them)",
        )
        self.user_search_base = CfnParameter(
            self,
            "LdapUserSearchBase",
            type="String",
            allowed_pattern=_DN_PATTERN,
            constraint_description="must be a distinguished name, e.g. ou=People,dc=example,dc=com",
            description="Base DN of the directory's users, e.g. ou=People,dc=example,dc=com",
        )
        self.access_filter = CfnParameter(
            self,
            "LdapAccessFilter",
            type="String",
            default="(objectClass=posixAccount)",
            min_length=1,
            allowed_pattern=r"^\(.*\)$",
            constraint_description="must be a non-empty LDAP filter in parentheses",
            description="Who may log in: an LDAP filter, e.g. (memberOf=cn=hive,ou=Groups,dc=example,dc=com)",
        )
        self.has_bind_credentials = CfnCondition(
            self,
            "HasLdapBindCredentials",
            expression=Fn.condition_not(
                Fn.condition_equals(self.bind_credentials_secret_arn.value_as_string, "")
            ),
        )
        bind_arn = Fn.condition_if(
            self.has_bind_credentials.logical_id,
            self.bind_credentials_secret_arn.value_as_string,
            Aws.NO_VALUE,
        ).to_string()

        self.clients = ec2.SecurityGroup(
            self,
            "HiveServer2Clients",
            vpc=platform.vpc,
            description="HiveServer2 clients: the only source HiveServer2 (10000) lets in",
            allow_all_outbound=False,
        )
        self.metastore = HiveMetastoreDatabase(self, "Metastore", platform=platform, multi_az=multi_az)
        self.ldap = HiveLdapAuthentication(
            self,
            "Ldap",
            platform=platform,
            server_url=self.server_url.value_as_string,
            server_type=server_type,
            ad_domain=ad_domain,
            applications=("Hadoop", "Hive", "Spark", *(("Hue",) if hue else ())),
            certificate_secret=self.certificate_secret_arn.value_as_string,
            bind_credentials_secret=bind_arn,
            access_filter=self.access_filter.value_as_string,
            user_search_base=self.user_search_base.value_as_string,
            client_security_groups=[self.clients],
        )
        self.hive = HiveCluster(
            self, "Hive", platform=platform, metastore=self.metastore, hue=hue, tez=False, ldap=self.ldap
        )
        self.clients.add_egress_rule(
            self.hive.primary_security_group,
            ec2.Port.tcp(HIVESERVER2_PORT),
            "HiveServer2 on the primary nodes",
        )
        CfnOutput(self, "ClusterId", value=self.hive.cluster.cluster_id, description="The Hive cluster")
        CfnOutput(
            self,
            "SecurityConfigurationName",
            value=self.ldap.security_configuration_name,
            description="The cluster's security configuration (platform encryption plus EMR-native LDAP)",
        )
        CfnOutput(
            self,
            "HiveServer2ClientsSecurityGroupId",
            value=self.clients.security_group_id,
            description="Attach to the instances that connect to HiveServer2 (port 10000)",
        )
        CfnOutput(
            self,
            "BeelineUsage",
            value=Fn.join(
                "",
                [
                    "jobs/hive_ldap/beeline_ldap.sh --secret-id <secret holding your LDAP user and password> "
                    "--host ",
                    self.hive.cluster.primary_dns_name,
                    f" --port {HIVESERVER2_PORT} --truststore <trust store with the cluster's certificate>",
                ],
            ),
            description="Connect with beeline from an instance in HiveServer2Clients (see docs/hive-ldap.md)",
        )
        _metastore_outputs(self, self.metastore)


class HiveAcidStack(Stack):
    """Seed pattern 11: Hive ACID transactions on a three-primary cluster and an RDS metastore.

    Creates a :class:`~emr_patterns.patterns.hive.HiveMetastoreDatabase` and a
    :class:`~emr_patterns.patterns.hive.HiveCluster` with ``acid=True``: the ``hive_acid`` preset
    (``DbTxnManager``, concurrency, non-strict dynamic partitions) with the compaction initiator
    on and ``compactor_worker_threads`` workers, right for the one long-lived cluster on this
    metastore. The metastore is the external RDS database: the Glue Data Catalog does not
    support Hive transactions (``HiveCluster`` refuses ACID with it).

    Args:
        scope: parent construct.
        id: stack id.
        platform: the shared platform. Default: a platform of its own.
        compactor_worker_threads: compaction workers on the cluster (at least 1). Default 1.
        hue: add Hue. Default False.
        multi_az: Multi-AZ metastore database. Default True.
        **kwargs: ``Stack`` props.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        platform: IEmrPlatform | None = None,
        compactor_worker_threads: int = 1,
        hue: bool = False,
        multi_az: bool = True,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault(
            "description", "cdk-emr-patterns: Hive ACID transactions on an RDS MySQL metastore (pattern 11)"
        )
        super().__init__(scope, id, **kwargs)
        self.platform = platform = _platform(self, id, platform)
        self.metastore = HiveMetastoreDatabase(self, "Metastore", platform=platform, multi_az=multi_az)
        self.hive = HiveCluster(
            self,
            "Hive",
            platform=platform,
            metastore=self.metastore,
            acid=True,
            compactor_worker_threads=compactor_worker_threads,
            hue=hue,
        )
        CfnOutput(self, "ClusterId", value=self.hive.cluster.cluster_id, description="The Hive ACID cluster")
        _metastore_outputs(self, self.metastore)
