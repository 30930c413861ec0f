#!/usr/bin/env bash
# Runs every fuzz target (tests/fuzz/*_fuzz.cc) for a bounded time on a copy of its committed seed
# corpus, built by `scripts/sanitize.sh asan` (AddressSanitizer + UndefinedBehaviorSanitizer).
#   scripts/fuzz.sh [SECONDS]   seconds per target (default 60)
# A crash, a leak, a timeout (10 s for one input) or an input using over 2 GB fails the run;
# libFuzzer writes the input to build-asan/fuzz-findings/ for a regression test.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
findings=build-asan/fuzz-findings
mkdir -p "$findings"
status=0
for source in tests/fuzz/*_fuzz.cc; do
  name=$(basename "$source" .cc)
  target=build-asan/tests/fuzz/$name
  [[ -x $target ]] || { echo "fuzz: $target is not built (scripts/sanitize.sh asan)" >&2; exit 1; }
  corpus=$(mktemp -d)
  cp -r "tests/fuzz/corpus/$name/." "$corpus/" 2>/dev/null || true
  log=$findings/$name.log
  if "$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$findings/$name-" "$corpus" >"$log" 2>&1; then
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    echo "fuzz: $name: $runs inputs in ${seconds}s, no failure (corpus $(ls "$corpus" | wc -l) files)"
  else
    echo "fuzz: $name FAILED; the end of $log:" >&2
    tail -40 "$log" >&2
    status=1
  fi
  rm -rf "$corpus"
done
exit $status
