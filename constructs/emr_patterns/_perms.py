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

# ---- Service Catalog launch roles (emr_patterns.patterns.catalog) ----------------------------
#: Run the stack of a provisioned product (names start with ``SC-``).
LAUNCH_CLOUDFORMATION_ACTIONS = (
    "cloudformation:CreateStack",
    "cloudformation:DeleteStack",
    "cloudformation:DescribeStackEvents",
    "cloudformation:DescribeStacks",
    "cloudformation:GetTemplateSummary",
    "cloudformation:SetStackPolicy",
    "cloudformation:UpdateStack",
    "cloudformation:CreateChangeSet",
    "cloudformation:DescribeChangeSet",
    "cloudformation:ExecuteChangeSet",
    "cloudformation:DeleteChangeSet",
    "cloudformation:ListChangeSets",
    "cloudformation:ListStackResources",
    "cloudformation:TagResource",
    "cloudformation:UntagResource",
)
#: ``AWS::EMR::Cluster``: create, scale, tag and terminate.
LAUNCH_EMR_CLUSTER_ACTIONS = (
    "elasticmapreduce:RunJobFlow",
    "elasticmapreduce:DescribeCluster",
    "elasticmapreduce:TerminateJobFlows",
    "elasticmapreduce:SetTerminationProtection",
    "elasticmapreduce:AddTags",
    "elasticmapreduce:RemoveTags",
    "elasticmapreduce:ListInstanceGroups",
    "elasticmapreduce:ModifyInstanceGroups",
    "elasticmapreduce:ListBootstrapActions",
    "elasticmapreduce:ListSteps",
    "elasticmapreduce:PutManagedScalingPolicy",
    "elasticmapreduce:GetManagedScalingPolicy",
    "elasticmapreduce:RemoveManagedScalingPolicy",
    "elasticmapreduce:PutAutoTerminationPolicy",
    "elasticmapreduce:GetAutoTerminationPolicy",
    "elasticmapreduce:RemoveAutoTerminationPolicy",
    "elasticmapreduce:ModifyCluster",
)
#: ``AWS::EC2::SecurityGroup``: create in the platform VPC, tag, delete.
LAUNCH_SECURITY_GROUP_ACTIONS = (
    "ec2:CreateSecurityGroup",
    "ec2:DeleteSecurityGroup",
    "ec2:CreateTags",
    "ec2:DeleteTags",
    "ec2:RevokeSecurityGroupEgress",
    "ec2:AuthorizeSecurityGroupEgress",
)
#: ``AWS::EC2::SecurityGroupIngress`` and ``Egress``.
LAUNCH_SECURITY_GROUP_RULE_ACTIONS = (
    "ec2:AuthorizeSecurityGroupIngress",
    "ec2:AuthorizeSecurityGroupEgress",
    "ec2:RevokeSecurityGroupIngress",
    "ec2:RevokeSecurityGroupEgress",
    "ec2:UpdateSecurityGroupRuleDescriptionsIngress",
    "ec2:UpdateSecurityGroupRuleDescriptionsEgress",
)
#: ``AWS::IAM::Role`` of the product's own functions.
LAUNCH_IAM_ROLE_ACTIONS = (
    "iam:CreateRole",
    "iam:DeleteRole",
    "iam:GetRole",
    "iam:TagRole",
    "iam:UntagRole",
    "iam:UpdateRoleDescription",
    "iam:UpdateAssumeRolePolicy",
    "iam:AttachRolePolicy",
    "iam:DetachRolePolicy",
    "iam:ListAttachedRolePolicies",
    "iam:ListRolePolicies",
)
#: ``AWS::IAM::ManagedPolicy`` of the product.
LAUNCH_IAM_POLICY_ACTIONS = (
    "iam:CreatePolicy",
    "iam:DeletePolicy",
    "iam:GetPolicy",
    "iam:GetPolicyVersion",
    "iam:CreatePolicyVersion",
    "iam:DeletePolicyVersion",
    "iam:ListPolicyVersions",
    "iam:ListEntitiesForPolicy",
    "iam:TagPolicy",
    "iam:UntagPolicy",
)
#: ``AWS::Lambda::Function`` of the product.
LAUNCH_LAMBDA_ACTIONS = (
    "lambda:CreateFunction",
    "lambda:DeleteFunction",
    "lambda:GetFunction",
    "lambda:GetFunctionConfiguration",
    "lambda:UpdateFunctionCode",
    "lambda:UpdateFunctionConfiguration",
    "lambda:TagResource",
    "lambda:UntagResource",
    "lambda:ListTags",
    "lambda:PutFunctionConcurrency",
    "lambda:DeleteFunctionConcurrency",
)
#: What Lambda checks of the caller for a function in a VPC (no resource-level permissions).
LAUNCH_LAMBDA_VPC_ACTIONS = ("ec2:DescribeSecurityGroups", "ec2:DescribeSubnets", "ec2:DescribeVpcs")
#: A function whose environment is encrypted with the platform key.
LAUNCH_KMS_ACTIONS = (
    "kms:CreateGrant",
    "kms:Decrypt",
    "kms:DescribeKey",
    "kms:Encrypt",
    "kms:GenerateDataKey",
)
#: ``AWS::Logs::LogGroup`` of the product.
LAUNCH_LOG_GROUP_ACTIONS = (
    "logs:CreateLogGroup",
    "logs:DeleteLogGroup",
    "logs:PutRetentionPolicy",
    "logs:DeleteRetentionPolicy",
    "logs:AssociateKmsKey",
    "logs:DisassociateKmsKey",
    "logs:TagResource",
    "logs:UntagResource",
    "logs:TagLogGroup",
    "logs:ListTagsForResource",
)
#: ``AWS::StepFunctions::StateMachine`` of the product.
LAUNCH_STATE_MACHINE_ACTIONS = (
    "states:CreateStateMachine",
    "states:DeleteStateMachine",
    "states:DescribeStateMachine",
    "states:UpdateStateMachine",
    "states:TagResource",
    "states:UntagResource",
    "states:ListTagsForResource",
)
#: Step Functions log delivery to CloudWatch Logs (no resource-level permissions).
LAUNCH_LOG_DELIVERY_ACTIONS = (
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
)
