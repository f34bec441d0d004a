#!/usr/bin/env bash
# Installs what cconv's tests need on a fresh Debian 12 machine. Run as root from anywhere.
# Idempotent: apt runs only when a package is missing (and `apt-get update` at most once),
# `npm ci` only when node_modules is missing or older than package-lock.json.
# Quiet on success; on failure prints the failing step and its output, and exits non-zero.
set -euo pipefail

# gcc + libc6-dev: the gramine-runtime fixture compiles its C stand-ins (fixtures/runtime/).
# musl + musl-tools (musl-gcc, musl-dev's libc.a): app-musl and app-static are built with musl-gcc (fixtures/apps/).
# binutils: readelf, which the fixture tests use to check the stand-in loader's ELF shape.
# The fixtures also take files from Debian packages (fixtures/debs.ts): apt-get download and
# dpkg-deb, which every Debian has; they need the Debian mirror once, then a local cache.
PACKAGES=(docker.io docker-registry skopeo apache2-utils zstd isal umoci openssl gcc libc6-dev musl musl-tools binutils)
REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOG="$(mktemp -t cconv-install-deps.XXXXXX)"
trap 'rm -f "$LOG"' EXIT

fail() {
  echo "install-deps: $1" >&2
  if [[ -s "$LOG" ]]; then
    echo "--- output (last 40 lines) ---" >&2
    tail -n 40 "$LOG" >&2
  fi
  exit 1
}

# Runs a command with its output captured in $LOG; on failure shows it.
run() {
  local what="$1"
  shift
  : >"$LOG"
  "$@" >>"$LOG" 2>&1 || fail "$what failed: $*"
}

installed() {
  [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" == "install ok installed" ]]
}

missing=()
for pkg in "${PACKAGES[@]}"; do
  installed "$pkg" || missing+=("$pkg")
done

if ((${#missing[@]} > 0)); then
  [[ "$(id -u)" == 0 ]] || fail "must run as root to install: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  run "apt-get update" apt-get update
  run "apt-get install" apt-get install -y --no-install-recommends --no-upgrade "${missing[@]}"
  for pkg in "${missing[@]}"; do
    installed "$pkg" || fail "package $pkg is still not installed after apt-get install"
  done
fi

command -v node >/dev/null 2>&1 || fail "node (>= 20.15) is not on PATH; install Node.js 20 first"
command -v npm >/dev/null 2>&1 || fail "npm is not on PATH"

# node_modules is stale when npm's own record of the tree is missing or older than the lock file.
stamp="$REPO_DIR/node_modules/.package-lock.json"
if [[ ! -d "$REPO_DIR/node_modules" || ! -f "$stamp" || "$REPO_DIR/package-lock.json" -nt "$stamp" ]]; then
  run "npm ci" bash -c 'cd "$1" && npm ci --no-audit --no-fund' _ "$REPO_DIR"
fi

# The native protected-file encoder (fast encryption); cconv falls back to TypeScript without it.
run "build the native encoder" bash "$REPO_DIR/scripts/build-native.sh"
