"""Where the jobs may write on S3, and under which key: checked on the driver before any write.

The tasks write Parquet with pyarrow's ``S3FileSystem`` (``fsio.ArrowIO``), not with EMRFS, so the
EMR security configuration's S3 encryption settings do not apply to them. pyarrow cannot carry
SSE-KMS on a write: its ``S3FileSystem`` has no server-side-encryption option (only SSE-C, in
Arrow C++), and the object metadata it sends is limited to ACL, Cache-Control, Content-Type,
Content-Language and Expires (Arrow's ``ObjectMetadataSetter``; checked against pyarrow 26).
Objects it writes are therefore encrypted by the bucket's default encryption. So when a platform
key is given (``--kms-key-arn`` / ``EMR_PATTERNS_KMS_KEY_ARN``) an ``s3://`` output is allowed only
if its bucket's default encryption is SSE-KMS with exactly that key (by key ARN or key id). With
``--allowed-buckets`` / ``EMR_PATTERNS_ALLOWED_BUCKETS`` an ``s3://`` output must also be in one
of those buckets. Local and ``hdfs://`` outputs are not affected. A refusal is an ``InputError``
(exit status 2) naming the output, the bucket, what was found and the fix.
"""

import argparse
import os
import re
from typing import Any, List, Optional, Sequence, Tuple

from . import fsio
from .errors import InputError

KMS_KEY_ENV = "EMR_PATTERNS_KMS_KEY_ARN"
ALLOWED_BUCKETS_ENV = "EMR_PATTERNS_ALLOWED_BUCKETS"
_KEY_ARN = re.compile(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/([A-Za-z0-9-]+)$")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--kms-key-arn`` and ``--allowed-buckets``, defaulting to their environment variables."""
    parser.add_argument(
        "--kms-key-arn",
        default=os.environ.get(KMS_KEY_ENV) or None,
        help=f"s3:// outputs must be in buckets whose default encryption is SSE-KMS with this key "
        f"(default: ${KMS_KEY_ENV}; unset: not checked)",
    )
    parser.add_argument(
        "--allowed-buckets",
        default=os.environ.get(ALLOWED_BUCKETS_ENV) or None,
        help=f"comma list: s3:// outputs must be in one of these buckets "
        f"(default: ${ALLOWED_BUCKETS_ENV}; unset: any bucket)",
    )


def parse_buckets(text: Optional[str]) -> Optional[List[str]]:
    """``"a, b"`` -> ``["a", "b"]``; ``None``/empty -> ``None`` (no restriction)."""
    if not text:
        return None
    buckets = [b.strip() for b in text.split(",") if b.strip()]
    bad = [b for b in buckets if "/" in b or ":" in b]
    if bad:
        raise InputError(
            f"--allowed-buckets: {bad[0]!r} is not a bucket name; give bare names such as 'my-lake' "
            "(no s3:// and no prefix), separated by commas"
        )
    return buckets or None


def check_output(
    uri: str,
    kms_key_arn: Optional[str] = None,
    allowed_buckets: Optional[Sequence[str]] = None,
    client: Any = None,
) -> None:
    """Refuse an ``s3://`` output outside ``allowed_buckets`` or not encrypted by ``kms_key_arn``."""
    if not fsio.is_object_store(uri):
        return
    bucket = uri.split("://", 1)[1].split("/", 1)[0]
    if allowed_buckets is not None and bucket not in allowed_buckets:
        raise InputError(
            f"output {uri}: bucket {bucket!r} is not one of the allowed buckets "
            f"({', '.join(allowed_buckets)}). "
            "Fix: write to one of them, or add the bucket to --allowed-buckets "
            f"(${ALLOWED_BUCKETS_ENV})"
        )
    if not kms_key_arn:
        return
    match = _KEY_ARN.match(kms_key_arn)
    if match is None:
        raise InputError(
            f"--kms-key-arn {kms_key_arn!r} is not a KMS key ARN; "
            "give arn:aws:kms:<region>:<account>:key/<key id> (not an alias)"
        )
    algorithm, key = _default_encryption(bucket, uri, client)
    if algorithm in ("aws:kms", "aws:kms:dsse") and key in (kms_key_arn, match.group(1)):
        return
    what = "no default encryption" if algorithm is None else f"default encryption {algorithm}"
    if algorithm and algorithm.startswith("aws:kms"):
        what += f" with key {key or 'aws/s3 (the AWS managed key)'}"
    raise InputError(
        f"output {uri}: bucket {bucket!r} has {what}, not SSE-KMS with {kms_key_arn}; the tasks' "
        "pyarrow writes cannot request SSE-KMS, so their objects would not be under the platform key. "
        f"Fix: set the bucket's default encryption to SSE-KMS with {kms_key_arn}, or write to a "
        "platform bucket"
    )


def _default_encryption(bucket: str, uri: str, client: Any) -> Tuple[Optional[str], Optional[str]]:
    """(SSE algorithm or None, KMS key id/ARN or None) of a bucket's default encryption."""
    if client is None:
        try:
            import boto3
        except ImportError:
            raise InputError(
                f"output {uri}: boto3 is needed to check the bucket's encryption (--kms-key-arn); "
                "install it on the cluster, or drop --kms-key-arn"
            ) from None
        client = boto3.client("s3")
    try:
        config = client.get_bucket_encryption(Bucket=bucket)
    except Exception as exc:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)
        if code == "ServerSideEncryptionConfigurationNotFoundError":
            return (None, None)
        raise InputError(
            f"output {uri}: could not read the default encryption of bucket {bucket!r} ({code}). "
            "Fix: allow s3:GetEncryptionConfiguration on it to the cluster's role, or write elsewhere"
        ) from None
    for rule in config.get("ServerSideEncryptionConfiguration", {}).get("Rules", []):
        default = rule.get("ApplyServerSideEncryptionByDefault")
        if default:
            return (default.get("SSEAlgorithm"), default.get("KMSMasterKeyID"))
    return (None, None)
