#!/bin/bash
# EMR bootstrap action of the wide-matrix jobs (emr_patterns.compute.jobs.WideMatrixJobs): install
# their Python dependencies into the node's Python 3.9 (/usr/bin/python3 on EMR 7) from a
# wheelhouse in S3, never from a package index, so nodes in private subnets without internet
# access work (S3 is reached through the VPC's gateway endpoint).
#
# Usage: widematrix-deps-bootstrap.sh <s3 uri of the x86_64 wheelhouse zip> \
#            <s3 uri of the aarch64 wheelhouse zip> <region>
# Each zip holds cp39 manylinux wheels and requirements.txt (make emr-wheelhouse).
set -euo pipefail

if [ "$#" -ne 3 ]; then
    echo "usage: $0 <x86_64 wheelhouse s3 uri> <aarch64 wheelhouse s3 uri> <region>" >&2
    exit 2
fi
arch="$(uname -m)"
case "$arch" in
    x86_64) source_uri="$1" ;;
    aarch64) source_uri="$2" ;;
    *)
        echo "widematrix bootstrap: no wheelhouse for architecture $arch" >&2
        exit 1
        ;;
esac
region="$3"

work="$(mktemp -d /tmp/widematrix-deps.XXXXXX)"
trap 'rm -rf "$work"' EXIT
aws s3 cp --only-show-errors --region "$region" "$source_uri" "$work/wheelhouse.zip"
python3 -m zipfile -e "$work/wheelhouse.zip" "$work/wheelhouse"
sudo python3 -m pip install --no-index --find-links "$work/wheelhouse" \
    -r "$work/wheelhouse/requirements.txt"
python3 -c "import numpy, pandas, pyarrow, h5py, boto3"
echo "widematrix bootstrap: installed the job dependencies for $arch"
