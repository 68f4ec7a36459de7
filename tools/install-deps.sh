#!/usr/bin/env bash
# Installs the Debian 12 packages that building and testing Ozzie server need, and any named as
# arguments (bench/run adds its own), if any is missing.
set -euo pipefail
packages=(
  g++ cmake ninja-build ccache curl
  libboost1.81-dev libboost-json1.81-dev libboost-program-options1.81-dev
  libboost-test1.81-dev libboost-url1.81-dev
  librocksdb-dev libssl-dev libspdlog-dev libyaml-cpp-dev
  libvalijson-dev  # the schemas of docs/openapi.yaml in the HTTP tests (tests/support/openapi_check.cpp)
  clang-14 libclang-rt-14-dev  # the sanitizer and fuzzing builds (tools/test.sh)
  fiu-utils  # fault injection into the server's disk I/O (tests/crash/disk_fault_tests.cpp)
  prometheus  # promtool checks /metrics (tests/ops/admin_listener_tests.cpp); also installs the server
  "$@"
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}"
fi
