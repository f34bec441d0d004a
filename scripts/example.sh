#!/usr/bin/env bash
# The built-in example (`npm run example`): on a fresh machine, installs what cconv needs, builds the
# example images from this repository (the `hello` app and a stand-in Gramine runtime; no network,
# no ../shared), then converts the app: inspect it, measure it and sign it with a throw-away key,
# printing MRENCLAVE and MRSIGNER.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
node --import=tsx fixtures/build.ts >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cconv() { node bin/cconv.js "$@"; }

echo "== the app image"
cconv inspect oci:fixtures/build/hello/oci
echo
echo "== a throw-away enclave signing key (keep real ones secret and backed up)"
cconv keygen "$work/enclave-key.pem"
echo
echo "== measure and sign the confidential version"
cconv sign oci:fixtures/build/hello/oci \
  --runtime-image oci:fixtures/build/gramine-runtime/oci \
  --key "$work/enclave-key.pem" \
  --output-dir "$work/out"
