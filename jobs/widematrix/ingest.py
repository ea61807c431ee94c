"""Ingest a single-cell expression matrix into the canonical sparse dataset.

Usage (spark-submit entry point; every path may be local, ``hdfs://`` or ``s3://``)::

    spark-submit jobs/widematrix/ingest.py --input <path or s3 uri> [--metadata <cells.csv>] \\
        --output <dataset dir> [--format auto|zip|csv|10x-h5|h5ad|mtx] [--overwrite] \\
        [--value-type auto|float32|float64] [--gene-key name|id] [--h5ad-matrix X|raw.X|layers/NAME] \\
        [--kms-key-arn ARN] [--allowed-buckets b1,b2]

Inputs (``--format auto`` picks by name):

* ``.zip``: the source design's archive: exactly one wide matrix CSV (a member whose name
  contains ``matrix``) and optionally one cell-metadata CSV (a member whose name contains
  ``metadata``, ``cells`` or ``obs``). Streamed member by member through the JVM.
* ``.csv`` / ``.csv.gz``: a wide CSV: header ``<cell id column>,<gene 1>,...,<gene G>`` and one
  row per cell with G finite numbers >= 0. Quoted ids and gene names (commas, quotes, non-ASCII)
  are fine; quoted newlines are not.
* ``.h5``: a 10x Genomics Cell Ranger matrix (``filtered_feature_bc_matrix.h5``, v2 or v3).
* ``.h5ad``: an AnnData file (``--h5ad-matrix`` picks ``X``, ``raw.X`` or a layer); ``obs``
  columns become cell metadata.
* a directory holding ``matrix.mtx[.gz]``, ``barcodes.tsv[.gz]`` and ``features.tsv[.gz]``
  (or ``genes.tsv``): a Matrix Market export, in either orientation.

``--metadata`` is a CSV whose first column is the cell id; all its columns are kept (as strings).
Cells of the matrix missing from it are an error; extra metadata rows are a warning.

Output (``<dataset dir>``)::

    matrix/part-*.parquet   cell int32, gene int32, value float32|float64; nonzeros only; each file
                            a run of whole cells (whole genes for a gene-major HDF5 matrix; a part
                            of the coordinate file for Matrix Market), rows sorted by gene then cell
    cells/   cell_index int32, cell_id string, <metadata columns>
    genes/   gene_index int32, gene string, <feature columns>
    manifest.json                          shape, nnz, value type, source checksum, layout; written last

After an ``--overwrite`` the files are in a version folder ``_v-<id>/`` named by the manifest's
``data_dir`` (see ``commit``); readers follow it. ``--overwrite`` refuses a target that is not a
dataset and a dataset that an aggregate run is reading (its ``_readers/`` lease).

``--kms-key-arn`` (or ``$EMR_PATTERNS_KMS_KEY_ARN``) and ``--allowed-buckets`` (or
``$EMR_PATTERNS_ALLOWED_BUCKETS``) restrict ``s3://`` outputs before anything is written (see
``outputs``).

Exit status: 0 on success, 2 on bad input (the message names file, row, cell or column), 1 otherwise.
"""

import argparse
import os
import sys
from typing import Any, Dict, List, Optional, Sequence

if __name__ == "__main__" and not __package__:  # spark-submit runs this file as a script
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from widematrix.ingest import main as _script_main

    sys.exit(_script_main(sys.argv[1:], script_mode=True))

from pyspark.sql import SparkSession

from . import cli, commit, fsio, ingest_csv, ingest_hdf5, ingest_mtx, ingest_zip, jobgroup, outputs, worker
from .dataset import KIND, IngestRequest, MatrixResult, finish
from .errors import InputError, unwrap


def detect_format(fs: fsio.HadoopFS, uri: str) -> str:
    if fs.is_dir(uri):
        return "mtx"
    name = uri.rstrip("/").rsplit("/", 1)[-1].lower()
    for suffix, fmt in ((".zip", "zip"), (".h5ad", "h5ad"), (".h5", "10x-h5"), (".hdf5", "10x-h5")):
        if name.endswith(suffix):
            return fmt
    if name.endswith((".csv", ".csv.gz", ".csv.bz2", ".txt", ".txt.gz")):
        return "csv"
    raise InputError(f"{uri}: cannot tell the input format from the name; pass --format")


def run_ingest(
    spark: SparkSession,
    input_uri: str,
    output_uri: str,
    metadata_uri: Optional[str] = None,
    fmt: str = "auto",
    overwrite: bool = False,
    value_type: str = "auto",
    gene_key: str = "name",
    h5ad_matrix: str = "X",
    kms_key_arn: Optional[str] = None,
    allowed_buckets: Optional[Sequence[str]] = None,
) -> Dict[str, Any]:
    """Run the ingest; returns the manifest. Raises ``InputError`` on bad input (no output left).

    ``kms_key_arn`` and ``allowed_buckets`` restrict ``s3://`` outputs (``outputs.check_output``);
    ``overwrite`` replaces an existing dataset by write-then-switch (``commit``).
    """
    cli.check_locations(input=input_uri, metadata=metadata_uri, output=output_uri)
    fs = fsio.HadoopFS(spark)
    input_uri = fs.qualify(input_uri)
    output_uri = fs.qualify(output_uri).rstrip("/")
    outputs.check_output(output_uri, kms_key_arn, allowed_buckets)
    metadata_uri = fs.qualify(metadata_uri) if metadata_uri else None
    if not fs.exists(input_uri):
        raise InputError(f"{input_uri}: input does not exist")
    if metadata_uri and not fs.exists(metadata_uri):
        raise InputError(f"{metadata_uri}: metadata file does not exist")
    fmt = detect_format(fs, input_uri) if fmt == "auto" else fmt
    try:
        with (
            jobgroup.JobGroup(spark, f"widematrix ingest {output_uri}") as group,
            commit.staged_output(fs, output_uri, overwrite, KIND, settle=group.cancel_and_wait) as staged,
        ):
            staging = fsio.join(staged.path, "_staging")
            req = IngestRequest(
                spark,
                fs,
                fmt,
                input_uri,
                metadata_uri,
                staged.path,
                staging,
                value_type,
                gene_key,
                h5ad_matrix,
            )
            manifest = finish(req, _write_matrix(req))
            fs.delete(staging)
            commit.commit(fs, staged, manifest)
    except Exception as exc:
        err = unwrap(exc)
        if err is not None and err is not exc:
            raise err from None
        raise
    return manifest


def _write_matrix(req: IngestRequest) -> MatrixResult:
    """The format's own module writes the matrix files and returns the dictionaries."""
    fmt = req.fmt
    csv_uri = ingest_zip.unpack(req) if fmt == "zip" else req.input_uri
    metadata_uri = req.metadata_uri
    if metadata_uri and fmt != "zip":
        req.source["metadata_uri"] = metadata_uri
    if metadata_uri and not metadata_uri.startswith(req.staging):
        req.source["metadata_sha256"] = req.fs.sha256(metadata_uri)
    if fmt in ("csv", "zip"):
        return ingest_csv.ingest(req, csv_uri, checksum=fmt != "zip")
    if fmt in ("10x-h5", "h5ad"):
        return ingest_hdf5.ingest(req)
    if fmt == "mtx":
        return ingest_mtx.ingest(req)
    raise InputError(f"unknown --format {fmt!r}")


EXAMPLE = """\
  spark-submit --deploy-mode cluster --py-files s3://BUCKET/jobs/widematrix.zip \\
      s3://BUCKET/jobs/ingest.py --input s3://LAKE/raw/export.zip \\
      --output s3://LAKE/datasets/brain-2024 --kms-key-arn arn:aws:kms:REGION:ACCOUNT:key/ID \\
      --allowed-buckets LAKE"""


def build_parser() -> argparse.ArgumentParser:
    p = cli.parser("ingest.py", "Ingest a single-cell matrix into the canonical sparse dataset.", EXAMPLE)
    p.add_argument(
        "--input", required=True, help="wide CSV[.gz], ZIP, 10x .h5, .h5ad, or a Matrix Market dir"
    )
    p.add_argument("--metadata", help="cell metadata CSV; first column is the cell id")
    p.add_argument("--output", required=True, help="dataset directory to create")
    p.add_argument(
        "--format",
        default="auto",
        choices=["auto", "zip", "csv", "10x-h5", "h5ad", "mtx"],
        help="input format (auto: by the name; a directory is Matrix Market)",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a dataset (write the new one, switch; refused while it is read)",
    )
    p.add_argument(
        "--value-type",
        default="auto",
        choices=["auto", "float32", "float64"],
        help="stored value type (auto: float32 when every value fits exactly)",
    )
    p.add_argument(
        "--gene-key", default="name", choices=["name", "id"], help="10x/mtx: gene name or feature id"
    )
    p.add_argument("--h5ad-matrix", default="X", help="h5ad: X, raw.X or layers/<name>")
    outputs.add_arguments(p)
    return p


def main(argv: Optional[List[str]] = None, script_mode: bool = False) -> int:
    """The command line (``spark-submit ingest.py --help``); returns the exit status."""
    args = build_parser().parse_args(argv)

    def checks() -> None:
        cli.check_locations(input=args.input, metadata=args.metadata, output=args.output)
        outputs.parse_buckets(args.allowed_buckets)

    def body(spark: SparkSession) -> int:
        if script_mode:  # executors import our modules from a zip the job ships itself
            worker.ship_package(spark)
        manifest = run_ingest(
            spark,
            args.input,
            args.output,
            metadata_uri=args.metadata,
            fmt=args.format,
            overwrite=args.overwrite,
            value_type=args.value_type,
            gene_key=args.gene_key,
            h5ad_matrix=args.h5ad_matrix,
            kms_key_arn=args.kms_key_arn,
            allowed_buckets=outputs.parse_buckets(args.allowed_buckets),
        )
        print(
            f"ingest: wrote {args.output}: {manifest['shape']['cells']} cells x "
            f"{manifest['shape']['genes']} genes, "
            f"{manifest['nnz']} stored values ({manifest['value_type']})"
        )
        return 0

    return cli.run("ingest", args, checks, body)
