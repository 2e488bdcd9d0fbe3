#!/usr/bin/env bash
# Packages the chart with provenance: `helm package --sign` writes
# ntsb-analytics-VERSION.tgz and its .prov (the chart's SHA-256 and Chart.yaml,
# signed with OpenPGP), then `helm verify` checks the pair against the public key.
#
# Usage: deploy/helm/package.sh OUT_DIR
#   NTSB_HELM_SIGNING_KEY      the signing key's name (uid or e-mail)        (required)
#   NTSB_HELM_KEYRING          secret keyring file, legacy format            (required)
#                              (gpg --export-secret-keys KEY > secring.gpg)
#   NTSB_HELM_PASSPHRASE_FILE  file holding the key's passphrase             (optional: unprotected key)
#   NTSB_HELM_VERIFY_KEYRING   public keyring to verify with                 (default: the secret keyring)
# The key comes from files only; nothing secret is an argument on a command line.
set -euo pipefail
out="${1:?usage: package.sh OUT_DIR}"
: "${NTSB_HELM_SIGNING_KEY:?name of the signing key}"
: "${NTSB_HELM_KEYRING:?secret keyring file}"
chart="$(cd "$(dirname "$0")" && pwd)/ntsb-analytics"
mkdir -p "$out"
args=(package "$chart" --destination "$out" --sign --key "$NTSB_HELM_SIGNING_KEY" --keyring "$NTSB_HELM_KEYRING")
if [ -n "${NTSB_HELM_PASSPHRASE_FILE:-}" ]; then
  args+=(--passphrase-file "$NTSB_HELM_PASSPHRASE_FILE")
fi
helm "${args[@]}"
version="$(sed -n 's/^version: *//p' "$chart/Chart.yaml")"
tgz="$out/ntsb-analytics-$version.tgz"
test -s "$tgz.prov" || { echo "package.sh: no provenance file $tgz.prov"; exit 1; }
helm verify --keyring "${NTSB_HELM_VERIFY_KEYRING:-$NTSB_HELM_KEYRING}" "$tgz"
echo "$tgz"
