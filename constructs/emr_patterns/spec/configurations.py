"""Typed EMR configuration classifications, their merge rules, and presets.

A :class:`Configuration` is one classification (``hive-site``, ``spark-defaults``, ...) with string
properties and optional nested classifications (``export`` inside the ``*-env`` ones). Unknown
classification names are errors, so a typo fails at synth instead of being ignored by EMR.

Secrets never appear as values: a property whose key looks like a password, secret or credential
must use EMR's annotation, ``EMR.secret@<key>`` with the Secrets Manager secret ARN as the value.
EMR strips the annotation, fetches the (plaintext) secret and shows only the ARN in
``DescribeCluster``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from emr_patterns.errors import problem, raise_if_problems

__all__ = [
    "SECRET_ANNOTATION",
    "Classification",
    "Configuration",
    "JdbcDriver",
    "configuration_conflicts",
    "env_exports",
    "external_hive_metastore",
    "glue_data_catalog",
    "hbase_on_s3",
    "hive_acid",
    "hiveserver2_ldap",
    "is_secret_reference",
    "is_unresolved",
    "looks_secret",
    "merge_configurations",
    "secret_property",
    "secret_value_problems",
]

SECRET_ANNOTATION = "EMR.secret@"
"""Prefix EMR reads on a property key: the value is a Secrets Manager secret ARN to fetch."""

_SECRET_KEY = re.compile(
    r"(password|passwd|passphrase|secret|credential|private[._-]?key|access[._-]?key|token"
    r"|(^|[._-])(bind)?pw$)",
    re.IGNORECASE,
)
# Keys that name a mechanism rather than hold a secret (provider classes, paths, switches, timings).
_NOT_A_SECRET = re.compile(
    r"[._-](provider|providers|class|classname|file|path|location|dir|enabled|enable|type|expiry|ttl"
    r"|timeout|interval|manager|lifetime|kind|mode|size|alias|principal|keytab|method|mechanism|user"
    r"|username|renew|renewer)$",
    re.IGNORECASE,
)
_SECRET_ARN = re.compile(r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$")


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


def is_unresolved(value: object) -> bool:
    """True if ``value`` is a string holding a CDK token (resolved only at synth/deploy time)."""
    return isinstance(value, str) and ("${Token[" in value or "#{Token[" in value or "Token[TOKEN." in value)


def looks_secret(key: str) -> bool:
    """True if a property key looks like it holds a password, secret or credential."""
    bare = key[len(SECRET_ANNOTATION) :] if key.startswith(SECRET_ANNOTATION) else key
    return bool(_SECRET_KEY.search(bare)) and not _NOT_A_SECRET.search(bare)


def is_secret_reference(value: str) -> bool:
    """True if ``value`` is a Secrets Manager secret ARN (or a CDK token standing for one)."""
    return bool(_SECRET_ARN.match(value)) or is_unresolved(value)


def secret_property(key: str, secret_arn: str) -> dict[str, str]:
    """``{"EMR.secret@<key>": secret_arn}``: a property EMR fills from Secrets Manager at launch."""
    return {f"{SECRET_ANNOTATION}{key}": secret_arn}


def secret_value_problems(classification: str, properties: Mapping[str, str], *, prop: str) -> list[str]:
    """Problems for secret-looking keys with literal values, and annotations that are not ARNs."""
    problems: list[str] = []
    for key, value in properties.items():
        where = f"{prop}[{classification}][{key}]"
        if key.startswith(SECRET_ANNOTATION):
            if not is_secret_reference(value):
                problems.append(
                    problem(
                        where,
                        "<redacted>",
                        "an EMR.secret@ key must hold a Secrets Manager secret ARN",
                        "set the value to the secret's full ARN (arn:aws:secretsmanager:...:secret:...)",
                    )
                )
        elif looks_secret(key) and value != "":
            problems.append(
                problem(
                    where,
                    "<redacted>",
                    "looks like a password, secret or credential but has a literal value, which "
                    "DescribeCluster would show in plaintext",
                    f"store it in Secrets Manager (plaintext secret) and use "
                    f"secret_property({key!r}, secret_arn), i.e. key '{SECRET_ANNOTATION}{key}'",
                )
            )
    return problems


def _as_property_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    raise TypeError(f"configuration property values must be str, int, float or bool, not {type(value)}")


@dataclass(frozen=True)
class Configuration:
    """One EMR configuration classification.

    Raises :class:`~emr_patterns.errors.EmrPatternsValidationError` for an unknown classification or
    a secret-looking key with a literal value. ``export`` is only valid nested in a ``*-env``
    classification; the cluster spec rejects it at the top level.
    """

    classification: str
    """Classification name, e.g. ``Classification.HIVE_SITE`` or ``"hive-site"``."""
    properties: Mapping[str, Any] = field(default_factory=dict)
    """Properties; bool, int and float values are stored as EMR strings (``True`` -> ``"true"``)."""
    configurations: tuple[Configuration, ...] = ()
    """Nested classifications, e.g. ``export`` inside ``spark-env``."""

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
        problems.extend(secret_value_problems(name, props, prop="properties"))
        nested = tuple(self.configurations)
        for child in nested:
            if not isinstance(child, Configuration):
                problems.append(
                    problem(
                        "configurations", child, "is not a Configuration", "wrap it in Configuration(...)"
                    )
                )
        raise_if_problems(f"Configuration({name})", problems)
        object.__setattr__(self, "classification", name)
        object.__setattr__(self, "properties", MappingProxyType(props))
        object.__setattr__(self, "configurations", nested)

    def __hash__(self) -> int:
        return hash((self.classification, tuple(sorted(self.properties.items())), self.configurations))

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


def env_exports(classification: str, exports: Mapping[str, Any]) -> Configuration:
    """A ``*-env`` classification whose nested ``export`` sets environment variables.

    Example: ``env_exports("spark-env", {"PYSPARK_PYTHON": "/usr/bin/python3"})``.
    """
    return Configuration(classification, {}, (Configuration("export", exports),))


def _bare(key: str) -> str:
    return key[len(SECRET_ANNOTATION) :] if key.startswith(SECRET_ANNOTATION) else key


def _merge(configs: Iterable[Configuration], path: str, problems: list[str]) -> tuple[Configuration, ...]:
    order: list[str] = []
    props: dict[str, dict[str, str]] = {}
    children: dict[str, list[Configuration]] = {}
    for config in configs:
        name = config.classification
        if name not in props:
            order.append(name)
            props[name] = {}
            children[name] = []
        merged = props[name]
        for key, value in config.properties.items():
            clash = next((k for k in merged if _bare(k) == _bare(key)), None)
            if clash is not None and (clash != key or merged[clash] != value):
                shown_old = "<redacted>" if looks_secret(clash) else merged[clash]
                shown_new = "<redacted>" if looks_secret(key) else value
                problems.append(
                    problem(
                        f"{path}[{name}][{_bare(key)}]",
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
        )
        for name in order
    )


def configuration_conflicts(configs: Iterable[Configuration], *, prop: str = "configurations") -> list[str]:
    """Problems for the same property set to different values (pure validator)."""
    problems: list[str] = []
    _merge(configs, prop, problems)
    return problems


def merge_configurations(
    *groups: Configuration | Iterable[Configuration], prop: str = "configurations"
) -> tuple[Configuration, ...]:
    """Merge configurations by classification, keeping first-seen order.

    The same key with the same value merges silently; with different values it is an error
    (raised once, listing every conflict).
    """
    flat: list[Configuration] = []
    for group in groups:
        if isinstance(group, Configuration):
            flat.append(group)
        else:
            flat.extend(group)
    problems: list[str] = []
    merged = _merge(flat, prop, problems)
    raise_if_problems("merge_configurations", problems)
    return merged


# --------------------------------------------------------------------------------------------------
# Presets
# --------------------------------------------------------------------------------------------------

HIVE_TXN_MANAGER = "org.apache.hadoop.hive.ql.lockmgr.DbTxnManager"
"""Transaction manager that turns on Hive ACID."""
GLUE_CLIENT_FACTORY = "com.amazonaws.glue.catalog.metastore.AWSGlueDataCatalogHiveClientFactory"
"""Metastore client factory that makes Hive/Spark use the AWS Glue Data Catalog."""


def hive_acid(
    *, compactor_initiator: bool = True, compactor_worker_threads: int = 1
) -> tuple[Configuration, ...]:
    """hive-site for Hive ACID transactions (EMR 6.1.0+; not with the Glue Data Catalog).

    Args:
        compactor_initiator: run the compaction initiator here. Default True. Run it on one
            long-lived cluster only; set False on transient clusters sharing the metastore.
        compactor_worker_threads: compaction worker threads (0 turns workers off). Default 1.
    """
    raise_if_problems(
        "hive_acid",
        []
        if compactor_worker_threads >= 0
        else [
            problem(
                "compactor_worker_threads", compactor_worker_threads, "must be >= 0", "use 0 or more threads"
            )
        ],
    )
    return (
        Configuration(
            Classification.HIVE_SITE,
            {
                "hive.support.concurrency": True,
                "hive.exec.dynamic.partition.mode": "nonstrict",
                "hive.txn.manager": HIVE_TXN_MANAGER,
                "hive.compactor.initiator.on": compactor_initiator,
                "hive.compactor.worker.threads": compactor_worker_threads,
            },
        ),
    )


class JdbcDriver(StrEnum):
    """JDBC driver class for an external Hive metastore on MySQL/Aurora MySQL."""

    MARIADB = "org.mariadb.jdbc.Driver"
    """MariaDB Connector/J, which EMR ships for the Hive metastore (default)."""
    MYSQL = "com.mysql.cj.jdbc.Driver"
    """MySQL Connector/J 8 (bring the jar with a bootstrap action)."""


_TLS_PARAMS = {
    JdbcDriver.MARIADB: {"useSSL": "true", "trustServerCertificate": "false"},
    JdbcDriver.MYSQL: {"sslMode": "VERIFY_IDENTITY"},
}


def jdbc_url_uses_tls(url: str) -> bool:
    """True if a ``jdbc:mysql://`` URL turns TLS on with certificate checks."""
    query = url.partition("?")[2].lower()
    params = dict(p.partition("=")[::2] for p in query.split("&") if p)
    if params.get("trustservercertificate") == "true":
        return False
    return (
        params.get("usessl") == "true"
        or params.get("requiressl") == "true"
        or params.get("sslmode") in {"verify-ca", "verify-full", "verify_ca", "verify_identity"}
    )


def external_hive_metastore(
    *,
    host: str,
    password_secret_arn: str,
    port: int = 3306,
    database: str = "hive",
    user: str = "hive",
    driver: JdbcDriver = JdbcDriver.MARIADB,
    server_ca_path: str | None = None,
) -> tuple[Configuration, ...]:
    """hive-site pointing at an external MySQL/Aurora MySQL metastore over JDBC with TLS.

    The password is never a literal: EMR fetches it from Secrets Manager
    (``EMR.secret@javax.jdo.option.ConnectionPassword``). The secret must be a *plaintext* secret.

    Args:
        host: database endpoint (may be a CDK token).
        password_secret_arn: ARN of the plaintext Secrets Manager secret with the password.
        port: database port. Default 3306.
        database: schema name. Default ``hive`` (created if missing).
        user: database user. Default ``hive``.
        driver: JDBC driver class. Default MariaDB Connector/J (shipped by EMR).
        server_ca_path: path on the nodes of the CA bundle to verify the server certificate
            (e.g. the RDS global bundle fetched by a bootstrap action). Default: the JVM trust store.
    """
    problems: list[str] = []
    if not is_secret_reference(password_secret_arn):
        problems.append(
            problem(
                "password_secret_arn",
                "<redacted>",
                "is not a Secrets Manager secret ARN; a literal password would be visible in DescribeCluster",
                "pass secret.secret_arn of a plaintext Secrets Manager secret",
            )
        )
    if not (is_unresolved(port) or (isinstance(port, int) and 1 <= port <= 65535)):
        problems.append(problem("port", port, "is not a TCP port", "use 1-65535"))
    if not host:
        problems.append(problem("host", host, "is empty", "pass the database endpoint address"))
    raise_if_problems("external_hive_metastore", problems)
    params = dict(_TLS_PARAMS[JdbcDriver(driver)])
    if server_ca_path:
        params["serverSslCert" if driver is JdbcDriver.MARIADB else "trustCertificateKeyStoreUrl"] = (
            server_ca_path if driver is JdbcDriver.MARIADB else f"file:{server_ca_path}"
        )
    query = "&".join(["createDatabaseIfNotExist=true", *(f"{k}={v}" for k, v in params.items())])
    return (
        Configuration(
            Classification.HIVE_SITE,
            {
                "javax.jdo.option.ConnectionURL": f"jdbc:mysql://{host}:{port}/{database}?{query}",
                "javax.jdo.option.ConnectionDriverName": str(driver),
                "javax.jdo.option.ConnectionUserName": user,
                **secret_property("javax.jdo.option.ConnectionPassword", password_secret_arn),
            },
        ),
    )


def glue_data_catalog(*, catalog_id: str | None = None, spark: bool = True) -> tuple[Configuration, ...]:
    """hive-site (and spark-hive-site) using the AWS Glue Data Catalog as the metastore.

    Args:
        catalog_id: account id of the Glue catalog when it is in another account. Default: this account.
        spark: also configure Spark SQL (``spark-hive-site``). Default True.
    """
    props: dict[str, str] = {"hive.metastore.client.factory.class": GLUE_CLIENT_FACTORY}
    if catalog_id:
        props["hive.metastore.glue.catalogid"] = catalog_id
    configs = [Configuration(Classification.HIVE_SITE, props)]
    if spark:
        configs.append(Configuration(Classification.SPARK_HIVE_SITE, props))
    return tuple(configs)


def hiveserver2_ldap(
    *,
    url: str,
    base_dn: str | None = None,
    domain: str | None = None,
    bind_dn: str | None = None,
    bind_password_secret_arn: str | None = None,
) -> tuple[Configuration, ...]:
    """hive-site for HiveServer2 LDAP authentication, for releases before EMR-native LDAP (6.12).

    From EMR 6.12 prefer LDAP in the security configuration (the cluster spec warns). HiveServer2
    itself must use TLS (``hive.server2.use.SSL``), and the directory must be ``ldaps://``.

    Args:
        url: ``ldaps://host:636`` of the directory.
        base_dn: base DN for user search, e.g. ``ou=users,dc=example,dc=com``.
        domain: Active Directory domain, as an alternative to ``base_dn``.
        bind_dn: DN used to search the directory (Hive 3.1.3+), optional.
        bind_password_secret_arn: Secrets Manager ARN of the bind password; required with ``bind_dn``.
    """
    problems: list[str] = []
    if not (is_unresolved(url) or url.lower().startswith("ldaps://")):
        problems.append(
            problem(
                "url",
                url,
                "is not ldaps://, so passwords would cross the network in clear",
                "use ldaps://host:636",
            )
        )
    if not base_dn and not domain:
        problems.append(problem("base_dn/domain", None, "neither is set", "set base_dn (or domain for AD)"))
    if bind_dn and not bind_password_secret_arn:
        problems.append(
            problem(
                "bind_password_secret_arn", None, "bind_dn needs a bind password", "pass the secret's ARN"
            )
        )
    if bind_password_secret_arn and not is_secret_reference(bind_password_secret_arn):
        problems.append(
            problem(
                "bind_password_secret_arn",
                "<redacted>",
                "is not a Secrets Manager secret ARN",
                "pass secret.secret_arn of a plaintext secret",
            )
        )
    raise_if_problems("hiveserver2_ldap", problems)
    props: dict[str, str] = {
        "hive.server2.authentication": "LDAP",
        "hive.server2.authentication.ldap.url": url,
        "hive.server2.use.SSL": "true",
    }
    if base_dn:
        props["hive.server2.authentication.ldap.baseDN"] = base_dn
    if domain:
        props["hive.server2.authentication.ldap.Domain"] = domain
    if bind_dn and bind_password_secret_arn:
        props["hive.server2.authentication.ldap.binddn"] = bind_dn
        props.update(secret_property("hive.server2.authentication.ldap.bindpw", bind_password_secret_arn))
    return (Configuration(Classification.HIVE_SITE, props),)


def hbase_on_s3(*, root_dir: str, read_replica: bool = False) -> tuple[Configuration, ...]:
    """hbase-site and hbase for HBase with its root directory on Amazon S3.

    Args:
        root_dir: ``s3://bucket/prefix`` for HBase data.
        read_replica: run this cluster as a read replica of another cluster on the same root dir.
    """
    if not (is_unresolved(root_dir) or re.match(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$", root_dir)):
        raise_if_problems(
            "hbase_on_s3",
            [problem("root_dir", root_dir, "is not an s3:// URI", "use s3://<bucket>/<prefix>")],
        )
    hbase_props: dict[str, str] = {"hbase.emr.storageMode": "s3"}
    if read_replica:
        hbase_props["hbase.emr.readreplica.enabled"] = "true"
    return (
        Configuration(Classification.HBASE_SITE, {"hbase.rootdir": root_dir}),
        Configuration(Classification.HBASE, hbase_props),
    )


# --------------------------------------------------------------------------------------------------
# Detection, used by the cluster spec's cross-checks
# --------------------------------------------------------------------------------------------------


def _props(configs: Iterable[Configuration], classification: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for config in configs:
        if config.classification == classification:
            out.update({_bare(k): v for k, v in config.properties.items()})
    return out


def uses_hive_acid(configs: Iterable[Configuration]) -> bool:
    """True if hive-site turns on the ACID transaction manager."""
    return _props(configs, "hive-site").get("hive.txn.manager") == HIVE_TXN_MANAGER


def uses_glue_catalog(configs: Iterable[Configuration]) -> bool:
    """True if hive-site or spark-hive-site use the Glue Data Catalog client factory."""
    configs = tuple(configs)
    return any(
        _props(configs, name).get("hive.metastore.client.factory.class") == GLUE_CLIENT_FACTORY
        for name in ("hive-site", "spark-hive-site")
    )


def external_metastore_url(configs: Iterable[Configuration]) -> str | None:
    """The external metastore JDBC URL set in hive-site, if any."""
    return _props(configs, "hive-site").get("javax.jdo.option.ConnectionURL")


def uses_hiveserver2_ldap(configs: Iterable[Configuration]) -> bool:
    """True if hive-site sets HiveServer2 authentication to LDAP."""
    return _props(configs, "hive-site").get("hive.server2.authentication", "").upper() == "LDAP"


def hbase_storage_mode(configs: Iterable[Configuration]) -> str:
    """``s3`` if HBase keeps its root dir on S3, else ``hdfs``."""
    return _props(configs, "hbase").get("hbase.emr.storageMode", "hdfs").lower()
