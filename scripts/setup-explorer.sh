#!/usr/bin/env bash
# What the explorer's tests need, on Debian:
#   chromium      Debian's headless browser for the browser test (/usr/bin/chromium)
#   fonts         a font for its screenshots (fonts-dejavu-core)
#   explorer/node_modules   Vite, TypeScript, Vitest, playwright-core and the
#                 page's libraries, exactly as package-lock.json pins them (npm ci)
#
# Node.js 20.19 or later with npm must be on the machine (it is on this
# project's machines); the modelda binary itself never needs it: the built
# page is committed in explorer/dist and embedded by cargo.
#
# Idempotent; fast when everything is present.
#   DRY_RUN=1   print the install commands instead of running them
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

DRY_RUN="${DRY_RUN:-0}"
run() {
    if [[ "$DRY_RUN" == 1 ]]; then echo "+ $*"; else "$@"; fi
}
as_root() {
    if [[ "$(id -u)" -eq 0 ]]; then
        run "$@"
    elif command -v sudo >/dev/null 2>&1; then
        run sudo "$@"
    else
        echo "setup-explorer: need root to run: $*" >&2
        exit 1
    fi
}

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "setup-explorer: Node.js 20.19+ and npm are needed to build and test the explorer (not to build modelda)" >&2
    exit 1
fi
node -e '
const [maj, min] = process.versions.node.split(".").map(Number);
if (maj < 20 || (maj === 20 && min < 19)) {
  console.error(`setup-explorer: Node.js ${process.versions.node} is too old: Vite needs 20.19 or later`);
  process.exit(1);
}'

pkgs=()
[[ -x /usr/bin/chromium ]] || pkgs+=(chromium)
dpkg-query -W -f='${Status}' fonts-dejavu-core 2>/dev/null | grep -q "install ok installed" || pkgs+=(fonts-dejavu-core)
if [[ ${#pkgs[@]} -gt 0 ]]; then
    as_root apt-get update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${pkgs[@]}"
fi

# npm ci only when the lock changed since the last install.
stamp=explorer/node_modules/.modelda-lock
if [[ ! -f "$stamp" ]] || ! cmp -s explorer/package-lock.json "$stamp"; then
    (cd explorer && run npm ci --no-audit --no-fund)
    [[ "$DRY_RUN" == 1 ]] || cp explorer/package-lock.json "$stamp"
fi
[[ "$DRY_RUN" == 1 ]] || /usr/bin/chromium --version 2>/dev/null
