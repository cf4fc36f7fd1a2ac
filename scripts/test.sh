#!/usr/bin/env bash
# Everything the test suite needs, then every test. Safe to re-run.
#
#   bash scripts/test.sh
#
# Installs Debian's clang, libclang-dev, b3sum and chromium, creates the
# Python venv with the reference packages (model-signing, safetensors, gguf,
# gql) and the explorer's npm packages, rebuilds the explorer and checks the
# committed build is current, runs its unit tests, checks formatting and
# lints, builds once in the release profile and runs the whole workspace's
# tests (the browser test among them), then installs the Python package
# with pip and runs its tests. Missing reference tools fail the run
# (MODELDA_REQUIRE_TOOLS=1) instead of skipping tests.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup-debian.sh
export MODELDA_VENV="${MODELDA_VENV:-$PWD/.venv}"
bash scripts/setup-python.sh >/dev/null
bash scripts/setup-explorer.sh
export MODELDA_REQUIRE_TOOLS=1

# The explorer: type-check, rebuild, and fail when the committed build
# (embedded in the binary) differs from what its sources build; then its
# unit tests. The browser test runs with the end-to-end tests below.
(cd explorer && npm run --silent build >/dev/null)
if [[ -n "$(git status --porcelain -- explorer/dist)" ]]; then
    git status --short -- explorer/dist >&2
    echo "explorer/dist is stale: run 'npm run build' in explorer/ and commit explorer/dist" >&2
    exit 1
fi
(cd explorer && npm test --silent)

cargo fmt --all -- --check
cargo clippy --release --workspace --all-targets -- -D warnings
# The I/O-free core: no async runtime, HTTP client or database below `da`.
if cargo tree --offline -e normal --prefix none -p modelda-core -p modelda-wire |
    grep -E '^(tokio|reqwest|hyper|rocksdb|librocksdb-sys|axum) '; then
    echo "modelda-core or modelda-wire depends on the crates above: they must stay I/O-free" >&2
    exit 1
fi
# All targets in one build: the test crate's dev-dependencies turn on the
# publisher's fault hooks, so the `modelda` binary built here is the one the
# crash tests run (a `--bins` build without them would be rebuilt).
cargo build --release --workspace --all-targets
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
cargo test --release --workspace 2>&1 | tee "$log"
# The Python package, built and installed as a user would (`pip install
# ./python`: maturin builds the wheel from this workspace), then its tests
# against `modelda node` on the embedded chain.
start=$(date +%s)
"$MODELDA_VENV/bin/pip" install -q --disable-pip-version-check ./python
echo "python: wheel built and installed in $(( $(date +%s) - start )) s"
pylog="$(mktemp)"
trap 'rm -f "$log" "$pylog"' EXIT
"$MODELDA_VENV/bin/python" -m pytest -q -p no:cacheprovider python/tests 2>&1 | tee "$pylog"
# One closing line for the whole suite (cargo prints one per test binary,
# pytest one for its run).
awk '/^test result:/ { p += $4; f += $6 } END { print p, f }' "$log" >"$log.sum"
read -r rp rf <"$log.sum"
rm -f "$log.sum"
pp=$({ grep -oE '[0-9]+ passed' "$pylog" || true; } | awk '{ n = $1 } END { print n + 0 }')
pf=$({ grep -oE '[0-9]+ (failed|errors?)' "$pylog" || true; } | awk '{ n += $1 } END { print n + 0 }')
echo "tests: $((rp + pp)) passed, $((rf + pf)) failed (Rust $rp, Python $pp)"
