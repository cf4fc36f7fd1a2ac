#!/usr/bin/env bash
# Install the system tools modelda's build and tests use on Debian/Ubuntu:
#   clang, libclang-dev   (C toolchain / bindgen)
#   b3sum                 (cross-checking BLAKE3 hashes)
#   python3               (the demo's JSON reading; the test venv)
#   curl                  (the demo and the API tests talk HTTP to `modelda node`)
#
# Idempotent, and fast when everything is present: apt-get is skipped
# entirely if clang, libclang and b3sum are already installed. b3sum comes
# from apt when the distribution has a package for it (Debian 12 has
# b3sum 1.2.0), otherwise from crates.io with `cargo install b3sum --locked`.
#
#   DRY_RUN=1   print the install commands instead of running them
set -euo pipefail

DRY_RUN="${DRY_RUN:-0}"

run() {
    if [[ "$DRY_RUN" == 1 ]]; then
        echo "+ $*"
    else
        "$@"
    fi
}

as_root() {
    if [[ "$(id -u)" -eq 0 ]]; then
        run "$@"
    elif command -v sudo >/dev/null 2>&1; then
        run sudo "$@"
    else
        echo "setup-debian: need root to run: $*" >&2
        exit 1
    fi
}

# cargo installs into ~/.cargo/bin, which may not be on PATH yet.
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
case ":$PATH:" in *":$CARGO_BIN:"*) ;; *) PATH="$PATH:$CARGO_BIN" ;; esac

dpkg_installed() {
    [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" == "install ok installed" ]]
}

have_libclang() {
    dpkg_installed libclang-dev && return 0
    # Not from dpkg (e.g. a custom LLVM): accept an unversioned libclang.so
    # that bindgen can find.
    # (libclang-cpp.so is a different library and does not count.)
    if [[ -n "${LIBCLANG_PATH:-}" ]] \
        && compgen -G "$LIBCLANG_PATH/libclang.so*" >/dev/null; then
        return 0
    fi
    ldconfig -p 2>/dev/null | grep -q 'libclang\.so '
}

apt_pkgs=()
command -v clang >/dev/null 2>&1 || apt_pkgs+=(clang)
have_libclang || apt_pkgs+=(libclang-dev)
# The demo and the test setup read JSON and build a venv with python3.
command -v python3 >/dev/null 2>&1 || apt_pkgs+=(python3)
# curl: the demo and the API tests talk HTTP to `modelda node` with it.
command -v curl >/dev/null 2>&1 || apt_pkgs+=(curl ca-certificates)
need_b3sum=0
command -v b3sum >/dev/null 2>&1 || need_b3sum=1

if [[ ${#apt_pkgs[@]} -eq 0 && "$need_b3sum" -eq 0 ]]; then
    echo "setup-debian: clang, libclang, python3 and b3sum already present; nothing to do"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup-debian: apt-get not found; this script is for Debian/Ubuntu" >&2
    exit 1
fi

as_root apt-get update

if [[ "$need_b3sum" -eq 1 ]]; then
    candidate="$(apt-cache policy b3sum 2>/dev/null | awk '/Candidate:/ {print $2}')"
    if [[ -n "$candidate" && "$candidate" != "(none)" ]]; then
        apt_pkgs+=(b3sum)
        need_b3sum=0
    fi
fi

if [[ ${#apt_pkgs[@]} -gt 0 ]]; then
    as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y --no-install-recommends "${apt_pkgs[@]}"
fi

if [[ "$need_b3sum" -eq 1 ]] && ! command -v b3sum >/dev/null 2>&1; then
    if ! command -v cargo >/dev/null 2>&1; then
        echo "setup-debian: no b3sum package in apt and cargo not found; install Rust first" >&2
        exit 1
    fi
    echo "setup-debian: no b3sum apt package; installing from crates.io" >&2
    run cargo install b3sum --locked
fi

if [[ "$DRY_RUN" != 1 ]]; then
    clang --version | head -n 1
    b3sum --version
fi
