"""Redshift Serverless on the platform, and the states that load Parquet into it in one transaction.

* :class:`RedshiftWarehouse` - a namespace (platform key, admin password generated and kept by
  Secrets Manager under the platform key, user and connection logs exported) and a workgroup
  (private, enhanced VPC routing, TLS required, in the platform's private subnets, a security group
  of its own with no inbound rule until :meth:`RedshiftWarehouse.allow_from`), with the role COPY
  assumes (read only the prefixes :meth:`WarehouseEndpoint.grant_copy_from` names).
* :class:`WarehouseEndpoint` - what a load needs; :meth:`WarehouseEndpoint.existing` describes a
  workgroup deployed elsewhere.
* :class:`RedshiftLoad` - states for an outer pipeline: check the manifest the Spark job wrote
  (the Parquet columns must be the table's, in order: COPY fills columns by position), then one
  ``redshift-data:BatchExecuteStatement`` (one transaction) of
  :meth:`~emr_patterns.spec.warehouse.WarehouseTable.load_statements`, polled with
  ``DescribeStatement`` until it ends; a failed or aborted batch fails the execution with the
  statement's error, and a batch running past ``timeout`` is cancelled (rolled back) and fails.

Authentication: the Data API call names the workgroup and database and no secret, so Redshift
issues temporary credentials for the state machine's role (``redshift-serverless:GetCredentials``)
and the database user is ``IAMR:<role name>``. The first load creates the table, owned by that
user; nothing stores a password.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from aws_cdk import Duration, Stack, Token
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_redshiftserverless as rs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from emr_patterns._iam import ManagedGrantsRole
from emr_patterns._tokens import is_unresolved
from emr_patterns.errors import problem, raise_if_problems
from emr_patterns.foundation.platform import IEmrPlatform, check_platform
from emr_patterns.nag import acknowledge_resource
from emr_patterns.orchestration.stages import escape, read_json_result, read_json_statements, task
from emr_patterns.spec.warehouse import WarehouseTable

__all__ = [
    "LOAD_STATUSES_FAILED",
    "REDSHIFT_LOG_EXPORTS",
    "RedshiftLoad",
    "RedshiftWarehouse",
    "WarehouseEndpoint",
]

#: What the namespace exports to CloudWatch Logs.
REDSHIFT_LOG_EXPORTS = ("userlog", "connectionlog", "useractivitylog")
#: ``DescribeStatement`` statuses that end a load as failed.
LOAD_STATUSES_FAILED = ("FAILED", "ABORTED")
_NAME_RE = re.compile(r"^[a-z0-9-]{3,63}$")
_DB_RE = re.compile(r"^[a-z_][a-z0-9_$]{0,126}$")
_MIN_SUBNETS = 3
#: Placeholder for the execution name inside rendered SQL (replaced by a States.Format ``{}``).
_RUN = "@@RUN@@"


@dataclass(frozen=True)
class WarehouseEndpoint:
    """A Redshift Serverless workgroup a load writes to.

    Attributes:
        workgroup_name: the workgroup.
        workgroup_arn: its ARN (``arn:...:redshift-serverless:<region>:<account>:workgroup/<id>``),
            the resource of the Data API and ``GetCredentials`` permissions.
        database: the database the tables are in.
        copy_role: the role COPY assumes to read Parquet (associated with the namespace).
    """

    workgroup_name: str
    workgroup_arn: str
    database: str
    copy_role: iam.IRole

    @staticmethod
    def existing(
        scope: Construct,
        id: str,
        *,
        workgroup_name: str,
        workgroup_id: str,
        database: str,
        copy_role_arn: str,
    ) -> WarehouseEndpoint:
        """A workgroup deployed elsewhere (same account and region). Its namespace must have the
        role ``copy_role_arn`` among its IAM roles, and that role must be able to read what the
        loads COPY (grant it with :meth:`grant_copy_from` if it is mutable, or in its own stack)."""
        problems = _name_problems("workgroup_name", workgroup_name)
        problems += _database_problems(database)
        if not is_unresolved(workgroup_id) and not re.match(
            r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", workgroup_id
        ):
            problems.append(
                problem("workgroup_id", workgroup_id, "is not a workgroup id (a UUID)", "see GetWorkgroup")
            )
        raise_if_problems(f"WarehouseEndpoint.existing '{id}'", problems)
        stack = Stack.of(scope)
        return WarehouseEndpoint(
            workgroup_name=workgroup_name,
            workgroup_arn=stack.format_arn(
                service="redshift-serverless", resource="workgroup", resource_name=workgroup_id
            ),
            database=database,
            copy_role=iam.Role.from_role_arn(scope, id, copy_role_arn, mutable=False),
        )

    def grant_copy_from(self, bucket: s3.IBucket, prefix: str, key: kms.IKey | None = None) -> None:
        """Let COPY read the objects under ``prefix`` in ``bucket`` (and decrypt with ``key``):
        ``s3:GetObject`` on those objects, ``s3:ListBucket`` for that prefix only. An imported
        (immutable) role is left as it is: grant it in its own stack."""
        objects = bucket.arn_for_objects(f"{prefix}*")
        self.copy_role.add_to_principal_policy(
            iam.PolicyStatement(sid="CopyReadObjects", actions=["s3:GetObject"], resources=[objects])
        )
        self.copy_role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="CopyListPrefix",
                actions=["s3:ListBucket"],
                resources=[bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{prefix}*"]}},
            )
        )
        if key is not None:
            self.copy_role.add_to_principal_policy(
                iam.PolicyStatement(sid="CopyDecrypt", actions=["kms:Decrypt"], resources=[key.key_arn])
            )
        policy = getattr(self.copy_role, "grants_policy", None)
        if policy is not None:
            acknowledge_resource(
                policy,
                "AwsSolutions-IAM5",
                objects,
                "COPY reads every Parquet file of a run; the runs' names are only known at run time. "
                "The wildcard is below one prefix of one bucket.",
            )


def _name_problems(prop: str, value: Any) -> list[str]:
    if isinstance(value, str) and (is_unresolved(value) or _NAME_RE.match(value)):
        return []
    return [problem(prop, value, "is not 3-63 lower-case letters, digits or '-'", "use e.g. 'emr-patterns'")]


def _database_problems(value: Any) -> list[str]:
    if isinstance(value, str) and (is_unresolved(value) or _DB_RE.match(value)):
        return []
    return [problem("database", value, "is not a lower-case database name", "use e.g. 'dev' or 'analytics'")]


class RedshiftWarehouse(Construct):
    """A Redshift Serverless namespace and workgroup in the platform's private subnets.

    Children (stable ids): ``CopyRole`` (assumed by Redshift; reads only what
    :meth:`WarehouseEndpoint.grant_copy_from` grants), ``SecurityGroup`` (no inbound rule; all
    outbound inside the VPC), ``Namespace`` (``AWS::RedshiftServerless::Namespace``: the platform
    key, ``ManageAdminPassword`` with the secret under the platform key, :data:`REDSHIFT_LOG_EXPORTS`,
    the copy role as default IAM role) and ``Workgroup`` (not publicly accessible, enhanced VPC
    routing so COPY reaches S3 through the VPC's gateway endpoint, ``require_ssl`` and user
    activity logging on).

    Redshift Serverless needs subnets in at least three Availability Zones: the platform (or
    ``subnets``) must have three; a platform built with ``NetworkOptions(max_azs=3)`` does.

    Args:
        scope: parent construct.
        id: construct id.
        platform: the platform (key, VPC, subnets).
        namespace_name: 3-63 lower-case letters, digits and ``-``. Default ``emr-patterns``.
        workgroup_name: same rules. Default: the namespace name.
        database: the database created in the namespace. Default ``dev``.
        admin_username: the admin user (its password is generated and kept by Secrets Manager).
            Default ``admin``.
        base_capacity: Redshift processing units (RPU) at the start, 8-1024 in steps of 8.
            Default 8.
        max_capacity: RPU ceiling (at least ``base_capacity``). Default 64.
        subnets: subnets of the workgroup, in at least three zones. Default: the platform's
            private subnets.
        port: the workgroup's port (5431-5455 or 8191-8215). Default 5439.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        platform: IEmrPlatform,
        namespace_name: str = "emr-patterns",
        workgroup_name: str | None = None,
        database: str = "dev",
        admin_username: str = "admin",
        base_capacity: int = 8,
        max_capacity: int = 64,
        subnets: list[ec2.ISubnet] | None = None,
        port: int = 5439,
    ) -> None:
        super().__init__(scope, id)
        workgroup_name = workgroup_name or namespace_name
        subnets = list(subnets) if subnets is not None else list(platform.private_subnets)
        problems = check_platform(self, "platform", platform)
        problems += _name_problems("namespace_name", namespace_name)
        problems += _name_problems("workgroup_name", workgroup_name)
        problems += _database_problems(database)
        if not isinstance(admin_username, str) or not re.match(r"^[a-z][a-z0-9_]{0,127}$", admin_username):
            problems.append(
                problem("admin_username", admin_username, "is not a lower-case user name", "use 'admin'")
            )
        if not isinstance(base_capacity, int) or not 8 <= base_capacity <= 1024 or base_capacity % 8:
            problems.append(
                problem("base_capacity", base_capacity, "is not 8-1024 in steps of 8", "use e.g. 8")
            )
        if not isinstance(max_capacity, int) or (
            isinstance(base_capacity, int) and max_capacity < base_capacity
        ):
            problems.append(problem("max_capacity", max_capacity, "is below base_capacity", "use e.g. 64"))
        if not isinstance(port, int) or not (5431 <= port <= 5455 or 8191 <= port <= 8215):
            problems.append(problem("port", port, "is outside 5431-5455 and 8191-8215", "use 5439"))
        problems += _subnet_problems(subnets)
        raise_if_problems(f"RedshiftWarehouse '{self.node.path}'", problems)
        self.platform = platform

        self.copy_role = ManagedGrantsRole(
            self,
            "CopyRole",
            assumed_by=iam.ServicePrincipal("redshift.amazonaws.com"),
            description=f"COPY into {namespace_name}: reads the Parquet prefixes granted to it",
        )
        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=platform.vpc,
            description=f"Redshift Serverless workgroup {workgroup_name}: inbound only from allowed groups",
            # Outbound reaches only what the private subnets route to: the VPC, its interface
            # endpoints and the S3 gateway endpoint (COPY with enhanced VPC routing).
            allow_all_outbound=True,
        )
        self.namespace = rs.CfnNamespace(
            self,
            "Namespace",
            namespace_name=namespace_name,
            db_name=database,
            admin_username=admin_username,
            manage_admin_password=True,
            admin_password_secret_kms_key_id=platform.key.key_arn,
            kms_key_id=platform.key.key_arn,
            iam_roles=[self.copy_role.role_arn],
            default_iam_role_arn=self.copy_role.role_arn,
            log_exports=list(REDSHIFT_LOG_EXPORTS),
        )
        self.workgroup = rs.CfnWorkgroup(
            self,
            "Workgroup",
            workgroup_name=workgroup_name,
            namespace_name=namespace_name,
            base_capacity=base_capacity,
            max_capacity=max_capacity,
            enhanced_vpc_routing=True,
            publicly_accessible=False,
            subnet_ids=[s.subnet_id for s in subnets],
            security_group_ids=[self.security_group.security_group_id],
            port=port,
            config_parameters=[
                rs.CfnWorkgroup.ConfigParameterProperty(parameter_key="require_ssl", parameter_value="true"),
                rs.CfnWorkgroup.ConfigParameterProperty(
                    parameter_key="enable_user_activity_logging", parameter_value="true"
                ),
            ],
        )
        # The workgroup names its namespace by string: CloudFormation cannot infer the order.
        self.workgroup.node.add_dependency(self.namespace)
        self.port = port
        self.endpoint = WarehouseEndpoint(
            workgroup_name=workgroup_name,
            workgroup_arn=self.workgroup.attr_workgroup_workgroup_arn,
            database=database,
            copy_role=self.copy_role,
        )

    def allow_from(self, peer: ec2.IConnectable, description: str) -> None:
        """Open the workgroup's port to ``peer`` (e.g. a BI tool's or a Lambda's security group)."""
        self.security_group.connections.allow_from(peer, ec2.Port.tcp(self.port), description)


def _subnet_problems(subnets: list[ec2.ISubnet]) -> list[str]:
    if len(subnets) < _MIN_SUBNETS:
        return [
            problem(
                "subnets",
                f"{len(subnets)} subnet(s)",
                "are fewer than the three, in three zones, Redshift Serverless requires",
                "build the platform with NetworkOptions(max_azs=3), or pass three subnets in three zones",
            )
        ]
    zones = [s.availability_zone for s in subnets]
    concrete = [z for z in zones if not Token.is_unresolved(z)]
    if len(concrete) == len(zones) and len(set(zones)) < _MIN_SUBNETS:
        return [
            problem(
                "subnets",
                sorted(set(zones)),
                "span fewer than three Availability Zones",
                "pass subnets in three zones",
            )
        ]
    return []


class RedshiftLoad(Construct):
    """States that load one run's Parquet into a warehouse table, for an outer pipeline.

    The run's files are at ``s3://<bucket>/<run_prefix>data/`` and its manifest at
    ``<run_prefix>manifest.json`` (what ``jobs/warehouse/curate.py`` writes), where ``{run}`` in
    ``run_prefix`` is the execution name. States (ids prefixed with this construct's id, ``<id>``):

    1. ``<id>ReadManifest`` (getObject) and ``<id>ReadManifestCheck``: ``columns`` (array) and
       ``rows`` (number) present, else ``ManifestIncomplete``;
    2. ``<id>Columns`` and ``<id>CheckColumns``: the manifest's columns, as JSON, must equal the
       table's, in order, else ``ParquetColumnsMismatch`` - before any SQL runs;
    3. ``<id>Start``: ``aws-sdk:redshiftdata:batchExecuteStatement`` with the workgroup, the
       database, the table's :meth:`~emr_patterns.spec.warehouse.WarehouseTable.load_statements`
       (one transaction), a ``ClientToken`` derived from the execution (a retried call does not
       load twice) and no secret (temporary IAM credentials);
    4. ``<id>Wait`` -> ``<id>Describe`` (``describeStatement``) -> ``<id>Count`` -> ``<id>Check``:
       ``FINISHED`` ends the load (``<id>Done``); ``FAILED`` fails with ``RedshiftLoadFailed`` and
       the statement's ``Error`` as cause; ``ABORTED`` with ``RedshiftLoadAborted``; after
       ``timeout`` the batch is cancelled (``<id>Cancel``, which rolls it back) and the run fails
       with ``RedshiftLoadTimedOut``.

    Use :attr:`start` as the next state of the stage before, chain the stage after from
    :attr:`end`, and add :meth:`statements` to the machine's policy.

    Args:
        scope: parent construct (the outer pipeline).
        id: construct id and the prefix of the state ids.
        warehouse: where to load.
        table: the table and how a load changes it.
        bucket: the bucket of the run's files.
        run_prefix: key prefix of one run, with ``{run}`` for the execution name, ending in ``/``.
        key: the key the files are encrypted with (COPY and the manifest read decrypt with it).
        poll_interval: time between ``DescribeStatement`` calls. Default 15 seconds.
        timeout: longest a load may run before it is cancelled. Default 1 hour.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        warehouse: WarehouseEndpoint,
        table: WarehouseTable,
        bucket: s3.IBucket,
        run_prefix: str,
        key: kms.IKey | None = None,
        poll_interval: Duration | None = None,
        timeout: Duration | None = None,
    ) -> None:
        super().__init__(scope, id)
        poll_interval = poll_interval or Duration.seconds(15)
        timeout = timeout or Duration.hours(1)
        problems: list[str] = []
        if not isinstance(warehouse, WarehouseEndpoint):
            problems.append(
                problem(
                    "warehouse", warehouse, "is not a WarehouseEndpoint", "pass RedshiftWarehouse.endpoint"
                )
            )
        if not isinstance(table, WarehouseTable):
            problems.append(problem("table", table, "is not a WarehouseTable", "pass WarehouseTable(...)"))
        if (
            not isinstance(run_prefix, str)
            or run_prefix.count("{run}") != 1
            or not run_prefix.endswith("/")
            or (run_prefix.startswith("/"))
        ):
            problems.append(
                problem(
                    "run_prefix",
                    run_prefix,
                    "needs one '{run}', no leading '/' and a trailing '/'",
                    "use e.g. 'warehouse/t/runs/{run}/'",
                )
            )
        if poll_interval.to_seconds() < 1 or timeout.to_seconds() < poll_interval.to_seconds():
            problems.append(
                problem(
                    "timeout",
                    timeout.to_human_string(),
                    "is shorter than poll_interval",
                    "use e.g. Duration.hours(1)",
                )
            )
        raise_if_problems(f"RedshiftLoad '{self.node.path}'", problems)
        self.warehouse, self.table, self.bucket, self.key = warehouse, table, bucket, key
        self.run_prefix = run_prefix
        max_polls = int(timeout.to_seconds() // poll_interval.to_seconds())
        sqls = table.load_statements(
            f"s3://{bucket.bucket_name}/{run_prefix.replace('{run}', _RUN)}data/",
            warehouse.copy_role.role_arn,
        )
        self.sqls = sqls

        done = sfn.Pass(self, f"{id}Done", comment=f"{table.qualified_name} loaded.")
        failed = sfn.Fail(self, f"{id}Failed", error="RedshiftLoadFailed", cause_path="$.load.status.Error")
        aborted = sfn.Fail(
            self,
            f"{id}Aborted",
            error="RedshiftLoadAborted",
            cause="The load was cancelled; it was rolled back.",
        )
        timed_out = sfn.Fail(
            self,
            f"{id}TimedOut",
            error="RedshiftLoadTimedOut",
            cause=f"The load ran longer than {int(timeout.to_seconds())} s; it was cancelled (rolled back).",
        )
        cancel = task(
            self,
            f"{id}Cancel",
            "aws-sdk:redshiftdata:cancelStatement",
            {"Id.$": "$.load.statement.Id"},
            Duration.minutes(1),
            result_path="$.load.cancel",
            comment="Cancel the batch: its transaction rolls back.",
        )
        cancel.add_catch(timed_out, errors=["States.ALL"], result_path="$.load.cancel_error")
        cancel.next(timed_out)
        start = task(
            self,
            f"{id}Start",
            "aws-sdk:redshiftdata:batchExecuteStatement",
            {
                "WorkgroupName": warehouse.workgroup_name,
                "Database": warehouse.database,
                "Sqls.$": _sqls_expression(sqls),
                "StatementName": f"load-{table.qualified_name}"[:2048],
                "ClientToken.$": "States.Hash($$.Execution.Id, 'MD5')",
            },
            Duration.minutes(2),
            result_path="$.load.statement",
            result_selector={"Id.$": "$.Id"},
            comment=f"Run the load of {table.qualified_name} as one transaction.",
        )
        start.add_retry(
            errors=["RedshiftData.ActiveStatementsExceededException", "RedshiftData.InternalServerException"],
            interval=Duration.seconds(30),
            max_attempts=4,
            backoff_rate=2,
        )
        polls = sfn.Pass(self, f"{id}Polls", parameters={"value": 0}, result_path="$.load.polls")
        wait = sfn.Wait(self, f"{id}Wait", time=sfn.WaitTime.duration(poll_interval))
        describe = task(
            self,
            f"{id}Describe",
            "aws-sdk:redshiftdata:describeStatement",
            {"Id.$": "$.load.statement.Id"},
            Duration.minutes(1),
            result_path="$.load.status",
            comment="How the batch is doing.",
        )
        describe.add_retry(
            errors=["RedshiftData.InternalServerException", "States.Timeout"],
            interval=Duration.seconds(10),
            max_attempts=3,
            backoff_rate=2,
        )
        count = sfn.Pass(
            self,
            f"{id}Count",
            parameters={"value.$": "States.MathAdd($.load.polls.value, 1)"},
            result_path="$.load.polls",
        )
        check = (
            sfn.Choice(self, f"{id}Check")
            .when(sfn.Condition.string_equals("$.load.status.Status", "FINISHED"), done)
            .when(sfn.Condition.string_equals("$.load.status.Status", "FAILED"), failed)
            .when(sfn.Condition.string_equals("$.load.status.Status", "ABORTED"), aborted)
            .when(sfn.Condition.number_greater_than_equals("$.load.polls.value", max_polls), cancel)
            .otherwise(wait)
        )
        start.next(polls).next(wait).next(describe).next(count).next(check)

        expected = json.dumps(list(table.column_names), separators=(",", ":"))
        mismatch = sfn.Fail(
            self,
            f"{id}ColumnsMismatch",
            error="ParquetColumnsMismatch",
            cause=f"The Parquet columns are not {expected} in this order (COPY fills by position). "
            "Nothing was loaded.",
        )
        columns = sfn.Pass(
            self,
            f"{id}Columns",
            parameters={"columns.$": "States.JsonToString($.manifest.value.columns)"},
            result_path="$.manifest.check",
        )
        columns.next(
            sfn.Choice(self, f"{id}CheckColumns")
            .when(sfn.Condition.string_equals("$.manifest.check.columns", expected), start)
            .otherwise(mismatch)
        )
        self.start: sfn.IChainable = read_json_result(
            self,
            f"{id}ReadManifest",
            bucket=bucket,
            key=_format_run(f"{run_prefix}manifest.json"),
            result_path="$.manifest",
            fields={"columns": "array", "rows": "number"},
            error="ManifestIncomplete",
            next_state=columns,
            comment="Read the manifest the Spark job wrote beside the Parquet files.",
        )
        self.end: sfn.INextable = done

    def acknowledge(self, policy: iam.ManagedPolicy) -> None:
        """Acknowledge, on the machine's ``policy``, the one wildcard of :meth:`statements` that
        cdk-nag reports per resource: the manifests of all runs."""
        acknowledge_resource(
            policy,
            "AwsSolutions-IAM5",
            self.bucket.arn_for_objects(f"{self.run_prefix.replace('{run}', '*')}manifest.json"),
            "Each execution reads the manifest of its own run, named by the execution at run time; "
            "only manifest.json files below one prefix.",
        )

    def statements(self) -> list[iam.PolicyStatement]:
        """What the states need: the Data API on this workgroup with temporary credentials, their
        own statements only, and the manifest read."""
        arn = self.warehouse.workgroup_arn
        return [
            iam.PolicyStatement(
                sid="LoadBatch",
                actions=["redshift-data:BatchExecuteStatement"],
                resources=[arn],
            ),
            iam.PolicyStatement(
                sid="TemporaryCredentials",
                actions=["redshift-serverless:GetCredentials"],
                resources=[arn],
            ),
            iam.PolicyStatement(
                sid="OwnStatements",
                actions=["redshift-data:DescribeStatement", "redshift-data:CancelStatement"],
                resources=["*"],
                conditions={"StringEquals": {"redshift-data:statement-owner-iam-userid": "${aws:userid}"}},
            ),
            *read_json_statements(
                self.bucket, f"{self.run_prefix.replace('{run}', '*')}manifest.json", self.key
            ),
        ]


def _format_run(text: str) -> str:
    """``States.Format`` of ``text`` with ``{run}`` as the execution name."""
    return f"States.Format('{escape(text.replace('{run}', _RUN)).replace(_RUN, '{}')}', $$.Execution.Name)"


def _sqls_expression(sqls: list[str]) -> str:
    """``States.Array(...)`` of the statements; the one naming the run's prefix formatted with the
    execution name."""
    parts = []
    for sql in sqls:
        literal = escape(sql)
        if _RUN in sql:
            parts.append(f"States.Format('{literal.replace(_RUN, '{}')}', $$.Execution.Name)")
        else:
            parts.append(f"'{literal}'")
    return f"States.Array({', '.join(parts)})"
