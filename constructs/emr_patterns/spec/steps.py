"""EMR step builders: Spark, Hive, command-runner and script-runner steps as frozen dataclasses.

Each step validates itself on construction (one
:class:`~emr_patterns.errors.EmrPatternsValidationError` listing every problem) and renders two forms
from the same data:

* :meth:`~SparkSubmitStep.to_step_config`: an EMR ``StepConfig`` for boto3 ``AddJobFlowSteps`` or
  ``RunJobFlow`` (``Name``, ``ActionOnFailure``, ``HadoopJarStep``);
* :meth:`~SparkSubmitStep.to_sfn_parameters`: the ``Parameters`` of a Step Functions
  ``arn:aws:states:::elasticmapreduce:addStep.sync`` task (``{"ClusterId.$": ..., "Step": {...}}``).

A value that comes from the execution input is never pasted into a string: it is an :class:`Arg`
(``Arg.path("$.input_uri")`` or ``Arg.format("--input={}", "$.input_uri")``), which renders as a
``States.Array(...)`` / ``States.Format(...)`` intrinsic in an ``Args.$`` field. A plain string that
looks like a JSONPath or an intrinsic (``"$.input_uri"``, ``"States.Format(...)"``) is refused:
Step Functions would pass it to EMR literally.

Step names are whatever you pass: nothing here adds a timestamp or a random suffix, so the same
spec renders the same JSON (and the same state machine) every time.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any, ClassVar

from emr_patterns._tokens import STRING_TOKEN, is_unresolved
from emr_patterns.errors import problem, raise_if_problems

__all__ = [
    "COMMAND_RUNNER_JAR",
    "SPARK_CONF_ALLOWED_KEYS",
    "SPARK_CONF_ALLOWED_PREFIXES",
    "ActionOnFailure",
    "Arg",
    "CommandRunnerStep",
    "DeployMode",
    "HiveScriptStep",
    "ScriptRunnerStep",
    "SparkSubmitStep",
    "StepArg",
    "intrinsic_literal",
    "script_runner_jar",
    "spark_conf_key_allowed",
    "step_from_dict",
]

COMMAND_RUNNER_JAR = "command-runner.jar"
"""The jar EMR runs commands with (``spark-submit``, ``hive-script``, ``aws``...); on every node's AMI,
so it is named without a path."""

SPARK_CONF_ALLOWED_KEYS: frozenset[str] = frozenset(
    {
        "spark.executor.memory",
        "spark.executor.cores",
        "spark.executor.instances",
        "spark.executor.memoryOverhead",
        "spark.driver.memory",
        "spark.driver.cores",
        "spark.driver.memoryOverhead",
        "spark.driver.maxResultSize",
        "spark.default.parallelism",
        "spark.sql.shuffle.partitions",
        "spark.sql.files.maxPartitionBytes",
        "spark.sql.autoBroadcastJoinThreshold",
        "spark.sql.sources.partitionOverwriteMode",
        "spark.memory.fraction",
        "spark.memory.storageFraction",
        "spark.task.cpus",
        "spark.task.maxFailures",
        "spark.speculation",
        "spark.network.timeout",
        "spark.yarn.maxAppAttempts",
    }
)
"""``spark_conf`` keys a step may set without naming them in ``extra_allowed_spark_conf``.

They size and tune the job (memory, cores, parallelism, retries) and nothing else. Keys that load
code or change security are left out on purpose: ``spark.jars``, ``spark.jars.packages`` and
``spark.jars.repositories`` (download and run code), ``spark.driver.extraJavaOptions`` /
``spark.executor.extraJavaOptions`` / ``*.extraClassPath`` (JVM agents, class path),
``spark.plugins``, ``spark.sql.extensions``, ``spark.serializer`` (class names), and the
``spark.authenticate``, ``spark.ssl.*``, ``spark.io.encryption.*`` and ``spark.acls.*`` families, which
the cluster's security configuration owns."""

SPARK_CONF_ALLOWED_PREFIXES: tuple[str, ...] = ("spark.dynamicAllocation.", "spark.sql.adaptive.")
"""Key prefixes allowed as a family: dynamic allocation and adaptive query execution. A key under
them whose name holds ``class`` (``spark.sql.adaptive.customCostEvaluatorClass``) is still refused:
it names a class to load."""

_ACTION_HINT = "use ActionOnFailure.CONTINUE, CANCEL_AND_WAIT or TERMINATE_CLUSTER"
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
# Paths the library writes itself: root ($) or context ($$), then .name or [index] segments.
_JSON_PATH = re.compile(r"^\$\$?(\.[A-Za-z_][A-Za-z0-9_-]*|\[\d+\])+$")
# What an untyped JSONPath or intrinsic looks like inside a literal string.
_LOOKS_LIKE_PATH = re.compile(
    r"^\$\$?(\[|$)|(?<![A-Za-z0-9_$])\$\$?\.[A-Za-z_]|(?<![A-Za-z0-9_])States\.[A-Za-z]"
)
_HIVE_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


class ActionOnFailure(StrEnum):
    """What EMR does when a step fails (``StepConfig.ActionOnFailure``)."""

    CONTINUE = "CONTINUE"
    """Go on with the next step (default)."""
    CANCEL_AND_WAIT = "CANCEL_AND_WAIT"
    """Cancel the pending steps and leave the cluster waiting."""
    TERMINATE_CLUSTER = "TERMINATE_CLUSTER"
    """Terminate the cluster."""
    TERMINATE_JOB_FLOW = "TERMINATE_JOB_FLOW"
    """Older name of ``TERMINATE_CLUSTER``; EMR still accepts it."""


class DeployMode(StrEnum):
    """Where ``spark-submit`` runs the driver."""

    CLUSTER = "cluster"
    """In a YARN container on a core or task node (default): the primary node is not a bottleneck."""
    CLIENT = "client"
    """On the primary node; the driver's output lands in the step's own log."""


def intrinsic_literal(text: str, *, placeholders: bool = False) -> str:
    """``text`` as an intrinsic string literal, ``'...'`` with ``' { } \\`` escaped.

    With ``placeholders`` (a ``States.Format`` template) each ``{}`` is kept as a placeholder. CDK
    string tokens (``${Token[...]}``) are kept whole: CDK replaces them at synth time, and escaping
    their braces would stop it recognising them.
    """
    if placeholders:
        return "'" + "{}".join(intrinsic_literal(part)[1:-1] for part in text.split("{}")) + "'"
    out: list[str] = []
    last = 0
    for match in STRING_TOKEN.finditer(text):
        out.append(_escape_plain(text[last : match.start()]))
        out.append(match.group(0))
        last = match.end()
    out.append(_escape_plain(text[last:]))
    return "'" + "".join(out) + "'"


def _escape_plain(text: str) -> str:
    for char in ("\\", "'", "{", "}"):
        text = text.replace(char, "\\" + char)
    return text


@dataclass(frozen=True)
class Arg:
    """A step argument whose value comes from the execution input (or the context object).

    Build it with :meth:`path` (the whole argument is the value at a JSONPath) or :meth:`format`
    (the values are placed into a string at each ``{}``). In the Step Functions form it renders as
    an intrinsic; in the boto3 form the paths are replaced by the values you pass.
    """

    paths: tuple[str, ...]
    """JSONPaths, each ``$.``/``$$.`` followed by ``.name`` or ``[index]`` segments."""
    template: str = "{}"
    """The argument text with one ``{}`` per path. No other ``{`` or ``}`` is allowed. Default:
    ``{}`` (the argument is the one path's value)."""

    def __post_init__(self) -> None:
        paths = (self.paths,) if isinstance(self.paths, str) else tuple(self.paths)
        object.__setattr__(self, "paths", paths)
        raise_if_problems("Arg", self.problems("arg"))

    @classmethod
    def path(cls, json_path: str) -> Arg:
        """The argument is the string at ``json_path``, e.g. ``Arg.path("$.input_uri")``."""
        return cls((json_path,))

    @classmethod
    def format(cls, template: str, *json_paths: str) -> Arg:
        """The argument is ``template`` with each ``{}`` replaced by the value at the next path,
        e.g. ``Arg.format("--input={}", "$.input_uri")``."""
        return cls(tuple(json_paths), template)

    def problems(self, prop: str) -> list[str]:
        """Pure validator: path syntax and one ``{}`` per path."""
        out: list[str] = []
        if not self.paths:
            out.append(problem(f"{prop}.paths", self.paths, "is empty", "give at least one JSONPath"))
        for p in self.paths:
            if not (isinstance(p, str) and _JSON_PATH.match(p)):
                out.append(
                    problem(
                        f"{prop}.paths",
                        p,
                        "is not a JSONPath to one value",
                        'write it as "$.field" or "$.a.b[0]" (or "$$." for the context object)',
                    )
                )
        if not isinstance(self.template, str):
            out.append(
                problem(f"{prop}.template", self.template, "is not a string", 'pass e.g. "--input={}"')
            )
            return out
        holes = self.template.count("{}")
        if holes != len(self.paths):
            out.append(
                problem(
                    f"{prop}.template",
                    self.template,
                    f"has {holes} '{{}}' for {len(self.paths)} path(s)",
                    "write one {} per path",
                )
            )
        bare = STRING_TOKEN.sub("", self.template).replace("{}", "")
        if "{" in bare or "}" in bare:
            out.append(
                problem(
                    f"{prop}.template",
                    self.template,
                    "holds a brace that is not a {} placeholder",
                    "remove it (States.Format reserves { and })",
                )
            )
        return out

    def with_prefix(self, prefix: str) -> Arg:
        """The same argument with literal ``prefix`` in front (``NAME=`` for a Hive variable)."""
        return Arg(self.paths, prefix + self.template)

    def to_intrinsic(self) -> str:
        """The ASL form: the bare path for ``{}``, else ``States.Format('...', $.a, ...)``."""
        if self.template == "{}":
            return self.paths[0]
        return (
            f"States.Format({', '.join((intrinsic_literal(self.template, placeholders=True), *self.paths))})"
        )

    def resolve(self, values: Mapping[str, str]) -> str:
        """The argument with each path replaced by ``values[path]`` (for boto3 and for tests)."""
        missing = [p for p in self.paths if p not in values]
        raise_if_problems(
            "Arg.resolve",
            [
                problem("values", p, "has no value for this JSONPath", f"pass values={{{p!r}: ...}}")
                for p in missing
            ],
        )
        parts = self.template.split("{}")
        out = parts[0]
        for p, rest in zip(self.paths, parts[1:], strict=True):
            out += str(values[p]) + rest
        return out


StepArg = str | Arg
"""One element of a step's ``args``: a literal string, or an :class:`Arg` from the execution input."""


def _literal_problems(
    prop: str, value: object, *, fix: str = "use Arg.path(...) or Arg.format(...)"
) -> list[str]:
    if not isinstance(value, str):
        return [problem(prop, value, "is not a string", "pass a str, or an Arg for an execution-input value")]
    if is_unresolved(value):
        return []
    if _LOOKS_LIKE_PATH.search(value):
        return [
            problem(
                prop,
                value,
                "looks like a JSONPath or intrinsic from untyped input; Step Functions would pass it "
                "to EMR literally",
                fix,
            )
        ]
    return []


def _args_problems(prop: str, args: Sequence[object]) -> list[str]:
    out: list[str] = []
    for i, arg in enumerate(args):
        if isinstance(arg, Arg):
            continue  # validated when it was built
        out.extend(_literal_problems(f"{prop}[{i}]", arg))
    return out


def _uri_problem(
    prop: str, value: object, *, schemes: tuple[str, ...], what: str, suffixes: tuple[str, ...] = ()
) -> str:
    if not isinstance(value, str):
        return problem(prop, value, "is not a string", f"pass the {what} as an s3:// URI")
    if is_unresolved(value):
        return ""
    if not value.startswith(schemes) or len(value) <= len(schemes[0]):
        return problem(
            prop, value, f"is not an {' or '.join(schemes)} URI", f"upload the {what} and pass its s3:// URI"
        )
    if suffixes and not value.lower().endswith(suffixes):
        return problem(
            prop, value, f"does not end in {' or '.join(suffixes)}", f"point at the {what} file itself"
        )
    return ""


def spark_conf_key_allowed(key: str, extra_allowed: Iterable[str] = ()) -> bool:
    """True if ``key`` is in :data:`SPARK_CONF_ALLOWED_KEYS`, under an allowed prefix (and names no
    class), or named in ``extra_allowed``."""
    if key in SPARK_CONF_ALLOWED_KEYS or key in set(extra_allowed):
        return True
    return key.startswith(SPARK_CONF_ALLOWED_PREFIXES) and "class" not in key.lower()


def script_runner_jar(region: str) -> str:
    """``s3://<region>.elasticmapreduce/libs/script-runner/script-runner.jar``, EMR's script runner in
    the cluster's region (EMR Release Guide, "Run commands and scripts on an Amazon EMR cluster")."""
    return f"s3://{region}.elasticmapreduce/libs/script-runner/script-runner.jar"


@dataclass(frozen=True, kw_only=True)
class _Step:
    """Fields and renderers every step shares."""

    name: str
    """Step name, 1-256 characters; shown in the EMR console and ``ListSteps``. Used as given."""
    action_on_failure: ActionOnFailure | str = ActionOnFailure.CONTINUE
    """What EMR does if the step fails. Default: ``CONTINUE``."""

    KIND: ClassVar[str] = ""

    def __post_init__(self) -> None:
        self._normalize()
        raise_if_problems(type(self).__name__, self.problems("step"))

    def _normalize(self) -> None:
        if isinstance(self.action_on_failure, str) and self.action_on_failure in ActionOnFailure.__members__:
            object.__setattr__(self, "action_on_failure", ActionOnFailure(self.action_on_failure))

    def problems(self, prop: str) -> list[str]:
        """Pure validator: every problem of this step, each naming prop, value and fix."""
        out: list[str] = []
        if not isinstance(self.name, str) or not 1 <= len(self.name) <= 256:
            out.append(
                problem(
                    f"{prop}.name", self.name, "must be a string of 1-256 characters", "give a short name"
                )
            )
        elif not is_unresolved(self.name):
            out.extend(_literal_problems(f"{prop}.name", self.name, fix="give a fixed name"))
        if self.action_on_failure not in tuple(ActionOnFailure):
            out.append(
                problem(
                    f"{prop}.action_on_failure",
                    self.action_on_failure,
                    "is not an EMR ActionOnFailure (TERMINATE_JOB_FLOW, TERMINATE_CLUSTER, CANCEL_AND_WAIT, "
                    "CONTINUE)",
                    _ACTION_HINT,
                )
            )
        out.extend(self._own_problems(prop))
        return out

    def _own_problems(self, prop: str) -> list[str]:
        raise NotImplementedError

    def jar(self) -> str:
        """``HadoopJarStep.Jar``."""
        return COMMAND_RUNNER_JAR

    def step_args(self) -> tuple[StepArg, ...]:
        """``HadoopJarStep.Args``, with :class:`Arg` elements where values come from the input."""
        raise NotImplementedError

    @property
    def json_paths(self) -> tuple[str, ...]:
        """Every JSONPath the step's arguments read, in order, without repeats."""
        seen: dict[str, None] = {}
        for arg in self.step_args():
            if isinstance(arg, Arg):
                seen.update(dict.fromkeys(arg.paths))
        return tuple(seen)

    def to_step_config(self, values: Mapping[str, str] | None = None) -> dict[str, Any]:
        """EMR ``StepConfig`` for boto3 ``AddJobFlowSteps`` / ``RunJobFlow``.

        Args:
            values: the value of each JSONPath the args read (see :attr:`json_paths`). Default:
                none; a step that reads a path then raises, naming the path.
        """
        given = values or {}
        args = [a.resolve(given) if isinstance(a, Arg) else a for a in self.step_args()]
        return {
            "Name": self.name,
            "ActionOnFailure": str(self.action_on_failure),
            "HadoopJarStep": {"Jar": self.jar(), "Args": args},
        }

    def to_sfn_step(self) -> dict[str, Any]:
        """The ``Step`` object of an ``addStep`` task: ``Args`` when every argument is literal, else
        ``"Args.$": "States.Array(...)"`` with literals quoted and execution-input values as paths."""
        args = self.step_args()
        jar_step: dict[str, Any] = {"Jar": self.jar()}
        if any(isinstance(a, Arg) for a in args):
            items = [a.to_intrinsic() if isinstance(a, Arg) else intrinsic_literal(a) for a in args]
            jar_step["Args.$"] = f"States.Array({', '.join(items)})"
        else:
            jar_step["Args"] = list(args)
        return {"Name": self.name, "ActionOnFailure": str(self.action_on_failure), "HadoopJarStep": jar_step}

    def to_sfn_parameters(self, cluster_id: str | Arg | None = None) -> dict[str, Any]:
        """``Parameters`` of an ``arn:aws:states:::elasticmapreduce:addStep.sync`` task.

        Args:
            cluster_id: where the cluster id comes from: an :class:`Arg` (``"ClusterId.$"``) or a
                literal id or CDK token (``"ClusterId"``). Default: ``Arg.path("$.ClusterId")``, the
                output field of ``createCluster``.
        """
        cid = Arg.path("$.ClusterId") if cluster_id is None else cluster_id
        head: dict[str, Any]
        if isinstance(cid, Arg):
            head = {"ClusterId.$": cid.to_intrinsic()}
        else:
            raise_if_problems("to_sfn_parameters", _literal_problems("cluster_id", cid))
            head = {"ClusterId": cid}
        return {**head, "Step": self.to_sfn_step()}


def _conf_value(value: object) -> object:
    """Spark's string form of a bool or number (``True`` -> ``"true"``); anything else unchanged."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


def _tuple(value: object) -> tuple[Any, ...]:
    if isinstance(value, str | Arg):
        return (value,)
    return tuple(value)  # type: ignore[arg-type]


@dataclass(frozen=True, kw_only=True)
class SparkSubmitStep(_Step):
    """``spark-submit`` through ``command-runner.jar``.

    Either ``main`` (an ``s3://`` ``.py`` or ``.jar``) or ``main_class`` with ``jars`` (the first jar is
    the application jar, the rest go in ``--jars``)::

        SparkSubmitStep(
            name="ingest",
            main="s3://code/jobs/ingest.py",
            py_files=("s3://code/jobs/lib.zip",),
            args=("--input", Arg.path("$.input_uri"), "--output", "s3://work/out/"),
            spark_conf={"spark.executor.memory": "8g", "spark.dynamicAllocation.enabled": "true"},
        )

    Rendered as ``spark-submit --deploy-mode <mode> [--class C] [--conf k=v ...] [--jars ...]
    [--py-files ...] <main> <args>``.
    """

    KIND: ClassVar[str] = "spark"

    main: str | None = None
    """``s3://`` URI of the application, ending in ``.py`` or ``.jar``. Default: none (give
    ``main_class``)."""
    main_class: str | None = None
    """Fully qualified main class in the first of ``jars``. Default: none (give ``main``)."""
    jars: tuple[str, ...] = ()
    """``s3://`` (or ``file:/``) jars. With ``main``: the ``--jars`` list. With ``main_class``: the
    application jar first, then ``--jars``. Default: none."""
    py_files: tuple[str, ...] = ()
    """``s3://`` ``.py``, ``.zip`` or ``.egg`` files for ``--py-files``. Default: none."""
    args: tuple[StepArg, ...] = ()
    """Application arguments: literal strings, or :class:`Arg` for execution-input values. Never a
    secret: pass a secret ARN and fetch it in the job."""
    spark_conf: Mapping[str, str] = field(default_factory=dict)
    """``--conf`` settings (bool and number values become Spark strings). Keys are limited to
    :data:`SPARK_CONF_ALLOWED_KEYS` and :data:`SPARK_CONF_ALLOWED_PREFIXES` plus
    ``extra_allowed_spark_conf``. Default: none (the cluster's ``spark-defaults``)."""
    extra_allowed_spark_conf: tuple[str, ...] = ()
    """Escape hatch: exact ``spark_conf`` keys allowed beyond the allowlist (e.g.
    ``("spark.jars.packages",)``). Name only keys you have reviewed. Never rendered. Default: none."""
    deploy_mode: DeployMode | str = DeployMode.CLUSTER
    """``cluster`` (default) or ``client``."""

    def _normalize(self) -> None:
        super()._normalize()
        for name in ("jars", "py_files", "extra_allowed_spark_conf"):
            object.__setattr__(self, name, _tuple(getattr(self, name)))
        object.__setattr__(self, "args", _tuple(self.args))
        if isinstance(self.spark_conf, Mapping):
            conf = {k: _conf_value(v) for k, v in self.spark_conf.items()}
            object.__setattr__(self, "spark_conf", MappingProxyType(conf))
        if self.deploy_mode in tuple(DeployMode):
            object.__setattr__(self, "deploy_mode", DeployMode(self.deploy_mode))

    def __hash__(self) -> int:
        conf = tuple(self.spark_conf.items()) if isinstance(self.spark_conf, Mapping) else ()
        return hash((self.name, self.main, self.main_class, self.jars, self.py_files, self.args, conf))

    def _own_problems(self, prop: str) -> list[str]:
        out: list[str] = []
        if self.main is not None and self.main_class is not None:
            out.append(
                problem(
                    f"{prop}.main_class",
                    self.main_class,
                    f"is given together with main={self.main!r}",
                    "give main (an s3:// .py or .jar) or main_class with jars, not both",
                )
            )
        elif self.main is None and self.main_class is None:
            out.append(
                problem(f"{prop}.main", None, "is missing", "give main (an s3:// .py or .jar) or main_class")
            )
        if self.main is not None:
            out.append(
                _uri_problem(
                    f"{prop}.main",
                    self.main,
                    schemes=("s3://",),
                    what="application",
                    suffixes=(".py", ".jar"),
                )
            )
        if self.main_class is not None:
            if not isinstance(self.main_class, str) or not re.match(
                r"^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*$", self.main_class
            ):
                out.append(
                    problem(
                        f"{prop}.main_class",
                        self.main_class,
                        "is not a Java class name",
                        "give the fully qualified class, e.g. com.example.Main",
                    )
                )
            if not self.jars:
                out.append(
                    problem(
                        f"{prop}.jars",
                        self.jars,
                        "is empty while main_class is set",
                        "put the application jar first in jars",
                    )
                )
        for i, jar in enumerate(self.jars):
            out.append(
                _uri_problem(
                    f"{prop}.jars[{i}]", jar, schemes=("s3://", "file:/"), what="jar", suffixes=(".jar",)
                )
            )
        for i, py in enumerate(self.py_files):
            out.append(
                _uri_problem(
                    f"{prop}.py_files[{i}]",
                    py,
                    schemes=("s3://",),
                    what="Python file",
                    suffixes=(".py", ".zip", ".egg"),
                )
            )
        out.extend(_args_problems(f"{prop}.args", self.args))
        if not isinstance(self.spark_conf, Mapping):
            out.append(
                problem(
                    f"{prop}.spark_conf",
                    self.spark_conf,
                    "is not a mapping",
                    'pass a dict, e.g. {"spark.executor.memory": "8g"}',
                )
            )
        conf = self.spark_conf if isinstance(self.spark_conf, Mapping) else {}
        for key, value in conf.items():
            if not isinstance(key, str) or not spark_conf_key_allowed(key, self.extra_allowed_spark_conf):
                close = difflib.get_close_matches(str(key), sorted(SPARK_CONF_ALLOWED_KEYS), n=1)
                hint = f"did you mean {close[0]}? Otherwise " if close else ""
                out.append(
                    problem(
                        f"{prop}.spark_conf",
                        key,
                        "is not an allowed Spark setting (keys that load code or change security are "
                        "refused)",
                        f"{hint}set it in the cluster's spark-defaults, or name it in "
                        "extra_allowed_spark_conf after review",
                    )
                )
            out.extend(
                _literal_problems(
                    f"{prop}.spark_conf[{key!r}]",
                    value,
                    fix="pass a literal value; execution-input values go in args",
                )
            )
        if self.deploy_mode not in tuple(DeployMode):
            out.append(
                problem(
                    f"{prop}.deploy_mode",
                    self.deploy_mode,
                    "is not a deploy mode",
                    "use DeployMode.CLUSTER or DeployMode.CLIENT",
                )
            )
        return [p for p in out if p]

    def step_args(self) -> tuple[StepArg, ...]:
        """``spark-submit ...`` as ``HadoopJarStep.Args``."""
        command: list[StepArg] = ["spark-submit", "--deploy-mode", str(self.deploy_mode)]
        if self.main_class is not None:
            command += ["--class", self.main_class]
        for key, value in self.spark_conf.items():
            command += ["--conf", f"{key}={value}"]
        app_jar = self.jars[0] if self.main is None and self.jars else None
        more_jars = self.jars[1:] if app_jar is not None else self.jars
        if more_jars:
            command += ["--jars", ",".join(more_jars)]
        if self.py_files:
            command += ["--py-files", ",".join(self.py_files)]
        command.append(self.main if self.main is not None else str(app_jar))
        command += self.args
        return tuple(command)


@dataclass(frozen=True, kw_only=True)
class HiveScriptStep(_Step):
    """A HiveQL script from S3 through ``command-runner.jar``: ``hive-script --run-hive-script --args
    -f <script> -d NAME=VALUE ...``. In the script, ``${NAME}`` reads a variable."""

    KIND: ClassVar[str] = "hive"

    script: str
    """``s3://`` URI of the HiveQL script."""
    variables: Mapping[str, StepArg] = field(default_factory=dict)
    """``-d NAME=VALUE`` variables, in order; a value may be an :class:`Arg` from the execution input.
    Default: none."""

    def _normalize(self) -> None:
        super()._normalize()
        if isinstance(self.variables, Mapping):
            object.__setattr__(self, "variables", MappingProxyType(dict(self.variables)))

    def __hash__(self) -> int:
        items = tuple(self.variables.items()) if isinstance(self.variables, Mapping) else ()
        return hash((self.name, self.script, items))

    def _own_problems(self, prop: str) -> list[str]:
        out = [_uri_problem(f"{prop}.script", self.script, schemes=("s3://",), what="Hive script")]
        if not isinstance(self.variables, Mapping):
            return [
                *out,
                problem(
                    f"{prop}.variables",
                    self.variables,
                    "is not a mapping",
                    'pass a dict, e.g. {"INPUT": Arg.path("$.input_uri")}',
                ),
            ]
        for key, value in self.variables.items():
            if not (isinstance(key, str) and _HIVE_VARIABLE.match(key)):
                out.append(
                    problem(
                        f"{prop}.variables",
                        key,
                        "is not a Hive variable name",
                        "use letters, digits, _ and ., starting with a letter",
                    )
                )
            if not isinstance(value, Arg):
                out.extend(_literal_problems(f"{prop}.variables[{key!r}]", value))
        return [p for p in out if p]

    def step_args(self) -> tuple[StepArg, ...]:
        """``hive-script --run-hive-script --args -f <script> -d NAME=VALUE ...``."""
        command: list[StepArg] = ["hive-script", "--run-hive-script", "--args", "-f", self.script]
        for key, value in self.variables.items():
            command += ["-d", value.with_prefix(f"{key}=") if isinstance(value, Arg) else f"{key}={value}"]
        return tuple(command)


@dataclass(frozen=True, kw_only=True)
class CommandRunnerStep(_Step):
    """Any command through ``command-runner.jar``, e.g. ``("s3-dist-cp", "--src", ..., "--dest", ...)``.

    The first argument is the program; EMR runs it on the primary node without a shell."""

    KIND: ClassVar[str] = "command"

    args: tuple[StepArg, ...]
    """The command and its arguments; an element may be an :class:`Arg` from the execution input."""

    def _normalize(self) -> None:
        super()._normalize()
        object.__setattr__(self, "args", _tuple(self.args))

    def _own_problems(self, prop: str) -> list[str]:
        if not self.args:
            return [
                problem(f"{prop}.args", self.args, "is empty", 'give the command, e.g. ("s3-dist-cp", ...)')
            ]
        out = _args_problems(f"{prop}.args", self.args)
        if isinstance(self.args[0], Arg):
            out.append(
                problem(
                    f"{prop}.args[0]",
                    self.args[0],
                    "takes the program from the execution input",
                    "name the program literally; pass only its arguments as Arg",
                )
            )
        return out

    def step_args(self) -> tuple[StepArg, ...]:
        """The command as given."""
        return self.args


@dataclass(frozen=True, kw_only=True)
class ScriptRunnerStep(_Step):
    """A shell script from S3 through EMR's ``script-runner.jar`` (see :func:`script_runner_jar`)."""

    KIND: ClassVar[str] = "script"

    script: str
    """``s3://`` URI of the script; it runs on the primary node."""
    region: str
    """The cluster's region (e.g. ``us-east-1`` or ``Stack.of(self).region``): the jar lives in the
    regional ``<region>.elasticmapreduce`` bucket."""
    args: tuple[StepArg, ...] = ()
    """Script arguments; an element may be an :class:`Arg` from the execution input. Default: none."""

    def _normalize(self) -> None:
        super()._normalize()
        object.__setattr__(self, "args", _tuple(self.args))

    def _own_problems(self, prop: str) -> list[str]:
        out = [_uri_problem(f"{prop}.script", self.script, schemes=("s3://",), what="script")]
        if not (isinstance(self.region, str) and (is_unresolved(self.region) or _REGION.match(self.region))):
            out.append(
                problem(
                    f"{prop}.region",
                    self.region,
                    "is not an AWS region",
                    "pass the cluster's region, e.g. us-east-1 or Stack.of(self).region",
                )
            )
        out.extend(_args_problems(f"{prop}.args", self.args))
        return [p for p in out if p]

    def jar(self) -> str:
        """The regional ``script-runner.jar``."""
        return script_runner_jar(self.region)

    def step_args(self) -> tuple[StepArg, ...]:
        """The script URI, then its arguments."""
        return (self.script, *self.args)


_STEP_TYPES: dict[str, type[_Step]] = {
    cls.KIND: cls for cls in (SparkSubmitStep, HiveScriptStep, CommandRunnerStep, ScriptRunnerStep)
}


def _arg_from_json(value: object) -> object:
    if isinstance(value, Mapping):
        if set(value) == {"path"}:
            return Arg.path(value["path"])
        if set(value) == {"format", "paths"}:
            return Arg.format(value["format"], *_tuple(value["paths"]))
    return value


def step_from_dict(
    data: Mapping[str, Any],
) -> SparkSubmitStep | HiveScriptStep | CommandRunnerStep | ScriptRunnerStep:
    """A step from plain data (JSON, YAML): ``{"type": "spark" | "hive" | "command" | "script", ...}``
    with the step class's field names as the other keys.

    An argument from the execution input is ``{"path": "$.x"}`` or ``{"format": "--x={}", "paths":
    ["$.x"]}``. An unknown ``type`` or field is an error naming it and the choices.
    """
    kind = data.get("type") if isinstance(data, Mapping) else None
    cls = _STEP_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        close = difflib.get_close_matches(str(kind), sorted(_STEP_TYPES), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise_if_problems(
            "step_from_dict",
            [
                problem(
                    "type", kind, "is not a step type", f"{hint}use one of {', '.join(sorted(_STEP_TYPES))}"
                )
            ],
        )
        raise AssertionError("unreachable")
    fields = {k: v for k, v in data.items() if k != "type"}
    known = {f.name: f for f in dataclasses.fields(cls)}
    bad = [
        problem(k, fields[k], f"is not a field of {cls.__name__}", f"use {', '.join(sorted(known))}")
        for k in sorted(set(fields) - set(known))
    ]
    bad += [
        problem(name, None, f"is missing for a {kind} step", f"give {name}")
        for name, f in known.items()
        if name not in fields
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    raise_if_problems("step_from_dict", bad)
    if "args" in fields and not isinstance(fields["args"], str):
        fields["args"] = tuple(_arg_from_json(a) for a in fields["args"])
    if "variables" in fields and isinstance(fields["variables"], Mapping):
        fields["variables"] = {k: _arg_from_json(v) for k, v in fields["variables"].items()}
    step = cls(**fields)
    assert isinstance(step, SparkSubmitStep | HiveScriptStep | CommandRunnerStep | ScriptRunnerStep)
    return step
