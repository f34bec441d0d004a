#!/usr/bin/env bash
# The whole test suite, as README.md documents it (`npm test`): installs what the tests need on a
# fresh Debian 12 machine (system packages, node_modules), type-checks, builds dist/, then runs every ava test
# (unit and integration: real dockerd and registry started by the tests themselves) and prints
# `N passed, N failed` last. Extra arguments go to ava (e.g. a file to run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
echo "type-checking..."
npx --no-install tsc --noEmit -p .
# dist/: what bin/cconv.js runs (and the tests that start it as a process), built from this tree.
echo "building dist/..."
npm run build --silent
exec node test/run-ava.mjs "$@"
