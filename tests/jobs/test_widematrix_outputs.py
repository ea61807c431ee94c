"""s3:// outputs only under the platform key and in the allowed buckets, checked before any write.

Against moto's S3 server (real HTTP, boto3's ``get_bucket_encryption``, pyarrow's S3 client for
the task-side write). The Spark driver here has no S3 filesystem (no hadoop-aws), so the jobs'
refusals are exercised end to end through ``main`` (they happen before the driver touches the
output), and the accepted case through the check plus the tasks' own pyarrow write.
"""

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from emr_patterns.jobs.widematrix import aggregate, fsio, ingest, outputs
from emr_patterns.jobs.widematrix.errors import InputError

KEY_ID = "0b1f8a52-3d4e-4c55-9f6a-1a2b3c4d5e6f"
KEY = f"arn:aws:kms:us-east-1:123456789012:key/{KEY_ID}"
OTHER = "arn:aws:kms:us-east-1:123456789012:key/99999999-aaaa-bbbb-cccc-dddddddddddd"


def _encrypt(client, bucket, algorithm, key=None):
    default = {"SSEAlgorithm": algorithm}
    if key:
        default["KMSMasterKeyID"] = key
    client.create_bucket(Bucket=bucket)
    client.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": default}]},
    )


def _keys(client, bucket):
    return [o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])]


@pytest.mark.parametrize("configured", [KEY, KEY_ID], ids=["bucket-names-key-arn", "bucket-names-key-id"])
def test_a_bucket_encrypted_with_the_platform_key_is_accepted_and_written(s3, configured):
    _encrypt(s3, "platform", "aws:kms", configured)
    uri = "s3://platform/ds/matrix/part-00000.parquet"
    outputs.check_output("s3://platform/ds", KEY, ["platform", "lake"])
    fsio.ArrowIO.write_parquet(pa.table({"cell": [0, 1]}), uri)  # the tasks' write path
    assert _keys(s3, "platform") == ["ds/matrix/part-00000.parquet"]
    assert pq.read_table(fsio.ArrowIO.open_input(uri))["cell"].to_pylist() == [0, 1]


@pytest.mark.parametrize(
    ("algorithm", "key", "found"),
    [
        ("AES256", None, "default encryption AES256"),
        ("aws:kms", OTHER, f"default encryption aws:kms with key {OTHER}"),
        ("aws:kms", None, "default encryption aws:kms with key aws/s3"),
    ],
    ids=["sse-s3", "another-key", "aws-managed-key"],
)
def test_ingest_refuses_a_bucket_not_under_the_platform_key_before_writing(
    spark, s3, tmp_path, capsys, algorithm, key, found
):
    _encrypt(s3, "other", algorithm, key)
    src = tmp_path / "m.csv"
    src.write_text("cell,g1\nc1,1\n", encoding="utf-8")
    args = ["--input", str(src), "--output", "s3://other/ds", "--kms-key-arn", KEY]
    assert ingest.main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ingest: error: output s3://other/ds: bucket 'other' has ")
    assert found in err and f"not SSE-KMS with {KEY}" in err
    assert "Fix: set the bucket's default encryption to SSE-KMS" in err
    assert len(err.splitlines()) == 1
    assert _keys(s3, "other") == []


def test_a_bucket_without_default_encryption_is_refused(s3):
    s3.create_bucket(Bucket="plain")
    s3.delete_bucket_encryption(Bucket="plain")
    with pytest.raises(InputError, match=r"bucket 'plain' has no default encryption, not SSE-KMS with"):
        outputs.check_output("s3://plain/views", KEY, None)


def test_aggregate_refuses_an_s3_output_under_another_key(spark, s3, tmp_path, capsys):
    _encrypt(s3, "other", "aws:kms", OTHER)
    dataset = tmp_path / "not-read"  # the output is checked before the dataset is opened
    args = ["--dataset", str(dataset), "--group-by", "type", "--output", "s3a://other/views"]
    assert aggregate.main([*args, "--kms-key-arn", KEY]) == 2
    err = capsys.readouterr().err
    assert "aggregate: error: output s3a://other/views: bucket 'other' has default encryption aws:kms" in err
    assert _keys(s3, "other") == []


def test_an_output_bucket_outside_the_allowed_buckets_is_refused(spark, s3, tmp_path, capsys, monkeypatch):
    _encrypt(s3, "elsewhere", "aws:kms", KEY)  # even under the right key
    src = tmp_path / "m.csv"
    src.write_text("cell,g1\nc1,1\n", encoding="utf-8")
    args = ["--input", str(src), "--output", "s3://elsewhere/ds"]
    assert ingest.main([*args, "--allowed-buckets", "lake, platform"]) == 2
    err = capsys.readouterr().err
    assert (
        "output s3://elsewhere/ds: bucket 'elsewhere' is not one of the allowed buckets (lake, platform)"
        in err
    )
    assert "add the bucket to --allowed-buckets ($EMR_PATTERNS_ALLOWED_BUCKETS)" in err
    monkeypatch.setenv(outputs.ALLOWED_BUCKETS_ENV, "lake")  # the same from the environment
    monkeypatch.setenv(outputs.KMS_KEY_ENV, KEY)
    assert ingest.main(args) == 2
    assert "bucket 'elsewhere' is not one of the allowed buckets (lake)" in capsys.readouterr().err
    assert _keys(s3, "elsewhere") == []


def test_the_options_come_from_the_environment(monkeypatch):
    monkeypatch.setenv(outputs.KMS_KEY_ENV, KEY)
    monkeypatch.setenv(outputs.ALLOWED_BUCKETS_ENV, "a,b")
    args = ingest.build_parser().parse_args(["--input", "x", "--output", "y"])
    assert (args.kms_key_arn, args.allowed_buckets) == (KEY, "a,b")
    args = aggregate.build_parser().parse_args(["--dataset", "x", "--group-by", "g", "--output", "y"])
    assert (args.kms_key_arn, args.allowed_buckets) == (KEY, "a,b")
    args = ingest.build_parser().parse_args(["--input", "x", "--output", "y", "--kms-key-arn", OTHER])
    assert args.kms_key_arn == OTHER  # the option wins over the environment


def test_local_outputs_are_not_affected(spark, tmp_path):
    src = tmp_path / "m.csv"
    src.write_text("cell,g1\nc1,1\n", encoding="utf-8")
    out = tmp_path / "ds"
    args = ["--input", str(src), "--output", str(out), "--kms-key-arn", KEY, "--allowed-buckets", "lake"]
    assert ingest.main(args) == 0
    assert (out / "manifest.json").exists()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kms_key_arn": "alias/platform"}, r"--kms-key-arn 'alias/platform' is not a KMS key ARN"),
        ({"kms_key_arn": KEY_ID}, r"is not a KMS key ARN; give arn:aws:kms:<region>:<account>:key/<key id>"),
    ],
)
def test_a_malformed_key_is_refused(kwargs, message):
    with pytest.raises(InputError, match=message):
        outputs.check_output("s3://lake/ds", **kwargs)


def test_allowed_buckets_are_bare_names():
    assert outputs.parse_buckets(" a ,b,") == ["a", "b"]
    assert outputs.parse_buckets("") is None
    with pytest.raises(InputError, match=r"'s3://a' is not a bucket name"):
        outputs.parse_buckets("s3://a")


def test_an_unreadable_encryption_setting_is_refused_naming_the_permission():
    """A stand-in client: moto does not enforce IAM, so it cannot answer AccessDenied."""

    class DeniedError(Exception):
        response = {"Error": {"Code": "AccessDenied"}}

    class Client:
        def get_bucket_encryption(self, Bucket):  # noqa: N803 (boto3's spelling)
            raise DeniedError()

    with pytest.raises(InputError, match=r"bucket 'lake' \(AccessDenied\).*s3:GetEncryptionConfiguration"):
        outputs.check_output("s3://lake/ds", KEY, None, client=Client())
