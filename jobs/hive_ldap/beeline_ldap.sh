#!/bin/bash
# beeline to HiveServer2 with LDAP credentials read from AWS Secrets Manager
# (emr_patterns.patterns.hive_ldap.HiveLdapAuthentication). Run it on a primary node or on a
# client in one of the security groups the construct lets reach HiveServer2 on port 10000.
#
# The password never appears on a command line (so never in `ps` or shell history): it goes
# from the secret to a mode-0600 file that beeline reads with -w and that is removed on exit.
#
# Usage: beeline_ldap.sh --secret-id <secret arn or name> [--host <hiveserver2 host>]
#            [--port 10000] [--database default] [--truststore <jks or p12 path>]
#            [--region <region>] [-- <further beeline arguments>]
# The secret holds {"username": "...", "password": "..."}, or EMR's one-pair form
# {"<user>": "<password>"}.
set -euo pipefail

usage() {
    echo "usage: $0 --secret-id <arn|name> [--host H] [--port 10000] [--database default]" \
        "[--truststore PATH] [--region R] [-- beeline args]" >&2
    exit 2
}

secret_id=""
host="$(hostname -f 2>/dev/null || hostname)"
port="10000"
database="default"
truststore=""
region="${AWS_REGION:-${AWS_DEFAULT_REGION:-}}"
while [ "$#" -gt 0 ]; do
    case "$1" in
        --secret-id) secret_id="${2:-}"; shift 2 || usage ;;
        --host) host="${2:-}"; shift 2 || usage ;;
        --port) port="${2:-}"; shift 2 || usage ;;
        --database) database="${2:-}"; shift 2 || usage ;;
        --truststore) truststore="${2:-}"; shift 2 || usage ;;
        --region) region="${2:-}"; shift 2 || usage ;;
        --) shift; break ;;
        *) usage ;;
    esac
done
[ -n "$secret_id" ] || usage
case "$port" in
    '' | *[!0-9]*) echo "beeline_ldap: --port must be a number, got '$port'" >&2; exit 2 ;;
esac

region_args=()
if [ -n "$region" ]; then
    region_args=(--region "$region")
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/beeline-ldap.XXXXXX")"
chmod 700 "$work"
trap 'rm -rf "$work"' EXIT
password_file="$work/password"
umask 077

# The secret string goes from the AWS CLI to Python on a pipe; Python writes the password file
# and prints only the user name.
if ! secret_json="$(aws secretsmanager get-secret-value "${region_args[@]}" --secret-id "$secret_id" \
    --query SecretString --output text)"; then
    echo "beeline_ldap: cannot read secret $secret_id (check the role's secretsmanager:GetSecretValue)" >&2
    exit 1
fi
if ! user="$(printf '%s' "$secret_json" | python3 -c '
import json, os, sys
try:
    value = json.load(sys.stdin)
except ValueError:
    sys.exit("beeline_ldap: the secret is not JSON")
if isinstance(value, dict) and {"username", "password"} <= set(value):
    user, password = value["username"], value["password"]
elif isinstance(value, dict) and len(value) == 1:
    ((user, password),) = value.items()
else:
    sys.exit("beeline_ldap: the secret must be {\"username\": ..., \"password\": ...} or one pair")
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
with os.fdopen(fd, "w") as out:
    out.write(password)
print(user)
' "$password_file")"; then
    exit 1
fi
unset secret_json

url="jdbc:hive2://${host}:${port}/${database};ssl=true"
if [ -n "$truststore" ]; then
    url="${url};sslTrustStore=${truststore}"
fi
# Not exec: the EXIT trap removes the password file after beeline ends.
beeline -u "$url" -n "$user" -w "$password_file" "$@"
