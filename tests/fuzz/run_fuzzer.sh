#!/bin/sh
# Usage: run_fuzzer.sh FUZZER FUZZ_DIR ARTIFACT_DIR SECONDS
# Fuzzes for SECONDS starting from FUZZ_DIR/corpus, with FUZZ_DIR/http.dict. The inputs it finds
# go to a temporary copy of the corpus, so that the repository is never modified; a crashing
# input is written to ARTIFACT_DIR. The exit status is the fuzzer's: non-zero on any finding.
set -eu
fuzzer=$1 fuzz_dir=$2 artifacts=$3 seconds=$4
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -R "$fuzz_dir/corpus" "$work/corpus"
mkdir -p "$artifacts"
# -max_len: room for a header block over the 8 KiB limit. -timeout: an input that takes over
# 25 s is a hang, itself a finding. TMPDIR: the harness's store goes in the work directory
# too, so that it is removed even after a crash.
TMPDIR="$work" "$fuzzer" -max_total_time="$seconds" -max_len=12288 -timeout=25 \
  -print_final_stats=1 -dict="$fuzz_dir/http.dict" -artifact_prefix="$artifacts/" "$work/corpus"
