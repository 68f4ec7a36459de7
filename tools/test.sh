#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test suite through ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
cmake --workflow --preset default
