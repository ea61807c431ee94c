"""Shared fixtures: one synthesized app for every construct, stack and gate test.

The app is built once per test session (per xdist worker; the tests that use it share the
``cdk`` xdist group so only one worker builds it) from the same factory ``app.py`` uses, with the
context of ``cdk.json``, and synthesized into a temporary cloud assembly.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")


def cdk_context() -> dict[str, Any]:
    """The context block of the repository's cdk.json."""
    return json.loads((REPO / "cdk.json").read_text())["context"]


@dataclass
class SynthesizedApp:
    """The prebuilt app, its cloud assembly directory and its stacks."""

    app: Any
    assembly_dir: Path
    stacks: dict[str, Any]

    def template(self, stack_id: str) -> Any:
        from aws_cdk.assertions import Template

        return Template.from_stack(self.stacks[stack_id])

    def template_json(self, stack_id: str) -> dict[str, Any]:
        return json.loads((self.assembly_dir / f"{stack_id}.template.json").read_text())

    def resolve_import(self, value: Any) -> tuple[str, Any]:
        """(exporting stack id, exported value) of an ``Fn::ImportValue``; other values as they are."""
        if not (isinstance(value, dict) and "Fn::ImportValue" in value):
            return "", value
        name = value["Fn::ImportValue"]
        for stack_id in self.stacks:
            for output in self.template_json(stack_id).get("Outputs", {}).values():
                if output.get("Export", {}).get("Name") == name:
                    return stack_id, output["Value"]
        raise KeyError(f"no stack exports {name}")

    def imported_resource(self, value: Any) -> dict[str, Any]:
        """The resource an ``Fn::ImportValue`` of a ``Ref`` or ``Fn::GetAtt`` points at."""
        stack_id, inner = self.resolve_import(value)
        logical_id = inner["Ref"] if "Ref" in inner else inner["Fn::GetAtt"][0]
        return self.template_json(stack_id)["Resources"][logical_id]


#: Session fixtures that start a real server, and the xdist group their tests share: each server
#: is started once per run, on the one worker that runs that group. HBase shares Spark's worker:
#: the tests that load it need Spark's exports, and one HBase serves them and the read handler.
SERVICE_GROUPS = {
    "mariadb": "mariadb",
    "postgres": "postgres",
    "hudi_streamer": "mariadb",
    "hive_metastore": "spark",
    "hbase": "spark",
    "slapd": "slapd",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep Spark tests on one xdist worker (one JVM), CDK tests on one worker (one synth), and
    the tests of each real server on one worker (one server)."""
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        service = next((group for name, group in SERVICE_GROUPS.items() if name in fixtures), None)
        if item.get_closest_marker("spark") or "spark" in fixtures:
            item.add_marker(pytest.mark.xdist_group("spark"))
        elif service:
            item.add_marker(pytest.mark.xdist_group(service))
        elif item.get_closest_marker("cdk"):
            item.add_marker(pytest.mark.xdist_group("cdk"))


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SynthesizedApp]:
    """Every prebuilt stack, synthesized once, without the nag plugins (the gate tests run them)."""
    from aws_cdk import App

    from emr_patterns.app_factory import PREBUILT_STACKS, build_app

    outdir = tmp_path_factory.mktemp("cdk.out")
    app = build_app(App(context=cdk_context(), outdir=str(outdir)), with_nag=False)
    app.synth()
    stacks = {stack_id: app.node.find_child(stack_id) for stack_id in PREBUILT_STACKS}
    yield SynthesizedApp(app, outdir, stacks)


@pytest.fixture(scope="session")
def nag_findings(synthesized: SynthesizedApp) -> list[Any]:
    """Unacknowledged findings of the three packs over the prebuilt app."""
    from emr_patterns.gates import nag_findings as find

    return find(synthesized.app)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto_server on a free loopback port, for processes (the AWS CLI in bootstrap and helper
    scripts) that reach AWS by URL; tests keep to names of their own."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="session")
def mariadb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Debian's MariaDB, private to this run, on a free loopback port (binlog on, ROW format)."""
    from tests import services

    db = services.start_mariadb(tmp_path_factory.mktemp("mariadb"))
    yield db
    db.service.stop()


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Debian's PostgreSQL, private to this run, on a free loopback port."""
    from tests import services

    db = services.start_postgres(tmp_path_factory.mktemp("postgres"))
    yield db
    db.service.stop()


@pytest.fixture(scope="session")
def hbase(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real HBase 2.6 standalone plus its Thrift server, private to this run (loopback, free ports)."""
    from tests.widematrix._hbase import start_hbase

    server = start_hbase(tmp_path_factory.mktemp("hbase"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def hive_metastore(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real Hive 3.1.3 standalone metastore on Java 17 (Thrift on a free loopback port), its
    schema made by schematool on a ``hive`` database, connected with the hive-site
    ``external_hive_metastore`` renders (the secret ARN replaced by the password).

    Its MariaDB is its own (the hive user is ``REQUIRE SSL``, as on RDS, and the JDBC URL names
    that server's test CA as ``serverSslCert``): under xdist this runs on the Spark worker, where
    the ``mariadb`` fixture's server would be a second one anyway."""
    import time

    from tests import services

    base = tmp_path_factory.mktemp("hive-metastore")
    started = time.monotonic()
    db = services.start_mariadb(base / "mariadb")
    took = time.monotonic() - started
    try:
        hms = services.start_hive_metastore(db, base / "metastore")
    except BaseException:
        db.service.stop()
        raise
    hms.timings["mariadb"] = took
    yield hms
    hms.stop()
    db.service.stop()
