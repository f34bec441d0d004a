#!/bin/bash
# Builds cconv's native protected-file encoder (src/encrypt/pf/native/pf_native.c) into
# build/pf_native.node: a Node-API addon using the OpenSSL inside the node binary, so it needs only
# gcc and Node's headers (the Debian/NodeSource nodejs package ships them in /usr/include/node).
# Without them cconv still works: encryption falls back to the (slower) TypeScript encoder.
set -euo pipefail
cd "$(dirname "$0")/.."
src=src/encrypt/pf/native/pf_native.c
out=build/pf_native.node
inc=""
for d in "$(dirname "$(dirname "$(command -v node)")")/include/node" /usr/include/node /usr/local/include/node; do
  if [ -f "$d/node_api.h" ] && [ -f "$d/openssl/evp.h" ]; then inc=$d; break; fi
done
if [ -z "$inc" ] || ! command -v gcc >/dev/null; then
  echo "build-native: no gcc or no Node headers with OpenSSL: encryption will use the TypeScript encoder" >&2
  exit 0
fi
if [ -f "$out" ] && [ "$out" -nt "$src" ] && [ "$out" -nt "$0" ]; then exit 0; fi
mkdir -p build
gcc -O2 -fPIC -shared -Wall -Werror -fvisibility=hidden -I"$inc" -o "$out.tmp" "$src"
mv "$out.tmp" "$out"
