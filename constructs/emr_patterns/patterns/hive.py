"""Hive platform: a Hive metastore on RDS for MySQL and a three-primary Hive cluster on it.

``HiveMetastoreDatabase`` reuses :class:`~emr_patterns.foundation.mysql.PrivateMySql` for the
database and adds the *plaintext* secret EMR resolves with ``EMR.secret@`` so the metastore
password never appears in a template, a cluster configuration or ``DescribeCluster``.
``HiveCluster`` runs Hive and Spark on three primary nodes against that metastore, with Hive ACID
on by choice (refused with the Glue Data Catalog).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from emr_patterns.compute.cluster import EmrCluster
from emr_patterns.errors import problem, raise_if_problems
from emr_patterns.foundation.mysql import PrivateMySql
from emr_patterns.foundation.platform import IEmrPlatform, check_platform
from emr_patterns.nag import acknowledge_rules, rule_in_packs
from emr_patterns.spec import (
    ClusterSpec,
    Configuration,
    InstanceFleetSpec,
    external_hive_metastore,
    hive_acid,
    vcpu_weighted,
)
from emr_patterns.spec.presets import uses_glue_catalog

__all__ = ["HIVE_APPLICATIONS", "HiveCluster", "HiveMetastoreDatabase"]

#: Applications a Hive cluster runs (Hue is added with ``hue=True``).
HIVE_APPLICATIONS = ("Hadoop", "Hive", "Spark", "Tez")
_USER = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,31}$")


class HiveMetastoreDatabase(Construct):
    """The Hive metastore database: a :class:`PrivateMySql` plus the hive user's plaintext secret.

    The database is RDS for MySQL with every :class:`PrivateMySql` default (Multi-AZ, platform
    key, TLS required, port 3406, log exports, backups, deletion protection, ``RETAIN``, admin
    secret rotated every 30 days), reachable only from ``cluster_security_groups`` (and groups
    added later with :meth:`allow_from`).

    The hive user's password is a separate *plaintext* Secrets Manager secret on the platform key
    (an RDS-generated secret is JSON, which ``EMR.secret@`` cannot use). :meth:`hive_site` renders
    ``hive-site`` with the secret's ARN under the key
    ``EMR.secret@javax.jdo.option.ConnectionPassword``; the platform's EMR *service role* (which
    resolves it) gets ``secretsmanager:GetSecretValue`` on that secret and ``kms:Decrypt`` through
    Secrets Manager on the platform key.

    Rotation decision: the hive secret is **not** rotated automatically. EMR resolves
    ``EMR.secret@`` when it sends configuration to the nodes (creation, instance-group start,
    reconfigure, resize), so a rotated password only reaches a running cluster after a
    reconfiguration; automatic rotation would lock the metastore out between the two. Rotate by
    changing the password in MySQL and the secret together, then reconfiguring the cluster. The
    admin secret keeps :class:`PrivateMySql`'s 30-day rotation.

    The hive user itself is created once with the admin secret
    (``CREATE USER '<user>'@'%' IDENTIFIED BY '<secret>' REQUIRE SSL;``
    ``GRANT ALL ON <database>.* TO '<user>'@'%';``): this construct does not run SQL.

    Args:
        scope: parent construct.
        id: construct id.
        platform: the platform whose VPC, private subnets, key and service role are used.
        cluster_security_groups: groups allowed to connect on the database port (the clusters'
            primary groups). Default: none (add with :meth:`allow_from`).
        database_name: the metastore schema. Default ``hive``.
        user: the metastore's database user. Default ``hive``.
        port: the database port. Default 3406 (not MySQL's default).
        backup_retention_days: automated backup days, 1-35. Default 7.
        multi_az: a standby in a second zone. Default True.
        removal_policy: ``None`` for the platform's rule (RETAIN unless the destroy flag is set).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        platform: IEmrPlatform,
        cluster_security_groups: Sequence[ec2.ISecurityGroup] = (),
        database_name: str = "hive",
        user: str = "hive",
        port: int = 3406,
        backup_retention_days: int = 7,
        multi_az: bool = True,
        removal_policy: RemovalPolicy | None = None,
    ) -> None:
        super().__init__(scope, id)
        problems = check_platform(self, "platform", platform)
        if (
            not isinstance(user, str)
            or not _USER.match(user)
            or user.lower() in ("root", "admin", "rdsadmin")
        ):
            problems.append(
                problem(
                    "user", user, "is not a usable MySQL user name", "use a letter then letters, digits or _"
                )
            )
        raise_if_problems(f"HiveMetastoreDatabase '{self.node.path}'", problems)
        self.platform = platform
        self.user = user
        self.database = PrivateMySql(
            self,
            "Database",
            platform=platform,
            database_name=database_name,
            port=port,
            backup_retention_days=backup_retention_days,
            multi_az=multi_az,
            allowed_security_groups=cluster_security_groups,
            removal_policy=removal_policy,
        )
        self.database_name = database_name
        self.port = port
        #: The hive user's password: a plaintext secret (no JSON) for ``EMR.secret@``.
        self.password_secret = secretsmanager.Secret(
            self,
            "HivePassword",
            description=f"Plaintext password of the Hive metastore user '{user}' (EMR.secret@)",
            encryption_key=platform.key,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=32, exclude_punctuation=True, include_space=False
            ),
            removal_policy=removal_policy or RemovalPolicy.RETAIN,
        )
        self._acknowledge_no_rotation()
        # EMR's service role resolves EMR.secret@ when it configures the nodes. A policy on the
        # role (not Secret.grant_read, which would write the role into the platform key's policy).
        stack = Stack.of(self)
        self.service_role_policy = iam.ManagedPolicy(
            self,
            "ServiceRoleReadsPassword",
            description=f"EMR service role resolves EMR.secret@ for the Hive metastore {self.node.path}",
            statements=[
                iam.PolicyStatement(
                    sid="ReadHivePassword",
                    actions=["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                    resources=[self.password_secret.secret_arn],
                ),
                iam.PolicyStatement(
                    sid="DecryptHivePassword",
                    actions=["kms:Decrypt"],
                    resources=[platform.key.key_arn],
                    conditions={
                        "StringEquals": {
                            "kms:ViaService": f"secretsmanager.{stack.region}.{stack.url_suffix}",
                            "kms:EncryptionContext:SecretARN": self.password_secret.secret_arn,
                        }
                    },
                ),
            ],
            roles=[platform.service_role],
        )

    def _acknowledge_no_rotation(self) -> None:
        acknowledge_rules(
            self.password_secret,
            ["AwsSolutions-SMG4", *rule_in_packs("SecretsManagerRotationEnabled")],
            "EMR resolves EMR.secret@ only when it configures the nodes, so a rotated hive password "
            "needs a cluster reconfiguration: rotation is a planned change of the MySQL user, the "
            "secret and the configuration together.",
        )

    def allow_from(self, peer: ec2.ISecurityGroup, description: str = "Hive metastore JDBC") -> None:
        """Let ``peer`` (a cluster's primary security group) connect on the database port."""
        self.database.allow_from(peer, description)

    def hive_site(self) -> tuple[Configuration, ...]:
        """``hive-site`` for this metastore (``external_hive_metastore``): JDBC URL over TLS, the
        user, and the password as ``EMR.secret@javax.jdo.option.ConnectionPassword`` = secret ARN."""
        return external_hive_metastore(
            host=self.database.endpoint_address,
            password_secret_arn=self.password_secret.secret_arn,
            port=self.port,
            database=self.database_name,
            user=self.user,
        )


class HiveCluster(Construct):
    """A long-running Hive + Spark cluster on three primary nodes and an external metastore.

    EMR gives Hive on three primary nodes high availability of its service components only when
    the metastore is external, so the cluster uses ``metastore`` (its ``hive-site``) and the
    database lets in the cluster's primary security group on the database port. Multi-primary
    clusters get termination protection (EMR turns it on anyway; the spec says so). With
    ``acid=True`` the ``hive_acid`` preset is added with the compaction initiator and
    ``compactor_worker_threads`` workers on this cluster: valid when this is the one long-lived
    cluster on the metastore (transient clusters sharing it must leave the initiator off).

    Args:
        scope: parent construct.
        id: construct id.
        platform: the platform the cluster runs on.
        metastore: the metastore database.
        name: cluster name. Default ``hive``.
        acid: Hive ACID transactions (DbTxnManager, concurrency, compactor). Default False.
        compactor_worker_threads: compaction workers with ``acid`` (at least 1). Default 1.
        hue: add Hue. Default False.
        configurations: further configurations; a Glue Data Catalog configuration is refused
            with ``acid`` (Glue does not support Hive transactions). Default: none.
        primary_instance_types: primary fleet types. Default m7g/m6g xlarge.
        core_units: On-Demand core vCPUs. Default 16.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        platform: IEmrPlatform,
        metastore: HiveMetastoreDatabase,
        name: str = "hive",
        acid: bool = False,
        compactor_worker_threads: int = 1,
        hue: bool = False,
        configurations: Sequence[Configuration] = (),
        primary_instance_types: Sequence[str] = ("m7g.xlarge", "m6g.xlarge"),
        core_units: int = 16,
    ) -> None:
        super().__init__(scope, id)
        problems: list[str] = []
        if not isinstance(metastore, HiveMetastoreDatabase):
            problems.append(
                problem(
                    "metastore",
                    metastore,
                    "is not a HiveMetastoreDatabase",
                    "pass HiveMetastoreDatabase(...)",
                )
            )
        extra = tuple(configurations)
        if acid and uses_glue_catalog(extra):
            problems.append(
                problem(
                    "acid",
                    acid,
                    "is refused with the Glue Data Catalog in configurations (Glue does not support Hive "
                    "transactions)",
                    "drop glue_data_catalog() from configurations (the cluster uses the RDS metastore), "
                    "or set acid=False",
                )
            )
        elif uses_glue_catalog(extra):
            problems.append(
                problem(
                    "configurations",
                    "glue_data_catalog()",
                    "points Hive at Glue instead of the metastore database",
                    "drop glue_data_catalog(); HiveCluster uses its metastore",
                )
            )
        if acid and (
            isinstance(compactor_worker_threads, bool)
            or not isinstance(compactor_worker_threads, int)
            or compactor_worker_threads < 1
        ):
            problems.append(
                problem(
                    "compactor_worker_threads",
                    compactor_worker_threads,
                    "must be at least 1 on the long-lived ACID cluster (compaction never runs otherwise)",
                    "use 1 or more",
                )
            )
        raise_if_problems(f"HiveCluster '{self.node.path}'", problems)
        configs: list[Configuration] = [*metastore.hive_site()]
        if acid:
            configs += hive_acid(compactor_initiator=True, compactor_worker_threads=compactor_worker_threads)
        configs += extra
        self.spec = ClusterSpec(
            name=name,
            applications=(*HIVE_APPLICATIONS, *(("Hue",) if hue else ())),
            primary_fleet=InstanceFleetSpec.primary(list(primary_instance_types), nodes=3),
            core_fleet=InstanceFleetSpec.core(
                vcpu_weighted("m7g.2xlarge", "m6g.2xlarge", "r7g.2xlarge"), on_demand_units=core_units
            ),
            termination_protected=True,
            configurations=tuple(configs),
        )
        self.acid = acid
        self.metastore = metastore
        self.cluster = EmrCluster(self, "Cluster", platform=platform, spec=self.spec)
        metastore.allow_from(
            self.cluster.primary_security_group, "Hive metastore JDBC from the primary nodes"
        )
        #: The primary nodes' security group (HiveServer2, the metastore on 9083).
        self.primary_security_group: ec2.SecurityGroup = self.cluster.primary_security_group
        self.service_role: iam.IRole = platform.service_role
