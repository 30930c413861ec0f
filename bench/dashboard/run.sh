#!/bin/sh
# The dashboard at scale: a TRIALS-trial study (5 searched parameters, 4 epochs, about 2/3 of the
# trials pruned at epoch 1 or 3, 1% failed) written by make_store.cc through Store, then
#   - the leaderboard API's page latency (median of 9), default order and a filtered, sorted page
#     deep in the list;
#   - the API calls of the study page's first paint: /api/studies, /api/studies/{s}, history and
#     importance (the first importance computes, later ones hit the cache);
#   - the study page's first paint in chromium, history and importance drawn (first_paint.js);
#   - `ensweep report` (HTML and Markdown) wall time and size;
#   - Optuna's peer: the same trials added to an in-memory Optuna study, then
#     optuna.visualization.plot_optimization_history and plot_param_importances.
# Usage: bench/dashboard/run.sh [ENSWEEP_BINARY] [TRIALS] [DIR]   (DIR kept; default a temp dir)
# ENSWEEP_BINARY must be build/apps/ensweep of a CMake build: its core library is linked.
set -e
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=$(cd "$(dirname "${1:-$root/build/apps/ensweep}")" && pwd)/$(basename "${1:-ensweep}")
trials=${2:-100000}
if [ -n "$3" ]; then dir=$3; mkdir -p "$dir"; else dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT; fi
store=$dir/dash.sqlite
if [ ! -f "$store" ]; then
  # The store straight through Store's write calls (make_store.cc), against the build's core
  # library: seconds, where a sweep of the `curve` objective takes minutes.
  build=$(dirname "$(dirname "$bin")")
  ${CXX:-g++} -std=c++17 -O2 -I"$root" "$root/bench/dashboard/make_store.cc" \
    "$build/core/libensweep_core.a" -lSQLiteCpp -lsqlite3 -lyaml-cpp -pthread -o "$dir/make_store"
  start=$(date +%s.%N)
  "$dir/make_store" "$store" "$trials"
  echo "store: $(du -h "$store" | cut -f1), made in $(echo "$(date +%s.%N) - $start" | bc -l | cut -c1-5) s"
fi

"$bin" serve --db "$store" --listen 127.0.0.1:0 > "$dir/serve.log" 2>&1 &
serve=$!
trap 'kill $serve 2>/dev/null; [ -n "$3" ] || rm -rf "$dir"' EXIT
while ! grep -q "Ctrl-C" "$dir/serve.log"; do sleep 0.1; done
url=$(sed -n 's/.* at \(http:[^ ]*\)$/\1/p' "$dir/serve.log")
/usr/bin/python3 "$root/bench/dashboard/measure.py" "$url" dash
# The study page's first paint in headless chromium (first_paint.js), when the browser test's
# Playwright is installed (tests/browser/run.sh installs it).
if [ -d "$root/tests/browser/node_modules/playwright-core" ] && [ -x /usr/bin/chromium ]; then
  node "$root/bench/dashboard/first_paint.js" "$url" dash 5
fi

for format in html md; do
  start=$(date +%s.%N)
  "$bin" report --db "$store" --study dash -q -o "$dir/report.$format" > /dev/null
  seconds=$(echo "$(date +%s.%N) - $start" | bc -l | cut -c1-5)
  echo "ensweep report --format $format: $seconds s, $(du -h "$dir/report.$format" | cut -f1)"
done
kill $serve

/usr/bin/python3 "$root/bench/dashboard/optuna_peer.py" "$store" dash
