#!/usr/bin/env bash
# Installs what is missing, then builds and tests each configuration CI checks, each in its own
# build directory (CMakePresets.json) and with its own ctest run:
#   default  the normal build: every suite
#   asan     AddressSanitizer, LeakSanitizer and UndefinedBehaviorSanitizer (clang): every suite
#   tsan     ThreadSanitizer (clang): the suites that run threads
#   fuzz     the libFuzzer harness on the request path for 60 s, under ASan and UBSan
# Arguments pick configurations (`tools/test.sh default asan`); none means all four. A failed
# configuration does not stop the others; the exit status is non-zero if any failed.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
configs=("$@")
((${#configs[@]})) || configs=(default asan tsan fuzz)
failed=()
for config in "${configs[@]}"; do
  echo "=== $(date +%T) tools/test.sh: $config ==="
  cmake --workflow --preset "$config" || failed+=("$config")
done
if ((${#failed[@]})); then
  echo "=== $(date +%T) tools/test.sh: FAILED: ${failed[*]} ===" >&2
  exit 1
fi
