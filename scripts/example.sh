#!/usr/bin/env bash
# The built-in example (`npm run example`): on a fresh machine, installs what cconv needs, builds the
# example images from this repository (the `hello` app and a stand-in Gramine runtime; no network,
# no ../shared), then runs the whole pipeline offline: build the confidential image into an OCI
# layout (printing MRENCLAVE and MRSIGNER) and verify it from its own bytes.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
node --import=tsx fixtures/build.ts >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cconv() { node bin/cconv.js "$@"; }
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1767225600}   # reproducible output: same digest every run

echo "== the app image"
cconv inspect oci:fixtures/build/hello/oci
echo
echo "== a throw-away enclave signing key (keep real ones secret and backed up)"
cconv keygen "$work/enclave-key.pem"
echo
echo "== build the confidential image"
cconv build oci:fixtures/build/hello/oci \
  --runtime-image oci:fixtures/build/gramine-runtime/oci \
  --key "$work/enclave-key.pem" \
  --output "oci:$work/out:hello-sgx"
echo
echo "== verify it from its own bytes"
cconv verify "oci:$work/out:hello-sgx"
