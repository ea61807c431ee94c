"""CDC to Hudi: MySQL (RDS) -> AWS DMS -> S3 Parquet -> HoodieStreamer on transient EMR -> Hudi.

Three constructs, used together by :class:`~emr_patterns.stacks.cdc_hudi.CdcHudiStack` or alone:

* :class:`MySqlCdcSource`: a :class:`~emr_patterns.foundation.mysql.PrivateMySql` with the binlog
  settings DMS needs, the binlog retention set at deploy time and a DMS user with only the grants
  DMS needs (a custom resource, ``lambdas/mysql_cdc_setup``);
* :class:`DmsToS3`: the replication instance, its subnet group and roles, the MySQL source
  endpoint (TLS, Secrets Manager), the S3 target endpoint (Parquet, commit timestamps, ``Op`` on
  the full load, SSE-KMS with the platform key) and a full-load-and-CDC task for an allowlist;
* :class:`HudiCdcIngest`: on a schedule, a gate that waits for the DMS full load, then a
  :class:`~emr_patterns.orchestration.TransientClusterPipeline` that runs HoodieStreamer for each
  table (arguments and properties from :class:`~emr_patterns.spec.hudi.HudiCdcTable`) and the
  reconciliation job, which fails the run when the Hudi table and the source disagree.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_dms as dms
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from emr_patterns._assets import job_file
from emr_patterns._retention import retention_days
from emr_patterns.compute.jobs import assets_read_policy
from emr_patterns.defaults import LOG_GROUP_RETENTION_DAYS
from emr_patterns.errors import problem, raise_if_problems
from emr_patterns.foundation.mysql import (
    RDS_CA_BUNDLE_NODE_PATH,
    MySqlEndpoint,
    PrivateMySql,
    mysql_setup_resource,
    rds_ca_bundle_file,
    server_ca_path_problems,
)
from emr_patterns.foundation.platform import IEmrPlatform, check_platform
from emr_patterns.nag import acknowledge, acknowledge_resource
from emr_patterns.orchestration import PipelineSchedule, TransientClusterPipeline
from emr_patterns.orchestration._machine import PipelineMachine
from emr_patterns.spec import BootstrapAction, ClusterSpec, InstanceFleetSpec
from emr_patterns.spec.hudi import (
    MYSQL_CDC_PARAMETERS,
    HudiCdcTable,
    HudiSyncTarget,
    dms_table_mappings,
)
from emr_patterns.spec.steps import SparkSubmitStep

__all__ = [
    "DMS_CLOUDWATCH_LOGS_ROLE",
    "DMS_VPC_ROLE",
    "DmsToS3",
    "HudiCdcIngest",
    "MySqlCdcSource",
    "cdc_cluster_spec",
]

DMS_VPC_ROLE = "dms-vpc-role"
"""The role name DMS looks up to manage network interfaces (fixed by DMS, one per account)."""
DMS_CLOUDWATCH_LOGS_ROLE = "dms-cloudwatch-logs-role"
"""The role name DMS looks up to write task logs (fixed by DMS, one per account)."""
MARIADB_CONNECTOR = "/usr/share/java/mariadb-connector-java.jar"
"""The JDBC driver EMR installs on every node (the reconciliation job reads the source with it)."""
EMR_HUDI_SPARK_BUNDLE = "/usr/lib/hudi/hudi-spark-bundle.jar"
"""Hudi's Spark bundle on EMR nodes, which a Spark job that reads Hudi puts in ``--jars``."""


def reconcile_jdbc_options(server_ca_path: str | None) -> str:
    """MariaDB Connector/J options of the reconciliation's source URL. TLS always (the database
    requires it); with ``server_ca_path`` (a PEM file on the nodes, one or many CAs) the driver
    verifies the certificate and the host name (``sslMode=verify-full``), without it the channel is
    encrypted but the certificate is not checked (``sslMode=trust``)."""
    if server_ca_path:
        return f"sslMode=verify-full&serverSslCert={server_ca_path}"
    return "sslMode=trust"


def cdc_cluster_spec(name: str = "cdc-hudi") -> ClusterSpec:
    """A small Graviton cluster for HoodieStreamer runs: Spark (Hudi comes with it), one primary and
    two core nodes, auto-termination after 30 idle minutes."""
    return ClusterSpec(
        name=name,
        applications=("Hadoop", "Spark"),
        primary_fleet=InstanceFleetSpec.primary(["m7g.xlarge", "m6g.xlarge"]),
        core_fleet=InstanceFleetSpec.core(["r7g.2xlarge", "r6g.2xlarge"], on_demand_units=2),
        idle_timeout_seconds=1800,
    )


def _tables_problems(tables: Sequence[HudiCdcTable]) -> list[str]:
    try:
        dms_table_mappings(tables)
    except ValueError as err:
        return list(getattr(err, "problems", [str(err)]))
    return []


class MySqlCdcSource(Construct):
    """The MySQL side of DMS change capture.

    Creates a :class:`PrivateMySql` whose parameter group sets
    :data:`~emr_patterns.spec.hudi.MYSQL_CDC_PARAMETERS` (``binlog_format=ROW``,
    ``binlog_row_image=FULL``, ``binlog_checksum=NONE``) with automated backups on (they turn the
    binary log on), or uses ``database``. Then, at deploy time,
    ``Setup`` (a custom resource on ``lambdas/mysql_cdc_setup``, in the private subnets; see
    :func:`~emr_patterns.foundation.mysql.mysql_setup_resource`) calls
    ``mysql.rds_set_configuration('binlog retention hours', N)`` and creates the DMS user with
    ``REPLICATION CLIENT``, ``REPLICATION SLAVE`` and ``SELECT`` on the allowlisted databases only,
    ``REQUIRE SSL``. The DMS user's credentials are ``dms_secret`` (platform key, with the
    ``host`` and ``port`` DMS reads from it, rotated every 30 days).

    Args:
        scope: parent construct.
        id: construct id.
        platform: the platform.
        databases: the databases DMS may read (exact names).
        database: the database: a :class:`~emr_patterns.foundation.mysql.PrivateMySql` of this
            app (which must have the CDC parameters) or an
            :class:`~emr_patterns.foundation.mysql.ExistingMySql` deployed elsewhere (whose
            owner sets them and keeps automated backups on). Default: a new ``PrivateMySql``.
        binlog_retention_hours: how long RDS keeps binary logs (1-168). Default 24.
        dms_user: the DMS user name. Default ``dms_cdc``.
        multi_az: for a new database. Default True.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        platform: IEmrPlatform,
        databases: Sequence[str],
        database: MySqlEndpoint | None = None,
        binlog_retention_hours: int = 24,
        dms_user: str = "dms_cdc",
        multi_az: bool = True,
    ) -> None:
        super().__init__(scope, id)
        problems = check_platform(self, "platform", platform)
        from emr_patterns.spec.hudi import identifier_problems

        if isinstance(databases, str) or not databases:
            problems.append(problem("databases", databases, "is not a list of names", "pass e.g. ['shop']"))
        else:
            for i, name in enumerate(databases):
                problems += identifier_problems(f"databases[{i}]", name)
        if (
            isinstance(binlog_retention_hours, bool)
            or not isinstance(binlog_retention_hours, int)
            or not (1 <= binlog_retention_hours <= 168)
        ):
            problems.append(
                problem(
                    "binlog_retention_hours",
                    binlog_retention_hours,
                    "must be 1-168",
                    "keep the binlog long enough for DMS to catch up, e.g. 24",
                )
            )
        if database is not None and database.parameters is not None:
            for key, value in MYSQL_CDC_PARAMETERS.items():
                if database.parameters.get(key) != value:
                    problems.append(
                        problem(
                            f"database.parameters[{key!r}]",
                            database.parameters.get(key),
                            f"must be {value!r} for DMS change capture",
                            "create the PrivateMySql with parameters=MYSQL_CDC_PARAMETERS",
                        )
                    )
        raise_if_problems(f"MySqlCdcSource '{self.node.path}'", problems)
        self.database: MySqlEndpoint = database or PrivateMySql(
            self,
            "Database",
            platform=platform,
            database_name=databases[0],
            parameters=dict(MYSQL_CDC_PARAMETERS),
            multi_az=multi_az,
        )
        self.databases = tuple(databases)
        db = self.database
        template = Stack.of(self).to_json_string(
            {"username": dms_user, "host": db.endpoint_address, "port": db.port, "engine": "mysql"}
        )
        self.dms_secret = secretsmanager.Secret(
            self,
            "DmsSecret",
            description=f"DMS source user of {db.node.path}",
            encryption_key=platform.key,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=template,
                generate_string_key="password",
                exclude_characters="\"'@/\\` ",
                password_length=32,
            ),
        )
        db.add_user_rotation("DmsSecretRotation", self.dms_secret)
        self.setup_function, self.setup = mysql_setup_resource(
            self,
            platform=platform,
            database=db,
            module="handler",
            description=f"Prepares {db.node.path} for DMS change capture",
            resource_type="Custom::MySqlCdcSetup",
            secrets=[self.dms_secret],
            properties={
                "DmsSecretArn": self.dms_secret.secret_arn,
                "Databases": list(databases),
                "BinlogRetentionHours": str(binlog_retention_hours),
            },
            egress_description="MySQL to the CDC source",
            ingress_description="CDC set-up function",
        )


class DmsToS3(Construct):
    """AWS DMS from a :class:`MySqlCdcSource` to Parquet in a platform bucket, full load then CDC.

    Children (stable ids): ``VpcRole`` / ``LogsRole`` (the fixed-name ``dms-vpc-role`` and
    ``dms-cloudwatch-logs-role``, created when ``create_service_roles`` else imported by name; the
    subnet group and the instance depend on them), ``SubnetGroup`` (the private subnets),
    ``SecurityGroup`` (HTTPS out to the endpoints, MySQL out to the source), ``Instance`` (private,
    encrypted with the platform key, Multi-AZ option), ``SecretsRole`` and ``Source`` (MySQL,
    ``SslMode=require``, credentials from ``dms_secret``), ``TargetRole`` and ``Target`` (S3:
    Parquet 2.0, ``TimestampColumnName`` of the tables, millisecond timestamps, ``Op`` on the full
    load, SSE-KMS with the platform key, below ``prefix``), ``Task`` (full-load-and-cdc, table
    mappings from the tables' allowlist, CloudWatch logging, validation on).

    Args:
        scope: parent construct.
        id: construct id.
        platform: the platform.
        source: the CDC source.
        tables: the tables to replicate (exact names; their databases must be the source's).
        bucket: the target bucket; must be encrypted with the platform key. Default: the
            platform's raw bucket.
        prefix: key prefix DMS writes below (``<prefix>/<database>/<table>/``). Default ``dms``.
        instance_class: replication instance class. Default ``dms.r6i.large``.
        multi_az: a standby replication instance. Default True.
        create_service_roles: create ``dms-vpc-role`` and ``dms-cloudwatch-logs-role`` (once per
            account: pass False when they exist). Default True.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        platform: IEmrPlatform,
        source: MySqlCdcSource,
        tables: Sequence[HudiCdcTable],
        bucket: s3.IBucket | None = None,
        prefix: str = "dms",
        instance_class: str = "dms.r6i.large",
        multi_az: bool = True,
        create_service_roles: bool = True,
    ) -> None:
        super().__init__(scope, id)
        problems = check_platform(self, "platform", platform)
        problems += _tables_problems(tables)
        bucket = bucket or platform.data_buckets[0]
        if not _on_platform_key(bucket, platform):
            problems.append(
                problem(
                    "bucket",
                    bucket.node.path,
                    "is not encrypted with the platform key",
                    "use a platform data bucket (the default) or one whose encryption_key is platform.key",
                )
            )
        if not isinstance(prefix, str) or not prefix or prefix.startswith("/") or prefix.endswith("/"):
            problems.append(
                problem("prefix", prefix, "is not a key prefix", "pass e.g. 'dms' (no leading or trailing /)")
            )
        stamps = {t.timestamp_column for t in tables if isinstance(t, HudiCdcTable)}
        if len(stamps) > 1:
            problems.append(
                problem(
                    "tables[*].timestamp_column",
                    sorted(stamps),
                    "differ; one DMS endpoint writes one",
                    "give every table the same timestamp_column",
                )
            )
        for i, table in enumerate(tables):
            if isinstance(table, HudiCdcTable) and table.source_database not in source.databases:
                problems.append(
                    problem(
                        f"tables[{i}].source_database",
                        table.source_database,
                        f"is not among the source's databases {list(source.databases)}",
                        "add it to MySqlCdcSource(databases=...)",
                    )
                )
        raise_if_problems(f"DmsToS3 '{self.node.path}'", problems)
        stack = Stack.of(self)
        self.bucket, self.prefix, self.tables = bucket, prefix, tuple(tables)
        self.timestamp_column = next(iter(stamps))

        if create_service_roles:
            vpc_role: iam.IRole = iam.Role(
                self,
                "VpcRole",
                role_name=DMS_VPC_ROLE,
                assumed_by=iam.ServicePrincipal("dms.amazonaws.com"),
                managed_policies=[
                    iam.ManagedPolicy.from_aws_managed_policy_name("service-role/AmazonDMSVPCManagementRole")
                ],
                description="DMS: manage the replication instances' network interfaces (fixed name)",
            )
            logs_role: iam.IRole = iam.Role(
                self,
                "LogsRole",
                role_name=DMS_CLOUDWATCH_LOGS_ROLE,
                assumed_by=iam.ServicePrincipal("dms.amazonaws.com"),
                managed_policies=[
                    iam.ManagedPolicy.from_aws_managed_policy_name("service-role/AmazonDMSCloudWatchLogsRole")
                ],
                description="DMS: write replication task logs (fixed name)",
            )
            for role, name in (
                (vpc_role, "AmazonDMSVPCManagementRole"),
                (logs_role, "AmazonDMSCloudWatchLogsRole"),
            ):
                acknowledge(
                    role,
                    f"AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/{name}]",
                    "DMS looks this role up by its fixed name and expects its own service policy on it.",
                )
        else:
            vpc_role = iam.Role.from_role_name(self, "VpcRole", DMS_VPC_ROLE)
            logs_role = iam.Role.from_role_name(self, "LogsRole", DMS_CLOUDWATCH_LOGS_ROLE)
        self.vpc_role, self.logs_role = vpc_role, logs_role

        self.subnet_group = dms.CfnReplicationSubnetGroup(
            self,
            "SubnetGroup",
            replication_subnet_group_description=f"DMS {self.node.path}: private subnets",
            subnet_ids=[s.subnet_id for s in platform.private_subnets],
        )
        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=platform.vpc,
            allow_all_outbound=False,
            description=f"DMS {self.node.path}: HTTPS to endpoints, MySQL to the source",
        )
        self.security_group.add_egress_rule(
            ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS to VPC endpoints and S3"
        )
        db = source.database
        self.security_group.add_egress_rule(
            db.security_group, ec2.Port.tcp(db.port), "MySQL to the CDC source"
        )
        db.allow_from(self.security_group, "DMS replication instance")
        self.instance = dms.CfnReplicationInstance(
            self,
            "Instance",
            replication_instance_class=instance_class,
            allocated_storage=100,
            kms_key_id=platform.key.key_arn,
            multi_az=multi_az,
            publicly_accessible=False,
            auto_minor_version_upgrade=True,
            replication_subnet_group_identifier=self.subnet_group.ref,
            vpc_security_group_ids=[self.security_group.security_group_id],
        )
        for role in (vpc_role, logs_role):
            if isinstance(role, iam.Role):
                self.subnet_group.node.add_dependency(role)
                self.instance.node.add_dependency(role)

        principal = iam.ServicePrincipal(
            f"dms.{stack.region}.amazonaws.com" if not _unresolved(stack.region) else "dms.amazonaws.com",
            conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
        )
        self.secrets_role = iam.Role(
            self,
            "SecretsRole",
            assumed_by=principal,
            description=f"DMS {self.node.path}: read the source user's secret",
        )
        secrets_policy = iam.ManagedPolicy(
            self,
            "SecretsPolicy",
            roles=[self.secrets_role],
            description="Read the DMS source secret",
            statements=[
                iam.PolicyStatement(
                    actions=["secretsmanager:GetSecretValue"], resources=[source.dms_secret.secret_arn]
                ),
                iam.PolicyStatement(actions=["kms:Decrypt"], resources=[platform.key.key_arn]),
            ],
        )
        self.source_endpoint = dms.CfnEndpoint(
            self,
            "Source",
            endpoint_type="source",
            engine_name="mysql",
            ssl_mode="require",
            my_sql_settings=dms.CfnEndpoint.MySqlSettingsProperty(
                secrets_manager_secret_id=source.dms_secret.secret_arn,
                secrets_manager_access_role_arn=self.secrets_role.role_arn,
            ),
        )
        self.source_endpoint.node.add_dependency(secrets_policy)
        self.source_endpoint.node.add_dependency(source.setup)

        self.target_role = iam.Role(
            self,
            "TargetRole",
            assumed_by=iam.ServicePrincipal(
                "dms.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": stack.account}}
            ),
            description=f"DMS {self.node.path}: write Parquet below {prefix}/",
        )
        target_policy = iam.ManagedPolicy(
            self,
            "TargetPolicy",
            roles=[self.target_role],
            description="Write DMS files below the prefix, with the platform key",
            statements=[
                iam.PolicyStatement(
                    actions=["s3:PutObject", "s3:DeleteObject", "s3:PutObjectTagging"],
                    resources=[bucket.arn_for_objects(f"{prefix}/*")],
                ),
                iam.PolicyStatement(
                    actions=["s3:ListBucket"],
                    resources=[bucket.bucket_arn],
                    conditions={"StringLike": {"s3:prefix": [f"{prefix}/*", prefix]}},
                ),
                iam.PolicyStatement(
                    actions=["kms:GenerateDataKey", "kms:Decrypt"], resources=[platform.key.key_arn]
                ),
            ],
        )
        acknowledge_resource(
            target_policy,
            "AwsSolutions-IAM5",
            bucket.arn_for_objects(f"{prefix}/*"),
            "DMS writes one object per file below the task's prefix; the names are its own.",
        )
        self._target_policy = target_policy
        self.target_endpoint = dms.CfnEndpoint(
            self,
            "Target",
            endpoint_type="target",
            engine_name="s3",
            s3_settings=dms.CfnEndpoint.S3SettingsProperty(
                bucket_name=bucket.bucket_name,
                bucket_folder=prefix,
                service_access_role_arn=self.target_role.role_arn,
                data_format="parquet",
                parquet_version="parquet-2-0",
                timestamp_column_name=self.timestamp_column,
                parquet_timestamp_in_millisecond=True,
                include_op_for_full_load=True,
                encryption_mode="SSE_KMS",
                server_side_encryption_kms_key_id=platform.key.key_arn,
                cdc_max_batch_interval=60,
                cdc_min_file_size=32000,
            ),
        )
        self.target_endpoint.node.add_dependency(target_policy)
        settings = {
            "Logging": {
                "EnableLogging": True,
                "LogComponents": [
                    {"Id": c, "Severity": "LOGGER_SEVERITY_DEFAULT"}
                    for c in (
                        "SOURCE_UNLOAD",
                        "SOURCE_CAPTURE",
                        "TARGET_LOAD",
                        "TARGET_APPLY",
                        "TASK_MANAGER",
                    )
                ],
            },
            "ValidationSettings": {"EnableValidation": True, "ValidationMode": "ROW_LEVEL", "ThreadCount": 5},
            "FullLoadSettings": {"TargetTablePrepMode": "DO_NOTHING"},
        }
        self.task = dms.CfnReplicationTask(
            self,
            "Task",
            migration_type="full-load-and-cdc",
            replication_instance_arn=self.instance.ref,
            source_endpoint_arn=self.source_endpoint.ref,
            target_endpoint_arn=self.target_endpoint.ref,
            table_mappings=json.dumps(dms_table_mappings(tables)),
            replication_task_settings=json.dumps(settings),
        )

    @property
    def task_arn(self) -> str:
        """The replication task's ARN."""
        return self.task.ref

    def table_folder(self, table: HudiCdcTable) -> str:
        """``s3://<bucket>/<prefix>/<database>/<table>/``: where DMS writes ``table``."""
        return table.dms_folder(f"s3://{self.bucket.bucket_name}/{self.prefix}")


def _on_platform_key(bucket: s3.IBucket, platform: IEmrPlatform) -> bool:
    """A platform data bucket (the platform encrypts them with its key, also when imported, where
    the bucket object carries no key), or a bucket whose ``encryption_key`` is the platform key."""
    return any(bucket is b for b in platform.data_buckets) or bucket.encryption_key is platform.key


def _unresolved(value: str) -> bool:
    from aws_cdk import Token

    return Token.is_unresolved(value)


class HudiCdcIngest(Construct):
    """Scheduled HoodieStreamer runs on a transient EMR cluster, with reconciliation.

    ``Pipeline`` (a :class:`~emr_patterns.orchestration.TransientClusterPipeline`) runs, for each
    table, ``hudi-<table>`` (HoodieStreamer with the spec's arguments; the ``--props`` file is a
    content-hashed asset ``Properties-<table>``) then ``reconcile-<table>`` (the bundled
    ``reconcile.py``: source ``COUNT(*)`` over JDBC as the DMS user (read-only grants, TLS) against
    the Hudi snapshot, distinct record keys too; a mismatch fails the step, the execution, and
    terminates the cluster).

    The full-load hand-off is automated: every run is the same ``UPSERT`` (the first one is the
    full load), and ``Gate`` (a state machine started by ``Schedule``) starts the pipeline only
    when (1) no pipeline execution is running (one writer per Hudi table; else it ends with
    ``PreviousRunStillRunning``) and (2) DMS reports every table of the task as ``Table
    completed`` (full load done, CDC running; else ``FullLoadNotFinished``). The next schedule
    tries again. No file is moved: the full-load and
    CDC files stay in one folder per table, and ``ParquetDFSSource``'s checkpoint (the newest
    file's modification time) keeps each run to new files.

    Sync: with ``HudiSyncTarget.GLUE`` (the tables' default) ``GlueDatabase`` is created for each
    target database and the instance role may create and update those tables and partitions only.

    Args:
        scope: parent construct.
        id: construct id.
        platform: the platform.
        tables: the tables (their DMS folders under ``dms``).
        dms: the :class:`DmsToS3` writing them.
        source: the :class:`MySqlCdcSource` the reconciliation counts.
        lake_bucket: where the Hudi tables go. Default: the platform's curated bucket.
        lake_prefix: key prefix of the tables (``<prefix>/<database>/<table>``). Default ``hudi``.
        schedule: when to run. Default ``rate(1 hour)``.
        spec: the transient cluster. Default :func:`cdc_cluster_spec`.
        reconcile_tolerance: allowed ``|source - hudi|`` rows (changes after the run's last DMS
            file). Default 0.
        log_retention_days: days the gate's logs are kept. Default one year.
        server_ca_path: path on the nodes of the CA bundle the reconciliation verifies the source
            database's certificate with (``sslMode=verify-full``). Default
            :data:`~emr_patterns.foundation.mysql.RDS_CA_BUNDLE_NODE_PATH`, where a bootstrap
            action (``install-rds-ca-bundle``, added to ``spec``) installs the Amazon RDS CA
            bundle the library ships. Another path: you place the file. ``None``: encrypted
            without certificate checks (``sslMode=trust``).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        platform: IEmrPlatform,
        tables: Sequence[HudiCdcTable],
        dms: DmsToS3,
        source: MySqlCdcSource,
        lake_bucket: s3.IBucket | None = None,
        lake_prefix: str = "hudi",
        schedule: str = "rate(1 hour)",
        spec: ClusterSpec | None = None,
        reconcile_tolerance: int = 0,
        log_retention_days: int = LOG_GROUP_RETENTION_DAYS,
        server_ca_path: str | None = RDS_CA_BUNDLE_NODE_PATH,
    ) -> None:
        super().__init__(scope, id)
        problems = check_platform(self, "platform", platform)
        problems += _tables_problems(tables)
        problems += server_ca_path_problems("server_ca_path", server_ca_path)
        lake_bucket = lake_bucket or platform.data_buckets[2]
        if not _on_platform_key(lake_bucket, platform):
            problems.append(
                problem(
                    "lake_bucket",
                    lake_bucket.node.path,
                    "is not encrypted with the platform key",
                    "use a platform data bucket (the default)",
                )
            )
        if not isinstance(lake_prefix, str) or not lake_prefix or lake_prefix.strip("/") != lake_prefix:
            problems.append(problem("lake_prefix", lake_prefix, "is not a key prefix", "pass e.g. 'hudi'"))
        if (
            isinstance(reconcile_tolerance, bool)
            or not isinstance(reconcile_tolerance, int)
            or reconcile_tolerance < 0
        ):
            problems.append(
                problem("reconcile_tolerance", reconcile_tolerance, "must be an int >= 0", "use 0")
            )
        for i, table in enumerate(tables):
            if isinstance(table, HudiCdcTable) and table not in dms.tables:
                problems.append(
                    problem(
                        f"tables[{i}]",
                        table.source_table,
                        "is not replicated by dms",
                        "pass the same tables to DmsToS3 and HudiCdcIngest",
                    )
                )
        retention = retention_days("log_retention_days", log_retention_days, problems)
        raise_if_problems(f"HudiCdcIngest '{self.node.path}'", problems)
        stack = Stack.of(self)
        self.tables = tuple(tables)
        db = source.database

        folder = Path(tempfile.mkdtemp(prefix="cdc-hudi-props-"))
        self.properties = {}
        for table in tables:
            path = folder / f"{table.source_database}.{table.table_name}.properties"
            path.write_text(table.properties_file())
            self.properties[table.table_name] = s3_assets.Asset(
                self, f"Properties-{table.source_database}-{table.table_name}", path=str(path)
            )
        self.reconcile_program = s3_assets.Asset(
            self, "ReconcileProgram", path=job_file("cdc_hudi", "reconcile.py")
        )
        assets = [*self.properties.values(), self.reconcile_program]
        spec = spec or cdc_cluster_spec()
        if server_ca_path == RDS_CA_BUNDLE_NODE_PATH:
            script = s3_assets.Asset(self, "CaBundleScript", path=job_file("install-file-bootstrap.sh"))
            bundle = s3_assets.Asset(self, "RdsCaBundle", path=rds_ca_bundle_file())
            assets += [script, bundle]
            action = BootstrapAction(
                "install-rds-ca-bundle",
                script.s3_object_url,
                (RDS_CA_BUNDLE_NODE_PATH, stack.region, bundle.s3_object_url),
            )
            spec = dataclasses.replace(spec, bootstrap_actions=(*spec.bootstrap_actions, action))
        assets_read_policy(
            self,
            "AssetsReadPolicy",
            platform,
            assets,
            "Read the HoodieStreamer properties, the reconcile program and the CA bundle, object by object",
            statements=[
                iam.PolicyStatement(
                    actions=["secretsmanager:GetSecretValue"], resources=[source.dms_secret.secret_arn]
                ),
            ],
        )
        glue_tables = [t for t in tables if t.sync is HudiSyncTarget.GLUE]
        self.glue_databases = {}
        for name in sorted({t.target_database for t in glue_tables}):
            self.glue_databases[name] = glue.CfnDatabase(
                self,
                f"GlueDatabase-{name}",
                catalog_id=stack.account,
                database_input=glue.CfnDatabase.DatabaseInputProperty(
                    name=name, description=f"Hudi CDC tables of {self.node.path}"
                ),
            )
        if glue_tables:
            catalog = stack.format_arn(service="glue", resource="catalog")
            glue_policy = iam.ManagedPolicy(
                self,
                "GlueSyncPolicy",
                description="Hudi sync: read the catalog, create and update these tables and partitions",
                statements=[
                    iam.PolicyStatement(
                        actions=[
                            "glue:GetDatabase",
                            "glue:GetTable",
                            "glue:GetTables",
                            "glue:CreateTable",
                            "glue:UpdateTable",
                            "glue:GetPartition",
                            "glue:GetPartitions",
                            "glue:BatchCreatePartition",
                            "glue:BatchUpdatePartition",
                            "glue:BatchDeletePartition",
                            "glue:CreatePartition",
                            "glue:UpdatePartition",
                            "glue:DeletePartition",
                        ],
                        resources=[
                            catalog,
                            *(
                                stack.format_arn(service="glue", resource="database", resource_name=n)
                                for n in self.glue_databases
                            ),
                            *(
                                stack.format_arn(
                                    service="glue",
                                    resource="table",
                                    resource_name=f"{t.target_database}/{t.table_name}",
                                )
                                for t in glue_tables
                            ),
                        ],
                    )
                ],
                roles=[platform.instance_role],
            )
            self.glue_sync_policy = glue_policy

        tolerance = str(reconcile_tolerance)
        steps = []
        for table in tables:
            base = f"s3://{lake_bucket.bucket_name}/{lake_prefix}/{table.source_database}/{table.table_name}"
            steps.append(
                table.streamer_step(
                    source_root=dms.table_folder(table),
                    target_base_path=base,
                    props_uri=self.properties[table.table_name].s3_object_url,
                )
            )
            steps.append(
                SparkSubmitStep(
                    name=f"reconcile-{table.table_name}",
                    main=self.reconcile_program.s3_object_url,
                    jars=(f"file:{MARIADB_CONNECTOR}", f"file:{EMR_HUDI_SPARK_BUNDLE}"),
                    spark_conf={
                        "spark.sql.extensions": "org.apache.spark.sql.hudi.HoodieSparkSessionExtension",
                        "spark.serializer": "org.apache.spark.serializer.KryoSerializer",
                    },
                    extra_allowed_spark_conf=("spark.sql.extensions", "spark.serializer"),
                    args=(
                        "--jdbc-url",
                        f"{db.jdbc_url}?{reconcile_jdbc_options(server_ca_path)}",
                        "--secret-id",
                        source.dms_secret.secret_arn,
                        "--region",
                        stack.region,
                        "--table",
                        f"{table.source_database}.{table.source_table}",
                        "--hudi-path",
                        base,
                        "--record-key",
                        ",".join(table.record_key),
                        "--tolerance",
                        tolerance,
                    ),
                )
            )
        self.pipeline = TransientClusterPipeline(
            self,
            "Pipeline",
            platform=platform,
            spec=spec,
            steps=steps,
            timeout=Duration.hours(6),
            step_timeout=Duration.hours(2),
        )
        for group in (self.pipeline.primary_security_group, self.pipeline.core_security_group):
            db.allow_from(group, "EMR reconciliation job")

        # ---- the gate: run only once DMS has finished the full load ----------------------------
        describe = tasks.CallAwsService(
            self,
            "DescribeTableStatistics",
            service="databasemigration",
            action="describeTableStatistics",
            parameters={"ReplicationTaskArn": dms.task_arn, "MaxRecords": 500},
            iam_resources=[dms.task_arn],
            iam_action="dms:DescribeTableStatistics",
            result_selector={
                "tables.$": "$.TableStatistics",
                "pending.$": "$.TableStatistics[?(@.TableState != 'Table completed')]",
            },
            result_path="$.dms",
            task_timeout=sfn.Timeout.duration(Duration.minutes(2)),
        )
        count = sfn.Pass(
            self,
            "CountTables",
            parameters={
                "tables.$": "States.ArrayLength($.dms.tables)",
                "pending.$": "States.ArrayLength($.dms.pending)",
            },
            result_path="$.counts",
        )
        running = tasks.CallAwsService(
            self,
            "ListRunningIngests",
            service="sfn",
            action="listExecutions",
            parameters={
                "StateMachineArn": self.pipeline.state_machine_arn,
                "StatusFilter": "RUNNING",
                "MaxResults": 1,
            },
            iam_resources=[self.pipeline.state_machine_arn],
            iam_action="states:ListExecutions",
            result_selector={"running.$": "States.ArrayLength($.Executions)"},
            result_path="$.previous",
            task_timeout=sfn.Timeout.duration(Duration.minutes(2)),
        )
        run = tasks.StepFunctionsStartExecution(
            self,
            "RunPipeline",
            state_machine=self.pipeline.state_machine,
            integration_pattern=sfn.IntegrationPattern.REQUEST_RESPONSE,
            input=sfn.TaskInput.from_object({"modes": ["incremental"]}),
            task_timeout=sfn.Timeout.duration(Duration.minutes(2)),
        )
        busy = sfn.Succeed(
            self, "PreviousRunStillRunning", comment="One writer per Hudi table: the last run has not ended"
        )
        waiting = sfn.Succeed(self, "FullLoadNotFinished", comment="DMS has not finished the full load yet")
        done = sfn.Succeed(self, "PipelineStarted")
        choice = (
            sfn.Choice(self, "FullLoadDone")
            .when(sfn.Condition.number_equals("$.counts.tables", 0), waiting)
            .when(sfn.Condition.number_greater_than("$.counts.pending", 0), waiting)
            .otherwise(run.next(done))
        )
        definition = running.next(
            sfn.Choice(self, "OneWriter")
            .when(sfn.Condition.number_greater_than("$.previous.running", 0), busy)
            .otherwise(describe.next(count).next(choice))
        )
        gate = PipelineMachine(
            Construct(self, "Gate"),
            platform,
            definition=definition,
            timeout=Duration.hours(8),
            retention=retention,
            statements=[
                iam.PolicyStatement(
                    sid="ReadTableStatistics",
                    actions=["dms:DescribeTableStatistics"],
                    resources=[dms.task_arn],
                )
            ],
            description=f"Step Functions gate {self.node.path}: DMS full load, then HoodieStreamer",
            policy_description="Read the DMS task's table statistics; start the ingest pipeline",
            comment="Start the Hudi CDC pipeline once DMS has finished the full load",
            wildcard_reason=None,
        )
        self.gate = gate.state_machine
        self.schedule = PipelineSchedule(
            self,
            "Schedule",
            platform=platform,
            state_machine=self.gate,
            expression=schedule,
            input={},
            description="Run HoodieStreamer for the CDC tables",
        )
        CfnOutput(self, "GateArn", value=self.gate.state_machine_arn, description="Start to ingest now")
