#!/usr/bin/env bash
# Installs the Debian 12 packages that building and testing Ozzie server need, and any named as
# arguments (bench/run adds its own), if any is missing.
set -euo pipefail
packages=(
  g++ cmake ninja-build ccache curl
  libboost1.81-dev libboost-json1.81-dev libboost-program-options1.81-dev
  libboost-test1.81-dev libboost-url1.81-dev
  librocksdb-dev libssl-dev libspdlog-dev prometheus-cpp-dev libyaml-cpp-dev
  libxxhash-dev  # entity tags (source/user.cpp)
  libvalijson-dev  # the schemas of docs/openapi.yaml in the HTTP tests (tests/support/openapi_check.cpp)
  clang-14 libclang-rt-14-dev  # the sanitizer and fuzzing builds (tools/test.sh)
  fiu-utils  # fault injection into the server's disk I/O (tests/crash/disk_fault_tests.cpp)
  libpq-dev  # the PostgreSQL back end's client library (source/storage/postgres/)
  # The PostgreSQL tests start their own throwaway cluster with its initdb and pg_ctl
  # (/usr/lib/postgresql/15/bin; tests/support/postgres_cluster.hpp); its service is not used.
  postgresql-15
  openssl  # a throwaway certificate for the TLS test of tests/postgres/connection_tests.cpp
  "$@"
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
if ((${#missing[@]})); then
  $sudo apt-get update
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}"
fi
# promtool checks /metrics (tests/ops/admin_listener_tests.cpp). Debian ships it only in the
# prometheus package, whose installation also sets up and starts a Prometheus server (and pulls
# in 300 MB): take just promtool, a Go program that needs only libc, out of that package.
if ! command -v promtool > /dev/null; then
  download=$(mktemp -d)
  (cd "$download" && { apt-get download prometheus || { $sudo apt-get update && apt-get download prometheus; }; })
  dpkg-deb -x "$download"/prometheus_*.deb "$download/package"
  $sudo install -m 755 "$download/package/usr/bin/promtool" /usr/local/bin/promtool
  rm -rf "$download"
fi
