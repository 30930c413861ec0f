#!/usr/bin/env bash
# The README's first command: set up, build, generate a small synthetic data set, run the
# quickstart sweep with 2 workers, then show the leaderboard, the ensemble and its score, and
# write the study's report (runs/quickstart/report.html).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
ensweep=build/apps/ensweep

# Synthetic data in the competition layout (deterministic for the seed).
$ensweep datagen --out data/quickstart --people 240 --image-size 96x128 --seed 0

# A fresh sweep each time this script runs (run it by hand to resume instead).
rm -rf runs/quickstart
start=$(date +%s)
$ensweep run studies/quickstart.yaml --workers 2
echo "sweep took $(( $(date +%s) - start ))s"

echo
$ensweep top studies/quickstart.yaml -k 8
echo
$ensweep ensemble studies/quickstart.yaml

# The whole study as one HTML file that opens without a server; `ensweep serve` shows it live.
echo
$ensweep report studies/quickstart.yaml -q -o runs/quickstart/report.html
echo "open runs/quickstart/report.html in a browser, or browse the store live with:"
echo "  $ensweep serve studies/quickstart.yaml    # then http://127.0.0.1:8080/"
