#!/usr/bin/env bash
# Installs what is missing, builds, and runs ozzie-server on the demo configuration
# (http://127.0.0.1:8080, data in ./data, the spec's demo client). Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
cmake --preset default
cmake --build --preset default --target ozzie-server
exec build/ozzie-server --config conf/demo.conf "$@"
