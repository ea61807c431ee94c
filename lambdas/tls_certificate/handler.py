"""CloudFormation custom resource: self-signed TLS material for EMR in-transit encryption.

An EMR security configuration with ``"CertificateProviderType": "PEM"`` points at a zip file in S3
holding ``privateKey.pem``, ``certificateChain.pem`` and ``trustedCertificates.pem``. This handler
generates that material and uploads it, encrypted with SSE-KMS.

The Lambda runtime ships boto3 but not ``cryptography``, and the asset cannot bundle native wheels,
so everything cryptographic here is pure standard library:

* RSA key generation (2048-bit, e=65537, random candidates from :mod:`secrets`, small-prime sieve,
  40 Miller-Rabin rounds, FIPS 186-4 style size checks on ``p``, ``q``, ``|p-q|`` and ``d``);
* a hand-written DER encoder for the X.509 v3 certificate and the PKCS#8 private key;
* RSASSA-PKCS1-v1_5 with SHA-256 via ``pow`` and the Chinese Remainder Theorem, with a verify
  step before the signature is released.

The certificate is self-signed, ``CA:TRUE`` (it is its own trust anchor, so it is shipped both as
the chain and as the trusted certificate), carries the wildcard of the region's internal domain as
CN (``*.ec2.internal`` in us-east-1, ``*.<region>.compute.internal`` elsewhere) and as
subjectAltName together with the bare domain. The private key is written as unencrypted PKCS#8
(``BEGIN PRIVATE KEY``), the form ``openssl req -x509 -newkey ... -nodes`` writes.

Custom-resource contract (the CDK side must be a plain ``CustomResource`` whose service token is
this function's ARN, *not* a ``custom_resources.Provider``: the handler answers CloudFormation
itself by PUTting to ``ResponseURL``):

ResourceProperties
    ``Bucket`` (required), ``KeyPrefix`` (default ``""``), ``KmsKeyArn`` (required, full key ARN),
    ``CommonName`` (default derived from ``AWS_REGION``), ``ValidityDays`` (1..3650, default 365).
    ``ServiceToken`` and ``ServiceTimeout`` are ignored; any other property is rejected.
Create
    Writes ``s3://<Bucket>/<KeyPrefix><32 hex>.zip``; PhysicalResourceId is that URI; Data holds
    ``S3Uri``, ``ObjectKey``, ``CertificateSha256`` and ``NotAfter`` (nothing secret).
Update
    New object and new PhysicalResourceId when a property changed (CloudFormation then deletes
    the old one), otherwise the old id and the same Data (read back from object metadata). If
    the old object has vanished, a replacement is generated under a new id.
Delete
    Deletes every version and delete marker of the object key; unknown ids and missing objects
    are success.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import json
import logging
import math
import os
import re
import secrets
import time
import urllib.error
import urllib.request
import uuid
import zipfile
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)

# ---------------------------------------------------------------------------------------------
# Contract constants
# ---------------------------------------------------------------------------------------------

PRIVATE_KEY_FILE = "privateKey.pem"
CERTIFICATE_CHAIN_FILE = "certificateChain.pem"
TRUSTED_CERTIFICATES_FILE = "trustedCertificates.pem"

DEFAULT_VALIDITY_DAYS = 365
MAX_VALIDITY_DAYS = 3650
RSA_KEY_BITS = 2048
RSA_PUBLIC_EXPONENT = 65537

#: Properties CloudFormation/CDK add that do not describe the certificate.
IGNORED_PROPERTIES = frozenset({"ServiceToken", "ServiceTimeout"})
KNOWN_PROPERTIES = frozenset({"Bucket", "KeyPrefix", "KmsKeyArn", "CommonName", "ValidityDays"})

#: Seconds kept back from the Lambda deadline for S3 and the CloudFormation response.
DEADLINE_MARGIN_SECONDS = 20.0
#: CloudFormation rejects responses larger than 4096 bytes; keep the reason well below that.
MAX_REASON_CHARS = 1500

_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_KMS_KEY_ARN_RE = re.compile(
    r"^arn:aws(?:-[a-z]+)*:kms:[a-z]{2}(?:-[a-z]+)+-\d:\d{12}:key/"
    r"(?:mrk-[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$"
)
_DNS_LABEL_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_S3_URI_RE = re.compile(r"^s3://(?P<bucket>[^/]+)/(?P<key>.+)$")
#: Object names this handler creates: ``<KeyPrefix><uuid4 hex>.zip``.
_OWN_KEY_RE = re.compile(r"(?:^|/)[0-9a-f]{32}\.zip$")


class PropertyError(ValueError):
    """A ResourceProperties value is missing or invalid; the message names the property and fix."""


# ---------------------------------------------------------------------------------------------
# DER encoding (X.690) — only what an RSA certificate and PKCS#8 key need
# ---------------------------------------------------------------------------------------------


def _der_length(length: int) -> bytes:
    """Encode a DER length (short form below 128, long form otherwise)."""
    if length < 0x80:
        return bytes([length])
    raw = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def der_tlv(tag: int, value: bytes) -> bytes:
    """Encode one tag-length-value element."""
    return bytes([tag]) + _der_length(len(value)) + value


def der_sequence(*items: bytes) -> bytes:
    """Encode a SEQUENCE of already-encoded elements."""
    return der_tlv(0x30, b"".join(items))


def der_set(*items: bytes) -> bytes:
    """Encode a SET OF already-encoded elements, sorted as DER requires."""
    return der_tlv(0x31, b"".join(sorted(items)))


def der_integer(value: int) -> bytes:
    """Encode a non-negative INTEGER in minimal two's-complement form."""
    if value < 0:
        raise ValueError("negative INTEGER values are not used here")
    return der_tlv(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def der_boolean(value: bool) -> bytes:
    """Encode a BOOLEAN (DER: TRUE is 0xFF)."""
    return der_tlv(0x01, b"\xff" if value else b"\x00")


def der_null() -> bytes:
    """Encode NULL."""
    return b"\x05\x00"


def der_octet_string(value: bytes) -> bytes:
    """Encode an OCTET STRING."""
    return der_tlv(0x04, value)


def der_bit_string(value: bytes, unused_bits: int = 0) -> bytes:
    """Encode a BIT STRING whose last octet has ``unused_bits`` zero padding bits."""
    return der_tlv(0x03, bytes([unused_bits]) + value)


def der_utf8_string(value: str) -> bytes:
    """Encode a UTF8String."""
    return der_tlv(0x0C, value.encode("utf-8"))


def der_oid(dotted: str) -> bytes:
    """Encode an OBJECT IDENTIFIER given in dotted form."""
    arcs = [int(part) for part in dotted.split(".")]
    body = bytearray()
    for arc in [40 * arcs[0] + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body.extend(reversed(chunk))
    return der_tlv(0x06, bytes(body))


def der_time(moment: dt.datetime) -> bytes:
    """Encode a certificate time: UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280)."""
    moment = moment.astimezone(dt.UTC)
    if 1950 <= moment.year < 2050:
        return der_tlv(0x17, moment.strftime("%y%m%d%H%M%SZ").encode("ascii"))
    return der_tlv(0x18, moment.strftime("%Y%m%d%H%M%SZ").encode("ascii"))


def der_explicit(number: int, inner: bytes) -> bytes:
    """Wrap ``inner`` in a constructed context-specific EXPLICIT tag ``[number]``."""
    return der_tlv(0xA0 | number, inner)


OID_RSA_ENCRYPTION = "1.2.840.113549.1.1.1"
OID_SHA256_WITH_RSA = "1.2.840.113549.1.1.11"
OID_COMMON_NAME = "2.5.4.3"
OID_SUBJECT_KEY_IDENTIFIER = "2.5.29.14"
OID_KEY_USAGE = "2.5.29.15"
OID_SUBJECT_ALT_NAME = "2.5.29.17"
OID_BASIC_CONSTRAINTS = "2.5.29.19"
OID_AUTHORITY_KEY_IDENTIFIER = "2.5.29.35"
OID_EXTENDED_KEY_USAGE = "2.5.29.37"
OID_SERVER_AUTH = "1.3.6.1.5.5.7.3.1"
OID_CLIENT_AUTH = "1.3.6.1.5.5.7.3.2"

#: DER of DigestInfo for SHA-256 up to (excluding) the 32-byte digest (RFC 8017, section 9.2).
_SHA256_DIGEST_INFO_PREFIX = bytes.fromhex("3031300d060960864801650304020105000420")


# ---------------------------------------------------------------------------------------------
# RSA
# ---------------------------------------------------------------------------------------------


def _small_primes(limit: int) -> tuple[int, ...]:
    """Primes below ``limit`` (sieve of Eratosthenes)."""
    sieve = bytearray([1]) * limit
    sieve[0:2] = b"\x00\x00"
    for i in range(2, math.isqrt(limit) + 1):
        if sieve[i]:
            sieve[i * i :: i] = bytes(len(range(i * i, limit, i)))
    return tuple(i for i, flag in enumerate(sieve) if flag)


_SMALL_PRIMES = _small_primes(10_000)
_SMALL_PRIME_PRODUCT = math.prod(_SMALL_PRIMES)
MILLER_RABIN_ROUNDS = 40


def is_probable_prime(candidate: int, rounds: int = MILLER_RABIN_ROUNDS) -> bool:
    """Miller-Rabin with random bases from :mod:`secrets` after trial division by small primes.

    The error probability for a composite is below ``4 ** -rounds``.
    """
    if candidate < 2:
        return False
    if candidate <= _SMALL_PRIMES[-1]:
        return candidate in _SMALL_PRIMES
    if math.gcd(candidate, _SMALL_PRIME_PRODUCT) != 1:
        return False
    d = candidate - 1
    s = 0
    while d % 2 == 0:
        d //= 2
        s += 1
    for _ in range(rounds):
        a = 2 + secrets.randbelow(candidate - 3)
        x = pow(a, d, candidate)
        if x in (1, candidate - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, candidate)
            if x == candidate - 1:
                break
        else:
            return False
    return True


def _check_deadline(deadline: float | None) -> None:
    """Raise :class:`TimeoutError` once ``time.monotonic()`` has passed ``deadline``."""
    if deadline is not None and time.monotonic() > deadline:
        raise TimeoutError(
            "RSA key generation did not finish before the Lambda deadline; "
            "give the function more memory (CPU) or a longer timeout"
        )


def _generate_prime(bits: int, exponent: int, deadline: float | None) -> int:
    """A random ``bits``-bit prime with the two top bits set and ``gcd(exponent, p - 1) == 1``.

    Two top bits set keeps ``p >= sqrt(2) * 2**(bits - 1)`` so that ``p * q`` has exactly
    ``2 * bits`` bits.
    """
    top = 0b11 << (bits - 2)
    while True:
        _check_deadline(deadline)
        candidate = secrets.randbits(bits) | top | 1
        if math.gcd(candidate, _SMALL_PRIME_PRODUCT) != 1:
            continue
        if math.gcd(exponent, candidate - 1) != 1:
            continue
        if is_probable_prime(candidate):
            return candidate


@dataclass(frozen=True, repr=False)
class RsaPrivateKey:
    """An RSA private key with CRT parameters (RFC 8017 ``RSAPrivateKey``).

    ``repr`` is deliberately uninformative so that key material never reaches a log line.
    """

    n: int
    e: int
    d: int
    p: int
    q: int
    dp: int
    dq: int
    qinv: int

    def __repr__(self) -> str:
        """Describe the key without revealing it."""
        return f"RsaPrivateKey(bits={self.n.bit_length()}, e={self.e})"

    @property
    def size_bytes(self) -> int:
        """Length of the modulus in octets."""
        return (self.n.bit_length() + 7) // 8


def generate_rsa_private_key(
    bits: int = RSA_KEY_BITS, exponent: int = RSA_PUBLIC_EXPONENT, deadline: float | None = None
) -> RsaPrivateKey:
    """Generate an RSA key pair in pure Python.

    ``deadline`` is a :func:`time.monotonic` value after which :class:`TimeoutError` is raised,
    so a slow generation fails cleanly instead of timing the Lambda out.
    """
    if bits < 2048 or bits % 2:
        raise ValueError("RSA keys must be at least 2048 bits and of even size")
    half = bits // 2
    while True:
        p = _generate_prime(half, exponent, deadline)
        q = _generate_prime(half, exponent, deadline)
        if abs(p - q) <= 1 << (half - 100):
            continue
        if p < q:
            p, q = q, p
        n = p * q
        if n.bit_length() != bits:
            continue
        d = pow(exponent, -1, math.lcm(p - 1, q - 1))
        if d <= 1 << half:
            continue
        return RsaPrivateKey(
            n=n, e=exponent, d=d, p=p, q=q, dp=d % (p - 1), dq=d % (q - 1), qinv=pow(q, -1, p)
        )


def rsa_sign_pkcs1v15_sha256(key: RsaPrivateKey, message: bytes) -> bytes:
    """RSASSA-PKCS1-v1_5 signature with SHA-256 (RFC 8017, section 8.2), computed with CRT.

    The signature is verified with the public key before it is returned, which catches any
    arithmetic fault that could otherwise leak a factor of the modulus.
    """
    k = key.size_bytes
    digest_info = _SHA256_DIGEST_INFO_PREFIX + hashlib.sha256(message).digest()
    encoded = b"\x00\x01" + b"\xff" * (k - len(digest_info) - 3) + b"\x00" + digest_info
    m = int.from_bytes(encoded, "big")
    s1 = pow(m, key.dp, key.p)
    s2 = pow(m, key.dq, key.q)
    signature = s2 + ((key.qinv * (s1 - s2)) % key.p) * key.q
    if pow(signature, key.e, key.n) != m:
        raise RuntimeError("RSA signature self-check failed")
    return signature.to_bytes(k, "big")


def rsa_public_key_der(key: RsaPrivateKey) -> bytes:
    """PKCS#1 ``RSAPublicKey``."""
    return der_sequence(der_integer(key.n), der_integer(key.e))


def rsa_private_key_pkcs8_der(key: RsaPrivateKey) -> bytes:
    """PKCS#8 ``PrivateKeyInfo`` wrapping PKCS#1 ``RSAPrivateKey`` (RFC 5208 / RFC 8017)."""
    pkcs1 = der_sequence(
        der_integer(0),
        der_integer(key.n),
        der_integer(key.e),
        der_integer(key.d),
        der_integer(key.p),
        der_integer(key.q),
        der_integer(key.dp),
        der_integer(key.dq),
        der_integer(key.qinv),
    )
    algorithm = der_sequence(der_oid(OID_RSA_ENCRYPTION), der_null())
    return der_sequence(der_integer(0), algorithm, der_octet_string(pkcs1))


def pem_encode(label: str, der: bytes) -> str:
    """Armour DER as PEM with 64-character lines (RFC 7468)."""
    b64 = base64.b64encode(der).decode("ascii")
    lines = [b64[i : i + 64] for i in range(0, len(b64), 64)]
    return f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n"


# ---------------------------------------------------------------------------------------------
# X.509 v3 certificate (RFC 5280)
# ---------------------------------------------------------------------------------------------


def _extension(oid: str, value: bytes, critical: bool = False) -> bytes:
    """Encode one ``Extension``; ``critical`` FALSE is the DEFAULT and therefore omitted."""
    parts = [der_oid(oid)]
    if critical:
        parts.append(der_boolean(True))
    parts.append(der_octet_string(value))
    return der_sequence(*parts)


def _name(common_name: str) -> bytes:
    """A distinguished name holding only the common name (UTF8String, as RFC 5280 requires)."""
    return der_sequence(der_set(der_sequence(der_oid(OID_COMMON_NAME), der_utf8_string(common_name))))


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
        return pem_encode("CERTIFICATE", self.der)

    @property
    def sha256_fingerprint(self) -> str:
        """Lower-case hex SHA-256 of the DER certificate."""
        return hashlib.sha256(self.der).hexdigest()


def build_self_signed_certificate(
    key: RsaPrivateKey, common_name: str, validity_days: int, now: dt.datetime | None = None
) -> Certificate:
    """Build and sign a self-signed X.509 v3 certificate that is its own trust anchor.

    notBefore is backdated five minutes against clock skew between nodes; notAfter is exactly
    ``validity_days`` later.
    """
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(microsecond=0)
    not_before = now - dt.timedelta(minutes=5)
    not_after = not_before + dt.timedelta(days=validity_days)
    # 127 random bits with the top one forced: always positive, exactly 16 octets in DER.
    serial = secrets.randbits(127) | (1 << 126)

    public_key = rsa_public_key_der(key)
    key_identifier = hashlib.sha1(public_key, usedforsecurity=False).digest()  # RFC 5280 4.2.1.2 (1)
    signature_algorithm = der_sequence(der_oid(OID_SHA256_WITH_RSA), der_null())
    subject = _name(common_name)
    # keyUsage bits: digitalSignature(0)=0x80, keyEncipherment(2)=0x20, keyCertSign(5)=0x04;
    # DER drops trailing zero bits, so bits 6 and 7 are the two unused bits.
    key_usage = der_bit_string(bytes([0x80 | 0x20 | 0x04]), unused_bits=2)
    extensions = [
        _extension(OID_BASIC_CONSTRAINTS, der_sequence(der_boolean(True), der_integer(0)), critical=True),
        _extension(OID_KEY_USAGE, key_usage, critical=True),
        _extension(OID_EXTENDED_KEY_USAGE, der_sequence(der_oid(OID_SERVER_AUTH), der_oid(OID_CLIENT_AUTH))),
        _extension(
            OID_SUBJECT_ALT_NAME,
            der_sequence(*(der_tlv(0x82, name.encode("ascii")) for name in subject_alt_names(common_name))),
        ),
        _extension(OID_SUBJECT_KEY_IDENTIFIER, der_octet_string(key_identifier)),
        _extension(OID_AUTHORITY_KEY_IDENTIFIER, der_sequence(der_tlv(0x80, key_identifier))),
    ]
    tbs = der_sequence(
        der_explicit(0, der_integer(2)),  # v3
        der_integer(serial),
        signature_algorithm,
        subject,  # issuer == subject: self-signed
        der_sequence(der_time(not_before), der_time(not_after)),
        subject,
        der_sequence(der_sequence(der_oid(OID_RSA_ENCRYPTION), der_null()), der_bit_string(public_key)),
        der_explicit(3, der_sequence(*extensions)),
    )
    signature = rsa_sign_pkcs1v15_sha256(key, tbs)
    der = der_sequence(tbs, signature_algorithm, der_bit_string(signature))
    return Certificate(der=der, not_before=not_before, not_after=not_after, serial=serial)


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
    key: RsaPrivateKey | None = None,
    now: dt.datetime | None = None,
    deadline: float | None = None,
) -> TlsBundle:
    """Generate (or use ``key``) and package the three PEM files EMR expects into a zip."""
    key = key or generate_rsa_private_key(deadline=deadline)
    certificate = build_self_signed_certificate(key, common_name, validity_days, now=now)
    files = {
        PRIVATE_KEY_FILE: (pem_encode("PRIVATE KEY", rsa_private_key_pkcs8_der(key)), 0o600),
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
    return TlsProperties(bucket, key_prefix, kms_key_arn, common_name, validity_days)


# ---------------------------------------------------------------------------------------------
# S3
# ---------------------------------------------------------------------------------------------

_S3_CLIENT: Any = None


def _s3() -> Any:
    """The S3 client, created on first use (so importing the module needs no AWS config)."""
    global _S3_CLIENT
    if _S3_CLIENT is None:
        import boto3

        _S3_CLIENT = boto3.client("s3")
    return _S3_CLIENT


def parse_own_s3_uri(physical_id: str | None) -> tuple[str, str] | None:
    """``(bucket, key)`` when ``physical_id`` is an object URI this handler created, else ``None``."""
    if not physical_id:
        return None
    match = _S3_URI_RE.match(physical_id)
    if not match or not _OWN_KEY_RE.search(match["key"]):
        return None
    return match["bucket"], match["key"]


def _iso(moment: dt.datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` in UTC."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _upload_bundle(props: TlsProperties, bundle: TlsBundle) -> tuple[str, str]:
    """Put the zip with SSE-KMS; return ``(s3_uri, key)``."""
    key = f"{props.key_prefix}{uuid.uuid4().hex}.zip"
    _s3().put_object(
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
        },
    )
    return f"s3://{props.bucket}/{key}", key


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
# Custom-resource request handling
# ---------------------------------------------------------------------------------------------


def _deadline(context: Any) -> float | None:
    """Monotonic time by which key generation must finish, from the Lambda context."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return None
    seconds_left = float(remaining()) / 1000.0
    return time.monotonic() + max(seconds_left - DEADLINE_MARGIN_SECONDS, 0.0)


def _create(props: TlsProperties, context: Any) -> tuple[str, dict[str, str]]:
    """Generate, upload and describe a new bundle."""
    bundle = build_tls_bundle(props.common_name, props.validity_days, deadline=_deadline(context))
    uri, key = _upload_bundle(props, bundle)
    fingerprint = bundle.certificate.sha256_fingerprint
    logger.info("Uploaded TLS bundle %s (certificate sha256 %s)", uri, fingerprint)
    data = {
        "S3Uri": uri,
        "ObjectKey": key,
        "CertificateSha256": fingerprint,
        "NotAfter": _iso(bundle.certificate.not_after),
    }
    return uri, data


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
        "CertificateSha256": metadata.get("certificate-sha256", ""),
        "NotAfter": metadata.get("not-after", ""),
    }


def _comparable(properties: dict[str, Any] | None) -> Any:
    """Normalised view of properties for change detection (raw view if they do not validate)."""
    try:
        return parse_properties(properties)
    except PropertyError:
        return {k: str(v) for k, v in (properties or {}).items() if k not in IGNORED_PROPERTIES}


def _dispatch(event: dict[str, Any], context: Any) -> tuple[str, dict[str, str]]:
    """Run the request; return ``(physical_id, data)`` or raise."""
    request_type = event.get("RequestType")
    physical_id = event.get("PhysicalResourceId")
    if request_type == "Create":
        return _create(parse_properties(event.get("ResourceProperties")), context)
    if request_type == "Update":
        props = parse_properties(event.get("ResourceProperties"))
        existing = parse_own_s3_uri(physical_id)
        if existing is not None and _comparable(event.get("OldResourceProperties")) == props:
            data = _describe_existing(*existing)
            if data is not None:
                logger.info("Properties unchanged; keeping %s", physical_id)
                return str(physical_id), data
            logger.warning("%s no longer exists; generating a replacement", physical_id)
        return _create(props, context)
    if request_type == "Delete":
        parsed = parse_own_s3_uri(physical_id)
        if parsed is None:
            logger.info("Nothing to delete: physical id was not created by this handler")
        else:
            removed = delete_all_versions(*parsed)
            logger.info("Deleted %d version(s) of %s", removed, physical_id)
        return str(physical_id or event.get("LogicalResourceId", "tls-certificate")), {}
    raise ValueError(f"Unsupported RequestType {request_type!r}")


def _failure_physical_id(event: dict[str, Any]) -> str:
    """Physical id for a FAILED response: the existing one, or a marker no Delete will act on."""
    existing = event.get("PhysicalResourceId")
    if existing:
        return str(existing)
    return f"tls-certificate-failed-{event.get('RequestId', uuid.uuid4().hex)}"


def _send_response(url: str, body: dict[str, Any]) -> None:
    """PUT the response to the pre-signed ``ResponseURL``, retrying transient failures."""
    payload = json.dumps(body).encode("utf-8")
    request = urllib.request.Request(
        url,
        data=payload,
        method="PUT",
        headers={"Content-Type": "", "Content-Length": str(len(payload))},
    )
    for attempt in range(1, 4):
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                logger.info("CloudFormation response sent (HTTP %s)", response.status)
                return
        except urllib.error.HTTPError as exc:
            logger.error("CloudFormation rejected the response: HTTP %s", exc.code)
            if exc.code < 500:
                return
        except (urllib.error.URLError, OSError) as exc:
            logger.error("Sending the CloudFormation response failed (attempt %d): %s", attempt, exc)
        time.sleep(min(2**attempt, 8))


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point for the custom resource; always answers CloudFormation.

    Returns the response body that was sent (it never contains key material).
    """
    request_type = event.get("RequestType")
    logger.info(
        "%s request for %s (request id %s)",
        request_type,
        event.get("LogicalResourceId"),
        event.get("RequestId"),
    )
    status, reason = "SUCCESS", "OK"
    data: dict[str, str] = {}
    try:
        physical_id, data = _dispatch(event, context)
    except PropertyError as exc:
        status, reason, physical_id = "FAILED", f"Invalid properties: {exc}", _failure_physical_id(event)
        logger.error("%s failed: %s", request_type, reason)
    except Exception as exc:
        status, physical_id = "FAILED", _failure_physical_id(event)
        reason = f"{request_type} failed: {type(exc).__name__}: {exc}"
        log_stream = getattr(context, "log_stream_name", None)
        if log_stream:
            reason += f" (see CloudWatch log stream {log_stream})"
        logger.exception("%s failed", request_type)
    if len(reason) > MAX_REASON_CHARS:
        reason = reason[: MAX_REASON_CHARS - 3] + "..."
    body = {
        "Status": status,
        "Reason": reason,
        "PhysicalResourceId": physical_id,
        "StackId": event.get("StackId"),
        "RequestId": event.get("RequestId"),
        "LogicalResourceId": event.get("LogicalResourceId"),
        "Data": data,
    }
    url = event.get("ResponseURL")
    if url:
        _send_response(str(url), body)
    else:
        logger.warning("No ResponseURL in the event; response not sent")
    return body
