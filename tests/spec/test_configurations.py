"""Configuration classifications: names, secrets, merging and presets."""

from __future__ import annotations

import pytest

from emr_patterns.spec import (
    SECRET_ANNOTATION,
    Classification,
    Configuration,
    JdbcDriver,
    configuration_conflicts,
    env_exports,
    external_hive_metastore,
    glue_data_catalog,
    hbase_on_s3,
    hive_acid,
    hiveserver2_ldap,
    looks_secret,
    merge_configurations,
    secret_property,
)

from .conftest import SECRET_ARN


def test_configuration_renders_api_and_cfn_shapes() -> None:
    config = env_exports(Classification.SPARK_ENV, {"PYSPARK_PYTHON": "/usr/bin/python3"})
    assert config.to_api() == {
        "Classification": "spark-env",
        "Configurations": [
            {"Classification": "export", "Properties": {"PYSPARK_PYTHON": "/usr/bin/python3"}}
        ],
    }
    assert config.to_cfn()["Configurations"][0]["ConfigurationProperties"] == {
        "PYSPARK_PYTHON": "/usr/bin/python3"
    }
    typed = Configuration(
        "spark-defaults", {"spark.dynamicAllocation.enabled": True, "spark.executor.cores": 4}
    )
    assert dict(typed.properties) == {"spark.dynamicAllocation.enabled": "true", "spark.executor.cores": "4"}
    assert hash(typed) == hash(Configuration("spark-defaults", dict(typed.properties)))


@pytest.mark.parametrize("name", ["spark-default", "hive_site", "hbase-sites", "yarn"])
def test_unknown_classification_name(name: str, raises_problem) -> None:
    raises_problem(
        lambda: Configuration(name, {"a": "b"}), prop="classification", value=name, says="not an EMR"
    )


def test_every_known_classification_is_accepted() -> None:
    for member in Classification:
        assert Configuration(member, {}).classification == member.value


@pytest.mark.parametrize(
    "key",
    [
        "javax.jdo.option.ConnectionPassword",
        "fs.s3a.secret.key",
        "fs.s3a.access.key",
        "spark.authenticate.secret",
        "hive.server2.authentication.ldap.bindpw",
        "ssl.server.keystore.password",
        "my.api.token",
        "db.credentials",
    ],
)
def test_secret_looking_key_with_literal_value(key: str, raises_problem) -> None:
    err = raises_problem(
        lambda: Configuration("core-site", {key: "hunter2"}),
        prop=f"properties[core-site][{key}]",
        value="<redacted>",
    )
    assert "hunter2" not in str(err), "the literal secret must not be echoed"
    assert SECRET_ANNOTATION in str(err)


@pytest.mark.parametrize(
    "key",
    [
        "fs.s3a.aws.credentials.provider",
        "hadoop.security.credential.provider.path",
        "hive.server2.authentication",
        "spark.authenticate.enableSaslEncryption",
        "yarn.resourcemanager.delegation.token.renew-interval",
        "hbase.security.authentication",
    ],
)
def test_keys_that_only_name_a_mechanism_are_not_secrets(key: str) -> None:
    assert not looks_secret(key)
    Configuration("core-site", {key: "org.example.Thing"})


# ---- the escape hatch for keys the secret check flags wrongly ----------------------------------

FALSE_POSITIVE = "hadoop.security.token.service.use_ip"


def test_flagged_key_error_names_the_escape_hatch(raises_problem) -> None:
    assert looks_secret(FALSE_POSITIVE)
    err = raises_problem(
        lambda: Configuration("core-site", {FALSE_POSITIVE: "false"}),
        prop=f"properties[core-site][{FALSE_POSITIVE}]",
        says="looks like a password",
    )
    assert f"not_secret_keys=({FALSE_POSITIVE!r},)" in str(err)
    assert "secret_property(" in str(err)


def test_not_secret_keys_allows_the_literal_and_is_not_rendered() -> None:
    config = Configuration("core-site", {FALSE_POSITIVE: False}, not_secret_keys=(FALSE_POSITIVE,))
    assert config.properties == {FALSE_POSITIVE: "false"}
    assert config.to_api() == {"Classification": "core-site", "Properties": {FALSE_POSITIVE: "false"}}
    assert config.to_cfn() == {
        "Classification": "core-site",
        "ConfigurationProperties": {FALSE_POSITIVE: "false"},
    }
    assert Configuration("core-site", {FALSE_POSITIVE: "false"}, not_secret_keys=FALSE_POSITIVE) == config


def test_not_secret_keys_covers_only_the_keys_it_names(raises_problem) -> None:
    raises_problem(
        lambda: Configuration(
            "core-site",
            {FALSE_POSITIVE: "false", "fs.s3a.secret.key": "hunter2"},
            not_secret_keys=(FALSE_POSITIVE,),
        ),
        prop="properties[core-site][fs.s3a.secret.key]",
        says="looks like a password",
    )
    raises_problem(
        lambda: Configuration("core-site", {FALSE_POSITIVE: "false"}, not_secret_keys=("hadoop.typo",)),
        prop="not_secret_keys",
        value="hadoop.typo",
        says="not a key of properties",
    )


def test_not_secret_keys_survive_merging_and_env_exports() -> None:
    merged = merge_configurations(
        Configuration("core-site", {FALSE_POSITIVE: "false"}, not_secret_keys=(FALSE_POSITIVE,)),
        Configuration("core-site", {"fs.trash.interval": "60"}),
        env_exports("hadoop-env", {"MY_TOKEN_FILE_FLAG": "1"}, not_secret_keys=("MY_TOKEN_FILE_FLAG",)),
        env_exports("hadoop-env", {"JAVA_HOME": "/usr/lib/jvm/java-17"}),
    )
    assert looks_secret("MY_TOKEN_FILE_FLAG")
    assert dict(merged[0].properties) == {FALSE_POSITIVE: "false", "fs.trash.interval": "60"}
    assert merged[0].not_secret_keys == (FALSE_POSITIVE,)
    assert merged[1].configurations[0].not_secret_keys == ("MY_TOKEN_FILE_FLAG",)


def test_secret_annotation_needs_an_arn(raises_problem) -> None:
    ok = Configuration("hive-site", secret_property("javax.jdo.option.ConnectionPassword", SECRET_ARN))
    assert ok.properties == {f"{SECRET_ANNOTATION}javax.jdo.option.ConnectionPassword": SECRET_ARN}
    raises_problem(
        lambda: Configuration(
            "hive-site", {f"{SECRET_ANNOTATION}javax.jdo.option.ConnectionPassword": "hunter2"}
        ),
        prop=f"properties[hive-site][{SECRET_ANNOTATION}javax.jdo.option.ConnectionPassword]",
        says="secret ARN",
    )
    token = Configuration("hive-site", secret_property("x.password", "${Token[TOKEN.123]}"))
    assert token.properties


def test_merge_combines_and_dedupes() -> None:
    merged = merge_configurations(
        Configuration("spark-defaults", {"a": "1"}),
        [Configuration("spark-defaults", {"b": "2", "a": "1"}), Configuration("hive-site", {"c": "3"})],
        env_exports("spark-env", {"X": "1"}),
        env_exports("spark-env", {"Y": "2"}),
    )
    assert [c.classification for c in merged] == ["spark-defaults", "hive-site", "spark-env"]
    assert dict(merged[0].properties) == {"a": "1", "b": "2"}
    assert dict(merged[2].configurations[0].properties) == {"X": "1", "Y": "2"}


def test_merge_conflict_is_an_error(raises_problem) -> None:
    err = raises_problem(
        lambda: merge_configurations(
            Configuration("spark-defaults", {"spark.executor.memory": "4g", "ok": "1"}),
            Configuration("spark-defaults", {"spark.executor.memory": "8g", "ok": "1"}),
            env_exports("spark-env", {"X": "1"}),
            env_exports("spark-env", {"X": "2"}),
        ),
        prop="configurations[spark-defaults][spark.executor.memory]",
        value="8g",
        says="conflicts",
    )
    assert len(err.problems) == 2
    assert any("[spark-env][export][X]" in p for p in err.problems)


def test_conflict_between_annotated_and_plain_key_is_caught() -> None:
    other = "arn:aws:secretsmanager:us-east-1:111122223333:secret:other-AbCdEf"
    problems = configuration_conflicts(
        [
            Configuration("hive-site", secret_property("javax.jdo.option.ConnectionPassword", SECRET_ARN)),
            Configuration("hive-site", secret_property("javax.jdo.option.ConnectionPassword", other)),
        ]
    )
    assert len(problems) == 1 and SECRET_ARN not in problems[0] and "<redacted>" in problems[0]


def test_hive_acid_preset() -> None:
    (site,) = hive_acid(compactor_initiator=False, compactor_worker_threads=0)
    assert site.classification == "hive-site"
    assert site.properties["hive.txn.manager"] == "org.apache.hadoop.hive.ql.lockmgr.DbTxnManager"
    assert site.properties["hive.support.concurrency"] == "true"
    assert site.properties["hive.compactor.initiator.on"] == "false"
    assert site.properties["hive.compactor.worker.threads"] == "0"


def test_hive_acid_bad_threads(raises_problem) -> None:
    raises_problem(lambda: hive_acid(compactor_worker_threads=-1), prop="compactor_worker_threads", value=-1)


def test_external_metastore_uses_tls_and_a_secret() -> None:
    (site,) = external_hive_metastore(
        host="hms.cluster-abc.us-east-1.rds.amazonaws.com", password_secret_arn=SECRET_ARN
    )
    url = site.properties["javax.jdo.option.ConnectionURL"]
    assert url.startswith("jdbc:mysql://hms.cluster-abc.us-east-1.rds.amazonaws.com:3306/hive?")
    assert "useSSL=true" in url and "trustServerCertificate=false" in url
    # MariaDB Connector/J 3.x takes jdbc:mysql: only with permitMysqlScheme; Hive's TxnHandler
    # needs the "MySQL" product name (tests/hive_metastore runs the real metastore on this URL).
    assert "permitMysqlScheme=true" in url and "useMysqlMetadata=true" in url
    assert site.properties["javax.jdo.option.ConnectionDriverName"] == "org.mariadb.jdbc.Driver"
    assert site.properties[f"{SECRET_ANNOTATION}javax.jdo.option.ConnectionPassword"] == SECRET_ARN
    assert not any(k == "javax.jdo.option.ConnectionPassword" for k in site.properties)
    (mysql,) = external_hive_metastore(
        host="db", password_secret_arn=SECRET_ARN, driver=JdbcDriver.MYSQL, server_ca_path="/etc/rds/ca.p12"
    )
    mysql_url = mysql.properties["javax.jdo.option.ConnectionURL"]
    assert "sslMode=VERIFY_IDENTITY" in mysql_url and "permitMysqlScheme" not in mysql_url
    assert "trustCertificateKeyStoreUrl=file:/etc/rds/ca.p12&trustCertificateKeyStoreType=PKCS12" in mysql_url
    (bundle,) = external_hive_metastore(
        host="db", password_secret_arn=SECRET_ARN, server_ca_path="/etc/pki/rds/rds-ca-bundle.pem"
    )
    assert bundle.properties["javax.jdo.option.ConnectionURL"].endswith(
        "trustServerCertificate=false&serverSslCert=/etc/pki/rds/rds-ca-bundle.pem"
    )


def test_mysql_connector_j_is_refused_a_pem_trust_file(raises_problem) -> None:
    err = raises_problem(
        lambda: external_hive_metastore(
            host="db", password_secret_arn=SECRET_ARN, driver=JdbcDriver.MYSQL, server_ca_path="/etc/ca.pem"
        ),
        prop="server_ca_path",
        value="/etc/ca.pem",
    )
    assert "MariaDB driver" in str(err)


def test_external_metastore_rejects_a_literal_password(raises_problem) -> None:
    err = raises_problem(
        lambda: external_hive_metastore(host="db", password_secret_arn="hunter2"),
        prop="password_secret_arn",
        value="<redacted>",
    )
    assert "hunter2" not in str(err)
    raises_problem(
        lambda: external_hive_metastore(host="db", password_secret_arn=SECRET_ARN, port=0), prop="port"
    )


def test_glue_catalog_preset() -> None:
    configs = glue_data_catalog(catalog_id="111122223333")
    assert [c.classification for c in configs] == ["hive-site", "spark-hive-site"]
    assert configs[0].properties["hive.metastore.glue.catalogid"] == "111122223333"
    assert len(glue_data_catalog(spark=False)) == 1


def test_hiveserver2_ldap_preset_and_bad_input(raises_problem) -> None:
    (site,) = hiveserver2_ldap(
        url="ldaps://ad.example.com:636",
        base_dn="ou=users,dc=example,dc=com",
        bind_dn="cn=svc,dc=example,dc=com",
        bind_password_secret_arn=SECRET_ARN,
    )
    assert site.properties["hive.server2.authentication"] == "LDAP"
    assert site.properties["hive.server2.use.SSL"] == "true"
    assert site.properties[f"{SECRET_ANNOTATION}hive.server2.authentication.ldap.bindpw"] == SECRET_ARN
    raises_problem(
        lambda: hiveserver2_ldap(url="ldap://ad:389", base_dn="dc=x"), prop="url", value="ldap://ad:389"
    )
    raises_problem(lambda: hiveserver2_ldap(url="ldaps://ad"), prop="base_dn/domain")
    raises_problem(
        lambda: hiveserver2_ldap(url="ldaps://ad", domain="example.com", bind_dn="cn=svc"),
        prop="bind_password_secret_arn",
    )
    raises_problem(
        lambda: hiveserver2_ldap(
            url="ldaps://ad", domain="x", bind_dn="cn=svc", bind_password_secret_arn="pw"
        ),
        prop="bind_password_secret_arn",
        says="not a Secrets Manager",
    )


def test_hbase_on_s3_preset_and_bad_uri(raises_problem) -> None:
    site, hbase = hbase_on_s3(root_dir="s3://hbase-data-111122223333/root", read_replica=True)
    assert site.properties == {"hbase.rootdir": "s3://hbase-data-111122223333/root"}
    assert hbase.properties == {"hbase.emr.storageMode": "s3", "hbase.emr.readreplica.enabled": "true"}
    raises_problem(lambda: hbase_on_s3(root_dir="hdfs:///hbase"), prop="root_dir", value="hdfs:///hbase")


def test_property_values_must_be_scalars(raises_problem) -> None:
    raises_problem(lambda: Configuration("core-site", {"a": ["x"]}), prop="properties", says="must be str")
