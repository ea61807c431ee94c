"""Tests for the EMR in-transit TLS custom resource (``emr_patterns.lambdas.tls_certificate``).

S3 and KMS are moto's in-process ``mock_aws``; CloudFormation's pre-signed ``ResponseURL`` is a
real HTTP server on 127.0.0.1 that records every PUT. The generated material is checked with
the ``cryptography`` package, with the ``openssl`` CLI when present, and with a mutual-TLS
handshake through the standard ``ssl`` module.

Pure-Python RSA key generation takes about a second here, so one key is generated per module and
reused wherever a test is not about key generation itself; the Create test runs the real path.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import math
import shutil
import ssl
import subprocess
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from emr_patterns.lambdas.tls_certificate import handler as tls

from .conftest import REGION, STACK_ID, ResponseEndpoint, lambda_context

COMMON_NAME = "*.ec2.internal"
PREFIX = "emr/tls/"
BUCKET = "tls-material-bucket"


# ---------------------------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def aws(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """moto for every AWS call (see conftest) and a fresh lazily created S3 client."""
    monkeypatch.setattr(tls, "_S3_CLIENT", None)


@pytest.fixture
def s3(aws: None) -> Any:
    """A moto S3 client with a versioned bucket."""
    client = boto3.client("s3", region_name=REGION)
    client.create_bucket(Bucket=BUCKET)
    client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    return client


@pytest.fixture
def kms_key_arn(aws: None) -> str:
    """ARN of a moto KMS key."""
    return boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["Arn"]


@pytest.fixture(scope="module")
def rsa_key() -> tls.RsaPrivateKey:
    """One pure-Python 2048-bit key for the module."""
    return tls.generate_rsa_private_key()


@pytest.fixture
def fast_keygen(monkeypatch: pytest.MonkeyPatch, rsa_key: tls.RsaPrivateKey) -> None:
    """Make the handler reuse the module key instead of generating a new one."""
    monkeypatch.setattr(tls, "generate_rsa_private_key", lambda **_: rsa_key)


def make_event(
    request_type: str,
    url: str,
    properties: dict[str, Any],
    physical_id: str | None = None,
    old_properties: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A CloudFormation custom-resource request."""
    event: dict[str, Any] = {
        "RequestType": request_type,
        "ResponseURL": url,
        "StackId": STACK_ID,
        "RequestId": "req-0001",
        "ResourceType": "Custom::EmrTlsCertificate",
        "LogicalResourceId": "TlsCertificate",
        "ResourceProperties": {
            "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:tls",
            **properties,
        },
    }
    if physical_id is not None:
        event["PhysicalResourceId"] = physical_id
    if old_properties is not None:
        event["OldResourceProperties"] = {
            "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:tls",
            **old_properties,
        }
    return event


def good_properties(kms_key_arn: str, **overrides: Any) -> dict[str, Any]:
    """Valid ResourceProperties (as strings, the way CloudFormation delivers them)."""
    return {
        "Bucket": BUCKET,
        "KeyPrefix": PREFIX,
        "KmsKeyArn": kms_key_arn,
        "CommonName": COMMON_NAME,
        "ValidityDays": "365",
        **overrides,
    }


def all_versions(s3: Any, prefix: str = "") -> list[tuple[str, str]]:
    """``(key, version id)`` of every version and delete marker under ``prefix``."""
    found: list[tuple[str, str]] = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=BUCKET, Prefix=prefix):
        for item in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
            found.append((item["Key"], item["VersionId"]))
    return found


def key_of(uri: str) -> str:
    """Object key of an ``s3://`` URI in the test bucket."""
    assert uri.startswith(f"s3://{BUCKET}/")
    return uri[len(f"s3://{BUCKET}/") :]


# ---------------------------------------------------------------------------------------------
# Checks on the material itself
# ---------------------------------------------------------------------------------------------


def read_zip(zip_bytes: bytes) -> dict[str, bytes]:
    """Files of the bundle, by name."""
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def assert_valid_material(zip_bytes: bytes, common_name: str, validity_days: int) -> x509.Certificate:
    """Everything EMR and a TLS peer rely on, checked with ``cryptography``."""
    files = read_zip(zip_bytes)
    assert set(files) == {"privateKey.pem", "certificateChain.pem", "trustedCertificates.pem"}
    assert files["certificateChain.pem"] == files["trustedCertificates.pem"]
    assert files["privateKey.pem"].startswith(b"-----BEGIN PRIVATE KEY-----\n")  # PKCS#8
    assert files["certificateChain.pem"].startswith(b"-----BEGIN CERTIFICATE-----\n")

    cert = x509.load_pem_x509_certificate(files["certificateChain.pem"])
    key = serialization.load_pem_private_key(files["privateKey.pem"], password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    public = cert.public_key()
    assert isinstance(public, rsa.RSAPublicKey)

    # Key pair
    assert key.key_size == 2048
    assert key.public_key().public_numbers() == public.public_numbers()
    assert public.public_numbers().e == 65537
    message = b"emr in-transit encryption"
    public.verify(
        key.sign(message, padding.PKCS1v15(), hashes.SHA256()), message, padding.PKCS1v15(), hashes.SHA256()
    )

    # Self-signature
    assert cert.version is x509.Version.v3
    assert cert.signature_algorithm_oid == x509.oid.SignatureAlgorithmOID.RSA_WITH_SHA256
    assert cert.issuer == cert.subject
    cert.verify_directly_issued_by(cert)
    public.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), hashes.SHA256())
    assert 0 < cert.serial_number < 2**159

    # Names
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == common_name
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert san.value.get_values_for_type(x509.DNSName) == [common_name, common_name[2:]]

    # Validity
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == dt.timedelta(days=validity_days)
    now = dt.datetime.now(dt.UTC)
    assert cert.not_valid_before_utc <= now < cert.not_valid_after_utc

    # Extensions
    basic = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert basic.critical and basic.value.ca is True and basic.value.path_length == 0
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical
    assert usage.value.digital_signature and usage.value.key_encipherment and usage.value.key_cert_sign
    assert not (usage.value.content_commitment or usage.value.data_encipherment or usage.value.crl_sign)
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert list(eku.value) == [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    assert ski.value == x509.SubjectKeyIdentifier.from_public_key(public)
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    assert aki.value.key_identifier == ski.value.digest
    return cert


@pytest.fixture(scope="module")
def bundle(rsa_key: tls.RsaPrivateKey) -> tls.TlsBundle:
    """A bundle built from the module key."""
    return tls.build_tls_bundle(COMMON_NAME, 365, key=rsa_key)


@pytest.fixture
def material_dir(tmp_path: Path, bundle: tls.TlsBundle) -> Path:
    """The bundle unpacked into a temporary directory."""
    for name, content in read_zip(bundle.zip_bytes).items():
        (tmp_path / name).write_bytes(content)
    return tmp_path


def test_bundle_is_valid_for_emr(bundle: tls.TlsBundle) -> None:
    """The three files, PKCS#8 key, v3 self-signed CA certificate with the expected extensions."""
    cert = assert_valid_material(bundle.zip_bytes, COMMON_NAME, 365)
    assert cert.fingerprint(hashes.SHA256()).hex() == bundle.certificate.sha256_fingerprint
    assert cert.serial_number == bundle.certificate.serial
    # cryptography's strict DER parser accepted it; re-encoding must be byte-identical.
    assert cert.public_bytes(serialization.Encoding.DER) == bundle.certificate.der


def test_private_key_is_owner_only_in_zip(bundle: tls.TlsBundle) -> None:
    """privateKey.pem carries 0600 Unix permissions, the certificates 0644."""
    with zipfile.ZipFile(io.BytesIO(bundle.zip_bytes)) as archive:
        modes = {info.filename: (info.external_attr >> 16) & 0o777 for info in archive.infolist()}
    assert modes == {"privateKey.pem": 0o600, "certificateChain.pem": 0o644, "trustedCertificates.pem": 0o644}


def test_generated_key_structure(rsa_key: tls.RsaPrivateKey) -> None:
    """n = p*q of 2048 bits, e = 65537, consistent CRT values, and cryptography agrees."""
    k = rsa_key
    assert k.n == k.p * k.q and k.n.bit_length() == 2048
    assert k.p.bit_length() == k.q.bit_length() == 1024
    assert abs(k.p - k.q) > 2 ** (1024 - 100)
    assert k.e == 65537
    assert (k.d * k.e) % math.lcm(k.p - 1, k.q - 1) == 1
    assert k.dp == k.d % (k.p - 1) and k.dq == k.d % (k.q - 1) and (k.qinv * k.q) % k.p == 1
    assert tls.is_probable_prime(k.p) and tls.is_probable_prime(k.q)
    loaded = serialization.load_der_private_key(tls.rsa_private_key_pkcs8_der(k), password=None)
    assert isinstance(loaded, rsa.RSAPrivateKey)
    numbers = loaded.private_numbers()
    assert (numbers.p * numbers.q, numbers.d, numbers.public_numbers.e) == (k.n, k.d, k.e)
    assert "bits=2048" in repr(k) and str(k.d) not in repr(k)


def test_signature_matches_cryptography_pkcs1v15(rsa_key: tls.RsaPrivateKey) -> None:
    """PKCS#1 v1.5 is deterministic: our CRT signature must equal OpenSSL's byte for byte."""
    loaded = serialization.load_der_private_key(tls.rsa_private_key_pkcs8_der(rsa_key), password=None)
    assert isinstance(loaded, rsa.RSAPrivateKey)
    for message in (b"", b"abc", bytes(range(256)) * 10):
        ours = tls.rsa_sign_pkcs1v15_sha256(rsa_key, message)
        assert ours == loaded.sign(message, padding.PKCS1v15(), hashes.SHA256())


def test_keygen_time_is_reported() -> None:
    """Measure one pure-Python 2048-bit generation (printed with ``-s``); no bound asserted."""
    start = time.perf_counter()
    key = tls.generate_rsa_private_key()
    elapsed = time.perf_counter() - start
    print(f"\npure-Python RSA-2048 key generation: {elapsed:.2f} s")
    assert key.n.bit_length() == 2048


def test_keygen_deadline_fails_cleanly() -> None:
    """A deadline in the past raises TimeoutError with a hint instead of hanging."""
    with pytest.raises(TimeoutError, match="more memory"):
        tls.generate_rsa_private_key(deadline=time.monotonic() - 1)


def test_rejects_weak_key_sizes() -> None:
    """Key sizes below 2048 bits are refused."""
    with pytest.raises(ValueError, match="2048"):
        tls.generate_rsa_private_key(bits=1024)


@pytest.mark.parametrize("prime", [2, 3, 5, 7919, 9973, 10007, 2**61 - 1, 2**127 - 1, 2**521 - 1])
def test_is_probable_prime_accepts_primes(prime: int) -> None:
    """Small, sieve-boundary and Mersenne primes."""
    assert tls.is_probable_prime(prime)


@pytest.mark.parametrize(
    "composite",
    [0, 1, 4, 561, 41041, 10001, 3215031751, 2**64 + 1, (2**61 - 1) * (2**89 - 1), 10007 * 10009],
)
def test_is_probable_prime_rejects_composites(composite: int) -> None:
    """Including Carmichael numbers and strong pseudoprimes to several bases."""
    assert not tls.is_probable_prime(composite)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, "020100"),
        (1, "020101"),
        (127, "02017f"),
        (128, "02020080"),
        (256, "02020100"),
        (65537, "0203010001"),
    ],
)
def test_der_integer(value: int, expected: str) -> None:
    """Minimal two's-complement encoding with a leading zero when the high bit is set."""
    assert tls.der_integer(value).hex() == expected


def test_der_primitives() -> None:
    """Lengths, OIDs, booleans, bit strings and sets against known encodings."""
    assert tls.der_tlv(0x04, b"x" * 127)[:2].hex() == "047f"
    assert tls.der_tlv(0x04, b"x" * 200)[:3].hex() == "0481c8"
    assert tls.der_tlv(0x04, b"x" * 70000)[:5].hex() == "0483011170"
    assert tls.der_oid("1.2.840.113549.1.1.11").hex() == "06092a864886f70d01010b"
    assert tls.der_oid("2.5.29.19").hex() == "0603551d13"
    assert tls.der_boolean(True).hex() == "0101ff"
    assert tls.der_bit_string(b"\xa4", unused_bits=2).hex() == "030202a4"
    assert tls.der_set(b"\x02\x01\x02", b"\x02\x01\x01").hex() == "3106020101020102"
    with pytest.raises(ValueError):
        tls.der_integer(-1)


def test_der_time_switches_to_generalized_time_in_2050() -> None:
    """UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280, 4.1.2.5)."""
    assert tls.der_time(dt.datetime(2049, 12, 31, 23, 59, 59, tzinfo=dt.UTC)) == b"\x17\x0d491231235959Z"
    assert tls.der_time(dt.datetime(2050, 1, 1, tzinfo=dt.UTC)) == b"\x18\x0f20500101000000Z"


def test_certificate_spanning_2050_parses(rsa_key: tls.RsaPrivateKey) -> None:
    """A certificate whose notAfter needs GeneralizedTime round-trips through cryptography."""
    now = dt.datetime(2045, 6, 1, 12, 0, tzinfo=dt.UTC)
    built = tls.build_self_signed_certificate(rsa_key, COMMON_NAME, 3650, now=now)
    cert = x509.load_der_x509_certificate(built.der)
    assert cert.not_valid_before_utc == now - dt.timedelta(minutes=5)
    assert cert.not_valid_after_utc == now - dt.timedelta(minutes=5) + dt.timedelta(days=3650)
    assert cert.not_valid_after_utc.year == 2055


# ---------------------------------------------------------------------------------------------
# OpenSSL CLI and a real TLS handshake
# ---------------------------------------------------------------------------------------------

needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI not installed")


def openssl(*args: str) -> str:
    """Run the openssl CLI and return stdout+stderr; fail on a non-zero exit."""
    result = subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


@needs_openssl
def test_openssl_verifies_certificate_and_key(material_dir: Path) -> None:
    """``openssl verify``, ``x509 -text``, ``-checkhost`` and ``pkey -check`` accept the material."""
    cert = str(material_dir / "certificateChain.pem")
    trusted = str(material_dir / "trustedCertificates.pem")
    key = str(material_dir / "privateKey.pem")
    assert openssl("verify", "-CAfile", trusted, cert).strip().endswith("OK")
    assert openssl("verify", "-purpose", "sslserver", "-CAfile", trusted, cert).strip().endswith("OK")
    assert openssl("verify", "-purpose", "sslclient", "-CAfile", trusted, cert).strip().endswith("OK")
    text = openssl("x509", "-noout", "-text", "-in", cert)
    assert "Version: 3 (0x2)" in text
    assert "Signature Algorithm: sha256WithRSAEncryption" in text
    assert "Public-Key: (2048 bit)" in text
    assert "CA:TRUE, pathlen:0" in text
    assert "DNS:*.ec2.internal, DNS:ec2.internal" in text
    assert "TLS Web Server Authentication, TLS Web Client Authentication" in text
    assert "Digital Signature, Key Encipherment, Certificate Sign" in text
    assert "does match certificate" in openssl(
        "x509", "-noout", "-in", cert, "-checkhost", "ip-10-0-1-23.ec2.internal"
    )
    assert "Key is valid" in openssl("pkey", "-check", "-noout", "-in", key)
    assert openssl("pkey", "-pubout", "-in", key) == openssl("x509", "-noout", "-pubkey", "-in", cert)


def _handshake(client: ssl.SSLObject, server: ssl.SSLObject, pipes: tuple[ssl.MemoryBIO, ...]) -> None:
    """Drive both ends of an in-memory TLS handshake to completion."""
    c_in, c_out, s_in, s_out = pipes
    done = {"client": False, "server": False}
    for _ in range(50):
        for name, end in (("client", client), ("server", server)):
            if not done[name]:
                try:
                    end.do_handshake()
                    done[name] = True
                except ssl.SSLWantReadError:
                    pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if all(done.values()):
            return
    raise AssertionError("TLS handshake did not complete")


def _mutual_tls(material_dir: Path, hostname: str) -> ssl.SSLObject:
    """Handshake with both sides presenting and trusting the generated certificate."""
    chain = material_dir / "certificateChain.pem"
    trusted = material_dir / "trustedCertificates.pem"
    key = material_dir / "privateKey.pem"
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(chain, key)
    server_ctx.load_verify_locations(trusted)
    server_ctx.verify_mode = ssl.CERT_REQUIRED
    client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client_ctx.load_verify_locations(trusted)
    client_ctx.load_cert_chain(chain, key)
    client_ctx.verify_flags |= ssl.VERIFY_X509_STRICT
    pipes = (ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO())
    client = client_ctx.wrap_bio(pipes[0], pipes[1], server_hostname=hostname)
    server = server_ctx.wrap_bio(pipes[2], pipes[3], server_side=True)
    _handshake(client, server, pipes)
    return client


def test_mutual_tls_handshake_with_generated_material(material_dir: Path) -> None:
    """An EMR node name under the wildcard verifies, with client authentication, in strict mode."""
    client = _mutual_tls(material_dir, "ip-10-0-1-23.ec2.internal")
    assert client.getpeercert()["subject"] == ((("commonName", COMMON_NAME),),)


def test_tls_handshake_rejects_other_domain(material_dir: Path) -> None:
    """A host outside the wildcard fails hostname verification."""
    with pytest.raises(ssl.SSLCertVerificationError, match=r"[Hh]ostname mismatch"):
        _mutual_tls(material_dir, "ip-10-0-1-23.eu-west-1.compute.internal")


# ---------------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("region", "expected"),
    [("us-east-1", "*.ec2.internal"), ("eu-west-1", "*.eu-west-1.compute.internal")],
)
def test_default_common_name_follows_region(region: str, expected: str) -> None:
    """Without CommonName the Lambda's region decides the wildcard domain."""
    arn = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    props = tls.parse_properties({"Bucket": BUCKET, "KmsKeyArn": arn}, region=region)
    assert props.common_name == expected
    assert props.validity_days == 365 and props.key_prefix == ""


def test_properties_accept_partitions_and_multi_region_keys() -> None:
    """GovCloud/China partitions and ``mrk-`` multi-Region key ids are full key ARNs too."""
    for arn in (
        "arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "arn:aws-cn:kms:cn-north-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab",
    ):
        props = tls.parse_properties({"Bucket": BUCKET, "KmsKeyArn": arn, "CommonName": COMMON_NAME})
        assert props.kms_key_arn == arn


# ---------------------------------------------------------------------------------------------
# Handler: Create / Update / Delete against moto
# ---------------------------------------------------------------------------------------------


def test_create_uploads_encrypted_bundle_and_reports_success(
    s3: Any, kms_key_arn: str, cfn_endpoint: ResponseEndpoint, caplog: pytest.LogCaptureFixture
) -> None:
    """Real key generation end to end: SSE-KMS object, valid material, SUCCESS with S3Uri."""
    caplog.set_level("INFO")
    event = make_event("Create", cfn_endpoint.url, good_properties(kms_key_arn, ValidityDays="30"))
    returned = tls.handler(event, lambda_context())

    response = cfn_endpoint.last
    assert response == returned
    assert response["Status"] == "SUCCESS", response["Reason"]
    uri = response["PhysicalResourceId"]
    assert uri == response["Data"]["S3Uri"]
    key = key_of(uri)
    assert key.startswith(PREFIX) and key.endswith(".zip")
    assert response["Data"]["ObjectKey"] == key
    for name in ("StackId", "RequestId", "LogicalResourceId"):
        assert response[name] == event[name]

    head = s3.head_object(Bucket=BUCKET, Key=key)
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == kms_key_arn
    assert head["BucketKeyEnabled"] is True

    body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    cert = assert_valid_material(body, COMMON_NAME, 30)
    fingerprint = cert.fingerprint(hashes.SHA256()).hex()
    assert response["Data"]["CertificateSha256"] == fingerprint
    assert head["Metadata"]["certificate-sha256"] == fingerprint
    assert response["Data"]["NotAfter"] == cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")

    # No key material in the response or the logs.
    private_pem = read_zip(body)["privateKey.pem"].decode()
    key_body_line = private_pem.splitlines()[5]
    for text in (json.dumps(response), caplog.text):
        assert "PRIVATE KEY" not in text and key_body_line not in text
    assert uri in caplog.text


def test_response_wire_format(
    s3: Any, kms_key_arn: str, cfn_endpoint: ResponseEndpoint, fast_keygen: None
) -> None:
    """One PUT to the pre-signed path, empty Content-Type, JSON with exactly the CFN fields."""
    tls.handler(make_event("Create", cfn_endpoint.url, good_properties(kms_key_arn)), lambda_context())
    assert len(cfn_endpoint.requests) == 1
    request = cfn_endpoint.requests[0]
    assert request.method == "PUT"
    assert request.path == "/cfn-response?X-Amz-Signature=abc123"
    content_type = {k.lower(): v for k, v in request.headers.items()}["content-type"]
    assert content_type == ""
    assert set(request.body) == {
        "Status",
        "Reason",
        "PhysicalResourceId",
        "StackId",
        "RequestId",
        "LogicalResourceId",
        "Data",
    }


def _create_with_data(
    cfn_endpoint: ResponseEndpoint, kms_key_arn: str, **overrides: Any
) -> tuple[str, dict[str, str]]:
    """Run a Create and return the physical id and Data."""
    tls.handler(
        make_event("Create", cfn_endpoint.url, good_properties(kms_key_arn, **overrides)), lambda_context()
    )
    response = cfn_endpoint.requests.pop()
    assert response.body["Status"] == "SUCCESS", response.body["Reason"]
    return str(response.body["PhysicalResourceId"]), response.body["Data"]


def _create(cfn_endpoint: ResponseEndpoint, kms_key_arn: str, **overrides: Any) -> str:
    """Run a Create and return the physical id."""
    tls.handler(
        make_event("Create", cfn_endpoint.url, good_properties(kms_key_arn, **overrides)), lambda_context()
    )
    response = cfn_endpoint.requests.pop()
    assert response.body["Status"] == "SUCCESS", response.body["Reason"]
    return str(response.body["PhysicalResourceId"])


@pytest.mark.parametrize(
    "new_overrides",
    [{}, {"ValidityDays": 365}, {"ValidityDays": " 365"}, {"CommonName": "*.EC2.internal"}],
    ids=["identical", "int-vs-string", "whitespace", "case"],
)
def test_update_without_changes_keeps_physical_id(
    s3: Any,
    kms_key_arn: str,
    cfn_endpoint: ResponseEndpoint,
    fast_keygen: None,
    new_overrides: dict[str, Any],
) -> None:
    """Equivalent properties (and a new ServiceToken) keep the object, the id and the Data."""
    old_id, created_data = _create_with_data(cfn_endpoint, kms_key_arn)
    event = make_event(
        "Update",
        cfn_endpoint.url,
        good_properties(kms_key_arn, **new_overrides),
        physical_id=old_id,
        old_properties=good_properties(kms_key_arn),
    )
    event["ResourceProperties"]["ServiceToken"] = "arn:aws:lambda:us-east-1:123456789012:function:tls-v2"
    tls.handler(event, lambda_context())
    response = cfn_endpoint.last
    assert response["Status"] == "SUCCESS", response["Reason"]
    assert response["PhysicalResourceId"] == old_id
    assert response["Data"] == created_data  # Fn::GetAtt keeps resolving
    assert [key for key, _ in all_versions(s3)] == [key_of(old_id)]


def test_update_regenerates_when_object_vanished(
    s3: Any, kms_key_arn: str, cfn_endpoint: ResponseEndpoint, fast_keygen: None
) -> None:
    """An unchanged Update whose object was deleted out of band writes a replacement."""
    old_id = _create(cfn_endpoint, kms_key_arn)
    for key, version in all_versions(s3):
        s3.delete_object(Bucket=BUCKET, Key=key, VersionId=version)
    event = make_event(
        "Update",
        cfn_endpoint.url,
        good_properties(kms_key_arn),
        physical_id=old_id,
        old_properties=good_properties(kms_key_arn),
    )
    tls.handler(event, lambda_context())
    response = cfn_endpoint.last
    assert response["Status"] == "SUCCESS", response["Reason"]
    assert response["PhysicalResourceId"] != old_id
    assert [key for key, _ in all_versions(s3)] == [key_of(response["PhysicalResourceId"])]


@pytest.mark.parametrize(
    "new_overrides",
    [{"ValidityDays": "90"}, {"CommonName": "*.eu-west-1.compute.internal"}, {"KeyPrefix": "emr/tls-v2/"}],
    ids=["validity", "common-name", "prefix"],
)
def test_update_with_changes_creates_new_object(
    s3: Any,
    kms_key_arn: str,
    cfn_endpoint: ResponseEndpoint,
    fast_keygen: None,
    new_overrides: dict[str, Any],
) -> None:
    """A changed property yields a new object and id; the old object stays for CFN's Delete."""
    old_id = _create(cfn_endpoint, kms_key_arn)
    new_props = good_properties(kms_key_arn, **new_overrides)
    event = make_event(
        "Update", cfn_endpoint.url, new_props, physical_id=old_id, old_properties=good_properties(kms_key_arn)
    )
    tls.handler(event, lambda_context())
    response = cfn_endpoint.last
    assert response["Status"] == "SUCCESS", response["Reason"]
    new_id = response["PhysicalResourceId"]
    assert new_id != old_id and new_id == response["Data"]["S3Uri"]
    assert key_of(new_id).startswith(new_props["KeyPrefix"])
    assert sorted(key for key, _ in all_versions(s3)) == sorted([key_of(old_id), key_of(new_id)])
    body = s3.get_object(Bucket=BUCKET, Key=key_of(new_id))["Body"].read()
    cert = x509.load_pem_x509_certificate(read_zip(body)["certificateChain.pem"])
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == new_props["CommonName"]


def test_update_with_invalid_properties_fails_and_keeps_old_id(
    s3: Any, kms_key_arn: str, cfn_endpoint: ResponseEndpoint, fast_keygen: None
) -> None:
    """A bad Update answers FAILED with the existing id so CloudFormation can roll back."""
    old_id = _create(cfn_endpoint, kms_key_arn)
    event = make_event(
        "Update",
        cfn_endpoint.url,
        good_properties(kms_key_arn, ValidityDays="0"),
        physical_id=old_id,
        old_properties=good_properties(kms_key_arn),
    )
    tls.handler(event, lambda_context())
    response = cfn_endpoint.last
    assert response["Status"] == "FAILED"
    assert "ValidityDays" in response["Reason"]
    assert response["PhysicalResourceId"] == old_id
    assert len(all_versions(s3)) == 1


def test_delete_removes_every_version(
    s3: Any, kms_key_arn: str, cfn_endpoint: ResponseEndpoint, fast_keygen: None
) -> None:
    """All versions and delete markers of the key go; other objects stay."""
    physical_id = _create(cfn_endpoint, kms_key_arn)
    key = key_of(physical_id)
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"second version")
    s3.delete_object(Bucket=BUCKET, Key=key)  # delete marker
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"third version")
    s3.put_object(Bucket=BUCKET, Key=key + ".other", Body=b"unrelated")
    s3.put_object(Bucket=BUCKET, Key="unrelated.txt", Body=b"unrelated")
    assert sum(1 for k, _ in all_versions(s3) if k == key) == 4

    props = good_properties(kms_key_arn)
    tls.handler(make_event("Delete", cfn_endpoint.url, props, physical_id=physical_id), lambda_context())
    response = cfn_endpoint.last
    assert response["Status"] == "SUCCESS", response["Reason"]
    assert response["PhysicalResourceId"] == physical_id
    assert sorted(k for k, _ in all_versions(s3)) == sorted([key + ".other", "unrelated.txt"])


def test_delete_handles_unversioned_bucket(
    aws: None, kms_key_arn: str, cfn_endpoint: ResponseEndpoint, fast_keygen: None
) -> None:
    """Objects in an unversioned bucket (version id ``null``) are deleted too."""
    client = boto3.client("s3", region_name=REGION)
    client.create_bucket(Bucket=BUCKET)
    physical_id = _create(cfn_endpoint, kms_key_arn)
    tls.handler(
        make_event("Delete", cfn_endpoint.url, good_properties(kms_key_arn), physical_id=physical_id),
        lambda_context(),
    )
    assert cfn_endpoint.last["Status"] == "SUCCESS"
    assert client.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0


@pytest.mark.parametrize(
    "physical_id",
    [
        "tls-certificate-failed-req-0001",  # what a failed Create returns
        "TlsCertificate",
        f"s3://{BUCKET}/emr/tls/00000000000000000000000000000000.zip",  # ours, already gone
        "s3://bucket-that-does-not-exist/emr/tls/0123456789abcdef0123456789abcdef.zip",
        f"s3://{BUCKET}/unrelated.txt",  # not named like ours: never touched
    ],
)
def test_delete_of_unknown_or_missing_object_succeeds(
    s3: Any, kms_key_arn: str, cfn_endpoint: ResponseEndpoint, physical_id: str
) -> None:
    """Delete never fails for ids that are not ours or objects that are already gone."""
    s3.put_object(Bucket=BUCKET, Key="unrelated.txt", Body=b"keep me")
    tls.handler(
        make_event("Delete", cfn_endpoint.url, {"Bucket": "whatever"}, physical_id=physical_id),
        lambda_context(),
    )
    response = cfn_endpoint.last
    assert response["Status"] == "SUCCESS", response["Reason"]
    assert response["PhysicalResourceId"] == physical_id
    assert [k for k, _ in all_versions(s3)] == ["unrelated.txt"]


VALID_ARN = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


@pytest.mark.parametrize(
    ("overrides", "property_name"),
    [
        ({"Bucket": None}, "Bucket"),
        ({"Bucket": "arn:aws:s3:::tls-material-bucket"}, "Bucket"),
        ({"KmsKeyArn": None}, "KmsKeyArn"),
        ({"KmsKeyArn": "1234abcd-12ab-34cd-56ef-1234567890ab"}, "KmsKeyArn"),
        ({"KmsKeyArn": "arn:aws:kms:us-east-1:123456789012:alias/emr"}, "KmsKeyArn"),
        ({"KmsKeyArn": "arn:aws:s3:::tls-material-bucket"}, "KmsKeyArn"),
        ({"ValidityDays": "0"}, "ValidityDays"),
        ({"ValidityDays": "3651"}, "ValidityDays"),
        ({"ValidityDays": "abc"}, "ValidityDays"),
        ({"ValidityDays": "12.5"}, "ValidityDays"),
        ({"ValidityDays": True}, "ValidityDays"),
        ({"CommonName": "ec2.internal"}, "CommonName"),
        ({"CommonName": "*.internal"}, "CommonName"),
        ({"CommonName": "*.bad domain.internal"}, "CommonName"),
        ({"CommonName": "*.*.ec2.internal"}, "CommonName"),
        ({"CommonName": "*." + "a" * 60 + ".internal"}, "CommonName"),
        ({"KeyPrefix": "/emr/tls/"}, "KeyPrefix"),
        ({"ValidityDay": "30"}, "ValidityDay"),
    ],
)
def test_invalid_properties_fail_without_writing(
    s3: Any, cfn_endpoint: ResponseEndpoint, fast_keygen: None, overrides: dict[str, Any], property_name: str
) -> None:
    """FAILED, a Reason naming the property and a fix, a placeholder id, and no object."""
    props = {k: v for k, v in good_properties(VALID_ARN, **overrides).items() if v is not None}
    tls.handler(make_event("Create", cfn_endpoint.url, props), lambda_context())
    response = cfn_endpoint.last
    assert response["Status"] == "FAILED"
    assert property_name in response["Reason"]
    assert any(hint in response["Reason"] for hint in ("set ", "pass ", "use ", "allowed are"))
    assert response["PhysicalResourceId"] == "tls-certificate-failed-req-0001"
    assert response["Data"] == {}
    assert all_versions(s3) == []


def test_s3_error_reports_failed_with_reason(
    aws: None, kms_key_arn: str, cfn_endpoint: ResponseEndpoint, fast_keygen: None
) -> None:
    """An AWS error becomes FAILED with the error code and the log stream, not an exception."""
    tls.handler(make_event("Create", cfn_endpoint.url, good_properties(kms_key_arn)), lambda_context())
    response = cfn_endpoint.last
    assert response["Status"] == "FAILED"
    assert "NoSuchBucket" in response["Reason"]
    assert "log stream" in response["Reason"]
    assert response["PhysicalResourceId"] == "tls-certificate-failed-req-0001"


def test_keygen_timeout_reports_failed(aws: None, kms_key_arn: str, cfn_endpoint: ResponseEndpoint) -> None:
    """With too little Lambda time left, the handler answers FAILED instead of timing out."""
    tls.handler(make_event("Create", cfn_endpoint.url, good_properties(kms_key_arn)), lambda_context(0))
    response = cfn_endpoint.last
    assert response["Status"] == "FAILED"
    assert "TimeoutError" in response["Reason"] and "memory" in response["Reason"]


def test_unsupported_request_type_fails(aws: None, cfn_endpoint: ResponseEndpoint) -> None:
    """Anything but Create/Update/Delete is answered FAILED."""
    tls.handler(make_event("Replace", cfn_endpoint.url, {}), lambda_context())
    response = cfn_endpoint.last
    assert response["Status"] == "FAILED" and "Replace" in response["Reason"]


def test_unreachable_response_url_does_not_raise(
    aws: None, monkeypatch: pytest.MonkeyPatch, cfn_endpoint: ResponseEndpoint
) -> None:
    """A response URL that refuses connections is retried, logged, and does not raise."""
    monkeypatch.setattr(tls.time, "sleep", lambda _: None)
    dead = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = dead.server_port
    dead.server_close()  # nothing listens on this port any more
    body = tls.handler(make_event("Delete", f"http://127.0.0.1:{port}/x", {}, physical_id="x"), None)
    assert body["Status"] == "SUCCESS"
    assert cfn_endpoint.requests == []
