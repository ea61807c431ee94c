"""Custom resource and daily check: self-signed TLS material for EMR in-transit encryption.

An EMR security configuration with ``"CertificateProviderType": "PEM"`` points at a zip file in S3
holding ``privateKey.pem``, ``certificateChain.pem`` and ``trustedCertificates.pem``. This module
generates that material with the ``cryptography`` package (vendored into ``_vendor/`` of the
function's asset as manylinux wheels for the function's runtime by ``make lambda-deps``) and
uploads it, encrypted with SSE-KMS.

The certificate is self-signed, ``CA:TRUE`` (it is its own trust anchor, so it is shipped both as
the chain and as the trusted certificate), carries the wildcard of the region's internal domain as
CN (``*.ec2.internal`` in us-east-1, ``*.<region>.compute.internal`` elsewhere) and as
subjectAltName together with the bare domain. The private key is RSA-2048, written as unencrypted
PKCS#8 (``BEGIN PRIVATE KEY``), the form ``openssl req -x509 -newkey ... -nodes`` writes.

Entry points:

``on_event`` (a ``custom_resources.Provider`` user function: returns or raises, the framework
answers CloudFormation)

    ResourceProperties: ``Bucket`` (required), ``KeyPrefix`` (default ``""``), ``KmsKeyArn``
    (required, full key ARN), ``CommonName`` (default derived from ``AWS_REGION``),
    ``ValidityDays`` (1..3650, default 365), ``Generation`` (any short string; change it to
    renew). ``ServiceToken`` and ``ServiceTimeout`` are ignored; any other property is rejected.

    The zip always lives at the stable key ``<KeyPrefix>emr-tls.zip``; the PhysicalResourceId is
    its ``s3://`` URI and Data holds ``S3Uri``, ``ObjectKey``, ``VersionId``,
    ``CertificateSha256`` and ``NotAfter`` (ISO-8601; nothing secret).

    Create writes the zip. Update with changed properties writes a new object *version* at the
    same key, so ``S3Uri`` stays and the security configuration (and with it a long-running
    cluster) is not replaced; only a changed ``Bucket`` or ``KeyPrefix`` moves the zip (a new
    PhysicalResourceId, after which CloudFormation deletes the old object). Update with
    equivalent properties keeps the object and returns the same Data, read back from the object
    metadata (or regenerates it if it vanished). Delete removes every version and delete marker
    of the key; ids this module did not create and missing objects are a successful no-op.

    Create and Update also publish the first ``DaysToExpiry`` datapoint (see below).

``check_expiry`` (a daily EventBridge schedule)

    Event ``{"Bucket": ..., "Key": ...}``: reads ``certificateChain.pem`` from the zip (generated
    or brought), publishes ``DaysToExpiry`` (namespace ``cdk-emr-patterns/TLS``, dimension
    ``Certificate`` = the ``s3://`` URI) and returns it. Any error raises; the alarm treats the
    missing datapoint as breaching.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import os
import re
import sys
import zipfile
from dataclasses import dataclass
from typing import Any

# The Lambda runtime has no `cryptography`: it is vendored beside this file. Appended, not
# prepended, so an installed copy (the test environment's) wins wherever there is one.
_VENDOR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_vendor")
if os.path.isdir(_VENDOR) and _VENDOR not in sys.path:
    sys.path.append(_VENDOR)

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # noqa: E402

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)

# ---------------------------------------------------------------------------------------------
# Contract constants
# ---------------------------------------------------------------------------------------------

PRIVATE_KEY_FILE = "privateKey.pem"
CERTIFICATE_CHAIN_FILE = "certificateChain.pem"
TRUSTED_CERTIFICATES_FILE = "trustedCertificates.pem"
#: File name of the zip under ``KeyPrefix``; stable so that renewals keep the S3 URI.
OBJECT_NAME = "emr-tls.zip"

DEFAULT_VALIDITY_DAYS = 365
MAX_VALIDITY_DAYS = 3650
RSA_KEY_BITS = 2048
RSA_PUBLIC_EXPONENT = 65537

METRIC_NAMESPACE = "cdk-emr-patterns/TLS"
METRIC_NAME = "DaysToExpiry"
METRIC_DIMENSION = "Certificate"

#: Properties CloudFormation/CDK add that do not describe the certificate.
IGNORED_PROPERTIES = frozenset({"ServiceToken", "ServiceTimeout"})
KNOWN_PROPERTIES = frozenset({"Bucket", "KeyPrefix", "KmsKeyArn", "CommonName", "ValidityDays", "Generation"})

_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_KMS_KEY_ARN_RE = re.compile(
    r"^arn:aws(?:-[a-z]+)*:kms:[a-z]{2}(?:-[a-z]+)+-\d:\d{12}:key/"
    r"(?:mrk-[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$"
)
_DNS_LABEL_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_S3_URI_RE = re.compile(r"^s3://(?P<bucket>[^/]+)/(?P<key>.+)$")
#: Object names this module creates: the stable name, and the random ``<32 hex>.zip`` of
#: earlier releases (so the first update after upgrading deletes the old object).
_OWN_KEY_RE = re.compile(r"(?:^|/)(?:emr-tls|[0-9a-f]{32})\.zip$")
_GENERATION_RE = re.compile(r"^[A-Za-z0-9._:-]{0,64}$")


class PropertyError(ValueError):
    """A ResourceProperties value is missing or invalid; the message names the property and fix."""


# ---------------------------------------------------------------------------------------------
# Key, certificate and zip
# ---------------------------------------------------------------------------------------------


def generate_private_key() -> rsa.RSAPrivateKey:
    """A fresh RSA-2048 key with e = 65537."""
    return rsa.generate_private_key(public_exponent=RSA_PUBLIC_EXPONENT, key_size=RSA_KEY_BITS)


def subject_alt_names(common_name: str) -> list[str]:
    """DNS names for the certificate: the CN and, for a wildcard, the bare domain as well."""
    names = [common_name]
    if common_name.startswith("*."):
        names.append(common_name[2:])
    return names


@dataclass(frozen=True)
class Certificate:
    """A DER certificate with the facts the handler reports (all public)."""

    der: bytes
    not_before: dt.datetime
    not_after: dt.datetime
    serial: int

    @property
    def pem(self) -> str:
        """PEM armour of the certificate."""
        cert = x509.load_der_x509_certificate(self.der)
        return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")

    @property
    def sha256_fingerprint(self) -> str:
        """Lower-case hex SHA-256 of the DER certificate."""
        return x509.load_der_x509_certificate(self.der).fingerprint(hashes.SHA256()).hex()


def build_self_signed_certificate(
    key: rsa.RSAPrivateKey, common_name: str, validity_days: int, now: dt.datetime | None = None
) -> Certificate:
    """Build and sign a self-signed X.509 v3 certificate that is its own trust anchor.

    notBefore is backdated five minutes against clock skew between nodes; notAfter is exactly
    ``validity_days`` later.
    """
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(microsecond=0)
    not_before = now - dt.timedelta(minutes=5)
    not_after = not_before + dt.timedelta(days=validity_days)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    public = key.public_key()
    ski = x509.SubjectKeyIdentifier.from_public_key(public)
    serial = x509.random_serial_number()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in subject_alt_names(common_name)]),
            critical=False,
        )
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Certificate(
        der=cert.public_bytes(serialization.Encoding.DER),
        not_before=not_before,
        not_after=not_after,
        serial=serial,
    )


@dataclass(frozen=True, repr=False)
class TlsBundle:
    """The zip EMR downloads plus the public facts about it. ``repr`` hides the zip."""

    zip_bytes: bytes
    certificate: Certificate

    def __repr__(self) -> str:
        """Describe the bundle without revealing the key."""
        return f"TlsBundle(sha256={self.certificate.sha256_fingerprint})"


def build_tls_bundle(
    common_name: str,
    validity_days: int,
    key: rsa.RSAPrivateKey | None = None,
    now: dt.datetime | None = None,
) -> TlsBundle:
    """Generate (or use ``key``) and package the three PEM files EMR expects into a zip."""
    key = key or generate_private_key()
    certificate = build_self_signed_certificate(key, common_name, validity_days, now=now)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")
    files = {
        PRIVATE_KEY_FILE: (private_pem, 0o600),
        CERTIFICATE_CHAIN_FILE: (certificate.pem, 0o644),
        TRUSTED_CERTIFICATES_FILE: (certificate.pem, 0o644),
    }
    stamp = certificate.not_before.timetuple()[:6]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, (text, mode) in files.items():
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o100000 | mode) << 16  # regular file with Unix permissions
            archive.writestr(info, text.encode("ascii"))
    return TlsBundle(zip_bytes=buffer.getvalue(), certificate=certificate)


# ---------------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------------


def default_common_name(region: str) -> str:
    """The wildcard of the EC2 internal DNS domain of ``region``."""
    if region == "us-east-1":
        return "*.ec2.internal"
    return f"*.{region}.compute.internal"


@dataclass(frozen=True)
class TlsProperties:
    """Validated ResourceProperties."""

    bucket: str
    key_prefix: str
    kms_key_arn: str
    common_name: str
    validity_days: int
    generation: str = ""


def _validate_common_name(value: Any) -> str:
    """A wildcard DNS name ``*.<domain>`` with at least two labels in ``<domain>``."""
    fix = (
        "set CommonName to the wildcard of the cluster's internal domain, e.g. '*.ec2.internal' "
        "in us-east-1 or '*.<region>.compute.internal' elsewhere"
    )
    if not isinstance(value, str) or not value:
        raise PropertyError(f"CommonName must be a non-empty string; {fix}")
    name = value.strip().lower()
    if not name.startswith("*."):
        raise PropertyError(f"CommonName {value!r} is not a wildcard name; {fix}")
    labels = name[2:].split(".")
    if len(labels) < 2 or not all(_DNS_LABEL_RE.match(label) for label in labels):
        raise PropertyError(f"CommonName {value!r} is not a valid wildcard DNS name; {fix}")
    if len(name) > 64:  # ub-common-name (RFC 5280)
        raise PropertyError(f"CommonName {value!r} is longer than 64 characters; {fix}")
    return name


def _validate_validity_days(value: Any) -> int:
    """An integer (or decimal string) from 1 to :data:`MAX_VALIDITY_DAYS`."""
    fix = f"set ValidityDays to a whole number of days from 1 to {MAX_VALIDITY_DAYS}"
    if value is None or value == "":
        return DEFAULT_VALIDITY_DAYS
    if isinstance(value, bool):
        raise PropertyError(f"ValidityDays {value!r} is not a number; {fix}")
    if isinstance(value, int):
        days = value
    elif isinstance(value, str) and value.strip().isdigit():
        days = int(value.strip())
    else:
        raise PropertyError(f"ValidityDays {value!r} is not a whole number; {fix}")
    if not 1 <= days <= MAX_VALIDITY_DAYS:
        raise PropertyError(f"ValidityDays {days} is out of range; {fix}")
    return days


def parse_properties(properties: dict[str, Any] | None, region: str | None = None) -> TlsProperties:
    """Validate ResourceProperties; raise :class:`PropertyError` naming the property and the fix."""
    props = properties or {}
    unknown = sorted(set(props) - KNOWN_PROPERTIES - IGNORED_PROPERTIES)
    if unknown:
        raise PropertyError(
            f"Unknown properties {', '.join(unknown)}; allowed are {', '.join(sorted(KNOWN_PROPERTIES))}"
        )

    bucket = props.get("Bucket")
    if not isinstance(bucket, str) or not bucket:
        raise PropertyError("Bucket is required; set it to the name of the bucket that holds the TLS zip")
    if not _BUCKET_RE.match(bucket):
        raise PropertyError(
            f"Bucket {bucket!r} is not a valid S3 bucket name; pass the bucket name, not an ARN"
        )

    key_prefix = props.get("KeyPrefix", "")
    if key_prefix is None:
        key_prefix = ""
    if not isinstance(key_prefix, str) or key_prefix.startswith("/") or len(key_prefix) > 512:
        raise PropertyError(
            f"KeyPrefix {key_prefix!r} is invalid; use a relative S3 prefix such as 'emr/tls/' "
            "(no leading '/', at most 512 characters)"
        )
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in key_prefix):
        raise PropertyError("KeyPrefix contains control characters; use a plain prefix such as 'emr/tls/'")

    kms_key_arn = props.get("KmsKeyArn")
    if not isinstance(kms_key_arn, str) or not _KMS_KEY_ARN_RE.match(kms_key_arn):
        raise PropertyError(
            f"KmsKeyArn {kms_key_arn!r} is not a full KMS key ARN; pass the key ARN "
            "(arn:aws:kms:<region>:<account>:key/<key-id>), not a key id or an alias"
        )

    common_name_value = props.get("CommonName")
    if common_name_value in (None, ""):
        region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        if not region:
            raise PropertyError("CommonName is required when the region is unknown; set it explicitly")
        common_name_value = default_common_name(region)
    common_name = _validate_common_name(common_name_value)

    validity_days = _validate_validity_days(props.get("ValidityDays"))
    generation = props.get("Generation", "")
    generation = "" if generation is None else str(generation).strip()
    if not _GENERATION_RE.match(generation):
        raise PropertyError(
            f"Generation {generation!r} is invalid; use up to 64 letters, digits or '._:-' "
            "(change it, e.g. '2', to renew the certificate)"
        )
    return TlsProperties(bucket, key_prefix, kms_key_arn, common_name, validity_days, generation)


# ---------------------------------------------------------------------------------------------
# S3 and CloudWatch
# ---------------------------------------------------------------------------------------------

_S3_CLIENT: Any = None
_CLOUDWATCH_CLIENT: Any = None


def _s3() -> Any:
    """The S3 client, created on first use (so importing the module needs no AWS config)."""
    global _S3_CLIENT
    if _S3_CLIENT is None:
        import boto3

        _S3_CLIENT = boto3.client("s3")
    return _S3_CLIENT


def _cloudwatch() -> Any:
    """The CloudWatch client, created on first use."""
    global _CLOUDWATCH_CLIENT
    if _CLOUDWATCH_CLIENT is None:
        import boto3

        _CLOUDWATCH_CLIENT = boto3.client("cloudwatch")
    return _CLOUDWATCH_CLIENT


def object_key(props: TlsProperties) -> str:
    """The stable key of the zip: ``<KeyPrefix>emr-tls.zip``."""
    return f"{props.key_prefix}{OBJECT_NAME}"


def parse_own_s3_uri(physical_id: str | None) -> tuple[str, str] | None:
    """``(bucket, key)`` when ``physical_id`` is an object URI this module created, else ``None``."""
    if not physical_id:
        return None
    match = _S3_URI_RE.match(physical_id)
    if not match or not _OWN_KEY_RE.search(match["key"]):
        return None
    return match["bucket"], match["key"]


def _iso(moment: dt.datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` in UTC."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def owner_of(event: dict[str, Any]) -> str:
    """Who wrote an object: ``<StackId>|<LogicalResourceId>`` (kept in the object metadata)."""
    return f"{event.get('StackId', '')}|{event.get('LogicalResourceId', '')}"


def _upload_bundle(props: TlsProperties, bundle: TlsBundle, owner: str) -> tuple[str, str, str]:
    """Put the zip with SSE-KMS at the stable key; return ``(s3_uri, key, version_id)``."""
    key = object_key(props)
    response = _s3().put_object(
        Bucket=props.bucket,
        Key=key,
        Body=bundle.zip_bytes,
        ContentType="application/zip",
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=props.kms_key_arn,
        BucketKeyEnabled=True,
        Metadata={
            "certificate-sha256": bundle.certificate.sha256_fingerprint,
            "not-after": _iso(bundle.certificate.not_after),
            "owner": owner,
        },
    )
    return f"s3://{props.bucket}/{key}", key, str(response.get("VersionId") or "null")


def delete_all_versions(bucket: str, key: str) -> int:
    """Delete every version and delete marker of exactly ``key``; return how many were removed.

    A missing bucket or object counts as already deleted.
    """
    from botocore.exceptions import ClientError

    client = _s3()
    targets: list[dict[str, str]] = []
    try:
        for page in client.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=key):
            for item in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
                if item["Key"] == key:
                    targets.append({"Key": key, "VersionId": item["VersionId"]})
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NoSuchBucket":
            return 0
        raise
    for start in range(0, len(targets), 1000):
        result = client.delete_objects(
            Bucket=bucket, Delete={"Objects": targets[start : start + 1000], "Quiet": True}
        )
        errors = result.get("Errors") or []
        if errors:
            first = errors[0]
            raise RuntimeError(
                f"could not delete {len(errors)} version(s) of s3://{bucket}/{key}: "
                f"{first.get('Code')}: {first.get('Message')}"
            )
    return len(targets)


# ---------------------------------------------------------------------------------------------
# Custom resource (Provider user function)
# ---------------------------------------------------------------------------------------------


def _create(props: TlsProperties, owner: str) -> dict[str, Any]:
    """Generate and upload a new bundle (a new object version at the stable key)."""
    bundle = build_tls_bundle(props.common_name, props.validity_days)
    uri, key, version = _upload_bundle(props, bundle, owner)
    fingerprint = bundle.certificate.sha256_fingerprint
    logger.info("Uploaded TLS bundle %s version %s (certificate sha256 %s)", uri, version, fingerprint)
    # The first datapoint now, not at the first daily check: the alarm treats missing data as
    # breaching. A failure here only delays the datapoint to that check, so it does not fail.
    try:
        publish_days_to_expiry(uri, days_to_expiry(x509.load_der_x509_certificate(bundle.certificate.der)))
    except Exception as exc:  # the certificate is written; the daily check will publish
        logger.warning("Publishing %s for %s failed: %s", METRIC_NAME, uri, exc)
    data = {
        "S3Uri": uri,
        "ObjectKey": key,
        "VersionId": version,
        "CertificateSha256": fingerprint,
        "NotAfter": _iso(bundle.certificate.not_after),
    }
    return {"PhysicalResourceId": uri, "Data": data}


def _describe_existing(bucket: str, key: str) -> dict[str, str] | None:
    """Data for an object created earlier, read back from its metadata; ``None`` if it is gone.

    Returning the same Data keys as Create keeps ``Fn::GetAtt`` working across no-op updates.
    """
    from botocore.exceptions import ClientError

    try:
        head = _s3().head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise
    metadata = head.get("Metadata") or {}
    return {
        "S3Uri": f"s3://{bucket}/{key}",
        "ObjectKey": key,
        "VersionId": str(head.get("VersionId") or "null"),
        "CertificateSha256": metadata.get("certificate-sha256", ""),
        "NotAfter": metadata.get("not-after", ""),
    }


def _current_owner(bucket: str, key: str) -> str | None:
    """The ``owner`` metadata of the current object version (``None`` if absent or no object)."""
    from botocore.exceptions import ClientError

    try:
        head = _s3().head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in (
            "404",
            "NoSuchKey",
            "NotFound",
            "NoSuchBucket",
            "403",
        ):
            return None
        raise
    return (head.get("Metadata") or {}).get("owner")


def _comparable(properties: dict[str, Any] | None) -> Any:
    """Normalised view of properties for change detection (raw view if they do not validate)."""
    try:
        return parse_properties(properties)
    except PropertyError:
        return {k: str(v) for k, v in (properties or {}).items() if k not in IGNORED_PROPERTIES}


def on_event(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Provider ``onEvent``: return ``PhysicalResourceId`` and ``Data``, or raise.

    The provider framework reports a raised error to CloudFormation as FAILED with its message.
    """
    request_type = event.get("RequestType")
    physical_id = event.get("PhysicalResourceId")
    logger.info("%s request for %s", request_type, event.get("LogicalResourceId"))
    if request_type == "Create":
        return _create(parse_properties(event.get("ResourceProperties")), owner_of(event))
    if request_type == "Update":
        props = parse_properties(event.get("ResourceProperties"))
        existing = parse_own_s3_uri(physical_id)
        unchanged = _comparable(event.get("OldResourceProperties")) == props
        # An id at another key (a random name of an earlier release) moves to the stable key.
        if existing is not None and existing == (props.bucket, object_key(props)) and unchanged:
            data = _describe_existing(*existing)
            if data is not None:
                logger.info("Properties unchanged; keeping %s", physical_id)
                return {"PhysicalResourceId": str(physical_id), "Data": data}
            logger.warning("%s no longer exists; generating a replacement", physical_id)
        return _create(props, owner_of(event))
    if request_type == "Delete":
        parsed = parse_own_s3_uri(physical_id)
        if parsed is None:
            logger.info("Nothing to delete: physical id %s was not created by this module", physical_id)
        elif (owner := _current_owner(*parsed)) not in (None, owner_of(event)):
            # The stable key is shared by whoever wrote last (e.g. a resource that replaced this
            # one under a new logical id): deleting would take the zip from under its nodes.
            logger.warning("%s now belongs to %s; left in place", physical_id, owner)
        else:
            removed = delete_all_versions(*parsed)
            logger.info("Deleted %d version(s) of %s", removed, physical_id)
        return {"PhysicalResourceId": str(physical_id)}
    raise ValueError(f"Unsupported RequestType {request_type!r}; expected Create, Update or Delete")


# ---------------------------------------------------------------------------------------------
# Daily expiry check (EventBridge schedule)
# ---------------------------------------------------------------------------------------------


def read_certificate(bucket: str, key: str) -> x509.Certificate:
    """The first certificate of ``certificateChain.pem`` in the zip at ``s3://bucket/key``."""
    body = _s3().get_object(Bucket=bucket, Key=key)["Body"].read()
    try:
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            chain = archive.read(CERTIFICATE_CHAIN_FILE)
    except (zipfile.BadZipFile, KeyError) as exc:
        raise ValueError(
            f"s3://{bucket}/{key} is not a zip holding {CERTIFICATE_CHAIN_FILE}: {exc}; "
            f"upload a zip with {PRIVATE_KEY_FILE}, {CERTIFICATE_CHAIN_FILE} and {TRUSTED_CERTIFICATES_FILE}"
        ) from exc
    return x509.load_pem_x509_certificate(chain)


def days_to_expiry(certificate: x509.Certificate, now: dt.datetime | None = None) -> float:
    """Days (fractional, negative once expired) until the certificate's notAfter."""
    now = now or dt.datetime.now(dt.UTC)
    return (certificate.not_valid_after_utc - now).total_seconds() / 86400.0


def publish_days_to_expiry(uri: str, days: float) -> None:
    """Put one ``DaysToExpiry`` datapoint for the certificate at ``uri``."""
    _cloudwatch().put_metric_data(
        Namespace=METRIC_NAMESPACE,
        MetricData=[
            {
                "MetricName": METRIC_NAME,
                "Dimensions": [{"Name": METRIC_DIMENSION, "Value": uri}],
                "Value": days,
                "Unit": "None",
            }
        ],
    )


def check_expiry(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Publish ``DaysToExpiry`` of the certificate in the zip named by ``event``; raise on any error."""
    bucket, key = event.get("Bucket"), event.get("Key")
    if not isinstance(bucket, str) or not _BUCKET_RE.match(bucket):
        raise ValueError(f"Bucket {bucket!r} is not a bucket name; the schedule's input must name the zip")
    if not isinstance(key, str) or not key.endswith(".zip"):
        raise ValueError(f"Key {key!r} is not a .zip object key; the schedule's input must name the zip")
    certificate = read_certificate(bucket, key)
    days = days_to_expiry(certificate)
    uri = f"s3://{bucket}/{key}"
    publish_days_to_expiry(uri, days)
    not_after = _iso(certificate.not_valid_after_utc)
    logger.info("%s: %.1f day(s) to expiry (notAfter %s)", uri, days, not_after)
    return {"Certificate": uri, "DaysToExpiry": days, "NotAfter": not_after}
