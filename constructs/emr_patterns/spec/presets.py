"""Configuration presets (Hive ACID, external metastore, Glue, LDAP, HBase) and their detection.

Each preset returns a tuple of :class:`~emr_patterns.spec.Configuration` to put in
``ClusterSpec(configurations=...)``. The ``uses_*`` helpers read merged configurations back, for the
cluster spec's cross-checks. Passwords are never literals: presets take Secrets Manager secret ARNs
and use the ``EMR.secret@`` annotation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import StrEnum

from emr_patterns._tokens import is_unresolved, token_str
from emr_patterns.errors import problem, raise_if_problems
from emr_patterns.spec.configurations import Classification, Configuration
from emr_patterns.spec.secrets import bare_key, is_secret_reference, secret_property

__all__ = [
    "GLUE_CLIENT_FACTORY",
    "HIVE_TXN_MANAGER",
    "JdbcDriver",
    "external_hive_metastore",
    "external_metastore_url",
    "glue_data_catalog",
    "hbase_on_s3",
    "hbase_storage_mode",
    "hive_acid",
    "hiveserver2_ldap",
    "jdbc_url_uses_tls",
    "uses_glue_catalog",
    "uses_hive_acid",
    "uses_hiveserver2_ldap",
]


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
        if is_unresolved(compactor_worker_threads) or compactor_worker_threads >= 0
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


#: URL options the MariaDB driver needs for a Hive metastore, harmless where not needed (Connector/J
#: ignores options it does not know):
#: * ``permitMysqlScheme``: Connector/J 3.x refuses EMR's ``jdbc:mysql:`` scheme ("No suitable
#:   driver") unless the URL names it;
#: * ``useMysqlMetadata``: on a MariaDB server (RDS for MariaDB) the driver reports the product
#:   "MariaDB", which Hive 3's TxnHandler rejects ("Unrecognized database product name"); with
#:   it the driver reports "MySQL", as it does on RDS for MySQL anyway.
_DRIVER_PARAMS = {
    JdbcDriver.MARIADB: {"permitMysqlScheme": "true", "useMysqlMetadata": "true"},
    JdbcDriver.MYSQL: {},
}
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
        server_ca_path: path on the nodes of the CA certificates to verify the server
            certificate with. MariaDB driver: a PEM file, one or many certificates (the Amazon RDS
            bundle ``HiveCluster`` installs), rendered as ``serverSslCert``. MySQL Connector/J
            reads no PEM: a JKS or PKCS12 (``.p12``/``.pfx``) trust store, rendered as
            ``trustCertificateKeyStoreUrl`` (and ``...Type=PKCS12`` for those names).
            Default: the JVM trust store.
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
    if (
        server_ca_path
        and JdbcDriver(driver) is JdbcDriver.MYSQL
        and not is_unresolved(server_ca_path)
        and server_ca_path.lower().endswith((".pem", ".crt", ".cer"))
    ):
        problems.append(
            problem(
                "server_ca_path",
                server_ca_path,
                "is a PEM file, which MySQL Connector/J cannot read as a trust store",
                "use the MariaDB driver (the default, which reads PEM) or a JKS/PKCS12 trust store",
            )
        )
    raise_if_problems("external_hive_metastore", problems)
    params = {**_DRIVER_PARAMS[JdbcDriver(driver)], **_TLS_PARAMS[JdbcDriver(driver)]}
    if server_ca_path and JdbcDriver(driver) is JdbcDriver.MARIADB:
        params["serverSslCert"] = server_ca_path
    elif server_ca_path:
        params["trustCertificateKeyStoreUrl"] = f"file:{server_ca_path}"
        if server_ca_path.lower().endswith((".p12", ".pfx")):
            params["trustCertificateKeyStoreType"] = "PKCS12"
    query = "&".join(["createDatabaseIfNotExist=true", *(f"{k}={v}" for k, v in params.items())])
    return (
        Configuration(
            Classification.HIVE_SITE,
            {
                "javax.jdo.option.ConnectionURL": f"jdbc:mysql://{host}:{token_str(port)}/{database}?{query}",
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
            out.update({bare_key(k): v for k, v in config.properties.items()})
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
