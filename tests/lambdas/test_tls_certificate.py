"""Tests for the EMR in-transit TLS custom resource (``emr_patterns.lambdas.tls_certificate``).

The handler is a ``custom_resources.Provider`` user function: ``on_event`` returns the
PhysicalResourceId and Data or raises (the framework answers CloudFormation). S3, KMS and
CloudWatch are moto's in-process ``mock_aws``. The generated material is checked with
``cryptography``, with the ``openssl`` CLI when present, and with a mutual-TLS handshake through
the standard ``ssl`` module.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import shutil
import ssl
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import boto3
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from emr_patterns.lambdas.tls_certificate import handler as tls

from .conftest import REGION, STACK_ID

COMMON_NAME = "*.ec2.internal"
PREFIX = "emr/tls/"
BUCKET = "tls-material-bucket"
OBJECT_KEY = PREFIX + "emr-tls.zip"
URI = f"s3://{BUCKET}/{OBJECT_KEY}"


# ---------------------------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def aws(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """moto for every AWS call (see conftest) and fresh lazily created clients."""
    monkeypatch.setattr(tls, "_S3_CLIENT", None)
    monkeypatch.setattr(tls, "_CLOUDWATCH_CLIENT", None)


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
def rsa_key() -> rsa.RSAPrivateKey:
    """One 2048-bit key for the module."""
    return tls.generate_private_key()


def make_event(
    request_type: str,
    properties: dict[str, Any],
    physical_id: str | None = None,
    old_properties: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A CloudFormation custom-resource request as the provider framework passes it on."""
    event: dict[str, Any] = {
        "RequestType": request_type,
        "StackId": STACK_ID,
        "RequestId": "req-0001",
        "ResourceType": "Custom::EmrTlsCertificate",
        "LogicalResourceId": "TlsCertificate",
        "ResourceProperties": {
            "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:framework-onEvent",
            **properties,
        },
    }
    if physical_id is not None:
        event["PhysicalResourceId"] = physical_id
    if old_properties is not None:
        event["OldResourceProperties"] = {
            "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:framework-onEvent",
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


def certificate_at(s3: Any, key: str = OBJECT_KEY, version: str | None = None) -> x509.Certificate:
    """The certificate in the zip at ``key`` (optionally one version of it)."""
    extra = {"VersionId": version} if version else {}
    body = s3.get_object(Bucket=BUCKET, Key=key, **extra)["Body"].read()
    return x509.load_pem_x509_certificate(read_zip(body)["certificateChain.pem"])


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
def bundle(rsa_key: rsa.RSAPrivateKey) -> tls.TlsBundle:
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


def test_certificate_spanning_2050_parses(rsa_key: rsa.RSAPrivateKey) -> None:
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
# on_event: Create / Update / Delete against moto
# ---------------------------------------------------------------------------------------------


def test_create_uploads_encrypted_bundle_at_the_stable_key(
    s3: Any, kms_key_arn: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Real key generation end to end: SSE-KMS object at <prefix>emr-tls.zip, valid material, Data."""
    caplog.set_level("INFO")
    result = tls.on_event(make_event("Create", good_properties(kms_key_arn, ValidityDays="30")))

    assert set(result) == {"PhysicalResourceId", "Data"}
    assert result["PhysicalResourceId"] == URI == result["Data"]["S3Uri"]
    assert result["Data"]["ObjectKey"] == OBJECT_KEY

    head = s3.head_object(Bucket=BUCKET, Key=OBJECT_KEY)
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == kms_key_arn
    assert head["BucketKeyEnabled"] is True
    assert result["Data"]["VersionId"] == head["VersionId"]

    body = s3.get_object(Bucket=BUCKET, Key=OBJECT_KEY)["Body"].read()
    cert = assert_valid_material(body, COMMON_NAME, 30)
    fingerprint = cert.fingerprint(hashes.SHA256()).hex()
    assert result["Data"]["CertificateSha256"] == fingerprint
    assert head["Metadata"]["certificate-sha256"] == fingerprint
    not_after = result["Data"]["NotAfter"]
    assert not_after == cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert dt.datetime.fromisoformat(not_after) == cert.not_valid_after_utc  # ISO-8601

    # No key material in the result or the logs.
    private_pem = read_zip(body)["privateKey.pem"].decode()
    key_body_line = private_pem.splitlines()[5]
    for text in (json.dumps(result), caplog.text):
        assert "PRIVATE KEY" not in text and key_body_line not in text
    assert URI in caplog.text


@pytest.mark.parametrize(
    "new_overrides",
    [{}, {"ValidityDays": 365}, {"ValidityDays": " 365"}, {"CommonName": "*.EC2.internal"}],
    ids=["identical", "int-vs-string", "whitespace", "case"],
)
def test_update_without_changes_keeps_object_and_data(
    s3: Any, kms_key_arn: str, new_overrides: dict[str, Any]
) -> None:
    """Equivalent properties (and a new ServiceToken) keep the object version, the id and the Data."""
    created = tls.on_event(make_event("Create", good_properties(kms_key_arn)))
    event = make_event(
        "Update",
        good_properties(kms_key_arn, **new_overrides),
        physical_id=created["PhysicalResourceId"],
        old_properties=good_properties(kms_key_arn),
    )
    event["ResourceProperties"]["ServiceToken"] = "arn:aws:lambda:us-east-1:123456789012:function:v2"
    result = tls.on_event(event)
    assert result == created  # Fn::GetAtt keeps resolving
    assert len(all_versions(s3)) == 1


@pytest.mark.parametrize(
    "new_overrides",
    [{"ValidityDays": "90"}, {"CommonName": "*.eu-west-1.compute.internal"}, {"Generation": "2"}],
    ids=["validity", "common-name", "generation"],
)
def test_update_with_changes_writes_a_new_version_at_the_same_key(
    s3: Any, kms_key_arn: str, new_overrides: dict[str, Any]
) -> None:
    """A renewal keeps S3Uri (no security-configuration replacement) and adds an object version."""
    created = tls.on_event(make_event("Create", good_properties(kms_key_arn)))
    new_props = good_properties(kms_key_arn, **new_overrides)
    result = tls.on_event(
        make_event(
            "Update",
            new_props,
            physical_id=created["PhysicalResourceId"],
            old_properties=good_properties(kms_key_arn),
        )
    )
    assert result["PhysicalResourceId"] == created["PhysicalResourceId"] == URI
    assert result["Data"]["S3Uri"] == URI
    assert result["Data"]["VersionId"] != created["Data"]["VersionId"]
    assert result["Data"]["CertificateSha256"] != created["Data"]["CertificateSha256"]
    assert [k for k, _ in all_versions(s3)] == [OBJECT_KEY, OBJECT_KEY]
    latest = certificate_at(s3)
    assert latest.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == new_props["CommonName"]
    assert latest.fingerprint(hashes.SHA256()).hex() == result["Data"]["CertificateSha256"]
    old = certificate_at(s3, version=created["Data"]["VersionId"])  # running nodes keep this one
    assert old.fingerprint(hashes.SHA256()).hex() == created["Data"]["CertificateSha256"]


def test_update_with_new_prefix_moves_the_zip(s3: Any, kms_key_arn: str) -> None:
    """Only a new Bucket/KeyPrefix changes the id; the old object stays for CloudFormation's Delete."""
    created = tls.on_event(make_event("Create", good_properties(kms_key_arn)))
    result = tls.on_event(
        make_event(
            "Update",
            good_properties(kms_key_arn, KeyPrefix="emr/tls-v2/"),
            physical_id=created["PhysicalResourceId"],
            old_properties=good_properties(kms_key_arn),
        )
    )
    assert result["PhysicalResourceId"] == f"s3://{BUCKET}/emr/tls-v2/emr-tls.zip"
    assert sorted(k for k, _ in all_versions(s3)) == ["emr/tls-v2/emr-tls.zip", OBJECT_KEY]


def test_update_regenerates_when_object_vanished(s3: Any, kms_key_arn: str) -> None:
    """An unchanged Update whose object was deleted out of band writes a replacement at the same key."""
    created = tls.on_event(make_event("Create", good_properties(kms_key_arn)))
    for key, version in all_versions(s3):
        s3.delete_object(Bucket=BUCKET, Key=key, VersionId=version)
    result = tls.on_event(
        make_event(
            "Update",
            good_properties(kms_key_arn),
            physical_id=created["PhysicalResourceId"],
            old_properties=good_properties(kms_key_arn),
        )
    )
    assert result["PhysicalResourceId"] == URI
    assert [k for k, _ in all_versions(s3)] == [OBJECT_KEY]


def test_update_from_a_random_key_of_an_earlier_release(s3: Any, kms_key_arn: str) -> None:
    """The first update after upgrading moves to the stable key (CloudFormation deletes the old id)."""
    old_id = f"s3://{BUCKET}/{PREFIX}0123456789abcdef0123456789abcdef.zip"
    s3.put_object(Bucket=BUCKET, Key=key_of(old_id), Body=b"old")
    result = tls.on_event(
        make_event(
            "Update",
            good_properties(kms_key_arn),
            physical_id=old_id,
            old_properties=good_properties(kms_key_arn),
        )
    )
    assert result["PhysicalResourceId"] == URI
    tls.on_event(make_event("Delete", good_properties(kms_key_arn), physical_id=old_id))
    assert [k for k, _ in all_versions(s3)] == [OBJECT_KEY]


def test_update_with_invalid_properties_raises_and_writes_nothing(s3: Any, kms_key_arn: str) -> None:
    """A bad Update raises (the framework answers FAILED and CloudFormation rolls back)."""
    created = tls.on_event(make_event("Create", good_properties(kms_key_arn)))
    event = make_event(
        "Update",
        good_properties(kms_key_arn, ValidityDays="0"),
        physical_id=created["PhysicalResourceId"],
        old_properties=good_properties(kms_key_arn),
    )
    with pytest.raises(tls.PropertyError, match="ValidityDays"):
        tls.on_event(event)
    assert len(all_versions(s3)) == 1


def test_delete_removes_every_version(s3: Any, kms_key_arn: str) -> None:
    """All versions and delete markers of the key go; other objects stay."""
    physical_id = tls.on_event(make_event("Create", good_properties(kms_key_arn)))["PhysicalResourceId"]
    key = key_of(physical_id)
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"second version")
    s3.delete_object(Bucket=BUCKET, Key=key)  # delete marker
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"third version")
    s3.put_object(Bucket=BUCKET, Key=key + ".other", Body=b"unrelated")
    s3.put_object(Bucket=BUCKET, Key="unrelated.txt", Body=b"unrelated")
    assert sum(1 for k, _ in all_versions(s3) if k == key) == 4

    result = tls.on_event(make_event("Delete", good_properties(kms_key_arn), physical_id=physical_id))
    assert result == {"PhysicalResourceId": physical_id}
    assert sorted(k for k, _ in all_versions(s3)) == sorted([key + ".other", "unrelated.txt"])


def test_delete_leaves_a_zip_another_resource_wrote_last(s3: Any, kms_key_arn: str) -> None:
    """A replacement under a new logical id writes the same key; the old one's Delete keeps it."""
    old = tls.on_event(make_event("Create", good_properties(kms_key_arn)))
    new_event = make_event("Create", good_properties(kms_key_arn))
    new_event["LogicalResourceId"] = "TlsCertificateRenamed"
    new = tls.on_event(new_event)
    assert new["PhysicalResourceId"] == old["PhysicalResourceId"]
    tls.on_event(make_event("Delete", good_properties(kms_key_arn), physical_id=old["PhysicalResourceId"]))
    assert certificate_at(s3).fingerprint(hashes.SHA256()).hex() == new["Data"]["CertificateSha256"]
    # The resource that wrote last still deletes it.
    delete = make_event("Delete", good_properties(kms_key_arn), physical_id=new["PhysicalResourceId"])
    delete["LogicalResourceId"] = "TlsCertificateRenamed"
    tls.on_event(delete)
    assert all_versions(s3) == []


def test_delete_handles_unversioned_bucket(aws: None, kms_key_arn: str) -> None:
    """Objects in an unversioned bucket (version id ``null``) are deleted too."""
    client = boto3.client("s3", region_name=REGION)
    client.create_bucket(Bucket=BUCKET)
    created = tls.on_event(make_event("Create", good_properties(kms_key_arn)))
    assert created["Data"]["VersionId"] == "null"
    tls.on_event(
        make_event("Delete", good_properties(kms_key_arn), physical_id=created["PhysicalResourceId"])
    )
    assert client.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0


@pytest.mark.parametrize(
    "physical_id",
    [
        "b3c3e2f7-request-id",  # what the framework reports after a failed Create
        "TlsCertificate",
        f"s3://{BUCKET}/emr/tls/emr-tls.zip",  # ours, already gone
        "s3://bucket-that-does-not-exist/emr/tls/emr-tls.zip",
        f"s3://{BUCKET}/unrelated.txt",  # not named like ours: never touched
    ],
)
def test_delete_of_unknown_or_missing_object_succeeds(s3: Any, physical_id: str) -> None:
    """Delete never fails for ids that are not ours or objects that are already gone."""
    s3.put_object(Bucket=BUCKET, Key="unrelated.txt", Body=b"keep me")
    result = tls.on_event(make_event("Delete", {"Bucket": "whatever"}, physical_id=physical_id))
    assert result == {"PhysicalResourceId": physical_id}
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
        ({"Generation": "two words"}, "Generation"),
        ({"ValidityDay": "30"}, "ValidityDay"),
    ],
)
def test_invalid_properties_raise_without_writing(
    s3: Any, overrides: dict[str, Any], property_name: str
) -> None:
    """A PropertyError naming the property and a fix, and no object."""
    props = {k: v for k, v in good_properties(VALID_ARN, **overrides).items() if v is not None}
    with pytest.raises(tls.PropertyError) as raised:
        tls.on_event(make_event("Create", props))
    message = str(raised.value)
    assert property_name in message
    assert any(hint in message for hint in ("set ", "pass ", "use ", "allowed are"))
    assert all_versions(s3) == []


def test_s3_error_propagates(aws: None, kms_key_arn: str) -> None:
    """An AWS error is raised (the framework reports it to CloudFormation), not swallowed."""
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError, match="NoSuchBucket"):
        tls.on_event(make_event("Create", good_properties(kms_key_arn)))


def test_unsupported_request_type_raises(aws: None) -> None:
    """Anything but Create/Update/Delete raises naming the type."""
    with pytest.raises(ValueError, match="Replace"):
        tls.on_event(make_event("Replace", {}))


def test_no_response_sending_code_left() -> None:
    """The provider framework answers CloudFormation; the module never talks to a ResponseURL."""
    source = Path(tls.__file__).read_text()
    for needle in ("ResponseURL", "urllib", "_send_response", "_failure_physical_id"):
        assert needle not in source


# ---------------------------------------------------------------------------------------------
# check_expiry: the daily DaysToExpiry metric
# ---------------------------------------------------------------------------------------------


def test_check_expiry_publishes_days_to_expiry(s3: Any, kms_key_arn: str) -> None:
    """The metric is the certificate's remaining days, under the URI dimension, for the alarm."""
    created = tls.on_event(make_event("Create", good_properties(kms_key_arn, ValidityDays="40")))
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    # Create publishes the first datapoint, so the alarm has data before the first daily check.
    assert [
        m["MetricName"] for m in cloudwatch.list_metrics(Namespace="cdk-emr-patterns/TLS")["Metrics"]
    ] == ["DaysToExpiry"]
    assert created["PhysicalResourceId"] == URI
    result = tls.check_expiry({"Bucket": BUCKET, "Key": OBJECT_KEY})
    assert result["Certificate"] == URI
    assert 39.9 < result["DaysToExpiry"] <= 40.0
    (metric,) = cloudwatch.list_metrics(Namespace="cdk-emr-patterns/TLS")["Metrics"]
    assert metric["MetricName"] == "DaysToExpiry"
    assert metric["Dimensions"] == [{"Name": "Certificate", "Value": URI}]
    now = dt.datetime.now(dt.UTC)
    stats = cloudwatch.get_metric_statistics(
        Namespace="cdk-emr-patterns/TLS",
        MetricName="DaysToExpiry",
        Dimensions=metric["Dimensions"],
        StartTime=now - dt.timedelta(hours=1),
        EndTime=now + dt.timedelta(hours=1),
        Period=3600,
        Statistics=["Minimum", "SampleCount"],
    )
    (point,) = stats["Datapoints"]
    assert point["SampleCount"] == 2 and abs(point["Minimum"] - result["DaysToExpiry"]) < 1e-3


def test_check_expiry_reads_a_brought_zip(s3: Any, bundle: tls.TlsBundle) -> None:
    """A zip the user uploaded (any key) is read the same way; an expired one gives a negative value."""
    old = tls.build_tls_bundle(COMMON_NAME, 10, now=dt.datetime.now(dt.UTC) - dt.timedelta(days=12))
    s3.put_object(Bucket=BUCKET, Key="brought/certs.zip", Body=old.zip_bytes)
    result = tls.check_expiry({"Bucket": BUCKET, "Key": "brought/certs.zip"})
    assert -2.1 < result["DaysToExpiry"] < -1.9


@pytest.mark.parametrize(
    ("event", "match"),
    [({"Bucket": BUCKET}, "Key"), ({"Key": "a.zip"}, "Bucket"), ({"Bucket": BUCKET, "Key": "x.txt"}, "Key")],
)
def test_check_expiry_rejects_bad_input(aws: None, event: dict[str, str], match: str) -> None:
    """A schedule input that does not name a zip raises naming the field."""
    with pytest.raises(ValueError, match=match):
        tls.check_expiry(event)


def test_check_expiry_fails_on_a_zip_without_chain(s3: Any) -> None:
    """A zip missing certificateChain.pem raises (no datapoint: the alarm treats that as breaching)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("privateKey.pem", "x")
    s3.put_object(Bucket=BUCKET, Key="bad.zip", Body=buffer.getvalue())
    with pytest.raises(ValueError, match=r"certificateChain\.pem"):
        tls.check_expiry({"Bucket": BUCKET, "Key": "bad.zip"})
    assert (
        boto3.client("cloudwatch", region_name=REGION).list_metrics(Namespace="cdk-emr-patterns/TLS")[
            "Metrics"
        ]
        == []
    )
