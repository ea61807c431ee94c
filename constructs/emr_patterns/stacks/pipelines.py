"""Prebuilt pipeline stacks: a transient Spark cluster per upload, and a daily chain of notebooks.

* :class:`TransientSparkPipelineStack` - an upload of sensor readings (CSV) to the raw bucket
  starts a :class:`~emr_patterns.orchestration.TransientClusterPipeline`: a Graviton cluster is
  created, the two bundled programs (``preprocess.py``, then ``model.py``, which reads what the
  first wrote) run for each processing mode (``TRAINING``, then ``SCORING``), and the cluster is
  terminated whatever happens.
* :class:`NotebookPipelineStack` - every day a schedule starts a
  :class:`~emr_patterns.orchestration.NotebookPipeline` on a transient cluster: the bundled
  ``daily_top_states`` notebook ranks the states for the day, and ``trailing_n_days`` charts the
  top state's trailing 30 days, parameterized by the first notebook's result.

Both run on the shared platform, with the sweeper (clusters of stopped, failed or timed-out
executions are terminated) and notifications of every ending to an encrypted SNS topic.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from emr_patterns._assets import job_file
from emr_patterns.compute.jobs import assets_read_policy
from emr_patterns.errors import problem, raise_if_problems
from emr_patterns.foundation.platform import EmrPlatform, IEmrPlatform, check_platform
from emr_patterns.jobs.notebooks import NOTEBOOKS
from emr_patterns.orchestration import (
    NOTEBOOK_APPLICATIONS,
    EmrClusterSweeper,
    NotebookFile,
    NotebookParam,
    NotebookPipeline,
    NotebookRun,
    PipelineNotifications,
    PipelineSchedule,
    S3UploadTrigger,
    TransientClusterPipeline,
)
from emr_patterns.spec import ClusterSpec, InstanceFleetSpec
from emr_patterns.spec.steps import Arg, SparkSubmitStep

__all__ = [
    "SENSOR_MODES",
    "NotebookPipelineStack",
    "TransientSparkPipelineStack",
    "notebook_spec",
    "sensor_pipeline_spec",
]

#: The processing modes every upload runs, in order: fit the model, then score with it.
SENSOR_MODES = ("TRAINING", "SCORING")


def sensor_pipeline_spec(name: str = "sensor-anomaly") -> ClusterSpec:
    """A small Graviton cluster for the sensor programs: one primary, two core nodes, Spark,
    auto-termination after 30 idle minutes (the net for a stopped execution)."""
    return ClusterSpec(
        name=name,
        applications=("Hadoop", "Spark"),
        primary_fleet=InstanceFleetSpec.primary(["m7g.xlarge", "m6g.xlarge"]),
        core_fleet=InstanceFleetSpec.core(["m7g.2xlarge", "m6g.2xlarge"], on_demand_units=2),
        idle_timeout_seconds=1800,
    )


def notebook_spec(name: str = "daily-notebooks") -> ClusterSpec:
    """A cluster for notebook executions: the applications they need, one primary node, x86
    instance types (the EMR notebook service lists Graviton2 and AMD instances as unsupported),
    auto-termination after 30 idle minutes."""
    return ClusterSpec(
        name=name,
        applications=NOTEBOOK_APPLICATIONS,
        primary_fleet=InstanceFleetSpec.primary(["m6i.xlarge", "m7i.xlarge"]),
        core_fleet=InstanceFleetSpec.core(["m6i.xlarge", "m7i.xlarge"], on_demand_units=2),
        idle_timeout_seconds=1800,
    )


def _platform(stack: Stack, id: str, platform: IEmrPlatform | None) -> IEmrPlatform:
    if platform is None:
        return EmrPlatform(stack, "Platform")
    raise_if_problems(f"{type(stack).__name__} '{id}'", check_platform(stack, "platform", platform))
    return platform


def _email_problems(emails: Any) -> list[str]:
    if isinstance(emails, str) or not isinstance(emails, Sequence):
        return [
            problem(
                "notification_emails",
                emails,
                "is not a sequence of addresses",
                "pass e.g. ['ops@example.com']",
            )
        ]
    return []


def _watch(
    stack: Stack, platform: IEmrPlatform, machine: sfn.IStateMachine, emails: Sequence[str]
) -> tuple[EmrClusterSweeper, PipelineNotifications]:
    """A pipeline stack's sweeper and notifications, and its two outputs."""
    sweeper = EmrClusterSweeper(stack, "Sweeper", platform=platform, state_machines=[machine])
    notifications = PipelineNotifications(stack, "Notifications", state_machines=[machine], emails=emails)
    CfnOutput(stack, "StateMachineArn", value=machine.state_machine_arn, description="The pipeline")
    CfnOutput(
        stack, "NotificationTopicArn", value=notifications.topic.topic_arn, description="How runs ended"
    )
    return sweeper, notifications


class TransientSparkPipelineStack(Stack):
    """Sensor readings uploaded to the raw bucket -> a transient Spark cluster -> anomalies.

    Upload a CSV below ``upload_prefix`` in the platform's raw bucket (or start an execution with
    ``{"modes": ["TRAINING", "SCORING"], "source": {"bucket": "...", "key": "..."}}``). For each
    mode, ``preprocess.py`` writes features to
    ``s3://<work>/sensor-anomaly/runs/<execution>/<mode>/preprocess/`` and ``model.py`` reads
    them, fits (TRAINING) or applies (SCORING) the k-means model under
    ``s3://<curated>/sensor-anomaly/models/<execution>/`` and writes anomalies and ``metrics.json``
    under ``s3://<curated>/sensor-anomaly/anomalies/<execution>/<mode>/``.

    Args:
        scope: parent construct.
        id: stack id.
        platform: the shared platform (e.g. ``PlatformBaseStack(...).platform``), same account and
            region. Default: a platform of its own in this stack.
        spec: the transient cluster. Default: :func:`sensor_pipeline_spec`.
        upload_prefix: key prefix in the raw bucket whose ``.csv`` uploads start a run. Default
            ``sensor-readings/``.
        notification_emails: addresses told how every execution ended. Default: none (subscribe
            to the topic in the ``NotificationTopicArn`` output).
        **kwargs: ``Stack`` props (``env``, ``description``, ...).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        platform: IEmrPlatform | None = None,
        spec: ClusterSpec | None = None,
        upload_prefix: str = "sensor-readings/",
        notification_emails: Sequence[str] = (),
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault(
            "description", "cdk-emr-patterns: transient Spark cluster pipeline per upload (pattern 9)"
        )
        super().__init__(scope, id, **kwargs)
        raise_if_problems(f"TransientSparkPipelineStack '{id}'", _email_problems(notification_emails))
        self.platform = platform = _platform(self, id, platform)
        raw, work, curated = platform.data_buckets[0], platform.data_buckets[1], platform.data_buckets[2]
        self.programs = {
            name: s3_assets.Asset(self, f"Program-{name}", path=job_file("sensor_anomaly", f"{name}.py"))
            for name in ("preprocess", "model")
        }
        assets_read_policy(
            self,
            "ProgramsReadPolicy",
            platform,
            list(self.programs.values()),
            "Read the two sensor-anomaly programs, object by object",
        )
        features = Arg.format(
            f"s3://{work.bucket_name}/sensor-anomaly/runs/{{}}/{{}}/preprocess/",
            "$$.Execution.Name",
            "$.mode",
        )
        steps = [
            SparkSubmitStep(
                name="preprocess",
                main=self.programs["preprocess"].s3_object_url,
                args=(
                    "--mode",
                    Arg.path("$.mode"),
                    "--input",
                    Arg.format("s3://{}/{}", "$.input.source.bucket", "$.input.source.key"),
                    "--output",
                    features,
                ),
            ),
            SparkSubmitStep(
                name="model",
                main=self.programs["model"].s3_object_url,
                args=(
                    "--mode",
                    Arg.path("$.mode"),
                    "--input",
                    features,
                    "--model-location",
                    Arg.format(
                        f"s3://{curated.bucket_name}/sensor-anomaly/models/{{}}/", "$$.Execution.Name"
                    ),
                    "--output",
                    Arg.format(
                        f"s3://{curated.bucket_name}/sensor-anomaly/anomalies/{{}}/{{}}/",
                        "$$.Execution.Name",
                        "$.mode",
                    ),
                ),
            ),
        ]
        self.pipeline = TransientClusterPipeline(
            self,
            "Pipeline",
            platform=platform,
            spec=spec or sensor_pipeline_spec(),
            steps=steps,
            input_fields={"source.bucket": "string", "source.key": "string"},
            timeout=Duration.hours(6),
            step_timeout=Duration.hours(2),
        )
        self.trigger = S3UploadTrigger(
            self,
            "UploadTrigger",
            platform=platform,
            state_machine=self.pipeline.state_machine,
            bucket=raw,
            prefix=upload_prefix,
            suffix=".csv",
            input={"modes": list(SENSOR_MODES)},
        )
        self.sweeper, self.notifications = _watch(
            self, platform, self.pipeline.state_machine, notification_emails
        )
        CfnOutput(
            self,
            "UploadPrefix",
            value=upload_prefix,
            description="Upload sensor readings (.csv) below this prefix of the platform's raw bucket",
        )


class NotebookPipelineStack(Stack):
    """A daily chain of two EMR notebooks on a transient cluster, the second parameterized by the first.

    Every day at ``schedule`` (Scheduler syntax, in ``timezone``) an execution starts with the
    scheduled time; ``daily_top_states`` reads the case data at ``cases_key`` in the raw bucket,
    ranks the states for that day and writes its result (``top_state``...); ``trailing_n_days``
    charts the top state's trailing 30 days. Output notebooks (HTML) and results land below
    ``s3://<work>/notebook-runs/<execution>/<notebook>/``. The case data for the scheduled day
    must be in the file by then; the first notebook fails (and the pipeline with it) otherwise.

    Args:
        scope: parent construct.
        id: stack id.
        platform: the shared platform, same account and region. Default: a platform of its own.
        spec: the transient cluster. Default: :func:`notebook_spec`.
        schedule: when to run. Default ``cron(0 9 * * ? *)`` (09:00 every day).
        timezone: time zone of ``schedule``. Default ``UTC``.
        cases_key: key of the daily cases CSV (``date,state,confirmed,deaths``) in the raw
            bucket. Default ``covid/us-states.csv``.
        top_k: how many states the first notebook ranks. Default 6.
        notification_emails: addresses told how every execution ended. Default: none.
        **kwargs: ``Stack`` props.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        platform: IEmrPlatform | None = None,
        spec: ClusterSpec | None = None,
        schedule: str = "cron(0 9 * * ? *)",
        timezone: str = "UTC",
        cases_key: str = "covid/us-states.csv",
        top_k: int = 6,
        notification_emails: Sequence[str] = (),
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("description", "cdk-emr-patterns: scheduled chain of EMR notebooks (pattern 5)")
        super().__init__(scope, id, **kwargs)
        problems = _email_problems(notification_emails)
        if not isinstance(top_k, int) or isinstance(top_k, bool) or not 1 <= top_k <= 50:
            problems.append(problem("top_k", top_k, "must be an int from 1 to 50", "use e.g. 6"))
        raise_if_problems(f"NotebookPipelineStack '{id}'", problems)
        self.platform = platform = _platform(self, id, platform)
        cases = f"s3://{platform.data_buckets[0].bucket_name}/{cases_key}"
        date = NotebookParam.from_input("scheduled_time", date_only=True)
        self.pipeline = NotebookPipeline(
            self,
            "Pipeline",
            platform=platform,
            spec=spec or notebook_spec(),
            input_fields={"scheduled_time": "string"},
            notebooks=[
                NotebookRun(
                    "daily_top_states",
                    NotebookFile(NOTEBOOKS["daily_top_states"]),
                    parameters={
                        "DATE": date,
                        "TOP_K": top_k,
                        "US_STATES": ["New York", "California", "Texas", "Florida", "Illinois"],
                        "INPUT": cases,
                    },
                    writes_result=True,
                    timeout=Duration.hours(1),
                ),
                NotebookRun(
                    "trailing_n_days",
                    NotebookFile(NOTEBOOKS["trailing_n_days"]),
                    parameters={
                        "STATE": NotebookParam.from_result("top_state"),
                        "DATE": date,
                        "N_DAYS": 30,
                        "INPUT": cases,
                    },
                    writes_result=True,
                    timeout=Duration.hours(1),
                ),
            ],
            timeout=Duration.hours(4),
        )
        self.schedule = PipelineSchedule(
            self,
            "Schedule",
            platform=platform,
            state_machine=self.pipeline.state_machine,
            expression=schedule,
            timezone=timezone,
            input={"scheduled_time": "<aws.scheduler.scheduled-time>"},
            description="Run the daily notebooks",
        )
        self.sweeper, self.notifications = _watch(
            self, platform, self.pipeline.state_machine, notification_emails
        )
        CfnOutput(
            self,
            "CasesKey",
            value=cases_key,
            description="Key of the daily cases CSV in the platform's raw bucket",
        )
