#!/bin/bash
# EMR bootstrap action: copy one file from S3 to a fixed path on the node, readable by every
# service (mode 0644; root owns it, as sudo runs install). HiveCluster uses it to place the Amazon
# RDS CA bundle where the metastore's JDBC URL names it (serverSslCert), so the driver verifies
# the database certificate.
# The object is a content-hashed CDK asset reached through the VPC's S3 gateway endpoint.
#
# Usage: install-file-bootstrap.sh <destination path> <region> <s3 uri of the file>
set -euo pipefail

if [ "$#" -ne 3 ]; then
    echo "usage: $0 <destination path> <region> <s3 uri>" >&2
    exit 2
fi
dest="$1"
region="$2"
source_uri="$3"
case "$dest" in
    /*) ;;
    *)
        echo "install-file bootstrap: destination must be an absolute path, got '$dest'" >&2
        exit 2
        ;;
esac

work="$(mktemp -d /tmp/install-file.XXXXXX)"
trap 'rm -rf "$work"' EXIT
aws s3 cp --only-show-errors --region "$region" "$source_uri" "$work/file"
if [ ! -s "$work/file" ]; then
    echo "install-file bootstrap: $source_uri is empty" >&2
    exit 1
fi
sudo install -D -m 0644 "$work/file" "$dest"
echo "install-file bootstrap: $source_uri -> $dest"
