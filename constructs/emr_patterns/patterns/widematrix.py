"""Wide-matrix serving: the dataset registry that says which HBase tables readers see.

The protocol (items, switch by transaction, conflicts, rollback) is
``emr_patterns.lambdas.matrix_read.registry``; this module holds the table it runs on and the
grants the pipeline and the read API need. See ``docs/wide-matrix-serving.md``.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_backup as backup
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from emr_patterns._context import resolve_removal_policy
from emr_patterns.nag import acknowledge

__all__ = ["READ_ACTIONS", "SWITCH_ACTIONS", "DatasetRegistry"]

#: What a reader needs: the pointer and a version item, with consistent reads.
READ_ACTIONS = ("dynamodb:GetItem", "dynamodb:Query", "dynamodb:DescribeTable")
#: What the pipeline needs: register versions, move their status, switch the pointer.
SWITCH_ACTIONS = (*READ_ACTIONS, "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem")


class DatasetRegistry(Construct):
    """The DynamoDB table of dataset pointers and versions (key ``dataset`` + ``item``).

    Encrypted with a customer-managed key, point-in-time recovery on, deletion protection on,
    on-demand capacity, retained on stack deletion unless ``emr-patterns:removeDataOnDestroy``,
    and in an AWS Backup plan (daily, kept 35 days, in a vault under the same key) so a pointer
    history survives beyond PITR's 35-day window and a deleted table can be restored.

    Children (stable ids): ``Resource`` (``AWS::DynamoDB::Table``), ``BackupVault``,
    ``BackupPlan`` (with its selection of the table).

    Args:
        scope: parent construct.
        id: construct id.
        key: the customer-managed key that encrypts the table (the platform's key, say).
        removal_policy: what stack deletion does to the table. Default: RETAIN (DESTROY only
            with the ``emr-patterns:removeDataOnDestroy`` context flag).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        key: kms.IKey,
        removal_policy: RemovalPolicy | None = None,
    ) -> None:
        super().__init__(scope, id)
        if key is None:
            raise ValueError("key=None: pass the customer-managed kms.IKey that encrypts the registry")
        #: The customer-managed key of the table.
        self.key = key
        #: The registry table.
        self.table = dynamodb.Table(
            self,
            "Resource",
            partition_key=dynamodb.Attribute(name="dataset", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="item", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            deletion_protection=True,
            removal_policy=resolve_removal_policy(self, removal_policy, "removal_policy"),
        )
        #: The vault of the table's backups (encrypted with ``key``, retained).
        self.backup_vault = backup.BackupVault(
            self, "BackupVault", encryption_key=key, removal_policy=RemovalPolicy.RETAIN
        )
        #: Daily backups of the table, kept 35 days.
        self.backup_plan = backup.BackupPlan.daily35_day_retention(self, "BackupPlan", self.backup_vault)
        selection = self.backup_plan.add_selection(
            "Table", resources=[backup.BackupResource.from_dynamo_db_table(self.table)]
        )
        acknowledge(
            selection.node.find_child("Role"),
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AWSBackupServiceRolePolicyForBackup]",
            "The role AWS Backup assumes to back up this one table: AWS's own service-role policy for "
            "the backup service, maintained by AWS as the service's needs change; the selection limits "
            "it to the registry table.",
        )

    @property
    def table_name(self) -> str:
        """The table's name (the handlers' ``REGISTRY_TABLE``)."""
        return self.table.table_name

    def grant_read(self, grantee: iam.IGrantable) -> iam.Grant:
        """Read the pointer and version items (the read API)."""
        self.key.grant_decrypt(grantee)
        return self.table.grant(grantee, *READ_ACTIONS)

    def grant_switch(self, grantee: iam.IGrantable) -> iam.Grant:
        """Register versions, set their status and switch the pointer (the pipeline)."""
        self.key.grant_encrypt_decrypt(grantee)
        return self.table.grant(grantee, *SWITCH_ACTIONS)
