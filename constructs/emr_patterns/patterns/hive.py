"""Hive platform: a Hive metastore on RDS for MySQL and a three-primary Hive cluster on it.

``HiveMetastoreDatabase`` reuses :class:`~emr_patterns.foundation.mysql.PrivateMySql` for the
database and adds the *plaintext* secret EMR resolves with ``EMR.secret@`` so the metastore
password never appears in a template, a cluster configuration or ``DescribeCluster``, and a
custom resource that creates the hive MySQL user with that password at deploy time.
``HiveCluster`` runs Hive and Spark on three primary nodes against that metastore, with Hive ACID
on by choice (refused with the Glue Data Catalog).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from aws_cdk import ArnFormat, CfnCondition, CfnParameter, CustomResource, Fn, RemovalPolicy, Stack
from aws_cdk import aws_athena as athena
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_sam as sam
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from emr_patterns._assets import job_file
from emr_patterns._tokens import is_unresolved
from emr_patterns.compute.cluster import BootstrapScript, EmrCluster
from emr_patterns.compute.jobs import assets_read_policy
from emr_patterns.errors import problem, raise_if_problems
from emr_patterns.foundation.functions import PlatformFunction
from emr_patterns.foundation.mysql import (
    RDS_CA_BUNDLE_NODE_PATH,
    PrivateMySql,
    mysql_setup_resource,
    rds_ca_bundle_file,
    server_ca_path_problems,
)
from emr_patterns.foundation.platform import IEmrPlatform, check_platform
from emr_patterns.nag import acknowledge_resource, acknowledge_rules, rule_in_packs
from emr_patterns.patterns.hive_ldap import (
    LDAP_CONFIGURE_YOURSELF_APPLICATIONS,
    NATIVE_LDAP_APPLICATIONS,
    HiveLdapAuthentication,
    LdapPath,
)
from emr_patterns.spec import (
    ClusterSpec,
    Configuration,
    InstanceFleetSpec,
    external_hive_metastore,
    hive_acid,
    vcpu_weighted,
)
from emr_patterns.spec.presets import uses_glue_catalog
from emr_patterns.spec.steps import Arg, SparkSubmitStep, StepArg

__all__ = [
    "ATHENA_HIVE_CONNECTOR_APPLICATION_ID",
    "ATHENA_HIVE_CONNECTOR_VERSION",
    "HIVE_APPLICATIONS",
    "HIVE_METASTORE_PORT",
    "SAMPLE_COLUMNS",
    "AthenaHiveCatalog",
    "HiveCluster",
    "HiveMetastoreDatabase",
]

#: Applications a Hive cluster runs (Hue is added with ``hue=True``).
HIVE_APPLICATIONS = ("Hadoop", "Hive", "Spark", "Tez")
_USER = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,31}$")
_REVISION = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
#: Accounts and schemas the hive user may not be or be granted (the handler refuses them too).
_RESERVED_USERS = ("root", "admin", "rdsadmin", "rdsrepladmin", "mysql")
_SYSTEM_DATABASES = ("mysql", "information_schema", "performance_schema", "sys")
_HIVE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,127}$")
#: The columns of the bundled sample (``emr_patterns.jobs.hive.sample``): the job's default.
SAMPLE_COLUMNS = ("date", "state", "fips", "cases", "deaths")


class HiveMetastoreDatabase(Construct):
    """The Hive metastore database: a :class:`PrivateMySql`, the hive user's plaintext secret, and
    the hive user itself, created at deploy time.

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
    reconfiguration; automatic rotation would lock the metastore out between the two. Rotate as
    one planned change: put a new value in the secret, deploy with a new ``password_revision``
    (``User`` then sets it in MySQL), then reconfigure the cluster. The admin secret keeps
    :class:`PrivateMySql`'s 30-day rotation (``User`` reads its current value at each run).

    The hive user is created at deploy time by ``User``, a ``Custom::HiveMetastoreUser``
    (``lambdas/mysql_cdc_setup/hive_metastore.py``, the CDC set-up's folder and admin-session
    code; its function ``UserFunction`` runs in the private subnets and reaches the database
    through its security group on the database port only). As the admin (the RDS admin secret,
    over TLS) it runs ``CREATE DATABASE IF NOT EXISTS <database>``,
    ``CREATE USER IF NOT EXISTS '<user>'@'%' ... REQUIRE SSL``, ``ALTER USER`` to the password
    secret's current value and ``GRANT ALL PRIVILEGES ON <database>.*`` (that schema only). The
    function may read only the admin and hive secrets, and decrypt them only through Secrets
    Manager. A manual rotation of the hive secret changes no template: deploy with a new
    ``password_revision`` to have ``User`` set the new password (see the rotation decision).

    Removal: deleting ``User`` (the stack, or a change of ``user``) drops the hive MySQL user;
    the database, its metastore data and the password secret are **kept** (``RETAIN``, like the
    RDS instance), and a later deployment on the same database creates the user again.

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
            Applies to the database and the password secret; the hive MySQL user is dropped
            with ``User`` whatever this is.
        password_revision: any label (1-64 letters, digits or ``._:-``); a new value makes
            ``User`` set the hive secret's current password in MySQL (after a manual rotation).
            Default: none.
        server_ca_path: path on the nodes of the CA bundle that signs the database's
            certificate, rendered as the MariaDB driver's ``serverSslCert``. The URL checks the
            certificate (``trustServerCertificate=false``) and the RDS CAs are in no JVM trust
            store, so the default is :data:`RDS_CA_BUNDLE_NODE_PATH`, where
            :attr:`ca_bundle_bootstrap` (added by :class:`HiveCluster`) installs the Amazon RDS
            CA bundle the library ships. Another path: you place the file (no bootstrap is
            added). ``None``: the JVM trust store, which must then hold the RDS CAs.
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
        password_revision: str | None = None,
        server_ca_path: str | None = RDS_CA_BUNDLE_NODE_PATH,
    ) -> None:
        super().__init__(scope, id)
        problems = check_platform(self, "platform", platform)
        problems += server_ca_path_problems("server_ca_path", server_ca_path)
        if not isinstance(user, str) or not _USER.match(user) or user.lower() in _RESERVED_USERS:
            problems.append(
                problem(
                    "user", user, "is not a usable MySQL user name", "use a letter then letters, digits or _"
                )
            )
        if isinstance(database_name, str) and database_name.lower() in _SYSTEM_DATABASES:
            problems.append(
                problem(
                    "database_name",
                    database_name,
                    "is a MySQL system schema (the hive user gets ALL PRIVILEGES on it)",
                    "use a schema of its own, e.g. hive",
                )
            )
        if password_revision is not None and (
            not isinstance(password_revision, str) or not _REVISION.match(password_revision)
        ):
            problems.append(
                problem(
                    "password_revision",
                    password_revision,
                    "is not a revision label",
                    "use 1-64 letters, digits or ._:- (e.g. the rotation date, 2026-12-02)",
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
        self.server_ca_path = server_ca_path
        #: The bootstrap action that installs the shipped Amazon RDS CA bundle at
        #: :data:`RDS_CA_BUNDLE_NODE_PATH` (``None`` when ``server_ca_path`` is another path or unset).
        self.ca_bundle_bootstrap: BootstrapScript | None = None
        if server_ca_path == RDS_CA_BUNDLE_NODE_PATH:
            self.ca_bundle_bootstrap = BootstrapScript(
                "install-rds-ca-bundle",
                job_file("install-file-bootstrap.sh"),
                (RDS_CA_BUNDLE_NODE_PATH, Stack.of(self).region),
                (rds_ca_bundle_file(),),
            )
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
        #: The function that runs ``User`` (in the private subnets, MySQL to the database only).
        self.user_function: PlatformFunction
        #: ``Custom::HiveMetastoreUser``: the metastore database, the hive user and its one grant.
        self.user_setup: CustomResource
        self.user_function, self.user_setup = mysql_setup_resource(
            self,
            platform=platform,
            database=self.database,
            module="hive_metastore",
            description=f"Creates the Hive metastore user of {self.node.path}",
            resource_type="Custom::HiveMetastoreUser",
            secrets=[self.password_secret],
            properties={
                "PasswordSecretArn": self.password_secret.secret_arn,
                "User": user,
                "Database": database_name,
                **({"PasswordRevision": password_revision} if password_revision is not None else {}),
            },
            function_id="UserFunction",
            resource_id="User",
            egress_description="MySQL to the Hive metastore database",
            ingress_description="Hive metastore user set-up function",
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
            server_ca_path=self.server_ca_path,
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
        security_configuration_name: the EMR security configuration the cluster uses. Default:
            the platform's (``ldap``'s with ``ldap``; giving both is refused).
        tez: install Tez (Hive's execution engine on EMR). Default True; EMR-native LDAP does not
            list Tez among the applications it accepts (``ldap`` on the native path needs False).
        ldap: HiveServer2 LDAP login (:class:`~emr_patterns.patterns.hive_ldap.HiveLdapAuthentication`):
            the cluster takes its ``hive-site`` (hive-site path) or its security configuration
            (native path; the applications must then be ones EMR-native LDAP accepts, checked
            here), and HiveServer2's port is opened to its client security groups. Default: none.
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
        security_configuration_name: str | None = None,
        tez: bool = True,
        ldap: HiveLdapAuthentication | None = None,
    ) -> None:
        super().__init__(scope, id)
        problems: list[str] = []
        applications = (
            *(a for a in HIVE_APPLICATIONS if tez or a != "Tez"),
            *(("Hue",) if hue else ()),
        )
        if ldap is not None:
            problems += _ldap_problems(ldap, applications, security_configuration_name)
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
        if ldap is not None:
            configs += ldap.configurations
            security_configuration_name = ldap.security_configuration_name
        self.spec = ClusterSpec(
            name=name,
            applications=applications,
            primary_fleet=InstanceFleetSpec.primary(list(primary_instance_types), nodes=3),
            core_fleet=InstanceFleetSpec.core(
                vcpu_weighted("m7g.2xlarge", "m6g.2xlarge", "r7g.2xlarge"), on_demand_units=core_units
            ),
            termination_protected=True,
            configurations=tuple(configs),
        )
        self.acid = acid
        self.metastore = metastore
        #: The LDAP login of HiveServer2 (``None`` without ``ldap``).
        self.ldap = ldap
        native_ldap = ldap is not None and ldap.path is LdapPath.NATIVE
        self.cluster = (_NativeLdapEmrCluster if native_ldap else EmrCluster)(
            self,
            "Cluster",
            platform=platform,
            spec=self.spec,
            bootstrap_scripts=[b for b in (metastore.ca_bundle_bootstrap,) if b is not None],
        )
        if security_configuration_name is not None:
            self.cluster.resource.security_configuration = security_configuration_name
        metastore.allow_from(
            self.cluster.primary_security_group, "Hive metastore JDBC from the primary nodes"
        )
        # The metastore starts on the first primary at launch: the hive user must exist by then.
        self.cluster.node.add_dependency(metastore.user_setup)
        #: The primary nodes' security group (HiveServer2, the metastore on 9083).
        self.primary_security_group: ec2.SecurityGroup = self.cluster.primary_security_group
        if ldap is not None:
            ldap.open_hiveserver2(self.primary_security_group)
        self.service_role: iam.IRole = platform.service_role
        self._platform = platform
        self._programs: dict[str, s3_assets.Asset] | None = None

    def _step_programs(self) -> dict[str, s3_assets.Asset]:
        """The bundled job, its helper and the sample as assets, and the instance role's read
        policy on exactly those objects (made on first use)."""
        if self._programs is None:
            self._programs = {
                name: s3_assets.Asset(self, f"Program-{name}", path=path)
                for name, path in (
                    ("csv_to_parquet", job_file("hive", "csv_to_parquet.py")),
                    ("sparkfs", job_file("sparkfs.py")),
                    ("sample", job_file("hive", "sample", "covid_cases.csv")),
                )
            }
            assets_read_policy(
                self,
                "StepProgramsReadPolicy",
                self._platform,
                list(self._programs.values()),
                "Read the bundled CSV-to-Parquet step, its helper and its sample, object by object",
            )
        return self._programs

    @property
    def sample_input_uri(self) -> str:
        """``s3://`` URI of the bundled sample (``covid_cases.csv``: date, state, fips, cases,
        deaths), an asset the cluster can read: an ``input`` for :meth:`csv_to_parquet_step`."""
        return self._step_programs()["sample"].s3_object_url

    def csv_to_parquet_step(
        self,
        *,
        input: StepArg,
        output: StepArg,
        table: str,
        database: str = "default",
        partition_by: Sequence[str] = (),
        name: str = "csv-to-parquet",
        action_on_failure: str = "CONTINUE",
    ) -> SparkSubmitStep:
        """The bundled Spark step (``emr_patterns.jobs.hive.csv_to_parquet``): CSV at ``input`` to
        Parquet at ``output`` and an EXTERNAL Hive table ``<database>.<table>`` over it in this
        cluster's metastore (Athena reads it through :class:`AthenaHiveCatalog`). Idempotent:
        a re-run replaces the Parquet and keeps the table.

        The job and ``sparkfs.py`` ship as S3 assets (the instance role may read exactly those
        objects); ``input``/``output`` must be readable/writable by the instance role (e.g. the
        platform's data buckets, or :attr:`sample_input_uri`). Add the returned step with
        ``AddJobFlowSteps`` (``step.to_step_config()``) or a Step Functions ``addStep`` task
        (``step.to_sfn_parameters(cluster_id)``).

        Args:
            input: ``s3://`` CSV with a header row holding the columns date, state, fips, cases,
                deaths (the sample's), or an :class:`~emr_patterns.spec.steps.Arg`.
            output: ``s3://`` prefix for the Parquet (replaced on every run), or an ``Arg``.
            table: Hive table name (lower-case letters, digits, ``_``).
            database: Hive database, created if missing. Default ``default``.
            partition_by: columns to partition by (some of the sample's). Default: none.
            name: the step name. Default ``csv-to-parquet``.
            action_on_failure: ``CONTINUE``, ``CANCEL_AND_WAIT`` or ``TERMINATE_CLUSTER``.
                Default ``CONTINUE`` (the cluster is long-lived).
        """
        problems: list[str] = []
        for prop, value in (("table", table), ("database", database)):
            if not isinstance(value, str) or not _HIVE_NAME.match(value):
                problems.append(
                    problem(prop, value, "is not a Hive name", "use lower-case letters, digits and _")
                )
        for prop, uri in (("input", input), ("output", output)):
            if not (
                isinstance(uri, Arg)
                or is_unresolved(uri)
                or (isinstance(uri, str) and uri.startswith("s3://"))
            ):
                problems.append(problem(prop, uri, "is not an s3:// URI", "pass s3://bucket/key or an Arg"))
        partitions = list(partition_by) if not isinstance(partition_by, str) else [partition_by]
        unknown = [p for p in partitions if p not in SAMPLE_COLUMNS]
        if unknown or len(partitions) >= len(SAMPLE_COLUMNS):
            problems.append(
                problem(
                    "partition_by",
                    partition_by,
                    "names columns the job does not write, or all of them",
                    f"use some of {', '.join(SAMPLE_COLUMNS)}, e.g. ('state',)",
                )
            )
        raise_if_problems(f"HiveCluster '{self.node.path}'.csv_to_parquet_step", problems)
        programs = self._step_programs()
        args: list[StepArg] = ["--input", input, "--output", output, "--database", database, "--table", table]
        if partitions:
            args += ["--partition-by", ",".join(partitions)]
        return SparkSubmitStep(
            name=name,
            main=programs["csv_to_parquet"].s3_object_url,
            py_files=(programs["sparkfs"].s3_object_url,),
            args=tuple(args),
            action_on_failure=action_on_failure,
        )


def _ldap_problems(
    ldap: Any, applications: Sequence[str], security_configuration_name: str | None
) -> list[str]:
    if not isinstance(ldap, HiveLdapAuthentication):
        return [problem("ldap", ldap, "is not a HiveLdapAuthentication", "pass HiveLdapAuthentication(...)")]
    problems: list[str] = []
    if security_configuration_name is not None:
        problems.append(
            problem(
                "security_configuration_name",
                security_configuration_name,
                "is given with ldap, which brings the cluster's security configuration",
                "drop security_configuration_name (the cluster uses ldap.security_configuration_name)",
            )
        )
    if ldap.path is LdapPath.NATIVE:
        accepted = NATIVE_LDAP_APPLICATIONS | LDAP_CONFIGURE_YOURSELF_APPLICATIONS
        for app in applications:
            if app.lower() not in accepted:
                problems.append(
                    problem(
                        "tez" if app == "Tez" else "applications",
                        app,
                        "is not an application EMR-native LDAP accepts (EMR rejects the cluster): "
                        "Livy, Hive, Trino, Presto and Hue, beside Spark and Hadoop",
                        "pass tez=False" if app == "Tez" else f"drop {app}",
                    )
                )
    return problems


class _NativeLdapEmrCluster(EmrCluster):
    """An :class:`EmrCluster` on an EMR-native LDAP security configuration: users log in with
    their directory passwords, so the Kerberos finding gets that reason."""

    def _acknowledge_kerberos(self) -> None:
        acknowledge_rules(
            self.resource,
            rule_in_packs("EMRKerberosEnabled"),
            "EMR-native LDAP authenticates every HiveServer2 user against the directory over LDAPS "
            "and TLS, and its security configuration may hold no Kerberos block, so the cluster "
            "sets no KerberosAttributes.",
        )


#: Serverless Application Repository id of the Athena connector for an external Hive metastore
#: (``AthenaHiveMetastoreFunction``, published by Athena). Not verifiable from here (no network):
#: check it in the SAR console of your region before deploying.
ATHENA_HIVE_CONNECTOR_APPLICATION_ID = (
    "arn:aws:serverlessrepo:us-east-1:292517598671:applications/AthenaHiveMetastoreFunction"
)
#: Its semantic version pinned here (also unverified from here; pin the one you tested).
ATHENA_HIVE_CONNECTOR_VERSION = "1.0.0"
#: The Hive metastore's Thrift port on the primary nodes.
HIVE_METASTORE_PORT = 9083
_CATALOG_NAME = re.compile(r"^[A-Za-z0-9_@-]{1,128}$")
_FUNCTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class AthenaHiveCatalog(Construct):
    """Athena on the cluster's Hive metastore: the SAR connector, a HIVE data catalog and access.

    * The connector Lambda from its Serverless Application Repository application
      (``aws_sam.CfnApplication``; the jar is not on Maven Central), in the platform's private
      subnets on a security group whose only ways out are the metastore's Thrift port on the
      primary nodes' group and HTTPS (S3 spill, Athena); the primary group lets it in on 9083.
    * Spill objects under ``<temporary prefix>athena-hive-spill/`` of the platform's work bucket
      (platform key, expiring with the temporary prefix).
    * ``AWS::Athena::DataCatalog`` of type ``HIVE`` with ``metadata-function`` = the connector.
    * A customer-managed policy for catalog users (``lambda:InvokeFunction``/``GetFunction`` on
      the connector, the spill prefix, the platform key through S3) and two example IAM groups:
      ``engineers`` (attached) and ``analysts`` (not attached).
    * Failover: the stack parameter ``<id>MetastoreHost``. Empty (default) uses the cluster's
      first primary node; set it to another primary's private DNS name
      (``aws emr list-instances --cluster-id <id> --instance-group-types MASTER``) and update the
      stack to point the connector there.

    Args:
        scope: parent construct.
        id: construct id.
        platform: the platform (subnets, key, work bucket).
        cluster: the Hive cluster whose metastore Athena reads.
        catalog_name: the Athena data catalog name (<=128 of letters, digits, ``_@-``). Default
            ``hive``.
        function_name: the connector Lambda's name. Default ``<stack>-hive-connector`` (trimmed).
        application_id: SAR application id. Default :data:`ATHENA_HIVE_CONNECTOR_APPLICATION_ID`.
        semantic_version: SAR version. Default :data:`ATHENA_HIVE_CONNECTOR_VERSION`.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        platform: IEmrPlatform,
        cluster: HiveCluster,
        catalog_name: str = "hive",
        function_name: str | None = None,
        application_id: str = ATHENA_HIVE_CONNECTOR_APPLICATION_ID,
        semantic_version: str = ATHENA_HIVE_CONNECTOR_VERSION,
    ) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        name = function_name or f"{stack.stack_name}-hive-connector"[:64].rstrip("-")
        problems = check_platform(self, "platform", platform)
        if not isinstance(cluster, HiveCluster):
            problems.append(problem("cluster", cluster, "is not a HiveCluster", "pass HiveCluster(...)"))
        if not isinstance(catalog_name, str) or not _CATALOG_NAME.match(catalog_name):
            problems.append(
                problem(
                    "catalog_name",
                    catalog_name,
                    "is not an Athena data catalog name",
                    "use 1-128 letters, digits, _, @ or -",
                )
            )
        if not _FUNCTION_NAME.match(name):
            problems.append(
                problem("function_name", name, "is not a Lambda name", "use 1-64 letters, digits, _ or -")
            )
        if not (isinstance(application_id, str) and application_id.startswith("arn:aws")):
            problems.append(
                problem(
                    "application_id",
                    application_id,
                    "is not a Serverless Application Repository ARN",
                    f"use e.g. {ATHENA_HIVE_CONNECTOR_APPLICATION_ID}",
                )
            )
        if not (isinstance(semantic_version, str) and re.match(r"^\d+\.\d+\.\d+$", semantic_version)):
            problems.append(
                problem("semantic_version", semantic_version, "is not a semantic version", "use e.g. 1.0.0")
            )
        raise_if_problems(f"AthenaHiveCatalog '{self.node.path}'", problems)

        self.security_group = ec2.SecurityGroup(
            self,
            "ConnectorSecurityGroup",
            vpc=platform.vpc,
            description=f"Athena Hive connector {self.node.path}: Thrift to the primary nodes, HTTPS out",
            allow_all_outbound=False,
        )
        primary = cluster.primary_security_group
        self.security_group.add_egress_rule(
            primary, ec2.Port.tcp(HIVE_METASTORE_PORT), "Hive metastore Thrift on the primary nodes"
        )
        self.security_group.add_egress_rule(
            ec2.Peer.ipv4(platform.vpc.vpc_cidr_block), ec2.Port.tcp(443), "HTTPS to the VPC endpoints"
        )
        primary.add_ingress_rule(
            self.security_group, ec2.Port.tcp(HIVE_METASTORE_PORT), "Hive metastore Thrift from Athena"
        )

        self.host_parameter = CfnParameter(
            self,
            "MetastoreHost",
            type="String",
            default="",
            allowed_pattern=r"^$|^[A-Za-z0-9.-]+$",
            description="Private DNS name of the primary node whose metastore Athena uses; empty = the "
            "cluster's first primary. Set another primary's name to fail over.",
        )
        use_default = CfnCondition(
            self, "UseFirstPrimary", expression=Fn.condition_equals(self.host_parameter.value_as_string, "")
        )
        host = Fn.condition_if(
            use_default.logical_id, cluster.cluster.primary_dns_name, self.host_parameter.value_as_string
        ).to_string()
        self.metastore_uri = f"thrift://{host}:{HIVE_METASTORE_PORT}"

        work = platform.data_buckets[1]
        self.spill_bucket = work
        self.spill_prefix = f"{platform.layout.temporary_prefix}athena-hive-spill/"
        #: ``s3://`` URI of the spill prefix.
        self.spill_location = f"s3://{work.bucket_name}/{self.spill_prefix}"
        subnet_ids = [s.subnet_id for s in platform.private_subnets]
        self.application = sam.CfnApplication(
            self,
            "Connector",
            location=sam.CfnApplication.ApplicationLocationProperty(
                application_id=application_id, semantic_version=semantic_version
            ),
            parameters={
                "LambdaFuncName": name,
                "HMSUris": self.metastore_uri,
                # The application's template writes "s3://${SpillLocation}" into SPILL_LOCATION and
                # grants "arn:aws:s3:::${SpillLocation}/*": bucket/prefix, no scheme.
                "SpillLocation": f"{work.bucket_name}/{self.spill_prefix.rstrip('/')}",
                "VPCSecurityGroupIds": self.security_group.security_group_id,
                "VPCSubnetIds": Fn.join(",", subnet_ids),
            },
        )
        self.function_name = name
        self.function_arn = stack.format_arn(
            service="lambda",
            resource="function",
            resource_name=name,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        self.data_catalog = athena.CfnDataCatalog(
            self,
            "DataCatalog",
            name=catalog_name,
            type="HIVE",
            description=f"Hive metastore of {cluster.node.path} through the Athena connector",
            parameters={"metadata-function": self.function_arn},
        )
        self.data_catalog.node.add_dependency(self.application)

        spill_objects = work.arn_for_objects(f"{self.spill_prefix}*")
        self.users_policy = iam.ManagedPolicy(
            self,
            "CatalogUsersPolicy",
            description=f"Query the Athena catalog '{catalog_name}' (Hive metastore connector and spill)",
            statements=[
                iam.PolicyStatement(
                    sid="InvokeConnector",
                    actions=["lambda:InvokeFunction", "lambda:GetFunction"],
                    resources=[self.function_arn],
                ),
                iam.PolicyStatement(
                    sid="SpillObjects",
                    actions=[
                        "s3:GetObject",
                        "s3:PutObject",
                        "s3:AbortMultipartUpload",
                        "s3:ListMultipartUploadParts",
                    ],
                    resources=[spill_objects],
                ),
                iam.PolicyStatement(
                    sid="ListSpillPrefix",
                    actions=["s3:ListBucket", "s3:GetBucketLocation", "s3:ListBucketMultipartUploads"],
                    resources=[work.bucket_arn],
                    conditions={"StringLike": {"s3:prefix": [f"{self.spill_prefix}*"]}},
                ),
                iam.PolicyStatement(
                    sid="SpillKey",
                    actions=["kms:Decrypt", "kms:GenerateDataKey"],
                    resources=[platform.key.key_arn],
                    conditions={"StringEquals": {"kms:ViaService": f"s3.{stack.region}.{stack.url_suffix}"}},
                ),
                iam.PolicyStatement(
                    sid="UseCatalog",
                    actions=["athena:GetDataCatalog"],
                    resources=[
                        stack.format_arn(service="athena", resource="datacatalog", resource_name=catalog_name)
                    ],
                ),
            ],
        )
        acknowledge_resource(
            self.users_policy,
            "AwsSolutions-IAM5",
            spill_objects,
            "The connector names spill objects per query: the grant is the one spill prefix.",
        )
        #: Example group with catalog access.
        self.engineers = iam.Group(self, "Engineers", managed_policies=[self.users_policy])
        #: Example group without catalog access (the policy is not attached).
        self.analysts = iam.Group(self, "Analysts")
        for group in (self.engineers, self.analysts):
            acknowledge_rules(
                group,
                rule_in_packs("IAMGroupHasUsers"),
                "Example group: members are added outside this stack (the stack creates no IAM users "
                "and so no long-term credentials).",
            )
