"""A real HBase 2.6 for tests: standalone HMaster (master, RegionServer and ZooKeeper in one JVM)
on a ``file://`` root directory, plus HBase's Thrift 1 server for happybase, on Java 17.

Both JVMs bind to 127.0.0.1 on free ports (no info servers, no ZooKeeper AdminServer), run in
their own process groups with their logs beside the data, and are stopped by pid. The jars come
from ``tests/jvm/hbase/pom.xml`` (``make jvm-deps``); nothing is fetched at test time.

``bulk_load`` runs the two tools an EMR step runs as ``hbase importtsv`` and
``hbase completebulkload``: ``ImportTsv -Dimporttsv.bulk.output`` (a LocalJobRunner MapReduce job
writing HFiles) and ``BulkLoadHFilesTool`` (the bulk-load RPC, which HBase on S3's store-file
tracking sees), in their own JVM, never inside PySpark's.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from tests import services

MASTER_MAIN = "org.apache.hadoop.hbase.master.HMaster"
THRIFT_MAIN = "org.apache.hadoop.hbase.thrift.ThriftServer"
IMPORT_TSV_MAIN = "org.apache.hadoop.hbase.mapreduce.ImportTsv"
BULK_LOAD_MAIN = "org.apache.hadoop.hbase.tool.BulkLoadHFilesTool"

_LOG4J2 = """\
status = warn
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{ISO8601} %-5p [%t] %c{2}: %m%n
rootLogger = WARN,console
logger.hbase.name = org.apache.hadoop.hbase
logger.hbase.level = INFO
logger.zk.name = org.apache.zookeeper
logger.zk.level = WARN
"""


def site_xml(settings: dict[str, str]) -> str:
    props = "".join(
        f"  <property><name>{escape(k)}</name><value>{escape(v)}</value></property>\n"
        for k, v in settings.items()
    )
    return f'<?xml version="1.0"?>\n<configuration>\n{props}</configuration>\n'


@dataclass
class HBase:
    """A running standalone HBase and its Thrift server."""

    master: services.Service
    thrift: services.Service
    base: Path
    conf_dir: Path
    zk_port: int
    thrift_port: int

    @property
    def host(self) -> str:
        return "127.0.0.1"

    def connection(self, **kwargs: Any) -> Any:
        import happybase

        kwargs.setdefault("timeout", 30_000)
        return happybase.Connection(self.host, self.thrift_port, **kwargs)

    def classpath(self) -> str:
        return f"{self.conf_dir}:{services.classpath('hbase')}"

    def run_tool(self, main: str, args: Sequence[str], timeout: float = 300.0) -> str:
        """Run an HBase tool class to completion against this HBase; its output, or an error.

        Short-lived tool JVMs start faster with C1 only and the serial collector.
        """
        argv = [
            services.java(),
            *services.JDK17_FLAGS,
            "-Xmx768m",
            "-XX:TieredStopAtLevel=1",
            "-XX:+UseSerialGC",
            "-Dzookeeper.admin.enableServer=false",
            f"-Dlog4j2.configurationFile={self.conf_dir / 'log4j2.properties'}",
            "-cp",
            self.classpath(),
            main,
            *args,
        ]
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout, env=services.java_env(), check=False
        )
        if done.returncode != 0:
            tail = "\n".join((done.stdout + done.stderr).splitlines()[-40:])
            raise AssertionError(f"{main} {' '.join(args)} exited with {done.returncode}:\n{tail}")
        return done.stdout + done.stderr

    def stop(self) -> None:
        self.thrift.stop()
        self.master.stop(grace=30)


def write_conf(base: Path, **extra: str) -> tuple[Path, dict[str, int]]:
    """A conf dir (hbase-site.xml, log4j2.properties) with free loopback ports under ``base``."""
    ports = {name: services.free_port() for name in ("zookeeper", "master", "regionserver", "thrift")}
    conf = base / "conf"
    conf.mkdir(parents=True, exist_ok=True)
    settings = {
        "hbase.cluster.distributed": "false",
        "hbase.rootdir": (base / "root").as_uri(),
        "hbase.tmp.dir": str(base / "tmp"),
        "hbase.zookeeper.property.dataDir": str(base / "zk"),
        "hbase.zookeeper.quorum": "127.0.0.1",
        "hbase.zookeeper.property.clientPort": str(ports["zookeeper"]),
        "hbase.zookeeper.property.clientPortAddress": "127.0.0.1",
        # LocalFileSystem has no hflush/hsync: the shipped conf's own advice for a file:// root.
        "hbase.unsafe.stream.capability.enforce": "false",
        "hbase.master.ipc.address": "127.0.0.1",
        "hbase.regionserver.ipc.address": "127.0.0.1",
        "hbase.master.hostname": "localhost",
        "hbase.unsafe.regionserver.hostname": "localhost",
        "hbase.master.port": str(ports["master"]),
        "hbase.regionserver.port": str(ports["regionserver"]),
        "hbase.master.info.port": "-1",
        "hbase.regionserver.info.port": "-1",
        "hbase.regionserver.thrift.ipaddress": "127.0.0.1",
        "hbase.regionserver.thrift.port": str(ports["thrift"]),
        "hbase.thrift.info.port": "-1",
        # ImportTsv runs in-process (LocalJobRunner) with its staging under base.
        "mapreduce.framework.name": "local",
        "mapreduce.cluster.local.dir": str(base / "mapred-local"),
        "yarn.app.mapreduce.am.staging-dir": str(base / "mapred-staging"),
        "hadoop.tmp.dir": str(base / "hadoop-tmp"),
        # The bulk-load staging dir the RegionServer moves HFiles from (same filesystem here).
        "hbase.bulkload.staging.dir": str(base / "bulkload-staging"),
        **extra,
    }
    (conf / "hbase-site.xml").write_text(site_xml(settings))
    (conf / "log4j2.properties").write_text(_LOG4J2)
    return conf, ports


def _jvm(conf: Path, heap: str, main: str, *args: str) -> list[str]:
    return [
        services.java(),
        *services.JDK17_FLAGS,
        f"-Xmx{heap}",
        "-XX:+UseSerialGC",
        "-Dzookeeper.admin.enableServer=false",
        f"-Dlog4j2.configurationFile={conf / 'log4j2.properties'}",
        "-Djava.net.preferIPv4Stack=true",
        "-cp",
        f"{conf}:{services.classpath('hbase')}",
        main,
        *args,
    ]


def start_thrift(
    conf: Path, port: int, log_dir: Path, name: str = "hbase-thrift", timeout: float = 90.0
) -> services.Service:
    """HBase's Thrift 1 server (threadpool, buffered, binary: happybase's defaults) on ``port``."""
    service = services.start(
        name,
        _jvm(
            conf,
            "256m",
            THRIFT_MAIN,
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "--infoport",
            "-1",
            "-threadpool",
            "start",
        ),
        log_dir,
        env=services.java_env(),
        ports={"thrift": port},
    )
    service.wait_until(lambda: services.port_open(port), timeout, "Thrift accepting connections")
    return service


def start_hbase(base: Path, *, timeout: float = 180.0) -> HBase:
    """Start HMaster (standalone) and the Thrift server; ready when happybase can create a table."""
    base.mkdir(parents=True, exist_ok=True)
    conf, ports = write_conf(base)
    master = services.start(
        "hbase-master",
        _jvm(conf, "768m", MASTER_MAIN, "start"),
        base,
        env=services.java_env(),
        ports={"zookeeper": ports["zookeeper"], "master": ports["master"]},
    )
    try:
        master.wait_until(
            lambda: services.port_open(ports["regionserver"]), timeout, "RegionServer listening"
        )
        thrift = start_thrift(conf, ports["thrift"], base)
    except BaseException:
        master.stop()
        raise
    hbase = HBase(master, thrift, base, conf, ports["zookeeper"], ports["thrift"])

    def ready() -> bool:
        # The first create can fail with PleaseHoldException while the master initialises.
        conn = hbase.connection(timeout=10_000)
        try:
            if b"_ready_probe" not in conn.tables():
                conn.create_table("_ready_probe", {"f": {}})
            conn.delete_table("_ready_probe", disable=True)
            return True
        finally:
            conn.close()

    try:
        master.wait_until(ready, timeout, "a table created through Thrift")
    except BaseException:
        hbase.stop()
        raise
    return hbase


def wait_gone(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while services.port_open(port) and time.monotonic() < deadline:
        time.sleep(0.1)


def drop_table(conn: Any, name: str) -> None:
    with contextlib.suppress(Exception):
        conn.delete_table(name, disable=True)


def run_bulk_load(hbase: HBase, view: str, stats: Sequence[str], table: str, tsv: str, hfiles: str) -> None:
    """Load one view into its existing table with ``serving.bulk_load_commands``, each command run
    as the class ``bin/hbase`` maps it to, with the same arguments. The HFile directory is removed
    first, as the pipeline's ``hadoop fs -rm -r -f`` step does (ImportTsv refuses an existing one)."""
    import shutil
    from urllib.parse import urlparse

    from emr_patterns.jobs.widematrix import serving

    if hfiles.startswith("file:"):
        shutil.rmtree(urlparse(hfiles).path, ignore_errors=True)
    for argv in serving.bulk_load_commands(view, stats, table, tsv, hfiles):
        assert argv[0] == "hbase", argv
        hbase.run_tool(serving.HBASE_COMMAND_CLASSES[argv[1]], argv[2:])


def bulk_load(hbase: HBase, export_dir: str, dataset: str, version: str, work: Path) -> dict[str, str]:
    """Create a version's tables and bulk load its export with the commands the EMR steps run.

    ``serving.bulk_load_commands`` renders ``hbase importtsv ...`` and ``hbase completebulkload
    ...``; here each runs as the class ``bin/hbase`` maps it to, with the same arguments.
    """
    import json

    from emr_patterns.jobs.widematrix import serving

    export = Path(export_dir.removeprefix("file:"))
    manifest = json.loads((export / "manifest.json").read_text())
    tables = serving.table_names(dataset, version)
    conn = hbase.connection()
    try:
        for table in tables.values():
            conn.create_table(table, {serving.FAMILY: {"max_versions": 1}})
    finally:
        conn.close()

    def load(view: str) -> None:
        table = tables[view]
        tsv, hfiles = (export / view).as_uri(), (work / f"hfiles-{table}").as_uri()
        run_bulk_load(hbase, view, manifest["stats"], table, tsv, hfiles)

    with ThreadPoolExecutor(len(tables)) as pool:  # the views load independently, as EMR steps could
        list(pool.map(load, tables))
    return tables


def load_prepared(hbase: HBase, prepared: dict[str, Any], stats: Sequence[str], local: Any) -> None:
    """Run the bulk loads the admin handler's ``prepare`` answer describes (its ``loads``), the
    views in parallel; ``local`` maps the answer's S3 URIs to the files the tools read here."""
    loads = prepared["loads"]

    def load(view: str) -> None:
        spec = loads[view]
        run_bulk_load(hbase, view, stats, spec["table"], local(spec["tsv"]), local(spec["hfiles"]))

    with ThreadPoolExecutor(len(loads)) as pool:
        list(pool.map(load, loads))
