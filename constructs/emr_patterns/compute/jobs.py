"""The wide-matrix PySpark jobs as a cluster runs them: code zip, dependency wheelhouse, bootstrap, steps.

EMR 7 runs PySpark on the node's Python 3.9 (``/usr/bin/python3``), in private subnets without
internet access. :class:`WideMatrixJobs` therefore ships

* the ``widematrix`` package as a zip for ``spark-submit --py-files`` (built at synth time,
  byte-for-byte reproducible, so its asset hash changes only when the code does), and the two
  entry scripts (``ingest.py``, ``aggregate.py``);
* a **wheelhouse** per node architecture (``x86_64``, ``aarch64``): cp39 manylinux wheels of
  everything the jobs import beyond the standard library and Spark (numpy, pandas, pyarrow,
  h5py, boto3 and their dependencies, pinned in ``jobs/requirements-emr.txt``), downloaded by
  ``make emr-wheelhouse``;
* a bootstrap action that copies the wheelhouse for the node's architecture from S3 and runs
  ``python3 -m pip install --no-index --find-links <dir> -r requirements.txt``: no package index
  is contacted.

Usage::

    jobs = WideMatrixJobs(stack, "Jobs", platform=platform)
    spec = ClusterSpec(..., bootstrap_actions=[jobs.bootstrap_action()])
    EmrCluster(stack, "Cluster", platform=platform, spec=spec)
    step = jobs.spark_step("ingest", ["--input", "s3://raw/export.zip", "--output", "s3://work/ds"])
    # step is an AddJobFlowSteps ``Step`` (boto3, Step Functions' addStep ``Step``)
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from emr_patterns._assets import asset_path, job_file
from emr_patterns.errors import problem, raise_if_problems
from emr_patterns.foundation.platform import IEmrPlatform
from emr_patterns.spec import BootstrapAction, SparkSubmitStep
from emr_patterns.spec.steps import StepArg

__all__ = [
    "ARCHITECTURES",
    "WHEELHOUSE_ENV",
    "Job",
    "WideMatrixJobs",
    "assets_read_policy",
    "build_job_zip",
]


def assets_read_policy(
    scope: Construct,
    id: str,
    platform: IEmrPlatform,
    assets: Sequence[s3_assets.Asset],
    description: str,
    statements: Sequence[iam.PolicyStatement] = (),
) -> iam.ManagedPolicy:
    """A customer-managed policy on the platform's instance role: ``s3:GetObject`` on exactly
    these asset objects (programs, scripts, properties a step reads), plus ``statements``."""
    return iam.ManagedPolicy(
        scope,
        id,
        description=description,
        statements=[
            iam.PolicyStatement(
                actions=["s3:GetObject"],
                resources=[a.bucket.arn_for_objects(a.s3_object_key) for a in assets],
            ),
            *statements,
        ],
        roles=[platform.instance_role],
    )


#: Node architectures a wheelhouse must cover (EMR's x86_64 and Graviton instance types).
ARCHITECTURES = ("x86_64", "aarch64")
#: Environment variable naming the wheelhouse folder when the ``wheelhouse`` prop is not given.
WHEELHOUSE_ENV = "EMR_PATTERNS_WHEELHOUSE"
#: Where ``make emr-wheelhouse`` writes it, relative to the directory ``cdk synth`` runs in.
DEFAULT_WHEELHOUSE = ".cache/emr-wheelhouse"
#: The spark-submit entry points: the two jobs, and ``pipeline`` (both plus the HBase export, in
#: one application).
Job = Literal["ingest", "aggregate", "pipeline"]
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # zip's earliest date: the archive's bytes depend on content only


def build_job_zip(dest_dir: str | os.PathLike[str]) -> Path:
    """Write ``widematrix.zip`` (the package's ``*.py`` files under ``widematrix/``) into ``dest_dir``.

    Entries are sorted and carry a fixed date and mode, so the same code gives the same bytes
    (and the same CDK asset hash). Returns the zip's path.
    """
    package = asset_path("jobs", "widematrix")
    target = Path(dest_dir) / "widematrix.zip"
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for source in sorted(package.glob("*.py")):
            info = zipfile.ZipInfo(f"widematrix/{source.name}", date_time=_ZIP_DATE)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, source.read_bytes())
    return target


def _staged_job_zip() -> Path:
    """The job zip in a temporary folder named by the code's hash (reused by later synths)."""
    package = asset_path("jobs", "widematrix")
    digest = hashlib.sha256()
    for source in sorted(package.glob("*.py")):
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    folder = Path(tempfile.gettempdir()) / "emr-patterns-job-zip" / digest.hexdigest()[:16]
    target = folder / "widematrix.zip"
    if not target.exists():
        build_job_zip(folder)
    return target


def _wheelhouse_problems(root: Path, given: str) -> list[str]:
    """Each architecture's folder must hold requirements.txt and wheels."""
    fix = "run `make emr-wheelhouse` (or pip download the cp39 wheels of jobs/requirements-emr.txt)"
    out: list[str] = []
    for arch in ARCHITECTURES:
        folder = root / arch
        if not (folder / "requirements.txt").is_file() or not any(folder.glob("*.whl")):
            out.append(
                problem(
                    "wheelhouse",
                    given,
                    f"has no {arch}/requirements.txt with wheels beside it (looked in {folder})",
                    fix,
                )
            )
    return out


class WideMatrixJobs(Construct):
    """The wide-matrix ingest and aggregate jobs, packaged for an EMR 7 cluster without internet.

    Every artifact is an ``aws_s3_assets.Asset`` (content-hashed: a new version gets a new key,
    an unchanged one is not uploaded again): the job zip, the two entry scripts, one wheelhouse
    zip per architecture and the bootstrap script. They land in the **CDK assets bucket** of
    the stack's environment (``cdk bootstrap``), not in the platform's artifacts bucket, because
    assets cannot be directed into a bucket of the app's own without a deploy-time copy (a
    ``BucketDeployment`` Lambda function, which the HIPAA, NIST and PCI packs flag for its
    concurrency, VPC and dead-letter settings). The platform's instance role is granted
    ``s3:GetObject`` on exactly these objects, object by object, through one customer-managed
    policy (``AssetsReadPolicy``; inline policies fail the packs).

    Args:
        scope: parent construct.
        id: construct id.
        platform: the platform the jobs run on: its instance role reads the assets, its key and
            data buckets are the steps' default ``--kms-key-arn`` and ``--allowed-buckets``.
        wheelhouse: local folder with ``x86_64/`` and ``aarch64/``, each holding
            ``requirements.txt`` and the cp39 wheels it names. Default: ``$EMR_PATTERNS_WHEELHOUSE``,
            else ``.cache/emr-wheelhouse`` (where ``make emr-wheelhouse`` writes it).

    Raises:
        EmrPatternsValidationError: the wheelhouse is missing or incomplete (naming the fix).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        platform: IEmrPlatform,
        wheelhouse: str | None = None,
    ) -> None:
        super().__init__(scope, id)
        given = wheelhouse or os.environ.get(WHEELHOUSE_ENV) or DEFAULT_WHEELHOUSE
        root = Path(given).resolve()
        raise_if_problems("WideMatrixJobs", _wheelhouse_problems(root, given))
        self._platform = platform

        #: ``widematrix.zip``, for ``spark-submit --py-files``.
        self.code_asset = s3_assets.Asset(self, "Code", path=str(_staged_job_zip()))
        #: The entry scripts, by job name.
        self.entry_assets: dict[str, s3_assets.Asset] = {
            "ingest": s3_assets.Asset(self, "IngestEntry", path=job_file("widematrix", "ingest.py")),
            "aggregate": s3_assets.Asset(self, "AggregateEntry", path=job_file("widematrix", "aggregate.py")),
            "pipeline": s3_assets.Asset(self, "PipelineEntry", path=job_file("widematrix", "pipeline.py")),
        }
        #: One wheelhouse asset (a zip of the folder) per architecture.
        self.wheelhouse_assets: dict[str, s3_assets.Asset] = {
            arch: s3_assets.Asset(self, f"Wheelhouse-{arch}", path=str(root / arch)) for arch in ARCHITECTURES
        }
        #: The bootstrap script (``jobs/widematrix-deps-bootstrap.sh``).
        self.bootstrap_asset = s3_assets.Asset(
            self, "BootstrapScript", path=str(asset_path("jobs", "widematrix-deps-bootstrap.sh"))
        )
        assets = [
            self.code_asset,
            *self.entry_assets.values(),
            *self.wheelhouse_assets.values(),
            self.bootstrap_asset,
        ]
        #: The instance role's read access to exactly these objects.
        self.read_policy = assets_read_policy(
            self,
            "AssetsReadPolicy",
            platform,
            assets,
            "Read the wide-matrix jobs' code, wheelhouses and bootstrap script, object by object",
        )

    @property
    def code_uri(self) -> str:
        """``s3://`` URI of ``widematrix.zip``."""
        return self.code_asset.s3_object_url

    def entry_uri(self, job: Job) -> str:
        """``s3://`` URI of a job's entry script (``ingest.py``, ``aggregate.py`` or ``pipeline.py``)."""
        if job not in self.entry_assets:
            raise_if_problems(
                "WideMatrixJobs.entry_uri",
                [problem("job", job, "is not one of the jobs", "use 'ingest', 'aggregate' or 'pipeline'")],
            )
        return self.entry_assets[job].s3_object_url

    def bootstrap_action(self, name: str = "widematrix-python-deps") -> BootstrapAction:
        """The bootstrap action that installs the jobs' dependencies on every node, offline.

        Its arguments are the two wheelhouse URIs and the stack's region; the cluster needs the
        instance role's read access (:attr:`read_policy`) and S3 reachable (the platform's
        gateway endpoint), nothing else.
        """
        return BootstrapAction(
            name,
            self.bootstrap_asset.s3_object_url,
            (
                self.wheelhouse_assets["x86_64"].s3_object_url,
                self.wheelhouse_assets["aarch64"].s3_object_url,
                Stack.of(self).region,
            ),
        )

    def submit_step(
        self,
        job: Job,
        args: Sequence[StepArg],
        *,
        name: str | None = None,
        action_on_failure: str = "CONTINUE",
        deploy_mode: Literal["cluster", "client"] = "cluster",
        spark_conf: Mapping[str, str] | None = None,
    ) -> SparkSubmitStep:
        """The :class:`~emr_patterns.spec.SparkSubmitStep` running one job (see :meth:`spark_step`);
        ``args`` may hold :class:`~emr_patterns.spec.steps.Arg` values from the execution input,
        for a Step Functions pipeline."""
        entry = self.entry_uri(job)
        given = {a for a in args if isinstance(a, str)}
        defaults: list[str] = []
        if "--kms-key-arn" not in given:
            defaults += ["--kms-key-arn", self._platform.key.key_arn]
        if "--allowed-buckets" not in given:
            defaults += ["--allowed-buckets", ",".join(b.bucket_name for b in self._platform.data_buckets)]
        return SparkSubmitStep(
            name=name or f"widematrix-{job}",
            main=entry,
            py_files=(self.code_uri,),
            args=(*args, *defaults),
            spark_conf=dict(spark_conf or {}),
            deploy_mode=deploy_mode,
            action_on_failure=action_on_failure,
        )

    def spark_step(
        self,
        job: Job,
        args: Sequence[str],
        *,
        name: str | None = None,
        action_on_failure: str = "CONTINUE",
        deploy_mode: Literal["cluster", "client"] = "cluster",
        spark_conf: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """An EMR step (``AddJobFlowSteps``' ``Step``) running one job through ``command-runner.jar``.

        ``spark-submit --deploy-mode <deploy_mode> [--conf k=v ...] --py-files <zip>
        <entry script> <args>``, with ``--kms-key-arn`` (the platform key) and
        ``--allowed-buckets`` (the platform's data buckets) added unless ``args`` gives them.
        Built and validated by :class:`~emr_patterns.spec.SparkSubmitStep`.

        Args:
            job: ``"ingest"``, ``"aggregate"`` or ``"pipeline"``.
            args: the job's own arguments (``--input ... --output ...``; see ``--help``).
            name: step name. Default: ``widematrix-<job>``.
            action_on_failure: ``CONTINUE``, ``CANCEL_AND_WAIT`` or ``TERMINATE_CLUSTER``.
                Default: ``CONTINUE``.
            deploy_mode: ``cluster`` (driver in a YARN container; default) or ``client``
                (driver on the primary node, its output in the step's log).
            spark_conf: Spark settings from ``SparkSubmitStep``'s allowlist (e.g.
                ``{"spark.executor.memory": "8g"}``). Default: none.
        """
        return self.submit_step(
            job,
            args,
            name=name,
            action_on_failure=action_on_failure,
            deploy_mode=deploy_mode,
            spark_conf=spark_conf,
        ).to_step_config()
