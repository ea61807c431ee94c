"""DataBrewMlPipeline: a DataBrew recipe job prepares the data, a transient EMR cluster trains a model.

The outer state machine (``state_machine``):

1. ``PrepareData`` - ``databrew:startJobRun.sync`` of the
   :class:`~emr_patterns.patterns.databrew.DataBrewPreparation` job (the published recipe
   version), waiting for the run to end; a failed run fails the execution with ``PreparationFailed``.
2. ``Train`` - runs the inner :class:`~emr_patterns.orchestration.TransientClusterPipeline`
   (``training_pipeline``) to its end: a transient cluster runs ``jobs/census_ml/train.py`` over
   the prepared Parquet (random forest, seeded train/validation/test split) and writes the model
   and ``metrics.json`` under ``s3://<output bucket>/<output prefix><execution>/``; the cluster is
   terminated whatever happens. A failure fails the execution with ``TrainingFailed``.
3. ``ReadMetrics`` and ``ReadMetricsCheck`` - ``metrics.json`` read; ``validation.auc`` and
   ``test.auc`` must be numbers, else ``MetricsIncomplete``.
4. ``NotifyMetrics`` - ``sns:publish`` to the notifications topic: the validation and test AUC,
   the row counts and where the model is (when ``notify``).
5. ``Succeeded`` - the execution's output holds the metrics.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from emr_patterns._assets import job_file
from emr_patterns._retention import retention_days
from emr_patterns._validation import validate_s3_prefix
from emr_patterns.compute.jobs import assets_read_policy
from emr_patterns.defaults import LOG_GROUP_RETENTION_DAYS
from emr_patterns.errors import problem, raise_if_problems
from emr_patterns.foundation.platform import IEmrPlatform, check_platform
from emr_patterns.nag import acknowledge_resource
from emr_patterns.orchestration import PipelineNotifications, TransientClusterPipeline
from emr_patterns.orchestration.stages import (
    OuterMachine,
    escape,
    read_json_result,
    read_json_statements,
    run_pipeline,
    task,
)
from emr_patterns.patterns.databrew import DataBrewPreparation
from emr_patterns.spec import ClusterSpec
from emr_patterns.spec.steps import Arg, SparkSubmitStep

__all__ = ["DATABREW_SYNC_ACTIONS", "TRAINING_MODE", "DataBrewMlPipeline"]

#: What ``databrew:startJobRun.sync`` calls (Step Functions' optimized integration).
DATABREW_SYNC_ACTIONS = ("databrew:StartJobRun", "databrew:StopJobRun", "databrew:ListJobRuns")
#: The one mode the inner pipeline runs.
TRAINING_MODE = "TRAINING"
_METRIC_FIELDS = {
    "validation.auc": "number",
    "test.auc": "number",
    "validation.rows": "number",
    "test.rows": "number",
}


class DataBrewMlPipeline(Construct):
    """Prepare data with a DataBrew recipe job, train and evaluate a model on a transient cluster,
    and publish the AUC.

    Children (stable ids): ``Program-train`` (asset), ``ProgramsReadPolicy``, ``Training`` (the
    inner :class:`~emr_patterns.orchestration.TransientClusterPipeline`), and the outer machine's
    ``Logs``, ``Role``, ``EmrPolicy`` and ``Resource``.

    Args:
        scope: parent construct.
        id: construct id.
        platform: the platform (same account and region).
        preparation: the DataBrew job whose output the training reads.
        spec: the transient cluster (as for ``TransientClusterPipeline``).
        label_column: the label the recipe writes (0/1). Default ``label``.
        feature_columns: the features; default: every numeric column but the label.
        seed: the split's and the forest's seed. Default 42.
        num_trees: trees of the random forest. Default 50.
        max_depth: their depth. Default 6.
        output_bucket: where the models and metrics go, a platform data bucket. Default:
            ``platform.data_buckets[2]`` (curated).
        output_prefix: key prefix of the runs, ending in ``/``. Default ``ml/<recipe name>/runs/``.
        notify: publish the metrics, and how every execution of both machines ended, to a
            :class:`~emr_patterns.orchestration.PipelineNotifications` topic (``Notifications``,
            its own key). Default True.
        notification_emails: addresses subscribed to that topic. Default: none.
        timeout: longest an execution may run. Default 8 hours.
        log_retention_days: days the execution logs are kept. Default
            :data:`~emr_patterns.defaults.LOG_GROUP_RETENTION_DAYS`.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        platform: IEmrPlatform,
        preparation: DataBrewPreparation,
        spec: ClusterSpec,
        label_column: str = "label",
        feature_columns: Sequence[str] = (),
        seed: int = 42,
        num_trees: int = 50,
        max_depth: int = 6,
        output_bucket: s3.IBucket | None = None,
        output_prefix: str | None = None,
        notify: bool = True,
        notification_emails: Sequence[str] = (),
        timeout: Duration | None = None,
        log_retention_days: int = LOG_GROUP_RETENTION_DAYS,
    ) -> None:
        super().__init__(scope, id)
        problems = check_platform(self, "platform", platform)
        if not isinstance(preparation, DataBrewPreparation):
            problems.append(
                problem(
                    "preparation",
                    preparation,
                    "is not a DataBrewPreparation",
                    "pass DataBrewPreparation(...)",
                )
            )
            raise_if_problems(f"DataBrewMlPipeline '{self.node.path}'", problems)
        output_bucket = output_bucket or platform.data_buckets[2]
        output_prefix = output_prefix if output_prefix is not None else f"ml/{preparation.recipe.name}/runs/"
        problems += (
            validate_s3_prefix("output_prefix", output_prefix)
            if isinstance(output_prefix, str)
            else [problem("output_prefix", output_prefix, "is not a string", "pass a prefix such as 'runs/'")]
        )
        for name, value, low, high in (("num_trees", num_trees, 1, 1000), ("max_depth", max_depth, 1, 30)):
            if not isinstance(value, int) or not low <= value <= high:
                problems.append(
                    problem(name, value, f"is not an integer in {low}-{high}", f"use e.g. {low * 10}")
                )
        if not isinstance(seed, int):
            problems.append(problem("seed", seed, "is not an integer", "use e.g. 42"))
        if isinstance(feature_columns, str):
            problems.append(
                problem("feature_columns", feature_columns, "is a string", "pass a list of names")
            )
        retention = retention_days("log_retention_days", log_retention_days, problems)
        raise_if_problems(f"DataBrewMlPipeline '{self.node.path}'", problems)
        self.platform, self.preparation = platform, preparation
        self.output_bucket, self.output_prefix = output_bucket, output_prefix

        program = s3_assets.Asset(self, "Program-train", path=job_file("census_ml", "train.py"))
        assets_read_policy(self, "ProgramsReadPolicy", platform, [program], "Read the training program")
        args: list[str | Arg] = [
            "--input",
            preparation.output_uri,
            "--output",
            Arg.format(f"s3://{output_bucket.bucket_name}/{output_prefix}{{}}/", "$.input.run"),
            "--label-column",
            label_column,
            "--seed",
            str(seed),
            "--num-trees",
            str(num_trees),
            "--max-depth",
            str(max_depth),
        ]
        if feature_columns:
            args += ["--feature-columns", ",".join(feature_columns)]
        self.training_pipeline = TransientClusterPipeline(
            self,
            "Training",
            platform=platform,
            spec=spec,
            steps=[SparkSubmitStep(name="train", main=program.s3_object_url, args=tuple(args))],
            input_fields={"run": "string"},
            timeout=Duration.hours(6),
            step_timeout=Duration.hours(4),
            log_retention_days=log_retention_days,
        )

        self.notifications: PipelineNotifications | None = None
        if notify:
            self.notifications = PipelineNotifications(
                self,
                "Notifications",
                state_machines=[self.training_pipeline.state_machine],
                emails=notification_emails,
            )
        succeeded = sfn.Succeed(self, "Succeeded", output_path="$.metrics.value")
        after_metrics: sfn.IChainable = succeeded
        statements = [
            iam.PolicyStatement(
                sid="RunRecipeJob", actions=list(DATABREW_SYNC_ACTIONS), resources=[preparation.job_arn]
            ),
            *read_json_statements(output_bucket, f"{output_prefix}*/metrics.json", platform.key),
        ]
        if self.notifications is not None:
            topic, topic_key = self.notifications.topic, self.notifications.key
            publish = task(
                self,
                "NotifyMetrics",
                "sns:publish",
                {
                    "TopicArn": topic.topic_arn,
                    "Subject": f"Model trained: {preparation.recipe.name}"[:100],
                    "Message.$": _metrics_message(output_bucket.bucket_name, output_prefix),
                },
                Duration.minutes(1),
                result_path="$.notified",
                comment="Publish the model's AUC.",
            )
            publish.add_retry(
                errors=["States.TaskFailed"], interval=Duration.seconds(5), max_attempts=3, backoff_rate=2
            )
            publish.next(succeeded)
            after_metrics = publish
            statements.append(
                iam.PolicyStatement(
                    sid="PublishMetrics", actions=["sns:Publish"], resources=[topic.topic_arn]
                )
            )
            statements.append(
                iam.PolicyStatement(
                    sid="EncryptMetricsMessage",
                    actions=["kms:GenerateDataKey", "kms:Decrypt"],
                    resources=[topic_key.key_arn],
                )
            )
        read_metrics = read_json_result(
            self,
            "ReadMetrics",
            bucket=output_bucket,
            key=f"States.Format('{escape(output_prefix)}{{}}/metrics.json', $$.Execution.Name)",
            result_path="$.metrics",
            fields=_METRIC_FIELDS,
            error="MetricsIncomplete",
            next_state=after_metrics,
            comment="Read the metrics the training job wrote.",
        )
        training_failed = sfn.Fail(self, "TrainingFailed", error="TrainingFailed", cause_path="$.error.Cause")
        train = run_pipeline(
            self,
            "Train",
            self.training_pipeline.state_machine,
            input={"modes": [TRAINING_MODE], "run.$": "$$.Execution.Name"},
            timeout=Duration.hours(6),
            result_path="$.training",
            comment="Train and evaluate on a transient cluster (the inner pipeline ends it).",
        )
        train.add_catch(training_failed, errors=["States.ALL"], result_path="$.error")
        train.next(read_metrics)
        preparation_failed = sfn.Fail(
            self, "PreparationFailed", error="PreparationFailed", cause_path="$.error.Cause"
        )
        prepare = task(
            self,
            "PrepareData",
            "databrew:startJobRun.sync",
            {"Name": preparation.job_name},
            Duration.minutes(preparation.job_timeout_minutes + 15),
            result_path="$.preparation",
            comment="Run the DataBrew recipe job and wait for it to end.",
        )
        prepare.add_catch(preparation_failed, errors=["States.ALL"], result_path="$.error")
        prepare.next(train)

        machine = OuterMachine(
            self,
            platform,
            definition=prepare,
            nested=[self.training_pipeline.state_machine],
            statements=statements,
            timeout=timeout or Duration.hours(8),
            retention=retention,
            description=f"Step Functions pipeline {self.node.path}: DataBrew preparation, EMR training",
            policy_description="Run the DataBrew job and the training pipeline; read and publish the metrics",
            comment=f"Prepare with DataBrew ({preparation.recipe.name}), train on EMR, publish the AUC",
            wildcard_reason=None,
        )
        self.log_group, self.role, self.policy = machine.log_group, machine.role, machine.policy
        self.state_machine = machine.state_machine
        acknowledge_resource(
            machine.policy,
            "AwsSolutions-IAM5",
            output_bucket.arn_for_objects(f"{output_prefix}*/metrics.json"),
            "Each execution reads the metrics of its own run, named by the execution at run time; "
            "only metrics.json files below one prefix.",
        )
        if self.notifications is not None:
            self.notifications.add_state_machine(self.state_machine)

    @property
    def state_machine_arn(self) -> str:
        """ARN of the outer state machine."""
        return self.state_machine.state_machine_arn


def _metrics_message(bucket_name: str, prefix: str) -> str:
    """The NotifyMetrics message: an intrinsic over the metrics read into ``$.metrics.value``."""
    where = f"s3://{escape(bucket_name)}/{escape(prefix)}{{}}/"
    values = ", ".join(
        [
            "$$.Execution.Name",
            "$.metrics.value.validation.auc",
            "$.metrics.value.validation.rows",
            "$.metrics.value.test.auc",
            "$.metrics.value.test.rows",
            "$$.Execution.Name",
        ]
    )
    text = (
        "Execution {}: validation AUC {} on {} rows, test AUC {} on {} rows. "
        f"Model and metrics: {where}"
    )
    return f"States.Format('{text}', {values})"
