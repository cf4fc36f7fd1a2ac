#!/usr/bin/env bash
# Everything the test suite needs, then every test. Safe to re-run.
#
#   bash scripts/test.sh
#
# Installs Debian's clang, libclang-dev and b3sum, creates the Python venv
# with the reference packages (model-signing, safetensors, gguf), checks
# formatting and lints, builds once in the release profile and runs the
# whole workspace's tests. Missing reference tools fail the run
# (MODELDA_REQUIRE_TOOLS=1) instead of skipping tests.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup-debian.sh
export MODELDA_VENV="${MODELDA_VENV:-$PWD/.venv}"
bash scripts/setup-python.sh >/dev/null
export MODELDA_REQUIRE_TOOLS=1

cargo fmt --all -- --check
cargo clippy --release --workspace --all-targets -- -D warnings
# All targets in one build: the test crate's dev-dependencies turn on the
# publisher's fault hooks, so the `modelda` binary built here is the one the
# crash tests run (a `--bins` build without them would be rebuilt).
cargo build --release --workspace --all-targets
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
cargo test --release --workspace 2>&1 | tee "$log"
# One closing line for the whole workspace (cargo prints one per test binary).
awk '/^test result:/ { p += $4; f += $6 } END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
