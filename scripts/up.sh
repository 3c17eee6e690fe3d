#!/usr/bin/env bash
# Runs trust-edge with embedded defaults (`trust-edge up`), installing cmake first if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v cmake >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ]; then apt-get update -qq && apt-get install -y -qq cmake >/dev/null
  else sudo apt-get update -qq && sudo apt-get install -y -qq cmake >/dev/null; fi
fi
exec cargo run --release --quiet -p trust-edge -- up "$@"
