"""Real services for tests: JVM parts resolved by Maven, Debian servers, started once per run.

Every service binds to 127.0.0.1 on a free port, runs in its own process group with its output
in a log file, and is stopped by pid (SIGTERM to the group, then SIGKILL) when the session ends.

Jars come from the resolver projects in ``tests/jvm/<name>/pom.xml``: ``make jvm-deps`` (part of
``make install``) resolves each into the local repository ``.cache/m2`` and writes its runtime
classpath to ``.cache/jvm/<name>.classpath``. Nothing is fetched at test time; a missing
classpath file is an error that names the make target, not a download.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
JVM_CACHE = REPO / ".cache" / "jvm"
#: Java 17 for every JVM part: Java 24+ breaks Hadoop's UserGroupInformation (Subject.getSubject).
JAVA_HOME = Path(os.environ.get("EMR_PATTERNS_JAVA_HOME", "/usr/lib/jvm/java-17-openjdk-amd64"))
#: The module flags HBase's own bin/hbase passes on JDK 11+ (Hadoop and HBase need them on 17).
JDK17_FLAGS = (
    "-Dorg.apache.hbase.thirdparty.io.netty.tryReflectionSetAccessible=true",
    "--add-modules=jdk.unsupported",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens=java.base/java.lang=ALL-UNNAMED",
    "--add-opens=java.base/jdk.internal.ref=ALL-UNNAMED",
    "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED",
    "--add-opens=java.base/java.util=ALL-UNNAMED",
    "--add-opens=java.base/java.util.concurrent=ALL-UNNAMED",
    "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED",
    "--add-exports=java.security.jgss/sun.security.krb5=ALL-UNNAMED",
    "--add-exports=java.base/sun.net.dns=ALL-UNNAMED",
    "--add-exports=java.base/sun.net.util=ALL-UNNAMED",
)


class ServiceUnavailable(RuntimeError):  # noqa: N818 (named for what a test sees)
    """A service could not be set up or did not become ready (the message says why)."""


def java() -> str:
    """The Java 17 launcher."""
    launcher = JAVA_HOME / "bin" / "java"
    if not launcher.exists():
        raise ServiceUnavailable(f"Java 17 not found at {launcher} (set EMR_PATTERNS_JAVA_HOME)")
    return str(launcher)


def java_env(**extra: str) -> dict[str, str]:
    """The environment for a JVM part: Java 17 first on PATH, as JAVA_HOME."""
    env = dict(os.environ)
    env["JAVA_HOME"] = str(JAVA_HOME)
    env["PATH"] = f"{JAVA_HOME / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


def classpath(name: str) -> str:
    """The runtime classpath ``make jvm-deps`` resolved for ``tests/jvm/<name>/pom.xml``."""
    path = JVM_CACHE / f"{name}.classpath"
    if not path.exists():
        raise ServiceUnavailable(f"{path} is missing: run `make jvm-deps` (part of `make install`)")
    return path.read_text().strip()


def jars(name: str) -> list[str]:
    """The jars of :func:`classpath` as a list of paths."""
    return [entry for entry in classpath(name).split(os.pathsep) if entry]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (the caller binds it soon after)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
        return True
    return False


def which(program: str, *extra_dirs: str) -> str:
    """The path of ``program`` on PATH or in ``extra_dirs`` (Debian puts servers in sbin)."""
    search = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin", *extra_dirs])
    found = shutil.which(program, path=search)
    if not found:
        raise ServiceUnavailable(f"{program} not found: run `make debian-deps` (part of `make install`)")
    return found


def aws_cli_sandbox_env(home: Path, bin_dir: Path, endpoint: str, region: str) -> dict[str, str]:
    """The whole environment of a shell script run against moto_server with the venv's real AWS
    CLI: ``bin_dir`` (the test's stand-ins) first on PATH, then the CLI, then the system; home
    and temporary files under ``home``; test credentials only."""
    import sys

    aws = shutil.which("aws", path=str(Path(sys.executable).parent))
    if aws is None:
        raise ServiceUnavailable("the AWS CLI is missing from the venv: run `make install` (dev deps)")
    return {
        "PATH": os.pathsep.join([str(bin_dir), str(Path(aws).parent), "/usr/bin", "/bin"]),
        "HOME": str(home),
        "TMPDIR": str(home),
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": region,
    }


def run_script(script: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run a shipped shell script with bash in exactly ``env``; its exit status is the caller's to check."""
    return subprocess.run(
        ["bash", str(script), *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


@dataclass
class Service:
    """A server process started by a test fixture, stopped by pid."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path
    ports: dict[str, int] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        if not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def wait_until(self, ready: Callable[[], bool], timeout: float, what: str) -> None:
        """Poll ``ready`` until it is true; fail with the log tail if the process dies or time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise ServiceUnavailable(
                    f"{self.name} exited with {self.process.returncode} before {what}:\n{self.log_tail()}"
                )
            with contextlib.suppress(Exception):
                if ready():
                    return
            time.sleep(0.25)
        self.stop()
        raise ServiceUnavailable(f"{self.name}: no {what} within {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self, grace: float = 15.0) -> None:
        """SIGTERM to the process group, SIGKILL after ``grace`` seconds."""
        if not self.alive():
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
            self.process.wait(timeout=5)


def start(
    name: str,
    argv: Sequence[str],
    log_dir: Path,
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    ports: dict[str, int] | None = None,
) -> Service:
    """Start ``argv`` in a new process group with stdout and stderr in ``log_dir/<name>.log``."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            list(argv),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
    return Service(name, process, log, dict(ports or {}))


def run_java(
    cp: str,
    main: str,
    args: Sequence[str],
    *,
    heap: str = "512m",
    properties: dict[str, str] | None = None,
    timeout: float = 300.0,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run one Java main class to completion on Java 17 (a tool, not a server)."""
    argv = [java(), *JDK17_FLAGS, f"-Xmx{heap}"]
    argv += [f"-D{key}={value}" for key, value in (properties or {}).items()]
    argv += ["-cp", cp, main, *args]
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=timeout, env=java_env(), cwd=cwd, check=False
    )


def _as_service_user(argv: list[str], user: str) -> list[str]:
    """Run as ``user`` when we are root (PostgreSQL refuses to run as root); as is otherwise."""
    if os.geteuid() != 0:
        return argv
    return [which("runuser"), "-u", user, "--", *argv]


@dataclass
class Database:
    """A private database server: where it listens and who may log in."""

    service: Service
    host: str
    port: int
    user: str
    password: str
    socket: Path | None = None
    #: The CA that signed the server's TLS certificate, when it offers TLS.
    ca_pem: Path | None = None


def tls_certificates(base: Path, ca_name: str = "emr-patterns test CA") -> tuple[Path, Path, Path]:
    """A test CA named ``ca_name`` and a server certificate for 127.0.0.1/localhost signed by it:
    ``(ca.pem, server.pem, server.key)`` under ``base`` (made with ``cryptography``, valid a day)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ca_name)])
    ca = (
        x509.CertificateBuilder()
        .subject_name(issuer)
        .issuer_name(issuer)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem, cert_pem, key_pem = base / "ca.pem", base / "server.pem", base / "server.key"
    ca_pem.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    key_pem.chmod(0o600)
    return ca_pem, cert_pem, key_pem


def start_mariadb(base: Path, *, timeout: float = 60.0) -> Database:
    """Debian's MariaDB on a free loopback port with its own data directory under ``base``.

    The root account gets a password and TCP access; the caller creates databases and users.
    The server offers TLS (a certificate for 127.0.0.1 from a test CA, :func:`tls_certificates`;
    ``Database.ca_pem``) without requiring it, so ``REQUIRE SSL`` users can log in over TCP as
    on RDS; clients that do not ask for TLS (the JDBC driver's default) connect as before.
    """
    datadir, sock = base / "data", base / "mysqld.sock"
    base.mkdir(parents=True, exist_ok=True)
    ca_pem, cert_pem, key_pem = tls_certificates(base, "emr-patterns test MariaDB CA")
    install = subprocess.run(
        [
            which("mariadb-install-db"),
            f"--datadir={datadir}",
            "--user=root",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if install.returncode != 0:
        raise ServiceUnavailable(f"mariadb-install-db failed:\n{install.stdout}\n{install.stderr}")
    port = free_port()
    service = start(
        "mariadb",
        [
            which("mariadbd"),
            "--no-defaults",
            f"--datadir={datadir}",
            f"--socket={sock}",
            f"--port={port}",
            "--bind-address=127.0.0.1",
            "--user=root",
            f"--pid-file={base / 'mysqld.pid'}",
            "--skip-name-resolve",
            "--innodb-buffer-pool-size=64M",
            "--log-bin=mysql-bin",
            "--binlog-format=ROW",
            "--server-id=1",
            f"--ssl-ca={ca_pem}",
            f"--ssl-cert={cert_pem}",
            f"--ssl-key={key_pem}",
        ],
        base,
        ports={"mysql": port},
    )
    service.wait_until(lambda: sock.exists() and port_open(port), timeout, "MariaDB accepting connections")
    password = "test-root-password"
    client = [which("mariadb"), f"--socket={sock}", "-uroot"]
    sql = (
        f"ALTER USER 'root'@'localhost' IDENTIFIED BY '{password}';"
        f"CREATE OR REPLACE USER 'root'@'127.0.0.1' IDENTIFIED BY '{password}';"
        "GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION; FLUSH PRIVILEGES;"
    )
    done = subprocess.run([*client, "-e", sql], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        service.stop()
        raise ServiceUnavailable(f"MariaDB set-up failed: {done.stderr}")
    return Database(service, "127.0.0.1", port, "root", password, sock, ca_pem)


def _postgres_bin(program: str) -> str:
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{program}"), reverse=True)
    if candidates:
        return str(candidates[0])
    return which(program)


def start_postgres(base: Path, *, timeout: float = 60.0) -> Database:
    """Debian's PostgreSQL on a free loopback port with its own cluster under ``base``.

    As root the server runs as the ``postgres`` account the Debian package creates.
    """
    datadir = base / "data"
    base.mkdir(parents=True, exist_ok=True)
    password = "test-postgres-password"
    pwfile = base / "pwfile"
    pwfile.write_text(password + "\n")
    if os.geteuid() == 0:
        # The postgres account must reach base: pytest's temporary folders are 0700 and root's.
        tmp = Path(tempfile.gettempdir()).resolve()
        for parent in base.resolve().parents:
            if parent == tmp or tmp not in parent.parents:
                break
            parent.chmod(parent.stat().st_mode | 0o011)
        shutil.chown(base, "postgres")
        shutil.chown(pwfile, "postgres")
    init = subprocess.run(
        _as_service_user(
            [
                _postgres_bin("initdb"),
                "-D",
                str(datadir),
                "-U",
                "postgres",
                "--auth=scram-sha-256",
                f"--pwfile={pwfile}",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ],
            "postgres",
        ),
        capture_output=True,
        text=True,
        check=False,
    )
    if init.returncode != 0:
        raise ServiceUnavailable(f"initdb failed:\n{init.stdout}\n{init.stderr}")
    port = free_port()
    service = start(
        "postgres",
        _as_service_user(
            [
                _postgres_bin("postgres"),
                "-D",
                str(datadir),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-k",
                str(base),
                "-c",
                "fsync=off",
                "-c",
                "shared_buffers=32MB",
            ],
            "postgres",
        ),
        base,
        ports={"postgres": port},
    )
    service.wait_until(lambda: port_open(port), timeout, "PostgreSQL accepting connections")
    return Database(service, "127.0.0.1", port, "postgres", password, base)


#: Where ``make .cache/jvm/hive-metastore.classpath`` unpacks the Hive 3.1.3 standalone metastore
#: bin tarball (its pom's execution ``hive-tarball``): lib/ and the schema scripts.
HIVE_METASTORE_HOME = JVM_CACHE / "hive-metastore" / "apache-hive-metastore-3.1.3-bin"
#: The one key of the rendered hive-site the fixture replaces: EMR resolves
#: ``EMR.secret@<key>`` = secret ARN to ``<key>`` = the secret's value on the nodes; here the value
#: is the test password.
SECRET_KEY = "EMR.secret@javax.jdo.option.ConnectionPassword"
#: A well-formed secret ARN to render the preset with (never resolved: see SECRET_KEY).
TEST_SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:hive-metastore-AbCdEf"


@dataclass
class HiveMetastore:
    """A real Hive 3.1.3 metastore (Thrift) on a database of the ``mariadb`` fixture."""

    service: Service
    port: int
    warehouse: Path
    conf_dir: Path
    #: hive-site as the construct renders it (the EMR.secret@ key still an ARN).
    rendered: dict[str, str]
    #: metastore-site.xml as written (the one substitution made).
    site: dict[str, str]
    database: Database
    db_name: str
    user: str
    password: str
    #: Seconds: schematool -initSchema, then the metastore to its Thrift port.
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def uri(self) -> str:
        return f"thrift://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.service.stop()


def hive_metastore_classpath(conf_dir: Path) -> str:
    """``conf_dir``, the tarball's lib/ without guava-19 (it clashes with Hadoop 3.3's guava 27),
    then the Hadoop, guava 27 and MariaDB Connector/J jars of tests/jvm/hive-metastore."""
    lib = HIVE_METASTORE_HOME / "lib"
    if not lib.is_dir():
        raise ServiceUnavailable(
            f"{lib} is missing: run `rm -f .cache/jvm/hive-metastore.classpath && "
            "make .cache/jvm/hive-metastore.classpath` (it unpacks the metastore tarball)"
        )
    tarball = [str(j) for j in sorted(lib.glob("*.jar")) if not j.name.startswith("guava-")]
    return os.pathsep.join([str(conf_dir), *tarball, classpath("hive-metastore")])


def write_site_xml(path: Path, properties: dict[str, str]) -> None:
    """A Hadoop-style ``<configuration>`` file."""
    from xml.sax.saxutils import escape

    rows = "".join(
        f"  <property><name>{escape(k)}</name><value>{escape(str(v))}</value></property>\n"
        for k, v in sorted(properties.items())
    )
    path.write_text(f'<?xml version="1.0"?>\n<configuration>\n{rows}</configuration>\n')


def rendered_hive_site(db: Database, *, database: str = "hive", user: str = "hive") -> dict[str, str]:
    """hive-site exactly as ``external_hive_metastore`` renders it for this server (on EMR the
    same properties reach the nodes), the server CA passed as ``server_ca_path``."""
    from emr_patterns.spec import external_hive_metastore

    (config,) = external_hive_metastore(
        host=db.host,
        port=db.port,
        database=database,
        user=user,
        password_secret_arn=TEST_SECRET_ARN,
        server_ca_path=str(db.ca_pem) if db.ca_pem else None,
    )
    return {str(k): str(v) for k, v in config.properties.items()}


def mariadb_sql(db: Database, sql: str) -> str:
    """Run SQL as root over the server's socket; the output (tab-separated, no headers)."""
    done = subprocess.run(
        [which("mariadb"), f"--socket={db.socket}", "-uroot", f"-p{db.password}", "-N", "-B", "-e", sql],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise ServiceUnavailable(f"MariaDB SQL failed: {done.stderr.strip()}")
    return done.stdout


def schematool(conf_dir: Path, *args: str, timeout: float = 300.0) -> subprocess.CompletedProcess[str]:
    """Hive's MetastoreSchemaTool (``schematool``) with the connection from ``conf_dir``'s
    metastore-site.xml; scripts from the tarball (METASTORE_HOME)."""
    argv = [java(), *JDK17_FLAGS, "-Xmx512m", "-cp", hive_metastore_classpath(conf_dir)]
    argv += ["org.apache.hadoop.hive.metastore.tools.MetastoreSchemaTool", *args]
    return subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=java_env(METASTORE_HOME=str(HIVE_METASTORE_HOME), HIVE_HOME=str(HIVE_METASTORE_HOME)),
        cwd=conf_dir,
        check=False,
    )


def start_hive_metastore(db: Database, base: Path, *, timeout: float = 180.0) -> HiveMetastore:
    """Hive 3.1.3's standalone metastore on ``db`` with the connection our construct renders.

    1. As root: database ``hive`` and user ``hive`` ``REQUIRE SSL`` (the server has TLS), the
       statements :class:`~emr_patterns.patterns.hive.HiveMetastoreDatabase` documents.
    2. metastore-site.xml = :func:`rendered_hive_site` (JDBC URL, driver, user) with the one
       substitution :data:`SECRET_KEY` -> ``javax.jdo.option.ConnectionPassword`` = the test
       password, plus the local server's settings (Thrift port, warehouse under ``base``,
       schema verification on).
    3. ``schematool -initSchema -dbType mysql`` (the full 3.1.0 schema, TXN tables included).
    4. ``HiveMetaStore`` on Java 17 with the module flags, waited for on its Thrift port.
    """
    db_name, user, password = "hive", "hive", "test-hive-password"
    mariadb_sql(
        db,
        f"CREATE DATABASE IF NOT EXISTS {db_name};"
        f"CREATE OR REPLACE USER '{user}'@'%' IDENTIFIED BY '{password}'"
        f"{' REQUIRE SSL' if db.ca_pem else ''};"
        f"GRANT ALL ON {db_name}.* TO '{user}'@'%'; FLUSH PRIVILEGES;",
    )
    conf_dir, warehouse = base / "conf", base / "warehouse"
    conf_dir.mkdir(parents=True, exist_ok=True)
    warehouse.mkdir(parents=True, exist_ok=True)
    rendered = rendered_hive_site(db, database=db_name, user=user)
    site = {k: v for k, v in rendered.items() if k != SECRET_KEY}
    if SECRET_KEY not in rendered:
        raise ServiceUnavailable(f"the rendered hive-site has no {SECRET_KEY}: {sorted(rendered)}")
    site["javax.jdo.option.ConnectionPassword"] = password
    port = free_port()
    site.update(
        {
            "metastore.thrift.uris": f"thrift://127.0.0.1:{port}",
            "metastore.thrift.port": str(port),
            "metastore.warehouse.dir": warehouse.as_uri(),
            "metastore.schema.verification": "true",
            "datanucleus.schema.autoCreateAll": "false",
            # The default proxy is hive-exec's (not in the standalone metastore).
            "metastore.expression.proxy": "org.apache.hadoop.hive.metastore.DefaultPartitionExpressionProxy",
            # The default list names repl.DumpDirCleanerTask, which lives in hive-exec.
            "metastore.task.threads.always": ",".join(
                f"org.apache.hadoop.hive.metastore.{task}"
                for task in (
                    "events.EventCleanerTask",
                    "RuntimeStatsCleanerTask",
                    "MaterializationsRebuildLockCleanerTask",
                )
            ),
            # Spark's Hive client is not a proxy user: let it read the notification log.
            "metastore.event.db.notification.api.auth": "false",
            "hive.metastore.event.db.notification.api.auth": "false",
        }
    )
    write_site_xml(conf_dir / "metastore-site.xml", site)
    timings: dict[str, float] = {}
    started = time.monotonic()
    init = schematool(conf_dir, "-initSchema", "-dbType", "mysql")
    timings["schematool"] = time.monotonic() - started
    (base / "schematool-init.log").write_text(init.stdout + init.stderr)
    if init.returncode != 0:
        raise ServiceUnavailable(f"schematool -initSchema failed:\n{(init.stdout + init.stderr)[-4000:]}")
    started = time.monotonic()
    argv = [java(), *JDK17_FLAGS, "-Xmx512m", "-cp", hive_metastore_classpath(conf_dir)]
    argv += ["org.apache.hadoop.hive.metastore.HiveMetaStore", "-p", str(port)]
    service = start(
        "hive-metastore",
        argv,
        base,
        env=java_env(METASTORE_HOME=str(HIVE_METASTORE_HOME)),
        cwd=conf_dir,
        ports={"thrift": port},
    )
    # A metastore that fails to start logs this and keeps running (non-daemon threads).
    fatal = "Metastore Thrift Server threw an exception"
    service.wait_until(
        lambda: port_open(port) or fatal in service.log.read_text(errors="replace"),
        timeout,
        "the metastore's Thrift port",
    )
    if not port_open(port):
        service.stop()
        raise ServiceUnavailable(f"the metastore did not start:\n{service.log_tail(60)}")
    timings["metastore"] = time.monotonic() - started
    return HiveMetastore(
        service, port, warehouse, conf_dir, rendered, site, db, db_name, user, password, timings
    )
