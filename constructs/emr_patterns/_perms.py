"""IAM action lists, in one place so grants and tests agree."""

from __future__ import annotations

S3_OBJECT_READ_ACTIONS = ("s3:GetObject", "s3:GetObjectVersion")
S3_READ_ACTIONS = (*S3_OBJECT_READ_ACTIONS, "s3:GetBucketLocation", "s3:ListBucket")
#: Bucket-level reads of the nodes: listing, location, uploads, default encryption.
S3_BUCKET_READ_ACTIONS = (
    "s3:ListBucket",
    "s3:GetBucketLocation",
    "s3:ListBucketMultipartUploads",
    "s3:GetEncryptionConfiguration",
)
S3_WRITE_ACTIONS = (
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
)
KMS_DATA_ACTIONS = (
    "kms:Decrypt",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
)
KMS_EBS_ACTIONS = (
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:DescribeKey",
)
KMS_EBS_GRANT_ACTIONS = ("kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant")
#: What an EMR node asks of the EMR API about its own cluster.
EMR_INSTANCE_ACTIONS = (
    "elasticmapreduce:DescribeCluster",
    "elasticmapreduce:ListBootstrapActions",
    "elasticmapreduce:ListInstanceGroups",
    "elasticmapreduce:ListInstanceFleets",
    "elasticmapreduce:ListInstances",
    "elasticmapreduce:ListSteps",
    "elasticmapreduce:DescribeStep",
)
#: Submitting and watching steps on a running cluster.
EMR_SUBMIT_STEP_ACTIONS = (
    "elasticmapreduce:AddJobFlowSteps",
    "elasticmapreduce:DescribeStep",
    "elasticmapreduce:ListSteps",
    "elasticmapreduce:CancelSteps",
    "elasticmapreduce:DescribeCluster",
)
ENI_ACTIONS = (
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
)
EMR_CLEANUP_SERVICE = "elasticmapreduce.amazonaws.com"
EMR_CLEANUP_ROLE_NAME = "AWSServiceRoleForEMRCleanup"
#: The managed EventBridge rules Step Functions creates for the EMR ``.sync`` integrations.
EMR_SYNC_RULES = (
    "StepFunctionsGetEventForEMRRunJobFlowRule",
    "StepFunctionsGetEventForEMRAddJobFlowStepsRule",
    "StepFunctionsGetEventForEMRTerminateJobFlowsRule",
)
#: What a state machine needs to create, watch and terminate its transient clusters.
EMR_PIPELINE_ACTIONS = (
    "elasticmapreduce:RunJobFlow",
    "elasticmapreduce:DescribeCluster",
    "elasticmapreduce:TerminateJobFlows",
    "elasticmapreduce:AddTags",
    "elasticmapreduce:AddJobFlowSteps",
    "elasticmapreduce:DescribeStep",
    "elasticmapreduce:CancelSteps",
)

#: Describe calls the EMR notebook service makes in the VPC (no resource-level permissions).
EMR_NOTEBOOK_DESCRIBE_ACTIONS = (
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSubnets",
    "ec2:DescribeVpcs",
    "ec2:DescribeInstances",
    "ec2:DescribeTags",
)
#: What the EMR notebook service does to the interfaces, instances and groups it attaches
#: (limited to those with the EMR managed-policy tag).
EMR_NOTEBOOK_INTERFACE_ACTIONS = (
    "ec2:CreateNetworkInterfacePermission",
    "ec2:DeleteNetworkInterface",
    "ec2:DeleteNetworkInterfacePermission",
    "ec2:ModifyNetworkInterfaceAttribute",
)
