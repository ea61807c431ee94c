"""Typed EMR configuration classifications and their merge rules.

A :class:`Configuration` is one classification (``hive-site``, ``spark-defaults``, ...) with string
properties and optional nested classifications (``export`` inside the ``*-env`` ones). Unknown
classification names are errors, so a typo fails at synth instead of being ignored by EMR.

Secret-looking keys with literal values are errors too (:mod:`emr_patterns.spec.secrets`); presets
for Hive ACID, external metastores, Glue, LDAP and HBase are in :mod:`emr_patterns.spec.presets`.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from emr_patterns._tokens import token_str
from emr_patterns.errors import EmrPatternsValidationError, problem, raise_if_problems
from emr_patterns.spec.secrets import bare_key, looks_secret, secret_value_problems

__all__ = [
    "Classification",
    "Configuration",
    "configuration_conflicts",
    "configurations_from",
    "env_exports",
    "merge_configurations",
]


class Classification(StrEnum):
    """EMR configuration classifications this library accepts (EMR 6.x/7.x release guide)."""

    CAPACITY_SCHEDULER = "capacity-scheduler"
    CONTAINER_EXECUTOR = "container-executor"
    CORE_SITE = "core-site"
    DELTA_DEFAULTS = "delta-defaults"
    EMRFS_SITE = "emrfs-site"
    FLINK_CONF = "flink-conf"
    FLINK_LOG4J = "flink-log4j"
    HADOOP_ENV = "hadoop-env"
    HADOOP_KMS_SITE = "hadoop-kms-site"
    HADOOP_LOG4J = "hadoop-log4j"
    HADOOP_SSL_SERVER = "hadoop-ssl-server"
    HADOOP_SSL_CLIENT = "hadoop-ssl-client"
    HBASE = "hbase"
    HBASE_ENV = "hbase-env"
    HBASE_LOG4J = "hbase-log4j"
    HBASE_METRICS = "hbase-metrics"
    HBASE_POLICY = "hbase-policy"
    HBASE_SITE = "hbase-site"
    HCATALOG_CLIENT_JNDI = "hcatalog-client-jndi"
    HCATALOG_SERVER_JNDI = "hcatalog-server-jndi"
    HCATALOG_SERVER_PROPERTIES = "hcatalog-server-proto-hive-site"
    HDFS_ENCRYPTION_ZONES = "hdfs-encryption-zones"
    HDFS_SITE = "hdfs-site"
    HIVE = "hive"
    HIVE_ENV = "hive-env"
    HIVE_EXEC_LOG4J2 = "hive-exec-log4j2"
    HIVE_LOG4J2 = "hive-log4j2"
    HIVE_SITE = "hive-site"
    HIVESERVER2_SITE = "hiveserver2-site"
    HUDI_DEFAULTS = "hudi-defaults"
    HUE_INI = "hue-ini"
    HTTPFS_ENV = "httpfs-env"
    HTTPFS_SITE = "httpfs-site"
    ICEBERG_DEFAULTS = "iceberg-defaults"
    JUPYTER_NOTEBOOK_CONF = "jupyter-notebook-conf"
    JUPYTER_HUB_CONF = "jupyter-hub-conf"
    LIVY_CONF = "livy-conf"
    LIVY_ENV = "livy-env"
    LIVY_LOG4J2 = "livy-log4j2"
    MAPRED_ENV = "mapred-env"
    MAPRED_SITE = "mapred-site"
    OOZIE_ENV = "oozie-env"
    OOZIE_SITE = "oozie-site"
    PHOENIX_HBASE_SITE = "phoenix-hbase-site"
    PIG_PROPERTIES = "pig-properties"
    PRESTO_CONFIG = "presto-config"
    PRESTO_CONNECTOR_HIVE = "presto-connector-hive"
    SPARK = "spark"
    SPARK_DEFAULTS = "spark-defaults"
    SPARK_ENV = "spark-env"
    SPARK_HIVE_SITE = "spark-hive-site"
    SPARK_LOG4J2 = "spark-log4j2"
    SPARK_METRICS = "spark-metrics"
    SQOOP_ENV = "sqoop-env"
    SQOOP_SITE = "sqoop-site"
    TEZ_SITE = "tez-site"
    TRINO_CONFIG = "trino-config"
    TRINO_CONNECTOR_HIVE = "trino-connector-hive"
    TRINO_CONNECTOR_ICEBERG = "trino-connector-iceberg"
    YARN_ENV = "yarn-env"
    YARN_SITE = "yarn-site"
    ZEPPELIN_ENV = "zeppelin-env"
    ZOOKEEPER_CONFIG = "zookeeper-config"


_KNOWN = frozenset(c.value for c in Classification)
_NESTED_ONLY = frozenset({"export"})


def _as_property_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return token_str(value)
    raise TypeError(f"configuration property values must be str, int, float or bool, not {type(value)}")


@dataclass(frozen=True)
class Configuration:
    """One EMR configuration classification.

    Raises :class:`~emr_patterns.errors.EmrPatternsValidationError` for an unknown classification or
    a secret-looking key with a literal value. ``export`` is only valid nested in a ``*-env``
    classification; the cluster spec rejects it at the top level.

    The secret check goes by key name (:func:`~emr_patterns.spec.looks_secret`). A key it flags
    that holds no secret is declared in ``not_secret_keys``::

        Configuration("core-site", {"hadoop.security.token.service.use_ip": "false"},
                      not_secret_keys=("hadoop.security.token.service.use_ip",))
    """

    classification: str
    """Classification name, e.g. ``Classification.HIVE_SITE`` or ``"hive-site"``."""
    properties: Mapping[str, Any] = field(default_factory=dict)
    """Properties; bool, int and float values are stored as EMR strings (``True`` -> ``"true"``)."""
    configurations: tuple[Configuration, ...] = ()
    """Nested classifications, e.g. ``export`` inside ``spark-env``. An object in EMR's JSON shape
    is converted too (see :meth:`from_emr_json`); after construction every item is a Configuration."""
    not_secret_keys: tuple[str, ...] = ()
    """Keys of ``properties`` that look like secrets to the detector but are not, so their literal
    values are allowed (e.g. ``hadoop.security.token.service.use_ip``). Each must be a key of
    ``properties``. Never rendered. Default: none (every secret-looking key is an error)."""

    def __post_init__(self) -> None:
        problems: list[str] = []
        name = str(self.classification)
        if name not in _KNOWN and name not in _NESTED_ONLY:
            close = [k for k in sorted(_KNOWN) if k.split("-")[0] == name.split("-")[0]][:5]
            problems.append(
                problem(
                    "classification",
                    name,
                    "is not an EMR configuration classification",
                    f"use one of Classification (e.g. {', '.join(close) or 'hive-site, spark-defaults'})",
                )
            )
        try:
            props = {str(k): _as_property_value(v) for k, v in dict(self.properties).items()}
        except TypeError as exc:
            problems.append(problem("properties", self.properties, str(exc), "pass strings"))
            props = {}
        allowed = (self.not_secret_keys,) if isinstance(self.not_secret_keys, str) else self.not_secret_keys
        not_secret = tuple(sorted({str(k) for k in allowed}))
        problems.extend(
            problem(
                "not_secret_keys",
                key,
                "is not a key of properties",
                "list only property keys that the secret check flags wrongly",
            )
            for key in not_secret
            if key not in props
        )
        problems.extend(secret_value_problems(name, props, prop="properties", not_secret_keys=not_secret))
        nested_items = (
            (self.configurations,) if isinstance(self.configurations, Mapping) else tuple(self.configurations)
        )
        converted, nested_problems = configurations_from(nested_items, prop="configurations")
        problems.extend(nested_problems)
        nested = tuple(converted)
        raise_if_problems(f"Configuration({name})", problems)
        object.__setattr__(self, "classification", name)
        object.__setattr__(self, "properties", MappingProxyType(props))
        object.__setattr__(self, "configurations", nested)
        object.__setattr__(self, "not_secret_keys", not_secret)

    @classmethod
    def from_emr_json(
        cls, value: Mapping[str, Any] | Iterable[Mapping[str, Any]], *, prop: str = "configurations"
    ) -> tuple[Configuration, ...]:
        """Configurations from EMR's own JSON shape, as the EMR console and docs show it.

        ``value`` is one object or a list of them::

            [{"Classification": "spark-defaults", "Properties": {"spark.executor.memory": "4g"}},
             {"Classification": "spark-env", "Configurations": [
                 {"Classification": "export", "Properties": {"PYSPARK_PYTHON": "/usr/bin/python3"}}]}]

        Keys are ``Classification`` (required), ``Properties`` (or CloudFormation's
        ``ConfigurationProperties``) and ``Configurations`` (nested, converted recursively). Any
        other key (``"classification"``, ``"Props"``) is an error naming EMR's key. Every problem
        of the whole tree is raised at once as :class:`~emr_patterns.errors.EmrPatternsValidationError`.
        """
        items = (value,) if isinstance(value, Mapping) else tuple(value)
        converted, problems = configurations_from(items, prop=prop)
        raise_if_problems("Configuration.from_emr_json", problems)
        return tuple(converted)

    def __hash__(self) -> int:
        return hash(
            (
                self.classification,
                tuple(sorted(self.properties.items())),
                self.configurations,
                self.not_secret_keys,
            )
        )

    def to_api(self) -> dict[str, Any]:
        """RunJobFlow shape: ``{"Classification", "Properties", "Configurations"}``."""
        out: dict[str, Any] = {"Classification": self.classification}
        if self.properties:
            out["Properties"] = dict(self.properties)
        if self.configurations:
            out["Configurations"] = [c.to_api() for c in self.configurations]
        return out

    def to_cfn(self) -> dict[str, Any]:
        """CloudFormation shape: ``{"Classification", "ConfigurationProperties", "Configurations"}``."""
        out: dict[str, Any] = {"Classification": self.classification}
        if self.properties:
            out["ConfigurationProperties"] = dict(self.properties)
        if self.configurations:
            out["Configurations"] = [c.to_cfn() for c in self.configurations]
        return out


_EMR_KEYS = ("Classification", "Properties", "Configurations")
_CFN_PROPERTIES = "ConfigurationProperties"
_ALL_KEYS = (*_EMR_KEYS, _CFN_PROPERTIES)


def _key_fix(key: object) -> str:
    if isinstance(key, str):
        same = next((k for k in _ALL_KEYS if k.lower() == key.lower()), None)
        if same is not None:
            return f"write {same!r}: EMR's keys are case-sensitive"
        close = difflib.get_close_matches(key, _ALL_KEYS, n=1, cutoff=0.4)
        if close:
            return f"did you mean {close[0]!r}? EMR's keys are Classification, Properties and Configurations"
    return "use only the keys Classification, Properties and Configurations"


def _from_emr_json(item: Any, path: str, problems: list[str]) -> Configuration | None:
    if not isinstance(item, Mapping):
        problems.append(
            problem(
                path,
                item,
                f"is a {type(item).__name__}, not a configuration",
                "pass Configuration(...) or {'Classification': ..., 'Properties': {...}}",
            )
        )
        return None
    ok = True
    for key in item:
        if key not in _ALL_KEYS:
            problems.append(
                problem(f"{path}.{key}", key, "is not a key of an EMR configuration", _key_fix(key))
            )
            ok = False
    name = item.get("Classification")
    if not isinstance(name, str) or not name:
        problems.append(
            problem(
                f"{path}.Classification",
                name,
                "is required and must be a classification name",
                "add e.g. 'Classification': 'spark-defaults'",
            )
        )
        ok = False
    if "Properties" in item and _CFN_PROPERTIES in item:
        problems.append(
            problem(
                f"{path}.{_CFN_PROPERTIES}",
                "both",
                "is given together with Properties",
                "keep one (Properties is EMR's key, ConfigurationProperties CloudFormation's)",
            )
        )
        ok = False
    props = item.get("Properties", item.get(_CFN_PROPERTIES, {}))
    if props is None:
        props = {}
    if not isinstance(props, Mapping):
        problems.append(
            problem(
                f"{path}.Properties", props, "must be an object of property names to values", "pass a dict"
            )
        )
        ok = False
    children_raw = item.get("Configurations", [])
    if children_raw is None:
        children_raw = []
    children: list[Configuration] = []
    if isinstance(children_raw, (Mapping, str)) or not isinstance(children_raw, (list, tuple)):
        problems.append(
            problem(
                f"{path}.Configurations",
                children_raw,
                "must be a list of configurations",
                "wrap the nested configuration in a list: 'Configurations': [{...}]",
            )
        )
        ok = False
    else:
        for j, child in enumerate(children_raw):
            if isinstance(child, Configuration):
                children.append(child)
                continue
            converted = _from_emr_json(child, f"{path}.Configurations[{j}]", problems)
            if converted is None:
                ok = False
            else:
                children.append(converted)
    if not ok:
        return None
    try:
        return Configuration(str(name), dict(props), tuple(children))
    except EmrPatternsValidationError as exc:
        problems.extend(f"{path}.{p}" for p in exc.problems)
        return None


def configurations_from(
    items: Iterable[Any], *, prop: str = "configurations"
) -> tuple[list[Configuration], list[str]]:
    """Flatten ``items`` into configurations, and the problems found (pure validator).

    Each item is a :class:`Configuration`, an object in EMR's JSON shape, or an iterable of
    either (a preset's tuple, a list copied from the EMR console). Problems name the path,
    e.g. ``configurations[1][0].Props``.
    """
    flat: list[Configuration] = []
    problems: list[str] = []
    for i, item in enumerate(items):
        where = f"{prop}[{i}]"
        if isinstance(item, Configuration):
            flat.append(item)
        elif isinstance(item, Mapping):
            converted = _from_emr_json(item, where, problems)
            if converted is not None:
                flat.append(converted)
        elif isinstance(item, str) or not isinstance(item, Iterable):
            problems.append(
                problem(
                    where,
                    item,
                    f"is a {type(item).__name__}, not a configuration",
                    "pass Configuration(...), a preset, or {'Classification': ..., 'Properties': {...}}",
                )
            )
        else:
            for j, sub in enumerate(item):
                if isinstance(sub, Configuration):
                    flat.append(sub)
                else:
                    converted = _from_emr_json(sub, f"{where}[{j}]", problems)
                    if converted is not None:
                        flat.append(converted)
    return flat, problems


def env_exports(
    classification: str, exports: Mapping[str, Any], *, not_secret_keys: Iterable[str] = ()
) -> Configuration:
    """A ``*-env`` classification whose nested ``export`` sets environment variables.

    Example: ``env_exports("spark-env", {"PYSPARK_PYTHON": "/usr/bin/python3"})``.
    ``not_secret_keys`` names exported variables that look like secrets but are not
    (see :attr:`Configuration.not_secret_keys`). Default: none.
    """
    return Configuration(
        classification, {}, (Configuration("export", exports, not_secret_keys=tuple(not_secret_keys)),)
    )


def _merge(configs: Iterable[Configuration], path: str, problems: list[str]) -> tuple[Configuration, ...]:
    order: list[str] = []
    props: dict[str, dict[str, str]] = {}
    children: dict[str, list[Configuration]] = {}
    not_secret: dict[str, set[str]] = {}
    for config in configs:
        name = config.classification
        if name not in props:
            order.append(name)
            props[name] = {}
            children[name] = []
            not_secret[name] = set()
        not_secret[name].update(config.not_secret_keys)
        merged = props[name]
        for key, value in config.properties.items():
            clash = next((k for k in merged if bare_key(k) == bare_key(key)), None)
            if clash is not None and (clash != key or merged[clash] != value):
                shown_old = "<redacted>" if looks_secret(clash) else merged[clash]
                shown_new = "<redacted>" if looks_secret(key) else value
                problems.append(
                    problem(
                        f"{path}[{name}][{bare_key(key)}]",
                        shown_new,
                        f"conflicts with the value {shown_old!r} set by another configuration",
                        "set the property once, or pass the same value everywhere",
                    )
                )
                continue
            merged[key] = value
        children[name].extend(config.configurations)
    return tuple(
        Configuration(
            name,
            props[name],
            _merge(children[name], f"{path}[{name}]", problems),
            not_secret_keys=tuple(sorted(not_secret[name] & props[name].keys())),
        )
        for name in order
    )


def configuration_conflicts(configs: Iterable[Configuration], *, prop: str = "configurations") -> list[str]:
    """Problems for the same property set to different values (pure validator)."""
    problems: list[str] = []
    _merge(configs, prop, problems)
    return problems


def merge_configurations(
    *groups: Configuration | Mapping[str, Any] | Iterable[Configuration | Mapping[str, Any]],
    prop: str = "configurations",
) -> tuple[Configuration, ...]:
    """Merge configurations by classification, keeping first-seen order.

    Each group is a :class:`Configuration`, an object in EMR's JSON shape, or an iterable of either.

    The same key with the same value merges silently; with different values it is an error
    (raised once, listing every conflict).
    """
    flat, problems = configurations_from(groups, prop=prop)
    raise_if_problems("merge_configurations", problems)
    merged = _merge(flat, prop, problems)
    raise_if_problems("merge_configurations", problems)
    return merged
