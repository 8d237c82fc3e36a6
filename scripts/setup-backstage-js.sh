#!/usr/bin/env bash
# Install the npm packages the test suite checks kratix-py's Backstage output with: Backstage's own
# validators (@backstage/catalog-model, @backstage/plugin-scaffolder-common), the scaffolder's
# actions and template engine, Ajv. A test dependency only: nothing of it is in the product.
#
# Pinned by tests/backstage/js/package-lock.json and installed with `npm ci`; skipped when that
# exact lock file is already installed. Needs Node.js 20 or newer and npm.
set -euo pipefail
cd "$(dirname "$0")/../tests/backstage/js"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "setup-backstage-js: needs Node.js (20 or newer) and npm; install them (Debian: apt-get install nodejs npm)" >&2
  exit 1
fi
major="$(node -p 'process.versions.node.split(".")[0]')"
if (( major < 20 )); then
  echo "setup-backstage-js: needs Node.js 20 or newer, found $(node --version)" >&2
  exit 1
fi

stamp=node_modules/.kratix-py-lock.sha256
wanted="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [[ -f "${stamp}" && "$(cat "${stamp}")" == "${wanted}" ]]; then
  echo "setup-backstage-js: Backstage packages already installed"
  exit 0
fi
echo "setup-backstage-js: installing the Backstage packages (npm ci)"
# The packages' own engines field asks for Node 22 in places; what the checks use runs on 20.
npm ci --no-audit --no-fund --loglevel=error --engine-strict=false
echo "${wanted}" > "${stamp}"
