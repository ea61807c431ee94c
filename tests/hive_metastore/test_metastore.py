"""The real Hive 3.1.3 standalone metastore on Java 17, on MariaDB, with the hive-site
``external_hive_metastore`` renders (the one substitution: the ``EMR.secret@`` key gets the test
password, as EMR puts the secret's value there on the nodes). See tests/services.py."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests import services

pytestmark = pytest.mark.slow


def _sql(hms, sql: str) -> list[list[str]]:
    return [line.split("\t") for line in services.mariadb_sql(hms.database, sql).splitlines()]


def test_schematool_made_the_full_3_1_schema_with_the_transaction_tables(hive_metastore):
    assert _sql(hive_metastore, "SELECT SCHEMA_VERSION FROM hive.VERSION") == [["3.1.0"]]
    tables = {r[0] for r in _sql(hive_metastore, "SHOW TABLES IN hive")}
    # Hive ACID (hive_acid preset) needs the TxnHandler tables the JDO auto-create never makes.
    acid = {
        "TXNS",
        "TXN_COMPONENTS",
        "COMPLETED_TXN_COMPONENTS",
        "HIVE_LOCKS",
        "NEXT_TXN_ID",
        "COMPACTION_QUEUE",
        "COMPLETED_COMPACTIONS",
        "TXN_TO_WRITE_ID",
        "NEXT_WRITE_ID",
    }
    assert acid <= tables, sorted(acid - tables)
    assert {"DBS", "TBLS", "SDS", "PARTITIONS", "COLUMNS_V2"} <= tables
    info = services.schematool(hive_metastore.conf_dir, "-info", "-dbType", "mysql")
    assert info.returncode == 0, info.stdout + info.stderr
    assert "Metastore schema version:\t 3.1.0" in info.stdout
    assert "jdbc:mysql://127.0.0.1:" in info.stdout and "useSSL=true" in info.stdout
    # Every table of hive-schema-3.1.0.mysql.sql is there, the sequence and locations are sane.
    valid = services.schematool(hive_metastore.conf_dir, "-validate", "-dbType", "mysql")
    assert valid.returncode == 0, valid.stdout[-3000:] + valid.stderr[-3000:]
    assert "Succeeded in schema table validation." in valid.stdout
    assert "Done with metastore validation: [SUCCESS]" in valid.stdout


def test_the_metastore_user_is_the_rendered_one_and_must_use_tls(hive_metastore):
    site = hive_metastore.site
    rendered = hive_metastore.rendered
    for key in (
        "javax.jdo.option.ConnectionURL",
        "javax.jdo.option.ConnectionDriverName",
        "javax.jdo.option.ConnectionUserName",
    ):
        assert site[key] == rendered[key]
    assert rendered[services.SECRET_KEY] == services.TEST_SECRET_ARN
    assert "javax.jdo.option.ConnectionPassword" not in rendered
    assert rendered["javax.jdo.option.ConnectionDriverName"] == "org.mariadb.jdbc.Driver"
    grants = services.mariadb_sql(hive_metastore.database, "SHOW CREATE USER 'hive'@'%'")
    assert "REQUIRE SSL" in grants
    db = hive_metastore.database
    plain = subprocess.run(
        [
            services.which("mariadb"),
            "-h127.0.0.1",
            f"-P{db.port}",
            "-uhive",
            f"-p{hive_metastore.password}",
            "--skip-ssl",
            "-e",
            "SELECT 1",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert plain.returncode != 0 and "Access denied" in plain.stderr


def _schematool_info_with(hive_metastore, tmp_path, server_ca_path):
    """schematool -info through the URL ``external_hive_metastore`` renders for ``server_ca_path``."""
    from emr_patterns.spec import external_hive_metastore

    (config,) = external_hive_metastore(
        host="127.0.0.1",
        port=hive_metastore.database.port,
        password_secret_arn=services.TEST_SECRET_ARN,
        server_ca_path=server_ca_path,
    )
    site = {
        **hive_metastore.site,
        "javax.jdo.option.ConnectionURL": config.properties["javax.jdo.option.ConnectionURL"],
    }
    conf = tmp_path / "conf"
    conf.mkdir()
    services.write_site_xml(conf / "metastore-site.xml", site)
    return services.schematool(conf, "-info", "-dbType", "mysql", "-verbose")


# Connector/J 3.5's words for a certificate it cannot verify (a JDK trust failure says PKIX).
UNVERIFIED = ("Self signed certificates", "PKIX path building failed", "unable to find valid certification")


@pytest.mark.parametrize("trust", ["jvm-store", "rds-bundle-only"])
def test_the_rendered_url_refuses_a_certificate_it_cannot_verify(hive_metastore, tmp_path, trust):
    """trustServerCertificate=false is real: with the JVM trust store (``server_ca_path=None``) or
    the shipped Amazon RDS CA bundle alone, the driver refuses the test CA's certificate."""
    from emr_patterns.foundation.mysql import rds_ca_bundle_file

    ca_path = None if trust == "jvm-store" else rds_ca_bundle_file()
    info = _schematool_info_with(hive_metastore, tmp_path, ca_path)
    out = info.stdout + info.stderr
    assert info.returncode != 0
    assert any(words in out for words in UNVERIFIED), out[-3000:]


def test_a_many_certificate_bundle_trusts_every_ca_in_it(hive_metastore, tmp_path):
    """``serverSslCert`` naming a multi-certificate file (the shape of the RDS bundle HiveCluster
    installs): the 115 RDS CAs with the test CA last, and the driver verifies the server."""
    from emr_patterns.foundation.mysql import rds_ca_bundle_file

    bundle = tmp_path / "bundle.pem"
    bundle.write_text(Path(rds_ca_bundle_file()).read_text() + hive_metastore.database.ca_pem.read_text())
    info = _schematool_info_with(hive_metastore, tmp_path, str(bundle))
    assert info.returncode == 0, (info.stdout + info.stderr)[-3000:]
    assert "Metastore schema version:\t 3.1.0" in info.stdout


def test_the_metastore_serves_thrift_on_loopback(hive_metastore):
    assert hive_metastore.service.alive()
    assert services.port_open(hive_metastore.port)
    print(f"start-up seconds: {hive_metastore.timings}")
    # The default database HMS made on its first start, in the rendered JDBC database.
    assert ["default"] in _sql(hive_metastore, "SELECT NAME FROM hive.DBS")
