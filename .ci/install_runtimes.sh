#!/usr/bin/env bash
# Installs the runtimes besides Deno that tests/runtimes_test.ts runs the
# handler under, on a fresh Debian machine with Node. Idempotent: it installs
# only what is missing or at the wrong version. Sources: Debian and npm only.
#
# Called from .ci/run before the tests. tests/runtimes_test.ts fails in CI
# (CI set) when a runtime is missing, and skips with a line elsewhere.
set -euo pipefail

BUN_VERSION=1.4.5

# --- Node 20: runs the Node runner (bundled with `deno bundle`, served
# through @hono/node-server, which Deno bundles in). Usually on the machine
# already; otherwise from Debian (trixie ships Node 20).
if ! command -v node >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq nodejs npm >/dev/null
fi
node_major="$(node --version | sed -E 's/^v([0-9]+)\..*/\1/')"
if [ "$node_major" != "20" ]; then
  echo "install_runtimes: warning: node $(node --version) is not Node 20, which the runtime test targets" >&2
fi

# --- Bun, from the npm package `bun` (its platform binary comes as an npm
# optional dependency, @oven/bun-linux-x64; nothing is downloaded from
# elsewhere).
if ! command -v bun >/dev/null || [ "$(bun --version 2>/dev/null)" != "$BUN_VERSION" ]; then
  npm install -g "bun@${BUN_VERSION}" >/dev/null 2>&1
fi

echo "node $(node --version), bun $(bun --version)"
