"""DataBrewPreparation: run a :class:`~emr_patterns.spec.databrew.Recipe` on CSV input in the data lake.

``AWS::DataBrew::Recipe`` holds only a recipe's working version, and a recipe job runs a
published one. So the construct publishes the recipe with a custom resource that re-runs when the
rendered steps change, and pins the job to the version it returns: a deployed job always runs the
deployed steps.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from aws_cdk import ArnFormat, CustomResource, Names, Stack
from aws_cdk import aws_databrew as databrew
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from emr_patterns._iam import managed_policy_grant
from emr_patterns._tokens import is_unresolved
from emr_patterns.errors import problem, raise_if_problems
from emr_patterns.foundation.functions import PlatformFunction
from emr_patterns.foundation.platform import IEmrPlatform, check_platform
from emr_patterns.nag import acknowledge_resource
from emr_patterns.spec.databrew import Recipe

__all__ = ["DATABREW_LOG_GROUP_PREFIX", "DataBrewPreparation", "steps_hash"]

#: DataBrew writes job logs to log groups under this prefix (``/aws-glue-databrew/jobs/<job>``).
DATABREW_LOG_GROUP_PREFIX = "/aws-glue-databrew/"
#: What ``grant_start_job_run`` allows.
START_JOB_RUN_ACTIONS = ("databrew:StartJobRun",)
_PUBLISH_ACTIONS = ("databrew:PublishRecipe", "databrew:DescribeRecipe")
_KEY = re.compile(r"^[^\x00-\x1f]{1,1024}$")
_OUTSIDE_VPC = (
    "Publishes a DataBrew recipe at deploy time: DataBrew is its only API, the platform VPC has no "
    "DataBrew interface endpoint and its isolated subnets have no route to the internet, so in the "
    "VPC the call could not be made. It handles no data (a recipe name in, a version number out)."
)


def steps_hash(recipe: Recipe) -> str:
    """SHA-256 of the recipe's rendered steps (and description): a new value republishes it."""
    text = json.dumps(
        {"steps": recipe.to_steps(), "description": recipe.description}, sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(text.encode()).hexdigest()


class DataBrewPreparation(Construct):
    """A DataBrew recipe job over CSV in a platform bucket, writing KMS-encrypted Parquet.

    Children (stable ids): ``Dataset`` (``AWS::DataBrew::Dataset``, CSV with a header row),
    ``Recipe`` (``AWS::DataBrew::Recipe``, the steps of ``recipe.to_cfn_steps()``), ``Publisher``
    (a :class:`~emr_patterns.foundation.functions.PlatformFunction` outside the VPC, allowed
    ``databrew:PublishRecipe``/``DescribeRecipe`` on this recipe only), ``PublishedVersion`` (the
    custom resource that publishes the recipe whenever its steps change), ``JobRole`` and
    ``JobPolicy`` (customer-managed), ``Resource`` (``AWS::DataBrew::Job``, type RECIPE, pinned to
    the published version, SSE-KMS output with the platform key, CloudWatch logging).

    Args:
        scope: parent construct.
        id: construct id.
        platform: the platform whose buckets and key the job uses.
        recipe: the recipe to run (a :class:`~emr_patterns.spec.databrew.Recipe`).
        input_key: S3 key of one CSV object, or a prefix ending in ``/`` (every object under it).
        input_bucket: bucket of the input. Default: ``platform.data_buckets[0]`` (raw).
        output_bucket: where the job writes, one of the platform's data buckets. Default:
            ``platform.data_buckets[2]`` (curated).
        output_prefix: key prefix of the output. Default: ``databrew/<recipe name>/``.
        job_timeout_minutes: a run longer than this ends as TIMEOUT. Default: 60.
        max_capacity: the most DataBrew nodes a run uses. Default: 5.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        platform: IEmrPlatform,
        recipe: Recipe,
        input_key: str,
        input_bucket: s3.IBucket | None = None,
        output_bucket: s3.IBucket | None = None,
        output_prefix: str | None = None,
        job_timeout_minutes: int = 60,
        max_capacity: int = 5,
    ) -> None:
        super().__init__(scope, id)
        problems = check_platform(self, "platform", platform)
        problems += _problems(
            platform, recipe, input_key, output_bucket, output_prefix, job_timeout_minutes, max_capacity
        )
        raise_if_problems(f"DataBrewPreparation '{self.node.path}'", problems)
        stack = Stack.of(self)
        self.platform = platform
        self.recipe = recipe
        self.input_bucket = input_bucket or platform.data_buckets[0]
        self.input_key = input_key
        self.job_timeout_minutes = job_timeout_minutes
        self.output_bucket = output_bucket or platform.data_buckets[2]
        self.output_prefix = output_prefix if output_prefix is not None else f"databrew/{recipe.name}/"

        self.dataset = databrew.CfnDataset(
            self,
            "Dataset",
            name=Names.unique_resource_name(self, max_length=249, separator="-") + "-input",  # <= 255
            format="CSV",
            format_options=databrew.CfnDataset.FormatOptionsProperty(
                csv=databrew.CfnDataset.CsvOptionsProperty(delimiter=",", header_row=True)
            ),
            input=databrew.CfnDataset.InputProperty(
                s3_input_definition=databrew.CfnDataset.S3LocationProperty(
                    bucket=self.input_bucket.bucket_name, key=input_key
                )
            ),
        )
        self.recipe_resource = databrew.CfnRecipe(
            self,
            "Recipe",
            name=recipe.name,
            description=recipe.description or None,
            steps=recipe.to_cfn_steps(),
        )
        recipe_arn = stack.format_arn(service="databrew", resource="recipe", resource_name=recipe.name)
        self.publisher = PlatformFunction(
            self,
            "Publisher",
            handler="databrew_publish",
            description=f"Publishes the DataBrew recipe {recipe.name}",
            vpc=platform.vpc,
            vpc_subnets=platform.vpc_subnets,
            key=platform.key,
            statements=[
                iam.PolicyStatement(
                    sid="PublishRecipe", actions=list(_PUBLISH_ACTIONS), resources=[recipe_arn]
                )
            ],
            outside_vpc_reason=_OUTSIDE_VPC,
        )
        self.published = CustomResource(
            self,
            "PublishedVersion",
            service_token=self.publisher.service_token,
            resource_type="Custom::DataBrewRecipeVersion",
            properties={"RecipeName": self.recipe_resource.ref, "StepsHash": steps_hash(recipe)},
        )
        for policy in (self.publisher.policy, *self.publisher.provider_policies):
            self.published.node.add_dependency(policy)

        self.job_role = iam.Role(
            self,
            "JobRole",
            assumed_by=iam.ServicePrincipal(
                "databrew.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            ),
            description=f"DataBrew job running the recipe {recipe.name}",
        )
        self.job_policy = iam.ManagedPolicy(
            self,
            "JobPolicy",
            description=f"DataBrew recipe job {recipe.name}: read input, write output, key, logs",
            statements=self._job_statements(),
            roles=[self.job_role],
        )
        self._acknowledge_job_policy()
        self.job = databrew.CfnJob(
            self,
            "Resource",
            name=Names.unique_resource_name(self, max_length=240, separator="-"),
            type="RECIPE",
            role_arn=self.job_role.role_arn,
            dataset_name=self.dataset.ref,
            recipe=databrew.CfnJob.RecipeProperty(name=self.recipe_resource.ref, version=self.recipe_version),
            outputs=[
                databrew.CfnJob.OutputProperty(
                    location=databrew.CfnJob.S3LocationProperty(
                        bucket=self.output_bucket.bucket_name, key=self.output_prefix
                    ),
                    format="PARQUET",
                    overwrite=True,
                )
            ],
            encryption_mode="SSE-KMS",
            encryption_key_arn=platform.key.key_arn,
            log_subscription="ENABLE",
            timeout=job_timeout_minutes,
            max_capacity=max_capacity,
        )
        self.job.node.add_dependency(self.job_policy)

    # ---- public -----------------------------------------------------------------------------------
    @property
    def job_name(self) -> str:
        """Name of the DataBrew job."""
        return self.job.ref

    @property
    def recipe_version(self) -> str:
        """The recipe version the job runs (a token: the custom resource's ``RecipeVersion``)."""
        return self.published.get_att_string("RecipeVersion")

    @property
    def output_uri(self) -> str:
        """``s3://`` URI of the output prefix."""
        return f"s3://{self.output_bucket.bucket_name}/{self.output_prefix}"

    @property
    def job_arn(self) -> str:
        """ARN of the DataBrew job."""
        return Stack.of(self).format_arn(service="databrew", resource="job", resource_name=self.job.ref)

    def grant_start_job_run(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` start runs of the job (a customer-managed policy)."""
        return managed_policy_grant(
            self,
            "StartJobRun",
            grantee,
            actions=START_JOB_RUN_ACTIONS,
            resource_arns=[self.job_arn],
            description=f"Start runs of the DataBrew job {self.node.path}",
        )

    # ---- IAM ----------------------------------------------------------------------------------------
    def _input_objects(self) -> str:
        return f"{self.input_key}*" if self.input_key.endswith("/") else self.input_key

    def _log_groups_arn(self) -> str:
        return Stack.of(self).format_arn(
            service="logs",
            resource="log-group",
            resource_name=f"{DATABREW_LOG_GROUP_PREFIX}*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )

    def _job_statements(self) -> list[iam.PolicyStatement]:
        log_groups = self._log_groups_arn()
        keys = [self.platform.key.key_arn]
        input_key = self.input_bucket.encryption_key
        if input_key is not None and input_key.key_arn != self.platform.key.key_arn:
            keys.append(input_key.key_arn)
        return [
            iam.PolicyStatement(
                sid="ReadInput",
                actions=["s3:GetObject"],
                resources=[self.input_bucket.arn_for_objects(self._input_objects())],
            ),
            iam.PolicyStatement(
                sid="ListInput",
                actions=["s3:ListBucket"],
                resources=[self.input_bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [self._input_objects()]}},
            ),
            iam.PolicyStatement(
                sid="WriteOutput",
                actions=["s3:PutObject", "s3:GetObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
                resources=[self.output_bucket.arn_for_objects(f"{self.output_prefix}*")],
            ),
            iam.PolicyStatement(
                sid="ListOutput",
                actions=["s3:ListBucket"],
                resources=[self.output_bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{self.output_prefix}*"]}},
            ),
            iam.PolicyStatement(
                sid="UsePlatformKey",
                actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
                resources=keys,
            ),
            iam.PolicyStatement(
                sid="WriteJobLogs",
                actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[log_groups, f"{log_groups}:log-stream:*"],
            ),
        ]

    def _acknowledge_job_policy(self) -> None:
        policy = self.job_policy
        if self.input_key.endswith("/"):
            acknowledge_resource(
                policy,
                "AwsSolutions-IAM5",
                self.input_bucket.arn_for_objects(self._input_objects()),
                "The job reads the objects under its input prefix only; their names are the data's.",
            )
        acknowledge_resource(
            policy,
            "AwsSolutions-IAM5",
            self.output_bucket.arn_for_objects(f"{self.output_prefix}*"),
            "DataBrew names the Parquet files it writes at run time; the job writes under its own "
            "output prefix only.",
        )
        log_groups = self._log_groups_arn()
        for arn in (log_groups, f"{log_groups}:log-stream:*"):
            acknowledge_resource(
                policy,
                "AwsSolutions-IAM5",
                arn,
                "DataBrew creates the job's log group and streams under /aws-glue-databrew/ with "
                "names it chooses at run time; the job writes its own logs there only.",
            )


def _problems(
    platform: IEmrPlatform,
    recipe: Any,
    input_key: Any,
    output_bucket: Any,
    output_prefix: Any,
    job_timeout_minutes: Any,
    max_capacity: Any,
) -> list[str]:
    out: list[str] = []
    if not isinstance(recipe, Recipe):
        out.append(
            problem(
                "recipe",
                type(recipe).__name__,
                "is not a Recipe",
                "pass emr_patterns.spec.databrew.Recipe(...) or census_income_recipe(), or "
                "Recipe.from_steps(name, steps) for rendered steps",
            )
        )
    if not is_unresolved(input_key) and not (
        isinstance(input_key, str)
        and input_key.strip()
        and _KEY.match(input_key)
        and not input_key.startswith("/")
    ):
        out.append(
            problem(
                "input_key",
                input_key,
                "is not an S3 key or prefix",
                "give the key of a CSV object ('census/adult.csv') or a prefix ending in '/' "
                "('census/'), without a leading '/'",
            )
        )
    if isinstance(platform, IEmrPlatform) and output_bucket is not None:
        names = [b.bucket_name for b in platform.data_buckets]
        if getattr(output_bucket, "bucket_name", None) not in names:
            out.append(
                problem(
                    "output_bucket",
                    getattr(output_bucket, "bucket_name", output_bucket),
                    "is not one of the platform's data buckets (encrypted with the platform key)",
                    "leave it None (the curated bucket) or pass platform.data_buckets[i]",
                )
            )
    if output_prefix is not None and not (
        isinstance(output_prefix, str)
        and output_prefix.endswith("/")
        and re.match(r"^[A-Za-z0-9][A-Za-z0-9!_.*'() /-]{0,199}$", output_prefix)
    ):
        out.append(
            problem(
                "output_prefix",
                output_prefix,
                "is not a key prefix ending in '/'",
                "use e.g. 'databrew/census/' (no leading '/')",
            )
        )
    if (
        isinstance(job_timeout_minutes, bool)
        or not isinstance(job_timeout_minutes, int)
        or job_timeout_minutes < 1
    ):
        out.append(
            problem(
                "job_timeout_minutes",
                job_timeout_minutes,
                "is not a whole number of minutes of at least 1",
                "give e.g. 60 (every run ends; DataBrew's own default is 2880)",
            )
        )
    if isinstance(max_capacity, bool) or not isinstance(max_capacity, int) or max_capacity < 1:
        out.append(
            problem(
                "max_capacity",
                max_capacity,
                "is not a whole number of DataBrew nodes of at least 1",
                "give e.g. 5 (DataBrew's default)",
            )
        )
    return out
